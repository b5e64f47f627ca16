/*
 * quant_iq23_avx512.c - AVX-512 (BW + VNNI) dot products of IQ2_XXS,
 * IQ2_XS, IQ2_S, IQ3_XXS and IQ3_S with Q8_K (scalar twins in
 * quant_iq23.c), and their blocked prefill GEMM. Dequantization keeps
 * the scalar kernels.
 *
 * A super-block is four chunks of 64 elements. For each chunk the grid
 * points are gathered into a zmm of unsigned magnitudes (8 IQ2 points of 8
 * bytes, or 16 IQ3 points of 4), and the 64 signs form a 64-bit mask,
 * since bit j of sign byte l is element 8 l + j, the mask bit of the same
 * number. The signs go on the weights, not the activation: negating an
 * activation of -128 would wrap. Weight + 64 is then an unsigned byte
 * (2..126, the magnitudes being at most 62), multiplied with the
 * activation by maddubs (pair sums at most 2 * 126 * 128: no saturation)
 * and accumulated against the per-16 odd scales by vpdpwssd; the +64 comes
 * back through the activation's per-16 sums. The integer sum of each
 * super-block is therefore exact, and the floats are combined as the
 * scalar twin does: the results are the scalar kernels' bits.
 *
 * The prefill GEMM has two kernels with vec_dot's bits: under PMIN tokens
 * it repeats vec_dot's arithmetic with each block decoded once for up to
 * 64 tokens, eight tokens reduced together and their floats combined in
 * vector lanes by the same operations; from PMIN tokens it decodes 16-row
 * panels into interleaved bytes and runs vpdpbusd tiles over them (see
 * "Packed GEMM" below: 34 -> 14 ns per row and token at 64 tokens, Q4_K's
 * packed kernel 11, n = 2048 on one thread).
 *
 * The sign bytes of IQ2_XXS, IQ2_XS and IQ3_XXS store 7 bits and leave the
 * eighth to parity (an even count of minus signs): computed here in
 * vector lanes rather than looked up 32 times per block.
 *
 * Where the CPU has VBMI, vec_dot and decode's rows kernels take a second
 * decoder built on byte permutes (see "VBMI" below), same bits; the GEMM
 * keeps the first.
 */
#include <immintrin.h>
#include <stdlib.h>

#include "core/tr16_avx512.h"
#include "quant/quant_codebook.h"
#include "quant/quant_gemm_pack.h"
#include "quant/quant_impl.h"
#include "quant/quant_rows_pf.h"

static inline float h2f(qhalf h)
{
    return _cvtsh_ss(h);
}

static inline uint64_t ld64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t ld32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint16_t ld16(const void *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* A decoded super-block: per chunk the magnitudes and the minus signs,
 * and the sixteen per-16 odd scales as dwords. */
typedef struct iq_chunks {
    __m512i g[4];
    __mmask64 neg[4];
    __m512i ls;
} iq_chunks;

/* Adds bit 7 = parity of the low 7 bits to each 32-bit lane. */
static inline __m512i with_parity32(__m512i f)
{
    __m512i p = _mm512_xor_si512(f, _mm512_srli_epi32(f, 4));
    p = _mm512_xor_si512(p, _mm512_srli_epi32(p, 2));
    p = _mm512_xor_si512(p, _mm512_srli_epi32(p, 1));
    return _mm512_or_si512(f, _mm512_slli_epi32(_mm512_and_si512(p, _mm512_set1_epi32(1)), 7));
}

/* The 32 sign bytes of a block whose 7-bit sign fields sit four to a
 * 32-bit word (IQ2_XXS: words 1, 3, ..., 15 of qs; IQ3_XXS: the 8 words
 * after the grid indices), word w_ib = words[first + step * ib]. */
static inline void signs_from_words(__m512i words, int first, int step, uint64_t out[4])
{
    const __m512i shifts = _mm512_set_epi32(21, 14, 7, 0, 21, 14, 7, 0, 21, 14, 7, 0, 21, 14, 7, 0);
    const __m512i m127 = _mm512_set1_epi32(127);
    for (int h = 0; h < 2; h++) {
        /* lane 4 q + l: word of sub-block 4 h + q, field l */
        const int b = first + step * 4 * h;
        const __m512i idx = _mm512_set_epi32(b + 3 * step, b + 3 * step, b + 3 * step, b + 3 * step,
                                             b + 2 * step, b + 2 * step, b + 2 * step, b + 2 * step,
                                             b + step, b + step, b + step, b + step, b, b, b, b);
        const __m512i f = _mm512_and_si512(_mm512_srlv_epi32(_mm512_permutexvar_epi32(idx, words), shifts), m127);
        const __m128i bytes = _mm512_cvtepi32_epi8(with_parity32(f));
        _mm_storeu_si128((__m128i *)&out[2 * h], bytes);
    }
}

/* Per-32 odd scales 2 s + 1 with s the top nibble of the sign words, as
 * sixteen per-16 dwords. */
static inline __m512i ls_from_words(__m512i words, int first, int step)
{
    const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(first),
                                         _mm512_mullo_epi32(_mm512_set1_epi32(step),
                                                            _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0)));
    const __m512i s = _mm512_srli_epi32(_mm512_permutexvar_epi32(idx, words), 28);
    return _mm512_or_si512(_mm512_slli_epi32(s, 1), _mm512_set1_epi32(1));
}

/* Per-16 odd scales from 8 bytes of two nibbles (low nibble first). */
static inline __m512i ls_from_nibbles8(const uint8_t *sc)
{
    const __m512i b = _mm512_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)sc));
    const __m512i idx = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i sh = _mm512_set_epi32(4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0);
    const __m512i s = _mm512_and_si512(_mm512_srlv_epi32(_mm512_permutexvar_epi32(idx, b), sh), _mm512_set1_epi32(15));
    return _mm512_or_si512(_mm512_slli_epi32(s, 1), _mm512_set1_epi32(1));
}

static inline void decode_iq2_xxs(const block_iq2_xxs *x, iq_chunks *b)
{
    const __m512i words = _mm512_loadu_si512(x->qs);
    uint64_t sg[4];
    signs_from_words(words, 1, 2, sg);
    b->ls = ls_from_words(words, 1, 2);
    const uint8_t *q = (const uint8_t *)x->qs;
    for (int c = 0; c < 4; c++) {
        const uint64_t ix = (uint64_t)ld32(q + 16 * c) | (uint64_t)ld32(q + 16 * c + 8) << 32;
        const __m512i idx = _mm512_cvtepu8_epi64(_mm_cvtsi64_si128((long long)ix));
        b->g[c] = _mm512_i64gather_epi64(idx, (const void *)quant_iq2xxs_grid, 8);
        b->neg[c] = _cvtu64_mask64(sg[c]);
    }
}

static inline void decode_iq2_xs(const block_iq2_xs *x, iq_chunks *b)
{
    const __m512i v = _mm512_loadu_si512(x->qs);
    /* the 7 sign bits are the top of each 16-bit word */
    __m512i f = _mm512_srli_epi16(v, 9);
    __m512i p = _mm512_xor_si512(f, _mm512_srli_epi16(f, 4));
    p = _mm512_xor_si512(p, _mm512_srli_epi16(p, 2));
    p = _mm512_xor_si512(p, _mm512_srli_epi16(p, 1));
    f = _mm512_or_si512(f, _mm512_slli_epi16(_mm512_and_si512(p, _mm512_set1_epi16(1)), 7));
    uint64_t sg[4];
    _mm256_storeu_si256((__m256i *)sg, _mm512_cvtepi16_epi8(f));
    b->ls = ls_from_nibbles8(x->scales);
    const __m512i m511 = _mm512_set1_epi64(511);
    for (int c = 0; c < 4; c++) {
        const __m512i idx = _mm512_and_si512(_mm512_cvtepu16_epi64(_mm_loadu_si128((const __m128i *)(x->qs + 8 * c))), m511);
        b->g[c] = _mm512_i64gather_epi64(idx, (const void *)quant_iq2xs_grid, 8);
        b->neg[c] = _cvtu64_mask64(sg[c]);
    }
}

