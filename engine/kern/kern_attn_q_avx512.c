/*
 * kern_attn_q_avx512.c - the AVX-512 twin of kern_attnq_scalar (VNNI for
 * the integer block sums, 16-lane value updates): per query
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

#include "core/tr16_avx512.h"
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

/* sum of k[i] * q[i] over 32 signed bytes, exact (|k|, |q| <= 127 for
 * Q8_0, the sign moved onto q) */
static inline int idot32(__m256i k, __m256i q)
{
    __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(k), _mm256_sign_epi8(q, k));
    return hsum_i32(p);
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
    __m512 wv = _mm512_set1_ps(w);
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
        __m512 d = _mm512_set1_ps(h2f(vb));
        __m128i part[2] = {_mm256_castsi256_si128(q8), _mm256_extracti128_si256(q8, 1)};
        for (int j = 0; j < 2; j++) {
            __m512 x = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(part[j])));
            float *a = acc + 32 * b + 16 * j;
            _mm512_storeu_ps(a, _mm512_fmadd_ps(x, wv, _mm512_loadu_ps(a)));
        }
    }
}

/* kern_attnq_exp on sixteen lanes: the scalar's operations lane by lane */
static inline __m512 exp16(__m512 x)
{
    const __mmask16 ok = _mm512_cmp_ps_mask(x, _mm512_set1_ps(KERN_ATTNQ_EXP_MIN), _CMP_GE_OQ);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(KERN_ATTNQ_EXP_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_fmadd_ps(n, _mm512_set1_ps(-KERN_ATTNQ_EXP_LN2_HI), x);
    f = _mm512_fmadd_ps(n, _mm512_set1_ps(-KERN_ATTNQ_EXP_LN2_LO), f);
    __m512 p = _mm512_set1_ps(KERN_ATTNQ_EXP_C6);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(KERN_ATTNQ_EXP_C5));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(KERN_ATTNQ_EXP_C4));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(KERN_ATTNQ_EXP_C3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(KERN_ATTNQ_EXP_C2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mul_ps(ok, p, _mm512_castsi512_ps(e));
}

typedef struct head_state {
    uint8_t *qbuf;
    float *acc;
    float *mx, *sum;
} head_state;

static float fq_softmax(float *s, int nt, float *w, head_state *hs, bool softcap, float cap);

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
    }
    /* the softmax step the tile path takes too (the scores capped above) */
    const float ms = fq_softmax(s, nt, w, hs, false, 0.0f);
    if (!isnan(ms)) {
        __m256 m = _mm256_set1_ps(ms);
        for (int d = 0; d < hd; d += 8)
            _mm256_storeu_ps(hs->acc + d, _mm256_mul_ps(_mm256_loadu_ps(hs->acc + d), m));
    }
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
}

/* ------------------------------------------------------------------------
 * Quantized keys, hd a multiple of 64 up to 256: the group's heads over a
 * tile of positions at a time, with the work that depends only on the
 * keys and values done once per tile instead of once per head.
 *
 * Keys: sixteen positions' rows are loaded, offset by 128 to unsigned
 * bytes and transposed (16 x 16 dwords per 64 values), so that register j
 * holds dword j of the sixteen positions; a head's scores then take one
 * vpdpbusd per dword against its query's dword broadcast, the positions
 * in the lanes: no horizontal sums. The offset comes back through -128 x
 * the query block's sum, the accumulators' start, so each block's integer
 * sum is exact; the float steps are the scalar's, lane by lane (0 +
 * isum * (dk * dq), + the next block's, times scale). Values: the tile's
 * row addresses and block scales found once; then, for up to eight heads
 * and 32 or 64 values at a time, the accumulators stay in registers across
 * the tile while each value chunk is dequantized in a register (d * q,
 * exact) for all of those heads, fmaf in position order (no dequantized
 * copy of the tile goes through memory). The same operations as the
 * scalar twin in the same order: the same bits.
 * ---------------------------------------------------------------------- */

enum { FQ_MAX_HD = 256, FQ_T = KERN_ATTNQ_TILE };

