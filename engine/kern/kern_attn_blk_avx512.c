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
 * Rows whose spans differ (the causal edge; a sliding window's start) are
 * masked lane by lane; keys come from a ring row by row; capped scores go
 * through a sixteen-lane tanhf with the library's bits; the unfused
 * numerics take three passes over the keys (see there).
 */
#include <immintrin.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "core/tr16_avx512.h"
#include "kern/kern_attn_blk.h"
#include "quant/quant.h"

#define INLINE static inline __attribute__((always_inline))
#define RND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* ------------------------------------------------------------------------
 * expf, sixteen lanes
 *
 * The C library's expf (glibc's, error below 1.69 * 2^-34 relative before
 * its final rounding to float, so under 2^19.75 double ulps) is correctly
 * rounded unless the exact value lies within that error of a midpoint
 * between two floats. So: compute e^x in double to within 2^11 double
 * ulps, round to float, and wherever the double lies within 2^21 double
 * ulps (2^-31 relative) of a midpoint, or x is in [-110, -87) (float
 * results near or in the subnormal range), ask expf itself: about one
 * lane in 128 plus those. Below -110 the result is +0.
 * ---------------------------------------------------------------------- */

/* 2^(i/16) rounded to double. */
static const double EXP2_16[16] = {
    0x1.0000000000000p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0,
    0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0,
    0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0,
    0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0,
};
static const double LN2_16_HI = 0x1.62e42fefa39efp-5;  /* ln 2 / 16 rounded to double */
static const double LN2_16_LO = 0x1.abc9e3b39803fp-60; /* ln 2 / 16 - LN2_16_HI */

/* e^x for x in [-110, 0]: x = (16 q + i) ln 2 / 16 + r, |r| <= ln 2 / 32,
 * e^x = 2^q 2^(i/16) e^r, e^r by its degree-5 Taylor polynomial
 * (truncation below 1.5e-13 relative, 2^10.4 ulps of the binade). k = 16 q
 * + i comes out of the rounding constant 1.5 * 2^52 in the low bits of t:
 * bits 0-3 pick 2^(i/16) from the two table registers, bits 4-15 are q,
 * added to the exponent field. */
INLINE __m512d exp_pd(__m512d x, __m512d tab0, __m512d tab1)
{
    const __m512d shift = _mm512_set1_pd(0x1.8p52);
    __m512d t = _mm512_fmadd_pd(x, _mm512_set1_pd(0x1.71547652b82fep+4), shift);
    __m512d k = _mm512_sub_pd(t, shift);
    __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(LN2_16_HI), x);
    r = _mm512_fnmadd_pd(k, _mm512_set1_pd(LN2_16_LO), r);
    __m512i ti = _mm512_castpd_si512(t);
    __m512d s = _mm512_permutex2var_pd(tab0, ti, tab1);
    s = _mm512_castsi512_pd(_mm512_add_epi64(_mm512_castpd_si512(s), _mm512_slli_epi64(_mm512_srli_epi64(ti, 4), 52)));
    __m512d p = _mm512_fmadd_pd(_mm512_set1_pd(1.0 / 120), r, _mm512_set1_pd(1.0 / 24));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 6));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0.5));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    return _mm512_mul_pd(p, s);
}

/* Lanes of y whose rounding to float is not settled: the 29 mantissa
 * bits a float drops are within 2^21 of the halfway pattern 2^28. */
INLINE __mmask8 near_midpoint(__m512d y)
{
    __m512i low = _mm512_and_si512(_mm512_castpd_si512(y), _mm512_set1_epi64((1ll << 29) - 1));
    __m512i dist = _mm512_abs_epi64(_mm512_sub_epi64(low, _mm512_set1_epi64(1ll << 28)));
    return _mm512_cmplt_epi64_mask(dist, _mm512_set1_epi64(1ll << 21));
}

/* expf of the lanes in `want` (others: anything), except the lanes set in
 * *slow, which need the library's expf. */
INLINE __m512 expf16_fast(__m512 x, __mmask16 want, __mmask16 *slow)
{
    __m512d tab0 = _mm512_loadu_pd(EXP2_16), tab1 = _mm512_loadu_pd(EXP2_16 + 8);
    __mmask16 fast = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_GE_OQ);
    /* e^-110 is below half the least subnormal: expf gives +0 there. */
    __mmask16 zero = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-110.0f), _CMP_LT_OQ);
    __m512d ylo = exp_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(x)), tab0, tab1);
    __m512d yhi = exp_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))),
                         tab0, tab1);
    __m512 y = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(_mm512_cvtpd_ps(ylo))),
                                                   _mm256_castps_pd(_mm512_cvtpd_ps(yhi)), 1));
    y = _mm512_mask_mov_ps(y, zero, _mm512_setzero_ps());
    *slow = (__mmask16)(((__mmask16)~(fast | zero) | near_midpoint(ylo) | ((__mmask16)near_midpoint(yhi) << 8)) &
                        want & ~zero);
    return y;
}

/* The slow lanes of y: the library's expf of x's. */
static void expf_lanes(float *y, const float *x, unsigned slow)
{
    for (; slow; slow &= slow - 1) {
        int i = __builtin_ctz(slow);
        y[i] = expf(x[i]);
    }
}

void kern_attn_expf16(const float *x, float *y)
{
    __mmask16 slow;
    _mm512_storeu_ps(y, expf16_fast(_mm512_loadu_ps(x), 0xFFFF, &slow));
    expf_lanes(y, x, slow);
}

/* ------------------------------------------------------------------------
 * tanhf, sixteen lanes
 *
 * glibc's float tanh (up to at least 2.36) is fdlibm's: for |x| >= 1,
 * 1 - 2 / (expm1f(2|x|) + 2), below that -t / (t + 2) with t =
 * expm1f(-2|x|), expm1f itself float arithmetic without fused operations
 * (argument reduction by k ln 2, a rational correction, then one of six
 * reconstructions by k). It is not correctly rounded, so no
 * near-a-midpoint test could certify a fast lane; instead the lanes follow
 * the same float operations in the same order. That this library's tanhf
 * is this one is checked once on 2^16 arguments spread over [2^-64, 23]
 * (tanh_vec_ok); any difference, and every lane goes to the library's
 * tanhf. Checked against glibc 2.36 over every float in [0, 23].
 * ---------------------------------------------------------------------- */

