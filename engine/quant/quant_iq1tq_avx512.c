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
 *
 * One code path per type: a super-block is unpacked (wblk: 4 x 64
 * unsigned weight bytes in element order, per-pair scales, bsum weights,
 * the half scale), then multiplied with the activation of each token. The
 * vec_dot is that with one token; the prefill GEMM unpacks each weight
 * super-block once for KT tokens. Both give the same bits by construction.
 */
#include <immintrin.h>

#include "core/tr16_avx512.h"
#include "quant/quant_codebook.h"
#include "quant/quant_gemm_pack.h"
#include "quant/quant_iq1_tab.h"
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
 * Helpers
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

/* The grid points of groups 8c..8c+7 (64 consecutive elements) as bytes
 * in {-1, 0, 1}, from 32 11-bit indices in the words of idx: one 8-way
 * gather from the 16 KiB table (L1-resident). Measured against plain
 * loads paired into lanes, loads via general registers and masked
 * broadcasts: the gather was the fastest of them. */
static inline __m512i grid_chunk(__m512i idx, int c)
{
    /* words 8c..8c+7 to the bottom (a permute: the lane number need not be
     * an immediate, so unoptimized builds compile too) */
    const __m512i sel = _mm512_add_epi64(_mm512_set1_epi64(2 * c), _mm512_set_epi64(0, 0, 0, 0, 0, 0, 1, 0));
    const __m128i w8 = _mm512_castsi512_si128(_mm512_permutexvar_epi64(sel, idx));
    return _mm512_i32gather_epi64(_mm256_cvtepu16_epi32(w8), (const void *)quant_iq1s_grid, 8);
}

/* Word w of v repeated over words 16j..16j+15 of 32 (j = 0, 1): the scale
 * of each pair of products in a 64-byte chunk of 32-element sub-blocks. */
static inline __m512i spread_words(__m512i v, int w0, int w1)
{
    const __m512i idx = _mm512_inserti64x4(_mm512_set1_epi16((short)w0), _mm256_set1_epi16((short)w1), 1);
    return _mm512_permutexvar_epi16(idx, v);
}


/* ---------------------------------------------------------------------------
 * Unpacking: T = sum over c of u[c] . q8[64c..] (weighted per 16-bit pair
 * by sc[c] where the type has scales) + bsums . m16, exact integers.
 * ------------------------------------------------------------------------- */

typedef struct wblk {
    __m512i u[4];   /* unsigned weight bytes, elements 64c..64c+63 */
    __m512i sc[4];  /* int16 weight of each maddubs pair (scaled types) */
    __m256i m16;    /* int16 weight of each of the 16 activation bsums */
    float d;        /* the super-block's half scale */
} wblk;

enum { K_TQ2, K_TQ1, K_IQ1S, K_IQ1M };

static inline __attribute__((always_inline)) void unpack_tq2_0(const block_tq2_0 *x, wblk *b)
{
    /* chunk c: bytes 32 * (c / 2) .. +31, bit pairs 2 * (2 * (c % 2)) and
     * 2 * (2 * (c % 2) + 1) in the low and high halves */
    const __m512i m3 = _mm512_set1_epi8(3);
    for (int h = 0; h < 2; h++) {
        const __m512i q = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x->qs + 32 * h)));
        for (int k = 0; k < 2; k++) {
            const __m512i cnt = _mm512_inserti64x4(_mm512_set1_epi16((short)(4 * k)), _mm256_set1_epi16((short)(4 * k + 2)), 1);
            b->u[2 * h + k] = _mm512_and_si512(_mm512_srlv_epi16(q, cnt), m3);
        }
    }
    b->m16 = _mm256_set1_epi16(-1);
    b->d = h2f(x->d);
}

static inline __attribute__((always_inline)) void unpack_tq1_0(const block_tq1_0 *x, wblk *b)
{
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
    const __m256i b0 = _mm256_loadu_si256((const __m256i *)x->qs);
    const __m128i b1 = _mm_loadu_si128((const __m128i *)(x->qs + 32));
    int32_t qh;
    memcpy(&qh, x->qh, 4);
    const __m512i v01 = _mm512_broadcast_i64x4(b0);
    const __m512i v2 = _mm512_inserti64x4(_mm512_castsi256_si512(b0), _mm256_broadcastsi128_si256(b1), 1);
    const __m512i v3 = _mm512_inserti32x4(_mm512_broadcast_i32x4(b1), _mm_set1_epi32(qh), 3);
    b->u[0] = top_trit(mul_bytes(v01, p0));
    b->u[1] = top_trit(mul_bytes(v01, p1));
    b->u[2] = top_trit(mul_bytes(v2, p2));
    b->u[3] = top_trit(mul_bytes(v3, p3));
    b->m16 = _mm256_set1_epi16(-1);
    b->d = h2f(x->d);
}

