/*
 * quant_iq23.c - the 2- and 3-bit i-quants IQ2_XXS, IQ2_XS, IQ2_S,
 * IQ3_XXS and IQ3_S: scalar dequantization and dot products with Q8_K
 * activations. They are read-only here: chord decodes files made
 * elsewhere and has no quantizer for them (.quantize stays NULL).
 *
 * Every format stores a 256-element super-block as groups of 8 (IQ2) or
 * 4 (IQ3) elements, each group an index into a fixed grid of magnitudes
 * (quant_codebook.h) plus one sign per element, under a half scale d and
 * a small odd scale ls = 2 s + 1 per 16 or 32 elements. The sign bytes of
 * IQ2_XXS, IQ2_XS and IQ3_XXS keep 7 bits: the eighth is the parity that
 * makes the count of minus signs even (quant_ksigns_iq2xs).
 *
 * Each block is first decoded into 256 signed magnitudes and 16 per-16
 * scales; dequantization and the dot product then share that decoder.
 * A signed integer times a float scale gives the same bits as the
 * format's magnitude times the scale, negated: rounding to nearest is
 * symmetric, and no grid value is zero.
 *
 * The floats follow the format's own expressions in their order (the
 * sub-block scale d * (0.5 + s) * 0.25 for IQ2, ... * 0.5 for IQ3_XXS,
 * d * (1 + 2 s) for IQ3_S), since reference rows compare bit for bit. The
 * dot products sum integers per super-block, exactly, then add
 * d_w * d_a * sum block after block and scale the total once (by 1/8 for
 * IQ2, 1/4 for IQ3_XXS), as the reference engine does.
 */
#include "quant/quant_codebook.h"
#include "quant/quant_impl.h"

/* One super-block decoded: q[i] = +-magnitude of element i, ls[j] = the
 * odd scale 2 s + 1 of elements 16 j .. 16 j + 15. */
typedef struct iq_block {
    int8_t q[QK_K];
    uint8_t ls[QK_K / 16];
} iq_block;

/* g with sign bit s (0 or 1) applied, without a branch: random signs
 * would mispredict half the time. */
static inline int8_t apply_sign(uint8_t g, int s)
{
    return (int8_t)((g ^ -s) + s);
}

/* 8 grid magnitudes with the signs of `signs` (bit j: element j negative). */
static inline void put8(int8_t *q, const uint8_t *grid, uint8_t signs)
{
    for (int j = 0; j < 8; j++)
        q[j] = apply_sign(grid[j], (signs & quant_kmask_iq2xs[j]) != 0);
}

/* Two 4-magnitude IQ3 points under one sign byte. */
static inline void put4x2(int8_t *q, const uint8_t *g1, const uint8_t *g2, uint8_t signs)
{
    for (int j = 0; j < 4; j++) {
        q[j] = apply_sign(g1[j], (signs & quant_kmask_iq2xs[j]) != 0);
        q[j + 4] = apply_sign(g2[j], (signs & quant_kmask_iq2xs[j + 4]) != 0);
    }
}

/* IQ2_XXS: per 32 elements two 32-bit words; the first holds 4 grid
 * indices (one byte each), the second 4 x 7 sign bits and the 4-bit scale
 * on top. */
static void decode_iq2_xxs(const block_iq2_xxs *x, iq_block *b)
{
    for (int ib = 0; ib < QK_K / 32; ib++) {
        uint32_t aux[2];
        memcpy(aux, x->qs + 4 * ib, sizeof aux);
        for (int l = 0; l < 4; l++) {
            const uint8_t *grid = (const uint8_t *)(quant_iq2xxs_grid + ((aux[0] >> 8 * l) & 255));
            put8(b->q + 32 * ib + 8 * l, grid, quant_ksigns_iq2xs[(aux[1] >> 7 * l) & 127]);
        }
        b->ls[2 * ib] = b->ls[2 * ib + 1] = (uint8_t)(2 * (aux[1] >> 28) + 1);
    }
}

/* IQ2_XS: per 8 elements a 16-bit word, 9-bit grid index and 7 sign bits;
 * per 16 elements a 4-bit scale. */
