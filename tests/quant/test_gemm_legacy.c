/*
 * test_gemm_legacy.c - quant_gemm_legacy: the AVX-512 prefill GEMMs of
 * Q5_0 (rows converted to Q8_0 for the Q8_0 GEMM), Q4_1 and Q5_1 (their
 * own tile kernel) give every element the scalar vec_dot's bits, whatever
 * the row count (partial 16- and 32-row panels, several packed chunks),
 * the first row, the token count (partial 6-token tiles) and the row
 * length (odd block counts), with extreme block scales and mins (0, the
 * largest half, subnormals, negative) among ordinary ones; and nothing
 * outside the rows and tokens asked for is written. Through quant_gemm
 * too, the path prefill takes.
 */
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "quant/quant_impl.h"
#include "t.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

/* Halves the scales and mins of some blocks are forced to: 0, the largest
 * finite half, the smallest and largest subnormals, a negative normal. */
static const uint16_t extreme[] = {0x0000, 0x7BFF, 0x0001, 0x03FF, 0xB800, 0x8000};

/* Rows of random weights of type, a few blocks with extreme d (and m). */
static void make_rows(int type, int64_t n, int rows, uint8_t *w, size_t rb)
{
    float *f = malloc(sizeof(float) * (size_t)n);
    const int64_t nb = n / 32;
    const size_t bs = rb / (size_t)nb;
    for (int r = 0; r < rows; r++) {
        const float off = type == QT_Q5_0 ? 0.0f : (float)(r % 7) / 3.0f;
        for (int64_t i = 0; i < n; i++)
            f[i] = off + (float)((int)(t_rand(&rng) % 2001) - 1000) / (r % 5 == 0 ? 10.0f : 1000.0f);
        quant_quantize_row(type, f, w + (size_t)r * rb, n);
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *blk = w + (size_t)r * rb + (size_t)b * bs;
            if (t_rand(&rng) % 5 == 0)
                memcpy(blk, &extreme[t_rand(&rng) % 6], 2);
            if (type != QT_Q5_0 && t_rand(&rng) % 5 == 0)
                memcpy(blk + 2, &extreme[t_rand(&rng) % 6], 2);
        }
    }
    free(f);
}

static void make_acts(int at, int64_t n, int n_tok, uint8_t *a, size_t ab)
{
    float *f = malloc(sizeof(float) * (size_t)n);
    for (int t = 0; t < n_tok; t++) {
        for (int64_t i = 0; i < n; i++)
            f[i] = (float)((int)(t_rand(&rng) % 2001) - 1000) / (i % 61 == 0 ? 20.0f : 1000.0f);
        if (t % 4 == 3) /* a token with all-zero blocks: d = s = 0 */
            memset(f, 0, sizeof(float) * 64);
        quant_quantize_row(at, f, a + (size_t)t * ab, n);
    }
    free(f);
}

/* The kernel fn on rows [r0, r1) of rows, out with a wider stride than
 * the rows; every element against the scalar vec_dot. */
static void check(const char *what, int type, quant_gemm_fn fn, int64_t n, int rows, int r0, int r1, int n_tok)
{
    const char *name = quant_traits_of(type)->name;
    const int at = quant_act_type(type);
    const size_t rb = quant_row_bytes(type, n), ab = quant_row_bytes(at, n), ldy = (size_t)rows + 3;
    uint8_t *w = malloc(rb * (size_t)rows), *a = malloc(ab * (size_t)n_tok);
    float *out = malloc(sizeof(float) * ldy * (size_t)n_tok);
    make_rows(type, n, rows, w, rb);
    make_acts(at, n, n_tok, a, ab);
    for (size_t k = 0; k < ldy * (size_t)n_tok; k++)
        out[k] = -7.0f;
    if (fn)
        fn(n, w, rb, r0, r1, a, ab, n_tok, out, ldy);
    else
        quant_gemm(type, n, w, rb, r0, r1, a, ab, n_tok, out, ldy);
    void (*dot)(int64_t, float *, const void *, const void *) = quant_kernels_for(type, "scalar")->vec_dot;
    int bad = 0, outside = 0;
    for (int t = 0; t < n_tok; t++)
        for (size_t r = 0; r < ldy; r++) {
            const float g = out[(size_t)t * ldy + r];
            if ((int)r < r0 || (int)r >= r1) {
                outside += g != -7.0f;
                continue;
            }
            float d;
            dot(n, &d, w + r * rb, a + (size_t)t * ab);
            bad += memcmp(&g, &d, sizeof g) != 0;
        }
    T_CHECK(!outside, "%s %s n=%lld T=%d: %d writes outside rows %d-%d", what, name, (long long)n, n_tok, outside, r0, r1);
    T_CHECK(!bad, "%s %s n=%lld T=%d rows %d-%d of %d: %d elements differ from the scalar vec_dot", what, name,
            (long long)n, n_tok, r0, r1, rows, bad);
    free(w), free(a), free(out);
}

int main(void)
{
    chord_init();
    const int types[] = {QT_Q5_0, QT_Q4_1, QT_Q5_1};
    const int has = quant_cpu_has("avx512");
    if (!has)
        printf("no AVX-512 on this CPU: checking quant_gemm's per-token path only\n");
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        const int type = types[i];
        quant_gemm_fn fn = has ? quant_gemm_for(type, "avx512") : NULL;
        if (has)
            T_CHECK(fn != NULL, "%s: no AVX-512 GEMM", quant_traits_of(type)->name);
        const int64_t ns[] = {768, 2048, 5632};
        const int toks[] = {1, 5, 16, 37, 130};
        for (size_t k = 0; k < 3; k++)
            for (size_t j = 0; j < 5; j++) {
                const int64_t n = ns[k];
                const int T = toks[j];
                /* the whole of 75 rows (two 32-row panels and a partial
                 * one), rows off a panel boundary, a single row */
                check("avx512", type, fn, n, 75, 0, 75, T);
                check("avx512", type, fn, n, 75, 3, 40, T);
                check("avx512", type, fn, n, 75, 33, 34, T);
            }
        /* several chunks: Q5_0 converts 64 rows at a time at n = 5632;
         * Q4_1/Q5_1 pack chunks of 1, 2, 4, then 7 panels at n = 768 */
        check("avx512", type, fn, 5632, 150, 5, 150, 13);
        check("avx512", type, fn, 768, 500, 1, 497, 7);
        /* the path prefill takes */
        check("quant_gemm", type, NULL, 2048, 70, 2, 69, 37);
    }
    return t_done();
}