static inline __attribute__((always_inline)) void unpack_iq1_s(const block_iq1_s *x, wblk *b)
{
    /* word g of 32: qh word g / 4, shifted by 3 * (g % 4) */
    const __m512i qh_sel = _mm512_set_epi16(7, 7, 7, 7, 6, 6, 6, 6, 5, 5, 5, 5, 4, 4, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2,
                                            1, 1, 1, 1, 0, 0, 0, 0);
    const __m512i qh_shift = _mm512_set_epi16(9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3,
                                              0, 9, 6, 3, 0, 9, 6, 3, 0);
    const __m128i qh = _mm_loadu_si128((const __m128i *)x->qh);
    const __m512i qh32 = _mm512_permutexvar_epi16(qh_sel, _mm512_castsi128_si512(qh));
    const __m512i hi = _mm512_and_si512(_mm512_srlv_epi16(qh32, qh_shift), _mm512_set1_epi16(7));
    const __m512i idx = _mm512_or_si512(_mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)x->qs)),
                                        _mm512_slli_epi16(hi, 8));
    /* T = 8 * sumi + sumi1 = sum of 8 ls * (g + 1) * q8 + sum of ls * (delta - 8) * bsum
     * (ls = 2s + 1 per 32; bsums are per 16) */
    const __m128i ls = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(qh, 12), _mm_set1_epi16(7)), 1),
                                    _mm_set1_epi16(1));
    const __m128i m8 = _mm_mullo_epi16(ls, _mm_sub_epi16(_mm_set1_epi16(-7), _mm_slli_epi16(_mm_srli_epi16(qh, 15), 1)));
    const __m512i ls8 = _mm512_castsi128_si512(_mm_slli_epi16(ls, 3));
    const __m512i one = _mm512_set1_epi8(1);
    for (int c = 0; c < 4; c++) {
        b->u[c] = _mm512_add_epi8(grid_chunk(idx, c), one);
        b->sc[c] = spread_words(ls8, 2 * c, 2 * c + 1);
    }
    b->m16 = _mm256_set_m128i(_mm_unpackhi_epi16(m8, m8), _mm_unpacklo_epi16(m8, m8));
    b->d = h2f(x->d);
}

/* IQ1_M's parts: g1[c] = grid + 1 (bytes 0..2, elements 64c..), the
 * sixteen ls = 2s + 1 (words of the low half of *ls), the negative-delta
 * bit of each group of 8 (*neg) and the half scale. */
static inline __attribute__((always_inline)) void iq1m_parts(const block_iq1_m *x, __m512i g1[4], __m512i *ls,
                                                             __mmask32 *neg, float *d)
{
    /* word g of 32: qh byte g / 2, shifted by 4 * (g % 2) */
    const __m512i qh_sel = _mm512_set_epi16(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8, 7, 7, 6, 6,
                                            5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i qh_shift = _mm512_set1_epi32(4 << 16);
    /* word k of 16: scale word k / 4 shifted by 3 * (k % 4) */
    const __m256i sc_sel = _mm256_set_epi16(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    const __m256i sc_shift = _mm256_set_epi16(9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3, 0);
    const __m512i qh = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)x->qh)));
    const __m512i nib = _mm512_and_si512(_mm512_srlv_epi16(_mm512_permutexvar_epi16(qh_sel, qh), qh_shift),
                                         _mm512_set1_epi16(15));
    const __m512i idx = _mm512_or_si512(_mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)x->qs)),
                                        _mm512_slli_epi16(_mm512_and_si512(nib, _mm512_set1_epi16(7)), 8));
    *neg = _mm512_test_epi16_mask(nib, _mm512_set1_epi16(8));
    uint16_t sc[4];
    memcpy(sc, x->scales, 8);
    const uint16_t hbits = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) |
                                      (sc[3] & 0xf000));
    const __m256i s3 = _mm256_and_si256(
        _mm256_srlv_epi16(_mm256_permutexvar_epi16(sc_sel, _mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *)sc))),
                          sc_shift),
        _mm256_set1_epi16(7));
    *ls = _mm512_castsi256_si512(_mm256_or_si256(_mm256_slli_epi16(s3, 1), _mm256_set1_epi16(1)));
    const __m512i one = _mm512_set1_epi8(1);
    for (int c = 0; c < 4; c++)
        g1[c] = _mm512_add_epi8(grid_chunk(idx, c), one);
    *d = h2f(hbits);
}

/* pair w of chunk c of 64 bytes has the scale of sub-block 4c + w / 8 */
static inline __m512i iq1m_pair_scales(__m512i ls, int c)
{
    const __m512i sel = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1,
                                         0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_permutexvar_epi16(_mm512_add_epi16(sel, _mm512_set1_epi16((short)(4 * c))), ls);
}

static inline __attribute__((always_inline)) void unpack_iq1_m(const block_iq1_m *x, wblk *b)
{
    __m512i g1[4], ls;
    __mmask32 neg;
    iq1m_parts(x, g1, &ls, &neg, &b->d);
    /* T = 8 * sumi1 + sumi2 = sum of ls * (8 * (g + 1) + delta + 1) * q8 - 9 * sum of ls * bsum */
    const __m512i two = _mm512_set1_epi8(2);
    for (int c = 0; c < 4; c++) {
        const __m512i dvec = _mm512_andnot_si512(_mm512_movm_epi64((__mmask8)(neg >> (8 * c))), two);
        b->u[c] = _mm512_add_epi8(_mm512_slli_epi16(g1[c], 3), dvec);
        b->sc[c] = iq1m_pair_scales(ls, c);
    }
    b->m16 = _mm256_mullo_epi16(_mm512_castsi512_si256(ls), _mm256_set1_epi16(-9));
}

/* The GEMM's IQ1_M weights: u = 8 * ls * (g + 1) per byte and, per group
 * g of 8, m32[g] = ls * (delta + 1 - 9) against the group's activation
 * sum: T = sum of u * q8 + sum of m32 * gsum. */
