/*
 * quant_kquants_quantize.c - quantizers for the k-quant weight formats
 * (Q2_K..Q6_K): a least-squares scale (and min) search per sub-block, then
 * the sub-block scales themselves quantized against one half-float
 * super-scale, then the quants recomputed with the scales as stored.
 *
 * These are not bit-compatible with any other quantizer (nothing needs that:
 * weights are quantized once, offline); what matters is a low RMS error.
 */
#include "quant/quant_impl.h"

#include <float.h>
#include <math.h>
#include <string.h>

static inline int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Fits x[0..n) ~ s * L with integer L in [-nmax, nmax-1] and returns s
 * (signed; 0 for an all-zero block). Tries a few inverse scales around the
 * one that maps the extreme element to -nmax, each followed by the
 * least-squares s for its L, and keeps the one with the least error. */
static float fit_sym(const float *x, int n, int nmax, int8_t *L)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    if (amax < 1e-30f) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float best_s = 0.0f, best_gain = -1.0f;
    for (int is = -9; is <= 9; is++) {
        const float iscale = -((float)nmax + 0.1f * (float)is) / max;
        float sxl = 0;
        int sll = 0;
        for (int j = 0; j < n; j++) {
            const int l = clampi(quant_nearest_int(iscale * x[j]), -nmax, nmax - 1);
            sxl += x[j] * (float)l;
            sll += l * l;
        }
        /* error = sum x^2 - sxl^2 / sll: maximize the second term */
        if (sll > 0 && sxl * sxl / (float)sll > best_gain) {
            best_gain = sxl * sxl / (float)sll;
            best_s = sxl / (float)sll;
        }
    }
    for (int j = 0; j < n; j++)
        L[j] = (int8_t)clampi(quant_nearest_int(x[j] / best_s), -nmax, nmax - 1);
    return best_s;
}

/* Fits x[0..n) ~ s * L - m with integer L in [0, nmax], s >= 0, m >= 0
 * (the formats subtract a non-negative min). Returns s and sets *m. Tries
 * inverse scales around the one spanning [min, max] and solves the 2x2
 * least-squares problem for (s, -m) for each set of L. */
static float fit_affine(const float *x, int n, int nmax, uint8_t *L, float *m)
{
    float mn = x[0], mx = x[0];
    for (int j = 1; j < n; j++) {
        if (x[j] < mn) mn = x[j];
        if (x[j] > mx) mx = x[j];
    }
    if (mn > 0.0f)
        mn = 0.0f;
    if (mx <= mn) {
        memset(L, 0, (size_t)n);
        *m = -mn;
        return 0.0f;
    }
    float best_s = (mx - mn) / (float)nmax, best_b = mn;
    double best_err = DBL_MAX, sx = 0, sxx = 0;
    for (int j = 0; j < n; j++) {
        sx += x[j];
        sxx += (double)x[j] * x[j];
    }
    uint8_t Lt[32];
    for (int is = -1; is <= 20; is++) {
        /* is = -1 evaluates the plain min/max fit */
        const float iscale = is < 0 ? (float)nmax / (mx - mn)
                                    : ((float)nmax - 1.0f + 0.1f * (float)is) / (mx - mn);
        int sl = 0, sll = 0; /* integers: exact and cheap */
        float sxl = 0;
        for (int j = 0; j < n; j++) {
            const int l = clampi(quant_nearest_int(iscale * (x[j] - mn)), 0, nmax);
            Lt[j] = (uint8_t)l;
            sl += l;
            sll += l * l;
            sxl += x[j] * (float)l;
        }
        double s, b;
        const double det = (double)n * sll - (double)sl * sl;
        if (is < 0) {
            s = best_s;
            b = best_b;
        } else if (det > 0) {
            s = (n * sxl - sl * sx) / det;
            b = (sll * sx - sl * sxl) / det;
            if (b > 0) { /* the min must not be positive: refit s alone */
                b = 0;
                s = sll > 0 ? sxl / sll : 0;
            }
        } else {
            continue;
        }
        if (s < 0)
            continue;
        /* sum (s L + b - x)^2, expanded over the sums already at hand */
        const double err = s * s * sll + 2 * s * b * sl + n * b * b - 2 * s * sxl - 2 * b * sx + sxx;
        if (err < best_err) {
            best_err = err;
            best_s = (float)s;
            best_b = (float)b;
            memcpy(L, Lt, (size_t)n);
        }
    }
    *m = -best_b;
    return best_s;
}

/* ---------------------------------------------------------------------------
 * Q2_K, Q4_K, Q5_K: affine sub-blocks, unsigned scales and mins
 * ------------------------------------------------------------------------- */

