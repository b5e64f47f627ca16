/*
 * quant_gemm_pack_avx512.c - k-quant GEMM on row-interleaved weights
 * (see quant_gemm_pack.h), for prefill batches.
 *
 * Why: the per-row kernels of quant_gemm_avx512.c spend two multiplies
 * per 64 weights x token (maddubs, then vpdpwssd for the sub-block
 * scales) plus a horizontal reduction per super-block, row and token.
 * Here the 32-bit lanes of a register are 16 different weight rows, each
 * holding 4 consecutive quants of its row, so one vpdpbusd multiplies 16
 * rows by the same 4 activation bytes (a broadcast) and sums into 16
 * per-row lanes: no reduction at all, and the unsigned 4- to 6-bit quants
 * are vpdpbusd's unsigned operand as they are. The sub-block scale is
 * applied once per sub-block (vpmulld) and the mins / offset once per
 * super-block (vpdpwssd on the activation's per-16 sums).
 *
 * Bits: a super-block's integer sum is exact whatever the order, and the
 * float combination per super-block, row and token repeats the AVX-512
 * vec_dot's operations in its order (lane by lane), so every element has
 * the vec_dot's bits.
 *
 * The interleaving (a 16 x 16 dword transpose per 64 bytes of quants) is
 * done per call, a whole 16-row panel at a time into a work buffer that
 * stays in L2 while it meets a block of tokens whose activations stay in
 * L2 too; a tile of 8 tokens runs over the whole row with its float sums
 * in registers (storing them per super-block cost a masked load and store
 * per token and super-block, 12% of the samples).
 */
#include <immintrin.h>
#include <stdlib.h>

#include "quant/quant_gemm_pack.h"
#include "quant/quant_impl.h"

typedef const uint8_t *bytes;

/* Tokens per register tile: each interleaved weight register feeds NT
 * vpdpbusd against NT broadcasts (8 chains of vpdpbusd hide its latency
 * without splitting a token's sum in two); the last tiles of a token
 * block take 4, then fewer. */
#define NT 8
/* Tokens per cache block: as many as fit TB_CACHE bytes of activations
 * (Q8_K: 292 bytes per 256 elements), which stay in L2 while every panel
 * of the row range meets them; each panel's weights are read from memory
 * once per block. */
#define TB_CACHE (512 * 1024)
#define TB_MAX 256

/* One super-block of a 16-row panel, interleaved: u[g] lane r = quants
 * 4g..4g+3 of row r (unsigned bytes); sc[s] lane r = the scale of
 * sub-block s; m2[p] lane r = two int16 factors of the per-16 sums
 * bsums[2p], bsums[2p+1] (Q4_K/Q5_K: the min of sub-block p twice; Q6_K:
 * -32 x the scales of sub-blocks 2p, 2p+1, the offset of its quants);
 * dx, dmin: the rows' half scales. */
typedef struct kpack {
    _Alignas(64) uint8_t u[64][64];
    _Alignas(64) int32_t sc[16][16];
    _Alignas(64) int32_t m2[8][16];
    _Alignas(64) float dx[16];
    _Alignas(64) float dmin[16];
} kpack;

static inline float h2f(const uint8_t *p)
{
    qhalf h;
    memcpy(&h, p, sizeof h);
    return _cvtsh_ss(h);
}