static inline __attribute__((always_inline)) void unpack_iq1_m_gemm(const block_iq1_m *x, wblk *b, __m512i *m32)
{
    __m512i g1[4], ls;
    __mmask32 neg;
    iq1m_parts(x, g1, &ls, &neg, &b->d);
    const __m512i ls8 = _mm512_slli_epi16(ls, 3);
    for (int c = 0; c < 4; c++)
        b->u[c] = _mm512_mullo_epi16(g1[c], iq1m_pair_scales(ls8, c));
    const __m512i half = _mm512_set_epi16(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8, 7, 7, 6, 6, 5,
                                          5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i dm9 = _mm512_mask_blend_epi16(neg, _mm512_set1_epi16(-7), _mm512_set1_epi16(-9));
    *m32 = _mm512_mullo_epi16(_mm512_permutexvar_epi16(half, ls), dm9);
}

static inline __attribute__((always_inline)) void unpack(int kind, const uint8_t *row, int64_t i, wblk *b)
{
    switch (kind) {
    case K_TQ2: unpack_tq2_0((const block_tq2_0 *)row + i, b); break;
    case K_TQ1: unpack_tq1_0((const block_tq1_0 *)row + i, b); break;
    case K_IQ1S: unpack_iq1_s((const block_iq1_s *)row + i, b); break;
    default: unpack_iq1_m((const block_iq1_m *)row + i, b); break;
    }
}

/* The int32 lanes summing to T for one token's super-block. */
static inline __attribute__((always_inline)) __m512i token_acc(int kind, const wblk *b, const block_q8_K *y)
{
    __m512i acc = add_bsums(_mm512_setzero_si512(), y, b->m16);
    for (int c = 0; c < 4; c++) {
        const __m512i q8 = _mm512_loadu_si512(y->qs + 64 * c);
        if (kind == K_TQ2 || kind == K_TQ1)
            acc = _mm512_dpbusd_epi32(acc, b->u[c], q8);
        else
            acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(b->u[c], q8), b->sc[c]);
    }
    return acc;
}

/* The scalar twin's float step for one super-block. */
static inline float combine(int kind, int t, float d, float yd)
{
    if (kind == K_TQ2 || kind == K_TQ1)
        return (float)t * (d * yd);
    return d * yd * ((float)t * QUANT_IQ1S_DELTA);
}

static inline __attribute__((always_inline)) void vec_dot_kind(int kind, int64_t n, float *out, const void *w,
                                                               const void *a)
{
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        wblk b;
        unpack(kind, w, i, &b);
        sum += combine(kind, _mm512_reduce_add_epi32(token_acc(kind, &b, &y[i])), b.d, y[i].d);
    }
    *out = sum;
}

static void vec_dot_tq2_0(int64_t n, float *out, const void *w, const void *a)
{
    vec_dot_kind(K_TQ2, n, out, w, a);
}

static void vec_dot_tq1_0(int64_t n, float *out, const void *w, const void *a)
{
    vec_dot_kind(K_TQ1, n, out, w, a);
}

/* ---------------------------------------------------------------------------
 * Prefill GEMM: tiles of KT tokens; for each row, each weight super-block
 * is unpacked once and multiplied with the KT tokens' activations (which
 * stay in cache across the rows of the tile).
 *
 * The integer sums take a cheaper route than the vec_dot's (same exact T,
 * so the same bits): the IQ1 scales are folded into the weight bytes
 * (8 * ls * (g + 1) <= 240 still fits a byte, and one 16-bit multiply
 * scales both bytes of a pair since the low product never carries), so
 * each 64 bytes cost one vpdpbusd per token. IQ1_M's per-8 delta then
 * needs the activation's per-8 sums, and the ternary offset its total:
 * both depend on the token alone and are computed once per tile for a
 * range of NBR super-blocks. Ranges follow each other with the running
 * sums parked in out, so every (row, token) still adds its super-blocks
 * one after the other, exactly as the vec_dot does.
 * ------------------------------------------------------------------------- */

#define KT 16
#define NBR 32

/* Lane t = the sum of all lanes of v[t], t < 4 (exact integer adds). */
static inline __m128i reduce4(__m512i a0, __m512i a1, __m512i a2, __m512i a3)
{
    const __m512i s01 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
    const __m512i s23 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
    const __m512i s = _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
    const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* Decode's matrix-vector product: four rows at a time against the one
 * activation, so the four sums share one reduction and the float steps
 * run in four lanes (each lane the scalar twin's operations, so the bits
 * of vec_dot). */
static inline __attribute__((always_inline)) void dot_rows_kind(int kind, int64_t n, float *out, const void *w,
                                                                size_t row_bytes, int n_rows, const void *a)
{
    const block_q8_K *y = a;
    const uint8_t *wb = w;
    const int64_t nb = n / QK_K;
    int r = 0;
    for (; r + 4 <= n_rows; r += 4) {
        __m128 s4 = _mm_setzero_ps();
        for (int64_t i = 0; i < nb; i++) {
            __m512i acc[4];
            float d[4];
            for (int q = 0; q < 4; q++) {
                wblk b;
                unpack(kind, wb + (size_t)(r + q) * row_bytes, i, &b);
                acc[q] = token_acc(kind, &b, &y[i]);
                d[q] = b.d;
            }
            const __m128 t = _mm_cvtepi32_ps(reduce4(acc[0], acc[1], acc[2], acc[3]));
            const __m128 dyd = _mm_mul_ps(_mm_loadu_ps(d), _mm_set1_ps(y[i].d));
            if (kind == K_TQ1 || kind == K_TQ2)
                s4 = _mm_add_ps(s4, _mm_mul_ps(t, dyd));
            else
                s4 = _mm_add_ps(s4, _mm_mul_ps(dyd, _mm_mul_ps(t, _mm_set1_ps(QUANT_IQ1S_DELTA))));
        }
        _mm_storeu_ps(out + r, s4);
    }
    for (; r < n_rows; r++)
        vec_dot_kind(kind, n, out + r, wb + (size_t)r * row_bytes, a);
}

/* ---------------------------------------------------------------------------
 * IQ1 decode (vec_dot, vec_dot_rows): the same exact T with less work per
 * weight super-block than the unpack above.
 *
 * The 32 grid points are gathered in the order "chunk c, qword q = point
 * 4q + c", the activation permuted to match (once per super-block for all
 * the rows), so dword lanes 2q, 2q+1 of every chunk belong to sub-block q
 * (IQ1_S's scale) and chunks 0, 1 / 2, 3 to the first / second 16 of it
 * (IQ1_M's scales): the scales apply per lane after the sums, with two
 * accumulators, not per pair of products. The points come from the
 * derived table quant_iq1s_grid8 (8 (g + 1) per byte), plus the group's
 * delta + 1 (0 or 2): u = 8 g + delta + 9 in 0..18 needs no unpacking,
 * and sum of u q8 - 9 * sum of q8 = 8 sum g q8 + delta sum q8, whose
 * sum over the groups times their scales is T (the accumulators start at
 * -9 times the activation's per-16 sums, so a lane carries both).
 * ------------------------------------------------------------------------- */

/* What a super-block of the activation gives every row. */
typedef struct iq1act {
    __m512i a[4];          /* quants, chunk c qword q = group 4q + c */
    __m512i init01, init23; /* lane 2q: -9 * bsums[2q] / [2q + 1], odd lanes 0 */
} iq1act;

static inline __attribute__((always_inline)) void iq1_act(const block_q8_K *y, iq1act *A)
{
    const __m512i a0 = _mm512_loadu_si512(y->qs), a1 = _mm512_loadu_si512(y->qs + 64);
    const __m512i a2 = _mm512_loadu_si512(y->qs + 128), a3 = _mm512_loadu_si512(y->qs + 192);
    for (int c = 0; c < 4; c++) {
        const __m512i sel = _mm512_add_epi64(_mm512_set1_epi64(c), _mm512_set_epi64(12, 8, 4, 0, 12, 8, 4, 0));
        A->a[c] = _mm512_mask_blend_epi64(0xf0, _mm512_permutex2var_epi64(a0, sel, a1),
                                          _mm512_permutex2var_epi64(a2, sel, a3));
    }
    const __m512i b = _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)y->bsums));
    const __m512i m9 = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_add_epi32(_mm512_slli_epi32(b, 3), b));
    A->init01 = _mm512_and_si512(m9, _mm512_set1_epi64(0xffffffffll));
    A->init23 = _mm512_srli_epi64(m9, 32);
}

