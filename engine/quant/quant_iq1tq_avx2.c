/*
 * quant_iq1tq_avx2.c - AVX2 twins of the IQ1_S, IQ1_M, TQ1_0 and TQ2_0 dot
 * products (quant_iq1tq.c). Dequantization and the ternary quantizers keep
 * the scalar kernels.
 *
 * The scheme is the AVX-512 file's (see its header): weights made
 * unsigned for maddubs, the offset taken back through the activation's
 * per-16 sums, IQ1's delta folded into T = 8 * sumi + sumi1, TQ1_0's trits
 * read by byte compares. The integer sums are exact and combined with the
 * scalar twin's float operations, so the results are identical to the
 * scalar kernels. Grid points come from 4-way gathers (measured faster
 * than building the vectors from scalar loads).
 */
#include <immintrin.h>

#include "quant/quant_codebook.h"
#include "quant/quant_impl.h"

static inline float h2f(qhalf h)
{
    return _cvtsh_ss(h);
}

static inline int hsum32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

/* -(sum of the activation's quants), as int32 lanes to add before hsum32. */
static inline __m256i neg_bsums(const block_q8_K *y)
{
    return _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y->bsums), _mm256_set1_epi16(-1));
}

/* ---------------------------------------------------------------------------
 * TQ2_0
 * ------------------------------------------------------------------------- */

static void vec_dot_tq2_0(int64_t n, float *out, const void *w, const void *a)
{
    const block_tq2_0 *x = w;
    const block_q8_K *y = a;
    const __m256i m3 = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        /* eight maddubs words of at most 2 * 3 * 128 each: int16 holds their sum */
        __m256i acc = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * h));
            for (int l = 0; l < 4; l++) {
                const __m256i u = _mm256_and_si256(_mm256_srli_epi16(q, 2 * l), m3);
                const __m256i act = _mm256_loadu_si256((const __m256i *)(y[i].qs + 128 * h + 32 * l));
                acc = _mm256_add_epi16(acc, _mm256_maddubs_epi16(u, act));
            }
        }
        const int sumi = hsum32(_mm256_add_epi32(_mm256_madd_epi16(acc, ones), neg_bsums(&y[i])));
        sum += (float)sumi * (h2f(x[i].d) * y[i].d);
    }
    *out = sum;
}

/* ---------------------------------------------------------------------------
 * TQ1_0
 * ------------------------------------------------------------------------- */

static inline __m256i mul3(__m256i v)
{
    return _mm256_add_epi8(v, _mm256_add_epi8(v, v));
}

/* [q >= 86] + [q >= 171] per byte: the top trit of a byte times its 3^k. */
static inline __m256i top_trit(__m256i q)
{
    const __m256i ge1 = _mm256_cmpeq_epi8(_mm256_max_epu8(q, _mm256_set1_epi8(86)), q);
    const __m256i ge2 = _mm256_cmpeq_epi8(_mm256_max_epu8(q, _mm256_set1_epi8((char)171)), q);
    return _mm256_sub_epi8(_mm256_setzero_si256(), _mm256_add_epi8(ge1, ge2));
}

static void vec_dot_tq1_0(int64_t n, float *out, const void *w, const void *a)
{
    const block_tq1_0 *x = w;
    const block_q8_K *y = a;
    const __m256i ones = _mm256_set1_epi16(1);
    /* qh trit k of byte j is element 240 + 4k + j: bytes [qh0..3] x 4
     * times 3^k per group of four (a pair of bytes shares its power) */
    const __m128i qh_pow = _mm_set_epi16(27, 27, 9, 9, 3, 3, 1, 1);
    const __m128i hi_bytes = _mm_set1_epi16((short)0xff00);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const int8_t *q8 = y[i].qs;
        __m256i acc = _mm256_setzero_si256();
        /* elements 32k..32k+31: trit k of bytes 0..31 */
        __m256i q = _mm256_loadu_si256((const __m256i *)x[i].qs);
        for (int k = 0; k < 5; k++, q = mul3(q))
            acc = _mm256_add_epi16(acc, _mm256_maddubs_epi16(top_trit(q), _mm256_loadu_si256((const __m256i *)(q8 + 32 * k))));
        /* 160..191: trits 0, 1 of bytes 32..47; 192..223: trits 2, 3 */
        const __m256i b1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(x[i].qs + 32)));
        const __m256i v01 = _mm256_blend_epi32(b1, mul3(b1), 0xf0);
        const __m256i v23 = mul3(mul3(v01));
        acc = _mm256_add_epi16(acc, _mm256_maddubs_epi16(top_trit(v01), _mm256_loadu_si256((const __m256i *)(q8 + 160))));
        acc = _mm256_add_epi16(acc, _mm256_maddubs_epi16(top_trit(v23), _mm256_loadu_si256((const __m256i *)(q8 + 192))));
        /* 224..239: trit 4 of bytes 32..47; 240..255: the qh trits */
        int32_t qh;
        memcpy(&qh, x[i].qh, 4);
        const __m128i h = _mm_set1_epi32(qh);
        const __m128i hq = _mm_or_si128(_mm_andnot_si128(hi_bytes, _mm_mullo_epi16(h, qh_pow)),
                                        _mm_mullo_epi16(_mm_and_si128(h, hi_bytes), qh_pow));
        const __m256i v4 = _mm256_inserti128_si256(mul3(mul3(v23)), hq, 1);
        acc = _mm256_add_epi16(acc, _mm256_maddubs_epi16(top_trit(v4), _mm256_loadu_si256((const __m256i *)(q8 + 224))));
        /* eight maddubs words of at most 2 * 2 * 128: int16 holds their sum */
        const int sumi = hsum32(_mm256_add_epi32(_mm256_madd_epi16(acc, ones), neg_bsums(&y[i])));
        sum += (float)sumi * (h2f(x[i].d) * y[i].d);
    }
    *out = sum;
}

