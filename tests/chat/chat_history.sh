#!/bin/bash
# chat_history: `chord --batch` chat records its turns (roles, status,
# counts, title, model, system prompt, sampling), -c and --resume continue
# a stored conversation, two processes share one database, and a database
# that cannot be used costs one warning while the chat still answers.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/chat/chat_lib.sh"
need_shared models/a-spm-q8_0.gguf
cd "$TMP" || fail "cd"
export XDG_DATA_HOME="$TMP/xdg" HOME="$TMP/home"
G=(-n 8 --temp 0)
DB="$TMP/h.db"

# check_conv ID WANT_N_MSGS SUMFILE [SYSTEM]: the stored conversation has
# the turns of SUMFILE (jsum lines) as its last messages, in order.
check_conv() {
    "$CHORD" history show "$1" --json --db "$DB" > show.json || fail "history show $1"
    python3 - show.json "$2" "$3" "${4-}" <<'PY' || fail "conversation $1 as stored: $(cat show.json)"
import json, sys
c = json.load(open(sys.argv[1], encoding="utf-8"))
msgs = c["messages"]
assert len(msgs) == int(sys.argv[2]), "%d messages" % len(msgs)
assert c["model"] == "a-spm-q8_0.gguf" and c["arch"] == "llama", c
assert c["params"]["temp"] == 0, c["params"]
if sys.argv[4]:
    assert c["system_prompt"] == sys.argv[4], c["system_prompt"]
turns = [l.rstrip("\n").split(" ", 6) for l in open(sys.argv[3], encoding="utf-8")]
tail = msgs[len(msgs) - 2 * len(turns):]
for k, t in enumerate(turns):
    u, a = tail[2 * k], tail[2 * k + 1]
    assert u["role"] == "user" and u["status"] == "complete", u
    assert a["role"] == "assistant" and a["status"] == "complete", a
    assert a["n_prompt"] == int(t[1]) and a["n_gen"] == int(t[3]), (a, t)
    assert a["content"] == json.loads(t[6]), (a["content"], t[6])
    assert a["gen_ms"] > 0 and a["prompt_ms"] > 0, a
for i, m in enumerate(msgs):
    assert m["seq"] == i + 1, m
PY
}

# --- a new conversation ---------------------------------------------------
printf 'Hello there\nWhat is two plus two?\n' |
    "$CHORD" --batch -m "$A_MODEL" "${G[@]}" --system "Be brief." --db "$DB" --json > a.out 2> a.err || fail "exit $?: $(cat a.err)"
[ ! -s a.err ] || fail "stderr without -v: $(cat a.err)"
jsum a.out > a.sum || fail "bad json"
check_conv 1 4 a.sum "Be brief."
"$CHORD" history show 1 --json --db "$DB" | python3 -c '
import json, sys
c = json.load(sys.stdin)
assert c["title"] == "Hello there", c["title"]
assert [m["content"] for m in c["messages"] if m["role"] == "user"] == ["Hello there", "What is two plus two?"]
' || fail "title or user messages"

# --- -c continues the most recent conversation ----------------------------
echo "Thanks" | "$CHORD" --batch -m "$A_MODEL" "${G[@]}" --db "$DB" -c --kv-store 0 --json > c.out 2> c.err || fail "-c: $(cat c.err)"
jsum c.out > c.sum || fail "bad -c json"
# the prompt holds the earlier turns (prefilled: no saved KV cache with
# --kv-store 0): far more than "Thanks" alone
echo "Thanks" | "$CHORD" --batch -m "$A_MODEL" "${G[@]}" --system "Be brief." --no-history --json > alone.out || fail "alone"
alone=$(field "$(jsum alone.out)" 2)
[ "$(field "$(cat c.sum)" 2)" -gt $((alone + 20)) ] || fail "-c prefilled $(field "$(cat c.sum)" 2) tokens, \"Thanks\" alone is $alone"
check_conv 1 6 c.sum "Be brief."
[ "$("$CHORD" history list --db "$DB" | grep -c 'a-spm')" = 1 ] || fail "-c created a new conversation"

