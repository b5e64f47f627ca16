/*
 * quant_legacy_avx512.c - AVX-512 VNNI twins of the 32-element block dot
 * products (quant_legacy.c); dequantization and Q8_0 quantization keep
 * the AVX2 kernels, which the avx512 table inherits.
 *
 * Two blocks per zmm. vpdpbusd multiplies unsigned by signed bytes and
 * sums four products into each int32 without 16-bit saturation, so each
 * weight is fed as an unsigned quant u = value + offset (Q8_0: x ^ 0x80 =
 * x + 128; Q4_0: +8; Q5_0: +16) and the offset is taken back with the
 * activation's sum (a second vpdpbusd against ones). That is exact for
 * every byte value, -128 included. Q4_1/Q5_1 take Q8_1 activations and add
 * m * s per block. Block results are accumulated in float
 * lanes: the difference to the scalar twin is summation order only.
 */
#include <immintrin.h>

#include "quant/quant_impl.h"

/* One half scale to float: a single F16C instruction (exact, like
 * quant_h2f) instead of the portable bit manipulation. */
static inline float h2f(qhalf h)
{
    return _cvtsh_ss(h);
}

/* 16 nibble bytes of two blocks -> 64 bytes: block 0 low nibbles, block 0
 * high nibbles, block 1 low, block 1 high (the element order of each).
 * Each block's bytes are broadcast to both its 128-bit lanes (a plain
 * load), so one insert is the only shuffle; the upper copy of each is
 * shifted down by a masked shift. Building the same layout with three
 * lane inserts kept the shuffle port busiest of all in the Q4_0/Q5_0
 * loops. */
static inline __m512i nibbles_64(const uint8_t *qs0, const uint8_t *qs1)
{
    const __m256i a = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs0));
    const __m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs1));
    __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
    z = _mm512_mask_srli_epi16(z, (__mmask32)0xFF00FF00u, z, 4);
    return _mm512_and_si512(z, _mm512_set1_epi8(0x0F));
}

static inline __m512i load_2x32(const int8_t *p0, const int8_t *p1)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p0)),
                              _mm256_loadu_si256((const __m256i *)p1), 1);
}

/* Adds the fifth bits (bit i of each block's 32-bit word: 0x10 on byte i
 * of its half) to the nibbles: the two words are the byte mask of one
 * masked add, no expansion to a vector of their own. */
static inline __m512i add_fifth(__m512i nib, const uint8_t *qh0, const uint8_t *qh1)
{
    uint32_t a, b;
    memcpy(&a, qh0, 4);
    memcpy(&b, qh1, 4);
    const __mmask64 m = (__mmask64)a | ((__mmask64)b << 32);
    return _mm512_mask_add_epi8(nib, m, nib, _mm512_set1_epi8(0x10));
}

/* Per-lane float scale: d0 in the low 8 lanes, d1 in the high 8. */
static inline __m512 two_scales(float d0, float d1)
{
    return _mm512_insertf32x8(_mm512_set1_ps(d0), _mm256_set1_ps(d1), 1);
}

/* Float lanes of one pair of blocks: d * (u.y - 2^shift * sum(y)); shift 0
 * (the types with a min, whose min term is m * s) skips the sum. */
static inline __m512 pair_dot(__m512i u, __m512i qy, __m512 d, int shift)
{
    const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, qy);
    if (!shift)
        return _mm512_mul_ps(d, _mm512_cvtepi32_ps(p));
    const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), qy);
    return _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(p, _mm512_sllv_epi32(s, _mm512_set1_epi32(shift)))));
}

/* Blocks go in pairs (i, j = i + 1); with an odd count the last block
 * pairs with itself and the copy gets a zero scale. */
#define PAIR(i, j, nb) const int64_t j = (i) + 1 < (nb) ? (i) + 1 : (i)
#define DY1(y, i, j, nb) ((i) + 1 < (nb) ? h2f((y)[j].d) : 0.0f)

/* Halves a (lanes 0-7) and b (lanes 8-15) to floats with one vcvtph2ps:
 * a pair's scales without the scalar conversions and inserts of
 * two_scales (half the instructions of the old loop went there). */
static inline __m512 two_halves(qhalf a, qhalf b)
{
    const __m128i lo = _mm_set1_epi16((short)a), hi = _mm_set1_epi16((short)b);
    return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1));
}

/* Q8_0 per pair of blocks: p = u.y with u = x + 128, minus 128 * sum(y)
 * (a vpdpbusd of the 0x80 bytes, read as unsigned 128, against y), then
 * acc += (dx * dy) * float(p), lane by lane. The float operations and
 * their order are fixed: quant_gemm_q8_avx512.c repeats them bit for bit,
 * and vec_dot_rows_q8_0 below as well. An odd last block pairs with
 * itself, the copy's scale multiplied by zero. */
