/*
 * replay.c - runs a fuzz target's LLVMFuzzerTestOneInput over files without
 * libFuzzer, so the regression inputs under tests/fuzz/regress/ (and the
 * seeds) replay in the ordinary build and under the sanitizers.
 *
 * Usage: replay [--shared REL] FILE_OR_DIR...
 * --shared names a ../shared fixture the target loads: when it is missing
 * the test is skipped (77), or fails when CI is set. A directory is read one
 * level deep. A target signals a broken invariant by aborting, so getting
 * back here means every input passed.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n);
/* optional, as in libFuzzer: one-time setup before the first input */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int n_run;

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                fclose(f);
                free(buf);
                return 1;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "%s: read error\n", path);
        free(buf);
        return 1;
    }
    /* libFuzzer hands out exactly len bytes: a copy of that size lets ASan
     * catch reads past the end */
    unsigned char *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return 1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    n_run++;
    return 0;
}

static int run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path);
    DIR *d = opendir(path);
    if (!d) {
        perror(path);
        return 1;
    }
    int bad = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        bad |= run_path(p);
    }
    closedir(d);
    return bad;
}

int main(int argc, char **argv)
{
    int i = 1;
    if (i + 1 < argc && !strcmp(argv[i], "--shared")) {
        char *p = fuzz_shared_path(argv[i + 1]);
        if (access(p, R_OK) != 0) {
            const char *ci = getenv("CI");
            fprintf(stderr, "%s: fixture %s is missing\n", ci && *ci ? "FAIL" : "SKIP", p);
            free(p);
            return ci && *ci ? 1 : 77;
        }
        free(p);
        i += 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    int bad = 0;
    for (; i < argc; i++)
        bad |= run_path(argv[i]);
    printf("replayed %d inputs\n", n_run);
    return bad || n_run == 0;
}
