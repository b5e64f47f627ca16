/*
 * test_reference.c - tmpl_reference_renders and tmpl_extra_renders.
 *
 * reference: every <name>.json in ../shared/ref/chat (the directory is
 * walked, so a new fixture is picked up), every conversation, rendered
 * with <name>.jinja through chord_chat_render and through `chord
 * chat-template`, byte for byte; a null expectation must raise
 * CHORD_E_TEMPLATE with a one-line message (and exit 1 from the CLI).
 *
 * extra (the program built as tmpl_extra_renders): tests/tmpl/data/expected.json, renders of all
 * twelve shared templates (including those with no .json) with and without
 * the generation prompt, made with Jinja2 by tests/tmpl/gen_expected.py at
 * a fixed clock that tmpl_set_now() reproduces.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "t.h"
#include "tmpl/tmpl.h"

static chord_chat_msg *to_msgs(const chord_json *conv, int *n)
{
    chord_chat_msg *m = calloc(conv->len + 1, sizeof *m);
    for (size_t i = 0; m && i < conv->len; i++) {
        const chord_json *it = chord_json_at(conv, i);
        m[i].role = chord_json_get(it, "role")->string;
        m[i].content = chord_json_get(it, "content")->string;
    }
    *n = (int)conv->len;
    return m;
}

static chord_json *load_json(const char *path)
{
    size_t len;
    char *text = t_read_file(path, &len);
    if (!text)
        return NULL;
    chord_err err;
    chord_json *j = chord_json_parse(text, len, &err);
    if (!j)
        t_fail_at(__FILE__, __LINE__, "%s: %s", path, err.msg);
    free(text);
    return j;
}

/* Single-quotes s for the shell. */
static void shq(char *dst, size_t cap, const char *s)
{
    size_t k = 0;
    dst[k++] = '\'';
    for (; *s && k + 5 < cap; s++) {
        if (*s == '\'') {
            memcpy(dst + k, "'\\''", 4);
            k += 4;
        } else {
            dst[k++] = *s;
        }
    }
    dst[k++] = '\'';
    dst[k] = 0;
}

/* Renders through the CLI; returns its exit status, stdout in *out and
 * stderr in *errtext. */
static int run_cli(const char *tpl, const chord_json *conv, const char *bos, const char *eos,
                   char **out, char **errtext)
{
    const char *dir = t_tmpdir();
    char mpath[4200], epath[4200], cmd[20000], qt[4400], qb[400], qe[400], qm[4400], qerr[4400];
    snprintf(mpath, sizeof mpath, "%s/messages.json", dir);
    snprintf(epath, sizeof epath, "%s/stderr.txt", dir);
    /* write the conversation back as JSON */
    FILE *f = fopen(mpath, "w");
    if (!f)
        return -1;
    fputc('[', f);
    for (size_t i = 0; i < conv->len; i++) {
        const chord_json *it = chord_json_at(conv, i);
        const chord_json *r = chord_json_get(it, "role"), *c = chord_json_get(it, "content");
        fputs(i ? ",{\"role\":" : "{\"role\":", f);
        chord_json_write_str(f, r->string, r->len);
        fputs(",\"content\":", f);
        chord_json_write_str(f, c->string, c->len);
        fputc('}', f);
    }
    fputc(']', f);
    fclose(f);
    shq(qt, sizeof qt, tpl);
    shq(qb, sizeof qb, bos);
    shq(qe, sizeof qe, eos);
    shq(qm, sizeof qm, mpath);
    shq(qerr, sizeof qerr, epath);
    snprintf(cmd, sizeof cmd, "'%s' chat-template --template %s --messages %s --bos %s --eos %s 2>%s",
             t_chord_bin(), qt, qm, qb, qe, qerr);
    int st = t_run(cmd, out);
    size_t len;
    *errtext = t_read_file(epath, &len);
    return st;
}

static bool one_line(const char *s)
{
    return s && *s && !strchr(s, '\n');
}

