/*
 * kern_attn_blk_avx512.c - the AVX-512 twin of kern_attn_blk_scalar: the
 * one-query kernel's exact operations (kern_attn_head_scalar in kern.c)
 * for sixteen queries at once, one per lane. Each lane follows its row's
 * sequence: scores as F16 dot products in 32 fused lanes folded pairwise,
 * an online softmax one position at a time with expf, values accumulated
 * in F16 and rescaled when the row's maximum moves; so the bits are the
 * one-query kernel's. What the batch buys: a key or value is converted
 * once per block for all the rows instead of once per query head and
 * token, there are no horizontal sums, and expf runs sixteen lanes wide.
 */
#include <immintrin.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "kern/kern_attn_blk.h"
#include "quant/quant.h"

#define INLINE static inline __attribute__((always_inline))
#define RND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* ------------------------------------------------------------------------
 * expf, sixteen lanes
 *
 * The C library's expf (glibc's, error below 1.69 * 2^-34 relative before
 * its final rounding to float) is correctly rounded unless the exact value
 * lies within that error of a midpoint between two floats. So: compute
 * e^x in double to about 1e-16, round to float, and wherever the double
 * lies within 2^21 double ulps (2^-31 relative, four times the library's
 * error plus ours) of a midpoint, or x is in [-110, -87) (float results
 * near or in the subnormal range), ask expf itself: about one lane in 128
 * plus those. Below -110 the result is +0.
 * ---------------------------------------------------------------------- */

static const double LN2_HI = 0x1.62e42fefa39efp-1;  /* ln 2 rounded to double */
static const double LN2_LO = 0x1.abc9e3b39803fp-56; /* ln 2 - LN2_HI */

/* e^x: x = k ln 2 + r, |r| <= ln 2 / 2, e^r by a degree-12 Taylor
 * polynomial (truncation below 2e-16), times 2^k. */
INLINE __m512d exp_pd(__m512d x)
{
    __m512d k = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634)), RND);
    __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(LN2_HI), x);
    r = _mm512_fnmadd_pd(k, _mm512_set1_pd(LN2_LO), r);
    static const double c[12] = {
        1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
        1.0 / 40320.0,     1.0 / 5040.0,     1.0 / 720.0,     1.0 / 120.0,
        1.0 / 24.0,        1.0 / 6.0,        1.0 / 2.0,       1.0,
    };
    __m512d p = _mm512_set1_pd(c[0]);
    for (int i = 1; i < 12; i++)
        p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(c[i]));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    return _mm512_scalef_pd(p, k);
}

/* Lanes of y whose rounding to float is not settled: the 29 mantissa
 * bits a float drops are within 2^21 of the halfway pattern 2^28. */
INLINE __mmask8 near_midpoint(__m512d y)
{
    __m512i low = _mm512_and_si512(_mm512_castpd_si512(y), _mm512_set1_epi64((1ll << 29) - 1));
    __m512i dist = _mm512_abs_epi64(_mm512_sub_epi64(low, _mm512_set1_epi64(1ll << 28)));
    return _mm512_cmplt_epi64_mask(dist, _mm512_set1_epi64(1ll << 21));
}

/* expf of the lanes in `want` (others: anything). */
INLINE __m512 expf16(__m512 x, __mmask16 want)
{
    __mmask16 fast = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_GE_OQ);
    /* e^-110 is below half the least subnormal: expf gives +0 there. */
    __mmask16 zero = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-110.0f), _CMP_LT_OQ);
    __m512d ylo = exp_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(x)));
    __m512d yhi = exp_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))));
    __m512 y = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(_mm512_cvtpd_ps(ylo))),
                                                   _mm256_castps_pd(_mm512_cvtpd_ps(yhi)), 1));
    y = _mm512_mask_mov_ps(y, zero, _mm512_setzero_ps());
    __mmask16 slow = (__mmask16)(((__mmask16)~(fast | zero) | near_midpoint(ylo) |
                                  ((__mmask16)near_midpoint(yhi) << 8)) & want & ~zero);
    if (slow) {
        float xs[16], ys[16];
        _mm512_storeu_ps(xs, x);
        _mm512_storeu_ps(ys, y);
        for (unsigned m = slow; m; m &= m - 1) {
            int i = __builtin_ctz(m);
            ys[i] = expf(xs[i]);
        }
        y = _mm512_loadu_ps(ys);
    }
    return y;
}

void kern_attn_expf16(const float *x, float *y)
{
    _mm512_storeu_ps(y, expf16(_mm512_loadu_ps(x), 0xFFFF));
}

/* ------------------------------------------------------------------------
 * Attention
 * ---------------------------------------------------------------------- */

