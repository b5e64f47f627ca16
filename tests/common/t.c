/*
 * t.c - the test harness (see t.h).
 */
#include "t.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int t_failures;

void t_fail_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    t_failures++;
}

int t_done(void)
{
    if (t_failures) {
        fprintf(stderr, "%d check(s) failed\n", t_failures);
        return 1;
    }
    return 0;
}

void t_skip(const char *why)
{
    printf("SKIP: %s\n", why);
    fflush(stdout);
    exit(77);
}

bool t_shared_exists(const char *rel)
{
    const char *root = getenv("CHORD_SHARED");
    char path[4096];
    if (!root)
        return false;
    snprintf(path, sizeof path, "%s/%s", root, rel);
    return access(path, R_OK) == 0;
}

const char *t_shared(const char *rel)
{
    static char paths[64][4096];
    static int next;
    const char *root = getenv("CHORD_SHARED");
    char *path = paths[next++ % 64];
    snprintf(path, 4096, "%s/%s", root ? root : "../shared", rel);
    if (access(path, R_OK) == 0)
        return path;
    if (getenv("CI")) {
        fprintf(stderr, "FAIL: fixture %s is missing and CI is set\n", path);
        exit(1);
    }
    char why[4200];
    snprintf(why, sizeof why, "fixture %s not found (no ../shared here)", path);
    t_skip(why);
}

static char tmpdir_path[4096];

static void rm_tmpdir(void)
{
    if (tmpdir_path[0] && !getenv("CHORD_KEEP_TMP")) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir_path);
        if (system(cmd) != 0)
            fprintf(stderr, "warning: could not remove %s\n", tmpdir_path);
    }
}

const char *t_tmpdir(void)
{
    if (tmpdir_path[0])
        return tmpdir_path;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir_path, sizeof tmpdir_path, "%s/chord-test-XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(tmpdir_path)) {
        fprintf(stderr, "FAIL: mkdtemp %s: %s\n", tmpdir_path, strerror(errno));
        exit(1);
    }
    atexit(rm_tmpdir);
    return tmpdir_path;
}

char *t_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

bool t_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

const char *t_chord_bin(void)
{
    const char *b = getenv("CHORD_BIN");
    return b ? b : "chord";
}

int t_run(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + n, 1, cap - n, p)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    int st = pclose(p);
    if (buf)
        buf[n] = 0;
    if (out)
        *out = buf;
    else
        free(buf);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}
