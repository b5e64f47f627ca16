#!/bin/bash
# A reasoning model's thinking in the TUI: a conversation whose reply has a
# reasoning part (stored apart from the answer, as a think-tag or harmony
# model's reply is recorded) comes back folded to one dimmed line with its
# length above the answer; F3 shows it whole (dimmed), F3 again folds it.
# The answer's text never contains it. At 120x40 and 60x20. Self-contained: a synthetic Qwen3
# model (its vocabulary has the think tags) and a history written by
# chord itself, then given a reasoning part with sqlite3.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 (the shell) is needed"
M="$TMP/q3.gguf"
DB="$TMP/h.db"
"$CHORD" synth --arch qwen3 --dim 64 --layers 2 --heads 4 --kv-heads 2 --head-dim 16 --ffn 128 \
    --vocab 512 --type Q8_0 -o "$M" > /dev/null || fail "synth"
echo "what time is it" | "$CHORD" --batch -m "$M" -n 4 --temp 0 --db "$DB" > /dev/null || fail "batch"
sqlite3 "$DB" "UPDATE messages SET content = 'It is noon.',
    reasoning = char(10) || 'The clock shows twelve, so noon.' || char(10) WHERE role = 'assistant'" \
    || fail "sqlite3 update"

start -m "$M" --db "$DB" --resume 1
wait_for 'It is noon\.' 10 || die "the answer is not shown"
wait_for 'thought for 6 words \(F3 shows it\)' 5 || die "the reasoning is not folded into one line"
shows 'The clock shows' && die "the folded reasoning shows its text"
# the folded line is dimmed (SGR 2 in the pane's escapes)
T capture-pane -p -e -t chord | grep 'thought for 6 words' | grep -q $'\e\[[0-9;]*2[;m]' \
    || die "the folded line is not dimmed: $(T capture-pane -p -e -t chord | grep 'thought for')"
snap "folded"

T send-keys -t chord F3
wait_for 'The clock shows twelve, so noon\.' 5 || die "F3 did not show the reasoning"
shows 'thought for 6 words' && die "the folded line stayed after F3"
# reasoning above the answer, both in the same message
r=$(screen | grep -n 'The clock shows' | cut -d: -f1)
a=$(screen | grep -n 'It is noon\.' | cut -d: -f1)
[ "$r" -lt "$a" ] || die "the reasoning is not above the answer ($r, $a)"
screen | grep 'The clock shows' | grep -q '^│ chord ' || die "the reasoning does not open the reply's lines"
snap "shown"

T send-keys -t chord F3
wait_for 'thought for 6 words' 5 || die "F3 again did not fold it"
T send-keys -t chord C-d
check_exit

# 60x20: the folded line and the shown reasoning wrap to the narrow pane
start -m "$M" --db "$DB" --resume 1
T resize-window -t chord -x 60 -y 20
wait_for 'It is noon\.' 10 || die "60x20: the answer is not shown"
wait_for 'thought for 6 words' 5 || die "60x20: the reasoning is not folded"
snap "folded 60x20"
T send-keys -t chord F3
wait_for 'The clock shows twelve, so' 5 || die "60x20: F3 did not show the reasoning"
shows 'thought for 6 words' && die "60x20: the folded line stayed after F3"
screen | awk 'length($0) > 0' | while IFS= read -r l; do
    [ "$(printf '%s' "$l" | wc -m)" -le 60 ] || die "60x20: a line wider than the pane: $l"
done
snap "shown 60x20"
T send-keys -t chord C-d
check_exit
# the history still holds the parts apart
"$CHORD" history --db "$DB" show 1 --json | grep -q '"reasoning": "\\nThe clock shows twelve' \
    || die "history lost the reasoning"
echo "ok: reasoning folded, shown with F3, folded again (120x40 and 60x20)"
