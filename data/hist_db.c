/*
 * hist_db.c - opening a history database: the file, the connection's
 * settings, the schema and its forward migrations, and crash recovery of
 * messages whose writer died mid-stream. Also the error helpers every
 * hist_*.c file uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hist_int.h"

/* ---------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------- */

chord_status hist_err(const hist *h, chord_err *err, chord_status st,
                      const char *fmt, ...)
{
    /* the handle is ours (malloc'd), const only for the callers' sake */
    if (h)
        ((hist *)h)->locked = false;
    if (!err)
        return st;
    int n = snprintf(err->msg, sizeof err->msg, "history %s: ",
                     h && h->path ? h->path : "(none)");
    if (n < 0 || (size_t)n >= sizeof err->msg)
        return st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, ap);
    va_end(ap);
    /* Messages are one line even when SQLite's text or a path is not. */
    for (char *p = err->msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return st;
}

chord_status hist_sqlerr(const hist *h, chord_err *err, int rc, const char *doing)
{
    const char *sqlmsg = h && h->db ? sqlite3_errmsg(h->db) : sqlite3_errstr(rc);
    int sys = h && h->db ? sqlite3_system_errno(h->db) : 0;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: {
        chord_status st = hist_err(h, err, CHORD_E_IO,
                                   "database is locked by another process (waited %d ms, while %s)",
                                   h ? h->busy_ms : 0, doing);
        if (h)
            ((hist *)h)->locked = true;
        return st;
    }
    case SQLITE_FULL:
        return hist_err(h, err, CHORD_E_IO, "disk full or size limit reached (while %s)", doing);
    case SQLITE_READONLY:
        return hist_err(h, err, CHORD_E_IO,
                        "file or its directory is read-only (while %s): %s", doing, sqlmsg);
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return hist_err(h, err, CHORD_E_FORMAT,
                        "not a chord history database, or corrupt (while %s): %s", doing, sqlmsg);
    case SQLITE_NOMEM:
        return hist_err(h, err, CHORD_E_NOMEM, "out of memory (while %s)", doing);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_PERM:
        if (sys)
            return hist_err(h, err, CHORD_E_IO, "%s (while %s): %s", sqlmsg, doing, strerror(sys));
        return hist_err(h, err, CHORD_E_IO, "%s (while %s)", sqlmsg, doing);
    default:
        return hist_err(h, err, CHORD_E_IO, "%s (while %s)", sqlmsg, doing);
    }
}

chord_status hist_prep(hist *h, const char *sql, sqlite3_stmt **st,
                       const char *doing, chord_err *err)
{
    *st = NULL;
    int rc = sqlite3_prepare_v2(h->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
        return hist_sqlerr(h, err, rc, doing);
    }
    return CHORD_OK;
}

static chord_status exec_sql(hist *h, const char *sql, const char *doing, chord_err *err)
{
    int rc = sqlite3_exec(h->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? CHORD_OK : hist_sqlerr(h, err, rc, doing);
}

chord_status hist_tx_begin(hist *h, const char *doing, chord_err *err)
{
    return exec_sql(h, "BEGIN IMMEDIATE", doing, err);
}

chord_status hist_tx_commit(hist *h, const char *doing, chord_err *err)
{
    chord_status st = exec_sql(h, "COMMIT", doing, err);
    if (st != CHORD_OK)
        hist_tx_rollback(h);
    return st;
}

void hist_tx_rollback(hist *h)
{
    if (!sqlite3_get_autocommit(h->db))
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
}

chord_status hist_check_writable(const hist *h, chord_err *err)
{
    if (h->read_only)
        return hist_err(h, err, CHORD_E_INVALID, "opened read-only");
    return CHORD_OK;
}

char *hist_col_dup(sqlite3_stmt *st, int i, size_t *len, bool *oom)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        if (len)
            *len = 0;
        return NULL;
    }
    const unsigned char *s = sqlite3_column_text(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    char *d = malloc(n + 1);
    if (!d) {
        *oom = true;
        return NULL;
    }
    if (n)
        memcpy(d, s, n);
    d[n] = 0;
    if (len)
        *len = n;
    return d;
}

int64_t hist_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hist_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *const status_names[] = {"complete", "streaming", "interrupted", "error"};

const char *hist_status_name(hist_msg_status st)
{
    return (unsigned)st < 4 ? status_names[st] : "error";
}

