/*
 * pull_repo.c - what the Hub says about a repo: the commit a branch points
 * at (GET /api/models/REPO/refs), the files of that commit with sizes and
 * LFS sha256 (GET /api/models/REPO/tree/COMMIT?recursive=true, paged by
 * Link headers), and which of them a REPO:QUANT asks for.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "chord.h"
#include "hfcache.h"
#include "pull.h"

/* ---- requests ---------------------------------------------------------- */

void pull_report_http(pull_ctx *c, const char *repo, const char *file, const hub_resp *r)
{
    const char *what = file ? file : repo;
    bool gated = !strcmp(r->error_code, "GatedRepo");
    if (r->status == 403 || (r->status == 401 && gated)) {
        /* The Hub answers 403 to a token without access to a gated repo,
         * 401 GatedRepo to no token at all. */
        prog_error(&c->prog, "%s is gated: accept its licence on %s/%s%s, then pull again%s", repo,
                   c->endpoint, repo, c->have_token ? " while logged in as the token's user" : "",
                   c->have_token ? "" : " with a token (set HF_TOKEN)");
    } else if (r->status == 401) {
        if (c->have_token)
            prog_error(&c->prog, "%s: 401 unauthorized: the token (HF_TOKEN or the token file) was "
                       "refused, or the repo is private and not yours", repo);
        else
            prog_error(&c->prog, "%s: 401 unauthorized: private or gated repos need a token: "
                       "set HF_TOKEN (or log in with `hf auth login`)", repo);
    } else if (r->status == 404) {
        if (!file || !strcmp(r->error_code, "RepoNotFound"))
            prog_error(&c->prog, "%s: repo not found (404) on %s", repo, c->endpoint);
        else
            prog_error(&c->prog, "%s: file %s not found (404)", repo, file);
    } else {
        prog_error(&c->prog, "%s: HTTP %ld%s%s", what, r->status, r->error_message[0] ? ": " : "",
                   r->error_message);
    }
}

/* GET a JSON answer, retrying what a retry may cure. 0 with *j set, or 1
 * after reporting (offline set when the Hub never answered). */
static int get_json(pull_ctx *c, const char *url, const char *repo, chord_json **j,
                    hub_resp *resp, bool *offline)
{
    hub_result hr = HUB_NET;
    for (int attempt = 0; attempt < 3; attempt++) {
        if (attempt)
            sleep(1u << (attempt - 1));
        if (*c->stop)
            break;
        hr = hub_get(c->http, url, resp);
        if (hr != HUB_NET)
            break;
        hub_resp_free(resp);
    }
    if (hr == HUB_STOPPED || *c->stop) {
        prog_error(&c->prog, "interrupted");
        return 1;
    }
    if (hr == HUB_NET) {
        if (offline && resp->status == 0)
            *offline = true;
        if (resp->status)
            prog_error(&c->prog, "%s: the Hub at %s answered HTTP %ld (%s); try again later", repo,
                       c->endpoint, resp->status, resp->error_message);
        else
            prog_error(&c->prog, "cannot reach %s: %s", c->endpoint, resp->error_message);
        return 1;
    }
    if (hr == HUB_HTTP) {
        pull_report_http(c, repo, NULL, resp);
        return 1;
    }
    chord_err err;
    *j = chord_json_parse(resp->body, resp->len, &err);
    if (!*j) {
        prog_error(&c->prog, "%s: the Hub's answer to %s is not JSON (%s)", repo, url, err.msg);
        return 1;
    }
    return 0;
}

/* A commit id as the Hub writes them: hex, short enough for a name. */
static bool commit_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 7 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* The commit of branch or tag rev, from /refs. */
static int fetch_commit(pull_ctx *c, const char *repo, const char *rev, char *commit, size_t n,
                        bool *offline)
{
    if (strlen(rev) == 40 && commit_ok(rev)) {
        snprintf(commit, n, "%s", rev);
        return 0;
    }
    char url[2048];
    snprintf(url, sizeof url, "%s/api/models/%s/refs", c->endpoint, repo);
    hub_resp r;
    chord_json *j = NULL;
    int rc = get_json(c, url, repo, &j, &r, offline);
    hub_resp_free(&r);
    if (rc)
        return rc;
    const char *lists[] = {"branches", "tags"};
    for (int l = 0; l < 2; l++) {
        const chord_json *arr = chord_json_get(j, lists[l]);
        for (size_t i = 0; arr && i < arr->len; i++) {
            const chord_json *b = chord_json_at(arr, i);
            const chord_json *name = chord_json_get(b, "name");
            const chord_json *tc = chord_json_get(b, "targetCommit");
            if (name && tc && name->type == CHORD_JSON_STRING && tc->type == CHORD_JSON_STRING &&
                !strcmp(name->string, rev) && commit_ok(tc->string)) {
                snprintf(commit, n, "%s", tc->string);
                chord_json_free(j);
                return 0;
            }
        }
    }
    chord_json_free(j);
    prog_error(&c->prog, "%s: no branch or tag named '%s'", repo, rev);
    return 1;
}

