/*
 * quant_float_avx512.c - AVX-512 twins of the float-format kernels
 * (quant_float.c): 16-lane dequantization and FMA dot products. The BF16
 * dot product uses vdpbf16ps (AVX512_BF16), which multiplies bf16 pairs
 * exactly and accumulates in float. All dots differ from the scalar twin
 * by summation order only (vdpbf16ps also flushes subnormal inputs and
 * results to zero, far below the comparison's tolerance); conversions are
 * bit-identical.
 */
#include <immintrin.h>

#include "quant/quant_impl.h"

/* One half scale to float: a single F16C instruction (exact, like
 * quant_h2f) instead of the portable bit manipulation. */
static inline float h2f(qhalf h)
{
    return _cvtsh_ss(h);
}

static inline __m512 load_f16(const uint16_t *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

static inline __m512 load_bf16(const uint16_t *p)
{
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

static void dequant_f16(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, load_f16(s + i));
    for (; i < n; i++)
        dst[i] = h2f(s[i]);
}

static void dequant_bf16(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, load_bf16(s + i));
    for (; i < n; i++)
        dst[i] = quant_bf16_to_f32(s[i]);
}

static void vec_dot_f32(int64_t n, float *out, const void *w, const void *a)
{
    const float *x = w, *y = a;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), acc1);
    }
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    for (; i < n; i++)
        sum += x[i] * y[i];
    *out = sum;
}

static void vec_dot_f16(int64_t n, float *out, const void *w, const void *a)
{
    const uint16_t *x = w, *y = a;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm512_fmadd_ps(load_f16(x + i), load_f16(y + i), acc0);
        acc1 = _mm512_fmadd_ps(load_f16(x + i + 16), load_f16(y + i + 16), acc1);
    }
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    for (; i < n; i++)
        sum += h2f(x[i]) * h2f(y[i]);
    *out = sum;
}

static void vec_dot_bf16(int64_t n, float *out, const void *w, const void *a)
{
    const uint16_t *x = w, *y = a;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        acc0 = _mm512_dpbf16_ps(acc0, (__m512bh)_mm512_loadu_si512(x + i), (__m512bh)_mm512_loadu_si512(y + i));
        acc1 = _mm512_dpbf16_ps(acc1, (__m512bh)_mm512_loadu_si512(x + i + 32),
                                (__m512bh)_mm512_loadu_si512(y + i + 32));
    }
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    for (; i < n; i++)
        sum += quant_bf16_to_f32(x[i]) * quant_bf16_to_f32(y[i]);
    *out = sum;
}

void quant_register_float_avx512(quant_kernels *tab)
{
    tab[QT_F32].vec_dot = vec_dot_f32;
    tab[QT_F16].dequant = dequant_f16;
    tab[QT_F16].vec_dot = vec_dot_f16;
    tab[QT_BF16].dequant = dequant_bf16;
    tab[QT_BF16].vec_dot = vec_dot_bf16;
}
