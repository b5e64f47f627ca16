/*
 * quant_iq4_avx512.c - AVX-512 VNNI twins of the IQ4_NL, IQ4_XS and MXFP4
 * dot products (quant_iq4.c), decode's multi-row kernels and the prefill
 * GEMMs. Dequantization keeps the AVX2 kernels, which the avx512 table
 * inherits.
 *
 * Weights go to vpdpbusd as unsigned bytes: the codebook is looked up
 * (vpshufb, per 128-bit lane) in a copy offset by 128, u = value + 128,
 * and 128 x the activation's sum is taken back (a vpdpbusd of 0x80 bytes
 * against the activation). Exact for every activation byte.
 *
 * IQ4_NL and MXFP4 (Q8_0 activations) go four blocks per register, one
 * per 128-bit lane, acc += (dx * dy) * float(dot) in float lanes, so their
 * dots differ from the scalar twin by float summation order only. IQ4_XS
 * (Q8_K) sums a super-block in integers (sub-block scales by vpmulld),
 * then takes the scalar twin's float steps: the same bits.
 *
 * Decode's rows kernels prepare the activation once in the order the
 * weights unpack cheapest, and prefetch the rows PF_ROWS ahead: from
 * DRAM one thread's stream outruns the hardware prefetcher (8 GB/s
 * without, the L2 rate with).
 *
 * GEMM (quant.h's contract): IQ4_XS on its own row-interleaved kernel,
 * with the vec_dot's bits. IQ4_NL and MXFP4 are converted, a chunk of
 * rows at a time, to Q8_0 rows (the same half scale: for MXFP4 the power
 * of two 2^(e - 128) as a half, exact for e in [104, 143]; the int8
 * codebook values as quants) and handed to the Q8_0 GEMM; Q8_0's scalar
 * dot on the converted rows is the IQ4_NL / MXFP4 scalar dot operation for
 * operation, so like Q8_0 these GEMMs give the scalar vec_dot's bits, which
 * differ from this level's vec_dot by float summation order only. A chunk
 * holding an MXFP4 exponent outside that range takes the scalar dots.
 */
#include <immintrin.h>
#include <stdlib.h>

#include "core/tr16_avx512.h"
#include "quant/quant_codebook.h"
#include "quant/quant_gemm_pack.h"
#include "quant/quant_impl.h"
#include "quant/quant_rows_pf.h"

typedef const uint8_t *bytes;

static inline float h2f(qhalf h)
{
    return _cvtsh_ss(h);
}

/* E8M0 exponent to float, halved: 2^(e - 128) (as quant_iq4.c). */
static inline float e8m0_half(uint8_t e)
{
    const uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* The codebook + 128 as unsigned bytes, in all four 128-bit lanes. */
static inline __m512i utable(const int8_t kv[16])
{
    const __m128i t = _mm_xor_si128(_mm_loadu_si128((const __m128i *)kv), _mm_set1_epi8((char)0x80));
    return _mm512_broadcast_i32x4(t);
}

/* 32 nibble bytes of two adjacent 32-value sub-blocks (IQ4_XS) -> 64
 * offset values, each sub-block's low nibbles then its high ones. */
static inline __m512i uvals_32(__m512i tab, const uint8_t *qs)
{
    const __m256i a = _mm256_loadu_si256((const __m256i *)qs);
    const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(a), _mm256_srli_epi16(a, 4), 1);
    /* 128-bit lanes [a0, a1, a0>>4, a1>>4] -> [a0, a0>>4, a1, a1>>4] */
    const __m512i o = _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0));
    return _mm512_shuffle_epi8(tab, _mm512_and_si512(o, _mm512_set1_epi8(0x0F)));
}

/* -128 x the sums of each group of 4 activation bytes (int32 lanes). */
static inline __m512i neg_sums(__m512i qy)
{
    const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8((char)0x80), qy);
    return _mm512_sub_epi32(_mm512_setzero_si512(), s);
}

/* ------------------------------------------------- IQ4_NL and MXFP4 dots */

