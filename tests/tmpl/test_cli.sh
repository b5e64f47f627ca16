#!/bin/bash
# tmpl_cli: `chord chat-template` usage errors (exit 2), failures (exit 1
# with "chord: FILE: message"), exact bytes on stdout (no newline added),
# --no-generation-prompt, --bos/--eos, and -m MODEL using the model's own
# template and special tokens.
. "$CHORD_TESTS/common/lib.sh"

printf '{%% for m in messages %%}<{{ m.role }}>{{ m.content }}{%% endfor %%}{%% if add_generation_prompt %%}[gen]{%% endif %%}{{ bos_token }}{{ eos_token }}' > "$TMP/t.jinja"
printf '[{"role":"user","content":"caf\\u00e9 \\"q\\"\\n"},{"role":"assistant","content":"ok"}]' > "$TMP/m.json"

# usage errors
for args in "" "--template $TMP/t.jinja" "--messages $TMP/m.json" \
            "--template $TMP/t.jinja -m x.gguf --messages $TMP/m.json" \
            "--template $TMP/t.jinja --messages $TMP/m.json --bogus" \
            "--template $TMP/t.jinja --messages"; do
    "$CHORD" chat-template $args >"$TMP/out" 2>"$TMP/err"
    rc=$?
    [ $rc -eq 2 ] || fail "args '$args': exit $rc, want 2"
    grep -q '^chord: ' "$TMP/err" || fail "args '$args': no 'chord: ' message on stderr"
    [ -s "$TMP/out" ] && fail "args '$args': wrote to stdout"
done

# exact output, no trailing newline
"$CHORD" chat-template --template "$TMP/t.jinja" --messages "$TMP/m.json" --bos B --eos E >"$TMP/out" || fail "render failed"
printf '<user>caf\xc3\xa9 "q"\n<assistant>ok[gen]BE' > "$TMP/want"
cmp "$TMP/out" "$TMP/want" || fail "output differs: $(od -c "$TMP/out" | head -5)"

"$CHORD" chat-template --template "$TMP/t.jinja" --messages "$TMP/m.json" --no-generation-prompt >"$TMP/out" || fail "render failed"
printf '<user>caf\xc3\xa9 "q"\n<assistant>ok' > "$TMP/want"
cmp "$TMP/out" "$TMP/want" || fail "--no-generation-prompt output differs: $(od -c "$TMP/out" | head -5)"

# --messages - reads stdin
"$CHORD" chat-template --template "$TMP/t.jinja" --messages - --no-generation-prompt <"$TMP/m.json" >"$TMP/out" || fail "stdin render failed"
cmp "$TMP/out" "$TMP/want" || fail "--messages - output differs"

# failures: exit 1, one line naming the file
check_fail() { # what file args...
    local what=$1 file=$2; shift 2
    "$CHORD" chat-template "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    [ $rc -eq 1 ] || fail "$what: exit $rc, want 1"
    [ "$(wc -l < "$TMP/err")" -eq 1 ] || fail "$what: stderr is not one line: $(cat "$TMP/err")"
    grep -q "^chord: $file: " "$TMP/err" || fail "$what: stderr '$(cat "$TMP/err")' does not name $file"
}
printf 'ok\n{%% for m in messages %%}{{ m.content }' > "$TMP/bad.jinja"
check_fail "syntax error" "$TMP/bad.jinja" --template "$TMP/bad.jinja" --messages "$TMP/m.json"
grep -q 'line 2:' "$TMP/err" || fail "syntax error without its line: $(cat "$TMP/err")"
printf '{{ raise_exception("no system role here") }}' > "$TMP/raise.jinja"
check_fail "raise" "$TMP/raise.jinja" --template "$TMP/raise.jinja" --messages "$TMP/m.json"
grep -q 'no system role here$' "$TMP/err" || fail "raise message lost: $(cat "$TMP/err")"
check_fail "missing template" "$TMP/none.jinja" --template "$TMP/none.jinja" --messages "$TMP/m.json"
printf '[{"role":"user","content":"x"},]' > "$TMP/badm.json"
check_fail "bad json" "$TMP/badm.json" --template "$TMP/t.jinja" --messages "$TMP/badm.json"
printf '{"role":"user"}' > "$TMP/obj.json"
check_fail "not an array" "$TMP/obj.json" --template "$TMP/t.jinja" --messages "$TMP/obj.json"