#define SPS(x) _mm512_set1_ps(x)
#define SEPI(x) _mm512_set1_epi32(x)

/* fdlibm's expm1f for lanes with -2 < x < 64 (what tanhf passes it),
 * branch by branch: k = 0 (|x| <= ln2 / 2), k = +-1 (|x| < 1.5 ln2), k =
 * (int)(x / ln2 +- 0.5) otherwise; |x| < 2^-25 returns x. */
INLINE __m512 expm1f16(__m512 x)
{
    __m512i hx = _mm512_and_si512(_mm512_castps_si512(x), SEPI(0x7fffffff));
    __mmask16 neg = _mm512_movepi32_mask(_mm512_castps_si512(x));
    __mmask16 red = _mm512_cmpgt_epu32_mask(hx, SEPI(0x3eb17218));
    __mmask16 near = _mm512_mask_cmplt_epu32_mask(red, hx, SEPI(0x3F851592));
    __mmask16 tiny = _mm512_cmplt_epu32_mask(hx, SEPI(0x33000000));
    const __m512 ln2_hi = SPS(6.9313812256e-01f), ln2_lo = SPS(9.0580006145e-06f);
    /* k by rounding x / ln2 away from zero, truncated */
    __m512 half = _mm512_mask_blend_ps(neg, SPS(0.5f), SPS(-0.5f));
    __m512i k = _mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(SPS(1.4426950216e+00f), x), half));
    __m512 t = _mm512_cvtepi32_ps(k);
    __m512 hi = _mm512_sub_ps(x, _mm512_mul_ps(t, ln2_hi)), lo = _mm512_mul_ps(t, ln2_lo);
    /* k = +-1: x -+ ln2_hi, lo = +-ln2_lo */
    hi = _mm512_mask_blend_ps(near, hi, _mm512_mask_blend_ps(neg, _mm512_sub_ps(x, ln2_hi), _mm512_add_ps(x, ln2_hi)));
    lo = _mm512_mask_blend_ps(near, lo, _mm512_mask_blend_ps(neg, ln2_lo, _mm512_sub_ps(_mm512_setzero_ps(), ln2_lo)));
    k = _mm512_mask_blend_epi32(near, k, _mm512_mask_blend_epi32(neg, SEPI(1), SEPI(-1)));
    __m512 xr = _mm512_sub_ps(hi, lo);
    __m512 c = _mm512_sub_ps(_mm512_sub_ps(hi, xr), lo);
    xr = _mm512_mask_blend_ps(red, x, xr);
    c = _mm512_mask_blend_ps(red, _mm512_setzero_ps(), c);
    k = _mm512_maskz_mov_epi32(red, k);
    __m512 one = SPS(1.0f);
    __m512 hfx = _mm512_mul_ps(SPS(0.5f), xr), hxs = _mm512_mul_ps(xr, hfx);
    __m512 r1 = _mm512_add_ps(SPS(-7.9365076090e-05f), _mm512_mul_ps(hxs, _mm512_add_ps(SPS(4.0082177293e-06f),
                                                                         _mm512_mul_ps(hxs, SPS(-2.0109921195e-07f)))));
    r1 = _mm512_add_ps(SPS(1.5873016091e-03f), _mm512_mul_ps(hxs, r1));
    r1 = _mm512_add_ps(SPS(-3.3333335072e-02f), _mm512_mul_ps(hxs, r1));
    r1 = _mm512_add_ps(one, _mm512_mul_ps(hxs, r1));
    t = _mm512_sub_ps(SPS(3.0f), _mm512_mul_ps(r1, hfx));
    __m512 e = _mm512_mul_ps(hxs, _mm512_div_ps(_mm512_sub_ps(r1, t), _mm512_sub_ps(SPS(6.0f), _mm512_mul_ps(xr, t))));
    /* k = 0 */
    __m512 y = _mm512_sub_ps(xr, _mm512_sub_ps(_mm512_mul_ps(xr, e), hxs));
    e = _mm512_sub_ps(_mm512_sub_ps(_mm512_mul_ps(xr, _mm512_sub_ps(e, c)), c), hxs);
    __mmask16 km1 = _mm512_cmpeq_epi32_mask(k, SEPI(-1)), kp1 = _mm512_cmpeq_epi32_mask(k, SEPI(1));
    __mmask16 kbig = _mm512_cmplt_epi32_mask(k, SEPI(-1)) | _mm512_cmpgt_epi32_mask(k, SEPI(56));
    __mmask16 kmid = _mm512_cmpgt_epi32_mask(k, SEPI(1)) & _mm512_cmplt_epi32_mask(k, SEPI(23));
    __mmask16 khi = _mm512_cmpge_epi32_mask(k, SEPI(23)) & _mm512_cmple_epi32_mask(k, SEPI(56));
    __m512i kexp = _mm512_slli_epi32(k, 23);
    __m512 exm = _mm512_sub_ps(e, xr);
    /* k = -1 */
    y = _mm512_mask_mov_ps(y, km1, _mm512_sub_ps(_mm512_mul_ps(SPS(0.5f), _mm512_sub_ps(xr, e)), SPS(0.5f)));
    /* k = 1 */
    __m512 yp = _mm512_add_ps(one, _mm512_mul_ps(SPS(2.0f), _mm512_sub_ps(xr, e)));
    __m512 yn = _mm512_mul_ps(SPS(-2.0f), _mm512_sub_ps(e, _mm512_add_ps(xr, SPS(0.5f))));
    y = _mm512_mask_mov_ps(y, kp1, _mm512_mask_blend_ps(_mm512_cmp_ps_mask(xr, SPS(-0.25f), _CMP_LT_OQ), yp, yn));
    /* k < -1 or k > 56: (1 - (e - x)) 2^k - 1 */
    __m512 yb = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(_mm512_sub_ps(one, exm)), kexp));
    y = _mm512_mask_mov_ps(y, kbig, _mm512_sub_ps(yb, one));
    /* 1 < k < 23: ((1 - 2^-k) - (e - x)) 2^k */
    __m512 tm = _mm512_castsi512_ps(
        _mm512_sub_epi32(SEPI(0x3f800000), _mm512_srlv_epi32(SEPI(0x1000000), _mm512_min_epi32(k, SEPI(31)))));
    __m512 ym = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(_mm512_sub_ps(tm, exm)), kexp));
    y = _mm512_mask_mov_ps(y, kmid, ym);
    /* 22 < k <= 56: ((x - (e + 2^-k)) + 1) 2^k */
    __m512 th = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_sub_epi32(SEPI(0x7f), k), 23));
    __m512 yh = _mm512_add_ps(_mm512_sub_ps(xr, _mm512_add_ps(e, th)), one);
    y = _mm512_mask_mov_ps(y, khi, _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(yh), kexp)));
    return _mm512_mask_mov_ps(y, tiny, x);
}

