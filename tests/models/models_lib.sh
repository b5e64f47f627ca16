# models_lib.sh - fake model stores for the tests of chord models, -m names
# and the config file (source after common/lib.sh). Every store lives in
# $TMP and the environment points chord at them and nowhere else: no test
# sees the user's real caches or config.
#
# make_stores builds:
#   hub cache      $HF_HUB_CACHE/models--o--n: refs/main -> c0ffee, whose
#                  snapshot links n-Q4_K_M.gguf to ../../blobs/<sha256>
#                  (qwen2, Q4_K_M: main type Q4_K)
#   llama.cpp      $LLAMA_CACHE/o_m_m-Q8_0.gguf, as llama.cpp names its
#                  downloads (llama, Q8_0)
#   ollama         manifests/registry.ollama.ai/library/tiny/latest naming
#                  blobs/sha256-<hex> (qwen2, F16)
#   model-dirs     $TMP/dirs/sub/mine.gguf (llama, Q4_0), named in the
#                  config file $CHORD_CONFIG
export HOME="$TMP/home"
export HF_HUB_CACHE="$TMP/hf/hub" HF_HOME="$TMP/hf"
export LLAMA_CACHE="$TMP/llama" OLLAMA_MODELS="$TMP/ollama"
export XDG_CONFIG_HOME="$TMP/xdg" XDG_CACHE_HOME="$TMP/cache" XDG_DATA_HOME="$TMP/data"
export CHORD_CONFIG="$TMP/chord.conf"
unset HF_ENDPOINT HF_TOKEN
mkdir -p "$HOME" "$XDG_CONFIG_HOME"

synth() { # synth OUT ARCH DIM TYPE
    "$CHORD" synth --arch "$2" --dim "$3" --layers 2 --heads 4 --kv-heads 2 --ffn $(($3 * 2)) \
        --vocab 512 --type "$4" --seed 7 -o "$1" >/dev/null || fail "synth $1"
}

# hub_add REPO_DIR COMMIT FILE SRC: links snapshots/COMMIT/FILE (FILE may be
# in a folder) to the blob of SRC, relatively, as the Hub's tools do
hub_add() {
    local sha up="../.." d="$3"
    sha=$(sha256sum "$4" | cut -d' ' -f1)
    while [ "$d" != "${d#*/}" ]; do up="../$up"; d="${d#*/}"; done
    mkdir -p "$1/blobs" "$1/refs" "$(dirname "$1/snapshots/$2/$3")"
    cp "$4" "$1/blobs/$sha"
    ln -sf "$up/blobs/$sha" "$1/snapshots/$2/$3"
}

# ollama_add HOST/NAMESPACE/NAME/TAG SRC: a manifest there naming SRC's blob
# (and a template layer before it)
ollama_add() {
    local sha tsha
    sha=$(sha256sum "$2" | cut -d' ' -f1)
    tsha=$(printf TMPL | sha256sum | cut -d' ' -f1)
    mkdir -p "$(dirname "$OLLAMA_MODELS/manifests/$1")" "$OLLAMA_MODELS/blobs"
    cp "$2" "$OLLAMA_MODELS/blobs/sha256-$sha"
    printf TMPL > "$OLLAMA_MODELS/blobs/sha256-$tsha"
    cat > "$OLLAMA_MODELS/manifests/$1" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
 "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:$(printf %064d 1)","size":10},
 "layers":[{"mediaType":"application/vnd.ollama.image.template","digest":"sha256:$tsha","size":4},
           {"mediaType":"application/vnd.ollama.image.model","digest":"sha256:$sha","size":$(stat -c %s "$2")}]}
JSON
}

make_stores() {
    mkdir -p "$TMP/src" "$LLAMA_CACHE" "$TMP/dirs/sub"
    synth "$TMP/src/a.gguf" qwen2 256 Q4_K_M
    synth "$TMP/src/b.gguf" llama 64 Q8_0
    synth "$TMP/src/c.gguf" qwen2 64 F16
    synth "$TMP/src/d.gguf" llama 64 Q4_0
    hub_add "$HF_HUB_CACHE/models--o--n" c0ffee n-Q4_K_M.gguf "$TMP/src/a.gguf"
    echo c0ffee > "$HF_HUB_CACHE/models--o--n/refs/main"
    cp "$TMP/src/b.gguf" "$LLAMA_CACHE/o_m_m-Q8_0.gguf"
    ollama_add registry.ollama.ai/library/tiny/latest "$TMP/src/c.gguf"
    cp "$TMP/src/d.gguf" "$TMP/dirs/sub/mine.gguf"
    echo "model-dirs = $TMP/dirs" > "$CHORD_CONFIG"
}

# params FILE: the parameters of a GGUF file, counted from its tensor table
# by a reader of our own (not chord's)
params() {
    python3 - "$1" <<'PY'
import struct, sys
f = open(sys.argv[1], "rb")
def rd(fmt): return struct.unpack("<" + fmt, f.read(struct.calcsize("<" + fmt)))[0]
def rstr(): return f.read(rd("Q"))
SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
def skip(t):
    if t == 8: rstr()
    elif t == 9:
        et, n = rd("I"), rd("Q")
        for _ in range(n): skip(et)
    else: f.read(SIZES[t])
assert f.read(4) == b"GGUF"
rd("I"); nt, nkv = rd("Q"), rd("Q")
for _ in range(nkv):
    rstr(); skip(rd("I"))
total = 0
for _ in range(nt):
    rstr(); nd = rd("I"); n = 1
    for _ in range(nd): n *= rd("Q")
    rd("I"); rd("Q"); total += n
print(total)
PY
}
