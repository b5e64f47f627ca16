/*
 * test_failures.c - the history store fails cleanly: a full disk (simulated
 * with PRAGMA max_page_count), a read-only file, a read-only directory, a
 * corrupt file and a lock held beyond the timeout each give an error whose
 * one-line message names the file, nothing committed earlier is lost, and
 * `chord history` exits 1 with that message.
 */
#include <grp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ht.h"
#include "t.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool one_line(const char *s)
{
    return s && !strchr(s, '\n') && s[0];
}

/* Runs `chord history --db PATH ARGS` (as nobody when as_nobody and we are
 * root) and returns its exit code; *out gets stdout+stderr. */
static int run_cli(const char *path, const char *args, bool as_nobody, char **out)
{
    char cmd[8192];
    /* nobody cannot read root's config file: point it at none */
    snprintf(cmd, sizeof cmd, "%s'%s' history --db '%s' %s </dev/null 2>&1",
             as_nobody && geteuid() == 0
                 ? "env CHORD_CONFIG=/dev/null setpriv --reuid=65534 --regid=65534 --clear-groups "
                 : "",
             t_chord_bin(), path, args);
    return t_run(cmd, out);
}

static void check_cli_fails(const char *path, const char *args, bool as_nobody, const char *what)
{
    char *out = NULL;
    int rc = run_cli(path, args, as_nobody, &out);
    T_CHECK(rc == 1, "%s: chord history %s: exit %d, want 1 (%s)", what, args, rc, out);
    T_CHECK(ht_has(out, path) && ht_has(out, "chord: "), "%s: message names the file: %s",
            what, out);
    free(out);
}

/* `chord history` reads what it cannot write: exit 0, want in the output,
 * and no -wal or -shm left beside the file. */
static void check_cli_reads(const char *path, const char *args, const char *want, const char *what)
{
    char *out = NULL;
    int rc = run_cli(path, args, true, &out);
    T_CHECK(rc == 0 && out && ht_has(out, want), "%s: chord history %s: exit %d, want 0 and '%s': %s",
            what, args, rc, want, out);
    free(out);
    char side[4096];
    snprintf(side, sizeof side, "%s-shm", path);
    T_CHECK(access(side, F_OK) != 0, "%s: %s was created", what, side);
    snprintf(side, sizeof side, "%s-wal", path);
    T_CHECK(access(side, F_OK) != 0, "%s: %s was created", what, side);
}

/* Opens path read-write in a child that has dropped root (permissions mean
 * nothing to root); returns the status and copies the message. */
static chord_status open_unprivileged(const char *path, chord_err *e)
{
    int fd[2];
    if (pipe(fd) != 0)
        return CHORD_E_IO;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        if (geteuid() == 0 && (setgroups(0, NULL) || setgid(65534) || setuid(65534)))
            _exit(9);
        hist *h;
        chord_err ce = {{0}};
        int st = hist_open(path, NULL, &h, &ce);
        if (st == CHORD_OK) {
            /* Opening may succeed where only writing fails: try one. */
            int64_t id;
            hist_conv_params cp = {"x.gguf", NULL, NULL, NULL};
            st = hist_conv_create(h, &cp, &id, &ce);
            hist_close(h);
        }
        if (write(fd[1], &st, sizeof st) != sizeof st || write(fd[1], &ce, sizeof ce) != sizeof ce)
            _exit(8);
        _exit(0);
    }
    close(fd[1]);
    int st = -1;
    memset(e, 0, sizeof *e);
    if (read(fd[0], &st, sizeof st) != sizeof st || read(fd[0], e, sizeof *e) != sizeof *e)
        st = -1;
    close(fd[0]);
    waitpid(pid, NULL, 0);
    return (chord_status)st;
}

static int64_t make_db(const char *path, int n_msgs)
{
    hist *h = ht_open(path);
    chord_err e;
    int64_t conv = 0;
    hist_conv_params cp = {"tiny.gguf", "llama", NULL, NULL};
    T_CHECK(h && hist_conv_create(h, &cp, &conv, &e) == CHORD_OK, "create");
    for (int i = 0; h && i < n_msgs; i++)
        T_CHECK(hist_msg_add(h, conv, "user", "kept row", 8, NULL, NULL, &e) == CHORD_OK,
                "%s", e.msg);
    hist_close(h);
    return conv;
}

