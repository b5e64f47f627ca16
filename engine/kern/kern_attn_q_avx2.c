/*
 * kern_attn_q_avx2.c - the AVX2/F16C twin of kern_attnq_scalar: per query
 * head the same operations in the same order (integer block sums are
 * exact whatever the order; the float steps are the scalar's, lane by
 * lane; the tile's exponentials eight lanes at a time), so the bits are
 * the scalar ones. All the group's heads take a tile of positions before
 * the next, so a tile of keys and values is read from memory once for the
 * whole group.
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kern/kern_attn_q.h"
#include "quant/quant_types.h"

static size_t al64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

static inline float h2f(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

/* The scalar's 32-lane F16 dot folded in its order (see kern_attn_avx2.c). */
static inline float dot_f16(const uint8_t *k, const __m256 *qf, int hd)
{
    __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int i = 0; i < hd; i += 32)
        for (int j = 0; j < 4; j++) {
            __m256 kv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + 2 * (size_t)(i + 8 * j))));
            a[j] = _mm256_fmadd_ps(kv, qf[i / 8 + j], a[j]);
        }
    __m256 x = _mm256_add_ps(_mm256_add_ps(a[0], a[2]), _mm256_add_ps(a[1], a[3]));
    __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    __m128 t1 = _mm_hadd_ps(t0, t0);
    float r = _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
    return (float)(double)r;
}

static inline int hsum_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* sum of k[i] * q[i] over 32 signed bytes, exact */
static inline int idot32(__m256i k, __m256i q)
{
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(k, k), _mm256_sign_epi8(q, k));
    return hsum_i32(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

static inline __m256i q4_unpack(const uint8_t *qs)
{
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m128i m = _mm_set1_epi8(15);
    __m256i x = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m), _mm_and_si128(b, m));
    return _mm256_sub_epi8(x, _mm256_set1_epi8(8));
}

static inline float dot_q(int kt, const uint8_t *k, const uint8_t *q, int hd)
{
    float sum = 0;
    for (int b = 0; b < hd / 32; b++) {
        const uint8_t *qb = q + (size_t)b * 34;
        __m256i qv = _mm256_loadu_si256((const __m256i *)(qb + 2));
        int isum;
        const uint8_t *kb;
        if (kt == QT_Q8_0) {
            kb = k + (size_t)b * 34;
            isum = idot32(_mm256_loadu_si256((const __m256i *)(kb + 2)), qv);
        } else {
            kb = k + (size_t)b * 18;
            isum = idot32(q4_unpack(kb + 2), qv);
        }
        sum += (float)isum * (h2f(kb) * h2f(qb));
    }
    return sum;
}

/* acc += dequant(v) * w, lane by lane as the scalar (d * q, then fmaf) */
static inline void mad_vq(int vt, const uint8_t *v, int hd, float w, float *acc)
{
    __m256 wv = _mm256_set1_ps(w);
    for (int b = 0; b < hd / 32; b++) {
        __m256i q8;
        const uint8_t *vb;
        if (vt == QT_Q8_0) {
            vb = v + (size_t)b * 34;
            q8 = _mm256_loadu_si256((const __m256i *)(vb + 2));
        } else {
            vb = v + (size_t)b * 18;
            q8 = q4_unpack(vb + 2);
        }
        __m256 d = _mm256_set1_ps(h2f(vb));
        __m128i lo = _mm256_castsi256_si128(q8), hi = _mm256_extracti128_si256(q8, 1);
        __m128i part[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
        for (int j = 0; j < 4; j++) {
            __m256 x = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part[j])));
            float *a = acc + 32 * b + 8 * j;
            _mm256_storeu_ps(a, _mm256_fmadd_ps(x, wv, _mm256_loadu_ps(a)));
        }
    }
}

