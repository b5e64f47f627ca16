# split_models: a model split by `chord split` (llama.cpp's gguf-split
# layout) computes bit-identical logits to the whole file, loaded from any
# of its parts, resident (mapped), streamed through the layer cache, with
# O_DIRECT, and for a mixture of experts with its expert slices in other
# parts than the rest of the layer; a missing or foreign part is one error
# line naming the file; --merge gives back the original bytes.
. "$CHORD_TESTS/common/lib.sh"
cd "$TMP" || fail "cd"

T="1 5 9 200 33 7 100 2 45 300 17 4"

# logits of MODEL (with extra flags) into OUT; -v lines into OUT.log
logits() {
    local out=$1 m=$2; shift 2
    "$CHORD" eval -m "$m" --tokens "$T" --dump-logits "$out" -v "$@" 2>"$out.log" \
        || fail "eval -m $m $*: $(cat "$out.log")"
}
same() { cmp -s "$1" "$2" || fail "$3: logits differ ($1 vs $2)"; }

# --- a dense llama: 39 tensors (3 global, 9 a layer), 4 per part: every
# layer's tensors lie in two or three parts
"$CHORD" synth --arch llama --dim 128 --layers 4 --heads 4 --kv-heads 2 --ffn 256 --vocab 512 \
    --type Q4_K -o m.gguf >/dev/null || fail "synth llama"
"$CHORD" split --max-tensors 4 m.gguf part >split.out || fail "split: $(cat split.out)"
[ "$(ls part-000*-of-00010.gguf | wc -l)" = 10 ] || fail "expected 10 parts: $(ls)"
grep -c "^wrote part-000..-of-00010.gguf: [0-9]* tensors" split.out | grep -qx 10 \
    || fail "split output: $(cat split.out)"
first=part-00001-of-00010.gguf

# inspect on a middle part describes the whole set with each part's size
"$CHORD" inspect part-00004-of-00010.gguf >insp || fail "inspect a part"
grep -q "^file: *$first$" insp || fail "inspect does not start from the first part: $(head -1 insp)"
grep -q "^split: *10 parts" insp || fail "no split line: $(sed -n 1,8p insp)"
for k in 1 5 10; do
    p=$(printf 'part-%05d-of-00010.gguf' "$k")
    grep -Eq "^  part $k +$p: $(stat -c %s "$p") bytes" insp || fail "part $k line: $(grep "part $k " insp)"
done
total=0
for p in part-000*; do total=$((total + $(stat -c %s "$p"))); done
grep -q "^size: *$total bytes" insp || fail "size is not the parts' total $total"
grep -q "^tensors (39):" insp || fail "not every tensor listed"

# resident (mapped), from the first part and from the last
logits a.f32 m.gguf
logits b.f32 "$first"
same a.f32 b.f32 "resident, first part"
logits c.f32 part-00010-of-00010.gguf
same a.f32 c.f32 "resident, last part"
grep -q "resident" b.f32.log || fail "not resident: $(cat b.f32.log)"

# streamed: the global tensors plus two layers' worth of slots
glob=$(awk '$1 == "global" {print $(NF-1)}' insp)
layer=$(awk '$1 == "layer" {print $(NF-1)}' insp | sort -n | tail -1)
budget=$((glob + 2 * layer + 4096))
logits d.f32 "$first" --mem-budget "$budget"
grep -q "streaming within a budget" d.f32.log || fail "did not stream at $budget: $(cat d.f32.log)"
same a.f32 d.f32 "streamed"
logits e.f32 m.gguf --mem-budget "$budget"
same a.f32 e.f32 "streamed whole file"

# greedy generation, streamed with O_DIRECT (buffered where refused)
gen() {
    "$CHORD" --batch -m "$1" --raw --prompt-tokens "$T" -n 12 --temp 0 --token-ids --no-history \
        --mem-budget "$budget" --direct-io 2>gen.err || fail "batch -m $1: $(cat gen.err)"
}
gen m.gguf >g1 || exit 1
gen part-00007-of-00010.gguf >g2 || exit 1
[ -s g1 ] || fail "no tokens generated"
cmp -s g1 g2 || fail "greedy tokens differ: $(cat g1) vs $(cat g2)"

# --- split by size: no part's tensor data passes the limit, unless it
# is one tensor larger than the limit alone
"$CHORD" split --max-size 64K m.gguf bysize >bysize.out || fail "split --max-size"
while read -r _ path n _ bytes _; do
    [ "${n}" = 1 ] || [ "$bytes" -le 65536 ] || fail "$path holds $bytes bytes in $n tensors"
done <bysize.out
logits f.f32 "$(ls bysize-00001-of-*.gguf)"
same a.f32 f.f32 "split by size"

# --- a mixture of experts: 2 tensors a part, so a layer's gate, up and
# down experts are not all in one part
"$CHORD" synth --arch qwen3moe --dim 128 --layers 3 --heads 4 --kv-heads 2 --head-dim 32 --ffn 256 \
    --experts 8 --experts-used 2 --expert-ffn 64 --vocab 512 --type Q8_0 -o moe.gguf >/dev/null \
    || fail "synth qwen3moe"
