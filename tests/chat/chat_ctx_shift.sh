#!/bin/bash
# chat_ctx_shift: a --batch chat longer than its context (--ctx 256, 40
# turns). With the context shift (the default) the turns that leave the
# window are dropped from the KV cache itself: once the cache holds only
# re-tokenized text, each turn prefills only its new tokens, so the run
# prefills at most twice what its turns add; the done events count the
# tokens kept, dropped and prefilled. --no-ctx-shift keeps the old way:
# every turn past the fill prefills the whole window again.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/chat/chat_lib.sh"
need_shared models/a-spm-q8_0.gguf
cd "$TMP" || fail "cd"
G=(-n 8 --temp 0 --no-history --ctx 256 --json)
for i in $(seq 40); do echo "turn $i: please continue the story"; done > turns.txt

"$CHORD" --batch -m "$A_MODEL" "${G[@]}" < turns.txt > shift.out 2> shift.err || fail "shift run: $(cat shift.err)"
"$CHORD" --batch -m "$A_MODEL" "${G[@]}" --ctx-shift < turns.txt > shift2.out 2>/dev/null || fail "--ctx-shift run"
"$CHORD" --batch -m "$A_MODEL" "${G[@]}" --no-ctx-shift < turns.txt > noshift.out 2> noshift.err || fail "no-shift run: $(cat noshift.err)"
jsum shift.out > /dev/null || fail "bad --json output"
jsum noshift.out > /dev/null || fail "bad --json output (--no-ctx-shift)"
cmp -s <(grep -v '"done"' shift.out) <(grep -v '"done"' shift2.out) &&
    [ "$(grep -c '"shifted":true' shift.out)" = "$(grep -c '"shifted":true' shift2.out)" ] || fail "--ctx-shift is not the default"

python3 - shift.out noshift.out <<'PY' || fail "token counts"
import json, sys
def done(f):
    return [j for j in map(json.loads, open(f)) if j["event"] == "done"]
a, b = done(sys.argv[1]), done(sys.argv[2])
assert len(a) == len(b) == 40, (len(a), len(b))
for e in a + b:
    for k in ("kept", "dropped", "prefilled", "shifted"):
        assert k in e, "done event without %s: %r" % (k, e)
    assert e["kept"] == e["n_cached"] and e["prefilled"] == e["n_prompt"], e
# what a turn adds to the conversation: its prefill (the new user turn
# and the last reply's final token) plus its reply, before the window fills
first = next(i for i, e in enumerate(a) if e["dropped"] > 0)
assert first > 2, "the window filled at turn %d" % (first + 1)
add = max(e["prefilled"] + e["n_gen"] for e in a[1:first])
added = sum(e["prefilled"] + e["n_gen"] for e in a[:first]) + add * (40 - first)
pa, pb = sum(e["prefilled"] for e in a), sum(e["prefilled"] for e in b)
shifted = sum(e["shifted"] for e in a)
print("turns add ~%d tokens; prefilled %d with the shift (%d turns shifted), %d without"
      % (added, pa, shifted, pb))
assert pa <= 2 * added, "prefilled %d > twice the %d tokens the turns add" % (pa, added)
assert shifted >= 40 - first - 3, "only %d turns shifted after the fill at turn %d" % (shifted, first + 1)
# after the first shift (which may prefill everything once: replies kept
# as sampled tokens re-tokenize differently), a turn prefills its own part
later = [e for e in a[first + 2:] if e["shifted"]]
assert later and max(e["prefilled"] for e in later) <= 2 * add, [e["prefilled"] for e in later]
for e in a:
    if e["shifted"]:
        assert e["dropped"] > 0 and e["kept"] + e["prefilled"] + 8 <= 256, e
# --no-ctx-shift: today's behaviour: nothing shifted, every turn past the
# fill (but for the odd one whose window did not move) prefills the
# window again
assert not any(e["shifted"] for e in b)
fb = next(i for i, e in enumerate(b) if e["dropped"] > 0)
assert fb == first, (fb, first)
big = sum(e["prefilled"] > 100 for e in b[fb + 1:])
assert big >= 0.8 * len(b[fb + 1:]), [e["prefilled"] for e in b[fb:]]
assert pb > 3 * pa, (pa, pb)
PY
# until the window fills both runs are the same run
n_first=$(python3 -c 'import json,sys; d=[j for j in map(json.loads, open(sys.argv[1])) if j["event"]=="done"]; print(next(i for i,e in enumerate(d) if e["dropped"]>0))' shift.out)
cmp -s <(awk -v n="$n_first" '/"done"/{t++} t<n' shift.out | grep -v '"done"') \
       <(awk -v n="$n_first" '/"done"/{t++} t<n' noshift.out | grep -v '"done"') || fail "replies before the fill differ"
echo PASS
