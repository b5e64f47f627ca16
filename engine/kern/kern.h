/*
 * kern.h - the transformer's numeric building blocks over the quant kernels:
 * matrix multiplication by a (quantized) weight matrix, RMSNorm, RoPE,
 * softmax, SwiGLU.
 *
 * Matmul picks its method by batch size: for a few tokens it quantizes each
 * activation row once to the weight type's activation format and uses the
 * quantized dot products; from KERN_GEMM_MIN_TOK tokens on it dequantizes
 * fixed tiles of weight rows to F32 and hands them to OpenBLAS sgemm. Both
 * split the output rows over the pool so that every output element is
 * computed by one thread in a fixed order: results do not depend on the
 * number of threads.
 */
#ifndef CHORD_KERN_H
#define CHORD_KERN_H

#include <stdbool.h>
#include <stddef.h>

#include "chord.h"
#include "pool/pool.h"

/* Batches of at least this many tokens go through sgemm (measured on the
 * fixture models: below it the dequantization of the weight tile costs more
 * than the quantized dot products save). */
#define KERN_GEMM_MIN_TOK 8

/* A weight matrix as stored in the file: n_out rows of n_in elements of
 * type (a quant_type id). */
typedef struct kern_mat {
    const void *data;
    int type;
    int n_in, n_out;
    size_t row_bytes;
} kern_mat;

/* Scratch for kern_matmul, sized once for the largest call of a context:
 * up to max_tok tokens, rows of up to max_in elements. */
typedef struct kern_ws kern_ws;

chord_status kern_ws_new(int n_threads, int max_tok, int max_in, kern_ws **out,
                         chord_err *err);
void kern_ws_free(kern_ws *ws);

/* y[t * ldy + o] = sum_i W[o][i] * x[t * n_in + i] for t < n_tok (<= max_tok),
 * o < n_out. The pool must have at most the n_threads the workspace was made
 * for. */
void kern_matmul(pool *p, kern_ws *ws, const kern_mat *w, const float *x,
                 int n_tok, float *y, int ldy);

/* One row of any supported type to F32 (norm weights, biases, embeddings). */
void kern_row_f32(int type, const void *src, float *dst, int n);

/* out = x / rms(x) * w (out may be x). */
void kern_rmsnorm(float *out, const float *x, const float *w, int n, float eps);

/* Rotates the first n_rot dimensions of each of n_heads heads of head_dim
 * floats for position pos. inv_freq[i] (i < n_rot / 2) is the angle per
 * position of pair i. neox: pairs (i, i + n_rot/2) instead of (2i, 2i+1). */
void kern_rope(float *v, int n_heads, int head_dim, int n_rot, int pos,
               const float *inv_freq, bool neox);

/* In-place softmax of n floats. */
void kern_softmax(float *x, int n);

/* gate[i] = silu(gate[i]) * up[i]. */
void kern_swiglu(float *gate, const float *up, int n);

/* y[i] += x[i]. */
void kern_add(float *y, const float *x, int n);

#endif
