#!/usr/bin/env bash
# A wrong body is refused: the sha256 does not match the tree's LFS oid, so
# nothing is left (no blob, no .incomplete, no snapshot link, no refs/main)
# and the message says so; the next pull from a good server succeeds.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/pull/pull_lib.sh"

R=acme/Corrupt-GGUF
mkdir -p "$HUB/$R"
synth_model "$HUB/$R/c-Q4_K_M.gguf" Q4_K_M 4
start_stub
D="$CACHE/models--acme--Corrupt-GGUF"

stub_mode '{"corrupt": true}'
"$CHORD" pull "$R" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 1 ] || fail "exit $rc for a corrupt body, want 1"
[ ! -s "$TMP/out" ] || fail "a path was printed: $(cat "$TMP/out")"
grep -q "sha256 mismatch (expected $(sha256 "$HUB/$R/c-Q4_K_M.gguf"), got [0-9a-f]*): the download is corrupt and was deleted" "$TMP/err" \
    || fail "mismatch message: $(cat "$TMP/err")"
[ -z "$(find "$D" -type f -o -type l 2>/dev/null)" ] || fail "files left: $(find "$D")"

# --json: the same failure as an error event.
"$CHORD" pull --json "$R" >"$TMP/events" 2>/dev/null && fail "json pull of a corrupt body succeeded"
tail -n 1 "$TMP/events" | grep -q '"event":"error","message":".*sha256 mismatch' \
    || fail "no error event: $(cat "$TMP/events")"

stub_mode '{}'
out=$("$CHORD" pull "$R" 2>"$TMP/err") || fail "pull after the fix: $(cat "$TMP/err")"
assert_cached "$R" c-Q4_K_M.gguf >/dev/null
assert_runs "$out"
echo "ok"
