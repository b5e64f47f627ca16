/*
 * quant_kquants_avx512.c - AVX-512 (BW + VNNI) twins of the k-quant dot
 * products (quant_kquants.c). Dequantization and Q8_K quantization keep
 * the AVX2 kernels, which the avx512 table inherits.
 *
 * One scheme for every k-quant: the super-block's quants are laid out as
 * four chunks of 64 unsigned bytes (elements 64c..64c+63, the weight's
 * value plus a fixed offset), each multiplied with the activation by
 * maddubs (16-bit pair sums, at most 63 * 128 * 2: no saturation) and
 * accumulated against the per-16 sub-block scales by vpdpwssd (VNNI).
 * The offset comes back through the activation's per-16 sums. The integer
 * result is exact and the float combination is the scalar twin's, so the
 * results are identical to the scalar kernels.
 */
#include <immintrin.h>

#include "quant/quant_impl.h"
#include "quant/quant_rows_pf.h"
#include "quant/quant_k4_x86.h"

/* One half scale to float: a single F16C instruction (exact, like
 * quant_h2f) instead of the portable bit manipulation. */
static inline float h2f(qhalf h)
{
    return _cvtsh_ss(h);
}

static inline __m512i load64(const void *p)
{
    return _mm512_loadu_si512(p);
}

/* 32 bytes at p in both halves of a zmm. */
static inline __m512i dup32(const void *p)
{
    return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p));
}

/* Shifts the 16-bit words of the low half right by a, of the high half by b. */
static inline __m512i srl2(__m512i v, int a, int b)
{
    const __m512i cnt = _mm512_inserti64x4(_mm512_set1_epi16((short)a), _mm256_set1_epi16((short)b), 1);
    return _mm512_srlv_epi16(v, cnt);
}

/* The scales of the four sub-blocks of 16 in chunk c, each repeated over
 * its 128-bit lane (8 words), from sixteen int16 scales. */
static inline __m512i chunk_scales(__m256i sc16, int c)
{
    const __m512i idx = _mm512_add_epi16(
        _mm512_set1_epi16((short)(4 * c)),
        _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(_mm_set1_epi16(1), _mm_setzero_si128())),
                           _mm256_set_m128i(_mm_set1_epi16(3), _mm_set1_epi16(2)), 1));
    return _mm512_permutexvar_epi16(idx, _mm512_castsi256_si512(sc16));
}

/* acc += sum over 64 bytes of u * y, weighted per 16 by the scales. */
static inline __m512i dot_chunk(__m512i acc, __m512i u, const int8_t *y, __m256i sc16, int c)
{
    const __m512i p = _mm512_maddubs_epi16(u, load64(y + 64 * c));
    return _mm512_dpwssd_epi32(acc, p, chunk_scales(sc16, c));
}

/* acc += sum over 64 bytes of u * y, weighted per 128-bit lane l by word
 * w_l of bc (eight int16 scales repeated in every lane). An in-lane byte
 * shuffle picks the words: cheaper than chunk_scales' cross-lane
 * permutation, and the integer sums are the same. */
