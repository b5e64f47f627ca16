/*
 * test_cli.c - `chord history` on a database filled through the API: list
 * (text and JSON, --limit, newest first), show = export byte for byte in
 * both formats, search with prefixes and hostile queries, rm refusing
 * without --yes off a terminal, stats, --db anywhere, the default path from
 * XDG_DATA_HOME, and usage errors (exit 2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ht.h"
#include "t.h"

static const char *db;

/* Runs `chord history ARGS` with --db appended; stdout (+stderr when
 * with_err) into *out. */
static int cli(const char *args, bool with_err, char **out)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s' history %s --db '%s' </dev/null %s", t_chord_bin(), args,
             db, with_err ? "2>&1" : "2>/dev/null");
    return t_run(cmd, out);
}

static chord_json *parse(const char *s)
{
    chord_err e;
    chord_json *j = s ? chord_json_parse(s, strlen(s), &e) : NULL;
    if (!j)
        fprintf(stderr, "not JSON (%s): %s\n", s ? e.msg : "no output", s ? s : "");
    return j;
}

static int64_t add_conv(hist *h, const char *model, const char *user, const char *answer)
{
    chord_err e;
    int64_t id = 0;
    hist_conv_params cp = {model, "llama", "Be kind.", "{\"temp\": 0.5}"};
    T_CHECK(hist_conv_create(h, &cp, &id, &e) == CHORD_OK, "%s", e.msg);
    hist_counts c = {10, 20, 5, 400};
    T_CHECK(hist_msg_add(h, id, "user", user, strlen(user), NULL, NULL, &e) == CHORD_OK, "%s", e.msg);
    T_CHECK(hist_msg_add(h, id, "assistant", answer, strlen(answer), &c, NULL, &e) == CHORD_OK,
            "%s", e.msg);
    return id;
}

static void expect_same(const char *a_args, const char *b_args)
{
    char *a = NULL, *b = NULL;
    int ra = cli(a_args, false, &a), rb = cli(b_args, false, &b);
    T_CHECK(ra == 0 && rb == 0, "%s -> %d, %s -> %d", a_args, ra, b_args, rb);
    T_CHECK(a && b && a[0] && !strcmp(a, b), "'%s' and '%s' differ:\n%s\n---\n%s", a_args, b_args,
            a, b);
    free(a);
    free(b);
}

