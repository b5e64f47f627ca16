/*
 * quant_gemm_q8_avx512.c - Q8_0 GEMM on row-interleaved weights (see
 * quant_gemm_pack.h), for prefill batches.
 *
 * Bits: every element is the scalar vec_dot's (quant_legacy.c), not the
 * AVX-512 vec_dot's: per block the exact integer dot p, then
 * sum += (float)p * (dx * dy), blocks in order from sum = 0. The AVX-512
 * vec_dot instead scales and sums each group of 4 quants in its own float
 * lane, which would cost a convert, a multiply and an add per 4 quants
 * here (17 multiply-pipe operations per 8 vpdpbusd instead of 10: half
 * the speed); the two differ by float summation order only (quant.h).
 *
 * Shape: a register's 16 lanes are 16 weight rows, each holding 4
 * consecutive quants of its row (offset to unsigned: x ^ 0x80 = x + 128,
 * vpdpbusd's unsigned operand), so one vpdpbusd multiplies 16 rows by a
 * broadcast of 4 activation bytes. A register tile is 16 rows x 8 tokens:
 * per block, each weight register (8 per block) feeds 8 vpdpbusd, whose
 * int32 accumulators start from -128 x the sum of the token's block (the
 * offset taken back, exactly), then one convert, two multiplies and an add
 * per token.
 *
 * Work buffer (malloc'd per call: a prefill matmul takes milliseconds):
 * the 16-row panel's interleaved quants and scales for the whole row and
 * the offsets and scales of a block of tokens; without it the caller gets
 * the per-row kernel (other bits: the AVX-512 vec_dot's).
 */
#include <immintrin.h>
#include <stdlib.h>

#include "quant/quant_gemm_pack.h"
#include "quant/quant_impl.h"

typedef const uint8_t *bytes;

/* Tokens whose offsets are prepared at once: each panel of weights is
 * read from memory and interleaved once per such block, so the block is
 * as wide as fits QB_CACHE bytes of activations (42 bytes per 32
 * elements with offset and scale), at most QB_MAX tokens. */
#define QB_MAX 256
#define QB_CACHE (768 * 1024)

static inline float h2f(qhalf h)
{
    return _cvtsh_ss(h);
}

/* The panel of 16 rows (row[r] = row r's first block): w[b * 8 + l] lane
 * r = quants 4l..4l+3 of block b of row r, plus 128; dx[b] lane r = its
 * scale. Two blocks per 16 x 16 dword transpose. */
static void q8_pack(bytes const row[16], int64_t nb, __m512i *w, __m512 *dx)
{
    const __m512i off = _mm512_set1_epi8((char)0x80);
    for (int64_t b = 0; b < nb; b += 2) {
        const int64_t c = b + 1 < nb ? b + 1 : b;
        __m512i a[16];
        for (int r = 0; r < 16; r++) {
            const block_q8_0 *x = (const block_q8_0 *)row[r];
            a[r] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)x[b].qs)),
                                      _mm256_loadu_si256((const __m256i *)x[c].qs), 1);
        }
        qgp_transpose16(a);
        for (int l = 0; l < 8; l++) {
            w[b * 8 + l] = _mm512_xor_si512(a[l], off);
            if (c != b)
                w[c * 8 + l] = _mm512_xor_si512(a[8 + l], off);
        }
        float d0[16], d1[16];
        for (int r = 0; r < 16; r++) {
            const block_q8_0 *x = (const block_q8_0 *)row[r];
            d0[r] = h2f(x[b].d);
            d1[r] = h2f(x[c].d);
        }
        dx[b] = _mm512_loadu_ps(d0);
        dx[c] = _mm512_loadu_ps(d1);
    }
}

/* For nt tokens (qb apart in the layout): neg[b * qb + t] = -128 x the
 * sum of the quants of block b of token t; dy[b * qb + t] = its scale. */
static void q8_prep(bytes act, size_t ab, int nt, int qb, int64_t nb, int32_t *neg, float *dy)
{
    const __m256i ones = _mm256_set1_epi8(1);
    for (int t = 0; t < nt; t++) {
        const block_q8_0 *y = (const block_q8_0 *)(act + (size_t)t * ab);
        for (int64_t b = 0; b < nb; b++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)y[b].qs);
            const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, q);
            const __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
            const __m128i h2 = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
            const __m128i h1 = _mm_add_epi32(h2, _mm_shuffle_epi32(h2, 0xb1));
            neg[(size_t)b * qb + t] = -128 * _mm_cvtsi128_si32(h1);
            dy[(size_t)b * qb + t] = h2f(y[b].d);
        }
    }
}