/* A head's query as Q8_0: its bytes, each block's scale and -128 x its
 * sum (the start of the block's accumulator). */
typedef struct fq_head {
    _Alignas(64) int8_t q[FQ_MAX_HD];
    float dq[FQ_MAX_HD / 32];
    int32_t nq[FQ_MAX_HD / 32];
} fq_head;

static inline int32_t ld32i(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* 64 key values (blocks 2c, 2c + 1) of one row as signed bytes. */
static inline __m512i fq_key64(int kt, const uint8_t *row, int c)
{
    if (kt == QT_Q8_0) {
        const uint8_t *b0 = row + (size_t)(2 * c) * 34;
        return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(b0 + 2))),
                                  _mm256_loadu_si256((const __m256i *)(b0 + 36)), 1);
    }
    const uint8_t *b0 = row + (size_t)(2 * c) * 18;
    return _mm512_inserti64x4(_mm512_castsi256_si512(q4_unpack(b0 + 2)), q4_unpack(b0 + 20), 1);
}

/* Rows h0 .. h0 + NH - 1's scores for sixteen positions (kt: their keys
 * transposed, dk their block scales). Always inlined with NH a constant,
 * so that the accumulators stay in registers and the loops unroll. */
static inline __attribute__((always_inline)) void fq_dots(const int NH, const __m512i *kt, const fq_head *qh,
                                                          int nb, const float (*dk)[16], float scale, int i0,
                                                          const int *ntr, int h0, int n_grp, float (*s)[FQ_T])
{
    __m512 x[8];
    for (int k = 0; k < NH; k++)
        x[k] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m512i acc[8];
        for (int k = 0; k < NH; k++)
            acc[k] = _mm512_set1_epi32(qh[k].nq[b]);
        for (int j = 0; j < 8; j++) {
            const __m512i kj = kt[8 * b + j];
            for (int k = 0; k < NH; k++)
                acc[k] = _mm512_dpbusd_epi32(acc[k], kj, _mm512_set1_epi32(ld32i(qh[k].q + 32 * b + 4 * j)));
        }
        const __m512 dkb = _mm512_load_ps(dk[b]);
        for (int k = 0; k < NH; k++) {
            const __m512 d = _mm512_mul_ps(dkb, _mm512_set1_ps(qh[k].dq[b]));
            x[k] = _mm512_add_ps(x[k], _mm512_mul_ps(_mm512_cvtepi32_ps(acc[k]), d));
        }
    }
    for (int k = 0; k < NH; k++) {
        const int n = ntr[(h0 + k) / n_grp] - i0;
        const __mmask16 live = n >= 16 ? 0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
        const __m512 y = _mm512_mul_ps(x[k], _mm512_set1_ps(scale));
        _mm512_storeu_ps(s[h0 + k] + i0, _mm512_mask_blend_ps(live, _mm512_set1_ps(-INFINITY), y));
    }
}

/* Scores of tile positions p0 .. p0 + nt - 1 for every row (token
 * r / n_grp, head r % n_grp): s[r][i], -inf from the token's own length
 * ntr[r / n_grp] (at most nt) on. */
