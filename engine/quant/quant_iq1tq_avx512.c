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
 * The prefill GEMM unpacks each weight super-block (wblk: 4 x 64 unsigned
 * weight bytes in element order, per-pair scales, bsum weights, the half
 * scale) once for KT tokens. Decode (vec_dot, and vec_dot_rows, four rows
 * at a time) takes a cheaper route per type to the same exact integers
 * (see "Decode" below); the vec_dot is its one-row case. All give the
 * same bits by construction.
 */
#include <immintrin.h>

#include "core/tr16_avx512.h"
#include "quant/quant_codebook.h"
#include "quant/quant_gemm_pack.h"
#include "quant/quant_iq1_tab.h"
#include "quant/quant_impl.h"
#include "quant/quant_rows_pf.h"

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

/* ---------------------------------------------------------------------------
 * Decode (vec_dot, vec_dot_rows): the same exact T per super-block with
 * less work per weight super-block than the unpack above. The activation
 * is prepared once per call in each type's order (DEC_NBC super-blocks at
 * a time, the running sums parked in out between passes, so every row
 * still adds its super-blocks one after the other), then rows go four
 * (ternary: eight) at a time: their T share the reductions and the float
 * steps run in lanes, each lane the scalar twin's operations, so each row
 * gets the bits of its vec_dot (which is the one-row case of the same
 * code).
 *
 * TQ2_0: lane b of the 64 qs bytes holds elements 128 (b / 32) + 32 l +
 * b % 32 at bits 2l; the activation is laid out to match, so each 2-bit
 * plane is a shift, a mask and a vpdpbusd. TQ1_0: the 52 bytes of trits
 * as they lie (lanes 52..63 meet a zero activation); with m_k = b * 3^(k+1)
 * >> 8, the scalar twin's trit k is m_k - 3 m_(k-1) (the carry of b * 3^k
 * into the high byte is m_(k-1)), so the sum of trit_k * a_k over k is
 * the sum of m_k * (a_k - 3 a_(k+1)): one vpmulhuw per plane (the byte in
 * the high half of a word) and a vpdpwssd against those int16 activation
 * differences, no trit ever unpacked. The ternary offset -1 comes back as
 * minus the activation's total.
 *
 * IQ1_S / IQ1_M: the 32 grid points are gathered in the order "chunk c,
 * qword q = point 4q + c", the activation permuted to match, so dword
 * lanes 2q, 2q+1 of every chunk belong to sub-block q (IQ1_S's scale) and
 * chunks 0, 1 / 2, 3 to the first / second 16 of it (IQ1_M's scales).
 * The 8 gather indices of chunk c come straight from dword q of qs (byte
 * c, one in-lane shuffle) and qh word q (one shift). The points come from
 * quant_iq1s_grid8 (u = 8 (g + 1) per byte); with d = delta,
 * ls (8 g . q8 + d sum q8) = ls (u . q8 + (d - 8) sum q8), and the second
 * term starts the accumulator: the activation's sums times -7 or -9,
 * picked per lane by the row's delta bits (a mask blend). The scales
 * then multiply whole lanes: IQ1_S one vpmulld; IQ1_M's two
 * accumulators fit int16 (|lane| <= 8 * 16 * 128 + 9 * 8 * 128), so one
 * pack and one vpmaddwd against its sixteen scales.
 * ------------------------------------------------------------------------- */

#define DEC_NBC 8     /* activation super-blocks prepared per pass */
#define DEC_PF_DIST 4 /* the weights are prefetched this many rows ahead */

/* What one activation super-block gives every row. */
typedef struct dec_act {
    __m512i a[10]; /* quants (TQ1_0: int16 differences, even / odd bytes) */
    __m512i i[4];  /* accumulator starts */
    float yd;
} dec_act;

static inline int dec_block_bytes(int kind)
{
    switch (kind) {
    case K_TQ2: return sizeof(block_tq2_0);
    case K_TQ1: return sizeof(block_tq1_0);
    case K_IQ1S: return sizeof(block_iq1_s);
    default: return sizeof(block_iq1_m);
    }
}