static inline int32_t ld32(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* One sub-block of gps (8 or 4) groups against 4 tokens: si[t] +=
 * scale x (sum over the groups g of vpdpbusd(u[g], the 4 bytes at
 * y0 + t * ab + 4g in every lane)), scale the sub-block's row scales at
 * sc.
 * Written out in assembly because GCC 12 neither embeds the broadcast in
 * vpdpbusd ({1to16}) nor keeps one weight register for the four tokens:
 * it reorders token by token, reloads the weights (two loads per
 * vpdpbusd) and spills the accumulators. Even and odd groups accumulate
 * apart (8 chains of vpdpbusd instead of 4, for its latency); integer
 * sums, so the split is exact. */
#define KP_GROUP(G, A)                                                                        \
    "vmovdqa64 " #G "*64(%[u]), %[w]\n\t"                                                      \
    "vpdpbusd " #G "*4(%[y0])%{1to16%}, %[w], %[" #A "0]\n\t"                                 \
    "vpdpbusd " #G "*4(%[y0],%[ab])%{1to16%}, %[w], %[" #A "1]\n\t"                           \
    "vpdpbusd " #G "*4(%[y2])%{1to16%}, %[w], %[" #A "2]\n\t"                                 \
    "vpdpbusd " #G "*4(%[y2],%[ab])%{1to16%}, %[w], %[" #A "3]\n\t"
#define KP_ZERO(R) "vpxord %[" #R "], %[" #R "], %[" #R "]\n\t"
#define KP_START KP_ZERO(a0) KP_ZERO(a1) KP_ZERO(a2) KP_ZERO(a3) KP_ZERO(b0) KP_ZERO(b1) KP_ZERO(b2) KP_ZERO(b3)
#define KP_SCALE(T)                                                                           \
    "vpaddd %[b" #T "], %[a" #T "], %[a" #T "]\n\t"                                             \
    "vpmulld (%[sc]), %[a" #T "], %[a" #T "]\n\t"                                              \
    "vpaddd %[a" #T "], %[s" #T "], %[s" #T "]\n\t"
/* then the pointers step to the next sub-block (fewer live pointers:
 * GCC otherwise parks them in xmm registers) */
#define KP_END(GPS)                                                                           \
    KP_SCALE(0) KP_SCALE(1) KP_SCALE(2) KP_SCALE(3)                                           \
    "add $" #GPS "*64, %[u]\n\tadd $64, %[sc]\n\tadd $" #GPS "*4, %[y0]\n\tadd $" #GPS "*4, %[y2]\n\t"
#define KP_OPERANDS                                                                           \
    : [s0] "+v"(si[0]), [s1] "+v"(si[1]), [s2] "+v"(si[2]), [s3] "+v"(si[3]), [a0] "=&v"(a0),   \
      [a1] "=&v"(a1), [a2] "=&v"(a2), [a3] "=&v"(a3), [b0] "=&v"(b0), [b1] "=&v"(b1),           \
      [b2] "=&v"(b2), [b3] "=&v"(b3), [w] "=&v"(w), [u] "+r"(k->u), [sc] "+r"(k->sc),           \
      [y0] "+r"(k->y0), [y2] "+r"(k->y2)                                                        \
    : [ab] "r"(k->ab)                                                                         \
    : "memory", "cc"

/* Where kp_sub4 reads: the sub-block's interleaved quants and scales and
 * tokens 0 and 2 of the tile (1 and 3 are ab further). */
typedef struct kp_ptrs {
    const uint8_t *u;
    const int32_t *sc;
    const int8_t *y0, *y2;
    size_t ab;
} kp_ptrs;

static inline __attribute__((always_inline)) void kp_sub4(kp_ptrs *k, int gps, __m512i si[4])
{
    __m512i a0, a1, a2, a3, b0, b1, b2, b3, w;
    if (gps == 8)
        __asm__(KP_START KP_GROUP(0, a) KP_GROUP(1, b) KP_GROUP(2, a) KP_GROUP(3, b) KP_GROUP(4, a)
                    KP_GROUP(5, b) KP_GROUP(6, a) KP_GROUP(7, b) KP_END(8) KP_OPERANDS);
    else
        __asm__(KP_START KP_GROUP(0, a) KP_GROUP(1, b) KP_GROUP(2, a) KP_GROUP(3, b) KP_END(4) KP_OPERANDS);
}

/* One sub-block of gps groups against 8 tokens: as kp_sub4, with one
 * chain per token (eight chains already), the partial sums in fixed
 * registers (clobbered) so that the operands stay within GCC's 30. Token
 * j's quants are at y0 (j < 4) or y4 (j >= 4) plus (j % 4) * ab. */
#define K8_P0 "%%zmm16"
#define K8_P1 "%%zmm17"
#define K8_P2 "%%zmm18"
#define K8_P3 "%%zmm19"
#define K8_P4 "%%zmm20"
#define K8_P5 "%%zmm21"
#define K8_P6 "%%zmm22"
#define K8_P7 "%%zmm23"
#define K8_W "%%zmm24"
#define K8_A0 "(%[y0])"
#define K8_A1 "(%[y0],%[ab])"
#define K8_A2 "(%[y0],%[ab],2)"
#define K8_A3 "(%[y0],%[ab3])"
#define K8_A4 "(%[y4])"
#define K8_A5 "(%[y4],%[ab])"
#define K8_A6 "(%[y4],%[ab],2)"
#define K8_A7 "(%[y4],%[ab3])"
#define K8_ZERO(J) "vpxord " K8_P##J ", " K8_P##J ", " K8_P##J "\n\t"
#define K8_DOT(G, J) "vpdpbusd " #G "*4" K8_A##J "%{1to16%}, " K8_W ", " K8_P##J "\n\t"
#define K8_GROUP(G)                                                                           \
    "vmovdqa64 " #G "*64(%[u]), " K8_W "\n\t" K8_DOT(G, 0) K8_DOT(G, 1) K8_DOT(G, 2)          \
        K8_DOT(G, 3) K8_DOT(G, 4) K8_DOT(G, 5) K8_DOT(G, 6) K8_DOT(G, 7)
#define K8_SCALE(J)                                                                           \
    "vpmulld " K8_W ", " K8_P##J ", " K8_P##J "\n\t"                                          \
    "vpaddd " K8_P##J ", %[s" #J "], %[s" #J "]\n\t"
#define K8_START K8_ZERO(0) K8_ZERO(1) K8_ZERO(2) K8_ZERO(3) K8_ZERO(4) K8_ZERO(5) K8_ZERO(6) K8_ZERO(7)
#define K8_END(GPS)                                                                           \
    "vmovdqa64 (%[sc]), " K8_W "\n\t" K8_SCALE(0) K8_SCALE(1) K8_SCALE(2) K8_SCALE(3)         \
        K8_SCALE(4) K8_SCALE(5) K8_SCALE(6) K8_SCALE(7)                                       \
    "add $" #GPS "*64, %[u]\n\tadd $64, %[sc]\n\tadd $" #GPS "*4, %[y0]\n\tadd $" #GPS "*4, %[y4]\n\t"
#define K8_OPERANDS                                                                           \
    : [s0] "+v"(si[0]), [s1] "+v"(si[1]), [s2] "+v"(si[2]), [s3] "+v"(si[3]), [s4] "+v"(si[4]), \
      [s5] "+v"(si[5]), [s6] "+v"(si[6]), [s7] "+v"(si[7]), [u] "+r"(k->u), [sc] "+r"(k->sc),   \
      [y0] "+r"(k->y0), [y4] "+r"(k->y4)                                                        \
    : [ab] "r"(k->ab), [ab3] "r"(k->ab3)                                                        \
    : "memory", "cc", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",  \
      "xmm24"

typedef struct kp_ptrs8 {
    const uint8_t *u;
    const int32_t *sc;
    const int8_t *y0, *y4;
    size_t ab, ab3;
} kp_ptrs8;

static inline __attribute__((always_inline)) void kp_sub8(kp_ptrs8 *k, int gps, __m512i si[8])
{
    if (gps == 8)
        __asm__(K8_START K8_GROUP(0) K8_GROUP(1) K8_GROUP(2) K8_GROUP(3) K8_GROUP(4) K8_GROUP(5)
                    K8_GROUP(6) K8_GROUP(7) K8_END(8) K8_OPERANDS);
    else
        __asm__(K8_START K8_GROUP(0) K8_GROUP(1) K8_GROUP(2) K8_GROUP(3) K8_END(4) K8_OPERANDS);
}

/* In place: a[j] lane r becomes the old a[r] lane j (16 x 16 dwords). */
void qgp_transpose16(__m512i a[16])
{
    __m512i b[16], c[16];
    for (int i = 0; i < 8; i++) {
        b[2 * i] = _mm512_unpacklo_epi32(a[2 * i], a[2 * i + 1]);
        b[2 * i + 1] = _mm512_unpackhi_epi32(a[2 * i], a[2 * i + 1]);
    }
    /* c[4j + m], 128-bit lane L: column 4L + m of rows 4j..4j+3 */
    for (int j = 0; j < 4; j++) {
        c[4 * j + 0] = _mm512_unpacklo_epi64(b[4 * j], b[4 * j + 2]);
        c[4 * j + 1] = _mm512_unpackhi_epi64(b[4 * j], b[4 * j + 2]);
        c[4 * j + 2] = _mm512_unpacklo_epi64(b[4 * j + 1], b[4 * j + 3]);
        c[4 * j + 3] = _mm512_unpackhi_epi64(b[4 * j + 1], b[4 * j + 3]);
    }
    /* a 4 x 4 transpose of 128-bit lanes for each m */
    for (int m = 0; m < 4; m++) {
        const __m512i d0 = _mm512_shuffle_i32x4(c[m], c[4 + m], 0x88);
        const __m512i d1 = _mm512_shuffle_i32x4(c[m], c[4 + m], 0xDD);
        const __m512i e0 = _mm512_shuffle_i32x4(c[8 + m], c[12 + m], 0x88);
        const __m512i e1 = _mm512_shuffle_i32x4(c[8 + m], c[12 + m], 0xDD);
        a[m] = _mm512_shuffle_i32x4(d0, e0, 0x88);
        a[8 + m] = _mm512_shuffle_i32x4(d0, e0, 0xDD);
        a[4 + m] = _mm512_shuffle_i32x4(d1, e1, 0x88);
        a[12 + m] = _mm512_shuffle_i32x4(d1, e1, 0xDD);
    }
}

/* Dwords 0..15 of the 64 bytes at blk[r] + off, transposed. */
static inline void load_tr(bytes const blk[16], size_t off, __m512i a[16])
{
    for (int r = 0; r < 16; r++)
        a[r] = _mm512_loadu_si512(blk[r] + off);
    qgp_transpose16(a);
}

/* ------------------------------------------------------------- packing */

/* Q4_K (qh_off 0) or Q5_K super-blocks blk[0..15] into P. The layout of
 * both: d, dmin at 0 and 2, the 12 packed scales at 4, then (Q5_K) the
 * 32 bytes of fifth bits and the 128 bytes of nibbles at qs_off. Element
 * 64c + l (l < 32) is the low nibble of qs[32c + l], 64c + 32 + l the
 * high one; its fifth bit is bit 2c (2c + 1) of qh[l]. */
static void pack_k45(bytes const blk[16], size_t qs_off, size_t qh_off, kpack *P)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F), one = _mm512_set1_epi8(1);
    __m512i a[16], qh[16];
    if (qh_off)
        load_tr(blk, qh_off, qh); /* qh[k], k < 8: dword k of the fifth bits */
    for (int h = 0; h < 2; h++) {
        load_tr(blk, qs_off + 64 * (size_t)h, a);
        for (int j = 0; j < 16; j++) {
            const int c = 2 * h + j / 8, k = j % 8;
            __m512i lo = _mm512_and_si512(a[j], m4);
            __m512i hi = _mm512_and_si512(_mm512_srli_epi16(a[j], 4), m4);
            if (qh_off) {
                lo = _mm512_or_si512(lo, _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(qh[k], 2 * c), one), 4));
                hi = _mm512_or_si512(hi, _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(qh[k], 2 * c + 1), one), 4));
            }
            _mm512_store_si512(P->u[16 * c + k], lo);
            _mm512_store_si512(P->u[16 * c + 8 + k], hi);
        }
    }
    for (int r = 0; r < 16; r++) {
        const uint8_t *s = blk[r] + 4;
        for (int j = 0; j < 8; j++) {
            const int sc = j < 4 ? s[j] & 63 : (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
            const int m = j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
            P->sc[j][r] = sc;
            P->m2[j][r] = (int32_t)((uint32_t)m | (uint32_t)m << 16);
        }
        P->dx[r] = h2f(blk[r]);
        P->dmin[r] = h2f(blk[r] + 2);
    }
}