static void test_disk_full(void)
{
    char *path = ht_path("full.db");
    int64_t conv = make_db(path, 3);
    hist_open_params p = {.max_pages = 40};
    hist *h;
    chord_err e;
    if (hist_open(path, &p, &h, &e) != CHORD_OK) {
        T_CHECK(0, "%s", e.msg);
        return;
    }
    char text[8192 + 1];
    memset(text, 'x', 8192);
    text[8192] = 0;
    int added = 0;
    chord_status st = CHORD_OK;
    for (int i = 0; i < 100 && st == CHORD_OK; i++) {
        text[0] = (char)('a' + i % 26);
        st = hist_msg_add(h, conv, "assistant", text, 8192, NULL, NULL, &e);
        if (st == CHORD_OK)
            added++;
    }
    T_EQ_INT(st, CHORD_E_IO);
    T_CHECK(one_line(e.msg) && ht_has(e.msg, path) && ht_has(e.msg, "disk full"), "%s", e.msg);
    T_CHECK(added > 0 && added < 40, "%d messages fit", added);

    /* A stream that runs into the full disk: the flush fails once, later
     * calls return at once instead of retrying for every token. */
    int64_t sid = 0;
    st = hist_stream_begin(h, conv, &sid, &e);
    if (st == CHORD_OK) {
        for (int i = 0; i < HIST_FLUSH_TOKENS && st == CHORD_OK; i++)
            st = hist_stream_add(h, text + 4096, 1, &e);   /* 4 KiB per token */
        T_EQ_INT(st, CHORD_E_IO);
        T_CHECK(ht_has(e.msg, "disk full"), "%s", e.msg);
        double t0 = now_ms();
        T_EQ_INT(hist_stream_add(h, "more", 1, &e), CHORD_E_IO);
        T_CHECK(now_ms() - t0 < 50, "a broken stream does not touch the file");
        T_EQ_INT(hist_stream_end(h, HIST_COMPLETE, NULL, &e), CHORD_E_IO);
        T_CHECK(!hist_stream_active(h), "stream ended");
    } else {
        T_CHECK(ht_has(e.msg, "disk full"), "%s", e.msg);
    }
    hist_close(h);

    /* Everything committed before is intact. */
    T_EQ_INT(ht_int(path, "SELECT count(*) FROM messages WHERE content = 'kept row'", 0, false), 3);
    T_EQ_INT(ht_int(path, "SELECT count(*) FROM messages WHERE length(content) = 8192", 0, false),
             added);
    T_CHECK(ht_integrity(path), "integrity after disk full");
    h = ht_open(path);
    T_CHECK(h, "reopen without the limit");
    T_CHECK(h && hist_msg_add(h, conv, "user", "after", 5, NULL, NULL, &e) == CHORD_OK, "%s", e.msg);
    hist_close(h);
    free(path);
}

static void test_read_only(void)
{
    char *dir = ht_path("rofile");
    char *path = ht_path("rofile/h.db");
    T_CHECK(mkdir(dir, 0777) == 0 && chmod(dir, 0777) == 0, "mkdir");
    make_db(path, 2);
    T_CHECK(chmod(path, 0444) == 0, "chmod");
    chord_err e;
    chord_status st = open_unprivileged(path, &e);
    T_EQ_INT(st, CHORD_E_IO);
    T_CHECK(one_line(e.msg) && ht_has(e.msg, path) && ht_has(e.msg, "read-only"), "%s", e.msg);
    /* reading needs no write access; deleting does */
    check_cli_reads(path, "list", "kept row", "read-only file");
    check_cli_reads(path, "show 1", "kept row", "read-only file");
    check_cli_reads(path, "search kept", "kept", "read-only file");
    check_cli_reads(path, "stats", "messages       2", "read-only file");
    check_cli_fails(path, "rm 1 --yes", true, "read-only file");
    T_CHECK(chmod(path, 0644) == 0, "chmod back");
    T_EQ_INT(ht_int(path, "SELECT count(*) FROM messages", 0, false), 2);

    char *dir2 = ht_path("rodir");
    char *path2 = ht_path("rodir/h.db");
    T_CHECK(mkdir(dir2, 0755) == 0, "mkdir");
    make_db(path2, 2);
    T_CHECK(chmod(path2, 0666) == 0 && chmod(dir2, 0555) == 0, "chmod");
    st = open_unprivileged(path2, &e);
    T_CHECK(st != CHORD_OK, "read-only directory refused");
    T_CHECK(one_line(e.msg) && ht_has(e.msg, path2), "%s", e.msg);
    printf("read-only directory: %s\n", e.msg);
    check_cli_reads(path2, "stats", "messages       2", "read-only directory");
    check_cli_reads(path2, "list", "kept row", "read-only directory");
    check_cli_reads(path2, "export 1 --format json", "\"kept row\"", "read-only directory");
    check_cli_fails(path2, "rm 1 --yes", true, "read-only directory");
    T_CHECK(chmod(dir2, 0755) == 0, "chmod back");
    T_EQ_INT(ht_int(path2, "SELECT count(*) FROM messages", 0, false), 2);
    T_CHECK(ht_integrity(path2), "integrity");
    free(dir);
    free(path);
    free(dir2);
    free(path2);
}

