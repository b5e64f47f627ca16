#!/bin/bash
# chat_families: `chord --batch` chat on the Qwen3, Gemma 3, Gemma 2 and
# Phi-3 fixtures with their own templates: every turn ends cleanly (at -n,
# or at an end-of-generation token, which is never shown), history records
# the turns, with the reply's text and not the template's end marker, a user
# line that spells the markers is recorded and answered like any other, and
# Gemma's template refusing a system prompt is one clear error line (exit 1).
# Random weights: the replies are gibberish; which turn ends where is the
# engine's business, the bookkeeping around it is checked here.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/chat/chat_lib.sh"
need_shared models/f-qwen3-q8_0.gguf models/g-gemma3-q8_0.gguf models/h-gemma2-q8_0.gguf models/i-phi3-q8_0.gguf
cd "$TMP" || fail "cd"
printf 'Hello there\nsay <|im_end|> and <end_of_turn> and <|end|> please\nThanks\n' > three.txt

for spec in "f-qwen3:<|im_end|>" "g-gemma3:<end_of_turn>" "h-gemma2:<end_of_turn>" "i-phi3:<|end|>"; do
    name=${spec%%:*}
    stop=${spec#*:}
    M="$SHARED/models/$name-q8_0.gguf"
    DB="$TMP/$name.db"
    "$CHORD" --batch -m "$M" -n 12 --temp 0 --db "$DB" --json < three.txt > $name.out 2> $name.err ||
        fail "$name: exit $?: $(cat $name.err)"
    [ ! -s $name.err ] || fail "$name: stderr without -v: $(cat $name.err)"
    jsum $name.out > $name.sum || fail "$name: bad --json output"
    [ "$(wc -l < $name.sum)" = 3 ] || fail "$name: expected 3 turns: $(cat $name.sum)"
    # the recorded conversation: three user lines, three complete replies,
    # each the text the events streamed, none with the end marker
    "$CHORD" history show 1 --json --db "$DB" > $name.json || fail "$name: history show"
    python3 - three.txt $name.sum $name.json "$stop" <<'PY' || fail "$name: history does not match the turns"
import json, sys
users = open(sys.argv[1], encoding="utf-8").read().splitlines()
turns = [l.split(" ", 6) for l in open(sys.argv[2], encoding="utf-8")]
conv = json.load(open(sys.argv[3], encoding="utf-8"))
stop = sys.argv[4]
msgs = conv["messages"]
assert [m["role"] for m in msgs] == ["user", "assistant"] * 3, [m["role"] for m in msgs]
for i, t in enumerate(turns):
    u, a = msgs[2 * i], msgs[2 * i + 1]
    assert u["content"] == users[i], (u["content"], users[i])
    assert a["status"] == "complete", a
    assert a["content"] == json.loads(t[6]), (a["content"], t[6])
    assert stop not in a["content"], a["content"]
    n_gen, why = int(t[3]), t[4]
    assert why in ("limit", "eog") and (n_gen == 12) == (why == "limit"), t
PY
    # the marker-spelling line stays text: its prompt is not the rendering
    # tokenized with specials parsed (that count, or one less: `chord
    # tokenize` adds BOS on top of a template's own). Not "longer": with
    # Phi-3's space prefix, each run after a control token starts with a
    # "\u2581" that costs three byte tokens here, so text can come out
    # shorter. tests/chat/test_families.c checks the ids themselves.
    sed -n 2p three.txt > marks.txt
    "$CHORD" --batch -m "$M" -n 1 --temp 0 --no-history --json < marks.txt > m.out || fail "$name: markers run"
    p1=$(jsum m.out | cut -d' ' -f2)
    python3 -c 'import json,sys; json.dump([{"role":"user","content":open(sys.argv[1]).read().rstrip("\n")}], sys.stdout)' marks.txt > m.json
    "$CHORD" chat-template -m "$M" --messages m.json > m.txt || fail "$name: chat-template"
    p2=$("$CHORD" tokenize -m "$M" --special -f m.txt | wc -w)
    [ -n "$p1" ] && [ "$p2" -gt 0 ] || fail "$name: prompt sizes"
    [ "$p1" != "$p2" ] && [ "$p1" != $((p2 - 1)) ] || fail "$name: the user's markers became single tokens ($p1 prompt tokens, $p2 with specials parsed)"
done

# Gemma's template rejects a system message: one clear line, exit 1, no crash
for name in g-gemma3 h-gemma2; do
    M="$SHARED/models/$name-q8_0.gguf"
    echo hi | "$CHORD" --batch -m "$M" -n 4 --temp 0 --no-history --system "Be brief." > sys.out 2> sys.err
    rc=$?
    [ $rc = 1 ] || fail "$name --system: exit $rc, want 1: $(cat sys.err)"
    [ "$(wc -l < sys.err)" = 1 ] && grep -q "System role not supported" sys.err ||
        fail "$name --system: want one line naming the template's error: $(cat sys.err)"
    # the turn's line on stdout stays, empty (one line per turn)
    [ "$(od -An -c sys.out | tr -d ' ')" = '\n' ] || fail "$name --system: wrote a reply: $(cat sys.out)"
done
echo "PASS"
