/*
 * quant_k4_x86.h - the Q4_K/Q5_K scale and min unpacking shared by the
 * x86 dot products and GEMMs (include from *_avx2.c / *_avx512.c only).
 */
#ifndef CHORD_QUANT_K4_X86_H
#define CHORD_QUANT_K4_X86_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* The eight 6-bit scales (*sc8) and eight 6-bit mins (*m8) of a Q4_K/Q5_K
 * super-block's 12 packed bytes, as the low 8 bytes of each vector.
 * Unpacked four at a time with 32-bit masks: scales 0-3 and mins 0-3 are
 * the low 6 bits of bytes 0-3 and 4-7; scales and mins 4-7 take nibbles
 * of bytes 8-11 and the top two bits of bytes 0-3 and 4-7. One definition
 * so that every kernel reads the scales the same way (the GEMMs promise
 * the dots' bits). */
static inline void k4_unpack(const uint8_t *packed, __m128i *sc8, __m128i *m8)
{
    uint32_t a[3];
    memcpy(a, packed, 12);
    const uint32_t sc_lo = a[0] & 0x3f3f3f3fu;
    const uint32_t sc_hi = (a[2] & 0x0f0f0f0fu) | (((a[0] >> 6) & 0x03030303u) << 4);
    const uint32_t m_lo = a[1] & 0x3f3f3f3fu;
    const uint32_t m_hi = ((a[2] >> 4) & 0x0f0f0f0fu) | (((a[1] >> 6) & 0x03030303u) << 4);
    *sc8 = _mm_set_epi32(0, 0, (int)sc_hi, (int)sc_lo);
    *m8 = _mm_set_epi32(0, 0, (int)m_hi, (int)m_lo);
}

#ifdef __AVX512F__
/* The same unpacking for sixteen super-blocks at once (one per 32-bit
 * lane): h1, h2, h3 hold bytes 0-3, 4-7, 8-11 of each one's 12 packed
 * bytes; lane r of the results is k4_unpack's sc_lo, sc_hi, m_lo, m_hi
 * of super-block r (for the GEMM's packing of 16 rows). */
static inline void k4_unpack16(__m512i h1, __m512i h2, __m512i h3, __m512i *sc_lo, __m512i *sc_hi,
                               __m512i *m_lo, __m512i *m_hi)
{
    const __m512i c3f = _mm512_set1_epi32(0x3f3f3f3f), c0f = _mm512_set1_epi32(0x0f0f0f0f),
                  c03 = _mm512_set1_epi32(0x03030303);
    *sc_lo = _mm512_and_si512(h1, c3f);
    *sc_hi = _mm512_or_si512(_mm512_and_si512(h3, c0f),
                             _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h1, 6), c03), 4));
    *m_lo = _mm512_and_si512(h2, c3f);
    *m_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(h3, 4), c0f),
                            _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h2, 6), c03), 4));
}
#endif

#endif
