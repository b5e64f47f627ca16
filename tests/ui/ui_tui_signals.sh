#!/bin/bash
# SIGTERM and SIGHUP while a reply streams: chord leaves curses cleanly,
# exits 0 with the terminal settings restored, and the reply is kept in
# the history as interrupted.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
need_shared models/a-spm-q8_0.gguf
M="$SHARED/models/a-spm-q8_0.gguf"
for sig in TERM HUP; do
    DB="$TMP/$sig.db"
    start -m "$M" --seed 9 --temp 1 --ctx 2048 -n -1 --threads 2 --db "$DB"
    T send-keys -t chord "Tell me a story" Enter
    wait_for 'Esc stop' 30 || die "no reply started"
    # the row exists from the first token on
    wait_for '^│ (chord|     )  [^▌ ]' 30 || die "no reply text"
    sleep 0.3
    kill -"$sig" "$(cat "$TMP/pid")" || die "cannot signal chord"
    check_exit
    "$CHORD" history --db "$DB" show 1 --json > "$TMP/c.json" || die "history show failed after SIG$sig"
    grep -q '"role": "assistant", "status": "interrupted"' "$TMP/c.json" \
        || die "SIG$sig: reply not recorded as interrupted: $(head -c 1500 "$TMP/c.json")"
    echo "ok: SIG$sig exits 0, tty restored, reply interrupted"
done
