#!/bin/bash
# Resizing to 60x20 keeps a whole frame (borders intact, diagnostics folded
# away), below 60x20 a short notice shows, and back at 120x40 the screen
# is the same as before.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
need_shared models/a-spm-q8_0.gguf
M="$SHARED/models/a-spm-q8_0.gguf"
start -m "$M" --seed 3 -n 40 --threads 2 --no-history
T send-keys -t chord "Tell me a story" Enter
idle 60
T send-keys -t chord "/help" Enter
wait_for '/quit' 10 || die "no help"
# the gen sparkline moves every second: compare the rest, once two
# captures in a row agree (the frame has settled)
settled() { before=$(screen | grep -v 'tok/s'); sleep 0.3; [ "$before" = "$(screen | grep -v 'tok/s')" ]; }
wait_cmd 10 settled || die "the screen did not settle"
snap "before"

T resize-window -t chord -x 60 -y 20
# the frame is redrawn on SIGWINCH: wait for its new bottom border
bottom20() { screen | sed -n 20p | grep -qE '^└.*┘$'; }
wait_cmd 5 bottom20 || die "no 60x20 frame within 5 s"
snap "60x20"
s=$(screen)
rows=$(printf '%s\n' "$s" | wc -l)
[ "$rows" -eq 20 ] || die "60x20 screen has $rows rows"
printf '%s\n' "$s" | sed -n 1p | grep -qE '^┌.*┐$' || die "top border broken at 60x20"
printf '%s\n' "$s" | sed -n 20p | grep -qE '^└.*┘$' || die "bottom border broken at 60x20"
bad=$(printf '%s\n' "$s" | sed -n '2,19p' | grep -cvE '^[│├].*[│┤]$')
[ "$bad" -eq 0 ] || die "$bad rows without side borders at 60x20"
printf '%s\n' "$s" | grep -q 'layers' && die "diagnostics should fold away below 100 columns"
printf '%s\n' "$s" | sed -n 18,19p | grep -q '^│>' || die "no input line at 60x20"

T resize-window -t chord -x 50 -y 15
wait_for '^chord needs 60x20' 5 || die "no small-terminal notice"
shows '^\(now 50x15\)' || die "the notice does not say the size now"
snap "50x15"

T resize-window -t chord -x 120 -y 40
same() { after=$(screen | grep -v 'tok/s'); [ "$before" = "$after" ]; }
wait_cmd 5 same
snap "back at 120x40"
[ "$before" = "$after" ] || die "screen differs after resizing back:
$(diff <(printf '%s\n' "$before") <(printf '%s\n' "$after"))"
T send-keys -t chord C-d
check_exit
echo "ok: 60x20 framed, 50x15 notice, 120x40 restored identically"
