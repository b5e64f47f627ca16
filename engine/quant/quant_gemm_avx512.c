/*
 * quant_gemm_avx512.c - AVX-512 (BW + VNNI) multi-token GEMM kernels (see
 * the quant_gemm section of quant.h).
 *
 * Why they exist: the per-token dot product re-reads and re-unpacks every
 * weight row once per token. Here a weight block is unpacked to bytes
 * once and multiplied against the same block of several tokens (GT, or
 * KT for k-quants) while it sits in registers, so prefill unpacks each
 * weight block once per tile of tokens.
 *
 * Each (row, token) result is built with exactly the operations of the
 * AVX-512 vec_dot of the type, in the same order, so it has the same bits:
 *  - k-quants: the integer sum of a super-block is exact whatever the
 *    order (maddubs + vpdpwssd against per-16 scales, the offset taken
 *    back through the activation's bsums), then combined in float one
 *    super-block after the other exactly like the scalar twin;
 *  - Q4_0: two blocks per zmm, per-lane exact integer sums (vpdpbusd on
 *    offset unsigned weights, the offset removed with the activation's
 *    sums), scaled and accumulated in float lanes as the AVX-512 vec_dot
 *    does, reduced by the same _mm512_reduce_add_ps.
 * So for these the path choice (vec_dot vs GEMM) never changes a logit.
 * Q8_0 is the exception (quant_gemm_q8_avx512.c): the scalar vec_dot's
 * bits, one float rounding per block instead of per group of 4.
 */
#include <immintrin.h>

#include "quant/quant_gemm_pack.h"
#include "core/tr16_avx512.h"
#include "quant/quant_impl.h"
#include "quant/quant_k4_x86.h"

/* Tokens per micro-tile: the accumulators of GT tokens stay in registers
 * next to the unpacked weights. */
#define GT 4
/* k-quants: 8 tokens (their unpacking costs more, so it is shared wider). */
#define KT 8

typedef const uint8_t *bytes;

static inline float h2f(qhalf h)
{
    return _cvtsh_ss(h);
}


/* ---------------------------------------------------------------- k-quants */

/* The per-16 scales of the four sub-blocks of 16 in chunk c of 64 bytes,
 * each over its 128-bit lane (as quant_kquants_avx512.c lays them out). */
static inline __m512i chunk_scales(__m256i sc16, int c)
{
    const __m512i idx = _mm512_add_epi16(
        _mm512_set1_epi16((short)(4 * c)),
        _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(_mm_set1_epi16(1), _mm_setzero_si128())),
                           _mm256_set_m128i(_mm_set1_epi16(3), _mm_set1_epi16(2)), 1));
    return _mm512_permutexvar_epi16(idx, _mm512_castsi256_si512(sc16));
}

static inline __m512i srl2(__m512i v, int a, int b)
{
    const __m512i cnt = _mm512_inserti64x4(_mm512_set1_epi16((short)a), _mm256_set1_epi16((short)b), 1);
    return _mm512_srlv_epi16(v, cnt);
}

static inline __m512i dup32(const void *p)
{
    return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p));
}

/* madd of the sixteen bsums of y with sixteen int16 weights, widened to
 * a zmm (upper half zero) so it can join reduce4_epi32. */
static inline __m512i bsum_terms(const block_q8_K *y, __m256i w16)
{
    const __m256i b = _mm256_loadu_si256((const __m256i *)y->bsums);
    return _mm512_zextsi256_si512(_mm256_madd_epi16(b, w16));
}

/* Four chunks u[0..3] (64 unsigned bytes each, elements 64c..64c+63) of
 * one weight super-block against super-block i of the nt tokens: acc[t]
 * gets the scaled integer products. */
static inline __attribute__((always_inline)) void
kq_chunks(__m512i acc[KT], const __m512i u[4], const __m512i sc[4], bytes act, size_t act_bytes,
          int64_t i, int nt)
{
    for (int t = 0; t < nt; t++) {
        const int8_t *y = ((const block_q8_K *)(act + (size_t)t * act_bytes))[i].qs;
        for (int c = 0; c < 4; c++) {
            const __m512i p = _mm512_maddubs_epi16(u[c], _mm512_loadu_si512(y + 64 * c));
            acc[t] = _mm512_dpwssd_epi32(acc[t], p, sc[c]);
        }
    }
}

