/*
 * quant_iq1tq.c - the 1-bit i-quants IQ1_S and IQ1_M and the ternary types
 * TQ1_0 and TQ2_0: scalar dequantization, dot products with Q8_K, and the
 * ternary quantizers. All four take Q8_K activations.
 *
 * IQ1_S / IQ1_M: a super-block of 256 is 32 groups of 8; each group is an
 * 11-bit index into quant_iq1s_grid (8 values in {-1, 0, 1}) shifted by
 * +-QUANT_IQ1S_DELTA, times an odd 3-bit scale (2s + 1) per 32 (IQ1_S) or
 * per 16 (IQ1_M) elements, times the super-block half. IQ1_M has no half
 * field: its half is spread over the top nibbles of its four 16-bit scale
 * words. Both are read-only here (their quantizer needs an importance
 * matrix and a codebook search; models come quantized).
 *
 * TQ1_0: trits stored in base 3, five per byte, as a fixed-point fraction
 * of 243: byte = ceil(v * 256 / 243) where v is the 5-trit number with the
 * first trit most significant. Multiplying the byte by 3^k (mod 256)
 * shifts trit k to the top, and (q * 3) >> 8 reads it off: no division.
 * Elements 0..159 are the five trits of bytes 0..31 (trit k of byte m is
 * element 32k + m), 160..239 those of bytes 32..47 (16k + m), 240..255 the
 * first four trits of qh[0..3] (4k + j).
 *
 * TQ2_0: 2 bits per element, value - 1; byte j + m of each 32-byte half
 * holds elements 128h + 32l + m at bits 2l.
 *
 * Dequantization and dot products keep the reference's order of float
 * operations (the dequantized rows are compared bit for bit, the dots sum
 * integers per super-block and apply the scales once).
 */
#include "quant/quant_codebook.h"
#include "quant/quant_iq1_tab.h"
#include "quant/quant_impl.h"

#include <math.h>
#include <string.h>

/* The 11-bit grid point as 8 signed bytes. */
static inline const int8_t *iq1_point(int idx)
{
    return (const int8_t *)&quant_iq1s_grid[idx];
}

/* IQ1_M's super-block half from the top nibbles of its scale words. */
static inline float iq1m_half(const block_iq1_m *x)
{
    uint16_t sc[4];
    memcpy(sc, x->scales, 8);
    const uint16_t h = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) |
                                  (sc[3] & 0xf000));
    return quant_h2f(h);
}

/* Trit k (0 = most significant) of a base-3 byte, as 0, 1 or 2. */
static inline int tq_trit(uint8_t byte, int k)
{
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    const uint8_t q = (uint8_t)(byte * pow3[k]);
    return (q * 3) >> 8;
}

/* ---------------------------------------------------------------------------
 * Dequantization
 * ------------------------------------------------------------------------- */

static void quant_dequant_iq1_s(const void *src, float *dst, int64_t n)
{
    const block_iq1_s *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = quant_h2f(x[i].d);
        const uint8_t *qs = x[i].qs;
        for (int ib = 0; ib < QK_K / 32; ib++, qs += 4) {
            const unsigned qh = x[i].qh[ib];
            const float dl = d * (float)(2 * ((qh >> 12) & 7) + 1);
            const float delta = (qh & 0x8000) ? -QUANT_IQ1S_DELTA : QUANT_IQ1S_DELTA;
            for (int l = 0; l < 4; l++) {
                const int8_t *g = iq1_point(qs[l] | (int)(((qh >> (3 * l)) & 7) << 8));
                for (int j = 0; j < 8; j++)
                    *dst++ = dl * ((float)g[j] + delta);
            }
        }
    }
}

static void quant_dequant_iq1_m(const void *src, float *dst, int64_t n)
{
    const block_iq1_m *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = iq1m_half(&x[i]);
        uint16_t sc[4];
        memcpy(sc, x[i].scales, 8);
        const uint8_t *qs = x[i].qs, *qh = x[i].qh;
        for (int ib = 0; ib < QK_K / 32; ib++, qs += 4, qh += 2) {
            const int sh = 6 * (ib % 2);
            const float dl[2] = {d * (float)(2 * ((sc[ib / 2] >> sh) & 7) + 1),
                                 d * (float)(2 * ((sc[ib / 2] >> (sh + 3)) & 7) + 1)};
            for (int l = 0; l < 4; l++) {
                /* group l's high index bits: low (l even) or high nibble of qh[l/2], bit 3 of it the sign of delta */
                const int nib = (qh[l / 2] >> (4 * (l % 2))) & 0xF;
                const int8_t *g = iq1_point(qs[l] | ((nib & 7) << 8));
                const float delta = (nib & 8) ? -QUANT_IQ1S_DELTA : QUANT_IQ1S_DELTA;
                for (int j = 0; j < 8; j++)
                    *dst++ = dl[l / 2] * ((float)g[j] + delta);
            }
        }
    }
}

