/*
 * quant_gemm_q8_avx512.c - Q8_0 GEMM on row-interleaved weights (see
 * quant_gemm_pack.h), for prefill batches.
 *
 * Bits: every element is the scalar vec_dot's (quant_legacy.c), not the
 * AVX-512 vec_dot's: per block the exact integer dot p, then
 * sum += (float)p * (dx * dy), blocks in order from sum = 0. The AVX-512
 * vec_dot instead scales and sums each group of 4 quants in its own float
 * lane, which would cost a convert, a multiply and an add per 4 quants
 * here (half the speed); the two differ by float summation order only
 * (quant.h).
 *
 * Shape: a register's 16 lanes are 16 weight rows, each holding 4
 * consecutive quants of its row, so one vpdpbusd multiplies 16 rows by a
 * broadcast of 4 activation bytes. vpdpbusd takes one operand unsigned:
 * the activations, offset by 128 (y ^ 0x80 = y + 128) when they are
 * copied for the tiles; each row's int32 accumulators start from -128 x
 * the sum of its block's quants (the offset taken back, exactly; summed
 * once per call when the weights are packed). A register tile is 32 rows
 * x 6 tokens: per group of 4 quants, two weight loads and six broadcasts
 * feed twelve vpdpbusd (on Zen 5 the loads, not the multiplies, bound a
 * tile that loads or broadcasts an operand per vpdpbusd), then per block
 * and token a convert, two multiplies and an add per 16 rows. That float
 * tail is about an eighth of the multiply pipes' work and cannot shrink:
 * the scalar dot rounds dx * dy and the product before each add. In L1
 * the tile runs at ~80% of the core's vpdpbusd peak (the 16 x 8 tile with
 * embedded broadcasts it replaces: ~66%).
 *
 * Order: each thread packs its rows a chunk at a time (a few 32-row
 * panels, at most CHUNK_BYTES packed: the chunk stays in L2 while every
 * token passes over it), so each weight is read from memory and packed
 * once per call (before, once per block of tokens); the activations are
 * copied once per call into per-tile groups that the tiles read
 * sequentially. The tiles prefetch the next chunk's rows a line or so
 * per block, evenly over the chunk's work: the packing otherwise waits
 * on 32 strided row streams, more than the hardware prefetcher follows.
 *
 * Work buffer: the thread's own (qgp_wbuf), for the packed chunk and the
 * copied activations. Without it the caller gets the per-row kernel (the
 * same bits, slowly).
 */
#include <immintrin.h>

#include "core/tr16_avx512.h"
#include "quant/quant_gemm_pack.h"
#include "quant/quant_impl.h"

typedef const uint8_t *bytes;

/* Tokens per tile and the packed sizes: a 32-row panel block is 16
 * registers of quants (group g of rows 16h..16h+15 at 2g + h), the row
 * scales (16, 17) and the offset corrections (18, 19); a token group
 * block is TW x 32 offset quants, then TW scales. */
#define TW 6
#define WBLK (20 * 64)
#define YBLK (TW * 36)
/* Packed weights per chunk: a few panels, so that the chunk, the next
 * chunk's raw rows and the activation stream share L2 (1 MiB on Zen 5). */
#define CHUNK_BYTES (256 * 1024)

static inline float h2f(qhalf h)
{
    return _cvtsh_ss(h);
}

/* 16 rows (row r at row0 + r * rb; from r = nrow on, the last one again,
 * not stored) into half h of the panel at P. Two blocks per 16 x 16 dword
 * transpose. */
