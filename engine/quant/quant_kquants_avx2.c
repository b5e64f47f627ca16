/*
 * quant_kquants_avx2.c - AVX2 twins of the k-quant kernels
 * (quant_kquants.c).
 *
 * Each super-block's integer sums are computed exactly with maddubs/madd
 * (every 16-bit intermediate stays far from saturation: at most
 * 63 * 128 * 2), then combined with the float scales by the same
 * expressions, in the same order, as the scalar twin; so these dot products
 * happen to give the scalar twin's exact result. Q8_K quantization and the
 * dequantizers (every k-quant and Q8_K) are bit-identical too.
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

static inline int hsum_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

/* sum over 32 bytes of u[i] * y[i] (u unsigned, y signed), the 16-element
 * halves weighted by scale s_lo (bytes 0..15) and s_hi (16..31). */
static inline __m256i dot_scaled(__m256i u, __m256i y, int s_lo, int s_hi)
{
    const __m256i sc = _mm256_set_m128i(_mm_set1_epi16((short)s_hi), _mm_set1_epi16((short)s_lo));
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, y), sc);
}

static inline __m256i load32(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

/* sum of sc[j] * bsums[j] over the 16 sub-blocks */
static inline int scaled_bsums(const int8_t sc[16], const block_q8_K *y)
{
    int s = 0;
    for (int j = 0; j < 16; j++)
        s += sc[j] * y->bsums[j];
    return s;
}

static void vec_dot_q2_K(int64_t n, float *out, const void *w, const void *a)
{
    const block_q2_K *x = w;
    const block_q8_K *y = a;
    const __m256i m3 = _mm256_set1_epi8(3);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int summ = 0;
        for (int j = 0; j < 16; j++)
            summ += y[i].bsums[j] * (x[i].scales[j] >> 4);
        __m256i acc = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i q = load32(x[i].qs + 32 * h);
            for (int s = 0; s < 4; s++) {
                const __m256i u = _mm256_and_si256(_mm256_srli_epi16(q, 2 * s), m3);
                const int e = 128 * h + 32 * s;
                acc = _mm256_add_epi32(acc, dot_scaled(u, load32(y[i].qs + e),
                                                       x[i].scales[e / 16] & 0xF,
                                                       x[i].scales[e / 16 + 1] & 0xF));
            }
        }
        const int sumi = hsum_epi32(acc);
        const float dall = y[i].d * h2f(x[i].d);
        const float dmin = y[i].d * h2f(x[i].dmin);
        sum += dall * (float)sumi - dmin * (float)summ;
    }
    *out = sum;
}

/* Q3_K: quants 0..7 (value + 4) dotted unsigned, the +4 taken back through
 * the activation's per-16 sums. */
static void vec_dot_q3_K(int64_t n, float *out, const void *w, const void *a)
{
    const block_q3_K *x = w;
    const block_q8_K *y = a;
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        /* the 16 scales as int16 in one store, read back word by word */
        uint32_t sv[4];
        quant_q3_K_scales_u32(x[i].scales, sv);
        const __m128i sc8 = _mm_sub_epi8(_mm_set_epi32((int)sv[3], (int)sv[2], (int)sv[1], (int)sv[0]),
                                         _mm_set1_epi8(32));
        const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
        int16_t sc[16];
        _mm256_storeu_si256((__m256i *)sc, sc16);
        const __m256i hm = load32(x[i].hmask);
        __m256i acc = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i q = load32(x[i].qs + 32 * h);
            for (int s = 0; s < 4; s++) {
                const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(q, 2 * s), m3);
                const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + s), one);
                const __m256i u = _mm256_or_si256(lo, _mm256_slli_epi16(hb, 2));
                const int e = 128 * h + 32 * s;
                acc = _mm256_add_epi32(acc, dot_scaled(u, load32(y[i].qs + e), sc[e / 16], sc[e / 16 + 1]));
            }
        }
        const __m256i bs = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y[i].bsums), sc16);
        const int sumi = hsum_epi32(acc) - 4 * hsum_epi32(bs);
        sum += (h2f(x[i].d) * y[i].d) * (float)sumi;
    }
    *out = sum;
}

