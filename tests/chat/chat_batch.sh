#!/bin/bash
# chat_batch: `chord --batch` chat without --raw: one reply per stdin line,
# the KV cache reused across turns, --json events, -p, --system,
# --chat-template, end-of-turn tokens never shown, context full.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/chat/chat_lib.sh"
need_shared models/a-spm-q8_0.gguf models/b-spm-q4_k_m.gguf models/c-qwen2-q8_0.gguf
cd "$TMP" || fail "cd"
G=(-n 8 --temp 0 --no-history)
printf 'Hello there\nWhat is two plus two?\nThanks\n' > three.txt

# --- three turns as JSON: fields, counts, cache reuse ---------------------
"$CHORD" --batch -m "$A_MODEL" "${G[@]}" --json < three.txt > j.out 2> j.err || fail "json run exit $?: $(cat j.err)"
jsum j.out > j.sum || fail "bad --json output"
[ "$(wc -l < j.sum)" = 3 ] || fail "expected 3 turns: $(cat j.sum)"
mapfile -t T < j.sum
for i in 0 1 2; do
    [ "$(field "${T[$i]}" 1)" = $((i + 1)) ] || fail "turn numbers: ${T[$i]}"
    [ "$(field "${T[$i]}" 4)" = 8 ] && [ "$(field "${T[$i]}" 5)" = limit ] || fail "turn $((i + 1)) not 8 tokens to the limit: ${T[$i]}"
done
[ "$(field "${T[0]}" 3)" = 0 ] || fail "turn 1 reused a cache it cannot have: ${T[0]}"
# each later turn keeps the whole cache: the earlier prompts and replies
# (the reply's tokens as sampled, although its text re-tokenized does not
# give them back here: SentencePiece's leading space on the first one). A
# reply cut at -n leaves its last token unevaluated, so that one is new.
total3=$(( $(field "${T[2]}" 2) + $(field "${T[2]}" 3) ))
for i in 1 2; do
    p=${T[$((i - 1))]}
    want=$(( $(field "$p" 2) + $(field "$p" 3) + $(field "$p" 4) - 1 ))
    [ "$(field "${T[$i]}" 3)" = "$want" ] || fail "turn $((i + 1)) reused $(field "${T[$i]}" 3) cached tokens, want all $want: ${T[$i]}"
done
[ $(( 2 * $(field "${T[2]}" 2) )) -lt "$total3" ] || fail "turn 3 prefilled $(field "${T[2]}" 2) of $total3 tokens"

# --- plain text: the same replies, one per line ---------------------------
"$CHORD" --batch -m "$A_MODEL" "${G[@]}" < three.txt > p.out 2> p.err || fail "plain run exit $?: $(cat p.err)"
[ ! -s p.err ] || fail "plain run wrote to stderr without -v: $(cat p.err)"
python3 - j.sum p.out <<'PY' || fail "plain output differs from the --json replies"
import json, sys
want = "".join(json.loads(l.split(" ", 6)[6]) + "\n" for l in open(sys.argv[1], encoding="utf-8"))
got = open(sys.argv[2], encoding="utf-8").read()
sys.exit(0 if got == want else "want %r\ngot  %r" % (want, got))
PY

# --- the whole conversation at once (resumed) -----------------------------
# -c without a saved KV cache (--kv-store 0; chat_resume tests the saved
# one) prefills the conversation's text from scratch: as many tokens as
# `chord chat-template` and `chord tokenize` make of it
export XDG_DATA_HOME="$TMP/xdg"
head -2 three.txt | "$CHORD" --batch -m "$A_MODEL" -n 8 --temp 0 --db r.db --json > r1.out 2> r1.err || fail "resume setup: $(cat r1.err)"
tail -1 three.txt | "$CHORD" --batch -m "$A_MODEL" -n 8 --temp 0 --db r.db -c --kv-store 0 --json > r2.out 2> r2.err || fail "-c run: $(cat r2.err)"
R=$(jsum r2.out) || fail "bad json from -c"
[ "$(field "$R" 1)" = 1 ] && [ "$(field "$R" 3)" = 0 ] || fail "-c turn: $R"
python3 - three.txt j.sum > conv.json <<'PY' || fail "conversation json"
import json, sys
u = open(sys.argv[1], encoding="utf-8").read().splitlines()
r = [json.loads(l.split(" ", 6)[6]) for l in open(sys.argv[2], encoding="utf-8")]
json.dump([{"role": "user", "content": u[0]}, {"role": "assistant", "content": r[0]},
           {"role": "user", "content": u[1]}, {"role": "assistant", "content": r[1]},
           {"role": "user", "content": u[2]}], sys.stdout)