/* tanhf of 16 finite lanes, the library's operations (see above). */
INLINE __m512 tanhf16_fast(__m512 x)
{
    __m512i jx = _mm512_castps_si512(x);
    __m512i ix = _mm512_and_si512(jx, SEPI(0x7fffffff));
    __m512 ax = _mm512_castsi512_ps(ix), one = SPS(1.0f), two = SPS(2.0f);
    __mmask16 ge1 = _mm512_cmpge_epu32_mask(ix, SEPI(0x3f800000));
    /* expm1f(2|x|) for |x| >= 1, expm1f(-2|x|) below */
    __m512 a = _mm512_mul_ps(_mm512_mask_blend_ps(ge1, SPS(-2.0f), two), ax);
    a = _mm512_min_ps(a, SPS(44.0f)); /* lanes past 22 take z = 1 below */
    __m512 t = expm1f16(a);
    __m512 tp2 = _mm512_add_ps(t, two);
    __m512 z = _mm512_mask_blend_ps(ge1, _mm512_div_ps(_mm512_sub_ps(_mm512_setzero_ps(), t), tp2),
                                    _mm512_sub_ps(one, _mm512_div_ps(two, tp2)));
    z = _mm512_mask_mov_ps(z, _mm512_cmpge_epu32_mask(ix, SEPI(0x41b00000)), one);
    z = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(z), _mm512_and_si512(jx, SEPI((int)0x80000000))));
    /* |x| < 2^-55: x (1 + x); +-0: x */
    __mmask16 small = _mm512_cmplt_epu32_mask(ix, SEPI(0x24000000));
    z = _mm512_mask_mov_ps(z, small, _mm512_mul_ps(x, _mm512_add_ps(one, x)));
    return _mm512_mask_mov_ps(z, _mm512_cmpeq_epi32_mask(ix, _mm512_setzero_si512()), x);
}

static bool tanh_vec;
static pthread_once_t tanh_once = PTHREAD_ONCE_INIT;

static void tanh_check(void)
{
    bool ok = true;
    for (uint32_t u = 0x1f800000u, n = 0; u < 0x41b80000u && ok; n = 0) {
        float x[16], y[16];
        for (; n < 16; n++, u += 0x2201) { /* 2^16 points from 2^-64 to 23 */
            uint32_t v = (u & 1) ? u : u | 0x80000000u; /* both signs */
            memcpy(&x[n], &v, sizeof v);
        }
        _mm512_storeu_ps(y, tanhf16_fast(_mm512_loadu_ps(x)));
        for (int i = 0; i < 16; i++)
            ok &= !memcmp(&y[i], &(float){tanhf(x[i])}, sizeof(float));
    }
    tanh_vec = ok;
}

int kern_attn_tanhf16(const float *x, float *y)
{
    pthread_once(&tanh_once, tanh_check);
    __m512 v = _mm512_loadu_ps(x);
    __mmask16 odd = _mm512_cmpge_epu32_mask(_mm512_and_si512(_mm512_castps_si512(v), SEPI(0x7fffffff)),
                                            SEPI(0x7f800000));
    _mm512_storeu_ps(y, tanh_vec ? tanhf16_fast(v) : v);
    if (!tanh_vec)
        odd = 0xFFFF;
    for (unsigned m = odd; m; m &= m - 1)
        y[__builtin_ctz(m)] = tanhf(x[__builtin_ctz(m)]);
    return __builtin_popcount(odd);
}

/* ------------------------------------------------------------------------
 * Attention
 *
 * Per block of KERN_ATTN_BK positions: keys and values to floats, every
 * score (st), then the running maxima position by position (the exponent
 * of each step into st, which rows moved their maximum into a mask), all
 * the exponentials at once (the library's expf patched in afterwards for
 * the few lanes that need it), the running sums, and last the values:
 * sixteen accumulators of one row vector stay in registers across the
 * block's positions, so each position costs them a fused multiply-add
 * and the F16 rounding, and no load or store.
 * ---------------------------------------------------------------------- */

INLINE __m512 round16(__m512 x)
{
    return _mm512_cvtph_ps(_mm512_cvtps_ph(x, RND));
}

/* The first position a token at p sees (kern_attn_blk_scalar's span). */
static int first_pos(const kern_attn_qblk *b, int p)
{
    return b->window && p >= b->window ? p - b->window + 1 : 0;
}

/* Queries rounded to F16 and transposed (padding rows 0), accumulators
 * zero, m = -inf, l = 0, each row's first and last position. A row's
 * state stays at m = -inf, l = 0 until its first position, where the
 * one-query kernel starts: the first score moves the maximum from -inf, so
 * ms = e^-inf = 0 (expf16_fast's zero lanes) and the lane starts exactly
 * as the scalar loop does at lo. */