static void vec_dot_q4_K(int64_t n, float *out, const void *w, const void *a)
{
    const block_q4_K *x = w;
    const block_q8_K *y = a;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], m[8];
        int summ = 0;
        for (int j = 0; j < 8; j++) {
            quant_scale_min_k4(j, x[i].scales, &sc[j], &m[j]);
            summ += m[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        }
        __m256i acc = _mm256_setzero_si256();
        for (int p = 0; p < 4; p++) {
            const __m256i q = load32(x[i].qs + 32 * p);
            const __m256i lo = _mm256_and_si256(q, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            acc = _mm256_add_epi32(acc, dot_scaled(lo, load32(y[i].qs + 64 * p), sc[2 * p], sc[2 * p]));
            acc = _mm256_add_epi32(acc, dot_scaled(hi, load32(y[i].qs + 64 * p + 32), sc[2 * p + 1],
                                                   sc[2 * p + 1]));
        }
        const int sumi = hsum_epi32(acc);
        const float d = h2f(x[i].d) * y[i].d;
        const float dmin = h2f(x[i].dmin) * y[i].d;
        sum += d * (float)sumi - dmin * (float)summ;
    }
    *out = sum;
}

static void vec_dot_q5_K(int64_t n, float *out, const void *w, const void *a)
{
    const block_q5_K *x = w;
    const block_q8_K *y = a;
    const __m256i m4 = _mm256_set1_epi8(0xF), one = _mm256_set1_epi8(1);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], m[8];
        int summ = 0;
        for (int j = 0; j < 8; j++) {
            quant_scale_min_k4(j, x[i].scales, &sc[j], &m[j]);
            summ += m[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        }
        const __m256i qh = load32(x[i].qh);
        __m256i acc = _mm256_setzero_si256();
        for (int p = 0; p < 4; p++) {
            const __m256i q = load32(x[i].qs + 32 * p);
            const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * p), one);
            const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * p + 1), one);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_slli_epi16(h0, 4));
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                                               _mm256_slli_epi16(h1, 4));
            acc = _mm256_add_epi32(acc, dot_scaled(lo, load32(y[i].qs + 64 * p), sc[2 * p], sc[2 * p]));
            acc = _mm256_add_epi32(acc, dot_scaled(hi, load32(y[i].qs + 64 * p + 32), sc[2 * p + 1],
                                                   sc[2 * p + 1]));
        }
        const int sumi = hsum_epi32(acc);
        const float d = h2f(x[i].d) * y[i].d;
        const float dmin = h2f(x[i].dmin) * y[i].d;
        sum += d * (float)sumi - dmin * (float)summ;
    }
    *out = sum;
}

/* Q6_K: quants 0..63 (value + 32) dotted unsigned, the +32 taken back
 * through the activation's per-16 sums. */
static void vec_dot_q6_K(int64_t n, float *out, const void *w, const void *a)
{
    const block_q6_K *x = w;
    const block_q8_K *y = a;
    const __m256i m4 = _mm256_set1_epi8(0xF), m3 = _mm256_set1_epi8(3);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const int8_t *sc = x[i].scales;
        __m256i acc = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i ql0 = load32(x[i].ql + 64 * h), ql1 = load32(x[i].ql + 64 * h + 32);
            const __m256i qh = load32(x[i].qh + 32 * h);
            const __m256i lo[4] = {
                _mm256_and_si256(ql0, m4), _mm256_and_si256(ql1, m4),
                _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
            };
            for (int s = 0; s < 4; s++) {
                const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * s), m3);
                const __m256i u = _mm256_or_si256(lo[s], _mm256_slli_epi16(hb, 4));
                const int e = 128 * h + 32 * s;
                acc = _mm256_add_epi32(acc, dot_scaled(u, load32(y[i].qs + e), sc[e / 16], sc[e / 16 + 1]));
            }
        }
        const int sumi = hsum_epi32(acc) - 32 * scaled_bsums(sc, &y[i]);
        sum += (h2f(x[i].d) * y[i].d) * (float)sumi;
    }
    *out = sum;
}

/* ---------------------------------------------------------------------------
 * Dequantization (the same float operations per element as the scalar twin)
 * ------------------------------------------------------------------------- */

/* 32 quant bytes q (values in -128..127) -> 32 floats d * q - m, with
 * (d0, m0) for the first 16 and (d1, m1) for the last 16: the scalar
 * twin's operations (with m = 0 the subtraction changes nothing, not even
 * the sign of a zero). */
