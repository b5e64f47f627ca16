/*
 * quant_kquants.c - the k-quant super-block formats (Q2_K..Q6_K) and their
 * activation format Q8_K: scalar reference dequantization, Q8_K
 * quantization and dot products. The weight quantizers (a scale search per
 * sub-block) are in quant_kquants_quantize.c.
 *
 * Dequantization follows the format's formulas in their exact order of
 * operations (sub-block scale = d * sc first, then scale * q - min), since
 * reference files compare bit for bit.
 *
 * Dot products sum integers per sub-block and apply the float scales once
 * per super-block; the min terms use the activation's per-16 sums (bsums).
 */
#include "quant/quant_impl.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------------------
 * Dequantization
 * ------------------------------------------------------------------------- */

void quant_dequant_q2_K(const void *src, float *dst, int64_t n)
{
    const block_q2_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = quant_h2f(x[i].d);
        const float min = quant_h2f(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        for (int half = 0; half < 2; half++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int part = 0; part < 2; part++) {
                    const uint8_t sc = x[i].scales[is++];
                    const float dl = d * (float)(sc & 0xF);
                    const float ml = min * (float)(sc >> 4);
                    for (int l = 0; l < 16; l++)
                        *dst++ = dl * (float)((q[l + 16 * part] >> shift) & 3) - ml;
                }
            }
        }
    }
}

void quant_dequant_q3_K(const void *src, float *dst, int64_t n)
{
    const block_q3_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d_all = quant_h2f(x[i].d);
        int8_t scales[16];
        quant_q3_K_scales(x[i].scales, scales);
        const uint8_t *q = x[i].qs;
        const uint8_t *hm = x[i].hmask;
        uint8_t m = 1;
        int is = 0;
        for (int half = 0; half < 2; half++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m = (uint8_t)(m << 1)) {
                for (int part = 0; part < 2; part++) {
                    const float dl = d_all * (float)scales[is++];
                    for (int l = 16 * part; l < 16 * part + 16; l++) {
                        const int v = ((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4);
                        *dst++ = dl * (float)v;
                    }
                }
            }
        }
    }
}