/* Four blocks at a time (a quad: 128 values), each block in its own
 * 128-bit lane: lane j holds block 4g + j's 16 nibble bytes, whose low
 * nibbles are its values 0-15 and high nibbles 16-31, so the activation
 * is prepared as two registers (values 0-15 and 16-31 of each block's
 * lane) and one dword accumulator takes both, block by lane. A quad past
 * the row's end (nb not a multiple of 4) repeats the last block's weights
 * with scale 0 against zero activations. */

/* The activation of quad g: ylo / yhi its values 0-15 / 16-31 of block
 * 4g + j in lane j, ng = -128 x the 4-byte sums of both, dy the block
 * scales, each over its lane's four floats. */
typedef struct nl_act {
    __m512i ylo, yhi, ng;
    __m512 dy;
} nl_act;

static inline void nl_prep(const block_q8_0 *y, int64_t nb, int64_t g, nl_act *A)
{
    __m128i lo[4], hi[4];
    float d[4];
    for (int j = 0; j < 4; j++) {
        const int64_t b = 4 * g + j;
        lo[j] = b < nb ? _mm_loadu_si128((const __m128i *)y[b].qs) : _mm_setzero_si128();
        hi[j] = b < nb ? _mm_loadu_si128((const __m128i *)(y[b].qs + 16)) : _mm_setzero_si128();
        d[j] = b < nb ? h2f(y[b].d) : 0.0f;
    }
    A->ylo = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(lo[1], lo[0])), _mm256_set_m128i(lo[3], lo[2]), 1);
    A->yhi = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(hi[1], hi[0])), _mm256_set_m128i(hi[3], hi[2]), 1);
    const __m512i k80 = _mm512_set1_epi8((char)0x80);
    const __m512i s = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), k80, A->ylo), k80, A->yhi);
    A->ng = _mm512_sub_epi32(_mm512_setzero_si512(), s);
    A->dy = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                                  _mm512_castps128_ps512(_mm_loadu_ps(d)));
}

/* The 16 nibble bytes of quad g's blocks, block j in lane j, and their
 * scales over each lane's four floats. IQ4_NL blocks are 18 bytes, 9
 * words: a full quad's halves and quants all sit at word offsets of its
 * first 72 bytes, so two word permutes (vpermw) of two loads gather them;
 * MXFP4 (17 bytes) and a quad past the row's end take them one block at a
 * time. */
static inline __attribute__((always_inline)) void
nl_quad(int mx, bytes x, int64_t nb, int64_t g, __m512i *q, __m512 *w)
{
    const size_t bs = mx ? sizeof(block_mxfp4) : sizeof(block_iq4_nl), qo = mx ? 1 : 2;
    const __m512i rep4 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    if (!mx && 4 * g + 4 <= nb) {
        static const int16_t iq[32] = {1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17,
                                       19, 20, 21, 22, 23, 24, 25, 26, 24, 25, 26, 27, 28, 29, 30, 31};
        static const int16_t ih[16] = {0, 0, 0, 0, 9, 9, 9, 9, 18, 18, 18, 18, 27, 27, 27, 27};
        bytes b = x + (size_t)(4 * g) * bs;
        const __m512i z0 = _mm512_loadu_si512(b), z1 = _mm512_loadu_si512(b + 8);
        /* block j's quants are words 9j + 1 .. 9j + 8; the last block's
         * are words 24..31 of z1 (which starts 4 words later) */
        const __m512i i0 = _mm512_loadu_si512(iq);
        *q = _mm512_mask_permutexvar_epi16(_mm512_permutexvar_epi16(i0, z0), 0xFF000000u, i0, z1);
        const __m512i i1 = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)ih));
        *w = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(i1, z0)));
        return;
    }
    if (mx && 4 * g + 4 <= nb) {
        bytes b = x + (size_t)(4 * g) * bs;
        __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(b + 1)));
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(b + 18)), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(b + 35)), 2);
        *q = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(b + 52)), 3);
        /* e8m0_half in lanes: (e - 1) << 23, or 0x00200000 << e below 2 */
        const uint32_t e4 = (uint32_t)b[0] | (uint32_t)b[17] << 8 | (uint32_t)b[34] << 16 | (uint32_t)b[51] << 24;
        const __m128i e = _mm_cvtepu8_epi32(_mm_cvtsi32_si128((int)e4));
        const __m128i big = _mm_slli_epi32(_mm_sub_epi32(e, _mm_set1_epi32(1)), 23);
        const __m128i small = _mm_sllv_epi32(_mm_set1_epi32(0x00200000), e);
        const __m128i f = _mm_blendv_epi8(big, small, _mm_cmplt_epi32(e, _mm_set1_epi32(2)));
        *w = _mm512_permutexvar_ps(rep4, _mm512_castps128_ps512(_mm_castsi128_ps(f)));
        return;
    }
    bytes b[4];
    float dx[4];
    for (int j = 0; j < 4; j++) {
        const int64_t k = 4 * g + j;
        b[j] = x + (size_t)(k < nb ? k : nb - 1) * bs;
        if (mx) {
            dx[j] = k < nb ? e8m0_half(b[j][0]) : 0.0f;
        } else {
            qhalf h;
            memcpy(&h, b[j], 2);
            dx[j] = k < nb ? h2f(h) : 0.0f;
        }
    }
    const __m256i q01 = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(b[0] + qo))),
                                                _mm_loadu_si128((const __m128i *)(b[1] + qo)), 1);
    const __m256i q23 = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(b[2] + qo))),
                                                _mm_loadu_si128((const __m128i *)(b[3] + qo)), 1);
    *q = _mm512_inserti64x4(_mm512_castsi256_si512(q01), q23, 1);
    *w = _mm512_permutexvar_ps(rep4, _mm512_castps128_ps512(_mm_loadu_ps(dx)));
}

