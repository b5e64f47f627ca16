/*
 * cmd_models.c - `chord models [list] [--json]` and `chord models rm NAME`:
 * the models chord can see (app/models.h), and removing one from the hub
 * cache.
 *
 * --json writes one JSON object per model per line (as --batch --json
 * writes its events), so `grep` and `jq -c` work on it line by line.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "models.h"

static void usage(FILE *f)
{
    fputs("usage: chord models [list] [--json]\n"
          "       chord models rm NAME\n"
          "Lists every GGUF model chord can see, one line each: the name -m takes,\n"
          "architecture, parameters, main weight type, size, and where it lives:\n"
          "  hf         the Hugging Face hub cache ($HF_HUB_CACHE, else $HF_HOME/hub,\n"
          "             else ~/.cache/huggingface/hub), named OWNER/NAME:QUANT\n"
          "  llama.cpp  llama.cpp's cache ($LLAMA_CACHE, else ~/.cache/llama.cpp)\n"
          "  ollama     ollama's store ($OLLAMA_MODELS, else ~/.ollama/models),\n"
          "             named ollama:NAME:TAG\n"
          "  dir        the folders of model-dirs in the config file (chord config)\n"
          "A model whose file cannot be read is listed with the error.\n"
          "--json: one JSON object per model per line: name, source, path, arch,\n"
          "params, type, bytes, parts, error (null when readable).\n"
          "rm NAME removes a model of the hub cache: its snapshot files and the blobs\n"
          "no other snapshot uses. Models of ollama and llama.cpp are theirs to remove.\n",
          f);
}

static void put_json_str(const char *s)
{
    if (s)
        chord_json_write_str(stdout, s, strlen(s));
    else
        fputs("null", stdout);
}

static void list_json(const models_list *l)
{
    for (int i = 0; i < l->n; i++) {
        const models_entry *e = &l->v[i];
        fputs("{\"name\":", stdout);
        put_json_str(e->name);
        fputs(",\"source\":", stdout);
        put_json_str(models_source_name(e->src));
        fputs(",\"path\":", stdout);
        put_json_str(e->path);
        fputs(",\"arch\":", stdout);
        put_json_str(e->arch[0] ? e->arch : NULL);
        if (e->n_params)
            printf(",\"params\":%lld", (long long)e->n_params);
        else
            fputs(",\"params\":null", stdout);
        fputs(",\"type\":", stdout);
        put_json_str(e->type_name[0] ? e->type_name : NULL);
        printf(",\"bytes\":%lld,\"parts\":%d,\"error\":", (long long)e->bytes, e->n_parts);
        put_json_str(e->error);
        fputs("}\n", stdout);
    }
}

/* Display width of a UTF-8 string (code points; names are mostly ASCII). */
static int width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void pad(const char *s, int w)
{
    fputs(s, stdout);
    for (int k = width(s); k < w; k++)
        putchar(' ');
    fputs("  ", stdout);
}

static void list_text(const models_list *l)
{
    enum { C_NAME, C_ARCH, C_PARAMS, C_TYPE, C_SIZE, C_SRC, C_N };
    static const char *const head[C_N] = {"NAME", "ARCH", "PARAMS", "TYPE", "SIZE", "SOURCE"};
    int w[C_N];
    bool any_error = false;
    for (int c = 0; c < C_N; c++)
        w[c] = width(head[c]);
    char (*cells)[C_N][64] = calloc((size_t)l->n, sizeof *cells);
    if (!cells && l->n)
        return;
    for (int i = 0; i < l->n; i++) {
        const models_entry *e = &l->v[i];
        snprintf(cells[i][C_ARCH], 64, "%s", e->arch[0] ? e->arch : "-");
        if (e->n_params)
            models_fmt_params(e->n_params, cells[i][C_PARAMS], 64);
        else
            snprintf(cells[i][C_PARAMS], 64, "-");
        snprintf(cells[i][C_TYPE], 64, "%s", e->type_name[0] ? e->type_name : "-");
        models_fmt_bytes(e->bytes, cells[i][C_SIZE], 64);
        snprintf(cells[i][C_SRC], 64, "%s", models_source_name(e->src));
        int nw = width(e->name);
        if (nw > w[C_NAME])
            w[C_NAME] = nw;
        for (int c = C_ARCH; c < C_N; c++)
            if (width(cells[i][c]) > w[c])
                w[c] = width(cells[i][c]);
        any_error |= e->error != NULL;
    }
    for (int c = 0; c < C_N; c++)
        pad(head[c], w[c]);
    fputs(any_error ? "PATH  ERROR\n" : "PATH\n", stdout);
    for (int i = 0; i < l->n; i++) {
        const models_entry *e = &l->v[i];
        pad(e->name, w[C_NAME]);
        for (int c = C_ARCH; c < C_N; c++)
            pad(cells[i][c], w[c]);
        fputs(e->path, stdout);
        if (e->error)
            printf("  error: %s", e->error);
        putchar('\n');
    }
    free(cells);
}

