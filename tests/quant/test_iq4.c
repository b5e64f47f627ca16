/*
 * test_iq4.c - quant_iq4_kernels: IQ4_NL, IQ4_XS and MXFP4.
 *
 *  - the scalar kernels against the formats' definitions written out here
 *    (E8M0 scales, codebook lookups, the dots' integer sums and float
 *    order);
 *  - quantization: deterministic bytes, a round trip on gaussian rows
 *    well below Q4_0's error, empty and outlier blocks;
 *  - every SIMD twin against its scalar twin at every level the CPU has:
 *    dequantization identical bytes, IQ4_XS dots identical bits, IQ4_NL /
 *    MXFP4 dots within float summation order (2e-6 of sum |w * a|, as
 *    test_simd_twins.c), vec_dot_rows identical to the level's vec_dot;
 *  - the AVX-512 GEMMs over several token counts and row ranges: IQ4_XS
 *    bit for bit against the AVX-512 vec_dot, IQ4_NL / MXFP4 bit for bit
 *    against the scalar vec_dot (quant.h's Q8_0-like exception).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "quant/quant_codebook.h"
#include "quant/quant_impl.h"
#include "t.h"

static uint64_t rng = 0x51c0ffee1234abcdull;

static const int types[] = {QT_IQ4_NL, QT_IQ4_XS, QT_MXFP4};

/* Random weight bytes with sane scales: every 8th block zero bytes, every
 * 8th + 1 all 0xFF, some extreme scales (zero, subnormal, 65504,
 * negative; MXFP4 exponents from 0 to 160). */
static void make_weights(int type, uint8_t *row, int64_t n)
{
    static const uint16_t extremes[] = {0x0000, 0x0001, 0x7bff, 0xfbff, 0x8001, 0x3c00, 0x0400};
    const quant_traits *t = quant_traits_of(type);
    for (int64_t b = 0; b < n / t->block; b++) {
        uint8_t *blk = row + b * t->bytes;
        for (int k = 0; k < t->bytes; k++)
            blk[k] = b % 8 == 0 ? 0 : b % 8 == 1 ? 0xFF : (uint8_t)t_rand(&rng);
        const uint64_t r = t_rand(&rng);
        if (type == QT_MXFP4) {
            /* extremes from the subnormal 2^-128 up to 2^32: the dots stay finite */
            blk[0] = r % 8 == 0 ? (uint8_t)((r >> 8) % 161) : (uint8_t)(110 + (r >> 8) % 30);
            continue;
        }
        uint16_t h;
        if (r % 8 == 0) {
            h = extremes[(r >> 8) % (sizeof extremes / sizeof *extremes)];
        } else {
            const float f = ldexpf((float)((r >> 16) % 1000 + 1) / 1000.0f, (int)((r >> 32) % 14) - 12);
            h = quant_f32_to_f16((r >> 40) & 1 ? -f : f);
        }
        memcpy(blk, &h, 2);
    }
}

/* An activation row quantized by the scalar quantizer of at (so no -128),
 * variant 1 all zero, 2 tiny, 3 offset, 4 huge outliers. */
static void make_acts(int at, uint8_t *row, int64_t n, int variant)
{
    float *f = malloc((size_t)n * sizeof *f);
    for (int64_t i = 0; i < n; i++)
        f[i] = variant == 1 ? 0.0f
             : t_gauss(&rng) * (variant == 2 ? 1e-3f : 3.0f) + (variant == 3 ? 2.0f : 0.0f) +
                   (variant == 4 && i % 97 == 0 ? 1e4f : 0.0f);
    quant_kernels_for(at, "scalar")->quantize(f, row, n);
    free(f);
}

/* ---------------------------------------------------------- definitions */

static float e8m0_half_def(int e)
{
    return ldexpf(1.0f, e - 128); /* exact for e in [0, 255]: 2^-128 is a float subnormal */
}