static inline void decode_iq2_s(const block_iq2_s *x, iq_chunks *b)
{
    b->ls = ls_from_nibbles8(x->scales);
    const __m512i sh = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i m3 = _mm512_set1_epi64(3);
    for (int c = 0; c < 4; c++) {
        const __m512i lo = _mm512_cvtepu8_epi64(_mm_loadl_epi64((const __m128i *)(x->qs + 8 * c)));
        const __m512i hi = _mm512_and_si512(_mm512_srlv_epi64(_mm512_set1_epi64(ld16(x->qh + 2 * c)), sh), m3);
        const __m512i idx = _mm512_or_si512(lo, _mm512_slli_epi64(hi, 8));
        b->g[c] = _mm512_i64gather_epi64(idx, (const void *)quant_iq2s_grid, 8);
        b->neg[c] = _cvtu64_mask64(ld64(x->qs + QK_K / 8 + 8 * c));
    }
}

static inline void decode_iq3_xxs(const block_iq3_xxs *x, iq_chunks *b)
{
    const __m512i words = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(x->qs + QK_K / 4)));
    uint64_t sg[4];
    signs_from_words(words, 0, 1, sg);
    b->ls = ls_from_words(words, 0, 1);
    for (int c = 0; c < 4; c++) {
        const __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(x->qs + 16 * c)));
        b->g[c] = _mm512_i32gather_epi32(idx, (const void *)quant_iq3xxs_grid, 4);
        b->neg[c] = _cvtu64_mask64(sg[c]);
    }
}

static inline void decode_iq3_s(const block_iq3_s *x, iq_chunks *b)
{
    const __m512i s = _mm512_and_si512(
        _mm512_srlv_epi32(_mm512_set1_epi32((int)ld32(x->scales)),
                          _mm512_set_epi32(28, 28, 24, 24, 20, 20, 16, 16, 12, 12, 8, 8, 4, 4, 0, 0)),
        _mm512_set1_epi32(15));
    b->ls = _mm512_or_si512(_mm512_slli_epi32(s, 1), _mm512_set1_epi32(1));
    const __m512i k256 = _mm512_set1_epi32(256);
    for (int c = 0; c < 4; c++) {
        __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(x->qs + 16 * c)));
        /* the ninth index bit of point k is bit k of qh[2c] | qh[2c+1] << 8 */
        idx = _mm512_mask_add_epi32(idx, _cvtu32_mask16(ld16(x->qh + 2 * c)), idx, k256);
        b->g[c] = _mm512_i32gather_epi32(idx, (const void *)quant_iq3s_grid, 4);
        b->neg[c] = _cvtu64_mask64(ld64(x->signs + 8 * c));
    }
}

/* A decoded super-block ready for any number of activations: per chunk
 * the signed weights + 64 as unsigned bytes and the scales of its dword
 * lanes, and the per-16 scales as words for the offset's correction. */
typedef struct iq_prepped {
    __m512i u[4];
    __m512i sc[4];
    __m256i ls16;
} iq_prepped;

static inline void prep(const iq_chunks *b, iq_prepped *p)
{
    const __m512i off = _mm512_set1_epi8(64), zero = _mm512_setzero_si512();
    /* each dword lane of a chunk holds 4 elements: both of its words take
     * the scale of their sub-block of 16 */
    const __m512i ls2 = _mm512_or_si512(b->ls, _mm512_slli_epi32(b->ls, 16));
    const __m512i q4 = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    for (int c = 0; c < 4; c++) {
        p->sc[c] = _mm512_permutexvar_epi32(_mm512_add_epi32(q4, _mm512_set1_epi32(4 * c)), ls2);
        p->u[c] = _mm512_add_epi8(_mm512_mask_sub_epi8(b->g[c], b->neg[c], zero, b->g[c]), off);
    }
    p->ls16 = _mm512_cvtepi32_epi16(b->ls);
}

/* The unreduced block sum of one token: the chunks' dword lanes, the
 * offset's correction included. */
static inline __m512i block_acc(const iq_prepped *p, const block_q8_K *y)
{
    const __m256i corr = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y->bsums), p->ls16);
    __m512i acc = _mm512_zextsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(corr, 6)));
    for (int c = 0; c < 4; c++)
        acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(p->u[c], _mm512_loadu_si512(y->qs + 64 * c)), p->sc[c]);
    return acc;
}

/* Sum over the super-block of ls * (+-g) * a, exact. */
static inline int block_isum(const iq_prepped *p, const block_q8_K *y)
{
    return _mm512_reduce_add_epi32(block_acc(p, y));
}

/* Eight accumulators to their eight lane sums, in order. */
static inline __m256i reduce8(const __m512i a[8])
{
    __m256i h[8];
    for (int k = 0; k < 8; k++)
        h[k] = _mm256_add_epi32(_mm512_castsi512_si256(a[k]), _mm512_extracti64x4_epi64(a[k], 1));
    const __m256i h01 = _mm256_hadd_epi32(h[0], h[1]), h23 = _mm256_hadd_epi32(h[2], h[3]);
    const __m256i h45 = _mm256_hadd_epi32(h[4], h[5]), h67 = _mm256_hadd_epi32(h[6], h[7]);
    const __m256i lo = _mm256_hadd_epi32(h01, h23), hi = _mm256_hadd_epi32(h45, h67);
    return _mm256_add_epi32(_mm256_permute2x128_si256(lo, hi, 0x20), _mm256_permute2x128_si256(lo, hi, 0x31));
}

/* Tokens per pass over a weight row in the GEMM: each block is decoded
 * once per pass; the pass's activations (TT * 292 bytes per block) stay
 * in L2. */
#define TT 64