static inline __m512i dot_chunk_bc(__m512i acc, __m512i u, const int8_t *y, __m512i bc,
                                   int w0, int w1, int w2, int w3)
{
    const __m512i ctl = _mm512_set_epi8(
        (char)(2 * w3 + 1), (char)(2 * w3), (char)(2 * w3 + 1), (char)(2 * w3), (char)(2 * w3 + 1), (char)(2 * w3),
        (char)(2 * w3 + 1), (char)(2 * w3), (char)(2 * w3 + 1), (char)(2 * w3), (char)(2 * w3 + 1), (char)(2 * w3),
        (char)(2 * w3 + 1), (char)(2 * w3), (char)(2 * w3 + 1), (char)(2 * w3),
        (char)(2 * w2 + 1), (char)(2 * w2), (char)(2 * w2 + 1), (char)(2 * w2), (char)(2 * w2 + 1), (char)(2 * w2),
        (char)(2 * w2 + 1), (char)(2 * w2), (char)(2 * w2 + 1), (char)(2 * w2), (char)(2 * w2 + 1), (char)(2 * w2),
        (char)(2 * w2 + 1), (char)(2 * w2), (char)(2 * w2 + 1), (char)(2 * w2),
        (char)(2 * w1 + 1), (char)(2 * w1), (char)(2 * w1 + 1), (char)(2 * w1), (char)(2 * w1 + 1), (char)(2 * w1),
        (char)(2 * w1 + 1), (char)(2 * w1), (char)(2 * w1 + 1), (char)(2 * w1), (char)(2 * w1 + 1), (char)(2 * w1),
        (char)(2 * w1 + 1), (char)(2 * w1), (char)(2 * w1 + 1), (char)(2 * w1),
        (char)(2 * w0 + 1), (char)(2 * w0), (char)(2 * w0 + 1), (char)(2 * w0), (char)(2 * w0 + 1), (char)(2 * w0),
        (char)(2 * w0 + 1), (char)(2 * w0), (char)(2 * w0 + 1), (char)(2 * w0), (char)(2 * w0 + 1), (char)(2 * w0),
        (char)(2 * w0 + 1), (char)(2 * w0), (char)(2 * w0 + 1), (char)(2 * w0));
    const __m512i p = _mm512_maddubs_epi16(u, load64(y));
    return _mm512_dpwssd_epi32(acc, p, _mm512_shuffle_epi8(bc, ctl));
}

/* sum of sc16[k] * bsums[k] (both sixteen int16) */
static inline int scaled_bsums(__m256i sc16, const block_q8_K *y)
{
    const __m256i b = _mm256_loadu_si256((const __m256i *)y->bsums);
    const __m256i m = _mm256_madd_epi16(b, sc16);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

/* The four sums of two zmm and two ymm int32 vectors at once, into
 * r[0..3]: the horizontal adds of two super-blocks shared (one reduction
 * tree instead of four). */
static inline void reduce4(__m512i a0, __m512i a1, __m256i b0, __m256i b1, int r[4])
{
    const __m256i s0 = _mm256_add_epi32(_mm512_castsi512_si256(a0), _mm512_extracti64x4_epi64(a0, 1));
    const __m256i s1 = _mm256_add_epi32(_mm512_castsi512_si256(a1), _mm512_extracti64x4_epi64(a1, 1));
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(b0, b1));
    const __m128i t = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    _mm_storeu_si128((__m128i *)r, t);
}

/* The int32 products sc16[k] * bsums[k], pairwise summed (8 lanes). */
static inline __m256i bsum_products(__m256i sc16, const block_q8_K *y)
{
    return _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y->bsums), sc16);
}

/* The eight 6-bit scales of a Q4_K/Q5_K super-block as int16 in every
 * 128-bit lane (*bc), and the sixteen per-16 int16 mins (*m16); the
 * packing is k4_unpack's. */
static inline void k4_scales_mins(const uint8_t *packed, __m512i *bc, __m256i *m16)
{
    __m128i sc8, m8;
    k4_unpack(packed, &sc8, &m8);
    *m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
    *bc = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(sc8));
}

/* The integer part of one Q4_K super-block: acc of the scaled quants.
 * Chunk c holds sub-block 2c in its low 256 bits, 2c + 1 in the high. */
static inline __m512i q4_K_block(const block_q4_K *x, const block_q8_K *y, __m512i bc)
{
    const __m512i m4 = _mm512_set1_epi8(0xF);
    __m512i acc = _mm512_setzero_si512();
    for (int c = 0; c < 4; c++) {
        const __m512i u = _mm512_and_si512(srl2(dup32(x->qs + 32 * c), 0, 4), m4);
        acc = dot_chunk_bc(acc, u, y->qs + 64 * c, bc, 2 * c, 2 * c, 2 * c + 1, 2 * c + 1);
    }
    return acc;
}

/* The eight scales and mins of Q4_K/Q5_K (k4_unpack) as sixteen int16
 * per-16 values (each sub-block of 32 covers two); *summ gets the min
 * term. */
static inline __m256i k4_scales(const uint8_t *packed, const block_q8_K *y, int *summ)
{
    __m128i sc8, m8;
    k4_unpack(packed, &sc8, &m8);
    const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
    *summ = scaled_bsums(m16, y);
    return _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(sc8, sc8));
}

