#!/bin/bash
# Small things a newcomer meets (issue 16): /set alone lists the settings
# and their values; /set n 0 and /set n -1 mean unlimited; a reply cut by
# -n says so ([cut at -n N] after it in the TUI, and in the REPL on a
# terminal; in --batch a line on stderr with -v or on a terminal; piped
# stdout keeps only the reply); a reply cut by
# a full context says what happens next (the oldest turns leave the
# model's view, the chat goes on) instead of asking for /new. In the TUI,
# Tab with several candidates lists them; F2 at 60x20 re-wraps the chat;
# the too-small notice fits and takes no input; /history names each
# conversation's model and leaves no stray border junction.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
M="$TMP/tiny-llama.gguf"
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

# sizes in binary units (rates stay MB/s)
out=$(printf 'hi\n/stats\n/model\n' | "$CHORD" -m "$M" --no-tui --no-history -n 2 --temp 0 2>&1) || fail "/stats: $out"
echo "$out" | grep -qE '^memory: [0-9.]+ (KiB|MiB|GiB) / [0-9.]+ (KiB|MiB|GiB) of the budget$' \
    || fail "/stats memory line not in binary units: $out"
echo "$out" | grep -qE '^file .*\([0-9.]+ (KiB|MiB|GiB)\)' || fail "/model size not in binary units: $out"
echo "$out" | grep -qE '[0-9] [KMG]B([^/]|$)' && fail "a size in decimal units: $out"

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

# a message far longer than the context is refused from its first bytes,
# without tokenizing all of it; the next one is answered
python3 -c "print('word ' * 400000)" > "$TMP/big.txt"
echo hi >> "$TMP/big.txt"
out=$(timeout 20 "$CHORD" -m "$M" --no-tui --no-history --ctx 128 -n 2 --temp 0 < "$TMP/big.txt" 2>&1) \
    || fail "REPL with a long line: $out"
echo "$out" | grep -q '^chord: message not sent: 2000000 bytes, and its first 1024 already make [0-9]* tokens but the context holds 128 (--ctx)$' \
    || fail "the long line was not refused as it should: $(echo "$out" | cut -c1-300)"
out=$(timeout 20 "$CHORD" --batch -m "$M" --no-history --ctx 128 -n 2 --temp 0 --json < "$TMP/big.txt" 2>/dev/null)
echo "$out" | head -1 | grep -q '^{"event":"error","turn":1,"message":"message not sent: 2000000 bytes' \
    || fail "batch: the long line was not refused: $(echo "$out" | cut -c1-300)"
echo "$out" | grep -q '"event":"done","turn":2' || fail "batch: the turn after the long line did not run"

# the TUI: the marker after the reply
start -m "$M" --no-history -n 3 --temp 0
T send-keys -t chord "hello" Enter
idle
wait_for '\[cut at -n 3\]' 10 || die "the TUI does not mark a reply cut by -n"
# Tab with several candidates lists them over the input; the next key clears them
T send-keys -t chord "/h" Tab
wait_for '─ /help  /history ─' 5 || die "Tab with several candidates does not list them"
T send-keys -t chord "i"
wait_gone '/help  /history' 5 || die "the candidates stay after the next key"
T send-keys -t chord Tab
wait_for '^│> /history' 5 || die "Tab does not complete the one candidate left"
T send-keys -t chord C-u

# 60x20: F2 folds the diagnostics over the chat's right; the chat re-wraps
# to the room left (the same reply text, none of it hidden)
T resize-window -t chord -x 60 -y 20
wait_cmd 5 eval 'screen | sed -n 20p | grep -qE "^└.*┘$"' || die "no 60x20 frame"
T send-keys -t chord "/clear" Enter
T send-keys -t chord "tell" Enter
wait_for 'you +tell' 5 || die "the message is not shown at 60x20"
wait_cmd 10 eval '[ -n "$(reply_text)" ]' || die "no reply at 60x20"
idle
settled() { a=$(reply_text); sleep 0.3; [ "$a" = "$(reply_text)" ]; }
wait_cmd 5 settled || die "the reply did not settle"
full=$(reply_text)
T send-keys -t chord F2
wait_for 'layers' 5 || die "F2 does not show the diagnostics at 60x20"
wait_cmd 5 eval '[ "$(reply_text)" = "$full" ]' || die "with F2 at 60x20 the reply reads '$(reply_text)', not '$full'"
T send-keys -t chord F2
wait_gone 'layers' 5 || die "F2 again does not fold the diagnostics"

# too small: a notice that fits, and what is typed meanwhile is not sent
T resize-window -t chord -x 24 -y 6
wait_for '^chord needs 60x20' 5 || die "no notice at 24x6"
shows '^\(now 24x6\)' || die "the notice does not say the size now (or does not fit)"
T send-keys -t chord "blind words" Enter
sleep 0.5
T resize-window -t chord -x 120 -y 40
wait_for 'Ctrl-D quit' 5 || die "no frame back at 120x40"
shows 'blind words' && die "a line typed on the too-small screen was taken"
T send-keys -t chord C-d
check_exit

# the /history list: each conversation's model, and no border junction left
# pointing at the hidden split line (panes beside the chat at 120x40)
DB="$TMP/h.db"
echo "first words" | "$CHORD" --batch -m "$M" -n 2 --temp 0 --db "$DB" > /dev/null || fail "batch"
start -m "$M" --db "$DB" -n 2 --temp 0
shows '┬' || die "no split junction to begin with"
T send-keys -t chord "/history" Enter
wait_for 'history: 1 conversations' 5 || die "/history did not open"
shows '^│ +1  [0-9-]+ [0-9:]+ +2 msgs  tiny-llama +first words' || die "the list does not name the model"
screen | grep -qE '[┬┴]' && die "a border junction is left over the list"
T send-keys -t chord Escape
wait_for '┬' 5 || die "the split is not back after the list"
T send-keys -t chord C-d
check_exit
exit 0
