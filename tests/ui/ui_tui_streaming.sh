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
start -m "$M" --seed 1 --temp 1 -n 3000 --ctx 2048 --threads 1 --mem-budget 9130000 --no-history
maps=""
distinct=0
# A 3-layer model runs hundreds of tokens a second, so a frame often lands
# at the same point of the layer cycle: take many quick looks per reply and,
# should one reply (it ends when the context fills) show a single state, ask
# again in a fresh conversation, up to four times.
for round in 1 2 3 4; do
    if [ "$round" -gt 1 ]; then
        idle 30
        T send-keys -t chord "/new" Enter
        sleep 0.2
    fi
    T send-keys -t chord "Tell me a story" Enter
    wait_for 'Esc stop' 30 || die "no reply started"
    for i in $(seq 1 60); do
        s=$(screen)
        printf '%s\n' "$s" | grep -q 'Esc stop' || break
        # row 2 of the side column is the map (one cell per layer)
        m=$(printf '%s\n' "$s" | sed -n 2p | awk -F'│' '{print $3}' | tr -d ' ')
        printf '%s' "$m" | grep -qE '^[█▇▫▒▪▓░]+$' && maps="$maps
$m"
        sleep 0.03
    done
    distinct=$(printf '%s\n' "$maps" | sed '/^$/d' | sort -u | wc -l)
    [ "$distinct" -ge 2 ] && break
done
snap "while streaming"
# Esc stops the reply if it still runs. If the full context has already
# ended it, Esc only clears the empty input line and nothing on screen
# changes, so nothing can be waited for: the pause keeps the Ctrl-D below
# from arriving within the terminal's Esc delay, where the TUI reads Esc
# and the next key as Alt+key (and chord stayed open: "did not exit").
T send-keys -t chord Escape
sleep 0.2
idle 30
snap "stopped"
echo "layer maps seen (round $round):"; printf '%s\n' "$maps" | sed '/^$/d' | sort | uniq -c
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
