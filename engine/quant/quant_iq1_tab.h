/*
 * quant_iq1_tab.h - a table derived from the IQ1_S / IQ1_M codebook
 * quant_iq1s_grid (which stays the one source): point i with each value g
 * stored as the unsigned byte 8 (g + 1), i.e. 0, 8 or 16. The AVX-512
 * decode kernels gather it and add the delta's (delta + 1) to get, with no
 * further unpacking, the unsigned weight bytes 8 g + delta + 9 of vpdpbusd
 * (see quant_iq1tq_avx512.c).
 */
#ifndef CHORD_QUANT_IQ1_TAB_H
#define CHORD_QUANT_IQ1_TAB_H

#include <stdint.h>

extern uint64_t quant_iq1s_grid8[2048];

/* Fills quant_iq1s_grid8 (quant_register_iq1tq calls it, before any kernel runs). */
void quant_iq1s_grid8_build(void);

/* The derived entry of one point (8 signed bytes in {-1, 0, 1}). */
static inline uint64_t quant_iq1s_point8(uint64_t point)
{
    uint64_t e = 0;
    for (int k = 0; k < 8; k++)
        e |= (uint64_t)(uint8_t)(8 * ((int8_t)(point >> (8 * k)) + 1)) << (8 * k);
    return e;
}

#endif
