/*
 * quant_legacy.c - the 32-element block formats (Q4_0, Q4_1, Q5_0, Q5_1,
 * Q8_0): scalar reference dequantization, quantization and dot products.
 *
 * Dequantization follows the format's formulas in their exact order of
 * operations (q * d, q * d + m), since reference files compare bit for bit.
 * Quantization follows the reference rounding (Q8_0: x * 127/amax rounded
 * to nearest even; the 4/5-bit types: truncation of x / d + offset + 0.5),
 * so that activations quantized here match those of the reference
 * implementation.
 *
 * The legacy dot products take Q8_0 activations, except those of the types
 * with a min (Q4_1, Q5_1): they take Q8_1, whose s = d * sum(qs) (rounded
 * to a half, as the reference has it) gives the min term.
 */
#include "quant/quant_impl.h"

#include <float.h>
#include <math.h>
#include <string.h>

static inline uint32_t load_qh(const uint8_t qh[4])
{
    uint32_t v;
    memcpy(&v, qh, 4);
    return v;
}

/* ---------------------------------------------------------------------------
 * Dequantization
 * ------------------------------------------------------------------------- */

void quant_dequant_q4_0(const void *src, float *dst, int64_t n)
{
    const block_q4_0 *x = src;
    for (int64_t i = 0; i < n / QK4_0; i++, dst += QK4_0) {
        const float d = quant_h2f(x[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int x0 = (x[i].qs[j] & 0x0F) - 8;
            const int x1 = (x[i].qs[j] >> 4) - 8;
            dst[j] = (float)x0 * d;
            dst[j + QK4_0 / 2] = (float)x1 * d;
        }
    }
}

void quant_dequant_q4_1(const void *src, float *dst, int64_t n)
{
    const block_q4_1 *x = src;
    for (int64_t i = 0; i < n / QK4_0; i++, dst += QK4_0) {
        const float d = quant_h2f(x[i].d);
        const float m = quant_h2f(x[i].m);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int x0 = x[i].qs[j] & 0x0F;
            const int x1 = x[i].qs[j] >> 4;
            dst[j] = (float)x0 * d + m;
            dst[j + QK4_0 / 2] = (float)x1 * d + m;
        }
    }
}

void quant_dequant_q5_0(const void *src, float *dst, int64_t n)
{
    const block_q5_0 *x = src;
    for (int64_t i = 0; i < n / QK4_0; i++, dst += QK4_0) {
        const float d = quant_h2f(x[i].d);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
            const int x0 = ((x[i].qs[j] & 0x0F) | (h0 << 4)) - 16;
            const int x1 = ((x[i].qs[j] >> 4) | (h1 << 4)) - 16;
            dst[j] = (float)x0 * d;
            dst[j + QK4_0 / 2] = (float)x1 * d;
        }
    }
}

void quant_dequant_q5_1(const void *src, float *dst, int64_t n)
{
    const block_q5_1 *x = src;
    for (int64_t i = 0; i < n / QK4_0; i++, dst += QK4_0) {
        const float d = quant_h2f(x[i].d);
        const float m = quant_h2f(x[i].m);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
            const int x0 = (x[i].qs[j] & 0x0F) | (h0 << 4);
            const int x1 = (x[i].qs[j] >> 4) | (h1 << 4);
            dst[j] = (float)x0 * d + m;
            dst[j + QK4_0 / 2] = (float)x1 * d + m;
        }
    }
}

void quant_dequant_q8_0(const void *src, float *dst, int64_t n)
{
    const block_q8_0 *x = src;
    for (int64_t i = 0; i < n / QK8_0; i++, dst += QK8_0) {
        const float d = quant_h2f(x[i].d);
        for (int j = 0; j < QK8_0; j++)
            dst[j] = (float)x[i].qs[j] * d;
    }
}