/* acc += (dx * dy) * float(u.y - 128 sum(y)) for quad g of row x, lane by
 * lane: the one sequence of operations of the vec_dot and the rows
 * kernel. */
static inline __attribute__((always_inline)) __m512
nl_step(int mx, __m512i tab, bytes x, int64_t nb, int64_t g, const nl_act *A, __m512 acc)
{
    __m512i q;
    __m512 w;
    nl_quad(mx, x, nb, g, &q, &w);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i ulo = _mm512_shuffle_epi8(tab, _mm512_and_si512(q, m4));
    const __m512i uhi = _mm512_shuffle_epi8(tab, _mm512_and_si512(_mm512_srli_epi16(q, 4), m4));
    const __m512i p = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(A->ng, ulo, A->ylo), uhi, A->yhi);
    return _mm512_add_ps(acc, _mm512_mul_ps(_mm512_mul_ps(w, A->dy), _mm512_cvtepi32_ps(p)));
}

/* Quads of activation blocks the rows kernel prepares on its stack (16
 * KiB): rows of up to 8192 elements; longer rows loop over vec_dot. */
#define NL_MAX_QUADS 64

#ifndef PF_ROWS
#define PF_ROWS 4
#endif

static inline __attribute__((always_inline)) void
nl_dot(int mx, int64_t n, float *out, bytes x, const void *a)
{
    const block_q8_0 *y = a;
    const int64_t nb = n / QK8_0;
    const __m512i tab = utable(mx ? quant_kvalues_mxfp4 : quant_kvalues_iq4nl);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t g = 0; 4 * g < nb; g++) {
        nl_act A;
        nl_prep(y, nb, g, &A);
        acc = nl_step(mx, tab, x, nb, g, &A, acc);
    }
    *out = _mm512_reduce_add_ps(acc);
}

static inline __attribute__((always_inline)) void
nl_rows(int mx, int64_t n, float *out, bytes w, size_t row_bytes, int n_rows, const void *a)
{
    const block_q8_0 *y = a;
    const int64_t nb = n / QK8_0, nq = (nb + 3) / 4, nfull = nb / 4;
    if (nq > NL_MAX_QUADS) {
        for (int r = 0; r < n_rows; r++)
            nl_dot(mx, n, out + r, w + (size_t)r * row_bytes, a);
        return;
    }
    const __m512i tab = utable(mx ? quant_kvalues_mxfp4 : quant_kvalues_iq4nl);
    nl_act A[NL_MAX_QUADS];
    for (int64_t g = 0; g < nq; g++)
        nl_prep(y, nb, g, &A[g]);
    const size_t bs = mx ? sizeof(block_mxfp4) : sizeof(block_iq4_nl);
    for (int r = 0; r < n_rows; r++) {
        bytes x = w + (size_t)r * row_bytes;
        __m512 acc = _mm512_setzero_ps();
        /* full quads, then the partial one: nl_step's own test of the
         * quad, hoisted (the same operations either way) */
        for (int64_t g = 0; g < nfull; g++) {
            const char *pf = (const char *)x + PF_ROWS * row_bytes + (size_t)(4 * g) * bs;
            _mm_prefetch(pf, _MM_HINT_T0);
            _mm_prefetch(pf + 64, _MM_HINT_T0);
            acc = nl_step(mx, tab, x, 4 * g + 4, g, &A[g], acc);
        }
        if (nfull < nq)
            acc = nl_step(mx, tab, x, nb, nfull, &A[nfull], acc);
        out[r] = _mm512_reduce_add_ps(acc);
    }
}