/* Queries rounded to F16 and transposed, accumulators zero, m = -inf,
 * l = 0, each row's last position. */
static void setup(const kern_attn_qblk *b, const attn_blk_ws *w)
{
    int hd = b->hd, R = w->rows, nr = b->n_tok * b->n_grp;
    for (int r = 0; r < R; r++) {
        w->m[r] = -INFINITY;
        w->l[r] = 0.0f;
        if (r < nr) {
            int t = r / b->n_grp, h = r % b->n_grp;
            const float *q = b->q + (size_t)t * b->ldq + (size_t)h * hd;
            w->lim[r] = b->pos0 + t;
            for (int d = 0; d < hd; d += 16) {
                float q16[16];
                _mm512_storeu_ps(q16, _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_loadu_ps(q + d), RND)));
                for (int i = 0; i < 16; i++)
                    w->qt[(size_t)(d + i) * R + r] = q16[i];
            }
        } else {
            w->lim[r] = INT_MAX;
            for (int d = 0; d < hd; d++)
                w->qt[(size_t)d * R + r] = 0.0f;
        }
    }
    memset(w->acc, 0, (size_t)hd * R * sizeof *w->acc);
}

/* Keys and values [kb, kb + nk) to floats. hd is a multiple of 32. */
static void load_kv(const kern_attn_qblk *b, const attn_blk_ws *w, int kb, int nk)
{
    int hd = b->hd;
    for (int j = 0; j < nk; j++) {
        const uint16_t *kr = b->k + (size_t)(kb + j) * b->ld, *vr = b->v + (size_t)(kb + j) * b->ld;
        float *kt = w->kt + (size_t)j * hd, *vt = w->vt + (size_t)j * hd;
        for (int d = 0; d < hd; d += 16) {
            _mm512_storeu_ps(kt + d, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(kr + d))));
            _mm512_storeu_ps(vt + d, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(vr + d))));
        }
    }
}

/* Lane l of the reference's 32 fused lanes for key kj, rows 16 rv.. */
INLINE __m512 lane(const float *kj, const float *qt, int R, int hd, int l)
{
    __m512 a = _mm512_setzero_ps();
    for (int i = l; i < hd; i += 32)
        a = _mm512_fmadd_ps(_mm512_set1_ps(kj[i]), _mm512_load_ps(qt + (size_t)i * R), a);
    return a;
}

/* st[j][r] = score of row r against key j, folded like the reference:
 * r8[l] = (a[l] + a[16+l]) + (a[8+l] + a[24+l]), r4[l] = r8[l] + r8[4+l],
 * (r4[0] + r4[1]) + (r4[2] + r4[3]), times scale. */
INLINE void scores(const attn_blk_ws *w, int hd, int nk, float scale, const int NV)
{
    int R = w->rows;
    __m512 sc = _mm512_set1_ps(scale);
    for (int j = 0; j < nk; j++) {
        const float *kj = w->kt + (size_t)j * hd;
        for (int r0 = 0; r0 < 16 * NV; r0 += 16) {
            const float *qt = w->qt + r0;
            __m512 r4[4];
            for (int l = 0; l < 4; l++) {
                __m512 a = _mm512_add_ps(_mm512_add_ps(lane(kj, qt, R, hd, l), lane(kj, qt, R, hd, 16 + l)),
                                         _mm512_add_ps(lane(kj, qt, R, hd, 8 + l), lane(kj, qt, R, hd, 24 + l)));
                __m512 c = _mm512_add_ps(_mm512_add_ps(lane(kj, qt, R, hd, 4 + l), lane(kj, qt, R, hd, 20 + l)),
                                         _mm512_add_ps(lane(kj, qt, R, hd, 12 + l), lane(kj, qt, R, hd, 28 + l)));
                r4[l] = _mm512_add_ps(a, c);
            }
            __m512 s = _mm512_add_ps(_mm512_add_ps(r4[0], r4[1]), _mm512_add_ps(r4[2], r4[3]));
            _mm512_store_ps(w->st + (size_t)j * R + r0, _mm512_mul_ps(s, sc));
        }
    }
}

INLINE __m512 round16(__m512 x)
{
    return _mm512_cvtph_ps(_mm512_cvtps_ph(x, RND));
}

/* Position pos (key j of the block) for every row: the online softmax
 * step (lanes past their row's last position are left alone), then the
 * values. NV row vectors of sixteen. */
