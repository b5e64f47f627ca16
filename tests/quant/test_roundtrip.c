/*
 * test_roundtrip.c - quantizers and dot products, per type:
 *   quantize then dequantize Gaussian rows (plain, offset, tiny, with
 *     outliers); the RMS error relative to the rows' RMS stays under a
 *     bound per type, set about 15% above what these quantizers measured
 *     (so a regression in the scale search shows) and far below what a
 *     broken layout gives;
 *   the activation quantizers (Q8_0, Q8_1, Q8_K) give the reference's
 *     exact bytes on hand-made rows (scale 127/amax or -127/max, ties to
 *     even, Q8_1's s from the unrounded d);
 *   vec_dot equals the dot of the dequantized weight and activation rows
 *     (Q8_1: with its s in the min term), within float summation error.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "quant/quant_impl.h"
#include "t.h"

#define N 4096

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((rng >> 11) + 0.5) / 9007199254740992.0;
}

static float gauss(void)
{
    return (float)(sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform()));
}

static const struct {
    int type;
    double max_rel_rms;
} bounds[] = {
    {QT_F32, 0.0},     {QT_F16, 2.5e-4},  {QT_BF16, 1.9e-3}, {QT_Q8_0, 0.0075},
    {QT_Q5_0, 0.060},  {QT_Q5_1, 0.046},  {QT_Q4_0, 0.115},  {QT_Q4_1, 0.092},
    {QT_Q6_K, 0.023},  {QT_Q5_K, 0.044},  {QT_Q4_K, 0.087},  {QT_Q3_K, 0.178},
    {QT_Q2_K, 0.310},  {QT_Q8_K, 0.0135}, {QT_Q8_1, 0.0075},
};

static void test_rms(void)
{
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    void *q = malloc(N * 4);
    for (size_t b = 0; b < sizeof bounds / sizeof *bounds; b++) {
        const int type = bounds[b].type;
        const quant_kernels *k = quant_kernels_for(type, "scalar");
        T_CHECK(k && k->quantize && k->dequant, "no kernels for %s", quant_traits_of(type)->name);
        if (!k)
            continue;
        double se = 0, sx = 0;
        for (int rep = 0; rep < 4; rep++) {
            /* rows with an offset and outliers too, not only N(0,1) */
            for (int i = 0; i < N; i++)
                x[i] = gauss() * (rep == 2 ? 0.02f : 1.0f) + (rep == 1 ? 0.3f : 0.0f);
            if (rep == 3)
                for (int i = 0; i < N; i += 97)
                    x[i] *= 8.0f;
            k->quantize(x, q, N);
            k->dequant(q, y, N);
            double e = 0, s = 0;
            for (int i = 0; i < N; i++) {
                e += (double)(y[i] - x[i]) * (y[i] - x[i]);
                s += (double)x[i] * x[i];
            }
            se += e / s;
            sx += 1;
        }
        const double rel = sqrt(se / sx);
        printf("%-5s relative RMS error %.5f (bound %.5f)\n", quant_traits_of(type)->name, rel,
               bounds[b].max_rel_rms);
        T_CHECK(rel <= bounds[b].max_rel_rms, "%s: relative RMS error %.5f > %.5f",
                quant_traits_of(type)->name, rel, bounds[b].max_rel_rms);
        /* an all-zero row stays exactly zero */
        memset(x, 0, N * sizeof *x);
        k->quantize(x, q, N);
        k->dequant(q, y, N);
        int nz = 0;
        for (int i = 0; i < N; i++)
            nz += y[i] != 0.0f;
        T_CHECK(nz == 0, "%s: zero row dequantizes to %d non-zeros", quant_traits_of(type)->name, nz);
    }
    free(x);
    free(y);
    free(q);
}

/* Q8_0 and Q8_K are the activation formats: their bytes must be the
 * reference's, so rounding and clamping are pinned on chosen values. */
