/*
 * kern_attn_avx2.c - the AVX2/F16C twin of kern_attn_head_scalar (kern.c):
 * the same operations in the same order, eight lanes at a time, so the
 * results are bit for bit the scalar ones (F16C converts with round to
 * nearest even like quant_f32_to_f16; fused multiply-adds everywhere the
 * scalar code uses fmaf).
 */
#include <immintrin.h>
#include <math.h>

#include "kern/kern.h"

/* Scores: 4 x 8 lanes of fused multiply-adds over 32-element steps, then
 * folded (0+2, 1+3, then together, high half onto low, two pairwise adds):
 * the scalar twin's order. hd is a multiple of 32. */
static inline float dot_f16(const uint16_t *k, const __m256 *qf, int hd)
{
    __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int i = 0; i < hd; i += 32)
        for (int j = 0; j < 4; j++) {
            __m256 kv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + i + 8 * j)));
            a[j] = _mm256_fmadd_ps(kv, qf[i / 8 + j], a[j]);
        }
    __m256 x = _mm256_add_ps(_mm256_add_ps(a[0], a[2]), _mm256_add_ps(a[1], a[3]));
    __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    __m128 t1 = _mm_hadd_ps(t0, t0);
    float r = _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
    return (float)(double)r;
}

/* The unfused numerics (kern.h), eight lanes at a time where the scalar
 * twin's order allows: the scores and the value sums are per position and
 * per element, so only the loops are vectorized, not the sums. */
static void attn_unfused(const float *q, const kern_attn_span *sp, int hd, uint16_t *tmp,
                         float *out)
{
    enum { MAX_HD = 512 };
    __m256 qf[MAX_HD / 8];
    int n = sp->hi - sp->lo;
    float *sc = (float *)(void *)(tmp + 2 * (size_t)hd);
    uint16_t *pr = (uint16_t *)(sc + n);
    for (int d = 0; d < hd; d += 8)
        qf[d / 8] = _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(q + d), _MM_FROUND_TO_NEAREST_INT));
    float mx = -INFINITY;
    for (int p = sp->lo; p < sp->hi; p++) {
        const uint16_t *kr = sp->k + (size_t)(sp->ring ? p % sp->ring : p) * sp->ld;
        float s = dot_f16(kr, qf, hd) * sp->scale;
        if (sp->softcap > 0)
            s = tanhf(s * (1.0f / sp->softcap)) * sp->softcap;
        sc[p - sp->lo] = s;
        if (s > mx)
            mx = s;
    }
    if (sp->has_sink && sp->sink > mx)
        mx = sp->sink;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        sc[i] = expf(sc[i] - mx);
        sum += sc[i];
    }
    if (sp->has_sink)
        sum += (double)expf(sp->sink - mx);
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++)
        pr[i] = (uint16_t)_cvtss_sh(sc[i] * inv, _MM_FROUND_TO_NEAREST_INT);
    __m256d acc[MAX_HD / 4];
    for (int d = 0; d < hd / 4; d++)
        acc[d] = _mm256_setzero_pd();
    for (int p = sp->lo; p < sp->hi; p++) {
        const uint16_t *vr = sp->v + (size_t)(sp->ring ? p % sp->ring : p) * sp->ld;
        __m256 w = _mm256_set1_ps(_cvtsh_ss(pr[p - sp->lo]));
        for (int d = 0; d < hd; d += 8) {
            /* half x half is exact in float: the products are the scalar's */
            __m256 x = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vr + d))), w);
            acc[d / 4] = _mm256_add_pd(acc[d / 4], _mm256_cvtps_pd(_mm256_castps256_ps128(x)));
            acc[d / 4 + 1] = _mm256_add_pd(acc[d / 4 + 1], _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)));
        }
    }
    for (int d = 0; d < hd; d += 4)
        _mm_storeu_ps(out + d, _mm256_cvtpd_ps(acc[d / 4]));
}

void kern_attn_head_avx2(const float *q, const kern_attn_span *sp, int hd, uint16_t *tmp,
                         float *out)
{
    enum { MAX_HD = 512 };
    __m256 qf[MAX_HD / 8];
    if (hd > MAX_HD || hd % 32) {
        kern_attn_head_scalar(q, sp, hd, tmp, out);
        return;
    }
    if (sp->unfused) {
        attn_unfused(q, sp, hd, tmp, out);
        return;
    }
    uint16_t *acc = tmp + hd;
    for (int d = 0; d < hd; d += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(q + d), _MM_FROUND_TO_NEAREST_INT);
        qf[d / 8] = _mm256_cvtph_ps(h);
        _mm_storeu_si128((__m128i *)(acc + d), _mm_setzero_si128());
    }
    float mx = -INFINITY, sum = 0;
    for (int p = sp->lo; p < sp->hi; p++) {
        size_t row = (size_t)(sp->ring ? p % sp->ring : p) * sp->ld;
        const uint16_t *kr = sp->k + row, *vr = sp->v + row;
        float s = dot_f16(kr, qf, hd) * sp->scale;
        if (sp->softcap > 0)
            s = tanhf(s * (1.0f / sp->softcap)) * sp->softcap;
        float ms = 1.0f, vs = 1.0f;
        if (s > mx) {
            ms = expf(mx - s);
            mx = s;
            __m256 m = _mm256_set1_ps(ms);
            for (int d = 0; d < hd; d += 8) {
                __m256 a = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(acc + d)));
                _mm_storeu_si128((__m128i *)(acc + d),
                                 _mm256_cvtps_ph(_mm256_mul_ps(a, m), _MM_FROUND_TO_NEAREST_INT));
            }
        } else {
            vs = expf(s - mx);
        }
        __m256 w = _mm256_set1_ps(vs);
        for (int d = 0; d < hd; d += 8) {
            __m256 a = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(acc + d)));
            __m256 vv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vr + d)));
            _mm_storeu_si128((__m128i *)(acc + d),
                             _mm256_cvtps_ph(_mm256_fmadd_ps(vv, w, a), _MM_FROUND_TO_NEAREST_INT));
        }
        sum = sum * ms + vs;
    }
    float ms = 1.0f;
    if (sp->has_sink) {
        float vs = 1.0f;
        if (sp->sink > mx)
            ms = expf(mx - sp->sink);
        else
            vs = expf(sp->sink - mx);
        sum = sum * ms + vs;
    }
    float inv = sum > 0 ? 1.0f / sum : 0.0f;
    __m256 mv = _mm256_set1_ps(ms), iv = _mm256_set1_ps(inv);
    for (int d = 0; d < hd; d += 8) {
        __m256 a = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(acc + d)));
        _mm256_storeu_ps(out + d, _mm256_mul_ps(_mm256_mul_ps(a, mv), iv));
    }
}
