/*
 * quant_gemm.c - multi-token GEMM dispatch and its scalar reference (see
 * the quant_gemm section of quant.h).
 *
 * The reference is the plain double loop over the scalar vec_dot: the
 * integer block sums and float order every SIMD kernel is held to.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "quant/quant_gemm_pack.h"
#include "quant/quant_impl.h"

/* Template of the reference: one scalar vec_dot per (row, token). */
static void gemm_dots(void (*dot)(int64_t, float *, const void *, const void *), int64_t n,
                      const void *w, size_t row_bytes, int r0, int r1, const void *act,
                      size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    const uint8_t *wb = w, *ab = act;
    for (int r = r0; r < r1; r++)
        for (int t = 0; t < n_tok; t++)
            dot(n, &out[(size_t)t * ldy + (size_t)r], wb + (size_t)r * row_bytes,
                ab + (size_t)t * act_bytes);
}

#define SCALAR_GEMM(name, dot)                                                               \
    static void name(int64_t n, const void *w, size_t row_bytes, int r0, int r1,             \
                     const void *act, size_t act_bytes, int n_tok, float *out, size_t ldy)   \
    {                                                                                        \
        gemm_dots(dot, n, w, row_bytes, r0, r1, act, act_bytes, n_tok, out, ldy);            \
    }

SCALAR_GEMM(ref_q4_0, quant_vec_dot_q4_0)
SCALAR_GEMM(ref_q8_0, quant_vec_dot_q8_0)
SCALAR_GEMM(ref_q4_K, quant_vec_dot_q4_K)
SCALAR_GEMM(ref_q5_K, quant_vec_dot_q5_K)
SCALAR_GEMM(ref_q6_K, quant_vec_dot_q6_K)

static quant_gemm_fn scalar_for(int type)
{
    switch (type) {
    case QT_Q4_0: return ref_q4_0;
    case QT_Q8_0: return ref_q8_0;
    case QT_Q4_K: return ref_q4_K;
    case QT_Q5_K: return ref_q5_K;
    case QT_Q6_K: return ref_q6_K;
    default: return NULL;
    }
}

quant_gemm_fn quant_gemm_for(int type, const char *level)
{
    if (!level)
        level = quant_simd_name();
    if (strcmp(level, "scalar") == 0)
        return scalar_for(type);
    if (strcmp(level, "avx512") == 0)
        return quant_gemm_avx512_for(type);
    return NULL;
}

int quant_gemm_has(int type)
{
    return strcmp(quant_simd_name(), "avx512") == 0 && quant_gemm_avx512_for(type) != NULL;
}

void quant_gemm(int type, int64_t n, const void *w, size_t row_bytes, int r0, int r1,
                const void *act, size_t act_bytes, int n_tok, float *out, size_t ldy)
{
    quant_gemm_fn fn = quant_gemm_has(type) ? quant_gemm_avx512_for(type) : NULL;
    if (fn) {
        fn(n, w, row_bytes, r0, r1, act, act_bytes, n_tok, out, ldy);
        return;
    }
    /* No blocked kernel: the per-token dots of the level in use. */
    const uint8_t *wb = w, *ab = act;
    for (int r = r0; r < r1; r++)
        for (int t = 0; t < n_tok; t++)
            quant_vec_dot(type, n, &out[(size_t)t * ldy + (size_t)r], wb + (size_t)r * row_bytes,
                          ab + (size_t)t * act_bytes);
}

/* qgp_wbuf and qgp_cbuf (quant_gemm_pack.h): two buffers per thread, each
 * grown to the largest size asked for and kept. */
typedef struct wbuf {
    size_t cap[2];
    uint8_t *p[2];
} wbuf;

static pthread_key_t wbuf_key;
static int wbuf_key_ok;
static pthread_once_t wbuf_once = PTHREAD_ONCE_INIT;

static void wbuf_free(void *v)
{
    wbuf *b = v;
    free(b->p[0]);
    free(b->p[1]);
    free(b);
}

static void wbuf_key_init(void)
{
    wbuf_key_ok = pthread_key_create(&wbuf_key, wbuf_free) == 0;
}

/* Buffer `which` (0: work, 1: conversion) of the calling thread. */
static uint8_t *thread_buf(int which, size_t size)
{
    if (pthread_once(&wbuf_once, wbuf_key_init) != 0 || !wbuf_key_ok)
        return NULL;
    wbuf *b = pthread_getspecific(wbuf_key);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b)
            return NULL;
        if (pthread_setspecific(wbuf_key, b) != 0) {
            free(b);
            return NULL;
        }
    }
    if (b->cap[which] < size) {
        free(b->p[which]);
        b->cap[which] = 0;
        /* aligned_alloc wants a size that is a multiple of the alignment */
        b->p[which] = aligned_alloc(64, (size + 63) & ~(size_t)63);
        if (!b->p[which])
            return NULL;
        b->cap[which] = size;
    }
    return b->p[which];
}

uint8_t *qgp_wbuf(size_t size)
{
    return thread_buf(0, size);
}

uint8_t *qgp_cbuf(size_t size)
{
    return thread_buf(1, size);
}
