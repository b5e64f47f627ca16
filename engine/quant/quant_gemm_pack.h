/*
 * quant_gemm_pack.h - internal to engine/quant: the row-interleaved
 * ("packed") AVX-512 GEMM kernels that quant_gemm_avx512.c hands large
 * token batches to.
 *
 * They take the arguments of quant_gemm_fn and promise the same: every
 * element depends on nothing but its row and token and has the bits of
 * the AVX-512 vec_dot of its type (Q8_0: of the scalar vec_dot, see
 * quant.h). They repack weights per call into a work buffer (no weights
 * kept between calls; Q8_0 keeps its buffer per thread), which for
 * k-quants pays off only for batches of some width: QGP_MIN_TOK tokens and
 * more; Q8_0's pays off from 4 tokens and takes every batch.
 */
#ifndef CHORD_QUANT_GEMM_PACK_H
#define CHORD_QUANT_GEMM_PACK_H

#include <stddef.h>
#include <stdint.h>

/* Below this batch the per-call repacking costs more than it saves. */
#define QGP_MIN_TOK 16

/* Each returns 0 (and does nothing) when its work buffer cannot be
 * allocated; the caller then takes its per-row kernel (same bits, except
 * Q8_0's: the caller's fallback gives the scalar vec_dot's). */
int qgp_gemm_q4_K(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                   size_t act_bytes, int n_tok, float *out, size_t ldy);
int qgp_gemm_q5_K(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                   size_t act_bytes, int n_tok, float *out, size_t ldy);
int qgp_gemm_q6_K(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                   size_t act_bytes, int n_tok, float *out, size_t ldy);

int qgp_gemm_q8_0(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                  size_t act_bytes, int n_tok, float *out, size_t ldy);

#endif
