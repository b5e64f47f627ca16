/*
 * quant_gemm_legacy_avx512.c - AVX-512 prefill GEMMs for the legacy
 * 32-element types without one of their own in quant_gemm_avx512.c:
 * Q5_0, Q4_1 and Q5_1 (quant.h's quant_gemm contract). Without them
 * prefill took one vec_dot per (row, token): llama.cpp's Q4_K_M files of
 * models whose widths are no multiple of 256 (Gemma 3's 1152) hold their
 * Q4_K tensors as Q5_0, and Q5_K_M ones as Q5_1.
 *
 * Bits: every element is the SCALAR vec_dot's (quant_legacy.c), like the
 * Q8_0 GEMM's; it differs from the AVX-512 vec_dot by float summation
 * order only (that one sums blocks in float lanes, and for Q4_1/Q5_1 adds
 * the min terms m * s apart, after the lanes).
 *
 * Q5_0 is converted, a chunk of rows at a time, to Q8_0 rows and handed
 * to the Q8_0 GEMM (quant_gemm_q8_avx512.c), as quant_iq4_avx512.c does
 * for IQ4_NL: its values are the integers q - 16 in [-16, 15] with one
 * half scale per block, so a Q8_0 block with the same d and those int8
 * quants is the same block, and the scalar Q8_0 dot on it does the scalar
 * Q5_0 dot's operations one for one (the block's exact integer sum, then
 * sum += (float)sumi * (dx * dy), blocks in order from 0).
 *
 * Q4_1 and Q5_1 cannot go that way: their scalar dot adds each block's
 * (dx * dy) * sumi + m * s to the running sum as one rounded term, and
 * the Q8_0 GEMM has no place for the m * s inside a block's step (adding
 * the min terms afterwards rounds differently). They take their own tile
 * kernel below: the Q8_0 GEMM's design (32-row panels interleaved once
 * per call, a 32 x 6 register tile, vpdpbusd with the activations offset
 * by 128 and each row's -128 x sum(q) correction), with the quants unpacked
 * from the nibbles (and fifth bits) when the panels are packed, the row
 * mins packed beside the scales, and one multiply and one add more per
 * block and token: f += ((dx * dy) * (float)p + m * s), each operation
 * rounded as in the scalar dot.
 */
#include <immintrin.h>
#include <stdlib.h>

#include "core/tr16_avx512.h"
#include "quant/quant_gemm_pack.h"
#include "quant/quant_impl.h"

typedef const uint8_t *bytes;

/* ------------------------------------------------ Q5_0 through Q8_0 rows */


/* The 32 unsigned values of a block in element order: the low nibbles,
 * then the high ones (vals4); vals5 adds fifth bit j of qh to element j. */
static inline __m256i vals4(const uint8_t *qs)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1),
                            _mm256_set1_epi8(0x0F));
}

static inline __m256i vals5(const uint8_t *qs, const uint8_t *qh)
{
    const __m256i x = vals4(qs);
    uint32_t h;
    memcpy(&h, qh, 4);
    return _mm256_mask_add_epi8(x, (__mmask32)h, x, _mm256_set1_epi8(0x10));
}


/* One row of nb Q5_0 blocks to Q8_0: the same d, quants q - 16. */
static void q5_0_to_q8_0(bytes x, int64_t nb, block_q8_0 *q)
{
    const block_q5_0 *b = (const block_q5_0 *)x;
    for (int64_t i = 0; i < nb; i++) {
        q[i].d = b[i].d;
        _mm256_storeu_si256((__m256i *)q[i].qs, _mm256_sub_epi8(vals5(b[i].qs, b[i].qh), _mm256_set1_epi8(16)));
    }
}

/* Converted rows per chunk: about 256 KiB (read once by the Q8_0 GEMM's
 * packing, in L2), whole 32-row panels, at least 64 rows so that its
 * per-call copy of the activations stays a few percent of the work. */
#define CONV_BYTES (256 * 1024)

