#!/bin/bash
# chord bench for a newcomer: progress on a terminal (one stderr line
# rewritten: loading, each repetition, the machine probes) and none when
# stderr is piped; the report ends with each bound in words; a model
# larger than the available memory (CHORD_BENCH_MEM_AVAILABLE stands in for
# a small machine) is not mapped whole: the resident run is skipped and the
# model runs streamed under the auto budget, which stderr says in one line.
. "$CHORD_TESTS/common/lib.sh"
M="$TMP/b.gguf"
"$CHORD" synth --arch llama --dim 128 --layers 2 --heads 4 --kv-heads 2 --ffn 256 \
    --vocab 1024 --type Q8_0 -o "$M" > /dev/null 2>&1 || fail "synth"
ARGS=(-p 16 -n 4 -r 1 --threads 2)

"$CHORD" bench -m "$M" "${ARGS[@]}" > "$TMP/out" 2> "$TMP/err" || fail "bench: $(cat "$TMP/err")"
[ -s "$TMP/err" ] && fail "piped, bench wrote progress: $(cat "$TMP/err")"
grep -q '^bounds   the speed no run can pass on this machine, and why:$' "$TMP/out" || fail "no bounds section: $(cat "$TMP/out")"
grep -qE '^  int8 bound +all the prompt.s multiply-adds at the measured int8 peak' "$TMP/out" || fail "no int8 bound line"
grep -qE '^  bandwidth bound +every weight a token uses read once' "$TMP/out" || fail "no bandwidth bound line"

command -v script > /dev/null || fail "script (util-linux) is needed"
script -qec "$(printf '%q ' "$CHORD" bench -m "$M" "${ARGS[@]}")" /dev/null > "$TMP/tty" 2>&1 < /dev/null \
    || fail "bench on a terminal: $(cat "$TMP/tty")"
for want in 'chord bench: loading ' 'chord bench: resident run: warming up' \
            'chord bench: resident run, repetition 1 of 1: prompt of 16 tokens' \
            'chord bench: resident run, repetition 1 of 1: 4 tokens generated one by one' \
            'chord bench: measuring the machine'; do
    grep -qF "$want" "$TMP/tty" || fail "no progress '$want' on a terminal: $(tr '\r' '\n' < "$TMP/tty" | head -20)"
done

CHORD_BENCH_MEM_AVAILABLE=100000 "$CHORD" bench -m "$M" "${ARGS[@]}" > "$TMP/out" 2> "$TMP/err" \
    || fail "bench on a small machine: $(cat "$TMP/err")"
grep -qE '^chord: bench: the model \([0-9.]+ (KiB|MiB)\) is larger than the available memory \([0-9.]+ (KiB|MiB)\): it runs streamed under the auto budget' "$TMP/err" \
    || fail "no note about the streamed run: $(cat "$TMP/err")"
grep -q '^resident skipped: the file is larger than the available RAM' "$TMP/out" || fail "the resident run was not skipped: $(cat "$TMP/out")"
grep -q '^streamed, budget ' "$TMP/out" || fail "no streamed run: $(cat "$TMP/out")"
grep -q 'auto budget' "$TMP/out" || fail "the streamed run is not under the auto budget: $(cat "$TMP/out")"
grep -qE '^  page-cache bound +the bytes streamed per token' "$TMP/out" || fail "no page-cache bound line"
exit 0
