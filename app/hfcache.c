/*
 * hfcache.c - the Hugging Face hub cache layout (see hfcache.h): where it
 * is, how a repo and a quantization name map to a file in it.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "hfcache.h"

/* An environment variable, or NULL when unset or empty (the Hub's tools
 * treat an empty value as unset too). */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static bool fmt_ok(int r, size_t n)
{
    return r > 0 && (size_t)r < n;
}

bool hfc_root(char *buf, size_t n)
{
    const char *v;
    if ((v = env("HF_HUB_CACHE")))
        return fmt_ok(snprintf(buf, n, "%s", v), n);
    if ((v = env("HF_HOME")))
        return fmt_ok(snprintf(buf, n, "%s/hub", v), n);
    if ((v = env("XDG_CACHE_HOME")))
        return fmt_ok(snprintf(buf, n, "%s/huggingface/hub", v), n);
    if ((v = env("HOME")))
        return fmt_ok(snprintf(buf, n, "%s/.cache/huggingface/hub", v), n);
    return false;
}

/* One part of a repo id: the Hub allows letters, digits, '-', '_' and '.',
 * and a part must not be a path step (".", "..") since it becomes a
 * directory name. */
static bool repo_part_ok(const char *s, size_t len)
{
    if (len == 0 || len > 96)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-' && c != '_' && c != '.')
            return false;
        if (c == '.' && i + 1 < len && s[i + 1] == '.')
            return false;
    }
    return !(len == 1 && s[0] == '.');
}

bool hfc_repo_dirname(const char *repo, char *buf, size_t n)
{
    if (!repo)
        return false;
    const char *slash = strchr(repo, '/');
    if (!slash || strchr(slash + 1, '/'))
        return false;
    size_t ol = (size_t)(slash - repo);
    if (!repo_part_ok(repo, ol) || !repo_part_ok(slash + 1, strlen(slash + 1)))
        return false;
    return fmt_ok(snprintf(buf, n, "models--%.*s--%s", (int)ol, repo, slash + 1), n);
}

bool hfc_name_has_quant(const char *filename, const char *quant)
{
    size_t ql = quant ? strlen(quant) : 0;
    if (!filename || ql == 0)
        return false;
    for (const char *p = filename; *p; p++) {
        if (strncasecmp(p, quant, ql))
            continue;
        /* Left of the tag any non-alphanumeric ends a word ("model_Q8_0",
         * "x.IQ4_XS"); right of it '_' continues the tag, so "Q4_K" is not
         * found in "Q4_K_M" nor "Q4_0" in "Q4_0_4_4". */
        bool left = p == filename || !isalnum((unsigned char)p[-1]);
        unsigned char r = (unsigned char)p[ql];
        bool right = r == '\0' || (!isalnum(r) && r != '_');
        if (left && right)
            return true;
    }
    return false;
}

bool hfc_split_part(const char *filename, int *part, int *count)
{
    /* The suffix the reference's gguf-split writes: "-%05d-of-%05d.gguf". */
    static const char tail[] = "-00000-of-00000.gguf";
    size_t tl = sizeof tail - 1, fl = filename ? strlen(filename) : 0;
    if (fl <= tl)
        return false;
    const char *s = filename + fl - tl;
    int v[2] = {0, 0};
    for (size_t i = 0; i < tl; i++) {
        if (tail[i] == '0') {
            if (!isdigit((unsigned char)s[i]))
                return false;
            v[i > 6] = v[i > 6] * 10 + (s[i] - '0');
        } else if (s[i] != tail[i]) {
            return false;
        }
    }
    if (v[0] < 1 || v[1] < 1 || v[0] > v[1])
        return false;
    if (part)
        *part = v[0];
    if (count)
        *count = v[1];
    return true;
}

/* ---- hfc_resolve: a walk over one snapshot ------------------------------- */

static bool ends_with_gguf(const char *name)
{
    size_t l = strlen(name);
    return l > 5 && !strcasecmp(name + l - 5, ".gguf");
}

/* Vision projectors ("mmproj-...-F16.gguf") sit beside the model in many
 * repos and carry a type tag too; they are never the model one means. */
