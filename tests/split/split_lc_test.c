/*
 * split_lc_test.c - the layer cache over several files (the parts of a
 * split model): every extent's bytes come from its own file, whether the
 * files are mapped (resident), streamed through slots, or read with
 * O_DIRECT, with groups whose extents lie in different files; an extent
 * naming a file that does not exist, or running past the end of its own
 * (smaller) file, is refused.
 */
#include <stdlib.h>
#include <string.h>

#include "lc/lc.h"
#include "t.h"

#define NF 3

static uint8_t *data[NF];
static const size_t size[NF] = {100003, 7, 65536 + 123};

/* Opens the cache over the files with budget, reads every group twice
 * (the second pass after the slots have cycled) and compares the bytes. */
static void check(const char *const *paths, int n_groups, const lc_group *groups, int64_t budget,
                  bool direct, bool want_streaming)
{
    lc_params p = {.budget = budget, .prefetch = 2, .direct_io = direct};
    lc_cache *lc = NULL;
    chord_err err = {{0}};
    if (lc_open_files(NF, paths, n_groups, groups, &p, &lc, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "lc_open_files budget %lld: %s", (long long)budget, err.msg);
        return;
    }
    chord_stats st;
    memset(&st, 0, sizeof st);
    lc_stats(lc, &st);
    T_EQ_INT(st.streaming, want_streaming);
    for (int pass = 0; pass < 2; pass++)
        for (int g = 0; g < n_groups; g++) {
            if (lc_acquire(lc, g, &err) != CHORD_OK) {
                t_fail_at(__FILE__, __LINE__, "acquire %d: %s", g, err.msg);
                continue;
            }
            for (int k = 0; k < groups[g].n; k++) {
                const lc_extent *e = &groups[g].extents[k];
                const uint8_t *ptr = lc_tensor(lc, g, k);
                T_CHECK(ptr && memcmp(ptr, data[e->file] + e->offset, e->size) == 0,
                        "budget %lld direct %d pass %d: group %d tensor %d (file %d offset %llu)"
                        " bytes differ", (long long)budget, direct, pass, g, k, e->file,
                        (unsigned long long)e->offset);
            }
            lc_release(lc, g);
        }
    lc_close(lc);
}

int main(void)
{
    char path[NF][4200];
    const char *paths[NF];
    uint64_t x = 88172645463325252ull;
    for (int f = 0; f < NF; f++) {
        snprintf(path[f], sizeof path[f], "%s/m-%05d-of-%05d.gguf", t_tmpdir(), f + 1, NF);
        paths[f] = path[f];
        data[f] = malloc(size[f]);
        T_REQUIRE(data[f] != NULL, "malloc");
        for (size_t i = 0; i < size[f]; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            data[f][i] = (uint8_t)x;
        }
        T_REQUIRE(t_write_file(path[f], data[f], size[f]), "write %s", path[f]);
    }
    /* layers whose tensors lie in two or three files, at the same offsets
     * in different files, one empty, one at the very end of its file */
    lc_extent g0[] = {{0, 17, 0}, {100, 5000, 2}};
    lc_extent g1[] = {{0, 7, 1}, {20001, 7777, 0}, {20001, 4000, 2}};
    lc_extent g2[] = {{40000, 10000, 2}, {99000, 1003, 0}, {3, 0, 1}};
    lc_extent g3[] = {{50000, 3000, 0}, {0, 64, 2}, {size[2] - 99, 99, 2}, {2, 5, 1}};
    lc_extent g4[] = {{60000, 9000, 0}};
    lc_group groups[] = {{2, g0}, {3, g1}, {3, g2}, {4, g3}, {1, g4}};
    int n = 5;

    check(paths, n, groups, -1, false, false);
    /* the global group plus one or two layers' slots: streamed */
    check(paths, n, groups, 5200 + 2 * 12000, false, true);
    check(paths, n, groups, 5200 + 12000, false, true);
    check(paths, n, groups, 5200 + 2 * 16000, true, true);

    lc_cache *lc = NULL;
    chord_err err = {{0}};
    lc_params p = {.budget = -1, .prefetch = 2};
    lc_extent nofile[] = {{0, 1, NF}};
    lc_group bad1[] = {{2, g0}, {1, nofile}};
    T_CHECK(lc_open_files(NF, paths, 2, bad1, &p, &lc, &err) == CHORD_E_INVALID,
            "an extent in a file that is not there accepted");
    /* 8 bytes at 0 fit files 0 and 2 but not file 1 (7 bytes) */
    lc_extent past[] = {{0, 8, 1}};
    lc_group bad2[] = {{2, g0}, {1, past}};
    T_CHECK(lc_open_files(NF, paths, 2, bad2, &p, &lc, &err) == CHORD_E_FORMAT,
            "an extent past the end of its file accepted");
    T_CHECK(strstr(err.msg, "m-00002-of-00003.gguf") && strstr(err.msg, "past end of file"),
            "message does not name the file: %s", err.msg);
    for (int f = 0; f < NF; f++)
        free(data[f]);
    return t_done();
}