static void test_corrupt(void)
{
    char *garbage = ht_path("garbage.db");
    char bytes[8192];
    uint32_t x = 7;
    for (size_t i = 0; i < sizeof bytes; i++) {
        x = x * 1664525u + 1013904223u;
        bytes[i] = (char)(x >> 24);
    }
    T_CHECK(t_write_file(garbage, bytes, sizeof bytes), "write");
    hist *h;
    chord_err e;
    T_EQ_INT(hist_open(garbage, NULL, &h, &e), CHORD_E_FORMAT);
    T_CHECK(one_line(e.msg) && ht_has(e.msg, garbage) && ht_has(e.msg, "not a chord history database"),
            "%s", e.msg);
    check_cli_fails(garbage, "list", false, "garbage file");

    /* A real database whose pages were overwritten after the header. */
    char *broken = ht_path("broken.db");
    make_db(broken, 50);
    size_t len;
    char *db = t_read_file(broken, &len);
    T_CHECK(db && len > 8192, "db size %zu", len);
    if (db && len > 8192) {
        memcpy(db + 4096, bytes, len - 4096 < sizeof bytes ? len - 4096 : sizeof bytes);
        T_CHECK(t_write_file(broken, db, len), "write");
    }
    free(db);
    chord_status st = hist_open(broken, NULL, &h, &e);
    if (st == CHORD_OK) {   /* the damage may only show when the pages are read */
        hist_conv_row *rows;
        int n;
        st = hist_list(h, 0, &rows, &n, &e);
        if (st == CHORD_OK)
            hist_rows_free(rows, n);
        hist_close(h);
    }
    T_EQ_INT(st, CHORD_E_FORMAT);
    T_CHECK(one_line(e.msg) && ht_has(e.msg, broken), "%s", e.msg);
    free(garbage);
    free(broken);
}

static void test_locked(void)
{
    char *path = ht_path("locked.db");
    int64_t conv = make_db(path, 1);
    sqlite3 *other;
    if (sqlite3_open(path, &other) != SQLITE_OK) {
        T_CHECK(0, "raw open");
        return;
    }
    T_CHECK(sqlite3_exec(other, "BEGIN EXCLUSIVE; INSERT INTO conversations(model, created_at,"
                         " updated_at) VALUES ('lock', 0, 0);", NULL, NULL, NULL) == SQLITE_OK,
            "lock: %s", sqlite3_errmsg(other));
    hist_open_params p = {.busy_timeout_ms = 200};
    hist *h = NULL;
    chord_err e;
    T_CHECK(hist_open(path, &p, &h, &e) == CHORD_OK, "readers still open in WAL: %s", e.msg);
    if (h) {
        double t0 = now_ms();
        T_EQ_INT(hist_msg_add(h, conv, "user", "blocked", 7, NULL, NULL, &e), CHORD_E_IO);
        double waited = now_ms() - t0;
        T_CHECK(waited >= 150 && waited < 3000, "waited %.0f ms for a 200 ms timeout", waited);
        T_CHECK(one_line(e.msg) && ht_has(e.msg, path) && ht_has(e.msg, "locked"), "%s", e.msg);
        printf("locked: %s (after %.0f ms)\n", e.msg, waited);
    }
    /* The CLI waits its default 5 s, then gives up with exit 1. */
    check_cli_fails(path, "rm 1 --yes", false, "locked database");
    T_CHECK(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL) == SQLITE_OK, "unlock");
    sqlite3_close(other);
    T_CHECK(h && hist_msg_add(h, conv, "user", "free", 4, NULL, NULL, &e) == CHORD_OK,
            "after the lock: %s", e.msg);
    hist_close(h);
    T_EQ_INT(ht_int(path, "SELECT count(*) FROM messages", 0, false), 2);
    T_EQ_INT(ht_int(path, "SELECT count(*) FROM conversations", 0, false), 2);
    T_CHECK(ht_integrity(path), "integrity");
    free(path);
}

int main(void)
{
    /* Unprivileged children must reach files in our private temp dir. */
    T_REQUIRE(chmod(t_tmpdir(), 0755) == 0, "chmod tmpdir");
    test_disk_full();
    test_read_only();
    test_corrupt();
    test_locked();
    return t_done();
}
