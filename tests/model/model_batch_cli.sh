# model_batch_cli.sh - `chord --batch --raw` and `chord eval` at the edges:
# a closed pipe ends quietly, the context limit is a one-line error, -n and
# --token-ids behave, the same seed gives the same sampled text, and
# streaming the layers within a small budget changes nothing.
. "$CHORD_TESTS/common/lib.sh"
need_shared models/a-spm-q8_0.gguf
M="$SHARED/models/a-spm-q8_0.gguf"

# A reader that goes away: status 0 and nothing on stderr.
"$CHORD" --batch -m "$M" --raw -p "Once upon a time" -n 500 --temp 0 2>"$TMP/err" | head -c 10 >"$TMP/out"
st=${PIPESTATUS[0]}
[ "$st" = 0 ] || fail "closed pipe: status $st, want 0"
[ ! -s "$TMP/err" ] || fail "closed pipe: stderr not empty: $(cat "$TMP/err")"
[ "$(wc -c <"$TMP/out")" = 10 ] || fail "closed pipe: expected 10 bytes"

# -n and --token-ids: exactly n ids, one line.
ids=$("$CHORD" --batch -m "$M" --raw --prompt-tokens "1 9038 2501 263 931" --token-ids --temp 0 -n 7) \
    || fail "token ids run failed"
[ "$(echo "$ids" | wc -w)" = 7 ] || fail "-n 7 gave '$ids'"

# The prompt from stdin equals -p; a seed replays the same sample.
a=$(echo -n "The quick brown fox" | "$CHORD" --batch -m "$M" --raw --token-ids -n 12 --seed 5 --temp 0.9) || fail "stdin run"
b=$("$CHORD" --batch -m "$M" --raw -p "The quick brown fox" --token-ids -n 12 --seed 5 --temp 0.9) || fail "-p run"
[ "$a" = "$b" ] || fail "stdin vs -p with the same seed: '$a' vs '$b'"
[ "$(echo "$a" | wc -w)" = 12 ] || fail "seeded run gave '$a'"

# Streaming the layers within a small budget generates the same tokens.
# (The smallest budget is taken from the refusal of a too-small one.)
B="$SHARED/models/b-spm-q4_k_m.gguf"
need_shared models/b-spm-q4_k_m.gguf
ref=$("$CHORD" --batch -m "$B" --raw --prompt-tokens "1 9038 2501 263 931" --token-ids --temp 0 -n 12) || fail "resident run"
"$CHORD" --batch -m "$B" --raw -p x -n 1 --mem-budget 1M 2>"$TMP/err" && fail "1M budget accepted"
min=$(sed -n 's/.*at least \([0-9]*\) bytes.*/\1/p' "$TMP/err")
[ -n "$min" ] || fail "no minimum budget in: $(cat "$TMP/err")"
str=$("$CHORD" --batch -m "$B" --raw --prompt-tokens "1 9038 2501 263 931" --token-ids --temp 0 -n 12 \
      --mem-budget "$min" --prefetch 1 -v 2>"$TMP/err") || fail "streaming run: $(cat "$TMP/err")"
grep -q "stream" "$TMP/err" || fail "budget $min did not stream: $(cat "$TMP/err")"
[ "$ref" = "$str" ] || fail "streaming changed the tokens: '$ref' vs '$str'"

# Context full: one line on stderr, status 1.
"$CHORD" eval -m "$M" --tokens "1 2 3 4 5 6 7 8 9 10" --ctx 4 --dump-logits "$TMP/x.f32" 2>"$TMP/err" && fail "eval past --ctx succeeded"
grep -q "context full" "$TMP/err" || fail "ctx full message: $(cat "$TMP/err")"
[ "$(wc -l <"$TMP/err")" = 1 ] || fail "ctx full: more than one line on stderr"

# Generation stops when the context is full, without an error.
"$CHORD" --batch -m "$M" --raw --prompt-tokens "1 9038 2501" --token-ids --temp 0 --ctx 8 >"$TMP/out" 2>"$TMP/err" \
    || fail "batch at the context limit: $(cat "$TMP/err")"
n=$(wc -w <"$TMP/out")
[ "$n" -ge 1 ] && [ "$n" -le 6 ] || fail "batch at --ctx 8 generated $n tokens"

# eval writes n_tokens x n_vocab floats.
"$CHORD" eval -m "$M" --tokens "1 9038 2501" --dump-logits "$TMP/l.f32" || fail "eval"
[ "$(wc -c <"$TMP/l.f32")" = $((3 * 32000 * 4)) ] || fail "eval dump size"

# A missing model: one line, status 1.
"$CHORD" --batch -m "$TMP/none.gguf" --raw -p x 2>"$TMP/err"
[ $? = 1 ] || fail "missing model status"
[ "$(wc -l <"$TMP/err")" = 1 ] || fail "missing model: $(cat "$TMP/err")"
exit 0
