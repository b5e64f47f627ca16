/*
 * quant_iq1tq_avx512.c - AVX-512 (BW + VNNI) twins of the IQ1_S, IQ1_M,
 * TQ1_0 and TQ2_0 dot products (quant_iq1tq.c). Dequantization and the
 * ternary quantizers keep the scalar kernels.
 *
 * Every kernel computes the scalar twin's integer sums exactly and combines
 * them with the same float operations, so the results are identical to
 * the scalar kernels, bit for bit:
 *
 * - Weights are made unsigned (value + offset) for vpdpbusd / maddubs
 *   and the offset comes back through the activation's per-16 sums.
 * - IQ1_S / IQ1_M: the scalar twin's (float)sumi + 1/8 * (float)sumi1 is
 *   exactly (float)T / 8 with T = 8 * sumi + sumi1 (|T| < 2^24, so T and
 *   T / 8 are floats and no step rounds); T is one integer sum over the
 *   bytes 8 * grid + delta, with the odd 3-bit scales applied per 16-bit
 *   pair by vpdpwssd. Grid points (8 bytes each) come from 8-way gathers.
 * - TQ1_0: trit k of a byte b is (b * 3^k mod 256) * 3 >> 8, which is
 *   [q >= 86] + [q >= 171] for q = b * 3^k mod 256: byte compares. The
 *   per-lane powers of 3 are 16-bit multiplies (every pair of bytes shares
 *   its power), laid out so each 64-byte vector is 64 consecutive elements.
 */
#include <immintrin.h>

#include "quant/quant_codebook.h"
#include "quant/quant_impl.h"

static inline float h2f(qhalf h)
{
    return _cvtsh_ss(h);
}

/* The 16 per-16 activation sums weighted by the int16 words of m, added to acc. */
static inline __m512i add_bsums(__m512i acc, const block_q8_K *y, __m256i m)
{
    const __m256i b = _mm256_loadu_si256((const __m256i *)y->bsums);
    return _mm512_dpwssd_epi32(acc, _mm512_zextsi256_si512(b), _mm512_zextsi256_si512(m));
}

/* ---------------------------------------------------------------------------
 * TQ2_0
 * ------------------------------------------------------------------------- */

static void vec_dot_tq2_0(int64_t n, float *out, const void *w, const void *a)
{
    const block_tq2_0 *x = w;
    const block_q8_K *y = a;
    const __m512i m3 = _mm512_set1_epi8(3);
    const __m256i neg1 = _mm256_set1_epi16(-1);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m512i q = _mm512_loadu_si512(x[i].qs);
        __m512i acc = add_bsums(_mm512_setzero_si512(), &y[i], neg1);
        for (int l = 0; l < 4; l++) {
            /* low half: elements 32l.., high half: 128 + 32l.. */
            const __m512i u = _mm512_and_si512(_mm512_srli_epi16(q, (unsigned)(2 * l)), m3);
            const __m512i act = _mm512_inserti64x4(
                _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(y[i].qs + 32 * l))),
                _mm256_loadu_si256((const __m256i *)(y[i].qs + 128 + 32 * l)), 1);
            acc = _mm512_dpbusd_epi32(acc, u, act);
        }
        const int sumi = _mm512_reduce_add_epi32(acc);
        sum += (float)sumi * (h2f(x[i].d) * y[i].d);
    }
    *out = sum;
}

/* ---------------------------------------------------------------------------
 * TQ1_0
 * ------------------------------------------------------------------------- */

/* Bytes of v times the 16-bit word of p covering them, mod 256. */
static inline __m512i mul_bytes(__m512i v, __m512i p)
{
    const __m512i lo = _mm512_mullo_epi16(v, p);
    const __m512i hi = _mm512_mullo_epi16(_mm512_and_si512(v, _mm512_set1_epi16((short)0xff00)), p);
    return _mm512_mask_blend_epi8(0xaaaaaaaaaaaaaaaaull, lo, hi);
}

/* The trits (0, 1, 2) at the top of bytes already multiplied by their 3^k. */
static inline __m512i top_trit(__m512i q)
{
    const __m512i one = _mm512_set1_epi8(1);
    const __m512i t = _mm512_maskz_mov_epi8(_mm512_cmpge_epu8_mask(q, _mm512_set1_epi8(86)), one);
    return _mm512_mask_add_epi8(t, _mm512_cmpge_epu8_mask(q, _mm512_set1_epi8((char)171)), t, one);
}

