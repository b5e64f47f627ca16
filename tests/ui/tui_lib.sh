# tui_lib.sh - driving chord's TUI in a private tmux server (source after
# common/lib.sh). Every screen captured is kept in $SCREENS and printed when
# a check fails, so the log shows what the user would have seen.
command -v tmux >/dev/null || fail "tmux is not installed (apt-get install tmux)"
SOCK="$TMP/tmux.sock"
SCREENS="$TMP/screens.log"
: > "$SCREENS"
T() { tmux -S "$SOCK" "$@"; }
EXIT_HOOKS+=('tmux -S "$SOCK" kill-server 2>/dev/null')
# screen: the current screen of the chord window.
screen() { T capture-pane -p -t chord; }
snap() { { echo "=== $1 ==="; screen; } >> "$SCREENS"; }
die() {
    snap "at failure"
    echo "--- captured screens ---" >&2
    cat "$SCREENS" >&2
    fail "$*"
}
# wait_cmd SECONDS COMMAND...: until COMMAND succeeds (it may use screen),
# polling ten times a second. A check must wait for the frame it expects,
# never sleep a fixed time: under -j2 and sanitizers a redraw can be slow.
wait_cmd() {
    local n=$(( $1 * 10 ))
    shift
    while [ "$n" -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}
shows() { screen | grep -qE -- "$1"; }
hides() { ! shows "$1"; }
# wait_for PATTERN SECONDS: until the screen matches (grep -E).
wait_for() { wait_cmd "$2" shows "$1"; }
# wait_gone PATTERN SECONDS: until the screen no longer matches.
wait_gone() { wait_cmd "$2" hides "$1"; }
# wait_file PATH SECONDS: until PATH exists and is not empty.
wait_file() { wait_cmd "$2" test -s "$1"; }
# tnew NAME ARGS...: a detached session NAME running ARGS (new-session's
# options and command) on a fresh server, so that the session sees the
# environment as the test has it now (a server keeps the environment it
# started with). A server that is leaving can still accept a connection
# and then drop it ("server exited unexpectedly"): wait for it to go, and
# try again if new-session meets it anyway.
tnew() {
    local name=$1 i
    shift
    T kill-server 2>/dev/null
    wait_cmd 5 eval '! T ls >/dev/null 2>&1'
    for i in 1 2 3 4 5; do
        T new-session -d -s "$name" "$@" && return 0
        sleep 0.5
    done
    fail "cannot start a tmux session"
}
# start ARGS...: runs chord in a 120x40 window; records the tty settings
# before and after, the exit status and chord's pid.
start() {
    rm -f "$TMP/stty.before" "$TMP/stty.after" "$TMP/exit" "$TMP/pid"
    {
        echo "stty -g > '$TMP/stty.before'"
        printf 'bash -c '\''echo $$ > "$0"; exec "$@"'\'' %q %q' "$TMP/pid" "$CHORD"
        printf ' %q' "$@"
        echo
        echo "echo \"EXIT=\$?\" > '$TMP/exit'"
        echo "stty -g > '$TMP/stty.after'"
        echo "sleep 600"
    } > "$TMP/run.sh"
    tnew chord -x 120 -y 40 -e LANG=C.UTF-8 -e LC_ALL= "bash $TMP/run.sh"
    wait_for 'Ctrl-D quit' 30 || die "chord did not show its screen"
}
# idle: waits until no reply is running (the hints say Ctrl-D again).
idle() { wait_for 'Ctrl-D quit' "${1:-60}" || die "the reply did not end"; }
# check_exit: chord ended with status 0 and left the tty as it found it.
check_exit() {
    wait_file "$TMP/stty.after" 20 || die "chord did not exit"
    grep -q '^EXIT=0$' "$TMP/exit" || die "exit status: $(cat "$TMP/exit")"
    cmp -s "$TMP/stty.before" "$TMP/stty.after" || die "terminal settings not restored"
}
# reply_text: the chat lines of the last "chord" reply with all whitespace
# removed (wrapping moves spaces; the text itself must not change).
reply_text() {
    screen | awk -F'│' '/^│ chord /{on=1; s=""} on && /^├/{on=0} on{x = $2; sub(/├.*/, "", x); s = s x} END{print s}' \
        | sed 's/^ chord//; s/\[interrupted\]//; s/\[cut  *at  *-n  *[0-9]*\]//' | tr -d ' \n'
}
