#!/bin/bash
# /model in the TUI, at 120x40 and 60x20: /model NAME loads another model
# (a synthetic Llama, then a synthetic Qwen3: two architectures, two chat
# templates) after saying "loading ...", the title names the new model, the
# conversation stays on the screen and the next message gets a reply from
# the new model; the history has the first part under the first model and
# the rest as a new conversation under the second, the carried messages
# first. A name that is no model says so and the old model stays. /model
# without a name opens the list of local models (a model-dirs folder here)
# and Enter switches to the chosen one. The REPL switches too.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 (the shell) is needed"
mkdir -p "$TMP/dirs" || fail "mkdir"
L="$TMP/dirs/small-llama.gguf"
Q="$TMP/dirs/small-qwen3.gguf"
"$CHORD" synth --arch llama --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 128 \
    --vocab 512 --type Q8_0 -o "$L" > /dev/null 2>&1 || fail "synth llama"
"$CHORD" synth --arch qwen3 --dim 64 --layers 2 --heads 4 --kv-heads 2 --head-dim 16 --ffn 128 \
    --vocab 512 --type Q8_0 -o "$Q" > /dev/null 2>&1 || fail "synth qwen3"
export CHORD_CONFIG="$TMP/chord.conf"
echo "model-dirs = $TMP/dirs" > "$CHORD_CONFIG"

# the title row: the model's name
title_has() { screen | head -1 | grep -q -- "$1"; }
# a reply from chord shown after the message "and now"
replied() { screen | awk '/│ you +and now/{on=1} on && /^│ chord +[^ ]/{ok=1} END{exit !ok}'; }
# the reply to MESSAGE ended (-n 5 cuts each one: its marker is shown)
answered() { screen | awk -v m="$1" '$0 ~ "│ you +" m {on=1} on && /\[cut at -n 5\]/{ok=1} END{exit !ok}'; }

round() {   # round WIDTH HEIGHT
    local w=$1 h=$2 db="$TMP/h-$1.db"
    start -m "$L" --db "$db" -n 5 --temp 0
    T resize-window -t chord -x "$w" -y "$h"
    wait_cmd 10 title_has 'synth-llama' || die "the title does not name the llama model at ${w}x$h"
    T send-keys -t chord "hello there" Enter
    wait_cmd 30 answered "hello there" || die "no reply to the first message at ${w}x$h"
    idle
    T send-keys -t chord "/model $TMP/nothing-here.gguf" Enter
    wait_for 'no such file' 10 || die "a missing model is not reported at ${w}x$h"
    title_has 'synth-llama' || die "a failed /model changed the title"
    T send-keys -t chord "/model $Q" Enter
    wait_for 'now chatting with synth-qwen3' 30 || die "/model did not switch at ${w}x$h"
    grep -q 'loading .*small-qwen3' "$SCREENS" 2>/dev/null || snap "after the switch"
    wait_cmd 10 title_has 'synth-qwen3' || die "the title does not name the new model at ${w}x$h"
    shows 'you +hello there' || die "the conversation left the screen with the switch"
    T send-keys -t chord "and now" Enter
    wait_for 'you +and now' 5 || die "the second message is not shown"
    wait_cmd 30 replied || die "no reply from the new model at ${w}x$h"
    wait_cmd 30 answered "and now" || die "the new model's reply did not end at ${w}x$h"
    idle
    snap "switched ${w}x$h"
    # the list of local models: choose the llama one again
    T send-keys -t chord "/model" Enter
    wait_for 'models: 2 ' 10 || die "/model did not list the local models at ${w}x$h"
    shows 'small-llama' || die "the list lacks small-llama"
    shows 'small-qwen3' || die "the list lacks small-qwen3"
    snap "model list ${w}x$h"
    # the list is sorted by source then name: find llama's row, move to it
    local i
    for i in 1 2; do
        screen | grep -q '> small-llama' && break
        T send-keys -t chord Down
        sleep 0.3
    done
    wait_for '> small-llama' 5 || die "cannot select small-llama in the list"
    T send-keys -t chord Enter
    wait_for 'now chatting with synth-llama' 30 || die "choosing from the list did not switch"
    wait_cmd 10 title_has 'synth-llama' || die "the title does not follow the list's choice"
    T send-keys -t chord C-d
    check_exit
    # the history: three conversations, one per model part, carried messages first
    local rows
    rows=$(sqlite3 "$db" "SELECT c.model || ':' || group_concat(m.role || '=' || substr(m.content, 1, 11), ',')
                           FROM conversations c
                           JOIN (SELECT * FROM messages ORDER BY conversation_id, seq) m ON m.conversation_id = c.id
                           GROUP BY c.id ORDER BY c.id")
    echo "$rows" | sed -n 1p | grep -q '^small-llama.gguf:user=hello there,assistant=' \
        || fail "the first part's conversation at ${w}x$h: $rows"
    echo "$rows" | sed -n 2p | grep -q '^small-qwen3.gguf:user=hello there,assistant=.*,user=and now,assistant=' \
        || fail "the second model's conversation at ${w}x$h: $rows"
    [ "$(echo "$rows" | wc -l)" = 2 ] || fail "a switch with nothing said after it made a conversation: $rows"
}
round 120 40
round 60 20

# the REPL: the same switch, its notes on stdout
out=$(printf 'hello\n/model %s\nagain\n' "$Q" | "$CHORD" -m "$L" --no-tui --no-history -n 4 --temp 0 2>&1) \
    || fail "REPL run: $out"
echo "$out" | grep -q 'loading .*small-qwen3' || fail "the REPL did not say it loads: $out"
echo "$out" | grep -q 'now chatting with synth-qwen3' || fail "the REPL did not switch: $out"
exit 0
