/*
 * attn_blk_test.c - the batched prefill attention gives every row exactly
 * the one-query kernel's bits: the AVX-512 twin against the scalar twin
 * (kern_attn_head_scalar row by row) over head sizes, group sizes, block
 * shapes, padding rows, causal edges inside and across key blocks, and
 * scores spread wide enough to move the maximum often and send expf below
 * -87, sliding windows, ring caches, soft-capped scores, sinks and the
 * unfused numerics; the dispatching kern_attn_blk likewise. The
 * sixteen-lane expf and tanhf against the C library's, bit for bit, over
 * dense sweeps.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <gnu/libc-version.h>
#endif

#include "chord.h"
#include "kern/kern.h"
#include "kern/kern_attn_blk.h"
#include "quant/quant.h"
#include "t.h"

/* The sixteen-lane tanhf against the library's over every 61st float of
 * both signs up to 23 (past 22 tanhf is +-1) and the special values. Where
 * the library is glibc's fdlibm tanhf (before 2.41) the vector code must
 * compute every finite lane itself. */
/* The sweeps of expf and tanhf over float ranges, and the spread of
 * window combinations, are checked in full by the optimized build; the
 * unoptimized sanitizer builds (run for memory and data-race errors on
 * the same code, some 50 times slower) take every 64th sweep point and
 * one window combination in 19 to stay within their time. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(__OPTIMIZE__)
#define SWEEP_STRIDE 64
#define WINDOW_SPREAD 19 /* one window combination in 19, not in 3 */
#else
#define SWEEP_STRIDE 1
#define WINDOW_SPREAD 3
#endif

static void check_tanhf(void)
{
    bool own = false;
#ifdef __GLIBC__
    int maj = 0, min = 0;
    own = sscanf(gnu_get_libc_version(), "%d.%d", &maj, &min) == 2 && (maj < 2 || (maj == 2 && min < 41));
#endif
    float x[16], y[16];
    int n = 0, bad = 0, lib = 0;
    for (uint32_t u = 0; u < 0x41b80000u; u += 61 * SWEEP_STRIDE)
        for (uint32_t sg = 0; sg < 2; sg++) {
            uint32_t bits = u | sg << 31;
            memcpy(&x[n++], &bits, sizeof(float));
            if (n == 16) {
                lib += kern_attn_tanhf16(x, y);
                for (int i = 0; i < 16; i++)
                    if (memcmp(&y[i], &(float){tanhf(x[i])}, sizeof(float)) && bad++ < 5)
                        t_fail_at(__FILE__, __LINE__, "tanhf(%a): %a, libm %a", x[i], y[i], tanhf(x[i]));
                n = 0;
            }
        }
    T_CHECK(!own || lib == 0, "%d finite lanes went to the library's tanhf", lib);
    float sp[16] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1.0f, -1.0f, 22.0f, -22.0f, 0x1p-55f,
                    -0x1p-56f, 1e-30f, 0.34657359f, 1.0397208f, 9.01f, 1e30f};
    kern_attn_tanhf16(sp, y);
    for (int i = 0; i < 16; i++) {
        float r = tanhf(sp[i]);
        T_CHECK(!memcmp(&y[i], &r, sizeof(float)) || (isnan(r) && isnan(y[i])), "tanhf(%a): %a, libm %a", sp[i],
                y[i], r);
    }
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;

/* A local layer's features: window, ring rows, score cap, numerics. */
typedef struct feat {
    int window, ring;
    float softcap;
    bool unfused, sinks;
} feat;

/* One shape: n_kv KV heads of hd in the cache (the block uses head 1),
 * n_grp query heads per KV head, n_tok tokens from pos0; q magnitude qs.
 * With a ring the cache has f.ring rows (every row random: the twins read
 * the same rows, whatever the positions they stand for). */
