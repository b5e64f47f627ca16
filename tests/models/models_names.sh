#!/bin/bash
# -m takes names: OWNER/NAME[:QUANT] from the hub cache (QUANT defaults to
# Q4_K_M, any case) or from llama.cpp's cache (its hub layout, or a file
# named OWNER_NAME_FILE.gguf as older llama.cpp saved them), ollama:NAME[:TAG] (TAG defaults to latest), a part of a
# listed name; each runs the model offline in --batch and gives the same
# greedy text as the file's path. Not cached, unknown, ambiguous: one clear
# message and exit 1. The subcommands that take -m take names too.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/models/models_lib.sh"
cd "$TMP" || fail "cd"
make_stores
ollama_add registry.ollama.ai/someone/thing/v1 src/b.gguf
ollama_add hf.co/bartowski/Some-GGUF/Q4_K_M src/a.gguf
hub_add "$LLAMA_CACHE/models--l--c" 42 c-Q8_0.gguf src/b.gguf
echo 42 > "$LLAMA_CACHE/models--l--c/refs/main"

run() { "$CHORD" --batch --no-history --temp 0 -n 6 -p "hello there" "$@"; }
for spec in "o/n:Q4_K_M;src/a.gguf" "o/n;src/a.gguf" "o/n:q4_k_m;src/a.gguf" \
            "ollama:tiny;src/c.gguf" "ollama:tiny:latest;src/c.gguf" \
            "mine;src/d.gguf" "O_M_M;src/b.gguf" "tiny;src/c.gguf" \
            "ollama:someone/thing:v1;src/b.gguf" "ollama:hf.co/bartowski/Some-GGUF:Q4_K_M;src/a.gguf" \
            "l/c:Q8_0;src/b.gguf" "o/m:q8_0;src/b.gguf"; do
    IFS=';' read -r name file <<< "$spec"
    want=$(run -m "$file") || fail "$file: exit $?"
    [ -n "$want" ] || fail "$file: no output"
    got=$(run -m "$name" 2> err) || fail "-m $name: exit $?: $(cat err)"
    [ "$got" = "$want" ] || fail "-m $name: '$got', the file gives '$want'"
    echo "-m $name: $(printf %s "$got" | wc -c) bytes, as $file"
done

# not downloaded: one line naming the pull, exit 1
expect_err() { # expect_err WANT_RC PATTERN ARGS...
    local rc_want=$1 pat=$2
    shift 2
    "$CHORD" "$@" > out 2> err
    local rc=$?
    [ "$rc" = "$rc_want" ] || fail "$*: exit $rc, want $rc_want: $(cat err)"
    grep -qE -- "$pat" err || fail "$*: stderr does not match '$pat': $(cat err)"
    [ -s out ] && fail "$*: wrote to stdout: $(cat out)"
    return 0
}
expect_err 1 '^chord: o/n:Q8_0 is not downloaded; run: chord pull o/n:Q8_0$' --batch -m o/n:Q8_0 -p x
[ "$(wc -l < err)" = 1 ] || fail "not one line: $(cat err)"
expect_err 1 '^chord: other/model:Q4_K_M is not downloaded; run: chord pull other/model:Q4_K_M$' \
    --batch -m other/model -p x
expect_err 1 "^chord: ollama:huge:latest is not in ollama's store .*; run: ollama pull huge:latest$" \
    --batch -m ollama:huge -p x
# a part of several names: all of them listed; of none: says so
expect_err 1 "^chord: 'q' matches 4 models; name one of them:$" --batch -m q -p x
[ "$(tail -n +2 err | sort | tr -d ' ' | tr '\n' ' ')" = "l/c:Q8_0 o/n:Q4_K_M o_m_m-Q8_0 ollama:hf.co/bartowski/Some-GGUF:Q4_K_M " ] ||
    fail "the matches are not listed: $(cat err)"
expect_err 1 "^chord: no model matches 'zebra' \(chord models lists them" --batch -m zebra -p x
expect_err 1 "^chord: $TMP/missing.gguf: no such file$" --batch -m "$TMP/missing.gguf" -p x
# a full name wins over the names containing it
cp src/b.gguf "$TMP/dirs/mine2.gguf"
run -m mine > /dev/null 2> err || fail "-m mine with mine2 beside it: $(cat err)"

# the subcommands that take -m
"$CHORD" tokenize -m o/n hello > t1 && "$CHORD" tokenize -m src/a.gguf hello > t2 && cmp -s t1 t2 ||
    fail "tokenize -m o/n"
"$CHORD" inspect ollama:tiny | grep -q "general.architecture .*qwen2" || fail "inspect ollama:tiny"
"$CHORD" detokenize -m mine 1 2 3 > /dev/null || fail "detokenize -m mine"
echo PASS
