#!/bin/bash
# The TUI and the REPL end a reply where --batch does: on the chat
# template's own end-of-turn text, here one the model spells out across two
# tokens, starting mid-token (as tests/chat/chat_batch.sh finds it). The
# stop text is never shown, the reply is the same bytes as --batch's, and
# the next turn (which reuses the cache through the cut reply) agrees too.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
need_shared models/a-spm-q8_0.gguf
M="$SHARED/models/a-spm-q8_0.gguf"
ARGS=(-m "$M" --temp 0 -n 16 --threads 2 --no-history)
cd "$TMP" || fail "cd"

# a template that closes assistant turns with $1, then a stop text taken
# from the model's own greedy reply to "hi"
tpl() { printf '%s\n' "{% for m in messages %}[{{ m.role }}] {{ m.content }}{% if m.role == 'assistant' %}$1 {% endif %}{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}"; }
tpl "<never-said>" > t0.jinja
"$CHORD" --batch "${ARGS[@]}" --json -p hi --chat-template t0.jinja > t0.out || fail "t0 run"
python3 - t0.out > stop.txt <<'PY' || fail "no token pair fits a stop text: $(cat t0.out)"
import json, sys
t = [j["text"] for j in map(json.loads, open(sys.argv[1])) if j["event"] == "token"]
for i in range(2, len(t) - 1):
    a, b = t[i], t[i + 1].lstrip()
    if len(a) >= 3 and a[1:].isalnum() and len(b) >= 2 and b[:2].isalnum():
        stop = a[1:] + t[i + 1][:t[i + 1].index(b[0]) + 2]
        full, at = "".join(t), len("".join(t[:i])) + 1
        if full.find(stop.split()[0]) == at:
            print(stop); sys.exit(0)
sys.exit(1)
PY
stop=$(cat stop.txt)
word=${stop%% *}    # what the template probe takes as the stop text
tpl "$stop" > ts.jinja

printf 'hi\nmore please\n' > turns
"$CHORD" --batch "${ARGS[@]}" --chat-template ts.jinja --json < turns > b.json || fail "--batch --json failed"
python3 - b.json <<'PY' || fail "--batch did not stop on the text: $(cat b.json)"
import json, sys
done = [j for j in map(json.loads, open(sys.argv[1])) if j["event"] == "done"]
sys.exit(0 if done[0]["stop"] == "eog" and done[0]["n_gen"] < 16 else 1)
PY
"$CHORD" --batch "${ARGS[@]}" --chat-template ts.jinja < turns > b.out 2> b.err || fail "--batch failed: $(cat b.err)"
grep -qF -- "$word" b.out && fail "--batch shows the stop text '$word': $(cat b.out)"
"$CHORD" "${ARGS[@]}" --chat-template ts.jinja < turns > r.out 2> r.err || fail "REPL failed: $(cat r.err)"
cmp -s b.out r.out || fail "REPL replies differ from --batch with stop text '$stop':
  batch: $(cat b.out)
  repl:  $(cat r.out)"
# the screen's view of a line: U+FFFD drawn as '?', other control
# characters as spaces, and no white space (wrapping moves it)
screen_form() {
    sed -n "$1p" b.out | python3 -c 'import sys; t = sys.stdin.read().replace("\ufffd", "?"); print("".join(c for c in t if c > " " and c != "\x7f"))'
}
want1=$(screen_form 1)
want2=$(screen_form 2)

start "${ARGS[@]}" --chat-template ts.jinja
T send-keys -t chord "hi" Enter
wait_for 'Esc stop|chord  ' 30 || die "no reply started"
idle 60
snap "reply done"
got=$(reply_text)
[ "$got" = "$want1" ] || die "TUI reply differs from --batch (stop text '$stop'):
  tui:   $got
  batch: $want1"
screen | grep -qF -- "$word" && die "the TUI shows the stop text '$word'"
screen | grep -q '\[interrupted\]' && die "a reply ended by the template is marked interrupted"
T send-keys -t chord "more please" Enter
wait_for '^│ you    more please' 10 || die "second prompt not shown"
sleep 0.2
idle 60
snap "second reply done"
got2=$(reply_text)
[ "$got2" = "$want2" ] || die "second TUI reply differs from --batch:
  tui:   $got2
  batch: $want2"
T send-keys -t chord C-d
check_exit
echo "ok: stop text '$word' ends the reply in the TUI and the REPL as in --batch (${#got} + ${#got2} non-space bytes)"