static inline void store_32(__m256i q, float d0, float m0, float d1, float m1, float *dst)
{
    for (int k = 0; k < 4; k++) {
        const __m128i b = k < 2 ? _mm256_castsi256_si128(q) : _mm256_extracti128_si256(q, 1);
        const __m128i part = (k & 1) ? _mm_srli_si128(b, 8) : b;
        const __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part));
        const __m256 vd = _mm256_set1_ps(k < 2 ? d0 : d1), vm = _mm256_set1_ps(k < 2 ? m0 : m1);
        _mm256_storeu_ps(dst + 8 * k, _mm256_sub_ps(_mm256_mul_ps(vd, f), vm));
    }
}

static void dequant_q2_K(const void *src, float *dst, int64_t n)
{
    const block_q2_K *x = src;
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(x[i].d), min = h2f(x[i].dmin);
        for (int h = 0; h < 2; h++) {
            const __m256i q = load32(x[i].qs + 32 * h);
            for (int s = 0; s < 4; s++, dst += 32) {
                const uint8_t *sc = x[i].scales + 8 * h + 2 * s;
                store_32(_mm256_and_si256(_mm256_srli_epi16(q, 2 * s), m3), d * (float)(sc[0] & 0xF),
                         min * (float)(sc[0] >> 4), d * (float)(sc[1] & 0xF), min * (float)(sc[1] >> 4), dst);
            }
        }
    }
}

static void dequant_q3_K(const void *src, float *dst, int64_t n)
{
    const block_q3_K *x = src;
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1), four = _mm256_set1_epi8(4);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(x[i].d);
        /* the 16 scales as int16 in one store, read back word by word */
        uint32_t sv[4];
        quant_q3_K_scales_u32(x[i].scales, sv);
        const __m128i sc8 = _mm_sub_epi8(_mm_set_epi32((int)sv[3], (int)sv[2], (int)sv[1], (int)sv[0]),
                                         _mm_set1_epi8(32));
        const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
        int16_t sc[16];
        _mm256_storeu_si256((__m256i *)sc, sc16);
        const __m256i hm = load32(x[i].hmask);
        for (int h = 0; h < 2; h++) {
            const __m256i q = load32(x[i].qs + 32 * h);
            for (int s = 0; s < 4; s++, dst += 32) {
                const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(q, 2 * s), m3);
                const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + s), one);
                const __m256i v = _mm256_sub_epi8(_mm256_or_si256(lo, _mm256_slli_epi16(hb, 2)), four);
                const int k = 8 * h + 2 * s;
                store_32(v, d * (float)sc[k], 0.0f, d * (float)sc[k + 1], 0.0f, dst);
            }
        }
    }
}

static void dequant_q4_K(const void *src, float *dst, int64_t n)
{
    const block_q4_K *x = src;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(x[i].d), min = h2f(x[i].dmin);
        for (int p = 0; p < 4; p++, dst += 64) {
            uint8_t sc, m;
            const __m256i q = load32(x[i].qs + 32 * p);
            quant_scale_min_k4(2 * p, x[i].scales, &sc, &m);
            const float d0 = d * (float)sc, m0 = min * (float)m;
            store_32(_mm256_and_si256(q, m4), d0, m0, d0, m0, dst);
            quant_scale_min_k4(2 * p + 1, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = min * (float)m;
            store_32(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), d1, m1, d1, m1, dst + 32);
        }
    }
}

static void dequant_q5_K(const void *src, float *dst, int64_t n)
{
    const block_q5_K *x = src;
    const __m256i m4 = _mm256_set1_epi8(0xF), one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(x[i].d), min = h2f(x[i].dmin);
        const __m256i qh = load32(x[i].qh);
        for (int p = 0; p < 4; p++, dst += 64) {
            uint8_t sc, m;
            const __m256i q = load32(x[i].qs + 32 * p);
            const __m256i h0 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * p), one);
            const __m256i h1 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * p + 1), one);
            quant_scale_min_k4(2 * p, x[i].scales, &sc, &m);
            const float d0 = d * (float)sc, m0 = min * (float)m;
            store_32(_mm256_or_si256(_mm256_and_si256(q, m4), _mm256_slli_epi16(h0, 4)), d0, m0, d0, m0, dst);
            quant_scale_min_k4(2 * p + 1, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = min * (float)m;
            store_32(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), _mm256_slli_epi16(h1, 4)),
                     d1, m1, d1, m1, dst + 32);
        }
    }
}