/* The eight activation scales y[i].d of the tokens (0 past nt). */
static inline __m256 act_d8(bytes act, size_t act_bytes, int64_t i, int nt)
{
    float d[8] = {0};
    for (int t = 0; t < nt; t++)
        d[t] = ((const block_q8_K *)(act + (size_t)t * act_bytes))[i].d;
    return _mm256_loadu_ps(d);
}

static inline __m256i reduce_acc(const __m512i acc[KT], int nt)
{
    const __m512i z = _mm512_setzero_si512();
    const __m128i lo = reduce4_epi32(acc[0], nt > 1 ? acc[1] : z, nt > 2 ? acc[2] : z, nt > 3 ? acc[3] : z);
    if (nt <= 4)
        return _mm256_zextsi128_si256(lo);
    const __m128i hi = reduce4_epi32(acc[4], nt > 5 ? acc[5] : z, nt > 6 ? acc[6] : z, nt > 7 ? acc[7] : z);
    return _mm256_set_m128i(hi, lo);
}

static inline void store8(__m256 sum, float *out, size_t ldy, int nt)
{
    float s[8];
    _mm256_storeu_ps(s, sum);
    for (int t = 0; t < nt; t++)
        out[(size_t)t * ldy] = s[t];
}

/* Same unpacking of the Q4_K/Q5_K scales and mins as the vec_dot. */
static inline void k4_scales(const uint8_t *packed, __m256i *sc16, __m256i *m16)
{
    __m128i sc8, m8;
    k4_unpack(packed, &sc8, &m8);
    *m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
    *sc16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(sc8, sc8));
}

/* One Q4_K or Q5_K super-block of a row against nt <= KT tokens, once its
 * quants are unpacked to u[] (the two types differ only there): the
 * sub-block products, the min terms through the bsums, and the scales d
 * and dmin. Returns the block's contribution per token. */
static inline __attribute__((always_inline)) __m256
k4_block(const __m512i u[4], __m256i sc16, __m256i m16, float d_w, float dmin_w,
         bytes act, size_t act_bytes, int64_t i, int nt)
{
    __m512i sc[4], acc[KT], mt[KT];
    for (int c = 0; c < 4; c++)
        sc[c] = chunk_scales(sc16, c);
    for (int t = 0; t < KT; t++)
        acc[t] = _mm512_setzero_si512();
    kq_chunks(acc, u, sc, act, act_bytes, i, nt);
    const __m256i sumi = reduce_acc(acc, nt);
    /* the min terms after the products: fewer live registers */
    for (int t = 0; t < KT; t++)
        mt[t] = t < nt ? bsum_terms(&((const block_q8_K *)(act + (size_t)t * act_bytes))[i], m16)
                       : _mm512_setzero_si512();
    const __m256i summ = reduce_acc(mt, nt);
    const __m256 dy = act_d8(act, act_bytes, i, nt);
    const __m256 d = _mm256_mul_ps(_mm256_set1_ps(d_w), dy);
    const __m256 dmin = _mm256_mul_ps(_mm256_set1_ps(dmin_w), dy);
    return _mm256_sub_ps(_mm256_mul_ps(d, _mm256_cvtepi32_ps(sumi)),
                         _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(summ)));
}

/* One Q4_K row against nt <= KT tokens. */
static inline __attribute__((always_inline)) void
row_q4_K(int64_t nb, const block_q4_K *x, bytes act, size_t act_bytes, int nt, float *out, size_t ldy)
{
    const __m512i m4 = _mm512_set1_epi8(0xF);
    __m256 sum = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        __m256i sc16, m16;
        k4_scales(x[i].scales, &sc16, &m16);
        __m512i u[4];
        for (int c = 0; c < 4; c++)
            u[c] = _mm512_and_si512(srl2(dup32(x[i].qs + 32 * c), 0, 4), m4);
        sum = _mm256_add_ps(sum, k4_block(u, sc16, m16, h2f(x[i].d), h2f(x[i].dmin),
                                          act, act_bytes, i, nt));
    }
    store8(sum, out, ldy, nt);
}