PY
"$CHORD" chat-template -m "$A_MODEL" --messages conv.json > conv.txt || fail "chat-template of the conversation"
ntext=$("$CHORD" tokenize -m "$A_MODEL" --special -f conv.txt | wc -w)
[ "$(field "$R" 2)" -eq "$ntext" ] || fail "-c prefilled $(field "$R" 2) tokens, the conversation's text is $ntext"
# Its reply equals the continuous run's when the replies' text gives their
# sampled tokens back, as on the b model (the same number of tokens from
# scratch as the continuous run holds); on the a model turn 3 sees the
# sampled tokens of the earlier replies, which a resumed conversation
# cannot know.
"$CHORD" --batch -m "$B_MODEL" "${G[@]}" --json < three.txt > bj.out || fail "b model run"
mapfile -t BT < <(jsum bj.out)
head -2 three.txt | "$CHORD" --batch -m "$B_MODEL" -n 8 --temp 0 --db rb.db --json > rb1.out 2> rb1.err || fail "b resume setup: $(cat rb1.err)"
tail -1 three.txt | "$CHORD" --batch -m "$B_MODEL" -n 8 --temp 0 --db rb.db -c --kv-store 0 --json > rb2.out 2> rb2.err || fail "b -c run: $(cat rb2.err)"
RB=$(jsum rb2.out) || fail "bad json from b -c"
[ "$(field "$RB" 3)" = 0 ] && [ "$(field "$RB" 2)" = $(( $(field "${BT[2]}" 2) + $(field "${BT[2]}" 3) )) ] ||
    fail "b -c turn $RB is not the whole conversation of ${BT[2]} (if the b model's replies no longer re-tokenize to their tokens, pick another model here)"
[ "$(reply "$RB")" = "$(reply "${BT[2]}")" ] || fail "turn 3 after resume $(reply "$RB") != continuous $(reply "${BT[2]}")"

# --- -p is one turn; --system is rendered; -v names the template ----------
"$CHORD" --batch -m "$A_MODEL" "${G[@]}" --json -p "Hello there" > p1.out < /dev/null || fail "-p run"
P1=$(jsum p1.out) || fail "bad -p json"
[ "$(echo "$P1" | wc -l)" = 1 ] || fail "-p gave more than one turn"
[ "$(reply "$P1")" = "$(reply "${T[0]}")" ] || fail "-p reply differs from the first stdin turn"
"$CHORD" --batch -m "$A_MODEL" "${G[@]}" --json -p "Hello there" --system "You are terse." -v > s.out 2> s.err || fail "--system run"
S=$(jsum s.out) || fail "bad --system json"
[ "$(field "$S" 2)" -gt "$(field "$P1" 2)" ] || fail "--system did not reach the prompt ($S vs $P1)"
grep -q "chat template: the model's own" s.err || fail "-v does not name the model's template: $(cat s.err)"
"$CHORD" --batch -m "$A_MODEL" "${G[@]}" --json -p "Hello there" --chat-template chatml -v > f.out 2> f.err || fail "--chat-template chatml"
grep -q "built-in family chatml" f.err || fail "-v does not name the chatml family: $(cat f.err)"
F=$(jsum f.out) || fail "bad chatml json"
[ "$(field "$F" 2)" != "$(field "$P1" 2)" ] || fail "--chat-template chatml rendered the same prompt length as zephyr"
printf '%s\n' '{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}{% endfor %}[assistant] ' > t.jinja
"$CHORD" --batch -m "$A_MODEL" "${G[@]}" --json -p "Hello there" --chat-template t.jinja > t.out 2> t.err || fail "--chat-template FILE: $(cat t.err)"
jsum t.out > /dev/null || fail "bad json with a template file"
"$CHORD" --batch -m "$A_MODEL" "${G[@]}" -p hi --chat-template nosuch.jinja > /dev/null 2> n.err && fail "a missing template file was accepted"
grep -q "nosuch.jinja" n.err || fail "missing template error does not name the file"

