#!/bin/bash
# chat_families_eot: on the Qwen3, Gemma 3, Gemma 2 and Phi-3 fixtures,
# `chord --batch` replies to a message the model itself answers with an
# end-of-generation token (random weights, greedy: each message below was
# searched for; the reply ends by itself well before -n): the turn ends
# there ("stop: eog", not the limit), the token that ended it is the one
# named below (the model's argmax after the reply, by `chord eval`), no end
# marker's text is printed, and the history keeps the reply complete and
# without it. Qwen3 and the Gemmas end on their template's end marker. The
# Phi-3 fixture's random weights never chose its <|end|> in 3261 searched
# messages (761 with -n 200, 2500 with -n 120; <|end|> ranks ~2000th of
# 4096 on average): all 147 replies that ended by themselves ended on
# "</s>", which the engine, like the reference, also takes as end of
# generation; tests/chat/test_families.c forces <|end|> through the
# session instead.
# The messages were checked to give the same tokens with 1 and 2 threads and
# at CHORD_SIMD=scalar, avx2 and avx512, the first and second choice never
# closer than 0.04 (logit) on the way; if a numerics change moves a reply
# off its end, search a new message.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/chat/chat_lib.sh"
need_shared models/f-qwen3-q8_0.gguf models/g-gemma3-q8_0.gguf models/h-gemma2-q8_0.gguf models/i-phi3-q8_0.gguf
cd "$TMP" || fail "cd"
LIMIT=200

# name;template's end marker;token the reply ends on;message;reply tokens
# (before that token)
for spec in "f-qwen3;<|im_end|>;<|im_end|>;what time is it;16" \
            "g-gemma3;<end_of_turn>;<end_of_turn>;I like apple;11" \
            "h-gemma2;<end_of_turn>;<end_of_turn>;my star;20" \
            "i-phi3;<|end|>;</s>;I like light;24"; do
    IFS=';' read -r name mark end msg want <<< "$spec"
    M="$SHARED/models/$name-q8_0.gguf"
    DB="$TMP/$name.db"
    # plain output, recorded: one line, the reply
    "$CHORD" --batch -v -m "$M" --temp 0 -n $LIMIT --db "$DB" <<< "$msg" > $name.out 2> $name.err ||
        fail "$name: exit $?: $(cat $name.err)"
    line=$(grep 'stop:' $name.err) || fail "$name: no turn line on stderr: $(cat $name.err)"
    case "$line" in
        *", $want generated in "*", stop: eog") ;;
        *) fail "$name '$msg': want the turn to end at its end token after $want tokens, got: $line" ;;
    esac
    [ "$(wc -l < $name.out)" = 1 ] || fail "$name: want one reply line: $(cat $name.out)"
    grep -qF -e "$mark" -e "$end" $name.out && fail "$name: the reply shows an end marker: $(cat $name.out)"

    # the same turn as events: the token ids, and the text to find in history
    "$CHORD" --batch -m "$M" --temp 0 -n $LIMIT --no-history --json <<< "$msg" > $name.json ||
        fail "$name: --json run"
    sum=$(jsum $name.json) || fail "$name: bad --json output"
    [ "$(field "$sum" 4)" = "$want" ] && [ "$(field "$sum" 5)" = eog ] ||
        fail "$name: --json turn differs: $sum"
    n_prompt=$(field "$sum" 2)

    # the recorded turn: the user line, then the reply, complete, the text
    # streamed, no marker, its token count
    "$CHORD" history show 1 --json --db "$DB" > $name.hist || fail "$name: history show"
    python3 - $name.hist "$msg" "$(reply "$sum")" "$mark" "$end" "$want" <<'PY' || fail "$name: history does not hold the complete reply: $(cat $name.hist)"
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

    # which token ended it: the prompt (the template's rendering tokenized
    # with specials; `chord tokenize` adds a BOS on top of a template's
    # own) and the reply through `chord eval`; the last row's argmax is the
    # token the engine stopped on
    python3 -c 'import json,sys; json.dump([{"role":"user","content":sys.argv[1]}], sys.stdout)' "$msg" > m.json
    "$CHORD" chat-template -m "$M" --messages m.json > p.txt || fail "$name: chat-template"
    prompt=$("$CHORD" tokenize -m "$M" --special -f p.txt) || fail "$name: tokenize"
    set -- $prompt
    [ $# = $((n_prompt + 1)) ] && shift
    [ $# = "$n_prompt" ] || fail "$name: the rendering gives $# tokens, the turn $n_prompt"
    ids=$(python3 -c 'import json,sys; print(" ".join(str(j["id"]) for j in map(json.loads, open(sys.argv[1])) if j["event"] == "token"))' $name.json)
    "$CHORD" eval -m "$M" --tokens "$* $ids" --dump-logits lg.f32 > /dev/null || fail "$name: eval"
    end_id=$("$CHORD" tokenize -m "$M" --special --no-bos "$end") || fail "$name: tokenize $end"
    [ "$(echo $end_id | wc -w)" = 1 ] || fail "$name: $end is not one token: $end_id"
    top=$(python3 - lg.f32 $(($# + want)) <<'PY'
import array, sys
a = array.array("f")
a.frombytes(open(sys.argv[1], "rb").read())
n = int(sys.argv[2])
assert len(a) % n == 0, (len(a), n)
v = len(a) // n
last = a[len(a) - v:]
print(max(range(v), key=last.__getitem__))
PY
) || fail "$name: logits"
    [ "$top" = "$end_id" ] || fail "$name: the reply ended on token $top, not $end ($end_id)"
    echo "$name: '$msg' -> $want tokens, then $end ($end_id)"
done
echo "PASS"