# the stored system prompt is used on resume: the prompt is the stored
# conversation's text (system prompt, both turns, "Thanks") from scratch.
# (A continuous run's third turn would see the sampled tokens of the
# earlier replies instead, which their text need not give back: see
# chat_batch.sh for where resumed and continuous replies must agree.)
"$CHORD" history show 1 --json --db "$DB" | python3 -c '
import json, sys
c = json.load(sys.stdin)
m = [{"role": "system", "content": c["system_prompt"]}]
m += [{"role": x["role"], "content": x["content"]} for x in c["messages"][:4]] + [{"role": "user", "content": "Thanks"}]
json.dump(m, sys.stdout)' > conv.json || fail "conversation json"
"$CHORD" chat-template -m "$A_MODEL" --messages conv.json > conv.txt || fail "chat-template of the conversation"
ntext=$("$CHORD" tokenize -m "$A_MODEL" --special -f conv.txt | wc -w)
[ "$(field "$(cat c.sum)" 3)" = 0 ] && [ "$(field "$(cat c.sum)" 2)" = "$ntext" ] ||
    fail "-c prompt $(cat c.sum) is not the whole conversation's $ntext tokens"

# --- --resume ID appends to that conversation, not the newest -------------
echo "Another topic" | "$CHORD" --batch -m "$A_MODEL" "${G[@]}" --db "$DB" > /dev/null 2>&1 || fail "second conversation"
echo "Back to the first" | "$CHORD" --batch -m "$A_MODEL" "${G[@]}" --db "$DB" --resume 1 --json > r.out 2> r.err || fail "--resume 1: $(cat r.err)"
jsum r.out > r.sum || fail "bad --resume json"
check_conv 1 8 r.sum
"$CHORD" history show 2 --json --db "$DB" | python3 -c 'import json,sys; assert len(json.load(sys.stdin)["messages"]) == 2' || fail "conversation 2 changed"
echo hi | "$CHORD" --batch -m "$A_MODEL" "${G[@]}" --db "$DB" --resume 99 > /dev/null 2> r99.err && fail "--resume 99 succeeded"
grep -q "99" r99.err || fail "--resume 99 error does not name it: $(cat r99.err)"
echo hi | "$CHORD" --batch -m "$A_MODEL" "${G[@]}" --db "$TMP/empty.db" -c > /dev/null 2> c0.err && fail "-c on an empty history succeeded"
grep -q "no conversation to continue" c0.err || fail "-c on empty: $(cat c0.err)"

# --- a stored user line that got no reply is left out on resume (this
# template, like several real ones, refuses two user turns in a row) -----
cat > alt.jinja <<'JINJA'
{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('roles must alternate') }}{% endif %}{{ m['role'] }}: {{ m['content'] }}
{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}
JINJA
A=(--batch -m "$A_MODEL" "${G[@]}" --chat-template alt.jinja --json)
printf 'first\nsecond\n' | "$CHORD" "${A[@]}" --db d.db > /dev/null 2>&1 || fail "dangling setup"
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("DELETE FROM messages WHERE seq = 4"); c.commit()' d.db ||
    fail "cannot remove the last reply"
echo next | "$CHORD" "${A[@]}" --db d.db -c > d.out 2> d.err || fail "resume with a dangling user line: $(cat d.err)"
echo first | "$CHORD" "${A[@]}" --db e.db > /dev/null 2>&1 || fail "reference setup"
echo next | "$CHORD" "${A[@]}" --db e.db -c > e.out 2> e.err || fail "reference -c: $(cat e.err)"
D=$(jsum d.out); E=$(jsum e.out)
# the same conversation (prefilled plus kept from each one's saved KV cache)
[ $(( $(field "$D" 2) + $(field "$D" 3) )) = $(( $(field "$E" 2) + $(field "$E" 3) )) ] &&
    [ "$(reply "$D")" = "$(reply "$E")" ] ||
    fail "resume did not skip the unanswered line: $D vs $E"

# --- --no-history writes nothing; the default path is under XDG ---------
echo hi | "$CHORD" --batch -m "$A_MODEL" "${G[@]}" --no-history > /dev/null || fail "--no-history"
[ ! -e "$XDG_DATA_HOME/chord/history.db" ] || fail "--no-history created the default database"
echo hi | "$CHORD" --batch -m "$A_MODEL" "${G[@]}" > /dev/null || fail "default db"
[ -s "$XDG_DATA_HOME/chord/history.db" ] || fail "the default database was not written"