static void gemm_q5_0(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                      size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    const int64_t nb = n / QK8_0;
    const size_t qrb = (size_t)nb * sizeof(block_q8_0);
    int cr = (int)(CONV_BYTES / qrb) / 32 * 32;
    cr = cr < 64 ? 64 : cr;
    uint8_t *buf = r0 < r1 && n_tok > 0 ? qgp_cbuf((size_t)cr * qrb) : NULL;
    for (int c0 = r0; c0 < r1; c0 += cr) {
        const int c1 = r1 - c0 < cr ? r1 : c0 + cr;
        if (buf) {
            for (int r = c0; r < c1; r++)
                q5_0_to_q8_0((bytes)w + (size_t)r * row_bytes, nb, (block_q8_0 *)(buf + (size_t)(r - c0) * qrb));
            if (qgp_gemm_q8_0(n, buf, qrb, 0, c1 - c0, act, act_bytes, n_tok, out + c0, ldy))
                continue;
        }
        /* no buffer: the same bits, slowly */
        void (*dot)(int64_t, float *, const void *, const void *) = quant_kernels_for(QT_Q5_0, "scalar")->vec_dot;
        for (int r = c0; r < c1; r++)
            for (int t = 0; t < n_tok; t++)
                dot(n, &out[(size_t)t * ldy + (size_t)r], (bytes)w + (size_t)r * row_bytes,
                    (bytes)act + (size_t)t * act_bytes);
    }
}

/* ----------------------------------------------- Q4_1 and Q5_1 (own tile) */

/* Tokens per tile and the packed sizes: a 32-row panel block is 16
 * registers of quants (group g of rows 16h..16h+15 at 2g + h), the row
 * scales (16, 17), the offset corrections (18, 19) and the row mins (20,
 * 21); a token group block is TW x 32 offset quants, then TW scales d,
 * then TW sums s. */
#define TW 6
#define WBLK (22 * 64)
#define YBLK (TW * 40)
/* Packed weights per chunk: a few panels, so that the chunk, the next
 * chunk's raw rows and the activation stream share L2 (1 MiB on Zen 5). */
#define CHUNK_BYTES (256 * 1024)

/* The d, m and values of block i of a Q4_1 (q5 = 0) or Q5_1 row. */
static inline void m_block(int q5, bytes row, int64_t i, qhalf *d, qhalf *m, __m256i *v)
{
    if (q5) {
        const block_q5_1 *b = (const block_q5_1 *)row + i;
        *d = b->d;
        *m = b->m;
        *v = vals5(b->qs, b->qh);
    } else {
        const block_q4_1 *b = (const block_q4_1 *)row + i;
        *d = b->d;
        *m = b->m;
        *v = vals4(b->qs);
    }
}

/* 16 rows (row r at row0 + r * rb; from r = nrow on, the last one again,
 * not stored) into half h of the panel at P, two blocks per 16 x 16 dword
 * transpose. The values (0..31) go in as signed bytes, as Q8_0's quants. */
static inline __attribute__((always_inline)) void
m_pack16(int q5, bytes row0, size_t rb, int nrow, int64_t nb, uint8_t *P, int h)
{
    const __m512i ones = _mm512_set1_epi8(1);
    bytes row[16];
    for (int r = 0; r < 16; r++)
        row[r] = row0 + (size_t)(r < nrow ? r : nrow - 1) * rb;
    for (int64_t b = 0; b < nb; b += 2) {
        const int64_t c = b + 1 < nb ? b + 1 : b;
        __m512i a[16];
        uint16_t d0[16], d1[16], m0[16], m1[16];
        for (int r = 0; r < 16; r++) {
            __m256i vb, vc;
            m_block(q5, row[r], b, &d0[r], &m0[r], &vb);
            m_block(q5, row[r], c, &d1[r], &m1[r], &vc);
            a[r] = _mm512_inserti64x4(_mm512_castsi256_si512(vb), vc, 1);
        }
        tr16_epi32(a);
        __m512i *wb = (__m512i *)(P + (size_t)b * WBLK), *wc = (__m512i *)(P + (size_t)c * WBLK);
        __m512i sb = _mm512_setzero_si512(), sc = _mm512_setzero_si512();
        for (int l = 0; l < 8; l++) {
            wb[2 * l + h] = a[l];
            wc[2 * l + h] = a[8 + l];
            sb = _mm512_dpbusd_epi32(sb, ones, a[l]);
            sc = _mm512_dpbusd_epi32(sc, ones, a[8 + l]);
        }
        /* c == b at an odd end: the same block written twice */
        wb[16 + h] = _mm512_castps_si512(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d0)));
        wc[16 + h] = _mm512_castps_si512(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d1)));
        wb[18 + h] = _mm512_slli_epi32(_mm512_sub_epi32(_mm512_setzero_si512(), sb), 7);
        wc[18 + h] = _mm512_slli_epi32(_mm512_sub_epi32(_mm512_setzero_si512(), sc), 7);
        wb[20 + h] = _mm512_castps_si512(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)m0)));
        wc[20 + h] = _mm512_castps_si512(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)m1)));
    }
}

