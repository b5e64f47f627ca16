#!/bin/bash
# Absurd limits and sampling values through the CLI: usage errors exit 2
# with one line naming the option; model-dependent refusals (a memory
# budget too small for the model) exit 1 naming the file; a huge budget
# simply means "no limit". Nothing crashes or hangs.
. "$CHORD_TESTS/common/lib.sh"
need_shared models/a-spm-q8_0.gguf
M="$SHARED/models/a-spm-q8_0.gguf"
export HOME="$TMP"
run() {   # run WANT_RC PATTERN ARGS...: PATTERN must be in stderr
    local want=$1 pat=$2
    shift 2
    timeout 120 "$CHORD" -m "$M" --batch --raw -p hi -n 2 --threads 2 --no-history "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    [ $rc = "$want" ] || fail "$*: exit $rc, want $want: $(head -c 400 "$TMP/err")"
    [ -z "$pat" ] || grep -q -- "$pat" "$TMP/err" || fail "$*: stderr lacks '$pat': $(head -c 400 "$TMP/err")"
    [ "$want" = 0 ] || [ "$(wc -l <"$TMP/err")" = 1 ] || fail "$*: more than one error line: $(cat "$TMP/err")"
}
run 2 "--ctx" --ctx 100000000
run 2 "--ctx" --ctx 0
run 2 "--ctx" --ctx -1
run 2 "-n" -n 99999999999
run 2 "-n" -n -5
run 2 "--threads" --threads 100000
run 2 "--threads" --threads -1
run 2 "--mem-budget" --mem-budget 12Q
run 2 "--mem-budget" --mem-budget -5
run 1 "memory budget of 1 bytes is too small" --mem-budget 1
run 0 "" --mem-budget 999999T
run 2 "--temp" --temp -1
run 2 "--temp" --temp nan
run 2 "--temp" --temp inf
run 2 "--temp" --temp 1e999
run 2 "--top-p" --top-p 2
run 2 "--top-p" --top-p -0.5
run 2 "--top-p" --top-p nan
run 2 "--min-p" --min-p nan
run 2 "--top-k" --top-k -3
run 2 "--repeat-penalty" --repeat-penalty inf
run 2 "--repeat-penalty" --repeat-penalty 0
run 2 "--repeat-last-n" --repeat-last-n -7
run 2 "--seed" --seed -2
run 2 "--seed" --seed 1e3
run 0 "" --seed -1   # random, as in llama.cpp
run 2 "--prefetch" --prefetch 99999999
# past the model's training context (2048 here): a model-dependent refusal naming the key
timeout 120 "$CHORD" -m "$M" --batch --raw -p hi -n 2 --ctx 4096 --threads 2 --no-history >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc = 1 ] || fail "--ctx 4096 on a 2048-token model: exit $rc, want 1"
grep -q "context_length" "$TMP/err" || fail "--ctx 4096: message does not name the key: $(cat "$TMP/err")"
[ "$(wc -l < "$TMP/err")" = 1 ] || fail "--ctx 4096: more than one line on stderr: $(cat "$TMP/err")"
# the model's window: a prompt longer than --ctx is a model-dependent refusal
long=$(printf 'word %.0s' $(seq 1 200))
timeout 120 "$CHORD" -m "$M" --batch --raw -p "$long" -n 2 --ctx 16 --threads 2 --no-history >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc = 1 ] || fail "prompt longer than --ctx 16: exit $rc, want 1: $(head -c 300 "$TMP/err")"
echo "ok: every absurd limit refused with the documented exit code"