/* One row's super-block: idx (32 words, the 11-bit indices in group
 * order), dd (32 words, 0x0202 where the group's delta is +1, else 0),
 * ls01 / ls23 (int32 lanes: the scale of each lane of the two
 * accumulators); the result's lanes sum to T. */
static inline __attribute__((always_inline)) __m512i iq1_row(__m512i idx, __m512i dd, __m512i ls01, __m512i ls23,
                                                             const iq1act *A)
{
    __m512i acc01 = A->init01, acc23 = A->init23;
    for (int c = 0; c < 4; c++) {
        /* word 2q = index of group 4q + c (a dword lane per gathered qword) */
        const __m512i si = _mm512_add_epi16(_mm512_set1_epi16((short)c),
                                            _mm512_set_epi16(0, 28, 0, 24, 0, 20, 0, 16, 0, 12, 0, 8, 0, 4, 0, 0, 0,
                                                             28, 0, 24, 0, 20, 0, 16, 0, 12, 0, 8, 0, 4, 0, 0));
        const __m256i ic = _mm512_castsi512_si256(_mm512_maskz_permutexvar_epi16(0x55555555u, si, idx));
        const __m512i g8 = _mm512_i32gather_epi64(ic, (const void *)quant_iq1s_grid8, 8);
        /* words 4q..4q+3 = dd of group 4q + c */
        const __m512i sd = _mm512_add_epi16(_mm512_set1_epi16((short)c),
                                            _mm512_set_epi16(28, 28, 28, 28, 24, 24, 24, 24, 20, 20, 20, 20, 16, 16,
                                                             16, 16, 12, 12, 12, 12, 8, 8, 8, 8, 4, 4, 4, 4, 0, 0, 0, 0));
        const __m512i u = _mm512_add_epi8(g8, _mm512_permutexvar_epi16(sd, dd));
        if (c < 2)
            acc01 = _mm512_dpbusd_epi32(acc01, u, A->a[c]);
        else
            acc23 = _mm512_dpbusd_epi32(acc23, u, A->a[c]);
    }
    return _mm512_add_epi32(_mm512_mullo_epi32(acc01, ls01), _mm512_mullo_epi32(acc23, ls23));
}

static inline __attribute__((always_inline)) __m512i iq1s_row(const block_iq1_s *x, const iq1act *A, float *d)
{
    /* word g of 32: qh word g / 4, shifted by 3 * (g % 4) */
    const __m512i qh_sel = _mm512_set_epi16(7, 7, 7, 7, 6, 6, 6, 6, 5, 5, 5, 5, 4, 4, 4, 4, 3, 3, 3, 3, 2, 2, 2, 2,
                                            1, 1, 1, 1, 0, 0, 0, 0);
    const __m512i qh_shift = _mm512_set_epi16(9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3,
                                              0, 9, 6, 3, 0, 9, 6, 3, 0);
    /* dword lane l: qh word l / 2 */
    const __m512i ls_sel = _mm512_set_epi16(0, 7, 0, 7, 0, 6, 0, 6, 0, 5, 0, 5, 0, 4, 0, 4, 0, 3, 0, 3, 0, 2, 0, 2,
                                            0, 1, 0, 1, 0, 0, 0, 0);
    const __m512i qh = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)x->qh));
    const __m512i qh32 = _mm512_permutexvar_epi16(qh_sel, qh);
    const __m512i hi = _mm512_and_si512(_mm512_srlv_epi16(qh32, qh_shift), _mm512_set1_epi16(7));
    const __m512i idx = _mm512_or_si512(_mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)x->qs)),
                                        _mm512_slli_epi16(hi, 8));
    /* bit 15: delta -1 */
    const __m512i dd = _mm512_andnot_si512(_mm512_srai_epi16(qh32, 15), _mm512_set1_epi16(0x0202));
    /* 2s + 1 from bits 12..14 */
    const __m512i ls = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(_mm512_maskz_permutexvar_epi16(0x55555555u, ls_sel, qh), 11),
                                                        _mm512_set1_epi32(14)),
                                       _mm512_set1_epi32(1));
    *d = h2f(x->d);
    return iq1_row(idx, dd, ls, ls, A);
}