hist_msg_status hist_status_parse(const char *s)
{
    for (int i = 0; s && i < 4; i++)
        if (!strcmp(s, status_names[i]))
            return (hist_msg_status)i;
    return HIST_ERROR;
}

/* ---------------------------------------------------------------------------
 * Schema. Version 1 is the first schema (tests/hist/schema_v1.sql is the
 * same text); each later version is a forward step from the one before. A
 * new file runs every step, so the migration path is the one always tested.
 * ------------------------------------------------------------------------- */

static const char schema_v1[] =
    "CREATE TABLE conversations("
    " id INTEGER PRIMARY KEY,"
    " title TEXT,"
    " model TEXT NOT NULL,"
    " arch TEXT,"
    " system_prompt TEXT,"
    " params_json TEXT NOT NULL DEFAULT '{}',"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE TABLE messages("
    " id INTEGER PRIMARY KEY,"
    " conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL,"
    " role TEXT NOT NULL CHECK (role IN ('system','user','assistant')),"
    " content TEXT NOT NULL DEFAULT '',"
    " status TEXT NOT NULL DEFAULT 'complete'"
    "  CHECK (status IN ('complete','streaming','interrupted','error')),"
    " n_prompt INTEGER NOT NULL DEFAULT 0,"
    " n_gen INTEGER NOT NULL DEFAULT 0,"
    " prompt_ms REAL NOT NULL DEFAULT 0,"
    " gen_ms REAL NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL,"
    " UNIQUE (conversation_id, seq));"
    /* External-content FTS5: the text lives once, in messages. */
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    " content, content='messages', content_rowid='id');"
    "CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN"
    " INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);"
    " END;"
    "CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN"
    " INSERT INTO messages_fts(messages_fts, rowid, content)"
    "  VALUES ('delete', old.id, old.content);"
    " END;"
    "CREATE TRIGGER messages_fts_au AFTER UPDATE OF content ON messages BEGIN"
    " INSERT INTO messages_fts(messages_fts, rowid, content)"
    "  VALUES ('delete', old.id, old.content);"
    " INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);"
    " END;";

/* Version 2: who is writing a streaming row (for crash recovery); the
 * indexes that keep list, recovery and the prompt history fast; and a
 * search index that sees a message only once it stops streaming, so a flush
 * (every 32 tokens) no longer re-indexes the whole growing text. The index
 * reads its content through a view that shows '' for streaming rows; the
 * triggers keep it equal to that view (which FTS5's integrity-check
 * verifies), and a flush that leaves a row streaming touches no index. */
static const char schema_v2[] =
    "ALTER TABLE messages ADD COLUMN writer_pid INTEGER;"
    "ALTER TABLE messages ADD COLUMN writer_start INTEGER;"
    "CREATE INDEX conversations_by_activity ON conversations(updated_at, id);"
    "CREATE INDEX messages_streaming ON messages(status) WHERE status = 'streaming';"
    "CREATE INDEX messages_by_role ON messages(role, id);"
    "DROP TRIGGER messages_fts_ai;"
    "DROP TRIGGER messages_fts_ad;"
    "DROP TRIGGER messages_fts_au;"
    "DROP TABLE messages_fts;"
    "CREATE VIEW messages_searchable AS SELECT id,"
    " CASE WHEN status = 'streaming' THEN '' ELSE content END AS content FROM messages;"
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    " content, content='messages_searchable', content_rowid='id');"
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');"
    "CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN"
    " INSERT INTO messages_fts(rowid, content) VALUES (new.id,"
    "  CASE WHEN new.status = 'streaming' THEN '' ELSE new.content END);"
    " END;"
    "CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN"
    " INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id,"
    "  CASE WHEN old.status = 'streaming' THEN '' ELSE old.content END);"
    " END;"
    "CREATE TRIGGER messages_fts_au AFTER UPDATE OF content, status ON messages"
    " WHEN old.status <> 'streaming' OR new.status <> 'streaming' BEGIN"
    " INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id,"
    "  CASE WHEN old.status = 'streaming' THEN '' ELSE old.content END);"
    " INSERT INTO messages_fts(rowid, content) VALUES (new.id,"
    "  CASE WHEN new.status = 'streaming' THEN '' ELSE new.content END);"
    " END;";

/* Version 3: a reasoning model's thinking, kept beside the answer rather
 * than in it (search, titles and exports of the answer stay clean). */
static const char schema_v3[] =
    "ALTER TABLE messages ADD COLUMN reasoning TEXT NOT NULL DEFAULT '';";

/* Version 4: a turn taken back in the chat (/retry, /edit: 1, an
 * alternative; /undo: 2, removed) stays, marked (hist_turn_mark). */
static const char schema_v4[] =
    "ALTER TABLE messages ADD COLUMN superseded INTEGER NOT NULL DEFAULT 0;";

static const char *const migrations[] = {schema_v1, schema_v2, schema_v3, schema_v4};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

int hist_schema_version(void)
{
    return SCHEMA_VERSION;
}

bool hist_locked(const hist *h)
{
    return h && h->locked;
}

/* Refuses a SQLite file of another program: one with tables but without
 * chord's two. Runs before anything could write (the WAL switch rewrites
 * the header), so a refused file is left byte for byte as it was. */
static chord_status check_ours(hist *h, chord_err *err)
{
    const char *doing = "reading the tables";
    sqlite3_stmt *q;
    chord_status st = hist_prep(h,
        "SELECT (SELECT count(*) FROM sqlite_master"
        "        WHERE type = 'table' AND name NOT LIKE 'sqlite_%'),"
        " (SELECT count(*) FROM pragma_table_info('conversations')"
        "  WHERE name IN ('title', 'model', 'params_json')),"
        " (SELECT count(*) FROM pragma_table_info('messages')"
        "  WHERE name IN ('conversation_id', 'seq', 'role', 'content', 'status')),"
        " (SELECT group_concat(name, ', ') FROM (SELECT name FROM sqlite_master"
        "  WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name LIMIT 5))",
        &q, doing, err);
    if (st != CHORD_OK)
        return st;
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        st = hist_sqlerr(h, err, rc, doing);
        sqlite3_finalize(q);
        return st;
    }
    int n = sqlite3_column_int(q, 0);
    bool ours = sqlite3_column_int(q, 1) == 3 && sqlite3_column_int(q, 2) == 5;
    if (n > 0 && !ours) {
        h->foreign = true;
        const unsigned char *names = sqlite3_column_text(q, 3);
        st = hist_err(h, err, CHORD_E_FORMAT,
                      "a SQLite database of another program (tables %s%s), not chord's history;"
                      " left untouched (give --db a new file)",
                      names ? (const char *)names : "?", n > 5 ? ", ..." : "");
    }
    sqlite3_finalize(q);
    return st;
}

