#!/bin/bash
# gguf_inspect_more: `chord inspect` as the other subcommands are called:
# -m MODEL (and a name from a model-dirs folder), a one-line summary first,
# --json (the summary as one object); a FIFO, a device or a directory is
# refused in one line at once (opening a FIFO would wait for a writer).
# Self-contained: a synthetic model.
. "$CHORD_TESTS/common/lib.sh"
mkdir -p "$TMP/dirs" || fail "mkdir"
M="$TMP/dirs/tiny-inspect.gguf"
"$CHORD" synth --arch llama --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 128 \
    --vocab 512 --type Q8_0 -o "$M" > /dev/null 2>&1 || fail "synth"
export CHORD_CONFIG="$TMP/chord.conf"
echo "model-dirs = $TMP/dirs" > "$CHORD_CONFIG"

for args in "$M" "-m $M" "-m tiny-inspect"; do
    # shellcheck disable=SC2086
    "$CHORD" inspect $args > "$TMP/out" 2> "$TMP/err" || fail "inspect $args: $(cat "$TMP/err")"
    head -1 "$TMP/out" | grep -qE '^summary: +synth-llama-64x2-Q8_0: llama, [0-9.]+K params, Q8_0, [0-9.]+ (KiB|MiB)$' \
        || fail "inspect $args: first line '$(head -1 "$TMP/out")'"
    grep -q "^file: *$M$" "$TMP/out" || fail "inspect $args: no file line"
    grep -q '^tensors (' "$TMP/out" || fail "inspect $args: no tensor table"
done

"$CHORD" inspect -m "$M" --json > "$TMP/j" 2> "$TMP/err" || fail "--json: $(cat "$TMP/err")"
python3 - "$TMP/j" "$M" "$(stat -c %s "$M")" <<'PY' || fail "--json: $(cat "$TMP/j")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
j = json.loads(lines[0])
assert j["path"] == sys.argv[2] and j["arch"] == "llama" and j["type"] == "Q8_0", j
assert j["name"] == "synth-llama-64x2-Q8_0" and j["parts"] == 1, j
assert j["bytes"] == int(sys.argv[3]) and j["n_params"] > 100000, j
PY

mkfifo "$TMP/fifo" || fail "mkfifo"
for f in "$TMP/fifo" /dev/zero "$TMP/dirs"; do
    timeout 10 "$CHORD" inspect "$f" > /dev/null 2> "$TMP/err"
    rc=$?
    [ "$rc" = 1 ] || fail "inspect $f exited $rc (124: it hung)"
    [ "$(wc -l < "$TMP/err")" = 1 ] || fail "inspect $f: not one line: $(cat "$TMP/err")"
    grep -qE "^chord: inspect: $f is a (FIFO|device|directory), not a GGUF file$" "$TMP/err" \
        || fail "inspect $f said: $(cat "$TMP/err")"
done
"$CHORD" inspect -m > /dev/null 2>&1; [ $? = 2 ] || fail "-m without a model: not a usage error"
exit 0