/*
 * One block of a tile against the interleaved weights at u (8 registers)
 * and the row scales at dx: for token j, p = neg[j] + the vpdpbusd of
 * the 8 groups against its 4-byte broadcasts (the exact block dot), then
 * f[j] += (float)p * (dx * dy[j]), rounded after each operation as the
 * scalar vec_dot does.
 * Written out in assembly because GCC 12 neither embeds the broadcast in
 * vpdpbusd ({1to16}) nor keeps one weight register for all tokens (see
 * quant_gemm_pack_avx512.c), and so that no multiply-add is contracted.
 * Token j's quants are at y0 (j < 4) or y4 (j >= 4) plus (j % 4) * ab.
 */
#define Q8_A0 "(%[y0])"
#define Q8_A1 "(%[y0],%[ab])"
#define Q8_A2 "(%[y0],%[ab],2)"
#define Q8_A3 "(%[y0],%[ab3])"
#define Q8_A4 "(%[y4])"
#define Q8_A5 "(%[y4],%[ab])"
#define Q8_A6 "(%[y4],%[ab],2)"
#define Q8_A7 "(%[y4],%[ab3])"
/* fixed registers (clobbered), so that the operands stay within GCC's 30 */
#define Q8_P0 "%%zmm16"
#define Q8_P1 "%%zmm17"
#define Q8_P2 "%%zmm18"
#define Q8_P3 "%%zmm19"
#define Q8_P4 "%%zmm20"
#define Q8_P5 "%%zmm21"
#define Q8_P6 "%%zmm22"
#define Q8_P7 "%%zmm23"
#define Q8_WR "%%zmm24"
#define Q8_DR "%%zmm25"
#define Q8_CLOBBER "memory", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25"
#define Q8_INIT(J) "vpbroadcastd " #J "*4(%[ng]), " Q8_P##J "\n\t"
#define Q8_DOT(G, J) "vpdpbusd " #G "*4" Q8_A##J "%{1to16%}, " Q8_WR ", " Q8_P##J "\n\t"
#define Q8_W(G) "vmovdqa64 " #G "*64(%[u]), " Q8_WR "\n\t"
#define Q8_FIN(J)                                                                             \
    "vcvtdq2ps " Q8_P##J ", " Q8_P##J "\n\t"                                                   \
    "vmulps " #J "*4(%[dy])%{1to16%}, %[x], " Q8_DR "\n\t"                                     \
    "vmulps " Q8_DR ", " Q8_P##J ", " Q8_P##J "\n\t"                                           \
    "vaddps " Q8_P##J ", %[f" #J "], %[f" #J "]\n\t"
#define Q8_G8(G)                                                                              \
    Q8_W(G) Q8_DOT(G, 0) Q8_DOT(G, 1) Q8_DOT(G, 2) Q8_DOT(G, 3) Q8_DOT(G, 4) Q8_DOT(G, 5)      \
        Q8_DOT(G, 6) Q8_DOT(G, 7)
#define Q8_G4(G) Q8_W(G) Q8_DOT(G, 0) Q8_DOT(G, 1) Q8_DOT(G, 2) Q8_DOT(G, 3)
#define Q8_G1(G) Q8_W(G) Q8_DOT(G, 0)
#define Q8_ALL(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
#define Q8_IN                                                                                 \
    [u] "r"(u), [ng] "r"(ng), [dy] "r"(dy), [y0] "r"(y0), [y4] "r"(y0 + 4 * ab), [ab] "r"(ab), \
        [ab3] "r"(3 * ab), [x] "v"(dx)

static inline __attribute__((always_inline)) void
q8_block8(__m512 f[8], const __m512i *u, __m512 dx, const int32_t *ng, const float *dy,
          const int8_t *y0, size_t ab)
{
    __asm__(Q8_INIT(0) Q8_INIT(1) Q8_INIT(2) Q8_INIT(3) Q8_INIT(4) Q8_INIT(5) Q8_INIT(6) Q8_INIT(7)
                Q8_ALL(Q8_G8) Q8_FIN(0) Q8_FIN(1) Q8_FIN(2) Q8_FIN(3) Q8_FIN(4) Q8_FIN(5) Q8_FIN(6)
                    Q8_FIN(7)
            : [f0] "+v"(f[0]), [f1] "+v"(f[1]), [f2] "+v"(f[2]), [f3] "+v"(f[3]), [f4] "+v"(f[4]),
              [f5] "+v"(f[5]), [f6] "+v"(f[6]), [f7] "+v"(f[7])
            : Q8_IN
            : Q8_CLOBBER);
}

static inline __attribute__((always_inline)) void
q8_block4(__m512 f[4], const __m512i *u, __m512 dx, const int32_t *ng, const float *dy,
          const int8_t *y0, size_t ab)
{
    __asm__(Q8_INIT(0) Q8_INIT(1) Q8_INIT(2) Q8_INIT(3) Q8_ALL(Q8_G4) Q8_FIN(0) Q8_FIN(1)
                Q8_FIN(2) Q8_FIN(3)
            : [f0] "+v"(f[0]), [f1] "+v"(f[1]), [f2] "+v"(f[2]), [f3] "+v"(f[3])
            : Q8_IN
            : Q8_CLOBBER);
}

