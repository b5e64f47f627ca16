#!/bin/bash
# gen_spec_cli.sh - --draft, --draft-max and --lookup from the command line
# on synthetic models: --batch replies (raw and chat, over several turns,
# with a context small enough that turns leave it) token for token those
# without; the --json done event's counts; a draft of another vocabulary
# refused in one line; chord bench --draft's report.
. "$CHORD_TESTS/common/lib.sh"
export CHORD_CONFIG="$TMP/empty.conf"
: > "$CHORD_CONFIG"
cd "$TMP" || fail "cd"
"$CHORD" synth --arch llama --dim 128 --layers 3 --heads 4 --kv-heads 2 --ffn 256 --vocab 600 \
    --type Q8_0 --seed 3 -o t.gguf >/dev/null || fail "synth"
"$CHORD" quantize t.gguf d.gguf Q4_0 >/dev/null || fail "quantize"
"$CHORD" synth --arch qwen3 --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 128 --vocab 600 \
    --type Q8_0 --seed 3 -o q.gguf >/dev/null || fail "synth qwen3"

common=(--batch -m t.gguf --temp 0 --no-history)
"$CHORD" "${common[@]}" --raw -p "the first words" -n 60 --token-ids > plain.txt || fail "plain raw"
for extra in "--draft d.gguf" "--draft d.gguf --draft-max 2" "--lookup" "--draft d.gguf --lookup --draft-max 5"; do
    # shellcheck disable=SC2086
    "$CHORD" "${common[@]}" --raw -p "the first words" -n 60 --token-ids $extra > spec.txt ||
        fail "raw with $extra"
    cmp -s plain.txt spec.txt || fail "raw with $extra: other tokens than plain decoding"
done

printf 'hello there\nwhat is next\nand again the same thing\n' > turns.txt
for ctx in 4096 96; do
    "$CHORD" "${common[@]}" --chat-template chatml -n 30 --ctx $ctx --json < turns.txt > p.json ||
        fail "plain chat"
    "$CHORD" "${common[@]}" --chat-template chatml -n 30 --ctx $ctx --json --draft d.gguf --lookup \
        < turns.txt > s.json || fail "chat with a draft"
    diff <(grep -v '"done"' p.json) <(grep -v '"done"' s.json) >/dev/null ||
        fail "chat --ctx $ctx: other replies with a draft"
    [ "$(grep -c '"done"' s.json)" = 3 ] || fail "chat --ctx $ctx: not three turns"
    grep '"done"' s.json | grep -q '"drafted":[1-9][0-9]*,"accepted":[0-9]*,"accept_rate":0\.[0-9]*' ||
        fail "done events without the drafted counts: $(grep '"done"' s.json | head -1)"
    grep '"done"' p.json | grep -q '"drafted":0,"accepted":0' || fail "plain done events: drafted not 0"
done

# a draft of another vocabulary: one line, exit 1
"$CHORD" "${common[@]}" --raw -p "hi" -n 4 --draft q.gguf > out.txt 2> err.txt
rc=$?
[ $rc = 1 ] || fail "foreign draft: exit $rc"
[ "$(wc -l < err.txt)" = 1 ] || fail "foreign draft: not one line: $(cat err.txt)"
grep -q "vocabulary" err.txt || fail "foreign draft: $(cat err.txt)"
"$CHORD" "${common[@]}" --raw -p "hi" -n 4 --draft-max 0 2>/dev/null && fail "--draft-max 0 accepted"

# bench: tg with and without, per draft length
"$CHORD" bench -m t.gguf -p 16 -n 24 -r 2 --draft d.gguf --draft-max 2,4 --json > b.json ||
    fail "bench --draft"
grep -q '"spec":{"streamed":false,"lookup":false,"draft":' b.json || fail "bench json: $(cat b.json)"
grep -o '"draft_max":[0-9]*' b.json | tr '\n' ' ' | grep -q '"draft_max":2 "draft_max":4' ||
    fail "bench json: the draft lengths"
grep -q '"same_tokens":false' b.json && fail "bench: speculative tokens differ from plain decoding"
"$CHORD" bench -m t.gguf -p 16 -n 24 -r 1 --lookup > b.txt || fail "bench --lookup"
grep -q "draft-max  8: tg .* t/s against .* plain, ratio" b.txt || fail "bench text: $(cat b.txt)"
exit 0
