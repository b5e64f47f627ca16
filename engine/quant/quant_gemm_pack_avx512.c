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
 * super-block (vpdpwssd on the activation's per-16 sums; Q4_K/Q5_K on
 * per-32 sums, precomputed per call: half the vpdpwssd).
 *
 * Bits: a super-block's integer sum is exact whatever the order, and the
 * float combination per super-block, row and token repeats the AVX-512
 * vec_dot's operations in its order (lane by lane), so every element has
 * the vec_dot's bits.
 *
 * The interleaving (a 16 x 16 dword transpose per 64 bytes of quants,
 * the scales sixteen rows at a time) is done per call, two whole 16-row
 * panels at a time into a work buffer that stays in L2 while it meets a
 * block of up to 512 tokens; a tile of 32 rows x 4 tokens runs over the
 * whole row with its float sums in registers (storing them per
 * super-block cost a masked load and store per token and super-block, 12%
 * of the samples). Rows too long for two panels in L2 (and batches
 * under QGP_MIN_TOK) meet each super-block of one panel while it is in
 * L1, in tiles of 16 rows x 8 tokens.
 */
#include <immintrin.h>

#include "core/tr16_avx512.h"
#include "quant/quant_gemm_pack.h"
#include "quant/quant_impl.h"
#include "quant/quant_k4_x86.h"

typedef const uint8_t *bytes;

/* Tokens per register tile of one panel: each interleaved weight
 * register feeds NT vpdpbusd against NT broadcasts (8 chains of vpdpbusd
 * hide its latency without splitting a token's sum in two); the last
 * tiles of a token block take 4, then fewer. (Two panels: 4 tokens, the
 * same 8 chains.) */
#define NT 8
/* Tokens per block, at most: each panel's weights are read from memory
 * and packed once per block, so the fewer blocks the better; the
 * activations need not stay in L2 (a tile reads its tokens once per
 * panel, ~9 bytes per cycle of vpdpbusd work, which L3 serves: 256 and
 * 512 measured the same). Blocks as even as the tiles allow: a tail tile
 * of one token costs as much as eight. (Before: blocks of 512 KiB of
 * activations, 81 tokens at n = 5632, met a super-block at a time, the
 * last tile one token: 1024 x 5632 x 512 tokens on one thread 380 -> 490
 * GOP/s.) */
#define TB_MAX 512

/* One super-block of a 16-row panel, interleaved: u[g] lane r = quants
 * 4g..4g+3 of row r (unsigned bytes); sc[s] lane r = the scale of
 * sub-block s; m2[p] lane r = two int16 factors of two sums of the
 * activation: Q4_K/Q5_K, p < 4: the mins of sub-blocks 2p, 2p + 1, for
 * the per-32 sums (kp_sums32); Q6_K: -32 x the scales of sub-blocks 2p,
 * 2p + 1 (the offset of its quants), for the per-16 bsums 2p, 2p + 1;
 * dx, dmin: the rows' scales. */
typedef struct kpack {
    _Alignas(64) uint8_t u[64][64];
    _Alignas(64) int32_t sc[16][16];
    _Alignas(64) int32_t m2[8][16];
    _Alignas(64) float dx[16];
    _Alignas(64) float dmin[16];
} kpack;

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

/* One sub-block of gps groups of two panels (rows 0-15 at u, 16-31 db
 * bytes further) against 4 tokens: each weight register meets 4
 * broadcasts and each broadcast 2 weight registers, 6 loads per 8
 * vpdpbusd instead of kp_sub8's 9. Alone in L1 both run at vpdpbusd's
 * pace; in the GEMM (TinyLlama shapes, 512 tokens, one thread) this tile
 * was 3-4% faster than 16 x 8, within the noise of a busy machine but
 * never slower. Partial sum 2t + h (token t, panel h) in zmm16 + 2t + h;
 * si as in kp_sub8. */