/* One Q5_K row against nt <= KT tokens. */
static inline __attribute__((always_inline)) void
row_q5_K(int64_t nb, const block_q5_K *x, bytes act, size_t act_bytes, int nt, float *out, size_t ldy)
{
    const __m512i m4 = _mm512_set1_epi8(0xF), one = _mm512_set1_epi8(1);
    __m256 sum = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        __m256i sc16, m16;
        k4_scales(x[i].scales, &sc16, &m16);
        const __m512i qh = dup32(x[i].qh);
        __m512i u[4];
        for (int c = 0; c < 4; c++) {
            const __m512i lo = _mm512_and_si512(srl2(dup32(x[i].qs + 32 * c), 0, 4), m4);
            const __m512i hb = _mm512_and_si512(srl2(qh, 2 * c, 2 * c + 1), one);
            u[c] = _mm512_or_si512(lo, _mm512_slli_epi16(hb, 4));
        }
        sum = _mm256_add_ps(sum, k4_block(u, sc16, m16, h2f(x[i].d), h2f(x[i].dmin),
                                          act, act_bytes, i, nt));
    }
    store8(sum, out, ldy, nt);
}

/* One Q6_K row against nt <= KT tokens. The -32 offset of the quants
 * joins the integer sum through the bsums (exact). */
static inline __attribute__((always_inline)) void
row_q6_K(int64_t nb, const block_q6_K *x, bytes act, size_t act_bytes, int nt, float *out, size_t ldy)
{
    const __m512i m4 = _mm512_set1_epi8(0xF), m3 = _mm512_set1_epi8(3);
    __m256 sum = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        const __m256i neg32 = _mm256_mullo_epi16(sc16, _mm256_set1_epi16(-32));
        __m512i u[4], sc[4], acc[KT];
        for (int c = 0; c < 4; c++) {
            const int h = c / 2, s0 = 2 * (c % 2);
            const __m512i lo = _mm512_and_si512(
                _mm512_srli_epi16(_mm512_loadu_si512(x[i].ql + 64 * h), 4 * (c % 2)), m4);
            const __m512i hb = _mm512_and_si512(srl2(dup32(x[i].qh + 32 * h), 2 * s0, 2 * s0 + 2), m3);
            u[c] = _mm512_or_si512(lo, _mm512_slli_epi16(hb, 4));
            sc[c] = chunk_scales(sc16, c);
        }
        /* scales are in [-128, 127]: times -32 fits an int16 */
        for (int t = 0; t < KT; t++)
            acc[t] = t < nt ? bsum_terms(&((const block_q8_K *)(act + (size_t)t * act_bytes))[i], neg32)
                            : _mm512_setzero_si512();
        kq_chunks(acc, u, sc, act, act_bytes, i, nt);
        const __m256i sumi = reduce_acc(acc, nt);
        const __m256 dy = act_d8(act, act_bytes, i, nt);
        const __m256 d = _mm256_mul_ps(_mm256_set1_ps(h2f(x[i].d)), dy);
        sum = _mm256_add_ps(sum, _mm256_mul_ps(d, _mm256_cvtepi32_ps(sumi)));
    }
    store8(sum, out, ldy, nt);
}

/* ------------------------------------------------------- Q8_0 and Q4_0 */

static inline __m512i load_2x32(const int8_t *p0, const int8_t *p1)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p0)),
                              _mm256_loadu_si256((const __m256i *)p1), 1);
}

static inline __m512i nibbles_64(const uint8_t *qs0, const uint8_t *qs1)
{
    const __m128i a = _mm_loadu_si128((const __m128i *)qs0), b = _mm_loadu_si128((const __m128i *)qs1);
    __m512i z = _mm512_castsi128_si512(a);
    z = _mm512_inserti32x4(z, _mm_srli_epi16(a, 4), 1);
    z = _mm512_inserti32x4(z, b, 2);
    z = _mm512_inserti32x4(z, _mm_srli_epi16(b, 4), 3);
    return _mm512_and_si512(z, _mm512_set1_epi8(0x0F));
}

static inline __m512 two_scales(float d0, float d1)
{
    return _mm512_insertf32x8(_mm512_set1_ps(d0), _mm256_set1_ps(d1), 1);
}

/* The pair (i, j) of one Q8_0 (q4 = 0) or Q4_0 row: offset unsigned
 * quants and the two weight scales per half (lane-wise products with the
 * activation scales equal the vec_dot's scalar products). */
static inline void q0_pair(int q4, bytes xw, int64_t i, int64_t j, __m512i *u, __m512 *dx)
{
    if (q4) {
        const block_q4_0 *x = (const block_q4_0 *)xw;
        *u = nibbles_64(x[i].qs, x[j].qs);
        *dx = two_scales(h2f(x[i].d), h2f(x[j].d));
    } else {
        const block_q8_0 *x = (const block_q8_0 *)xw;
        *u = _mm512_xor_si512(load_2x32(x[i].qs, x[j].qs), _mm512_set1_epi8((char)0x80));
        *dx = two_scales(h2f(x[i].d), h2f(x[j].d));
    }
}

