# chat_resume_lib.sh - helpers for the saved-KV-cache tests (source after
# common/lib.sh and chat/chat_lib.sh, from $TMP).
#
# The caches go to $XDG_CACHE_HOME/chord/kv; each check starts from an
# empty folder.

export XDG_CACHE_HOME="$TMP/cache"
KV="$XDG_CACHE_HOME/chord/kv"

# ids FILE: the token ids of the last turn of a --json run, one line.
ids() {
    python3 - "$1" <<'PY'
import json, sys
turns, cur = [], []
for line in open(sys.argv[1]):
    j = json.loads(line)
    if j["event"] == "token":
        cur.append(j["id"])
    elif j["event"] == "done":
        turns.append(cur)
        cur = []
print(" ".join(map(str, turns[-1])) if turns else "none")
PY
}

# done_field FILE KEY: KEY of the last done event of a --json run.
done_field() {
    python3 -c 'import json,sys; d=[j for j in map(json.loads, open(sys.argv[1])) if j["event"]=="done"]; print(d[-1][sys.argv[2]])' "$1" "$2"
}

kv_files() { find "$KV" -name '*.kv' 2>/dev/null | wc -l; }

# resume_setup TAG MODEL ARGS...: runs TURN1..TURN3 in one process
# (TAG-full.out) and TURN1..TURN2 in another (TAG-r.db, which saves its
# cache at the end), then keeps that state in TAG-snap/ for resume_run.
resume_setup() {
    local tag=$1 m=$2
    shift 2
    rm -rf "$KV" "$tag"-*
    printf '%s\n%s\n%s\n' "$TURN1" "$TURN2" "$TURN3" |
        "$CHORD" --batch -m "$m" --db "$tag-full.db" --json "$@" > "$tag-full.out" 2> "$tag-full.err" ||
        fail "$tag: uninterrupted run: $(cat "$tag-full.err")"
    rm -rf "$KV"
    printf '%s\n%s\n' "$TURN1" "$TURN2" |
        "$CHORD" --batch -m "$m" --db "$tag-r.db" --json "$@" > "$tag-a.out" 2> "$tag-a.err" ||
        fail "$tag: first run: $(cat "$tag-a.err")"
    [ "$(kv_files)" = 1 ] || fail "$tag: the first run saved $(kv_files) KV files"
    mkdir -p "$tag-snap" && cp -a "$KV" "$tag-snap/kv" && cp "$tag-r.db" "$tag-snap/r.db"
}

# resume_run TAG OUT MODEL ARGS...: from the snapshot, TURN3 with -c -v;
# OUT.out, OUT.err. $MANGLE, if set, runs first (on the restored file,
# $KVF).
resume_run() {
    local tag=$1 out=$2 m=$3
    shift 3
    rm -rf "$KV" && mkdir -p "$(dirname "$KV")" && cp -a "$tag-snap/kv" "$KV"
    cp "$tag-snap/r.db" "$tag-r.db"
    KVF=$(ls "$KV"/*.kv)
    if [ -n "${MANGLE:-}" ]; then eval "$MANGLE" || fail "$tag: $MANGLE"; fi
    echo "$TURN3" | "$CHORD" --batch -m "$m" --db "$tag-r.db" --json -c -v "$@" > "$out.out" 2> "$out.err" ||
        fail "$tag: resumed run $out: $(cat "$out.err")"
}

# resume_check TAG MODEL ARGS...: the resumed turn loads the file, prefills
# what the uninterrupted run prefilled, and replies with the same tokens.
resume_check() {
    local tag=$1 m=$2
    shift 2
    resume_setup "$tag" "$m" "$@"
    resume_run "$tag" "$tag-res" "$m" "$@"
    grep -q "KV cache of conversation [0-9]* loaded" "$tag-res.err" ||
        fail "$tag: the saved cache was not loaded: $(cat "$tag-res.err")"
    [ "$(ids "$tag-res.out")" = "$(ids "$tag-full.out")" ] ||
        fail "$tag: resumed reply $(ids "$tag-res.out") != uninterrupted $(ids "$tag-full.out")"
    [ "$(done_field "$tag-res.out" n_cached)" = "$(done_field "$tag-full.out" n_cached)" ] &&
        [ "$(done_field "$tag-res.out" prefilled)" = "$(done_field "$tag-full.out" prefilled)" ] ||
        fail "$tag: resumed turn kept $(done_field "$tag-res.out" n_cached) / prefilled $(done_field "$tag-res.out" prefilled), uninterrupted $(done_field "$tag-full.out" n_cached) / $(done_field "$tag-full.out" prefilled)"
    echo "$tag: resumed reply = uninterrupted ($(done_field "$tag-res.out" n_cached) tokens from the file, $(done_field "$tag-res.out" prefilled) prefilled)"
}

# ignored_check TAG OUT NOTE_REGEX MODEL ARGS...: after resume_run, the file
# was ignored with the note and the reply is the re-prefill one
# (TAG-pre.out, a resume with --kv-store 0).
ignored_check() {
    local tag=$1 out=$2 re=$3
    grep -Eq "$re" "$out.err" || fail "$tag: $out: no note matching '$re': $(cat "$out.err")"
    grep -q "KV cache of conversation [0-9]* loaded" "$out.err" && fail "$tag: $out: loaded anyway"
    [ "$(ids "$out.out")" = "$(ids "$tag-pre.out")" ] ||
        fail "$tag: $out: reply $(ids "$out.out") != the re-prefilled $(ids "$tag-pre.out")"
    [ "$(done_field "$out.out" n_cached)" = 0 ] || fail "$tag: $out: reused $(done_field "$out.out" n_cached) tokens"
    echo "$tag: $out ignored with a note, re-prefilled"
}
