/*
 * quant_legacy_avx2.c - AVX2 twins of the 32-element block kernels
 * (quant_legacy.c).
 *
 * Dequantization and the Q8_0 quantizer give the scalar twin's exact bytes
 * (same float operations per element, same rounding). Dot
 * products compute each block's integer sum exactly, then accumulate
 * block_scale * sum in eight float lanes with FMA: they differ from the
 * scalar twin by summation order only.
 *
 * The signed 8-bit products use the usual sign trick (|x| * sign(y, x) with
 * maddubs), exact as long as the activation holds no -128, which the Q8_0
 * quantizer never produces (|round(x * 127 / amax)| <= 127).
 */
#include <immintrin.h>
#include <math.h>

#include "quant/quant_impl.h"

/* One half scale to float: a single F16C instruction (exact, like
 * quant_h2f) instead of the portable bit manipulation. */
static inline float h2f(qhalf h)
{
    return _cvtsh_ss(h);
}

static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 16 bytes of nibbles -> 32 bytes: low nibbles first, then high ones
 * (elements j and j + 16 of a block). */
static inline __m256i nibbles_32(const uint8_t *qs)
{
    const __m128i q = _mm_loadu_si128((const __m128i *)qs);
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(q, 4), q);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

/* Bit i of the 32-bit word -> byte i = 0xFF or 0x00. */
static inline __m256i bits_to_bytes(const uint8_t qh[4])
{
    uint32_t x;
    memcpy(&x, qh, 4);
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* Eight int32 partial sums of signed x[i] * y[i] over 32 bytes. */
static inline __m256i dot_s8(__m256i x, __m256i y)
{
    const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

/* Eight int32 partial sums of unsigned u[i] * signed y[i]. */
static inline __m256i dot_u8s8(__m256i u, __m256i y)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, y), _mm256_set1_epi16(1));
}

static inline __m256 to_ps(__m256i v)
{
    return _mm256_cvtepi32_ps(v);
}

/* 32 signed bytes -> four vectors of 8 floats each multiplied by d (the
 * scalar twin's (float)q * d, element by element). */
static inline void store_scaled(__m256i q, float d, float *dst)
{
    const __m256 vd = _mm256_set1_ps(d);
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    _mm256_storeu_ps(dst, _mm256_mul_ps(to_ps(_mm256_cvtepi8_epi32(lo)), vd));
    _mm256_storeu_ps(dst + 8, _mm256_mul_ps(to_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), vd));
    _mm256_storeu_ps(dst + 16, _mm256_mul_ps(to_ps(_mm256_cvtepi8_epi32(hi)), vd));
    _mm256_storeu_ps(dst + 24, _mm256_mul_ps(to_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), vd));
}

/* 32 bytes of values 0..31 -> (float)q * d + m, as the scalar twin. */
static inline void store_affine(__m256i q, float d, float m, float *dst)
{
    const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int k = 0; k < 4; k++)
        _mm256_storeu_ps(dst + 8 * k, _mm256_add_ps(_mm256_mul_ps(to_ps(_mm256_cvtepi8_epi32(parts[k])), vd), vm));
}

static void dequant_q4_1(const void *src, float *dst, int64_t n)
{
    const block_q4_1 *x = src;
    for (int64_t i = 0; i < n / QK4_0; i++, dst += QK4_0)
        store_affine(nibbles_32(x[i].qs), h2f(x[i].d), h2f(x[i].m), dst);
}

static void dequant_q5_0(const void *src, float *dst, int64_t n)
{
    const block_q5_0 *x = src;
    for (int64_t i = 0; i < n / QK4_0; i++, dst += QK4_0) {
        const __m256i hi = _mm256_andnot_si256(bits_to_bytes(x[i].qh), _mm256_set1_epi8((char)0xF0));
        store_scaled(_mm256_or_si256(nibbles_32(x[i].qs), hi), h2f(x[i].d), dst);
    }
}

static void dequant_q5_1(const void *src, float *dst, int64_t n)
{
    const block_q5_1 *x = src;
    for (int64_t i = 0; i < n / QK4_0; i++, dst += QK4_0) {
        const __m256i hi = _mm256_and_si256(bits_to_bytes(x[i].qh), _mm256_set1_epi8(0x10));
        store_affine(_mm256_or_si256(nibbles_32(x[i].qs), hi), h2f(x[i].d), h2f(x[i].m), dst);
    }
}

