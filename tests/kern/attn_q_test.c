/*
 * attn_q_test.c - attention over a quantized KV cache (kern_attn_q.h):
 * the AVX2 and AVX-512 twins give the scalar reference's bits, for every
 * pair of key and value types (F16, Q8_0, Q4_0), head sizes 32 to 256,
 * groups of 1 to 8 query heads, spans longer than a chunk of the SIMD
 * walk, rings, windows, soft-caps and sinks, and scores spread wide
 * enough to move the maximum often; kern_attnq dispatches to them. The
 * scalar kernel itself against a double-precision softmax attention over
 * the dequantized cache and the query as its key type's partner (within
 * float rounding: the same quantities, summed in another order), and its
 * exponential against expf over [-90, 0].
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "kern/kern_attn_q.h"
#include "quant/quant.h"
#include "quant/quant_types.h"
#include "t.h"

static const int types[3] = {QT_F16, QT_Q8_0, QT_Q4_0};
static const char *const tnames[3] = {"F16", "Q8_0", "Q4_0"};

/* a cache of n_pos rows of one KV head (hd elements) stored in type t,
 * ld bytes apart (a wider row, as the real cache's n_head_kv heads) */
static uint8_t *make_rows(int t, int hd, int n_pos, size_t ld, float spread, uint64_t *rs)
{
    uint8_t *buf = calloc((size_t)n_pos, ld);
    float *row = malloc((size_t)hd * sizeof(float));
    for (int p = 0; p < n_pos; p++) {
        for (int d = 0; d < hd; d++)
            row[d] = t_gauss(rs) * spread;
        if (t == QT_F16)
            for (int d = 0; d < hd; d++) {
                uint16_t h = quant_f32_to_f16(row[d]);
                memcpy(buf + (size_t)p * ld + 2 * (size_t)d, &h, 2);
            }
        else
            quant_quantize_row(t, row, buf + (size_t)p * ld, hd);
    }
    free(row);
    return buf;
}

/* the double-precision attention the kernel approximates: the key rows
 * and the query as the kernel sees them (dequantized) */
static void reference(const float *q, int hd, const kern_attnq_span *sp, float sink, bool has_sink,
                      double *out)
{
    int n = sp->hi - sp->lo;
    float *qd = malloc((size_t)hd * sizeof(float)), *row = malloc((size_t)hd * sizeof(float));
    uint8_t *qq = malloc((size_t)hd * 2 + 64);
    kern_attnq_prep_q(sp->kt, q, hd, qq);
    quant_dequant_row(sp->kt == QT_F16 ? QT_F16 : QT_Q8_0, qq, qd, hd);
    double *s = malloc((size_t)n * sizeof(double)), mx = has_sink ? sink : -INFINITY, sum = 0;
    for (int i = 0; i < n; i++) {
        int p = sp->lo + i, r = sp->ring ? p % sp->ring : p;
        quant_dequant_row(sp->kt, sp->k + (size_t)r * sp->ldk, row, hd);
        double x = 0;
        for (int d = 0; d < hd; d++)
            x += (double)row[d] * qd[d];
        x *= sp->scale;
        if (sp->softcap > 0)
            x = tanh(x / sp->softcap) * sp->softcap;
        s[i] = x;
        if (x > mx)
            mx = x;
    }
    for (int d = 0; d < hd; d++)
        out[d] = 0;
    for (int i = 0; i < n; i++) {
        int p = sp->lo + i, r = sp->ring ? p % sp->ring : p;
        double w = exp(s[i] - mx);
        sum += w;
        quant_dequant_row(sp->vt, sp->v + (size_t)r * sp->ldv, row, hd);
        for (int d = 0; d < hd; d++)
            out[d] += w * row[d];
    }
    if (has_sink)
        sum += exp(sink - mx);
    for (int d = 0; d < hd; d++)
        out[d] /= sum;
    free(qd);
    free(row);
    free(qq);
    free(s);
}

typedef void (*attnq_fn)(const float *, int, int, const kern_attnq_span *, void *, float *);

static int n_cases;

/* The first element whose bits differ, or -1. */
static int first_diff(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)))
            return (int)i;
    return -1;
}