/* ---- rm ------------------------------------------------------------------ */

/* Does any symlink under the repo's snapshots still lead to blob? (nftw
 * has no user argument: the walk is single-threaded, a static will do.) */
static const char *g_blob;
static bool g_used;

static int find_user(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    if (flag != FTW_SL)
        return 0;
    char *rp = realpath(path, NULL);
    if (rp && !strcmp(rp, g_blob))
        g_used = true;
    free(rp);
    return g_used;
}

static bool blob_in_use(const char *repo_dir, const char *blob)
{
    char snaps[PATH_MAX + 16];
    snprintf(snaps, sizeof snaps, "%s/snapshots", repo_dir);
    g_blob = blob;
    g_used = false;
    nftw(snaps, find_user, 16, FTW_PHYS);
    return g_used;
}

static int rm_any(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path) ? -1 : 0;
}

static bool dir_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT;
    struct dirent *de;
    bool empty = true;
    while (empty && (de = readdir(d)))
        empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
    closedir(d);
    return empty;
}

/* Removes one snapshot file and, when no other snapshot uses it, its blob.
 * Adds the bytes freed; false after printing a failure. */
static bool rm_part(const char *repo_dir, const char *path, int64_t *freed, int *files)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return true; /* a missing part of a split model: nothing to do */
    char *blob = S_ISLNK(st.st_mode) ? realpath(path, NULL) : NULL;
    if (unlink(path) != 0) {
        app_error("models rm: cannot remove %s: %s", path, strerror(errno));
        free(blob);
        return false;
    }
    (*files)++;
    if (!S_ISLNK(st.st_mode)) {
        *freed += st.st_size;
    } else if (blob && !blob_in_use(repo_dir, blob) && stat(blob, &st) == 0) {
        if (unlink(blob) != 0) {
            app_error("models rm: cannot remove %s: %s", blob, strerror(errno));
            free(blob);
            return false;
        }
        *freed += st.st_size;
    }
    free(blob);
    /* the snapshot's folders that are left empty go too */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    size_t rl = strlen(repo_dir);
    for (char *slash; (slash = strrchr(dir, '/')) && (size_t)(slash - dir) > rl + sizeof "/snapshots" - 1;) {
        *slash = '\0';
        if (rmdir(dir) != 0)
            break;
    }
    return true;
}