static void vec_dot_iq4_nl(int64_t n, float *out, const void *w, const void *a)
{
    nl_dot(0, n, out, w, a);
}

static void vec_dot_rows_iq4_nl(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows,
                                const void *a)
{
    nl_rows(0, n, out, w, row_bytes, n_rows, a);
}

static void vec_dot_mxfp4(int64_t n, float *out, const void *w, const void *a)
{
    nl_dot(1, n, out, w, a);
}

static void vec_dot_rows_mxfp4(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows,
                               const void *a)
{
    nl_rows(1, n, out, w, row_bytes, n_rows, a);
}

/* ------------------------------------------------------------ IQ4_XS dots */

/* The eight sub-block scales (ls - 32) of a super-block as int32 lanes
 * 0-7: scale ib has bits 4 ib.. of the scales_l word and 2 ib.. of
 * scales_h. */
static inline __m256i xs_scales8(const block_iq4_xs *b)
{
    uint32_t sl;
    memcpy(&sl, b->scales_l, 4);
    const __m256i lo = _mm256_and_si256(
        _mm256_srlv_epi32(_mm256_set1_epi32((int)sl), _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
        _mm256_set1_epi32(0xF));
    const __m256i hi = _mm256_and_si256(
        _mm256_srlv_epi32(_mm256_set1_epi32(b->scales_h), _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)),
        _mm256_set1_epi32(3));
    return _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32));
}

/* Scales of sub-blocks 2k (lanes 0-7) and 2k + 1 (lanes 8-15). */
static inline __m512i xs_scale_pair(__m256i s8, int k)
{
    const __m512i idx = _mm512_inserti64x4(_mm512_set1_epi32(2 * k), _mm256_set1_epi32(2 * k + 1), 1);
    return _mm512_permutexvar_epi32(idx, _mm512_castsi256_si512(s8));
}

/* One super-block's exact integer sum against prepared activation
 * registers qy[0..3] (64 values each) and neg[0..3] (-128 x 4-byte
 * sums). */
static inline int xs_superblock(__m512i tab, const block_iq4_xs *x, const __m512i *qy, const __m512i *neg)
{
    const __m256i s8 = xs_scales8(x);
    __m512i acc = _mm512_setzero_si512();
    for (int k = 0; k < 4; k++) {
        const __m512i p = _mm512_dpbusd_epi32(neg[k], uvals_32(tab, x->qs + 32 * k), qy[k]);
        acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(p, xs_scale_pair(s8, k)));
    }
    return _mm512_reduce_add_epi32(acc);
}

static void vec_dot_iq4_xs(int64_t n, float *out, const void *w, const void *a)
{
    const block_iq4_xs *x = w;
    const block_q8_K *y = a;
    const __m512i tab = utable(quant_kvalues_iq4nl);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        __m512i qy[4], neg[4];
        for (int k = 0; k < 4; k++) {
            qy[k] = _mm512_loadu_si512(y[i].qs + 64 * k);
            neg[k] = neg_sums(qy[k]);
        }
        sum += (h2f(x[i].d) * y[i].d) * (float)xs_superblock(tab, &x[i], qy, neg);
    }
    *out = sum;
}