/* Quantizes sub-block scales/mins to [0, qmax] against d = max / qmax and
 * returns the half-float super-scales actually stored. */
static void scale_pair(const float *sc, const float *mins, int nsub, int qmax,
                       uint8_t *ls, uint8_t *lm, qhalf *d, qhalf *dmin)
{
    float max_s = 0.0f, max_m = 0.0f;
    for (int j = 0; j < nsub; j++) {
        if (sc[j] > max_s) max_s = sc[j];
        if (mins[j] > max_m) max_m = mins[j];
    }
    const float is = max_s > 0 ? (float)qmax / max_s : 0.0f;
    const float im = max_m > 0 ? (float)qmax / max_m : 0.0f;
    for (int j = 0; j < nsub; j++) {
        ls[j] = (uint8_t)clampi(quant_nearest_int(is * sc[j]), 0, qmax);
        lm[j] = (uint8_t)clampi(quant_nearest_int(im * mins[j]), 0, qmax);
    }
    *d = quant_f32_to_f16(max_s / (float)qmax);
    *dmin = quant_f32_to_f16(max_m / (float)qmax);
}

/* Recomputes the quants of one sub-block with its scale and min as stored. */
static void requant_affine(const float *x, int n, float dl, float ml, int nmax, uint8_t *L)
{
    for (int j = 0; j < n; j++)
        L[j] = dl > 0 ? (uint8_t)clampi(quant_nearest_int((x[j] + ml) / dl), 0, nmax) : 0;
}

void quant_quantize_q2_K(const float *src, void *dst, int64_t n)
{
    block_q2_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        uint8_t L[QK_K], ls[16], lm[16];
        float sc[16], mins[16];
        for (int j = 0; j < 16; j++)
            sc[j] = fit_affine(src + 16 * j, 16, 3, L + 16 * j, &mins[j]);
        qhalf hd, hm;
        scale_pair(sc, mins, 16, 15, ls, lm, &hd, &hm);
        y[i].d = hd;
        y[i].dmin = hm;
        const float d = quant_h2f(hd), dmin = quant_h2f(hm);
        for (int j = 0; j < 16; j++) {
            y[i].scales[j] = (uint8_t)(ls[j] | (lm[j] << 4));
            requant_affine(src + 16 * j, 16, d * ls[j], dmin * lm[j], 3, L + 16 * j);
        }
        /* element 128*h + 32*s + l goes to qs[32*h + l] at bits 2s */
        memset(y[i].qs, 0, sizeof y[i].qs);
        for (int e = 0; e < QK_K; e++)
            y[i].qs[32 * (e / 128) + e % 32] |= (uint8_t)(L[e] << (2 * ((e % 128) / 32)));
    }
}

/* The 12-byte packing of eight 6-bit scales and mins (Q4_K, Q5_K). */
static void pack_k4_scales(const uint8_t *ls, const uint8_t *lm, uint8_t *out)
{
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            out[j] = ls[j];
            out[j + 4] = lm[j];
        } else {
            out[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
            out[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            out[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

/* Q4_K and Q5_K share everything but the quant width (nmax 15 / 31). */
static void quantize_k4(const float *x, int nmax, qhalf *d, qhalf *dmin,
                        uint8_t *scales, uint8_t L[QK_K])
{
    uint8_t ls[8], lm[8];
    float sc[8], mins[8];
    for (int j = 0; j < 8; j++)
        sc[j] = fit_affine(x + 32 * j, 32, nmax, L + 32 * j, &mins[j]);
    scale_pair(sc, mins, 8, 63, ls, lm, d, dmin);
    pack_k4_scales(ls, lm, scales);
    const float df = quant_h2f(*d), mf = quant_h2f(*dmin);
    for (int j = 0; j < 8; j++)
        requant_affine(x + 32 * j, 32, df * ls[j], mf * lm[j], nmax, L + 32 * j);
}

void quant_quantize_q4_K(const float *src, void *dst, int64_t n)
{
    block_q4_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        uint8_t L[QK_K];
        qhalf hd, hm;
        quantize_k4(src, 15, &hd, &hm, y[i].scales, L);
        y[i].d = hd;
        y[i].dmin = hm;
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++)
                y[i].qs[32 * j + l] = (uint8_t)(L[64 * j + l] | (L[64 * j + 32 + l] << 4));
    }
}

void quant_quantize_q5_K(const float *src, void *dst, int64_t n)
{
    block_q5_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        uint8_t L[QK_K];
        qhalf hd, hm;
        quantize_k4(src, 31, &hd, &hm, y[i].scales, L);
        y[i].d = hd;
        y[i].dmin = hm;
        memset(y[i].qh, 0, sizeof y[i].qh);
        /* sub-block j: low nibbles in qs[32*(j/2)] (high half if j odd),
         * fifth bit in qh[l] bit j */
        for (int e = 0; e < QK_K; e++) {
            const int j = e / 32, l = e % 32;
            if (j % 2 == 0)
                y[i].qs[32 * (j / 2) + l] = (uint8_t)(L[e] & 0xF);
            else
                y[i].qs[32 * (j / 2) + l] |= (uint8_t)((L[e] & 0xF) << 4);
            y[i].qh[l] |= (uint8_t)(((L[e] >> 4) & 1) << j);
        }
    }
}

/* ---------------------------------------------------------------------------
 * Q3_K, Q6_K: symmetric sub-blocks of 16, signed scales
 * ------------------------------------------------------------------------- */

/* Quantizes 16 signed sub-block scales to [lo, hi] against the extreme
 * mapped to lo, stores the half super-scale, and returns it as a float. */
static float scale_sym(const float *sc, int lo, int hi, int *ls, qhalf *d)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 16; j++) {
        if (fabsf(sc[j]) > amax) {
            amax = fabsf(sc[j]);
            max = sc[j];
        }
    }
    if (amax == 0.0f) {
        memset(ls, 0, 16 * sizeof *ls);
        *d = 0;
        return 0.0f;
    }
    const float iscale = (float)lo / max;
    for (int j = 0; j < 16; j++)
        ls[j] = clampi(quant_nearest_int(iscale * sc[j]), lo, hi);
    *d = quant_f32_to_f16(1.0f / iscale);
    return quant_h2f(*d);
}