static chord_status read_version(hist *h, int *version, chord_err *err)
{
    sqlite3_stmt *st;
    chord_status s0 = hist_prep(h, "PRAGMA user_version", &st, "reading the schema version", err);
    if (s0 != CHORD_OK)
        return s0;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        chord_status s = hist_sqlerr(h, err, rc, "reading the schema version");
        sqlite3_finalize(st);
        return s;
    }
    *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return CHORD_OK;
}

static chord_status too_new(hist *h, int version, chord_err *err)
{
    return hist_err(h, err, CHORD_E_UNSUPPORTED,
                    "schema version %d is newer than this chord understands (%d)",
                    version, SCHEMA_VERSION);
}

/* Brings the schema to SCHEMA_VERSION. The version is read again inside
 * the write transaction: another process may have upgraded meanwhile. */
static chord_status migrate(hist *h, chord_err *err)
{
    int version;
    chord_status st = read_version(h, &version, err);
    if (st != CHORD_OK)
        return st;
    if (version > SCHEMA_VERSION)
        return too_new(h, version, err);
    if (version == SCHEMA_VERSION)
        return CHORD_OK;
    if ((st = hist_tx_begin(h, "upgrading the schema", err)) != CHORD_OK)
        return st;
    if ((st = read_version(h, &version, err)) != CHORD_OK)
        goto fail;
    if (version > SCHEMA_VERSION) {
        st = too_new(h, version, err);
        goto fail;
    }
    for (int v = version; v < SCHEMA_VERSION; v++) {
        char doing[64];
        snprintf(doing, sizeof doing, "upgrading the schema to version %d", v + 1);
        if ((st = exec_sql(h, migrations[v], doing, err)) != CHORD_OK)
            goto fail;
    }
    /* PRAGMA takes no bound parameters; the value is our own constant. */
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", SCHEMA_VERSION);
    if ((st = exec_sql(h, sql, "recording the schema version", err)) != CHORD_OK)
        goto fail;
    return hist_tx_commit(h, "upgrading the schema", err);
fail:
    hist_tx_rollback(h);
    return st;
}

/* ---------------------------------------------------------------------------
 * Crash recovery
 * ------------------------------------------------------------------------- */

