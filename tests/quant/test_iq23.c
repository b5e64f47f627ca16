/*
 * test_iq23.c - quant_iq23_kernels: the IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS
 * and IQ3_S kernels.
 *
 * - The scalar dequantizers against the format definitions written out
 *   here element by element (where each element's grid index, sign bit and
 *   scale nibble sit in the block), in the definitions' float expressions,
 *   bit for bit. IQ2_XS has no reference rows in ../shared: this is what
 *   pins it.
 * - The scalar dot products against the definition's integer sums (per
 *   16 or 32 elements, times the odd scale) and its float order (d_w * d_a
 *   * sum added block after block, the total scaled once), bit for bit.
 * - Every SIMD twin at each level this CPU runs against the scalar
 *   kernels: the same floats from dequantization, and the same bits from
 *   the dot products (the SIMD kernels compute each super-block's integer
 *   sum exactly and apply the floats in the scalar order, which is
 *   stricter than test_simd_twins.c's float-order bound).
 * - Where the AVX-512 level has a blocked GEMM for a type, its output for
 *   several tokens, rows and row ranges against the vec_dot bits (both
 *   its row kernel and, from 8 tokens, its packed one).
 *
 * Random bytes are valid blocks for these formats (every index is a grid
 * point, every sign pattern allowed), so the blocks are random apart from
 * their half scales, which are kept finite.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "quant/quant_codebook.h"
#include "quant/quant_impl.h"
#include "t.h"

#define N_MAX (QK_K * 24)

static uint64_t rng = 0x6a09e667f3bcc908ull;

/* A check that ends the current function (not the test) when it fails. */
#define CHECK_OR_RETURN(cond, ...)       \
    do {                                 \
        if (!(cond)) {                   \
            T_CHECK(0, __VA_ARGS__);     \
            return;                      \
        }                                \
    } while (0)

static const int types[] = {QT_IQ2_XXS, QT_IQ2_XS, QT_IQ2_S, QT_IQ3_XXS, QT_IQ3_S};

/* ---------------------------------------------------------------------------
 * The definitions, element by element
 * ------------------------------------------------------------------------- */