/* The sum of the 256 quants (the ternary offset), exact in int32. */
static inline int q8_total(const block_q8_K *y)
{
    int s = 0;
    for (int k = 0; k < 16; k++)
        s += y->bsums[k];
    return s;
}

/* TQ1_0's activation for trit k: lane m the element of trit k of byte m. */
static inline __m512i tq1_act_plane(const block_q8_K *y, int k)
{
    int32_t tail = 0;
    if (k < 4)
        memcpy(&tail, y->qs + 240 + 4 * k, 4);
    const __m256i hi = _mm256_set_m128i(_mm_cvtsi32_si128(tail), _mm_loadu_si128((const __m128i *)(y->qs + 160 + 16 * k)));
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(y->qs + 32 * k))), hi, 1);
}

static inline __attribute__((always_inline)) void dec_prep(int kind, const block_q8_K *y, dec_act *A)
{
    A->yd = y->d;
    if (kind == K_TQ2) {
        for (int l = 0; l < 4; l++)
            A->a[l] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(y->qs + 32 * l))),
                                         _mm256_loadu_si256((const __m256i *)(y->qs + 128 + 32 * l)), 1);
        A->i[0] = _mm512_zextsi128_si512(_mm_cvtsi32_si128(-q8_total(y)));
        return;
    }
    if (kind == K_TQ1) {
        /* int16 a_k - 3 a_(k+1), of the even bytes (a[2k]) and the odd ones (a[2k+1]) */
        __m512i e[6], o[6];
        e[5] = o[5] = _mm512_setzero_si512();
        for (int k = 0; k < 5; k++) {
            const __m512i p = tq1_act_plane(y, k);
            e[k] = _mm512_srai_epi16(_mm512_slli_epi16(p, 8), 8);
            o[k] = _mm512_srai_epi16(p, 8);
        }
        for (int k = 0; k < 5; k++) {
            const __m512i e3 = _mm512_add_epi16(e[k + 1], _mm512_add_epi16(e[k + 1], e[k + 1]));
            const __m512i o3 = _mm512_add_epi16(o[k + 1], _mm512_add_epi16(o[k + 1], o[k + 1]));
            A->a[2 * k] = _mm512_sub_epi16(e[k], e3);
            A->a[2 * k + 1] = _mm512_sub_epi16(o[k], o3);
        }
        A->i[0] = _mm512_zextsi128_si512(_mm_cvtsi32_si128(-q8_total(y)));
        return;
    }
    const __m512i a0 = _mm512_loadu_si512(y->qs), a1 = _mm512_loadu_si512(y->qs + 64);
    const __m512i a2 = _mm512_loadu_si512(y->qs + 128), a3 = _mm512_loadu_si512(y->qs + 192);
    for (int c = 0; c < 4; c++) {
        const __m512i sel = _mm512_add_epi64(_mm512_set1_epi64(c), _mm512_set_epi64(12, 8, 4, 0, 12, 8, 4, 0));
        A->a[c] = _mm512_mask_blend_epi64(0xf0, _mm512_permutex2var_epi64(a0, sel, a1),
                                          _mm512_permutex2var_epi64(a2, sel, a3));
    }
    if (kind == K_IQ1S) {
        /* qword q: the sum of sub-block q, times -9 (i[0]) and -7 (i[1]) */
        const __m512i b = _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)y->bsums));
        const __m512i s = _mm512_and_si512(_mm512_add_epi32(b, _mm512_srli_epi64(b, 32)), _mm512_set1_epi64(0xffffffffll));
        const __m512i s8 = _mm512_slli_epi32(s, 3);
        A->i[0] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_add_epi32(s8, s));
        A->i[1] = _mm512_sub_epi32(s, s8);
        return;
    }
    /* lane 2q / 2q + 1: the sums of groups 4q / 4q + 1 (chunks 0, 1) and
     * 4q + 2 / 4q + 3 (chunks 2, 3), times -9 (i[0], i[2]) and -7 (i[1], i[3]) */
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i h[4];
    for (int c = 0; c < 4; c++)
        h[c] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, A->a[c]);
    for (int p = 0; p < 2; p++) {
        const __m512i ev = _mm512_add_epi32(h[2 * p], _mm512_srli_epi64(h[2 * p], 32));
        const __m512i od = _mm512_add_epi32(h[2 * p + 1], _mm512_slli_epi64(h[2 * p + 1], 32));
        const __m512i g = _mm512_mask_blend_epi32(0xaaaa, ev, od);
        const __m512i g8 = _mm512_slli_epi32(g, 3);
        A->i[2 * p] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_add_epi32(g8, g));
        A->i[2 * p + 1] = _mm512_sub_epi32(g, g8);
    }
}