/* Reads a process's state letter and start time (clock ticks since boot,
 * field 22 of /proc/PID/stat). False if there is no such process. */
static bool proc_info(long pid, char *state, long long *start)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* The command name (field 2) may hold spaces and parentheses: the
     * fields that follow start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return false;
    p += 2;
    *state = *p;
    *start = 0;
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    if (p)
        *start = atoll(p);
    return true;
}

void hist_writer_self(long *pid, long long *start)
{
    char state;
    *pid = (long)getpid();
    if (!proc_info(*pid, &state, start))
        *start = 0;
}

/* Whether the process that wrote a streaming row is still running: same
 * pid, not a zombie, and (when both are known) the same start time, so a
 * recycled pid does not keep a dead writer's row "streaming" forever. */
static bool writer_alive(long pid, long long start)
{
    if (pid <= 0)
        return false;   /* written before version 2 recorded writers */
    char state;
    long long now_start;
    if (proc_info(pid, &state, &now_start))
        return state != 'Z' && state != 'X' && (start == 0 || now_start == start);
    /* No /proc: fall back to signal 0 (EPERM still means it exists). */
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static chord_status recover(hist *h, chord_err *err)
{
    const char *doing = "marking interrupted messages";
    sqlite3_stmt *q;
    chord_status st = hist_prep(h,
        "SELECT id, writer_pid, writer_start FROM messages WHERE status = 'streaming'",
        &q, doing, err);
    if (st != CHORD_OK)
        return st;
    int64_t *dead = NULL;
    size_t n_dead = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (writer_alive((long)sqlite3_column_int64(q, 1), sqlite3_column_int64(q, 2)))
            continue;
        if (n_dead == cap) {
            cap = cap ? cap * 2 : 16;
            int64_t *d = realloc(dead, cap * sizeof *d);
            if (!d) {
                st = hist_err(h, err, CHORD_E_NOMEM, "out of memory (while %s)", doing);
                break;
            }
            dead = d;
        }
        dead[n_dead++] = sqlite3_column_int64(q, 0);
    }
    if (st == CHORD_OK && rc != SQLITE_DONE)
        st = hist_sqlerr(h, err, rc, doing);
    sqlite3_finalize(q);
    if (st != CHORD_OK || n_dead == 0) {
        free(dead);
        return st;
    }
    if ((st = hist_tx_begin(h, doing, err)) != CHORD_OK) {
        free(dead);
        return st;
    }
    /* Only rows still streaming: another process may have recovered them. */
    sqlite3_stmt *u;
    st = hist_prep(h,
        "UPDATE messages SET status = 'interrupted' WHERE id = ? AND status = 'streaming'",
        &u, doing, err);
    for (size_t i = 0; u && i < n_dead; i++) {
        sqlite3_bind_int64(u, 1, dead[i]);
        rc = sqlite3_step(u);
        sqlite3_reset(u);
        if (rc != SQLITE_DONE) {
            st = hist_sqlerr(h, err, rc, doing);
            break;
        }
    }
    sqlite3_finalize(u);
    free(dead);
    if (st != CHORD_OK) {
        hist_tx_rollback(h);
        return st;
    }
    return hist_tx_commit(h, doing, err);
}

/* ---------------------------------------------------------------------------
 * Opening and closing
 * ------------------------------------------------------------------------- */

char *hist_default_path(chord_err *err)
{
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    const char *base, *sub;
    if (xdg && xdg[0] == '/') {   /* the spec ignores relative values */
        base = xdg;
        sub = "/chord/history.db";
    } else if (home && home[0]) {
        base = home;
        sub = "/.local/share/chord/history.db";
    } else {
        if (err)
            snprintf(err->msg, sizeof err->msg,
                     "history: neither XDG_DATA_HOME nor HOME is set: pass --db PATH");
        return NULL;
    }
    size_t n = strlen(base) + strlen(sub) + 1;
    char *p = malloc(n);
    if (!p) {
        if (err)
            snprintf(err->msg, sizeof err->msg, "history: out of memory");
        return NULL;
    }
    snprintf(p, n, "%s%s", base, sub);
    return p;
}