static void vec_dot_q2_K(int64_t n, float *out, const void *w, const void *a)
{
    const block_q2_K *x = w;
    const block_q8_K *y = a;
    const __m512i m3 = _mm512_set1_epi8(3);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const __m128i raw = _mm_loadu_si128((const __m128i *)x[i].scales);
        const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(raw, _mm_set1_epi8(0xF)));
        const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0xF)));
        const int summ = scaled_bsums(mn16, &y[i]);
        __m512i acc = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            /* chunk c: half h = c/2, shifts 2s for s = 2(c%2), 2(c%2)+1 */
            const __m512i q = dup32(x[i].qs + 32 * (c / 2));
            const __m512i u = _mm512_and_si512(srl2(q, 4 * (c % 2), 4 * (c % 2) + 2), m3);
            acc = dot_chunk(acc, u, y[i].qs, sc16, c);
        }
        const int sumi = _mm512_reduce_add_epi32(acc);
        const float dall = y[i].d * h2f(x[i].d);
        const float dmin = y[i].d * h2f(x[i].dmin);
        sum += dall * (float)sumi - dmin * (float)summ;
    }
    *out = sum;
}

static void vec_dot_q3_K(int64_t n, float *out, const void *w, const void *a)
{
    const block_q3_K *x = w;
    const block_q8_K *y = a;
    const __m512i m3 = _mm512_set1_epi8(3), one = _mm512_set1_epi8(1);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint32_t v[4];
        quant_q3_K_scales_u32(x[i].scales, v);
        const __m128i sc8 = _mm_sub_epi8(_mm_set_epi32((int)v[3], (int)v[2], (int)v[1], (int)v[0]),
                                         _mm_set1_epi8(32));
        const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
        const __m512i hm = dup32(x[i].hmask);
        __m512i acc = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            const int h = c / 2, s0 = 2 * (c % 2);
            const __m512i q = dup32(x[i].qs + 32 * h);
            const __m512i lo = _mm512_and_si512(srl2(q, 2 * s0, 2 * s0 + 2), m3);
            const __m512i hb = _mm512_and_si512(srl2(hm, 4 * h + s0, 4 * h + s0 + 1), one);
            const __m512i u = _mm512_or_si512(lo, _mm512_slli_epi16(hb, 2));
            acc = dot_chunk(acc, u, y[i].qs, sc16, c);
        }
        const int sumi = _mm512_reduce_add_epi32(acc) - 4 * scaled_bsums(sc16, &y[i]);
        sum += (h2f(x[i].d) * y[i].d) * (float)sumi;
    }
    *out = sum;
}

/* Two super-blocks per iteration share one reduction (reduce4); the
 * float combination stays one super-block at a time, in the scalar
 * twin's order. */
static void vec_dot_q4_K(int64_t n, float *out, const void *w, const void *a)
{
    const block_q4_K *x = w;
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    float sum = 0.0f;
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        __m512i sc0, sc1;
        __m256i m0, m1;
        k4_scales_mins(x[i].scales, &sc0, &m0);
        k4_scales_mins(x[i + 1].scales, &sc1, &m1);
        const __m512i acc0 = q4_K_block(&x[i], &y[i], sc0);
        const __m512i acc1 = q4_K_block(&x[i + 1], &y[i + 1], sc1);
        int r[4];
        reduce4(acc0, acc1, bsum_products(m0, &y[i]), bsum_products(m1, &y[i + 1]), r);
        for (int k = 0; k < 2; k++) {
            const float d = h2f(x[i + k].d) * y[i + k].d;
            const float dmin = h2f(x[i + k].dmin) * y[i + k].d;
            sum += d * (float)r[k] - dmin * (float)r[2 + k];
        }
    }
    for (; i < nb; i++) {
        __m512i bc;
        __m256i m16;
        k4_scales_mins(x[i].scales, &bc, &m16);
        const int summ = scaled_bsums(m16, &y[i]);
        const int sumi = _mm512_reduce_add_epi32(q4_K_block(&x[i], &y[i], bc));
        const float d = h2f(x[i].d) * y[i].d;
        const float dmin = h2f(x[i].dmin) * y[i].d;
        sum += d * (float)sumi - dmin * (float)summ;
    }
    *out = sum;
}

