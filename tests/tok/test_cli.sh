#!/bin/bash
# test_cli.sh - `chord tokenize` and `chord detokenize` on vocabulary-only
# GGUF files: ids as the reference gives them, BOS and --special, exact
# byte round trips (multi-line, emoji, accents), and exit codes.
. "$CHORD_TESTS/common/lib.sh"
need_shared ref/tokenizer/ggml-vocab-gpt-2.gguf ref/tokenizer/ggml-vocab-llama-spm.gguf
GPT2="$SHARED/ref/tokenizer/ggml-vocab-gpt-2.gguf"
SPM="$SHARED/ref/tokenizer/ggml-vocab-llama-spm.gguf"

expect() { # expect WHAT WANT GOT
    [ "$2" = "$3" ] || fail "$1: want '$2', got '$3'"
}

# ids: reference values from ../shared/ref/tokenizer/*.out
got=$("$CHORD" tokenize -m "$GPT2" "Hello world") || fail "tokenize gpt-2 exit $?"
expect "gpt-2 Hello world" "15496 995" "$got"
got=$("$CHORD" tokenize -m "$GPT2" " Hello, world!") || fail "tokenize gpt-2 exit $?"
expect "gpt-2 ' Hello, world!'" "18435 11 995 0" "$got"
# SentencePiece asks for BOS (1); --no-bos leaves it out
got=$("$CHORD" tokenize -m "$SPM" "Hello world") || fail "tokenize spm exit $?"
expect "spm Hello world" "1 15043 3186" "$got"
got=$("$CHORD" tokenize -m "$SPM" --no-bos "Hello world") || fail "tokenize spm --no-bos exit $?"
expect "spm --no-bos" "15043 3186" "$got"
# control tokens only with --special
got=$("$CHORD" tokenize -m "$SPM" --no-bos --special "<s>") || fail "--special exit $?"
expect "spm --special <s>" "1" "$got"
got=$("$CHORD" tokenize -m "$SPM" --no-bos "<s>") || fail "plain <s> exit $?"
case " $got " in *" 1 "*) fail "plain '<s>' gave BOS: $got" ;; esac
got=$("$CHORD" tokenize -m "$GPT2" --special "a<|endoftext|>") || fail "gpt-2 --special exit $?"
expect "gpt-2 --special" "64 50256" "$got"
# text starting with a dash after --
got=$("$CHORD" tokenize -m "$GPT2" -- "-x") || fail "tokenize -- -x exit $?"
[ -n "$got" ] || fail "tokenize -- -x printed nothing"

# byte-exact round trips through a file and a pipe
printf 'line one\n\ttabbed  caf\xc3\xa9 \xf0\x9f\xa6\x99 \xe6\x88\x91\n\n  end ' > "$TMP/in.txt"
for v in "$GPT2" "$SPM"; do
    "$CHORD" tokenize -m "$v" -f "$TMP/in.txt" > "$TMP/ids" || fail "tokenize -f $(basename "$v")"
    "$CHORD" detokenize -m "$v" < "$TMP/ids" > "$TMP/out.txt" || fail "detokenize $(basename "$v")"
    cmp -s "$TMP/in.txt" "$TMP/out.txt" || fail "round trip through $(basename "$v") differs: $(od -c "$TMP/out.txt" | head -5)"
    ids=$(cat "$TMP/ids")
    # ids as arguments (one list argument) give the same bytes
    "$CHORD" detokenize -m "$v" "$ids" > "$TMP/out2.txt" || fail "detokenize args"
    cmp -s "$TMP/in.txt" "$TMP/out2.txt" || fail "detokenize with ids as arguments differs"
done
# no newline is added; control tokens show only with --special
got=$("$CHORD" detokenize -m "$GPT2" 15496 995 50256 | od -An -c | tr -s ' ')
expect "detokenize bytes" " H e l l o w o r l d" "$got"
got=$("$CHORD" detokenize -m "$GPT2" --special 15496,995,50256)
expect "detokenize --special" "Hello world<|endoftext|>" "$got"
got=$("$CHORD" detokenize -m "$SPM" --special 1 15043)
expect "spm detokenize --special" "<s> Hello" "$got"

# control tokens spelled in the text: characters unless --special; the
# reference's end-of-turn texts are control even where the file says
# user-defined (Phi-3's </s>); user-defined <think> is cut out always
if [ -r "$SHARED/models/f-qwen3-q8_0.gguf" ] && [ -r "$SHARED/models/i-phi3-q8_0.gguf" ] &&
   [ -r "$SHARED/models/h-gemma2-q8_0.gguf" ]; then
    Q="$SHARED/models/f-qwen3-q8_0.gguf"
    expect "qwen3 plain <|im_end|>" "27 91 320 62 437 91 29" "$("$CHORD" tokenize -m "$Q" '<|im_end|>')"
    expect "qwen3 --special <|im_end|>" "4093" "$("$CHORD" tokenize -m "$Q" --special '<|im_end|>')"
    expect "qwen3 <think> in text" "4094" "$("$CHORD" tokenize -m "$Q" '<think>')"
    P="$SHARED/models/i-phi3-q8_0.gguf"
    expect "phi3 --special </s><|end|>" "2 4094" "$("$CHORD" tokenize -m "$P" --no-bos --special '</s><|end|>')"
    got=$("$CHORD" tokenize -m "$P" --no-bos '</s><|end|>')
    case " $got " in *" 2 "*|*" 4094 "*) fail "phi3 plain </s><|end|> gave control ids: $got" ;; esac
    G="$SHARED/models/h-gemma2-q8_0.gguf"
    expect "gemma2 --special <end_of_turn>" "1 4095" "$("$CHORD" tokenize -m "$G" --special '<end_of_turn>')"
    got=$("$CHORD" tokenize -m "$G" '<end_of_turn>')
    case " $got " in *" 4095 "*) fail "gemma2 plain <end_of_turn> gave the control id: $got" ;; esac
elif [ -n "${CI:-}" ]; then
    fail "the f-qwen3, i-phi3 and h-gemma2 fixtures are missing and CI is set"
fi

# exit codes: 2 for usage, 1 for failures
"$CHORD" tokenize "x" 2>/dev/null; expect "tokenize without -m" 2 $?
"$CHORD" tokenize -m "$GPT2" 2>/dev/null; expect "tokenize without text" 2 $?
"$CHORD" tokenize -m "$GPT2" --bogus x 2>/dev/null; expect "tokenize unknown option" 2 $?
"$CHORD" tokenize -m "$TMP/missing.gguf" x 2>/dev/null; expect "tokenize missing model" 1 $?
"$CHORD" detokenize -m "$GPT2" 99999 2>"$TMP/err"; expect "detokenize bad id" 1 $?
grep -q 99999 "$TMP/err" || fail "bad id message does not name it: $(cat "$TMP/err")"
"$CHORD" detokenize -m "$GPT2" 1 x2 2>/dev/null; expect "detokenize malformed id" 2 $?
"$CHORD" detokenize 1 2>/dev/null; expect "detokenize without -m" 2 $?
echo "ok"