static void setup(const kern_attn_qblk *b, const attn_blk_ws *w)
{
    int hd = b->hd, R = w->rows, nr = b->n_tok * b->n_grp;
    for (int r = 0; r < R; r++) {
        int p = b->pos0 + r / b->n_grp;
        w->m[r] = -INFINITY;
        w->l[r] = 0.0f;
        w->lim[r] = r < nr ? p : INT_MAX;
        w->lo[r] = r < nr ? first_pos(b, p) : 0;
        w->sk[r] = r < nr && b->sinks ? b->sinks[r % b->n_grp] : -INFINITY;
        w->ms[r] = 1.0f;
    }
    for (int r0 = 0; r0 < R; r0 += 16)
        for (int d0 = 0; d0 < hd; d0 += 16) {
            __m512 x[16];
            for (int i = 0; i < 16; i++) {
                int r = r0 + i, t = r / b->n_grp, h = r % b->n_grp;
                x[i] = r < nr ? round16(_mm512_loadu_ps(b->q + (size_t)t * b->ldq + (size_t)h * hd + d0))
                              : _mm512_setzero_ps();
            }
            tr16_ps(x);
            for (int i = 0; i < 16; i++)
                _mm512_store_ps(w->qt + (size_t)(d0 + i) * R + r0, x[i]);
        }
    memset(w->acc, 0, (size_t)hd * R * sizeof *w->acc);
}

/* Keys and values of positions [kb, kb + nk) to floats; in a ring,
 * position p is row p % ring, so a block may wrap around its end. hd is a
 * multiple of 32. */
static void load_kv(const kern_attn_qblk *b, const attn_blk_ws *w, int kb, int nk)
{
    int hd = b->hd;
    for (int j = 0; j < nk; j++) {
        size_t row = (size_t)(b->ring ? (kb + j) % b->ring : kb + j) * b->ld;
        const uint16_t *kr = b->k + row, *vr = b->v + row;
        float *kt = w->kt + (size_t)j * hd, *vt = w->vt + (size_t)j * hd;
        for (int d = 0; d < hd; d += 16) {
            _mm512_storeu_ps(kt + d, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(kr + d))));
            _mm512_storeu_ps(vt + d, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(vr + d))));
        }
    }
}

/* Scores of JT keys from j0 against VT row vectors from r0, folded like
 * the reference: lane l of its 32 fused lanes is a[l] = the products of
 * elements l, l + 32, ... fused in that order; r8[l] = (a[l] + a[16+l]) +
 * (a[8+l] + a[24+l]), r4[l] = r8[l] + r8[4+l], (r4[0] + r4[1]) + (r4[2] +
 * r4[3]), times scale. The tile shares each loaded query vector among JT
 * keys and each broadcast key element among VT row vectors. */
INLINE void score_tile(const attn_blk_ws *w, int hd, int j0, int r0, __m512 sc, const int JT, const int VT)
{
    int R = w->rows;
    const float *kt = w->kt + (size_t)j0 * hd, *qt = w->qt + r0;
    __m512 r4[4][2][2]; /* [l][jt][vt] */
#pragma GCC unroll 4
    for (int l4 = 0; l4 < 4; l4++) {
        __m512 r8[2][2][2];
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            int l = l4 + 4 * h;
            const int lanes[4] = {l, 16 + l, 8 + l, 24 + l};
            __m512 a[4][2][2];
#pragma GCC unroll 4
            for (int q = 0; q < 4; q++)
#pragma GCC unroll 2
                for (int jt = 0; jt < JT; jt++)
#pragma GCC unroll 2
                    for (int vt = 0; vt < VT; vt++)
                        a[q][jt][vt] = _mm512_setzero_ps();
            for (int i0 = 0; i0 < hd; i0 += 32) {
#pragma GCC unroll 4
                for (int q = 0; q < 4; q++) {
                    int i = i0 + lanes[q];
                    __m512 qv[2];
#pragma GCC unroll 2
                    for (int vt = 0; vt < VT; vt++)
                        qv[vt] = _mm512_load_ps(qt + (size_t)i * R + 16 * vt);
#pragma GCC unroll 2
                    for (int jt = 0; jt < JT; jt++) {
                        __m512 kv = _mm512_set1_ps(kt[(size_t)jt * hd + i]);
#pragma GCC unroll 2
                        for (int vt = 0; vt < VT; vt++)
                            a[q][jt][vt] = _mm512_fmadd_ps(kv, qv[vt], a[q][jt][vt]);
                    }
                }
            }
#pragma GCC unroll 2
            for (int jt = 0; jt < JT; jt++)
#pragma GCC unroll 2
                for (int vt = 0; vt < VT; vt++)
                    r8[h][jt][vt] = _mm512_add_ps(_mm512_add_ps(a[0][jt][vt], a[1][jt][vt]),
                                                  _mm512_add_ps(a[2][jt][vt], a[3][jt][vt]));
        }
#pragma GCC unroll 2
        for (int jt = 0; jt < JT; jt++)
#pragma GCC unroll 2
            for (int vt = 0; vt < VT; vt++)
                r4[l4][jt][vt] = _mm512_add_ps(r8[0][jt][vt], r8[1][jt][vt]);
    }
#pragma GCC unroll 2
    for (int jt = 0; jt < JT; jt++)
#pragma GCC unroll 2
        for (int vt = 0; vt < VT; vt++) {
            __m512 s = _mm512_add_ps(_mm512_add_ps(r4[0][jt][vt], r4[1][jt][vt]),
                                     _mm512_add_ps(r4[2][jt][vt], r4[3][jt][vt]));
            _mm512_store_ps(w->st + (size_t)(j0 + jt) * R + r0 + 16 * vt, _mm512_mul_ps(s, sc));
        }
}

