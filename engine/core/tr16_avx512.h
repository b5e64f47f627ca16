/*
 * tr16_avx512.h - the 16 x 16 transpose of 32-bit lanes that the AVX-512
 * packing code shares, and the four-row horizontal sum of the decode
 * kernels (the k-quant and Q8_0 GEMMs' weight interleaving,
 * the F16 GEMM's slices, the batched attention's queries and outputs).
 * Include from *_avx512.c only. Inline: as a call, its 16 registers go
 * through memory both ways (a 32-row Q8_0 panel of 2048 columns packed in
 * 2.5 us in L2 against 1.5 inlined).
 */
#ifndef CHORD_TR16_AVX512_H
#define CHORD_TR16_AVX512_H

#include <immintrin.h>

/* In place: a[j] lane r becomes the old a[r] lane j. Pure data movement,
 * so the same for ints and floats (tr16_ps). */
static inline __attribute__((always_inline)) void tr16_epi32(__m512i a[16])
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

/* Lane t = the sum of all lanes of a_t, t < 4: the horizontal sums of
 * four rows' int32 accumulators sharing one reduction tree (the decode
 * kernels' four rows at a time; exact, integer adds in any order). */
static inline __m128i reduce4_epi32(__m512i a0, __m512i a1, __m512i a2, __m512i a3)
{
    const __m512i s01 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
    const __m512i s23 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
    const __m512i s = _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
    const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

static inline __attribute__((always_inline)) void tr16_ps(__m512 r[16])
{
    __m512i a[16];
    for (int i = 0; i < 16; i++)
        a[i] = _mm512_castps_si512(r[i]);
    tr16_epi32(a);
    for (int i = 0; i < 16; i++)
        r[i] = _mm512_castsi512_ps(a[i]);
}

#endif
