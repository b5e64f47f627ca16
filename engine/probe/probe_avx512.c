/*
 * probe_avx512.c - AVX-512 kernels of the machine-limit probes (built with
 * -mavx512* flags; called only when the CPU has them).
 */
#include <immintrin.h>

#include "probe/probe.h"

uint64_t probe_read_avx512(const void *p, size_t n)
{
    /* Four independent accumulators keep several loads in flight, as a
     * streaming matmul does. */
    const __m512i *v = p;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < n / 64; i += 4) {
        a0 = _mm512_add_epi64(a0, _mm512_load_si512(v + i));
        a1 = _mm512_add_epi64(a1, _mm512_load_si512(v + i + 1));
        a2 = _mm512_add_epi64(a2, _mm512_load_si512(v + i + 2));
        a3 = _mm512_add_epi64(a3, _mm512_load_si512(v + i + 3));
    }
    a0 = _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3));
    /* summed unsigned: the intrinsic's reduction adds signed 64-bit lanes,
     * and this checksum wraps (UBSan flags it) */
    uint64_t lane[8], sum = 0;
    _mm512_storeu_si512(lane, a0);
    for (int k = 0; k < 8; k++)
        sum += lane[k];
    return sum;
}

int32_t probe_int8_vnni512(const uint8_t *buf, int64_t iters)
{
    /* Twelve accumulators cover vpdpbusd's latency on two ports; the
     * operands are loaded once (in registers) and never change, but each
     * accumulator depends on its previous value, so nothing is hoisted. */
    const __m512i *v = (const __m512i *)buf;
    __m512i x0 = _mm512_load_si512(v), x1 = _mm512_load_si512(v + 1);
    __m512i y0 = _mm512_load_si512(v + 2), y1 = _mm512_load_si512(v + 3);
    __m512i c[12];
    for (int k = 0; k < 12; k++)
        c[k] = _mm512_load_si512(v + 4 + (k & 3));
    for (int64_t i = 0; i < iters; i++) {
        c[0] = _mm512_dpbusd_epi32(c[0], x0, y0);
        c[1] = _mm512_dpbusd_epi32(c[1], x1, y1);
        c[2] = _mm512_dpbusd_epi32(c[2], x0, y1);
        c[3] = _mm512_dpbusd_epi32(c[3], x1, y0);
        c[4] = _mm512_dpbusd_epi32(c[4], x0, y0);
        c[5] = _mm512_dpbusd_epi32(c[5], x1, y1);
        c[6] = _mm512_dpbusd_epi32(c[6], x0, y1);
        c[7] = _mm512_dpbusd_epi32(c[7], x1, y0);
        c[8] = _mm512_dpbusd_epi32(c[8], x0, y0);
        c[9] = _mm512_dpbusd_epi32(c[9], x1, y1);
        c[10] = _mm512_dpbusd_epi32(c[10], x0, y1);
        c[11] = _mm512_dpbusd_epi32(c[11], x1, y0);
    }
    __m512i s = c[0];
    for (int k = 1; k < 12; k++)
        s = _mm512_add_epi32(s, c[k]);
    /* the result only keeps the work alive: sum wrapping, unsigned */
    uint32_t lane[16], sum = 0;
    _mm512_storeu_si512(lane, s);
    for (int k = 0; k < 16; k++)
        sum += lane[k];
    return (int32_t)sum;
}

float probe_fma_avx512(const float *buf, int64_t iters)
{
    /* Twelve accumulators cover the multiply-add's latency on two pipes;
     * x and y stay in registers and c = c * x + y converges instead of
     * overflowing or going subnormal, so every round runs at full rate. */
    const __m512 x = _mm512_load_ps(buf), y = _mm512_load_ps(buf + 16);
    __m512 c[12];
    for (int k = 0; k < 12; k++)
        c[k] = _mm512_load_ps(buf + 32 + 16 * (k & 3));
    /* written out, as the int8 probe is: an -O2 ASan build kept a
     * loop's accumulator array in memory (12 against 220 GFLOP/s on one
     * thread); at -O0 they are in memory either way, which is why
     * bench_cli compares this rate with sgemm's only uninstrumented */
    for (int64_t i = 0; i < iters; i++) {
        c[0] = _mm512_fmadd_ps(c[0], x, y);
        c[1] = _mm512_fmadd_ps(c[1], x, y);
        c[2] = _mm512_fmadd_ps(c[2], x, y);
        c[3] = _mm512_fmadd_ps(c[3], x, y);
        c[4] = _mm512_fmadd_ps(c[4], x, y);
        c[5] = _mm512_fmadd_ps(c[5], x, y);
        c[6] = _mm512_fmadd_ps(c[6], x, y);
        c[7] = _mm512_fmadd_ps(c[7], x, y);
        c[8] = _mm512_fmadd_ps(c[8], x, y);
        c[9] = _mm512_fmadd_ps(c[9], x, y);
        c[10] = _mm512_fmadd_ps(c[10], x, y);
        c[11] = _mm512_fmadd_ps(c[11], x, y);
    }
    __m512 s = c[0];
    for (int k = 1; k < 12; k++)
        s = _mm512_add_ps(s, c[k]);
    return _mm512_reduce_add_ps(s);
}
