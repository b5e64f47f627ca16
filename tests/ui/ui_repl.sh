#!/bin/bash
# The plain REPL (stdin not a terminal): replies stream to stdout, slash
# commands answer in line, a trailing backslash joins lines, /quit stops
# reading, and every turn lands in the history.
. "$CHORD_TESTS/common/lib.sh"
need_shared models/a-spm-q8_0.gguf
M="$SHARED/models/a-spm-q8_0.gguf"
DB="$TMP/h.db"
run() {
    printf 'hello there\n/set n 5\nsecond\\\nline\n/set top_p 7\n/bogus\n/export md %s\n/quit\nnever sent\n' "$TMP/c.md" \
        | "$CHORD" -m "$M" --db "$1" --temp 0 -n 10 --threads 2 > "$2" 2> "$2.err"
}
run "$DB" "$TMP/out1" || fail "REPL exited $?: $(cat "$TMP/out1.err")"
run "$TMP/h2.db" "$TMP/out2" || fail "second REPL run failed"
cmp -s "$TMP/out1" "$TMP/out2" || fail "greedy REPL output differs between runs:
$(diff "$TMP/out1" "$TMP/out2")"
out=$(cat "$TMP/out1")
echo "$out"
[ "$(sed -n 2p "$TMP/out1")" = "sampling: greedy; n 5" ] || fail "/set n 5 not confirmed on line 2"
grep -q '^/set: .*top_p' "$TMP/out1" || fail "/set top_p 7 not refused"
grep -q '^unknown command /bogus' "$TMP/out1" || fail "/bogus not reported"
grep -q "^exported conversation 1 to $TMP/c.md" "$TMP/out1" || fail "/export did not confirm"
reply1=$(sed -n 1p "$TMP/out1")
[ -n "$reply1" ] || fail "empty first reply"
grep -qF -- "$reply1" "$TMP/c.md" || fail "the export lacks the first reply"
"$CHORD" history --db "$DB" show 1 --json > "$TMP/c.json" || fail "history show failed"
users=$(grep -c '"role": "user"' "$TMP/c.json")
[ "$users" -eq 2 ] || fail "expected 2 user messages (nothing after /quit), got $users"
grep -q '"content": "second\\nline"' "$TMP/c.json" || fail "backslash continuation not joined with a newline"
ngen=$(grep -oE '"n_gen": [0-9]+' "$TMP/c.json" | sed -n 4p | grep -oE '[0-9]+')
[ "$ngen" = 5 ] || fail "second reply should have 5 tokens after /set n 5, got $ngen"
# several turns in a small context: old turns leave the window the same
# way as in --batch, and the replies are byte-identical to it
printf 'Tell me a story\nAnd then what happened next\nWhy is that so\nOk\n' > "$TMP/turns"
"$CHORD" --batch -m "$M" --seed 4 -n 30 --ctx 128 --threads 2 --no-history < "$TMP/turns" > "$TMP/b.out" 2>/dev/null \
    || fail "--batch multi-turn failed"
"$CHORD" -m "$M" --seed 4 -n 30 --ctx 128 --threads 2 --no-history < "$TMP/turns" > "$TMP/r.out" 2> "$TMP/r.err" \
    || fail "REPL multi-turn failed"
[ "$(wc -l < "$TMP/r.out")" -eq 4 ] || fail "expected 4 reply lines: $(cat "$TMP/r.out")"
cmp -s "$TMP/b.out" "$TMP/r.out" || fail "REPL turns differ from --batch:
$(diff "$TMP/b.out" "$TMP/r.out")"
grep -q 'oldest turn left' "$TMP/r.err" || fail "no notice on stderr that turns left the window"
echo "ok"