#define K2_GROUP(G)                                                                           \
    "vmovdqa64 " #G "*64(%[u]), %%zmm24\n\t"                                                  \
    "vmovdqa64 " #G "*64(%[u],%[db]), %%zmm25\n\t"                                            \
    "vpbroadcastd " #G "*4(%[y0]), %%zmm26\n\t"                                               \
    "vpbroadcastd " #G "*4(%[y0],%[ab]), %%zmm27\n\t"                                         \
    "vpbroadcastd " #G "*4(%[y0],%[ab],2), %%zmm28\n\t"                                       \
    "vpbroadcastd " #G "*4(%[y0],%[ab3]), %%zmm29\n\t"                                        \
    "vpdpbusd %%zmm26, %%zmm24, %%zmm16\n\t"                                                  \
    "vpdpbusd %%zmm26, %%zmm25, %%zmm17\n\t"                                                  \
    "vpdpbusd %%zmm27, %%zmm24, %%zmm18\n\t"                                                  \
    "vpdpbusd %%zmm27, %%zmm25, %%zmm19\n\t"                                                  \
    "vpdpbusd %%zmm28, %%zmm24, %%zmm20\n\t"                                                  \
    "vpdpbusd %%zmm28, %%zmm25, %%zmm21\n\t"                                                  \
    "vpdpbusd %%zmm29, %%zmm24, %%zmm22\n\t"                                                  \
    "vpdpbusd %%zmm29, %%zmm25, %%zmm23\n\t"
#define K2_SCALE(P, S, W)                                                                     \
    "vpmulld " W ", %%zmm" #P ", %%zmm" #P "\n\t"                                             \
    "vpaddd %%zmm" #P ", %[s" #S "], %[s" #S "]\n\t"
#define K2_START K8_ZERO(0) K8_ZERO(1) K8_ZERO(2) K8_ZERO(3) K8_ZERO(4) K8_ZERO(5) K8_ZERO(6) K8_ZERO(7)
#define K2_END(GPS)                                                                           \
    "vmovdqa64 (%[sc]), %%zmm24\n\t"                                                          \
    "vmovdqa64 (%[sc],%[db]), %%zmm25\n\t"                                                    \
    K2_SCALE(16, 0, "%%zmm24") K2_SCALE(17, 1, "%%zmm25") K2_SCALE(18, 2, "%%zmm24")          \
    K2_SCALE(19, 3, "%%zmm25") K2_SCALE(20, 4, "%%zmm24") K2_SCALE(21, 5, "%%zmm25")          \
    K2_SCALE(22, 6, "%%zmm24") K2_SCALE(23, 7, "%%zmm25")                                     \
    "add $" #GPS "*64, %[u]\n\tadd $64, %[sc]\n\tadd $" #GPS "*4, %[y0]\n\t"
#define K2_OPERANDS                                                                           \
    : [s0] "+v"(si[0]), [s1] "+v"(si[1]), [s2] "+v"(si[2]), [s3] "+v"(si[3]), [s4] "+v"(si[4]), \
      [s5] "+v"(si[5]), [s6] "+v"(si[6]), [s7] "+v"(si[7]), [u] "+r"(k->u), [sc] "+r"(k->sc),   \
      [y0] "+r"(k->y0)                                                                          \
    : [ab] "r"(k->ab), [ab3] "r"(k->ab3), [db] "r"(k->db)                                       \
    : "memory", "cc", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",  \
      "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29"

typedef struct kp_ptrs2 {
    const uint8_t *u;
    const int32_t *sc;
    const int8_t *y0;
    size_t ab, ab3, db;
} kp_ptrs2;

static inline __attribute__((always_inline)) void kp_sub2(kp_ptrs2 *k, int gps, __m512i si[8])
{
    if (gps == 8)
        __asm__(K2_START K2_GROUP(0) K2_GROUP(1) K2_GROUP(2) K2_GROUP(3) K2_GROUP(4) K2_GROUP(5)
                    K2_GROUP(6) K2_GROUP(7) K2_END(8) K2_OPERANDS);
    else
        __asm__(K2_START K2_GROUP(0) K2_GROUP(1) K2_GROUP(2) K2_GROUP(3) K2_END(4) K2_OPERANDS);
}