static void decode_iq2_xs(const block_iq2_xs *x, iq_block *b)
{
    for (int g = 0; g < QK_K / 8; g++) {
        const uint16_t v = x->qs[g];
        put8(b->q + 8 * g, (const uint8_t *)(quant_iq2xs_grid + (v & 511)), quant_ksigns_iq2xs[v >> 9]);
    }
    for (int ib = 0; ib < QK_K / 32; ib++) {
        b->ls[2 * ib] = (uint8_t)(2 * (x->scales[ib] & 0xf) + 1);
        b->ls[2 * ib + 1] = (uint8_t)(2 * (x->scales[ib] >> 4) + 1);
    }
}

/* IQ2_S: 10-bit grid indices (low 8 bits in qs, the top 2 in qh, two bits
 * per group of 8), 8 full sign bits per group (the second half of qs),
 * a 4-bit scale per 16 elements. */
static void decode_iq2_s(const block_iq2_s *x, iq_block *b)
{
    const uint8_t *signs = x->qs + QK_K / 8;
    for (int g = 0; g < QK_K / 8; g++) {
        const int idx = x->qs[g] | (((x->qh[g / 4] >> (2 * (g % 4))) & 3) << 8);
        put8(b->q + 8 * g, (const uint8_t *)(quant_iq2s_grid + idx), signs[g]);
    }
    for (int ib = 0; ib < QK_K / 32; ib++) {
        b->ls[2 * ib] = (uint8_t)(2 * (x->scales[ib] & 0xf) + 1);
        b->ls[2 * ib + 1] = (uint8_t)(2 * (x->scales[ib] >> 4) + 1);
    }
}

/* IQ3_XXS: 64 byte grid indices (4 magnitudes each), then per 32 elements
 * a 32-bit word of 4 x 7 sign bits and the 4-bit scale on top. */
static void decode_iq3_xxs(const block_iq3_xxs *x, iq_block *b)
{
    const uint8_t *qs = x->qs, *sas = x->qs + QK_K / 4;
    for (int ib = 0; ib < QK_K / 32; ib++) {
        uint32_t aux;
        memcpy(&aux, sas + 4 * ib, sizeof aux);
        for (int l = 0; l < 4; l++) {
            const uint8_t *g1 = (const uint8_t *)(quant_iq3xxs_grid + qs[8 * ib + 2 * l]);
            const uint8_t *g2 = (const uint8_t *)(quant_iq3xxs_grid + qs[8 * ib + 2 * l + 1]);
            put4x2(b->q + 32 * ib + 8 * l, g1, g2, quant_ksigns_iq2xs[(aux >> 7 * l) & 127]);
        }
        b->ls[2 * ib] = b->ls[2 * ib + 1] = (uint8_t)(2 * (aux >> 28) + 1);
    }
}

/* IQ3_S: 9-bit grid indices (low 8 in qs, the ninth bit k of qh[ib] for
 * point k of sub-block ib), 8 full sign bits per 8 elements, a 4-bit
 * scale per 32 elements (two per byte). */
static void decode_iq3_s(const block_iq3_s *x, iq_block *b)
{
    for (int ib = 0; ib < QK_K / 32; ib++) {
        const uint8_t *qs = x->qs + 8 * ib;
        const int qh = x->qh[ib];
        for (int l = 0; l < 4; l++) {
            const int i1 = qs[2 * l] | (((qh >> (2 * l)) & 1) << 8);
            const int i2 = qs[2 * l + 1] | (((qh >> (2 * l + 1)) & 1) << 8);
            put4x2(b->q + 32 * ib + 8 * l, (const uint8_t *)(quant_iq3s_grid + i1),
                   (const uint8_t *)(quant_iq3s_grid + i2), x->signs[4 * ib + l]);
        }
        const int s = ib % 2 ? x->scales[ib / 2] >> 4 : x->scales[ib / 2] & 0xf;
        b->ls[2 * ib] = b->ls[2 * ib + 1] = (uint8_t)(2 * s + 1);
    }
}

/* ---------------------------------------------------------------------------
 * Dequantization: y = (sub-block scale) * q, the scale by the format's
 * expression.
 * ------------------------------------------------------------------------- */

enum scale_kind { SC_QUARTER, SC_HALF, SC_ODD };

static void dequant_block(const iq_block *b, float d, enum scale_kind kind, float *y)
{
    for (int j = 0; j < QK_K / 16; j++) {
        const int s = b->ls[j] >> 1;
        const float db = kind == SC_QUARTER ? d * (0.5f + (float)s) * 0.25f
                       : kind == SC_HALF    ? d * (0.5f + (float)s) * 0.5f
                                            : d * (float)b->ls[j];
        for (int l = 0; l < 16; l++)
            y[16 * j + l] = db * (float)b->q[16 * j + l];
    }
}