static inline __attribute__((always_inline)) __m512i iq1m_row(const block_iq1_m *x, const iq1act *A, float *d)
{
    /* word g of 32: qh byte g / 2, shifted by 4 * (g % 2) */
    const __m512i qh_sel = _mm512_set_epi16(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8, 7, 7, 6, 6,
                                            5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i qh_shift = _mm512_set1_epi32(4 << 16);
    /* dword lane l of the two accumulators: scale 2 (l / 2) and 2 (l / 2) + 1
     * of 16, scale k = word k / 4 of the block shifted by 3 (k % 4) */
    const __m512i s_sel01 = _mm512_set_epi16(0, 3, 0, 3, 0, 3, 0, 3, 0, 2, 0, 2, 0, 2, 0, 2, 0, 1, 0, 1, 0, 1, 0, 1,
                                             0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i s_sh01 = _mm512_set_epi32(6, 6, 0, 0, 6, 6, 0, 0, 6, 6, 0, 0, 6, 6, 0, 0);
    const __m512i qhw = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)x->qh)));
    const __m512i nib = _mm512_and_si512(_mm512_srlv_epi16(_mm512_permutexvar_epi16(qh_sel, qhw), qh_shift),
                                         _mm512_set1_epi16(15));
    const __m512i idx = _mm512_or_si512(_mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)x->qs)),
                                        _mm512_slli_epi16(_mm512_and_si512(nib, _mm512_set1_epi16(7)), 8));
    const __m512i dd = _mm512_maskz_mov_epi16(_mm512_testn_epi16_mask(nib, _mm512_set1_epi16(8)),
                                              _mm512_set1_epi16(0x0202));
    uint16_t sc[4];
    memcpy(sc, x->scales, 8);
    const uint16_t hbits = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) |
                                      (sc[3] & 0xf000));
    const __m512i scw = _mm512_castsi128_si512(_mm_loadl_epi64((const __m128i *)sc));
    const __m512i s = _mm512_srlv_epi32(_mm512_maskz_permutexvar_epi16(0x55555555u, s_sel01, scw), s_sh01);
    const __m512i m7 = _mm512_set1_epi32(7), one = _mm512_set1_epi32(1);
    const __m512i ls01 = _mm512_or_si512(_mm512_slli_epi32(_mm512_and_si512(s, m7), 1), one);
    const __m512i ls23 = _mm512_or_si512(_mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(s, 3), m7), 1), one);
    *d = h2f(hbits);
    return iq1_row(idx, dd, ls01, ls23, A);
}

static inline __attribute__((always_inline)) __m512i iq1_row_kind(int kind, const uint8_t *row, int64_t i,
                                                                  const iq1act *A, float *d)
{
    if (kind == K_IQ1S)
        return iq1s_row((const block_iq1_s *)row + i, A, d);
    return iq1m_row((const block_iq1_m *)row + i, A, d);
}

static inline __attribute__((always_inline)) void iq1_dot_rows(int kind, int64_t n, float *out, const void *w,
                                                               size_t row_bytes, int n_rows, const void *a)
{
    const block_q8_K *y = a;
    const uint8_t *wb = w;
    const int64_t nb = n / QK_K;
    int r = 0;
    for (; r + 4 <= n_rows; r += 4) {
        __m128 s4 = _mm_setzero_ps();
        for (int64_t i = 0; i < nb; i++) {
            iq1act A;
            iq1_act(&y[i], &A);
            __m512i acc[4];
            float d[4];
            for (int q = 0; q < 4; q++)
                acc[q] = iq1_row_kind(kind, wb + (size_t)(r + q) * row_bytes, i, &A, &d[q]);
            const __m128 t = _mm_cvtepi32_ps(reduce4(acc[0], acc[1], acc[2], acc[3]));
            const __m128 dyd = _mm_mul_ps(_mm_loadu_ps(d), _mm_set1_ps(y[i].d));
            s4 = _mm_add_ps(s4, _mm_mul_ps(dyd, _mm_mul_ps(t, _mm_set1_ps(QUANT_IQ1S_DELTA))));
        }
        _mm_storeu_ps(out + r, s4);
    }
    for (; r < n_rows; r++) {
        const uint8_t *row = wb + (size_t)r * row_bytes;
        float sum = 0.0f;
        for (int64_t i = 0; i < nb; i++) {
            iq1act A;
            iq1_act(&y[i], &A);
            float d;
            const int t = _mm512_reduce_add_epi32(iq1_row_kind(kind, row, i, &A, &d));
            sum += d * y[i].d * ((float)t * QUANT_IQ1S_DELTA);
        }
        out[r] = sum;
    }
}

#define DOT_ROWS(name, kind)                                                                          \
    static void name(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows, const void *a) \
    {                                                                                                 \
        dot_rows_kind(kind, n, out, w, row_bytes, n_rows, a);                                         \
    }

DOT_ROWS(dot_rows_tq2_0, K_TQ2)
DOT_ROWS(dot_rows_tq1_0, K_TQ1)
static void dot_rows_iq1_s(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows, const void *a)
{
    iq1_dot_rows(K_IQ1S, n, out, w, row_bytes, n_rows, a);
}

static void dot_rows_iq1_m(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows, const void *a)
{
    iq1_dot_rows(K_IQ1M, n, out, w, row_bytes, n_rows, a);
}

