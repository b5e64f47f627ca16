#!/bin/bash
# The TUI's commands on replies, at 120x40 and at 60x20: /copy (the last
# reply) and /copy N (its N-th fenced code block) reach the terminal's
# clipboard through OSC 52 (tmux with set -s set-clipboard on keeps it as a
# buffer); /copy 9 says there is no such block; /mouse gives the mouse
# back to the terminal (no mouse reporting asked: its own selection works)
# and takes it again; /undo takes the last exchange off the screen;
# /retry answers the same question again (one reply shown); /edit puts the
# last message in the input line, and Enter sends the changed text in its
# place. Self-contained: a synthetic Qwen3 model and a reply given code
# blocks with sqlite3.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 (the shell) is needed"
M="$TMP/q3.gguf"
DB="$TMP/h.db"
"$CHORD" synth --arch qwen3 --dim 64 --layers 2 --heads 4 --kv-heads 2 --head-dim 16 --ffn 128 \
    --vocab 512 --type Q8_0 -o "$M" > /dev/null || fail "synth"
echo "show me code" | "$CHORD" --batch -m "$M" -n 4 --temp 0 --db "$DB" > /dev/null || fail "batch"
sqlite3 "$DB" "UPDATE messages SET content = 'Two blocks.' || char(10) || '\`\`\`sh' || char(10) ||
    'echo one' || char(10) || '\`\`\`' || char(10) || 'and' || char(10) || '~~~python' || char(10) ||
    'print(2)' || char(10) || 'x = 3' || char(10) || '~~~' || char(10) || 'Done.' WHERE role = 'assistant'" \
    || fail "sqlite3 update"

buffer() { T show-buffer 2>/dev/null; }
buffer_is() { [ "$(buffer)" = "$1" ]; }
mouse_on() { [ "$(T display -p -t chord '#{mouse_any_flag}#{mouse_standard_flag}#{mouse_button_flag}')" != 000 ]; }

round() {   # round WIDTH HEIGHT
    local w=$1 h=$2
    start -m "$M" --db "$DB" --resume 1 -n 6 --temp 0
    T set -s set-clipboard on   # a server option: OSC 52 makes a buffer
    T resize-window -t chord -x "$w" -y "$h"
    wait_for 'Done\.' 10 || die "the resumed reply is not shown at ${w}x$h"
    T delete-buffer 2>/dev/null
    T send-keys -t chord "/copy 2" Enter
    wait_cmd 5 buffer_is $'print(2)\nx = 3' || die "/copy 2 put '$(buffer)' in the buffer at ${w}x$h"
    wait_for 'copied code block 2' 5 || die "/copy 2 said nothing"
    T send-keys -t chord "/copy 1" Enter
    wait_cmd 5 buffer_is 'echo one' || die "/copy 1 put '$(buffer)' at ${w}x$h"
    T send-keys -t chord "/copy" Enter
    wait_cmd 5 eval '[ "$(buffer | head -1)" = "Two blocks." ] && [ "$(buffer | tail -1)" = "Done." ]' \
        || die "/copy put '$(buffer)' at ${w}x$h"
    wait_for 'copied the last reply \(' 5 || die "/copy said nothing"
    T send-keys -t chord "/copy 9" Enter
    wait_for 'no code block 9 \(the last reply has 2\)' 5 || die "/copy 9 at ${w}x$h"
    snap "copied ${w}x$h"

    mouse_on || die "the mouse is not captured by default"
    T send-keys -t chord "/mouse" Enter
    wait_for 'mouse off' 5 || die "/mouse did not say the state"
    wait_cmd 5 eval '! mouse_on' || die "/mouse off still reports the mouse"
    T send-keys -t chord "/mouse" Enter
    wait_for 'mouse on' 5 || die "/mouse again did not say on"
    wait_cmd 5 mouse_on || die "/mouse on does not capture the wheel"

    T send-keys -t chord "/clear" Enter
    T send-keys -t chord "first question" Enter
    # the idle hints also show before a reply starts: wait for its end
    # (the -n marker) so /retry does not land while it runs
    wait_for '\[cut at -n' 30 || die "the first reply did not end"
    idle
    wait_for 'you +first question' 5 || die "the question is not shown"
    # the old reply (and its marker) goes first, the new one ends with its
    # own: wait for the screen to change, then for the marker again
    BEFORE=$(screen)
    T send-keys -t chord "/retry" Enter
    wait_cmd 5 eval '[ "$(screen)" != "$BEFORE" ]'
    wait_for '\[cut at -n' 30 || die "the retried reply did not end"
    idle
    wait_for 'you +first question' 5 || die "/retry lost the question"
    [ "$(screen | grep -c '│ chord ')" = 1 ] || die "/retry shows $(screen | grep -c '│ chord ') replies"
    snap "retried ${w}x$h"
    T send-keys -t chord "/edit" Enter
    wait_for '> first question' 5 || die "/edit did not put the message in the input"
    T send-keys -t chord C-u "second try" Enter
    wait_for 'you +second try' 5 || die "the edited message is not shown"
    wait_for '\[cut at -n' 30 || die "the edited message's reply did not end"
    idle
    shows 'you +first question' && die "the replaced exchange is still shown"
    T send-keys -t chord "/undo" Enter
    wait_for 'took the last exchange back' 5 || die "/undo said nothing"
    shows 'you +second try' && die "/undo left the exchange on the screen"
    snap "undone ${w}x$h"
    T send-keys -t chord C-d
    check_exit
}
round 120 40
round 60 20
show=$("$CHORD" history --db "$DB" show 1)
echo "$show" | grep -qx '## Assistant (alternative)' || fail "no alternative in the history: $show"
echo "$show" | grep -qx '## User (removed)' || fail "no removed turn in the history: $show"
echo "ok: /copy, /copy N, /mouse, /retry, /edit, /undo at 120x40 and 60x20"
