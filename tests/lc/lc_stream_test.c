/*
 * lc_stream_test.c - the streaming layer cache hands out exactly the file's
 * bytes for every plan (all resident, one slot, pinned + slots) and every
 * prefetch distance 0..4, buffered and O_DIRECT, in cyclic and in random
 * order, and its stats add up: hits + stalls == streamed acquires, bytes
 * read == loads x layer bytes.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lc_fixture.h"
#include "t.h"

static fx_model M;
static uint64_t cost[65];
static uint64_t payload;

/* Buffer costs depend on the read alignment (64 bytes, 4096 with
 * O_DIRECT): learn them from a streaming cache in that mode. */
static bool probe_costs(bool direct)
{
    lc_params p = {.budget = (int64_t)payload - 1, .direct_io = direct};
    lc_cache *lc = NULL;
    chord_err err;
    if (lc_open(M.path, M.n_groups, M.groups, &p, &lc, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "probe: %s", err.msg);
        return false;
    }
    for (int g = 0; g < M.n_groups; g++)
        cost[g] = lc_group_cost(lc, g);
    lc_close(lc);
    return true;
}

/* Runs `cycles` forward passes (global, then layers 0..L-1) checking bytes,
 * then checks the stats. */
static void run_cycles(lc_cache *lc, int cycles, int compute_us)
{
    chord_err err;
    int L = M.n_groups - 1;
    for (int c = 0; c < cycles; c++) {
        T_CHECK(lc_acquire(lc, 0, &err) == CHORD_OK, "acquire global: %s", err.msg);
        fx_check_group(&M, lc, 0);
        for (int g = 1; g <= L; g++) {
            chord_status st = lc_acquire(lc, g, &err);
            if (st != CHORD_OK) {
                t_fail_at(__FILE__, __LINE__, "acquire %d: %s", g, err.msg);
                continue;
            }
            fx_check_group(&M, lc, g);
            if (compute_us)
                usleep((useconds_t)compute_us);
            lc_release(lc, g);
        }
        lc_release(lc, 0);
    }
}

static void check_stats(lc_cache *lc, const char *what, uint64_t streamed_acquires)
{
    chord_stats st;
    memset(&st, 0, sizeof st);
    fx_quiesce(lc);  /* no prefetch may land between the counters read below */
    lc_stats(lc, &st);
    int L = M.n_groups - 1;
    T_EQ_INT(st.n_layer, L);
    uint64_t loaded = 0;
    for (int g = 1; g <= L; g++) {
        uint64_t b = 0;
        for (int k = 0; k < M.groups[g].n; k++)
            b += M.ext[g][k].size;
        loaded += lc_test_loads(lc, g) * b;
    }
    T_CHECK(st.hits + st.stalls == streamed_acquires, "%s: hits %llu + stalls %llu != %llu streamed acquires",
            what, (unsigned long long)st.hits, (unsigned long long)st.stalls,
            (unsigned long long)streamed_acquires);
    T_CHECK(st.bytes_read == loaded, "%s: bytes_read %llu, loads x bytes %llu", what,
            (unsigned long long)st.bytes_read, (unsigned long long)loaded);
    T_CHECK(st.budget_used_bytes <= st.budget_bytes, "%s: used %lld > budget %lld", what,
            (long long)st.budget_used_bytes, (long long)st.budget_bytes);
    T_CHECK(st.queue_depth + st.in_flight <= st.n_slots, "%s: queue %d + in flight %d > %d slots",
            what, st.queue_depth, st.in_flight, st.n_slots);
    /* pinned layers are spread among the streamed ones: count them */
    int pinned = 0, last_pinned = -1, max_gap = 0;
    for (int i = 0; i < L; i++) {
        if (!st.streaming) {
            T_CHECK(st.layer_state[i] == CHORD_LAYER_RESIDENT, "%s: layer %d state %d", what, i,
                    st.layer_state[i]);
        } else if (st.layer_state[i] == CHORD_LAYER_PINNED) {
            pinned++;
            if (i - last_pinned - 1 > max_gap)
                max_gap = i - last_pinned - 1;
            last_pinned = i;
        } else {
            T_CHECK(st.layer_state[i] != CHORD_LAYER_IN_USE,
                    "%s: streamed layer %d state %d after release", what, i, st.layer_state[i]);
        }
    }
    if (!st.streaming)
        return;
    T_EQ_INT(pinned, st.n_resident);
    /* evenly: runs of streamed layers between pinned ones differ by at
     * most one (the tail before the first pinned layer included) */
    if (pinned > 0 && pinned < L) {
        int want = (L - pinned + pinned - 1) / pinned;
        T_CHECK(max_gap <= want, "%s: %d streamed layers in a row with %d of %d pinned", what,
                max_gap, pinned, L);
    }
}

