/*
 * quant_float_avx2.c - AVX2/F16C/FMA twins of the float-format kernels
 * (quant_float.c). Conversions are bit-identical to the scalar ones (F16C
 * rounds to nearest even and quiets NaNs the same way); dot products use
 * FMA and eight-lane partial sums, so they differ from the scalar twin by
 * summation order only.
 *
 * Compiled with -mavx2 -mfma -mf16c; called only through the dispatch
 * table when the CPU has those.
 */
#include <immintrin.h>

#include "quant/quant_impl.h"

/* One half scale to float: a single F16C instruction (exact, like
 * quant_h2f) instead of the portable bit manipulation. */
static inline float h2f(qhalf h)
{
    return _cvtsh_ss(h);
}

static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256 load_bf16(const uint16_t *p)
{
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

static void dequant_f16(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
    for (; i < n; i++)
        dst[i] = h2f(s[i]);
}

static void dequant_bf16(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, load_bf16(s + i));
    for (; i < n; i++)
        dst[i] = quant_bf16_to_f32(s[i]);
}

static void quantize_f16(const float *src, void *dst, int64_t n)
{
    uint16_t *d = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(d + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        d[i] = quant_f32_to_f16(src[i]);
}

/* Same bit recipe as quant_f32_to_bf16, eight at a time. */
static void quantize_bf16(const float *src, void *dst, int64_t n)
{
    uint16_t *d = dst;
    const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
    const __m256i bias = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i u = _mm256_castps_si256(_mm256_loadu_ps(src + i));
        const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs_mask), inf);
        const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
        const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(bias, odd)), 16);
        const __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(64));
        const __m256i v = _mm256_blendv_epi8(r, q, is_nan);
        /* pack the eight 32-bit values (all <= 0xffff) to 16 bits in order */
        const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(v, v), 0x08);
        _mm_storeu_si128((__m128i *)(d + i), _mm256_castsi256_si128(p));
    }
    for (; i < n; i++)
        d[i] = quant_f32_to_bf16(src[i]);
}

static void vec_dot_f32(int64_t n, float *out, const void *w, const void *a)
{
    const float *x = w, *y = a;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), acc1);
    }
    float sum = hsum_ps(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++)
        sum += x[i] * y[i];
    *out = sum;
}

static void vec_dot_f16(int64_t n, float *out, const void *w, const void *a)
{
    const uint16_t *x = w, *y = a;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 x0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        const __m256 y0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i)));
        const __m256 x1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 8)));
        const __m256 y1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i + 8)));
        acc0 = _mm256_fmadd_ps(x0, y0, acc0);
        acc1 = _mm256_fmadd_ps(x1, y1, acc1);
    }
    float sum = hsum_ps(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++)
        sum += h2f(x[i]) * h2f(y[i]);
    *out = sum;
}

static void vec_dot_bf16(int64_t n, float *out, const void *w, const void *a)
{
    const uint16_t *x = w, *y = a;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(load_bf16(x + i), load_bf16(y + i), acc0);
        acc1 = _mm256_fmadd_ps(load_bf16(x + i + 8), load_bf16(y + i + 8), acc1);
    }
    float sum = hsum_ps(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++)
        sum += quant_bf16_to_f32(x[i]) * quant_bf16_to_f32(y[i]);
    *out = sum;
}

void quant_register_float_avx2(quant_kernels *tab)
{
    tab[QT_F32].vec_dot = vec_dot_f32;
    tab[QT_F16] = (quant_kernels){.dequant = dequant_f16, .quantize = quantize_f16, .vec_dot = vec_dot_f16};
    tab[QT_BF16] = (quant_kernels){.dequant = dequant_bf16, .quantize = quantize_bf16, .vec_dot = vec_dot_bf16};
}