/* Two rows (xa, xb: NR = 2) or one (xb unused) of Q8_0 (q4 = 0) or Q4_0
 * against nt <= GT tokens of Q8_0 activations. Blocks pair as in the
 * vec_dot (an odd last block pairs with itself, its copy scaled by zero);
 * per row, token and pair the lanes d * (u.y - 2^shift sum(y)) join the
 * float lanes of that (row, token). The activation's side (its quants,
 * sums and scales) is prepared once for both rows. */
static inline __attribute__((always_inline)) void
rows_q0(int q4, int nr, int64_t nb, bytes xa, bytes xb, bytes act, size_t act_bytes, int nt,
        float *out, size_t ldy)
{
    const __m512i ones = _mm512_set1_epi8(1), shift = _mm512_set1_epi32(q4 ? 3 : 7);
    __m512 acc[2][GT];
    for (int r = 0; r < 2; r++)
        for (int t = 0; t < GT; t++)
            acc[r][t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i += 2) {
        const int64_t j = i + 1 < nb ? i + 1 : i;
        __m512i u[2];
        __m512 dx[2];
        q0_pair(q4, xa, i, j, &u[0], &dx[0]);
        if (nr == 2)
            q0_pair(q4, xb, i, j, &u[1], &dx[1]);
        for (int t = 0; t < nt; t++) {
            const block_q8_0 *y = (const block_q8_0 *)(act + (size_t)t * act_bytes);
            const __m512i qy = load_2x32(y[i].qs, y[j].qs);
            const __m512 dy = two_scales(h2f(y[i].d), i + 1 < nb ? h2f(y[j].d) : 0.0f);
            const __m512i s = _mm512_sllv_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, qy), shift);
            for (int r = 0; r < nr; r++) {
                const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u[r], qy);
                const __m512 d = _mm512_mul_ps(dx[r], dy);
                acc[r][t] = _mm512_add_ps(acc[r][t], _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(p, s))));
            }
        }
    }
    for (int r = 0; r < nr; r++)
        for (int t = 0; t < nt; t++)
            out[(size_t)t * ldy + (size_t)r] = _mm512_reduce_add_ps(acc[r][t]);
}

/* ------------------------------------------------------------ drivers */

/* Blocking: TB tokens of activations (about 150 KB of Q8_K at n = 2048)
 * stay in L2 while RB weight rows (tens of KB) are multiplied against them
 * in tiles of GT tokens, so the weights are read from memory once per TB
 * tokens. The full tiles take the constant-GT instance (accumulators in
 * registers), the last partial tile a generic one. Each (row, token) is
 * computed the same way whatever the blocking. */
