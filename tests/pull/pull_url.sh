#!/usr/bin/env bash
# chord pull URL: a Hub resolve (or blob page) URL goes to the hub cache as
# OWNER/NAME:FILE would, with its ref; any other http(s) URL of a .gguf file
# goes to $XDG_CACHE_HOME/chord/models/NAME, resumed after a drop, never
# half there under its name; pulled again, nothing is fetched.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/pull/pull_lib.sh"

R=acme/Url-GGUF
mkdir -p "$HUB/$R" "$HUB/_plain/dir"
synth_model "$HUB/$R/u-Q5_K_M.gguf" Q5_K_M 10
synth_model "$HUB/$R/u-Q4_K_M.gguf" Q4_K_M 11
synth_model "$HUB/_plain/dir/plain.gguf" Q4_0 12
start_stub

out=$("$CHORD" pull "$HF_ENDPOINT/$R/resolve/main/u-Q5_K_M.gguf" 2>"$TMP/err") \
    || fail "resolve URL: $(cat "$TMP/err")"
link=$(assert_cached "$R" u-Q5_K_M.gguf)
[ "$out" = "$link" ] || fail "printed '$out', not $link"
assert_runs "$out"
# The web page's blob URL names the same file.
stub_log_clear
out=$("$CHORD" pull "$HF_ENDPOINT/$R/blob/main/u-Q5_K_M.gguf?download=true" 2>"$TMP/err") \
    || fail "blob URL: $(cat "$TMP/err")"
[ "$out" = "$link" ] && grep -q "already in the cache" "$TMP/err" || fail "blob URL: $out $(cat "$TMP/err")"
# A URL at a commit: the snapshot of that commit, refs/main left alone.
commit=$(stub_commit "$R")
out=$("$CHORD" pull "$HF_ENDPOINT/$R/resolve/$commit/u-Q4_K_M.gguf" 2>"$TMP/err") \
    || fail "commit URL: $(cat "$TMP/err")"
assert_cached "$R" u-Q4_K_M.gguf >/dev/null
"$CHORD" pull "$HF_ENDPOINT/$R/resolve/main/nothere.gguf" >/dev/null 2>"$TMP/err" \
    && fail "a missing file pulled"
grep -q "has no GGUF file named 'nothere.gguf'" "$TMP/err" || fail "missing file: $(cat "$TMP/err")"

# Not the Hub: chord's own folder, resumed after a drop.
DEST="$XDG_CACHE_HOME/chord/models/plain.gguf"
stub_mode '{"drop_after": 200000, "drops": 1}'
stub_log_clear
out=$("$CHORD" pull "$HF_ENDPOINT/files/dir/plain.gguf" 2>"$TMP/err") || fail "plain URL: $(cat "$TMP/err")"
[ "$out" = "$DEST" ] || fail "plain URL printed '$out', not $DEST"
cmp -s "$DEST" "$HUB/_plain/dir/plain.gguf" || fail "the plain download differs"
[ ! -e "$DEST.incomplete" ] || fail ".incomplete left"
[ "$(stub_requests /files/ | sed -n 2p | cut -d' ' -f1)" = "bytes=200000-" ] \
    || fail "the plain retry: $(stub_requests /files/)"
assert_runs "$out"
stub_mode '{}'
stub_log_clear
"$CHORD" pull "$HF_ENDPOINT/files/dir/plain.gguf" >/dev/null 2>"$TMP/err" || fail "plain again"
[ -z "$(stub_requests /files/)" ] || fail "fetched again: $(stub_requests /files/)"
"$CHORD" pull "$HF_ENDPOINT/files/dir/missing.gguf" >/dev/null 2>"$TMP/err" && fail "a 404 URL pulled"
grep -q "404" "$TMP/err" || fail "404 URL: $(cat "$TMP/err")"
[ -z "$(ls "$XDG_CACHE_HOME/chord/models" | grep missing)" ] || fail "a 404 left a file"
# chord models lists it (source chord), -m takes its short name, rm deletes it
"$CHORD" models --json > "$TMP/models.json" || fail "chord models"
grep '"path":"'"$DEST"'"' "$TMP/models.json" | grep -q '"source":"chord"' \
    || fail "chord models does not list the plain download: $(cat "$TMP/models.json")"
"$CHORD" models rm plain >/dev/null 2>"$TMP/err" || fail "models rm plain: $(cat "$TMP/err")"
[ ! -e "$DEST" ] || fail "models rm left $DEST"
"$CHORD" pull "$HF_ENDPOINT/files/dir/readme.txt" >/dev/null 2>"$TMP/err" && fail "a non-GGUF URL pulled"
grep -q "not a URL of a .gguf file" "$TMP/err" || fail "non-gguf URL: $(cat "$TMP/err")"
echo "ok"
