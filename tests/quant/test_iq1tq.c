/*
 * test_iq1tq.c - quant_iq1tq_kernels: IQ1_S, IQ1_M, TQ1_0 and TQ2_0.
 *
 * 1. Dequantization against the formats written out element by element
 *    from their definitions (not the kernels' loop structure): random
 *    blocks for IQ1_S / IQ1_M (every bit pattern is a valid block), and
 *    hand-built ternary blocks whose trits are known, including literal
 *    bytes worked out by hand and all 243 values of a base-3 byte.
 * 2. The ternary quantizers: quantize -> dequantize gives exactly
 *    round(x / max|x|) * half(max|x|) per element, and TQ1_0 and TQ2_0
 *    agree with each other on the same input. IQ1_S / IQ1_M have no
 *    quantizer (read-only types).
 * 3. Scalar dot products against the dot of the dequantized rows (within
 *    float summation error), on Q8_K activations including the extreme
 *    quants -128 and 127.
 * 4. Every SIMD twin (each level this CPU runs) against the scalar
 *    kernels: dequant and quantize bytes identical, vec_dot and
 *    vec_dot_rows bit for bit (the twins sum the same integers and combine
 *    them with the same float operations), over 1..17 super-blocks;
 *    vec_dot_rows on 0..9 padded rows, writing nothing past them.
 * 5. The AVX-512 GEMM, where there is one, bit for bit against the
 *    vec_dot of its level across token counts and row ranges.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "quant/quant_codebook.h"
#include "quant/quant_iq1_tab.h"
#include "quant/quant_impl.h"
#include "t.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static const int types[] = {QT_IQ1_S, QT_IQ1_M, QT_TQ1_0, QT_TQ2_0};

/* A finite half scale: ordinary values, sometimes zero, tiny or huge. */
static uint16_t rand_half(void)
{
    static const uint16_t extremes[] = {0x0000, 0x0001, 0x7bff, 0xfbff, 0x8001, 0x3c00, 0x0400};
    const uint64_t r = t_rand(&rng);
    if (r % 8 == 0)
        return extremes[(r >> 8) % (sizeof extremes / sizeof *extremes)];
    const float f = ldexpf((float)((r >> 16) % 1000 + 1) / 1000.0f, (int)((r >> 32) % 14) - 12);
    return quant_f32_to_f16((r >> 40) & 1 ? -f : f);
}

/* ---------------------------------------------------------------------------
 * The formats from their definitions, element by element.
 * ------------------------------------------------------------------------- */

static int8_t grid_value(int idx, int j)
{
    return (int8_t)(quant_iq1s_grid[idx] >> (8 * j));
}

/* IQ1_S element e: group g = e / 8 of 32; qh word g / 4 gives the high 3
 * index bits of its 4 groups (bits 3 * (g % 4)), the odd scale 2s + 1
 * (bits 12-14) and the sign of the delta (bit 15). */
static float def_iq1_s(const uint8_t *blk, int e)
{
    const int g = e / 8;
    uint16_t d, qh;
    memcpy(&d, blk, 2);
    memcpy(&qh, blk + 2 + 32 + 2 * (g / 4), 2);
    const int idx = blk[2 + g] | (((qh >> (3 * (g % 4))) & 7) << 8);
    const float dl = quant_f16_to_f32(d) * (float)(2 * ((qh >> 12) & 7) + 1);
    const float delta = (qh >> 15) ? -0.125f : 0.125f;
    return dl * ((float)grid_value(idx, e % 8) + delta);
}

/* IQ1_M element e: group g = e / 8; nibble g % 2 of qh byte g / 2 holds
 * its high 3 index bits and (bit 3) the delta sign; sixteen 3-bit scales,
 * one per 16 elements, scale k at bits 3 * (k % 4) of 16-bit word k / 4;
 * the half scale is the top nibbles of those words, word 0 lowest. */
