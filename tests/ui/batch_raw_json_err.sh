#!/bin/bash
# --batch --raw --json: an error after the options were read (a prompt too
# long for the context, bad --prompt-tokens, a model that is not there) is
# an error event on stdout,
# one JSON line a reader of the events can parse, besides the one line on
# stderr; the exit status is 1. Without --json stdout stays empty.
. "$CHORD_TESTS/common/lib.sh"
M="$TMP/l.gguf"
"$CHORD" synth --arch llama --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 128 \
    --vocab 512 --type Q8_0 -o "$M" > /dev/null 2>&1 || fail "synth"
long=$(printf 'word %.0s' $(seq 40))
check() {   # check WHAT ARGS...: the run fails with an error event
    local what=$1; shift
    "$CHORD" --batch --raw --json "$@" > "$TMP/out" 2> "$TMP/err" < /dev/null
    local rc=$?
    [ "$rc" = 1 ] || fail "$what: exit $rc"
    python3 - "$TMP/out" "$TMP/err" <<'PY' || fail "$what: stdout '$(cat "$TMP/out")', stderr '$(cat "$TMP/err")'"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
err = open(sys.argv[2]).read().splitlines()
assert ev and ev[-1]["event"] == "error", ev
assert len(err) == 1 and err[0] == "chord: " + ev[-1]["message"], (err, ev)
PY
}
check "a prompt longer than the context" -m "$M" --ctx 16 -p "$long" -n 2
check "bad --prompt-tokens" -m "$M" --prompt-tokens "x y"
check "a model that is not there" -m "$TMP/missing.gguf" -p hi
"$CHORD" --batch --raw -m "$M" --ctx 16 -p "$long" -n 2 > "$TMP/out" 2> /dev/null && fail "no failure without --json"
[ -s "$TMP/out" ] && fail "without --json stdout got: $(cat "$TMP/out")"
exit 0