/* st[j][r] = score of row r against key j, for the block's nk keys. */
INLINE void scores(const attn_blk_ws *w, int hd, int nk, float scale, const int NV)
{
    __m512 sc = _mm512_set1_ps(scale);
    int j = 0;
    for (; j + 2 <= nk; j += 2) {
        int v = 0;
        for (; v + 2 <= NV; v += 2)
            score_tile(w, hd, j, 16 * v, sc, 2, 2);
        if (v < NV)
            score_tile(w, hd, j, 16 * v, sc, 2, 1);
    }
    if (j < nk) {
        int v = 0;
        for (; v + 2 <= NV; v += 2)
            score_tile(w, hd, j, 16 * v, sc, 1, 2);
        if (v < NV)
            score_tile(w, hd, j, 16 * v, sc, 1, 1);
    }
}

/* The same scores for hd = 32 HM, HM 1 or 2, with the queries held in
 * registers: for one l of the fold's eight and VT row vectors, the 4 x HM
 * query vectors of lanes l, 16 + l, 8 + l, 24 + l are loaded once for
 * KERN_ATTN_KC keys, and each key element is broadcast once for VT FMAs
 * (half the loads of the tiles). r8[l] of each key goes to w->r8; a last
 * pass folds the eight into the scores. */
INLINE void r8_pass(const attn_blk_ws *w, int j0, int nk, int l, int r0, const int HM, const int VT)
{
    int R = w->rows, hd = 32 * HM;
    const int lanes[4] = {l, 16 + l, 8 + l, 24 + l};
    __m512 q[4][2][2];
    for (int c = 0; c < 4; c++)
        for (int m = 0; m < HM; m++)
            for (int vt = 0; vt < VT; vt++)
                q[c][m][vt] = _mm512_load_ps(w->qt + (size_t)(lanes[c] + 32 * m) * R + r0 + 16 * vt);
    float *r8 = w->r8 + (size_t)l * KERN_ATTN_KC * R + r0;
    for (int j = 0; j < nk; j++) {
        const float *kj = w->kt + (size_t)(j0 + j) * hd;
        __m512 a[4][2];
        for (int c = 0; c < 4; c++) {
            for (int vt = 0; vt < VT; vt++)
                a[c][vt] = _mm512_setzero_ps();
            for (int m = 0; m < HM; m++) {
                __m512 kv = _mm512_set1_ps(kj[lanes[c] + 32 * m]);
                for (int vt = 0; vt < VT; vt++)
                    a[c][vt] = _mm512_fmadd_ps(kv, q[c][m][vt], a[c][vt]);
            }
        }
        for (int vt = 0; vt < VT; vt++)
            _mm512_store_ps(r8 + (size_t)j * R + 16 * vt,
                            _mm512_add_ps(_mm512_add_ps(a[0][vt], a[1][vt]), _mm512_add_ps(a[2][vt], a[3][vt])));
    }
}

INLINE void scores_q(const attn_blk_ws *w, int nk, float scale, const int NV, const int HM)
{
    int R = w->rows;
    size_t L = (size_t)KERN_ATTN_KC * R;
    __m512 sc = _mm512_set1_ps(scale);
    for (int j0 = 0; j0 < nk; j0 += KERN_ATTN_KC) {
        int n = nk - j0 < KERN_ATTN_KC ? nk - j0 : KERN_ATTN_KC;
        for (int l = 0; l < 8; l++) {
            int v = 0;
            for (; v + 2 <= NV; v += 2)
                r8_pass(w, j0, n, l, 16 * v, HM, 2);
            if (v < NV)
                r8_pass(w, j0, n, l, 16 * v, HM, 1);
        }
        for (int j = 0; j < n; j++)
            for (int v = 0; v < NV; v++) {
                const float *r8 = w->r8 + (size_t)j * R + 16 * v;
                __m512 r4[4];
                for (int l = 0; l < 4; l++)
                    r4[l] = _mm512_add_ps(_mm512_load_ps(r8 + l * L), _mm512_load_ps(r8 + (l + 4) * L));
                __m512 s = _mm512_add_ps(_mm512_add_ps(r4[0], r4[1]), _mm512_add_ps(r4[2], r4[3]));
                _mm512_store_ps(w->st + (size_t)(j0 + j) * R + 16 * v, _mm512_mul_ps(s, sc));
            }
    }
}

/* Gemma2's cap on the block's scores, as the one-query kernel applies it:
 * s = tanhf(s * (1 / cap)) * cap, tanhf sixteen lanes at a time. */
static void cap_scores(const attn_blk_ws *w, int nk, float cap, int NV)
{
    __m512 inv = _mm512_set1_ps(1.0f / cap), c = _mm512_set1_ps(cap);
    for (int j = 0; j < nk; j++)
        for (int v = 0; v < NV; v++) {
            float *st = w->st + (size_t)j * w->rows + 16 * v;
            float x[16];
            _mm512_storeu_ps(x, _mm512_mul_ps(_mm512_load_ps(st), inv));
            kern_attn_tanhf16(x, x);
            _mm512_store_ps(st, _mm512_mul_ps(_mm512_loadu_ps(x), c));
        }
}

/* The softmax side of positions kb.. kb + nk - 1 for every row, as the
 * reference steps through them one at a time: for position j the score
 * s, the maximum m; where s > m (a row's maximum moves; bit set in
 * moved[j]) ms = e^(m - s) rescales what came before and the value gets
 * weight vs = 1, elsewhere ms = 1 and vs = e^(s - m); l = l ms + vs. Lanes
 * outside their row's span (before its first position or past its last;
 * clear in valid[j]) are left alone; positions f0 <= j < f1 are inside
 * every row's. The exponentials go to e[j][r]. */