static void requant_sym(const float *x, float dl, int nmax, int8_t *L)
{
    for (int j = 0; j < 16; j++)
        L[j] = dl != 0.0f ? (int8_t)clampi(quant_nearest_int(x[j] / dl), -nmax, nmax - 1) : 0;
}

void quant_quantize_q3_K(const float *src, void *dst, int64_t n)
{
    block_q3_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        int8_t L[QK_K];
        float sc[16];
        int ls[16];
        for (int j = 0; j < 16; j++)
            sc[j] = fit_sym(src + 16 * j, 16, 4, L + 16 * j);
        qhalf hd;
        const float d = scale_sym(sc, -32, 31, ls, &hd);
        y[i].d = hd;
        memset(y[i].scales, 0, sizeof y[i].scales);
        for (int j = 0; j < 16; j++) {
            const int l = ls[j] + 32;
            if (j < 8)
                y[i].scales[j] = (uint8_t)(l & 0xF);
            else
                y[i].scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
            y[i].scales[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
            requant_sym(src + 16 * j, d * (float)ls[j], 4, L + 16 * j);
        }
        /* element 128*h + 32*s + l: low 2 bits in qs[32*h + l] at bits 2s,
         * high bit in hmask[l] bit 4h + s (set = no -4) */
        memset(y[i].qs, 0, sizeof y[i].qs);
        memset(y[i].hmask, 0, sizeof y[i].hmask);
        for (int e = 0; e < QK_K; e++) {
            const int h = e / 128, s = (e % 128) / 32, l = e % 32;
            const int u = L[e] + 4;
            y[i].qs[32 * h + l] |= (uint8_t)((u & 3) << (2 * s));
            y[i].hmask[l] |= (uint8_t)((u >> 2) << (4 * h + s));
        }
    }
}

void quant_quantize_q6_K(const float *src, void *dst, int64_t n)
{
    block_q6_K *y = dst;
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        int8_t L[QK_K];
        float sc[16];
        int ls[16];
        for (int j = 0; j < 16; j++)
            sc[j] = fit_sym(src + 16 * j, 16, 32, L + 16 * j);
        qhalf hd;
        const float d = scale_sym(sc, -128, 127, ls, &hd);
        y[i].d = hd;
        for (int j = 0; j < 16; j++) {
            y[i].scales[j] = (int8_t)ls[j];
            requant_sym(src + 16 * j, d * (float)ls[j], 32, L + 16 * j);
        }
        /* element 128*h + 32*s + l: low nibble in ql[64*h + 32*(s&1) + l]
         * (high nibble if s >= 2), two high bits in qh[32*h + l] at 2s */
        memset(y[i].ql, 0, sizeof y[i].ql);
        memset(y[i].qh, 0, sizeof y[i].qh);
        for (int e = 0; e < QK_K; e++) {
            const int h = e / 128, s = (e % 128) / 32, l = e % 32;
            const int u = L[e] + 32;
            y[i].ql[64 * h + 32 * (s & 1) + l] |= (uint8_t)((u & 0xF) << (4 * (s >> 1)));
            y[i].qh[32 * h + l] |= (uint8_t)((u >> 4) << (2 * s));
        }
    }
}