/* In-lane shuffle control: byte c of each dword to byte 0, the rest zero. */
static inline __m128i dword_byte_ctl(int c)
{
    return _mm_set_epi8(-1, -1, -1, (char)(12 + c), -1, -1, -1, (char)(8 + c), -1, -1, -1, (char)(4 + c), -1, -1,
                        -1, (char)c);
}

/* The gather indices of chunks 2p (low half) and 2p + 1 (high half):
 * dword q of a half is qs byte 4q + c with bits 8..10 from hi >> (sh c)
 * (qs2: the 32 qs bytes in both halves; hi2: qh word q << 8 in dword q
 * of both halves). Two chunks per 512-bit op: fewer uops than 256-bit
 * ones, which share the same two ports once 512-bit work is in flight. */
static inline __m512i iq1_idx2(__m512i qs2, __m512i hi2, int p, int sh)
{
    const __m512i ctl = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_broadcastsi128_si256(dword_byte_ctl(2 * p))),
                                           _mm256_broadcastsi128_si256(dword_byte_ctl(2 * p + 1)), 1);
    const __m512i cnt = _mm512_inserti64x4(_mm512_set1_epi32(sh * 2 * p), _mm256_set1_epi32(sh * (2 * p + 1)), 1);
    return _mm512_ternarylogic_epi32(_mm512_shuffle_epi8(qs2, ctl), _mm512_srlv_epi32(hi2, cnt),
                                     _mm512_set1_epi32(0x700), 0xf8);
}

/* The 32 qs bytes in both halves, and the eight 16-bit qh words (IQ1_S's
 * qh, IQ1_M's qh bytes in pairs) in dwords 0..7 and again in 8..15. */
static inline __m512i iq1_qs2(const uint8_t *qs)
{
    return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)qs));
}

static inline __m512i iq1_qh2(const void *qh)
{
    return _mm512_cvtepu16_epi32(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qh)));
}

static inline __m512i iq1_gather(__m256i idx)
{
    return _mm512_i32gather_epi64(idx, (const void *)quant_iq1s_grid8, 8);
}