/* Opens with a budget and checks the plan matches expectations (-1 = any). */
static lc_cache *open_with(int64_t budget, int prefetch, bool direct, int want_r, int want_s)
{
    lc_params p = {.budget = budget, .prefetch = prefetch, .direct_io = direct};
    lc_cache *lc = NULL;
    chord_err err = {{0}};
    if (lc_open(M.path, M.n_groups, M.groups, &p, &lc, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "lc_open budget %lld prefetch %d: %s", (long long)budget,
                  prefetch, err.msg);
        return NULL;
    }
    chord_stats st;
    lc_stats(lc, &st);
    if (want_r >= 0)
        T_CHECK(st.n_resident == want_r, "budget %lld prefetch %d: %d pinned, want %d (%s)",
                (long long)budget, prefetch, st.n_resident, want_r, lc_plan(lc));
    if (want_s >= 0)
        T_CHECK(st.n_slots == want_s, "budget %lld prefetch %d: %d slots, want %d (%s)",
                (long long)budget, prefetch, st.n_slots, want_s, lc_plan(lc));
    return lc;
}

static void test_every_plan_gives_the_files_bytes(bool direct)
{
    int L = M.n_groups - 1;
    uint64_t maxc = 0, sum = 0;
    for (int g = 1; g <= L; g++) {
        maxc = cost[g] > maxc ? cost[g] : maxc;
        sum += cost[g];
    }
    /* budgets in cost units; the expected R and S for each prefetch
     * distance are checked where they are unambiguous */
    for (int pf = 0; pf <= 4; pf++) {
        /* the whole model is mapped when the budget covers its payload */
        struct { int64_t budget; int r, s; } plans[] = {
            {-1, L, 0},
            {(int64_t)payload, L, 0},
            {(int64_t)(cost[0] + maxc), 0, 1},                 /* one slot */
            {(int64_t)(cost[0] + 2 * maxc), pf >= 1 ? 0 : -1, pf >= 1 ? 2 : -1},
            {(int64_t)(cost[0] + cost[1] + cost[2] + (uint64_t)(pf + 1) * maxc), -1, -1},
            {(int64_t)(cost[0] + sum - cost[L] - cost[L - 1] + 2 * maxc), -1, -1},
            {(int64_t)payload - 1, -1, -1},
        };
        for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++) {
            lc_cache *lc = open_with(plans[i].budget, pf, direct, plans[i].r, plans[i].s);
            if (!lc)
                continue;
            chord_stats st;
            lc_stats(lc, &st);
            bool stream = plans[i].budget >= 0 && (uint64_t)plans[i].budget < payload;
            T_CHECK(st.streaming == stream, "budget %lld: streaming %d (%s)",
                    (long long)plans[i].budget, st.streaming, lc_plan(lc));
            int cycles = 4;
            run_cycles(lc, cycles, i == 4 ? 3000 : 0);
            char what[64];
            snprintf(what, sizeof what, "plan %zu prefetch %d%s", i, pf, direct ? " direct" : "");
            check_stats(lc, what, st.streaming ? (uint64_t)cycles * (uint64_t)(L - st.n_resident) : 0);
            if (st.streaming && st.n_slots < L - st.n_resident)
                for (int g = 1; g <= L; g++)
                    T_CHECK(st.layer_state[g - 1] == CHORD_LAYER_PINNED ||
                            lc_test_loads(lc, g) >= (uint64_t)cycles, "%s: layer %d loaded %llu times in %d cycles",
                            what, g - 1, (unsigned long long)lc_test_loads(lc, g), cycles);
            if (i == 4 && pf >= 1 && st.streaming) {
                lc_stats(lc, &st);
                T_CHECK(st.hits > 0, "%s: prefetch with slow compute never hit (%llu stalls)",
                        what, (unsigned long long)st.stalls);
            }
            lc_close(lc);
        }
    }
}

