#!/bin/bash
# chord models rm: a hub-cache model goes (its snapshot link, and its blob
# unless another snapshot still links to it; a repo left with nothing is
# removed whole); ollama's, llama.cpp's and model-dirs' models are refused
# with a line saying whose they are, and stay; only a whole name removes.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/models/models_lib.sh"
cd "$TMP" || fail "cd"
make_stores
R="$HF_HUB_CACHE/models--o--n"
# refs/main moves to a new commit holding Q4_K_M (the same blob as the old
# commit's) and Q8_0; a second repo holds one model
hub_add "$R" beef n-Q4_K_M.gguf src/a.gguf
hub_add "$R" beef n-Q8_0.gguf src/b.gguf
echo beef > "$R/refs/main"
echo "readme" > "$R/snapshots/beef/README.md"
R2="$HF_HUB_CACHE/models--p--q"
hub_add "$R2" 1234 sub/q-F16.gguf src/c.gguf
echo 1234 > "$R2/refs/main"
blob_a="$R/blobs/$(sha256sum src/a.gguf | cut -d' ' -f1)"
blob_b="$R/blobs/$(sha256sum src/b.gguf | cut -d' ' -f1)"

names() { "$CHORD" models --json | python3 -c 'import json,sys; print(" ".join(json.loads(l)["name"] for l in sys.stdin))'; }
[ "$(names)" = "o/n:Q4_K_M o/n:Q8_0 p/q:F16 o_m_m-Q8_0 ollama:tiny:latest mine" ] || fail "before: $(names)"

# refused: not the hub cache's
refuse() { # refuse NAME PATTERN
    "$CHORD" models rm "$1" > out 2> err
    [ $? = 1 ] || fail "rm $1: not refused: $(cat out err)"
    grep -qE -- "$2" err || fail "rm $1: $(cat err)"
}
refuse ollama:tiny:latest "^chord: models rm: ollama:tiny:latest belongs to ollama; remove it with: ollama rm tiny:latest$"
refuse o_m_m-Q8_0 "^chord: models rm: o_m_m-Q8_0 belongs to llama.cpp's cache"
refuse mine "^chord: models rm: mine is in a model-dirs folder"
refuse Q8_0 "^chord: models rm: no model named 'Q8_0'; did you mean:$"
grep -qx '  o/n:Q8_0' err && grep -qx '  o_m_m-Q8_0' err || fail "rm Q8_0: the close names are not listed: $(cat err)"
refuse nothing "^chord: models rm: no model named 'nothing' \(chord models lists them\)$"
[ "$(names)" = "o/n:Q4_K_M o/n:Q8_0 p/q:F16 o_m_m-Q8_0 ollama:tiny:latest mine" ] || fail "a refusal removed something: $(names)"
"$CHORD" models rm 2>/dev/null; [ $? = 2 ] || fail "rm without a name is not a usage error"

# Q4_K_M: the link goes, the blob stays (snapshot c0ffee still links to it)
"$CHORD" models rm o/n:q4_k_m > out 2> err || fail "rm o/n:Q4_K_M: $(cat err)"
grep -q "^removed o/n:Q4_K_M: 1 file, 0.0 MiB freed$" out || fail "rm o/n:Q4_K_M said: $(cat out)"
[ -e "$R/snapshots/beef/n-Q4_K_M.gguf" ] && fail "the link is still there"
[ -f "$blob_a" ] || fail "a blob another snapshot uses was removed"
[ -L "$R/snapshots/c0ffee/n-Q4_K_M.gguf" ] || fail "the other snapshot's link was touched"
# Q8_0: link and blob go; the repo stays (README, the old snapshot)
"$CHORD" models rm o/n:Q8_0 > out || fail "rm o/n:Q8_0"
want_mib=$(python3 -c "print('%.1f MiB' % ($(stat -c %s src/b.gguf) / 1048576))")
grep -q "^removed o/n:Q8_0: 1 file, $want_mib freed$" out || fail "rm o/n:Q8_0 said: $(cat out)"
[ -e "$blob_b" ] && fail "an unused blob was kept"
[ -f "$R/snapshots/beef/README.md" ] && [ -f "$R/refs/main" ] || fail "the repo's other files went"
# p/q: its only model; the repo is gone whole
"$CHORD" models rm p/q:F16 > out || fail "rm p/q:F16"
[ -e "$R2" ] && fail "an empty repo was left: $(find "$R2")"
[ "$(names)" = "o_m_m-Q8_0 ollama:tiny:latest mine" ] || fail "after: $(names)"
# the others are all still there and load
"$CHORD" --batch -m ollama:tiny -n 2 -p hi --no-history > /dev/null || fail "ollama model broken by rm"
[ -f "$LLAMA_CACHE/o_m_m-Q8_0.gguf" ] && [ -f "$TMP/dirs/sub/mine.gguf" ] || fail "a refused model was removed"
echo PASS