INLINE void softmax(const attn_blk_ws *w, int kb, int nk, int f0, int f1, uint64_t *moved, uint64_t *valid,
                    const int NV)
{
    int R = w->rows;
    __m512 m[KERN_ATTN_MAX_ROWS / 16];
    uint16_t slow[KERN_ATTN_BK][KERN_ATTN_MAX_ROWS / 16];
    bool any = false;
    for (int v = 0; v < NV; v++)
        m[v] = _mm512_load_ps(w->m + 16 * v);
    for (int j = 0; j < nk; j++) {
        uint64_t mvj = 0, vaj = 0;
        for (int v = 0; v < NV; v++) {
            float *st = w->st + (size_t)j * R + 16 * v;
            __m512 s = _mm512_load_ps(st);
            __m512i pj = _mm512_set1_epi32(kb + j);
            __mmask16 va = j >= f0 && j < f1
                               ? (__mmask16)0xFFFF
                               : _mm512_mask_cmple_epi32_mask(
                                     _mm512_cmpge_epi32_mask(_mm512_load_si512(w->lim + 16 * v), pj),
                                     _mm512_load_si512(w->lo + 16 * v), pj);
            __mmask16 mv = _mm512_mask_cmp_ps_mask(va, s, m[v], _CMP_GT_OQ);
            __m512 x = _mm512_mask_sub_ps(_mm512_sub_ps(s, m[v]), mv, m[v], s);
            m[v] = _mm512_mask_mov_ps(m[v], mv, s);
            __mmask16 sl;
            _mm512_store_ps(w->e + (size_t)j * R + 16 * v, expf16_fast(x, va, &sl));
            _mm512_store_ps(st, x);
            slow[j][v] = sl;
            any |= sl != 0;
            mvj |= (uint64_t)mv << (16 * v);
            vaj |= (uint64_t)va << (16 * v);
        }
        moved[j] = mvj;
        valid[j] = vaj;
    }
    for (int v = 0; v < NV; v++)
        _mm512_store_ps(w->m + 16 * v, m[v]);
    if (any)
        for (int j = 0; j < nk; j++)
            for (int v = 0; v < NV; v++)
                if (slow[j][v])
                    expf_lanes(w->e + (size_t)j * R + 16 * v, w->st + (size_t)j * R + 16 * v, slow[j][v]);
    __m512 one = _mm512_set1_ps(1.0f);
    for (int v = 0; v < NV; v++) {
        __m512 l = _mm512_load_ps(w->l + 16 * v);
        for (int j = 0; j < nk; j++) {
            __m512 e = _mm512_load_ps(w->e + (size_t)j * R + 16 * v);
            __mmask16 mv = (__mmask16)(moved[j] >> (16 * v)), va = (__mmask16)(valid[j] >> (16 * v));
            __m512 ms = _mm512_mask_mov_ps(one, mv, e), vs = _mm512_mask_mov_ps(e, mv, one);
            l = _mm512_mask_mov_ps(l, va, _mm512_add_ps(_mm512_mul_ps(l, ms), vs));
        }
        _mm512_store_ps(w->l + 16 * v, l);
    }
}

/* The values of the block into the accumulators of row vector v, elements
 * d0.. d0 + 15, held in registers across the positions. Where a maximum
 * moved the rescale runs on the whole vector (x 1 is exact on the other
 * lanes: they hold F16 values); outside [f0, f1) only the valid lanes take
 * the update. */
INLINE void values(const attn_blk_ws *w, int hd, int nk, int f0, int f1, const uint64_t *moved,
                   const uint64_t *valid, int v, int d0)
{
    int R = w->rows;
    float *acc = w->acc + (size_t)d0 * R + 16 * v;
    const float *vt = w->vt + d0, *e = w->e + 16 * v;
    __m512 a[16], one = _mm512_set1_ps(1.0f);
    for (int i = 0; i < 16; i++)
        a[i] = _mm512_load_ps(acc + (size_t)i * R);
    for (int j = 0; j < nk; j++, vt += hd, e += R) {
        __m512 vs = _mm512_load_ps(e);
        __mmask16 mv = (__mmask16)(moved[j] >> (16 * v));
        if (mv) {
            __m512 ms = _mm512_mask_mov_ps(one, mv, vs);
            vs = _mm512_mask_mov_ps(vs, mv, one);
            for (int i = 0; i < 16; i++)
                a[i] = round16(_mm512_mul_ps(a[i], ms));
        }
        if (j >= f0 && j < f1) {
            for (int i = 0; i < 16; i++)
                a[i] = round16(_mm512_fmadd_ps(_mm512_set1_ps(vt[i]), vs, a[i]));
        } else {
            __mmask16 va = (__mmask16)(valid[j] >> (16 * v));
            for (int i = 0; i < 16; i++)
                a[i] = _mm512_mask_mov_ps(a[i], va, round16(_mm512_fmadd_ps(_mm512_set1_ps(vt[i]), vs, a[i])));
        }
    }
    for (int i = 0; i < 16; i++)
        _mm512_store_ps(acc + (size_t)i * R, a[i]);
}

/* The sinks (gpt-oss) of the online softmax, as the one-query kernel adds
 * them after the positions: one more step of the running maximum with no
 * value, its rescale kept in ms for the final step (the accumulators stay
 * F16: the reference rescales a float copy). */
static void sink_fused(const attn_blk_ws *w)
{
    __m512 one = _mm512_set1_ps(1.0f);
    for (int r0 = 0; r0 < w->rows; r0 += 16) {
        __m512 sk = _mm512_load_ps(w->sk + r0), m = _mm512_load_ps(w->m + r0), l = _mm512_load_ps(w->l + r0);
        __mmask16 mv = _mm512_cmp_ps_mask(sk, m, _CMP_GT_OQ), sl;
        float x[16], e[16];
        _mm512_storeu_ps(x, _mm512_mask_sub_ps(_mm512_sub_ps(sk, m), mv, m, sk));
        _mm512_storeu_ps(e, expf16_fast(_mm512_loadu_ps(x), 0xFFFF, &sl));
        expf_lanes(e, x, sl);
        __m512 ev = _mm512_loadu_ps(e);
        __m512 ms = _mm512_mask_mov_ps(one, mv, ev), vs = _mm512_mask_mov_ps(ev, mv, one);
        _mm512_store_ps(w->l + r0, _mm512_add_ps(_mm512_mul_ps(l, ms), vs));
        _mm512_store_ps(w->ms + r0, ms);
    }
}

/* out = acc ms / l (0 if l is 0), the one-query kernel's final step (ms
 * is 1 without a sink: exact). */
