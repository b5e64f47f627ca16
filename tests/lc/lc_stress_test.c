/*
 * lc_stress_test.c - thousands of layer cycles over random plans (budget,
 * prefetch distance 0..4, buffered or O_DIRECT), with random delays in the
 * prefetch workers, occasional one-shot faults (which the retry must hide),
 * occasional out-of-order access, and a second thread taking stats all the
 * while; every acquired layer's bytes are checked. Meant to run under TSan
 * and ASan as well (CHORD_SANITIZE=thread / address).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lc_fixture.h"
#include "t.h"

static fx_model M;
static atomic_bool stop_stats;
/* the cache the poller reads; swapped under shared_mu so it never reads a
 * cache being closed (the lifetime rule any lc_stats caller follows) */
static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static lc_cache *shared_lc;

static void set_shared(lc_cache *lc)
{
    pthread_mutex_lock(&shared_mu);
    shared_lc = lc;
    pthread_mutex_unlock(&shared_mu);
}

/* Polls lc_stats like the UI does, checking invariants that must hold in
 * any snapshot. */
static void *stats_main(void *arg)
{
    (void)arg;
    unsigned long polls = 0;
    while (!atomic_load(&stop_stats)) {
        /* a UI polls a few hundred times a second; poll much faster than
         * that, but leave the shared CPUs some air */
        nanosleep(&(struct timespec){0, 20000}, NULL);
        chord_stats st;
        pthread_mutex_lock(&shared_mu);
        bool have = shared_lc != NULL;
        if (have)
            lc_stats(shared_lc, &st);
        pthread_mutex_unlock(&shared_mu);
        if (!have)
            continue;
        if (st.queue_depth + st.in_flight > st.n_slots || st.budget_used_bytes > st.budget_bytes)
            t_fail_at(__FILE__, __LINE__, "inconsistent snapshot: queue %d in flight %d slots %d used %lld budget %lld",
                      st.queue_depth, st.in_flight, st.n_slots,
                      (long long)st.budget_used_bytes, (long long)st.budget_bytes);
        polls++;
    }
    return (void *)polls;
}

int main(void)
{
    T_REQUIRE(fx_make(&M, t_tmpdir(), 12, 6000, 4242), "cannot write the fixture");
    int L = M.n_groups - 1;
    uint64_t payload = 0, bytes[64] = {0};
    for (int g = 0; g < M.n_groups; g++)
        for (int k = 0; k < M.groups[g].n; k++) {
            payload += M.ext[g][k].size;
            bytes[g] += M.ext[g][k].size;
        }

    pthread_t th;
    T_REQUIRE(pthread_create(&th, NULL, stats_main, NULL) == 0, "pthread_create");
    uint64_t s = 2024;
    int total_cycles = 0, configs = 0;
    const int n_configs = getenv("CHORD_LC_STRESS_CONFIGS") ? atoi(getenv("CHORD_LC_STRESS_CONFIGS")) : 40;
    for (int c = 0; c < n_configs; c++) {
        bool direct = fx_rand(&s) % 4 == 0;
        int pf = (int)(fx_rand(&s) % 5);
        /* probe the costs for this mode, then draw a budget between the
         * minimum (global + one slot) and the payload */
        lc_params p = {.budget = (int64_t)payload - 1, .direct_io = direct};
        lc_cache *lc = NULL;
        chord_err err;
        T_REQUIRE(lc_open(M.path, M.n_groups, M.groups, &p, &lc, &err) == CHORD_OK, "%s", err.msg);
        uint64_t maxc = 0, c0 = lc_group_cost(lc, 0);
        for (int g = 1; g <= L; g++)
            maxc = lc_group_cost(lc, g) > maxc ? lc_group_cost(lc, g) : maxc;
        lc_close(lc);
        uint64_t lo = c0 + maxc, hi = payload > lo ? payload : lo + 1;
        p = (lc_params){.budget = (int64_t)(lo + fx_rand(&s) % (hi - lo)), .prefetch = pf,
                        .direct_io = direct};
        T_REQUIRE(lc_open(M.path, M.n_groups, M.groups, &p, &lc, &err) == CHORD_OK, "%s", err.msg);
        lc_test_delay(lc, (int)(fx_rand(&s) % 400), (unsigned)c);
        set_shared(lc);
        chord_stats st;
        lc_stats(lc, &st);
        uint64_t streamed_acq = 0;
        int cycles = 40 + (int)(fx_rand(&s) % 40);
        for (int cy = 0; cy < cycles; cy++) {
            if (fx_rand(&s) % 8 == 0)
                lc_test_inject(lc, 1 + (int)(fx_rand(&s) % (uint64_t)L),
                               (lc_fault)(1 + fx_rand(&s) % 3), 1);
            bool shuffled = fx_rand(&s) % 10 == 0;
            for (int i = 0; i < L; i++) {
                int g = shuffled ? 1 + (int)(fx_rand(&s) % (uint64_t)L) : 1 + i;
                if (lc_acquire(lc, g, &err) != CHORD_OK) {
                    t_fail_at(__FILE__, __LINE__, "config %d cycle %d layer %d: %s", c, cy, g - 1, err.msg);
                    continue;
                }
                if (st.streaming && st.layer_state[g - 1] != CHORD_LAYER_PINNED)
                    streamed_acq++;
                fx_check_group(&M, lc, g);
                lc_release(lc, g);
            }
            total_cycles++;
        }
        set_shared(NULL);
        fx_quiesce(lc);
        lc_stats(lc, &st);
        uint64_t loaded = 0;
        for (int g = 1; g <= L; g++)
            loaded += lc_test_loads(lc, g) * bytes[g];
        if (st.streaming) {
            T_CHECK(st.hits + st.stalls == streamed_acq, "config %d: hits %llu + stalls %llu != %llu",
                    c, (unsigned long long)st.hits, (unsigned long long)st.stalls,
                    (unsigned long long)streamed_acq);
            T_CHECK(st.bytes_read == loaded, "config %d: bytes read %llu != %llu", c,
                    (unsigned long long)st.bytes_read, (unsigned long long)loaded);
        }
        lc_close(lc);
        configs++;
    }
    atomic_store(&stop_stats, true);
    void *polls;
    pthread_join(th, &polls);
    printf("%d configs, %d layer cycles, %lu stats snapshots\n", configs, total_cycles,
           (unsigned long)(uintptr_t)polls);
    fx_free(&M);
    return t_done();
}