/* The int32 lanes summing to T for one row's super-block; *h its half scale. */
static inline __attribute__((always_inline)) __m512i dec_row(int kind, const uint8_t *blk, const dec_act *A,
                                                             qhalf *h)
{
    if (kind == K_TQ2) {
        const __m512i m3 = _mm512_set1_epi8(3);
        const __m512i q = _mm512_loadu_si512(blk);
        __m512i acc = _mm512_dpbusd_epi32(A->i[0], _mm512_and_si512(q, m3), A->a[0]);
        for (int l = 1; l < 4; l++)
            acc = _mm512_dpbusd_epi32(acc, _mm512_and_si512(_mm512_srli_epi16(q, 2 * l), m3), A->a[l]);
        *h = ((const block_tq2_0 *)blk)->d;
        return acc;
    }
    if (kind == K_TQ1) {
        /* the 52 bytes of qs and qh; the byte in the high half of each word */
        const __m512i x = _mm512_maskz_loadu_epi8(0x000fffffffffffffull, blk);
        const __m512i be = _mm512_slli_epi16(x, 8);
        const __m512i bo = _mm512_and_si512(x, _mm512_set1_epi16((short)0xff00));
        __m512i acc = A->i[0];
        int p = 3;
        for (int k = 0; k < 5; k++, p *= 3) {
            const __m512i pk = _mm512_set1_epi16((short)p);
            acc = _mm512_dpwssd_epi32(acc, _mm512_mulhi_epu16(be, pk), A->a[2 * k]);
            acc = _mm512_dpwssd_epi32(acc, _mm512_mulhi_epu16(bo, pk), A->a[2 * k + 1]);
        }
        *h = ((const block_tq1_0 *)blk)->d;
        return acc;
    }
    if (kind == K_IQ1S) {
        const block_iq1_s *x = (const block_iq1_s *)blk;
        const __m512i qs2 = iq1_qs2(x->qs), qh2 = iq1_qh2(x->qh);
        const __m512i hi2 = _mm512_slli_epi32(qh2, 8);
        /* delta +1 (bit 15 clear): -7 times the sums, else -9 */
        const __mmask8 dp = (__mmask8)_mm512_testn_epi32_mask(qh2, _mm512_set1_epi32(0x8000));
        __m512i acc = _mm512_mask_blend_epi64(dp, A->i[0], A->i[1]);
        for (int p = 0; p < 2; p++) {
            const __m512i idx = iq1_idx2(qs2, hi2, p, 3);
            acc = _mm512_dpbusd_epi32(acc, iq1_gather(_mm512_castsi512_si256(idx)), A->a[2 * p]);
            acc = _mm512_dpbusd_epi32(acc, iq1_gather(_mm512_extracti64x4_epi64(idx, 1)), A->a[2 * p + 1]);
        }
        /* 2s + 1 from bits 12..14, in dword lanes 2q and 2q + 1 */
        const __m512i ls = _mm512_ternarylogic_epi32(_mm512_srli_epi32(qh2, 11), _mm512_set1_epi32(14), _mm512_set1_epi32(1), 0xea);
        const __m512i ls2 = _mm512_permutexvar_epi32(_mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0), ls);
        *h = x->d;
        return _mm512_mullo_epi32(acc, ls2);
    }
    const block_iq1_m *x = (const block_iq1_m *)blk;
    const __m512i qs2 = iq1_qs2(x->qs), qh2 = iq1_qh2(x->qh);
    const __m512i hi2 = _mm512_slli_epi32(qh2, 8);
    /* lane l: qh word l / 2, whose bit 3 / 7 (acc01) and 11 / 15 (acc23)
     * clear is delta +1 for group 4 (l / 2) + c */
    const __m512i qhl = _mm512_permutexvar_epi32(_mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0), qh2);
    const __mmask16 k01 = _mm512_testn_epi32_mask(qhl, _mm512_set1_epi64(0x0000008000000008ll));
    const __mmask16 k23 = _mm512_testn_epi32_mask(qhl, _mm512_set1_epi64(0x0000800000000800ll));
    __m512i acc01 = _mm512_mask_blend_epi32(k01, A->i[0], A->i[1]);
    __m512i acc23 = _mm512_mask_blend_epi32(k23, A->i[2], A->i[3]);
    const __m512i idx01 = iq1_idx2(qs2, hi2, 0, 4), idx23 = iq1_idx2(qs2, hi2, 1, 4);
    acc01 = _mm512_dpbusd_epi32(acc01, iq1_gather(_mm512_castsi512_si256(idx01)), A->a[0]);
    acc01 = _mm512_dpbusd_epi32(acc01, iq1_gather(_mm512_extracti64x4_epi64(idx01, 1)), A->a[1]);
    acc23 = _mm512_dpbusd_epi32(acc23, iq1_gather(_mm512_castsi512_si256(idx23)), A->a[2]);
    acc23 = _mm512_dpbusd_epi32(acc23, iq1_gather(_mm512_extracti64x4_epi64(idx23, 1)), A->a[3]);
    /* the pack puts acc01 dwords 4j..4j+3 then acc23's in 128-bit lane j:
     * scales 4j, 4j, 4j+2, 4j+2, 4j+1, 4j+1, 4j+3, 4j+3, all from scale
     * word j, bits 3 (k % 4) */
    uint16_t sc[4];
    memcpy(sc, x->scales, 8);
    const __m512i scw = _mm512_permutexvar_epi16(
        _mm512_set_epi64(0x0003000300030003ll, 0x0003000300030003ll, 0x0002000200020002ll, 0x0002000200020002ll,
                         0x0001000100010001ll, 0x0001000100010001ll, 0, 0),
        _mm512_castsi128_si512(_mm_loadl_epi64((const __m128i *)sc)));
    const __m512i s = _mm512_srlv_epi16(scw, _mm512_set4_epi64(0x0009000900030003ll, 0x0006000600000000ll,
                                                               0x0009000900030003ll, 0x0006000600000000ll));
    const __m512i ls = _mm512_ternarylogic_epi32(_mm512_slli_epi16(s, 1), _mm512_set1_epi16(14), _mm512_set1_epi16(1), 0xea);
    const uint16_t hbits = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) |
                                      (sc[3] & 0xf000));
    *h = hbits;
    return _mm512_madd_epi16(_mm512_packs_epi32(acc01, acc23), ls);
}

