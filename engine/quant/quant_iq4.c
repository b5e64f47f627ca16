/*
 * quant_iq4.c - the 4-bit non-linear formats IQ4_NL and IQ4_XS and the
 * microscaling format MXFP4: scalar reference dequantization, quantization
 * and dot products.
 *
 * All three store 4-bit indices into a 16-entry int8 codebook
 * (quant_codebook.h), nibbles laid out as Q4_0's: element j of a 32-value
 * (sub-)block in the low nibble of qs[j], element j + 16 in the high one.
 *   IQ4_NL: 32 values, a half scale d: x = d * kvalues_iq4nl[q].
 *   IQ4_XS: 256 values, a half d and eight 6-bit sub-block scales ls
 *           stored with an offset of 32 (low 4 bits in scales_l, two per
 *           byte, high 2 bits in scales_h): x = (d * (ls - 32)) * kv[q].
 *   MXFP4:  32 values, an E8M0 exponent e: x = kvalues_mxfp4[q] * 2^(e-128)
 *           (the codebook holds the E2M1 values doubled, hence the half).
 * Dequantization uses exactly these operations in this order, since the
 * reference rows compare bit for bit.
 *
 * Dot products: IQ4_NL and MXFP4 take Q8_0 activations, with one exact
 * integer sum per block and sum += (float)sumi * (dx * dy) block after
 * block (Q8_0's order, which the AVX-512 GEMM reuses through a conversion
 * of the weights to Q8_0). IQ4_XS takes Q8_K: the integer sum of a whole
 * super-block, sum over sub-blocks of (ls - 32) * (sub-block dot), is
 * exact, then sum += (dx * dy) * (float)sumi once per super-block, as the
 * k-quants do; so every SIMD twin can repeat it to the bit.
 *
 * Quantization (IQ4_NL, IQ4_XS) is the reference's search without an
 * importance matrix: per 32 values, a first scale from the extreme,
 * refined by least squares with weights x^2, then 15 candidate scales
 * (max / (itry - 127), itry in [-7, 7]) each refined the same way, the
 * best weighted fit kept; IQ4_XS then expresses the eight sub-block
 * scales as 6-bit multiples of one super-block scale and picks the
 * indices again for the rounded scales. MXFP4: the exponent from
 * floor(log2(amax)) - 2, each value to its nearest code.
 */
#include "quant/quant_codebook.h"
#include "quant/quant_impl.h"

#include <math.h>
#include <string.h>

/* E8M0 exponent to float, halved (the scale of the doubled codebook):
 * 2^(e - 128), built from its bits. e = 0 and 1 are subnormal floats. */
static inline float e8m0_half(uint8_t e)
{
    const uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* ---------------------------------------------------------------------------
 * Dequantization
 * ------------------------------------------------------------------------- */

static void dequant_iq4_nl(const void *src, float *dst, int64_t n)
{
    const block_iq4_nl *x = src;
    for (int64_t i = 0; i < n / QK4_NL; i++, dst += QK4_NL) {
        const float d = quant_h2f(x[i].d);
        for (int j = 0; j < QK4_NL / 2; j++) {
            dst[j] = d * (float)quant_kvalues_iq4nl[x[i].qs[j] & 0xF];
            dst[j + QK4_NL / 2] = d * (float)quant_kvalues_iq4nl[x[i].qs[j] >> 4];
        }
    }
}

/* The 6-bit scale of sub-block ib (0..7), offset 32 removed. */
static inline int iq4_xs_scale(const block_iq4_xs *b, int ib)
{
    const int lo = (b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF;
    const int hi = (b->scales_h >> (2 * ib)) & 3;
    return (lo | (hi << 4)) - 32;
}

static void dequant_iq4_xs(const void *src, float *dst, int64_t n)
{
    const block_iq4_xs *x = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = quant_h2f(x[i].d);
        const uint8_t *qs = x[i].qs;
        for (int ib = 0; ib < QK_K / 32; ib++, qs += 16, dst += 32) {
            const float dl = d * (float)iq4_xs_scale(&x[i], ib);
            for (int j = 0; j < 16; j++) {
                dst[j] = dl * (float)quant_kvalues_iq4nl[qs[j] & 0xF];
                dst[j + 16] = dl * (float)quant_kvalues_iq4nl[qs[j] >> 4];
            }
        }
    }
}

static void dequant_mxfp4(const void *src, float *dst, int64_t n)
{
    const block_mxfp4 *x = src;
    for (int64_t i = 0; i < n / QK_MXFP4; i++, dst += QK_MXFP4) {
        const float d = e8m0_half(x[i].e);
        for (int j = 0; j < QK_MXFP4 / 2; j++) {
            dst[j] = (float)quant_kvalues_mxfp4[x[i].qs[j] & 0xF] * d;
            dst[j + QK_MXFP4 / 2] = (float)quant_kvalues_mxfp4[x[i].qs[j] >> 4] * d;
        }
    }
}

/* ---------------------------------------------------------------------------
 * Quantization
 * ------------------------------------------------------------------------- */

/* Index of the codebook entry nearest x (values ascending); a tie between
 * two neighbours goes to the upper one, as in the reference. */
static int nearest_index(const int8_t *values, float x)
{
    if (x <= values[0])
        return 0;
    if (x >= values[15])
        return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (x < values[mid])
            hi = mid;
        else
            lo = mid;
    }
    return x - values[hi - 1] < values[hi] - x ? hi - 1 : hi;
}