/* A group of TW Q8_1 tokens (nt of them real, act + t * ab) into Y; the
 * missing ones get zeros, computed and not stored. */
static void m_prep(bytes act, size_t ab, int nt, int64_t nb, uint8_t *Y)
{
    const __m256i off = _mm256_set1_epi8((char)0x80);
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *yb = Y + (size_t)b * YBLK;
        float *dy = (float *)(yb + TW * 32), *sy = dy + TW;
        for (int t = 0; t < TW; t++) {
            if (t >= nt) {
                _mm256_storeu_si256((__m256i *)(yb + t * 32), _mm256_setzero_si256());
                dy[t] = 0.0f;
                sy[t] = 0.0f;
                continue;
            }
            const block_q8_1 *y = (const block_q8_1 *)(act + (size_t)t * ab) + b;
            _mm256_storeu_si256((__m256i *)(yb + t * 32),
                                _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)y->qs), off));
            dy[t] = _cvtsh_ss(y->d);
            sy[t] = _cvtsh_ss(y->s);
        }
    }
}

/*
 * The tile kernel for T tokens (1..TW), in assembly for the reason the
 * Q8_0 GEMM's is (GCC 12 spills the accumulators and contracts the
 * multiplies and adds into FMAs, which the scalar dot does not do).
 * Registers: the float sums of token t are zmm t (rows 0-15) and zmm 6+t
 * (rows 16-31), its block's int32 dots zmm 12+t and 18+t; zmm24/25 hold
 * a group's weights (the corrections at the start of a block), 26/27 the
 * broadcasts (in the block's tail: the token's s and m * s), 28/29 the
 * row scales, 30 the token's d, 31 the scale product.
 * Per block: the 8 groups, then for each token and half
 * f += ((dx * dy) * (float)p + m * s); then one prefetch of the next
 * chunk (pf, advancing ps bytes).
 */
#define M_EACH1(M, G) M(G, 0, 12, 18, 0, 6, 26)
#define M_EACH2(M, G) M_EACH1(M, G) M(G, 1, 13, 19, 1, 7, 27)
#define M_EACH3(M, G) M_EACH2(M, G) M(G, 2, 14, 20, 2, 8, 26)
#define M_EACH4(M, G) M_EACH3(M, G) M(G, 3, 15, 21, 3, 9, 27)
#define M_EACH5(M, G) M_EACH4(M, G) M(G, 4, 16, 22, 4, 10, 26)
#define M_EACH6(M, G) M_EACH5(M, G) M(G, 5, 17, 23, 5, 11, 27)
#define M_ZERO(G, T, A, B, F0, F1, Y)                                                        \
    "vpxord %%zmm" #F0 ", %%zmm" #F0 ", %%zmm" #F0 "\n\t"                                     \
    "vpxord %%zmm" #F1 ", %%zmm" #F1 ", %%zmm" #F1 "\n\t"
#define M_INIT(G, T, A, B, F0, F1, Y)                                                        \
    "vmovdqa64 %%zmm24, %%zmm" #A "\n\t"                                                     \
    "vmovdqa64 %%zmm25, %%zmm" #B "\n\t"
#define M_DOT(G, T, A, B, F0, F1, Y)                                                         \
    "vpbroadcastd " #T "*32+" #G "*4(%[y]), %%zmm" #Y "\n\t"                                  \
    "vpdpbusd %%zmm24, %%zmm" #Y ", %%zmm" #A "\n\t"                                          \
    "vpdpbusd %%zmm25, %%zmm" #Y ", %%zmm" #B "\n\t"
/* A: the dots of a half, F its sums, D its scales, MO the offset of its
 * mins in the panel block */
