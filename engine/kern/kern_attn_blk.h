/*
 * kern_attn_blk.h - the work buffer of the batched attention kernel
 * (kern_attn_blk.c sizes it, kern_attn_blk_avx512.c uses it).
 */
#ifndef CHORD_KERN_ATTN_BLK_H
#define CHORD_KERN_ATTN_BLK_H

#include <stdint.h>

#include "kern/kern.h"

/* For n_rows padded to a multiple of 16 (rows = queries, one per lane):
 *   qt  [hd][rows]  the queries rounded to F16, as floats, transposed
 *   acc [hd][rows]  the value accumulators: F16 values held as floats (the
 *                   conversions stay in registers: a store straight from
 *                   vcvtps2ph is slow on some CPUs)
 *   kt  [BK][hd]    the key block as floats
 *   vt  [BK][hd]    the value block as floats
 *   st  [BK][rows]  the block's scores, transposed, then the exponents
 *   e   [BK][rows]  the block's exponentials
 *   r8  [8][KC][rows] partial scores (hd 32 and 64), KC keys at a time
 *   m, l [rows]     running maximum and sum
 *   lim [rows]      last visible position (padding rows: INT_MAX)
 *   lo  [rows]      first visible position (padding rows: 0)
 *   dacc [hd][rows] doubles: the unfused numerics' value sums
 *   sk  [rows]      the row's sink logit (no sink, padding rows: -inf)
 *   ms  [rows]      the sink's rescale of the accumulators (else 1)
 * Every array starts on a 64-byte boundary if the buffer does. */
#define KERN_ATTN_KC 8

typedef struct attn_blk_ws {
    float *qt, *acc, *kt, *vt, *st, *e, *r8, *m, *l;
    int32_t *lim, *lo;
    double *dacc;
    float *sk, *ms;
    int rows;
} attn_blk_ws;

/* tanhf(x) for 16 lanes at once with the bits of the C library's tanhf
 * (AVX-512 CPU only; exposed for its test); returns how many lanes the
 * library itself computed (infinities, NaNs, or all 16 if its tanhf is
 * not the fdlibm one the vector code follows). */
int kern_attn_tanhf16(const float *x, float *y);

static inline int attn_blk_rows(int n_rows)
{
    return (n_rows + 15) & ~15;
}

static inline size_t attn_blk_bh(int hd)
{
    return ((size_t)KERN_ATTN_BK * hd + 15) & ~(size_t)15;
}

static inline attn_blk_ws attn_blk_layout(float *buf, int hd, int n_rows)
{
    attn_blk_ws w;
    int r = attn_blk_rows(n_rows);
    size_t hr = (size_t)hd * r;
    w.rows = r;
    w.qt = buf;
    w.acc = w.qt + hr;
    w.kt = w.acc + hr;
    w.vt = w.kt + attn_blk_bh(hd);
    w.st = w.vt + attn_blk_bh(hd);
    w.e = w.st + (size_t)KERN_ATTN_BK * r;
    w.r8 = w.e + (size_t)KERN_ATTN_BK * r;
    w.m = w.r8 + (size_t)8 * KERN_ATTN_KC * r;
    w.l = w.m + r;
    w.lim = (int32_t *)(w.l + r);
    w.lo = w.lim + r;
    w.dacc = (double *)(void *)(w.lo + r);
    w.sk = (float *)(void *)(w.dacc + hr);
    w.ms = w.sk + r;
    return w;
}

static inline size_t attn_blk_floats(int hd, int n_rows)
{
    int r = attn_blk_rows(n_rows);
    size_t hr = (size_t)hd * r;
    return 2 * hr + 2 * attn_blk_bh(hd) + 2 * (size_t)KERN_ATTN_BK * r + (size_t)8 * KERN_ATTN_KC * r +
           6 * (size_t)r + 2 * hr;
}

#endif