/* A tree path is used as a path under snapshots/COMMIT: no absolute
 * paths, no "..", no empty steps. */
static bool tree_path_ok(const char *p)
{
    if (!*p || *p == '/' || strstr(p, "//") || p[strlen(p) - 1] == '/')
        return false;
    for (const char *s = p; s; s = strchr(s, '/')) {
        if (*s == '/')
            s++;
        if (!strncmp(s, "..", 2) && (s[2] == '/' || !s[2]))
            return false;
        if (s[0] == '.' && (s[1] == '/' || !s[1]))
            return false;
    }
    return !strchr(p, '\\');
}

static bool oid_ok(const char *s, size_t want)
{
    if (strlen(s) != want)
        return false;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
            return false;
    return true;
}

/* Adds one page of tree entries; files only (directories are implied). */
static bool add_entries(hub_tree *t, const chord_json *arr, size_t *cap)
{
    for (size_t i = 0; i < arr->len; i++) {
        const chord_json *e = chord_json_at(arr, i);
        const chord_json *type = chord_json_get(e, "type");
        const chord_json *path = chord_json_get(e, "path");
        const chord_json *size = chord_json_get(e, "size");
        const chord_json *oid = chord_json_get(e, "oid");
        const chord_json *lfs = chord_json_get(e, "lfs");
        if (!type || type->type != CHORD_JSON_STRING || strcmp(type->string, "file") || !path ||
            path->type != CHORD_JSON_STRING || !tree_path_ok(path->string))
            continue;
        hub_file f = {0};
        if (lfs && lfs->type == CHORD_JSON_OBJECT) {
            const chord_json *lo = chord_json_get(lfs, "oid");
            const chord_json *ls = chord_json_get(lfs, "size");
            if (!lo || lo->type != CHORD_JSON_STRING || !oid_ok(lo->string, 64))
                continue;
            snprintf(f.oid, sizeof f.oid, "%s", lo->string);
            if (ls && ls->type == CHORD_JSON_NUMBER)
                size = ls;
            f.lfs = true;
        } else {
            if (!oid || oid->type != CHORD_JSON_STRING || !oid_ok(oid->string, 40))
                continue;
            snprintf(f.oid, sizeof f.oid, "%s", oid->string);
        }
        if (!size || size->type != CHORD_JSON_NUMBER || size->number < 0)
            continue;
        f.size = (int64_t)size->number;
        if (t->n == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            hub_file *v = realloc(t->files, nc * sizeof *v);
            if (!v)
                return false;
            t->files = v;
            *cap = nc;
        }
        if (!(f.path = strdup(path->string)))
            return false;
        t->files[t->n++] = f;
    }
    return true;
}

int pull_fetch_tree(pull_ctx *c, const char *repo, const char *rev, hub_tree *t, bool *offline)
{
    memset(t, 0, sizeof *t);
    if (fetch_commit(c, repo, rev, t->commit, sizeof t->commit, offline))
        return 1;
    char url[2048];
    snprintf(url, sizeof url, "%s/api/models/%s/tree/%s?recursive=true", c->endpoint, repo,
             t->commit);
    size_t cap = 0;
    /* The Hub pages big trees (1000 entries); follow rel="next", with a
     * bound against a server that never stops. */
    for (int page = 0; page < 1000; page++) {
        hub_resp r;
        chord_json *j = NULL;
        int rc = get_json(c, url, repo, &j, &r, offline);
        char next[sizeof r.link_next];
        snprintf(next, sizeof next, "%s", r.link_next);
        hub_resp_free(&r);
        if (rc)
            return 1;
        bool ok = j->type == CHORD_JSON_ARRAY && add_entries(t, j, &cap);
        chord_json_free(j);
        if (!ok) {
            prog_error(&c->prog, "%s: the Hub's file tree is not a list of files", repo);
            return 1;
        }
        if (!*next)
            return 0;
        /* A relative next link is relative to the endpoint. */
        int w = next[0] == '/' ? snprintf(url, sizeof url, "%s%s", c->endpoint, next)
                               : snprintf(url, sizeof url, "%s", next);
        if (w < 0 || w >= (int)sizeof url) {
            prog_error(&c->prog, "%s: the file tree's next page has too long a URL", repo);
            return 1;
        }
    }
    prog_error(&c->prog, "%s: the file tree has no end", repo);
    return 1;
}

void pull_tree_free(hub_tree *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->files[i].path);
    free(t->files);
    memset(t, 0, sizeof *t);
}