static void quant_dequant_tq1_0(const void *src, float *dst, int64_t n)
{
    const block_tq1_0 *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = quant_h2f(x[i].d);
        for (int k = 0; k < 5; k++)
            for (int m = 0; m < 32; m++)
                *dst++ = (float)(tq_trit(x[i].qs[m], k) - 1) * d;
        for (int k = 0; k < 5; k++)
            for (int m = 0; m < 16; m++)
                *dst++ = (float)(tq_trit(x[i].qs[32 + m], k) - 1) * d;
        for (int k = 0; k < 4; k++)
            for (int j = 0; j < 4; j++)
                *dst++ = (float)(tq_trit(x[i].qh[j], k) - 1) * d;
    }
}

static void quant_dequant_tq2_0(const void *src, float *dst, int64_t n)
{
    const block_tq2_0 *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = quant_h2f(x[i].d);
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 4; l++)
                for (int m = 0; m < 32; m++)
                    *dst++ = (float)(((x[i].qs[32 * h + m] >> (2 * l)) & 3) - 1) * d;
    }
}

/* ---------------------------------------------------------------------------
 * Ternary quantization: d = max |x| of the super-block, each element
 * rounded (half away from zero, as lroundf) to -1, 0 or 1 of d.
 * ------------------------------------------------------------------------- */

static float tq_absmax(const float *x, float *id)
{
    float amax = 0.0f;
    for (int j = 0; j < QK_K; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    *id = amax != 0.0f ? 1.0f / amax : 0.0f;
    return amax;
}

/* The trit of x (0, 1, 2 for -1, 0, 1). */
static inline int tq_code(float x, float id)
{
    return (int)lroundf(x * id) + 1;
}

/* The byte holding trits t[0..4] (t[0] most significant). */
static inline uint8_t tq_pack5(const int t[5])
{
    int v = 0;
    for (int k = 0; k < 5; k++)
        v = v * 3 + t[k];
    return (uint8_t)((v * 256 + 242) / 243); /* ceil(v * 256 / 243) */
}

static void quant_quantize_tq1_0(const float *src, void *dst, int64_t n)
{
    block_tq1_0 *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        float id;
        y[i].d = quant_f32_to_f16(tq_absmax(src, &id));
        int t[5];
        for (int m = 0; m < 32; m++) {
            for (int k = 0; k < 5; k++)
                t[k] = tq_code(src[32 * k + m], id);
            y[i].qs[m] = tq_pack5(t);
        }
        for (int m = 0; m < 16; m++) {
            for (int k = 0; k < 5; k++)
                t[k] = tq_code(src[160 + 16 * k + m], id);
            y[i].qs[32 + m] = tq_pack5(t);
        }
        for (int j = 0; j < 4; j++) {
            for (int k = 0; k < 4; k++)
                t[k] = tq_code(src[240 + 4 * k + j], id);
            t[4] = 0; /* four trits, the first most significant, as in qs */
            y[i].qh[j] = tq_pack5(t);
        }
    }
}

static void quant_quantize_tq2_0(const float *src, void *dst, int64_t n)
{
    block_tq2_0 *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        float id;
        y[i].d = quant_f32_to_f16(tq_absmax(src, &id));
        for (int h = 0; h < 2; h++)
            for (int m = 0; m < 32; m++) {
                int q = 0;
                for (int l = 0; l < 4; l++)
                    q |= (tq_code(src[128 * h + 32 * l + m], id) & 3) << (2 * l);
                y[i].qs[32 * h + m] = (uint8_t)q;
            }
    }
}

/* ---------------------------------------------------------------------------
 * Dot products with Q8_K: an exact integer sum per super-block, the scales
 * applied once (the delta term of IQ1 through the activation's per-16 sums).
 * ------------------------------------------------------------------------- */

static void quant_vec_dot_iq1_s(int64_t n, float *out, const void *w, const void *a)
{
    const block_iq1_s *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const int8_t *q8 = y[i].qs;
        const uint8_t *qs = x[i].qs;
        int sumi = 0, sumi1 = 0;
        for (int ib = 0; ib < QK_K / 32; ib++, qs += 4) {
            const unsigned qh = x[i].qh[ib];
            const int ls = 2 * (int)((qh >> 12) & 7) + 1;
            const int delta = (qh & 0x8000) ? -1 : 1;
            int lsum = 0;
            for (int l = 0; l < 4; l++, q8 += 8) {
                const int8_t *g = iq1_point(qs[l] | (int)(((qh >> (3 * l)) & 7) << 8));
                for (int j = 0; j < 8; j++)
                    lsum += q8[j] * g[j];
            }
            sumi += ls * lsum;
            sumi1 += ls * delta * (y[i].bsums[2 * ib] + y[i].bsums[2 * ib + 1]);
        }
        sum += quant_h2f(x[i].d) * y[i].d * ((float)sumi + QUANT_IQ1S_DELTA * (float)sumi1);
    }
    *out = sum;
}

