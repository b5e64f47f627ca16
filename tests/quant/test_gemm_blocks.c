/*
 * test_gemm_blocks.c - quant_gemm_blocked_shapes: the row-interleaved
 * prefill kernels (quant_gemm_pack_avx512.c, quant_gemm_q8_avx512.c) at
 * the shapes where their blocking shows: long rows (n = 5632, the FFN
 * down projection of a 1.1B model; n = 11776, longer than the k-quants
 * keep two whole panels of) and more tokens than one block takes
 * (603 > 512), so several token blocks, several 16-row panels and a partial
 * last panel and token tile are crossed; rows start off a panel boundary.
 * Every element must have the bits of the vec_dot of the level in use
 * (Q8_0 at AVX-512: of the scalar vec_dot, see quant.h), and nothing
 * outside the rows and tokens may be written.
 */
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "quant/quant_impl.h"
#include "t.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static void check(int type, int64_t n, int rows, int r0, int n_tok)
{
    const char *name = quant_traits_of(type)->name;
    const int at = quant_act_type(type);
    const size_t rb = quant_row_bytes(type, n), ab = quant_row_bytes(at, n);
    uint8_t *w = malloc(rb * rows), *a = malloc(ab * n_tok);
    float *f = malloc(sizeof(float) * (size_t)n), *out = malloc(sizeof(float) * rows * n_tok);
    for (int r = 0; r < rows; r++) {
        for (int64_t i = 0; i < n; i++)
            f[i] = (float)((int)(t_rand(&rng) % 2001) - 1000) / (r % 5 == 0 ? 10.0f : 1000.0f);
        quant_quantize_row(type, f, w + r * rb, n);
    }
    for (int t = 0; t < n_tok; t++) {
        for (int64_t i = 0; i < n; i++)
            f[i] = (float)((int)(t_rand(&rng) % 2001) - 1000) / (i % 61 == 0 ? 20.0f : 1000.0f);
        quant_quantize_row(at, f, a + t * ab, n);
    }
    for (size_t k = 0; k < (size_t)rows * n_tok; k++)
        out[k] = -7.0f;
    quant_gemm(type, n, w, rb, r0, rows, a, ab, n_tok, out, rows);
    int bad = 0, outside = 0;
    for (int t = 0; t < n_tok; t++)
        for (int r = 0; r < rows; r++) {
            float g = out[(size_t)t * rows + r], d = -7.0f;
            if (r >= r0 && type == QT_Q8_0 && quant_gemm_has(type))
                quant_kernels_for(type, "scalar")->vec_dot(n, &d, w + r * rb, a + t * ab);
            else if (r >= r0)
                quant_vec_dot(type, n, &d, w + r * rb, a + t * ab);
            if (r < r0)
                outside += g != -7.0f;
            else
                bad += memcmp(&g, &d, sizeof g) != 0;
        }
    T_CHECK(!outside, "%s n=%lld T=%d: %d writes outside rows %d-%d", name, (long long)n, n_tok, outside, r0, rows);
    T_CHECK(!bad, "%s n=%lld T=%d rows %d-%d: %d elements differ from the vec_dot", name, (long long)n, n_tok, r0, rows, bad);
    free(w), free(a), free(f), free(out);
}

int main(void)
{
    chord_init();
    if (!quant_gemm_has(QT_Q4_K))
        printf("no blocked GEMM at this SIMD level: checking the per-token fallback\n");
    const int types[] = {QT_Q4_K, QT_Q5_K, QT_Q6_K, QT_Q8_0};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        /* n = 5632: Q8_0 blocks of 42 tokens; k-quants: one block of
         * 263, packed whole (from 160 tokens): pairs of panels in 32 x 4
         * tiles, then a last panel alone, a tail of 3 tokens */
        check(types[i], 5632, 37, 3, 263);
        /* a narrow batch */
        check(types[i], 2048, 50, 17, 18);
        /* Q8_0: packed chunks of one, two, then three panels, the last
         * one partial; 13 tokens: two 6-token tiles and a 1-token tile */
        check(types[i], 2048, 300, 7, 13);
        /* k-quants: two blocks (304 and 299 tokens, at most 512 each) */
        check(types[i], 2048, 40, 5, 603);
        /* k-quants: rows too long for two whole panels in L2
         * (KP_PANEL_MAX): met a super-block at a time, wide and narrow */
        check(types[i], 11776, 20, 1, 170);
        check(types[i], 11776, 20, 1, 21);
    }
    return t_done();
}
