/*
 * quant_float.c - the float formats (F32, F16, BF16): conversions and the
 * scalar reference kernels. A float row's activation is the same format
 * (the reference rounds activations to the weight's type for F16/BF16).
 */
#include "quant/quant_impl.h"

#include <string.h>

float quant_f16_to_f32(uint16_t h)
{
    return quant_h2f(h);
}

/* Float -> binary16 with round to nearest even on the bit pattern:
 * adding 0xfff plus the lowest kept bit rounds the 13 dropped bits to
 * nearest, ties to even, and lets a carry ripple into the exponent. */
uint16_t quant_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) /* NaN: quiet, keep the top payload bits */
        return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x3ff));
    if (ax >= 0x477ff000u) /* >= 65520 (65504 + half an ulp, tie to even) */
        return (uint16_t)(sign | 0x7c00);
    if (ax >= 0x38800000u) { /* a normal half (>= 2^-14) */
        ax += 0xfffu + ((ax >> 13) & 1);
        return (uint16_t)(sign | ((ax - (112u << 23)) >> 13));
    }
    /* Subnormal half: count units of 2^-24. The scaling is exact (a power
     * of two), so only the final rounding happens, and 1024 units encode
     * the smallest normal correctly. */
    float a;
    memcpy(&a, &ax, 4);
    return (uint16_t)(sign | quant_nearest_int(a * 16777216.0f));
}

float quant_bf16_to_f32(uint16_t h)
{
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

uint16_t quant_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* NaN: truncating could make inf */
        return (uint16_t)((x >> 16) | 64);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

/* ---------------------------------------------------------------------------
 * Scalar kernels
 * ------------------------------------------------------------------------- */

void quant_dequant_f32(const void *src, float *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void quant_dequant_f16(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = quant_h2f(s[i]);
}

void quant_dequant_bf16(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = quant_bf16_to_f32(s[i]);
}

void quant_quantize_f32(const float *src, void *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void quant_quantize_f16(const float *src, void *dst, int64_t n)
{
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++)
        d[i] = quant_f32_to_f16(src[i]);
}

void quant_quantize_bf16(const float *src, void *dst, int64_t n)
{
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++)
        d[i] = quant_f32_to_bf16(src[i]);
}

/* The float dots keep four partial sums so that the scalar twin's rounding
 * is in the same league as the SIMD ones (and the loop vectorizes). */
void quant_vec_dot_f32(int64_t n, float *out, const void *w, const void *a)
{
    const float *x = w, *y = a;
    float s[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            s[k] += x[i + k] * y[i + k];
    for (; i < n; i++)
        s[0] += x[i] * y[i];
    *out = (s[0] + s[1]) + (s[2] + s[3]);
}

void quant_vec_dot_f16(int64_t n, float *out, const void *w, const void *a)
{
    const uint16_t *x = w, *y = a;
    float s[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            s[k] += quant_h2f(x[i + k]) * quant_h2f(y[i + k]);
    for (; i < n; i++)
        s[0] += quant_h2f(x[i]) * quant_h2f(y[i]);
    *out = (s[0] + s[1]) + (s[2] + s[3]);
}

void quant_vec_dot_bf16(int64_t n, float *out, const void *w, const void *a)
{
    const uint16_t *x = w, *y = a;
    float s[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            s[k] += quant_bf16_to_f32(x[i + k]) * quant_bf16_to_f32(y[i + k]);
    for (; i < n; i++)
        s[0] += quant_bf16_to_f32(x[i]) * quant_bf16_to_f32(y[i]);
    *out = (s[0] + s[1]) + (s[2] + s[3]);
}