#define TB 64
#define RB 16
#define GEMM_DRIVER(name, ROWCALL, GT)                                                          \
    static void name(int64_t n, const void *w, size_t row_bytes, int r0, int r1,              \
                     const void *act, size_t act_bytes, int n_tok, float *out, size_t ldy)    \
    {                                                                                         \
        for (int tb = 0; tb < n_tok; tb += TB) {                                              \
            const int te = n_tok - tb < TB ? n_tok : tb + TB;                                 \
            for (int rb = r0; rb < r1; rb += RB) {                                            \
                const int re = r1 - rb < RB ? r1 : rb + RB;                                   \
                for (int t0 = tb; t0 < te; t0 += GT) {                                        \
                    const int nt = te - t0 < GT ? te - t0 : GT;                               \
                    bytes a = (bytes)act + (size_t)t0 * act_bytes;                            \
                    float *o = out + (size_t)t0 * ldy;                                        \
                    for (int r = rb; r < re; r++) {                                           \
                        bytes xr = (bytes)w + (size_t)r * row_bytes;                          \
                        if (nt == GT)                                                         \
                            ROWCALL(xr, a, act_bytes, GT, o + r, ldy);                        \
                        else                                                                  \
                            ROWCALL(xr, a, act_bytes, nt, o + r, ldy);                        \
                    }                                                                         \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
    }

#define CALL_Q4_K(xr, a, ab, nt, o, ldy) row_q4_K(n / QK_K, (const block_q4_K *)(xr), a, ab, nt, o, ldy)
#define CALL_Q5_K(xr, a, ab, nt, o, ldy) row_q5_K(n / QK_K, (const block_q5_K *)(xr), a, ab, nt, o, ldy)
#define CALL_Q6_K(xr, a, ab, nt, o, ldy) row_q6_K(n / QK_K, (const block_q6_K *)(xr), a, ab, nt, o, ldy)

GEMM_DRIVER(rows_gemm_q4_K, CALL_Q4_K, KT)
GEMM_DRIVER(rows_gemm_q5_K, CALL_Q5_K, KT)
GEMM_DRIVER(rows_gemm_q6_K, CALL_Q6_K, KT)

/* k-quants: wide batches go to the row-interleaved kernels
 * (quant_gemm_pack_avx512.c), narrow ones stay with the per-row tiles
 * above, which need no repacking. Same bits either way. */
#define KQ_GEMM(name, packed, rows)                                                             \
    static void name(int64_t n, const void *w, size_t row_bytes, int r0, int r1,              \
                     const void *act, size_t act_bytes, int n_tok, float *out, size_t ldy)    \
    {                                                                                         \
        if (n_tok >= QGP_MIN_TOK && packed(n, w, row_bytes, r0, r1, act, act_bytes, n_tok, out, ldy)) \
            return;                                                                           \
        rows(n, w, row_bytes, r0, r1, act, act_bytes, n_tok, out, ldy);                       \
    }
KQ_GEMM(gemm_q4_K, qgp_gemm_q4_K, rows_gemm_q4_K)
KQ_GEMM(gemm_q5_K, qgp_gemm_q5_K, rows_gemm_q5_K)
KQ_GEMM(gemm_q6_K, qgp_gemm_q6_K, rows_gemm_q6_K)
/* Q8_0 / Q4_0 driver: the blocking of GEMM_DRIVER, rows two at a time. */
static inline __attribute__((always_inline)) void
gemm_q0(int q4, int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
        size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    const int64_t nb = n / QK8_0;
    for (int tb = 0; tb < n_tok; tb += TB) {
        const int te = n_tok - tb < TB ? n_tok : tb + TB;
        for (int rb = r0; rb < r1; rb += RB) {
            const int re = r1 - rb < RB ? r1 : rb + RB;
            for (int t0 = tb; t0 < te; t0 += GT) {
                const int nt = te - t0 < GT ? te - t0 : GT;
                bytes a = (bytes)act + (size_t)t0 * act_bytes;
                float *o = out + (size_t)t0 * ldy;
                for (int r = rb; r < re; r += 2) {
                    bytes xa = (bytes)w + (size_t)r * row_bytes, xb = xa + row_bytes;
                    if (r + 1 < re && nt == GT)
                        rows_q0(q4, 2, nb, xa, xb, a, act_bytes, GT, o + r, ldy);
                    else if (r + 1 < re)
                        rows_q0(q4, 2, nb, xa, xb, a, act_bytes, nt, o + r, ldy);
                    else
                        rows_q0(q4, 1, nb, xa, xa, a, act_bytes, nt, o + r, ldy);
                }
            }
        }
    }
}

static void gemm_q8_0(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                      size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    if (qgp_gemm_q8_0(n, w, row_bytes, r0, r1, act, act_bytes, n_tok, out, ldy))
        return;
    /* no work buffer: the same bits (the scalar vec_dot's), slowly */
    for (int r = r0; r < r1; r++)
        for (int t = 0; t < n_tok; t++)
            quant_vec_dot_q8_0(n, &out[(size_t)t * ldy + (size_t)r], (bytes)w + (size_t)r * row_bytes,
                               (bytes)act + (size_t)t * act_bytes);
}

static void gemm_q4_0(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                      size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    gemm_q0(1, n, w, row_bytes, r0, r1, act, act_bytes, n_tok, out, ldy);
}

quant_gemm_fn quant_gemm_avx512_for(int type)
{
    switch (type) {
    case QT_Q4_K: return gemm_q4_K;
    case QT_Q5_K: return gemm_q5_K;
    case QT_Q6_K: return gemm_q6_K;
    case QT_Q8_0: return gemm_q8_0;
    case QT_Q4_0: return gemm_q4_0;
    default: break;
    }
    /* The i-quant, ternary and MXFP4 groups keep their GEMMs beside their
     * other kernels; Q5_0, Q4_1 and Q5_1 have theirs in
     * quant_gemm_legacy_avx512.c. */
    quant_gemm_fn f = quant_gemm_iq4_avx512_for(type);
    if (!f)
        f = quant_gemm_iq23_avx512_for(type);
    if (!f)
        f = quant_gemm_iq1tq_avx512_for(type);
    if (!f)
        f = quant_gemm_legacy_avx512_for(type);
    return f;
}