/* q4_K_block with the activation's four 64-byte chunks already in
 * registers (qy), for the rows kernel. */
static inline __m512i q4_K_block_qy(const block_q4_K *x, const __m512i qy[4], __m512i bc)
{
    const __m512i m4 = _mm512_set1_epi8(0xF);
    __m512i acc = _mm512_setzero_si512();
    for (int c = 0; c < 4; c++) {
        const int w0 = 2 * c, w1 = 2 * c + 1;
        const __m512i ctl = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_set1_epi16((short)(((2 * w0 + 1) << 8) | (2 * w0)))),
            _mm256_set1_epi16((short)(((2 * w1 + 1) << 8) | (2 * w1))), 1);
        const __m512i u = _mm512_and_si512(srl2(dup32(x->qs + 32 * c), 0, 4), m4);
        acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(u, qy[c]), _mm512_shuffle_epi8(bc, ctl));
    }
    return acc;
}

/* Super-blocks of activation the Q4_K/Q5_K rows kernels prepare on their
 * stack: rows of up to 64 Ki elements; longer ones take vec_dot. */
#define K4_ROWS_MAX_SB 256

/* The activation's bsums added in pairs, bs[2j] + bs[2j + 1] (one per
 * sub-block of 32; |.| <= 32 x 128, so int16 holds it), repeated in each
 * 128-bit lane: one zmm per super-block, prepared once per call. */
static inline void k4_bsum_pairs(const block_q8_K *y, int64_t nb, __m512i *bsp)
{
    for (int64_t i = 0; i < nb; i++) {
        const __m256i p = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y[i].bsums), _mm256_set1_epi16(1));
        bsp[i] = _mm512_broadcast_i32x4(_mm_packs_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1)));
    }
}

/* Four rows' min terms sum_j m_j x bsp_j, lane k row k's: their mins side
 * by side (row k's eight in bytes 8k..8k+7) against the pairs, one
 * vpmaddwd; row k's four products are then in 128-bit lane k. */
static inline __m128i k4_mins4(__m256i mins, __m512i bsp)
{
    __m512i mm = _mm512_madd_epi16(_mm512_cvtepu8_epi16(mins), bsp);
    mm = _mm512_add_epi32(mm, _mm512_shuffle_epi32(mm, _MM_PERM_BADC));
    mm = _mm512_add_epi32(mm, _mm512_shuffle_epi32(mm, _MM_PERM_CDAB));
    return _mm512_castsi512_si128(
        _mm512_permutexvar_epi32(_mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0), mm));
}

/* The integer sums of four rows' accumulators, lane k row k's: one tree
 * of unpacks and adds over the four zmm (each 128-bit lane then holds
 * its quarter's four row sums), then the quarters added. */