/* Q6_K super-blocks into P: element 64c + l has the nibble 4(c % 2) of
 * ql[64h + l] and the two bits 2(2(c % 2) + l / 32) of qh[32h + l % 32],
 * h = c / 2 (the vec_dot's chunk layout); the scale of 16 elements. */
static void pack_q6_K(bytes const blk[16], kpack *P)
{
    const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3);
    __m512i ql[16], qh[16];
    load_tr(blk, offsetof(block_q6_K, qh), qh);
    for (int h = 0; h < 2; h++) {
        load_tr(blk, offsetof(block_q6_K, ql) + 64 * (size_t)h, ql);
        for (int c = 2 * h; c < 2 * h + 2; c++)
            for (int j = 0; j < 16; j++) {
                const __m512i lo = _mm512_and_si512(_mm512_srli_epi16(ql[j], 4 * (c % 2)), m4);
                const __m512i hb = _mm512_and_si512(
                    _mm512_srli_epi16(qh[8 * h + j % 8], 2 * (2 * (c % 2) + j / 8)), m3);
                _mm512_store_si512(P->u[16 * c + j], _mm512_or_si512(lo, _mm512_slli_epi16(hb, 4)));
            }
    }
    for (int r = 0; r < 16; r++) {
        const block_q6_K *x = (const block_q6_K *)blk[r];
        for (int q = 0; q < 16; q++)
            P->sc[q][r] = x->scales[q];
        /* scales are in [-128, 127]: times -32 fits an int16 */
        for (int p = 0; p < 8; p++)
            P->m2[p][r] = (int32_t)((uint32_t)(uint16_t)(-32 * x->scales[2 * p]) |
                                    (uint32_t)(uint16_t)(-32 * x->scales[2 * p + 1]) << 16);
        P->dx[r] = h2f(blk[r] + offsetof(block_q6_K, d));
    }
}

