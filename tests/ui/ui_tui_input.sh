#!/bin/bash
# Line editing inside the TUI: Tab completes slash commands, Alt-Enter and
# a trailing backslash make multi-line messages, Up recalls past prompts
# (seeded from the history in a new session), Ctrl-C stops a reply,
# PgUp/End scroll, F2 folds the diagnostics, and NO_COLOR means no colour.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
need_shared models/a-spm-q8_0.gguf
M="$SHARED/models/a-spm-q8_0.gguf"
DB="$TMP/h.db"
start -m "$M" --seed 2 -n 6 --threads 2 --db "$DB"

T send-keys -t chord "/hel" Tab
wait_for '^│> /help ' 5 || die "Tab did not complete /hel to /help"
T send-keys -t chord C-u
T send-keys -t chord "first line" Escape Enter "second line" Enter
# the idle footer shows before the keys arrive too: wait for the message
wait_for '^│ you    first line' 30 || die "no first line of the Alt-Enter message"
idle 30
snap "alt-enter"
screen | grep -q '^│        second line' || die "no second line of the Alt-Enter message"
T send-keys -t chord 'one\' Enter
wait_for '^│> one' 5 || die "continuation line not kept in the input"
T send-keys -t chord "two" Enter
wait_for '^│        two' 30 || die "backslash message lost its second line"
idle 30
screen | grep -q '^│ you    one$\|^│ you    one  ' || die "backslash message lost its first line"
screen | grep -q '^│        two' || die "backslash message lost its second line"

# scrollback: enough text to scroll, then PgUp shows older lines, End returns
T send-keys -t chord "/help" Enter
T send-keys -t chord "/help" Enter
T send-keys -t chord "/help" Enter
wait_for '/quit' 5 || die "no help"
# a PgUp that arrives before the last /help is drawn is undone by the view
# following the new output: press it again until the view stays scrolled
scrolled=0
for i in 1 2 3 4 5; do
    T send-keys -t chord PPage
    if wait_for 'more' 2; then scrolled=1; break; fi
done
[ "$scrolled" = 1 ] || die "PgUp did not scroll back"
snap "scrolled"
T send-keys -t chord End
wait_gone '↓ [0-9]* more' 5 || die "End did not return to the bottom"

T send-keys -t chord F2
wait_gone 'layers 3' 5 || die "F2 did not hide the diagnostics"
T send-keys -t chord F2
wait_for 'layers 3' 3 || die "F2 did not bring the diagnostics back"

# Ctrl-C stops a long reply
T send-keys -t chord "/set n -1" Enter "Go on" Enter
wait_for 'Esc stop' 10 || die "no reply started"
sleep 0.3
T send-keys -t chord C-c
wait_for 'Ctrl-D quit' 2 || die "Ctrl-C did not stop the reply"
T send-keys -t chord C-d
check_exit

# a new session: Up recalls the last prompt from the history; NO_COLOR
start -m "$M" --seed 2 -n 6 --threads 2 --db "$DB"
T send-keys -t chord Up
wait_for '^│> Go on' 5 || die "Up did not recall the last prompt from the history"
colour=$(T capture-pane -p -e -t chord | grep -c $'\e\\[[0-9;]*3[0-7]m\|\e\\[[0-9;]*38;')
[ "$colour" -gt 0 ] || die "no colour with colours allowed"
T send-keys -t chord C-u C-d
check_exit
rm -f "$TMP/stty.before" "$TMP/stty.after" "$TMP/exit"

tnew chord -x 120 -y 40 -e LANG=C.UTF-8 -e NO_COLOR=1 \
    "'$CHORD' -m '$M' --no-history --threads 2"
wait_for 'Ctrl-D quit' 30 || die "no screen with NO_COLOR"
colour=$(T capture-pane -p -e -t chord | grep -c $'\e\\[[0-9;]*3[0-7]m\|\e\\[[0-9;]*38;')
[ "$colour" -eq 0 ] || die "NO_COLOR set but $colour lines carry colour"
T send-keys -t chord C-d
echo "ok"