static void finish(const kern_attn_qblk *b, const attn_blk_ws *w)
{
    int hd = b->hd, R = w->rows, nr = b->n_tok * b->n_grp;
    for (int r0 = 0; r0 < nr; r0 += 16) {
        __m512 l = _mm512_load_ps(w->l + r0), ms = _mm512_load_ps(w->ms + r0);
        __m512 inv = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(l, _mm512_setzero_ps(), _CMP_GT_OQ),
                                         _mm512_set1_ps(1.0f), l);
        for (int d0 = 0; d0 < hd; d0 += 16) {
            __m512 x[16];
            for (int i = 0; i < 16; i++)
                x[i] = _mm512_mul_ps(_mm512_mul_ps(_mm512_load_ps(w->acc + (size_t)(d0 + i) * R + r0), ms), inv);
            tr16_ps(x);
            for (int i = 0; i < 16 && r0 + i < nr; i++) {
                int t = (r0 + i) / b->n_grp, h = (r0 + i) % b->n_grp;
                _mm512_storeu_ps(b->out + (size_t)t * b->ldo + (size_t)h * hd + d0, x[i]);
            }
        }
    }
}

INLINE void run(const kern_attn_qblk *b, const attn_blk_ws *w, const int NV)
{
    int hd = b->hd, end = b->pos0 + b->n_tok;
    /* Positions from the last token's first to pos0 are visible to every
     * row (padding rows see everything). */
    int all0 = first_pos(b, end - 1);
    uint64_t moved[KERN_ATTN_BK], valid[KERN_ATTN_BK];
    for (int kb = first_pos(b, b->pos0); kb < end; kb += KERN_ATTN_BK) {
        int nk = end - kb < KERN_ATTN_BK ? end - kb : KERN_ATTN_BK;
        int f0 = all0 - kb > 0 ? all0 - kb : 0;
        int f1 = b->pos0 + 1 - kb < nk ? b->pos0 + 1 - kb : nk;
        if (f1 < f0)
            f0 = f1 = 0;
        load_kv(b, w, kb, nk);
        if (hd == 64)
            scores_q(w, nk, b->scale, NV, 2);
        else if (hd == 32)
            scores_q(w, nk, b->scale, NV, 1);
        else
            scores(w, hd, nk, b->scale, NV);
        if (b->softcap > 0)
            cap_scores(w, nk, b->softcap, NV);
        softmax(w, kb, nk, f0, f1, moved, valid, NV);
        for (int v = 0; v < NV; v++)
            for (int d0 = 0; d0 < hd; d0 += 16)
                values(w, hd, nk, f0, f1, moved, valid, v, d0);
    }
}

/* ------------------------------------------------------------------------
 * The unfused numerics (kern.h, attn_unfused in kern.c): every score of a
 * row first and their maximum; then each e^(s - max) in float, summed in
 * double in position order; each probability e * (float)(1 / sum) rounded
 * to F16; each output element the double sum, in position order, of value
 * times probability (a product of two F16 values: exact in float). Three
 * passes over the keys recompute the scores (and the exponentials) instead
 * of keeping a row of scores per position; lanes outside a row's span add
 * +0 to its sums, which changes nothing (a sum that starts at +0 never
 * becomes -0).
 * ---------------------------------------------------------------------- */

enum { UNF_MAX, UNF_SUM, UNF_VAL };

/* The block's scores (capped), into w->st. */
INLINE void block_scores(const kern_attn_qblk *b, const attn_blk_ws *w, int nk, const int NV)
{
    if (b->hd == 64)
        scores_q(w, nk, b->scale, NV, 2);
    else if (b->hd == 32)
        scores_q(w, nk, b->scale, NV, 1);
    else
        scores(w, b->hd, nk, b->scale, NV);
    if (b->softcap > 0)
        cap_scores(w, nk, b->softcap, NV);
}

/* The lanes of row vector v that see position p. */
INLINE __mmask16 span_mask(const attn_blk_ws *w, int v, int p)
{
    __m512i pj = _mm512_set1_epi32(p);
    return _mm512_mask_cmple_epi32_mask(_mm512_cmpge_epi32_mask(_mm512_load_si512(w->lim + 16 * v), pj),
                                        _mm512_load_si512(w->lo + 16 * v), pj);
}

/* e^(s - m) of the block's valid lanes into w->e (others +0). */
INLINE void unf_exp(const attn_blk_ws *w, int kb, int nk, const int NV)
{
    int R = w->rows;
    for (int j = 0; j < nk; j++)
        for (int v = 0; v < NV; v++) {
            __mmask16 va = span_mask(w, v, kb + j), sl;
            float *st = w->st + (size_t)j * R + 16 * v, *e = w->e + (size_t)j * R + 16 * v;
            __m512 x = _mm512_sub_ps(_mm512_load_ps(st), _mm512_load_ps(w->m + 16 * v));
            _mm512_store_ps(e, _mm512_maskz_mov_ps(va, expf16_fast(x, va, &sl)));
            if (sl) {
                _mm512_store_ps(st, x);
                expf_lanes(e, st, sl);
            }
        }
}

/* The value sums of row vector v, elements d0.. d0 + 7, over the block:
 * sixteen double accumulators (two per element) held in registers. */
INLINE void unf_values(const attn_blk_ws *w, int hd, int nk, int v, int d0)
{
    int R = w->rows;
    double *acc = w->dacc + (size_t)d0 * R + 16 * v;
    __m512d lo[8], hi[8];
    for (int i = 0; i < 8; i++) {
        lo[i] = _mm512_load_pd(acc + (size_t)i * R);
        hi[i] = _mm512_load_pd(acc + (size_t)i * R + 8);
    }
    const float *vt = w->vt + d0, *pr = w->e + 16 * v;
    for (int j = 0; j < nk; j++, vt += hd, pr += R) {
        __m512 p = _mm512_load_ps(pr);
        for (int i = 0; i < 8; i++) {
            __m512 x = _mm512_mul_ps(_mm512_set1_ps(vt[i]), p);
            lo[i] = _mm512_add_pd(lo[i], _mm512_cvtps_pd(_mm512_castps512_ps256(x)));
            hi[i] = _mm512_add_pd(
                hi[i], _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))));
        }
    }
    for (int i = 0; i < 8; i++) {
        _mm512_store_pd(acc + (size_t)i * R, lo[i]);
        _mm512_store_pd(acc + (size_t)i * R + 8, hi[i]);
    }
}