/* ------------------------------------------------------------- compute */

/* Super-block i, packed in P, against nt <= NT tokens (act, ab bytes
 * apart): nsub sub-blocks of 64 / nsub quants. acc[t] += the super-block's
 * term for token t, in the vec_dot's order (its sum starts from 0 and
 * takes the super-blocks one after the other). */
static inline __attribute__((always_inline)) void
kp_tile(const kpack *P, int nsub, int has_min, bytes act, size_t ab, int64_t i, int nt, __m512 acc[NT])
{
    const block_q8_K *y[NT];
    __m512i si[NT], mi[NT];
    for (int t = 0; t < nt; t++) {
        y[t] = (const block_q8_K *)(act + (size_t)t * ab) + i;
        si[t] = mi[t] = _mm512_setzero_si512();
    }
    const int gps = 64 / nsub;
    kp_ptrs k = {P->u[0], P->sc[0], y[0]->qs, y[0]->qs + 2 * ab, ab};
    kp_ptrs8 k8 = {P->u[0], P->sc[0], y[0]->qs, y[0]->qs + 4 * ab, ab, 3 * ab};
    /* fully unrolled: the NT chains of one sub-block overlap the next's */
#pragma GCC unroll 16
    for (int s = 0; s < nsub; s++) {
        const int g0 = s * gps;
        if (nt == 8) {
            kp_sub8(&k8, gps, si);
            continue;
        }
        if (nt == 4) {
            kp_sub4(&k, gps, si);
            continue;
        }
        /* a partial tile (the last of a token block): the same sums */
        __m512i a[NT];
        for (int t = 0; t < nt; t++)
            a[t] = _mm512_setzero_si512();
        for (int g = g0; g < g0 + gps; g++) {
            const __m512i u = _mm512_load_si512(P->u[g]);
            for (int t = 0; t < nt; t++)
                a[t] = _mm512_dpbusd_epi32(a[t], u, _mm512_set1_epi32(ld32(y[t]->qs + 4 * g)));
        }
        const __m512i sc = _mm512_load_si512(P->sc[s]);
        for (int t = 0; t < nt; t++)
            si[t] = _mm512_add_epi32(si[t], _mm512_mullo_epi32(a[t], sc));
    }
#pragma GCC unroll 8
    for (int p = 0; p < 8; p++) {
        const __m512i m = _mm512_load_si512(P->m2[p]);
        for (int t = 0; t < nt; t++)
            mi[t] = _mm512_dpwssd_epi32(mi[t], m, _mm512_set1_epi32(ld32(y[t]->bsums + 2 * p)));
    }
    const __m512 dx = _mm512_load_ps(P->dx);
    for (int t = 0; t < nt; t++) {
        const __m512 yd = _mm512_set1_ps(y[t]->d);
        __m512 term;
        if (has_min) {
            const __m512 d = _mm512_mul_ps(dx, yd), dm = _mm512_mul_ps(_mm512_load_ps(P->dmin), yd);
            term = _mm512_sub_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(si[t])),
                                 _mm512_mul_ps(dm, _mm512_cvtepi32_ps(mi[t])));
        } else {
            term = _mm512_mul_ps(_mm512_mul_ps(dx, yd), _mm512_cvtepi32_ps(_mm512_add_epi32(si[t], mi[t])));
        }
        acc[t] = _mm512_add_ps(acc[t], term);
    }
}