# -m: the model's own template (TinyLlama's zephyr) and its BOS/EOS text
need_shared models/a-spm-f16.gguf models/c-qwen2-q8_0.gguf
printf '[{"role":"user","content":"What is 2+2?"}]' > "$TMP/s.json"
"$CHORD" chat-template -m "$SHARED/models/a-spm-f16.gguf" --messages "$TMP/s.json" >"$TMP/out" || fail "-m a-spm failed"
printf '<|user|>\nWhat is 2+2?</s>\n<|assistant|>\n' > "$TMP/want"
cmp "$TMP/out" "$TMP/want" || fail "-m a-spm output differs: $(od -c "$TMP/out" | head -5)"
"$CHORD" chat-template -m "$SHARED/models/c-qwen2-q8_0.gguf" --messages "$TMP/s.json" --no-generation-prompt >"$TMP/out" || fail "-m qwen failed"
printf '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n' > "$TMP/want"
cmp "$TMP/out" "$TMP/want" || fail "-m qwen output differs: $(od -c "$TMP/out" | head -5)"

# -m on the later families' fixtures (their own templates: qwen3, gemma2,
# phi3.5; renders checked against Jinja2). Qwen3: enable_thinking is left
# undefined like the reference, so the generation prompt opens no empty
# <think> block, and an earlier reply's reasoning is dropped.
need_shared models/f-qwen3-q8_0.gguf models/g-gemma3-q8_0.gguf models/h-gemma2-q8_0.gguf models/i-phi3-q8_0.gguf
printf '[{"role":"user","content":"What is 2+2?"},{"role":"assistant","content":"<think>\\nadd\\n</think>\\n\\n4"},{"role":"user","content":"And 3+3?"}]' > "$TMP/q.json"
"$CHORD" chat-template -m "$SHARED/models/f-qwen3-q8_0.gguf" --messages "$TMP/q.json" >"$TMP/out" || fail "-m qwen3 failed"
printf '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n' > "$TMP/want"
cmp "$TMP/out" "$TMP/want" || fail "-m qwen3 output differs: $(od -c "$TMP/out" | head -8)"
printf '[{"role":"system","content":"S"},{"role":"user","content":"U"}]' > "$TMP/sys.json"
for g in g-gemma3 h-gemma2; do
    "$CHORD" chat-template -m "$SHARED/models/$g-q8_0.gguf" --messages "$TMP/s.json" >"$TMP/out" || fail "-m $g failed"
    printf '<s><start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n' > "$TMP/want"
    cmp "$TMP/out" "$TMP/want" || fail "-m $g output differs: $(od -c "$TMP/out" | head -5)"
    "$CHORD" chat-template -m "$SHARED/models/$g-q8_0.gguf" --messages "$TMP/sys.json" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    [ $rc -eq 1 ] || fail "-m $g with a system message: exit $rc, want 1"
    [ "$(wc -l < "$TMP/err")" = 1 ] && grep -q '^chord: .*System role not supported$' "$TMP/err" ||
        fail "-m $g with a system message: $(cat "$TMP/err")"
    [ -s "$TMP/out" ] && fail "-m $g with a system message wrote to stdout"
done
"$CHORD" chat-template -m "$SHARED/models/i-phi3-q8_0.gguf" --messages "$TMP/sys.json" >"$TMP/out" || fail "-m phi3 failed"
printf '<|system|>\nS<|end|>\n<|user|>\nU<|end|>\n<|assistant|>\n' > "$TMP/want"
cmp "$TMP/out" "$TMP/want" || fail "-m phi3 output differs: $(od -c "$TMP/out" | head -5)"
echo "chat-template CLI: ok"
