#!/usr/bin/env bash
# chord pull OWNER/NAME[:QUANT] from the stand-in Hub: the file lands in the
# hub cache layout (refs/main, blobs/SHA256, snapshot link), the path on
# stdout loads and generates; the default and case-insensitive QUANT; a
# second pull asks nothing of resolve; --json events; the token from
# HF_TOKEN or the token file; the tree's pages followed.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/pull/pull_lib.sh"

R=acme/Tiny-GGUF
mkdir -p "$HUB/$R"
synth_model "$HUB/$R/tiny-Q4_K_M.gguf" Q4_K_M 1
synth_model "$HUB/$R/tiny-Q8_0.gguf" Q8_0 2
echo "# Tiny" >"$HUB/$R/README.md"
start_stub

# Default QUANT is Q4_K_M.
out=$("$CHORD" pull "$R" 2>"$TMP/err") || fail "pull $R: $(cat "$TMP/err")"
link=$(assert_cached "$R" tiny-Q4_K_M.gguf)
[ "$out" = "$link" ] || fail "stdout '$out' is not the snapshot path $link"
grep -q "chord -m $R:Q4_K_M" "$TMP/err" || fail "no run hint: $(cat "$TMP/err")"
grep -q "downloading tiny-Q4_K_M.gguf" "$TMP/err" || fail "no start line when not a terminal"
[ ! -e "$CACHE/models--acme--Tiny-GGUF/snapshots/$(cat "$CACHE/models--acme--Tiny-GGUF/refs/main")/tiny-Q8_0.gguf" ] \
    || fail "Q8_0 was downloaded too"
assert_runs "$out"
# The hint's name loads the pulled file (chord -m reads the hub cache).
"$CHORD" --batch -m "$R:Q4_K_M" --raw -p hi -n 2 --temp 0 >"$TMP/byname" 2>"$TMP/err" \
    || fail "chord -m $R:Q4_K_M: $(cat "$TMP/err")"
"$CHORD" --batch -m "$out" --raw -p hi -n 2 --temp 0 >"$TMP/bypath" 2>/dev/null
cmp -s "$TMP/byname" "$TMP/bypath" || fail "-m $R:Q4_K_M and -m PATH differ"

# Pulled already: no request to resolve or the CDN, the same path.
stub_log_clear
out2=$("$CHORD" pull "$R:q4_k_m" 2>"$TMP/err") || fail "second pull: $(cat "$TMP/err")"
[ "$out2" = "$link" ] || fail "second pull printed '$out2'"
grep -q "already in the cache: $link" "$TMP/err" || fail "no 'already in the cache': $(cat "$TMP/err")"
[ -z "$(stub_requests /resolve/)$(stub_requests /cdn/)" ] || fail "the second pull downloaded: $(stub_log)"

# Another type, case-insensitive, with --json events on stdout.
"$CHORD" pull --json "$R:q8_0" >"$TMP/events" 2>"$TMP/err" || fail "json pull: $(cat "$TMP/err")"
link8=$(assert_cached "$R" tiny-Q8_0.gguf)
python3 - "$TMP/events" "$link8" "$HUB/$R/tiny-Q8_0.gguf" <<'PY' || fail "json events: $(cat "$TMP/events")"
import json, os, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
kinds = [e["event"] for e in ev]
size = os.path.getsize(sys.argv[3])
assert kinds[0] == "start" and ev[0]["total"] == size and ev[0]["offset"] == 0, ev[0]
prog = [e for e in ev if e["event"] == "progress"]
assert prog and prog[-1]["bytes"] == size and prog[-1]["total"] == size, prog
assert all(a["bytes"] <= b["bytes"] for a, b in zip(prog, prog[1:]))
assert ev[-1] == {"event": "done", "path": sys.argv[2], "model": "acme/Tiny-GGUF:Q8_0"}, ev[-1]
assert "file_done" in kinds and "error" not in kinds
PY

# A private repo: the token goes out as a Bearer header, from HF_TOKEN or
# from the token file $HF_HOME/token.
P=acme/Private-GGUF
mkdir -p "$HUB/$P"
cp "$HUB/$R/tiny-Q4_K_M.gguf" "$HUB/$P/p-Q4_K_M.gguf"
echo "hf_secret" >"$HUB/$P/.token"
"$CHORD" pull "$P" >/dev/null 2>"$TMP/err" && fail "a private repo pulled without a token"
grep -q "401.*set HF_TOKEN" "$TMP/err" || fail "no 401 line: $(cat "$TMP/err")"
[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "the 401 message is not one line: $(cat "$TMP/err")"
stub_log_clear
HF_TOKEN=hf_secret "$CHORD" pull "$P" >/dev/null 2>"$TMP/err" || fail "HF_TOKEN pull: $(cat "$TMP/err")"
assert_cached "$P" p-Q4_K_M.gguf >/dev/null
stub_log | grep -q '"auth": "Bearer hf_secret"' || fail "no Bearer header: $(stub_log)"
rm -rf "$CACHE/models--acme--Private-GGUF"
printf 'hf_secret\n' >"$HF_HOME/token"
"$CHORD" pull "$P" >/dev/null 2>"$TMP/err" || fail "token-file pull: $(cat "$TMP/err")"
assert_cached "$P" p-Q4_K_M.gguf >/dev/null
rm "$HF_HOME/token"

# A tree served one entry a page: the pages are followed.
rm -rf "$CACHE"
stub_log_clear
stub_mode '{"page_size": 1}'
"$CHORD" pull "$R:Q8_0" >/dev/null 2>"$TMP/err" || fail "paged pull: $(cat "$TMP/err")"
assert_cached "$R" tiny-Q8_0.gguf >/dev/null
[ "$(stub_requests /tree/ | wc -l)" -eq 3 ] || fail "3 tree pages expected: $(stub_requests /tree/)"
echo "ok"