static void dequant_q4_0(const void *src, float *dst, int64_t n)
{
    const block_q4_0 *x = src;
    for (int64_t i = 0; i < n / QK4_0; i++, dst += QK4_0)
        store_scaled(_mm256_sub_epi8(nibbles_32(x[i].qs), _mm256_set1_epi8(8)), h2f(x[i].d), dst);
}

static void dequant_q8_1(const void *src, float *dst, int64_t n)
{
    const block_q8_1 *x = src;
    for (int64_t i = 0; i < n / QK8_0; i++, dst += QK8_0)
        store_scaled(_mm256_loadu_si256((const __m256i *)x[i].qs), h2f(x[i].d), dst);
}

static void dequant_q8_0(const void *src, float *dst, int64_t n)
{
    const block_q8_0 *x = src;
    for (int64_t i = 0; i < n / QK8_0; i++, dst += QK8_0)
        store_scaled(_mm256_loadu_si256((const __m256i *)x[i].qs), h2f(x[i].d), dst);
}

static void quantize_q8_0(const float *src, void *dst, int64_t n)
{
    block_q8_0 *y = dst;
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t i = 0; i < n / QK8_0; i++, src += QK8_0) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(src + 8 * k);
            m = _mm256_max_ps(m, _mm256_and_ps(v[k], abs_mask));
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[i].d = quant_f32_to_f16(d);
        const __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++) /* round to nearest even, as the scalar twin */
            q[k] = _mm256_cvttps_epi32(
                _mm256_round_ps(_mm256_mul_ps(v[k], vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        /* 4 x 8 int32 -> 32 int8 in order: packs work per 128-bit lane,
         * the final permute restores element order */
        const __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
        const __m256i p = _mm256_packs_epi16(p01, p23);
        const __m256i ord = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)y[i].qs, ord);
    }
}

static void vec_dot_q4_0(int64_t n, float *out, const void *w, const void *a)
{
    const block_q4_0 *x = w;
    const block_q8_0 *y = a;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK4_0; i++) {
        const __m256i qx = _mm256_sub_epi8(nibbles_32(x[i].qs), _mm256_set1_epi8(8));
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        const __m256 d = _mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d));
        acc = _mm256_fmadd_ps(d, to_ps(dot_s8(qx, qy)), acc);
    }
    *out = hsum_ps(acc);
}

/* The types with a min take Q8_1: the min term is m * s per block, summed
 * apart from the lanes as the scalar twin does. */
static void vec_dot_q4_1(int64_t n, float *out, const void *w, const void *a)
{
    const block_q4_1 *x = w;
    const block_q8_1 *y = a;
    __m256 acc = _mm256_setzero_ps();
    float summs = 0.0f;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        const __m256 d = _mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d));
        acc = _mm256_fmadd_ps(d, to_ps(dot_u8s8(nibbles_32(x[i].qs), qy)), acc);
        summs += h2f(x[i].m) * h2f(y[i].s);
    }
    *out = hsum_ps(acc) + summs;
}

static void vec_dot_q5_0(int64_t n, float *out, const void *w, const void *a)
{
    const block_q5_0 *x = w;
    const block_q8_0 *y = a;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK4_0; i++) {
        /* the fifth bit clear means value - 16: or 0xF0 in where it is clear */
        const __m256i hi = _mm256_andnot_si256(bits_to_bytes(x[i].qh), _mm256_set1_epi8((char)0xF0));
        const __m256i qx = _mm256_or_si256(nibbles_32(x[i].qs), hi);
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        const __m256 d = _mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d));
        acc = _mm256_fmadd_ps(d, to_ps(dot_s8(qx, qy)), acc);
    }
    *out = hsum_ps(acc);
}

static void vec_dot_q5_1(int64_t n, float *out, const void *w, const void *a)
{
    const block_q5_1 *x = w;
    const block_q8_1 *y = a;
    __m256 acc = _mm256_setzero_ps();
    float summs = 0.0f;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        const __m256i hi = _mm256_and_si256(bits_to_bytes(x[i].qh), _mm256_set1_epi8(0x10));
        const __m256i qx = _mm256_or_si256(nibbles_32(x[i].qs), hi);
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        const __m256 d = _mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d));
        acc = _mm256_fmadd_ps(d, to_ps(dot_u8s8(qx, qy)), acc);
        summs += h2f(x[i].m) * h2f(y[i].s);
    }
    *out = hsum_ps(acc) + summs;
}

