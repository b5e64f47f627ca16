#!/usr/bin/env bash
# Resumable downloads: a connection dropped mid-file is retried within the
# run from where it stopped (a Range request for the rest only); a
# .incomplete blob left by an earlier run is continued, and its kept bytes
# count in the sha256; a server that ignores Range makes chord start over.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/pull/pull_lib.sh"

R=acme/Resume-GGUF
mkdir -p "$HUB/$R"
synth_model "$HUB/$R/r-Q4_K_M.gguf" Q4_K_M 3
SRC="$HUB/$R/r-Q4_K_M.gguf"
SIZE=$(stat -c %s "$SRC")
SHA=$(sha256 "$SRC")
BLOBS="$CACHE/models--acme--Resume-GGUF/blobs"
start_stub

# 1. Dropped after 400000 bytes, once: the retry asks for the rest.
stub_mode '{"drop_after": 400000, "drops": 1}'
out=$("$CHORD" pull "$R" 2>"$TMP/err") || fail "pull with a drop: $(cat "$TMP/err")"
assert_cached "$R" r-Q4_K_M.gguf >/dev/null
grep -q "retrying" "$TMP/err" || fail "no retry line: $(cat "$TMP/err")"
stub_requests /cdn/ >"$TMP/req"
[ "$(wc -l <"$TMP/req")" -eq 2 ] || fail "two CDN requests expected: $(cat "$TMP/req")"
read -r r1 s1 _ < <(sed -n 1p "$TMP/req")
read -r r2 s2 st2 < <(sed -n 2p "$TMP/req")
[ "$r1" = "-" ] && [ "$s1" -eq 400000 ] || fail "first request: $(sed -n 1p "$TMP/req")"
[ "$r2" = "bytes=400000-" ] || fail "the retry asked '$r2', not bytes=400000-"
[ "$st2" -eq 206 ] && [ "$s2" -eq $((SIZE - 400000)) ] || fail "the retry got $s2 bytes ($st2), want $((SIZE - 400000))"
assert_runs "$out"

# 2. A .incomplete from an earlier run (the first 300000 bytes): the next
#    pull downloads only the rest, and the whole file verifies.
rm -rf "$CACHE"
mkdir -p "$BLOBS"
head -c 300000 "$SRC" >"$BLOBS/$SHA.incomplete"
stub_mode '{}'
stub_log_clear
"$CHORD" pull "$R" >/dev/null 2>"$TMP/err" || fail "resumed pull: $(cat "$TMP/err")"
assert_cached "$R" r-Q4_K_M.gguf >/dev/null
[ "$(stub_requests /cdn/)" = "bytes=300000- $((SIZE - 300000)) 206" ] \
    || fail "resume asked: $(stub_requests /cdn/)"
grep -q "resuming at" "$TMP/err" || fail "no resume line: $(cat "$TMP/err")"

# 3. Kept bytes that are not the file's: the sha256 over the whole refuses
#    it, deletes it, and the next pull starts from zero.
rm -rf "$CACHE"
mkdir -p "$BLOBS"
head -c 300000 /dev/urandom >"$BLOBS/$SHA.incomplete"
"$CHORD" pull "$R" >/dev/null 2>"$TMP/err" && fail "a wrong kept prefix was accepted"
grep -q "sha256 mismatch.*deleted" "$TMP/err" || fail "no mismatch line: $(cat "$TMP/err")"
[ -z "$(ls -A "$BLOBS")" ] || fail "blobs left after a mismatch: $(ls "$BLOBS")"
"$CHORD" pull "$R" >/dev/null 2>"$TMP/err" || fail "pull after a mismatch: $(cat "$TMP/err")"
assert_cached "$R" r-Q4_K_M.gguf >/dev/null

# 4. A server that ignores Range: the kept bytes are dropped, the file is
#    written from its first byte and still verifies.
rm -rf "$CACHE"
mkdir -p "$BLOBS"
head -c 300000 "$SRC" >"$BLOBS/$SHA.incomplete"
stub_mode '{"no_range": true}'
stub_log_clear
"$CHORD" pull "$R" >/dev/null 2>"$TMP/err" || fail "pull without Range support: $(cat "$TMP/err")"
assert_cached "$R" r-Q4_K_M.gguf >/dev/null
[ "$(stub_requests /cdn/)" = "bytes=300000- $SIZE 200" ] || fail "no-range: $(stub_requests /cdn/)"
echo "ok"
