/*
 * quant_gemm_q8_avx512.c - Q8_0 GEMM on row-interleaved weights (see
 * quant_gemm_pack.h), for prefill batches.
 *
 * The AVX-512 vec_dot of Q8_0 keeps 16 float lanes per (row, token):
 * lane l < 8 sums, block after even block, d * (4-byte integer dot l),
 * lanes 8..15 the same for the odd blocks, and _mm512_reduce_add_ps folds
 * them at the end. Those float operations are what fix its bits, so they
 * cannot be merged; but they can be done for 16 rows at once. Here a
 * register's 16 lanes are 16 weight rows and there are 16 accumulators
 * A[l], one per vec_dot lane: per block, one vpdpbusd per group of 4
 * quants multiplies the 16 rows by a broadcast of the token's 4 bytes,
 * and the block scale d = dx * dy is one multiply for all 8 groups (the
 * per-row kernel pays it per group and row). The weights are offset to
 * unsigned (x ^ 0x80 = x + 128) as in the vec_dot, and the offset is
 * taken back by starting each vpdpbusd from -128 x (the 4 activation
 * bytes' sum), precomputed once per token and block: the same exact
 * integer as the vec_dot's p - (s << 7).
 *
 * Work buffer (malloc'd per call: a prefill matmul takes milliseconds):
 * the 16-row panel's interleaved quants and scales for the whole row and
 * the activation sums of a block of tokens; without it the caller gets the
 * per-row kernel (same bits).
 */
#include <immintrin.h>
#include <stdlib.h>

#include "quant/quant_gemm_pack.h"
#include "quant/quant_impl.h"

typedef const uint8_t *bytes;

/* Tokens whose activation sums are prepared at once: each panel of
 * weights is read from memory and interleaved once per such block, so
 * the block is as wide as fits QB_CACHE bytes of activations (quants,
 * sums and scales: 70 bytes per 32 elements), at most QB_MAX tokens. */
#define QB_MAX 128
#define QB_CACHE (512 * 1024)

static inline float h2f(qhalf h)
{
    return _cvtsh_ss(h);
}

/* The panel of 16 rows (blk[r] = row r's first block): w[b * 8 + l] lane
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

/* For nt tokens: neg[(t * nb + b) * 8 + l] = -128 x the sum of quants
 * 4l..4l+3 of block b of token t; dy[t * nb + b] = its scale. */
static void q8_prep(bytes act, size_t ab, int nt, int64_t nb, int32_t *neg, float *dy)
{
    const __m256i ones = _mm256_set1_epi8(1);
    for (int t = 0; t < nt; t++) {
        const block_q8_0 *y = (const block_q8_0 *)(act + (size_t)t * ab);
        for (int64_t b = 0; b < nb; b++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)y[b].qs);
            const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, q);
            _mm256_storeu_si256((__m256i *)(neg + ((size_t)t * nb + b) * 8),
                                _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(s, 7)));
            dy[(size_t)t * nb + b] = h2f(y[b].d);
        }
    }
}

/* One block b of one token into the accumulators A[h..h+7]: A[h + l] +=
 * d * (the exact integer dot of group l), d = dx * dy, as the vec_dot's
 * pair_dot and add do for its lane h + l. The integer dots go to p. */
static inline __attribute__((always_inline)) void
q8_block(__m512 A[16], int h, const __m512i *w, __m512 d, const int32_t *neg, const int8_t *y,
         __m512i p[8])
{
    for (int l = 0; l < 8; l++) {
        int32_t yb;
        memcpy(&yb, y + 4 * l, sizeof yb);
        p[l] = _mm512_dpbusd_epi32(_mm512_set1_epi32(neg[l]), w[l], _mm512_set1_epi32(yb));
        A[h + l] = _mm512_add_ps(A[h + l], _mm512_mul_ps(d, _mm512_cvtepi32_ps(p[l])));
    }
}

/* Token t against the packed panel: the vec_dot's lanes for 16 rows,
 * folded in _mm512_reduce_add_ps's order, stored to the rows of mrow. */