static inline __attribute__((always_inline)) void
q8_block1(__m512 f[1], const __m512i *u, __m512 dx, const int32_t *ng, const float *dy,
          const int8_t *y0, size_t ab)
{
    __asm__(Q8_INIT(0) Q8_ALL(Q8_G1) Q8_FIN(0)
            : [f0] "+v"(f[0])
            : Q8_IN
            : Q8_CLOBBER);
}

/* nt (8, 4 or 1) tokens from token t of the block (activations at a,
 * ab apart) against the packed panel; stores the rows of mrow. */
static inline __attribute__((always_inline)) void
q8_tile(int nt, const __m512i *w, const __m512 *dx, int64_t nb, const int32_t *neg,
        const float *dy, int qb, int t, bytes a, size_t ab, float *out, size_t ldy, __mmask16 mrow)
{
    __m512 f[8];
    for (int j = 0; j < nt; j++)
        f[j] = _mm512_setzero_ps();
    const int8_t *y = ((const block_q8_0 *)(a + (size_t)t * ab))->qs;
    for (int64_t b = 0; b < nb; b++) {
        const size_t o = (size_t)b * qb + t;
        const int8_t *yb = y + b * (int64_t)sizeof(block_q8_0);
        if (nt == 8)
            q8_block8(f, w + b * 8, dx[b], neg + o, dy + o, yb, ab);
        else if (nt == 4)
            q8_block4(f, w + b * 8, dx[b], neg + o, dy + o, yb, ab);
        else
            q8_block1(f, w + b * 8, dx[b], neg + o, dy + o, yb, ab);
    }
    for (int j = 0; j < nt; j++)
        _mm512_mask_storeu_ps(out + (size_t)(t + j) * ldy, mrow, f[j]);
}

int qgp_gemm_q8_0(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                  size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    const int64_t nb = n / QK8_0;
    const size_t wbytes = (size_t)nb * 8 * sizeof(__m512i) + (size_t)nb * sizeof(__m512);
    int qb = (int)(QB_CACHE / (42 * (size_t)nb));
    qb = qb < 8 ? 8 : qb > QB_MAX ? QB_MAX : qb;
    qb = qb > n_tok ? n_tok : qb;
    const size_t abytes = (size_t)qb * (size_t)nb * (sizeof(int32_t) + sizeof(float));
    /* aligned_alloc wants a size that is a multiple of the alignment */
    uint8_t *buf = aligned_alloc(64, (wbytes + abytes + 63) & ~(size_t)63);
    if (!buf)
        return 0;
    __m512i *wp = (__m512i *)buf;
    __m512 *dx = (__m512 *)(buf + (size_t)nb * 8 * sizeof(__m512i));
    int32_t *neg = (int32_t *)(buf + wbytes);
    float *dy = (float *)(neg + (size_t)qb * nb);
    for (int tb = 0; tb < n_tok; tb += qb) {
        const int nt = n_tok - tb < qb ? n_tok - tb : qb;
        bytes a = (bytes)act + (size_t)tb * act_bytes;
        q8_prep(a, act_bytes, nt, qb, nb, neg, dy);
        for (int p0 = r0; p0 < r1; p0 += 16) {
            const int nr = r1 - p0 < 16 ? r1 - p0 : 16;
            const __mmask16 mrow = (__mmask16)((1u << nr) - 1);
            bytes row[16];
            for (int r = 0; r < 16; r++)
                row[r] = (bytes)w + (size_t)(p0 + (r < nr ? r : nr - 1)) * row_bytes;
            q8_pack(row, nb, wp, dx);
            /* the next panel (contiguous rows) is fetched a slice per tile
             * while this one computes: 16 strided streams are more than
             * the hardware prefetcher follows */
            const int nn = r1 - (p0 + 16) < 16 ? r1 - (p0 + 16) : 16;
            const size_t next_bytes = nn > 0 ? (size_t)nn * row_bytes : 0;
            bytes next = (bytes)w + (size_t)(p0 + 16) * row_bytes;
            float *o = out + (size_t)tb * ldy + p0;
            int t = 0;
            for (; t + 8 <= nt; t += 8) {
                for (size_t k = next_bytes * (size_t)t / (size_t)nt; k < next_bytes * (size_t)(t + 8) / (size_t)nt; k += 64)
                    _mm_prefetch((const char *)next + k, _MM_HINT_T1);
                q8_tile(8, wp, dx, nb, neg, dy, qb, t, a, act_bytes, o, ldy, mrow);
            }
            for (; t + 4 <= nt; t += 4)
                q8_tile(4, wp, dx, nb, neg, dy, qb, t, a, act_bytes, o, ldy, mrow);
            for (; t < nt; t++)
                q8_tile(1, wp, dx, nb, neg, dy, qb, t, a, act_bytes, o, ldy, mrow);
        }
    }
    free(buf);
    return 1;
}
