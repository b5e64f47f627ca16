#!/bin/bash
# A history database another process keeps locked does not freeze the TUI:
# with the lock held, a reply streams to its end and typed text echoes
# (the writes wait on the history's own thread), the status line says the
# history is locked and how many writes wait, /stats says it too; once the
# lock is released the waiting rows land in order and the status line
# clears. A lock that is never released: chord still quits at once after a
# bounded wait and says on stderr that the last writes were not saved.
# Locked at start-up: the screen comes up at once and works the same,
# the history overlay says "history busy", the rows land after the lock.
# Self-contained: a synthetic Qwen3 model and python3's sqlite3 as the
# other process.
. "$CHORD_TESTS/common/lib.sh"
. "$CHORD_TESTS/ui/tui_lib.sh"
command -v sqlite3 >/dev/null || fail "sqlite3 (the shell) is needed"
command -v python3 >/dev/null || fail "python3 is needed"
M="$TMP/q3.gguf"
DB="$TMP/h.db"
"$CHORD" synth --arch qwen3 --dim 64 --layers 2 --heads 4 --kv-heads 2 --head-dim 16 --ffn 128 \
    --vocab 512 --type Q8_0 -o "$M" > /dev/null || fail "synth"

count() { sqlite3 "$DB" "SELECT count(*) FROM messages WHERE status = 'complete'" 2>/dev/null; }
has_rows() { [ "$(count)" = "$1" ]; }

# lock_db NAME: another process takes the write lock and holds it until
# $TMP/NAME.release exists (lock_db waits until it is held).
lock_db() {
    python3 - "$DB" "$TMP/$1" <<'EOF' &
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2] + ".held", "w").close()
# a test that failed removed the folder: let go then too
while not os.path.exists(sys.argv[2] + ".release") and os.path.isdir(os.path.dirname(sys.argv[2])):
    time.sleep(0.05)
c.execute("COMMIT")
EOF
    wait_file_exists() { [ -e "$1" ]; }
    wait_cmd 10 wait_file_exists "$TMP/$1.held" || die "the lock was not taken"
}

start -m "$M" --db "$DB" -n 40 --temp 0
T send-keys -t chord "first question" Enter
idle
wait_cmd 10 has_rows 2 || die "the first exchange was not written: $(count) rows"
hides 'history locked' || die "a lock is shown with none held"

lock_db a
T send-keys -t chord "second question" Enter
# the reply streams and ends while the database stays locked
wait_for 'second question' 5 || die "the message did not show while the history is locked"
idle 20
wait_for 'history locked by another process: [0-9]+ writes? waiting' 10 \
    || die "the status line does not say the history is locked"
snap "locked, reply done"
T send-keys -t chord "typing while locked"
wait_for 'typing while locked' 5 || die "input does not echo while the history is locked"
T send-keys -t chord C-u
T send-keys -t chord "/stats" Enter
wait_for 'history writes: [0-9]+ waiting, retrying' 5 || die "/stats does not show the waiting writes"
has_rows 2 || die "rows were written through the lock: $(count)"
snap "stats while locked"

touch "$TMP/a.release"
wait_cmd 15 has_rows 4 || die "the waiting rows did not land after the lock: $(count) rows"
wait_gone 'history locked' 5 || die "the status line still says locked"
# in order: user, assistant, user, assistant
order=$(sqlite3 "$DB" "SELECT group_concat(role || ':' || status, ',') FROM (SELECT role, status FROM messages ORDER BY seq)")
[ "$order" = "user:complete,assistant:complete,user:complete,assistant:complete" ] \
    || die "rows out of order: $order"
sqlite3 "$DB" "SELECT content FROM messages WHERE seq = 3" | grep -qx 'second question' \
    || die "the second question is not the third row"
T send-keys -t chord C-d
check_exit

# never released: quitting waits a bounded time and says what was lost
start -m "$M" --db "$DB" -n 40 --temp 0
lock_db b
T send-keys -t chord "third question" Enter
idle 20
wait_for 'history locked' 10 || die "the status line does not say the history is locked"
t0=$(date +%s%N)
T send-keys -t chord C-d
wait_file "$TMP/stty.after" 20 || die "chord did not exit"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
[ "$ms" -lt 6000 ] || die "quitting took $ms ms with the history locked"
grep -q '^EXIT=0$' "$TMP/exit" || die "exit status: $(cat "$TMP/exit")"
wait_for 'history writes? not saved' 5 || die "stderr does not say the writes were lost"
snap "exit while locked"
touch "$TMP/b.release"
wait
has_rows 4 || die "rows changed: $(count)"

