/*
 * quant_iq4_avx2.c - AVX2 twins of the IQ4_NL, IQ4_XS and MXFP4 kernels
 * (quant_iq4.c).
 *
 * The 16-entry codebook fits one register: vpshufb turns 32 nibbles into
 * their int8 values in one instruction. Dequantization then repeats the
 * scalar twin's float operations element by element (identical bytes).
 *
 * Dot products use the sign trick (|w| * sign(y, w) with maddubs), exact
 * as long as the activation holds no -128, which the Q8_0 and Q8_K
 * quantizers never produce (|round(x * 127 / amax)| <= 127); the pair sums
 * stay below 2 * 127 * 128, so maddubs never saturates. IQ4_NL and MXFP4
 * accumulate block_scale * sum in eight float lanes (the scalar twin's
 * result up to summation order); IQ4_XS sums a super-block in integers,
 * sub-block scales applied by vpmaddwd, and then takes the scalar twin's
 * float steps: the same bits.
 */
#include <immintrin.h>

#include "quant/quant_codebook.h"
#include "quant/quant_impl.h"

static inline float h2f(qhalf h)
{
    return _cvtsh_ss(h);
}

/* E8M0 exponent to float, halved: 2^(e - 128) (as quant_iq4.c). */
static inline float e8m0_half(uint8_t e)
{
    const uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int hsum_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

/* The codebook in both 128-bit lanes (vpshufb looks up within a lane). */
static inline __m256i table(const int8_t kv[16])
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kv));
}

/* The 32 values of one block or sub-block (16 bytes of nibbles): low
 * nibbles first, then high ones, as int8 codebook values. */
static inline __m256i values_32(__m256i tab, const uint8_t *qs)
{
    const __m128i q = _mm_loadu_si128((const __m128i *)qs);
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(q, 4), q);
    return _mm256_shuffle_epi8(tab, _mm256_and_si256(both, _mm256_set1_epi8(0x0F)));
}

/* Sixteen int16 pair sums of signed w[i] * y[i] (y != -128). */
static inline __m256i dot_pairs(__m256i w, __m256i y)
{
    return _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(y, w));
}

/* 32 int8 values times d into dst: the scalar twin's (float)v * d. */
static inline void store_scaled(__m256i v, __m256 d, float *dst)
{
    const __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
    _mm256_storeu_ps(dst, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), d));
    _mm256_storeu_ps(dst + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), d));
    _mm256_storeu_ps(dst + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), d));
    _mm256_storeu_ps(dst + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), d));
}

static void dequant_iq4_nl(const void *src, float *dst, int64_t n)
{
    const block_iq4_nl *x = src;
    const __m256i tab = table(quant_kvalues_iq4nl);
    for (int64_t i = 0; i < n / QK4_NL; i++, dst += QK4_NL)
        store_scaled(values_32(tab, x[i].qs), _mm256_set1_ps(h2f(x[i].d)), dst);
}

static inline int iq4_xs_scale(const block_iq4_xs *b, int ib)
{
    const int lo = (b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF;
    const int hi = (b->scales_h >> (2 * ib)) & 3;
    return (lo | (hi << 4)) - 32;
}

static void dequant_iq4_xs(const void *src, float *dst, int64_t n)
{
    const block_iq4_xs *x = src;
    const __m256i tab = table(quant_kvalues_iq4nl);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(x[i].d);
        for (int ib = 0; ib < QK_K / 32; ib++, dst += 32)
            store_scaled(values_32(tab, x[i].qs + 16 * ib), _mm256_set1_ps(d * (float)iq4_xs_scale(&x[i], ib)), dst);
    }
}

static void dequant_mxfp4(const void *src, float *dst, int64_t n)
{
    const block_mxfp4 *x = src;
    const __m256i tab = table(quant_kvalues_mxfp4);
    for (int64_t i = 0; i < n / QK_MXFP4; i++, dst += QK_MXFP4)
        store_scaled(values_32(tab, x[i].qs), _mm256_set1_ps(e8m0_half(x[i].e)), dst);
}

static void vec_dot_iq4_nl(int64_t n, float *out, const void *w, const void *a)
{
    const block_iq4_nl *x = w;
    const block_q8_0 *y = a;
    const __m256i tab = table(quant_kvalues_iq4nl), one = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK4_NL; i++) {
        const __m256i p = dot_pairs(values_32(tab, x[i].qs), _mm256_loadu_si256((const __m256i *)y[i].qs));
        const __m256 d = _mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_madd_epi16(p, one)), acc);
    }
    *out = hsum_ps(acc);
}

static void vec_dot_mxfp4(int64_t n, float *out, const void *w, const void *a)
{
    const block_mxfp4 *x = w;
    const block_q8_0 *y = a;
    const __m256i tab = table(quant_kvalues_mxfp4), one = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_MXFP4; i++) {
        const __m256i p = dot_pairs(values_32(tab, x[i].qs), _mm256_loadu_si256((const __m256i *)y[i].qs));
        const __m256 d = _mm256_set1_ps(e8m0_half(x[i].e) * h2f(y[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_madd_epi16(p, one)), acc);
    }
    *out = hsum_ps(acc);
}

/* Per sub-block, vpmaddwd of the int16 pair sums with the sub-block scale
 * gives int32 lanes of (ls - 32) * partial dot; all exact. */
static void vec_dot_iq4_xs(int64_t n, float *out, const void *w, const void *a)
{
    const block_iq4_xs *x = w;
    const block_q8_K *y = a;
    const __m256i tab = table(quant_kvalues_iq4nl);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m256i acc = _mm256_setzero_si256();
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const __m256i p = dot_pairs(values_32(tab, x[i].qs + 16 * ib),
                                        _mm256_loadu_si256((const __m256i *)(y[i].qs + 32 * ib)));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16((short)iq4_xs_scale(&x[i], ib))));
        }
        sum += (h2f(x[i].d) * y[i].d) * (float)hsum_epi32(acc);
    }
    *out = sum;
}

void quant_register_iq4_avx2(quant_kernels *tab)
{
    tab[QT_IQ4_NL].dequant = dequant_iq4_nl;
    tab[QT_IQ4_NL].vec_dot = vec_dot_iq4_nl;
    tab[QT_IQ4_XS].dequant = dequant_iq4_xs;
    tab[QT_IQ4_XS].vec_dot = vec_dot_iq4_xs;
    tab[QT_MXFP4].dequant = dequant_mxfp4;
    tab[QT_MXFP4].vec_dot = vec_dot_mxfp4;
}