static void vec_dot_iq1_s(int64_t n, float *out, const void *w, const void *a)
{
    iq1_dot_rows(K_IQ1S, n, out, w, 0, 1, a);
}

static void vec_dot_iq1_m(int64_t n, float *out, const void *w, const void *a)
{
    iq1_dot_rows(K_IQ1M, n, out, w, 0, 1, a);
}

/* What the tile's tokens contribute to a range of super-blocks. */
typedef struct act_range {
    float yd[NBR][KT];        /* y.d */
    int32_t tot[NBR][KT];     /* sum of the 256 quants (ternary offset) */
    int16_t gsum[NBR][KT][32]; /* sums of each group of 8 quants (IQ1_M) */
} act_range;

static inline __attribute__((always_inline)) void prep_range(int kind, act_range *ar, const block_q8_K *const y[KT],
                                                             int64_t i0, int nbr)
{
    const __m512i ones8 = _mm512_set1_epi8(1);
    const __m512i ones16 = _mm512_set1_epi16(1);
    for (int i = 0; i < nbr; i++)
        for (int t = 0; t < KT; t++) {
            const block_q8_K *yb = &y[t][i0 + i];
            ar->yd[i][t] = yb->d;
            if (kind == K_TQ1 || kind == K_TQ2) {
                int sum = 0;
                for (int k = 0; k < 16; k++)
                    sum += yb->bsums[k];
                ar->tot[i][t] = sum;
            } else if (kind == K_IQ1M) {
                for (int c = 0; c < 4; c++) {
                    /* pair sums, then 4-sums, then each qword's two 4-sums: the sum of its group of 8 */
                    const __m512i q4 = _mm512_madd_epi16(_mm512_maddubs_epi16(ones8, _mm512_loadu_si512(yb->qs + 64 * c)),
                                                         ones16);
                    const __m512i q8 = _mm512_add_epi32(q4, _mm512_srli_epi64(q4, 32));
                    _mm_storeu_si128((__m128i *)&ar->gsum[i][t][8 * c], _mm512_cvtepi64_epi16(q8));
                }
            }
        }
}

/* The rows r0..r1 against one tile of kt (8 or 16) tokens over super-blocks
 * i0..i0+nbr (the running sums of an earlier range come from out). */
static inline __attribute__((always_inline)) void gemm_rows(int kind, int kt, const uint8_t *wb, size_t row_bytes,
                                                            int r0, int r1, const block_q8_K *const y[KT],
                                                            const act_range *ar, int64_t i0, int nbr, int t0,
                                                            int nt, float *out, size_t ldy)
{
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = wb + (size_t)r * row_bytes;
        float s[KT] = {0};
        if (i0 > 0)
            for (int t = 0; t < nt; t++)
                s[t] = out[(size_t)(t0 + t) * ldy + (size_t)r];
        __m512 sv = _mm512_loadu_ps(s);
        for (int i = 0; i < nbr; i++) {
            wblk b;
            __m512i m32 = _mm512_setzero_si512();
            if (kind == K_IQ1M)
                unpack_iq1_m_gemm((const block_iq1_m *)row + i0 + i, &b, &m32);
            else
                unpack(kind, row, i0 + i, &b);
            if (kind == K_IQ1S) {
                for (int c = 0; c < 4; c++)
                    b.u[c] = _mm512_mullo_epi16(b.u[c], b.sc[c]);
            }
            __m512i acc[KT];
            for (int t = 0; t < kt; t++) {
                const block_q8_K *yb = &y[t][i0 + i];
                __m512i a;
                if (kind == K_IQ1S)
                    a = add_bsums(_mm512_setzero_si512(), yb, b.m16);
                else if (kind == K_IQ1M)
                    a = _mm512_madd_epi16(_mm512_loadu_si512(ar->gsum[i][t]), m32);
                else
                    a = _mm512_setzero_si512();
                for (int c = 0; c < 4; c++)
                    a = _mm512_dpbusd_epi32(a, b.u[c], _mm512_loadu_si512(yb->qs + 64 * c));
                acc[t] = a;
            }
            const __m256i tlo = _mm256_set_m128i(reduce4(acc[4], acc[5], acc[6], acc[7]),
                                                 reduce4(acc[0], acc[1], acc[2], acc[3]));
            __m512i tv = kt == 8 ? _mm512_zextsi256_si512(tlo)
                                 : _mm512_inserti64x4(_mm512_castsi256_si512(tlo),
                                                      _mm256_set_m128i(reduce4(acc[12], acc[13], acc[14], acc[15]),
                                                                       reduce4(acc[8], acc[9], acc[10], acc[11])),
                                                      1);
            const __m512 dyd = _mm512_mul_ps(_mm512_set1_ps(b.d), _mm512_loadu_ps(ar->yd[i]));
            if (kind == K_TQ1 || kind == K_TQ2) {
                tv = _mm512_sub_epi32(tv, _mm512_loadu_si512(ar->tot[i]));
                sv = _mm512_add_ps(sv, _mm512_mul_ps(_mm512_cvtepi32_ps(tv), dyd));
            } else {
                sv = _mm512_add_ps(sv, _mm512_mul_ps(dyd, _mm512_mul_ps(_mm512_cvtepi32_ps(tv),
                                                                         _mm512_set1_ps(QUANT_IQ1S_DELTA))));
            }
        }
        _mm512_storeu_ps(s, sv);
        for (int t = 0; t < nt; t++)
            out[(size_t)(t0 + t) * ldy + (size_t)r] = s[t];
    }
}