static inline __m128i sum4_rows(const __m512i a[4])
{
    const __m512i u01 = _mm512_add_epi32(_mm512_unpacklo_epi32(a[0], a[1]), _mm512_unpackhi_epi32(a[0], a[1]));
    const __m512i u23 = _mm512_add_epi32(_mm512_unpacklo_epi32(a[2], a[3]), _mm512_unpackhi_epi32(a[2], a[3]));
    const __m512i w = _mm512_add_epi32(_mm512_unpacklo_epi64(u01, u23), _mm512_unpackhi_epi64(u01, u23));
    const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(w), _mm512_extracti64x4_epi64(w, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* Decode's matrix-vector product for Q4_K, four rows at a time: each
 * activation super-block's quants are loaded once for the four rows and
 * its bsum pairs prepared once per call (k4_bsum_pairs), so the four
 * rows' min terms are one vpmaddwd (k4_mins4); the four rows' integer
 * sums share one reduction tree (sum4_rows). The integers are exact
 * whatever the order, and each row's float combination is vec_dot_q4_K's,
 * super-block after super-block, so the bits are vec_dot's. Leftover rows
 * (and rows longer than K4_ROWS_MAX_SB super-blocks) go through
 * vec_dot_q4_K. */
static void vec_dot_rows_q4_K(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows,
                              const void *a)
{
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    int r = 0;
    const int n4 = nb <= K4_ROWS_MAX_SB ? n_rows & ~3 : 0;
    __m512i bsp[K4_ROWS_MAX_SB];
    if (n4)
        k4_bsum_pairs(y, nb, bsp);
    for (; r < n4; r += 4) {
        const block_q4_K *x[4];
        for (int k = 0; k < 4; k++)
            x[k] = (const block_q4_K *)((const uint8_t *)w + (size_t)(r + k) * row_bytes);
        __m128 sum = _mm_setzero_ps();
        for (int64_t i = 0; i < nb; i++) {
            __m512i qy[4];
            for (int c = 0; c < 4; c++)
                qy[c] = load64(y[i].qs + 64 * c);
            rows4_prefetch(x[0], row_bytes, i, sizeof(block_q4_K));
            /* the first 16 bytes of the four blocks (d, dmin, the 12
             * packed scales) transposed: lane k of h[j] is bytes 4j..4j+3
             * of row k's, and k4_unpack's masks run on four rows at once */
            __m128i h[4];
            {
                const __m128i v0 = _mm_loadu_si128((const __m128i *)&x[0][i]);
                const __m128i v1 = _mm_loadu_si128((const __m128i *)&x[1][i]);
                const __m128i v2 = _mm_loadu_si128((const __m128i *)&x[2][i]);
                const __m128i v3 = _mm_loadu_si128((const __m128i *)&x[3][i]);
                const __m128i t0 = _mm_unpacklo_epi32(v0, v1), t1 = _mm_unpacklo_epi32(v2, v3);
                const __m128i t2 = _mm_unpackhi_epi32(v0, v1), t3 = _mm_unpackhi_epi32(v2, v3);
                h[0] = _mm_unpacklo_epi64(t0, t1);
                h[1] = _mm_unpackhi_epi64(t0, t1);
                h[2] = _mm_unpacklo_epi64(t2, t3);
                h[3] = _mm_unpackhi_epi64(t2, t3);
            }
            const __m128i c3f = _mm_set1_epi32(0x3f3f3f3f), c0f = _mm_set1_epi32(0x0f0f0f0f),
                          c03 = _mm_set1_epi32(0x03030303);
            const __m128i sc_lo = _mm_and_si128(h[1], c3f);
            const __m128i sc_hi = _mm_or_si128(_mm_and_si128(h[3], c0f),
                                               _mm_slli_epi32(_mm_and_si128(_mm_srli_epi32(h[1], 6), c03), 4));
            const __m128i m_lo = _mm_and_si128(h[2], c3f);
            const __m128i m_hi = _mm_or_si128(_mm_and_si128(_mm_srli_epi32(h[3], 4), c0f),
                                              _mm_slli_epi32(_mm_and_si128(_mm_srli_epi32(h[2], 6), c03), 4));
            /* row 2j's eight scales in the low 8 bytes of sc[j], row
             * 2j + 1's in the high 8; the mins likewise, all four rows'
             * in one ymm (row k's in bytes 8k..8k+7) */
            const __m128i sc[2] = {_mm_unpacklo_epi32(sc_lo, sc_hi), _mm_unpackhi_epi32(sc_lo, sc_hi)};
            const __m256i mins = _mm256_set_m128i(_mm_unpackhi_epi32(m_lo, m_hi), _mm_unpacklo_epi32(m_lo, m_hi));
            __m512i acc[4];
            for (int k = 0; k < 4; k++) {
                const __m128i s8 = (k & 1) ? _mm_srli_si128(sc[k / 2], 8) : sc[k / 2];
                const __m512i bc = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(s8));
                acc[k] = q4_K_block_qy(&x[k][i], qy, bc);
            }
            const __m128i summ = k4_mins4(mins, bsp[i]);
            /* the float operations below are vec_dot_q4_K's, lane by lane */
            const __m256 dm = _mm256_cvtph_ps(h[0]);
            const __m128 lo = _mm256_castps256_ps128(dm), hi = _mm256_extractf128_ps(dm, 1);
            const __m128 yd = _mm_set1_ps(y[i].d);
            const __m128 d = _mm_mul_ps(_mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)), yd);
            const __m128 dmin = _mm_mul_ps(_mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1)), yd);
            const __m128 fi = _mm_cvtepi32_ps(sum4_rows(acc));
            const __m128 fm = _mm_cvtepi32_ps(summ);
            sum = _mm_add_ps(sum, _mm_sub_ps(_mm_mul_ps(d, fi), _mm_mul_ps(dmin, fm)));
        }
        _mm_storeu_ps(out + r, sum);
    }
    for (; r < n_rows; r++)
        vec_dot_q4_K(n, out + r, (const uint8_t *)w + (size_t)r * row_bytes, a);
}