INLINE void step(const attn_blk_ws *w, const float *vj, int hd, int pos, int j, bool mask,
                 const int NV)
{
    int R = w->rows;
    __m512 ms[KERN_ATTN_MAX_ROWS / 16], vs[KERN_ATTN_MAX_ROWS / 16];
    __mmask16 valid[KERN_ATTN_MAX_ROWS / 16];
    uint64_t movedv = 0;
    __m512 one = _mm512_set1_ps(1.0f);
    for (int v = 0; v < NV; v++) {
        __m512 s = _mm512_load_ps(w->st + (size_t)j * R + 16 * v);
        __m512 m = _mm512_load_ps(w->m + 16 * v), l = _mm512_load_ps(w->l + 16 * v);
        valid[v] = mask ? _mm512_cmpge_epi32_mask(_mm512_load_si512(w->lim + 16 * v), _mm512_set1_epi32(pos))
                        : (__mmask16)0xFFFF;
        __mmask16 mv = _mm512_mask_cmp_ps_mask(valid[v], s, m, _CMP_GT_OQ);
        __m512 x = _mm512_mask_sub_ps(_mm512_sub_ps(s, m), mv, m, s);
        __m512 e = expf16(x, valid[v]);
        ms[v] = _mm512_mask_mov_ps(one, mv, e);
        vs[v] = _mm512_mask_mov_ps(e, mv, one);
        m = _mm512_mask_mov_ps(m, mv, s);
        l = _mm512_mask_mov_ps(l, valid[v], _mm512_add_ps(_mm512_mul_ps(l, ms[v]), vs[v]));
        _mm512_store_ps(w->m + 16 * v, m);
        _mm512_store_ps(w->l + 16 * v, l);
        movedv |= (uint64_t)mv << (16 * v);
    }
    /* Each row vector on its own: the rescale only where a maximum moved
     * (x 1 on the other lanes is exact), the masked store only where a
     * row ends inside the block. */
    for (int v = 0; v < NV; v++) {
        float *acc = w->acc + 16 * v;
        __mmask16 mv = (__mmask16)((movedv >> (16 * v)) & 0xFFFF);
        if (mv) {
            for (int d = 0; d < hd; d++, acc += R) {
                __m512 a = round16(_mm512_mul_ps(_mm512_load_ps(acc), ms[v]));
                a = round16(_mm512_fmadd_ps(_mm512_set1_ps(vj[d]), vs[v], a));
                _mm512_mask_store_ps(acc, valid[v], a);
            }
        } else if (valid[v] != 0xFFFF) {
            for (int d = 0; d < hd; d++, acc += R) {
                __m512 a = round16(_mm512_fmadd_ps(_mm512_set1_ps(vj[d]), vs[v], _mm512_load_ps(acc)));
                _mm512_mask_store_ps(acc, valid[v], a);
            }
        } else {
            for (int d = 0; d < hd; d++, acc += R)
                _mm512_store_ps(acc, round16(_mm512_fmadd_ps(_mm512_set1_ps(vj[d]), vs[v], _mm512_load_ps(acc))));
        }
    }
}

/* out = acc / l (0 if l is 0), the one-query kernel's final step. */
static void finish(const kern_attn_qblk *b, const attn_blk_ws *w)
{
    int hd = b->hd, R = w->rows;
    for (int t = 0, r = 0; t < b->n_tok; t++)
        for (int h = 0; h < b->n_grp; h++, r++) {
            float *o = b->out + (size_t)t * b->ldo + (size_t)h * hd;
            const float *a = w->acc + r;
            float inv = w->l[r] > 0 ? 1.0f / w->l[r] : 0.0f;
            for (int d = 0; d < hd; d++)
                o[d] = a[(size_t)d * R] * inv;
        }
}

INLINE void run(const kern_attn_qblk *b, const attn_blk_ws *w, const int NV)
{
    int hd = b->hd, end = b->pos0 + b->n_tok;
    for (int kb = 0; kb < end; kb += KERN_ATTN_BK) {
        int nk = end - kb < KERN_ATTN_BK ? end - kb : KERN_ATTN_BK;
        load_kv(b, w, kb, nk);
        scores(w, hd, nk, b->scale, NV);
        for (int j = 0; j < nk; j++)
            step(w, w->vt + (size_t)j * hd, hd, kb + j, j, kb + j > b->pos0, NV);
    }
}

void kern_attn_blk_avx512(const kern_attn_qblk *b, float *ws)
{
    attn_blk_ws w = attn_blk_layout(ws, b->hd, b->n_tok * b->n_grp);
    setup(b, &w);
    switch (w.rows / 16) {
    case 1: run(b, &w, 1); break;
    case 2: run(b, &w, 2); break;
    case 3: run(b, &w, 3); break;
    default: run(b, &w, 4); break;
    }
    finish(b, &w);
}
