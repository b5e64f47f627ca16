/*
 * test_gemm.c - quant_gemm_matches_dots: the multi-token int8 GEMM
 * (quant.h, quant_gemm*.c) against its scalar twin, against the per-token
 * vec_dot of the level in use, and, through kern_matmul, against the
 * per-token path and against dequantized weights times float activations
 * (cblas_sgemm).
 *
 * Weights are random bytes (every quant pattern) with random half scales
 * including extremes (0, the smallest subnormal, +-65504), all-zero and
 * all-0xFF blocks; activations are quantized from random floats or are raw
 * extreme quants (-128 / 127 with consistent Q8_K sums). The blocked
 * kernels promise the bits of the vec_dot at their level, except Q8_0's,
 * which promises the scalar twin's (quant.h); so those checks are exact,
 * and the others (Q4_0 against the scalar twin, Q8_0 against the AVX-512
 * vec_dot) allow float summation order: relative 2e-6 of sum |w * a|.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "kern/kern.h"
#include "pool/pool.h"
#include "quant/quant_impl.h"
#include "t.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float unif(void)
{
    return (float)((t_rand(&rng) >> 40) / 16777216.0) * 2.0f - 1.0f;
}

static uint16_t any_scale(void)
{
    static const uint16_t ext[] = {0x0000, 0x0001, 0x7bff, 0xfbff, 0x3c00, 0x0400};
    uint64_t r = t_rand(&rng);
    if (r % 7 == 0)
        return ext[(r >> 8) % 6];
    float f = ldexpf(0.5f + (float)((r >> 16) % 1000) / 2000.0f, (int)((r >> 32) % 12) - 10);
    return quant_f32_to_f16((r >> 48) & 1 ? -f : f);
}

/* Where the half scales of a block are. */
static int half_offsets(int type, int off[2])
{
    switch (type) {
    case QT_Q4_0: case QT_Q8_0: off[0] = 0; return 1;
    case QT_Q4_K: case QT_Q5_K: off[0] = 0; off[1] = 2; return 2;
    case QT_Q6_K: off[0] = 208; return 1;
    default: return 0;
    }
}

static void fill_weights(int type, uint8_t *w, int64_t n_blocks)
{
    const int bs = quant_traits_of(type)->bytes;
    for (int64_t b = 0; b < n_blocks; b++) {
        uint8_t *blk = w + b * bs;
        for (int k = 0; k < bs; k++)
            blk[k] = b % 9 == 0 ? 0 : b % 9 == 1 ? 0xFF : (uint8_t)t_rand(&rng);
        int off[2], nf = half_offsets(type, off);
        for (int f = 0; f < nf; f++) {
            uint16_t h = any_scale();
            memcpy(blk + off[f], &h, 2);
        }
    }
}

/* One activation row: variant 0 random floats, 1 zeros, 2 raw extremes. */
static void fill_act(int at, uint8_t *a, int64_t n, int variant)
{
    float *f = malloc((size_t)n * sizeof *f);
    for (int64_t i = 0; i < n; i++)
        f[i] = variant == 1 ? 0.0f : unif() * (i % 97 == 0 ? 50.0f : 2.0f);
    quant_quantize_row(at, f, a, n);
    free(f);
    if (variant != 2)
        return;
    if (at == QT_Q8_K) {
        block_q8_K *y = (block_q8_K *)a;
        for (int64_t b = 0; b < n / QK_K; b++) {
            for (int j = 0; j < QK_K; j++)
                y[b].qs[j] = (int8_t)(b % 2 ? -128 : (j % 3 ? 127 : (int)(t_rand(&rng) % 256) - 128));
            for (int j = 0; j < 16; j++) {
                int s = 0;
                for (int l = 0; l < 16; l++)
                    s += y[b].qs[16 * j + l];
                y[b].bsums[j] = (int16_t)s;
            }
        }
    } else {
        block_q8_0 *y = (block_q8_0 *)a;
        for (int64_t b = 0; b < n / QK8_0; b++)
            for (int j = 0; j < QK8_0; j++)
                y[b].qs[j] = (int8_t)(b % 2 ? -128 : 127);
    }
}

static const int types[] = {QT_Q8_0, QT_Q4_0, QT_Q4_K, QT_Q5_K, QT_Q6_K};

static int same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Whether the blocked kernel of type has the scalar vec_dot's bits rather
 * than its level's (quant.h). */
static int scalar_bits(int type)
{
    return type == QT_Q8_0;
}

/* g and s equal up to float summation order, mag = sum |w * a|. */
static int near_sum(float g, float s, double mag)
{
    if (isfinite(mag))
        return fabs((double)g - s) <= 2e-6 * mag;
    return same_bits(g, s) || (isnan(g) && isnan(s)) || g == s;
}