/* The scalar twin's float step for one super-block. */
static inline float dec_combine(int kind, int t, float d, float yd)
{
    if (kind == K_TQ2 || kind == K_TQ1)
        return (float)t * (d * yd);
    return d * yd * ((float)t * QUANT_IQ1S_DELTA);
}

/* The rows kernels read four rows side by side: streams the hardware
 * prefetcher follows poorly from DRAM (as in quant_kquants_avx512.c).
 * Each row's super-block asks for the same block DEC_PF_DIST rows ahead:
 * its first byte, which covers every line where blocks are at most 64
 * bytes (each line then holds a block's start), and TQ2_0's (66) last
 * byte too. Prefetches past the matrix do not fault. Always inlined: as
 * a call, GCC finds the helper free of side effects and drops it. */
static inline __attribute__((always_inline)) void dec_prefetch(const uint8_t *blk, size_t row_bytes, int bb)
{
    const uint8_t *pf = blk + DEC_PF_DIST * row_bytes;
    _mm_prefetch((const char *)pf, _MM_HINT_T0);
    if (bb > 64)
        _mm_prefetch((const char *)pf + bb - 1, _MM_HINT_T0);
}

static inline __attribute__((always_inline)) void dec_rows(int kind, int64_t n, float *out, const void *w,
                                                           size_t row_bytes, int n_rows, const void *a)
{
    const block_q8_K *y = a;
    const uint8_t *wb = w;
    const int64_t nb = n / QK_K;
    const int bb = dec_block_bytes(kind);
    dec_act A[DEC_NBC];
    /* rows of one pass are read whole: the next group's bytes are then
     * one run, requested in address order (quant_rows_pf.h) */
    const bool one_pass = nb <= DEC_NBC;
    if (nb == 0)
        for (int r = 0; r < n_rows; r++)
            out[r] = 0.0f;
    for (int64_t i0 = 0; i0 < nb; i0 += DEC_NBC) {
        const int nc = nb - i0 < DEC_NBC ? (int)(nb - i0) : DEC_NBC;
        for (int i = 0; i < nc; i++)
            dec_prep(kind, &y[i0 + i], &A[i]);
        int r = 0;
        /* the ternary types: eight rows (two reductions) gain a little
         * more; the gather-bound IQ1 ones do not */
        for (; (kind == K_TQ1 || kind == K_TQ2) && r + 8 <= n_rows; r += 8) {
            const uint8_t *x = wb + (size_t)r * row_bytes + (size_t)i0 * bb;
            __m256 s8 = i0 ? _mm256_loadu_ps(out + r) : _mm256_setzero_ps();
            for (int i = 0; i < nc; i++, x += bb) {
                __m512i acc[8];
                qhalf h[8];
                if (one_pass)
                    rows_prefetch(8, wb + (size_t)r * row_bytes, row_bytes, i, (size_t)bb);
                for (int q = 0; q < 8; q++) {
                    if (!one_pass)
                        dec_prefetch(x + (size_t)q * row_bytes, 2 * row_bytes, bb); /* 8 rows ahead */
                    acc[q] = dec_row(kind, x + (size_t)q * row_bytes, &A[i], &h[q]);
                }
                const __m256 t = _mm256_cvtepi32_ps(_mm256_set_m128i(reduce4_epi32(acc[4], acc[5], acc[6], acc[7]),
                                                                     reduce4_epi32(acc[0], acc[1], acc[2], acc[3])));
                const __m256 d = _mm256_cvtph_ps(_mm_setr_epi16((short)h[0], (short)h[1], (short)h[2], (short)h[3],
                                                                (short)h[4], (short)h[5], (short)h[6], (short)h[7]));
                const __m256 dyd = _mm256_mul_ps(d, _mm256_set1_ps(A[i].yd));
                if (kind == K_TQ1 || kind == K_TQ2)
                    s8 = _mm256_add_ps(s8, _mm256_mul_ps(t, dyd));
                else
                    s8 = _mm256_add_ps(s8, _mm256_mul_ps(dyd, _mm256_mul_ps(t, _mm256_set1_ps(QUANT_IQ1S_DELTA))));
            }
            _mm256_storeu_ps(out + r, s8);
        }
        for (; r + 4 <= n_rows; r += 4) {
            const uint8_t *x = wb + (size_t)r * row_bytes + (size_t)i0 * bb;
            __m128 s4 = i0 ? _mm_loadu_ps(out + r) : _mm_setzero_ps();
            for (int i = 0; i < nc; i++, x += bb) {
                __m512i acc[4];
                qhalf h[4];
                if (one_pass)
                    rows_prefetch(4, wb + (size_t)r * row_bytes, row_bytes, i, (size_t)bb);
                for (int q = 0; q < 4; q++) {
                    if (!one_pass)
                        dec_prefetch(x + (size_t)q * row_bytes, row_bytes, bb);
                    acc[q] = dec_row(kind, x + (size_t)q * row_bytes, &A[i], &h[q]);
                }
                const __m128 t = _mm_cvtepi32_ps(reduce4_epi32(acc[0], acc[1], acc[2], acc[3]));
                const __m128 d = _mm_cvtph_ps(_mm_setr_epi16((short)h[0], (short)h[1], (short)h[2], (short)h[3], 0, 0, 0, 0));
                const __m128 dyd = _mm_mul_ps(d, _mm_set1_ps(A[i].yd));
                if (kind == K_TQ1 || kind == K_TQ2)
                    s4 = _mm_add_ps(s4, _mm_mul_ps(t, dyd));
                else
                    s4 = _mm_add_ps(s4, _mm_mul_ps(dyd, _mm_mul_ps(t, _mm_set1_ps(QUANT_IQ1S_DELTA))));
            }
            _mm_storeu_ps(out + r, s4);
        }
        for (; r < n_rows; r++) {
            const uint8_t *x = wb + (size_t)r * row_bytes + (size_t)i0 * bb;
            float sum = i0 ? out[r] : 0.0f;
            for (int i = 0; i < nc; i++, x += bb) {
                qhalf h;
                const int t = _mm512_reduce_add_epi32(dec_row(kind, x, &A[i], &h));
                sum += dec_combine(kind, t, h2f(h), A[i].yd);
            }
            out[r] = sum;
        }
    }
}

