#!/bin/bash
# A short --batch run, raw and chat (recording to a temp db), under
# valgrind memcheck: no errors and no definite leaks. Needs valgrind (CI
# installs it; missing under CI is a failure). Labelled slow.
. "$CHORD_TESTS/common/lib.sh"
need_shared models/a-spm-q8_0.gguf
M="$SHARED/models/a-spm-q8_0.gguf"
if ! command -v valgrind >/dev/null; then
    [ -n "${CI:-}" ] && fail "valgrind missing under CI"
    echo "SKIP: valgrind not installed"; exit 77
fi
export HOME="$TMP" OPENBLAS_NUM_THREADS=1
vg() {   # vg NAME ARGS...
    local name=$1
    shift
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite --log-file="$TMP/$name.vg" "$CHORD" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    local rc=$?
    [ $rc = 0 ] || fail "$name: exit $rc under valgrind: $(head -c 3000 "$TMP/$name.vg") $(head -c 300 "$TMP/$name.err")"
    [ -s "$TMP/$name.out" ] || fail "$name: no output"
    echo "ok: $name valgrind-clean ($(wc -c <"$TMP/$name.out") bytes out)"
}
vg raw -m "$M" --batch --raw -p "Once upon a time" -n 8 --threads 2 --no-history
vg chat -m "$M" --batch -p "Hello there" -n 8 --threads 2 --db "$TMP/h.db"
vg history "history" --db "$TMP/h.db" export 1 --format json