static void fq_scores(const kern_attnq_span *sp, int hd, int p0, int nt, int n_rows, int n_grp, const int *ntr,
                      const fq_head *qh, float (*s)[FQ_T])
{
    const int nb = hd / 32, kb = sp->kt == QT_Q8_0 ? 34 : 18;
    for (int half = 0; half < FQ_T / 16; half++) {
        const int i0 = 16 * half;
        if (i0 >= nt) {
            for (int r = 0; r < n_rows; r++)
                _mm512_storeu_ps(s[r] + i0, _mm512_set1_ps(-INFINITY));
            continue;
        }
        const uint8_t *row[16];
        for (int i = 0; i < 16; i++) {
            const int p = i0 + i < nt ? p0 + i0 + i : p0;
            row[i] = sp->k + (size_t)(sp->ring ? p % sp->ring : p) * sp->ldk;
        }
        _Alignas(64) float dk[FQ_MAX_HD / 32][16];
        for (int b = 0; b < nb; b++)
            for (int i = 0; i < 16; i++)
                dk[b][i] = h2f(row[i] + (size_t)b * kb);
        __m512i kt[FQ_MAX_HD / 4];
        const __m512i k80 = _mm512_set1_epi8((char)0x80);
        for (int c = 0; c < hd / 64; c++) {
            __m512i a[16];
            for (int i = 0; i < 16; i++)
                a[i] = _mm512_xor_si512(fq_key64(sp->kt, row[i], c), k80);
            tr16_epi32(a);
            for (int j = 0; j < 16; j++)
                kt[16 * c + j] = a[j];
        }
        /* eight rows at a time, block by block: eight independent
         * vpdpbusd chains (one would wait on each one's latency) */
        int h0 = 0;
        for (; h0 + 8 <= n_rows; h0 += 8)
            fq_dots(8, kt, qh + h0, nb, dk, sp->scale, i0, ntr, h0, n_grp, s);
        for (; h0 + 4 <= n_rows; h0 += 4)
            fq_dots(4, kt, qh + h0, nb, dk, sp->scale, i0, ntr, h0, n_grp, s);
        for (; h0 < n_rows; h0++)
            fq_dots(1, kt, qh + h0, nb, dk, sp->scale, i0, ntr, h0, n_grp, s);
    }
}

/* The tile's value rows: each row's address and its blocks' scales as
 * floats (F16 rows need none). */
typedef struct fq_vtile {
    const uint8_t *row[FQ_T];
    float d[FQ_T][FQ_MAX_HD / 32];
} fq_vtile;

static void fq_value_rows(const kern_attnq_span *sp, int hd, int p0, int nt, fq_vtile *vt)
{
    const int vb_bytes = sp->vt == QT_Q8_0 ? 34 : 18;
    for (int i = 0; i < nt; i++) {
        const int p = p0 + i;
        vt->row[i] = sp->v + (size_t)(sp->ring ? p % sp->ring : p) * sp->ldv;
        if (sp->vt != QT_F16)
            for (int b = 0; b < hd / 32; b++)
                vt->d[i][b] = h2f(vt->row[i] + (size_t)b * vb_bytes);
    }
}

/* Values c .. c + 15 of a tile row as floats: d * q (exact), or F16. */
static inline __attribute__((always_inline)) __m512 fq_v16(int vt, const fq_vtile *t, int i, int c)
{
    const uint8_t *r = t->row[i];
    if (vt == QT_F16)
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r + 2 * (size_t)c)));
    const int b = c / 32, half = (c / 16) & 1;
    __m512i q;
    if (vt == QT_Q8_0) {
        q = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(r + (size_t)b * 34 + 2 + 16 * half)));
    } else {
        const __m512i x = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(r + (size_t)b * 18 + 2)));
        q = _mm512_sub_epi32(_mm512_and_si512(half ? _mm512_srli_epi32(x, 4) : x, _mm512_set1_epi32(15)),
                             _mm512_set1_epi32(8));
    }
    return _mm512_mul_ps(_mm512_set1_ps(t->d[i][b]), _mm512_cvtepi32_ps(q));
}

/* One head's softmax step over a tile of its scores s (both paths take it):
 * its weights w, its running max and sum updated; returns the factor its
 * accumulator is to be rescaled by first (NaN: none, its max did not move). */
