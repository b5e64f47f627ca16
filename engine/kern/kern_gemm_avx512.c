/*
 * kern_gemm_avx512.c - the AVX-512 twin of kern_gemm_f16_scalar (kern.c):
 * a batch of float activations times a strip of up to KERN_GEMM_NR F16
 * weight rows, every output element one chain of fused multiply-adds in
 * k order from +0, so the bits are the scalar twin's whatever the blocking.
 *
 * Why not dequantize and call OpenBLAS: its sgemm on this class of CPU is
 * the Haswell (AVX2) kernel, half the FMA width the core has; and called
 * on tiles of weight rows it repacks the whole activation batch for every
 * tile. Here the weights are packed once per KERN_GEMM_KC slice of k
 * (converted from F16 and transposed, 16 x 16 in registers, so that one
 * k's 64 rows are four vectors), and the activations are read in place:
 * each micro-tile broadcasts one activation of each of 6 tokens against
 * those four vectors, 24 accumulators in registers, 10 loads per 24 FMAs.
 * A slice is 32 KiB of packed weights (L1) against 128 tokens x
 * KERN_GEMM_KC floats of activations (L2); the next slice's weights are
 * prefetched during each sweep.
 */
#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/tr16_avx512.h"
#include "kern/kern.h"

#define INLINE static inline __attribute__((always_inline))
#define MR 6 /* tokens per micro-tile */

_Static_assert(KERN_GEMM_NR == 64, "the micro-tile holds four 16-float vectors of rows");

/* Rows [0, nrow) x k [0, nk) of F16 weights (nrow, nk <= 16; the rest
 * reads as zeros) to pk[k * KERN_GEMM_NR + row] as floats: converted,
 * then transposed in registers. */
INLINE void pack16(const uint16_t *s, size_t ldw, int nrow, int nk, float *pk)
{
    const __mmask16 km = (__mmask16)((1u << nk) - 1);
    __m512 r[16];
    for (int i = 0; i < 16; i++)
        r[i] = i < nrow ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(km, s + (size_t)i * ldw))
                        : _mm512_setzero_ps();
    tr16_ps(r);
    for (int k = 0; k < nk; k++)
        _mm512_store_ps(pk + (size_t)k * KERN_GEMM_NR, r[k]);
}

/* m tokens (a constant after inlining) x 64 rows over kc k's of the
 * packed slice wp. first: the chains start from +0, else from what y
 * holds (the previous slices' sums, exactly as stored). mk masks the rows
 * that exist. */