static void vec_dot_q8_0(int64_t n, float *out, const void *w, const void *a)
{
    const block_q8_0 *x = w, *y = a;
    const int64_t nb = n / QK8_0;
    const __m512i off = _mm512_set1_epi8((char)0x80);
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const __m512i qy = load_2x32(y[i].qs, y[i + 1].qs);
        const __m512i u = _mm512_xor_si512(load_2x32(x[i].qs, x[i + 1].qs), off);
        const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, qy);
        const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), off, qy);
        const __m512 d = _mm512_mul_ps(two_halves(x[i].d, x[i + 1].d), two_halves(y[i].d, y[i + 1].d));
        acc = _mm512_add_ps(acc, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(p, s))));
    }
    if (i < nb) {
        const __m512 d = two_scales(h2f(x[i].d) * h2f(y[i].d), h2f(x[i].d) * 0.0f);
        const __m512i u = _mm512_xor_si512(load_2x32(x[i].qs, x[i].qs), off);
        acc = _mm512_add_ps(acc, pair_dot(u, load_2x32(y[i].qs, y[i].qs), d, 7));
    }
    *out = _mm512_reduce_add_ps(acc);
}

/* The rows kernels below stream their weights front to back, one row
 * after the other, at a few bytes of work per byte: from DRAM the
 * hardware prefetcher alone kept one thread at 7-9 GB/s (Q8_0, Q4_0,
 * Q5_0), about half of the Q4_K rows kernel with its software prefetch.
 * Each pair of blocks (36 to 68 bytes) asks for the bytes
 * LEG_ROWS_PF_BYTES further on and 63 past them, so that consecutive
 * pairs leave no cache line out (measured, one thread from DRAM, noisy
 * shared machine: Q8_0 8-9 -> 10-16 GB/s, Q4_0 7-10 -> 12-13, Q5_0 4-6
 * -> 13-14, the latter two then at their in-cache speed; 1-2 KiB ahead
 * gained less, 6-8 KiB or prefetching to L2 only no more). Prefetches
 * past the matrix do not fault. */
#define LEG_ROWS_PF_BYTES 4096

static inline void leg_rows_prefetch(const void *p)
{
    const char *pf = (const char *)p + LEG_ROWS_PF_BYTES;
    _mm_prefetch(pf, _MM_HINT_T0);
    _mm_prefetch(pf + 63, _MM_HINT_T0);
}

/* Pairs of activation blocks vec_dot_rows_q8_0 prepares on its stack (24
 * KiB, in L1 next to the weights streaming through): rows of up to 8192
 * elements; longer or odd-block rows loop over vec_dot_q8_0. */
#define Q8_ROWS_MAX_PAIRS 128

/* Decode's matrix-vector product: the activation's quants, -128 x their
 * sums and its scales are prepared once per call, so each weight row
 * costs one load, xor, vpdpbusd (starting from -128 sum(y): the same
 * integer as p - s), scale conversion and the two float operations per
 * pair of blocks, in vec_dot_q8_0's order. */
static void vec_dot_rows_q8_0(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows,
                              const void *a)
{
    const block_q8_0 *y = a;
    const int64_t nb = n / QK8_0, np = nb / 2;
    if ((nb & 1) || np > Q8_ROWS_MAX_PAIRS) {
        for (int r = 0; r < n_rows; r++)
            vec_dot_q8_0(n, out + r, (const uint8_t *)w + (size_t)r * row_bytes, a);
        return;
    }
    const __m512i off = _mm512_set1_epi8((char)0x80);
    __m512i qy[Q8_ROWS_MAX_PAIRS], neg[Q8_ROWS_MAX_PAIRS];
    __m512 dy[Q8_ROWS_MAX_PAIRS];
    for (int64_t k = 0; k < np; k++) {
        qy[k] = load_2x32(y[2 * k].qs, y[2 * k + 1].qs);
        neg[k] = _mm512_sub_epi32(_mm512_setzero_si512(),
                                  _mm512_dpbusd_epi32(_mm512_setzero_si512(), off, qy[k]));
        dy[k] = two_halves(y[2 * k].d, y[2 * k + 1].d);
    }
    for (int r = 0; r < n_rows; r++) {
        const block_q8_0 *x = (const block_q8_0 *)((const uint8_t *)w + (size_t)r * row_bytes);
        __m512 acc = _mm512_setzero_ps();
        for (int64_t k = 0; k < np; k++) {
            const block_q8_0 *b = x + 2 * k;
            leg_rows_prefetch(b);
            const __m512i u = _mm512_xor_si512(load_2x32(b[0].qs, b[1].qs), off);
            const __m512i p = _mm512_dpbusd_epi32(neg[k], u, qy[k]);
            const __m512 d = _mm512_mul_ps(two_halves(b[0].d, b[1].d), dy[k]);
            acc = _mm512_add_ps(acc, _mm512_mul_ps(d, _mm512_cvtepi32_ps(p)));
        }
        out[r] = _mm512_reduce_add_ps(acc);
    }
}