"$CHORD" split --max-tensors 2 moe.gguf mp >/dev/null || fail "split moe"
mfirst=$(ls mp-00001-of-*.gguf)
"$CHORD" inspect "$mfirst" >minsp || fail "inspect moe"
parts=$(awk '/exps.weight/ && $1 ~ /^blk.0./ {print $(NF-2)}' minsp | sort -u | wc -l)
[ "$parts" -ge 2 ] || fail "layer 0's experts all in one part: $(grep 'blk.0.*exps' minsp)"
logits ma.f32 moe.gguf
logits mb.f32 "$mfirst"
same ma.f32 mb.f32 "moe resident"
# the expert cache in slots: the dense part held, experts read on demand
for b in 330K 400K; do
    logits mc$b.f32 "$mfirst" --mem-budget $b
    grep -q "experts (.*) cached in [0-9]* slots" mc$b.f32.log || fail "no expert slots at $b: $(cat mc$b.f32.log)"
    same ma.f32 mc$b.f32 "moe experts cached at $b"
done

# --- broken sets
mv part-00003-of-00010.gguf away.gguf
"$CHORD" eval -m "$first" --tokens "$T" >/dev/null 2>err && fail "loaded without part 3"
[ "$(wc -l <err)" = 1 ] || fail "not one line: $(cat err)"
grep -q "part 3 of 10 .*missing: part-00003-of-00010.gguf" err || fail "missing part not named: $(cat err)"
"$CHORD" inspect part-00002-of-00010.gguf >/dev/null 2>err && fail "inspect without part 3"
grep -q "part-00003-of-00010.gguf" err || fail "inspect: missing part not named: $(cat err)"

# a part of this set under another number
cp part-00004-of-00010.gguf part-00003-of-00010.gguf
"$CHORD" eval -m "$first" --tokens "$T" >/dev/null 2>err && fail "loaded part 4 as part 3"
grep -q "part-00003-of-00010.gguf: says it is part 4 of 10, expected part 3 of 10" err \
    || fail "renumbered part: $(cat err)"
# a part of a set of another size
"$CHORD" split --max-tensors 5 m.gguf other >/dev/null || fail "split other"
cp other-00003-of-00008.gguf part-00003-of-00010.gguf
"$CHORD" eval -m "$first" --tokens "$T" >/dev/null 2>err && fail "loaded a part of another set"
grep -q "says it is part 3 of 8, expected part 3 of 10" err || fail "foreign part: $(cat err)"
mv away.gguf part-00003-of-00010.gguf
# the same number and count from a smaller model: the tensors do not add up
"$CHORD" synth --arch llama --dim 128 --layers 3 --heads 4 --kv-heads 2 --ffn 256 --vocab 512 \
    --type Q4_K -o small.gguf >/dev/null || fail "synth small"
"$CHORD" split --max-tensors 13 m.gguf big >/dev/null || fail "split big"
"$CHORD" split --max-tensors 13 small.gguf sm >/dev/null || fail "split small"
cp sm-00003-of-00003.gguf big-00003-of-00003.gguf
"$CHORD" eval -m big-00001-of-00003.gguf --tokens "$T" >/dev/null 2>err && fail "loaded a mixed set"
grep -q "split.tensors.count is 39 but the 3 parts hold 30 tensors" err || fail "mixed set: $(cat err)"

# --- merge: the original bytes and logits
"$CHORD" split --merge part-00006-of-00010.gguf merged.gguf >merge.out || fail "merge: $(cat merge.out)"
cmp -s m.gguf merged.gguf || fail "merged file differs from the original"
logits g.f32 merged.gguf
same a.f32 g.f32 "merged"
"$CHORD" split --merge "$first" merged.gguf >/dev/null 2>err && fail "merge overwrote its output"
grep -q "merged.gguf: already exists" err || fail "overwrite message: $(cat err)"
"$CHORD" split --merge m.gguf x.gguf >/dev/null 2>err && fail "merged a file that is not split"
"$CHORD" split --merge mp-00003-of-*.gguf moe-merged.gguf >/dev/null || fail "merge moe"
cmp -s moe.gguf moe-merged.gguf || fail "merged moe differs from the original"

# quantize reads a split model's tensors from their parts
"$CHORD" quantize m.gguf q1.gguf Q8_0 || fail "quantize whole"
"$CHORD" quantize part-00002-of-00010.gguf q2.gguf Q8_0 || fail "quantize split"
cmp -s q1.gguf q2.gguf || fail "quantizing the split model gave another file"

# --- usage
"$CHORD" split m.gguf x >/dev/null 2>&1; [ $? = 2 ] || fail "split without a limit: not a usage error"
"$CHORD" split --max-tensors 4 --max-size 1M m.gguf x >/dev/null 2>&1; [ $? = 2 ] || fail "two limits accepted"
"$CHORD" split --max-tensors 0 m.gguf x >/dev/null 2>&1; [ $? = 2 ] || fail "--max-tensors 0 accepted"
"$CHORD" split --max-tensors 4 "$first" part >/dev/null 2>err && fail "split over its own input"
grep -q "would overwrite the input" err || fail "overwrite input: $(cat err)"
"$CHORD" split --max-tensors 4 --dry-run m.gguf dry >dry.out || fail "dry run"
grep -q "^would write dry-00001-of-00010.gguf" dry.out || fail "dry run output: $(cat dry.out)"
ls dry-* >/dev/null 2>&1 && fail "dry run wrote files"
echo "split_models: ok"
