/*
 * quant_impl.h - internal to engine/quant: the block layouts of every
 * format and the kernel functions the dispatch table (quant.c) points at.
 *
 * Layouts are the GGUF/ggml ones byte for byte: a block is read straight
 * from the mapped file, so each struct is packed and its size asserted.
 * Halves (d, m, dmin) are stored as raw IEEE binary16 bits.
 *
 * Kernels take n = elements (a multiple of the block size, checked by the
 * public wrappers, not here). Every SIMD kernel has a scalar twin with the
 * same name minus the suffix; dequant and quantize twins give identical
 * bytes, vec_dot twins differ only by float summation order.
 */
#ifndef CHORD_QUANT_IMPL_H
#define CHORD_QUANT_IMPL_H

#include <stdint.h>
#include <string.h>

#include "quant/quant.h"

#define QK4_0 32
#define QK8_0 32
#define QK_K 256
#define K_SCALE_SIZE 12

typedef uint16_t qhalf; /* binary16 bits */

typedef struct __attribute__((packed)) block_q4_0 {
    qhalf d;
    uint8_t qs[QK4_0 / 2]; /* element j in the low nibble of qs[j], j+16 high */
} block_q4_0;
_Static_assert(sizeof(block_q4_0) == 18, "Q4_0 block");

typedef struct __attribute__((packed)) block_q4_1 {
    qhalf d, m;
    uint8_t qs[QK4_0 / 2];
} block_q4_1;
_Static_assert(sizeof(block_q4_1) == 20, "Q4_1 block");

typedef struct __attribute__((packed)) block_q5_0 {
    qhalf d;
    uint8_t qh[4];         /* fifth bit of element j: bit j of the LE word */
    uint8_t qs[QK4_0 / 2];
} block_q5_0;
_Static_assert(sizeof(block_q5_0) == 22, "Q5_0 block");

typedef struct __attribute__((packed)) block_q5_1 {
    qhalf d, m;
    uint8_t qh[4];
    uint8_t qs[QK4_0 / 2];
} block_q5_1;
_Static_assert(sizeof(block_q5_1) == 24, "Q5_1 block");

typedef struct __attribute__((packed)) block_q8_0 {
    qhalf d;
    int8_t qs[QK8_0];
} block_q8_0;
_Static_assert(sizeof(block_q8_0) == 34, "Q8_0 block");

/* The activation of the Q4_1/Q5_1 dot products: Q8_0 plus s = d * sum(qs)
 * (as a half), which the min term of those dots needs. */
typedef struct __attribute__((packed)) block_q8_1 {
    qhalf d, s;
    int8_t qs[QK8_0];
} block_q8_1;
_Static_assert(sizeof(block_q8_1) == 36, "Q8_1 block");

/* k-quants: super-blocks of 256 elements in sub-blocks of 16 or 32. */
typedef struct __attribute__((packed)) block_q2_K {
    uint8_t scales[QK_K / 16]; /* low nibble scale, high nibble min */
    uint8_t qs[QK_K / 4];      /* 2-bit quants */
    qhalf d, dmin;
} block_q2_K;
_Static_assert(sizeof(block_q2_K) == 84, "Q2_K block");

typedef struct __attribute__((packed)) block_q3_K {
    uint8_t hmask[QK_K / 8];   /* high bit, set = no -4 */
    uint8_t qs[QK_K / 4];      /* low 2 bits */
    uint8_t scales[12];        /* 16 6-bit scales, offset 32 */
    qhalf d;
} block_q3_K;
_Static_assert(sizeof(block_q3_K) == 110, "Q3_K block");

typedef struct __attribute__((packed)) block_q4_K {
    qhalf d, dmin;
    uint8_t scales[K_SCALE_SIZE]; /* 8 6-bit scales and 8 6-bit mins */
    uint8_t qs[QK_K / 2];
} block_q4_K;
_Static_assert(sizeof(block_q4_K) == 144, "Q4_K block");

