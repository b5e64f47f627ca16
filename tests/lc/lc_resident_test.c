/*
 * lc_resident_test.c - the fully resident layer cache hands out exactly the
 * file's bytes, and rejects extents that run past the end of the file.
 */
#include <stdlib.h>
#include <string.h>

#include "lc/lc.h"
#include "t.h"

int main(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/w.bin", t_tmpdir());
    size_t n = 100003;
    uint8_t *data = malloc(n);
    T_REQUIRE(data != NULL, "malloc");
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        data[i] = (uint8_t)x;
    }
    T_REQUIRE(t_write_file(path, data, n), "write %s", path);

    lc_extent g0[] = {{0, 17, 0}, {50000, 3, 0}};
    lc_extent g1[] = {{17, 1000, 0}, {20001, 7777, 0}};
    lc_extent g2[] = {{99000, 1003, 0}, {1, 1, 0}, {30000, 0, 0}};
    lc_group groups[] = {{2, g0}, {2, g1}, {3, g2}};
    lc_params p = {.budget = -1, .prefetch = 2};
    lc_cache *lc = NULL;
    chord_err err = {{0}};
    T_REQUIRE(lc_open(path, 3, groups, &p, &lc, &err) == CHORD_OK, "lc_open: %s", err.msg);
    for (int g = 0; g < 3; g++) {
        T_REQUIRE(lc_acquire(lc, g, &err) == CHORD_OK, "acquire %d: %s", g, err.msg);
        for (int k = 0; k < groups[g].n; k++) {
            const lc_extent *e = &groups[g].extents[k];
            const void *ptr = lc_tensor(lc, g, k);
            T_CHECK(ptr && memcmp(ptr, data + e->offset, e->size) == 0,
                    "group %d tensor %d bytes differ", g, k);
        }
        lc_release(lc, g);
    }
    chord_stats st;
    memset(&st, 0, sizeof st);
    lc_stats(lc, &st);
    T_EQ_INT(st.n_layer, 2);
    T_EQ_INT(st.streaming, 0);
    T_CHECK(strlen(lc_plan(lc)) > 0, "empty plan");
    lc_close(lc);

    lc_extent bad[] = {{n - 10, 11, 0}};
    lc_group bg[] = {{2, g0}, {1, bad}};
    T_CHECK(lc_open(path, 2, bg, &p, &lc, &err) == CHORD_E_FORMAT, "extent past EOF accepted");
    T_CHECK(strstr(err.msg, "past end of file") != NULL, "message: %s", err.msg);
    lc_extent ovf[] = {{UINT64_MAX - 2, 5, 0}};
    lc_group og[] = {{1, ovf}};
    T_CHECK(lc_open(path, 1, og, &p, &lc, &err) == CHORD_E_FORMAT, "overflowing extent accepted");
    free(data);
    return t_done();
}