static uint32_t u32_at(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint16_t u16_at(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* sign bit j of a 7-bit stored sign field: bit 7 is the parity */
static int sign7(unsigned field, int j)
{
    return j < 7 ? (field >> j) & 1 : __builtin_popcount(field) & 1;
}

/* Element e (0..255) of one block: its magnitude, whether it is negated,
 * and the 4-bit scale s of its sub-block. */
static void element(int type, const uint8_t *blk, int e, int *mag, int *neg, int *s)
{
    const uint8_t *qs = blk + 2; /* every block opens with the half d */
    const int ib = e / 32, l = (e % 32) / 8, j = e % 8, g = e / 8;
    switch (type) {
    case QT_IQ2_XXS: {
        const uint32_t aux0 = u32_at(qs + 8 * ib), aux1 = u32_at(qs + 8 * ib + 4);
        *mag = ((const uint8_t *)&quant_iq2xxs_grid[(aux0 >> 8 * l) & 255])[j];
        *neg = sign7((aux1 >> 7 * l) & 127, j);
        *s = (int)(aux1 >> 28);
        break;
    }
    case QT_IQ2_XS: {
        const uint16_t v = u16_at(qs + 2 * g);
        const uint8_t sc = blk[2 + 64 + ib];
        *mag = ((const uint8_t *)&quant_iq2xs_grid[v & 511])[j];
        *neg = sign7(v >> 9, j);
        *s = (e % 32) < 16 ? sc & 15 : sc >> 4;
        break;
    }
    case QT_IQ2_S: {
        const uint8_t *qh = blk + 2 + 64, *sc = qh + 8;
        const int idx = qs[g] | (((qh[g / 4] >> (2 * (g % 4))) & 3) << 8);
        *mag = ((const uint8_t *)&quant_iq2s_grid[idx])[j];
        *neg = (qs[32 + g] >> j) & 1;
        *s = (e % 32) < 16 ? sc[ib] & 15 : sc[ib] >> 4;
        break;
    }
    case QT_IQ3_XXS: {
        const uint32_t aux = u32_at(qs + 64 + 4 * ib);
        const int k = 2 * l + (j >= 4);
        *mag = ((const uint8_t *)&quant_iq3xxs_grid[qs[8 * ib + k]])[j % 4];
        *neg = sign7((aux >> 7 * l) & 127, j);
        *s = (int)(aux >> 28);
        break;
    }
    case QT_IQ3_S: {
        const uint8_t *qh = blk + 2 + 64, *signs = qh + 8, *sc = signs + 32;
        const int k = 2 * l + (j >= 4);
        const int idx = qs[8 * ib + k] | (((qh[ib] >> k) & 1) << 8);
        *mag = ((const uint8_t *)&quant_iq3s_grid[idx])[j % 4];
        *neg = (signs[4 * ib + l] >> j) & 1;
        *s = ib % 2 ? sc[ib / 2] >> 4 : sc[ib / 2] & 15;
        break;
    }
    default:
        *mag = *neg = *s = 0;
    }
}

static float def_dequant(int type, const uint8_t *blk, int e)
{
    int mag, neg, s;
    element(type, blk, e, &mag, &neg, &s);
    const float d = quant_f16_to_f32(u16_at(blk));
    float db;
    if (type == QT_IQ3_S)
        db = d * (float)(1 + 2 * s);
    else if (type == QT_IQ3_XXS)
        db = d * (0.5f + (float)s) * 0.5f;
    else
        db = d * (0.5f + (float)s) * 0.25f;
    return db * (float)mag * (neg ? -1.0f : 1.0f);
}

static float def_dot(int type, const uint8_t *w, const block_q8_K *y, int64_t n)
{
    const int bytes = quant_traits_of(type)->bytes;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8_t *blk = w + i * bytes;
        int32_t bsum = 0;
        for (int sub = 0; sub < QK_K / 16; sub++) {
            int32_t sumi = 0;
            int s = 0;
            for (int e = 16 * sub; e < 16 * sub + 16; e++) {
                int mag, neg;
                element(type, blk, e, &mag, &neg, &s);
                sumi += (neg ? -mag : mag) * y[i].qs[e];
            }
            bsum += sumi * (2 * s + 1);
        }
        sumf += quant_f16_to_f32(u16_at(blk)) * y[i].d * (float)bsum;
    }
    const float factor = type == QT_IQ3_S ? 1.0f : type == QT_IQ3_XXS ? 0.25f : 0.125f;
    return factor * sumf;
}

/* ---------------------------------------------------------------------------
 * Inputs
 * ------------------------------------------------------------------------- */

static uint16_t rand_scale(void)
{
    static const uint16_t extremes[] = {0x0000, 0x0001, 0x7bff, 0xfbff, 0x8001, 0x3c00, 0x0400};
    const uint64_t r = t_rand(&rng);
    if (r % 8 == 0)
        return extremes[(r >> 8) % (sizeof extremes / sizeof *extremes)];
    const float f = ldexpf((float)((r >> 16) % 1000 + 1) / 1000.0f, (int)((r >> 32) % 14) - 12);
    return quant_f32_to_f16((r >> 40) & 1 ? -f : f);
}

/* Random blocks; every 8th all zero bytes, every 8th + 1 all 0xFF. */
static void make_weights(int type, uint8_t *row, int64_t n)
{
    const int bytes = quant_traits_of(type)->bytes;
    for (int64_t b = 0; b < n / QK_K; b++) {
        uint8_t *blk = row + b * bytes;
        for (int k = 0; k < bytes; k++)
            blk[k] = b % 8 == 0 ? 0 : b % 8 == 1 ? 0xFF : (uint8_t)t_rand(&rng);
        const uint16_t h = rand_scale();
        memcpy(blk, &h, 2);
    }
}

/* Activations: Q8_K from the scalar quantizer (variants: plain, zero,
 * tiny, offset), or raw extreme quants (-128 included, which the
 * quantizer never makes) with consistent per-16 sums. */
static void make_acts(uint8_t *row, int64_t n, int variant)
{
    float *f = malloc((size_t)n * sizeof *f);
    for (int64_t i = 0; i < n; i++)
        f[i] = variant == 1 ? 0.0f : t_gauss(&rng) * (variant == 2 ? 1e-3f : 3.0f) + (variant == 3 ? 2.0f : 0.0f);
    quant_kernels_for(QT_Q8_K, "scalar")->quantize(f, row, n);
    free(f);
    if (variant == 4) {
        block_q8_K *y = (block_q8_K *)row;
        for (int64_t b = 0; b < n / QK_K; b++) {
            y[b].d = 0.75f;
            for (int j = 0; j < QK_K; j++)
                y[b].qs[j] = (int8_t)(b % 3 == 0 ? -128 : b % 3 == 1 ? 127 : (int)(t_rand(&rng) % 256) - 128);
            for (int j = 0; j < 16; j++) {
                int s = 0;
                for (int l = 0; l < 16; l++)
                    s += y[b].qs[16 * j + l];
                y[b].bsums[j] = (int16_t)s;
            }
        }
    }
}

/* ---------------------------------------------------------------------------
 * Checks
 * ------------------------------------------------------------------------- */

static void check_scalar(int type, uint8_t *w, uint8_t *act, float *out)
{
    const char *name = quant_traits_of(type)->name;
    const quant_kernels *k = quant_kernels_for(type, "scalar");
    CHECK_OR_RETURN(k && k->dequant && k->vec_dot, "%s: no scalar kernels", name);
    T_CHECK(k->quantize == NULL, "%s: read-only type with a quantizer", name);
    T_EQ_INT(quant_act_type(type), QT_Q8_K);
    const int bytes = quant_traits_of(type)->bytes;
    int bad_deq = 0, bad_dot = 0;
    for (int r = 0; r < 40; r++) {
        const int64_t n = QK_K * (1 + r % 24);
        make_weights(type, w, n);
        k->dequant(w, out, n);
        for (int64_t e = 0; e < n; e++) {
            const float want = def_dequant(type, w + (e / QK_K) * bytes, (int)(e % QK_K));
            if (memcmp(&want, &out[e], 4)) {
                if (!bad_deq)
                    T_CHECK(0, "%s row %d element %lld: dequant %.9g, definition %.9g", name, r, (long long)e,
                            out[e], want);
                bad_deq++;
            }
        }
        make_acts(act, n, r % 5);
        float got;
        k->vec_dot(n, &got, w, act);
        const float want = def_dot(type, w, (const block_q8_K *)act, n);
        if (memcmp(&want, &got, 4)) {
            if (!bad_dot)
                T_CHECK(0, "%s row %d: vec_dot %.9g, definition %.9g", name, r, got, want);
            bad_dot++;
        }
    }
    printf("scalar %-7s dequant %s, vec_dot %s the definition\n", name, bad_deq ? "DIFFERS from" : "matches",
           bad_dot ? "DIFFERS from" : "matches");
}

static void check_level(int type, const char *level, uint8_t *w, uint8_t *act, float *d1, float *d2)
{
    const char *name = quant_traits_of(type)->name;
    const quant_kernels *ks = quant_kernels_for(type, "scalar"), *kv = quant_kernels_for(type, level);
    CHECK_OR_RETURN(ks && kv && kv->dequant && kv->vec_dot, "%s: no kernels at %s", name, level);
    int bad_deq = 0, bad_dot = 0;
    for (int r = 0; r < 60; r++) {
        const int64_t n = QK_K * (1 + r % 24);
        make_weights(type, w, n);
        ks->dequant(w, d1, n);
        kv->dequant(w, d2, n);
        bad_deq += memcmp(d1, d2, (size_t)n * sizeof *d1) != 0;
        make_acts(act, n, r % 5);
        float s1, s2;
        ks->vec_dot(n, &s1, w, act);
        kv->vec_dot(n, &s2, w, act);
        if (memcmp(&s1, &s2, 4)) {
            if (!bad_dot)
                T_CHECK(0, "%s %s row %d (%lld blocks): vec_dot %.9g, scalar %.9g", level, name, r,
                        (long long)(n / QK_K), s2, s1);
            bad_dot++;
        }
    }
    T_CHECK(bad_deq == 0, "%s %s: %d rows dequantize differently from scalar", level, name, bad_deq);
    printf("%-6s %-7s dequant %s, vec_dot %s\n", level, name, bad_deq ? "DIFF" : "same bits",
           bad_dot ? "DIFF" : "same bits");
}

/* The blocked GEMM of a level against vec_dot, on uneven shapes. */
static void check_gemm(int type, const char *level)
{
    quant_gemm_fn g = quant_gemm_for(type, level);
    if (!g)
        return;
    const char *name = quant_traits_of(type)->name;
    const quant_kernels *kv = quant_kernels_for(type, level);
    /* {super-blocks, rows, tokens}: the row kernel under 8 tokens, the
     * packed one from 8 (one and two 16-row panels, short panels and
     * token tiles, a batch past one 256-token pass) */
    static const int shapes[][3] = {{1, 1, 1},     {5, 3, 2},    {12, 37, 4},   {7, 40, 20}, {24, 19, 37},
                                    {2, 20, 8},    {3, 70, 15},  {1, 36, 300},  {32, 17, 9}};
    int bad = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        const int nbk = shapes[si][0], rows = shapes[si][1], ntok = shapes[si][2];
        const int64_t n = (int64_t)QK_K * nbk;
        const size_t rb = quant_row_bytes(type, n), ab = quant_row_bytes(QT_Q8_K, n);
        uint8_t *w = malloc(rb * (size_t)rows), *a = malloc(ab * (size_t)ntok);
        float *out = malloc(sizeof(float) * (size_t)rows * (size_t)ntok);
        for (int r = 0; r < rows; r++)
            make_weights(type, w + rb * (size_t)r, n);
        for (int t = 0; t < ntok; t++)
            make_acts(a + ab * (size_t)t, n, t % 5);
        const int r0 = rows > 4 ? 1 : 0, r1 = rows > 4 ? rows - 2 : rows;
        for (size_t i = 0; i < (size_t)rows * (size_t)ntok; i++)
            out[i] = -12345.0f;
        g(n, w, rb, r0, r1, a, ab, ntok, out, (size_t)rows);
        for (int t = 0; t < ntok; t++) {
            for (int r = 0; r < rows; r++) {
                const float got = out[(size_t)t * (size_t)rows + (size_t)r];
                float want = -12345.0f;
                if (r >= r0 && r < r1)
                    kv->vec_dot(n, &want, w + rb * (size_t)r, a + ab * (size_t)t);
                if (memcmp(&got, &want, 4)) {
                    if (!bad)
                        T_CHECK(0, "%s %s gemm %d blocks, row %d token %d (rows %d..%d of %d, %d tokens): %.9g, vec_dot %.9g",
                                level, name, nbk, r, t, r0, r1, rows, ntok, got, want);
                    bad++;
                }
            }
        }
        free(w);
        free(a);
        free(out);
    }
    printf("%-6s %-7s gemm %s\n", level, name, bad ? "DIFF" : "same bits as vec_dot");
}

