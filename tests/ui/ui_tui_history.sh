#!/bin/bash
# Esc stops a running reply at once: the partial text stays, marked
# interrupted on screen and in the history. /history lists past
# conversations and Enter resumes one (its messages come back on screen).
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
need_shared models/a-spm-q8_0.gguf
M="$SHARED/models/a-spm-q8_0.gguf"
DB="$TMP/h.db"
# The scalar kernels, so that the reply (up to the 2,048-token context)
# takes seconds: at the SIMD levels this model writes it in about 1.5 s,
# which a loaded CI machine can spend before the Esc below arrives.
export CHORD_SIMD=scalar
start -m "$M" --seed 5 --temp 1 --ctx 2048 -n -1 --threads 2 --db "$DB"
T send-keys -t chord "Lighthouse keeper story" Enter
wait_for 'Esc stop' 30 || die "no reply started"
wait_for '^│ (chord|     )  [^▌ ]' 30 || die "no reply text"
sleep 0.1
T send-keys -t chord Escape
wait_for 'Ctrl-D quit' 2 || die "Esc did not stop the reply within 2 s"
wait_for '\[interrupted\]' 2 || die "the stopped reply is not marked interrupted"
snap "after Esc"

"$CHORD" history --db "$DB" show 1 --json > "$TMP/c1.json" || die "history show 1 failed"
grep -q '"role": "assistant", "status": "interrupted"' "$TMP/c1.json" \
    || die "reply not recorded as interrupted: $(head -c 1500 "$TMP/c1.json")"
ngen=$(grep -oE '"n_gen": [0-9]+' "$TMP/c1.json" | tail -1 | grep -oE '[0-9]+')
[ "${ngen:-0}" -gt 0 ] || die "interrupted reply has no tokens counted"

# a second conversation, then back to the first through the picker
T send-keys -t chord "/new" Enter
wait_for 'new conversation' 5 || die "/new did not answer"
T send-keys -t chord "/set n 8" Enter
wait_for 'n 8' 5 || die "/set n did not answer"
T send-keys -t chord "Second talk" Enter
idle 60
T send-keys -t chord "/history" Enter
wait_for 'history: 2 conversations' 5 || die "the picker did not open with 2 conversations"
snap "picker"
screen | grep -q 'Second talk' || die "picker misses the second conversation"
screen | grep -q 'Lighthouse keeper story' || die "picker misses the first conversation"
# newest first: the first conversation is one row down
T send-keys -t chord Down Enter
wait_for 'resumed conversation 1' 5 || die "Enter did not resume"
snap "resumed"
screen | grep -q '\[interrupted\]' || die "resumed chat lacks the interrupted reply"
screen | grep -q 'Second talk' && die "the other conversation is still on screen"
screen | sed -n 1p | grep -q '"Lighthouse keeper story"' || die "title not shown in the top border"
# the reply may be long: Home shows the start of the conversation
T send-keys -t chord Home
wait_for '^│ you    Lighthouse keeper story' 3 || die "resumed chat lacks the user message"
T send-keys -t chord End

T send-keys -t chord C-d
check_exit
echo "ok: Esc stopped after $ngen tokens, recorded interrupted; picker resumed conversation 1"