static float fq_softmax(float *s, int nt, float *w, head_state *hs, bool softcap, float cap)
{
    if (softcap)
        for (int i = 0; i < nt; i++)
            s[i] = tanhf(s[i] * (1.0f / cap)) * cap;
    /* the lanes from nt on hold -inf: the maximum of the tile's scores */
    const __m512 s0 = _mm512_loadu_ps(s), s1 = _mm512_loadu_ps(s + 16);
    const float tm = _mm512_reduce_max_ps(_mm512_max_ps(s0, s1));
    float mx = *hs->mx, ms = 1.0f;
    float sum = *hs->sum;
    const bool rescale = tm > mx;
    if (rescale) {
        ms = expf(mx - tm);
        mx = tm;
        sum *= ms;
    }
    /* exp16's weights; the fold (lanes l and l + 16, then l and l + 8,
     * halves, pairwise) is the scalar's */
    const __m512 mv = _mm512_set1_ps(mx);
    const __m512 w0 = exp16(_mm512_sub_ps(s0, mv)), w1 = exp16(_mm512_sub_ps(s1, mv));
    _mm512_storeu_ps(w, w0);
    _mm512_storeu_ps(w + 16, w1);
    const __m512 t = _mm512_add_ps(w0, w1);
    __m256 r8 = _mm256_add_ps(_mm512_castps512_ps256(t), _mm512_extractf32x8_ps(t, 1));
    __m128 r4 = _mm_add_ps(_mm256_castps256_ps128(r8), _mm256_extractf128_ps(r8, 1));
    __m128 r2 = _mm_add_ps(r4, _mm_movehl_ps(r4, r4));
    __m128 r1 = _mm_add_ss(r2, _mm_shuffle_ps(r2, r2, 1));
    sum += _mm_cvtss_f32(r1);
    *hs->mx = mx;
    *hs->sum = sum;
    return rescale ? ms : NAN;
}

/* Heads h0 .. h0 + NH - 1, values c0 .. c0 + 16 ND - 1: NH x ND
 * accumulators in registers (independent fmadd chains), each rescaled if
 * its head's max moved, then acc += v * w position after position, each
 * value chunk dequantized once in a register for the NH heads. Each
 * accumulator sees the scalar's operations in its order: the same bits. */
static inline __attribute__((always_inline)) void fq_vacc(const int NH, const int ND, int vt, const fq_vtile *t,
                                                          int nt, int c0, float (*w)[FQ_T], const float *ms,
                                                          head_state *hs)
{
    __m512 a[8][4];
    for (int k = 0; k < NH; k++)
        for (int d = 0; d < ND; d++) {
            a[k][d] = _mm512_loadu_ps(hs[k].acc + c0 + 16 * d);
            if (!isnan(ms[k]))
                a[k][d] = _mm512_mul_ps(a[k][d], _mm512_set1_ps(ms[k]));
        }
    for (int i = 0; i < nt; i++)
        for (int d = 0; d < ND; d++) {
            const __m512 v = fq_v16(vt, t, i, c0 + 16 * d);
            for (int k = 0; k < NH; k++)
                a[k][d] = _mm512_fmadd_ps(v, _mm512_set1_ps(w[k][i]), a[k][d]);
        }
    for (int k = 0; k < NH; k++)
        for (int d = 0; d < ND; d++)
            _mm512_storeu_ps(hs[k].acc + c0 + 16 * d, a[k][d]);
}

/* One value type's passes: heads eight at a time (32 values a pass), then
 * four, then one (64 values a pass): 16 accumulators a pass at most. */
#define FQ_ACC(NAME, VT)                                                                           \
    static void NAME(int hd, int n_grp, int nt, const fq_vtile *t, float (*w)[FQ_T], const float *ms, \
                     head_state *hs)                                                               \
    {                                                                                              \
        int h = 0;                                                                                 \
        for (; h + 8 <= n_grp; h += 8)                                                             \
            for (int c = 0; c < hd; c += 32)                                                       \
                fq_vacc(8, 2, VT, t, nt, c, w + h, ms + h, hs + h);                                \
        for (; h + 4 <= n_grp; h += 4)                                                             \
            for (int c = 0; c < hd; c += 64)                                                       \
                fq_vacc(4, 4, VT, t, nt, c, w + h, ms + h, hs + h);                                \
        for (; h < n_grp; h++)                                                                     \
            for (int c = 0; c < hd; c += 64)                                                       \
                fq_vacc(1, 4, VT, t, nt, c, w + h, ms + h, hs + h);                                \
    }
FQ_ACC(fq_acc_q8, QT_Q8_0)
FQ_ACC(fq_acc_q4, QT_Q4_0)
FQ_ACC(fq_acc_f16, QT_F16)

