/*
 * quant.h - tensor types: conversion of half floats, dequantization,
 * quantization and dot products, with SIMD kernels chosen once at start.
 *
 * Types are the ids of quant_types.h. A row of n elements is n / block
 * blocks; every n passed here must be a multiple of the type's block size
 * (quant_traits_of(type)->block), and every call on a type for which
 * quant_kernels_for() returns NULL is a caller bug.
 *
 * The dot product of a weight row takes its activation already quantized
 * to quant_act_type(weight type): the caller quantizes the activation row
 * once (quant_quantize_row) and reuses it against every weight row.
 *
 * Activations (Q8_0, Q8_K) are quantized exactly as the reference engine
 * does it (see quant_legacy.c, quant_kquants.c): matching its rounding is
 * what lets logits match the reference to float precision.
 *
 * SIMD: every kernel has a scalar twin. Dequantization and quantization
 * give identical bytes at every level; k-quant dot products too; legacy
 * and float dot products differ from the scalar twin by float summation
 * order only (tests/quant/test_simd_twins.c).
 *
 * Threading: chord_init() runs quant_init() once; an entry point called
 * before that initializes on first use. After initialization everything
 * here is pure and thread-safe.
 */
#ifndef CHORD_QUANT_H
#define CHORD_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "quant/quant_types.h"

/* Picks the kernels for this CPU (CPUID), or the level forced by the
 * environment variable CHORD_SIMD=scalar|avx2|avx512 (a level the CPU lacks
 * falls back to the best it has). Idempotent but not thread-safe on its
 * own: chord_init() serializes it. */
void quant_init(void);

/* The level in use: "scalar", "avx2" or "avx512". */
const char *quant_simd_name(void);

/* IEEE binary16 <-> float32; float to half rounds to nearest even,
 * overflow gives infinity, NaN stays NaN. */
float quant_f16_to_f32(uint16_t h);
uint16_t quant_f32_to_f16(float f);

/* bfloat16 <-> float32; float to bf16 rounds to nearest even and keeps NaN
 * a (quiet) NaN. */
float quant_bf16_to_f32(uint16_t h);
uint16_t quant_f32_to_bf16(float f);

/* Dequantizes n elements of type from src into dst. */
void quant_dequant_row(int type, const void *src, float *dst, int64_t n);

/* Quantizes n floats into dst (quant_row_bytes(type, n) bytes). Works for
 * every supported type and for the activation formats Q8_1 and Q8_K. */
void quant_quantize_row(int type, const float *src, void *dst, int64_t n);

/* The activation type the dot product of weight type `type` takes:
 * Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1 (its s term serves their
 * min), Q8_K for Q2_K..Q6_K, F16 for F16,
 * BF16 for BF16, F32 for F32; -1 for an unsupported type. */
int quant_act_type(int type);

/* *out = dot product of one weight row (n elements of type) with one
 * activation row (n elements of quant_act_type(type)). */
void quant_vec_dot(int type, int64_t n, float *out, const void *w_row,
                   const void *act_row);

/* The kernels of one type at one level, so tests can compare a SIMD kernel
 * with its scalar twin. A member is NULL where the type has no such
 * operation (Q8_1 and Q8_K have no dot product of their own). */
typedef struct quant_kernels {
    void (*dequant)(const void *src, float *dst, int64_t n);
    void (*quantize)(const float *src, void *dst, int64_t n);
    void (*vec_dot)(int64_t n, float *out, const void *w_row, const void *act_row);
    /* out[r] = vec_dot(n, w + r * row_bytes, act) for r < n_rows, with
     * vec_dot's exact bits: the work that depends on the activation alone
     * is done once for all the rows (decode's matrix-vector product). NULL
     * where a level has no such kernel: callers loop over vec_dot. */
    void (*vec_dot_rows)(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows,
                         const void *act_row);
} quant_kernels;

/* Kernels of type at level "scalar", "avx2" or "avx512" (NULL = the level
 * in use). Where a level has no SIMD twin of a kernel, the scalar one is
 * given. Returns NULL for an unknown or unsupported type or level. Does not
 * check that the CPU can run the level: see quant_cpu_has(). */
const quant_kernels *quant_kernels_for(int type, const char *level);

/* Whether this CPU can run level ("scalar" always can). */
int quant_cpu_has(const char *level);

/* --- multi-token GEMM (quant_gemm.c, quant_gemm_avx512.c) ---
 *
 * out[t * ldy + r] = quant_vec_dot of weight row r (rows row_bytes apart
 * from w, so row r starts at w + r * row_bytes) with activation row t
 * (act + t * act_bytes, already in quant_act_type(type)), for r in
 * [r0, r1) and t in [0, n_tok). Prefill is why it exists: where the level
 * in use has a blocked kernel for the type (quant_gemm_has), each weight
 * block is unpacked once for several tokens; elsewhere it loops over
 * quant_vec_dot. Every element depends on nothing but its row and token
 * (not on n_tok, the row range or how threads split them). Its bits are
 * those quant_vec_dot gives at that level (the blocked kernels repeat its
 * integer sums and float order), with one exception: the AVX-512 Q8_0
 * kernel gives the scalar vec_dot's bits (each block's exact integer sum,
 * scaled and added block after block), which differ from the AVX-512
 * vec_dot's by float summation order only (that one sums each group of 4
 * quants in its own float lane; repeating it would halve the kernel's
 * speed). So for Q8_0 a batch and the same tokens one at a time agree to
 * float rounding, not bit for bit. IQ4_NL and MXFP4 likewise: their
 * AVX-512 GEMM runs the Q8_0 kernel on rows converted to Q8_0 (the same
 * block scales and int8 values) and gives their scalar vec_dot's bits
 * (quant_iq4_avx512.c). So does Q5_0's (converted the same way: its values
 * q - 16 are int8), and the AVX-512 Q4_1 and Q5_1 GEMMs give their scalar
 * vec_dot's bits too (each block's (dx * dy) * sumi + m * s added in
 * order; quant_gemm_legacy_avx512.c). */
typedef void (*quant_gemm_fn)(int64_t n, const void *w, size_t row_bytes, int r0, int r1,
                              const void *act, size_t act_bytes, int n_tok, float *out,
                              size_t ldy);

void quant_gemm(int type, int64_t n, const void *w, size_t row_bytes, int r0, int r1,
                const void *act, size_t act_bytes, int n_tok, float *out, size_t ldy);

/* Whether the level in use has a blocked GEMM kernel for type. */
int quant_gemm_has(int type);

/* The GEMM of type at level "scalar" or "avx512" (NULL = the level in
 * use), for tests: "scalar" is the reference (per-token scalar vec_dot);
 * NULL where the level has no kernel of its own for the type. */
quant_gemm_fn quant_gemm_for(int type, const char *level);

/* Internal to engine/quant: the AVX-512 kernels (NULL if none for type). */
quant_gemm_fn quant_gemm_avx512_for(int type);

#endif