/* Decode's matrix-vector product, four rows at a time.
 *
 * The activation is prepared once for all rows, each 64-value chunk in
 * the order its weights unpack cheapest: the chunk's 32 weight bytes are
 * loaded into both halves of a zmm, the upper half shifted right 4 bits,
 * so its 128-bit lanes hold sub-block 2c's low nibbles (values 0-15 of
 * the chunk), 2c + 1's low (32-47), 2c's high (16-31), 2c + 1's high
 * (48-63); qy gets the activation bytes in that order (one lane shuffle
 * per chunk, once), and ng the -128 x 4-byte sums of the offset.
 *
 * Per row and super-block the four chunks' dword partial sums are summed
 * lane-wise into one vector (two rounds of pairwise adds: 128-bit lane l,
 * dword c = chunk c's part of lane l, sub-block 2c + (l & 1)), which one
 * vpmulld scales, where the single-row kernel needs one per chunk; the
 * four rows' vectors share one reduction. The integer sum of each
 * super-block is exact, and each row's float steps are vec_dot's, in SSE
 * lanes: the bits of vec_dot. */

/* Super-blocks of activation prepared on the stack (32 KiB): rows of up
 * to 16384 elements; longer ones loop over vec_dot. */
#define XS_MAX_SB 64

/* Per 128-bit lane: [a0 + a1, a2 + a3, b0 + b1, b2 + b3]. */
static inline __m512i hadd_lanes(__m512i a, __m512i b)
{
    const __m512 fa = _mm512_castsi512_ps(a), fb = _mm512_castsi512_ps(b);
    return _mm512_add_epi32(_mm512_castps_si512(_mm512_shuffle_ps(fa, fb, _MM_SHUFFLE(2, 0, 2, 0))),
                            _mm512_castps_si512(_mm512_shuffle_ps(fa, fb, _MM_SHUFFLE(3, 1, 3, 1))));
}

/* One super-block of one row against prepared activation chunks: dword
 * lanes whose sum is the super-block's exact integer dot. */
static inline __m512i xs_row_sb(__m512i tab, const block_iq4_xs *x, const __m512i *qy, const __m512i *ng)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i sh = _mm512_setr_epi64(0, 0, 0, 0, 4, 4, 4, 4);
    __m512i p[4];
    for (int c = 0; c < 4; c++) {
        const __m512i b = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x->qs + 32 * c)));
        const __m512i u = _mm512_shuffle_epi8(tab, _mm512_and_si512(_mm512_srlv_epi64(b, sh), m4));
        p[c] = _mm512_dpbusd_epi32(ng[c], u, qy[c]);
    }
    const __m512i s = hadd_lanes(hadd_lanes(p[0], p[1]), hadd_lanes(p[2], p[3]));
    const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7, 0, 2, 4, 6, 1, 3, 5, 7);
    return _mm512_mullo_epi32(s, _mm512_permutexvar_epi32(idx, _mm512_castsi256_si512(xs_scales8(x))));
}


static void vec_dot_rows_iq4_xs(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows,
                                const void *a)
{
    const block_q8_K *y = a;
    const int64_t nb = n / QK_K;
    if (nb > XS_MAX_SB) {
        for (int r = 0; r < n_rows; r++)
            vec_dot_iq4_xs(n, out + r, (bytes)w + (size_t)r * row_bytes, a);
        return;
    }
    const __m512i tab = utable(quant_kvalues_iq4nl);
    __m512i qy[4 * XS_MAX_SB], ng[4 * XS_MAX_SB];
    for (int64_t i = 0; i < nb; i++)
        for (int c = 0; c < 4; c++) {
            const __m512i z = _mm512_loadu_si512(y[i].qs + 64 * c);
            qy[4 * i + c] = _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0));
            ng[4 * i + c] = neg_sums(qy[4 * i + c]);
        }
    int r = 0;
    for (; r + 4 <= n_rows; r += 4) {
        const block_iq4_xs *x[4];
        for (int k = 0; k < 4; k++)
            x[k] = (const block_iq4_xs *)((bytes)w + (size_t)(r + k) * row_bytes);
        __m128 sum = _mm_setzero_ps();
        for (int64_t i = 0; i < nb; i++) {
            __m512i acc[4];
            rows4_prefetch(x[0], row_bytes, i, sizeof(block_iq4_xs));
            for (int k = 0; k < 4; k++) {
                acc[k] = xs_row_sb(tab, &x[k][i], qy + 4 * i, ng + 4 * i);
            }
            const __m128i dh = _mm_setr_epi16((short)x[0][i].d, (short)x[1][i].d, (short)x[2][i].d,
                                              (short)x[3][i].d, 0, 0, 0, 0);
            const __m128 d = _mm_mul_ps(_mm_cvtph_ps(dh), _mm_set1_ps(y[i].d));
            sum = _mm_add_ps(sum, _mm_mul_ps(d, _mm_cvtepi32_ps(reduce4_epi32(acc[0], acc[1], acc[2], acc[3]))));
        }
        _mm_storeu_ps(out + r, sum);
    }
    for (; r < n_rows; r++)
        vec_dot_iq4_xs(n, out + r, (bytes)w + (size_t)r * row_bytes, a);
}