static float def_iq1_m(const uint8_t *blk, int e)
{
    const int g = e / 8, k = e / 16;
    uint16_t w[4];
    memcpy(w, blk + 32 + 16, 8);
    const uint16_t h = (uint16_t)((w[0] >> 12) | ((w[1] >> 12) << 4) | ((w[2] >> 12) << 8) | ((w[3] >> 12) << 12));
    const int nib = (blk[32 + g / 2] >> (4 * (g % 2))) & 15;
    const int idx = blk[g] | ((nib & 7) << 8);
    const float dl = quant_f16_to_f32(h) * (float)(2 * ((w[k / 4] >> (3 * (k % 4))) & 7) + 1);
    const float delta = (nib & 8) ? -0.125f : 0.125f;
    return dl * ((float)grid_value(idx, e % 8) + delta);
}

/* Where element e of a TQ1_0 block lives: byte index into the 52 trit
 * bytes (qs then qh) and trit position (0 = most significant). */
static void tq1_place(int e, int *byte, int *pos)
{
    if (e < 160) {
        *byte = e % 32;
        *pos = e / 32;
    } else if (e < 240) {
        *byte = 32 + (e - 160) % 16;
        *pos = (e - 160) / 16;
    } else {
        *byte = 48 + (e - 240) % 4;
        *pos = (e - 240) / 4;
    }
}

/* A TQ1_0 block holding trits t[256] (0, 1, 2) and scale h: each byte is
 * ceil(v * 256 / 243) of its 5-digit base-3 number v (qh bytes: 4 digits
 * and a zero last digit). */
static void tq1_build(uint8_t *blk, const int *t, uint16_t h)
{
    int v[52] = {0};
    for (int e = 0; e < 256; e++) {
        int b, p;
        tq1_place(e, &b, &p);
        int w = 1;
        for (int k = p; k < 4; k++)
            w *= 3;
        v[b] += t[e] * w;
    }
    for (int b = 0; b < 52; b++)
        blk[b] = (uint8_t)((v[b] * 256 + 242) / 243);
    memcpy(blk + 52, &h, 2);
}

/* TQ2_0 element e: byte 32 * (e / 128) + e % 32, bits 2 * ((e % 128) / 32). */
static void tq2_build(uint8_t *blk, const int *t, uint16_t h)
{
    memset(blk, 0, 64);
    for (int e = 0; e < 256; e++)
        blk[32 * (e / 128) + e % 32] |= (uint8_t)(t[e] << (2 * ((e % 128) / 32)));
    memcpy(blk + 64, &h, 2);
}

/* ---------------------------------------------------------------------------
 * Random rows of each type.
 * ------------------------------------------------------------------------- */

/* One block of type: IQ1 from random bytes with a sane half; TQ1_0 from
 * random trits (or, raw, random bytes: bytes above 242 decode too, to the
 * same values at every level); TQ2_0 from random bytes (the unused code 3
 * decodes as 2, the same everywhere). Every 8th block is all zero bits, the
 * next all one bits (scales then set sane). */
static void make_block(int type, uint8_t *blk, int variant, int raw)
{
    const int bytes = quant_traits_of(type)->bytes;
    for (int k = 0; k < bytes; k++)
        blk[k] = variant == 0 ? 0 : variant == 1 ? 0xff : (uint8_t)t_rand(&rng);
    uint16_t h = rand_half();
    if (type == QT_IQ1_S) {
        memcpy(blk, &h, 2);
    } else if (type == QT_IQ1_M) {
        for (int w = 0; w < 4; w++) {
            uint16_t sc;
            memcpy(&sc, blk + 48 + 2 * w, 2);
            sc = (uint16_t)((sc & 0x0fff) | (((h >> (4 * w)) & 15) << 12));
            memcpy(blk + 48 + 2 * w, &sc, 2);
        }
    } else if (type == QT_TQ1_0) {
        if (!raw) {
            int t[256];
            for (int e = 0; e < 256; e++)
                t[e] = variant == 0 ? 0 : variant == 1 ? 2 : (int)(t_rand(&rng) % 3);
            tq1_build(blk, t, h);
        }
        memcpy(blk + 52, &h, 2);
    } else {
        memcpy(blk + 64, &h, 2);
    }
}