static void vec_dot_q8_0(int64_t n, float *out, const void *w, const void *a)
{
    const block_q8_0 *x = w;
    const block_q8_0 *y = a;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK8_0; i++) {
        const __m256i qx = _mm256_loadu_si256((const __m256i *)x[i].qs);
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        const __m256 d = _mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d));
        acc = _mm256_fmadd_ps(d, to_ps(dot_s8(qx, qy)), acc);
    }
    *out = hsum_ps(acc);
}

/* Rows of up to this many blocks (8192 elements) get the activation
 * prepared on the stack (17 KiB); longer ones loop over vec_dot. */
#define ROWS_MAX_BLOCKS 256

/* Decode's matrix-vector product for Q4_0 (q5 = 0) and Q5_0 (q5 = 1):
 * the activation's quants, -2^shift x their sums over each group of four
 * and its scales are prepared once, so a weight row skips vec_dot's two
 * sign operations and scale conversion per block. The weights go in
 * unsigned (u = q + 8 or q + 16, below 32: maddubs cannot saturate), and
 * each int32 lane ends as vec_dot's exact sum of x * y over its four
 * bytes; the float operations are vec_dot's, in its order, so the bits
 * are vec_dot's. */
static inline void vec_dot_rows_legacy0(int64_t n, float *out, const void *w, size_t row_bytes, int n_rows,
                                        const void *a, int q5)
{
    const block_q8_0 *y = a;
    const int64_t nb = n / QK8_0;
    if (nb > ROWS_MAX_BLOCKS) {
        for (int r = 0; r < n_rows; r++)
            (q5 ? vec_dot_q5_0 : vec_dot_q4_0)(n, out + r, (const uint8_t *)w + (size_t)r * row_bytes, a);
        return;
    }
    const size_t bs = q5 ? sizeof(block_q5_0) : sizeof(block_q4_0), qs_at = q5 ? 6 : 2;
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    __m256i qy[ROWS_MAX_BLOCKS], neg[ROWS_MAX_BLOCKS];
    float dy[ROWS_MAX_BLOCKS];
    for (int64_t b = 0; b < nb; b++) {
        qy[b] = _mm256_loadu_si256((const __m256i *)y[b].qs);
        const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, qy[b]), ones16);
        neg[b] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(s, q5 ? 4 : 3));
        dy[b] = h2f(y[b].d);
    }
    for (int r = 0; r < n_rows; r++) {
        const uint8_t *x = (const uint8_t *)w + (size_t)r * row_bytes;
        __m256 acc = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; b++, x += bs) {
            __m256i u = nibbles_32(x + qs_at);
            if (q5)
                u = _mm256_or_si256(u, _mm256_and_si256(bits_to_bytes(x + 2), _mm256_set1_epi8(0x10)));
            const __m256i p = _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(u, qy[b]), ones16), neg[b]);
            qhalf dx;
            memcpy(&dx, x, sizeof dx);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(dx) * dy[b]), to_ps(p), acc);
        }
        out[r] = hsum_ps(acc);
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

void quant_register_legacy_avx2(quant_kernels *tab)
{
    tab[QT_Q4_0].dequant = dequant_q4_0;
    tab[QT_Q4_1].dequant = dequant_q4_1;
    tab[QT_Q5_0].dequant = dequant_q5_0;
    tab[QT_Q5_1].dequant = dequant_q5_1;
    tab[QT_Q8_0].dequant = dequant_q8_0;
    tab[QT_Q8_1].dequant = dequant_q8_1;
    tab[QT_Q8_0].quantize = quantize_q8_0;
    tab[QT_Q4_0].vec_dot = vec_dot_q4_0;
    tab[QT_Q4_1].vec_dot = vec_dot_q4_1;
    tab[QT_Q5_0].vec_dot = vec_dot_q5_0;
    tab[QT_Q5_1].vec_dot = vec_dot_q5_1;
    tab[QT_Q8_0].vec_dot = vec_dot_q8_0;
    tab[QT_Q4_0].vec_dot_rows = vec_dot_rows_q4_0;
    tab[QT_Q5_0].vec_dot_rows = vec_dot_rows_q5_0;
}
