#!/bin/bash
# Small things a newcomer meets (issue 16): /set alone lists the settings
# and their values; /set n 0 and /set n -1 mean unlimited; a reply cut by
# -n says so ([cut at -n N] after it in the TUI, and in the REPL on a
# terminal; in --batch a line on stderr with -v or on a terminal; piped
# stdout keeps only the reply); a reply cut by
# a full context says what happens next (the oldest turns leave the
# model's view, the chat goes on) instead of asking for /new.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
M="$TMP/l.gguf"
"$CHORD" synth --arch llama --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 128 \
    --vocab 512 --type Q8_0 -o "$M" > /dev/null 2>&1 || fail "synth"

out=$(printf 'hello\n/set\n/set n 0\n/set n -1\n/set n 3\nagain\n' |
      "$CHORD" -m "$M" --no-tui --no-history -n 5 --temp 0 2> "$TMP/err") || fail "REPL: $(cat "$TMP/err")"
for want in '^temp +0 \(greedy\)$' '^top_k +40$' '^seed +[0-9]+$' '^n +5 \(tokens per reply'; do
    echo "$out" | grep -qE -- "$want" || fail "REPL output lacks /$want/: $out"
done
echo "$out" | grep -q 'cut at' && fail "piped, the REPL's stdout got the cut marker: $out"
[ "$(echo "$out" | grep -c '^sampling: greedy; n unlimited$')" = 2 ] \
    || fail "/set n 0 and /set n -1 are not 'unlimited': $out"

# --batch: stdout is the reply alone; -v says it was cut
echo hi | "$CHORD" --batch -m "$M" --no-history -n 4 --temp 0 -v > "$TMP/out" 2> "$TMP/err" || fail "batch"
grep -q "turn 1's reply was cut at -n 4" "$TMP/err" || fail "batch -v does not say the cut: $(cat "$TMP/err")"
grep -q 'cut' "$TMP/out" && fail "the cut marker went to stdout: $(cat "$TMP/out")"
echo hi | "$CHORD" --batch -m "$M" --no-history -n 4 --temp 0 > "$TMP/out" 2> "$TMP/err" || fail "batch"
[ -s "$TMP/err" ] && fail "batch without -v, stderr not a terminal, wrote: $(cat "$TMP/err")"

# a full context: the note says what really happens, and the next turn works
out=$(printf 'hi\nagain\n' | "$CHORD" -m "$M" --no-tui --no-history --ctx 128 --temp 0 2>&1) || fail "ctx run: $out"
echo "$out" | grep -q "context full at 128 tokens: the reply was cut here; the next message still goes on" \
    || fail "no honest context-full note: $out"
echo "$out" | grep -q '/new starts a fresh' && fail "the old note is back: $out"
[ "$(echo "$out" | grep -c 'context full at')" = 2 ] || fail "the second turn did not run: $out"

# the TUI: the marker after the reply
start -m "$M" --no-history -n 3 --temp 0
T send-keys -t chord "hello" Enter
idle
wait_for '\[cut at -n 3\]' 10 || die "the TUI does not mark a reply cut by -n"
T send-keys -t chord C-d
check_exit
exit 0
