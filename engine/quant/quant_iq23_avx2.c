/*
 * quant_iq23_avx2.c - AVX2 dot products of IQ2_XXS, IQ2_XS, IQ2_S,
 * IQ3_XXS and IQ3_S with Q8_K (scalar twins in quant_iq23.c).
 * Dequantization keeps the scalar kernels.
 *
 * The AVX-512 file's scheme at half the width: per sub-block of 32, the
 * grid points are gathered into a ymm of unsigned magnitudes, the 32 sign
 * bits are spread to byte masks and put on the weights (negating an
 * activation of -128 would wrap), weight + 64 (2..126) is multiplied with
 * the activation by maddubs (no saturation) and weighted by the per-16
 * odd scales with madd; the +64 comes back through the activation's
 * per-16 sums. Integer sums are exact and the floats are combined in the
 * scalar twin's order: the results are the scalar kernels' bits.
 */
#include <immintrin.h>

#include "quant/quant_codebook.h"
#include "quant/quant_impl.h"

static inline float h2f(qhalf h)
{
    return _cvtsh_ss(h);
}

static inline uint32_t ld32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline int hsum_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

/* 4 sign bytes of 7 stored bits each (the eighth is parity), from the
 * four fields of a sign word. */
static inline uint32_t ksigns4(uint32_t w)
{
    return (uint32_t)quant_ksigns_iq2xs[w & 127] | (uint32_t)quant_ksigns_iq2xs[(w >> 7) & 127] << 8 |
           (uint32_t)quant_ksigns_iq2xs[(w >> 14) & 127] << 16 | (uint32_t)quant_ksigns_iq2xs[(w >> 21) & 127] << 24;
}

/* sum over one sub-block of 32 of ls * (+-g) * a, where bit i of `signs`
 * negates element i; `sc` holds the scale of elements 0-15 in its low
 * 128 bits and that of 16-31 in the high ones (words), and the caller
 * takes off the +64 offset. */
static inline __m256i sub_dot(__m256i acc, __m256i g, uint32_t signs, const int8_t *a, __m256i sc)
{
    const __m256i spread = _mm256_set_epi64x(0x0303030303030303ll, 0x0202020202020202ll, 0x0101010101010101ll, 0);
    const __m256i bits = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    const __m256i m = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)signs), spread), bits), bits);
    const __m256i sg = _mm256_sub_epi8(_mm256_xor_si256(g, m), m);
    const __m256i u = _mm256_add_epi8(sg, _mm256_set1_epi8(64));
    const __m256i p = _mm256_maddubs_epi16(u, _mm256_loadu_si256((const __m256i *)a));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, sc));
}

static inline __m256i scale_pair(int lo, int hi)
{
    return _mm256_set_m128i(_mm_set1_epi16((short)hi), _mm_set1_epi16((short)lo));
}

/* The block's exact integer sum from its per-16 scales and the partial
 * sums of its sub-blocks. */
static inline int finish(__m256i acc, const uint8_t ls[16], const block_q8_K *y)
{
    const __m256i l16 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)ls));
    const __m256i corr = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y->bsums), l16);
    return hsum_epi32(_mm256_sub_epi32(acc, _mm256_slli_epi32(corr, 6)));
}

static int isum_iq2_xxs(const block_iq2_xxs *x, const block_q8_K *y)
{
    uint8_t ls[16];
    __m256i acc = _mm256_setzero_si256();
    const uint8_t *q = (const uint8_t *)x->qs;
    for (int ib = 0; ib < 8; ib++) {
        const uint32_t ix = ld32(q + 8 * ib), sw = ld32(q + 8 * ib + 4);
        const __m256i g = _mm256_set_epi64x((long long)quant_iq2xxs_grid[ix >> 24], (long long)quant_iq2xxs_grid[(ix >> 16) & 255],
                                            (long long)quant_iq2xxs_grid[(ix >> 8) & 255], (long long)quant_iq2xxs_grid[ix & 255]);
        const int l = (int)(2 * (sw >> 28) + 1);
        ls[2 * ib] = ls[2 * ib + 1] = (uint8_t)l;
        acc = sub_dot(acc, g, ksigns4(sw), y->qs + 32 * ib, scale_pair(l, l));
    }
    return finish(acc, ls, y);
}

static int isum_iq2_xs(const block_iq2_xs *x, const block_q8_K *y)
{
    uint8_t ls[16];
    __m256i acc = _mm256_setzero_si256();
    for (int ib = 0; ib < 8; ib++) {
        const uint16_t *v = x->qs + 4 * ib;
        const __m256i g = _mm256_set_epi64x((long long)quant_iq2xs_grid[v[3] & 511], (long long)quant_iq2xs_grid[v[2] & 511],
                                            (long long)quant_iq2xs_grid[v[1] & 511], (long long)quant_iq2xs_grid[v[0] & 511]);
        const uint32_t signs = (uint32_t)quant_ksigns_iq2xs[v[0] >> 9] | (uint32_t)quant_ksigns_iq2xs[v[1] >> 9] << 8 |
                               (uint32_t)quant_ksigns_iq2xs[v[2] >> 9] << 16 | (uint32_t)quant_ksigns_iq2xs[v[3] >> 9] << 24;
        const int l0 = 2 * (x->scales[ib] & 15) + 1, l1 = 2 * (x->scales[ib] >> 4) + 1;
        ls[2 * ib] = (uint8_t)l0;
        ls[2 * ib + 1] = (uint8_t)l1;
        acc = sub_dot(acc, g, signs, y->qs + 32 * ib, scale_pair(l0, l1));
    }
    return finish(acc, ls, y);
}