#define IQ_KERNELS(name, block_t, factor)                                                       \
    static void vec_dot_##name(int64_t n, float *out, const void *w, const void *a)             \
    {                                                                                           \
        const block_t *x = w;                                                                   \
        const block_q8_K *y = a;                                                                \
        float sumf = 0.0f;                                                                      \
        for (int64_t i = 0; i < n / QK_K; i++) {                                                \
            iq_chunks b;                                                                        \
            iq_prepped p;                                                                       \
            decode_##name(&x[i], &b);                                                           \
            prep(&b, &p);                                                                       \
            const int isum = block_isum(&p, &y[i]);                                             \
            const float d = h2f(x[i].d) * y[i].d;                                               \
            sumf += d * (float)isum;                                                            \
        }                                                                                       \
        *out = (factor) * sumf;                                                                 \
    }                                                                                           \
    /* vec_dot's arithmetic, each block decoded once for TT tokens */                           \
    static void gemm_rows_##name(int64_t n, const void *w, size_t row_bytes, int r0, int r1,    \
                                 const void *act, size_t act_bytes, int n_tok, float *out, size_t ldy) \
    {                                                                                           \
        const uint8_t *ab = act;                                                                \
        for (int r = r0; r < r1; r++) {                                                         \
            const block_t *x = (const block_t *)((const uint8_t *)w + (size_t)r * row_bytes);   \
            for (int t0 = 0; t0 < n_tok; t0 += TT) {                                            \
                const int tn = n_tok - t0 < TT ? n_tok - t0 : TT;                               \
                float sumf[TT];                                                                 \
                for (int t = 0; t < tn; t++)                                                    \
                    sumf[t] = 0.0f;                                                             \
                __m256 sumv[TT / 8];                                                            \
                for (int k = 0; k < TT / 8; k++)                                                \
                    sumv[k] = _mm256_setzero_ps();                                              \
                const int t8 = tn & ~7;                                                         \
                const __m256i didx = _mm256_mullo_epi32(_mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0), \
                                                        _mm256_set1_epi32((int)act_bytes));     \
                for (int64_t i = 0; i < n / QK_K; i++) {                                        \
                    iq_chunks b;                                                                \
                    iq_prepped p;                                                               \
                    decode_##name(&x[i], &b);                                                   \
                    prep(&b, &p);                                                               \
                    const float dw = h2f(x[i].d);                                               \
                    /* eight tokens at a time: sums reduced together, the */                    \
                    /* floats of vec_dot in vector lanes (same operations) */                   \
                    for (int t = 0; t < t8; t += 8) {                                           \
                        const uint8_t *y0 = ab + (size_t)(t0 + t) * act_bytes + (size_t)i * sizeof(block_q8_K); \
                        __m512i acc[8];                                                         \
                        for (int k = 0; k < 8; k++)                                             \
                            acc[k] = block_acc(&p, (const block_q8_K *)(y0 + (size_t)k * act_bytes)); \
                        const __m256 yd = _mm256_i32gather_ps((const float *)y0, didx, 1);      \
                        const __m256 d = _mm256_mul_ps(_mm256_set1_ps(dw), yd);                 \
                        sumv[t / 8] = _mm256_add_ps(sumv[t / 8], _mm256_mul_ps(d, _mm256_cvtepi32_ps(reduce8(acc)))); \
                    }                                                                           \
                    for (int t = t8; t < tn; t++) {                                             \
                        const block_q8_K *y = (const block_q8_K *)(ab + (size_t)(t0 + t) * act_bytes) + i; \
                        const int isum = block_isum(&p, y);                                     \
                        sumf[t] += (dw * y->d) * (float)isum;                                   \
                    }                                                                           \
                }                                                                               \
                for (int t = 0; t < t8; t += 8)                                                 \
                    _mm256_storeu_ps(&sumf[t], sumv[t / 8]);                                    \
                for (int t = 0; t < tn; t++)                                                    \
                    out[(size_t)(t0 + t) * ldy + (size_t)r] = (factor) * sumf[t];               \
            }                                                                                   \
        }                                                                                       \
    }

IQ_KERNELS(iq2_xxs, block_iq2_xxs, 0.125f)
IQ_KERNELS(iq2_xs, block_iq2_xs, 0.125f)
IQ_KERNELS(iq2_s, block_iq2_s, 0.125f)
IQ_KERNELS(iq3_xxs, block_iq3_xxs, 0.25f)
IQ_KERNELS(iq3_s, block_iq3_s, 1.0f)

/* ---------------------------------------------------------------------------
 * Decode's matrix-vector product: four rows at a time against the one
 * activation, so their block sums share one reduction (reduce4) and the
 * float steps run in four lanes, each lane vec_dot's operations: its bits.
 * ------------------------------------------------------------------------- */


#define IQ_DOT_ROWS(name, block_t, factor)                                                        \
    static void dot_rows_##name(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows, \
                                const void *a)                                                    \
    {                                                                                             \
        const block_q8_K *y = a;                                                                  \
        const uint8_t *wb = w;                                                                    \
        int r = 0;                                                                                \
        for (; r + 4 <= n_rows; r += 4) {                                                         \
            __m128 s4 = _mm_setzero_ps();                                                         \
            for (int64_t i = 0; i < n / QK_K; i++) {                                              \
                __m512i acc[4];                                                                   \
                float d[4];                                                                       \
                rows4_prefetch(wb + (size_t)r * row_bytes, row_bytes, i, sizeof(block_t));        \
                for (int q = 0; q < 4; q++) {                                                     \
                    const block_t *x = (const block_t *)(wb + (size_t)(r + q) * row_bytes) + i;   \
                    iq_chunks b;                                                                  \
                    iq_prepped p;                                                                 \
                    decode_##name(x, &b);                                                         \
                    prep(&b, &p);                                                                 \
                    acc[q] = block_acc(&p, &y[i]);                                                \
                    d[q] = h2f(x->d);                                                             \
                }                                                                                 \
                const __m128 t = _mm_cvtepi32_ps(reduce4_epi32(acc[0], acc[1], acc[2], acc[3]));        \
                s4 = _mm_add_ps(s4, _mm_mul_ps(_mm_mul_ps(_mm_loadu_ps(d), _mm_set1_ps(y[i].d)), t)); \
            }                                                                                     \
            _mm_storeu_ps(out + r, _mm_mul_ps(_mm_set1_ps(factor), s4));                          \
        }                                                                                         \
        for (; r < n_rows; r++)                                                                   \
            vec_dot_##name(n, out + r, wb + (size_t)r * row_bytes, a);                            \
    }

IQ_DOT_ROWS(iq2_xxs, block_iq2_xxs, 0.125f)
IQ_DOT_ROWS(iq2_xs, block_iq2_xs, 0.125f)
IQ_DOT_ROWS(iq2_s, block_iq2_s, 0.125f)
IQ_DOT_ROWS(iq3_xxs, block_iq3_xxs, 0.25f)
IQ_DOT_ROWS(iq3_s, block_iq3_s, 1.0f)

/* ---------------------------------------------------------------------------
 * The same products with AVX-512 VBMI (Ice Lake and later; chosen at
 * registration, the kernels above otherwise): byte permutes do most of
 * the unpacking in one instruction each, the per-block work being what
 * bounds decode (the gathers and the multiply-adds aside, about 60 vector
 * instructions per block above, about 30 here).
 *
 * - The 7-bit sign fields are cut out of their words by vpmultishiftqb
 *   and looked up in the 128-byte quant_ksigns_iq2xs table by one
 *   vpermi2b (which reads the index's low 7 bits: the eighth may be
 *   anything), instead of computing the parity.
 * - The grid points come with the +64 offset already added (g + 64), so
 *   the signs and the offset take one masked subtract: 128 - (g + 64) =
 *   64 - g.
 * - IQ2_XXS, IQ2_XS, IQ3_XXS and IQ3_S take no gathers: their grids'
 *   bytes are one of 3 or 8 levels, so a point is a 16- or 12-bit code,
 *   looked up with vpermi2b in tables of codes and expanded to bytes by
 *   vpermb and vpmultishiftqb (lut_bytes, iq2_chunk_mag, iq3_chunk_mag).
 *   On a Zen 4 EPYC, ns a block and row with the rows in L2, gathers ->
 *   codes: IQ2_XXS 16.5 -> 10.9, IQ2_XS 16.7 -> 15.4, IQ3_XXS 24.0 ->
 *   10.0, IQ3_S 25.3 -> 11.8. IQ2_S (1024 points) keeps its gathers.
 * - Indices, scales and their word layouts come from vpermb and
 *   vpmultishiftqb of the loaded block.
 * - The offset's correction takes the activation's negated per-16 sums,
 *   negated once per block for the four rows.
 * The products and sums are those of the kernels above: the integer sum
 * of each super-block is exact, the floats the same: their bits.
 * ------------------------------------------------------------------------- */

#define VBMI __attribute__((target("avx512vbmi")))

/* IQ2_XXS's grid as 2-bit level codes (quant_iq2xxs_grid's bytes are
 * 0x08, 0x19 or 0x2b): entry e's bytes 0..3 in g2xxs_code[e], bytes 4..7
 * in g2xxs_code[256 + e], byte j at bits 2 (j mod 4). See dv_iq2_xxs. */
static _Alignas(64) uint8_t g2xxs_code[512];
/* IQ3_XXS's grid as 3-bit level codes (its bytes are 0x04, 0x0c, ...,
 * 0x34 and 0x3e): entry e's code l0 | l1 << 3 | l2 << 6 | l3 << 9, the
 * low byte in g3xxs_code[e], the high one in g3xxs_code[256 + e]. */
