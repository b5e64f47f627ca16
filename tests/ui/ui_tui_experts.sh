#!/bin/bash
# A mixture of experts in the TUI: the layers pane shows, per layer, how
# many experts are in memory out of all ("r/8") and which the last token
# chose; with the qwen3moe fixture's experts in 12 slots (--mem-budget 2M)
# the counts add up to at most the slots. --expert-lru is accepted.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
need_shared models/l-qwen3moe-q8_0.gguf
M="$SHARED/models/l-qwen3moe-q8_0.gguf"
ARGS=(-m "$M" --mem-budget 2M --seed 7 --temp 0.8 -n 24 --threads 2)

# the plan the pane reflects: some expert slots, fewer than the 24 experts
"$CHORD" eval -m "$M" --tokens "1 2 3" --mem-budget 2M -v > "$TMP/plan.out" 2>&1 \
    || fail "eval failed: $(cat "$TMP/plan.out")"
slots=$(grep -oE 'in [0-9]+ slots' "$TMP/plan.out" | grep -oE '[0-9]+' | head -1)
[ -n "$slots" ] && [ "$slots" -gt 0 ] && [ "$slots" -lt 24 ] \
    || fail "expected expert slots in the plan: $(cat "$TMP/plan.out")"

# the layer cells: "L r/8 a,b" (layer, resident of 8, the last token's two)
cells() { screen | grep -oE '│ ?[0-2] +[0-8]/8( [0-7],[0-7])?' | sed 's/^│ *//'; }
full_cells() { [ "$(screen | grep -cE '│ ?[0-2] +[0-8]/8 [0-7],[0-7]')" -eq 3 ]; }

start "${ARGS[@]}" --db "$TMP/h.db"
shows 'experts 2/8' || die "no expert title on the layers pane"
T send-keys -t chord "Tell me about the sea" Enter
wait_for 'Esc stop|chord  ' 30 || die "no reply started"
# while the reply streams (or once it ended, on a fast machine) every layer
# has a count and the last token's experts
wait_cmd 60 full_cells || die "layers pane: no 'r/8 a,b' cell for each of the 3 layers"
snap "streaming"
idle 60
snap "reply done"
full_cells || die "layers pane lost its expert cells after the reply"
cells > "$TMP/cells"
sum=0
while read -r layer count ids; do
    r=${count%/8}
    a=${ids%,*}
    b=${ids#*,}
    [ "$a" != "$b" ] || die "layer $layer: the same expert chosen twice ($ids)"
    sum=$((sum + r))
done < "$TMP/cells"
[ "$sum" -le "$slots" ] || die "resident experts $sum exceed the $slots slots: $(cat "$TMP/cells")"
[ "$sum" -gt 0 ] || die "no expert resident after a reply: $(cat "$TMP/cells")"
T send-keys -t chord C-d
check_exit

# the LRU policy runs the same model to the end
"$CHORD" --batch "${ARGS[@]}" --expert-lru -p "Tell me about the sea" --no-history \
    > "$TMP/lru.out" 2> "$TMP/lru.err" || fail "--expert-lru failed: $(cat "$TMP/lru.err")"
"$CHORD" --expert-lru --bogus 2>/dev/null; [ $? -eq 2 ] || fail "usage error not 2"
echo "ok: 3 layers with r/8 counts (sum $sum <= $slots slots) and the last token's experts"