#define DEC(kind, rows_name, dot_name)                                                                     \
    static void rows_name(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows, const void *a) \
    {                                                                                                      \
        dec_rows(kind, n, out, w, row_bytes, n_rows, a);                                                   \
    }                                                                                                      \
    static void dot_name(int64_t n, float *out, const void *w, const void *a)                              \
    {                                                                                                      \
        dec_rows(kind, n, out, w, 0, 1, a);                                                                \
    }

DEC(K_TQ2, dot_rows_tq2_0, vec_dot_tq2_0)
DEC(K_TQ1, dot_rows_tq1_0, vec_dot_tq1_0)
DEC(K_IQ1S, dot_rows_iq1_s, vec_dot_iq1_s)
DEC(K_IQ1M, dot_rows_iq1_m, vec_dot_iq1_m)

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
            const __m256i tlo = _mm256_set_m128i(reduce4_epi32(acc[4], acc[5], acc[6], acc[7]),
                                                 reduce4_epi32(acc[0], acc[1], acc[2], acc[3]));
            __m512i tv = kt == 8 ? _mm512_zextsi256_si512(tlo)
                                 : _mm512_inserti64x4(_mm512_castsi256_si512(tlo),
                                                      _mm256_set_m128i(reduce4_epi32(acc[12], acc[13], acc[14], acc[15]),
                                                                       reduce4_epi32(acc[8], acc[9], acc[10], acc[11])),
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
