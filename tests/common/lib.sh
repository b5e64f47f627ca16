# lib.sh - helpers for the bash tests (source it: . "$CHORD_TESTS/common/lib.sh").
# A test exits 0 (pass), 1 (fail) or 77 (skipped: a ../shared fixture is
# missing and CI is not set).
set -u
CHORD="${CHORD_BIN:-chord}"
SHARED="${CHORD_SHARED:-../shared}"

fail() { echo "FAIL: $*" >&2; exit 1; }

# need_shared REL...: the fixtures must exist, or the test is skipped (fails under CI).
need_shared() {
    for rel in "$@"; do
        if [ ! -r "$SHARED/$rel" ]; then
            if [ -n "${CI:-}" ]; then fail "fixture $SHARED/$rel is missing and CI is set"; fi
            echo "SKIP: fixture $SHARED/$rel not found (no ../shared here)"; exit 77
        fi
    done
}

# A private temporary directory, removed on exit after the commands the
# other libs add to EXIT_HOOKS (tui_lib.sh's tmux server, pull_lib.sh's
# stub Hub). Only the test's own shell runs them: a background job
# signalled before it has exec'd its command is still a copy of this shell,
# and bash runs the EXIT trap in it too (hardening_signals lost its
# directory that way).
TMP=$(mktemp -d "${TMPDIR:-/tmp}/chord-test-XXXXXX") || fail "mktemp"
EXIT_HOOKS=()
on_exit() {
    [ "$BASHPID" = "$$" ] || return
    local h
    for h in "${EXIT_HOOKS[@]}"; do
        eval "$h"
    done
    rm -rf "$TMP"
}
trap on_exit EXIT