/* Dwords 0..15 of the 64 bytes at blk[r] + off, transposed. */
static inline void load_tr(bytes const blk[16], size_t off, __m512i a[16])
{
    for (int r = 0; r < 16; r++)
        a[r] = _mm512_loadu_si512(blk[r] + off);
    tr16_epi32(a);
}

/* Dwords 0..3 of the 16 bytes at blk[r] + off, transposed: h[k] lane r =
 * dword k of row r (the super-block headers: scales, d). */
static inline void load_tr4(bytes const blk[16], size_t off, __m512i h[4])
{
    __m512i z[4];
    for (int q = 0; q < 4; q++) {
        /* z[q] dword 4s + k = dword k of row 4q + s */
        z[q] = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(blk[4 * q] + off)));
        z[q] = _mm512_inserti32x4(z[q], _mm_loadu_si128((const __m128i *)(blk[4 * q + 1] + off)), 1);
        z[q] = _mm512_inserti32x4(z[q], _mm_loadu_si128((const __m128i *)(blk[4 * q + 2] + off)), 2);
        z[q] = _mm512_inserti32x4(z[q], _mm_loadu_si128((const __m128i *)(blk[4 * q + 3] + off)), 3);
    }
    /* x[k/2] of a pair of z: lanes 0-7 dword k (k even) of its 8 rows,
     * lanes 8-15 dword k + 1; then the two halves of the rows joined */
    const __m512i i01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    const __m512i i23 = _mm512_add_epi32(i01, _mm512_set1_epi32(2));
    const __m512i lo = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
    const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
    const __m512i a01 = _mm512_permutex2var_epi32(z[0], i01, z[1]), b01 = _mm512_permutex2var_epi32(z[2], i01, z[3]);
    const __m512i a23 = _mm512_permutex2var_epi32(z[0], i23, z[1]), b23 = _mm512_permutex2var_epi32(z[2], i23, z[3]);
    h[0] = _mm512_permutex2var_epi32(a01, lo, b01);
    h[1] = _mm512_permutex2var_epi32(a01, hi, b01);
    h[2] = _mm512_permutex2var_epi32(a23, lo, b23);
    h[3] = _mm512_permutex2var_epi32(a23, hi, b23);
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
    /* the header, sixteen rows at a time: h[0] = d, dmin; h[1..3] the
     * 12 bytes of scales and mins (k4_unpack16) */
    __m512i h[4], sc_lo, sc_hi, m_lo, m_hi;
    load_tr4(blk, 0, h);
    k4_unpack16(h[1], h[2], h[3], &sc_lo, &sc_hi, &m_lo, &m_hi);
    const __m512i cff = _mm512_set1_epi32(0xff), c00ff = _mm512_set1_epi32(0x00ff00ff),
                  cffff = _mm512_set1_epi32(0xffff);
    for (int j = 0; j < 4; j++) {
        _mm512_store_si512(P->sc[j], _mm512_and_si512(_mm512_srli_epi32(sc_lo, 8 * j), cff));
        _mm512_store_si512(P->sc[4 + j], _mm512_and_si512(_mm512_srli_epi32(sc_hi, 8 * j), cff));
    }
    /* m2[q]: mins 2q and 2q + 1 (bytes 0-1 or 2-3 of m_lo, m_hi) as two
     * int16 */
    for (int q = 0; q < 4; q++) {
        const __m512i x = _mm512_and_si512(_mm512_srli_epi32(q < 2 ? m_lo : m_hi, 16 * (q % 2)), cffff);
        _mm512_store_si512(P->m2[q], _mm512_and_si512(_mm512_or_si512(x, _mm512_slli_epi32(x, 8)), c00ff));
    }
    _mm512_store_ps(P->dx, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(h[0])));
    _mm512_store_ps(P->dmin, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(h[0], 16))));
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
    /* the sixteen int8 scales of the rows, h[k] lane r = scales 4k..4k+3 */
    __m512i h[4], sc[16];
    load_tr4(blk, offsetof(block_q6_K, scales), h);
    for (int q = 0; q < 16; q++) {
        sc[q] = _mm512_srai_epi32(_mm512_slli_epi32(h[q / 4], 24 - 8 * (q % 4)), 24);
        _mm512_store_si512(P->sc[q], sc[q]);
    }
    /* scales are in [-128, 127]: times -32 fits an int16 */
    const __m512i z = _mm512_setzero_si512(), cffff = _mm512_set1_epi32(0xffff);
    for (int p = 0; p < 8; p++) {
        const __m512i lo = _mm512_and_si512(_mm512_slli_epi32(_mm512_sub_epi32(z, sc[2 * p]), 5), cffff);
        const __m512i hi = _mm512_slli_epi32(_mm512_sub_epi32(z, sc[2 * p + 1]), 21);
        _mm512_store_si512(P->m2[p], _mm512_or_si512(lo, hi));
    }
    _Alignas(32) uint16_t d[16];
    for (int r = 0; r < 16; r++)
        memcpy(&d[r], blk[r] + offsetof(block_q6_K, d), sizeof d[r]);
    _mm512_store_ps(P->dx, _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)d)));
}