INLINE void micro(const int m, int kc, const float *x, size_t ldx, const float *wp, float *y,
                  size_t ldy, bool first, const __mmask16 *mk)
{
    __m512 a[MR][4];
#pragma GCC unroll 6
    for (int r = 0; r < m; r++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            a[r][j] = first ? _mm512_setzero_ps()
                            : _mm512_maskz_loadu_ps(mk[j], y + (size_t)r * ldy + 16 * j);
    for (int k = 0; k < kc; k++) {
        const float *p = wp + (size_t)k * KERN_GEMM_NR;
        __m512 w0 = _mm512_load_ps(p), w1 = _mm512_load_ps(p + 16);
        __m512 w2 = _mm512_load_ps(p + 32), w3 = _mm512_load_ps(p + 48);
#pragma GCC unroll 6
        for (int r = 0; r < m; r++) {
            __m512 b = _mm512_set1_ps(x[(size_t)r * ldx + k]);
            a[r][0] = _mm512_fmadd_ps(b, w0, a[r][0]);
            a[r][1] = _mm512_fmadd_ps(b, w1, a[r][1]);
            a[r][2] = _mm512_fmadd_ps(b, w2, a[r][2]);
            a[r][3] = _mm512_fmadd_ps(b, w3, a[r][3]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < m; r++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            _mm512_mask_storeu_ps(y + (size_t)r * ldy + 16 * j, mk[j], a[r][j]);
}

/* Lines of a slice of weight rows to prefetch, one at a time. */
typedef struct pf_lines {
    const char *base;
    size_t ld;       /* bytes from row to row */
    int bytes;       /* of each row */
    int per_row;     /* lines per row: one more than bytes / 64 when unaligned */
    int n, next;     /* lines in all, the next one to ask for */
} pf_lines;

INLINE void prefetch_next(pf_lines *p, int count)
{
    for (int e = p->next + count < p->n ? p->next + count : p->n; p->next < e; p->next++) {
        int r = p->next / p->per_row, off = p->next % p->per_row * 64;
        _mm_prefetch(p->base + (size_t)r * p->ld + (off < p->bytes ? off : p->bytes - 1), _MM_HINT_T1);
    }
}

void kern_gemm_f16_avx512(const uint16_t *w, size_t ldw, int n_rows, int n_in, const float *x,
                          size_t ldx, int n_tok, float *y, size_t ldy, float *pack)
{
    __mmask16 mk[4];
    for (int j = 0; j < 4; j++) {
        int n = n_rows - 16 * j;
        n = n < 0 ? 0 : n > 16 ? 16 : n;
        mk[j] = (__mmask16)((1u << n) - 1);
    }
    for (int k0 = 0; k0 < n_in; k0 += KERN_GEMM_KC) {
        int kc = n_in - k0 < KERN_GEMM_KC ? n_in - k0 : KERN_GEMM_KC;
        for (int g = 0; g < KERN_GEMM_NR; g += 16) {
            int nrow = n_rows - g < 0 ? 0 : n_rows - g > 16 ? 16 : n_rows - g;
            for (int k = 0; k < kc; k += 16)
                pack16(w + (size_t)g * ldw + k0 + k, ldw, nrow, kc - k < 16 ? kc - k : 16,
                       pack + (size_t)k * KERN_GEMM_NR + g);
        }
        /* The weights come from DRAM (read once per batch), and the pack
         * reads 64 rows 256 bytes each: 64 interleaved streams, more than
         * the hardware prefetcher follows, so as demand misses. The next
         * slice's lines are asked for during this sweep instead, a few
         * after each micro-tile (a burst of hundreds stalls on the miss
         * buffers): 150 -> 165 GFLOP/s on weights far larger than the
         * caches (2048 x 2048 and 2048 x 5632, 128 tokens, one thread). */
        int nk = n_in - k0 - KERN_GEMM_KC;
        nk = nk < 0 ? 0 : nk > KERN_GEMM_KC ? KERN_GEMM_KC : nk;
        pf_lines pf = {(const char *)(nk ? w + k0 + KERN_GEMM_KC : w), ldw * 2, 2 * nk,
                       nk ? (2 * nk + 63) / 64 + 1 : 0, 0, 0};
        pf.n = n_rows * pf.per_row;
        int per = (pf.n + n_tok / MR) / (n_tok / MR + 1);
        bool first = k0 == 0;
        const float *xk = x + k0;
        int t = 0;
        for (; t + MR <= n_tok; t += MR) {
            micro(MR, kc, xk + (size_t)t * ldx, ldx, pack, y + (size_t)t * ldy, ldy, first, mk);
            prefetch_next(&pf, per);
        }
        prefetch_next(&pf, pf.n);
        /* the last tokens: one specialized tile each, so the loop above stays unrolled */
        const float *xt = xk + (size_t)t * ldx;
        float *yt = y + (size_t)t * ldy;
        switch (n_tok - t) {
        case 5: micro(5, kc, xt, ldx, pack, yt, ldy, first, mk); break;
        case 4: micro(4, kc, xt, ldx, pack, yt, ldy, first, mk); break;
        case 3: micro(3, kc, xt, ldx, pack, yt, ldy, first, mk); break;
        case 2: micro(2, kc, xt, ldx, pack, yt, ldy, first, mk); break;
        case 1: micro(1, kc, xt, ldx, pack, yt, ldy, first, mk); break;
        default: break;
        }
    }
}
