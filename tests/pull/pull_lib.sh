# pull_lib.sh - what the chord pull tests share (source it after
# tests/common/lib.sh): a stand-in Hub (hub_stub.py) serving repos made in
# $TMP/hub, chord pointed at it with HF_ENDPOINT, a private hub cache.
#
#   HUB        the stub's root: $HUB/OWNER/NAME/FILES are the repos
#   CACHE      the hub cache ($HF_HOME/hub)
#   stub_mode JSON   faults for the next requests (see hub_stub.py)
#   stub_log         the requests so far, one JSON object per line
#   synth_model OUT [TYPE] [SEED]   a small random llama GGUF
#   sha256 FILE

HUB="$TMP/hub"
export HF_HOME="$TMP/hfhome"
CACHE="$HF_HOME/hub"
export XDG_CACHE_HOME="$TMP/xdg"
unset HF_HUB_CACHE HF_TOKEN HF_TOKEN_PATH HUGGING_FACE_HUB_TOKEN
# The stub is local: never through a proxy the environment may name.
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
mkdir -p "$HUB" "$HF_HOME"

STUB_PID=
stop_stub() {
    if [ -n "$STUB_PID" ]; then
        kill "$STUB_PID" 2>/dev/null
        wait "$STUB_PID" 2>/dev/null
        STUB_PID=
    fi
}
EXIT_HOOKS+=(stop_stub)

start_stub() {
    python3 "$CHORD_TESTS/pull/hub_stub.py" "$HUB" "$TMP/port" 2>"$TMP/stub.err" &
    STUB_PID=$!
    for _ in $(seq 100); do
        [ -s "$TMP/port" ] && break
        sleep 0.05
    done
    [ -s "$TMP/port" ] || fail "hub_stub.py did not start: $(cat "$TMP/stub.err")"
    export HF_ENDPOINT="http://127.0.0.1:$(cat "$TMP/port")"
}

stub_mode() { printf '%s\n' "$1" >"$HUB/mode.json"; }
stub_log() { cat "$HUB/log.jsonl" 2>/dev/null; }
stub_log_clear() { rm -f "$HUB/log.jsonl"; }

# Requests whose path contains $1, as "range sent status" lines.
stub_requests() {
    python3 - "$HUB/log.jsonl" "$1" <<'EOF'
import json, sys
try:
    lines = open(sys.argv[1]).read().splitlines()
except OSError:
    lines = []
for l in lines:
    e = json.loads(l)
    if sys.argv[2] in e["path"]:
        print(e["range"] or "-", e["sent"], e["status"])
EOF
}

# The commit the stub serves for REPO now.
stub_commit() {
    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$CHORD_TESTS/pull" python3 -c 'import sys, hub_stub
print(hub_stub.commit_of(sys.argv[1], sys.argv[2]))' "$1" "$HUB/$1"
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }

synth_model() {
    "$CHORD" synth --arch llama --dim 256 --layers 2 --heads 4 --kv-heads 4 --ffn 512 \
        --vocab 2000 --type "${2:-Q4_K_M}" --seed "${3:-1}" -o "$1" >/dev/null \
        || fail "chord synth $1"
}

# The model at $1 loads and writes two tokens.
assert_runs() {
    local out
    out=$("$CHORD" --batch -m "$1" --raw -p hi -n 2 --temp 0 2>"$TMP/run.err") \
        || fail "the pulled model does not run: $(cat "$TMP/run.err")"
    [ -n "$out" ] || fail "the pulled model wrote nothing"
}

# The cache holds REPO's FILE as the Hub's tools lay it out: refs/main is
# the stub's commit, blobs/SHA256 the bytes, snapshots/COMMIT/FILE a
# relative link to it. Echoes the snapshot path.
assert_cached() {
    local repo=$1 file=$2 src="$HUB/$1/$2"
    local dir="$CACHE/models--${repo%%/*}--${repo#*/}"
    local commit sha link target
    commit=$(cat "$dir/refs/main") || fail "no refs/main for $repo"
    local want
    want=$(stub_commit "$repo") || fail "the stub's commit"
    [ "$commit" = "$want" ] || fail "refs/main is '$commit', the Hub's main is '$want'"
    sha=$(sha256 "$src")
    [ -f "$dir/blobs/$sha" ] || fail "no blob named by the sha256 of $file ($sha)"
    [ ! -e "$dir/blobs/$sha.incomplete" ] || fail "an .incomplete is left beside the blob"
    link="$dir/snapshots/$commit/$file"
    [ -L "$link" ] || fail "$link is not a symlink"
    target=$(readlink "$link")
    case "$target" in
        ../../*blobs/"$sha") ;;
        *) fail "snapshot link points to '$target', not ../../blobs/$sha" ;;
    esac
    cmp -s "$link" "$src" || fail "the cached $file differs from the Hub's"
    echo "$link"
}