void quant_dequant_q8_1(const void *src, float *dst, int64_t n)
{
    const block_q8_1 *x = src;
    for (int64_t i = 0; i < n / QK8_0; i++, dst += QK8_0) {
        const float d = quant_h2f(x[i].d);
        for (int j = 0; j < QK8_0; j++)
            dst[j] = (float)x[i].qs[j] * d;
    }
}

/* ---------------------------------------------------------------------------
 * Quantization
 * ------------------------------------------------------------------------- */

/* The element of largest magnitude, sign kept (the first one on ties). */
static float signed_absmax(const float *x, int n)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, int n, float *mn, float *mx)
{
    *mn = FLT_MAX;
    *mx = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < *mn) *mn = x[j];
        if (x[j] > *mx) *mx = x[j];
    }
}

static inline int clamp_max(int v, int hi)
{
    return v > hi ? hi : v;
}

/* Q4_0 maps the signed extreme to -8 so the full range [-8, 7] is used. */
void quant_quantize_q4_0(const float *src, void *dst, int64_t n)
{
    block_q4_0 *y = dst;
    for (int64_t i = 0; i < n / QK4_0; i++, src += QK4_0) {
        const float d = signed_absmax(src, QK4_0) / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = quant_f32_to_f16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int x0 = clamp_max((int)(int8_t)(src[j] * id + 8.5f), 15);
            const int x1 = clamp_max((int)(int8_t)(src[j + 16] * id + 8.5f), 15);
            y[i].qs[j] = (uint8_t)(x0 | (x1 << 4));
        }
    }
}

void quant_quantize_q4_1(const float *src, void *dst, int64_t n)
{
    block_q4_1 *y = dst;
    for (int64_t i = 0; i < n / QK4_0; i++, src += QK4_0) {
        float mn, mx;
        min_max(src, QK4_0, &mn, &mx);
        const float d = (mx - mn) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = quant_f32_to_f16(d);
        y[i].m = quant_f32_to_f16(mn);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int x0 = clamp_max((int)(int8_t)((src[j] - mn) * id + 0.5f), 15);
            const int x1 = clamp_max((int)(int8_t)((src[j + 16] - mn) * id + 0.5f), 15);
            y[i].qs[j] = (uint8_t)(x0 | (x1 << 4));
        }
    }
}

void quant_quantize_q5_0(const float *src, void *dst, int64_t n)
{
    block_q5_0 *y = dst;
    for (int64_t i = 0; i < n / QK4_0; i++, src += QK4_0) {
        const float d = signed_absmax(src, QK4_0) / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = quant_f32_to_f16(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int x0 = clamp_max((int)(int8_t)(src[j] * id + 16.5f), 31);
            const int x1 = clamp_max((int)(int8_t)(src[j + 16] * id + 16.5f), 31);
            y[i].qs[j] = (uint8_t)((x0 & 0x0F) | ((x1 & 0x0F) << 4));
            qh |= (uint32_t)((x0 >> 4) & 1) << j;
            qh |= (uint32_t)((x1 >> 4) & 1) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

void quant_quantize_q5_1(const float *src, void *dst, int64_t n)
{
    block_q5_1 *y = dst;
    for (int64_t i = 0; i < n / QK4_0; i++, src += QK4_0) {
        float mn, mx;
        min_max(src, QK4_0, &mn, &mx);
        const float d = (mx - mn) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = quant_f32_to_f16(d);
        y[i].m = quant_f32_to_f16(mn);
        uint32_t qh = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int x0 = clamp_max((int)(int8_t)((src[j] - mn) * id + 0.5f), 31);
            const int x1 = clamp_max((int)(int8_t)((src[j + 16] - mn) * id + 0.5f), 31);
            y[i].qs[j] = (uint8_t)((x0 & 0x0F) | ((x1 & 0x0F) << 4));
            qh |= (uint32_t)((x0 >> 4) & 1) << j;
            qh |= (uint32_t)((x1 >> 4) & 1) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

/* Q8_0 is also the activation format, so it follows the reference's
 * activation quantizer to the bit: d = amax/127 stored as a half, the
 * quants x * (127/amax) (not x * (1/d): the two differ in the last place)
 * rounded to nearest even. With anything else every matmul adds rounding
 * noise of its own: a-spm-q8_0's logits went from NRMSE 7e-3 to 1e-7 of
 * the reference when this matched. */
void quant_quantize_q8_0(const float *src, void *dst, int64_t n)
{
    block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / QK8_0; i++, src += QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++)
            amax = fmaxf(amax, fabsf(src[j]));
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[i].d = quant_f32_to_f16(d);
        for (int j = 0; j < QK8_0; j++)
            y[i].qs[j] = (int8_t)quant_nearest_int(src[j] * id);
    }
}

/* Q8_1: the Q8_0 quants and d, plus s = half(d * sum(qs)) with the float
 * d before its rounding to a half, as the reference computes it. */
void quant_quantize_q8_1(const float *src, void *dst, int64_t n)
{
    block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / QK8_0; i++, src += QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++)
            amax = fmaxf(amax, fabsf(src[j]));
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK8_0; j++) {
            y[i].qs[j] = (int8_t)quant_nearest_int(src[j] * id);
            sum += y[i].qs[j];
        }
        y[i].d = quant_f32_to_f16(d);
        y[i].s = quant_f32_to_f16(d * (float)sum);
    }
}