/* Q4_0 and Q5_0, one pair of weight blocks at b0, b1 (bs bytes apart in
 * a row: the scale first, Q5_0's qh after it, then the nibbles): the
 * unsigned quants u = q + 8 or q + 16. */
static inline __m512i legacy0_u(const uint8_t *b0, const uint8_t *b1, int q5)
{
    if (!q5)
        return nibbles_64(b0 + 2, b1 + 2);
    return add_fifth(nibbles_64(b0 + 6, b1 + 6), b0 + 2, b1 + 2);
}

static inline qhalf legacy0_d(const uint8_t *b)
{
    qhalf h;
    memcpy(&h, b, sizeof h);
    return h;
}

/* Q4_0 (q5 = 0) and Q5_0 (q5 = 1) against Q8_0, per pair of blocks:
 * p = u.y - 2^shift sum(y) (shift 3 or 4), then acc += (dx * dy) *
 * float(p), lane by lane; an odd last block pairs with itself, its copy's
 * scale multiplied by zero. vec_dot_rows_legacy0 repeats these integers
 * and float operations in this order. */
static inline void vec_dot_legacy0(int64_t n, float *out, const void *w, const void *a, int q5)
{
    const size_t bs = q5 ? sizeof(block_q5_0) : sizeof(block_q4_0);
    const uint8_t *x = w;
    const block_q8_0 *y = a;
    const int64_t nb = n / QK8_0;
    const __m512i shift = _mm512_set1_epi32(q5 ? 4 : 3), ones = _mm512_set1_epi8(1);
    __m512 acc = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        const uint8_t *b0 = x + (size_t)i * bs, *b1 = b0 + bs;
        const __m512i qy = load_2x32(y[i].qs, y[i + 1].qs);
        const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), legacy0_u(b0, b1, q5), qy);
        const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, qy);
        const __m512 d = _mm512_mul_ps(two_halves(legacy0_d(b0), legacy0_d(b1)), two_halves(y[i].d, y[i + 1].d));
        acc = _mm512_add_ps(acc, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(p, _mm512_sllv_epi32(s, shift)))));
    }
    if (i < nb) {
        const uint8_t *b0 = x + (size_t)i * bs;
        const float dx = h2f(legacy0_d(b0));
        const __m512 d = two_scales(dx * h2f(y[i].d), dx * 0.0f);
        acc = _mm512_add_ps(acc, pair_dot(legacy0_u(b0, b0, q5), load_2x32(y[i].qs, y[i].qs), d, q5 ? 4 : 3));
    }
    *out = _mm512_reduce_add_ps(acc);
}

static void vec_dot_q4_0(int64_t n, float *out, const void *w, const void *a)
{
    vec_dot_legacy0(n, out, w, a, 0);
}

static void vec_dot_q5_0(int64_t n, float *out, const void *w, const void *a)
{
    vec_dot_legacy0(n, out, w, a, 1);
}

/* Decode's matrix-vector product for Q4_0/Q5_0, as vec_dot_rows_q8_0:
 * the activation's pairs of blocks, -2^shift x their sums and their
 * scales are prepared once (Q8_ROWS_MAX_PAIRS of them on the stack), so
 * a weight row costs the unpacking of its quants, one vpdpbusd starting
 * from -2^shift sum(y) (the integer p of vec_dot_legacy0) and its float
 * operations in the same order. Odd block counts and longer rows loop
 * over vec_dot_legacy0. */