# locked at start-up: the file is opened on the writer's thread, so the
# screen comes up while another process holds the database, the status
# line says the history is being opened, a reply streams and typed text
# echoes; the history overlay says "history busy" instead of waiting; once
# the lock goes, the open and the waiting rows go through and the overlay
# lists them. A database in rollback mode locked whole (readers wait too)
# and a WAL one whose open has to write (a dead writer's row to mark).
start_locked() {   # NAME: start chord with the lock NAME already held
    lock_db "$1"
    t0=$(date +%s%N)
    start -m "$M" --db "$DB" -n 40 --temp 0
    t1=$(date +%s%N)
    up_ms=$(( (t1 - t0) / 1000000 ))
    [ -e "$TMP/$1.release" ] && die "the lock was released before the screen came up"
}
n_before=$(count)
sqlite3 "$DB" "PRAGMA journal_mode = DELETE" | grep -qx delete || fail "rollback mode"
start_locked c
wait_for 'history locked by another process: opening it, retrying' 10 \
    || die "the status line does not say the history is being opened"
snap "started while locked (rollback mode), ${up_ms} ms"
T send-keys -t chord "/history" Enter
wait_for 'history busy' 5 || die "the history overlay does not say the history is busy"
T send-keys -t chord "/clear" Enter
wait_gone 'history busy' 5 || die "/clear left the notes"
T send-keys -t chord "/search question" Enter
wait_for 'history busy' 5 || die "/search does not say the history is busy"
T send-keys -t chord "/stats" Enter
wait_for 'history: not open yet, [0-9]+ writes? waiting, retrying' 5 \
    || die "/stats does not say the history is not open yet"
T send-keys -t chord "fourth question" Enter
wait_for 'fourth question' 5 || die "the message did not show while the history is locked"
idle 20
T send-keys -t chord "typing at start-up"
wait_for 'typing at start-up' 5 || die "input does not echo while the history is locked"
T send-keys -t chord C-u
wait_for 'opening it, retrying \([1-9][0-9]* writes? waiting\)' 5 \
    || die "the status line does not count the waiting writes"
snap "reply while locked at start-up"
touch "$TMP/c.release"
wait_cmd 15 has_rows $((n_before + 2)) || die "the rows did not land after the lock: $(count) rows"
wait_gone 'history locked' 5 || die "the status line still says locked"
T send-keys -t chord "/history" Enter
wait_for 'fourth question' 5 || die "the overlay does not list the new conversation"
T send-keys -t chord Escape
T send-keys -t chord "/clear" Enter
wait_gone '^│ you +fourth' 5 || die "/clear left the chat"
T send-keys -t chord "/search fourth" Enter
wait_for 'user +fourth question' 5 || die "/search does not find the new conversation"
T send-keys -t chord C-d
check_exit
wait
sqlite3 "$DB" "PRAGMA journal_mode" | grep -qx wal || die "the writer did not set WAL mode"

# WAL, but the open has to write: a dead process's streaming row
sqlite3 "$DB" "UPDATE messages SET status = 'streaming', writer_pid = 2147483646
    WHERE id = (SELECT max(id) FROM messages)" || fail "sqlite3 update"
n_before=$(count)
start_locked d
wait_for 'history locked by another process: opening it, retrying' 10 \
    || die "WAL: the status line does not say the history is being opened"
snap "started while locked (WAL), ${up_ms} ms"
T send-keys -t chord "fifth question" Enter
idle 20
touch "$TMP/d.release"
wait_cmd 15 has_rows $((n_before + 2)) || die "WAL: the rows did not land after the lock: $(count) rows"
[ "$(sqlite3 "$DB" "SELECT count(*) FROM messages WHERE status = 'streaming'")" = 0 ] \
    || die "the dead writer's row was not marked"
wait_gone 'history locked' 5 || die "WAL: the status line still says locked"
T send-keys -t chord C-d
check_exit
wait
echo "ok: the TUI streams and echoes through a locked history ($ms ms to quit with it locked; the screen up in ${up_ms} ms with it locked at start-up)"
