#!/bin/bash
# chord synth and chord quantize say what they wrote: one summary line on
# stdout (architecture, parameters, matrices, main type, size, time), and on
# stderr a warning per matrix whose type fell back because its rows do not
# fill the asked type's blocks (read back from the file written); a shape
# that fits asks for no warning.
. "$CHORD_TESTS/common/lib.sh"
cd "$TMP" || fail "cd"
"$CHORD" synth --arch llama --dim 96 --layers 2 --heads 4 --kv-heads 2 --ffn 200 --vocab 512 \
    --type Q4_K_M -o odd.gguf > out 2> err || fail "synth: $(cat err)"
grep -qE '^wrote odd.gguf: llama, [0-9.]+[KM] params, 16 matrices, main type [A-Z0-9_]+, [0-9.]+ (KiB|MiB), in [0-9.]+ s \(some matrices fell back to another type: see above\)$' out \
    || fail "synth summary: $(cat out)"
grep -qE "^chord: synth: warning: blk.0.attn_q.weight is Q5_0, not Q4_K_M: its rows of 96 do not fill Q4_K_M's blocks of 256$" err \
    || fail "no fallback warning for attn_q: $(cat err)"
grep -qE "^chord: synth: warning: blk.0.ffn_down.weight is [A-Z0-9_]+, not Q4_K_M: its rows of 200 " err \
    || fail "no fallback warning for ffn_down: $(cat err)"

"$CHORD" synth --arch llama --dim 256 --layers 2 --heads 4 --kv-heads 2 --ffn 512 --vocab 512 \
    --type Q8_0 -o even.gguf > out 2> err || fail "synth even: $(cat err)"
[ -s err ] && fail "a shape that fits Q8_0 got warnings: $(cat err)"
grep -qE '^wrote even.gguf: llama, [0-9.]+[KM] params, 16 matrices, main type Q8_0, [0-9.]+ (KiB|MiB), in [0-9.]+ s$' out \
    || fail "synth even summary: $(cat out)"

"$CHORD" quantize even.gguf even-q4k.gguf Q4_K > out 2> err || fail "quantize: $(cat err)"
[ -s err ] && fail "quantize to Q4_K of rows of 256 warned: $(cat err)"
grep -qE '^wrote even-q4k.gguf: llama, [0-9.]+[KM] params, 16 matrices, main type Q4_K, ' out \
    || fail "quantize summary: $(cat out)"
"$CHORD" quantize odd.gguf odd-q4k.gguf Q4_K > out 2> err || fail "quantize odd: $(cat err)"
grep -q "^chord: quantize: warning: blk.1.attn_k.weight is .*, not Q4_K: its rows of 96" err \
    || fail "quantize odd: no warning: $(cat err)"
exit 0
