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

#endif