static void q8_pack16(bytes row0, size_t rb, int nrow, int64_t nb, uint8_t *P, int h)
{
    const __m512i ones = _mm512_set1_epi8(1);
    bytes row[16];
    for (int r = 0; r < 16; r++)
        row[r] = row0 + (size_t)(r < nrow ? r : nrow - 1) * rb;
    for (int64_t b = 0; b < nb; b += 2) {
        const int64_t c = b + 1 < nb ? b + 1 : b;
        __m512i a[16];
        for (int r = 0; r < 16; r++) {
            const block_q8_0 *x = (const block_q8_0 *)row[r];
            a[r] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)x[b].qs)),
                                      _mm256_loadu_si256((const __m256i *)x[c].qs), 1);
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
        uint16_t d0[16], d1[16];
        for (int r = 0; r < 16; r++) {
            const block_q8_0 *x = (const block_q8_0 *)row[r];
            d0[r] = x[b].d;
            d1[r] = x[c].d;
        }
        /* c == b at an odd end: the same block written twice */
        wb[16 + h] = _mm512_castps_si512(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d0)));
        wc[16 + h] = _mm512_castps_si512(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d1)));
        wb[18 + h] = _mm512_slli_epi32(_mm512_sub_epi32(_mm512_setzero_si512(), sb), 7);
        wc[18 + h] = _mm512_slli_epi32(_mm512_sub_epi32(_mm512_setzero_si512(), sc), 7);
    }
}

/* A group of TW tokens (nt of them real, act + t * ab) into Y; the
 * missing ones get zeros, computed and not stored. */
static void q8_prep(bytes act, size_t ab, int nt, int64_t nb, uint8_t *Y)
{
    const __m256i off = _mm256_set1_epi8((char)0x80);
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *yb = Y + (size_t)b * YBLK;
        float *dy = (float *)(yb + TW * 32);
        for (int t = 0; t < TW; t++) {
            if (t >= nt) {
                _mm256_storeu_si256((__m256i *)(yb + t * 32), _mm256_setzero_si256());
                dy[t] = 0.0f;
                continue;
            }
            const block_q8_0 *y = (const block_q8_0 *)(act + (size_t)t * ab) + b;
            _mm256_storeu_si256((__m256i *)(yb + t * 32),
                                _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)y->qs), off));
            dy[t] = h2f(y->d);
        }
    }
}

/*
 * The tile kernel for T tokens (1..TW), written out in assembly: GCC 12
 * neither keeps this many accumulators in registers nor leaves the
 * multiplies and adds uncontracted without it. Registers: the float sums
 * of token t are zmm t (rows 0-15) and zmm 6+t (rows 16-31), its block's
 * int32 dots zmm 12+t and 18+t; zmm24/25 hold a group's weights (the
 * corrections at the start of a block), 26/27 the broadcasts, 28/29 the
 * row scales, 30 the token's scale, 31 the scale product. All 32 are
 * named, so GCC gets the pointers in general registers only.
 * Per block: the 8 groups, then for each token f += (float)p * (dx * dy)
 * per half, each operation rounded as in the scalar dot; then one
 * prefetch of the next chunk (pf, advancing ps bytes).
 */
#define Q8_EACH1(M, G) M(G, 0, 12, 18, 0, 6, 26)
#define Q8_EACH2(M, G) Q8_EACH1(M, G) M(G, 1, 13, 19, 1, 7, 27)
#define Q8_EACH3(M, G) Q8_EACH2(M, G) M(G, 2, 14, 20, 2, 8, 26)
#define Q8_EACH4(M, G) Q8_EACH3(M, G) M(G, 3, 15, 21, 3, 9, 27)
#define Q8_EACH5(M, G) Q8_EACH4(M, G) M(G, 4, 16, 22, 4, 10, 26)
#define Q8_EACH6(M, G) Q8_EACH5(M, G) M(G, 5, 17, 23, 5, 11, 27)
#define Q8_ZERO(G, T, A, B, F0, F1, Y)                                                       \
    "vpxord %%zmm" #F0 ", %%zmm" #F0 ", %%zmm" #F0 "\n\t"                                     \
    "vpxord %%zmm" #F1 ", %%zmm" #F1 ", %%zmm" #F1 "\n\t"