static void test_scalar_definitions(void)
{
    enum { N = 512 };
    uint8_t w[N * 2], act[N * 2];
    float got[N];
    for (int type_i = 0; type_i < 3; type_i++) {
        const int type = types[type_i];
        const quant_kernels *k = quant_kernels_for(type, "scalar");
        T_CHECK(k && k->dequant && k->vec_dot && k->quantize, "%s: kernels", quant_traits_of(type)->name);
        if (!k)
            continue;
        for (int rep = 0; rep < 20; rep++) {
            make_weights(type, w, N);
            k->dequant(w, got, N);
            int bad = 0;
            for (int i = 0; i < N; i++) {
                float want;
                if (type == QT_IQ4_NL) {
                    const block_iq4_nl *b = (const block_iq4_nl *)w + i / 32;
                    const int j = i % 32, q = j < 16 ? b->qs[j] & 15 : b->qs[j - 16] >> 4;
                    want = quant_f16_to_f32(b->d) * (float)quant_kvalues_iq4nl[q];
                } else if (type == QT_MXFP4) {
                    const block_mxfp4 *b = (const block_mxfp4 *)w + i / 32;
                    const int j = i % 32, q = j < 16 ? b->qs[j] & 15 : b->qs[j - 16] >> 4;
                    want = (float)quant_kvalues_mxfp4[q] * e8m0_half_def(b->e);
                } else {
                    const block_iq4_xs *b = (const block_iq4_xs *)w + i / 256;
                    const int ib = (i % 256) / 32, j = i % 32;
                    const int ls = (((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 15) | (((b->scales_h >> (2 * ib)) & 3) << 4)) - 32;
                    const uint8_t *qs = b->qs + 16 * ib;
                    const int q = j < 16 ? qs[j] & 15 : qs[j - 16] >> 4;
                    want = (quant_f16_to_f32(b->d) * (float)ls) * (float)quant_kvalues_iq4nl[q];
                }
                bad += memcmp(&want, &got[i], 4) != 0;
            }
            T_CHECK(bad == 0, "%s: %d dequantized values differ from the definition", quant_traits_of(type)->name, bad);
            /* the dot: integer sums, then the float steps */
            const int at = quant_act_type(type);
            make_acts(at, act, N, rep % 5);
            float s = 0;
            k->vec_dot(N, &s, w, act);
            float want = 0.0f;
            if (at == QT_Q8_0) {
                const block_q8_0 *y = (const block_q8_0 *)act;
                for (int b = 0; b < N / 32; b++) {
                    int sumi = 0;
                    for (int j = 0; j < 32; j++) {
                        const uint8_t *qs = type == QT_MXFP4 ? ((const block_mxfp4 *)w)[b].qs : ((const block_iq4_nl *)w)[b].qs;
                        const int q = j < 16 ? qs[j] & 15 : qs[j - 16] >> 4;
                        sumi += (type == QT_MXFP4 ? quant_kvalues_mxfp4[q] : quant_kvalues_iq4nl[q]) * y[b].qs[j];
                    }
                    const float dx = type == QT_MXFP4 ? e8m0_half_def(((const block_mxfp4 *)w)[b].e)
                                                      : quant_f16_to_f32(((const block_iq4_nl *)w)[b].d);
                    want += (float)sumi * (dx * quant_f16_to_f32(y[b].d));
                }
            } else {
                const block_q8_K *y = (const block_q8_K *)act;
                for (int b = 0; b < N / 256; b++) {
                    const block_iq4_xs *x = (const block_iq4_xs *)w + b;
                    int sumi = 0;
                    for (int ib = 0; ib < 8; ib++) {
                        const int ls = (((x->scales_l[ib / 2] >> (4 * (ib % 2))) & 15) | (((x->scales_h >> (2 * ib)) & 3) << 4)) - 32;
                        int s32 = 0;
                        for (int j = 0; j < 32; j++) {
                            const int q = j < 16 ? x->qs[16 * ib + j] & 15 : x->qs[16 * ib + j - 16] >> 4;
                            s32 += quant_kvalues_iq4nl[q] * y[b].qs[32 * ib + j];
                        }
                        sumi += ls * s32;
                    }
                    want += (quant_f16_to_f32(x->d) * y[b].d) * (float)sumi;
                }
            }
            T_CHECK(memcmp(&s, &want, 4) == 0 || (isnan(s) && isnan(want)), "%s dot: %.9g, definition %.9g",
                    quant_traits_of(type)->name, s, want);
        }
    }
    /* E8M0 at the ends of its range */
    const int es[] = {0, 1, 2, 127, 128, 200, 254, 255};
    for (size_t i = 0; i < sizeof es / sizeof *es; i++) {
        block_mxfp4 b = {.e = (uint8_t)es[i]};
        memset(b.qs, 0x22, sizeof b.qs); /* code 2 = 1.0 after halving: value 2 * 2^(e-128) */
        float out[32];
        quant_kernels_for(QT_MXFP4, "scalar")->dequant(&b, out, 32);
        T_CHECK(out[0] == 2.0f * e8m0_half_def(es[i]) && out[31] == out[0], "E8M0 %d: %g, want %g", es[i],
                out[0], 2.0f * e8m0_half_def(es[i]));
    }
}

/* ------------------------------------------------------------ quantize */

static double rmse_of(int type, const float *x, int64_t n, uint8_t *buf, float *back)
{
    const quant_kernels *k = quant_kernels_for(type, "scalar");
    k->quantize(x, buf, n);
    k->dequant(buf, back, n);
    double e = 0;
    for (int64_t i = 0; i < n; i++)
        e += ((double)x[i] - back[i]) * ((double)x[i] - back[i]);
    return sqrt(e / (double)n);
}

static void test_quantize(void)
{
    enum { N = 4096 * 4 };
    float *x = malloc(N * sizeof *x), *back = malloc(N * sizeof *back);
    uint8_t *q1 = malloc(N * 2), *q2 = malloc(N * 2);
    for (int i = 0; i < N; i++)
        x[i] = t_gauss(&rng);
    const double r40 = rmse_of(QT_Q4_0, x, N, q1, back);
    for (int ti = 0; ti < 3; ti++) {
        const int type = types[ti];
        const char *name = quant_traits_of(type)->name;
        const double r = rmse_of(type, x, N, q1, back);
        printf("round trip RMSE on N(0,1): %-6s %.5f (Q4_0 %.5f)\n", name, r, r40);
        /* IQ4_NL/XS: the non-linear grid and the scale search buy about
         * 20%; MXFP4's power-of-two scales lose against Q4_0 */
        if (type != QT_MXFP4)
            T_CHECK(r < 0.9 * r40, "%s round trip RMSE %.5f, Q4_0 %.5f", name, r, r40);
        else
            T_CHECK(r < 1.5 * r40, "MXFP4 round trip RMSE %.5f, Q4_0 %.5f", r, r40);
        const size_t rb = quant_row_bytes(type, N);
        quant_kernels_for(type, "scalar")->quantize(x, q2, N);
        T_CHECK(memcmp(q1, q2, rb) == 0, "%s: quantizing twice gave different bytes", name);
        for (int l = 0; l < 2; l++) {
            const char *lv = l ? "avx512" : "avx2";
            if (!quant_cpu_has(lv))
                continue;
            quant_kernels_for(type, lv)->quantize(x, q2, N);
            T_CHECK(memcmp(q1, q2, rb) == 0, "%s: %s quantizer bytes differ from scalar", name, lv);
        }
    }
    /* empty blocks, a lone outlier, constant rows: finite scales, the
     * outlier kept within 10% (MXFP4: its largest code, 6 x 2^(e - 2) with
     * e the outlier's exponent, clips 1000 to 768, as the format does) */
    for (int i = 0; i < 1024; i++)
        x[i] = i < 256 ? 0.0f : i < 512 ? (i == 300 ? 1000.0f : 1e-3f * t_gauss(&rng)) : 0.25f;
    for (int ti = 0; ti < 3; ti++) {
        const int type = types[ti];
        rmse_of(type, x, 1024, q1, back);
        int bad = 0;
        for (int i = 0; i < 1024; i++)
            bad += !isfinite(back[i]) || (i < 256 && back[i] != 0.0f);
        T_CHECK(bad == 0, "%s: %d non-finite or non-zero values for zero/finite input", quant_traits_of(type)->name, bad);
        T_CHECK(fabsf(back[300] - (type == QT_MXFP4 ? 768.0f : 1000.0f)) < 100.0f, "%s: outlier 1000 came back as %g", quant_traits_of(type)->name, back[300]);
        T_CHECK(fabsf(back[700] - 0.25f) < 0.03f, "%s: constant 0.25 came back as %g", quant_traits_of(type)->name, back[700]);
    }
    free(x); free(back); free(q1); free(q2);
}

/* ----------------------------------------------------------- SIMD twins */

static void test_twins(const char *level)
{
    enum { N = 4096, ROWS = 16 };
    uint8_t *w = malloc(N * 2 * ROWS), *act = malloc(N * 2);
    float *d1 = malloc(N * sizeof(float)), *d2 = malloc(N * sizeof(float)), *fa = malloc(N * sizeof(float));
    for (int ti = 0; ti < 3; ti++) {
        const int type = types[ti];
        const char *name = quant_traits_of(type)->name;
        const quant_kernels *ks = quant_kernels_for(type, "scalar"), *kv = quant_kernels_for(type, level);
        const int at = quant_act_type(type);
        int bad_deq = 0, bad_dot = 0, bad_rows = 0;
        double worst = 0;
        for (int r = 0; r < ROWS; r++) {
            /* odd rows a block short: odd block counts */
            const int64_t nn = r % 2 ? N - quant_traits_of(type)->block : N;
            make_weights(type, w, nn);
            ks->dequant(w, d1, nn);
            kv->dequant(w, d2, nn);
            bad_deq += memcmp(d1, d2, (size_t)nn * sizeof(float)) != 0;
            make_acts(at, act, nn, r % 5);
            float s1 = 0, s2 = 0;
            ks->vec_dot(nn, &s1, w, act);
            kv->vec_dot(nn, &s2, w, act);
            quant_kernels_for(at, "scalar")->dequant(act, fa, nn);
            double mag = 0;
            for (int64_t i = 0; i < nn; i++)
                mag += fabs((double)d1[i] * fa[i]);
            const double diff = fabs((double)s1 - s2);
            if (mag > 0 && diff / mag > worst)
                worst = diff / mag;
            const int ok = type == QT_IQ4_XS ? memcmp(&s1, &s2, 4) == 0 : diff <= 2e-6 * mag;
            if (!ok && !(isnan(s1) && isnan(s2))) {
                if (!bad_dot)
                    fprintf(stderr, "%s %s row %d: dot %.9g vs scalar %.9g (sum|wa| %.6g)\n", level, name, r, s2, s1, mag);
                bad_dot++;
            }
        }
        /* vec_dot_rows: strided rows, the level's vec_dot bits */
        if (kv->vec_dot_rows) {
            const int64_t lens[] = {N, N - quant_traits_of(type)->block, 256, 16384 + 256 * 2, 32768};
            for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
                const int64_t nn = lens[li];
                const size_t rb = quant_row_bytes(type, nn), stride = rb + 6;
                const int nr = 5;
                uint8_t *wr = malloc(stride * nr), *ar = malloc(quant_row_bytes(at, nn));
                float got[6], want;
                for (int r = 0; r < nr; r++)
                    make_weights(type, wr + (size_t)r * stride, nn);
                make_acts(at, ar, nn, (int)li % 5);
                got[nr] = 12345.0f;
                kv->vec_dot_rows(nn, got, wr, stride, nr, ar);
                for (int r = 0; r < nr; r++) {
                    kv->vec_dot(nn, &want, wr + (size_t)r * stride, ar);
                    bad_rows += memcmp(&want, &got[r], 4) != 0 && !(isnan(want) && isnan(got[r]));
                }
                bad_rows += got[nr] != 12345.0f;
                free(wr);
                free(ar);
            }
        }
        T_CHECK(bad_deq == 0, "%s %s: %d of %d dequantized rows differ from scalar", level, name, bad_deq, ROWS);
        T_CHECK(bad_dot == 0, "%s %s: %d of %d dots off the scalar twin", level, name, bad_dot, ROWS);
        T_CHECK(bad_rows == 0, "%s %s: %d vec_dot_rows results differ from vec_dot", level, name, bad_rows);
        printf("%-6s %-6s dequant %s, vec_dot worst relative diff %.2e%s\n", level, name, bad_deq ? "DIFF" : "same",
               worst, kv->vec_dot_rows ? ", vec_dot_rows = vec_dot" : "");
    }
    free(w); free(act); free(d1); free(d2); free(fa);
}