/* vec_dot_rows of a level (where it has one) against its vec_dot: every
 * row count's split into fours and a tail, bit for bit. */
static void check_rows(int type, const char *level)
{
    const quant_kernels *kv = quant_kernels_for(type, level);
    if (!kv->vec_dot_rows)
        return;
    const char *name = quant_traits_of(type)->name;
    const int nbk = 3, rows = 11;
    const int64_t n = (int64_t)QK_K * nbk;
    const size_t rb = quant_row_bytes(type, n), ab = quant_row_bytes(QT_Q8_K, n);
    uint8_t *w = malloc(rb * rows), *a = malloc(ab);
    float out[rows + 1];
    int bad = 0;
    for (int r = 0; r < rows; r++)
        make_weights(type, w + rb * (size_t)r, n);
    for (int v = 0; v < 5; v++) {
        make_acts(a, n, v);
        for (int nr = 0; nr <= rows; nr++) {
            out[nr] = 12345.0f;
            kv->vec_dot_rows(n, out, w, rb, nr, a);
            for (int r = 0; r < nr; r++) {
                float want;
                kv->vec_dot(n, &want, w + rb * (size_t)r, a);
                if (memcmp(&want, &out[r], 4)) {
                    if (!bad)
                        T_CHECK(0, "%s %s vec_dot_rows %d rows, row %d (acts %d): %.9g, vec_dot %.9g", level,
                                name, nr, r, v, out[r], want);
                    bad++;
                }
            }
            T_CHECK(out[nr] == 12345.0f, "%s %s vec_dot_rows wrote past %d rows", level, name, nr);
        }
    }
    free(w);
    free(a);
    printf("%-6s %-7s vec_dot_rows %s\n", level, name, bad ? "DIFF" : "same bits as vec_dot");
}

int main(void)
{
    chord_init();
    uint8_t *w = malloc(N_MAX), *act = malloc(N_MAX / QK_K * sizeof(block_q8_K));
    float *d1 = malloc(N_MAX * sizeof(float)), *d2 = malloc(N_MAX * sizeof(float));
    T_REQUIRE(w && act && d1 && d2, "out of memory");
    static const char *const levels[] = {"avx2", "avx512"};
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        check_scalar(types[t], w, act, d1);
        for (int l = 0; l < 2; l++) {
            if (!quant_cpu_has(levels[l])) {
                printf("note: this CPU lacks %s; its kernels are not compared here\n", levels[l]);
                continue;
            }
            check_level(types[t], levels[l], w, act, d1, d2);
            check_gemm(types[t], levels[l]);
            check_rows(types[t], levels[l]);
        }
    }
    free(w);
    free(act);
    free(d1);
    free(d2);
    return t_done();
}
