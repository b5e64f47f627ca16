#!/usr/bin/env bash
# A model split into -0000K-of-0000N.gguf parts: QUANT picks the set, every
# part lands in the cache (each blob verified, each linked), the path given
# is the first part's and the model loads from it; naming a later part by
# file name brings the whole set; the listing shows a set once with its
# total size.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/pull/pull_lib.sh"

R=acme/Split-GGUF
mkdir -p "$HUB/$R"
synth_model "$TMP/whole.gguf" Q4_K_M 8
# Real parts from chord split (llama.cpp's split layout). Without it (an
# older chord) the parts are byte ranges of a file: the cache is still
# checked, the load is not.
if "$CHORD" split --help >/dev/null 2>&1; then
    "$CHORD" split --max-tensors 8 "$TMP/whole.gguf" "$HUB/$R/big-Q4_K_M" >/dev/null \
        || fail "chord split"
    LOADS=1
else
    echo "note: no chord split; the parts are byte ranges and are not loaded"
    head -c 500000 "$TMP/whole.gguf" >"$HUB/$R/big-Q4_K_M-00001-of-00002.gguf"
    tail -c +500001 "$TMP/whole.gguf" >"$HUB/$R/big-Q4_K_M-00002-of-00002.gguf"
    LOADS=0
fi
synth_model "$HUB/$R/big-Q8_0.gguf" Q8_0 9
mapfile -t PARTS < <(cd "$HUB/$R" && ls big-Q4_K_M-0000*-of-0000*.gguf)
N=${#PARTS[@]}
[ "$N" -ge 2 ] || fail "chord split made $N parts"
start_stub

out=$("$CHORD" pull "$R" 2>"$TMP/err") || fail "pull of a split model: $(cat "$TMP/err")"
for p in "${PARTS[@]}"; do
    assert_cached "$R" "$p" >/dev/null
done
first=$(assert_cached "$R" "${PARTS[0]}")
[ "$out" = "$first" ] || fail "the path given is '$out', not the first part $first"
[ "$(grep -c '^done big-Q4_K_M-0000.-of-0000.\.gguf' "$TMP/err")" -eq "$N" ] \
    || fail "not $N parts downloaded: $(cat "$TMP/err")"
[ "$(stub_requests /cdn/ | wc -l)" -eq "$N" ] || fail "CDN requests: $(stub_requests /cdn/)"
[ "$LOADS" = 0 ] || assert_runs "$out"

# The last part by name brings the set; all cached now, nothing fetched.
stub_log_clear
out2=$("$CHORD" pull "$R:${PARTS[$((N - 1))]}" 2>"$TMP/err") || fail "pull by part name: $(cat "$TMP/err")"
[ "$out2" = "$first" ] || fail "pull by part name gave '$out2'"
[ "$(grep -c 'already in the cache' "$TMP/err")" -eq "$N" ] || fail "not all cached: $(cat "$TMP/err")"
[ -z "$(stub_requests /cdn/)" ] || fail "cached parts fetched again"

# A part lost from the cache is fetched again, alone.
rm "$CACHE/models--acme--Split-GGUF/blobs/$(sha256 "$HUB/$R/${PARTS[1]}")"
stub_log_clear
"$CHORD" pull "$R:q4_k_m" >/dev/null 2>"$TMP/err" || fail "repair pull: $(cat "$TMP/err")"
[ "$(stub_requests /cdn/ | wc -l)" -eq 1 ] || fail "repair fetched: $(stub_requests /cdn/)"
assert_cached "$R" "${PARTS[1]}" >/dev/null

# The listing counts the set once, with its parts' total size.
"$CHORD" pull "$R:IQ1_S" >/dev/null 2>"$TMP/err" && fail "a missing type pulled"
total=$(cat "$HUB/$R"/big-Q4_K_M-0000*.gguf | wc -c)
want=$(python3 -c "print('%.1f MiB' % ($total / 1048576))")
grep -qE "^ +$want  ${PARTS[0]}  \($N parts\)$" "$TMP/err" || fail "listing (want $want): $(cat "$TMP/err")"
[ "$(grep -c 'big-Q4_K_M-0000' "$TMP/err")" -eq 1 ] || fail "a later part listed: $(cat "$TMP/err")"
echo "ok"
