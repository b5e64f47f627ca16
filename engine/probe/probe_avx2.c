/*
 * probe_avx2.c - AVX2 kernels of the machine-limit probes (built with
 * -mavx2; called only when the CPU has it).
 */
#include <immintrin.h>

#include "probe/probe.h"

uint64_t probe_read_avx2(const void *p, size_t n)
{
    const __m256i *v = p;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < n / 32; i += 4) {
        a0 = _mm256_add_epi64(a0, _mm256_load_si256(v + i));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256(v + i + 1));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256(v + i + 2));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256(v + i + 3));
    }
    a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, a0);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

int32_t probe_int8_avx2(const uint8_t *buf, int64_t iters)
{
    /* The quantized dot products' inner step without VNNI: u8 x s8 pairs
     * summed to s16 (vpmaddubsw), widened to s32 (vpmaddwd by ones) and
     * accumulated. The operands rotate through a buffer in L1 so the
     * multiplies cannot be hoisted out of the loop. */
    const __m256i *v = (const __m256i *)buf;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i c[8];
    for (int k = 0; k < 8; k++)
        c[k] = _mm256_setzero_si256();
    for (int64_t i = 0; i < iters; i++) {
        const __m256i *w = v + (i & 7);
        __m256i x = _mm256_load_si256(w), y = _mm256_load_si256(w + 8);
        __m256i x2 = _mm256_load_si256(w + 4);
        c[0] = _mm256_add_epi32(c[0], _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), ones));
        c[1] = _mm256_add_epi32(c[1], _mm256_madd_epi16(_mm256_maddubs_epi16(x2, y), ones));
        c[2] = _mm256_add_epi32(c[2], _mm256_madd_epi16(_mm256_maddubs_epi16(y, x), ones));
        c[3] = _mm256_add_epi32(c[3], _mm256_madd_epi16(_mm256_maddubs_epi16(y, x2), ones));
        c[4] = _mm256_add_epi32(c[4], _mm256_madd_epi16(_mm256_maddubs_epi16(x, x2), ones));
        c[5] = _mm256_add_epi32(c[5], _mm256_madd_epi16(_mm256_maddubs_epi16(x2, x), ones));
        c[6] = _mm256_add_epi32(c[6], _mm256_madd_epi16(_mm256_maddubs_epi16(x, x), ones));
        c[7] = _mm256_add_epi32(c[7], _mm256_madd_epi16(_mm256_maddubs_epi16(x2, x2), ones));
    }
    __m256i s = c[0];
    for (int k = 1; k < 8; k++)
        s = _mm256_add_epi32(s, c[k]);
    /* summed unsigned: the sum only keeps the work alive and may wrap */
    uint32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, s);
    return (int32_t)(lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7]);
}

float probe_fma_avx2(const float *buf, int64_t iters)
{
    /* as probe_fma_avx512, eight lanes a register */
    const __m256 x = _mm256_load_ps(buf), y = _mm256_load_ps(buf + 16);
    __m256 c[12];
    for (int k = 0; k < 12; k++)
        c[k] = _mm256_load_ps(buf + 32 + 16 * (k & 3));
    /* written out, as the int8 probe is: an -O2 ASan build kept a
     * loop's accumulator array in memory (12 against 220 GFLOP/s on one
     * thread); at -O0 they are in memory either way, which is why
     * bench_cli compares this rate with sgemm's only uninstrumented */
    for (int64_t i = 0; i < iters; i++) {
        c[0] = _mm256_fmadd_ps(c[0], x, y);
        c[1] = _mm256_fmadd_ps(c[1], x, y);
        c[2] = _mm256_fmadd_ps(c[2], x, y);
        c[3] = _mm256_fmadd_ps(c[3], x, y);
        c[4] = _mm256_fmadd_ps(c[4], x, y);
        c[5] = _mm256_fmadd_ps(c[5], x, y);
        c[6] = _mm256_fmadd_ps(c[6], x, y);
        c[7] = _mm256_fmadd_ps(c[7], x, y);
        c[8] = _mm256_fmadd_ps(c[8], x, y);
        c[9] = _mm256_fmadd_ps(c[9], x, y);
        c[10] = _mm256_fmadd_ps(c[10], x, y);
        c[11] = _mm256_fmadd_ps(c[11], x, y);
    }
    __m256 s = c[0];
    for (int k = 1; k < 12; k++)
        s = _mm256_add_ps(s, c[k]);
    float lanes[8];
    _mm256_storeu_ps(lanes, s);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}