static _Alignas(64) uint8_t g3xxs_code[512];
/* The same codes of IQ2_XS's 512 points (levels as IQ2_XXS's) and
 * IQ3_S's 512 (bytes 1, 3, ..., 15): low bytes, then high. */
static _Alignas(64) uint8_t g2xs_code[1024];
static _Alignas(64) uint8_t g3s_code[1024];

/* 2-bit codes of an IQ2 point's 8 bytes (0x08, 0x19, 0x2b): the low 4 in
 * the low byte, the high 4 in the high byte. */
static unsigned code_iq2(uint64_t g)
{
    unsigned lo = 0, hi = 0;
    for (int j = 0; j < 8; j++) {
        const uint8_t b = (uint8_t)(g >> (8 * j));
        const unsigned l = b == 0x08 ? 0 : b == 0x19 ? 1 : 2;
        if (j < 4)
            lo |= l << (2 * j);
        else
            hi |= l << (2 * (j - 4));
    }
    return lo | hi << 8;
}

/* 3-bit codes of an IQ3 point's 4 bytes, level l being lv[l]. */
static unsigned code_iq3(uint32_t g, const uint8_t lv[8])
{
    unsigned code = 0;
    for (int j = 0; j < 4; j++) {
        const uint8_t b = (uint8_t)(g >> (8 * j));
        unsigned l = 0;
        while (l < 7 && lv[l] != b)
            l++;
        code |= l << (3 * j);
    }
    return code;
}

/* Code `code` of point e of an n-point grid into tab: its low byte at e,
 * its high byte at n + e (the low and the high tables lut_bytes reads). */
static void put_code(uint8_t *tab, int n, int e, unsigned code)
{
    tab[e] = (uint8_t)code;
    tab[n + e] = (uint8_t)(code >> 8);
}

/* IQ2_S's grid + 64 in each byte (the magnitudes are at most 62: no
 * carry), for its gathers: a code table of its 1024 points took sixteen
 * vpermi2b a block, slower than the gathers (Zen 4: 17.7 -> 24.9 ns a
 * block and row). */
static _Alignas(64) uint64_t g2s_b[1024];

/* The code tables and IQ2_S's biased grid, from quant_codebook.c's grids
 * (whose bytes test_codebook pins: each is one of the levels named here,
 * which the twin tests would catch otherwise). */
static void build_grid_tables(void)
{
    static const uint8_t lv3xxs[8] = {0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3e};
    static const uint8_t lv3s[8] = {0x01, 0x03, 0x05, 0x07, 0x09, 0x0b, 0x0d, 0x0f};
    for (int e = 0; e < 256; e++) {
        put_code(g2xxs_code, 256, e, code_iq2(quant_iq2xxs_grid[e]));
        put_code(g3xxs_code, 256, e, code_iq3(quant_iq3xxs_grid[e], lv3xxs));
    }
    for (int e = 0; e < 512; e++) {
        put_code(g2xs_code, 512, e, code_iq2(quant_iq2xs_grid[e]));
        put_code(g3s_code, 512, e, code_iq3(quant_iq3s_grid[e], lv3s));
    }
    for (int i = 0; i < 1024; i++)
        g2s_b[i] = quant_iq2s_grid[i] + 0x4040404040404040ull;
}

/* A super-block ready for the multiply-adds: per chunk of 64 elements the
 * signed weights + 64 as unsigned bytes and its dword lanes' scales (both
 * words), and the per-16 scales as words for the offset's correction. */
typedef struct iqv {
    __m512i u[4];
    __m512i sc[4];
    __m256i ls16;
} iqv;

/* Masks loaded straight from memory (kmovq k, m64: a load, no vector
 * port). Written as plain C, the compiler keeps the sign bytes in vector
 * registers and moves them out through general registers (vmovq,
 * vpextrq, kmovq k, r64): about a dozen port 0 and port 5 instructions
 * per block, in a loop those ports bound. */
static inline __mmask64 kload64(const void *p)
{
    __mmask64 k;
    __asm__("kmovq %1, %0" : "=k"(k) : "m"(*(const uint8_t(*)[8])p));
    return k;
}

static inline __mmask16 kload16(const void *p)
{
    __mmask16 k;
    __asm__("kmovw %1, %0" : "=k"(k) : "m"(*(const uint8_t(*)[2])p));
    return k;
}

/* u = +-(G - 64) + 64 from the biased magnitudes G and the minus signs */
static inline __m512i signed_u(__m512i G, __mmask64 neg)
{
    return _mm512_mask_sub_epi8(G, neg, _mm512_set1_epi8(-128), G);
}

/* The 8 bytes of a multishift control, byte k from bit offset o_k. */
#define MS8(o0, o1, o2, o3, o4, o5, o6, o7)                                                         \
    _mm512_set1_epi64((long long)((uint64_t)(o0) | (uint64_t)(o1) << 8 | (uint64_t)(o2) << 16 |     \
                                  (uint64_t)(o3) << 24 | (uint64_t)(o4) << 32 | (uint64_t)(o5) << 40 | \
                                  (uint64_t)(o6) << 48 | (uint64_t)(o7) << 56))

/* Sign bytes from 7-bit fields (bit 7 of each byte ignored). */
VBMI static inline __m512i ksigns_of(__m512i fields)
{
    const __m512i t0 = _mm512_loadu_si512(quant_ksigns_iq2xs);
    const __m512i t1 = _mm512_loadu_si512(quant_ksigns_iq2xs + 64);
    return _mm512_permutex2var_epi8(t0, fields, t1);
}

/* Per-32 scales: dword m of the result is (2 s_m + 1) in both words, s_m
 * the nibble at bit offset off_m of its qword (offsets given per qword,
 * dword 2q at lo, 2q + 1 at hi). The shift by one in words moves at most
 * a stray bit 7 into the masked-off bit 8. */
VBMI static inline __m512i ls32_words(__m512i src, int lo, int hi)
{
    const __m512i ctl = MS8(lo, 0, lo, 0, hi, 0, hi, 0);
    const __m512i n = _mm512_slli_epi16(_mm512_multishift_epi64_epi8(ctl, src), 1);
    /* (n & 0x1e) | 1 in each word */
    return _mm512_ternarylogic_epi32(n, _mm512_set1_epi32(0x001e001e), _mm512_set1_epi32(0x00010001), 0xea);
}

/* The per-32 scales' chunk vectors: dword lane j of chunk c takes
 * sub-block 2 c + j / 8, dword (2 c + j / 8) * step + first of X2. */
static inline void sc_from_ls32(__m512i X2, int first, int step, iqv *v)
{
    for (int c = 0; c < 4; c++) {
        const int a = (2 * c) * step + first, b = (2 * c + 1) * step + first;
        v->sc[c] = _mm512_permutexvar_epi32(_mm512_set_epi32(b, b, b, b, b, b, b, b, a, a, a, a, a, a, a, a), X2);
    }
}

/* Per-16 scales from 8 bytes of two nibbles: chunk vectors and words. */
VBMI static inline void sc_from_nibbles(const uint8_t *scales, iqv *v)
{
    const __m128i src = _mm_set1_epi64x((long long)ld64(scales));
    const __m128i ctl = _mm_set_epi64x(0x3c3834302c282420ll, 0x1c1814100c080400ll);
    const __m128i n = _mm_slli_epi16(_mm_multishift_epi64_epi8(ctl, src), 1);
    /* byte k: 2 s_k + 1 */
    const __m128i L = _mm_ternarylogic_epi32(n, _mm_set1_epi8(0x1e), _mm_set1_epi8(1), 0xea);
    const __m512i Lz = _mm512_castsi128_si512(L);
    for (int c = 0; c < 4; c++) {
        /* bytes 0 and 2 of dword lane j: scale 4 c + j / 4 */
        const __m512i ctl_c = _mm512_add_epi8(_mm512_set1_epi8((char)(4 * c)),
                                              _mm512_set_epi32(0x00030003, 0x00030003, 0x00030003, 0x00030003,
                                                               0x00020002, 0x00020002, 0x00020002, 0x00020002,
                                                               0x00010001, 0x00010001, 0x00010001, 0x00010001,
                                                               0, 0, 0, 0));
        v->sc[c] = _mm512_maskz_permutexvar_epi8(0x5555555555555555ull, ctl_c, Lz);
    }
    v->ls16 = _mm256_cvtepu8_epi16(L);
}

