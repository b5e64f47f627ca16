/*
 * test_migrate.c - a database written by the first schema (schema_v1.sql)
 * is upgraded in place by hist_open(): the version moves to the current
 * one, every row is kept and searchable, a v1 row left "streaming" (no
 * writer recorded) becomes "interrupted", and the upgraded file has exactly
 * the tables, columns, indexes and triggers of a fresh one. A file from a
 * newer chord is refused with a message naming it.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ht.h"
#include "t.h"

static bool raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    bool ok = sqlite3_open(path, &db) == SQLITE_OK &&
              sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK;
    if (!ok)
        fprintf(stderr, "raw exec: %s\n", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_close(db);
    return ok;
}

/* A description of every schema object and column, to compare files. */
static char *schema_of(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db,
            "SELECT m.type, m.name, m.tbl_name, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk"
            " FROM sqlite_master m LEFT JOIN pragma_table_info(m.name) p"
            " WHERE m.type IN ('table', 'index', 'trigger', 'view')"
            " ORDER BY m.type, m.name, p.cid", -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int i = 0; i < 8; i++)
                fprintf(f, "%s|", sqlite3_column_text(st, i) ? (const char *)sqlite3_column_text(st, i) : "-");
            fputc('\n', f);
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    fclose(f);
    return out;
}

int main(void)
{
    const char *tests = getenv("CHORD_TESTS");
    char sqlpath[4096];
    snprintf(sqlpath, sizeof sqlpath, "%s/hist/schema_v1.sql", tests ? tests : "tests");
    char *v1 = t_read_file(sqlpath, NULL);
    T_REQUIRE(v1, "read %s", sqlpath);

    char *path = ht_path("v1.db");
    T_REQUIRE(raw_exec(path, v1), "create v1");
    T_REQUIRE(raw_exec(path,
        "INSERT INTO conversations VALUES (1, 'Old talk', 'old.gguf', 'llama', 'Be brief.',"
        " '{\"temp\": 0}', 1700000000000, 1700000001000);"
        "INSERT INTO messages(conversation_id, seq, role, content, status, created_at) VALUES"
        " (1, 1, 'user', 'Tell me about lighthouses', 'complete', 1700000000000),"
        " (1, 2, 'assistant', 'Lighthouses guide ships', 'complete', 1700000000500),"
        " (1, 3, 'assistant', 'half an answ', 'streaming', 1700000000900);"), "rows");
    T_EQ_INT(ht_int(path, "PRAGMA user_version", 0, false), 1);

    hist *h = ht_open(path);
    T_REQUIRE(h, "open upgrades");
    T_EQ_INT(ht_int(path, "PRAGMA user_version", 0, false), hist_schema_version());
    T_CHECK(hist_schema_version() >= 2, "a migration exists");
    chord_err e;
    hist_conv *c;
    T_REQUIRE(hist_conv_load(h, 1, &c, &e) == CHORD_OK, "%s", e.msg);
    T_EQ_STR(c->title, "Old talk");
    T_EQ_STR(c->system_prompt, "Be brief.");
    T_EQ_INT(c->created_at, 1700000000000LL);
    T_REQUIRE(c->n_msgs == 3, "3 messages, got %d", c->n_msgs);
    T_EQ_STR(c->msgs[1].content, "Lighthouses guide ships");
    T_EQ_INT(c->msgs[2].status, HIST_INTERRUPTED);
    hist_conv_free(c);
    hist_hit *hits;
    int n;
    T_CHECK(hist_search(h, "lighthouse*", 10, NULL, NULL, &hits, &n, &e) == CHORD_OK && n == 2,
            "old rows searchable: %d", n);
    hist_hits_free(hits, n);
    int64_t id;
    T_CHECK(hist_msg_add(h, 1, "user", "more", 4, NULL, &id, &e) == CHORD_OK, "%s", e.msg);
    T_EQ_INT(ht_int(path, "SELECT seq FROM messages WHERE id = ?", id, true), 4);
    hist_close(h);
    T_CHECK(ht_integrity(path), "integrity after upgrade");

    /* Reopening an upgraded file changes nothing. */
    h = ht_open(path);
    T_CHECK(h, "reopen");
    hist_close(h);

    /* Same schema as a file created fresh by this build. */
    char *fresh = ht_path("fresh.db");
    h = ht_open(fresh);
    T_CHECK(h, "fresh");
    hist_close(h);
    char *s1 = schema_of(path), *s2 = schema_of(fresh);
    T_CHECK(s1 && s2 && strlen(s1) > 100 && !strcmp(s1, s2),
            "upgraded schema differs from fresh:\n%s\n--- fresh:\n%s", s1, s2);
    free(s1);
    free(s2);

    /* A newer schema is refused, untouched. */
    char *newer = ht_path("newer.db");
    T_REQUIRE(raw_exec(newer, "CREATE TABLE x(y); PRAGMA user_version = 99;"), "newer");
    T_EQ_INT(hist_open(newer, NULL, &h, &e), CHORD_E_UNSUPPORTED);
    T_CHECK(ht_has(e.msg, newer) && ht_has(e.msg, "99"), "%s", e.msg);
    T_EQ_INT(ht_int(newer, "PRAGMA user_version", 0, false), 99);

    free(v1);
    free(path);
    free(fresh);
    free(newer);
    return t_done();
}
