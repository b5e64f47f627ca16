#!/usr/bin/env bash
# What chord pull says when it cannot: 401 (a token is needed), gated
# (401 without a token, 403 with one: accept the licence on the model
# page), 404, a QUANT that matches no file or several (the repo's GGUF
# files listed with sizes, how to choose), not enough disk space, a Hub
# that fails or cannot be reached (a cached model still answers), usage.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/pull/pull_lib.sh"

R=acme/Many-GGUF
mkdir -p "$HUB/$R/extra"
synth_model "$HUB/$R/many-Q4_0.gguf" Q4_0 6
cp "$HUB/$R/many-Q4_0.gguf" "$HUB/$R/extra/many-v2-Q4_0.gguf"
synth_model "$HUB/$R/many-Q4_K_M.gguf" Q4_K_M 7
cp "$HUB/$R/many-Q4_K_M.gguf" "$HUB/$R/mmproj-many-F16.gguf"
G=acme/Gated-GGUF
mkdir -p "$HUB/$G"
cp "$HUB/$R/many-Q4_K_M.gguf" "$HUB/$G/g-Q4_K_M.gguf"
touch "$HUB/$G/.gated"
start_stub

# expect_fail CODE PATTERN ARGS...: chord pull exits CODE, stderr matches.
expect_fail() {
    local code=$1 pat=$2
    shift 2
    "$CHORD" pull "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    [ "$rc" -eq "$code" ] || fail "pull $*: exit $rc, want $code ($(cat "$TMP/err"))"
    grep -q -- "$pat" "$TMP/err" || fail "pull $*: no '$pat' in: $(cat "$TMP/err")"
    [ ! -s "$TMP/out" ] || fail "pull $*: printed a path: $(cat "$TMP/out")"
}

expect_fail 1 "acme/Gated-GGUF is gated: accept its licence on $HF_ENDPOINT/acme/Gated-GGUF.*set HF_TOKEN" "$G"
HF_TOKEN=hf_x expect_fail 1 "acme/Gated-GGUF is gated: accept its licence on $HF_ENDPOINT/acme/Gated-GGUF while logged in" "$G"
[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "the gated message is not one line"
expect_fail 1 "acme/Nothing: repo not found (404)" acme/Nothing
[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "the 404 message is not one line"

# Several files of one type: the list (the projector is not a model) and
# how to choose; the exact file name then picks one.
expect_fail 1 "several GGUF files of type 'q4_0'" "$R:q4_0"
for f in many-Q4_0.gguf extra/many-v2-Q4_0.gguf many-Q4_K_M.gguf; do
    grep -qE "^ +[0-9.]+ MiB  $f\$" "$TMP/err" || fail "the list lacks $f with its size: $(cat "$TMP/err")"
done
grep -q "chord pull $R:TYPE" "$TMP/err" || fail "no hint how to choose"
grep -q "chord pull $R:FILE.gguf" "$TMP/err" || fail "no hint for a file name"
out=$("$CHORD" pull "$R:extra/many-v2-Q4_0.gguf" 2>"$TMP/err") || fail "exact name: $(cat "$TMP/err")"
assert_cached "$R" extra/many-v2-Q4_0.gguf >/dev/null
[ "$(readlink "$out")" = "../../../blobs/$(sha256 "$HUB/$R/extra/many-v2-Q4_0.gguf")" ] \
    || fail "a link in a folder needs one more ../: $(readlink "$out")"
# None of that type.
expect_fail 1 "has no GGUF file of type 'Q3_K_S'" "$R:Q3_K_S"
grep -q "many-Q4_K_M.gguf" "$TMP/err" || fail "no list for a type with no file"

# Not enough disk space: the tree says the file is 1 PiB.
stub_mode '{"fake_size": 1125899906842624}'
expect_fail 1 "not enough free disk space in $CACHE/models--acme--Many-GGUF" "$R"
stub_mode '{}'

# A Hub that fails: retried, then one line.
stub_mode '{"status": 503}'
expect_fail 1 "answered HTTP 503" "$R"
stub_mode '{}'

# Unreachable: a model already cached is still given; one that is not,
# one line.
"$CHORD" pull "$R" >/dev/null 2>"$TMP/err" || fail "pull: $(cat "$TMP/err")"
stop_stub
out=$("$CHORD" pull "$R" 2>"$TMP/err") || fail "offline pull of a cached model: $(cat "$TMP/err")"
assert_runs "$out"
grep -q "offline: using the cached" "$TMP/err" || fail "no offline note: $(cat "$TMP/err")"
expect_fail 1 "cannot reach $HF_ENDPOINT" acme/Other

# Usage.
expect_fail 2 "usage" 
expect_fail 2 "is not OWNER/NAME" "no-slash"
expect_fail 2 "is not OWNER/NAME" "a/b/c"
expect_fail 2 "unknown option" --bogus acme/x
echo "ok"