static inline void vec_dot_rows_legacy0(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows,
                                        const void *a, int q5)
{
    const block_q8_0 *y = a;
    const int64_t nb = n / QK8_0, np = nb / 2;
    if ((nb & 1) || np > Q8_ROWS_MAX_PAIRS) {
        for (int r = 0; r < n_rows; r++)
            vec_dot_legacy0(n, out + r, (const uint8_t *)w + (size_t)r * row_bytes, a, q5);
        return;
    }
    const size_t bs = q5 ? sizeof(block_q5_0) : sizeof(block_q4_0);
    const __m512i shift = _mm512_set1_epi32(q5 ? 4 : 3), ones = _mm512_set1_epi8(1);
    __m512i qy[Q8_ROWS_MAX_PAIRS], neg[Q8_ROWS_MAX_PAIRS];
    __m512 dy[Q8_ROWS_MAX_PAIRS];
    for (int64_t k = 0; k < np; k++) {
        qy[k] = load_2x32(y[2 * k].qs, y[2 * k + 1].qs);
        neg[k] = _mm512_sub_epi32(_mm512_setzero_si512(),
                                  _mm512_sllv_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, qy[k]), shift));
        dy[k] = two_halves(y[2 * k].d, y[2 * k + 1].d);
    }
    for (int r = 0; r < n_rows; r++) {
        const uint8_t *x = (const uint8_t *)w + (size_t)r * row_bytes;
        __m512 acc = _mm512_setzero_ps();
        for (int64_t k = 0; k < np; k++) {
            const uint8_t *b0 = x + (size_t)(2 * k) * bs, *b1 = b0 + bs;
            leg_rows_prefetch(b0);
            const __m512i p = _mm512_dpbusd_epi32(neg[k], legacy0_u(b0, b1, q5), qy[k]);
            const __m512 d = _mm512_mul_ps(two_halves(legacy0_d(b0), legacy0_d(b1)), dy[k]);
            acc = _mm512_add_ps(acc, _mm512_mul_ps(d, _mm512_cvtepi32_ps(p)));
        }
        out[r] = _mm512_reduce_add_ps(acc);
    }
}

static void vec_dot_rows_q4_0(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows,
                              const void *a)
{
    vec_dot_rows_legacy0(n, out, w, row_bytes, n_rows, a, 0);
}

static void vec_dot_rows_q5_0(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows,
                              const void *a)
{
    vec_dot_rows_legacy0(n, out, w, row_bytes, n_rows, a, 1);
}

static void vec_dot_q4_1(int64_t n, float *out, const void *w, const void *a)
{
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    const int64_t nb = n / QK8_0;
    __m512 acc = _mm512_setzero_ps();
    float summs = 0.0f;
    for (int64_t i = 0; i < nb; i += 2) {
        PAIR(i, j, nb);
        const __m512 d = two_scales(h2f(x[i].d) * h2f(y[i].d), h2f(x[j].d) * DY1(y, i, j, nb));
        const __m512i u = nibbles_64(x[i].qs, x[j].qs);
        acc = _mm512_add_ps(acc, pair_dot(u, load_2x32(y[i].qs, y[j].qs), d, 0));
        summs += h2f(x[i].m) * h2f(y[i].s);
        if (j != i)
            summs += h2f(x[j].m) * h2f(y[j].s);
    }
    *out = _mm512_reduce_add_ps(acc) + summs;
}

static void vec_dot_q5_1(int64_t n, float *out, const void *w, const void *a)
{
    const block_q5_1 *x = w;
    const block_q8_1 *y = a;
    const int64_t nb = n / QK8_0;
    __m512 acc = _mm512_setzero_ps();
    float summs = 0.0f;
    for (int64_t i = 0; i < nb; i += 2) {
        PAIR(i, j, nb);
        const __m512 d = two_scales(h2f(x[i].d) * h2f(y[i].d), h2f(x[j].d) * DY1(y, i, j, nb));
        const __m512i u = add_fifth(nibbles_64(x[i].qs, x[j].qs), x[i].qh, x[j].qh);
        acc = _mm512_add_ps(acc, pair_dot(u, load_2x32(y[i].qs, y[j].qs), d, 0));
        summs += h2f(x[i].m) * h2f(y[i].s);
        if (j != i)
            summs += h2f(x[j].m) * h2f(y[j].s);
    }
    *out = _mm512_reduce_add_ps(acc) + summs;
}

void quant_register_legacy_avx512(quant_kernels *tab)
{
    tab[QT_Q4_0].vec_dot = vec_dot_q4_0;
    tab[QT_Q4_1].vec_dot = vec_dot_q4_1;
    tab[QT_Q5_0].vec_dot = vec_dot_q5_0;
    tab[QT_Q5_1].vec_dot = vec_dot_q5_1;
    tab[QT_Q8_0].vec_dot = vec_dot_q8_0;
    tab[QT_Q8_0].vec_dot_rows = vec_dot_rows_q8_0;
    tab[QT_Q4_0].vec_dot_rows = vec_dot_rows_q4_0;
    tab[QT_Q5_0].vec_dot_rows = vec_dot_rows_q5_0;
}
