/*
 * quant_codebook.h - the fixed tables of the i-quant and MXFP4 formats,
 * kept in one place (quant_codebook.c). Grid points pack one value per
 * byte, lowest byte first (a uint64_t point is 8 values, a uint32_t 4).
 */
#ifndef CHORD_QUANT_CODEBOOK_H
#define CHORD_QUANT_CODEBOOK_H

#include <stdint.h>

#define QUANT_IQ1S_DELTA 0.125f /* IQ1_S / IQ1_M: grid shift of a block */

/* bit j of a byte, j = 0..7 (the sign masks of the IQ2/IQ3 kernels) */
extern const uint8_t quant_kmask_iq2xs[8];
/* 7 stored sign bits i -> 8 signs: bit 7 makes the number of negative signs even */
extern const uint8_t quant_ksigns_iq2xs[128];
/* IQ2_XXS: 256 points of 8 magnitudes in {8, 25, 43}, one byte each */
extern const uint64_t quant_iq2xxs_grid[256];
/* IQ2_XS: 512 points of 8 magnitudes in {8, 25, 43} */
extern const uint64_t quant_iq2xs_grid[512];
/* IQ2_S: 1024 points of 8 magnitudes in {8, 25, 43} */
extern const uint64_t quant_iq2s_grid[1024];
/* IQ3_XXS: 256 points of 4 magnitudes in {4, 12, ..., 62}, one byte each */
extern const uint32_t quant_iq3xxs_grid[256];
/* IQ3_S: 512 points of 4 odd magnitudes 1..15 */
extern const uint32_t quant_iq3s_grid[512];
/* IQ4_NL / IQ4_XS: the 16 non-linear levels */
extern const int8_t quant_kvalues_iq4nl[16];
/* MXFP4: the 16 E2M1 values doubled (0, 0.5, 1, 1.5, 2, 3, 4, 6 and negatives, times 2) */
extern const int8_t quant_kvalues_mxfp4[16];
/* IQ1_S / IQ1_M: 2048 points of 8 values in {-1, 0, 1}, one signed byte each */
extern const uint64_t quant_iq1s_grid[2048];

#endif
