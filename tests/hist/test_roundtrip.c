/*
 * test_roundtrip.c - what goes in comes back: Unicode, a 1 MB message and an
 * empty one survive a round trip byte for byte; titles are cut on UTF-8
 * boundaries; search finds words and prefixes, ranks by bm25 and takes any
 * user text without an FTS syntax error; export is valid JSON with the same
 * content; rm removes the messages and their search entries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ht.h"
#include "t.h"

static const char *const uni =
    "H\xc3\xa9llo w\xc3\xb6rld \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
    "\xf0\x9f\x99\x82 lighthouse keeper\n\tsecond   line";

/* A deterministic 1 MiB text of words, ending with a rare word. */
static char *big_text(size_t n)
{
    static const char *const words[] = {"alpha", "beta", "gamma", "delta", "river", "stone"};
    char *s = malloc(n + 1);
    size_t o = 0;
    uint32_t x = 12345;
    while (s && o < n) {
        x = x * 1103515245u + 12345u;
        const char *w = words[(x >> 16) % 6];
        for (size_t i = 0; w[i] && o < n; i++)
            s[o++] = w[i];
        if (o < n)
            s[o++] = (x >> 8) % 13 ? ' ' : '\n';
    }
    if (s) {
        memcpy(s + n - 6, " zebra", 6);
        s[n] = 0;
    }
    return s;
}

static void test_titles(void)
{
    char t[512];
    size_t n = hist_title_from("  Hello\n\n  there\tfriend  ", t, sizeof t);
    T_EQ_STR(t, "Hello there friend");
    T_EQ_INT(n, 18);
    /* 100 two-byte characters: 60 kept, then "...". */
    char in[256] = {0};
    for (int i = 0; i < 100; i++)
        memcpy(in + 2 * i, "\xc3\xa9", 2);
    n = hist_title_from(in, t, sizeof t);
    T_EQ_INT(n, 120 + 3);
    T_CHECK(!memcmp(t + 120, "...", 4), "title ends in ...: %s", t);
    /* A small buffer still ends on a character boundary: 4-byte emoji. */
    n = hist_title_from("\xf0\x9f\x99\x82\xf0\x9f\x99\x82\xf0\x9f\x99\x82", t, 11);
    T_EQ_INT(n, 8 + 0);   /* two emoji fit with the NUL; "..." no longer does */
    T_CHECK(!memcmp(t, "\xf0\x9f\x99\x82\xf0\x9f\x99\x82", 9), "cut on a boundary");
    T_EQ_INT(hist_title_from("", t, sizeof t), 0);
}

static void test_default_path(void)
{
    char *xdg = ht_path("xdg");
    setenv("XDG_DATA_HOME", xdg, 1);
    chord_err e;
    char *p = hist_default_path(&e);
    char want[4096];
    snprintf(want, sizeof want, "%s/chord/history.db", xdg);
    T_EQ_STR(p, want);
    hist *h = NULL;
    T_CHECK(hist_open(NULL, NULL, &h, &e) == CHORD_OK, "open default: %s", e.msg);
    if (!h)
        return;
    T_EQ_STR(hist_path(h), want);
    hist_close(h);
    struct stat sb;
    snprintf(want, sizeof want, "%s/chord", xdg);
    T_CHECK(stat(want, &sb) == 0 && (sb.st_mode & 0777) == 0700, "%s mode %o", want,
            (unsigned)(sb.st_mode & 0777));
    T_CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600, "%s mode %o", p,
            (unsigned)(sb.st_mode & 0777));
    free(p);
    free(xdg);
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", "/home/someone", 1);
    p = hist_default_path(&e);
    T_EQ_STR(p, "/home/someone/.local/share/chord/history.db");
    free(p);
}