static void one_case(int kt, int vt, int hd, int n_grp, int n_pos, int lo, int ring, float softcap,
                     bool sinks, float spread, bool avx2, bool avx512, uint64_t *rs)
{
    size_t ldk = kern_kv_row_bytes(kt, hd) * 3, ldv = kern_kv_row_bytes(vt, hd) * 2 + 34;
    int rows = ring ? ring : n_pos;
    uint8_t *k = make_rows(kt, hd, rows, ldk, spread, rs), *v = make_rows(vt, hd, rows, ldv, 1.0f, rs);
    float *q = malloc((size_t)n_grp * hd * sizeof(float)), sk[8];
    for (int i = 0; i < n_grp * hd; i++)
        q[i] = t_gauss(rs);
    for (int h = 0; h < n_grp; h++)
        sk[h] = t_gauss(rs) * 2;
    kern_attnq_span sp = {
        .k = k, .v = v, .ldk = ldk, .ldv = ldv, .kt = kt, .vt = vt, .lo = lo, .hi = n_pos,
        .ring = ring, .scale = 1.0f / sqrtf((float)hd), .softcap = softcap, .sinks = sinks ? sk : NULL,
    };
    size_t tb = kern_attnq_tmp_bytes(hd, n_grp);
    void *tmp = aligned_alloc(64, (tb + 63) & ~(size_t)63);
    size_t ob = (size_t)n_grp * hd * sizeof(float);
    float *o_s = malloc(ob), *o_x = malloc(ob);
    kern_attnq_scalar(q, n_grp, hd, &sp, tmp, o_s);
    const char *what[3] = {"avx2", "avx512", "dispatch"};
    attnq_fn fns[3] = {avx2 ? kern_attnq_avx2 : NULL, avx512 ? kern_attnq_avx512 : NULL, kern_attnq};
    for (int f = 0; f < 3; f++) {
        if (!fns[f])
            continue;
        memset(o_x, 0xff, ob);
        fns[f](q, n_grp, hd, &sp, tmp, o_x);
        int bad = first_diff(o_x, o_s, (size_t)n_grp * hd);
        T_CHECK(bad < 0, "%s K %s V %s hd %d grp %d pos %d..%d ring %d cap %g sinks %d: element %d %a, scalar %a",
                what[f], tnames[kt == QT_F16 ? 0 : kt == QT_Q8_0 ? 1 : 2],
                tnames[vt == QT_F16 ? 0 : vt == QT_Q8_0 ? 1 : 2], hd, n_grp, lo, n_pos, ring, softcap,
                sinks, bad, bad >= 0 ? o_x[bad] : 0, bad >= 0 ? o_s[bad] : 0);
    }
    /* the scalar kernel against the double-precision attention (float
     * accumulation, float weights) */
    double ref[256];
    for (int h = 0; h < n_grp; h++) {
        reference(q + (size_t)h * hd, hd, &sp, sk[h], sinks, ref);
        double err = 0, mag = 0;
        for (int d = 0; d < hd; d++) {
            double e = fabs(o_s[h * hd + d] - ref[d]);
            err = e > err ? e : err;
            mag = fabs(ref[d]) > mag ? fabs(ref[d]) : mag;
        }
        double tol = 1e-4 * (mag > 0.05 ? mag : 0.05);
        T_CHECK(err <= tol, "scalar K %d V %d hd %d head %d: max error %.3g against double (tol %.3g)", kt,
                vt, hd, h, err, tol);
    }
    n_cases++;
    free(k);
    free(v);
    free(q);
    free(tmp);
    free(o_s);
    free(o_x);
}

/* A prefill batch (kern_attnq_multi): n_tok tokens, token t seeing
 * lo .. hi - n_tok + t, each token's heads bit for bit what the scalar
 * kernel gives that token alone (the AVX-512 tile path takes them
 * together; its tiles end at different places for each token). */
static void multi_case(int kt, int vt, int hd, int n_grp, int n_tok, int n_pos, int lo, int ring, bool sinks,
                       uint64_t *rs)
{
    size_t ldk = kern_kv_row_bytes(kt, hd) * 2, ldv = kern_kv_row_bytes(vt, hd) + 18;
    int rows = ring ? ring : n_pos;
    uint8_t *k = make_rows(kt, hd, rows, ldk, 3.0f, rs), *v = make_rows(vt, hd, rows, ldv, 1.0f, rs);
    size_t ldq = (size_t)n_grp * hd + 16;
    float *q = malloc((size_t)n_tok * ldq * sizeof(float)), sk[8];
    for (size_t i = 0; i < (size_t)n_tok * ldq; i++)
        q[i] = t_gauss(rs);
    for (int h = 0; h < n_grp; h++)
        sk[h] = t_gauss(rs);
    kern_attnq_span sp = {
        .k = k, .v = v, .ldk = ldk, .ldv = ldv, .kt = kt, .vt = vt, .lo = lo, .hi = n_pos,
        .ring = ring, .scale = 1.0f / sqrtf((float)hd), .softcap = 0, .sinks = sinks ? sk : NULL,
    };
    size_t tb = kern_attnq_tmp_bytes(hd, n_grp * n_tok);
    void *tmp = aligned_alloc(64, (tb + 63) & ~(size_t)63);
    size_t ldo = (size_t)n_grp * hd + 8, ob = (size_t)n_tok * ldo * sizeof(float);
    float *o_s = malloc(ob), *o_x = malloc(ob);
    memset(o_s, 0, ob);
    memset(o_x, 0, ob);
    for (int t = 0; t < n_tok; t++) {
        kern_attnq_span st = sp;
        st.hi = n_pos - (n_tok - 1 - t);
        kern_attnq_scalar(q + (size_t)t * ldq, n_grp, hd, &st, tmp, o_s + (size_t)t * ldo);
    }
    kern_attnq_multi(q, ldq, n_tok, n_grp, hd, &sp, tmp, o_x, ldo);
    int bad = first_diff(o_x, o_s, (size_t)n_tok * ldo);
    T_CHECK(bad < 0, "multi K %s V %s hd %d grp %d tok %d pos %d..%d ring %d sinks %d: element %d %a, scalar %a",
            tnames[kt == QT_F16 ? 0 : kt == QT_Q8_0 ? 1 : 2], tnames[vt == QT_F16 ? 0 : vt == QT_Q8_0 ? 1 : 2], hd,
            n_grp, n_tok, lo, n_pos, ring, sinks, bad, bad >= 0 ? o_x[bad] : 0, bad >= 0 ? o_s[bad] : 0);
    n_cases++;
    free(k);
    free(v);
    free(q);
    free(tmp);
    free(o_s);
    free(o_x);
}

