#!/bin/bash
# chord models over fake stores: the hub cache, llama.cpp's cache, ollama's
# store and a model-dirs folder, each model found once with its name,
# architecture, parameters (checked against our own count of the tensor
# table), main type, size and path; a corrupt file and an ollama manifest
# whose blob is gone are listed with their errors, never dropped, never a
# crash; the same file reached twice is listed once.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/models/models_lib.sh"
cd "$TMP" || fail "cd"
make_stores
# trouble: a corrupt file, a manifest without its blob, a duplicate path
printf 'not a gguf at all' > "$TMP/dirs/broken.gguf"
mkdir -p "$OLLAMA_MODELS/manifests/registry.ollama.ai/library/gone"
sed "s/sha256:[0-9a-f]\{64\}\",\"size\":[0-9]*}]}/sha256:$(printf %064d 7)\",\"size\":1}]}/" \
    "$OLLAMA_MODELS/manifests/registry.ollama.ai/library/tiny/latest" \
    > "$OLLAMA_MODELS/manifests/registry.ollama.ai/library/gone/7b"
echo "model-dirs = $TMP/dirs:$LLAMA_CACHE" > "$CHORD_CONFIG"
# ollama beyond its library: a user's namespace, another registry
ollama_add registry.ollama.ai/someone/thing/v1 src/b.gguf
ollama_add hf.co/bartowski/Some-GGUF/Q4_K_M src/a.gguf
# the hub layout newer llama.cpp keeps in its own cache
hub_add "$LLAMA_CACHE/models--l--c" 42 c-Q8_0.gguf src/b.gguf
echo 42 > "$LLAMA_CACHE/models--l--c/refs/main"

"$CHORD" models --json > list.json 2> err || fail "models --json exited $?: $(cat err)"
[ -s err ] && fail "models --json wrote to stderr: $(cat err)"
python3 - list.json "$TMP" "$(params src/a.gguf)" "$(params src/b.gguf)" "$(params src/c.gguf)" \
    "$(params src/d.gguf)" <<'PY' || fail "models --json: $(cat list.json)"
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
tmp = sys.argv[2]
pa, pb, pc, pd = map(int, sys.argv[3:7])
by = {r["name"]: r for r in rows}
def check(name, source, arch, typ, params, src):
    r = by.get(name)
    assert r, ("missing", name, list(by))
    want = dict(source=source, arch=arch, type=typ, params=params,
                bytes=os.path.getsize(os.path.join(tmp, "src", src)), parts=1, error=None)
    got = {k: r[k] for k in want}
    assert got == want, (name, got, want)
    assert open(r["path"], "rb").read() == open(os.path.join(tmp, "src", src), "rb").read(), name
    return r
h = check("o/n:Q4_K_M", "hf", "qwen2", "Q4_K", pa, "a.gguf")
assert h["path"] == tmp + "/hf/hub/models--o--n/snapshots/c0ffee/n-Q4_K_M.gguf", h["path"]
l = check("o_m_m-Q8_0", "llama.cpp", "llama", "Q8_0", pb, "b.gguf")
o = check("ollama:tiny:latest", "ollama", "qwen2", "F16", pc, "c.gguf")
assert "/blobs/sha256-" in o["path"], o
d = check("mine", "dir", "llama", "Q4_0", pd, "d.gguf")
check("ollama:someone/thing:v1", "ollama", "llama", "Q8_0", pb, "b.gguf")
check("ollama:hf.co/bartowski/Some-GGUF:Q4_K_M", "ollama", "qwen2", "Q4_K", pa, "a.gguf")
lc = check("l/c:Q8_0", "llama.cpp", "llama", "Q8_0", pb, "b.gguf")
assert lc["path"] == tmp + "/llama/models--l--c/snapshots/42/c-Q8_0.gguf", lc
# the corrupt file: listed, with the reader's error
b = by["broken"]
assert b["source"] == "dir" and b["arch"] is None and b["params"] is None and "GGUF" in b["error"], b
assert b["bytes"] == len("not a gguf at all"), b
# the manifest whose blob is gone
g = by["ollama:gone:7b"]
assert g["source"] == "ollama" and "missing" in g["error"], g
# llama.cpp's file, also reached through model-dirs, is listed once
assert [r["name"] for r in rows].count("o_m_m-Q8_0") == 1, rows
assert len(rows) == 9, [r["name"] for r in rows]
# one order: hub, llama.cpp, ollama, folders
order = ["hf", "llama.cpp", "ollama", "dir"]
assert [order.index(r["source"]) for r in rows] == sorted(order.index(r["source"]) for r in rows), rows
PY

# the table: a header and one line per model, sizes in MiB, params short
"$CHORD" models > list.txt || fail "chord models exited $?"
head -1 list.txt | grep -qE '^NAME +ARCH +PARAMS +TYPE +SIZE +SOURCE +PATH +ERROR$' || fail "header: $(head -1 list.txt)"
[ "$(wc -l < list.txt)" = 10 ] || fail "not one line per model: $(cat list.txt)"
grep -qE '^o/n:Q4_K_M +qwen2 +1\.[0-9]M +Q4_K +0\.[0-9] MiB +hf +/' list.txt || fail "hub line: $(cat list.txt)"
grep -qE '^broken +- +- +- .* dir .*broken\.gguf +error: ' list.txt || fail "error line: $(cat list.txt)"
"$CHORD" models list > list2.txt && cmp -s list.txt list2.txt || fail "models list differs from models"

# nothing anywhere: says where it looked and how to pull one
rm -rf "$HF_HUB_CACHE" "$LLAMA_CACHE" "$OLLAMA_MODELS" "$TMP/dirs"
"$CHORD" models > none.txt || fail "empty list exited $?"
grep -q "^no models found" none.txt && grep -q "chord pull Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M" none.txt &&
    grep -q "$TMP/hf/hub" none.txt || fail "empty list: $(cat none.txt)"
[ -z "$("$CHORD" models --json)" ] || fail "--json of nothing is not empty"
"$CHORD" models bogus 2>/dev/null; [ $? = 2 ] || fail "unknown verb is not a usage error"
"$CHORD" models --bogus 2>/dev/null; [ $? = 2 ] || fail "unknown option is not a usage error"
echo PASS