/* mkdir -p of path's directory part, new directories 0700. */
static chord_status make_parents(hist *h, chord_err *err)
{
    char *dir = strdup(h->path);
    if (!dir)
        return hist_err(h, err, CHORD_E_NOMEM, "out of memory");
    char *slash = strrchr(dir, '/');
    chord_status st = CHORD_OK;
    if (slash && slash != dir) {
        *slash = 0;
        for (char *p = dir + 1; ; p++) {
            if (*p == '/' || *p == 0) {
                char c = *p;
                *p = 0;
                if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
                    st = hist_err(h, err, CHORD_E_IO, "cannot create directory %s: %s",
                                  dir, strerror(errno));
                    break;
                }
                *p = c;
                if (c == 0)
                    break;
            }
        }
    }
    free(dir);
    return st;
}

/* Creates the file with mode 0600 if it does not exist yet, so history is
 * private from its first byte (SQLite would use 0644 under most umasks, and
 * gives -wal and -shm the main file's mode). */
static chord_status create_private(hist *h, chord_err *err)
{
    int fd = open(h->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        return CHORD_OK;
    }
    if (errno == EEXIST)
        return CHORD_OK;
    return hist_err(h, err, CHORD_E_IO, "cannot create: %s", strerror(errno));
}

/* PRAGMA journal_mode = WAL on a file still in rollback mode needs the
 * exclusive lock. When two processes switch the same new file at once,
 * SQLite answers one of them SQLITE_BUSY at once, without calling the
 * busy handler (it holds a shared lock the other waits on: waiting could
 * deadlock), so the busy timeout does not cover this step; CI saw a fresh
 * race fail here after 1 s under ASan. Retry until the same timeout. */
static chord_status switch_to_wal(hist *h, chord_err *err)
{
    const int64_t end = hist_mono_ms() + h->busy_ms;
    for (;;) {
        int rc = sqlite3_exec(h->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return CHORD_OK;
        if ((rc & 0xff) != SQLITE_BUSY || hist_mono_ms() >= end)
            return hist_sqlerr(h, err, rc, "switching to WAL");
        sqlite3_sleep(5);
    }
}

static chord_status configure(hist *h, const hist_open_params *p, chord_err *err)
{
    chord_status st;
    sqlite3_busy_timeout(h->db, h->busy_ms);
    sqlite3_extended_result_codes(h->db, 1);
    if ((st = exec_sql(h, "PRAGMA foreign_keys = ON", "configuring", err)) != CHORD_OK)
        return st;
    if (p && p->max_pages > 0) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)p->max_pages);
        if ((st = exec_sql(h, sql, "setting the size limit", err)) != CHORD_OK)
            return st;
    }
    /* The first real read: a file that is not SQLite fails here. */
    int version;
    if ((st = read_version(h, &version, err)) != CHORD_OK)
        return st;
    if (version > SCHEMA_VERSION)
        return too_new(h, version, err);
    if ((st = check_ours(h, err)) != CHORD_OK)
        return st;
    h->version = version;
    if (h->read_only) {
        /* Reading needs no upgrade from version 2 on: a column added later
         * reads as its default (hist_read.c asks h->version). */
        if (version < 2)
            return hist_err(h, err, CHORD_E_UNSUPPORTED,
                            "schema version %d, expected %d (open it read-write once to upgrade)",
                            version, SCHEMA_VERSION);
        return CHORD_OK;
    }
    /* WAL lets readers work while one process writes, and makes a commit
     * durable against a crash of the process without an fsync per flush
     * (synchronous=NORMAL). */
    if ((st = switch_to_wal(h, err)) != CHORD_OK)
        return st;
    if ((st = exec_sql(h, "PRAGMA synchronous = NORMAL", "configuring", err)) != CHORD_OK)
        return st;
    if ((st = migrate(h, err)) != CHORD_OK)
        return st;
    h->version = SCHEMA_VERSION;
    return recover(h, err);
}

/* Whether the directory that holds path can be written (to create the
 * -wal and -shm files a WAL database needs). */
static bool dir_writable(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return access(".", W_OK) == 0;
    if (slash == path)
        return access("/", W_OK) == 0;
    char *dir = strndup(path, (size_t)(slash - path));
    bool ok = dir && access(dir, W_OK) == 0;
    free(dir);
    return ok;
}

/* The file: URI for a read-only open: mode=ro, or immutable=1 when we
 * cannot write the file or its directory and no -shm exists (so no other
 * process has the file open: nothing changes under us). A -shm we created
 * beside a file we cannot write would be ours and read-only, and would
 * keep its owner from writing; one we cannot create fails the open. The
 * path is percent-encoded where URIs need it. */