static int isum_iq2_s(const block_iq2_s *x, const block_q8_K *y)
{
    uint8_t ls[16];
    __m256i acc = _mm256_setzero_si256();
    const uint8_t *signs = x->qs + QK_K / 8;
    for (int ib = 0; ib < 8; ib++) {
        const uint8_t *q = x->qs + 4 * ib;
        const int h = x->qh[ib];
        const __m256i g = _mm256_set_epi64x((long long)quant_iq2s_grid[q[3] | ((h << 2) & 0x300)],
                                            (long long)quant_iq2s_grid[q[2] | ((h << 4) & 0x300)],
                                            (long long)quant_iq2s_grid[q[1] | ((h << 6) & 0x300)],
                                            (long long)quant_iq2s_grid[q[0] | ((h << 8) & 0x300)]);
        const int l0 = 2 * (x->scales[ib] & 15) + 1, l1 = 2 * (x->scales[ib] >> 4) + 1;
        ls[2 * ib] = (uint8_t)l0;
        ls[2 * ib + 1] = (uint8_t)l1;
        acc = sub_dot(acc, g, ld32(signs + 4 * ib), y->qs + 32 * ib, scale_pair(l0, l1));
    }
    return finish(acc, ls, y);
}

static int isum_iq3_xxs(const block_iq3_xxs *x, const block_q8_K *y)
{
    uint8_t ls[16];
    __m256i acc = _mm256_setzero_si256();
    for (int ib = 0; ib < 8; ib++) {
        const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(x->qs + 8 * ib)));
        const __m256i g = _mm256_i32gather_epi32((const int *)quant_iq3xxs_grid, idx, 4);
        const uint32_t sw = ld32(x->qs + QK_K / 4 + 4 * ib);
        const int l = (int)(2 * (sw >> 28) + 1);
        ls[2 * ib] = ls[2 * ib + 1] = (uint8_t)l;
        acc = sub_dot(acc, g, ksigns4(sw), y->qs + 32 * ib, scale_pair(l, l));
    }
    return finish(acc, ls, y);
}

static int isum_iq3_s(const block_iq3_s *x, const block_q8_K *y)
{
    uint8_t ls[16];
    __m256i acc = _mm256_setzero_si256();
    /* the ninth index bit of point k is bit k of qh[ib] */
    const __m256i bit = _mm256_set_epi32(128, 64, 32, 16, 8, 4, 2, 1);
    for (int ib = 0; ib < 8; ib++) {
        const __m256i lo = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(x->qs + 8 * ib)));
        const __m256i hb = _mm256_and_si256(_mm256_set1_epi32(x->qh[ib]), bit);
        const __m256i idx9 = _mm256_add_epi32(lo, _mm256_and_si256(_mm256_cmpeq_epi32(hb, bit), _mm256_set1_epi32(256)));
        const __m256i g = _mm256_i32gather_epi32((const int *)quant_iq3s_grid, idx9, 4);
        const int s = ib % 2 ? x->scales[ib / 2] >> 4 : x->scales[ib / 2] & 15;
        const int l = 2 * s + 1;
        ls[2 * ib] = ls[2 * ib + 1] = (uint8_t)l;
        acc = sub_dot(acc, g, ld32(x->signs + 4 * ib), y->qs + 32 * ib, scale_pair(l, l));
    }
    return finish(acc, ls, y);
}

#define IQ_VEC_DOT(name, block_t, factor)                                           \
    static void vec_dot_##name(int64_t n, float *out, const void *w, const void *a) \
    {                                                                               \
        const block_t *x = w;                                                       \
        const block_q8_K *y = a;                                                    \
        float sumf = 0.0f;                                                          \
        for (int64_t i = 0; i < n / QK_K; i++) {                                    \
            const int isum = isum_##name(&x[i], &y[i]);                             \
            const float d = h2f(x[i].d) * y[i].d;                                   \
            sumf += d * (float)isum;                                                \
        }                                                                           \
        *out = (factor) * sumf;                                                     \
    }

IQ_VEC_DOT(iq2_xxs, block_iq2_xxs, 0.125f)
IQ_VEC_DOT(iq2_xs, block_iq2_xs, 0.125f)
IQ_VEC_DOT(iq2_s, block_iq2_s, 0.125f)
IQ_VEC_DOT(iq3_xxs, block_iq3_xxs, 0.25f)
IQ_VEC_DOT(iq3_s, block_iq3_s, 1.0f)

void quant_register_iq23_avx2(quant_kernels *tab)
{
    tab[QT_IQ2_XXS].vec_dot = vec_dot_iq2_xxs;
    tab[QT_IQ2_XS].vec_dot = vec_dot_iq2_xs;
    tab[QT_IQ2_S].vec_dot = vec_dot_iq2_s;
    tab[QT_IQ3_XXS].vec_dot = vec_dot_iq3_xxs;
    tab[QT_IQ3_S].vec_dot = vec_dot_iq3_s;
}
