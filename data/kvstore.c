/*
 * kvstore.c - the saved KV caches' folder (see kvstore.h).
 */
#include "kvstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chord_kv.h"

/* a temporary file older than this belongs to a writer that died */
#define KVSTORE_STALE_TMP_S 3600

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static bool fmt_ok(int r, size_t n)
{
    return r > 0 && (size_t)r < n;
}

bool kvstore_dir(char *buf, size_t n)
{
    const char *v;
    if ((v = env("XDG_CACHE_HOME")))
        return fmt_ok(snprintf(buf, n, "%s/chord/kv", v), n);
    if ((v = env("HOME")))
        return fmt_ok(snprintf(buf, n, "%s/.cache/chord/kv", v), n);
    return false;
}

/* mkdir -p, new folders 0700 (the caches hold the conversations' text). */
static bool make_dirs(const char *path)
{
    char d[PATH_MAX];
    if (!fmt_ok(snprintf(d, sizeof d, "%s", path), sizeof d))
        return false;
    for (char *p = d + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (mkdir(d, 0700) != 0 && errno != EEXIST)
                return false;
            *p = c;
            if (!c)
                return true;
        }
    }
}

/* FNV-1a of a file's real path (of the path as given if it has none). */
static uint64_t path_key(const char *path)
{
    char real[PATH_MAX];
    const char *key = realpath(path, real) ? real : path;
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h;
}

/* A conversation's files start with this: its database's key and id
 * (ids are per database). */
static bool conv_prefix(const char *db, int64_t conv, char *buf, size_t n)
{
    return db && conv > 0 &&
           fmt_ok(snprintf(buf, n, "%08llx-%lld-", (unsigned long long)(path_key(db) >> 32),
                           (long long)conv), n);
}

bool kvstore_path(const char *db, const char *model_path, int64_t conv, char *buf, size_t n)
{
    char dir[PATH_MAX], pre[64];
    if (!model_path || !conv_prefix(db, conv, pre, sizeof pre) || !kvstore_dir(dir, sizeof dir))
        return false;
    return fmt_ok(snprintf(buf, n, "%s/%s%016llx.kv", dir, pre,
                           (unsigned long long)path_key(model_path)), n);
}

/* ------------------------------------------------------------------------
 * The folder's files
 * ---------------------------------------------------------------------- */

typedef struct kv_file {
    char *path;
    int64_t bytes;
    struct timespec used;
} kv_file;

static bool is_kv_name(const char *name, const char *prefix)
{
    size_t n = strlen(name);
    if (n < 4 || strcmp(name + n - 3, ".kv"))
        return false;
    return !prefix || !strncmp(name, prefix, strlen(prefix));
}

/* The folder's cache files (those whose names start with prefix, or all
 * for NULL); stale temporary files are removed on the way. */
static int list_files(const char *prefix, kv_file **out)
{
    *out = NULL;
    char dir[PATH_MAX];
    if (!kvstore_dir(dir, sizeof dir))
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    kv_file *v = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    time_t now = time(NULL);
    while ((e = readdir(d)) != NULL) {
        char p[PATH_MAX];
        if (!fmt_ok(snprintf(p, sizeof p, "%s/%s", dir, e->d_name), sizeof p))
            continue;
        struct stat st;
        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (strstr(e->d_name, ".kv.tmp.")) {
            if (now - st.st_mtime > KVSTORE_STALE_TMP_S)
                unlink(p);
            continue;
        }
        if (!is_kv_name(e->d_name, prefix))
            continue;
        if (n == cap) {
            int nc = cap ? cap * 2 : 16;
            kv_file *nv = realloc(v, (size_t)nc * sizeof *nv);
            if (!nv)
                break;
            v = nv;
            cap = nc;
        }
        if (!(v[n].path = strdup(p)))
            break;
        v[n].bytes = (int64_t)st.st_size;
        v[n].used = st.st_mtim;
        n++;
    }
    closedir(d);
    *out = v;
    return n;
}

static void free_files(kv_file *v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i].path);
    free(v);
}

static int by_use(const void *a, const void *b)
{
    const kv_file *x = a, *y = b;
    if (x->used.tv_sec != y->used.tv_sec)
        return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
    return x->used.tv_nsec < y->used.tv_nsec ? -1 : x->used.tv_nsec > y->used.tv_nsec;
}

int kvstore_evict(int64_t cap, const char *keep)
{
    kv_file *v;
    int n = list_files(NULL, &v), removed = 0;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        total += v[i].bytes;
        if (keep && !strcmp(v[i].path, keep)) /* the newest use: last */
            v[i].used = (struct timespec){.tv_sec = (time_t)INT64_MAX};
    }
    if (n > 1)
        qsort(v, (size_t)n, sizeof *v, by_use);
    for (int i = 0; i < n && total > cap; i++)
        if (unlink(v[i].path) == 0) {
            total -= v[i].bytes;
            removed++;
        }
    free_files(v, n);
    return removed;
}