/* Qword lane k of the result: word 8 c + k of w (bytes 16 c + 2 k, + 1). */
VBMI static inline __m512i words_to_qwords(__m512i w, int c)
{
    const __m512i ctl = _mm512_add_epi8(_mm512_set1_epi8((char)(16 * c)),
                                        _mm512_set_epi64(0x0f0e, 0x0d0c, 0x0b0a, 0x0908, 0x0706, 0x0504, 0x0302, 0x0100));
    return _mm512_maskz_permutexvar_epi8(0x0303030303030303ull, ctl, w);
}

/* Byte table lookups of 64 lanes without gathers: lane i of the result is
 * T[index_i] for the lanes in `lanes` (0 elsewhere), index_i being byte i
 * of I (bits 0..7) plus 256 if bit i of b8 and 512 if bit i of b9 (the
 * table's size: 256 x 2^nhi bytes, nhi the high bits in use). Each
 * vpermi2b reads 128 entries, chosen by the index's bit 7 and the high
 * bits. */
VBMI static inline __m512i lut_bytes(const uint8_t *tab, int nhi, __m512i I, __mmask64 b8, __mmask64 b9,
                                     __mmask64 lanes)
{
    const __m512i *T = (const __m512i *)tab;
    const __mmask64 b7 = _mm512_movepi8_mask(I);
    __m512i r = _mm512_setzero_si512();
    for (int h = 0; h < (1 << nhi); h++) {
        __mmask64 sel = lanes;
        if (nhi >= 1)
            sel &= (h & 1) ? b8 : ~b8;
        if (nhi >= 2)
            sel &= (h & 2) ? b9 : ~b9;
        r = _mm512_ternarylogic_epi64(r, _mm512_maskz_permutex2var_epi8(sel & ~b7, T[4 * h], I, T[4 * h + 1]),
                                      _mm512_maskz_permutex2var_epi8(sel & b7, T[4 * h + 2], I, T[4 * h + 3]),
                                      0xfe);
    }
    return r;
}

/* The biased magnitudes of an IQ2 chunk from R, whose qword k holds the
 * code bytes of point k of every chunk (byte 2 c: chunk c's low code,
 * 2 c + 1 its high one; the lookups put them there): vpmultishiftqb
 * moves element j's code to the bottom of byte j, vpermb maps it to the
 * magnitude + 64 (its table repeating every four entries, so the bits
 * above the code do not matter). */
VBMI static inline __m512i iq2_chunk_mag(__m512i R, int c)
{
    const int o = 16 * c;
    return _mm512_permutexvar_epi8(
        _mm512_multishift_epi64_epi8(MS8(o, o + 2, o + 4, o + 6, o + 8, o + 10, o + 12, o + 14), R),
        _mm512_set1_epi32(0x006b5948));
}

/* The same for IQ3 from the low and high code bytes of its 64 points
 * (lane p: point p): one vpermi2b puts, in qword m, the codes of points
 * 2 m and 2 m + 1 of chunk c (bytes 0..3) and of chunk c + 1 (bytes
 * 4..7); iq3_chunk_mag takes half h of them. mag holds the 8 magnitudes
 * + 64. */
VBMI static inline __m512i iq3_pair_codes(__m512i L, __m512i Hc, int c)
{
#define Q3P(m, c)                                                                                \
    ((uint64_t)(16 * (c) + 2 * (m)) | (uint64_t)(64 + 16 * (c) + 2 * (m)) << 8 |               \
     (uint64_t)(16 * (c) + 2 * (m) + 1) << 16 | (uint64_t)(64 + 16 * (c) + 2 * (m) + 1) << 24)
#define Q3X(m) ((long long)(Q3P(m, c) | Q3P(m, c + 1) << 32))
    const __m512i ctl = _mm512_set_epi64(Q3X(7), Q3X(6), Q3X(5), Q3X(4), Q3X(3), Q3X(2), Q3X(1), Q3X(0));
#undef Q3X
#undef Q3P
    return _mm512_permutex2var_epi8(L, ctl, Hc);
}

VBMI static inline __m512i iq3_chunk_mag(__m512i P, int h, __m512i mag)
{
    const int o = 32 * h;
    return _mm512_permutexvar_epi8(
        _mm512_multishift_epi64_epi8(MS8(o, o + 3, o + 6, o + 9, o + 16, o + 19, o + 22, o + 25), P), mag);
}

/* IQ2_XXS's grid points without gathers (a gather of eight points cost
 * more than the rest of the block's work on a Zen 4): the 32 index bytes,
 * each twice, look up their points' level codes in g2xxs_code, one copy
 * the low halves', the other the high halves' (four vpermi2b over the
 * table's 512 bytes, each lane kept from the one its index's bit 7 and
 * its copy select). The index bytes are laid out so that the codes land
 * where iq2_chunk_mag reads them (qword k: point k of each chunk), which
 * saves a permute a chunk (12.1 -> 10.9 ns a block and row, Zen 4). The
 * grid bytes + 64, as the kernels above add them. */
VBMI static inline void dv_iq2_xxs(const block_iq2_xxs *x, iqv *v)
{
    const __m512i W = _mm512_loadu_si512(x->qs);
    /* the sign words (odd dwords) side by side, their fields cut out */
    const __m512i SW = _mm512_permutexvar_epi32(_mm512_set_epi32(15, 13, 11, 9, 7, 5, 3, 1, 15, 13, 11, 9, 7, 5, 3, 1), W);
    const __m512i fields = _mm512_multishift_epi64_epi8(MS8(0, 7, 14, 21, 32, 39, 46, 53), SW);
    uint64_t sg[4];
    _mm256_storeu_si256((__m256i *)sg, _mm512_castsi512_si256(ksigns_of(fields)));
    const __m512i X2 = ls32_words(SW, 28, 60);
    sc_from_ls32(X2, 0, 1, v);
    v->ls16 = _mm512_castsi512_si256(X2);
    /* lanes 8 k + 2 c and 8 k + 2 c + 1: point k of chunk c, the index
     * byte 16 c + k of sub-block 2 c (k < 4) or 16 c + 8 + k - 4 of
     * 2 c + 1, looked up in the low and the high code table */
    const __m512i ictl = _mm512_set_epi64(0x3b3b2b2b1b1b0b0bll, 0x3a3a2a2a1a1a0a0all, 0x3939292919190909ll,
                                          0x3838282818180808ll, 0x3333232313130303ll, 0x3232222212120202ll,
                                          0x3131212111110101ll, 0x3030202010100000ll);
    const __m512i I = _mm512_permutexvar_epi8(ictl, W);
    const __mmask64 hi_lanes = 0xAAAAAAAAAAAAAAAAull;
    const __m512i R = _mm512_or_si512(lut_bytes(g2xxs_code, 0, I, 0, 0, ~hi_lanes),
                                      lut_bytes(g2xxs_code + 256, 0, I, 0, 0, hi_lanes));
    for (int c = 0; c < 4; c++)
        v->u[c] = signed_u(iq2_chunk_mag(R, c), kload64(&sg[c]));
}

