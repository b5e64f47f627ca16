/*
 * test_simd_twins.c - quant_simd_twins: every SIMD kernel against its
 * scalar twin, for each level this CPU runs (a level it lacks is noted and
 * left out; that is not a skip: the scalar path is what runs there).
 *
 * Inputs are random blocks (every quant bit pattern), blocks of all-zero
 * and all-one bytes (min/max quants), and scales from the extremes: zero,
 * the smallest subnormal half, 65504, negative. Dequantization and
 * quantization must give identical bytes. Dot products may differ only by
 * float summation order (the SIMD kernels accumulate block results in
 * vector lanes, the scalar ones one after the other); the bound is a
 * relative 2e-6 of the sum of |w_i * a_i|, a few float ulps per lane sum.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "quant/quant_impl.h"
#include "t.h"

#define N 4096
#define ROWS 12

static uint64_t rng = 0x2545f4914f6cdd1dull;

/* A half scale: mostly ordinary values, sometimes an extreme. */
static uint16_t rand_scale(void)
{
    static const uint16_t extremes[] = {0x0000, 0x0001, 0x7bff, 0xfbff, 0x8001, 0x3c00, 0x0400};
    const uint64_t r = t_rand(&rng);
    if (r % 8 == 0)
        return extremes[(r >> 8) % (sizeof extremes / sizeof *extremes)];
    const float f = ldexpf((float)((r >> 16) % 1000 + 1) / 1000.0f, (int)((r >> 32) % 14) - 12);
    return quant_f32_to_f16((r >> 40) & 1 ? -f : f);
}

/* Byte offsets of the half-float scale fields of each block type. */
static int scale_fields(int type, int off[2])
{
    switch (type) {
    case QT_Q4_0: case QT_Q5_0: case QT_Q8_0: off[0] = 0; return 1;
    case QT_Q4_1: case QT_Q5_1: case QT_Q4_K: case QT_Q5_K: off[0] = 0; off[1] = 2; return 2;
    case QT_Q2_K: off[0] = 80; off[1] = 82; return 2;
    case QT_Q3_K: off[0] = 108; return 1;
    case QT_Q6_K: off[0] = 208; return 1;
    default: return 0;
    }
}

/* Fills one row of weights of type: random bytes with sane scales, every
 * 8th block all zero bytes, every 8th + 1 all 0xFF (then rescaled). */
static void make_weights(int type, uint8_t *row, int64_t n)
{
    const quant_traits *t = quant_traits_of(type);
    if (type == QT_F32 || type == QT_F16 || type == QT_BF16 || type == QT_Q8_K || type == QT_Q8_1) {
        float *f = malloc((size_t)n * sizeof *f);
        for (int64_t i = 0; i < n; i++)
            f[i] = t_gauss(&rng) * (i % 64 == 0 ? 1000.0f : 1.0f);
        quant_kernels_for(type, "scalar")->quantize(f, row, n);
        free(f);
        return;
    }
    const int64_t nb = n / t->block;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *blk = row + b * t->bytes;
        for (int k = 0; k < t->bytes; k++)
            blk[k] = b % 8 == 0 ? 0 : b % 8 == 1 ? 0xFF : (uint8_t)t_rand(&rng);
        int off[2];
        const int nf = scale_fields(type, off);
        for (int f = 0; f < nf; f++) {
            const uint16_t h = rand_scale();
            memcpy(blk + off[f], &h, 2);
        }
    }
}

/* An activation row of type at: mostly quantized from floats by the scalar
 * quantizer (so Q8_0 never holds -128, as in real use), sometimes raw
 * extreme quants with consistent Q8_K sums. */
static void make_acts(int at, uint8_t *row, int64_t n, int variant)
{
    float *f = malloc((size_t)n * sizeof *f);
    for (int64_t i = 0; i < n; i++)
        f[i] = variant == 1 ? 0.0f : t_gauss(&rng) * (variant == 2 ? 1e-3f : 3.0f) + (variant == 3 ? 2.0f : 0.0f);
    quant_kernels_for(at, "scalar")->quantize(f, row, n);
    free(f);
    if (at == QT_Q8_K && variant == 4) {
        block_q8_K *y = (block_q8_K *)row;
        for (int64_t b = 0; b < n / QK_K; b++) {
            y[b].d = 0.75f;
            for (int j = 0; j < QK_K; j++)
                y[b].qs[j] = (int8_t)(b % 2 ? -128 : (j % 3 ? 127 : (int)(t_rand(&rng) % 256) - 128));
            for (int j = 0; j < 16; j++) {
                int s = 0;
                for (int l = 0; l < 16; l++)
                    s += y[b].qs[16 * j + l];
                y[b].bsums[j] = (int16_t)s;
            }
        }
    }
    if (at == QT_Q8_0 && variant == 4) {
        block_q8_0 *y = (block_q8_0 *)row;
        for (int64_t b = 0; b < n / QK8_0; b++)
            for (int j = 0; j < QK8_0; j++)
                y[b].qs[j] = (int8_t)(b % 2 ? -127 : 127);
    }
}