/* kern_attnq_exp on eight lanes: the scalar's operations lane by lane */
static inline __m256 exp8(__m256 x)
{
    __m256 ok = _mm256_cmp_ps(x, _mm256_set1_ps(KERN_ATTNQ_EXP_MIN), _CMP_GE_OQ);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(KERN_ATTNQ_EXP_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_fmadd_ps(n, _mm256_set1_ps(-KERN_ATTNQ_EXP_LN2_HI), x);
    f = _mm256_fmadd_ps(n, _mm256_set1_ps(-KERN_ATTNQ_EXP_LN2_LO), f);
    __m256 p = _mm256_set1_ps(KERN_ATTNQ_EXP_C6);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(KERN_ATTNQ_EXP_C5));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(KERN_ATTNQ_EXP_C4));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(KERN_ATTNQ_EXP_C3));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(KERN_ATTNQ_EXP_C2));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(ok, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

typedef struct head_state {
    uint8_t *qbuf;
    float *acc;
    float *mx, *sum;
} head_state;

/* One tile of positions p0..p0+nt-1 for one head (kern_attn_q.h). */
static void head_tile(const kern_attnq_span *sp, int hd, int p0, int nt, head_state *hs)
{
    enum { MAX_HD = 512, T = KERN_ATTNQ_TILE };
    __m256 qf[MAX_HD / 8];
    float s[T], w[T];
    bool k16 = sp->kt == QT_F16;
    if (k16)
        for (int d = 0; d < hd; d += 8)
            qf[d / 8] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(hs->qbuf + 2 * (size_t)d)));
    float mx = *hs->mx, tm = -INFINITY;
    for (int i = 0; i < T; i++) {
        if (i >= nt) {
            s[i] = -INFINITY;
            continue;
        }
        int p = p0 + i;
        const uint8_t *kr = sp->k + (size_t)(sp->ring ? p % sp->ring : p) * sp->ldk;
        float x = k16 ? dot_f16(kr, qf, hd) : dot_q(sp->kt, kr, hs->qbuf, hd);
        x *= sp->scale;
        if (sp->softcap > 0)
            x = tanhf(x * (1.0f / sp->softcap)) * sp->softcap;
        s[i] = x;
        if (x > tm)
            tm = x;
    }
    float sum = *hs->sum;
    if (tm > mx) {
        float ms = expf(mx - tm);
        mx = tm;
        __m256 m = _mm256_set1_ps(ms);
        for (int d = 0; d < hd; d += 8)
            _mm256_storeu_ps(hs->acc + d, _mm256_mul_ps(_mm256_loadu_ps(hs->acc + d), m));
        sum *= ms;
    }
    __m256 mv = _mm256_set1_ps(mx), wv[4];
    for (int j = 0; j < 4; j++) {
        wv[j] = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + 8 * j), mv));
        _mm256_storeu_ps(w + 8 * j, wv[j]);
    }
    /* lanes l and l + 16, then halves, then pairwise: the scalar's fold */
    __m256 r8 = _mm256_add_ps(_mm256_add_ps(wv[0], wv[2]), _mm256_add_ps(wv[1], wv[3]));
    __m128 r4 = _mm_add_ps(_mm256_castps256_ps128(r8), _mm256_extractf128_ps(r8, 1));
    __m128 r2 = _mm_add_ps(r4, _mm_movehl_ps(r4, r4));
    __m128 r1 = _mm_add_ss(r2, _mm_shuffle_ps(r2, r2, 1));
    sum += _mm_cvtss_f32(r1);
    for (int i = 0; i < nt; i++) {
        int p = p0 + i;
        const uint8_t *vr = sp->v + (size_t)(sp->ring ? p % sp->ring : p) * sp->ldv;
        if (sp->vt == QT_F16) {
            __m256 wb = _mm256_set1_ps(w[i]);
            for (int d = 0; d < hd; d += 8) {
                __m256 vv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(vr + 2 * (size_t)d)));
                _mm256_storeu_ps(hs->acc + d, _mm256_fmadd_ps(vv, wb, _mm256_loadu_ps(hs->acc + d)));
            }
        } else {
            mad_vq(sp->vt, vr, hd, w[i], hs->acc);
        }
    }
    *hs->mx = mx;
    *hs->sum = sum;
}

void kern_attnq_avx2(const float *q, int n_grp, int hd, const kern_attnq_span *sp, void *tmp,
                     float *out)
{
    enum { MAX_GRP = 64 };
    if (n_grp > MAX_GRP || hd > 512 || hd % 32) {
        kern_attnq_scalar(q, n_grp, hd, sp, tmp, out);
        return;
    }
    size_t qs = al64((size_t)hd * 2), as = al64((size_t)hd * 4);
    uint8_t *base = tmp;
    float *st = (float *)(void *)(base + (size_t)n_grp * (qs + as));
    head_state hs[MAX_GRP];
    for (int h = 0; h < n_grp; h++) {
        hs[h].qbuf = base + (size_t)h * (qs + as);
        hs[h].acc = (float *)(void *)(hs[h].qbuf + qs);
        hs[h].mx = st + 2 * h;
        hs[h].sum = st + 2 * h + 1;
        kern_attnq_prep_q(sp->kt, q + (size_t)h * hd, hd, hs[h].qbuf);
        memset(hs[h].acc, 0, (size_t)hd * 4);
        *hs[h].mx = -INFINITY;
        *hs[h].sum = 0;
    }
    /* a tile of keys and values for every head of the group before the
     * next: read from memory once, then from the first level cache */
    for (int p0 = sp->lo; p0 < sp->hi; p0 += KERN_ATTNQ_TILE) {
        int nt = sp->hi - p0 < KERN_ATTNQ_TILE ? sp->hi - p0 : KERN_ATTNQ_TILE;
        for (int h = 0; h < n_grp; h++)
            head_tile(sp, hd, p0, nt, &hs[h]);
    }
    for (int h = 0; h < n_grp; h++) {
        float mx = *hs[h].mx, sum = *hs[h].sum, ms = 1.0f;
        if (sp->sinks) {
            float vs = 1.0f, sk = sp->sinks[h];
            if (sk > mx)
                ms = expf(mx - sk);
            else
                vs = expf(sk - mx);
            sum = sum * ms + vs;
        }
        float inv = sum > 0 ? 1.0f / sum : 0.0f;
        __m256 msv = _mm256_set1_ps(ms), iv = _mm256_set1_ps(inv);
        float *o = out + (size_t)h * hd;
        for (int d = 0; d < hd; d += 8)
            _mm256_storeu_ps(o + d, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(hs[h].acc + d), msv), iv));
    }
}