/* ---------------------------------------------------------------------------
 * IQ1_S / IQ1_M
 * ------------------------------------------------------------------------- */

static inline __m256i grid4(int i0, int i1, int i2, int i3)
{
    return _mm256_i32gather_epi64((const long long *)quant_iq1s_grid, _mm_set_epi32(i3, i2, i1, i0), 8);
}

static void vec_dot_iq1_s(int64_t n, float *out, const void *w, const void *a)
{
    const block_iq1_s *x = w;
    const block_q8_K *y = a;
    const __m256i one = _mm256_set1_epi8(1);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8_t *qs = x[i].qs;
        const int8_t *q8 = y[i].qs;
        __m256i acc = _mm256_setzero_si256();
        int corr = 0;
        for (int ib = 0; ib < QK_K / 32; ib++, qs += 4, q8 += 32) {
            const int qh = x[i].qh[ib];
            const __m256i g = grid4(qs[0] | ((qh << 8) & 0x700), qs[1] | ((qh << 5) & 0x700),
                                    qs[2] | ((qh << 2) & 0x700), qs[3] | ((qh >> 1) & 0x700));
            const int ls = 2 * ((qh >> 12) & 7) + 1;
            const __m256i p = _mm256_maddubs_epi16(_mm256_add_epi8(g, one), _mm256_loadu_si256((const __m256i *)q8));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16((short)ls)));
            /* T = 8 * (sum of ls * (g + 1) * q8) + sum of ls * (delta - 8) * bsum */
            corr += ls * ((qh & 0x8000) ? -9 : -7) * (y[i].bsums[2 * ib] + y[i].bsums[2 * ib + 1]);
        }
        const int t = 8 * hsum32(acc) + corr;
        sum += h2f(x[i].d) * y[i].d * ((float)t * QUANT_IQ1S_DELTA);
    }
    *out = sum;
}

static void vec_dot_iq1_m(int64_t n, float *out, const void *w, const void *a)
{
    const block_iq1_m *x = w;
    const block_q8_K *y = a;
    const __m256i one = _mm256_set1_epi8(1), two = _mm256_set1_epi8(2);
    /* the delta sign of group l of a sub-block: bit 3 + 4l of its qh word */
    const __m256i dbit = _mm256_set_epi64x(0x8000800080008000ll, 0x0800080008000800ll, 0x0080008000800080ll,
                                           0x0008000800080008ll);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8_t *qs = x[i].qs, *qh = x[i].qh;
        const int8_t *q8 = y[i].qs;
        uint16_t sc[4];
        memcpy(sc, x[i].scales, 8);
        const uint16_t hbits = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) |
                                          (sc[3] & 0xf000));
        int16_t ls[16];
        int corr = 0;
        for (int k = 0; k < 16; k++) {
            ls[k] = (int16_t)(2 * ((sc[k / 4] >> (3 * (k % 4))) & 7) + 1);
            corr -= 9 * ls[k] * y[i].bsums[k];
        }
        __m256i acc = _mm256_setzero_si256();
        for (int ib = 0; ib < QK_K / 32; ib++, qs += 4, qh += 2, q8 += 32) {
            const __m256i g = grid4(qs[0] | ((qh[0] << 8) & 0x700), qs[1] | ((qh[0] << 4) & 0x700),
                                    qs[2] | ((qh[1] << 8) & 0x700), qs[3] | ((qh[1] << 4) & 0x700));
            /* delta + 1 per group: 0 where its sign bit says negative, else 2 */
            uint16_t h16;
            memcpy(&h16, qh, 2);
            const __m256i neg = _mm256_cmpeq_epi16(_mm256_and_si256(_mm256_set1_epi16((short)h16), dbit), dbit);
            const __m256i dv = _mm256_andnot_si256(neg, two);
            /* u = 8 * (g + 1) + delta + 1 = 8g + delta + 9, in 0..18 */
            const __m256i u = _mm256_add_epi8(_mm256_slli_epi16(_mm256_add_epi8(g, one), 3), dv);
            const __m256i p = _mm256_maddubs_epi16(u, _mm256_loadu_si256((const __m256i *)q8));
            const __m256i s = _mm256_set_m128i(_mm_set1_epi16(ls[2 * ib + 1]), _mm_set1_epi16(ls[2 * ib]));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, s));
        }
        const int t = hsum32(acc) + corr;
        sum += h2f(hbits) * y[i].d * ((float)t * QUANT_IQ1S_DELTA);
    }
    *out = sum;
}

void quant_register_iq1tq_avx2(quant_kernels *tab)
{
    tab[QT_IQ1_S].vec_dot = vec_dot_iq1_s;
    tab[QT_IQ1_M].vec_dot = vec_dot_iq1_m;
    tab[QT_TQ1_0].vec_dot = vec_dot_tq1_0;
    tab[QT_TQ2_0].vec_dot = vec_dot_tq2_0;
}