static const int types[] = {QT_F32, QT_F16, QT_BF16, QT_Q4_0, QT_Q4_1, QT_Q5_0, QT_Q5_1, QT_Q8_0,
                            QT_Q2_K, QT_Q3_K, QT_Q4_K, QT_Q5_K, QT_Q6_K, QT_Q8_K, QT_Q8_1};

static void check_level(const char *level)
{
    uint8_t *w = malloc(N * 4), *act = malloc(N * 4), *q1 = malloc(N * 4), *q2 = malloc(N * 4);
    float *d1 = malloc(N * sizeof(float)), *d2 = malloc(N * sizeof(float));
    float *f = malloc(N * sizeof(float)), *fa = malloc(N * sizeof(float));
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        const int type = types[ti];
        const char *name = quant_traits_of(type)->name;
        const quant_kernels *ks = quant_kernels_for(type, "scalar"), *kv = quant_kernels_for(type, level);
        T_CHECK(ks && kv, "%s: no kernels at %s", name, level);
        if (!ks || !kv)
            continue;
        int bad_deq = 0, bad_q = 0, bad_dot = 0;
        double worst = 0;
        for (int r = 0; r < ROWS; r++) {
            /* odd rows are one block short: odd block counts, tails */
            const int64_t nn = r % 2 ? N - quant_traits_of(type)->block : N;
            const size_t rb = quant_row_bytes(type, nn);
            /* dequant: identical floats (NaN never arises: scales are finite) */
            make_weights(type, w, nn);
            ks->dequant(w, d1, nn);
            kv->dequant(w, d2, nn);
            bad_deq += memcmp(d1, d2, nn * sizeof(float)) != 0;
            /* quantize: identical bytes, on plain rows, zero rows, rows of
             * exact .5 ties and rows with huge outliers */
            for (int i = 0; i < nn; i++) {
                const float g = t_gauss(&rng);
                f[i] = r % 4 == 1 ? 0.0f
                     : r % 4 == 2 ? (float)((int)(g * 40.0f)) * 0.5f
                     : g * (i % 100 == 7 ? 5000.0f : 1.0f);
            }
            ks->quantize(f, q1, nn);
            kv->quantize(f, q2, nn);
            bad_q += memcmp(q1, q2, rb) != 0;
            /* vec_dot: within summation-order error */
            if (!ks->vec_dot)
                continue;
            const int at = quant_act_type(type);
            make_weights(type, w, nn);
            make_acts(at, act, nn, r % 5);
            float s1 = 0, s2 = 0;
            ks->vec_dot(nn, &s1, w, act);
            kv->vec_dot(nn, &s2, w, act);
            ks->dequant(w, d1, nn);
            quant_kernels_for(at, "scalar")->dequant(act, fa, nn);
            double mag = 0;
            for (int i = 0; i < nn; i++)
                mag += fabs((double)d1[i] * fa[i]);
            const double diff = fabs((double)s1 - (double)s2);
            if (mag > 0 && diff / mag > worst)
                worst = diff / mag;
            if (!(diff <= 2e-6 * mag) || isnan(s2) != isnan(s1)) {
                if (!bad_dot)
                    fprintf(stderr, "%s %s row %d: dot %.9g vs scalar %.9g (sum|wa| %.6g)\n", level, name, r,
                            s2, s1, mag);
                bad_dot++;
            }
        }
        T_CHECK(bad_deq == 0, "%s %s: %d of %d dequantized rows differ from scalar", level, name, bad_deq, ROWS);
        T_CHECK(bad_q == 0, "%s %s: %d of %d quantized rows differ from scalar", level, name, bad_q, ROWS);
        T_CHECK(bad_dot == 0, "%s %s: %d of %d dot products off by more than 2e-6 relative", level, name,
                bad_dot, ROWS);
        printf("%-6s %-5s dequant %s quantize %s vec_dot worst relative diff %.2e\n", level, name,
               bad_deq ? "DIFF" : "same", bad_q ? "DIFF" : "same", worst);
    }
    free(w); free(act); free(q1); free(q2); free(d1); free(d2); free(f); free(fa);
}

int main(void)
{
    chord_init();
    printf("CPU dispatch level in use: %s\n", quant_simd_name());
    static const char *const levels[] = {"avx2", "avx512"};
    for (int l = 0; l < 2; l++) {
        if (!quant_cpu_has(levels[l])) {
            printf("note: this CPU lacks %s; its kernels are not compared here\n", levels[l]);
            continue;
        }
        check_level(levels[l]);
    }
    return t_done();
}
