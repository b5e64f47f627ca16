/*
 * lc_fault_test.c - read faults of streamed layers: an injected EIO, short
 * read or checksum mismatch is retried once (transparently if the retry
 * works), else lc_acquire fails with a one-line CHORD_E_IO naming file,
 * layer and offset; either way the cache keeps working. Truncating the file
 * under a running cache fails only the layers past the new end, and
 * restoring it heals the cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lc_fixture.h"
#include "t.h"

static fx_model M;

/* One pass over every layer; returns the number of failed acquires and
 * stores the message of the last one. Bytes are checked for the others. */
static int cycle(lc_cache *lc, int *failed_g, char *msg, size_t cap, uint64_t *acquires)
{
    int fails = 0;
    chord_err err;
    chord_stats stats;
    lc_stats(lc, &stats);
    for (int g = 1; g < M.n_groups; g++) {
        if (stats.streaming && stats.layer_state[g - 1] != CHORD_LAYER_PINNED)
            (*acquires)++;  /* streamed acquires: the ones stats count */
        chord_status st = lc_acquire(lc, g, &err);
        if (st != CHORD_OK) {
            T_EQ_INT(st, CHORD_E_IO);
            fails++;
            if (failed_g)
                *failed_g = g;
            snprintf(msg, cap, "%s", err.msg);
            continue;
        }
        fx_check_group(&M, lc, g);
        lc_release(lc, g);
    }
    return fails;
}

static lc_cache *open_streaming(int prefetch, bool direct)
{
    lc_params p;
    lc_cache *lc = NULL;
    chord_err err;
    /* learn the costs, then ask for global + prefetch + 1 slots, nothing pinned */
    uint64_t payload = 0;
    for (int g = 0; g < M.n_groups; g++)
        for (int k = 0; k < M.groups[g].n; k++)
            payload += M.ext[g][k].size;
    p = (lc_params){.budget = (int64_t)payload - 1, .direct_io = direct};
    if (lc_open(M.path, M.n_groups, M.groups, &p, &lc, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "probe: %s", err.msg);
        return NULL;
    }
    uint64_t maxc = 0;
    for (int g = 1; g < M.n_groups; g++)
        maxc = lc_group_cost(lc, g) > maxc ? lc_group_cost(lc, g) : maxc;
    uint64_t c0 = lc_group_cost(lc, 0);
    lc_close(lc);
    p = (lc_params){.budget = (int64_t)(c0 + (uint64_t)(prefetch + 1) * maxc), .prefetch = prefetch,
                    .direct_io = direct};
    if (lc_open(M.path, M.n_groups, M.groups, &p, &lc, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "open: %s", err.msg);
        return NULL;
    }
    chord_stats st;
    lc_stats(lc, &st);
    if (!st.streaming || st.n_resident != 0) {
        t_fail_at(__FILE__, __LINE__, "want streaming with nothing pinned, got: %s", lc_plan(lc));
        lc_close(lc);
        return NULL;
    }
    return lc;
}

static void test_injected_faults(int prefetch)
{
    lc_cache *lc = open_streaming(prefetch, false);
    if (!lc)
        return;
    char msg[512] = "";
    uint64_t acquires = 0;
    T_EQ_INT(cycle(lc, NULL, msg, sizeof msg, &acquires), 0);  /* checksums recorded */
    struct { lc_fault kind; const char *says; } kinds[] = {
        {LC_FAULT_EIO, "Input/output error"},
        {LC_FAULT_SHORT, "short read"},
        {LC_FAULT_CHECKSUM, "checksum mismatch"},
    };
    for (size_t i = 0; i < 3; i++) {
        int g = 4;
        /* one fault: the retry hides it */
        lc_test_inject(lc, g, kinds[i].kind, 1);
        T_CHECK(cycle(lc, NULL, msg, sizeof msg, &acquires) == 0,
                "prefetch %d fault %d once: %s", prefetch, kinds[i].kind, msg);
        /* two: the read and its retry fail, so the acquire does */
        lc_test_inject(lc, g, kinds[i].kind, 2);
        int fg = -1;
        msg[0] = 0;
        T_CHECK(cycle(lc, &fg, msg, sizeof msg, &acquires) == 1,
                "prefetch %d fault %d twice: no single failure", prefetch, kinds[i].kind);
        T_EQ_INT(fg, g);
        T_CHECK(strstr(msg, M.path) && strstr(msg, "layer 3") && strstr(msg, "offset") &&
                strstr(msg, kinds[i].says) && !strchr(msg, '\n'),
                "prefetch %d fault %d message: %s", prefetch, kinds[i].kind, msg);
        /* and the cache works again */
        T_CHECK(cycle(lc, NULL, msg, sizeof msg, &acquires) == 0,
                "prefetch %d after fault %d: %s", prefetch, kinds[i].kind, msg);
    }
    chord_stats st;
    lc_stats(lc, &st);
    T_CHECK(st.hits + st.stalls == acquires, "hits %llu + stalls %llu != %llu acquires",
            (unsigned long long)st.hits, (unsigned long long)st.stalls,
            (unsigned long long)acquires);
    lc_close(lc);
}

static bool rewrite(void)
{
    int fd = open(M.path, O_WRONLY);
    if (fd < 0)
        return false;
    bool ok = pwrite(fd, M.data, M.size, 0) == (ssize_t)M.size;
    return close(fd) == 0 && ok;
}

static void test_truncated_under_the_cache(bool direct)
{
    lc_cache *lc = open_streaming(2, direct);
    if (!lc)
        return;
    char msg[512] = "";
    uint64_t acquires = 0;
    T_EQ_INT(cycle(lc, NULL, msg, sizeof msg, &acquires), 0);
    int first_lost = 5;  /* layers 4.. lie past the cut */
    if (truncate(M.path, (off_t)M.layer_start[first_lost]) != 0) {
        t_fail_at(__FILE__, __LINE__, "truncate %s: %s", M.path, strerror(errno));
        lc_close(lc);
        return;
    }
    for (int pass = 0; pass < 2; pass++) {
        chord_err err = {{0}};
        for (int g = 1; g < M.n_groups; g++) {
            chord_status st = lc_acquire(lc, g, &err);
            if (g < first_lost) {
                T_CHECK(st == CHORD_OK, "layer %d before the cut: %s", g - 1, err.msg);
            } else {
                T_CHECK(st == CHORD_E_IO && strstr(err.msg, "short read"),
                        "layer %d past the cut (pass %d, direct %d): status %d: %s", g - 1, pass,
                        direct, st, err.msg);
            }
            if (st == CHORD_OK) {
                fx_check_group(&M, lc, g);
                lc_release(lc, g);
            }
        }
    }
    T_CHECK(rewrite(), "cannot restore %s", M.path);
    for (int pass = 0; pass < 2; pass++)
        T_CHECK(cycle(lc, NULL, msg, sizeof msg, &acquires) == 0, "after restoring: %s", msg);
    lc_close(lc);
}

int main(void)
{
    T_REQUIRE(fx_make(&M, t_tmpdir(), 8, 80000, 777), "cannot write the fixture");
    for (int pf = 0; pf <= 3; pf++)
        test_injected_faults(pf);
    test_truncated_under_the_cache(false);
    test_truncated_under_the_cache(true);
    fx_free(&M);
    return t_done();
}