static inline __attribute__((always_inline)) void gemm_kind(int kind, int64_t n, const void *w, size_t row_bytes,
                                                            int r0, int r1, const void *act, size_t act_bytes,
                                                            int n_tok, float *out, size_t ldy)
{
    const uint8_t *wb = w, *ab = act;
    const int64_t nb = n / QK_K;
    act_range ar;
    for (int t0 = 0; t0 < n_tok; t0 += KT) {
        const int nt = n_tok - t0 < KT ? n_tok - t0 : KT;
        /* a short tile repeats its first token: same work, results dropped */
        const block_q8_K *y[KT];
        for (int t = 0; t < KT; t++)
            y[t] = (const block_q8_K *)(ab + (size_t)(t0 + (t < nt ? t : 0)) * act_bytes);
        for (int64_t i0 = 0; i0 < nb; i0 += NBR) {
            const int nbr = nb - i0 < NBR ? (int)(nb - i0) : NBR;
            prep_range(kind, &ar, y, i0, nbr);
            if (nt > 8)
                gemm_rows(kind, 16, wb, row_bytes, r0, r1, y, &ar, i0, nbr, t0, nt, out, ldy);
            else
                gemm_rows(kind, 8, wb, row_bytes, r0, r1, y, &ar, i0, nbr, t0, nt, out, ldy);
        }
    }
}

/* ---------------------------------------------------------------------------
 * Packed GEMM for larger batches (PMIN tokens and more): panels of 16 rows
 * are unpacked once per pass of up to PTB tokens and interleaved (dword k
 * of each row's weight bytes side by side, core/tr16_avx512.h), so a
 * vpdpbusd multiplies 4 weights of 16 rows by 4 broadcast activation
 * quants: the int32 lanes are rows, and no horizontal sums are left.
 * Register tiles are 32 rows x PT tokens.
 *
 * The weight bytes: ternary u = value + 1 (the offset taken back through
 * the token's total), IQ1_S u = 8 ls (g + 1) as in the row GEMM, IQ1_M
 * u = ls (4 (g + 1) + (delta + 1) / 2) <= 135 so that 2 * its sum +
 * (-9 ls) . bsums is T: the same exact T, so the same bits.
 * ------------------------------------------------------------------------- */

#define PT 4
#define PTB 256
#define PMIN 16

typedef struct ppack {
    __m512i w[64]; /* dword k, lane r: weight bytes 4k..4k+3 of row r */
    __m512i m[8];  /* IQ1: lane r = the bsum weights 2p, 2p+1 of row r */
    __m512 d;      /* lane r: the half scale of row r */
} ppack;

/* The packed weights of super-block i of rows ph..ph+nr-1 (rows past nr zero). */
static inline __attribute__((always_inline)) void pack_block(int kind, const uint8_t *w, size_t row_bytes, int ph,
                                                             int nr, int64_t i, ppack *P)
{
    __m512i u[4][16], m[16];
    float d[16];
    for (int r = 0; r < 16; r++) {
        if (r >= nr) {
            for (int c = 0; c < 4; c++)
                u[c][r] = _mm512_setzero_si512();
            m[r] = _mm512_setzero_si512();
            d[r] = 0.0f;
            continue;
        }
        const uint8_t *row = w + (size_t)(ph + r) * row_bytes;
        wblk b;
        if (kind == K_IQ1M) {
            __m512i g1[4], ls;
            __mmask32 neg;
            iq1m_parts((const block_iq1_m *)row + i, g1, &ls, &neg, &b.d);
            const __m512i one = _mm512_set1_epi8(1);
            for (int c = 0; c < 4; c++) {
                const __m512i half_dd = _mm512_andnot_si512(_mm512_movm_epi64((__mmask8)(neg >> (8 * c))), one);
                b.u[c] = _mm512_mullo_epi16(_mm512_add_epi8(_mm512_slli_epi16(g1[c], 2), half_dd),
                                            iq1m_pair_scales(ls, c));
            }
            b.m16 = _mm256_mullo_epi16(_mm512_castsi512_si256(ls), _mm256_set1_epi16(-9));
        } else {
            unpack(kind, row, i, &b);
            if (kind == K_IQ1S)
                for (int c = 0; c < 4; c++)
                    b.u[c] = _mm512_mullo_epi16(b.u[c], b.sc[c]);
        }
        for (int c = 0; c < 4; c++)
            u[c][r] = b.u[c];
        m[r] = _mm512_zextsi256_si512(b.m16);
        d[r] = b.d;
    }
    for (int c = 0; c < 4; c++) {
        tr16_epi32(u[c]);
        for (int j = 0; j < 16; j++)
            P->w[16 * c + j] = u[c][j];
    }
    if (kind == K_IQ1S || kind == K_IQ1M) {
        tr16_epi32(m);
        for (int j = 0; j < 8; j++)
            P->m[j] = m[j];
    }
    P->d = _mm512_loadu_ps(d);
}