static void vec_dot_tq1_0(int64_t n, float *out, const void *w, const void *a)
{
    const block_tq1_0 *x = w;
    const block_q8_K *y = a;
    /* The powers of 3 per 16-bit word for the four 64-element chunks:
     * 0..63 = bytes 0..31 trits 0, 1; 64..127 = trits 2, 3; 128..191 =
     * trit 4, then bytes 32..47 trits 0, 1; 192..255 = bytes 32..47 trits
     * 2, 3, 4, then qh trit k of byte j at 4k + j. */
    const __m512i p0 = _mm512_inserti64x4(_mm512_set1_epi16(1), _mm256_set1_epi16(3), 1);
    const __m512i p1 = _mm512_inserti64x4(_mm512_set1_epi16(9), _mm256_set1_epi16(27), 1);
    const __m512i p2 = _mm512_inserti64x4(_mm512_set1_epi16(81),
                                          _mm256_set_m128i(_mm_set1_epi16(3), _mm_set1_epi16(1)), 1);
    const __m512i p3 = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_set_m128i(_mm_set1_epi16(27), _mm_set1_epi16(9))),
        _mm256_set_m128i(_mm_set_epi16(27, 27, 9, 9, 3, 3, 1, 1), _mm_set1_epi16(81)), 1);
    const __m256i neg1 = _mm256_set1_epi16(-1);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)x[i].qs);
        const __m128i b1 = _mm_loadu_si128((const __m128i *)(x[i].qs + 32));
        int32_t qh;
        memcpy(&qh, x[i].qh, 4);
        const __m512i v01 = _mm512_broadcast_i64x4(b0);
        const __m512i v2 = _mm512_inserti64x4(_mm512_castsi256_si512(b0), _mm256_broadcastsi128_si256(b1), 1);
        const __m512i v3 = _mm512_inserti32x4(_mm512_broadcast_i32x4(b1), _mm_set1_epi32(qh), 3);
        const int8_t *q8 = y[i].qs;
        __m512i acc = add_bsums(_mm512_setzero_si512(), &y[i], neg1);
        acc = _mm512_dpbusd_epi32(acc, top_trit(mul_bytes(v01, p0)), _mm512_loadu_si512(q8));
        acc = _mm512_dpbusd_epi32(acc, top_trit(mul_bytes(v01, p1)), _mm512_loadu_si512(q8 + 64));
        acc = _mm512_dpbusd_epi32(acc, top_trit(mul_bytes(v2, p2)), _mm512_loadu_si512(q8 + 128));
        acc = _mm512_dpbusd_epi32(acc, top_trit(mul_bytes(v3, p3)), _mm512_loadu_si512(q8 + 192));
        const int sumi = _mm512_reduce_add_epi32(acc);
        sum += (float)sumi * (h2f(x[i].d) * y[i].d);
    }
    *out = sum;
}

/* ---------------------------------------------------------------------------
 * IQ1_S / IQ1_M
 * ------------------------------------------------------------------------- */

/* The grid points of groups 8c..8c+7 (64 consecutive elements) as bytes
 * in {-1, 0, 1}, from 32 11-bit indices in the words of idx: one 8-way
 * gather from the 16 KiB table (L1-resident). Measured against plain
 * loads paired into lanes, loads via general registers and masked
 * broadcasts: the gather was the fastest of them. */
static inline __m512i grid_chunk(__m512i idx, int c)
{
    const __m256i i32 = _mm256_cvtepu16_epi32(_mm512_extracti32x4_epi32(idx, c));
    return _mm512_i32gather_epi64(i32, (const void *)quant_iq1s_grid, 8);
}

/* Word w of v repeated over words 16j..16j+15 of 32 (j = 0, 1): the scale
 * of each pair of products in a 64-byte chunk of 32-element sub-blocks. */
static inline __m512i spread_words(__m512i v, int w0, int w1)
{
    const __m512i idx = _mm512_inserti64x4(_mm512_set1_epi16((short)w0), _mm256_set1_epi16((short)w1), 1);
    return _mm512_permutexvar_epi16(idx, v);
}

static void vec_dot_iq1_s(int64_t n, float *out, const void *w, const void *a)
{
    const block_iq1_s *x = w;
    const block_q8_K *y = a;
    const __m512i one = _mm512_set1_epi8(1);
    /* word g of 32: qh word g / 4, shifted by 3 * (g % 4) */
    const __m512i qh_sel = _mm512_set_epi16(7, 7, 7, 7, 6, 6, 6, 6, 5, 5, 5, 5, 4, 4, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2,
                                            1, 1, 1, 1, 0, 0, 0, 0);
    const __m512i qh_shift = _mm512_set_epi16(9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3,
                                              0, 9, 6, 3, 0, 9, 6, 3, 0);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m128i qh = _mm_loadu_si128((const __m128i *)x[i].qh);
        const __m512i qh32 = _mm512_permutexvar_epi16(qh_sel, _mm512_castsi128_si512(qh));
        const __m512i hi = _mm512_and_si512(_mm512_srlv_epi16(qh32, qh_shift), _mm512_set1_epi16(7));
        const __m512i idx = _mm512_or_si512(_mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)x[i].qs)),
                                            _mm512_slli_epi16(hi, 8));
        /* per 32: ls = 2s + 1 and the bsums weight ls * (delta - 8) of
         * T = 8 * (sum of ls * (g + 1) * q8) + sum of ls * (delta - 8) * bsum */
        const __m128i ls = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(qh, 12), _mm_set1_epi16(7)), 1),
                                        _mm_set1_epi16(1));
        const __m128i dm8 = _mm_sub_epi16(_mm_set1_epi16(-7), _mm_slli_epi16(_mm_srli_epi16(qh, 15), 1));
        const __m128i m8 = _mm_mullo_epi16(ls, dm8);
        const __m256i m16 = _mm256_set_m128i(_mm_unpackhi_epi16(m8, m8), _mm_unpacklo_epi16(m8, m8));
        const __m512i ls512 = _mm512_castsi128_si512(ls);
        const int8_t *q8 = y[i].qs;
        __m512i acc = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            const __m512i u = _mm512_add_epi8(grid_chunk(idx, c), one);
            const __m512i p = _mm512_maddubs_epi16(u, _mm512_loadu_si512(q8 + 64 * c));
            acc = _mm512_dpwssd_epi32(acc, p, spread_words(ls512, 2 * c, 2 * c + 1));
        }
        acc = add_bsums(_mm512_slli_epi32(acc, 3), &y[i], m16);
        const int t = _mm512_reduce_add_epi32(acc);
        sum += h2f(x[i].d) * y[i].d * ((float)t * QUANT_IQ1S_DELTA);
    }
    *out = sum;
}