void quant_register_iq4_avx512(quant_kernels *tab)
{
    tab[QT_IQ4_NL].vec_dot = vec_dot_iq4_nl;
    tab[QT_IQ4_NL].vec_dot_rows = vec_dot_rows_iq4_nl;
    tab[QT_MXFP4].vec_dot = vec_dot_mxfp4;
    tab[QT_MXFP4].vec_dot_rows = vec_dot_rows_mxfp4;
    tab[QT_IQ4_XS].vec_dot = vec_dot_iq4_xs;
    tab[QT_IQ4_XS].vec_dot_rows = vec_dot_rows_iq4_xs;
}

/* ------------------------------------------ IQ4_NL and MXFP4 GEMM (Q8_0) */


/* One row of nb IQ4_NL (mx = 0) or MXFP4 blocks to Q8_0: the same scale
 * as a half, the codebook values as quants. 0 if an MXFP4 scale is no
 * half (e outside [104, 143]). */
static int to_q8_0(int mx, bytes x, int64_t nb, block_q8_0 *q)
{
    const size_t bs = mx ? sizeof(block_mxfp4) : sizeof(block_iq4_nl), qo = mx ? 1 : 2;
    const __m128i tab = _mm_loadu_si128((const __m128i *)(mx ? quant_kvalues_mxfp4 : quant_kvalues_iq4nl));
    const __m128i m4 = _mm_set1_epi8(0x0F);
    for (int64_t i = 0; i < nb; i++, x += bs) {
        if (mx) {
            if (x[0] < 104 || x[0] > 143)
                return 0;
            q[i].d = (qhalf)_cvtss_sh(e8m0_half(x[0]), 0);
        } else {
            memcpy(&q[i].d, x, 2);
        }
        const __m128i v = _mm_loadu_si128((const __m128i *)(x + qo));
        _mm_storeu_si128((__m128i *)q[i].qs, _mm_shuffle_epi8(tab, _mm_and_si128(v, m4)));
        _mm_storeu_si128((__m128i *)(q[i].qs + 16), _mm_shuffle_epi8(tab, _mm_and_si128(_mm_srli_epi16(v, 4), m4)));
    }
    return 1;
}

/* Converted rows per chunk: about 256 KiB (read once by the Q8_0 GEMM's
 * packing, in L2), whole 32-row panels, at least 64 rows so that its
 * per-call copy of the activations stays a few percent of the work. */
#define CONV_BYTES (256 * 1024)

static inline __attribute__((always_inline)) void
gemm_via_q8_0(int mx, int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
              size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    const int64_t nb = n / QK8_0;
    const size_t qrb = (size_t)nb * sizeof(block_q8_0);
    int cr = (int)(CONV_BYTES / qrb) / 32 * 32;
    cr = cr < 64 ? 64 : cr;
    void (*dot)(int64_t, float *, const void *, const void *) =
        quant_kernels_for(mx ? QT_MXFP4 : QT_IQ4_NL, "scalar")->vec_dot;
    uint8_t *buf = qgp_cbuf((size_t)cr * qrb);
    for (int c0 = r0; c0 < r1; c0 += cr) {
        const int c1 = r1 - c0 < cr ? r1 : c0 + cr;
        int ok = buf != NULL;
        for (int r = c0; ok && r < c1; r++)
            ok = to_q8_0(mx, (bytes)w + (size_t)r * row_bytes, nb, (block_q8_0 *)(buf + (size_t)(r - c0) * qrb));
        if (ok && qgp_gemm_q8_0(n, buf, qrb, 0, c1 - c0, act, act_bytes, n_tok, out + c0, ldy))
            continue;
        /* no buffer, or a scale no half holds: the same bits, slowly */
        for (int r = c0; r < c1; r++)
            for (int t = 0; t < n_tok; t++)
                dot(n, &out[(size_t)t * ldy + (size_t)r], (bytes)w + (size_t)r * row_bytes,
                    (bytes)act + (size_t)t * act_bytes);
    }
}