/* Kernel-level: every available level against the scalar twin and the
 * vec_dot of that level, for several n, row ranges and token counts. */
static void check_kernels(int type)
{
    const quant_traits *tr = quant_traits_of(type);
    const int at = quant_act_type(type);
    const int ns_k[] = {256, 768, 2304}, ns_0[] = {32, 96, 2080};
    const int toks[] = {1, 3, 4, 5, 9, 70};
    const int rows = 21;
    for (int ni = 0; ni < 3; ni++) {
        const int64_t n = tr->block == QK_K ? ns_k[ni] : ns_0[ni];
        const size_t rb = quant_row_bytes(type, n), ab = quant_row_bytes(at, n);
        uint8_t *w = malloc(rb * rows), *a = malloc(ab * 70);
        float *ref = malloc(sizeof(float) * 70 * rows), *got = malloc(sizeof(float) * 70 * rows);
        float *wf = malloc(sizeof(float) * n * rows), *af = malloc(sizeof(float) * n * 70);
        fill_weights(type, w, (int64_t)rows * (n / tr->block));
        for (int t = 0; t < 70; t++)
            fill_act(at, a + t * ab, n, t % 11 == 3 ? 1 : t % 11 == 7 ? 2 : 0);
        for (int r = 0; r < rows; r++)
            quant_dequant_row(type, w + r * rb, wf + r * n, n);
        for (int t = 0; t < 70; t++)
            quant_dequant_row(at, a + t * ab, af + t * n, n);
        for (int ti = 0; ti < 6; ti++) {
            const int nt = toks[ti], r0 = ti % 3, r1 = rows - ti % 2;
            quant_gemm_fn sfn = quant_gemm_for(type, "scalar");
            T_CHECK(sfn, "%s: no scalar gemm", tr->name);
            if (!sfn)
                continue;
            for (size_t k = 0; k < 70 * (size_t)rows; k++)
                ref[k] = got[k] = -7.0f;
            sfn(n, w, rb, r0, r1, a, ab, nt, ref, rows);
            const char *lv = "avx512";
            quant_gemm_fn vfn = quant_gemm_for(type, lv);
            if (!quant_cpu_has(lv) || !vfn)
                continue;
            vfn(n, w, rb, r0, r1, a, ab, nt, got, rows);
            const quant_kernels *kv = quant_kernels_for(type, lv);
            int bad_twin = 0, bad_dot = 0, bad_range = 0;
            for (int t = 0; t < 70; t++)
                for (int r = 0; r < rows; r++) {
                    float g = got[t * rows + r], s = ref[t * rows + r];
                    if (t >= nt || r < r0 || r >= r1) {
                        bad_range += !(g == -7.0f && s == -7.0f);
                        continue;
                    }
                    float d;
                    kv->vec_dot(n, &d, w + r * rb, a + t * ab);
                    double mag = 0;
                    for (int64_t i = 0; i < n; i++)
                        mag += fabs((double)wf[r * n + i] * af[t * n + i]);
                    if (scalar_bits(type)) {
                        bad_dot += !near_sum(g, d, mag);
                        bad_twin += !same_bits(g, s);
                    } else if (tr->block == QK_K) {
                        bad_dot += !same_bits(g, d);
                        bad_twin += !same_bits(g, s);
                    } else {
                        bad_dot += !same_bits(g, d);
                        bad_twin += !near_sum(g, s, mag);
                    }
                }
            T_CHECK(!bad_range, "%s n=%lld T=%d: %d writes outside the rows/tokens", tr->name, (long long)n, nt, bad_range);
            T_CHECK(!bad_dot, "%s n=%lld T=%d rows %d-%d: %d elements differ from the %s vec_dot", tr->name, (long long)n, nt, r0, r1, bad_dot, lv);
            T_CHECK(!bad_twin, "%s n=%lld T=%d rows %d-%d: %d elements off the scalar twin", tr->name, (long long)n, nt, r0, r1, bad_twin);
        }
        free(w), free(a), free(ref), free(got), free(wf), free(af);
    }
}

/* kern_matmul over T tokens (the GEMM from 2 tokens on) must equal the
 * same matmul one token at a time (the vec_dot path) bit for bit (Q8_0's
 * GEMM: up to float summation order), with 1 and 2 threads, bit for bit; and dequantized weights times the float activations
 * (sgemm) within the activation rounding: each activation moves by at
 * most half its block's step amax/127, so |y - y_sgemm| <= sum |w| *
 * step / 2, plus float slack. Weights are quantized from floats here (raw
 * random bytes would give sums too large to say anything). */