/* The tile's values into every head's accumulator. */
static void fq_accumulate(int vt, int hd, int n_grp, int nt, const fq_vtile *t, float (*w)[FQ_T],
                          const float *ms, head_state *hs)
{
    if (vt == QT_Q8_0)
        fq_acc_q8(hd, n_grp, nt, t, w, ms, hs);
    else if (vt == QT_Q4_0)
        fq_acc_q4(hd, n_grp, nt, t, w, ms, hs);
    else
        fq_acc_f16(hd, n_grp, nt, t, w, ms, hs);
}

enum { MAX_ROWS = 64 };

/* Row r's state in tmp (kern_attnq_tmp_bytes's layout), its query
 * converted, its accumulator cleared. */
static void rows_init(const float *q, size_t ldq, int n_tok, int n_grp, int hd, int kt, void *tmp, head_state *hs)
{
    const int n = n_tok * n_grp;
    size_t qs = al64((size_t)hd * 2), as = al64((size_t)hd * 4);
    uint8_t *base = tmp;
    float *st = (float *)(void *)(base + (size_t)n * (qs + as));
    for (int r = 0; r < n; r++) {
        hs[r].qbuf = base + (size_t)r * (qs + as);
        hs[r].acc = (float *)(void *)(hs[r].qbuf + qs);
        hs[r].mx = st + 2 * r;
        hs[r].sum = st + 2 * r + 1;
        kern_attnq_prep_q(kt, q + (size_t)(r / n_grp) * ldq + (size_t)(r % n_grp) * hd, hd, hs[r].qbuf);
        memset(hs[r].acc, 0, (size_t)hd * 4);
        *hs[r].mx = -INFINITY;
        *hs[r].sum = 0;
    }
}

/* Rows come from DRAM at long contexts (a KV head's keys, then its
 * values, one contiguous run each), but the hardware prefetchers follow
 * them poorly: a tile asks for its rows in one burst and then computes
 * for about a microsecond, so each burst meets the memory's latency
 * again. The rows FQ_PF_TILES tiles ahead are therefore requested while
 * this one computes: the keys before its scores, the values before its
 * accumulation. Two threads, 16,384 positions, 570 MB of rows (beyond
 * the L3), best of interleaved runs: 51 -> 42 ns a position for 4 heads
 * of 128, 31 -> 27 for 8 heads of 64. Requesting one position's rows at
 * each step of the value pass instead, so that no burst waits for fill
 * buffers, measured worse (51 ns). Advisory only: no result depends on
 * it. */
enum { FQ_PF_TILES = 2 };

static void fq_prefetch(const uint8_t *base, size_t ld, int p, int n, int ring)
{
    int r = ring ? p % ring : p;
    while (n > 0) {
        const int run = ring && r + n > ring ? ring - r : n;
        const char *a = (const char *)base + (size_t)r * ld;
        for (size_t o = 0; o < (size_t)run * ld; o += 64)
            _mm_prefetch(a + o, _MM_HINT_T0);
        n -= run;
        r = 0;
    }
}

/* The tile path over n_tok tokens of n_grp heads: token t sees positions
 * lo .. hi - n_tok + t. */