static void vec_dot_q5_K(int64_t n, float *out, const void *w, const void *a)
{
    const block_q5_K *x = w;
    const block_q8_K *y = a;
    const __m512i m4 = _mm512_set1_epi8(0xF), one = _mm512_set1_epi8(1);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int summ;
        const __m256i sc16 = k4_scales(x[i].scales, &y[i], &summ);
        const __m512i qh = dup32(x[i].qh);
        __m512i acc = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            const __m512i lo = _mm512_and_si512(srl2(dup32(x[i].qs + 32 * c), 0, 4), m4);
            const __m512i hb = _mm512_and_si512(srl2(qh, 2 * c, 2 * c + 1), one);
            const __m512i u = _mm512_or_si512(lo, _mm512_slli_epi16(hb, 4));
            acc = dot_chunk(acc, u, y[i].qs, sc16, c);
        }
        const int sumi = _mm512_reduce_add_epi32(acc);
        const float d = h2f(x[i].d) * y[i].d;
        const float dmin = h2f(x[i].dmin) * y[i].d;
        sum += d * (float)sumi - dmin * (float)summ;
    }
    *out = sum;
}

/* The integer part of one Q5_K super-block (vec_dot_q5_K's acc) with the
 * activation's four 64-byte chunks in registers, for the rows kernel. */
static inline __m512i q5_K_block_qy(const block_q5_K *x, const __m512i qy[4], __m256i sc16)
{
    const __m512i m4 = _mm512_set1_epi8(0xF), one = _mm512_set1_epi8(1);
    const __m512i qh = dup32(x->qh);
    __m512i acc = _mm512_setzero_si512();
    for (int c = 0; c < 4; c++) {
        const __m512i lo = _mm512_and_si512(srl2(dup32(x->qs + 32 * c), 0, 4), m4);
        const __m512i hb = _mm512_and_si512(srl2(qh, 2 * c, 2 * c + 1), one);
        const __m512i u = _mm512_or_si512(lo, _mm512_slli_epi16(hb, 4));
        acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(u, qy[c]), chunk_scales(sc16, c));
    }
    return acc;
}

/* Decode's matrix-vector product for Q5_K, as vec_dot_rows_q4_K: four
 * rows per activation super-block (its quants loaded once, its bsum
 * pairs prepared once per call), the next group's blocks prefetched, the
 * four rows' min terms in one vpmaddwd and their integer sums in one
 * reduction tree, and each row's float operations those of vec_dot_q5_K
 * in one lane of an SSE vector, so the bits are vec_dot's. Leftover rows
 * go through vec_dot_q5_K. */
