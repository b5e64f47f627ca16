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

/* The F16 dot in one fixed order, whether the activation comes as halves
 * (vec_dot) or already widened to floats (vec_dot_rows; the widening is
 * exact, so both give the same bits): four chains of 16-lane FMAs over
 * 64 elements a step (two chains left the FMA latency exposed: decode ran
 * at half its memory bound), then 16 at a time into the first, then
 * (a0 + a1) + (a2 + a3) folded, then the last n % 16 one by one. */
#define F16_DOT(LOADY, TAILY)                                                                   \
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();                                  \
    __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();                                  \
    int64_t i = 0;                                                                              \
    for (; i + 64 <= n; i += 64) {                                                              \
        a0 = _mm512_fmadd_ps(load_f16(x + i), LOADY(i), a0);                                    \
        a1 = _mm512_fmadd_ps(load_f16(x + i + 16), LOADY(i + 16), a1);                          \
        a2 = _mm512_fmadd_ps(load_f16(x + i + 32), LOADY(i + 32), a2);                          \
        a3 = _mm512_fmadd_ps(load_f16(x + i + 48), LOADY(i + 48), a3);                          \
    }                                                                                           \
    for (; i + 16 <= n; i += 16)                                                                \
        a0 = _mm512_fmadd_ps(load_f16(x + i), LOADY(i), a0);                                    \
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))); \
    for (; i < n; i++)                                                                          \
        sum += h2f(x[i]) * TAILY(i);

#define Y_HALVES(k) load_f16(y + (k))
#define Y_HALF(k) h2f(y[k])
#define Y_FLOATS(k) _mm512_loadu_ps(yf + (k))
#define Y_FLOAT(k) yf[k]

static void vec_dot_f16(int64_t n, float *out, const void *w, const void *a)
{
    const uint16_t *x = w, *y = a;
    F16_DOT(Y_HALVES, Y_HALF)
    *out = sum;
}

/* Rows of up to this many elements have their activation widened once on
 * the stack (32 KiB); longer ones loop over vec_dot_f16. */
#define F16_ROWS_MAX 8192

/* Decode's matrix-vector product: the activation is widened to floats once
 * for all rows, which leaves one conversion per 16 weights instead of two. */
static void vec_dot_rows_f16(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows,
                             const void *a)
{
    if (n > F16_ROWS_MAX) {
        for (int r = 0; r < n_rows; r++)
            vec_dot_f16(n, out + r, (const uint8_t *)w + (size_t)r * row_bytes, a);
        return;
    }
    float yf[F16_ROWS_MAX];
    dequant_f16(a, yf, n);
    for (int r = 0; r < n_rows; r++) {
        const uint16_t *x = (const uint16_t *)((const uint8_t *)w + (size_t)r * row_bytes);
        F16_DOT(Y_FLOATS, Y_FLOAT)
        out[r] = sum;
    }
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
    tab[QT_F16].vec_dot_rows = vec_dot_rows_f16;
    tab[QT_BF16].dequant = dequant_bf16;
    tab[QT_BF16].vec_dot = vec_dot_bf16;
}