/* Q6_K: (d * sc) * (u - 32), as the scalar twin: the product with d * sc
 * is rounded once, on the signed value. */
static void dequant_q6_K(const void *src, float *dst, int64_t n)
{
    const block_q6_K *x = src;
    const __m256i m4 = _mm256_set1_epi8(0xF), m3 = _mm256_set1_epi8(3), off = _mm256_set1_epi8(32);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(x[i].d);
        for (int h = 0; h < 2; h++) {
            const __m256i ql0 = load32(x[i].ql + 64 * h), ql1 = load32(x[i].ql + 64 * h + 32);
            const __m256i qh = load32(x[i].qh + 32 * h);
            const __m256i lo[4] = {
                _mm256_and_si256(ql0, m4), _mm256_and_si256(ql1, m4),
                _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
            };
            for (int s = 0; s < 4; s++, dst += 32) {
                const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * s), m3);
                const __m256i q = _mm256_sub_epi8(_mm256_or_si256(lo[s], _mm256_slli_epi16(hb, 4)), off);
                const int k = 8 * h + 2 * s;
                store_32(q, d * (float)x[i].scales[k], 0.0f, d * (float)x[i].scales[k + 1], 0.0f, dst);
            }
        }
    }
}

static void dequant_q8_K(const void *src, float *dst, int64_t n)
{
    const block_q8_K *x = src;
    for (int64_t i = 0; i < n / QK_K; i++)
        for (int j = 0; j < QK_K; j += 32, dst += 32)
            store_32(load32(x[i].qs + j), x[i].d, 0.0f, x[i].d, 0.0f, dst);
}

/* ---------------------------------------------------------------------------
 * Q8_K activations: the scalar twin's bytes (cvtps rounds to nearest even
 * like quant_nearest_int; the extreme is the first of largest magnitude)
 * ------------------------------------------------------------------------- */

static void quantize_q8_K(const float *src, void *dst, int64_t n)
{
    block_q8_K *y = dst;
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < QK_K; j += 8)
            m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(src + j), abs_mask));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float max = 0.0f;
        for (int j = 0; j < QK_K; j++) {
            if (fabsf(src[j]) == amax) {
                max = src[j];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const __m256 vis = _mm256_set1_ps(iscale);
        const __m256i lim = _mm256_set1_epi32(127);
        for (int j = 0; j < QK_K; j += 32) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                const __m256 v = _mm256_mul_ps(vis, _mm256_loadu_ps(src + j + 8 * k));
                q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(v), lim);
            }
            const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            const __m256i ord = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(y[i].qs + j), ord);
            /* per-16 sums: maddubs with ones gives pair sums, madd pairs */
            const __m256i s32 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), ord),
                                                  _mm256_set1_epi16(1));
            /* s32 lanes 0..3 sum bytes 0..15, lanes 4..7 bytes 16..31 */
            __m128i t = _mm_hadd_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
            t = _mm_hadd_epi32(t, t);
            y[i].bsums[j / 16] = (int16_t)_mm_cvtsi128_si32(t);
            y[i].bsums[j / 16 + 1] = (int16_t)_mm_extract_epi32(t, 1);
        }
        y[i].d = 1.0f / iscale;
    }
}

void quant_register_kquants_avx2(quant_kernels *tab)
{
    tab[QT_Q2_K].vec_dot = vec_dot_q2_K;
    tab[QT_Q3_K].vec_dot = vec_dot_q3_K;
    tab[QT_Q4_K].vec_dot = vec_dot_q4_K;
    tab[QT_Q5_K].vec_dot = vec_dot_q5_K;
    tab[QT_Q6_K].vec_dot = vec_dot_q6_K;
    tab[QT_Q2_K].dequant = dequant_q2_K;
    tab[QT_Q3_K].dequant = dequant_q3_K;
    tab[QT_Q4_K].dequant = dequant_q4_K;
    tab[QT_Q5_K].dequant = dequant_q5_K;
    tab[QT_Q6_K].dequant = dequant_q6_K;
    tab[QT_Q8_K].dequant = dequant_q8_K;
    tab[QT_Q8_K].quantize = quantize_q8_K;
}