static inline int32_t dword_at(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* sv[h][t] += the super-blocks of panel h (np of them) against token t,
 * one super-block after the other. */
static inline __attribute__((always_inline)) void ptile(int kind, int np, const ppack *P0, const ppack *P1,
                                                        int64_t nb, const block_q8_K *const y[PT], __m512 sv[2][PT])
{
    for (int64_t i = 0; i < nb; i++) {
        __m512i acc[2][PT];
        for (int h = 0; h < 2; h++)
            for (int t = 0; t < PT; t++)
                acc[h][t] = _mm512_setzero_si512();
        const ppack *A = &P0[i], *B = &P1[i];
        for (int k = 0; k < 64; k++) {
            const __m512i w0 = A->w[k];
            const __m512i w1 = np > 1 ? B->w[k] : w0;
            for (int t = 0; t < PT; t++) {
                const __m512i a = _mm512_set1_epi32(dword_at(y[t][i].qs + 4 * k));
                acc[0][t] = _mm512_dpbusd_epi32(acc[0][t], w0, a);
                if (np > 1)
                    acc[1][t] = _mm512_dpbusd_epi32(acc[1][t], w1, a);
            }
        }
        for (int t = 0; t < PT; t++) {
            const block_q8_K *yb = &y[t][i];
            const __m512 yd = _mm512_set1_ps(yb->d);
            for (int h = 0; h < np; h++) {
                const ppack *Q = h ? B : A;
                __m512i T = acc[h][t];
                if (kind == K_IQ1M)
                    T = _mm512_slli_epi32(T, 1);
                if (kind == K_IQ1S || kind == K_IQ1M) {
                    for (int q = 0; q < 8; q++)
                        T = _mm512_dpwssd_epi32(T, Q->m[q], _mm512_set1_epi32(dword_at(&yb->bsums[2 * q])));
                } else {
                    int tot = 0;
                    for (int k = 0; k < 16; k++)
                        tot += yb->bsums[k];
                    T = _mm512_sub_epi32(T, _mm512_set1_epi32(tot));
                }
                const __m512 dyd = _mm512_mul_ps(Q->d, yd);
                if (kind == K_TQ1 || kind == K_TQ2)
                    sv[h][t] = _mm512_add_ps(sv[h][t], _mm512_mul_ps(_mm512_cvtepi32_ps(T), dyd));
                else
                    sv[h][t] = _mm512_add_ps(sv[h][t], _mm512_mul_ps(dyd, _mm512_mul_ps(_mm512_cvtepi32_ps(T),
                                                                                         _mm512_set1_ps(QUANT_IQ1S_DELTA))));
            }
        }
    }
}

/* 0 when the work buffer cannot be had (the caller takes the row GEMM). */
static inline __attribute__((always_inline)) int gemm_packed(int kind, int64_t n, const void *w, size_t row_bytes,
                                                             int r0, int r1, const void *act, size_t act_bytes,
                                                             int n_tok, float *out, size_t ldy)
{
    const int64_t nb = n / QK_K;
    ppack *P = (ppack *)qgp_wbuf(2 * (size_t)nb * sizeof(ppack));
    if (!P)
        return 0;
    const uint8_t *ab = act;
    for (int tb = 0; tb < n_tok; tb += PTB) {
        const int te = n_tok - tb < PTB ? n_tok : tb + PTB;
        for (int p0 = r0; p0 < r1; p0 += 32) {
            const int np = r1 - p0 > 16 ? 2 : 1;
            __mmask16 mrow[2] = {0, 0};
            for (int h = 0; h < np; h++) {
                const int ph = p0 + 16 * h, nr = r1 - ph < 16 ? r1 - ph : 16;
                mrow[h] = (__mmask16)((1u << nr) - 1);
                for (int64_t i = 0; i < nb; i++)
                    pack_block(kind, w, row_bytes, ph, nr, i, &P[h * nb + i]);
            }
            for (int t0 = tb; t0 < te; t0 += PT) {
                const int nt = te - t0 < PT ? te - t0 : PT;
                /* a short tile repeats its first token: same work, results dropped */
                const block_q8_K *y[PT];
                for (int t = 0; t < PT; t++)
                    y[t] = (const block_q8_K *)(ab + (size_t)(t0 + (t < nt ? t : 0)) * act_bytes);
                __m512 sv[2][PT];
                for (int h = 0; h < 2; h++)
                    for (int t = 0; t < PT; t++)
                        sv[h][t] = _mm512_setzero_ps();
                if (np > 1)
                    ptile(kind, 2, P, P + nb, nb, y, sv);
                else
                    ptile(kind, 1, P, P, nb, y, sv);
                for (int h = 0; h < np; h++)
                    for (int t = 0; t < nt; t++)
                        _mm512_mask_storeu_ps(out + (size_t)(t0 + t) * ldy + (size_t)(p0 + 16 * h), mrow[h], sv[h][t]);
            }
        }
    }
    return 1;
}

#define GEMM(name, kind)                                                                          \
    static void name(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act, \
                     size_t act_bytes, int n_tok, float *out, size_t ldy)                         \
    {                                                                                             \
        if (n_tok >= PMIN && gemm_packed(kind, n, w, row_bytes, r0, r1, act, act_bytes, n_tok, out, ldy)) \
            return;                                                                               \
        gemm_kind(kind, n, w, row_bytes, r0, r1, act, act_bytes, n_tok, out, ldy);                \
    }

GEMM(gemm_tq2_0, K_TQ2)
GEMM(gemm_tq1_0, K_TQ1)
GEMM(gemm_iq1_s, K_IQ1S)
GEMM(gemm_iq1_m, K_IQ1M)

void quant_register_iq1tq_avx512(quant_kernels *tab)
{
    tab[QT_IQ1_S].vec_dot = vec_dot_iq1_s;
    tab[QT_IQ1_M].vec_dot = vec_dot_iq1_m;
    tab[QT_TQ1_0].vec_dot = vec_dot_tq1_0;
    tab[QT_TQ2_0].vec_dot = vec_dot_tq2_0;
    tab[QT_IQ1_S].vec_dot_rows = dot_rows_iq1_s;
    tab[QT_IQ1_M].vec_dot_rows = dot_rows_iq1_m;
    tab[QT_TQ1_0].vec_dot_rows = dot_rows_tq1_0;
    tab[QT_TQ2_0].vec_dot_rows = dot_rows_tq2_0;
}

quant_gemm_fn quant_gemm_iq1tq_avx512_for(int type)
{
    switch (type) {
    case QT_IQ1_S: return gemm_iq1_s;
    case QT_IQ1_M: return gemm_iq1_m;
    case QT_TQ1_0: return gemm_tq1_0;
    case QT_TQ2_0: return gemm_tq2_0;
    default: return NULL;
    }
}