VBMI static inline void dv_iq2_xs(const block_iq2_xs *x, iqv *v)
{
    const __m512i V = _mm512_loadu_si512(x->qs);
    /* byte 2 g + 1 holds the 7 sign bits of group g in its top 7 bits */
    const __m512i odd = _mm512_set_epi8(63, 61, 59, 57, 55, 53, 51, 49, 47, 45, 43, 41, 39, 37, 35, 33, 31, 29, 27,
                                        25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1, 63, 61, 59, 57, 55, 53, 51,
                                        49, 47, 45, 43, 41, 39, 37, 35, 33, 31, 29, 27, 25, 23, 21, 19, 17, 15, 13,
                                        11, 9, 7, 5, 3, 1);
    const __m512i fields = _mm512_srli_epi16(_mm512_permutexvar_epi8(odd, V), 1);
    uint64_t sg[4];
    _mm256_storeu_si256((__m256i *)sg, _mm512_castsi512_si256(ksigns_of(fields)));
    sc_from_nibbles(x->scales, v);
    /* lanes 8 k + 2 c and 8 k + 2 c + 1: point 8 c + k's index, the low
     * byte of its word, and its ninth bit (bit 0 of the high byte) */
    const __m512i lo = _mm512_set_epi64(0x3e3e2e2e1e1e0e0ell, 0x3c3c2c2c1c1c0c0cll, 0x3a3a2a2a1a1a0a0all,
                                        0x3838282818180808ll, 0x3636262616160606ll, 0x3434242414140404ll,
                                        0x3232222212120202ll, 0x3030202010100000ll);
    const __m512i I = _mm512_permutexvar_epi8(lo, V);
    const __mmask64 b8 = _mm512_test_epi8_mask(_mm512_permutexvar_epi8(_mm512_or_si512(lo, _mm512_set1_epi8(1)), V),
                                               _mm512_set1_epi8(1));
    const __mmask64 hi_lanes = 0xAAAAAAAAAAAAAAAAull;
    const __m512i R = _mm512_or_si512(lut_bytes(g2xs_code, 1, I, b8, 0, ~hi_lanes),
                                      lut_bytes(g2xs_code + 512, 1, I, b8, 0, hi_lanes));
    for (int c = 0; c < 4; c++)
        v->u[c] = signed_u(iq2_chunk_mag(R, c), kload64(&sg[c]));
}

VBMI static inline void dv_iq2_s(const block_iq2_s *x, iqv *v)
{
    /* qword j: the low index bytes of groups 4 j .. 4 j + 3, then qh[j];
     * multishift makes word i of it low | (qh >> 2 i) << 8 */
    const __m512i Q = _mm512_loadu_si512(x->qs);
    const __m512i H = _mm512_castsi128_si512(_mm_loadl_epi64((const __m128i *)x->qh));
    const __m512i pick = _mm512_set_epi64(0x471f1e1d1c, 0x461b1a1918, 0x4517161514, 0x4413121110, 0x430f0e0d0c,
                                          0x420b0a0908, 0x4107060504, 0x4003020100);
    const __m512i P = _mm512_permutex2var_epi8(Q, pick, H);
    const __m512i I = _mm512_and_si512(_mm512_multishift_epi64_epi8(MS8(0, 32, 8, 34, 16, 36, 24, 38), P),
                                       _mm512_set1_epi16(0x3ff));
    sc_from_nibbles(x->scales, v);
    for (int c = 0; c < 4; c++)
        v->u[c] = signed_u(_mm512_i64gather_epi64(words_to_qwords(I, c), (const void *)g2s_b, 8),
                           kload64(x->qs + QK_K / 8 + 8 * c));
}

/* IQ3_XXS's points without gathers, as dv_iq2_xxs's: the 64 index bytes
 * look up their points' 12-bit level codes (the low bytes' table and the
 * high bytes', two vpermi2b each); iq3_pair_codes and iq3_chunk_mag turn
 * them into the biased magnitudes, two chunks at a time. The same
 * magnitudes the grid gives, + 64. */
VBMI static inline void dv_iq3_xxs(const block_iq3_xxs *x, iqv *v)
{
    const __m512i SW = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(x->qs + QK_K / 4)));
    uint64_t sg[8];
    _mm512_storeu_si512(sg, ksigns_of(_mm512_multishift_epi64_epi8(MS8(0, 7, 14, 21, 32, 39, 46, 53), SW)));
    const __m512i X2 = ls32_words(SW, 28, 60);
    sc_from_ls32(X2, 0, 1, v);
    v->ls16 = _mm512_castsi512_si256(X2);
    const __m512i I = _mm512_loadu_si512(x->qs);
    const __m512i L = lut_bytes(g3xxs_code, 0, I, 0, 0, ~0ull), Hc = lut_bytes(g3xxs_code + 256, 0, I, 0, 0, ~0ull);
    /* magnitude + 64 of code l, repeated every eight bytes */
    const __m512i mag = _mm512_set1_epi64(0x7e746c645c544c44ll);
    for (int c = 0; c < 4; c += 2) {
        const __m512i P = iq3_pair_codes(L, Hc, c);
        v->u[c] = signed_u(iq3_chunk_mag(P, 0, mag), _cvtu64_mask64(sg[c]));
        v->u[c + 1] = signed_u(iq3_chunk_mag(P, 1, mag), _cvtu64_mask64(sg[c + 1]));
    }
}

VBMI static inline void dv_iq3_s(const block_iq3_s *x, iqv *v)
{
    /* nibble m of the 4 scale bytes at bit 4 m: dwords 2 q, 2 q + 1 of
     * the broadcast take nibbles 2 q, 2 q + 1 (offsets 8 q, 8 q + 4) */
    const __m512i src = _mm512_set1_epi64((long long)ld32(x->scales));
    const __m512i ctl = _mm512_set_epi64(0x001c001c00180018ll, 0x0014001400100010ll, 0x000c000c00080008ll,
                                         0x0004000400000000ll, 0x001c001c00180018ll, 0x0014001400100010ll,
                                         0x000c000c00080008ll, 0x0004000400000000ll);
    const __m512i n = _mm512_slli_epi16(_mm512_multishift_epi64_epi8(ctl, src), 1);
    const __m512i X2 = _mm512_ternarylogic_epi32(n, _mm512_set1_epi32(0x001e001e), _mm512_set1_epi32(0x00010001), 0xea);
    sc_from_ls32(X2, 0, 1, v);
    v->ls16 = _mm512_castsi512_si256(X2);
    /* point p's index: byte p of qs, plus 256 if bit p of qh */
    const __m512i I = _mm512_loadu_si512(x->qs);
    const __mmask64 b8 = kload64(x->qh);
    const __m512i L = lut_bytes(g3s_code, 1, I, b8, 0, ~0ull), Hc = lut_bytes(g3s_code + 512, 1, I, b8, 0, ~0ull);
    const __m512i mag = _mm512_set1_epi64(0x4f4d4b4947454341ll);
    for (int c = 0; c < 4; c += 2) {
        const __m512i P = iq3_pair_codes(L, Hc, c);
        v->u[c] = signed_u(iq3_chunk_mag(P, 0, mag), kload64(x->signs + 8 * c));
        v->u[c + 1] = signed_u(iq3_chunk_mag(P, 1, mag), kload64(x->signs + 8 * (c + 1)));
    }
}

/* The unreduced block sum against an activation block whose quants are
 * qy and negated per-16 sums nbs: the offset's correction included. */
static inline __m512i acc_v(const iqv *v, const __m512i qy[4], __m256i nbs)
{
    __m512i acc = _mm512_zextsi256_si512(_mm256_slli_epi32(_mm256_madd_epi16(nbs, v->ls16), 6));
    for (int c = 0; c < 4; c++)
        acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(v->u[c], qy[c]), v->sc[c]);
    return acc;
}