static void vec_dot_rows_q5_K(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows,
                              const void *a)
{
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    int r = 0;
    const int n4 = nb <= K4_ROWS_MAX_SB ? n_rows & ~3 : 0;
    __m512i bsp[K4_ROWS_MAX_SB];
    if (n4)
        k4_bsum_pairs(y, nb, bsp);
    for (; r < n4; r += 4) {
        const block_q5_K *x[4];
        for (int k = 0; k < 4; k++)
            x[k] = (const block_q5_K *)((const uint8_t *)w + (size_t)(r + k) * row_bytes);
        __m128 sum = _mm_setzero_ps();
        for (int64_t i = 0; i < nb; i++) {
            __m512i qy[4];
            for (int c = 0; c < 4; c++)
                qy[c] = load64(y[i].qs + 64 * c);
            rows4_prefetch(x[0], row_bytes, i, sizeof(block_q5_K));
            __m512i acc[4];
            __m128i m8[4];
            for (int k = 0; k < 4; k++) {
                __m128i sc8;
                k4_unpack(x[k][i].scales, &sc8, &m8[k]);
                acc[k] = q5_K_block_qy(&x[k][i], qy, _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(sc8, sc8)));
            }
            const __m256i mins = _mm256_set_m128i(_mm_unpacklo_epi64(m8[2], m8[3]), _mm_unpacklo_epi64(m8[0], m8[1]));
            const __m128 yd = _mm_set1_ps(y[i].d);
            const __m128 d = _mm_mul_ps(_mm_cvtph_ps(_mm_setr_epi16((short)x[0][i].d, (short)x[1][i].d,
                                                                    (short)x[2][i].d, (short)x[3][i].d,
                                                                    0, 0, 0, 0)), yd);
            const __m128 dmin = _mm_mul_ps(_mm_cvtph_ps(_mm_setr_epi16((short)x[0][i].dmin, (short)x[1][i].dmin,
                                                                       (short)x[2][i].dmin, (short)x[3][i].dmin,
                                                                       0, 0, 0, 0)), yd);
            const __m128 fi = _mm_cvtepi32_ps(sum4_rows(acc));
            const __m128 fm = _mm_cvtepi32_ps(k4_mins4(mins, bsp[i]));
            sum = _mm_add_ps(sum, _mm_sub_ps(_mm_mul_ps(d, fi), _mm_mul_ps(dmin, fm)));
        }
        _mm_storeu_ps(out + r, sum);
    }
    for (; r < n_rows; r++)
        vec_dot_q5_K(n, out + r, (const uint8_t *)w + (size_t)r * row_bytes, a);
}

/* The integer part of one Q6_K super-block, before the offset term. */
static inline __m512i q6_K_block(const block_q6_K *x, const block_q8_K *y, __m256i sc16)
{
    const __m512i m4 = _mm512_set1_epi8(0xF), m3 = _mm512_set1_epi8(3);
    __m512i acc = _mm512_setzero_si512();
    for (int c = 0; c < 4; c++) {
        /* chunk c: half h = c/2, s = 2(c%2) + t: low nibbles are the
         * 64 bytes ql[64h..] shifted by 4(c%2), high bits qh[32h + l]
         * at 2s */
        const int h = c / 2, s0 = 2 * (c % 2);
        const __m512i lo = _mm512_and_si512(_mm512_srli_epi16(load64(x->ql + 64 * h), 4 * (c % 2)), m4);
        const __m512i hb = _mm512_and_si512(srl2(dup32(x->qh + 32 * h), 2 * s0, 2 * s0 + 2), m3);
        const __m512i u = _mm512_or_si512(lo, _mm512_slli_epi16(hb, 4));
        acc = dot_chunk(acc, u, y->qs, sc16, c);
    }
    return acc;
}

/* Two super-blocks per iteration, as vec_dot_q4_K. */
static void vec_dot_q6_K(int64_t n, float *out, const void *w, const void *a)
{
    const block_q6_K *x = w;
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    float sum = 0.0f;
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m256i sc0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        const __m256i sc1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i + 1].scales));
        const __m512i acc0 = q6_K_block(&x[i], &y[i], sc0);
        const __m512i acc1 = q6_K_block(&x[i + 1], &y[i + 1], sc1);
        int r[4];
        reduce4(acc0, acc1, bsum_products(sc0, &y[i]), bsum_products(sc1, &y[i + 1]), r);
        for (int k = 0; k < 2; k++) {
            const int sumi = r[k] - 32 * r[2 + k];
            sum += (h2f(x[i + k].d) * y[i + k].d) * (float)sumi;
        }
    }
    for (; i < nb; i++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        const int sumi = _mm512_reduce_add_epi32(q6_K_block(&x[i], &y[i], sc16)) - 32 * scaled_bsums(sc16, &y[i]);
        sum += (h2f(x[i].d) * y[i].d) * (float)sumi;
    }
    *out = sum;
}