static bool is_projector(const char *relpath)
{
    const char *base = strrchr(relpath, '/');
    base = base ? base + 1 : relpath;
    return strncasecmp(base, "mmproj", 6) == 0;
}

typedef struct {
    char **v;
    size_t n, cap;
} name_list;

static bool list_push(name_list *l, const char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return false;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s)))
        return false;
    l->n++;
    return true;
}

static void list_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file (symlinks followed, dangling ones dropped) under
 * dir, as paths relative to the snapshot; repos keep big split models in
 * folders ("Q4_K_M/x-00001-of-00003.gguf"), hence the recursion. */
static void walk(const char *snap, const char *rel, int depth, name_list *out)
{
    char dir[4096];
    if (!fmt_ok(snprintf(dir, sizeof dir, "%s%s%s", snap, *rel ? "/" : "", rel), sizeof dir))
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char r[2048], full[4096];
        if (!fmt_ok(snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", e->d_name), sizeof r) ||
            !fmt_ok(snprintf(full, sizeof full, "%s/%s", snap, r), sizeof full))
            continue;
        struct stat st;
        if (stat(full, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < 4)
                walk(snap, r, depth + 1, out);
        } else if (S_ISREG(st.st_mode)) {
            list_push(out, r);
        }
    }
    closedir(d);
}

/* Are all parts of the split model whose first part is rel present? A
 * half-pulled split model is not a cached model. */
static bool split_complete(const char *snap, const char *rel, int count)
{
    size_t l = strlen(rel);
    const size_t tl = sizeof "-00001-of-00003.gguf" - 1;
    for (int p = 2; p <= count; p++) {
        char full[4096];
        struct stat st;
        if (!fmt_ok(snprintf(full, sizeof full, "%s/%.*s-%05d-of-%05d.gguf", snap,
                             (int)(l - tl), rel, p, count), sizeof full) ||
            stat(full, &st) != 0 || !S_ISREG(st.st_mode))
            return false;
    }
    return true;
}

/* The commit refs/main names, from the repo directory. */
static bool read_ref(const char *repodir, char *commit, size_t n)
{
    char path[4096];
    if (!fmt_ok(snprintf(path, sizeof path, "%s/refs/main", repodir), sizeof path))
        return false;
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fgets(commit, (int)n, f) != NULL;
    fclose(f);
    if (!ok)
        return false;
    commit[strcspn(commit, "\r\n \t")] = '\0';
    return *commit && !strchr(commit, '/') && strcmp(commit, ".") && strcmp(commit, "..");
}

int hfc_resolve(const char *repo, const char *quant, char *buf, size_t n)
{
    char root[2048], dname[512], repodir[4096], commit[256], snap[4096];
    if (!quant)
        quant = "Q4_K_M";
    if (!hfc_root(root, sizeof root) || !hfc_repo_dirname(repo, dname, sizeof dname) ||
        !fmt_ok(snprintf(repodir, sizeof repodir, "%s/%s", root, dname), sizeof repodir) ||
        !read_ref(repodir, commit, sizeof commit) ||
        !fmt_ok(snprintf(snap, sizeof snap, "%s/snapshots/%s", repodir, commit), sizeof snap))
        return 1;

    name_list files = {0}, hits = {0};
    walk(snap, "", 0, &files);
    for (size_t i = 0; i < files.n; i++) {
        const char *r = files.v[i];
        int part, count;
        if (!ends_with_gguf(r) || is_projector(r) || !hfc_name_has_quant(r, quant))
            continue;
        if (hfc_split_part(r, &part, &count) &&
            (part != 1 || !split_complete(snap, r, count)))
            continue;
        list_push(&hits, r);
    }
    if (hits.n > 1)
        qsort(hits.v, hits.n, sizeof *hits.v, cmp_str);

    int rc = 1;
    if (hits.n == 1) {
        rc = fmt_ok(snprintf(buf, n, "%s/%s", snap, hits.v[0]), n) ? 0 : 1;
    } else if (hits.n > 1) {
        snprintf(buf, n, "%s, %s", hits.v[0], hits.v[1]);
        rc = 2;
    }
    list_free(&files);
    list_free(&hits);
    return rc;
}