#define M_FIN1(A, F, D, MO)                                                                  \
    "vmulps %%zmm30, %%zmm" #D ", %%zmm31\n\t"                                                \
    "vcvtdq2ps %%zmm" #A ", %%zmm" #A "\n\t"                                                  \
    "vmulps %%zmm31, %%zmm" #A ", %%zmm" #A "\n\t"                                            \
    "vmulps " #MO "(%[w]), %%zmm26, %%zmm27\n\t"                                              \
    "vaddps %%zmm27, %%zmm" #A ", %%zmm" #A "\n\t"                                            \
    "vaddps %%zmm" #A ", %%zmm" #F ", %%zmm" #F "\n\t"
#define M_FIN(G, T, A, B, F0, F1, Y)                                                         \
    "vbroadcastss 192+" #T "*4(%[y]), %%zmm30\n\t"                                            \
    "vbroadcastss 216+" #T "*4(%[y]), %%zmm26\n\t" M_FIN1(A, F0, 28, 1280) M_FIN1(B, F1, 29, 1344)
#define M_STORE(G, T, A, B, F0, F1, Y)                                                       \
    "vmovups %%zmm" #F0 ", " #T "*64(%[f])\n\t"                                               \
    "vmovups %%zmm" #F1 ", " #T "*64+6*64(%[f])\n\t"
#define M_GROUP(G, E)                                                                        \
    "vmovdqa64 " #G "*128(%[w]), %%zmm24\n\t"                                                 \
    "vmovdqa64 " #G "*128+64(%[w]), %%zmm25\n\t" E(M_DOT, G)