static void test_activation_bytes(void)
{
    float x[QK_K];
    block_q8_0 b;
    memset(x, 0, sizeof x);
    x[0] = 127.0f; /* d = 1, 127/amax = 1 exactly */
    x[1] = 63.5f;  /* ties go to even */
    x[2] = -0.5f;
    x[3] = 2.5f;
    x[4] = -127.0f;
    x[5] = 0.49999997f;
    x[6] = 3.5f;
    x[7] = -1.5f;
    quant_quantize_q8_0(x, &b, 32);
    T_EQ_INT(b.d, 0x3c00);
    T_EQ_INT(b.qs[0], 127);
    T_EQ_INT(b.qs[1], 64);
    T_EQ_INT(b.qs[2], 0);
    T_EQ_INT(b.qs[3], 2);
    T_EQ_INT(b.qs[4], -127);
    T_EQ_INT(b.qs[5], 0);
    T_EQ_INT(b.qs[6], 4);
    T_EQ_INT(b.qs[7], -2);
    /* the multiplier is 127/amax, not 1/(amax/127): for this amax they
     * differ in the last place, enough to move x * id across 5.5 */
    memset(x, 0, sizeof x);
    x[0] = 0.149999991f;
    x[1] = 0.0064960625f; /* 5.49999952 with 127/amax, 5.5 (-> 6) with 1/d */
    quant_quantize_q8_0(x, &b, 32);
    T_EQ_INT(b.qs[0], 127);
    T_EQ_INT(b.qs[1], 5);

    /* Q8_1: the Q8_0 quants plus s = half(d * sum) with d = amax/127
     * before rounding (here 127/127 * (127 + 64 + 2) = 193) */
    block_q8_1 b1;
    memset(x, 0, sizeof x);
    x[0] = 127.0f;
    x[1] = 63.5f;
    x[2] = 2.5f;
    quant_quantize_q8_1(x, &b1, 32);
    T_EQ_INT(b1.d, 0x3c00);
    T_EQ_INT(b1.qs[0], 127);
    T_EQ_INT(b1.qs[1], 64);
    T_EQ_INT(b1.qs[2], 2);
    T_EQ_INT(b1.s, quant_f32_to_f16(193.0f));
    /* s uses the unrounded d: amax 100 gives d = 100/127, not its half */
    memset(x, 0, sizeof x);
    x[0] = 100.0f;
    x[1] = 50.0f;
    quant_quantize_q8_1(x, &b1, 32);
    T_EQ_INT(b1.s, quant_f32_to_f16((100.0f / 127.0f) * (float)(127 + b1.qs[1])));

    /* Q8_K: the signed extreme maps to -127 (iscale = -127/max), rounding to
     * nearest even, d = 1/iscale */
    block_q8_K k;
    memset(x, 0, sizeof x);
    x[0] = -127.0f;
    x[1] = 2.5f;
    x[2] = 3.5f;
    x[3] = -2.5f;
    x[4] = 127.0f; /* as large as x[0] but later: x[0] stays the extreme */
    x[17] = 100.25f;
    quant_quantize_q8_K(x, &k, QK_K);
    T_CHECK(k.d == 1.0f, "Q8_K d = %g, want 1", k.d);
    T_EQ_INT(k.qs[0], -127);
    T_EQ_INT(k.qs[1], 2);
    T_EQ_INT(k.qs[2], 4);
    T_EQ_INT(k.qs[3], -2);
    T_EQ_INT(k.qs[4], 127);
    T_EQ_INT(k.qs[17], 100);
    T_EQ_INT(k.bsums[0], -127 + 2 + 4 - 2 + 127);
    T_EQ_INT(k.bsums[1], 100);
    /* positive extreme: iscale negative, so values flip sign; 63.5 is a tie */
    memset(x, 0, sizeof x);
    x[0] = 64.0f;
    x[1] = -32.0f;
    quant_quantize_q8_K(x, &k, QK_K);
    T_CHECK(k.d == 1.0f / (-127.0f / 64.0f), "Q8_K d = %g, want -64/127", k.d);
    T_EQ_INT(k.qs[0], -127);
    T_EQ_INT(k.qs[1], 64);
}

/* vec_dot against the dot of dequantized rows (in double). The kernels sum
 * integers exactly and apply float scales per block, so they differ from
 * the double sum only by float rounding: the tolerance is a few float ulps
 * of the sum of |w * a|. */
static void test_vec_dot(void)
{
    static const int types[] = {QT_F32, QT_F16, QT_BF16, QT_Q4_0, QT_Q4_1, QT_Q5_0, QT_Q5_1,
                                QT_Q8_0, QT_Q2_K, QT_Q3_K, QT_Q4_K, QT_Q5_K, QT_Q6_K};
    float *x = malloc(N * sizeof *x), *a = malloc(N * sizeof *a);
    float *xd = malloc(N * sizeof *x), *ad = malloc(N * sizeof *a);
    void *qx = malloc(N * 4), *qa = malloc(N * 4);
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        const int type = types[t], at = quant_act_type(type);
        T_CHECK(at >= 0, "no activation type for %d", type);
        const quant_kernels *kw = quant_kernels_for(type, "scalar");
        const quant_kernels *ka = quant_kernels_for(at, "scalar");
        for (int rep = 0; rep < 3; rep++) {
            for (int i = 0; i < N; i++) {
                x[i] = gauss();
                a[i] = gauss() * (rep == 1 ? 100.0f : 1.0f) + (rep == 2 ? 1.0f : 0.0f);
            }
            kw->quantize(x, qx, N);
            ka->quantize(a, qa, N);
            kw->dequant(qx, xd, N);
            ka->dequant(qa, ad, N);
            double want = 0, mag = 0;
            for (int i = 0; i < N; i++) {
                want += (double)xd[i] * ad[i];
                mag += fabs((double)xd[i] * ad[i]);
            }
            /* Q8_1: the min term is m * s, s = half(d * sum) with the
             * unrounded d, not m * (dequantized sum): swap it in */
            if (at == QT_Q8_1) {
                const size_t wb = (size_t)quant_traits_of(type)->bytes;
                for (int b = 0; b < N / 32; b++) {
                    const block_q8_1 *yb = (const block_q8_1 *)qa + b;
                    qhalf m;
                    memcpy(&m, (const uint8_t *)qx + b * wb + 2, 2); /* d, m lead both blocks */
                    int sum = 0;
                    for (int j = 0; j < 32; j++)
                        sum += yb->qs[j];
                    want += (double)quant_h2f(m) * (quant_h2f(yb->s) - (double)quant_h2f(yb->d) * sum);
                }
            }
            float got = 0;
            quant_vec_dot(type, N, &got, qx, qa);
            T_NEAR(got, want, mag * 2e-6);
        }
    }
    free(x);
    free(a);
    free(xd);
    free(ad);
    free(qx);
    free(qa);
}

int main(void)
{
    chord_init();
    test_rms();
    test_activation_bytes();
    test_vec_dot();
    return t_done();
}