/* nt tokens from act against the nb packed super-blocks of a panel: the
 * sums stay in registers over the whole row and are stored once, to the
 * rows of mrow (token t at out + t * ldy). */
static inline __attribute__((always_inline)) void
kp_run(const kpack *P, int64_t nb, int nsub, int has_min, bytes act, size_t ab, int nt, float *out,
       size_t ldy, __mmask16 mrow)
{
    __m512 acc[NT];
    for (int t = 0; t < nt; t++)
        acc[t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++)
        kp_tile(&P[i], nsub, has_min, act, ab, i, nt, acc);
    for (int t = 0; t < nt; t++)
        _mm512_mask_storeu_ps(out + (size_t)t * ldy, mrow, acc[t]);
}

/* nt tokens from act against super-block i alone, packed in P: the
 * rows of mrow of out (token t at out + t * ldy) get its term added, or
 * set (i = 0) as 0 + term: the same operations as kp_run's. */
static inline __attribute__((always_inline)) void
kp_step(const kpack *P, int64_t i, int nsub, int has_min, bytes act, size_t ab, int nt, float *out,
        size_t ldy, __mmask16 mrow)
{
    __m512 acc[NT];
    for (int t = 0; t < nt; t++)
        acc[t] = i == 0 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mrow, out + (size_t)t * ldy);
    kp_tile(P, nsub, has_min, act, ab, i, nt, acc);
    for (int t = 0; t < nt; t++)
        _mm512_mask_storeu_ps(out + (size_t)t * ldy, mrow, acc[t]);
}