static int reference(void)
{
    const char *dir = t_shared("ref/chat/llama2.json");
    char root[4096];
    snprintf(root, sizeof root, "%.*s", (int)(strrchr(dir, '/') - dir), dir);
    DIR *d = opendir(root);
    T_REQUIRE(d, "cannot open %s", root);
    struct dirent *e;
    int n_files = 0, n_renders = 0, n_errors = 0, n_cli = 0;
    while ((e = readdir(d)) != NULL) {
        size_t L = strlen(e->d_name);
        if (L < 6 || strcmp(e->d_name + L - 5, ".json") != 0)
            continue;
        char jpath[4400], tpath[4400];
        snprintf(jpath, sizeof jpath, "%s/%s", root, e->d_name);
        snprintf(tpath, sizeof tpath, "%s/%.*s.jinja", root, (int)(L - 5), e->d_name);
        chord_json *j = load_json(jpath);
        size_t tlen;
        char *src = t_read_file(tpath, &tlen);
        T_CHECK(j && src, "%s: cannot read the json or %s", e->d_name, tpath);
        if (!j || !src) {
            chord_json_free(j);
            free(src);
            continue;
        }
        n_files++;
        const char *bos = chord_json_get(j, "bos_token")->string;
        const char *eos = chord_json_get(j, "eos_token")->string;
        const chord_json *convs = chord_json_get(j, "conversations");
        const chord_json *exp = chord_json_get(j, "expected");
        for (size_t c = 0; c < convs->len; c++) {
            const char *name = convs->keys[c];
            const chord_json *want = chord_json_get(exp, name);
            int nm;
            chord_chat_msg *msgs = to_msgs(&convs->items[c], &nm);
            char *out = NULL;
            chord_err err = {{0}};
            chord_status st = chord_chat_render(NULL, src, msgs, nm, true, bos, eos, &out, &err);
            if (want->type == CHORD_JSON_NULL) {
                n_errors++;
                T_CHECK(st == CHORD_E_TEMPLATE, "%s/%s: expected a template error, got status %d", e->d_name, name, st);
                T_CHECK(one_line(err.msg), "%s/%s: error message not one line: '%s'", e->d_name, name, err.msg);
            } else {
                n_renders++;
                T_CHECK(st == CHORD_OK, "%s/%s: %s", e->d_name, name, err.msg);
                if (st == CHORD_OK && strcmp(out, want->string) != 0)
                    t_fail_at(__FILE__, __LINE__, "%s/%s: got \"%s\"\n want \"%s\"", e->d_name, name, out, want->string);
            }
            free(out);
            /* the same through the CLI: exact stdout, or exit 1 naming the file */
            char *cli = NULL, *cerr = NULL;
            int rc = run_cli(tpath, &convs->items[c], bos, eos, &cli, &cerr);
            n_cli++;
            if (want->type == CHORD_JSON_NULL) {
                T_EQ_INT(rc, 1);
                char prefix[4500];
                snprintf(prefix, sizeof prefix, "chord: %s: ", tpath);
                T_CHECK(cerr && strncmp(cerr, prefix, strlen(prefix)) == 0 && strlen(cerr) > strlen(prefix) + 1,
                        "%s/%s: stderr '%s' should start with '%s' and carry the message", e->d_name, name,
                        cerr ? cerr : "(none)", prefix);
                T_CHECK(cli == NULL || cli[0] == 0, "%s/%s: stdout not empty on error", e->d_name, name);
            } else {
                T_EQ_INT(rc, 0);
                if (!cli || strcmp(cli, want->string) != 0)
                    t_fail_at(__FILE__, __LINE__, "%s/%s CLI: got \"%s\" (stderr %s)", e->d_name, name,
                              cli ? cli : "(null)", cerr ? cerr : "");
            }
            free(cli);
            free(cerr);
            free(msgs);
        }
        chord_json_free(j);
        free(src);
    }
    closedir(d);
    printf("%d fixtures, %d renders, %d expected errors, %d CLI runs\n", n_files, n_renders, n_errors, n_cli);
    T_CHECK(n_files >= 7, "only %d fixtures found in %s", n_files, root);
    return t_done();
}

static int extra(void)
{
    const char *tests = getenv("CHORD_TESTS");
    char path[4200];
    snprintf(path, sizeof path, "%s/tmpl/data/expected.json", tests ? tests : "tests");
    chord_json *doc = load_json(path);
    T_REQUIRE(doc, "cannot read %s", path);
    /* the generator formatted its fixed clock in UTC */
    setenv("TZ", "UTC", 1);
    tzset();
    tmpl_set_now((long)chord_json_get(doc, "now_unix")->number);
    const chord_json *convs = chord_json_get(doc, "conversations");
    const chord_json *cases = chord_json_get(doc, "cases");
    int n_ok = 0;
    for (size_t i = 0; i < cases->len; i++) {
        const chord_json *c = &cases->items[i];
        const char *name = chord_json_get(c, "template")->string;
        const char *conv = chord_json_get(c, "conversation")->string;
        bool agp = chord_json_get(c, "add_generation_prompt")->type == CHORD_JSON_TRUE;
        const chord_json *want = chord_json_get(c, "expected");
        char rel[300];
        snprintf(rel, sizeof rel, "ref/chat/%s.jinja", name);
        size_t tlen;
        char *src = t_read_file(t_shared(rel), &tlen);
        T_REQUIRE(src, "cannot read %s", rel);
        int nm;
        chord_chat_msg *msgs = to_msgs(chord_json_get(convs, conv), &nm);
        char *out = NULL;
        chord_err err = {{0}};
        chord_status st = chord_chat_render(NULL, src, msgs, nm, agp, chord_json_get(c, "bos_token")->string,
                                            chord_json_get(c, "eos_token")->string, &out, &err);
        if (want->type == CHORD_JSON_NULL) {
            T_CHECK(st == CHORD_E_TEMPLATE, "%s/%s/%d: expected a template error, got %d", name, conv, agp, st);
            n_ok += st == CHORD_E_TEMPLATE;
        } else if (st != CHORD_OK) {
            t_fail_at(__FILE__, __LINE__, "%s/%s/%d: %s", name, conv, agp, err.msg);
        } else if (strcmp(out, want->string) != 0) {
            t_fail_at(__FILE__, __LINE__, "%s/%s/%d:\n got \"%s\"\nwant \"%s\"", name, conv, agp, out, want->string);
        } else {
            n_ok++;
        }
        free(out);
        free(msgs);
        free(src);
    }
    tmpl_set_now(0);
    printf("%d of %zu cases match (renders byte for byte, expected errors raised)\n", n_ok, cases->len);
    chord_json_free(doc);
    return t_done();
}

int main(int argc, char **argv)
{
    (void)argc;
    if (strstr(argv[0], "extra"))
        return extra();
    return reference();
}
