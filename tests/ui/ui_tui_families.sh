#!/bin/bash
# The TUI on the Qwen3, Gemma 3, Gemma 2 and Phi-3 fixtures: a message the
# model answers with an end-of-generation token (greedy; the messages of
# tests/chat/chat_families_eot.sh, which checks which token: the template's
# end marker, except on the Phi-3 fixture, whose random weights end on
# "</s>", see there) gives a reply that ends there by itself, well before
# -n: the UI goes idle, the screen shows --batch's reply and never an end
# marker, the reply is not marked interrupted, /stats counts the reply's
# tokens, and the history holds the reply complete, with --batch's text and
# token count.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
need_shared models/f-qwen3-q8_0.gguf models/g-gemma3-q8_0.gguf models/h-gemma2-q8_0.gguf models/i-phi3-q8_0.gguf
cd "$TMP" || fail "cd"
LIMIT=200

# the screen's view of a reply: U+FFFD drawn as '?', other control
# characters as spaces, and no white space (wrapping moves it)
screen_form() {
    python3 -c 'import json,sys; t = json.loads(sys.argv[1]).replace("\ufffd", "?"); print("".join(c for c in t if c > " " and c != "\x7f"))' "$1"
}

# name;template's end marker;token the reply ends on;message;reply tokens
for spec in "f-qwen3;<|im_end|>;<|im_end|>;what time is it;16" \
            "g-gemma3;<end_of_turn>;<end_of_turn>;I like apple;11" \
            "h-gemma2;<end_of_turn>;<end_of_turn>;my star;20" \
            "i-phi3;<|end|>;</s>;I like light;24"; do
    IFS=';' read -r name mark end msg want <<< "$spec"
    M="$SHARED/models/$name-q8_0.gguf"
    DB="$TMP/$name.db"
    # --batch's reply, the one the TUI must show and record
    "$CHORD" --batch -m "$M" --temp 0 -n $LIMIT --no-history --json <<< "$msg" > $name.json ||
        fail "$name: --batch run"
    read -r n_gen stop text < <(python3 - $name.json <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
done = [e for e in ev if e["event"] == "done"][0]
print(done["n_gen"], done["stop"], json.dumps("".join(e["text"] for e in ev if e["event"] == "token")))
PY
)
    [ "$n_gen $stop" = "$want eog" ] || fail "$name '$msg': --batch gives $n_gen tokens, stop $stop; want $want, eog"

    start -m "$M" --temp 0 -n $LIMIT --threads 2 --db "$DB"
    T send-keys -t chord "$msg" Enter
    wait_for "^│ you    $msg" 10 || die "$name: the message is not shown"
    # the reply's first line (its label) comes with its first token; then
    # the hints say Ctrl-D again once the reply is over
    wait_for '^│ chord ' 30 || die "$name: no reply started"
    idle 30
    snap "$name: reply done"
    got=$(reply_text)
    want_screen=$(screen_form "$text")
    [ "$got" = "$want_screen" ] || die "$name: TUI reply differs from --batch:
  tui:   $got
  batch: $want_screen"
    screen | grep -qF -e "$mark" -e "$end" && die "$name: the screen shows an end marker"
    screen | grep -q '\[interrupted\]' && die "$name: a reply ended by the model is marked interrupted"
    T send-keys -t chord "/stats" Enter
    wait_for 'last reply: prompt' 5 || die "$name: /stats did not answer"
    screen | grep -q "gen $want tok in" || die "$name: /stats does not count $want generated tokens"
    T send-keys -t chord C-d
    check_exit

    "$CHORD" history show 1 --json --db "$DB" > $name.hist || fail "$name: history show"
    python3 - $name.hist "$msg" "$text" "$mark" "$end" "$want" <<'PY' || fail "$name: history does not hold the complete reply: $(cat $name.hist)"
import json, sys
conv = json.load(open(sys.argv[1], encoding="utf-8"))
msg, text, marks, want = sys.argv[2], json.loads(sys.argv[3]), sys.argv[4:6], int(sys.argv[6])
m = conv["messages"]
assert [x["role"] for x in m] == ["user", "assistant"], m
assert m[0]["content"] == msg, m[0]
a = m[1]
assert a["status"] == "complete", a
assert a["content"] == text and text, (a["content"], text)
assert not any(k in a["content"] for k in marks), a["content"]
assert a["n_gen"] == want, a
PY
    echo "$name: '$msg' -> $want tokens, ended at $end, complete in history"
done
echo "PASS"