#define Q8_INIT(G, T, A, B, F0, F1, Y)                                                       \
    "vmovdqa64 %%zmm24, %%zmm" #A "\n\t"                                                     \
    "vmovdqa64 %%zmm25, %%zmm" #B "\n\t"
#define Q8_DOT(G, T, A, B, F0, F1, Y)                                                        \
    "vpbroadcastd " #T "*32+" #G "*4(%[y]), %%zmm" #Y "\n\t"                                  \
    "vpdpbusd %%zmm24, %%zmm" #Y ", %%zmm" #A "\n\t"                                          \
    "vpdpbusd %%zmm25, %%zmm" #Y ", %%zmm" #B "\n\t"
#define Q8_FIN1(A, F, D)                                                                     \
    "vmulps %%zmm30, %%zmm" #D ", %%zmm31\n\t"                                                \
    "vcvtdq2ps %%zmm" #A ", %%zmm" #A "\n\t"                                                  \
    "vmulps %%zmm31, %%zmm" #A ", %%zmm" #A "\n\t"                                            \
    "vaddps %%zmm" #A ", %%zmm" #F ", %%zmm" #F "\n\t"
#define Q8_FIN(G, T, A, B, F0, F1, Y)                                                        \
    "vbroadcastss 192+" #T "*4(%[y]), %%zmm30\n\t" Q8_FIN1(A, F0, 28) Q8_FIN1(B, F1, 29)
#define Q8_STORE(G, T, A, B, F0, F1, Y)                                                      \
    "vmovups %%zmm" #F0 ", " #T "*64(%[f])\n\t"                                               \
    "vmovups %%zmm" #F1 ", " #T "*64+6*64(%[f])\n\t"
#define Q8_GROUP(G, E)                                                                       \
    "vmovdqa64 " #G "*128(%[w]), %%zmm24\n\t"                                                 \
    "vmovdqa64 " #G "*128+64(%[w]), %%zmm25\n\t" E(Q8_DOT, G)

