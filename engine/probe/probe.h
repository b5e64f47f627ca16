/*
 * probe.h - machine-limit probes for `chord bench`: memory read and copy
 * bandwidth, sgemm throughput at the model's shapes, the int8 dot-product
 * peak and the disk's sequential read rate. The public entry points are the
 * chord_probe_* functions in chord.h; this header is the contract between
 * probe.c and its SIMD kernels.
 */
#ifndef CHORD_PROBE_H
#define CHORD_PROBE_H

#include <stddef.h>
#include <stdint.h>

/* Reads n bytes at p (64-byte aligned, n a multiple of 256) with the widest
 * loads of the level and returns a value folded from all of them, so that
 * the reads cannot be optimised away. */
uint64_t probe_read_avx512(const void *p, size_t n);
uint64_t probe_read_avx2(const void *p, size_t n);

/* Runs iters rounds of int8 multiply-accumulates on independent
 * accumulators, operands from a small L1-resident buffer (64-byte
 * aligned, 512 bytes). Returns a value folded from the accumulators; the
 * number of int8 operations done (a multiply and an add each count one) is
 * iters * PROBE_INT8_OPS_* . */
#define PROBE_INT8_OPS_VNNI (12 * 64 * 2)  /* 12 vpdpbusd zmm a round */
#define PROBE_INT8_OPS_AVX2 (8 * 32 * 2)   /* 8 vpmaddubsw ymm (+ vpmaddwd, vpaddd) */
int32_t probe_int8_vnni512(const uint8_t *buf, int64_t iters);
int32_t probe_int8_avx2(const uint8_t *buf, int64_t iters);

/* Runs iters rounds of float multiply-adds c = c * x + y on independent
 * accumulators (x, y from buf: 64-byte aligned, 128 floats, chosen so c
 * stays normal). Returns a value folded from the accumulators; the number
 * of float operations (a multiply and an add count one each) is iters *
 * PROBE_FMA_FLOPS_* . */
#define PROBE_FMA_FLOPS_AVX512 (12 * 16 * 2) /* 12 vfmadd zmm a round */
#define PROBE_FMA_FLOPS_AVX2 (12 * 8 * 2)    /* 12 vfmadd ymm a round */
float probe_fma_avx512(const float *buf, int64_t iters);
float probe_fma_avx2(const float *buf, int64_t iters);

#endif