/* ------------------------------------------------------------- compute */

/* The float term of one super-block for 16 rows and one token (yd its
 * activation scale): the vec_dot's operations, lane by lane. */
static inline __m512 kp_term(const kpack *P, int has_min, __m512 yd, __m512i si, __m512i mi)
{
    const __m512 dx = _mm512_load_ps(P->dx);
    if (has_min) {
        const __m512 d = _mm512_mul_ps(dx, yd), dm = _mm512_mul_ps(_mm512_load_ps(P->dmin), yd);
        return _mm512_sub_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(si)), _mm512_mul_ps(dm, _mm512_cvtepi32_ps(mi)));
    }
    return _mm512_mul_ps(_mm512_mul_ps(dx, yd), _mm512_cvtepi32_ps(_mm512_add_epi32(si, mi)));
}

/* Super-block i, packed in P, against nt <= NT tokens (act, ab bytes
 * apart): nsub sub-blocks of 64 / nsub quants. acc[t] += the super-block's
 * term for token t, in the vec_dot's order (its sum starts from 0 and
 * takes the super-blocks one after the other). */
static inline __attribute__((always_inline)) void
kp_tile(const kpack *P, int nsub, int has_min, bytes act, size_t ab, const int16_t *s32, size_t s32s,
        int64_t i, int nt, __m512 acc[NT])
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
    /* the mins: four vpdpwssd per token on the per-32 sums (s32, token
     * t at s32 + t * s32s) instead of eight on the per-16 bsums */
    if (has_min) {
#pragma GCC unroll 4
        for (int p = 0; p < 4; p++) {
            const __m512i m = _mm512_load_si512(P->m2[p]);
            for (int t = 0; t < nt; t++)
                mi[t] = _mm512_dpwssd_epi32(mi[t], m, _mm512_set1_epi32(ld32(s32 + (size_t)t * s32s + 2 * p)));
        }
    } else {
#pragma GCC unroll 8
        for (int p = 0; p < 8; p++) {
            const __m512i m = _mm512_load_si512(P->m2[p]);
            for (int t = 0; t < nt; t++)
                mi[t] = _mm512_dpwssd_epi32(mi[t], m, _mm512_set1_epi32(ld32(y[t]->bsums + 2 * p)));
        }
    }
    for (int t = 0; t < nt; t++)
        acc[t] = _mm512_add_ps(acc[t], kp_term(P, has_min, _mm512_set1_ps(y[t]->d), si[t], mi[t]));
}

/* nt tokens from act against the nb packed super-blocks of a panel: the
 * sums stay in registers over the whole row and are stored once, to the
 * rows of mrow (token t at out + t * ldy). */
static inline __attribute__((always_inline)) void
kp_run(const kpack *P, int64_t nb, int nsub, int has_min, bytes act, size_t ab, const int16_t *s32,
       int nt, float *out, size_t ldy, __mmask16 mrow)
{
    __m512 acc[NT];
    for (int t = 0; t < nt; t++)
        acc[t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++)
        kp_tile(&P[i], nsub, has_min, act, ab, has_min ? s32 + 8 * i : NULL, 8 * (size_t)nb, i, nt, acc);
    for (int t = 0; t < nt; t++)
        _mm512_mask_storeu_ps(out + (size_t)t * ldy, mrow, acc[t]);
}

