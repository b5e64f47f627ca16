#!/bin/bash
# chord with no -m and no model in the config file: the TUI opens a picker
# of the listed models; Down + Enter starts a chat on the second one (its
# name in the chat's title, a reply comes); q quits (exit 0, the terminal as
# it was); with no model anywhere it says how to pull one and exits 1.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/models/models_lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
cd "$TMP" || fail "cd"
mkdir -p src "$LLAMA_CACHE"
synth src/a.gguf qwen2 256 Q4_K_M
synth src/b.gguf llama 64 Q8_0
hub_add "$HF_HUB_CACHE/models--o--n" c0ffee n-Q4_K_M.gguf src/a.gguf
echo c0ffee > "$HF_HUB_CACHE/models--o--n/refs/main"
cp src/b.gguf "$LLAMA_CACHE/o_m_m-Q8_0.gguf"
echo "# no model here" > "$CHORD_CONFIG"

# start_picker ARGS...: chord in a 120x40 window, as tui_lib's start, but
# waiting for the picker rather than the chat
start_picker() {
    rm -f "$TMP/stty.before" "$TMP/stty.after" "$TMP/exit" "$TMP/pid"
    {
        echo "stty -g > '$TMP/stty.before'"
        printf '%q' "$CHORD"
        printf ' %q' "$@"
        echo
        echo "echo \"EXIT=\$?\" > '$TMP/exit'"
        echo "stty -g > '$TMP/stty.after'"
        echo "sleep 600"
    } > "$TMP/run.sh"
    tnew chord -x 120 -y 40 -e LANG=C.UTF-8 -e LC_ALL= "bash $TMP/run.sh"
}

start_picker --no-history --temp 0 -n 8 --threads 2
wait_for 'choose a model \(2\)' 20 || die "no picker"
wait_for '^ > o/n:Q4_K_M +qwen2 ' 5 || die "the first model is not listed first and chosen"
shows '^   o_m_m-Q8_0 +llama .* llama\.cpp' || die "the second model is not listed"
shows '^ Up/Down choose . Enter start . q quit *$' || die "no key hints (or garbage after them)"
snap "picker"
T send-keys -t chord Down
wait_for '^ > o_m_m-Q8_0 ' 5 || die "Down did not move to the second model"
T send-keys -t chord Enter
wait_for 'Ctrl-D quit' 30 || die "no chat after Enter"
wait_for 'chord . synth-llama-64x2-Q8_0' 5 || die "the chat is not on the second model"
snap "chat"
T send-keys -t chord "hello" Enter
wait_for '^│ chord ' 30 || die "no reply"
idle 30
T send-keys -t chord C-d
check_exit

# q quits the picker: exit 0, terminal restored, no chat
start_picker --no-history
wait_for 'choose a model' 20 || die "no picker (second run)"
T send-keys -t chord q
check_exit
screen | grep -q 'Ctrl-D quit' && die "a chat started after q"

# nothing to pick: how to pull one, exit 1
rm -rf "$HF_HUB_CACHE" "$LLAMA_CACHE"
start_picker --no-history
wait_file "$TMP/stty.after" 20 || die "chord did not exit without models"
grep -q '^EXIT=1$' "$TMP/exit" || die "exit status without models: $(cat "$TMP/exit")"
shows 'no models found; get a small one with: chord pull Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M' ||
    die "no pull hint"
cmp -s "$TMP/stty.before" "$TMP/stty.after" || die "terminal settings not restored"
echo PASS