#define M_TILE_FN(T)                                                                         \
    static void m_tile##T(bytes w, bytes y, int64_t nb, float *f, bytes pf, size_t ps)       \
    {                                                                                        \
        __asm__ volatile(                                                                    \
            M_EACH##T(M_ZERO, 0)                                                             \
            "1:\n\t"                                                                         \
            "vmovdqa64 1152(%[w]), %%zmm24\n\t"                                              \
            "vmovdqa64 1216(%[w]), %%zmm25\n\t"                                              \
            M_EACH##T(M_INIT, 0)                                                             \
            M_GROUP(0, M_EACH##T) M_GROUP(1, M_EACH##T) M_GROUP(2, M_EACH##T)                \
            M_GROUP(3, M_EACH##T) M_GROUP(4, M_EACH##T) M_GROUP(5, M_EACH##T)                \
            M_GROUP(6, M_EACH##T) M_GROUP(7, M_EACH##T)                                      \
            "vmovaps 1024(%[w]), %%zmm28\n\t"                                                \
            "vmovaps 1088(%[w]), %%zmm29\n\t"                                                \
            M_EACH##T(M_FIN, 0)                                                              \
            "prefetcht1 (%[pf])\n\t"                                                         \
            "add %[ps], %[pf]\n\t"                                                           \
            "add $1408, %[w]\n\t"                                                            \
            "add $240, %[y]\n\t"                                                             \
            "dec %[n]\n\t"                                                                   \
            "jnz 1b\n\t"                                                                     \
            M_EACH##T(M_STORE, 0)                                                            \
            : [w] "+r"(w), [y] "+r"(y), [n] "+r"(nb), [pf] "+r"(pf)                          \
            : [f] "r"(f), [ps] "r"(ps)                                                       \
            : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",  \
              "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16",   \
              "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", \
              "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");                           \
    }

M_TILE_FN(1)
M_TILE_FN(2)
M_TILE_FN(3)
M_TILE_FN(4)
M_TILE_FN(5)
M_TILE_FN(6)

#if WBLK != 1408 || YBLK != 240 || TW != 6
#error "m_tile's offsets assume these sizes"
#endif

typedef void (*m_tile_fn)(bytes, bytes, int64_t, float *, bytes, size_t);
static const m_tile_fn m_tiles[TW + 1] = {NULL, m_tile1, m_tile2, m_tile3, m_tile4, m_tile5, m_tile6};

/* The Q8_0 GEMM's schedule (quant_gemm_q8_avx512.c): each thread packs
 * its rows a chunk of panels at a time, the chunk met by every token
 * group while in L2, the next chunk's rows prefetched by the tiles. */
static inline __attribute__((always_inline)) void
gemm_min(int q5, int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
         size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    if (r0 >= r1 || n_tok <= 0)
        return;
    const int64_t nb = n / QK8_0;
    const int ng = (n_tok + TW - 1) / TW, np = (r1 - r0 + 31) / 32;
    const size_t pbytes = (size_t)nb * WBLK, gbytes = (size_t)nb * YBLK;
    int cp = (int)(CHUNK_BYTES / pbytes);
    cp = cp < 1 ? 1 : cp > np ? np : cp;
    uint8_t *P = qgp_wbuf((size_t)cp * pbytes + (size_t)ng * gbytes);
    if (!P) {
        /* no buffer: the same bits, slowly */
        void (*dot)(int64_t, float *, const void *, const void *) =
            quant_kernels_for(q5 ? QT_Q5_1 : QT_Q4_1, "scalar")->vec_dot;
        for (int r = r0; r < r1; r++)
            for (int t = 0; t < n_tok; t++)
                dot(n, &out[(size_t)t * ldy + (size_t)r], (bytes)w + (size_t)r * row_bytes,
                    (bytes)act + (size_t)t * act_bytes);
        return;
    }
    uint8_t *Y = P + (size_t)cp * pbytes;
    const size_t first = (size_t)(r1 - r0 < 32 ? r1 - r0 : 32) * row_bytes;
    for (size_t k = 0; k < first; k += 64)
        _mm_prefetch((const char *)w + (size_t)r0 * row_bytes + k, _MM_HINT_T0);
    for (int g = 0; g < ng; g++) {
        const int nt = n_tok - g * TW < TW ? n_tok - g * TW : TW;
        m_prep((bytes)act + (size_t)g * TW * act_bytes, act_bytes, nt, nb, Y + (size_t)g * gbytes);
    }
    float fo[2 * TW * 16] __attribute__((aligned(64)));
    for (int c0 = r0, cn = 1; c0 < r1;) {
        const int c1 = r1 - c0 < cn * 32 ? r1 : c0 + cn * 32, npc = (c1 - c0 + 31) / 32;
        for (int p = 0; p < npc; p++) {
            const int p0 = c0 + 32 * p, nr = c1 - p0 < 32 ? c1 - p0 : 32;
            for (int h = 0; h < 2; h++) {
                /* a half past the end repeats the last row (not stored) */
                const int f = 16 * h < nr ? 16 * h : nr - 1, m = nr - f < 16 ? nr - f : 16;
                m_pack16(q5, (bytes)w + (size_t)(p0 + f) * row_bytes, row_bytes, m, nb, P + (size_t)p * pbytes, h);
            }
        }
        const int nn = 2 * cn < cp ? 2 * cn : cp;
        const size_t next_bytes = (size_t)(r1 - c1 < nn * 32 ? r1 - c1 : nn * 32) * row_bytes;
        bytes next = (bytes)w + (size_t)c1 * row_bytes;
        const size_t ntile = (size_t)ng * (size_t)npc;
        const size_t ps = (next_bytes / ntile + (size_t)nb - 1) / (size_t)nb;
        for (int g = 0; g < ng; g++) {
            const int nt = n_tok - g * TW < TW ? n_tok - g * TW : TW;
            for (int p = 0; p < npc; p++) {
                const int p0 = c0 + 32 * p, nr = c1 - p0 < 32 ? c1 - p0 : 32;
                m_tiles[nt](P + (size_t)p * pbytes, Y + (size_t)g * gbytes, nb, fo,
                            next + next_bytes * ((size_t)g * npc + (size_t)p) / ntile, ps);
                for (int h = 0; h < 2 && 16 * h < nr; h++) {
                    const int m = nr - 16 * h < 16 ? nr - 16 * h : 16;
                    const __mmask16 mrow = (__mmask16)((1u << m) - 1);
                    for (int t = 0; t < nt; t++)
                        _mm512_mask_storeu_ps(out + (size_t)(g * TW + t) * ldy + (size_t)(p0 + 16 * h), mrow,
                                              _mm512_load_ps(fo + (h * TW + t) * 16));
                }
            }
        }
        c0 = c1;
        cn = nn;
    }
}

static void gemm_q4_1(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                      size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    gemm_min(0, n, w, row_bytes, r0, r1, act, act_bytes, n_tok, out, ldy);
}

static void gemm_q5_1(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                      size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    gemm_min(1, n, w, row_bytes, r0, r1, act, act_bytes, n_tok, out, ldy);
}

quant_gemm_fn quant_gemm_legacy_avx512_for(int type)
{
    switch (type) {
    case QT_Q5_0: return gemm_q5_0;
    case QT_Q4_1: return gemm_q4_1;
    case QT_Q5_1: return gemm_q5_1;
    default: return NULL;
    }
}