static inline void load_act(const block_q8_K *y, __m512i qy[4], __m256i *nbs)
{
    for (int c = 0; c < 4; c++)
        qy[c] = _mm512_loadu_si512(y->qs + 64 * c);
    *nbs = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_loadu_si256((const __m256i *)y->bsums));
}

#define IQ_VBMI(name, block_t, factor)                                                            \
    VBMI static void vec_dot_v_##name(int64_t n, float *out, const void *w, const void *a)        \
    {                                                                                             \
        const block_t *x = w;                                                                     \
        const block_q8_K *y = a;                                                                  \
        float sumf = 0.0f;                                                                        \
        for (int64_t i = 0; i < n / QK_K; i++) {                                                  \
            __m512i qy[4];                                                                        \
            __m256i nbs;                                                                          \
            iqv v;                                                                                \
            load_act(&y[i], qy, &nbs);                                                            \
            dv_##name(&x[i], &v);                                                                 \
            const int isum = _mm512_reduce_add_epi32(acc_v(&v, qy, nbs));                         \
            const float d = h2f(x[i].d) * y[i].d;                                                 \
            sumf += d * (float)isum;                                                              \
        }                                                                                         \
        *out = (factor) * sumf;                                                                   \
    }                                                                                             \
    VBMI static void dot_rows_v_##name(int64_t n, float *out, const void *w, size_t row_bytes,    \
                                       int n_rows, const void *a)                                 \
    {                                                                                             \
        const block_q8_K *y = a;                                                                  \
        const uint8_t *wb = w;                                                                    \
        int r = 0;                                                                                \
        for (; r + 4 <= n_rows; r += 4) {                                                         \
            __m128 s4 = _mm_setzero_ps();                                                         \
            for (int64_t i = 0; i < n / QK_K; i++) {                                              \
                __m512i qy[4], acc[4];                                                            \
                __m256i nbs;                                                                      \
                float d[4];                                                                       \
                load_act(&y[i], qy, &nbs);                                                        \
                rows4_prefetch(wb + (size_t)r * row_bytes, row_bytes, i, sizeof(block_t));        \
                for (int q = 0; q < 4; q++) {                                                     \
                    const block_t *x = (const block_t *)(wb + (size_t)(r + q) * row_bytes) + i;   \
                    iqv v;                                                                        \
                    dv_##name(x, &v);                                                             \
                    acc[q] = acc_v(&v, qy, nbs);                                                  \
                    d[q] = h2f(x->d);                                                             \
                }                                                                                 \
                const __m128 t = _mm_cvtepi32_ps(reduce4_epi32(acc[0], acc[1], acc[2], acc[3]));        \
                s4 = _mm_add_ps(s4, _mm_mul_ps(_mm_mul_ps(_mm_loadu_ps(d), _mm_set1_ps(y[i].d)), t)); \
            }                                                                                     \
            _mm_storeu_ps(out + r, _mm_mul_ps(_mm_set1_ps(factor), s4));                          \
        }                                                                                         \
        for (; r < n_rows; r++)                                                                   \
            vec_dot_v_##name(n, out + r, wb + (size_t)r * row_bytes, a);                          \
    }

IQ_VBMI(iq2_xxs, block_iq2_xxs, 0.125f)
IQ_VBMI(iq2_xs, block_iq2_xs, 0.125f)
IQ_VBMI(iq2_s, block_iq2_s, 0.125f)
IQ_VBMI(iq3_xxs, block_iq3_xxs, 0.25f)
IQ_VBMI(iq3_s, block_iq3_s, 1.0f)

/* ---------------------------------------------------------------------------
 * Packed GEMM for larger batches (PMIN tokens and more), as the k-quants'
 * (quant_gemm_pack_avx512.c) and IQ1's: each super-block of a panel of 16
 * rows is decoded once per pass of up to PTB tokens into its unsigned
 * bytes (+-g + 64) and interleaved (dword k of each row side by side,
 * core/tr16_avx512.h), so one vpdpbusd multiplies 4 weights of 16 rows by
 * 4 broadcast activation bytes with the rows in the int32 lanes: no
 * horizontal sums. The weights are vpdpbusd's unsigned operand and the
 * activations its signed one, taken as they are (no -128 to negate). The
 * sum of each sub-block (per 16, or per 32 where the format's scale is)
 * is multiplied by its odd scale (vpmulld on the row lanes), and the +64
 * comes back as -64 ls . bsums (vpdpwssd): the super-block's exact
 * integer sum, then vec_dot's float operations lane by lane: its bits.
 * Register tiles are 32 rows x PT tokens.
 * ------------------------------------------------------------------------- */

#define PT 4
#define PTB 256
#define PMIN 8

typedef struct ipack {
    __m512i w[64];  /* dword k, lane r: weight bytes 4k..4k+3 of row r */
    __m512i ls[16]; /* lane r: the odd scale of sub-block j of row r */
    __m512i m[8];   /* lane r: -64 x the scales of sub-blocks 2p, 2p+1 (words) */
    __m512 d;       /* lane r: the half scale of row r */
} ipack;

/* One row's decoded super-block as packing takes it. */
typedef void (*iq_decode_fn)(const void *blk, iq_chunks *b, float *d);

static inline __attribute__((always_inline)) void pack_block(iq_decode_fn dec, size_t bsize, const uint8_t *w,
                                                             size_t row_bytes, int ph, int nr, int64_t i,
                                                             ipack *P)
{
    __m512i u[4][16], ls[16], m[16];
    float d[16];
    const __m512i off = _mm512_set1_epi8(64), zero = _mm512_setzero_si512();
    for (int r = 0; r < 16; r++) {
        if (r >= nr) {
            for (int c = 0; c < 4; c++)
                u[c][r] = zero;
            ls[r] = m[r] = zero;
            d[r] = 0.0f;
            continue;
        }
        iq_chunks b;
        dec(w + (size_t)(ph + r) * row_bytes + (size_t)i * bsize, &b, &d[r]);
        for (int c = 0; c < 4; c++)
            u[c][r] = _mm512_add_epi8(_mm512_mask_sub_epi8(b.g[c], b.neg[c], zero, b.g[c]), off);
        ls[r] = b.ls;
        m[r] = _mm512_zextsi256_si512(_mm256_mullo_epi16(_mm512_cvtepi32_epi16(b.ls), _mm256_set1_epi16(-64)));
    }
    for (int c = 0; c < 4; c++) {
        tr16_epi32(u[c]);
        for (int j = 0; j < 16; j++)
            P->w[16 * c + j] = u[c][j];
    }
    tr16_epi32(ls);
    tr16_epi32(m);
    for (int j = 0; j < 16; j++)
        P->ls[j] = ls[j];
    for (int j = 0; j < 8; j++)
        P->m[j] = m[j];
    P->d = _mm512_loadu_ps(d);
}