int main(void)
{
    chord_init();
    bool avx2 = quant_cpu_has("avx2"), avx512 = quant_cpu_has("avx512");
    uint64_t rs = 0x5eed;
    /* the tiles' exponential: within 3 ulps of expf down to -87, 0 below */
    int worst = 0;
    for (float x = 0.0f; x > -90.0f; x -= 0.000731f) {
        float a = kern_attnq_exp(x), b = expf(x);
        int32_t ia, ib;
        memcpy(&ia, &a, 4);
        memcpy(&ib, &b, 4);
        int ulps = abs(ia - ib);
        if (x >= -87.0f && ulps > worst)
            worst = ulps;
        if (x < -87.0f)
            T_CHECK(a == 0.0f, "kern_attnq_exp(%a) = %a, want 0 below -87", x, a);
    }
    T_CHECK(worst <= 3, "kern_attnq_exp: %d ulps from expf", worst);
    T_CHECK(kern_attnq_exp(-INFINITY) == 0.0f && kern_attnq_exp(0.0f) == 1.0f, "exp(-inf), exp(0)");
    printf("kern_attnq_exp: at most %d ulps from expf on [-87, 0]\n", worst);
    static const int hds[] = {32, 64, 128, 256};
    static const int grps[] = {1, 4, 8};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            if (!a && !b)
                continue; /* F16/F16 is kern_attn_head's (attn_blk_test) */
            for (int ih = 0; ih < 4; ih++)
                for (int ig = 0; ig < 3; ig++) {
                    int hd = hds[ih], g = grps[ig];
                    /* a short span, one across several SIMD chunks, a ring
                     * with a window, caps and sinks, wide scores */
                    one_case(types[a], types[b], hd, g, 5, 0, 0, 0, false, 1.0f, avx2, avx512, &rs);
                    one_case(types[a], types[b], hd, g, 300, 0, 0, 0, false, 1.0f, avx2, avx512, &rs);
                    one_case(types[a], types[b], hd, g, 500, 380, 128, 0, false, 1.0f, avx2, avx512, &rs);
                    one_case(types[a], types[b], hd, g, 200, 17, 0, 30.0f, true, 4.0f, avx2, avx512, &rs);
                    one_case(types[a], types[b], hd, g, 150, 0, 0, 0, g > 1, 12.0f, avx2, avx512, &rs);
                }
        }
    /* prefill batches: spans ending inside a tile, on a tile's edge,
     * tokens whose last tile comes before the others', a ring, sinks */
    static const int mt[] = {QT_Q8_0, QT_Q4_0};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int ih = 1; ih < 4; ih++) {
                int hd = hds[ih];
                multi_case(mt[a], types[b], hd, 8, 8, 300, 0, 0, false, &rs);
                multi_case(mt[a], types[b], hd, 4, 16, 64 + 15, 0, 0, true, &rs);
                multi_case(mt[a], types[b], hd, 1, 40, 97, 0, 0, false, &rs);
                multi_case(mt[a], types[b], hd, 2, 5, 200, 0, 64, false, &rs);
                multi_case(mt[a], types[b], hd, 8, 3, 3, 0, 0, false, &rs);
            }
    printf("%d cases (avx2 %s, avx512 %s)\n", n_cases, avx2 ? "compared" : "absent",
           avx512 ? "compared" : "absent");
    return t_done();
}
