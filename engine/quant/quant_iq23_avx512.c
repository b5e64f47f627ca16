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
 * The prefill GEMM repeats vec_dot's arithmetic with each block decoded
 * once for up to 64 tokens, eight tokens reduced together and their
 * floats combined in vector lanes by the same operations: vec_dot's bits.
 *
 * The sign bytes of IQ2_XXS, IQ2_XS and IQ3_XXS store 7 bits and leave the
 * eighth to parity (an even count of minus signs): computed here in
 * vector lanes rather than looked up 32 times per block.
 */
#include <immintrin.h>

#include "quant/quant_codebook.h"
#include "quant/quant_impl.h"

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
    static void gemm_##name(int64_t n, const void *w, size_t row_bytes, int r0, int r1,         \
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

void quant_register_iq23_avx512(quant_kernels *tab)
{
    tab[QT_IQ2_XXS].vec_dot = vec_dot_iq2_xxs;
    tab[QT_IQ2_XS].vec_dot = vec_dot_iq2_xs;
    tab[QT_IQ2_S].vec_dot = vec_dot_iq2_s;
    tab[QT_IQ3_XXS].vec_dot = vec_dot_iq3_xxs;
    tab[QT_IQ3_S].vec_dot = vec_dot_iq3_s;
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