static void quant_vec_dot_iq1_m(int64_t n, float *out, const void *w, const void *a)
{
    const block_iq1_m *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const int8_t *q8 = y[i].qs;
        const uint8_t *qs = x[i].qs, *qh = x[i].qh;
        uint16_t sc[4];
        memcpy(sc, x[i].scales, 8);
        int sumi1 = 0, sumi2 = 0;
        for (int ib = 0; ib < QK_K / 32; ib++, qs += 4, qh += 2) {
            int s1[2] = {0, 0}, s2[2] = {0, 0};
            for (int l = 0; l < 4; l++, q8 += 8) {
                const int nib = (qh[l / 2] >> (4 * (l % 2))) & 0xF;
                const int8_t *g = iq1_point(qs[l] | ((nib & 7) << 8));
                int lsum1 = 0, lsum2 = 0;
                for (int j = 0; j < 8; j++) {
                    lsum1 += q8[j] * g[j];
                    lsum2 += q8[j];
                }
                s1[l / 2] += lsum1;
                s2[l / 2] += (nib & 8) ? -lsum2 : lsum2;
            }
            const int sh = 6 * (ib % 2);
            const int ls1 = 2 * ((sc[ib / 2] >> sh) & 7) + 1;
            const int ls2 = 2 * ((sc[ib / 2] >> (sh + 3)) & 7) + 1;
            sumi1 += s1[0] * ls1 + s1[1] * ls2;
            sumi2 += s2[0] * ls1 + s2[1] * ls2;
        }
        sum += iq1m_half(&x[i]) * y[i].d * ((float)sumi1 + QUANT_IQ1S_DELTA * (float)sumi2);
    }
    *out = sum;
}

static void quant_vec_dot_tq1_0(int64_t n, float *out, const void *w, const void *a)
{
    const block_tq1_0 *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const int8_t *q8 = y[i].qs;
        int sumi = 0;
        for (int k = 0; k < 5; k++)
            for (int m = 0; m < 32; m++)
                sumi += (tq_trit(x[i].qs[m], k) - 1) * q8[32 * k + m];
        for (int k = 0; k < 5; k++)
            for (int m = 0; m < 16; m++)
                sumi += (tq_trit(x[i].qs[32 + m], k) - 1) * q8[160 + 16 * k + m];
        for (int k = 0; k < 4; k++)
            for (int j = 0; j < 4; j++)
                sumi += (tq_trit(x[i].qh[j], k) - 1) * q8[240 + 4 * k + j];
        sum += (float)sumi * (quant_h2f(x[i].d) * y[i].d);
    }
    *out = sum;
}

static void quant_vec_dot_tq2_0(int64_t n, float *out, const void *w, const void *a)
{
    const block_tq2_0 *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const int8_t *q8 = y[i].qs;
        int sumi = 0;
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 4; l++)
                for (int m = 0; m < 32; m++)
                    sumi += q8[128 * h + 32 * l + m] * (((x[i].qs[32 * h + m] >> (2 * l)) & 3) - 1);
        sum += (float)sumi * (quant_h2f(x[i].d) * y[i].d);
    }
    *out = sum;
}

uint64_t quant_iq1s_grid8[2048];

void quant_iq1s_grid8_build(void)
{
    for (int i = 0; i < 2048; i++)
        quant_iq1s_grid8[i] = quant_iq1s_point8(quant_iq1s_grid[i]);
}

void quant_register_iq1tq(quant_kernels *tab)
{
    /* the SIMD levels' derived grid: quant.c fills the scalar table first,
     * once, so it is ready before any kernel runs */
    quant_iq1s_grid8_build();
    /* IQ1_S / IQ1_M: read-only (quantize stays NULL) */
    tab[QT_IQ1_S] = (quant_kernels){.dequant = quant_dequant_iq1_s, .vec_dot = quant_vec_dot_iq1_s};
    tab[QT_IQ1_M] = (quant_kernels){.dequant = quant_dequant_iq1_m, .vec_dot = quant_vec_dot_iq1_m};
    tab[QT_TQ1_0] = (quant_kernels){.dequant = quant_dequant_tq1_0, .quantize = quant_quantize_tq1_0,
                                    .vec_dot = quant_vec_dot_tq1_0};
    tab[QT_TQ2_0] = (quant_kernels){.dequant = quant_dequant_tq2_0, .quantize = quant_quantize_tq2_0,
                                    .vec_dot = quant_vec_dot_tq2_0};
}