static void q8_token(const __m512i *w, const __m512 *dx, int64_t nb, const int32_t *neg,
                     const float *dy, const block_q8_0 *y, float *out, __mmask16 mrow)
{
    __m512 A[16];
    __m512i p[8];
    for (int l = 0; l < 16; l++)
        A[l] = _mm512_setzero_ps();
    /* in pairs, so that A's indices are constants and A stays in registers */
    for (int64_t b = 0; b + 1 < nb; b += 2) {
        q8_block(A, 0, w + b * 8, _mm512_mul_ps(dx[b], _mm512_set1_ps(dy[b])), neg + b * 8, y[b].qs, p);
        q8_block(A, 8, w + (b + 1) * 8, _mm512_mul_ps(dx[b + 1], _mm512_set1_ps(dy[b + 1])),
                 neg + (b + 1) * 8, y[b + 1].qs, p);
    }
    if (nb & 1) {
        const int64_t b = nb - 1;
        q8_block(A, 0, w + b * 8, _mm512_mul_ps(dx[b], _mm512_set1_ps(dy[b])), neg + b * 8, y[b].qs, p);
        /* an odd last block pairs with itself in the vec_dot, its copy
         * scaled by dx * 0 */
        const __m512 d = _mm512_mul_ps(dx[nb - 1], _mm512_setzero_ps());
        for (int l = 0; l < 8; l++)
            A[8 + l] = _mm512_add_ps(A[8 + l], _mm512_mul_ps(d, _mm512_cvtepi32_ps(p[l])));
    }
    __m512 s8[8], s4[4];
    for (int k = 0; k < 8; k++)
        s8[k] = _mm512_add_ps(A[8 + k], A[k]);
    for (int k = 0; k < 4; k++)
        s4[k] = _mm512_add_ps(s8[4 + k], s8[k]);
    const __m512 r = _mm512_add_ps(_mm512_add_ps(s4[0], s4[2]), _mm512_add_ps(s4[1], s4[3]));
    _mm512_mask_storeu_ps(out, mrow, r);
}

int qgp_gemm_q8_0(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                  size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    const int64_t nb = n / QK8_0;
    const size_t wbytes = (size_t)nb * 8 * sizeof(__m512i) + (size_t)nb * sizeof(__m512);
    int qb = (int)(QB_CACHE / (70 * (size_t)nb));
    qb = qb < 8 ? 8 : qb > QB_MAX ? QB_MAX : qb;
    const size_t abytes = (size_t)qb * (size_t)nb * (8 * sizeof(int32_t) + sizeof(float));
    /* aligned_alloc wants a size that is a multiple of the alignment */
    uint8_t *buf = aligned_alloc(64, (wbytes + abytes + 63) & ~(size_t)63);
    if (!buf)
        return 0;
    __m512i *wp = (__m512i *)buf;
    __m512 *dx = (__m512 *)(buf + (size_t)nb * 8 * sizeof(__m512i));
    int32_t *neg = (int32_t *)(buf + wbytes);
    float *dy = (float *)(neg + (size_t)qb * nb * 8);
    for (int tb = 0; tb < n_tok; tb += qb) {
        const int nt = n_tok - tb < qb ? n_tok - tb : qb;
        bytes a = (bytes)act + (size_t)tb * act_bytes;
        q8_prep(a, act_bytes, nt, nb, neg, dy);
        for (int p0 = r0; p0 < r1; p0 += 16) {
            const int nr = r1 - p0 < 16 ? r1 - p0 : 16;
            bytes row[16];
            for (int r = 0; r < 16; r++)
                row[r] = (bytes)w + (size_t)(p0 + (r < nr ? r : nr - 1)) * row_bytes;
            q8_pack(row, nb, wp, dx);
            /* the next panel (contiguous rows) is fetched a slice per token
             * while this one computes */
            const int nn = r1 - (p0 + 16) < 16 ? r1 - (p0 + 16) : 16;
            const size_t next_bytes = nn > 0 ? (size_t)nn * row_bytes : 0;
            bytes next = (bytes)w + (size_t)(p0 + 16) * row_bytes;
            for (int t = 0; t < nt; t++) {
                for (size_t o = next_bytes * (size_t)t / (size_t)nt; o < next_bytes * (size_t)(t + 1) / (size_t)nt; o += 64)
                    _mm_prefetch((const char *)next + o, _MM_HINT_T1);
                q8_token(wp, dx, nb, neg + (size_t)t * nb * 8, dy + (size_t)t * nb,
                         (const block_q8_0 *)(a + (size_t)t * act_bytes), out + (size_t)(tb + t) * ldy + p0,
                         (__mmask16)((1u << nr) - 1));
            }
        }
    }
    free(buf);
    return 1;
}