static void vec_dot_iq1_m(int64_t n, float *out, const void *w, const void *a)
{
    const block_iq1_m *x = w;
    const block_q8_K *y = a;
    const __m512i one = _mm512_set1_epi8(1), two = _mm512_set1_epi8(2);
    /* word g of 32: qh byte g / 2, shifted by 4 * (g % 2) */
    const __m512i qh_sel = _mm512_set_epi16(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8, 7, 7, 6, 6,
                                            5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i qh_shift = _mm512_set1_epi32(4 << 16);
    /* word k of 16: scale word k / 4 shifted by 3 * (k % 4) */
    const __m256i sc_sel = _mm256_set_epi16(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    const __m256i sc_shift = _mm256_set_epi16(9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3, 0);
    /* pair w of chunk c has the scale of sub-block 4c + w / 8 */
    const __m512i ls_sel = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1,
                                            0, 0, 0, 0, 0, 0, 0, 0);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m512i qh = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)x[i].qh)));
        const __m512i nib = _mm512_and_si512(_mm512_srlv_epi16(_mm512_permutexvar_epi16(qh_sel, qh), qh_shift),
                                             _mm512_set1_epi16(15));
        const __m512i idx = _mm512_or_si512(_mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)x[i].qs)),
                                            _mm512_slli_epi16(_mm512_and_si512(nib, _mm512_set1_epi16(7)), 8));
        /* bit g set: group g's delta is negative */
        const __mmask32 neg = _mm512_test_epi16_mask(nib, _mm512_set1_epi16(8));
        uint16_t sc[4];
        memcpy(sc, x[i].scales, 8);
        const uint16_t hbits = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) |
                                          (sc[3] & 0xf000));
        const __m256i s3 = _mm256_and_si256(
            _mm256_srlv_epi16(_mm256_permutexvar_epi16(sc_sel, _mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *)sc))),
                              sc_shift),
            _mm256_set1_epi16(7));
        const __m256i ls = _mm256_or_si256(_mm256_slli_epi16(s3, 1), _mm256_set1_epi16(1));
        const __m512i ls512 = _mm512_castsi256_si512(ls);
        const int8_t *q8 = y[i].qs;
        /* T = sum of ls * (8 * (g + 1) + delta + 1) * q8 - 9 * sum of ls * bsum */
        __m512i acc = add_bsums(_mm512_setzero_si512(), &y[i], _mm256_mullo_epi16(ls, _mm256_set1_epi16(-9)));
        for (int c = 0; c < 4; c++) {
            const __m512i dvec = _mm512_andnot_si512(_mm512_movm_epi64((__mmask8)(neg >> (8 * c))), two);
            const __m512i u = _mm512_add_epi8(_mm512_slli_epi16(_mm512_add_epi8(grid_chunk(idx, c), one), 3), dvec);
            const __m512i p = _mm512_maddubs_epi16(u, _mm512_loadu_si512(q8 + 64 * c));
            const __m512i scl = _mm512_permutexvar_epi16(_mm512_add_epi16(ls_sel, _mm512_set1_epi16((short)(4 * c))),
                                                         ls512);
            acc = _mm512_dpwssd_epi32(acc, p, scl);
        }
        const int t = _mm512_reduce_add_epi32(acc);
        sum += h2f(hbits) * y[i].d * ((float)t * QUANT_IQ1S_DELTA);
    }
    *out = sum;
}

void quant_register_iq1tq_avx512(quant_kernels *tab)
{
    tab[QT_IQ1_S].vec_dot = vec_dot_iq1_s;
    tab[QT_IQ1_M].vec_dot = vec_dot_iq1_m;
    tab[QT_TQ1_0].vec_dot = vec_dot_tq1_0;
    tab[QT_TQ2_0].vec_dot = vec_dot_tq2_0;
}

quant_gemm_fn quant_gemm_iq1tq_avx512_for(int type)
{
    (void)type;
    return NULL;
}