/* Super-block i of two panels (rows 0-15 packed in P, 16-31 in P + nb)
 * against 4 tokens: acc[2t + h] += the term of token t, panel h, with
 * kp_tile's operations lane by lane (so the same bits). */
static inline __attribute__((always_inline)) void
kp_tile2(const kpack *P, int64_t nb, int nsub, int has_min, bytes act, size_t ab, const int16_t *s32,
         size_t s32s, int64_t i, __m512 acc[8])
{
    const kpack *Q = P + nb;
    const block_q8_K *y[4];
    __m512i si[8], mi[8];
    for (int t = 0; t < 4; t++)
        y[t] = (const block_q8_K *)(act + (size_t)t * ab) + i;
    for (int j = 0; j < 8; j++)
        si[j] = mi[j] = _mm512_setzero_si512();
    const int gps = 64 / nsub;
    kp_ptrs2 k = {P->u[0], P->sc[0], y[0]->qs, ab, 3 * ab, (size_t)nb * sizeof(kpack)};
#pragma GCC unroll 16
    for (int s = 0; s < nsub; s++)
        kp_sub2(&k, gps, si);
    if (has_min) {
#pragma GCC unroll 4
        for (int p = 0; p < 4; p++) {
            const __m512i ma = _mm512_load_si512(P->m2[p]), mb = _mm512_load_si512(Q->m2[p]);
            for (int t = 0; t < 4; t++) {
                const __m512i b = _mm512_set1_epi32(ld32(s32 + (size_t)t * s32s + 2 * p));
                mi[2 * t] = _mm512_dpwssd_epi32(mi[2 * t], ma, b);
                mi[2 * t + 1] = _mm512_dpwssd_epi32(mi[2 * t + 1], mb, b);
            }
        }
    } else {
#pragma GCC unroll 8
        for (int p = 0; p < 8; p++) {
            const __m512i ma = _mm512_load_si512(P->m2[p]), mb = _mm512_load_si512(Q->m2[p]);
            for (int t = 0; t < 4; t++) {
                const __m512i b = _mm512_set1_epi32(ld32(y[t]->bsums + 2 * p));
                mi[2 * t] = _mm512_dpwssd_epi32(mi[2 * t], ma, b);
                mi[2 * t + 1] = _mm512_dpwssd_epi32(mi[2 * t + 1], mb, b);
            }
        }
    }
    for (int t = 0; t < 4; t++) {
        const __m512 yd = _mm512_set1_ps(y[t]->d);
        acc[2 * t] = _mm512_add_ps(acc[2 * t], kp_term(P, has_min, yd, si[2 * t], mi[2 * t]));
        acc[2 * t + 1] = _mm512_add_ps(acc[2 * t + 1], kp_term(Q, has_min, yd, si[2 * t + 1], mi[2 * t + 1]));
    }
}

/* 4 tokens against two whole packed panels (P, P + nb): as kp_run, the
 * rows of mrow of the second panel only (16 further in out). */
static inline __attribute__((always_inline)) void
kp_run2(const kpack *P, int64_t nb, int nsub, int has_min, bytes act, size_t ab, const int16_t *s32,
        float *out, size_t ldy, __mmask16 mrow)
{
    __m512 acc[8];
    for (int j = 0; j < 8; j++)
        acc[j] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++)
        kp_tile2(&P[i], nb, nsub, has_min, act, ab, has_min ? s32 + 8 * i : NULL, 8 * (size_t)nb, i, acc);
    for (int t = 0; t < 4; t++) {
        _mm512_storeu_ps(out + (size_t)t * ldy, acc[2 * t]);
        _mm512_mask_storeu_ps(out + (size_t)t * ldy + 16, mrow, acc[2 * t + 1]);
    }
}

/* nt tokens from act against super-block i alone, packed in P: the
 * rows of mrow of out (token t at out + t * ldy) get its term added, or
 * set (i = 0) as 0 + term: the same operations as kp_run's. */