static void gemm_iq4_nl(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                        size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    gemm_via_q8_0(0, n, w, row_bytes, r0, r1, act, act_bytes, n_tok, out, ldy);
}

static void gemm_mxfp4(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                       size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    gemm_via_q8_0(1, n, w, row_bytes, r0, r1, act, act_bytes, n_tok, out, ldy);
}

/* ------------------------------------------------------------ IQ4_XS GEMM */

/* One super-block of a 16-row panel, interleaved: u[g] lane r = offset
 * values 4g..4g+3 of row r (element order: sub-block g / 8); sc[s] lane r
 * = the scale ls - 32 of sub-block s; dx the rows' scales. */
typedef struct xpack {
    _Alignas(64) uint8_t u[64][64];
    _Alignas(64) int32_t sc[8][16];
    _Alignas(64) float dx[16];
} xpack;

/* Super-block i of 16 rows (row r at row0 + r * rb; from nrow on the last
 * one again, not stored) into P. */
static void xs_pack16(bytes row0, size_t rb, int nrow, int64_t i, xpack *P)
{
    const __m512i tab = utable(quant_kvalues_iq4nl);
    const block_iq4_xs *x[16];
    for (int r = 0; r < 16; r++)
        x[r] = (const block_iq4_xs *)(row0 + (size_t)(r < nrow ? r : nrow - 1) * rb) + i;
    for (int k = 0; k < 4; k++) {
        __m512i a[16];
        for (int r = 0; r < 16; r++)
            a[r] = uvals_32(tab, x[r]->qs + 32 * k);
        tr16_epi32(a);
        for (int g = 0; g < 16; g++)
            _mm512_store_si512(P->u[16 * k + g], a[g]);
    }
    _Alignas(32) int32_t s8[16][8];
    for (int r = 0; r < 16; r++) {
        _mm256_store_si256((__m256i *)s8[r], xs_scales8(x[r]));
        P->dx[r] = h2f(x[r]->d);
    }
    for (int s = 0; s < 8; s++)
        for (int r = 0; r < 16; r++)
            P->sc[s][r] = s8[r][s];
}

/* -128 x the activation's sum over each 32-value sub-block, per token and
 * super-block: neg[8 (t nb + i) + s]. */
static void xs_negs(bytes act, size_t ab, int n_tok, int64_t nb, int32_t *neg)
{
    for (int t = 0; t < n_tok; t++)
        for (int64_t i = 0; i < nb; i++) {
            const block_q8_K *y = (const block_q8_K *)(act + (size_t)t * ab) + i;
            for (int s = 0; s < 8; s++)
                neg[8 * ((size_t)t * (size_t)nb + (size_t)i) + s] = -128 * (y->bsums[2 * s] + y->bsums[2 * s + 1]);
        }
}