static void check_feat(int hd, int n_grp, int n_tok, int pos0, float qs, bool simd, feat f)
{
    int n_kv = 3, n_pos = pos0 + n_tok, n_rows = f.ring ? f.ring : n_pos;
    size_t ld = (size_t)n_kv * hd, nq = (size_t)n_kv * n_grp * hd;
    uint16_t *k = malloc((size_t)n_rows * ld * sizeof *k), *v = malloc((size_t)n_rows * ld * sizeof *v);
    float *q = malloc((size_t)n_tok * nq * sizeof *q);
    float *o1 = calloc((size_t)n_tok * nq, sizeof *o1), *o2 = calloc((size_t)n_tok * nq, sizeof *o2);
    float *o3 = calloc((size_t)n_tok * nq, sizeof *o3);
    for (size_t i = 0; i < (size_t)n_rows * ld; i++) {
        k[i] = quant_f32_to_f16(t_sym(&rng) * 2.0f);
        v[i] = quant_f32_to_f16(t_sym(&rng));
    }
    for (size_t i = 0; i < (size_t)n_tok * nq; i++)
        q[i] = t_sym(&rng) * qs;
    size_t nws = kern_attn_blk_ws_floats(hd, n_tok * n_grp, n_pos);
    float *ws = aligned_alloc(64, ((nws * sizeof(float)) + 63) & ~(size_t)63);
    size_t hoff = (size_t)1 * n_grp * hd; /* query heads of KV head 1 */
    kern_attn_qblk b = {
        .q = q + hoff, .ldq = nq, .out = o1 + hoff, .ldo = nq,
        .k = k + hd, .v = v + hd, .ld = ld,
        .n_tok = n_tok, .n_grp = n_grp, .pos0 = pos0, .hd = hd,
        .scale = 1.0f / sqrtf((float)hd),
        .window = f.window, .ring = f.ring, .softcap = f.softcap, .unfused = f.unfused,
    };
    /* sinks from well below to well above the scores, so that some move
     * the maximum */
    float sinks[8];
    for (int h = 0; h < n_grp; h++)
        sinks[h] = t_sym(&rng) * (h % 2 ? 2.0f : 12.0f) * qs;
    if (f.sinks)
        b.sinks = sinks;
    kern_attn_blk_scalar(&b, ws);
    b.out = o3 + hoff;
    kern_attn_blk(&b, ws);
    T_CHECK(!memcmp(o1, o3, (size_t)n_tok * nq * sizeof *o1),
            "hd %d grp %d tok %d pos0 %d qs %g win %d ring %d cap %g unf %d sink %d: kern_attn_blk differs "
            "from "
            "the scalar twin",
            hd, n_grp, n_tok, pos0, qs, f.window, f.ring, f.softcap, f.unfused, f.sinks);
    if (simd) {
        b.out = o2 + hoff;
        kern_attn_blk_avx512(&b, ws);
        int bad = -1;
        for (size_t i = 0; i < (size_t)n_tok * nq && bad < 0; i++)
            if (memcmp(&o1[i], &o2[i], sizeof *o1))
                bad = (int)i;
        T_CHECK(bad < 0,
                "hd %d grp %d tok %d pos0 %d qs %g win %d ring %d cap %g unf %d sink %d: AVX-512 twin differs "
                "at "
                "%d: %.9g vs %.9g",
                hd, n_grp, n_tok, pos0, qs, f.window, f.ring, f.softcap, f.unfused, f.sinks, bad,
                bad < 0 ? 0 : o1[bad], bad < 0 ? 0 : o2[bad]);
    }
    /* Only KV head 1's query heads are written. */
    for (size_t t = 0; t < (size_t)n_tok; t++)
        for (size_t i = 0; i < nq; i++)
            if (i < hoff || i >= hoff + (size_t)n_grp * hd)
                T_CHECK(o1[t * nq + i] == 0 && o2[t * nq + i] == 0, "wrote outside the block at %zu", i);
    free(ws);
    free(k);
    free(v);
    free(q);
    free(o1);
    free(o2);
    free(o3);
}

static void check_shape(int hd, int n_grp, int n_tok, int pos0, float qs, bool simd)
{
    check_feat(hd, n_grp, n_tok, pos0, qs, simd, (feat){0});
}

/* Windows narrower than, equal to and wider than a key block, each as a
 * plain cache and as rings just large enough for the batch (window +
 * n_tok - 1 rows: the oldest position a token needs is overwritten by the
 * batch's last) or a little larger, at positions where the rings have
 * wrapped, so key blocks straddle a ring's end; every head size, group
 * sizes 1-8 with full and partial row vectors. */
static void check_windows(bool simd, feat base)
{
    const int wins[] = {1, 7, 31, 32, 33, 100};
    const int hds[] = {32, 64, 128, 256};
    const struct { int n_tok, pos0; } shapes[] = {
        {1, 0}, {4, 0}, {16, 5}, {9, 31}, {13, 40}, {64, 99}, {3, 150}, {21, 257}, {64, 300},
    };
    int c = 0;
    for (size_t wi = 0; wi < sizeof wins / sizeof *wins; wi++)
        for (int hi = 0; hi < 4; hi++)
            for (int g = 1; g <= 8; g++)
                for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
                    /* a spread of the combinations: every shape and
                     * window for each head size, groups in turn */
                    if ((g + (int)si + (int)wi) % WINDOW_SPREAD != 0)
                        continue;
                    int n_tok = shapes[si].n_tok, pos0 = shapes[si].pos0, w = wins[wi];
                    if (n_tok * g > KERN_ATTN_MAX_ROWS)
                        n_tok = KERN_ATTN_MAX_ROWS / g;
                    feat f = base;
                    f.window = w;
                    const int rings[] = {0, w + n_tok - 1, w + n_tok + 3, w + n_tok + 32};
                    f.ring = rings[c++ % 4];
                    check_feat(hds[hi], g, n_tok, pos0, 2.0f, simd, f);
                }
    /* Wide scores across window starts. */
    feat f = base;
    f.window = 33;
    f.ring = 33 + 8 + 5;
    check_feat(64, 8, 8, 170, 60.0f, simd, f);
    f.window = 7;
    f.ring = 7 + 9 - 1;
    check_feat(128, 7, 9, 33, 200.0f, simd, f);
}