int kvstore_rm_conv(const char *db, int64_t conv, int64_t *bytes)
{
    char pre[64];
    if (bytes)
        *bytes = 0;
    if (!conv_prefix(db, conv, pre, sizeof pre))
        return 0;
    kv_file *v;
    int n = list_files(pre, &v), removed = 0;
    int64_t b = 0;
    for (int i = 0; i < n; i++)
        if (unlink(v[i].path) == 0) {
            removed++;
            b += v[i].bytes;
        }
    free_files(v, n);
    if (bytes)
        *bytes = b;
    return removed;
}

int kvstore_stats(int64_t *bytes)
{
    kv_file *v;
    int n = list_files(NULL, &v);
    int64_t b = 0;
    for (int i = 0; i < n; i++)
        b += v[i].bytes;
    free_files(v, n);
    if (bytes)
        *bytes = b;
    return n;
}

/* ------------------------------------------------------------------------
 * Loading and saving
 * ---------------------------------------------------------------------- */

int kvstore_load(chord_chat *s, const char *db, const char *model_path, int64_t conv, char *note,
                 size_t n)
{
    if (n)
        note[0] = 0;
    char path[PATH_MAX], pre[64];
    if (!kvstore_path(db, model_path, conv, path, sizeof path) || !conv_prefix(db, conv, pre, sizeof pre))
        return 0;
    int n_tok = 0;
    chord_err err;
    chord_status st = chord_chat_kv_load(s, path, &n_tok, &err);
    if (st == CHORD_OK) {
        utimensat(AT_FDCWD, path, NULL, 0); /* its last use */
        snprintf(note, n, "KV cache of conversation %lld loaded: %d tokens (%s)", (long long)conv,
                 n_tok, path);
        return n_tok;
    }
    if (st == CHORD_E_IO && access(path, F_OK) != 0) {
        kv_file *v;
        int k = list_files(pre, &v);
        free_files(v, k);
        if (k)
            snprintf(note, n, "the saved KV cache of conversation %lld is another model's: prefilling",
                     (long long)conv);
        return 0;
    }
    snprintf(note, n, "saved KV cache ignored, prefilling: %s", err.msg);
    return 0;
}

/* Writes a snapshot to path (its folder made if needed), then keeps the
 * folder under cap. */
static bool write_snap(const chord_kv_snap *k, const char *path, int64_t cap, char *note, size_t n)
{
    char dir[PATH_MAX];
    if (!kvstore_dir(dir, sizeof dir))
        return true;
    if (!make_dirs(dir)) {
        snprintf(note, n, "KV cache not saved: %s: %s", dir, strerror(errno));
        return false;
    }
    chord_err err;
    int64_t bytes = 0;
    if (chord_kv_snap_write(k, path, &bytes, &err) != CHORD_OK) {
        snprintf(note, n, "KV cache not saved: %s", err.msg);
        return false;
    }
    if (bytes > 0)
        kvstore_evict(cap, path);
    return true;
}

bool kvstore_save(const chord_chat *s, const char *db, const char *model_path, int64_t conv,
                  int64_t cap, char *note, size_t n)
{
    if (n)
        note[0] = 0;
    char path[PATH_MAX];
    if (cap <= 0 || !kvstore_path(db, model_path, conv, path, sizeof path))
        return true;
    chord_kv_snap *k = NULL;
    chord_err err;
    if (chord_chat_kv_snapshot(s, &k, &err) != CHORD_OK) {
        snprintf(note, n, "KV cache not saved: %s", err.msg);
        return false;
    }
    bool ok = !k || write_snap(k, path, cap, note, n);
    chord_kv_snap_free(k);
    return ok;
}

struct kvstore_saver {
    pthread_t th;
    bool threaded;
    chord_kv_snap *snap;
    char path[PATH_MAX];
    int64_t cap;
    _Atomic bool done;
    bool ok;
    char note[512];
};

static void *saver_main(void *arg)
{
    kvstore_saver *w = arg;
    w->ok = write_snap(w->snap, w->path, w->cap, w->note, sizeof w->note);
    atomic_store(&w->done, true);
    return NULL;
}

kvstore_saver *kvstore_save_start(const chord_chat *s, const char *db, const char *model_path,
                                  int64_t conv, int64_t cap)
{
    kvstore_saver *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    chord_err err;
    if (cap <= 0 || !kvstore_path(db, model_path, conv, w->path, sizeof w->path) ||
        chord_chat_kv_snapshot(s, &w->snap, &err) != CHORD_OK || !w->snap) {
        free(w);
        return NULL;
    }
    w->cap = cap;
    w->threaded = pthread_create(&w->th, NULL, saver_main, w) == 0;
    if (!w->threaded)   /* no thread: save here rather than lose the cache */
        saver_main(w);
    return w;
}

bool kvstore_saver_done(const kvstore_saver *w)
{
    return !w || atomic_load(&w->done);
}

bool kvstore_saver_wait(kvstore_saver *w, char *note, size_t n)
{
    if (n)
        note[0] = 0;
    if (!w)
        return true;
    if (w->threaded)
        pthread_join(w->th, NULL);
    bool ok = w->ok;
    snprintf(note, n, "%s", w->note);
    chord_kv_snap_free(w->snap);
    free(w);
    return ok;
}