static void test_budget_too_small_is_a_clear_error(void)
{
    uint64_t maxc = 0;
    for (int g = 1; g < M.n_groups; g++)
        maxc = cost[g] > maxc ? cost[g] : maxc;
    lc_params p = {.budget = (int64_t)(cost[0] + maxc - 1), .prefetch = 2};
    lc_cache *lc = NULL;
    chord_err err = {{0}};
    T_EQ_INT(lc_open(M.path, M.n_groups, M.groups, &p, &lc, &err), CHORD_E_NOMEM);
    char want[64];
    snprintf(want, sizeof want, "%llu", (unsigned long long)(cost[0] + maxc));
    T_CHECK(strstr(err.msg, want) && strstr(err.msg, "too small"), "message: %s", err.msg);
    T_CHECK(lc == NULL, "cache returned on error");
}

/* Random access (not the cycle the policy predicts) and two layers held
 * at once must still give the right bytes. */
static void test_random_order_and_two_held(void)
{
    uint64_t maxc = 0;
    int L = M.n_groups - 1;
    for (int g = 1; g <= L; g++)
        maxc = cost[g] > maxc ? cost[g] : maxc;
    lc_cache *lc = open_with((int64_t)(cost[0] + 3 * maxc), 2, false, 0, 3);
    if (!lc)
        return;
    uint64_t s = 99;
    chord_err err;
    for (int i = 0; i < 300; i++) {
        int a = 1 + (int)(fx_rand(&s) % (uint64_t)L);
        int b = 1 + (int)(fx_rand(&s) % (uint64_t)L);
        if (lc_acquire(lc, a, &err) != CHORD_OK) {
            t_fail_at(__FILE__, __LINE__, "acquire %d: %s", a, err.msg);
            continue;
        }
        if (lc_acquire(lc, b, &err) != CHORD_OK) {
            t_fail_at(__FILE__, __LINE__, "acquire %d while holding %d: %s", b, a, err.msg);
            lc_release(lc, a);
            continue;
        }
        fx_check_group(&M, lc, a);
        fx_check_group(&M, lc, b);
        lc_release(lc, b);
        fx_check_group(&M, lc, a);
        lc_release(lc, a);
    }
    check_stats(lc, "random order", 600);
    /* holding every slot and asking for one more is an error, not a hang */
    for (int g = 1; g <= 3; g++)
        T_CHECK(lc_acquire(lc, g, &err) == CHORD_OK, "acquire %d: %s", g, err.msg);
    T_EQ_INT(lc_acquire(lc, 4, &err), CHORD_E_INVALID);
    for (int g = 1; g <= 3; g++)
        lc_release(lc, g);
    T_CHECK(lc_acquire(lc, 4, &err) == CHORD_OK, "acquire after release: %s", err.msg);
    fx_check_group(&M, lc, 4);
    lc_release(lc, 4);
    lc_close(lc);
}

int main(void)
{
    const char *dir = t_tmpdir();
    T_REQUIRE(fx_make(&M, dir, 8, 20000, 12345), "cannot write the fixture");
    for (int g = 0; g < M.n_groups; g++)
        for (int k = 0; k < M.groups[g].n; k++)
            payload += M.ext[g][k].size;
    T_REQUIRE(probe_costs(false), "probe");
    test_every_plan_gives_the_files_bytes(false);
    T_REQUIRE(probe_costs(true), "probe");
    test_every_plan_gives_the_files_bytes(true);
    T_REQUIRE(probe_costs(false), "probe");
    test_budget_too_small_is_a_clear_error();
    test_random_order_and_two_held();
    fx_free(&M);
    return t_done();
}