static void check_matmul(int type, int n_in, int n_out, int n_tok)
{
    const char *name = quant_traits_of(type)->name;
    const size_t rb = quant_row_bytes(type, n_in);
    uint8_t *wq = malloc(rb * n_out);
    float *wf = malloc(sizeof(float) * n_in * n_out), *x = malloc(sizeof(float) * n_in * n_tok);
    float *y1 = malloc(sizeof(float) * n_out * n_tok), *y2 = malloc(sizeof(float) * n_out * n_tok);
    float *y3 = malloc(sizeof(float) * n_out * n_tok), *ys = malloc(sizeof(float) * n_out * n_tok);
    for (int i = 0; i < n_in * n_out; i++)
        wf[i] = unif() * 0.1f;
    for (int r = 0; r < n_out; r++) {
        quant_quantize_row(type, wf + (size_t)r * n_in, wq + r * rb, n_in);
        quant_dequant_row(type, wq + r * rb, wf + (size_t)r * n_in, n_in);
    }
    for (int i = 0; i < n_in * n_tok; i++)
        x[i] = unif() * (i % 61 == 0 ? 8.0f : 1.0f);
    kern_mat m = {.data = wq, .type = type, .n_in = n_in, .n_out = n_out, .row_bytes = rb};
    chord_err err = {0};
    pool *p1 = NULL, *p2 = NULL;
    kern_ws *ws = NULL;
    if (pool_new(1, &p1, &err) != CHORD_OK || pool_new(2, &p2, &err) != CHORD_OK ||
        kern_ws_new(2, n_tok, n_in, &ws, &err) != CHORD_OK) {
        T_CHECK(0, "setup: %s", err.msg);
        exit(t_done());
    }
    kern_matmul(p2, ws, &m, x, n_tok, y1, n_out);
    kern_matmul(p1, ws, &m, x, n_tok, y2, n_out);
    for (int t = 0; t < n_tok; t++)
        kern_matmul(p2, ws, &m, x + (size_t)t * n_in, 1, y3 + (size_t)t * n_out, n_out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tok, n_out, n_in, 1.0f, x, n_in, wf,
                n_in, 0.0f, ys, n_out);
    const int blk = quant_traits_of(quant_act_type(type))->block;
    int bad_thr = 0, bad_tok = 0, bad_sg = 0;
    double worst = 0;
    for (int t = 0; t < n_tok; t++)
        for (int r = 0; r < n_out; r++) {
            size_t k = (size_t)t * n_out + r;
            bad_thr += !same_bits(y1[k], y2[k]);
            double bound = 0, mag = 0, amag = 0;
            for (int b = 0; b < n_in; b += blk) {
                float amax = 0;
                for (int i = b; i < b + blk; i++)
                    amax = fmaxf(amax, fabsf(x[(size_t)t * n_in + i]));
                for (int i = b; i < b + blk; i++) {
                    double wv = fabs(wf[(size_t)r * n_in + i]);
                    bound += wv * amax / 127.0 * 0.5;
                    mag += wv * fabs(x[(size_t)t * n_in + i]);
                    /* |x| plus its quantization step: |a| of the int8 dot */
                    amag += wv * (fabs(x[(size_t)t * n_in + i]) + amax / 127.0);
                }
            }
            bad_tok += scalar_bits(type) ? !near_sum(y1[k], y3[k], amag) : !same_bits(y1[k], y3[k]);
            bound = bound * 1.01 + 1e-5 * mag;
            double e = fabs((double)y1[k] - ys[k]);
            if (e / bound > worst)
                worst = e / bound;
            bad_sg += !(e <= bound);
        }
    T_CHECK(!bad_thr, "%s %dx%d T=%d: %d elements differ between 1 and 2 threads", name, n_out, n_in, n_tok, bad_thr);
    T_CHECK(!bad_tok, "%s %dx%d T=%d: %d elements differ from the per-token path", name, n_out, n_in, n_tok, bad_tok);
    T_CHECK(!bad_sg, "%s %dx%d T=%d: %d elements outside the sgemm bound (worst %.3f of it)", name, n_out, n_in, n_tok, bad_sg, worst);
    printf("%-5s %4dx%-4d T=%-3d vs sgemm: worst error %.3f of the rounding bound\n", name, n_out, n_in, n_tok, worst);
    kern_ws_free(ws);
    pool_free(p1);
    pool_free(p2);
    free(wq), free(wf), free(x), free(y1), free(y2), free(y3), free(ys);
}

int main(void)
{
    chord_init();
    if (!quant_cpu_has("avx512"))
        printf("no AVX-512 here: only the scalar twin and the kern paths are checked\n");
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        check_kernels(types[i]);
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        check_matmul(types[i], 512, 96, 2);
        check_matmul(types[i], 768, 130, 19);
        check_matmul(types[i], 1024, 64, 70);
    }
    return t_done();
}