static void make_row(int type, uint8_t *row, int nb, int raw)
{
    const int bytes = quant_traits_of(type)->bytes;
    for (int b = 0; b < nb; b++)
        make_block(type, row + (size_t)b * bytes, b % 8 < 2 ? b % 8 : 2, raw);
}

/* A Q8_K activation row: quantized floats, or (variant 3) raw extreme
 * quants with consistent per-16 sums. */
static void make_act(block_q8_K *y, int nb, int variant)
{
    float *f = malloc((size_t)nb * QK_K * sizeof *f);
    for (int i = 0; i < nb * QK_K; i++)
        f[i] = variant == 1 ? 0.0f : t_gauss(&rng) * (variant == 2 ? 1e-3f : 3.0f);
    quant_kernels_for(QT_Q8_K, "scalar")->quantize(f, y, nb * QK_K);
    free(f);
    if (variant == 3) {
        for (int b = 0; b < nb; b++) {
            y[b].d = 0.75f;
            for (int j = 0; j < QK_K; j++)
                y[b].qs[j] = (int8_t)(b % 2 ? -128 : j % 3 ? 127 : (int)(t_rand(&rng) % 256) - 128);
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
 * 1. Dequantization from the definitions
 * ------------------------------------------------------------------------- */

static void test_iq1_definitions(void)
{
    enum { NB = 64 };
    for (int ti = 0; ti < 2; ti++) {
        const int type = types[ti];
        const int bytes = quant_traits_of(type)->bytes;
        uint8_t *row = malloc((size_t)NB * bytes);
        float *out = malloc(NB * QK_K * sizeof *out);
        make_row(type, row, NB, 0);
        quant_kernels_for(type, "scalar")->dequant(row, out, NB * QK_K);
        int bad = 0;
        for (int b = 0; b < NB; b++)
            for (int e = 0; e < QK_K; e++) {
                const uint8_t *blk = row + (size_t)b * bytes;
                const float want = type == QT_IQ1_S ? def_iq1_s(blk, e) : def_iq1_m(blk, e);
                if (memcmp(&want, &out[b * QK_K + e], 4) && !bad++)
                    fprintf(stderr, "%s block %d element %d: %.9g, definition %.9g\n",
                            quant_traits_of(type)->name, b, e, out[b * QK_K + e], want);
            }
        T_CHECK(bad == 0, "%s: %d elements differ from the definition", quant_traits_of(type)->name, bad);
        free(row);
        free(out);
    }

    /* A hand-made IQ1_M block: half 1.5 (0x3e00) spread over the top
     * nibbles (0, 0, 0xe, 3), scale field 2 of word 0 = 5 (factor 11) for
     * elements 32..47, group 4 (elements 32..39) index 0x300 | 7 with a
     * negative delta. */
    uint8_t m[56] = {0};
    uint16_t w[4] = {(uint16_t)(5u << 6), 0, 0xe000, 0x3000};
    memcpy(m + 48, w, 8);
    m[4] = 7;
    m[32 + 2] = 0x3 | 0x8;
    float out[256];
    quant_kernels_for(QT_IQ1_M, "scalar")->dequant(m, out, 256);
    for (int j = 0; j < 8; j++)
        T_EQ_INT(out[32 + j] == 1.5f * 11.0f * ((float)grid_value(0x307, j) - 0.125f), 1);
    /* element 0: scale field 0 = 0 (factor 1), index 0 = all -1, delta +: 1.5 * -0.875 */
    T_EQ_INT(out[0] == 1.5f * -0.875f, 1);
    T_EQ_INT(grid_value(0, 0), -1);

    /* A hand-made IQ1_S block: d = 2, sub-block 1 has scale 3 (factor 7),
     * negative delta, group 5 (its second) index 0x500 | 0x42. */
    uint8_t s[50] = {0};
    const uint16_t two = 0x4000, qh1 = (uint16_t)(0x8000 | (3u << 12) | (5u << 3));
    memcpy(s, &two, 2);
    memcpy(s + 34 + 2, &qh1, 2);
    s[2 + 5] = 0x42;
    quant_kernels_for(QT_IQ1_S, "scalar")->dequant(s, out, 256);
    for (int j = 0; j < 8; j++)
        T_EQ_INT(out[40 + j] == 14.0f * ((float)grid_value(0x542, j) - 0.125f), 1);
    T_EQ_INT(out[0] == 2.0f * -0.875f, 1);
}

static void test_ternary_definitions(void)
{
    const quant_kernels *k1 = quant_kernels_for(QT_TQ1_0, "scalar");
    const quant_kernels *k2 = quant_kernels_for(QT_TQ2_0, "scalar");
    T_CHECK(k1 && k2, "ternary kernels missing");
    if (!k1 || !k2)
        return;
    float out[256];

    /* Literal bytes worked out by hand. TQ1_0 byte 0 = 186 =
     * ceil(176 * 256 / 243), 176 = 2*81 + 0*27 + 1*9 + 1*3 + 2: elements
     * 0, 32, 64, 96, 128 are +1, -1, 0, 0, +1 (times d = 0.5); qh[0] = 0xff
     * (not a valid encoding) multiplies to 255, 253, 247, 229, each read
     * as trit 2: elements 240, 244, 248, 252 = +1; zero bytes are -1. */
    uint8_t b1[54] = {0};
    b1[0] = 186;
    b1[48] = 0xff;
    const uint16_t half = 0x3800; /* 0.5 */
    memcpy(b1 + 52, &half, 2);
    k1->dequant(b1, out, 256);
    const float want1[5] = {0.5f, -0.5f, 0.0f, 0.0f, 0.5f};
    for (int k = 0; k < 5; k++)
        T_EQ_INT(out[32 * k] == want1[k], 1);
    T_EQ_INT(out[240] == 0.5f && out[244] == 0.5f && out[248] == 0.5f && out[252] == 0.5f, 1);
    T_EQ_INT(out[1] == -0.5f && out[160] == -0.5f && out[241] == -0.5f, 1);

    /* TQ2_0 byte 33 = 0b10010010: elements 129, 161, 193, 225 are codes
     * 2, 0, 1, 2 minus 1. */
    uint8_t b2[66] = {0};
    b2[33] = 0x92;
    memcpy(b2 + 64, &half, 2);
    k2->dequant(b2, out, 256);
    T_EQ_INT(out[129] == 0.5f && out[161] == -0.5f && out[193] == 0.0f && out[225] == 0.5f, 1);
    T_EQ_INT(out[0] == -0.5f, 1);

    /* Every 5-trit value in every position of qs, and every 4-trit value
     * in qh: known trits -> known floats. */
    int t[256];
    uint8_t blk[66];
    int bad = 0;
    for (int v = 0; v < 243; v++) {
        for (int e = 0; e < 256; e++) {
            int b, p;
            tq1_place(e, &b, &p);
            int digit = b < 48 ? v : (v / 3) % 81 * 3; /* qh: 4 digits, the last 0 */
            for (int k = p; k < 4; k++)
                digit /= 3;
            t[e] = digit % 3;
        }
        const uint16_t h = rand_half();
        const float d = quant_f16_to_f32(h);
        tq1_build(blk, t, h);
        k1->dequant(blk, out, 256);
        for (int e = 0; e < 256; e++)
            bad += memcmp(&out[e], &(float){(float)(t[e] - 1) * d}, 4) != 0;
        tq2_build(blk, t, h);
        k2->dequant(blk, out, 256);
        for (int e = 0; e < 256; e++)
            bad += memcmp(&out[e], &(float){(float)(t[e] - 1) * d}, 4) != 0;
    }
    T_CHECK(bad == 0, "ternary: %d elements of known trits decode wrongly", bad);
}

/* ---------------------------------------------------------------------------
 * 2. Quantizers
 * ------------------------------------------------------------------------- */

static void test_quantize(void)
{
    T_CHECK(quant_kernels_for(QT_IQ1_S, "scalar")->quantize == NULL, "IQ1_S is read-only");
    T_CHECK(quant_kernels_for(QT_IQ1_M, "scalar")->quantize == NULL, "IQ1_M is read-only");
    enum { NB = 24, N = NB * QK_K };
    float *f = malloc(N * sizeof *f), *o1 = malloc(N * sizeof *o1), *o2 = malloc(N * sizeof *o2);
    uint8_t *q1 = malloc(NB * 54), *q2 = malloc(NB * 66);
    for (int i = 0; i < N; i++) {
        const int b = i / QK_K;
        const float g = t_gauss(&rng);
        /* plain, all zero, exact halves of the max (rounding ties go away
         * from zero), a huge outlier */
        f[i] = b % 4 == 1 ? 0.0f
             : b % 4 == 2 ? (i % QK_K == 0 ? 2.0f : (float)((int)(g * 4.0f) % 5) * 0.5f)
             : g * (i % 100 == 7 ? 5000.0f : 1.0f);
    }
    f[2 * QK_K + 1] = 1.0f; /* ties: half of the max rounds away from zero */
    f[2 * QK_K + 2] = -1.0f;
    quant_kernels_for(QT_TQ1_0, "scalar")->quantize(f, q1, N);
    quant_kernels_for(QT_TQ2_0, "scalar")->quantize(f, q2, N);
    quant_kernels_for(QT_TQ1_0, "scalar")->dequant(q1, o1, N);
    quant_kernels_for(QT_TQ2_0, "scalar")->dequant(q2, o2, N);
    int bad = 0, differ = 0, nonzero = 0;
    for (int b = 0; b < NB; b++) {
        float amax = 0;
        for (int j = 0; j < QK_K; j++)
            amax = fmaxf(amax, fabsf(f[b * QK_K + j]));
        const float id = amax ? 1.0f / amax : 0.0f, d = quant_f16_to_f32(quant_f32_to_f16(amax));
        for (int j = 0; j < QK_K; j++) {
            const int i = b * QK_K + j;
            const float want = (float)lroundf(f[i] * id) * d;
            bad += memcmp(&o1[i], &want, 4) != 0;
            differ += memcmp(&o1[i], &o2[i], 4) != 0;
            nonzero += want != 0.0f;
        }
    }
    T_CHECK(bad == 0, "TQ1_0 round trip: %d elements are not round(x / max) * max", bad);
    T_CHECK(differ == 0, "TQ1_0 and TQ2_0 disagree on %d elements of the same input", differ);
    T_CHECK(nonzero > N / 10, "round trip too trivial (%d nonzero)", nonzero);
    T_EQ_INT(o1[2 * QK_K + 1] == 2.0f && o1[2 * QK_K + 2] == -2.0f, 1);
    T_EQ_INT(o2[2 * QK_K + 1] == 2.0f && o2[2 * QK_K + 2] == -2.0f, 1);
    free(f); free(o1); free(o2); free(q1); free(q2);
}

/* ---------------------------------------------------------------------------
 * 3. Scalar dot products against the dequantized rows
 * ------------------------------------------------------------------------- */

static void test_scalar_dots(void)
{
    enum { NB = 16, N = NB * QK_K };
    uint8_t *w = malloc(NB * 66);
    block_q8_K *y = malloc(NB * sizeof *y);
    float *wf = malloc(N * sizeof *wf), *yf = malloc(N * sizeof *yf);
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        const int type = types[ti];
        const quant_kernels *k = quant_kernels_for(type, "scalar");
        int bad = 0;
        for (int r = 0; r < 20; r++) {
            make_row(type, w, NB, r % 3 == 2);
            make_act(y, NB, r % 4);
            float got;
            k->vec_dot(N, &got, w, y);
            k->dequant(w, wf, N);
            quant_kernels_for(QT_Q8_K, "scalar")->dequant(y, yf, N);
            double want = 0, mag = 0;
            for (int i = 0; i < N; i++) {
                want += (double)wf[i] * yf[i];
                mag += fabs((double)wf[i] * yf[i]);
            }
            if (!(fabs(got - want) <= 2e-6 * mag) && !bad++)
                fprintf(stderr, "%s row %d: dot %.9g, dequantized %.9g\n", quant_traits_of(type)->name, r, got, want);
        }
        T_CHECK(bad == 0, "%s: %d scalar dots off the dequantized dot", quant_traits_of(type)->name, bad);
    }
    free(w); free(y); free(wf); free(yf);
}

/* ---------------------------------------------------------------------------
 * 4./5. SIMD twins and the GEMM
 * ------------------------------------------------------------------------- */

static void check_level(const char *level)
{
    enum { MAXB = 17, ROWS = 9 };
    const size_t wb = MAXB * 66;
    uint8_t *w = malloc(ROWS * wb), *q1 = malloc(wb), *q2 = malloc(wb);
    block_q8_K *y = malloc(MAXB * sizeof *y);
    float *f = malloc(MAXB * QK_K * sizeof *f), *d1 = malloc(MAXB * QK_K * sizeof *d1),
          *d2 = malloc(MAXB * QK_K * sizeof *d2);
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        const int type = types[ti];
        const char *name = quant_traits_of(type)->name;
        const quant_kernels *ks = quant_kernels_for(type, "scalar"), *kv = quant_kernels_for(type, level);
        T_CHECK(kv && kv->vec_dot && kv->dequant, "%s: no kernels at %s", name, level);
        if (!kv)
            continue;
        int bad_deq = 0, bad_q = 0, bad_dot = 0, bad_rows = 0;
        for (int nb = 1; nb <= MAXB; nb++) {
            const int64_t n = (int64_t)nb * QK_K;
            const size_t rb = quant_row_bytes(type, n);
            for (int r = 0; r < ROWS; r++)
                make_row(type, w + r * rb, nb, r % 3 == 2);
            make_act(y, nb, nb % 4);
            ks->dequant(w, d1, n);
            kv->dequant(w, d2, n);
            bad_deq += memcmp(d1, d2, (size_t)n * sizeof *d1) != 0;
            if (ks->quantize) {
                for (int i = 0; i < n; i++)
                    f[i] = t_gauss(&rng) * (i % 97 == 3 ? 300.0f : 1.0f);
                ks->quantize(f, q1, n);
                kv->quantize(f, q2, n);
                bad_q += memcmp(q1, q2, rb) != 0;
            }
            float want[ROWS], got[ROWS];
            for (int r = 0; r < ROWS; r++) {
                ks->vec_dot(n, &want[r], w + r * rb, y);
                kv->vec_dot(n, &got[r], w + r * rb, y);
                if (memcmp(&want[r], &got[r], 4) && !bad_dot++)
                    fprintf(stderr, "%s %s %d blocks row %d: %.9g, scalar %.9g\n", level, name, nb, r, got[r],
                            want[r]);
            }
            if (kv->vec_dot_rows) {
                /* the same rows again with 6 bytes of padding between them */
                const size_t stride = rb + 6;
                uint8_t *ws = malloc(ROWS * stride);
                for (int r = 0; r < ROWS; r++)
                    memcpy(ws + r * stride, w + r * rb, rb);
                for (int nr = 0; nr <= ROWS; nr++) {
                    float rows_out[ROWS + 1];
                    rows_out[nr] = 12345.0f;
                    kv->vec_dot_rows(n, rows_out, ws, stride, nr, y);
                    bad_rows += (nr && memcmp(rows_out, want, (size_t)nr * sizeof *want) != 0) ||
                                rows_out[nr] != 12345.0f;
                }
                free(ws);
            }
        }
        T_CHECK(bad_deq == 0, "%s %s: %d dequantized rows differ from scalar", level, name, bad_deq);
        T_CHECK(bad_q == 0, "%s %s: %d quantized rows differ from scalar", level, name, bad_q);
        T_CHECK(bad_dot == 0, "%s %s: %d dots differ from the scalar bits", level, name, bad_dot);
        T_CHECK(bad_rows == 0, "%s %s: %d vec_dot_rows calls differ from the scalar bits", level, name, bad_rows);
        printf("%-6s %-6s dequant %s  quantize %s  vec_dot %s  vec_dot_rows %s\n", level, name,
               bad_deq ? "DIFF" : "same", ks->quantize ? (bad_q ? "DIFF" : "same") : "none",
               bad_dot ? "DIFF" : "same", kv->vec_dot_rows ? (bad_rows ? "DIFF" : "same") : "none");
    }
    free(w); free(q1); free(q2); free(y); free(f); free(d1); free(d2);
}

static void check_gemm(int type)
{
    const quant_gemm_fn g = quant_gemm_for(type, "avx512");
    const char *name = quant_traits_of(type)->name;
    if (!g) {
        printf("avx512 %-6s no GEMM of its own (prefill loops over vec_dot)\n", name);
        return;
    }
    enum { NB = 37, N = NB * QK_K, ROWS = 37, TOK = 300 };
    const size_t rb = quant_row_bytes(type, N), ab = quant_row_bytes(QT_Q8_K, N);
    uint8_t *w = malloc(ROWS * rb), *act = malloc(TOK * ab);
    float *out = malloc(TOK * ROWS * sizeof *out);
    for (int r = 0; r < ROWS; r++)
        make_row(type, w + r * rb, NB, r % 3 == 2);
    for (int t = 0; t < TOK; t++)
        make_act((block_q8_K *)(act + t * ab), NB, t % 4);
    const quant_kernels *kv = quant_kernels_for(type, "avx512");
    static const int toks[] = {1, 2, 3, 7, 15, 16, 17, 33, 41, 300};
    static const int ranges[][2] = {{0, 37}, {0, 16}, {5, 36}, {31, 37}};
    int bad = 0;
    for (size_t ti = 0; ti < sizeof toks / sizeof *toks; ti++)
        for (size_t ri = 0; ri < sizeof ranges / sizeof *ranges; ri++) {
            const int r0 = ranges[ri][0], r1 = ranges[ri][1], nt = toks[ti];
            for (int i = 0; i < TOK * ROWS; i++)
                out[i] = NAN;
            g(N, w, rb, r0, r1, act, ab, nt, out, ROWS);
            for (int t = 0; t < nt; t++)
                for (int r = r0; r < r1; r++) {
                    float want;
                    kv->vec_dot(N, &want, w + r * rb, act + t * ab);
                    if (memcmp(&want, &out[t * ROWS + r], 4) && !bad++)
                        fprintf(stderr, "GEMM %s tok %d row %d (n_tok %d, rows %d..%d): %.9g, vec_dot %.9g\n",
                                name, t, r, nt, r0, r1, out[t * ROWS + r], want);
                }
        }
    T_CHECK(bad == 0, "avx512 %s GEMM: %d outputs differ from vec_dot", name, bad);
    printf("avx512 %-6s GEMM %s\n", name, bad ? "DIFF" : "same bits as vec_dot");
    free(w); free(act); free(out);
}

/* The AVX-512 decode's derived grid (built at init) is the codebook's,
 * value by value: byte k of entry i is 8 (g + 1) for value g of point i. */
static void test_derived_grid(void)
{
    T_CHECK(quant_kernels_for(QT_IQ1_S, "scalar") != NULL, "no IQ1_S kernels"); /* builds the tables */
    int bad = 0;
    for (int i = 0; i < 2048; i++)
        for (int k = 0; k < 8; k++)
            if ((int)(uint8_t)(quant_iq1s_grid8[i] >> (8 * k)) != 8 * (grid_value(i, k) + 1))
                bad++;
    T_EQ_INT(bad, 0);
}

int main(void)
{
    chord_init();
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        T_REQUIRE(quant_traits_of(types[ti])->supported, "%s not supported", quant_traits_of(types[ti])->name);
        T_EQ_INT(quant_act_type(types[ti]), QT_Q8_K);
    }
    test_iq1_definitions();
    test_ternary_definitions();
    test_quantize();
    test_scalar_dots();
    test_derived_grid();
    static const char *const levels[] = {"avx2", "avx512"};
    for (int l = 0; l < 2; l++) {
        if (!quant_cpu_has(levels[l])) {
            printf("note: this CPU lacks %s; its kernels are not compared here\n", levels[l]);
            continue;
        }
        check_level(levels[l]);
    }
    if (quant_cpu_has("avx512"))
        for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++)
            check_gemm(types[ti]);
    return t_done();
}