static inline int32_t ld32(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#define XT 8 /* tokens per tile */

/* nt tokens against a whole packed panel of nb super-blocks: per
 * sub-block and token the exact dot u.y - 128 sum(y) (vpdpbusd from the
 * precomputed offset), times the sub-block scale (vpmulld), summed over
 * the super-block; then acc += (dx * dy) * float(sum), the vec_dot's
 * operations lane by lane, super-block after super-block. */
static inline __attribute__((always_inline)) void
xs_tile(const xpack *P, int64_t nb, bytes act, size_t ab, const int32_t *neg, int nt, float *out,
        size_t ldy, __mmask16 mrow)
{
    __m512 acc[XT];
    for (int t = 0; t < nt; t++)
        acc[t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const xpack *p = &P[i];
        const int8_t *y[XT];
        __m512i si[XT];
        for (int t = 0; t < nt; t++) {
            y[t] = ((const block_q8_K *)(act + (size_t)t * ab) + i)->qs;
            si[t] = _mm512_setzero_si512();
        }
#pragma GCC unroll 8
        for (int s = 0; s < 8; s++) {
            __m512i a[XT];
            for (int t = 0; t < nt; t++)
                a[t] = _mm512_set1_epi32(neg[8 * ((size_t)t * (size_t)nb + (size_t)i) + s]);
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) {
                const __m512i u = _mm512_load_si512(p->u[8 * s + g]);
                for (int t = 0; t < nt; t++)
                    a[t] = _mm512_dpbusd_epi32(a[t], u, _mm512_set1_epi32(ld32(y[t] + 32 * s + 4 * g)));
            }
            const __m512i sc = _mm512_load_si512(p->sc[s]);
            for (int t = 0; t < nt; t++)
                si[t] = _mm512_add_epi32(si[t], _mm512_mullo_epi32(a[t], sc));
        }
        const __m512 dx = _mm512_load_ps(p->dx);
        for (int t = 0; t < nt; t++) {
            const float yd = ((const block_q8_K *)(act + (size_t)t * ab) + i)->d;
            const __m512 d = _mm512_mul_ps(dx, _mm512_set1_ps(yd));
            acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(d, _mm512_cvtepi32_ps(si[t])));
        }
    }
    for (int t = 0; t < nt; t++)
        _mm512_mask_storeu_ps(out + (size_t)t * ldy, mrow, acc[t]);
}

/* Panels of 16 rows, each packed whole once per call (nb x 4.6 KiB, in L2)
 * and met by every token in tiles of XT. */
static void gemm_iq4_xs(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                        size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    const int64_t nb = n / QK_K;
    const size_t pbytes = (size_t)nb * sizeof(xpack);
    uint8_t *buf = r0 < r1 && n_tok > 0 ? qgp_wbuf(pbytes + (size_t)n_tok * (size_t)nb * 32) : NULL;
    if (!buf) {
        for (int r = r0; r < r1; r++)
            for (int t = 0; t < n_tok; t++)
                vec_dot_iq4_xs(n, &out[(size_t)t * ldy + (size_t)r], (bytes)w + (size_t)r * row_bytes,
                               (bytes)act + (size_t)t * act_bytes);
        return;
    }
    xpack *P = (xpack *)buf;
    int32_t *neg = (int32_t *)(buf + pbytes);
    xs_negs(act, act_bytes, n_tok, nb, neg);
    for (int p0 = r0; p0 < r1; p0 += 16) {
        const int nr = r1 - p0 < 16 ? r1 - p0 : 16;
        const __mmask16 mrow = (__mmask16)((1u << nr) - 1);
        for (int64_t i = 0; i < nb; i++)
            xs_pack16((bytes)w + (size_t)p0 * row_bytes, row_bytes, nr, i, &P[i]);
        for (int t0 = 0; t0 < n_tok; t0 += XT) {
            const int nt = n_tok - t0 < XT ? n_tok - t0 : XT;
            bytes a = (bytes)act + (size_t)t0 * act_bytes;
            const int32_t *ng = neg + 8 * (size_t)t0 * (size_t)nb;
            float *o = out + (size_t)t0 * ldy + p0;
            switch (nt) {
            case 8: xs_tile(P, nb, a, act_bytes, ng, 8, o, ldy, mrow); break;
            case 7: xs_tile(P, nb, a, act_bytes, ng, 7, o, ldy, mrow); break;
            case 6: xs_tile(P, nb, a, act_bytes, ng, 6, o, ldy, mrow); break;
            case 5: xs_tile(P, nb, a, act_bytes, ng, 5, o, ldy, mrow); break;
            case 4: xs_tile(P, nb, a, act_bytes, ng, 4, o, ldy, mrow); break;
            case 3: xs_tile(P, nb, a, act_bytes, ng, 3, o, ldy, mrow); break;
            case 2: xs_tile(P, nb, a, act_bytes, ng, 2, o, ldy, mrow); break;
            default: xs_tile(P, nb, a, act_bytes, ng, 1, o, ldy, mrow); break;
            }
        }
    }
}

quant_gemm_fn quant_gemm_iq4_avx512_for(int type)
{
    switch (type) {
    case QT_IQ4_NL: return gemm_iq4_nl;
    case QT_IQ4_XS: return gemm_iq4_xs;
    case QT_MXFP4: return gemm_mxfp4;
    default: return NULL;
    }
}