/* ---------------------------------------------------------------------------
 * Dot products with Q8_0 (Q8_1) activations: integer sums per block, one
 * float multiply-add per block.
 * ------------------------------------------------------------------------- */

void quant_vec_dot_q4_0(int64_t n, float *out, const void *w, const void *a)
{
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        int sumi = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            sumi += ((x[i].qs[j] & 0x0F) - 8) * y[i].qs[j];
            sumi += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
        }
        sum += (float)sumi * (quant_h2f(x[i].d) * quant_h2f(y[i].d));
    }
    *out = sum;
}

void quant_vec_dot_q4_1(int64_t n, float *out, const void *w, const void *a)
{
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        int sumi = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            sumi += (x[i].qs[j] & 0x0F) * y[i].qs[j];
            sumi += (x[i].qs[j] >> 4) * y[i].qs[j + 16];
        }
        sum += (quant_h2f(x[i].d) * quant_h2f(y[i].d)) * (float)sumi + quant_h2f(x[i].m) * quant_h2f(y[i].s);
    }
    *out = sum;
}

void quant_vec_dot_q5_0(int64_t n, float *out, const void *w, const void *a)
{
    const block_q5_0 *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        const uint32_t qh = load_qh(x[i].qh);
        int sumi = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int x0 = ((x[i].qs[j] & 0x0F) | (int)(((qh >> j) & 1) << 4)) - 16;
            const int x1 = ((x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) - 16;
            sumi += x0 * y[i].qs[j] + x1 * y[i].qs[j + 16];
        }
        sum += (float)sumi * (quant_h2f(x[i].d) * quant_h2f(y[i].d));
    }
    *out = sum;
}

void quant_vec_dot_q5_1(int64_t n, float *out, const void *w, const void *a)
{
    const block_q5_1 *x = w;
    const block_q8_1 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        const uint32_t qh = load_qh(x[i].qh);
        int sumi = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int x0 = (x[i].qs[j] & 0x0F) | (int)(((qh >> j) & 1) << 4);
            const int x1 = (x[i].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            sumi += x0 * y[i].qs[j] + x1 * y[i].qs[j + 16];
        }
        sum += (quant_h2f(x[i].d) * quant_h2f(y[i].d)) * (float)sumi + quant_h2f(x[i].m) * quant_h2f(y[i].s);
    }
    *out = sum;
}

void quant_vec_dot_q8_0(int64_t n, float *out, const void *w, const void *a)
{
    const block_q8_0 *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int sumi = 0;
        for (int j = 0; j < QK8_0; j++)
            sumi += x[i].qs[j] * y[i].qs[j];
        sum += (float)sumi * (quant_h2f(x[i].d) * quant_h2f(y[i].d));
    }
    *out = sum;
}