/* q6_K_block with the activation's four 64-byte chunks in registers. */
static inline __m512i q6_K_block_qy(const block_q6_K *x, const __m512i qy[4], __m256i sc16)
{
    const __m512i m4 = _mm512_set1_epi8(0xF), m3 = _mm512_set1_epi8(3);
    __m512i acc = _mm512_setzero_si512();
    for (int c = 0; c < 4; c++) {
        const int h = c / 2, s0 = 2 * (c % 2);
        const __m512i lo = _mm512_and_si512(_mm512_srli_epi16(load64(x->ql + 64 * h), 4 * (c % 2)), m4);
        const __m512i hb = _mm512_and_si512(srl2(dup32(x->qh + 32 * h), 2 * s0, 2 * s0 + 2), m3);
        const __m512i u = _mm512_or_si512(lo, _mm512_slli_epi16(hb, 4));
        acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(u, qy[c]), chunk_scales(sc16, c));
    }
    return acc;
}

/* Decode's matrix-vector product for Q6_K, as vec_dot_rows_q4_K: four
 * rows per activation super-block, exact integers, and each row's float
 * operations those of vec_dot_q6_K in one lane of an SSE vector. The
 * offset term -32 x sum(scale x bsum) goes into each row's accumulator
 * (one vpdpwssd of the bsums against -32 x the scales, which int16
 * holds): the same integer sumi, and one reduction tree for the four. */
static void vec_dot_rows_q6_K(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows,
                              const void *a)
{
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    int r = 0;
    for (; r + 3 < n_rows; r += 4) {
        const block_q6_K *x[4];
        for (int k = 0; k < 4; k++)
            x[k] = (const block_q6_K *)((const uint8_t *)w + (size_t)(r + k) * row_bytes);
        __m128 sum = _mm_setzero_ps();
        for (int64_t i = 0; i < nb; i++) {
            __m512i qy[4];
            for (int c = 0; c < 4; c++)
                qy[c] = load64(y[i].qs + 64 * c);
            const __m512i bs = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)y[i].bsums));
            rows4_prefetch(x[0], row_bytes, i, sizeof(block_q6_K));
            __m512i acc[4];
            for (int k = 0; k < 4; k++) {
                const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[k][i].scales));
                const __m512i off = _mm512_castsi256_si512(_mm256_mullo_epi16(sc16, _mm256_set1_epi16(-32)));
                acc[k] = _mm512_dpwssd_epi32(q6_K_block_qy(&x[k][i], qy, sc16), bs,
                                             _mm512_maskz_mov_epi64(0x0F, off));
            }
            const __m128 dx = _mm_cvtph_ps(_mm_setr_epi16((short)x[0][i].d, (short)x[1][i].d, (short)x[2][i].d,
                                                          (short)x[3][i].d, 0, 0, 0, 0));
            const __m128 d = _mm_mul_ps(dx, _mm_set1_ps(y[i].d));
            sum = _mm_add_ps(sum, _mm_mul_ps(d, _mm_cvtepi32_ps(sum4_rows(acc))));
        }
        _mm_storeu_ps(out + r, sum);
    }
    for (; r < n_rows; r++)
        vec_dot_q6_K(n, out + r, (const uint8_t *)w + (size_t)r * row_bytes, a);
}

void quant_register_kquants_avx512(quant_kernels *tab)
{
    tab[QT_Q2_K].vec_dot = vec_dot_q2_K;
    tab[QT_Q3_K].vec_dot = vec_dot_q3_K;
    tab[QT_Q4_K].vec_dot = vec_dot_q4_K;
    tab[QT_Q5_K].vec_dot = vec_dot_q5_K;
    tab[QT_Q6_K].vec_dot = vec_dot_q6_K;
    tab[QT_Q4_K].vec_dot_rows = vec_dot_rows_q4_K;
    tab[QT_Q5_K].vec_dot_rows = vec_dot_rows_q5_K;
    tab[QT_Q6_K].vec_dot_rows = vec_dot_rows_q6_K;
}
