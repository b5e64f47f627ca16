/*
 * lc_csum_avx2.c - the read checksum (see lc_csum_portable in lc_io.c) with
 * its eight lanes in two AVX2 registers: two independent add chains, so
 * the loop runs at the cache's speed instead of one add's latency per
 * 32 bytes. Same arithmetic, same result as the portable loop; lc_io.c
 * calls it only when the CPU has AVX2.
 */
#include <immintrin.h>

#include "lc/lc_impl.h"

void lc_csum_avx2(uint64_t h[LC_CSUM_WORDS], const uint8_t *p, uint64_t n)
{
    __m256i a0 = _mm256_loadu_si256((const __m256i *)h);
    __m256i a1 = _mm256_loadu_si256((const __m256i *)(h + 4));
    __m256i b0 = _mm256_loadu_si256((const __m256i *)(h + 8));
    __m256i b1 = _mm256_loadu_si256((const __m256i *)(h + 12));
    uint64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm256_add_epi64(a0, _mm256_loadu_si256((const __m256i *)(p + i)));
        a1 = _mm256_add_epi64(a1, _mm256_loadu_si256((const __m256i *)(p + i + 32)));
        b0 = _mm256_add_epi64(b0, a0);
        b1 = _mm256_add_epi64(b1, a1);
    }
    _mm256_storeu_si256((__m256i *)h, a0);
    _mm256_storeu_si256((__m256i *)(h + 4), a1);
    _mm256_storeu_si256((__m256i *)(h + 8), b0);
    _mm256_storeu_si256((__m256i *)(h + 12), b1);
    for (; i < n; i++) {
        h[0] += p[i];
        h[8] += h[0];
    }
}