typedef struct __attribute__((packed)) block_q5_K {
    qhalf d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;
_Static_assert(sizeof(block_q5_K) == 176, "Q5_K block");

typedef struct __attribute__((packed)) block_q6_K {
    uint8_t ql[QK_K / 2];      /* low 4 bits */
    uint8_t qh[QK_K / 4];      /* high 2 bits */
    int8_t scales[QK_K / 16];
    qhalf d;
} block_q6_K;
_Static_assert(sizeof(block_q6_K) == 210, "Q6_K block");

/* Activations for k-quant dot products: a float scale and per-16 sums. */
typedef struct __attribute__((packed)) block_q8_K {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_K;
_Static_assert(sizeof(block_q8_K) == 292, "Q8_K block");

/* --- i-quants, ternary and MXFP4 (quant_iq4.c, quant_iq23.c,
 * quant_iq1tq.c); their codebooks are in quant_codebook.h --- */
#define QK4_NL 32
#define QK_MXFP4 32

typedef struct __attribute__((packed)) block_iq4_nl {
    qhalf d;
    uint8_t qs[QK4_NL / 2];    /* indices into quant_kvalues_iq4nl, as Q4_0 */
} block_iq4_nl;
_Static_assert(sizeof(block_iq4_nl) == 18, "IQ4_NL block");

typedef struct __attribute__((packed)) block_iq4_xs {
    qhalf d;
    uint16_t scales_h;         /* high 2 bits of the 8 6-bit scales */
    uint8_t scales_l[QK_K / 64]; /* low 4 bits, two per byte */
    uint8_t qs[QK_K / 2];
} block_iq4_xs;
_Static_assert(sizeof(block_iq4_xs) == 136, "IQ4_XS block");

typedef struct __attribute__((packed)) block_mxfp4 {
    uint8_t e;                 /* E8M0 shared exponent */
    uint8_t qs[QK_MXFP4 / 2];  /* E2M1 codes, as Q4_0's nibbles */
} block_mxfp4;
_Static_assert(sizeof(block_mxfp4) == 17, "MXFP4 block");

typedef struct __attribute__((packed)) block_iq2_xxs {
    qhalf d;
    uint16_t qs[QK_K / 8];
} block_iq2_xxs;
_Static_assert(sizeof(block_iq2_xxs) == 66, "IQ2_XXS block");

typedef struct __attribute__((packed)) block_iq2_xs {
    qhalf d;
    uint16_t qs[QK_K / 8];
    uint8_t scales[QK_K / 32];
} block_iq2_xs;
_Static_assert(sizeof(block_iq2_xs) == 74, "IQ2_XS block");

typedef struct __attribute__((packed)) block_iq2_s {
    qhalf d;
    uint8_t qs[QK_K / 4];
    uint8_t qh[QK_K / 32];
    uint8_t scales[QK_K / 32];
} block_iq2_s;
_Static_assert(sizeof(block_iq2_s) == 82, "IQ2_S block");

typedef struct __attribute__((packed)) block_iq3_xxs {
    qhalf d;
    uint8_t qs[3 * QK_K / 8];
} block_iq3_xxs;
_Static_assert(sizeof(block_iq3_xxs) == 98, "IQ3_XXS block");

typedef struct __attribute__((packed)) block_iq3_s {
    qhalf d;
    uint8_t qs[QK_K / 4];
    uint8_t qh[QK_K / 32];
    uint8_t signs[QK_K / 8];
    uint8_t scales[QK_K / 64];
} block_iq3_s;
_Static_assert(sizeof(block_iq3_s) == 110, "IQ3_S block");

typedef struct __attribute__((packed)) block_iq1_s {
    qhalf d;
    uint8_t qs[QK_K / 8];
    uint16_t qh[QK_K / 32];
} block_iq1_s;
_Static_assert(sizeof(block_iq1_s) == 50, "IQ1_S block");

typedef struct __attribute__((packed)) block_iq1_m {
    uint8_t qs[QK_K / 8];
    uint8_t qh[QK_K / 16];
    uint8_t scales[QK_K / 32]; /* 3-bit scales; the half super-block scale
                                * spread over the top nibbles */
} block_iq1_m;
_Static_assert(sizeof(block_iq1_m) == 56, "IQ1_M block");

typedef struct __attribute__((packed)) block_tq1_0 {
    uint8_t qs[(QK_K - 4 * QK_K / 64) / 5]; /* 5 trits per byte */
    uint8_t qh[QK_K / 64];                  /* 4 trits per byte */
    qhalf d;
} block_tq1_0;
_Static_assert(sizeof(block_tq1_0) == 54, "TQ1_0 block");

typedef struct __attribute__((packed)) block_tq2_0 {
    uint8_t qs[QK_K / 4];      /* 2 bits per element */
    qhalf d;
} block_tq2_0;
_Static_assert(sizeof(block_tq2_0) == 66, "TQ2_0 block");

/* Exact half -> float (every half is a float), branch-light. */
static inline float quant_h2f(qhalf h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t em = h & 0x7fff;
    uint32_t bits;
    if (em >= 0x7c00) {                 /* inf / NaN: keep the payload */
        bits = sign | 0x7f800000u | ((em & 0x3ff) << 13);
    } else if (em >= 0x0400) {          /* normal: rebias 15 -> 127 */
        bits = sign | ((em << 13) + ((127u - 15u) << 23));
    } else {                            /* zero / subnormal: exact scale */
        float f = (float)em * (1.0f / 16777216.0f); /* em * 2^-24 */
        memcpy(&bits, &f, 4);
        bits |= sign;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Round to nearest, ties to even, for |x| < 2^22 (the magic-number trick:
 * adding 1.5 * 2^23 leaves the rounded integer in the low mantissa bits). */
static inline int quant_nearest_int(float x)
{
    float v = x + 12582912.0f;
    int32_t i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}

/* --- scalar kernels (quant_float.c, quant_legacy.c, quant_kquants*.c) --- */
void quant_dequant_f32(const void *src, float *dst, int64_t n);
void quant_dequant_f16(const void *src, float *dst, int64_t n);
void quant_dequant_bf16(const void *src, float *dst, int64_t n);
void quant_quantize_f32(const float *src, void *dst, int64_t n);
void quant_quantize_f16(const float *src, void *dst, int64_t n);
void quant_quantize_bf16(const float *src, void *dst, int64_t n);
void quant_vec_dot_f32(int64_t n, float *out, const void *w, const void *a);
void quant_vec_dot_f16(int64_t n, float *out, const void *w, const void *a);
void quant_vec_dot_bf16(int64_t n, float *out, const void *w, const void *a);

void quant_dequant_q4_0(const void *src, float *dst, int64_t n);
void quant_dequant_q4_1(const void *src, float *dst, int64_t n);
void quant_dequant_q5_0(const void *src, float *dst, int64_t n);
void quant_dequant_q5_1(const void *src, float *dst, int64_t n);
void quant_dequant_q8_0(const void *src, float *dst, int64_t n);
void quant_dequant_q8_1(const void *src, float *dst, int64_t n);
void quant_quantize_q4_0(const float *src, void *dst, int64_t n);
void quant_quantize_q4_1(const float *src, void *dst, int64_t n);
void quant_quantize_q5_0(const float *src, void *dst, int64_t n);
void quant_quantize_q5_1(const float *src, void *dst, int64_t n);
void quant_quantize_q8_0(const float *src, void *dst, int64_t n);
void quant_quantize_q8_1(const float *src, void *dst, int64_t n);
void quant_vec_dot_q4_0(int64_t n, float *out, const void *w, const void *a);
void quant_vec_dot_q4_1(int64_t n, float *out, const void *w, const void *a);
void quant_vec_dot_q5_0(int64_t n, float *out, const void *w, const void *a);
void quant_vec_dot_q5_1(int64_t n, float *out, const void *w, const void *a);
void quant_vec_dot_q8_0(int64_t n, float *out, const void *w, const void *a);

void quant_dequant_q2_K(const void *src, float *dst, int64_t n);
void quant_dequant_q3_K(const void *src, float *dst, int64_t n);
void quant_dequant_q4_K(const void *src, float *dst, int64_t n);
void quant_dequant_q5_K(const void *src, float *dst, int64_t n);
void quant_dequant_q6_K(const void *src, float *dst, int64_t n);
void quant_dequant_q8_K(const void *src, float *dst, int64_t n);
void quant_quantize_q2_K(const float *src, void *dst, int64_t n);
void quant_quantize_q3_K(const float *src, void *dst, int64_t n);
void quant_quantize_q4_K(const float *src, void *dst, int64_t n);
void quant_quantize_q5_K(const float *src, void *dst, int64_t n);
void quant_quantize_q6_K(const float *src, void *dst, int64_t n);
void quant_quantize_q8_K(const float *src, void *dst, int64_t n);
void quant_vec_dot_q2_K(int64_t n, float *out, const void *w, const void *a);
void quant_vec_dot_q3_K(int64_t n, float *out, const void *w, const void *a);
void quant_vec_dot_q4_K(int64_t n, float *out, const void *w, const void *a);
void quant_vec_dot_q5_K(int64_t n, float *out, const void *w, const void *a);
void quant_vec_dot_q6_K(int64_t n, float *out, const void *w, const void *a);

/* Unpacks the 6-bit scale and min of sub-block j (0..7) of Q4_K/Q5_K. */
static inline void quant_scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Unpacks the 16 6-bit scales of a Q3_K block, stored with an offset of
 * 32: the low nibbles of scales 0-7 and the high nibbles (8-15) sit in
 * bytes 0-7, their top two bits in bytes 8-11 (scale j: byte 8 + j%4,
 * bits 2*(j/4)); 32-bit masks unpack four at a time, as bytes 0..63 in
 * order in v. */
static inline void quant_q3_K_scales_u32(const uint8_t *packed, uint32_t v[4])
{
    uint32_t a[3];
    memcpy(a, packed, 12);
    v[0] = (a[0] & 0x0f0f0f0fu) | ((a[2] & 0x03030303u) << 4);
    v[1] = (a[1] & 0x0f0f0f0fu) | (((a[2] >> 2) & 0x03030303u) << 4);
    v[2] = ((a[0] >> 4) & 0x0f0f0f0fu) | (((a[2] >> 4) & 0x03030303u) << 4);
    v[3] = ((a[1] >> 4) & 0x0f0f0f0fu) | (((a[2] >> 6) & 0x03030303u) << 4);
}

/* The same as signed values (scale - 32). */
static inline void quant_q3_K_scales(const uint8_t *packed, int8_t out[16])
{
    uint32_t v[4];
    uint8_t u[16];
    quant_q3_K_scales_u32(packed, v);
    memcpy(u, v, 16);
    for (int j = 0; j < 16; j++)
        out[j] = (int8_t)(u[j] - 32);
}

/* --- SIMD twins: each SIMD file overwrites the entries it has a twin for
 * in a table of QT_COUNT rows (quant.c builds one table per level) --- */
void quant_register_float_avx2(quant_kernels *tab);
void quant_register_legacy_avx2(quant_kernels *tab);
void quant_register_kquants_avx2(quant_kernels *tab);
void quant_register_float_avx512(quant_kernels *tab);
void quant_register_legacy_avx512(quant_kernels *tab);
void quant_register_kquants_avx512(quant_kernels *tab);
/* The i-quant, ternary and MXFP4 groups register their scalar kernels too
 * (fill_scalar calls quant_register_<group>). */
void quant_register_iq4(quant_kernels *tab);
void quant_register_iq4_avx2(quant_kernels *tab);
void quant_register_iq4_avx512(quant_kernels *tab);
void quant_register_iq23(quant_kernels *tab);
void quant_register_iq23_avx2(quant_kernels *tab);
void quant_register_iq23_avx512(quant_kernels *tab);
void quant_register_iq1tq(quant_kernels *tab);
void quant_register_iq1tq_avx2(quant_kernels *tab);
void quant_register_iq1tq_avx512(quant_kernels *tab);
/* Their AVX-512 prefill GEMMs (quant.h's quant_gemm contract), NULL for a
 * type a group has none for. */
quant_gemm_fn quant_gemm_iq4_avx512_for(int type);
quant_gemm_fn quant_gemm_iq23_avx512_for(int type);
quant_gemm_fn quant_gemm_iq1tq_avx512_for(int type);
/* Q5_0, Q4_1 and Q5_1's (quant_gemm_legacy_avx512.c). */
quant_gemm_fn quant_gemm_legacy_avx512_for(int type);

#endif