#define Q8_TILE_FN(T)                                                                        \
    static void q8_tile##T(bytes w, bytes y, int64_t nb, float *f, bytes pf, size_t ps)      \
    {                                                                                        \
        __asm__ volatile(                                                                    \
            Q8_EACH##T(Q8_ZERO, 0)                                                           \
            "1:\n\t"                                                                         \
            "vmovdqa64 1152(%[w]), %%zmm24\n\t"                                              \
            "vmovdqa64 1216(%[w]), %%zmm25\n\t"                                              \
            Q8_EACH##T(Q8_INIT, 0)                                                           \
            Q8_GROUP(0, Q8_EACH##T) Q8_GROUP(1, Q8_EACH##T) Q8_GROUP(2, Q8_EACH##T)          \
            Q8_GROUP(3, Q8_EACH##T) Q8_GROUP(4, Q8_EACH##T) Q8_GROUP(5, Q8_EACH##T)          \
            Q8_GROUP(6, Q8_EACH##T) Q8_GROUP(7, Q8_EACH##T)                                  \
            "vmovaps 1024(%[w]), %%zmm28\n\t"                                                \
            "vmovaps 1088(%[w]), %%zmm29\n\t"                                                \
            Q8_EACH##T(Q8_FIN, 0)                                                            \
            "prefetcht1 (%[pf])\n\t"                                                         \
            "add %[ps], %[pf]\n\t"                                                           \
            "add $1280, %[w]\n\t"                                                            \
            "add $216, %[y]\n\t"                                                             \
            "dec %[n]\n\t"                                                                   \
            "jnz 1b\n\t"                                                                     \
            Q8_EACH##T(Q8_STORE, 0)                                                          \
            : [w] "+r"(w), [y] "+r"(y), [n] "+r"(nb), [pf] "+r"(pf)                          \
            : [f] "r"(f), [ps] "r"(ps)                                                       \
            : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",  \
              "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16",   \
              "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", \
              "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");                           \
    }

Q8_TILE_FN(1)
Q8_TILE_FN(2)
Q8_TILE_FN(3)
Q8_TILE_FN(4)
Q8_TILE_FN(5)
Q8_TILE_FN(6)

#if WBLK != 1280 || YBLK != 216 || TW != 6
#error "q8_tile's offsets assume these sizes"
#endif

typedef void (*q8_tile_fn)(bytes, bytes, int64_t, float *, bytes, size_t);
static const q8_tile_fn q8_tiles[TW + 1] = {NULL, q8_tile1, q8_tile2, q8_tile3, q8_tile4, q8_tile5, q8_tile6};

int qgp_gemm_q8_0(int64_t n, const void *w, size_t row_bytes, int r0, int r1, const void *act,
                  size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    if (r0 >= r1 || n_tok <= 0)
        return 1;
    const int64_t nb = n / QK8_0;
    const int ng = (n_tok + TW - 1) / TW, np = (r1 - r0 + 31) / 32;
    const size_t pbytes = (size_t)nb * WBLK, gbytes = (size_t)nb * YBLK;
    int cp = (int)(CHUNK_BYTES / pbytes);
    cp = cp < 1 ? 1 : cp > np ? np : cp;
    uint8_t *P = qgp_wbuf((size_t)cp * pbytes + (size_t)ng * gbytes);
    if (!P)
        return 0;
    uint8_t *Y = P + (size_t)cp * pbytes;
    /* The first chunk is one panel (its rows fetched while the activations
     * are copied); each chunk's tiles prefetch the next, twice as large,
     * up to cp panels. */
    const size_t first = (size_t)(r1 - r0 < 32 ? r1 - r0 : 32) * row_bytes;
    for (size_t k = 0; k < first; k += 64)
        _mm_prefetch((const char *)w + (size_t)r0 * row_bytes + k, _MM_HINT_T0);
    for (int g = 0; g < ng; g++) {
        const int nt = n_tok - g * TW < TW ? n_tok - g * TW : TW;
        q8_prep((bytes)act + (size_t)g * TW * act_bytes, act_bytes, nt, nb, Y + (size_t)g * gbytes);
    }
    float fo[2 * TW * 16] __attribute__((aligned(64)));
    for (int c0 = r0, cn = 1; c0 < r1;) {
        const int c1 = r1 - c0 < cn * 32 ? r1 : c0 + cn * 32, npc = (c1 - c0 + 31) / 32;
        for (int p = 0; p < npc; p++) {
            const int p0 = c0 + 32 * p, nr = c1 - p0 < 32 ? c1 - p0 : 32;
            for (int h = 0; h < 2; h++) {
                /* a half past the end repeats the last row (not stored) */
                const int f = 16 * h < nr ? 16 * h : nr - 1, m = nr - f < 16 ? nr - f : 16;
                q8_pack16((bytes)w + (size_t)(p0 + f) * row_bytes, row_bytes, m, nb, P + (size_t)p * pbytes, h);
            }
        }
        /* the next chunk's rows are contiguous: each tile prefetches its
         * share, one step per block (a line or less: lines repeat) */
        const int nn = 2 * cn < cp ? 2 * cn : cp;
        const size_t next_bytes = (size_t)(r1 - c1 < nn * 32 ? r1 - c1 : nn * 32) * row_bytes;
        bytes next = (bytes)w + (size_t)c1 * row_bytes;
        const size_t ntile = (size_t)ng * (size_t)npc;
        const size_t ps = (next_bytes / ntile + (size_t)nb - 1) / (size_t)nb;
        for (int g = 0; g < ng; g++) {
            const int nt = n_tok - g * TW < TW ? n_tok - g * TW : TW;
            for (int p = 0; p < npc; p++) {
                const int p0 = c0 + 32 * p, nr = c1 - p0 < 32 ? c1 - p0 : 32;
                q8_tiles[nt](P + (size_t)p * pbytes, Y + (size_t)g * gbytes, nb, fo,
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
    return 1;
}