static char *ro_uri(const char *path)
{
    char shm[4096];
    bool immutable = (!dir_writable(path) || access(path, W_OK) != 0) &&
                     snprintf(shm, sizeof shm, "%s-shm", path) < (int)sizeof shm &&
                     access(shm, F_OK) != 0;
    size_t n = strlen(path);
    char *u = malloc(3 * n + 32);
    if (!u)
        return NULL;
    char *o = u + sprintf(u, "file:");
    for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
        if (*c == '?' || *c == '#' || *c == '%' || *c < 0x20)
            o += sprintf(o, "%%%02X", *c);
        else
            *o++ = (char)*c;
    }
    strcpy(o, immutable ? "?immutable=1" : "?mode=ro");
    return u;
}

chord_status hist_open(const char *path, const hist_open_params *p, hist **out,
                       chord_err *err)
{
    *out = NULL;
    hist *h = calloc(1, sizeof *h);
    if (!h) {
        if (err)
            snprintf(err->msg, sizeof err->msg, "history: out of memory");
        return CHORD_E_NOMEM;
    }
    h->read_only = p && p->read_only;
    h->busy_ms = p && p->busy_timeout_ms > 0 ? p->busy_timeout_ms : 5000;
    h->path = path ? strdup(path) : hist_default_path(err);
    if (!h->path) {
        free(h);
        if (path && err)
            snprintf(err->msg, sizeof err->msg, "history: out of memory");
        return path ? CHORD_E_NOMEM : CHORD_E_INVALID;
    }
    bool must_exist = h->read_only || (p && p->must_exist);
    chord_status st = CHORD_OK;
    if (!path && !must_exist)
        st = make_parents(h, err);
    if (st == CHORD_OK && must_exist && access(h->path, F_OK) != 0)
        st = errno == ENOENT
            ? hist_err(h, err, CHORD_E_IO, "no such file (nothing was recorded there; check the path)")
            : hist_err(h, err, CHORD_E_IO, "cannot open: %s", strerror(errno));
    if (st == CHORD_OK && !h->read_only)
        st = create_private(h, err);
    char *uri = NULL;
    if (st == CHORD_OK && h->read_only && !(uri = ro_uri(h->path)))
        st = hist_err(h, err, CHORD_E_NOMEM, "out of memory");
    if (st == CHORD_OK) {
        int flags = (h->read_only ? SQLITE_OPEN_READONLY | SQLITE_OPEN_URI : SQLITE_OPEN_READWRITE) |
                    SQLITE_OPEN_NOMUTEX;
        int rc = sqlite3_open_v2(uri ? uri : h->path, &h->db, flags, NULL);
        if (rc != SQLITE_OK)
            st = hist_sqlerr(h, err, rc, "opening");
        else if (!h->read_only && sqlite3_db_readonly(h->db, "main") == 1)
            st = hist_err(h, err, CHORD_E_IO, "file is read-only");
    }
    free(uri);
    if (st == CHORD_OK)
        st = configure(h, p, err);
    if (st != CHORD_OK) {
        if (p && p->locked)
            *p->locked = h->locked;
        if (p && p->foreign)
            *p->foreign = h->foreign;
        sqlite3_close(h->db);
        free(h->path);
        free(h);
        return st;
    }
    *out = h;
    return CHORD_OK;
}

void hist_set_busy_timeout(hist *h, int ms)
{
    if (!h || ms <= 0)
        return;
    h->busy_ms = ms;
    sqlite3_busy_timeout(h->db, ms);
}

void hist_close(hist *h)
{
    if (!h)
        return;
    if (h->s_active) {
        chord_err ignored;
        hist_stream_end(h, HIST_INTERRUPTED, NULL, &ignored);
    }
    free(h->s_buf);
    free(h->s_rbuf);
    /* sqlite3_close fails only with unfinalized statements, and every
     * function here finalizes its own. */
    sqlite3_close(h->db);
    free(h->path);
    free(h);
}

const char *hist_path(const hist *h)
{
    return h->path;
}

chord_status hist_conv_check(hist *h, int64_t conv, const char *doing, chord_err *err)
{
    sqlite3_stmt *q;
    chord_status st = hist_prep(h, "SELECT 1 FROM conversations WHERE id = ?", &q, doing, err);
    if (st != CHORD_OK)
        return st;
    sqlite3_bind_int64(q, 1, conv);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return CHORD_OK;
    if (rc == SQLITE_DONE)
        return hist_err(h, err, CHORD_E_INVALID, "no conversation %lld", (long long)conv);
    return hist_sqlerr(h, err, rc, doing);
}