INLINE void run_unfused(const kern_attn_qblk *b, const attn_blk_ws *w, const int NV)
{
    int hd = b->hd, R = w->rows, end = b->pos0 + b->n_tok;
    __m512d sum[KERN_ATTN_MAX_ROWS / 8];
    __m512 inv[KERN_ATTN_MAX_ROWS / 16];
    for (int i = 0; i < 2 * NV; i++)
        sum[i] = _mm512_setzero_pd();
    for (int v = 0; v < NV; v++)
        inv[v] = _mm512_setzero_ps(); /* set after the sums' pass */
    memset(w->dacc, 0, (size_t)hd * R * sizeof *w->dacc);
    for (int pass = UNF_MAX; pass <= UNF_VAL; pass++) {
        for (int kb = first_pos(b, b->pos0); kb < end; kb += KERN_ATTN_BK) {
            int nk = end - kb < KERN_ATTN_BK ? end - kb : KERN_ATTN_BK;
            load_kv(b, w, kb, nk);
            block_scores(b, w, nk, NV);
            if (pass == UNF_MAX) {
                for (int v = 0; v < NV; v++) {
                    __m512 m = _mm512_load_ps(w->m + 16 * v);
                    for (int j = 0; j < nk; j++) {
                        __m512 s = _mm512_load_ps(w->st + (size_t)j * R + 16 * v);
                        m = _mm512_mask_mov_ps(m, _mm512_mask_cmp_ps_mask(span_mask(w, v, kb + j), s, m, _CMP_GT_OQ),
                                               s);
                    }
                    _mm512_store_ps(w->m + 16 * v, m);
                }
                continue;
            }
            unf_exp(w, kb, nk, NV);
            if (pass == UNF_SUM) {
                for (int v = 0; v < NV; v++)
                    for (int j = 0; j < nk; j++) {
                        __m512 e = _mm512_load_ps(w->e + (size_t)j * R + 16 * v);
                        sum[2 * v] = _mm512_add_pd(sum[2 * v], _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
                        sum[2 * v + 1] = _mm512_add_pd(
                            sum[2 * v + 1],
                            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
                    }
                continue;
            }
            /* the probabilities, rounded to F16 (invalid lanes stay +0) */
            for (int j = 0; j < nk; j++)
                for (int v = 0; v < NV; v++) {
                    float *e = w->e + (size_t)j * R + 16 * v;
                    _mm512_store_ps(e, round16(_mm512_mul_ps(_mm512_load_ps(e), inv[v])));
                }
            for (int v = 0; v < NV; v++)
                for (int d0 = 0; d0 < hd; d0 += 8)
                    unf_values(w, hd, nk, v, d0);
        }
        if (pass == UNF_MAX && b->sinks)
            for (int v = 0; v < NV; v++) {
                __m512 m = _mm512_load_ps(w->m + 16 * v), sk = _mm512_load_ps(w->sk + 16 * v);
                _mm512_store_ps(w->m + 16 * v, _mm512_mask_mov_ps(m, _mm512_cmp_ps_mask(sk, m, _CMP_GT_OQ), sk));
            }
        if (pass == UNF_SUM && b->sinks)
            for (int v = 0; v < NV; v++) {
                float x[16], e[16];
                __mmask16 sl;
                _mm512_storeu_ps(x, _mm512_sub_ps(_mm512_load_ps(w->sk + 16 * v), _mm512_load_ps(w->m + 16 * v)));
                _mm512_storeu_ps(e, expf16_fast(_mm512_loadu_ps(x), 0xFFFF, &sl));
                expf_lanes(e, x, sl);
                __m512 ev = _mm512_loadu_ps(e);
                sum[2 * v] = _mm512_add_pd(sum[2 * v], _mm512_cvtps_pd(_mm512_castps512_ps256(ev)));
                sum[2 * v + 1] = _mm512_add_pd(
                    sum[2 * v + 1], _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(ev), 1))));
            }
        if (pass == UNF_SUM)
            for (int v = 0; v < NV; v++) {
                __m512d one = _mm512_set1_pd(1.0);
                __m256 lo = _mm512_cvtpd_ps(_mm512_div_pd(one, sum[2 * v]));
                __m256 hi = _mm512_cvtpd_ps(_mm512_div_pd(one, sum[2 * v + 1]));
                inv[v] = _mm512_castpd_ps(
                    _mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
            }
    }
    /* out = (float) sum, through finish with l = 1 */
    for (int d = 0; d < hd; d++)
        for (int r = 0; r < R; r += 8)
            _mm256_store_ps(w->acc + (size_t)d * R + r, _mm512_cvtpd_ps(_mm512_load_pd(w->dacc + (size_t)d * R + r)));
    for (int r = 0; r < R; r++)
        w->l[r] = 1.0f;
}

void kern_attn_blk_avx512(const kern_attn_qblk *b, float *ws)
{
    attn_blk_ws w = attn_blk_layout(ws, b->hd, b->n_tok * b->n_grp);
    setup(b, &w);
    if (b->unfused)
        switch (w.rows / 16) {
        case 1: run_unfused(b, &w, 1); break;
        case 2: run_unfused(b, &w, 2); break;
        case 3: run_unfused(b, &w, 3); break;
        default: run_unfused(b, &w, 4); break;
        }
    else {
        switch (w.rows / 16) {
        case 1: run(b, &w, 1); break;
        case 2: run(b, &w, 2); break;
        case 3: run(b, &w, 3); break;
        default: run(b, &w, 4); break;
        }
        if (b->sinks)
            sink_fused(&w);
    }
    finish(b, &w);
}