# --- two processes at once on one database --------------------------------
printf 'first writer one\nfirst writer two\nfirst writer three\n' > w1.txt
printf 'second writer one\nsecond writer two\nsecond writer three\n' > w2.txt
"$CHORD" --batch -m "$A_MODEL" -n 16 --temp 0 --db two.db --json < w1.txt > w1.out 2> w1.err &
p1=$!
"$CHORD" --batch -m "$A_MODEL" -n 16 --temp 0 --db two.db --json < w2.txt > w2.out 2> w2.err &
p2=$!
wait $p1 || fail "writer 1 exit: $(cat w1.err)"
wait $p2 || fail "writer 2 exit: $(cat w2.err)"
[ ! -s w1.err ] && [ ! -s w2.err ] || fail "writers warned: $(cat w1.err w2.err)"
DB="$TMP/two.db"
"$CHORD" history list --db "$DB" > two.list || fail "list two.db"
[ "$(grep -c 'a-spm' two.list)" = 2 ] || fail "two writers: $(cat two.list)"
for id in 1 2; do
    t=$("$CHORD" history show $id --json --db "$DB" | python3 -c 'import json,sys; print(json.load(sys.stdin)["title"])')
    case "$t" in "first writer one") jsum w1.out > w.sum ;; "second writer one") jsum w2.out > w.sum ;; *) fail "title $t" ;; esac
    check_conv $id 6 w.sum
done

# --- a database that cannot be used: one warning, the chat answers --------
ref=$(echo hi | "$CHORD" --batch -m "$A_MODEL" "${G[@]}" --no-history)
check_bad() { # NAME DBPATH
    echo hi | "$CHORD" --batch -m "$A_MODEL" "${G[@]}" --db "$2" > bad.out 2> bad.err
    rc=$?
    [ $rc = 0 ] || fail "$1: exit $rc: $(cat bad.err)"
    [ "$(cat bad.out)" = "$ref" ] || fail "$1: the chat did not answer as usual: $(cat bad.out)"
    [ "$(wc -l < bad.err)" = 1 ] || fail "$1: want one warning line: $(cat bad.err)"
    grep -q "$2" bad.err || fail "$1: the warning does not name the file: $(cat bad.err)"
}
head -c 8192 /dev/urandom > corrupt.db
check_bad corrupt "$TMP/corrupt.db"
echo "not a directory" > notdir
check_bad unopenable "$TMP/notdir/h.db"
# a lock held beyond the busy timeout (5 s) by another connection
"$CHORD" history list --db "$TMP/locked.db" > /dev/null 2>&1
echo hi | "$CHORD" --batch -m "$A_MODEL" "${G[@]}" --db "$TMP/locked.db" > /dev/null 2>&1 || fail "locked.db setup"
python3 - "$TMP/locked.db" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[1] + ".held", "w").close()
time.sleep(9)
c.execute("ROLLBACK")
PY
locker=$!
for _ in $(seq 100); do [ -e "$TMP/locked.db.held" ] && break; sleep 0.1; done
[ -e "$TMP/locked.db.held" ] || fail "the locker did not start"
check_bad locked "$TMP/locked.db"
wait $locker

# a write that fails mid-chat (the lock taken between two turns): one
# warning, the turn still answered, the rest of the chat unrecorded
mkfifo in.fifo || fail "mkfifo"
exec 4<> in.fifo
"$CHORD" --batch -m "$A_MODEL" "${G[@]}" --db "$TMP/mid.db" --json < in.fifo > mid.out 2> mid.err 4>&- &
chat=$!
wait_done() { # N: until N done events are out
    for _ in $(seq 300); do [ "$(grep -c '"event":"done"' mid.out)" -ge "$1" ] && return; sleep 0.1; done
    fail "turn $1 not answered: $(cat mid.out mid.err)"
}
echo "first turn" >&4
wait_done 1
rm -f "$TMP/mid.db.held"
python3 - "$TMP/mid.db" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[1] + ".held", "w").close()
time.sleep(8)
c.execute("ROLLBACK")
PY
locker=$!
for _ in $(seq 100); do [ -e "$TMP/mid.db.held" ] && break; sleep 0.1; done
[ -e "$TMP/mid.db.held" ] || fail "the mid-chat locker did not start"
echo "second turn" >&4
wait_done 2
wait $locker
echo "third turn" >&4
wait_done 3
exec 4>&-
wait $chat || fail "mid-chat failure: exit $?: $(cat mid.err)"
[ "$(wc -l < mid.err)" = 1 ] && grep -q "mid.db" mid.err || fail "mid-chat failure: want one warning naming the file: $(cat mid.err)"
jsum mid.out > mid.sum || fail "bad mid-chat json"
[ "$(wc -l < mid.sum)" = 3 ] || fail "mid-chat: $(cat mid.sum)"
"$CHORD" history show 1 --json --db "$TMP/mid.db" | python3 -c '
import json, sys
m = json.load(sys.stdin)["messages"]
assert [(x["role"], x["status"]) for x in m] == [("user", "complete"), ("assistant", "complete")], m
assert m[0]["content"] == "first turn"' || fail "mid-chat: the first turn is not kept alone"
echo PASS