static inline int32_t dword_at(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* sv[h][t] += the super-blocks of panel h (np of them) against token t,
 * one super-block after the other; gps = dwords per scale (4 or 8). */
static inline __attribute__((always_inline)) void ptile(int gps, int np, const ipack *P0, const ipack *P1, int64_t nb,
                                                        const block_q8_K *const y[PT], __m512 sv[2][PT])
{
    for (int64_t i = 0; i < nb; i++) {
        __m512i acc[2][PT];
        const ipack *A = &P0[i], *B = &P1[i];
        for (int t = 0; t < PT; t++) {
            const block_q8_K *yb = &y[t][i];
            acc[0][t] = acc[1][t] = _mm512_setzero_si512();
            for (int q = 0; q < 8; q++) {
                const __m512i bs = _mm512_set1_epi32(dword_at(&yb->bsums[2 * q]));
                acc[0][t] = _mm512_dpwssd_epi32(acc[0][t], A->m[q], bs);
                if (np > 1)
                    acc[1][t] = _mm512_dpwssd_epi32(acc[1][t], B->m[q], bs);
            }
        }
        for (int j = 0; j < 64 / gps; j++) {
            __m512i s[2][PT];
            for (int h = 0; h < 2; h++)
                for (int t = 0; t < PT; t++)
                    s[h][t] = _mm512_setzero_si512();
            for (int k = gps * j; k < gps * (j + 1); k++) {
                const __m512i w0 = A->w[k];
                const __m512i w1 = np > 1 ? B->w[k] : w0;
                for (int t = 0; t < PT; t++) {
                    const __m512i a = _mm512_set1_epi32(dword_at(y[t][i].qs + 4 * k));
                    s[0][t] = _mm512_dpbusd_epi32(s[0][t], w0, a);
                    if (np > 1)
                        s[1][t] = _mm512_dpbusd_epi32(s[1][t], w1, a);
                }
            }
            /* sub-block j of 16 (gps 4) or 32 elements (gps 8: both halves share the scale) */
            const int sj = gps == 4 ? j : 2 * j;
            for (int t = 0; t < PT; t++) {
                acc[0][t] = _mm512_add_epi32(acc[0][t], _mm512_mullo_epi32(s[0][t], A->ls[sj]));
                if (np > 1)
                    acc[1][t] = _mm512_add_epi32(acc[1][t], _mm512_mullo_epi32(s[1][t], B->ls[sj]));
            }
        }
        for (int t = 0; t < PT; t++) {
            const __m512 yd = _mm512_set1_ps(y[t][i].d);
            for (int h = 0; h < np; h++) {
                const ipack *Q = h ? B : A;
                sv[h][t] = _mm512_add_ps(sv[h][t], _mm512_mul_ps(_mm512_mul_ps(Q->d, yd), _mm512_cvtepi32_ps(acc[h][t])));
            }
        }
    }
}

/* 0 when the work buffer cannot be had (the caller takes the row GEMM). */
static inline __attribute__((always_inline)) int gemm_packed(iq_decode_fn dec, size_t bsize, int gps, float factor,
                                                             int64_t n, const void *w, size_t row_bytes, int r0,
                                                             int r1, const void *act, size_t act_bytes, int n_tok,
                                                             float *out, size_t ldy)
{
    const int64_t nb = n / QK_K;
    _Static_assert(_Alignof(ipack) <= 64, "qgp_wbuf aligns to 64 bytes");
    ipack *P = (ipack *)qgp_wbuf(2 * (size_t)nb * sizeof(ipack));
    if (!P)
        return 0;
    const uint8_t *ab = act;
    const __m512 fv = _mm512_set1_ps(factor);
    for (int tb = 0; tb < n_tok; tb += PTB) {
        const int te = n_tok - tb < PTB ? n_tok : tb + PTB;
        for (int p0 = r0; p0 < r1; p0 += 32) {
            const int np = r1 - p0 > 16 ? 2 : 1;
            __mmask16 mrow[2] = {0, 0};
            for (int h = 0; h < np; h++) {
                const int ph = p0 + 16 * h, nr = r1 - ph < 16 ? r1 - ph : 16;
                mrow[h] = (__mmask16)((1u << nr) - 1);
                for (int64_t i = 0; i < nb; i++)
                    pack_block(dec, bsize, w, row_bytes, ph, nr, i, &P[h * nb + i]);
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
                if (gps == 4) {
                    if (np > 1)
                        ptile(4, 2, P, P + nb, nb, y, sv);
                    else
                        ptile(4, 1, P, P, nb, y, sv);
                } else {
                    if (np > 1)
                        ptile(8, 2, P, P + nb, nb, y, sv);
                    else
                        ptile(8, 1, P, P, nb, y, sv);
                }
                for (int h = 0; h < np; h++)
                    for (int t = 0; t < nt; t++)
                        _mm512_mask_storeu_ps(out + (size_t)(t0 + t) * ldy + (size_t)(p0 + 16 * h), mrow[h],
                                              _mm512_mul_ps(fv, sv[h][t]));
            }
        }
    }
    return 1;
}

#define IQ_PACKED(name, block_t, gps, factor)                                                     \
    static void pdec_##name(const void *blk, iq_chunks *b, float *d)                              \
    {                                                                                             \
        decode_##name((const block_t *)blk, b);                                                   \
        *d = h2f(((const block_t *)blk)->d);                                                      \
    }                                                                                             \
    static void gemm_##name(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act, \
                            size_t act_bytes, int n_tok, float *out, size_t ldy)                  \
    {                                                                                             \
        if (n_tok >= PMIN && gemm_packed(pdec_##name, sizeof(block_t), gps, factor, n, w, row_bytes, r0, r1, \
                                         act, act_bytes, n_tok, out, ldy))                        \
            return;                                                                               \
        gemm_rows_##name(n, w, row_bytes, r0, r1, act, act_bytes, n_tok, out, ldy);               \
    }

IQ_PACKED(iq2_xxs, block_iq2_xxs, 8, 0.125f)
IQ_PACKED(iq2_xs, block_iq2_xs, 4, 0.125f)
IQ_PACKED(iq2_s, block_iq2_s, 4, 0.125f)
IQ_PACKED(iq3_xxs, block_iq3_xxs, 8, 0.25f)
IQ_PACKED(iq3_s, block_iq3_s, 8, 1.0f)

void quant_register_iq23_avx512(quant_kernels *tab)
{
    tab[QT_IQ2_XXS].vec_dot = vec_dot_iq2_xxs;
    tab[QT_IQ2_XS].vec_dot = vec_dot_iq2_xs;
    tab[QT_IQ2_S].vec_dot = vec_dot_iq2_s;
    tab[QT_IQ3_XXS].vec_dot = vec_dot_iq3_xxs;
    tab[QT_IQ3_S].vec_dot = vec_dot_iq3_s;
    tab[QT_IQ2_XXS].vec_dot_rows = dot_rows_iq2_xxs;
    tab[QT_IQ2_XS].vec_dot_rows = dot_rows_iq2_xs;
    tab[QT_IQ2_S].vec_dot_rows = dot_rows_iq2_s;
    tab[QT_IQ3_XXS].vec_dot_rows = dot_rows_iq3_xxs;
    tab[QT_IQ3_S].vec_dot_rows = dot_rows_iq3_s;
    /* CHORD_NO_VBMI (any value): the kernels without VBMI on a CPU that
     * has it, so that their twin tests run here too */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vbmi") && !getenv("CHORD_NO_VBMI")) {
        build_grid_tables();
        tab[QT_IQ2_XXS].vec_dot = vec_dot_v_iq2_xxs;
        tab[QT_IQ2_XS].vec_dot = vec_dot_v_iq2_xs;
        tab[QT_IQ2_S].vec_dot = vec_dot_v_iq2_s;
        tab[QT_IQ3_XXS].vec_dot = vec_dot_v_iq3_xxs;
        tab[QT_IQ3_S].vec_dot = vec_dot_v_iq3_s;
        tab[QT_IQ2_XXS].vec_dot_rows = dot_rows_v_iq2_xxs;
        tab[QT_IQ2_XS].vec_dot_rows = dot_rows_v_iq2_xs;
        tab[QT_IQ2_S].vec_dot_rows = dot_rows_v_iq2_s;
        tab[QT_IQ3_XXS].vec_dot_rows = dot_rows_v_iq3_xxs;
        tab[QT_IQ3_S].vec_dot_rows = dot_rows_v_iq3_s;
    }
}

quant_gemm_fn quant_gemm_iq23_avx512_for(int type)
{
    switch (type) {
    case QT_IQ2_XXS: return gemm_iq2_xxs;
    case QT_IQ2_XS: return gemm_iq2_xs;
    case QT_IQ2_S: return gemm_iq2_s;
    case QT_IQ3_XXS: return gemm_iq3_xxs;
    case QT_IQ3_S: return gemm_iq3_s;
    default: return NULL;
    }
}