int main(void)
{
    test_titles();
    test_default_path();

    char *path = ht_path("h.db");
    hist *h = ht_open(path);
    T_REQUIRE(h, "open");
    T_EQ_INT(ht_int(path, "PRAGMA user_version", 0, false), hist_schema_version());
    char *mode = ht_text(path, "PRAGMA journal_mode", 0);
    T_EQ_STR(mode, "wal");
    free(mode);

    chord_err e;
    int64_t c1, c2, m;
    hist_conv_params cp = {"tiny.gguf", "llama", "You are terse.", "{\"temp\": 0.7, \"seed\": 42}"};
    T_REQUIRE(hist_conv_create(h, &cp, &c1, &e) == CHORD_OK, "%s", e.msg);
    hist_conv_params bad = {"tiny.gguf", NULL, NULL, "{temp"};
    T_EQ_INT(hist_conv_create(h, &bad, &m, &e), CHORD_E_INVALID);

    size_t big_n = 1 << 20;
    char *big = big_text(big_n);
    T_REQUIRE(big, "alloc");
    hist_counts cnt = {12, 345, 67.5, 8901.25};
    T_CHECK(hist_msg_add(h, c1, "user", uni, strlen(uni), NULL, &m, &e) == CHORD_OK, "%s", e.msg);
    T_CHECK(hist_msg_add(h, c1, "assistant", big, big_n, &cnt, NULL, &e) == CHORD_OK, "%s", e.msg);
    T_CHECK(hist_msg_add(h, c1, "user", "", 0, NULL, NULL, &e) == CHORD_OK, "%s", e.msg);
    T_CHECK(hist_msg_add(h, c1, "assistant", "", 0, NULL, NULL, &e) == CHORD_OK, "%s", e.msg);
    T_EQ_INT(hist_msg_add(h, c1, "robot", "x", 1, NULL, NULL, &e), CHORD_E_INVALID);
    T_EQ_INT(hist_msg_add(h, 9999, "user", "x", 1, NULL, NULL, &e), CHORD_E_INVALID);
    T_CHECK(ht_has(e.msg, path) && ht_has(e.msg, "no conversation 9999"), "%s", e.msg);

    hist_conv *c;
    T_REQUIRE(hist_conv_load(h, c1, &c, &e) == CHORD_OK, "%s", e.msg);
    T_EQ_STR(c->title, "H\xc3\xa9llo w\xc3\xb6rld \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
                       "\xf0\x9f\x99\x82 lighthouse keeper second line");
    T_EQ_STR(c->model, "tiny.gguf");
    T_EQ_STR(c->arch, "llama");
    T_EQ_STR(c->system_prompt, "You are terse.");
    T_EQ_STR(c->params_json, "{\"temp\": 0.7, \"seed\": 42}");
    T_REQUIRE(c->n_msgs == 4, "4 messages, got %d", c->n_msgs);
    T_EQ_STR(c->msgs[0].content, uni);
    T_EQ_STR(c->msgs[0].role, "user");
    T_EQ_INT(c->msgs[1].len, big_n);
    T_CHECK(!memcmp(c->msgs[1].content, big, big_n), "1 MiB message differs");
    T_EQ_INT(c->msgs[1].counts.n_prompt, 12);
    T_EQ_INT(c->msgs[1].counts.n_gen, 345);
    T_CHECK(c->msgs[1].counts.gen_ms == 8901.25, "gen_ms %f", c->msgs[1].counts.gen_ms);
    T_EQ_INT(c->msgs[2].len, 0);
    T_EQ_STR(c->msgs[3].content, "");
    for (int i = 0; i < 4; i++) {
        T_EQ_INT(c->msgs[i].seq, i + 1);
        T_EQ_INT(c->msgs[i].status, HIST_COMPLETE);
    }
    hist_conv_free(c);

    /* A second conversation, denser in "lighthouse": bm25 puts it first. */
    hist_conv_params cp2 = {"other.gguf", "qwen2", NULL, NULL};
    T_REQUIRE(hist_conv_create(h, &cp2, &c2, &e) == CHORD_OK, "%s", e.msg);
    const char *dense = "lighthouse lighthouse lighthouse";
    T_CHECK(hist_msg_add(h, c2, "user", dense, strlen(dense), NULL, NULL, &e) == CHORD_OK, "%s", e.msg);
    /* An empty first prompt leaves the title to the next one. */
    int64_t c3;
    T_REQUIRE(hist_conv_create(h, &cp2, &c3, &e) == CHORD_OK, "%s", e.msg);
    T_CHECK(hist_msg_add(h, c3, "user", " \n ", 3, NULL, NULL, &e) == CHORD_OK, "%s", e.msg);
    T_CHECK(hist_msg_add(h, c3, "user", "Real question?", 14, NULL, NULL, &e) == CHORD_OK, "%s", e.msg);
    T_CHECK(hist_msg_add(h, c3, "user", "Later one", 9, NULL, NULL, &e) == CHORD_OK, "%s", e.msg);
    char *title = ht_text(path, "SELECT title FROM conversations WHERE id = ?", c3);
    T_EQ_STR(title, "Real question?");
    free(title);
    T_CHECK(hist_conv_set_title(h, c3, "  Renamed\n", &e) == CHORD_OK, "%s", e.msg);
    title = ht_text(path, "SELECT title FROM conversations WHERE id = ?", c3);
    T_EQ_STR(title, "Renamed");
    free(title);
    T_EQ_INT(hist_conv_set_title(h, 424242, "x", &e), CHORD_E_INVALID);
    T_CHECK(hist_conv_delete(h, c3, &e) == CHORD_OK, "%s", e.msg);

    int64_t last;
    T_CHECK(hist_conv_last(h, &last, &e) == CHORD_OK && last == c2, "last %lld", (long long)last);

    hist_hit *hits;
    int n;
    T_REQUIRE(hist_search(h, "lighthouse", 10, NULL, NULL, &hits, &n, &e) == CHORD_OK, "%s", e.msg);
    T_EQ_INT(n, 2);
    if (n == 2) {
        T_EQ_INT(hits[0].conv_id, c2);
        T_EQ_INT(hits[1].conv_id, c1);
        T_CHECK(hits[0].rank <= hits[1].rank, "bm25 order %f %f", hits[0].rank, hits[1].rank);
        T_CHECK(ht_has(hits[1].snippet, "[lighthouse]"), "snippet %s", hits[1].snippet);
        T_EQ_INT(hits[1].seq, 1);
        T_EQ_STR(hits[1].role, "user");
    }
    hist_hits_free(hits, n);
    struct { const char *q; int want; } finds[] = {
        {"lightho*", 2}, {"lightho", 0}, {"LIGHTHOUSE keeper", 1}, {"w\xc3\xb6rld", 1},
        {"zebra", 1}, {"zeb*", 1}, {"keeper zebra", 0}, {"second line", 1},
    };
    for (size_t i = 0; i < sizeof finds / sizeof finds[0]; i++) {
        n = -1;
        T_CHECK(hist_search(h, finds[i].q, 10, "<", ">", &hits, &n, &e) == CHORD_OK, "%s", e.msg);
        T_CHECK(n == finds[i].want, "search '%s': %d hits, want %d", finds[i].q, n, finds[i].want);
        hist_hits_free(hits, n > 0 ? n : 0);
    }
    /* User text is never FTS syntax: OK (maybe no hits) or a clean INVALID. */
    const char *nasty[] = {"\"", "AND", "foo\"bar", "NEAR(", "a:b", "-x", "(", "OR lighthouse",
                           "content:lighthouse", "^lighthouse", "light*house", "\"lighthouse"};
    for (size_t i = 0; i < sizeof nasty / sizeof nasty[0]; i++) {
        chord_status st = hist_search(h, nasty[i], 10, NULL, NULL, &hits, &n, &e);
        T_CHECK(st == CHORD_OK || st == CHORD_E_INVALID, "search '%s': %d %s", nasty[i], st, e.msg);
        if (st == CHORD_OK)
            hist_hits_free(hits, n);
    }
    T_EQ_INT(hist_search(h, "* \" ()", 10, NULL, NULL, &hits, &n, &e), CHORD_E_INVALID);
    T_CHECK(hist_search(h, "\"lighthouse", 10, NULL, NULL, &hits, &n, &e) == CHORD_OK && n == 2,
            "quote taken literally: %d", n);
    hist_hits_free(hits, n);

    char **prompts;
    T_REQUIRE(hist_prompts(h, 10, &prompts, &n, &e) == CHORD_OK, "%s", e.msg);
    T_EQ_INT(n, 2);   /* the empty prompt is skipped */
    if (n == 2) {
        T_EQ_STR(prompts[0], uni);
        T_EQ_STR(prompts[1], dense);
    }
    hist_strings_free(prompts, n);

    hist_stats s;
    T_REQUIRE(hist_stats_get(h, &s, &e) == CHORD_OK, "%s", e.msg);
    T_EQ_INT(s.n_convs, 2);
    T_EQ_INT(s.n_msgs, 5);
    T_EQ_INT(s.n_prompt_tokens, 12);
    T_EQ_INT(s.n_gen_tokens, 345);
    T_CHECK(s.db_bytes > (int64_t)big_n, "db bytes %lld", (long long)s.db_bytes);
    T_EQ_INT(s.n_models, 2);
    if (s.n_models == 2) {
        T_EQ_STR(s.models[0].model, "other.gguf");   /* ties: by name */
        T_EQ_INT(s.models[1].n_msgs, 4);
        T_EQ_INT(s.models[1].n_tokens, 357);
    }
    hist_stats_free(&s);

    /* Export: valid JSON holding the same bytes. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    T_REQUIRE(hist_export_json(h, c1, f, &e) == CHORD_OK, "%s", e.msg);
    fclose(f);
    chord_json *j = chord_json_parse(buf, len, &e);
    T_REQUIRE(j, "export is JSON: %s", e.msg);
    const chord_json *msgs = chord_json_get(j, "messages");
    T_CHECK(msgs && msgs->len == 4, "4 messages in the export");
    const chord_json *m0 = chord_json_get(chord_json_at(msgs, 0), "content");
    const chord_json *m1 = chord_json_get(chord_json_at(msgs, 1), "content");
    T_CHECK(m0 && !strcmp(m0->string, uni), "unicode content exported");
    T_CHECK(m1 && m1->len == big_n && !memcmp(m1->string, big, big_n), "big content exported");
    const chord_json *temp = chord_json_get(chord_json_get(j, "params"), "temp");
    T_CHECK(temp && temp->number == 0.7, "params embedded as JSON");
    chord_json_free(j);
    free(buf);
    f = open_memstream(&buf, &len);
    T_REQUIRE(hist_export_md(h, c2, f, &e) == CHORD_OK, "%s", e.msg);
    fclose(f);
    T_CHECK(ht_has(buf, "# lighthouse lighthouse lighthouse\n") && ht_has(buf, "\n## User\n\n"),
            "markdown: %s", buf);
    free(buf);

    /* rm: the rows and the search entries go; the other conversation stays. */
    T_CHECK(hist_conv_delete(h, c1, &e) == CHORD_OK, "%s", e.msg);
    T_EQ_INT(hist_conv_delete(h, c1, &e), CHORD_E_INVALID);
    T_EQ_INT(ht_int(path, "SELECT count(*) FROM messages WHERE conversation_id = ?", c1, true), 0);
    T_EQ_INT(ht_int(path, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'zebra'", 0, false), 0);
    T_EQ_INT(ht_int(path, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'lighthouse'", 0, false), 1);
    T_CHECK(hist_search(h, "keeper", 10, NULL, NULL, &hits, &n, &e) == CHORD_OK && n == 0, "gone");
    hist_hits_free(hits, n);
    hist_conv *gone;
    T_EQ_INT(hist_conv_load(h, c1, &gone, &e), CHORD_E_INVALID);
    T_CHECK(ht_integrity(path), "integrity");

    hist_close(h);
    struct stat sb;
    T_CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "file mode %o",
            (unsigned)(sb.st_mode & 0777));
    free(big);
    free(path);
    return t_done();
}
