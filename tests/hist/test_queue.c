/*
 * test_queue.c - history writes through the queue (data/hist_queue.h): the
 * calls never wait for the database, even while another connection holds
 * the write lock for seconds; the rows land in order once it is released,
 * a streamed reply included (text kept across the lock, not lost); a
 * lock held before the queue starts only delays the open, on the writer's
 * thread (the state says so), and what was queued meanwhile; a
 * conversation's id arrives through the queue; closing with the lock
 * still held returns within its bound and counts what was left; a failure
 * that is not a lock (the disk full) stops the recording and says so. Also
 * the lock semantics of the stream API underneath (hist_locked, end
 * retried after a lock).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hist_queue.h"
#include "ht.h"
#include "t.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Another connection takes the write lock (WAL: readers go on). */
static sqlite3 *lock_db(const char *path)
{
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return NULL;
    if (sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "lock: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static void unlock_db(sqlite3 *db)
{
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
}

static long long n_rows(const char *path)
{
    return ht_int(path, "SELECT count(*) FROM messages", 0, false);
}

static void wait_state(hist_queue *q, bool locked, int ms)
{
    hist_queue_state st;
    double end = now_ms() + ms;
    do {
        hist_queue_state_get(q, &st);
        if (st.locked == locked)
            return;
        sleep_ms(10);
    } while (now_ms() < end);
}

/* Text streamed while the lock is held is kept and written after it. */
static void test_lock_then_release(void)
{
    char *path = ht_path("queue.db");
    hist *h = ht_open(path);   /* creates the schema */
    T_NEED(h, "open");
    hist_close(h);
    hist_queue *q;
    chord_err e;
    T_NEED(hist_queue_start(path, NULL, &q, &e) == CHORD_OK, "%s", e.msg);
    /* one exchange written normally first */
    hist_conv_params cp = {.model = "m.gguf", .params_json = "{\"seed\":42}"};
    int64_t ref = hist_queue_conv_create(q, &cp);
    T_CHECK(ref < 0, "a pending reference: %lld", (long long)ref);
    hist_queue_msg_add(q, ref, "user", "first", 5, NULL);
    T_CHECK(hist_queue_flush(q, 5000), "first write");
    int64_t conv = hist_queue_conv_id(q, ref);
    T_CHECK(conv > 0, "the id came back: %lld", (long long)conv);
    T_EQ_INT(n_rows(path), 1);

    sqlite3 *other = lock_db(path);
    T_NEED(other, "lock");
    double t0 = now_ms(), worst = 0;
    hist_queue_msg_add(q, ref, "user", "second", 6, NULL);
    hist_queue_stream_begin(q, ref);
    char want[4096] = "";
    for (int i = 0; i < 150; i++) {
        char piece[16];
        snprintf(piece, sizeof piece, "tok%03d ", i);
        strcat(want, piece);
        double t = now_ms();
        hist_queue_stream_add(q, piece, strlen(piece), 1, i < 10);
        double dt = now_ms() - t;
        if (dt > worst)
            worst = dt;
        if (i % 10 == 0)
            sleep_ms(10);
    }
    hist_counts c = {5, 150, 1.5, 20.5};
    hist_queue_stream_end(q, HIST_COMPLETE, &c);
    double spent = now_ms() - t0;
    /* the caller never waited for the lock (the busy timeout is 200 ms) */
    T_CHECK(worst < 50, "an enqueue waited %.1f ms", worst);
    T_CHECK(spent < 1000, "queueing took %.0f ms", spent);
    wait_state(q, true, 3000);
    hist_queue_state st;
    hist_queue_state_get(q, &st);
    T_CHECK(st.locked && !st.failed, "locked state: locked %d failed %d", st.locked, st.failed);
    T_CHECK(st.n_waiting > 0, "waiting %d", st.n_waiting);
    T_CHECK(ht_has(st.msg, "locked") && ht_has(st.msg, path), "%s", st.msg);
    printf("while locked: %d waiting: %s\n", st.n_waiting, st.msg);
    sleep_ms(1500);   /* seconds of lock: nothing written, nothing lost */
    T_EQ_INT(n_rows(path), 1);
    unlock_db(other);

    T_CHECK(hist_queue_flush(q, 10000), "written after the lock");
    hist_queue_state_get(q, &st);
    T_CHECK(!st.locked && !st.failed && st.n_waiting == 0 && st.msg[0] == 0,
            "clear after the lock: locked %d failed %d waiting %d '%s'", st.locked, st.failed,
            st.n_waiting, st.msg);
    hist_queue_close(q, 3000, &st);
    T_EQ_INT(st.n_waiting, 0);
    T_EQ_INT(n_rows(path), 3);
    char *second = ht_text(path, "SELECT content FROM messages WHERE seq = 2", 0);
    T_EQ_STR(second, "second");
    free(second);
    /* the reply: answer and reasoning whole, in order, complete */
    char *reply = ht_text(path, "SELECT reasoning || content FROM messages WHERE seq = 3", 0);
    T_EQ_STR(reply, want);
    free(reply);
    char *status = ht_text(path, "SELECT status FROM messages WHERE seq = 3", 0);
    T_EQ_STR(status, "complete");
    free(status);
    T_EQ_INT(ht_int(path, "SELECT n_gen FROM messages WHERE seq = 3", 0, false), 150);
    T_CHECK(ht_integrity(path), "integrity");
    free(path);
}

/* Runs sql on its own connection (setting the file up). */
static bool exec_db(const char *path, const char *sql)
{
    sqlite3 *db;
    bool ok = sqlite3_open(path, &db) == SQLITE_OK &&
              sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(db);
    return ok;
}

/* Locked before the queue starts: starting returns at once, the open is
 * retried on the writer's thread (the state says locked, not opened), the
 * operations queued meanwhile wait for it and land in order after the
 * lock. Rollback mode, locked whole (the open's first read waits), and
 * WAL with a dead writer's row (the open has to write to mark it). */
static void test_open_while_locked(bool wal)
{
    char *path = ht_path(wal ? "open_wal.db" : "open_rollback.db");
    hist *h = ht_open(path);
    T_NEED(h, "open");
    int64_t conv = 0;
    chord_err e;
    hist_conv_params cp = {.model = "m.gguf"};
    T_NEED(hist_conv_create(h, &cp, &conv, &e) == CHORD_OK, "%s", e.msg);
    T_NEED(hist_stream_begin(h, conv, NULL, &e) == CHORD_OK, "%s", e.msg);
    hist_close(h);   /* ends the stream as interrupted */
    T_NEED(exec_db(path, wal ? "UPDATE messages SET status = 'streaming', writer_pid = 2147483646"
                             : "PRAGMA journal_mode = DELETE"),
           "set up");
    sqlite3 *other = lock_db(path);
    T_NEED(other, "lock");
    hist_queue *q;
    double t0 = now_ms();
    T_NEED(hist_queue_start(path, NULL, &q, &e) == CHORD_OK, "%s", e.msg);
    int64_t ref = hist_queue_conv_create(q, &cp);
    hist_queue_msg_add(q, ref, "user", "asked while locked", 18, NULL);
    double spent = now_ms() - t0;
    T_CHECK(spent < 50, "starting and queueing took %.1f ms", spent);
    wait_state(q, true, 3000);
    hist_queue_state st;
    hist_queue_state_get(q, &st);
    T_CHECK(st.locked && !st.opened && !st.failed, "locked %d opened %d failed %d", st.locked,
            st.opened, st.failed);
    T_EQ_INT(st.n_waiting, 2);
    T_CHECK(ht_has(st.msg, "locked"), "%s", st.msg);
    T_CHECK(!hist_queue_flush(q, 300), "flushed through the lock");
    unlock_db(other);
    T_CHECK(hist_queue_flush(q, 10000), "written after the lock");
    hist_queue_state_get(q, &st);
    T_CHECK(st.opened && !st.locked && !st.failed && st.n_waiting == 0,
            "after the lock: opened %d locked %d failed %d waiting %d", st.opened, st.locked,
            st.failed, st.n_waiting);
    T_CHECK(hist_queue_conv_id(q, ref) == conv + 1, "conversation %lld",
            (long long)hist_queue_conv_id(q, ref));
    hist_queue_close(q, 3000, &st);
    char *text = ht_text(path, "SELECT content FROM messages WHERE conversation_id = ?", conv + 1);
    T_EQ_STR(text, "asked while locked");
    free(text);
    T_EQ_INT(ht_int(path, "SELECT count(*) FROM messages WHERE status = 'streaming'", 0, false), 0);
    T_CHECK(ht_integrity(path), "integrity");
    free(path);
}

/* Closing while the lock stays: bounded, and the rest is counted. */
static void test_close_while_locked(void)
{
    char *path = ht_path("queue_close.db");
    hist *h = ht_open(path);
    T_NEED(h, "open");
    hist_close(h);
    hist_queue *q;
    chord_err e;
    T_NEED(hist_queue_start(path, NULL, &q, &e) == CHORD_OK, "%s", e.msg);
    T_CHECK(hist_queue_flush(q, 5000), "opened");
    sqlite3 *other = lock_db(path);
    T_NEED(other, "lock");
    hist_conv_params cp = {.model = "m.gguf"};
    int64_t ref = hist_queue_conv_create(q, &cp);
    hist_queue_msg_add(q, ref, "user", "lost", 4, NULL);
    hist_queue_msg_add(q, ref, "assistant", "also lost", 9, NULL);
    double t0 = now_ms();
    hist_queue_state st;
    hist_queue_close(q, 1000, &st);
    double took = now_ms() - t0;
    T_CHECK(took >= 900 && took < 2500, "close took %.0f ms for a 1000 ms bound", took);
    T_EQ_INT(st.n_waiting, 3);
    T_CHECK(st.locked && !st.failed, "locked %d failed %d", st.locked, st.failed);
    unlock_db(other);
    T_EQ_INT(n_rows(path), 0);
    free(path);
}

/* A full disk is not a lock: recording stops, what follows is lost. */
static void test_failure_stops(void)
{
    char *path = ht_path("queue_full.db");
    hist *h = ht_open(path);
    T_NEED(h, "open");
    hist_close(h);
    long long pages = ht_int(path, "PRAGMA page_count", 0, false);
    hist_queue_params p = {.max_pages = pages + 2};
    hist_queue *q;
    chord_err e;
    T_NEED(hist_queue_start(path, &p, &q, &e) == CHORD_OK, "%s", e.msg);
    hist_conv_params cp = {.model = "m.gguf"};
    int64_t ref = hist_queue_conv_create(q, &cp);
    static char big[64 * 1024];
    memset(big, 'x', sizeof big - 1);
    for (int i = 0; i < 20; i++)
        hist_queue_msg_add(q, ref, "user", big, sizeof big - 1, NULL);
    T_CHECK(hist_queue_flush(q, 10000), "settled");
    hist_queue_state st;
    hist_queue_state_get(q, &st);
    T_CHECK(st.failed && !st.locked, "failed %d locked %d", st.failed, st.locked);
    T_CHECK(ht_has(st.msg, "disk full") && ht_has(st.msg, path), "%s", st.msg);
    T_CHECK(st.n_lost > 0, "lost %lld", st.n_lost);
    hist_queue_msg_add(q, ref, "user", "after", 5, NULL);
    long long lost = st.n_lost;
    hist_queue_state_get(q, &st);
    T_EQ_INT(st.n_lost, lost + 1);
    hist_queue_close(q, 1000, &st);
    T_CHECK(ht_integrity(path), "integrity");
    free(path);
}

/* A file that cannot be opened shows in the state, not as a hang. */
static void test_open_failure(void)
{
    char *path = ht_path("not_a_db.db");
    T_NEED(t_write_file(path, "this is not sqlite at all, not at all....", 41), "write");
    hist_queue *q;
    chord_err e;
    T_NEED(hist_queue_start(path, NULL, &q, &e) == CHORD_OK, "%s", e.msg);
    hist_conv_params cp = {.model = "m.gguf"};
    hist_queue_conv_create(q, &cp);
    T_CHECK(hist_queue_flush(q, 5000), "settled");
    hist_queue_state st;
    hist_queue_close(q, 1000, &st);
    T_CHECK(st.failed && ht_has(st.msg, path), "failed %d: %s", st.failed, st.msg);
    free(path);
}

/* The stream API under a lock: the text is kept, end may come again. */
static void test_stream_lock_semantics(void)
{
    char *path = ht_path("stream_lock.db");
    hist_open_params hp = {.busy_timeout_ms = 100};
    hist *h;
    chord_err e;
    T_NEED(hist_open(path, &hp, &h, &e) == CHORD_OK, "%s", e.msg);
    hist_conv_params cp = {.model = "m.gguf"};
    int64_t conv;
    T_NEED(hist_conv_create(h, &cp, &conv, &e) == CHORD_OK, "%s", e.msg);
    int64_t id;
    T_NEED(hist_stream_begin(h, conv, &id, &e) == CHORD_OK, "%s", e.msg);
    sqlite3 *other = lock_db(path);
    T_NEED(other, "lock");
    chord_status st = CHORD_OK;
    for (int i = 0; i < 40 && st == CHORD_OK; i++)
        st = hist_stream_add(h, "abcd", 1, &e);
    T_EQ_INT(st, CHORD_E_IO);
    T_CHECK(hist_locked(h), "the failure is a lock: %s", e.msg);
    /* within the retry pause: no wait at all */
    double t0 = now_ms();
    T_EQ_INT(hist_stream_add(h, "efgh", 1, &e), CHORD_E_IO);
    T_CHECK(now_ms() - t0 < 20, "an add in the retry pause waited %.0f ms", now_ms() - t0);
    T_CHECK(hist_locked(h), "still a lock");
    T_EQ_INT(hist_stream_end(h, HIST_COMPLETE, NULL, &e), CHORD_E_IO);
    T_CHECK(hist_stream_active(h) && hist_locked(h), "end after a lock keeps the stream");
    unlock_db(other);
    T_CHECK(hist_stream_end(h, HIST_COMPLETE, NULL, &e) == CHORD_OK, "%s", e.msg);
    T_CHECK(!hist_stream_active(h), "ended");
    hist_close(h);
    T_EQ_INT(ht_int(path, "SELECT length(content) FROM messages WHERE id = ?", id, true),
             4 * 33);
    free(path);
}

int main(void)
{
    test_stream_lock_semantics();
    test_lock_then_release();
    test_close_while_locked();
    test_open_while_locked(false);
    test_open_while_locked(true);
    test_failure_stops();
    test_open_failure();
    return t_done();
}