static void fq_run(const kern_attnq_span *sp, int hd, int n_tok, int n_grp, head_state *hs)
{
    const int n_rows = n_tok * n_grp;
    fq_head qh[MAX_ROWS];
    for (int r = 0; r < n_rows; r++)
        for (int b = 0; b < hd / 32; b++) {
            const uint8_t *qb = hs[r].qbuf + (size_t)b * 34;
            int32_t t = 0;
            memcpy(qh[r].q + 32 * b, qb + 2, 32);
            for (int i = 0; i < 32; i++)
                t += (int8_t)qb[2 + i];
            qh[r].dq[b] = h2f(qb);
            qh[r].nq[b] = -128 * t;
        }
    _Alignas(64) float s[MAX_ROWS][FQ_T];
    _Alignas(64) float w[MAX_ROWS][FQ_T], ms[MAX_ROWS];
    fq_vtile vt;
    int ntr[MAX_ROWS];
    for (int p0 = sp->lo; p0 < sp->hi; p0 += FQ_T) {
        const int nt = sp->hi - p0 < FQ_T ? sp->hi - p0 : FQ_T;
        for (int t = 0; t < n_tok; t++) {
            const int n = sp->hi - (n_tok - 1 - t) - p0;
            ntr[t] = n < nt ? n : nt;
        }
        const int pf = p0 + FQ_PF_TILES * FQ_T, npf = sp->hi - pf < FQ_T ? sp->hi - pf : FQ_T;
        if (npf > 0)
            fq_prefetch(sp->k, sp->ldk, pf, npf, sp->ring);
        fq_scores(sp, hd, p0, nt, n_rows, n_grp, ntr, qh, s);
        fq_value_rows(sp, hd, p0, nt, &vt);
        if (npf > 0)
            fq_prefetch(sp->v, sp->ldv, pf, npf, sp->ring);
        for (int t = 0; t < n_tok; t++) {
            if (ntr[t] <= 0) /* its span ended before this tile */
                continue;
            for (int h = t * n_grp; h < (t + 1) * n_grp; h++)
                ms[h] = fq_softmax(s[h], ntr[t], w[h], &hs[h], sp->softcap > 0, sp->softcap);
            fq_accumulate(sp->vt, hd, n_grp, ntr[t], &vt, w + t * n_grp, ms + t * n_grp, hs + t * n_grp);
        }
    }
}

/* out of each row: its accumulator over its sum (the sinks' share taken). */
static void rows_finish(const kern_attnq_span *sp, int n_tok, int n_grp, int hd, head_state *hs, float *out,
                        size_t ldo)
{
    for (int r = 0; r < n_tok * n_grp; r++) {
        const int h = r % n_grp;
        float mx = *hs[r].mx, sum = *hs[r].sum, ms = 1.0f;
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
        float *o = out + (size_t)(r / n_grp) * ldo + (size_t)h * hd;
        for (int d = 0; d < hd; d += 8)
            _mm256_storeu_ps(o + d, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(hs[r].acc + d), msv), iv));
    }
}

static bool fq_fits(const kern_attnq_span *sp, int hd, int n_rows)
{
    return sp->kt != QT_F16 && hd % 64 == 0 && hd <= FQ_MAX_HD && n_rows <= MAX_ROWS;
}

void kern_attnq_avx512(const float *q, int n_grp, int hd, const kern_attnq_span *sp, void *tmp,
                     float *out)
{
    if (n_grp > MAX_ROWS || hd > 512 || hd % 32) {
        kern_attnq_scalar(q, n_grp, hd, sp, tmp, out);
        return;
    }
    head_state hs[MAX_ROWS];
    rows_init(q, 0, 1, n_grp, hd, sp->kt, tmp, hs);
    if (fq_fits(sp, hd, n_grp)) {
        fq_run(sp, hd, 1, n_grp, hs);
    } else {
        /* a tile of keys and values for every head of the group before
         * the next: read from memory once, then from the first level
         * cache */
        for (int p0 = sp->lo; p0 < sp->hi; p0 += KERN_ATTNQ_TILE) {
            int nt = sp->hi - p0 < KERN_ATTNQ_TILE ? sp->hi - p0 : KERN_ATTNQ_TILE;
            for (int h = 0; h < n_grp; h++)
                head_tile(sp, hd, p0, nt, &hs[h]);
        }
    }
    rows_finish(sp, 1, n_grp, hd, hs, out, 0);
}

bool kern_attnq_multi_avx512(const float *q, size_t ldq, int n_tok, int n_grp, int hd,
                             const kern_attnq_span *sp, void *tmp, float *out, size_t ldo)
{
    if (!fq_fits(sp, hd, n_tok * n_grp) || sp->hi - sp->lo < n_tok)
        return false;
    head_state hs[MAX_ROWS];
    rows_init(q, ldq, n_tok, n_grp, hd, sp->kt, tmp, hs);
    fq_run(sp, hd, n_tok, n_grp, hs);
    rows_finish(sp, n_tok, n_grp, hd, hs, out, ldo);
    return true;
}