#define IQ4_NTRY 7
#define IQ4_GROUP_EPS 1e-15f

/* The best scale of 32 values xb (their indices into L), weights x^2: the
 * least-squares scale of the indices picked with -max / values[0], then
 * of those picked with (itry + values[0]) / max, itry in [-NTRY, NTRY],
 * the largest sumqx^2 / sumq2 kept. 0 for an all-but-zero group (L then
 * left as it was). */
static float iq4_best_scale(const float *xb, uint8_t *L)
{
    const int8_t *values = quant_kvalues_iq4nl;
    float weight[32];
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
        weight[j] = xb[j] * xb[j];
        const float ax = fabsf(xb[j]);
        if (ax > amax) {
            amax = ax;
            max = xb[j];
        }
    }
    if (amax < IQ4_GROUP_EPS)
        return 0.0f;
    float d = -max / (float)values[0];
    float id = 1.0f / d;
    float sumqx = 0.0f, sumq2 = 0.0f;
    for (int j = 0; j < 32; j++) {
        const int l = nearest_index(values, id * xb[j]);
        L[j] = (uint8_t)l;
        const float q = (float)values[l], w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
    }
    d = sumq2 > 0.0f ? sumqx / sumq2 : 0.0f;
    float best = d * sumqx;
    for (int itry = -IQ4_NTRY; itry <= IQ4_NTRY; itry++) {
        id = (float)(itry + values[0]) / max;
        sumqx = sumq2 = 0.0f;
        for (int j = 0; j < 32; j++) {
            const int l = nearest_index(values, id * xb[j]);
            const float q = (float)values[l], w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        if (sumq2 > 0.0f && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

/* Packs 32 * nsub indices as nibbles (j low, j + 16 high, per 32). */
static void pack_nibbles(const uint8_t *L, uint8_t *qs, int nsub)
{
    for (int i = 0; i < nsub; i++)
        for (int j = 0; j < 16; j++)
            qs[16 * i + j] = (uint8_t)(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

static void quantize_iq4_nl(const float *src, void *dst, int64_t n)
{
    block_iq4_nl *y = dst;
    for (int64_t i = 0; i < n / QK4_NL; i++, src += QK4_NL) {
        uint8_t L[32];
        const float d = iq4_best_scale(src, L);
        y[i].d = quant_f32_to_f16(d);
        /* the indices again for the final (unrounded) scale; an empty
         * group gets those of 0 */
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 32; j++)
            L[j] = (uint8_t)nearest_index(quant_kvalues_iq4nl, id * src[j]);
        pack_nibbles(L, y[i].qs, 1);
    }
}

static void quantize_iq4_xs(const float *src, void *dst, int64_t n)
{
    block_iq4_xs *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        uint8_t L[QK_K];
        float scales[QK_K / 32];
        float max_scale = 0.0f, amax_scale = 0.0f;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            scales[ib] = iq4_best_scale(src + 32 * ib, L + 32 * ib);
            if (fabsf(scales[ib]) > amax_scale) {
                amax_scale = fabsf(scales[ib]);
                max_scale = scales[ib];
            }
        }
        /* sub-block scales as l * d, l in [-32, 31]: the largest one maps
         * to -32 (the wider end), its sign folded into d */
        const float d = -max_scale / 32.0f;
        y[i].d = quant_f32_to_f16(d);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t sh = 0;
        memset(y[i].scales_l, 0, sizeof y[i].scales_l);
        for (int ib = 0; ib < QK_K / 32; ib++) {
            int l = quant_nearest_int(id * scales[ib]);
            l = l < -32 ? -32 : l > 31 ? 31 : l;
            const float dl = d * (float)l;
            const float idl = dl != 0.0f ? 1.0f / dl : 0.0f;
            for (int j = 0; j < 32; j++)
                L[32 * ib + j] = (uint8_t)nearest_index(quant_kvalues_iq4nl, idl * src[32 * ib + j]);
            l += 32;
            y[i].scales_l[ib / 2] |= (uint8_t)((l & 0xF) << (4 * (ib % 2)));
            sh |= (uint16_t)((l >> 4) << (2 * ib));
        }
        y[i].scales_h = sh;
        pack_nibbles(L, y[i].qs, QK_K / 32);
    }
}

/* Nearest code of x at scale e (the first of equal distances). */
static int nearest_mxfp4(float x, float e)
{
    int best = 0;
    float best_err = fabsf((float)quant_kvalues_mxfp4[0] * e - x);
    for (int i = 1; i < 16; i++) {
        const float err = fabsf((float)quant_kvalues_mxfp4[i] * e - x);
        if (err < best_err) {
            best = i;
            best_err = err;
        }
    }
    return best;
}

static void quantize_mxfp4(const float *src, void *dst, int64_t n)
{
    block_mxfp4 *y = dst;
    for (int64_t i = 0; i < n / QK_MXFP4; i++, src += QK_MXFP4) {
        float amax = 0.0f;
        for (int j = 0; j < QK_MXFP4; j++)
            if (amax < fabsf(src[j]))
                amax = fabsf(src[j]);
        /* the largest code is 6 = 1.5 * 2^2: amax's exponent minus 2 */
        float fe = amax > 0.0f ? floorf(log2f(amax)) - 2 + 127 : 0.0f;
        fe = fe < 0.0f ? 0.0f : fe > 254.0f ? 254.0f : fe; /* the reference leaves these undefined */
        const uint8_t e = (uint8_t)fe;
        const float d = e8m0_half(e);
        y[i].e = e;
        for (int j = 0; j < QK_MXFP4 / 2; j++)
            y[i].qs[j] = (uint8_t)(nearest_mxfp4(src[j], d) | (nearest_mxfp4(src[j + 16], d) << 4));
    }
}

/* ---------------------------------------------------------------------------
 * Dot products
 * ------------------------------------------------------------------------- */

/* Integer dot of one 32-value block's nibbles (codebook kv) with 32 int8. */
static inline int nibble_dot(const int8_t *kv, const uint8_t *qs, const int8_t *q8)
{
    int s = 0;
    for (int j = 0; j < 16; j++)
        s += kv[qs[j] & 0xF] * q8[j] + kv[qs[j] >> 4] * q8[j + 16];
    return s;
}

static void vec_dot_iq4_nl(int64_t n, float *out, const void *w, const void *a)
{
    const block_iq4_nl *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_NL; i++) {
        const int sumi = nibble_dot(quant_kvalues_iq4nl, x[i].qs, y[i].qs);
        sum += (float)sumi * (quant_h2f(x[i].d) * quant_h2f(y[i].d));
    }
    *out = sum;
}

static void vec_dot_mxfp4(int64_t n, float *out, const void *w, const void *a)
{
    const block_mxfp4 *x = w;
    const block_q8_0 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_MXFP4; i++) {
        const int sumi = nibble_dot(quant_kvalues_mxfp4, x[i].qs, y[i].qs);
        sum += (float)sumi * (e8m0_half(x[i].e) * quant_h2f(y[i].d));
    }
    *out = sum;
}