int main(void)
{
    char *path = ht_path("cli.db");
    db = path;
    hist *h = ht_open(path);
    T_REQUIRE(h, "open");
    int64_t c1 = add_conv(h, "tiny.gguf", "How do lighthouses work?",
                          "A lamp and a Fresnel lens.\nThe \"beam\" turns; \xf0\x9f\x92\xa1");
    int64_t c2 = add_conv(h, "other.gguf", "Tell me about zebras",
                          "Zebras have stripes. Lighthouse keepers rarely meet zebras.");
    hist_close(h);

    char *out = NULL;
    T_EQ_INT(cli("list", false, &out), 0);
    T_CHECK(ht_has(out, "How do lighthouses work?") && ht_has(out, "Tell me about zebras") &&
            ht_has(out, "other.gguf"), "list: %s", out);
    /* Newest activity first. */
    T_CHECK(out && strstr(out, "zebras") < strstr(out, "lighthouses"), "order: %s", out);
    free(out);

    T_EQ_INT(cli("list --json --limit 1", false, &out), 0);
    chord_json *j = parse(out);
    T_CHECK(j && j->type == CHORD_JSON_ARRAY && j->len == 1, "one row");
    const chord_json *id = chord_json_get(chord_json_at(j, 0), "id");
    const chord_json *nm = chord_json_get(chord_json_at(j, 0), "messages");
    T_CHECK(id && id->number == (double)c2 && nm && nm->number == 2, "newest row is %lld", (long long)c2);
    chord_json_free(j);
    free(out);

    /* --db before the command works too. */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' history --db='%s' list --json", t_chord_bin(), path);
    T_EQ_INT(t_run(cmd, &out), 0);
    j = parse(out);
    T_CHECK(j && j->len == 2, "two rows");
    chord_json_free(j);
    free(out);

    /* show = export, both formats; -o writes the same bytes. */
    char a[64], b[64];
    snprintf(a, sizeof a, "show %lld --json", (long long)c1);
    snprintf(b, sizeof b, "export %lld --format json", (long long)c1);
    expect_same(a, b);
    snprintf(a, sizeof a, "show %lld", (long long)c1);
    snprintf(b, sizeof b, "export %lld --format md", (long long)c1);
    expect_same(a, b);
    snprintf(a, sizeof a, "show %lld --md", (long long)c1);
    expect_same(a, b);
    char *file = ht_path("out.json");
    snprintf(cmd, sizeof cmd, "export %lld --format json -o '%s'", (long long)c1, file);
    T_EQ_INT(cli(cmd, true, &out), 0);
    free(out);
    snprintf(a, sizeof a, "show %lld --json", (long long)c1);
    T_EQ_INT(cli(a, false, &out), 0);
    char *written = t_read_file(file, NULL);
    T_CHECK(out && written && !strcmp(out, written), "-o file equals show --json");
    j = parse(written);
    const chord_json *msgs = chord_json_get(j, "messages");
    const chord_json *content = chord_json_get(chord_json_at(msgs, 1), "content");
    T_CHECK(content && !strcmp(content->string,
            "A lamp and a Fresnel lens.\nThe \"beam\" turns; \xf0\x9f\x92\xa1"), "content in JSON");
    chord_json_free(j);
    free(written);
    free(out);
    free(file);
    snprintf(a, sizeof a, "show %lld", (long long)c1);
    T_EQ_INT(cli(a, false, &out), 0);
    T_CHECK(ht_has(out, "# How do lighthouses work?\n") && ht_has(out, "\n## Assistant\n\nA lamp"),
            "markdown: %s", out);
    free(out);

    /* Search. */
    T_EQ_INT(cli("search 'lightho*' --json", false, &out), 0);
    j = parse(out);
    T_CHECK(j && j->len == 2, "prefix finds both");
    const chord_json *snip = chord_json_get(chord_json_at(j, 0), "snippet");
    T_CHECK(snip && ht_has(snip->string, "["), "highlighted: %s", snip ? snip->string : "");
    chord_json_free(j);
    free(out);
    T_EQ_INT(cli("search zebras", false, &out), 0);
    T_CHECK(ht_has(out, "[zebras]") || ht_has(out, "[Zebras]"), "text search: %s", out);
    free(out);
    T_EQ_INT(cli("search fresnel lens", false, &out), 0);
    T_CHECK(ht_has(out, "#") && ht_has(out, "[Fresnel] [lens]"), "two words: %s", out);
    free(out);
    const char *hostile[] = {"'\"'", "'AND OR NOT'", "'foo\"bar'", "'NEAR(a b'", "'a:b'",
                             "'(' ')'", "'-x'", "'content:zebra'"};
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        snprintf(cmd, sizeof cmd, "search -- %s", hostile[i]);
        int rc = cli(cmd, true, &out);
        T_CHECK(rc == 0 || rc == 2, "search %s: exit %d: %s", hostile[i], rc, out);
        T_CHECK(!ht_has(out, "syntax error") && !ht_has(out, "fts5"), "clean: %s", out);
        free(out);
    }
    T_EQ_INT(cli("search '*'", true, &out), 2);
    free(out);

    /* Stats. */
    T_EQ_INT(cli("stats", false, &out), 0);
    T_CHECK(ht_has(out, "conversations  2\n") && ht_has(out, "messages       4\n") &&
            ht_has(out, "40 generated"), "stats: %s", out);
    free(out);
    T_EQ_INT(cli("stats --json", false, &out), 0);
    j = parse(out);
    const chord_json *nc = chord_json_get(j, "conversations");
    T_CHECK(nc && nc->number == 2, "stats json");
    chord_json_free(j);
    free(out);

    /* rm: off a terminal it needs --yes. */
    snprintf(a, sizeof a, "rm %lld", (long long)c1);
    T_EQ_INT(cli(a, true, &out), 1);
    T_CHECK(ht_has(out, "--yes"), "refusal says why: %s", out);
    free(out);
    snprintf(a, sizeof a, "show %lld", (long long)c1);
    T_EQ_INT(cli(a, false, NULL), 0);
    snprintf(a, sizeof a, "rm %lld --yes", (long long)c1);
    T_EQ_INT(cli(a, true, &out), 0);
    free(out);
    snprintf(a, sizeof a, "show %lld", (long long)c1);
    T_EQ_INT(cli(a, true, &out), 1);
    T_CHECK(ht_has(out, path) && ht_has(out, "no conversation"), "gone: %s", out);
    free(out);
    T_EQ_INT(cli("rm 999 --yes", true, NULL), 1);

    /* On a terminal (script(1) gives it a pty) rm asks; only y deletes. */
    for (int yes = 0; yes < 2; yes++) {
        snprintf(cmd, sizeof cmd, "printf '%s\\n' | script -qec \"'%s' history --db '%s' rm %lld\""
                 " /dev/null", yes ? "y" : "n", t_chord_bin(), path, (long long)c2);
        int rc = t_run(cmd, &out);
        T_CHECK(rc == (yes ? 0 : 1), "rm on a tty answering %s: exit %d: %s", yes ? "y" : "n", rc, out);
        T_CHECK(ht_has(out, "[y/N]"), "asked: %s", out);
        free(out);
        T_EQ_INT(ht_int(path, "SELECT count(*) FROM conversations WHERE id = ?", c2, true), !yes);
    }
    T_EQ_INT(ht_int(path, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'fresnel'",
                    0, false), 0);

    /* Usage errors. */
    const char *usage[] = {"bogus", "list --md", "show abc", "show", "export 2",
                           "export 2 --format pdf", "list --limit x", "list --frobnicate",
                           "show 2 --json --md", "search"};
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        int rc = cli(usage[i], true, &out);
        T_CHECK(rc == 2, "'%s': exit %d, want 2: %s", usage[i], rc, out);
        free(out);
    }

    /* The default database under XDG_DATA_HOME. */
    char *xdg = ht_path("xdg");
    snprintf(cmd, sizeof cmd, "XDG_DATA_HOME='%s' '%s' history stats", xdg, t_chord_bin());
    T_EQ_INT(t_run(cmd, &out), 0);
    T_CHECK(ht_has(out, xdg) && ht_has(out, "/chord/history.db"), "default path: %s", out);
    free(out);
    free(xdg);
    T_CHECK(ht_integrity(path), "integrity");
    free(path);
    return t_done();
}