/* From how many tokens in a block the panel is packed whole: a few tiles
 * do better meeting each super-block while it is in L1 (and pay a load
 * and a store of their sums per super-block); many do better with the
 * sums in registers over the row (T = 512, 2048 x 2048, one thread: 440
 * -> 510-530 GOP/s; equal at 128; at 16-32 x 5632, 30% slower). */
#define KP_WHOLE_MIN 160

/* The GEMM of one k-quant type (a constant after inlining): panels of 16
 * rows, packed once per block of TB tokens, either whole (nb super-blocks,
 * in L2) and met tile by tile over the row, or a super-block at a time.
 * Rows past r1 in the last panel repeat row r1 - 1 and are never stored.
 * Returns 0 without its work buffer. */
static inline __attribute__((always_inline)) int
kp_gemm(int type, int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
        size_t ab, int n_tok, float *out, size_t ldy)
{
    const int q6 = type == QT_Q6_K, nsub = q6 ? 16 : 8;
    const size_t bsz = type == QT_Q4_K ? sizeof(block_q4_K) : type == QT_Q5_K ? sizeof(block_q5_K)
                                                                             : sizeof(block_q6_K);
    const int64_t nb = n / QK_K;
    int tbs = (int)(TB_CACHE / (ab ? ab : 1));
    tbs = tbs < 16 ? 16 : tbs > TB_MAX ? TB_MAX : tbs;
    /* per call, as in quant_gemm_q8_avx512.c: a prefill matmul takes
     * milliseconds */
    kpack *P = aligned_alloc(_Alignof(kpack), (size_t)nb * sizeof(kpack));
    if (!P)
        return 0;
    for (int tb = 0; tb < n_tok; tb += tbs) {
        const int te = n_tok - tb < tbs ? n_tok : tb + tbs;
        const size_t span = (size_t)(te - tb);
        /* a narrow block: each super-block packed and met while in L1 */
        const int whole = span >= KP_WHOLE_MIN;
        for (int p0 = r0; p0 < r1; p0 += 16) {
            const int nr = r1 - p0 < 16 ? r1 - p0 : 16;
            const __mmask16 mrow = (__mmask16)((1u << nr) - 1);
            /* the next panel (contiguous rows) is fetched a slice per tile
             * or super-block while this one computes: 16 strided streams
             * are more than the hardware prefetcher follows */
            const int nn = r1 - (p0 + 16) < 16 ? r1 - (p0 + 16) : 16;
            const size_t next_bytes = nn > 0 ? (size_t)nn * row_bytes : 0;
            bytes next = (bytes)w + (size_t)(p0 + 16) * row_bytes;
            for (int64_t i = 0; i < nb; i++) {
                kpack *Pi = whole ? &P[i] : P;
                if (!whole)
                    for (size_t o = next_bytes * (size_t)i / (size_t)nb; o < next_bytes * (size_t)(i + 1) / (size_t)nb; o += 64)
                        _mm_prefetch((const char *)next + o, _MM_HINT_T1);
                bytes blk[16];
                for (int r = 0; r < 16; r++)
                    blk[r] = (bytes)w + (size_t)(p0 + (r < nr ? r : nr - 1)) * row_bytes + (size_t)i * bsz;
                if (type == QT_Q4_K)
                    pack_k45(blk, offsetof(block_q4_K, qs), 0, Pi);
                else if (type == QT_Q5_K)
                    pack_k45(blk, offsetof(block_q5_K, qs), offsetof(block_q5_K, qh), Pi);
                else
                    pack_q6_K(blk, Pi);
                if (whole)
                    continue;
                for (int t0 = tb; t0 < te;) {
                    const int left = te - t0;
                    const int nt = left >= NT ? NT : left >= 4 ? 4 : left;
                    bytes a = (bytes)act + (size_t)t0 * ab;
                    float *o = out + (size_t)t0 * ldy + p0;
                    switch (nt) {
                    case NT: kp_step(P, i, nsub, !q6, a, ab, NT, o, ldy, mrow); break;
                    case 4: kp_step(P, i, nsub, !q6, a, ab, 4, o, ldy, mrow); break;
                    case 3: kp_step(P, i, nsub, !q6, a, ab, 3, o, ldy, mrow); break;
                    case 2: kp_step(P, i, nsub, !q6, a, ab, 2, o, ldy, mrow); break;
                    default: kp_step(P, i, nsub, !q6, a, ab, 1, o, ldy, mrow); break;
                    }
                    t0 += nt;
                }
            }
            if (!whole)
                continue;
            for (int t0 = tb; t0 < te;) {
                const int left = te - t0;
                const int nt = left >= NT ? NT : left >= 4 ? 4 : left;
                for (size_t o = next_bytes * (size_t)(t0 - tb) / span; o < next_bytes * (size_t)(t0 - tb + nt) / span; o += 64)
                    _mm_prefetch((const char *)next + o, _MM_HINT_T1);
                bytes a = (bytes)act + (size_t)t0 * ab;
                float *o = out + (size_t)t0 * ldy + p0;
                switch (nt) {
                case NT: kp_run(P, nb, nsub, !q6, a, ab, NT, o, ldy, mrow); break;
                case 4: kp_run(P, nb, nsub, !q6, a, ab, 4, o, ldy, mrow); break;
                case 3: kp_run(P, nb, nsub, !q6, a, ab, 3, o, ldy, mrow); break;
                case 2: kp_run(P, nb, nsub, !q6, a, ab, 2, o, ldy, mrow); break;
                default: kp_run(P, nb, nsub, !q6, a, ab, 1, o, ldy, mrow); break;
                }
                t0 += nt;
            }
        }
    }
    free(P);
    return 1;
}

int qgp_gemm_q4_K(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                   size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    return kp_gemm(QT_Q4_K, n, w, row_bytes, r0, r1, act, act_bytes, n_tok, out, ldy);
}

int qgp_gemm_q5_K(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                   size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    return kp_gemm(QT_Q5_K, n, w, row_bytes, r0, r1, act, act_bytes, n_tok, out, ldy);
}

int qgp_gemm_q6_K(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                   size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    return kp_gemm(QT_Q6_K, n, w, row_bytes, r0, r1, act, act_bytes, n_tok, out, ldy);
}