int main(void)
{
    chord_init();
    bool simd = quant_cpu_has("avx512");
    if (simd) {
        /* expf: every 97th float in [-104, 0] plus the special values. */
        float x[16], y[16];
        int n = 0, bad = 0;
        uint32_t lo = 0x80000000u, hi = 0xC2F00000u; /* -0 .. -120 */
        for (uint64_t u = lo; u <= hi; u += 97 * SWEEP_STRIDE) {
            uint32_t bits = (uint32_t)u;
            memcpy(&x[n++], &bits, sizeof(float));
            if (n == 16) {
                kern_attn_expf16(x, y);
                for (int i = 0; i < 16; i++)
                    if (memcmp(&y[i], &(float){expf(x[i])}, sizeof(float)) && bad++ < 5)
                        t_fail_at(__FILE__, __LINE__, "expf(%a): %a, libm %a", x[i], y[i], expf(x[i]));
                n = 0;
            }
        }
        float sp[16] = {-INFINITY, 0.0f, -0.0f, -87.0f, -86.99999f, -87.00001f, -103.9f, -150.0f,
                        -1e-30f, -1e-7f, -0.5f, -0.6931472f, -1.0f, -20.0f, -109.99f, -110.0f};
        kern_attn_expf16(sp, y);
        for (int i = 0; i < 16; i++)
            T_CHECK(!memcmp(&y[i], &(float){expf(sp[i])}, sizeof(float)), "expf(%a): %a, libm %a", sp[i],
                    y[i], expf(sp[i]));
        check_tanhf();
    }

    const int hds[] = {32, 64, 128};
    const int grps[] = {1, 4, 7, 8};
    const struct { int n_tok, pos0; } shapes[] = {
        {1, 0}, {1, 40}, {2, 0}, {3, 29}, {9, 0}, {8, 31}, {16, 17}, {5, 64}, {13, 100},
    };
    for (int hi = 0; hi < 3; hi++)
        for (int gi = 0; gi < 4; gi++)
            for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
                int n_tok = shapes[si].n_tok;
                if (n_tok * grps[gi] > KERN_ATTN_MAX_ROWS)
                    n_tok = KERN_ATTN_MAX_ROWS / grps[gi];
                check_shape(hds[hi], grps[gi], n_tok, shapes[si].pos0, 2.0f, simd);
            }
    /* Wide scores: the maximum moves often and many exponents fall below
     * -87 (the library's own expf for those lanes). */
    check_shape(64, 8, 8, 70, 60.0f, simd);
    check_shape(128, 7, 9, 33, 200.0f, simd);
    check_shape(256, 2, 32, 70, 2.0f, simd);
    check_windows(simd, (feat){0});
    /* Gemma2's cap (50) on plain and windowed blocks; a tight cap with
     * wide scores, so that many scores sit on the flat of tanh. */
    for (int hi = 0; hi < 4; hi++)
        for (int g = 1; g <= 8; g += 3)
            check_feat(32 << hi, g, KERN_ATTN_MAX_ROWS / g - hi, 37 * hi, 2.0f, simd, (feat){.softcap = 50.0f});
    check_feat(128, 4, 16, 90, 200.0f, simd, (feat){.softcap = 5.0f});
    check_feat(256, 2, 32, 300, 60.0f, simd, (feat){.softcap = 30.0f});
    check_windows(simd, (feat){.softcap = 50.0f});
    /* The unfused numerics: plain, wide, capped, windowed and ringed. */
    for (int hi = 0; hi < 4; hi++)
        for (int g = 1; g <= 8; g += 2)
            check_feat(32 << hi, g, KERN_ATTN_MAX_ROWS / g - hi, 29 * hi + g, 2.0f, simd, (feat){.unfused = true});
    check_feat(64, 8, 8, 70, 60.0f, simd, (feat){.unfused = true});
    check_feat(128, 7, 9, 33, 200.0f, simd, (feat){.unfused = true});
    check_feat(256, 2, 32, 300, 60.0f, simd, (feat){.softcap = 30.0f, .unfused = true});
    check_windows(simd, (feat){.unfused = true});
    check_windows(simd, (feat){.softcap = 50.0f, .unfused = true});
    /* gpt-oss's sinks, both numerics, with and without windows. */
    for (int hi = 0; hi < 4; hi++)
        for (int g = 1; g <= 8; g += 3) {
            check_feat(32 << hi, g, KERN_ATTN_MAX_ROWS / g - hi, 23 * hi + g, 2.0f, simd, (feat){.sinks = true});
            check_feat(32 << hi, g, KERN_ATTN_MAX_ROWS / g - hi, 23 * hi + g, 2.0f, simd,
                       (feat){.sinks = true, .unfused = true});
        }
    check_feat(64, 8, 8, 70, 60.0f, simd, (feat){.sinks = true});
    check_feat(64, 8, 8, 70, 60.0f, simd, (feat){.sinks = true, .unfused = true});
    check_windows(simd, (feat){.sinks = true});
    check_windows(simd, (feat){.sinks = true, .unfused = true});
    if (!simd)
        printf("no AVX-512 here: only the dispatch was checked against the scalar twin\n");
    return t_done();
}
