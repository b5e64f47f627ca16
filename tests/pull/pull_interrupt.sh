#!/usr/bin/env bash
# Ctrl-C mid-download: chord stops cleanly (exit 1, says how to resume),
# keeps the .incomplete blob and makes no blob, link or ref; the same pull
# then asks only for the rest and the file verifies.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/pull/pull_lib.sh"

R=acme/Slow-GGUF
mkdir -p "$HUB/$R"
synth_model "$HUB/$R/s-Q4_K_M.gguf" Q4_K_M 5
SRC="$HUB/$R/s-Q4_K_M.gguf"
SIZE=$(stat -c %s "$SRC")
SHA=$(sha256 "$SRC")
D="$CACHE/models--acme--Slow-GGUF"
INC="$D/blobs/$SHA.incomplete"
start_stub

stub_mode '{"crawl": 200000}'
"$CHORD" pull "$R" >"$TMP/out" 2>"$TMP/err" &
pid=$!
for _ in $(seq 200); do
    [ "$(stat -c %s "$INC" 2>/dev/null || echo 0)" -ge 150000 ] && break
    sleep 0.05
done
[ "$(stat -c %s "$INC" 2>/dev/null || echo 0)" -ge 150000 ] || fail "the crawl never reached 150000 bytes"
# A second pull of the same file meanwhile is turned away, not interleaved.
"$CHORD" pull "$R" >/dev/null 2>"$TMP/err2" && fail "a second concurrent pull succeeded"
grep -q "s-Q4_K_M.gguf is being downloaded by another process" "$TMP/err2" \
    || fail "no lock message: $(cat "$TMP/err2")"
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 1 ] || fail "exit $rc after Ctrl-C, want 1"
grep -q "interrupted: .* kept in $INC; the same chord pull resumes" "$TMP/err" \
    || fail "no resume hint: $(cat "$TMP/err")"
KEPT=$(stat -c %s "$INC") || fail "the .incomplete was not kept"
[ "$KEPT" -gt 0 ] && [ "$KEPT" -lt "$SIZE" ] || fail "kept $KEPT of $SIZE bytes"
[ ! -e "$D/blobs/$SHA" ] || fail "a blob under its final name after Ctrl-C"
[ -z "$(find "$D/snapshots" "$D/refs" 2>/dev/null)" ] || fail "a link or ref after Ctrl-C: $(find "$D")"

# The stub logs the cut request once its write fails: wait for it, so
# the log then holds only the second pull's requests.
for _ in $(seq 100); do
    [ -n "$(stub_requests /cdn/)" ] && break
    sleep 0.05
done
stub_mode '{}'
stub_log_clear
out=$("$CHORD" pull "$R" 2>"$TMP/err") || fail "the second pull: $(cat "$TMP/err")"
assert_cached "$R" s-Q4_K_M.gguf >/dev/null
[ "$(sha256 "$out")" = "$SHA" ] || fail "sha256 of the resumed file differs"
[ "$(stub_requests /cdn/)" = "bytes=$KEPT- $((SIZE - KEPT)) 206" ] \
    || fail "the second pull asked: $(stub_requests /cdn/) (kept $KEPT)"
assert_runs "$out"
echo "ok"
