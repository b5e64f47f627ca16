#!/bin/bash
# A split model (llama.cpp's gguf-split parts, from chord split) in the hub
# cache, in llama.cpp's cache and in a model-dirs folder: listed once each,
# under its first part, with every part's bytes and the whole model's
# parameters; a missing part is listed as the error; -m by name loads it;
# models rm removes every part's link and blob.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/models/models_lib.sh"
cd "$TMP" || fail "cd"
mkdir -p src parts "$LLAMA_CACHE" dirs
synth src/a.gguf qwen2 256 Q4_K_M
"$CHORD" split --max-tensors 12 src/a.gguf parts/x-Q4_K_M > /dev/null || fail "chord split"
n=$(ls parts | wc -l)
[ "$n" -ge 2 ] || fail "chord split made $n parts"
total=$(cat parts/* | wc -c)
R="$HF_HUB_CACHE/models--o--s"
for p in parts/*; do hub_add "$R" abc "$(basename "$p")" "$p"; done
echo abc > "$R/refs/main"
cp parts/* "$LLAMA_CACHE/"
for p in parts/*; do cp "$p" "dirs/$(basename "$p" | sed 's/^x/y/')"; done
rm "dirs/y-Q4_K_M-00002-of-0000$n.gguf"
echo "model-dirs = $TMP/dirs" > "$CHORD_CONFIG"

"$CHORD" models --json > list.json || fail "models --json"
python3 - list.json "$n" "$total" "$(params src/a.gguf)" <<'PY' || fail "split listing: $(cat list.json)"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
n, total, params = map(int, sys.argv[2:5])
assert [r["name"] for r in rows] == ["o/s:Q4_K_M", "x-Q4_K_M", "y-Q4_K_M"], [r["name"] for r in rows]
for r in rows[:2]:
    assert r["parts"] == n and r["bytes"] == total and r["params"] == params, r
    assert r["arch"] == "qwen2" and r["type"] == "Q4_K" and r["error"] is None, r
    assert r["path"].endswith("-00001-of-0000%d.gguf" % n), r
y = rows[2]
assert y["error"] and "y-Q4_K_M-00002-of-0000%d.gguf" % n in y["error"], y
PY
want=$("$CHORD" --batch --no-history --temp 0 -n 5 -p hi -m src/a.gguf) || fail "the unsplit model"
got=$("$CHORD" --batch --no-history --temp 0 -n 5 -p hi -m o/s) || fail "-m o/s"
[ "$got" = "$want" ] || fail "-m o/s gives '$got', the unsplit model '$want'"
"$CHORD" models rm o/s:Q4_K_M > out || fail "rm o/s:Q4_K_M"
grep -q "^removed o/s:Q4_K_M: $n files, " out || fail "rm said: $(cat out)"
[ -e "$R" ] && fail "the repo of the split model is left: $(find "$R")"
echo PASS
