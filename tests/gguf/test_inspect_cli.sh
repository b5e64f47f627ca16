# gguf_inspect_cli: `chord inspect` on shared models prints the header,
# metadata, tensor table, totals by type and per-layer bytes, exits 0;
# a missing file or a non-GGUF file gives one "chord: " line and exit 1.
. "$CHORD_TESTS/common/lib.sh"
need_shared models/a-spm-q8_0.gguf models/b-spm-q4_k_m.gguf

m="$SHARED/models/a-spm-q8_0.gguf"
"$CHORD" inspect "$m" >"$TMP/out" 2>"$TMP/err" || fail "inspect exited $?: $(cat "$TMP/err")"
[ -s "$TMP/err" ] && fail "stderr not empty: $(cat "$TMP/err")"
out="$TMP/out"
grep -q "^version: *3$" "$out" || fail "no version line"
grep -q "^alignment: *32$" "$out" || fail "no alignment line"
grep -q "^size: *$(stat -c %s "$m") bytes$" "$out" || fail "wrong size line"
grep -q "general.architecture *str *\"llama\"" "$out" || fail "no architecture key"
grep -q "tokenizer.ggml.tokens *\[32000 x str\] \"<unk>\", \"<s>\", \"</s>\"" "$out" \
    || fail "token array not abbreviated as expected"
grep -q "^tensors (30):" "$out" || fail "no tensor table header"
grep -Eq "^  token_embd.weight +Q8_0 +128 x 32000 +[0-9]+ +4352000$" "$out" \
    || fail "token_embd row wrong: $(grep token_embd "$out")"
# 32000 rows of 128 Q8_0 values: 4 blocks of 34 bytes each
grep -Eq "^  blk.2.ffn_down.weight +Q8_0 +384 x 128 " "$out" || fail "ffn_down row wrong"
grep -Eq "^  Q8_0 +[0-9]+ tensors" "$out" || fail "no Q8_0 total"
grep -Eq "^  F32 +[0-9]+ tensors" "$out" || fail "no F32 total (norms)"
grep -Eq "^  global +3 tensors" "$out" || fail "global group wrong: $(grep global "$out")"
for l in 0 1 2; do
    grep -Eq "^  layer $l +9 tensors +[0-9]+ bytes$" "$out" || fail "layer $l line missing"
done
grep -q "^  layer 3 " "$out" && fail "a layer 3 that does not exist"
grep -Eq "^total: 30 tensors, [0-9]+ bytes \([0-9.]+% of file\), 3 layers" "$out" || fail "no total line"
# the byte counts add up: global + layers = the total
sum=$(awk '/^  (global|layer [0-9]+) /{s+=$(NF-1)} END{print s}' "$out")
tot=$(sed -n 's/^total: 30 tensors, \([0-9]*\) bytes.*/\1/p' "$out")
[ "$sum" = "$tot" ] || fail "per-layer bytes $sum != total $tot"

"$CHORD" inspect "$SHARED/models/b-spm-q4_k_m.gguf" >"$TMP/out2" || fail "inspect b failed"
grep -Eq "^  Q4_K +[0-9]+ tensors" "$TMP/out2" || fail "no Q4_K total in b"
grep -Eq "^  Q6_K +[0-9]+ tensors" "$TMP/out2" || fail "no Q6_K total in b"
grep -Eq "^  layer 3 +9 tensors" "$TMP/out2" || fail "b layer 3 missing"

# a vocabulary-only file: no tensors, an empty global group
need_shared ref/tokenizer/ggml-vocab-gpt-2.gguf
"$CHORD" inspect "$SHARED/ref/tokenizer/ggml-vocab-gpt-2.gguf" >"$TMP/out3" || fail "inspect vocab failed"
grep -q "tokenizer.ggml.merges *\[50000 x str\] \"Ġ t\"" "$TMP/out3" || fail "merges line wrong"
grep -q "^tensors (0):" "$TMP/out3" || fail "vocab: tensor count"
grep -Eq "^  global +0 tensors +0 bytes$" "$TMP/out3" || fail "vocab: global group"
grep -q "^total: 0 tensors, 0 bytes" "$TMP/out3" || fail "vocab: total"

# a reader that goes away is not an error
"$CHORD" inspect "$m" | head -n 1 >/dev/null
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || fail "inspect | head exited $rc"

# errors: one line, "chord: ", the file named, exit 1
printf 'not a gguf file at all' >"$TMP/junk.gguf"
for f in "$TMP/junk.gguf" "$TMP/missing.gguf"; do
    "$CHORD" inspect "$f" >/dev/null 2>"$TMP/err"
    rc=$?
    [ "$rc" = 1 ] || fail "inspect $f exited $rc"
    [ "$(wc -l <"$TMP/err")" = 1 ] || fail "stderr is not one line: $(cat "$TMP/err")"
    grep -q "^chord: .*$f" "$TMP/err" || fail "stderr does not name $f: $(cat "$TMP/err")"
done
"$CHORD" inspect >/dev/null 2>&1; [ $? = 2 ] || fail "no argument: not a usage error"
"$CHORD" inspect --help | grep -q "usage: chord inspect" || fail "no --help"
exit 0