static int models_rm(const char *name)
{
    models_list l;
    if (!models_scan(&l)) {
        models_list_free(&l);
        app_error("models rm: out of memory");
        return EXIT_FAIL;
    }
    const models_entry *e = NULL;
    for (int i = 0; i < l.n && !e; i++)
        if (!strcasecmp(l.v[i].name, name))
            e = &l.v[i];
    int rc = EXIT_OK;
    if (!e) {
        /* rm deletes: only a whole name will do, never a guess */
        int close = 0;
        for (int i = 0; i < l.n; i++)
            close += strcasestr(l.v[i].name, name) != NULL;
        app_error("models rm: no model named '%s'%s", name, close ? "; did you mean:" : " (chord models lists them)");
        for (int i = 0; i < l.n; i++)
            if (strcasestr(l.v[i].name, name))
                fprintf(stderr, "  %s\n", l.v[i].name);
        rc = EXIT_FAIL;
    } else if (e->src == MODELS_OLLAMA) {
        const char *n = e->name + strlen("ollama:");
        app_error("models rm: %s belongs to ollama; remove it with: ollama rm %s", e->name, n);
        rc = EXIT_FAIL;
    } else if (e->src == MODELS_LLAMACPP) {
        app_error("models rm: %s belongs to llama.cpp's cache (%s); chord leaves it to llama.cpp "
                  "(delete the file yourself if you mean to)", e->name, e->path);
        rc = EXIT_FAIL;
    } else if (e->src == MODELS_CHORD) {
        struct stat st;
        int64_t size = stat(e->path, &st) == 0 ? (int64_t)st.st_size : 0;
        if (unlink(e->path) != 0) {
            app_error("models rm: cannot remove %s: %s", e->path, strerror(errno));
            rc = EXIT_FAIL;
        } else {
            printf("removed %s (%.1f MiB)\n", e->path, (double)size / (1024.0 * 1024.0));
        }
    } else if (e->src == MODELS_DIR) {
        app_error("models rm: %s is in a model-dirs folder (%s); chord removes only what is in the "
                  "hub cache", e->name, e->path);
        rc = EXIT_FAIL;
    } else {
        int64_t freed = 0;
        int files = 0;
        bool ok = rm_part(e->repo_dir, e->path, &freed, &files);
        /* the other parts of a split model */
        const char *b = strrchr(e->path, '/');
        size_t bl = strlen(b ? b + 1 : e->path);
        size_t tail = sizeof "00001-of-00003.gguf" - 1;
        int count = 0;
        if (bl > tail && sscanf(e->path + strlen(e->path) - tail, "00001-of-%5d.gguf", &count) == 1)
            for (int p = 2; ok && p <= count; p++) {
                char pp[PATH_MAX + 32];
                snprintf(pp, sizeof pp, "%.*s%05d-of-%05d.gguf", (int)(strlen(e->path) - tail), e->path, p,
                         count);
                ok = rm_part(e->repo_dir, pp, &freed, &files);
            }
        /* a repo left with no snapshot and no blob is gone entirely */
        char snaps[PATH_MAX + 16], blobs[PATH_MAX + 16];
        snprintf(snaps, sizeof snaps, "%s/snapshots", e->repo_dir);
        snprintf(blobs, sizeof blobs, "%s/blobs", e->repo_dir);
        if (ok && dir_empty(blobs)) {
            /* snapshots holding only folders (emptied above) count as empty */
            DIR *d = opendir(snaps);
            bool none = true;
            struct dirent *de;
            while (d && none && (de = readdir(d))) {
                char p[PATH_MAX + 300];
                if (de->d_name[0] == '.')
                    continue;
                snprintf(p, sizeof p, "%s/%s", snaps, de->d_name);
                none = dir_empty(p);
            }
            if (d)
                closedir(d);
            if (none)
                nftw(e->repo_dir, rm_any, 16, FTW_DEPTH | FTW_PHYS);
        }
        char sz[32];
        models_fmt_bytes(freed, sz, sizeof sz);
        if (ok)
            printf("removed %s: %d file%s, %s freed\n", e->name, files, files == 1 ? "" : "s", sz);
        rc = ok ? EXIT_OK : EXIT_FAIL;
    }
    models_list_free(&l);
    return rc;
}

int cmd_models(int argc, char **argv)
{
    bool json = false;
    const char *verb = NULL, *name = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (a[0] == '-' && a[1]) {
            app_error("models: unknown option '%s' (see chord models --help)", a);
            return EXIT_USAGE;
        } else if (!verb) {
            verb = a;
        } else if (!name) {
            name = a;
        } else {
            app_error("models: unexpected argument '%s' (see chord models --help)", a);
            return EXIT_USAGE;
        }
    }
    /* a broken config file fails here as everywhere (model-dirs is in it) */
    if (!config_load())
        return EXIT_USAGE;
    if (verb && !strcmp(verb, "rm")) {
        if (!name) {
            app_error("models rm: which model? (usage: chord models rm NAME)");
            return EXIT_USAGE;
        }
        if (json) {
            app_error("models rm: --json is for listing");
            return EXIT_USAGE;
        }
        return models_rm(name);
    }
    if (verb && strcmp(verb, "list")) {
        app_error("models: unknown command '%s' (list or rm; see chord models --help)", verb);
        return EXIT_USAGE;
    }
    if (name) {
        app_error("models list: unexpected argument '%s'", name);
        return EXIT_USAGE;
    }
    models_list l;
    if (!models_scan(&l)) {
        models_list_free(&l);
        app_error("models: out of memory");
        return EXIT_FAIL;
    }
    if (json) {
        list_json(&l);
    } else if (!l.n) {
        printf("no models found; looked in:\n");
        models_print_sources(stdout);
        printf("get one with: chord pull Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M\n");
    } else {
        list_text(&l);
    }
    models_list_free(&l);
    fflush(stdout);
    return EXIT_OK;
}