# --- ChatML model: turns, cache reuse, specials never printed -------------
"$CHORD" --batch -m "$C_MODEL" "${G[@]}" --json < three.txt > c.out 2> c.err || fail "qwen2 run: $(cat c.err)"
jsum c.out > c.sum || fail "bad qwen2 json"
[ "$(wc -l < c.sum)" = 3 ] && [ "$(field "$(sed -n 3p c.sum)" 3)" -gt 0 ] || fail "qwen2 turns: $(cat c.sum)"

# End-of-turn tokens: never a token event, never in the text (EOS of the
# SentencePiece vocab is 2; the specials of both templates as text).
for f in j.out c.out s.out f.out; do
    python3 - "$f" <<'PY' || fail "$f shows an end-of-turn token"
import json, sys
for l in open(sys.argv[1], encoding="utf-8"):
    j = json.loads(l)
    if j["event"] == "token":
        for s in ("</s>", "<|im_end|>", "<|endoftext|>", "<|im_start|>"):
            if s in j["text"]:
                sys.exit("special %s printed" % s)
PY
done
grep -q '"id":2,' j.out s.out && fail "EOS (id 2) printed as a token"

# --- the template's end-of-turn text stops a reply, even spelled out in
# pieces and starting mid-token; it is never shown nor recorded ----------
tpl() { printf '%s\n' "{% for m in messages %}[{{ m.role }}] {{ m.content }}{% if m.role == 'assistant' %}$1 {% endif %}{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}"; }
tpl "<never-said>" > t0.jinja
"$CHORD" --batch -m "$A_MODEL" -n 16 --temp 0 --no-history --json -p hi --chat-template t0.jinja > t0.out || fail "t0 run"
# a stop text from the middle of one token into the next one
python3 - t0.out > stop.txt <<'PY' || fail "no token pair fits a stop text: $(cat t0.out)"
import json, sys
t = [j["text"] for j in map(json.loads, open(sys.argv[1])) if j["event"] == "token"]
for i in range(2, len(t) - 1):
    a, b = t[i], t[i + 1].lstrip()
    if len(a) >= 3 and a[1:].isalnum() and len(b) >= 2 and b[:2].isalnum():
        stop = a[1:] + t[i + 1][:t[i + 1].index(b[0]) + 2]
        before = "".join(t[:i]) + a[0]
        if stop not in "".join(t[:i]) + a:
            print(stop); print(json.dumps(before)); print(i + 1); sys.exit(0)
sys.exit(1)
PY
stop=$(sed -n 1p stop.txt); want=$(sed -n 2p stop.txt); want_n=$(sed -n 3p stop.txt)
tpl "$stop" > ts.jinja
"$CHORD" --batch -m "$A_MODEL" -n 16 --temp 0 --db ts.db --json -p hi --chat-template ts.jinja > ts.out 2> ts.err || fail "stop text run: $(cat ts.err)"
TS=$(jsum ts.out) || fail "bad json with a stop text"
[ "$(field "$TS" 5)" = eog ] && [ "$(field "$TS" 4)" = "$want_n" ] || fail "stop text '$stop': $TS (want $want_n tokens, eog)"
[ "$(reply "$TS")" = "$want" ] || fail "stop text '$stop': reply $(reply "$TS"), want $want"
"$CHORD" history show 1 --json --db ts.db | python3 -c '
import json, sys
a = json.load(sys.stdin)["messages"][1]
assert a["status"] == "complete" and a["content"] == json.loads(sys.argv[1]) and a["n_gen"] == int(sys.argv[2]), a' "$want" "$want_n" ||
    fail "stop text: history does not hold the cut reply"