/* ----------------------------------------------------------------- GEMM */

static void test_gemm(void)
{
    if (!quant_cpu_has("avx512")) {
        printf("note: this CPU lacks avx512; the GEMMs are not compared here\n");
        return;
    }
    const int64_t lens[] = {2048, 256 * 3, 5632};
    const int toks[] = {1, 5, 16, 37};
    for (int ti = 0; ti < 3; ti++) {
        const int type = types[ti];
        const char *name = quant_traits_of(type)->name;
        quant_gemm_fn g = quant_gemm_for(type, "avx512");
        T_CHECK(g != NULL, "%s: no AVX-512 GEMM", name);
        if (!g)
            continue;
        /* IQ4_XS: the AVX-512 vec_dot's bits; IQ4_NL, MXFP4: the scalar's */
        const quant_kernels *kd = quant_kernels_for(type, type == QT_IQ4_XS ? "avx512" : "scalar");
        const int at = quant_act_type(type);
        int bad = 0, total = 0;
        for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
            const int64_t n = lens[li];
            const int rows = 70;
            const size_t rb = quant_row_bytes(type, n), ab = quant_row_bytes(at, n);
            uint8_t *w = malloc(rb * rows), *act = malloc(ab * 37);
            float *out = malloc(sizeof(float) * rows * 37);
            for (int r = 0; r < rows; r++) {
                float *f = malloc(sizeof(float) * (size_t)n);
                for (int64_t i = 0; i < n; i++)
                    f[i] = t_gauss(&rng) * (float)(r % 7 + 1);
                quant_kernels_for(type, "scalar")->quantize(f, w + (size_t)r * rb, n);
                free(f);
            }
            if (type != QT_MXFP4) /* extreme scales too (MXFP4 keeps its own, tested below) */
                make_weights(type, w + 3 * rb, n);
            else
                w[3 * rb] = 250; /* an exponent no half holds: the chunk takes the scalar dots */
            for (int t = 0; t < 37; t++)
                make_acts(at, act + (size_t)t * ab, n, t % 5);
            for (size_t k = 0; k < sizeof toks / sizeof *toks; k++) {
                const int nt = toks[k];
                const int ranges[][2] = {{0, rows}, {3, 40}, {33, 34}, {17, 70}};
                for (int q = 0; q < 4; q++) {
                    const int r0 = ranges[q][0], r1 = ranges[q][1];
                    for (size_t i = 0; i < (size_t)rows * 37; i++)
                        out[i] = -7.0f;
                    g(n, w, rb, r0, r1, act, ab, nt, out, rows);
                    for (int t = 0; t < nt; t++)
                        for (int r = 0; r < rows; r++) {
                            float want = -7.0f;
                            if (r >= r0 && r < r1)
                                kd->vec_dot(n, &want, w + (size_t)r * rb, act + (size_t)t * ab);
                            const float got = out[(size_t)t * rows + r];
                            total++;
                            if (memcmp(&got, &want, 4) != 0 && !(isnan(got) && isnan(want))) {
                                if (!bad)
                                    fprintf(stderr, "%s gemm n=%lld tok %d/%d row %d [%d,%d): %.9g want %.9g\n", name,
                                            (long long)n, t, nt, r, r0, r1, got, want);
                                bad++;
                            }
                        }
                }
            }
            free(w); free(act); free(out);
        }
        T_CHECK(bad == 0, "%s GEMM: %d of %d elements differ from the dots", name, bad, total);
        printf("avx512 %-6s GEMM: %d elements, %s\n", name, total, bad ? "DIFF" : "bit for bit");
    }
}

int main(void)
{
    chord_init();
    test_scalar_definitions();
    test_quantize();
    static const char *const levels[] = {"avx2", "avx512"};
    for (int l = 0; l < 2; l++) {
        if (!quant_cpu_has(levels[l])) {
            printf("note: this CPU lacks %s; its kernels are not compared here\n", levels[l]);
            continue;
        }
        test_twins(levels[l]);
    }
    test_gemm();
    return t_done();
}
