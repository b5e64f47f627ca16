/* ht.c - see ht.h. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ht.h"
#include "t.h"

char *ht_path(const char *name)
{
    size_t n = strlen(t_tmpdir()) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", t_tmpdir(), name);
    return p;
}

hist *ht_open(const char *path)
{
    hist *h;
    chord_err e;
    if (hist_open(path, NULL, &h, &e) != CHORD_OK) {
        fprintf(stderr, "hist_open: %s\n", e.msg);
        return NULL;
    }
    return h;
}

static sqlite3_stmt *raw_query(const char *path, sqlite3 **db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(*db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "raw query '%s': %s\n", sql, sqlite3_errmsg(*db));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

long long ht_int(const char *path, const char *sql, long long arg, bool has_arg)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = raw_query(path, &db, sql);
    long long v = -1;
    if (st) {
        if (has_arg)
            sqlite3_bind_int64(st, 1, arg);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

char *ht_text(const char *path, const char *sql, long long arg)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = raw_query(path, &db, sql);
    char *v = NULL;
    if (st) {
        sqlite3_bind_int64(st, 1, arg);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            v = strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

bool ht_integrity(const char *path)
{
    char *ok = ht_text(path, "PRAGMA integrity_check", 0);
    bool good = ok && !strcmp(ok, "ok");
    if (!good)
        fprintf(stderr, "integrity_check: %s\n", ok ? ok : "(failed)");
    free(ok);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)",
                     NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "fts integrity-check: %s\n", sqlite3_errmsg(db));
        good = false;
    }
    sqlite3_close(db);
    return good;
}

bool ht_has(const char *s, const char *needle)
{
    return s && needle && strstr(s, needle) != NULL;
}