static inline __attribute__((always_inline)) void
kp_step(const kpack *P, int64_t i, int64_t nb, int nsub, int has_min, bytes act, size_t ab,
        const int16_t *s32, int nt, float *out, size_t ldy, __mmask16 mrow)
{
    __m512 acc[NT];
    for (int t = 0; t < nt; t++)
        acc[t] = i == 0 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mrow, out + (size_t)t * ldy);
    kp_tile(P, nsub, has_min, act, ab, has_min ? s32 + 8 * i : NULL, 8 * (size_t)nb, i, nt, acc);
    for (int t = 0; t < nt; t++)
        _mm512_mask_storeu_ps(out + (size_t)t * ldy, mrow, acc[t]);
}

/* From how many tokens in a block the panels are packed whole (met by
 * tiles with their sums in registers over the row) rather than a
 * super-block at a time (met while in L1, a load and a store of the sums
 * per super-block and tile). With 16 x 8 tiles only from 160 tokens
 * (equal at 128, 30% slower at 16-32 x 5632); with the 32 x 4 tiles
 * whole is faster from the smallest batch sent here (QGP_MIN_TOK): per
 * thread TinyLlama shapes, one thread, Q4_K / Q6_K time of a layer 0.92
 * / 0.93 of the other way at 16 tokens, 0.95 / 0.89 at 64, 0.84 / 0.85 at
 * 128 (the model's prefill pieces: 530 -> 600 GOP/s at 1024 x 2048). */
#define KP_WHOLE_MIN QGP_MIN_TOK
/* ... and while the packed panel (5.6 KiB per super-block) stays in L2
 * (1 MiB per core here) next to the activation streams. */
#define KP_PANEL_MAX (512 * 1024)

/* The per-32 sums of every token's super-blocks (s32[8 (t nb + i) + p] =
 * bsums[2p] + bsums[2p + 1] of super-block i of token t; a sum of 32
 * int8, so an int16), for the four-vpdpwssd mins of Q4_K/Q5_K. */