static void quant_dequant_iq2_xxs(const void *src, float *dst, int64_t n)
{
    const block_iq2_xxs *x = src;
    iq_block b;
    for (int64_t i = 0; i < n / QK_K; i++) {
        decode_iq2_xxs(&x[i], &b);
        dequant_block(&b, quant_h2f(x[i].d), SC_QUARTER, dst + i * QK_K);
    }
}

static void quant_dequant_iq2_xs(const void *src, float *dst, int64_t n)
{
    const block_iq2_xs *x = src;
    iq_block b;
    for (int64_t i = 0; i < n / QK_K; i++) {
        decode_iq2_xs(&x[i], &b);
        dequant_block(&b, quant_h2f(x[i].d), SC_QUARTER, dst + i * QK_K);
    }
}

static void quant_dequant_iq2_s(const void *src, float *dst, int64_t n)
{
    const block_iq2_s *x = src;
    iq_block b;
    for (int64_t i = 0; i < n / QK_K; i++) {
        decode_iq2_s(&x[i], &b);
        dequant_block(&b, quant_h2f(x[i].d), SC_QUARTER, dst + i * QK_K);
    }
}

static void quant_dequant_iq3_xxs(const void *src, float *dst, int64_t n)
{
    const block_iq3_xxs *x = src;
    iq_block b;
    for (int64_t i = 0; i < n / QK_K; i++) {
        decode_iq3_xxs(&x[i], &b);
        dequant_block(&b, quant_h2f(x[i].d), SC_HALF, dst + i * QK_K);
    }
}

static void quant_dequant_iq3_s(const void *src, float *dst, int64_t n)
{
    const block_iq3_s *x = src;
    iq_block b;
    for (int64_t i = 0; i < n / QK_K; i++) {
        decode_iq3_s(&x[i], &b);
        dequant_block(&b, quant_h2f(x[i].d), SC_ODD, dst + i * QK_K);
    }
}

/* ---------------------------------------------------------------------------
 * Dot products with Q8_K
 * ------------------------------------------------------------------------- */

/* sum over the super-block of ls * q * a, exact in 32 bits (at most
 * 256 * 31 * 62 * 128) */
static int block_sum(const iq_block *b, const int8_t *a)
{
    int bsum = 0;
    for (int j = 0; j < QK_K / 16; j++) {
        int s = 0;
        for (int l = 0; l < 16; l++)
            s += b->q[16 * j + l] * a[16 * j + l];
        bsum += s * b->ls[j];
    }
    return bsum;
}

#define IQ_VEC_DOT(name, block_t, decode, factor)                                   \
    static void quant_vec_dot_##name(int64_t n, float *out, const void *w, const void *a) \
    {                                                                              \
        const block_t *x = w;                                                      \
        const block_q8_K *y = a;                                                   \
        iq_block b;                                                                \
        float sumf = 0.0f;                                                         \
        for (int64_t i = 0; i < n / QK_K; i++) {                                   \
            decode(&x[i], &b);                                                     \
            const float d = quant_h2f(x[i].d) * y[i].d;                            \
            sumf += d * (float)block_sum(&b, y[i].qs);                             \
        }                                                                          \
        *out = (factor) * sumf;                                                    \
    }

IQ_VEC_DOT(iq2_xxs, block_iq2_xxs, decode_iq2_xxs, 0.125f)
IQ_VEC_DOT(iq2_xs, block_iq2_xs, decode_iq2_xs, 0.125f)
IQ_VEC_DOT(iq2_s, block_iq2_s, decode_iq2_s, 0.125f)
IQ_VEC_DOT(iq3_xxs, block_iq3_xxs, decode_iq3_xxs, 0.25f)
IQ_VEC_DOT(iq3_s, block_iq3_s, decode_iq3_s, 1.0f)

void quant_register_iq23(quant_kernels *tab)
{
#define K(type, name) tab[type] = (quant_kernels){.dequant = quant_dequant_##name, .vec_dot = quant_vec_dot_##name}
    K(QT_IQ2_XXS, iq2_xxs);
    K(QT_IQ2_XS, iq2_xs);
    K(QT_IQ2_S, iq2_s);
    K(QT_IQ3_XXS, iq3_xxs);
    K(QT_IQ3_S, iq3_s);
#undef K
}
