/*
 * kern_attn_q.c - attention over a quantized KV cache (kern_attn_q.h):
 * the scalar reference, the query conversion every level shares, and the
 * dispatch to the AVX2 and AVX-512 twins.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "chord.h"
#include "kern/kern_attn_q.h"
#include "quant/quant.h"
#include "quant/quant_types.h"

size_t kern_kv_row_bytes(int t, int n)
{
    switch (t) {
    case QT_Q8_0:
        return (size_t)n / 32 * 34;
    case QT_Q4_0:
        return (size_t)n / 32 * 18;
    default:
        return (size_t)n * 2;
    }
}

static size_t al64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* tmp per head: the converted query (at most 2 bytes an element), the
 * accumulator (a float an element), then the running max and sum */
size_t kern_attnq_tmp_bytes(int hd, int n_grp)
{
    return (size_t)n_grp * (al64((size_t)hd * 2) + al64((size_t)hd * 4)) + al64((size_t)n_grp * 8);
}

void kern_attnq_prep_q(int kt, const float *q, int hd, void *dst)
{
    if (kt == QT_F16) {
        uint16_t *h = dst;
        for (int d = 0; d < hd; d++)
            h[d] = quant_f32_to_f16(q[d]);
    } else {
        quant_quantize_row(QT_Q8_0, q, dst, hd);
    }
}

static inline float h2f(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return quant_f16_to_f32(h);
}

/* F16 . F16 in the reference's order (as kern.c's dot_f16): 32 lanes of
 * fused multiply-adds folded pairwise; hd is a multiple of 32 here or the
 * tail runs in double. */
static float dot_f16(const uint8_t *k, const uint16_t *q, int n)
{
    int np = n & ~31;
    float acc[32] = {0};
    for (int i = 0; i < np; i += 32)
        for (int l = 0; l < 32; l++)
            acc[l] = fmaf(h2f(k + 2 * (size_t)(i + l)), quant_f16_to_f32(q[i + l]), acc[l]);
    float r8[8], r4[4];
    for (int l = 0; l < 8; l++)
        r8[l] = (acc[l] + acc[16 + l]) + (acc[8 + l] + acc[24 + l]);
    for (int l = 0; l < 4; l++)
        r4[l] = r8[l] + r8[4 + l];
    double sum = (r4[0] + r4[1]) + (r4[2] + r4[3]);
    for (int i = np; i < n; i++)
        sum += (double)(h2f(k + 2 * (size_t)i) * quant_f16_to_f32(q[i]));
    return (float)sum;
}

/* Q8_0 or Q4_0 keys . Q8_0 query: exact integer sums per block, combined
 * in float block after block. */
static float dot_q(int kt, const uint8_t *k, const uint8_t *q, int hd)
{
    float sum = 0;
    for (int b = 0; b < hd / 32; b++) {
        const uint8_t *qb = q + (size_t)b * 34;
        const int8_t *qs = (const int8_t *)(qb + 2);
        int isum = 0;
        float dk;
        if (kt == QT_Q8_0) {
            const uint8_t *kb = k + (size_t)b * 34;
            const int8_t *ks = (const int8_t *)(kb + 2);
            for (int i = 0; i < 32; i++)
                isum += ks[i] * qs[i];
            dk = h2f(kb);
        } else {
            const uint8_t *kb = k + (size_t)b * 18;
            for (int j = 0; j < 16; j++) {
                isum += ((kb[2 + j] & 15) - 8) * qs[j];
                isum += ((kb[2 + j] >> 4) - 8) * qs[j + 16];
            }
            dk = h2f(kb);
        }
        sum += (float)isum * (dk * h2f(qb));
    }
    return sum;
}

/* One value row as floats (Q8_0, Q4_0: d * q, exact). */
static void deq_v(int vt, const uint8_t *v, int hd, float *out)
{
    for (int b = 0; b < hd / 32; b++) {
        if (vt == QT_Q8_0) {
            const uint8_t *vb = v + (size_t)b * 34;
            float d = h2f(vb);
            for (int i = 0; i < 32; i++)
                out[32 * b + i] = d * (float)(int8_t)vb[2 + i];
        } else {
            const uint8_t *vb = v + (size_t)b * 18;
            float d = h2f(vb);
            for (int j = 0; j < 16; j++) {
                out[32 * b + j] = d * (float)((vb[2 + j] & 15) - 8);
                out[32 * b + j + 16] = d * (float)((vb[2 + j] >> 4) - 8);
            }
        }
    }
}

/* exp(x) for x <= 0 (kern_attn_q.h): 0 below -87 (and for -inf), else
 * 2^n * p(f) with n = rint(x log2 e), f = x - n ln 2 in two steps, p the
 * degree-6 Taylor polynomial by Horner in fused multiply-adds; within 3
 * ulps of expf, and the same operations lane by lane in the SIMD twins. */
float kern_attnq_exp(float x)
{
    if (!(x >= KERN_ATTNQ_EXP_MIN))
        return 0.0f;
    float n = rintf(x * KERN_ATTNQ_EXP_LOG2E);
    float f = fmaf(n, -KERN_ATTNQ_EXP_LN2_HI, x);
    f = fmaf(n, -KERN_ATTNQ_EXP_LN2_LO, f);
    float p = KERN_ATTNQ_EXP_C6;
    p = fmaf(p, f, KERN_ATTNQ_EXP_C5);
    p = fmaf(p, f, KERN_ATTNQ_EXP_C4);
    p = fmaf(p, f, KERN_ATTNQ_EXP_C3);
    p = fmaf(p, f, KERN_ATTNQ_EXP_C2);
    p = fmaf(p, f, 1.0f);
    p = fmaf(p, f, 1.0f);
    uint32_t bits = (uint32_t)((int)n + 127) << 23;
    float two_n;
    memcpy(&two_n, &bits, 4);
    return p * two_n;
}