/* |sumi| <= 8 * 32 * 32 * 127 * 127 < 2^31: the super-block sum is exact. */
static void vec_dot_iq4_xs(int64_t n, float *out, const void *w, const void *a)
{
    const block_iq4_xs *x = w;
    const block_q8_K *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int sumi = 0;
        for (int ib = 0; ib < QK_K / 32; ib++)
            sumi += iq4_xs_scale(&x[i], ib) * nibble_dot(quant_kvalues_iq4nl, x[i].qs + 16 * ib, y[i].qs + 32 * ib);
        sum += (quant_h2f(x[i].d) * y[i].d) * (float)sumi;
    }
    *out = sum;
}

void quant_register_iq4(quant_kernels *tab)
{
    tab[QT_IQ4_NL] = (quant_kernels){.dequant = dequant_iq4_nl, .quantize = quantize_iq4_nl, .vec_dot = vec_dot_iq4_nl};
    tab[QT_IQ4_XS] = (quant_kernels){.dequant = dequant_iq4_xs, .quantize = quantize_iq4_xs, .vec_dot = vec_dot_iq4_xs};
    tab[QT_MXFP4] = (quant_kernels){.dequant = dequant_mxfp4, .quantize = quantize_mxfp4, .vec_dot = vec_dot_mxfp4};
}
