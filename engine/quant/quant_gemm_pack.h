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

#ifdef __AVX512F__
#include <immintrin.h>
/* In place: a[j] lane r becomes the old a[r] lane j (16 x 16 dwords).
 * Inline in the packing loops: as a call its 16 registers go through
 * memory both ways (a 32-row panel of 2048 Q8_0 columns packed in 2.5 us
 * in L2 against 1.5 inlined). */
static inline __attribute__((always_inline)) void qgp_transpose16(__m512i a[16])
{
    __m512i b[16], c[16];
    for (int i = 0; i < 8; i++) {
        b[2 * i] = _mm512_unpacklo_epi32(a[2 * i], a[2 * i + 1]);
        b[2 * i + 1] = _mm512_unpackhi_epi32(a[2 * i], a[2 * i + 1]);
    }
    /* c[4j + m], 128-bit lane L: column 4L + m of rows 4j..4j+3 */
    for (int j = 0; j < 4; j++) {
        c[4 * j + 0] = _mm512_unpacklo_epi64(b[4 * j], b[4 * j + 2]);
        c[4 * j + 1] = _mm512_unpackhi_epi64(b[4 * j], b[4 * j + 2]);
        c[4 * j + 2] = _mm512_unpacklo_epi64(b[4 * j + 1], b[4 * j + 3]);
        c[4 * j + 3] = _mm512_unpackhi_epi64(b[4 * j + 1], b[4 * j + 3]);
    }
    /* a 4 x 4 transpose of 128-bit lanes for each m */
    for (int m = 0; m < 4; m++) {
        const __m512i d0 = _mm512_shuffle_i32x4(c[m], c[4 + m], 0x88);
        const __m512i d1 = _mm512_shuffle_i32x4(c[m], c[4 + m], 0xDD);
        const __m512i e0 = _mm512_shuffle_i32x4(c[8 + m], c[12 + m], 0x88);
        const __m512i e1 = _mm512_shuffle_i32x4(c[8 + m], c[12 + m], 0xDD);
        a[m] = _mm512_shuffle_i32x4(d0, e0, 0x88);
        a[8 + m] = _mm512_shuffle_i32x4(d0, e0, 0xDD);
        a[4 + m] = _mm512_shuffle_i32x4(d1, e1, 0x88);
        a[12 + m] = _mm512_shuffle_i32x4(d1, e1, 0xDD);
    }
}
#endif

#endif
