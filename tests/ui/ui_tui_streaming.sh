#!/bin/bash
# With a memory budget that forces layer streaming, the layer map changes
# state while a reply runs (layers are evicted and brought back) and the
# prefetch pane counts the bytes read.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
need_shared models/a-spm-q8_0.gguf
M="$SHARED/models/a-spm-q8_0.gguf"
# a-spm-q8_0: 8704512 bytes of global tensors + 209920 per layer; this
# budget holds the globals and two layer slots, so the three layers stream
start -m "$M" --seed 1 --temp 1 -n 3000 --ctx 2048 --threads 2 --mem-budget 9130000 --no-history
T send-keys -t chord "Tell me a story" Enter
wait_for 'Esc stop' 30 || die "no reply started"
maps=""
for i in 1 2 3 4 5 6 7 8; do
    sleep 0.3
    s=$(screen)
    screen | grep -q 'Esc stop' || break
    maps="$maps
$(printf '%s\n' "$s" | sed -n 2p | awk -F'│' '{print $3}' | tr -d ' ')"
done
snap "while streaming"
T send-keys -t chord Escape
idle 30
snap "stopped"
distinct=$(printf '%s\n' "$maps" | sed '/^$/d' | sort -u | wc -l)
echo "layer maps seen:$maps"
[ "$distinct" -ge 2 ] || die "the layer map did not change while streaming ($distinct distinct)"
printf '%s\n' "$maps" | grep -q '░' || die "no layer was ever shown evicted"
printf '%s\n' "$maps" | grep -qE '▪|▓|▒|▫' || die "no layer was ever shown ready, in use, loading or queued"
line=$(screen | grep -oE 'read [0-9]+ MB/s  [0-9]+ MB' | head -1)
[ -n "$line" ] || die "no prefetch read line"
mb=$(printf '%s' "$line" | sed -E 's/.* ([0-9]+) MB$/\1/')
[ "$mb" -gt 0 ] || die "prefetch pane counted no bytes read: $line"
screen | grep -qE 'hits [0-9]+%' || die "no hit rate"
screen | grep -qE 'stalls [0-9]+ \([0-9]+ ms\)' || die "no stall count"
T send-keys -t chord C-d
check_exit
echo "ok: $distinct distinct layer maps, $line"