"$CHORD" --batch -m "$A_MODEL" -n 16 --temp 0 --no-history -p hi --chat-template ts.jinja > tsp.out || fail "stop text plain"
[ "$(cat tsp.out)" = "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]))' "$want")" ] || fail "plain reply with a stop text: $(cat tsp.out)"

# --- context full: old turns dropped with a note, the chat goes on -------
printf 'Hello there my friend\nWhat is two plus two?\nThanks a lot\nOne more time please\n' |
    "$CHORD" --batch -m "$A_MODEL" "${G[@]}" --ctx 64 --json > x.out 2> x.err || fail "tiny ctx exit $?: $(cat x.err)"
jsum x.out > x.sum || fail "bad tiny-ctx json"
[ "$(wc -l < x.sum)" = 4 ] || fail "tiny ctx: expected 4 replies: $(cat x.sum)"
grep -q "context full (64 tokens): the oldest" x.err || fail "no note about dropped turns: $(cat x.err)"
[ "$(grep -c . x.err)" -le 4 ] || fail "too many stderr lines: $(cat x.err)"
awk '{ if ($2 + $3 + $4 > 64) exit 1 }' x.sum || fail "a turn exceeded the context: $(cat x.sum)"

# a turn too long for the context alone: error for that turn, later turns
# still answered, exit 1
{ echo "Hello"; python3 -c 'print("word " * 200)'; echo "Thanks"; } |
    "$CHORD" --batch -m "$A_MODEL" "${G[@]}" --ctx 64 --json > y.out 2> y.err
rc=$?
[ $rc = 1 ] || fail "an unanswerable turn exited $rc, want 1"
jsum y.out > y.sum || fail "bad json with an error turn"
[ "$(sed -n 2p y.sum | cut -d' ' -f1-2)" = "error 2" ] || fail "turn 2 should be an error: $(cat y.sum)"
[ "$(sed -n 3p y.sum | cut -d' ' -f1)" = 3 ] || fail "turn 3 not answered after the error: $(cat y.sum)"
grep -q "context holds 64" y.err || fail "the error does not say why: $(cat y.err)"
{ echo "Hello"; python3 -c 'print("word " * 200)'; echo "Thanks"; } |
    "$CHORD" --batch -m "$A_MODEL" "${G[@]}" --ctx 64 > z.out 2> /dev/null
[ "$(wc -l < z.out)" = 3 ] || fail "plain mode must still write one line per turn (an empty one for the error)"

# --- interactive use: each reply is out (flushed) before the next line is
# written; stdin stays open meanwhile ---------------------------------------
mkfifo in.fifo out.fifo || fail "mkfifo"
"$CHORD" --batch -m "$A_MODEL" "${G[@]}" < in.fifo > out.fifo 2> io.err &
chat=$!
exec 4> in.fifo 5< out.fifo
mapfile -t want < p.out
for i in 0 1 2; do
    sed -n "$((i + 1))p" three.txt >&4
    IFS= read -r -t 60 line <&5 || fail "no reply to line $((i + 1)) while stdin is open: $(cat io.err)"
    [ "$line" = "${want[$i]}" ] || fail "interactive reply $((i + 1)): '$line', want '${want[$i]}'"
done
exec 4>&-
wait $chat || fail "interactive run exit $?: $(cat io.err)"
exec 5<&-

# --- usage ----------------------------------------------------------------
"$CHORD" --batch -m "$A_MODEL" --prompt-tokens "1 2" < /dev/null > /dev/null 2>&1
[ $? = 2 ] || fail "--prompt-tokens without --raw must be a usage error"
echo PASS