static void kp_sums32(bytes act, size_t ab, int n_tok, int64_t nb, int16_t *s32)
{
    const __m256i one = _mm256_set1_epi16(1);
    for (int t = 0; t < n_tok; t++)
        for (int64_t i = 0; i < nb; i++) {
            const block_q8_K *y = (const block_q8_K *)(act + (size_t)t * ab) + i;
            const __m256i s = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y->bsums), one);
            _mm_store_si128((__m128i *)(s32 + 8 * ((size_t)t * (size_t)nb + (size_t)i)),
                            _mm_packs_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1)));
        }
}

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
    const int nblk = (n_tok + TB_MAX - 1) / TB_MAX;
    const int tbs = ((n_tok + nblk - 1) / nblk + NT - 1) / NT * NT;
    /* the two packed panels, then (Q4_K/Q5_K) the per-32 sums */
    const size_t pbytes = 2 * (size_t)nb * sizeof(kpack);
    const size_t s32_bytes = q6 ? 0 : (size_t)n_tok * (size_t)nb * 16;
    _Static_assert(_Alignof(kpack) <= 64, "qgp_wbuf aligns to 64 bytes");
    uint8_t *buf = qgp_wbuf(pbytes + s32_bytes);
    if (!buf)
        return 0;
    kpack *P = (kpack *)buf;
    int16_t *s32 = q6 ? NULL : (int16_t *)(buf + pbytes);
    if (!q6)
        kp_sums32(act, ab, n_tok, nb, s32);
    for (int tb = 0; tb < n_tok; tb += tbs) {
        const int te = n_tok - tb < tbs ? n_tok : tb + tbs;
        const size_t span = (size_t)(te - tb);
        /* rows too long for two whole panels in L2: a super-block at a
         * time */
        const int whole = span >= KP_WHOLE_MIN && 2 * (size_t)nb * sizeof(kpack) <= KP_PANEL_MAX;
        /* whole: two panels at a time (kp_run2's 32 x 4 tiles) */
        const int step = whole ? 32 : 16;
        for (int p0 = r0; p0 < r1; p0 += step) {
            const int np = whole && r1 - p0 > 16 ? 2 : 1;
            /* the next panels (contiguous rows) are fetched a slice per
             * tile or super-block while these compute: 16 strided streams
             * are more than the hardware prefetcher follows */
            const int nn = r1 - (p0 + step) < step ? r1 - (p0 + step) : step;
            const size_t next_bytes = nn > 0 ? (size_t)nn * row_bytes : 0;
            bytes next = (bytes)w + (size_t)(p0 + step) * row_bytes;
            __mmask16 mrow[2];
            for (int h = 0; h < np; h++) {
                const int ph = p0 + 16 * h, nr = r1 - ph < 16 ? r1 - ph : 16;
                mrow[h] = (__mmask16)((1u << nr) - 1);
                for (int64_t i = 0; i < nb; i++) {
                    kpack *Pi = whole ? &P[h * nb + i] : P;
                    if (!whole)
                        for (size_t o = next_bytes * (size_t)i / (size_t)nb; o < next_bytes * (size_t)(i + 1) / (size_t)nb; o += 64)
                            _mm_prefetch((const char *)next + o, _MM_HINT_T1);
                    bytes blk[16];
                    for (int r = 0; r < 16; r++)
                        blk[r] = (bytes)w + (size_t)(ph + (r < nr ? r : nr - 1)) * row_bytes + (size_t)i * bsz;
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
                        const int16_t *sy = q6 ? NULL : s32 + (size_t)t0 * (size_t)nb * 8;
                        float *o = out + (size_t)t0 * ldy + ph;
                        switch (nt) {
                        case NT: kp_step(P, i, nb, nsub, !q6, a, ab, sy, NT, o, ldy, mrow[h]); break;
                        case 4: kp_step(P, i, nb, nsub, !q6, a, ab, sy, 4, o, ldy, mrow[h]); break;
                        case 3: kp_step(P, i, nb, nsub, !q6, a, ab, sy, 3, o, ldy, mrow[h]); break;
                        case 2: kp_step(P, i, nb, nsub, !q6, a, ab, sy, 2, o, ldy, mrow[h]); break;
                        default: kp_step(P, i, nb, nsub, !q6, a, ab, sy, 1, o, ldy, mrow[h]); break;
                        }
                        t0 += nt;
                    }
                }
            }
            if (!whole)
                continue;
            for (int t0 = tb; t0 < te;) {
                const int left = te - t0;
                const int nt = np == 2 ? (left >= 4 ? 4 : left) : left >= NT ? NT : left >= 4 ? 4 : left;
                for (size_t o = next_bytes * (size_t)(t0 - tb) / span; o < next_bytes * (size_t)(t0 - tb + nt) / span; o += 64)
                    _mm_prefetch((const char *)next + o, _MM_HINT_T1);
                bytes a = (bytes)act + (size_t)t0 * ab;
                const int16_t *sy = q6 ? NULL : s32 + (size_t)t0 * (size_t)nb * 8;
                float *o = out + (size_t)t0 * ldy + p0;
                if (np == 2 && nt == 4) {
                    kp_run2(P, nb, nsub, !q6, a, ab, sy, o, ldy, mrow[1]);
                    t0 += 4;
                    continue;
                }
                for (int h = 0; h < np; h++) {
                    const kpack *Ph = P + h * nb;
                    float *oh = o + 16 * h;
                    switch (nt) {
                    case NT: kp_run(Ph, nb, nsub, !q6, a, ab, sy, NT, oh, ldy, mrow[h]); break;
                    case 4: kp_run(Ph, nb, nsub, !q6, a, ab, sy, 4, oh, ldy, mrow[h]); break;
                    case 3: kp_run(Ph, nb, nsub, !q6, a, ab, sy, 3, oh, ldy, mrow[h]); break;
                    case 2: kp_run(Ph, nb, nsub, !q6, a, ab, sy, 2, oh, ldy, mrow[h]); break;
                    default: kp_run(Ph, nb, nsub, !q6, a, ab, sy, 1, oh, ldy, mrow[h]); break;
                    }
                }
                t0 += nt;
            }
        }
    }
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
