/*
 * quant_gemm_pack.h - internal to engine/quant: the row-interleaved
 * ("packed") AVX-512 GEMM kernels that quant_gemm_avx512.c hands large
 * token batches to.
 *
 * They take the arguments of quant_gemm_fn and promise the same: every
 * element depends on nothing but its row and token and has the bits of
 * the AVX-512 vec_dot of its type (Q8_0: of the scalar vec_dot, see
 * quant.h). They repack weights per call into a work buffer (qgp_wbuf;
 * no weights kept between calls), which for k-quants pays off only for
 * batches of some width: QGP_MIN_TOK tokens and more; Q8_0's pays off
 * from 4 tokens and takes every batch.
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

/* The calling thread's work buffer of at least size bytes, 64-byte
 * aligned, or NULL: kept for the thread's next call (grown, never shrunk)
 * and freed when the thread exits. The GEMMs' buffers are MiBs for a
 * prefill batch; allocated per call, glibc maps them afresh each time and
 * their page faults took about a tenth of the Q8_0 GEMM's time in a
 * model-shaped benchmark. One per thread, shared by the GEMMs (a thread
 * runs one at a time; the contents do not outlive a call). */
uint8_t *qgp_wbuf(size_t size);

/* A second such buffer, for the GEMMs that convert rows to another type
 * (Q5_0, IQ4_NL, MXFP4 to Q8_0) before the GEMM that fills qgp_wbuf. */
uint8_t *qgp_cbuf(size_t size);

#endif