/* ---- choosing ------------------------------------------------------------ */

static bool is_gguf(const char *p)
{
    size_t l = strlen(p);
    return l > 5 && !strcasecmp(p + l - 5, ".gguf");
}

static bool is_projector(const char *p)
{
    const char *b = strrchr(p, '/');
    return !strncasecmp(b ? b + 1 : p, "mmproj", 6);
}

/* The length of a split part's stem ("x-Q8_0" of "x-Q8_0-00001-of-00003.gguf"). */
static size_t stem_len(const char *p)
{
    return strlen(p) - (sizeof "-00001-of-00003.gguf" - 1);
}

/* The index of part k of the split set whose part 1 is t->files[first]. */
static long find_part(const hub_tree *t, size_t first, int k)
{
    const char *p = t->files[first].path;
    size_t sl = stem_len(p);
    for (size_t i = 0; i < t->n; i++) {
        int part, count, c0;
        const char *q = t->files[i].path;
        if (hfc_split_part(q, &part, &count) && part == k && hfc_split_part(p, NULL, &c0) &&
            count == c0 && stem_len(q) == sl && !strncmp(q, p, sl))
            return (long)i;
    }
    return -1;
}

static void human(int64_t b, char *buf, size_t n)
{
    if (b >= (int64_t)1 << 30)
        snprintf(buf, n, "%.2f GiB", (double)b / (1 << 30));
    else
        snprintf(buf, n, "%.1f MiB", (double)b / (1 << 20));
}

/* The repo's models (one line per GGUF, a split set as its first part
 * with the sum of its parts) on stderr. */
static void list_models(const hub_tree *t)
{
    size_t shown = 0;
    for (size_t i = 0; i < t->n; i++) {
        const char *p = t->files[i].path;
        int part, count;
        if (!is_gguf(p) || is_projector(p))
            continue;
        int64_t size = t->files[i].size;
        char parts[48] = "";
        if (hfc_split_part(p, &part, &count)) {
            if (part != 1)
                continue;
            for (int k = 2; k <= count; k++) {
                long j = find_part(t, i, k);
                if (j >= 0)
                    size += t->files[j].size;
            }
            snprintf(parts, sizeof parts, "  (%d parts)", count);
        }
        char h[32];
        human(size, h, sizeof h);
        fprintf(stderr, "  %10s  %s%s\n", h, p, parts);
        shown++;
    }
    if (!shown)
        fprintf(stderr, "  (no .gguf files in this repo)\n");
}

size_t pull_choose(pull_ctx *c, const hub_tree *t, const char *repo, const char *quant,
                   size_t **idx)
{
    /* A name ending in .gguf is the exact file: the way to pick between
     * two files that carry the same type tag. */
    bool exact = is_gguf(quant);
    size_t hit = 0, nhit = 0;
    for (size_t i = 0; i < t->n; i++) {
        const char *p = t->files[i].path;
        int part;
        if (!is_gguf(p))
            continue;
        if (exact ? strcmp(p, quant) : (is_projector(p) || !hfc_name_has_quant(p, quant)))
            continue;
        /* A split set counts once, by its first part; asking for part 3
         * by name still brings the whole set. */
        size_t cand = i;
        if (hfc_split_part(p, &part, NULL) && part != 1) {
            long first = exact ? find_part(t, i, 1) : -1;
            if (first < 0)
                continue;
            cand = (size_t)first;
        }
        nhit++;
        hit = cand;
    }
    if (nhit != 1) {
        if (nhit == 0)
            prog_error(&c->prog, "%s has no GGUF file %s '%s'; its GGUF files:", repo,
                       exact ? "named" : "of type", quant);
        else
            prog_error(&c->prog, "%s has several GGUF files of type '%s'; its GGUF files:", repo,
                       quant);
        list_models(t);
        fprintf(stderr, "choose one with its type tag: chord pull %s:TYPE (TYPE as in the names: "
                        "Q4_K_M, Q8_0...),\nor by its file name: chord pull %s:FILE.gguf\n",
                repo, repo);
        return 0;
    }

    int part, count = 1;
    if (!hfc_split_part(t->files[hit].path, &part, &count))
        count = 1;
    *idx = malloc((size_t)count * sizeof **idx);
    if (!*idx) {
        prog_error(&c->prog, "out of memory");
        return 0;
    }
    (*idx)[0] = hit;
    for (int k = 2; k <= count; k++) {
        long j = find_part(t, hit, k);
        if (j < 0) {
            prog_error(&c->prog, "%s: part %d of %d of %s is missing from the repo", repo, k, count,
                       t->files[hit].path);
            free(*idx);
            *idx = NULL;
            return 0;
        }
        (*idx)[k - 1] = (size_t)j;
    }
    return (size_t)count;
}