void quant_dequant_q4_K(const void *src, float *dst, int64_t n)
{
    const block_q4_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = quant_h2f(x[i].d);
        const float min = quant_h2f(x[i].dmin);
        const uint8_t *q = x[i].qs;
        for (int is = 0; is < 8; is += 2, q += 32) {
            uint8_t sc, m;
            quant_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = min * (float)m;
            quant_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = min * (float)m;
            for (int l = 0; l < 32; l++)
                *dst++ = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++)
                *dst++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

void quant_dequant_q5_K(const void *src, float *dst, int64_t n)
{
    const block_q5_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = quant_h2f(x[i].d);
        const float min = quant_h2f(x[i].dmin);
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int is = 0; is < 8; is += 2, ql += 32) {
            uint8_t sc, m;
            quant_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = min * (float)m;
            quant_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = min * (float)m;
            for (int l = 0; l < 32; l++)
                *dst++ = d1 * (float)((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++)
                *dst++ = d2 * (float)((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
            u1 = (uint8_t)(u1 << 2);
            u2 = (uint8_t)(u2 << 2);
        }
    }
}

void quant_dequant_q6_K(const void *src, float *dst, int64_t n)
{
    const block_q6_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = quant_h2f(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int half = 0; half < 2; half++, dst += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                dst[l] = d * (float)sc[is] * (float)q1;
                dst[l + 32] = d * (float)sc[is + 2] * (float)q2;
                dst[l + 64] = d * (float)sc[is + 4] * (float)q3;
                dst[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

void quant_dequant_q8_K(const void *src, float *dst, int64_t n)
{
    const block_q8_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++)
        for (int j = 0; j < QK_K; j++)
            *dst++ = x[i].d * (float)x[i].qs[j];
}

/* Q8_K follows the reference exactly: the signed extreme maps to -127
 * (so no quant is ever -128; the reference moved from -128 to -127), the
 * rest round to nearest even with a clamp at 127, and the stored scale is
 * the reciprocal of the one used. Matching its bytes matters: the logits
 * are compared with a reference that quantized its activations this way. */
void quant_quantize_q8_K(const float *src, void *dst, int64_t n)
{
    block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < QK_K; j++) {
            const float ax = fabsf(src[j]);
            if (ax > amax) {
                amax = ax;
                max = src[j];
            }
        }
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; j++) {
            const int v = quant_nearest_int(iscale * src[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++)
                sum += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1.0f / iscale;
    }
}

/* ---------------------------------------------------------------------------
 * Dot products with Q8_K activations
 * ------------------------------------------------------------------------- */

void quant_vec_dot_q2_K(int64_t n, float *out, const void *w, const void *a)
{
    const block_q2_K *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int summ = 0, sumi = 0;
        for (int j = 0; j < 16; j++)
            summ += y[i].bsums[j] * (x[i].scales[j] >> 4);
        /* element e = 128*half + 32*s + l sits in qs[32*half + l] at bits
         * 2s, and sub-block e/16 gives its scale. */
        for (int e = 0; e < QK_K; e += 16) {
            const int half = e / 128, s = (e % 128) / 32, l0 = e % 32;
            int isum = 0;
            for (int l = 0; l < 16; l++)
                isum += y[i].qs[e + l] * ((x[i].qs[32 * half + l0 + l] >> (2 * s)) & 3);
            sumi += isum * (x[i].scales[e / 16] & 0xF);
        }
        const float dall = y[i].d * quant_h2f(x[i].d);
        const float dmin = y[i].d * quant_h2f(x[i].dmin);
        sum += dall * (float)sumi - dmin * (float)summ;
    }
    *out = sum;
}

void quant_vec_dot_q3_K(int64_t n, float *out, const void *w, const void *a)
{
    const block_q3_K *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t scales[16];
        quant_q3_K_scales(x[i].scales, scales);
        int sumi = 0;
        for (int e = 0; e < QK_K; e += 16) {
            const int half = e / 128, s = (e % 128) / 32, l0 = e % 32;
            const int hbit = 4 * half + s;
            int isum = 0;
            for (int l = 0; l < 16; l++) {
                const int q = ((x[i].qs[32 * half + l0 + l] >> (2 * s)) & 3) -
                              (((x[i].hmask[l0 + l] >> hbit) & 1) ? 0 : 4);
                isum += y[i].qs[e + l] * q;
            }
            sumi += isum * scales[e / 16];
        }
        sum += (quant_h2f(x[i].d) * y[i].d) * (float)sumi;
    }
    *out = sum;
}

void quant_vec_dot_q4_K(int64_t n, float *out, const void *w, const void *a)
{
    const block_q4_K *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            quant_scale_min_k4(j, x[i].scales, &sc, &m);
            const uint8_t *q = x[i].qs + 32 * (j / 2);
            const int shift = 4 * (j % 2);
            int isum = 0;
            for (int l = 0; l < 32; l++)
                isum += y[i].qs[32 * j + l] * ((q[l] >> shift) & 0xF);
            sumi += isum * sc;
            summ += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        }
        const float d = quant_h2f(x[i].d) * y[i].d;
        const float dmin = quant_h2f(x[i].dmin) * y[i].d;
        sum += d * (float)sumi - dmin * (float)summ;
    }
    *out = sum;
}

void quant_vec_dot_q5_K(int64_t n, float *out, const void *w, const void *a)
{
    const block_q5_K *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            quant_scale_min_k4(j, x[i].scales, &sc, &m);
            const uint8_t *q = x[i].qs + 32 * (j / 2);
            const int shift = 4 * (j % 2);
            int isum = 0;
            for (int l = 0; l < 32; l++) {
                const int v = ((q[l] >> shift) & 0xF) | (((x[i].qh[l] >> j) & 1) << 4);
                isum += y[i].qs[32 * j + l] * v;
            }
            sumi += isum * sc;
            summ += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        }
        const float d = quant_h2f(x[i].d) * y[i].d;
        const float dmin = quant_h2f(x[i].dmin) * y[i].d;
        sum += d * (float)sumi - dmin * (float)summ;
    }
    *out = sum;
}

void quant_vec_dot_q6_K(int64_t n, float *out, const void *w, const void *a)
{
    const block_q6_K *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0;
        for (int e = 0; e < QK_K; e += 16) {
            /* element e = 128*half + 32*s + l: low nibble in ql[64*half +
             * l + 32*(s&1)] (high nibble if s >= 2), 2 high bits in
             * qh[32*half + l] at bits 2s. */
            const int half = e / 128, s = (e % 128) / 32, l0 = e % 32;
            const uint8_t *ql = x[i].ql + 64 * half + 32 * (s & 1);
            const uint8_t *qh = x[i].qh + 32 * half;
            int isum = 0;
            for (int l = l0; l < l0 + 16; l++) {
                const int lo = (ql[l] >> (4 * (s >> 1))) & 0xF;
                const int hi = (qh[l] >> (2 * s)) & 3;
                isum += y[i].qs[e + l - l0] * ((lo | (hi << 4)) - 32);
            }
            sumi += isum * x[i].scales[e / 16];
        }
        sum += (quant_h2f(x[i].d) * y[i].d) * (float)sumi;
    }
    *out = sum;
}