static void head_scalar(const float *q, int hd, const kern_attnq_span *sp, float sink_in,
                        bool has_sink, uint8_t *qbuf, float *acc, float *out)
{
    enum { MAX_HD = 1024, T = KERN_ATTNQ_TILE };
    float vrow[MAX_HD], s[T], w[T];
    kern_attnq_prep_q(sp->kt, q, hd, qbuf);
    for (int d = 0; d < hd; d++)
        acc[d] = 0;
    float mx = -INFINITY, sum = 0;
    for (int p0 = sp->lo; p0 < sp->hi; p0 += T) {
        int nt = sp->hi - p0 < T ? sp->hi - p0 : T;
        float tm = -INFINITY;
        for (int i = 0; i < T; i++) {
            if (i >= nt) {
                s[i] = -INFINITY;
                continue;
            }
            int p = p0 + i;
            const uint8_t *kr = sp->k + (size_t)(sp->ring ? p % sp->ring : p) * sp->ldk;
            float x = sp->kt == QT_F16 ? dot_f16(kr, (const uint16_t *)qbuf, hd) : dot_q(sp->kt, kr, qbuf, hd);
            x *= sp->scale;
            if (sp->softcap > 0)
                x = tanhf(x * (1.0f / sp->softcap)) * sp->softcap;
            s[i] = x;
            if (x > tm)
                tm = x;
        }
        if (tm > mx) {
            float ms = expf(mx - tm);
            mx = tm;
            for (int d = 0; d < hd; d++)
                acc[d] *= ms;
            sum *= ms;
        }
        for (int i = 0; i < T; i++)
            w[i] = kern_attnq_exp(s[i] - mx);
        /* the tile's sum folded as sixteen lanes are: halves, pairwise */
        float r[16];
        for (int l = 0; l < 16; l++)
            r[l] = w[l] + w[l + 16];
        for (int h = 8; h >= 1; h /= 2)
            for (int l = 0; l < h; l++)
                r[l] = r[l] + r[l + h];
        sum += r[0];
        for (int i = 0; i < nt; i++) {
            int p = p0 + i;
            const uint8_t *vr = sp->v + (size_t)(sp->ring ? p % sp->ring : p) * sp->ldv;
            if (sp->vt == QT_F16)
                for (int d = 0; d < hd; d++)
                    vrow[d] = h2f(vr + 2 * (size_t)d);
            else
                deq_v(sp->vt, vr, hd, vrow);
            for (int d = 0; d < hd; d++)
                acc[d] = fmaf(vrow[d], w[i], acc[d]);
        }
    }
    float ms = 1.0f;
    if (has_sink) {
        float vs = 1.0f;
        if (sink_in > mx)
            ms = expf(mx - sink_in);
        else
            vs = expf(sink_in - mx);
        sum = sum * ms + vs;
    }
    float inv = sum > 0 ? 1.0f / sum : 0.0f;
    for (int d = 0; d < hd; d++)
        out[d] = acc[d] * ms * inv;
}

void kern_attnq_scalar(const float *q, int n_grp, int hd, const kern_attnq_span *sp, void *tmp,
                       float *out)
{
    uint8_t *qbuf = tmp;
    float *acc = (float *)(void *)(qbuf + al64((size_t)hd * 2));
    for (int h = 0; h < n_grp; h++)
        head_scalar(q + (size_t)h * hd, hd, sp, sp->sinks ? sp->sinks[h] : 0.0f, sp->sinks != NULL,
                    qbuf, acc, out + (size_t)h * hd);
}

typedef void (*attnq_fn)(const float *, int, int, const kern_attnq_span *, void *, float *);
static attnq_fn attnq_simd;
static pthread_once_t attnq_once = PTHREAD_ONCE_INIT;

static void attnq_init(void)
{
    const char *lv = chord_simd_level();
    if (!strcmp(lv, "avx512"))
        attnq_simd = kern_attnq_avx512;
    else if (strcmp(lv, "scalar") != 0 && quant_cpu_has("avx2"))
        attnq_simd = kern_attnq_avx2;
}

void kern_attnq(const float *q, int n_grp, int hd, const kern_attnq_span *s, void *tmp, float *out)
{
    pthread_once(&attnq_once, attnq_init);
    if (attnq_simd && hd % 32 == 0 && hd <= 512)
        attnq_simd(q, n_grp, hd, s, tmp, out);
    else
        kern_attnq_scalar(q, n_grp, hd, s, tmp, out);
}

void kern_attnq_multi(const float *q, size_t ldq, int n_tok, int n_grp, int hd, const kern_attnq_span *s,
                      void *tmp, float *out, size_t ldo)
{
    pthread_once(&attnq_once, attnq_init);
    if (attnq_simd == kern_attnq_avx512 && kern_attnq_multi_avx512(q, ldq, n_tok, n_grp, hd, s, tmp, out, ldo))
        return;
    for (int t = 0; t < n_tok; t++) {
        kern_attnq_span st = *s;
        st.hi = s->hi - (n_tok - 1 - t);
        kern_attnq(q + (size_t)t * ldq, n_grp, hd, &st, tmp, out + (size_t)t * ldo);
    }
}
