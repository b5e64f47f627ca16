/*
 * kern.h - the transformer's numeric building blocks over the quant kernels:
 * matrix multiplication by a (quantized) weight matrix, RMSNorm, RoPE,
 * softmax, SwiGLU.
 *
 * Matmul quantizes each activation row once to the weight type's
 * activation format. Quantized weights then use exact integer sums per
 * block, as the reference does: one dot product per (row, token) for short
 * batches, and from a per-type batch size on the multi-token int8 GEMM
 * (quant_gemm), which gives the same bits. Float weights switch, from
 * KERN_GEMM_MIN_TOK tokens on, to a GEMM fed the activations rounded the
 * same way: F16 on AVX-512 to kern's own (kern_gemm_f16_avx512), the rest
 * to OpenBLAS sgemm on fixed tiles of weight rows dequantized to F32. All
 * paths split the output rows over the pool so that every output element is
 * computed by one thread in a fixed order: results do not depend on the
 * number of threads.
 */
#ifndef CHORD_KERN_H
#define CHORD_KERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord.h"
#include "pool/pool.h"

/* Batches of at least this many tokens multiply float (F32/F16/BF16)
 * weights through a GEMM (sgemm, or F16's own on AVX-512). Measured on
 * 2048x2048 F16 with 2 threads (busy machine): the dot products cost
 * 600-720 us/token at 1-4 tokens, sgemm 760 us/token at 16 and 410 at
 * 128, and loses below 16. F16's own GEMM on AVX-512 already wins from
 * about 6 tokens (one thread, 2048x2048, weights in DRAM: 249 against
 * 264-272 us/token at 6, 142-163 against 210-230 at 12; 350 against
 * 312-387 at 4), not used below 16 yet. Quantized weights never take
 * sgemm (see kern_gemm_type in kern.c). */
#define KERN_GEMM_MIN_TOK 16

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
/* on: kern_matmul gives every token of a batch exactly the bits of a
 * one-token call: the GEMMs that agree with the dot products only up to
 * float summation order (sgemm for float weights from KERN_GEMM_MIN_TOK
 * tokens; on AVX-512 the Q8_0-like quant_gemm kernels, see quant.h) give
 * way to the dot products, one token at a time; the k-quants' GEMMs give
 * the dots' bits and stay. For speculative decoding's check batch. */
void kern_ws_set_decode_bits(kern_ws *ws, bool on);

/* y[t * ldy + o] = sum_i W[o][i] * x[t * n_in + i] for t < n_tok (<= max_tok),
 * o < n_out. The pool must have at most the n_threads the workspace was made
 * for. */
void kern_matmul(pool *p, kern_ws *ws, const kern_mat *w, const float *x,
                 int n_tok, float *y, int ldy);

/* The matmuls of up to KERN_MULTI_MAX matrices that read the same input
 * (q/k/v, gate/up): y[m][t * w[m].n_out + o] = sum_i W_m[o][i] *
 * x[t * n_in + i]; every w[m].n_in is the same. For one token (decode)
 * the input is quantized once per activation type and all the rows of
 * all the matrices run as one pool job (a job's hand-over costs more than
 * the quantization), the threads taking ~1 MiB pieces of rows from a
 * shared counter, each piece through the level's vec_dot_rows kernel where
 * it has one; batches run kern_matmul per matrix. Same bits as kern_matmul
 * either way, whatever the number of threads. */
#define KERN_MULTI_MAX 3
void kern_matmul_multi(pool *p, kern_ws *ws, const kern_mat *w, int n_mat, const float *x,
                       int n_tok, float *const *y);

/* One token through up to KERN_MANY_MAX matrices, each with its own input
 * (x[m], w[m].n_in floats; the same pointer for matrices that share one):
 * y[m][o] = W_m[o] . x[m], all the rows of all the matrices as one pool job
 * (a mixture of experts' decode: every chosen expert's gate and up, then
 * every down, instead of two jobs per expert). Same bits as kern_matmul. */
#define KERN_MANY_MAX 32
void kern_matvec_many(pool *p, kern_ws *ws, const kern_mat *w, int n_mat, const float *const *x,
                      float *const *y);

/* The F16 weight GEMM behind kern_matmul's batches on AVX-512:
 * y[t * ldy + o] = sum over k of x[t * ldx + k] * W[o][k] for t < n_tok,
 * o < n_rows <= KERN_GEMM_NR, W's rows ldw halves apart; each element one
 * chain of fused multiply-adds in k order starting from +0 (fmaf(x, w,
 * acc)), so its bits depend on nothing but its row and token. The
 * AVX-512 twin needs an AVX-512 CPU and pack, KERN_GEMM_PACK_FLOATS
 * floats 64-byte aligned (the scalar twin ignores it). */
#define KERN_GEMM_NR 64
#define KERN_GEMM_KC 128
#define KERN_GEMM_PACK_FLOATS (KERN_GEMM_NR * KERN_GEMM_KC)
void kern_gemm_f16_scalar(const uint16_t *w, size_t ldw, int n_rows, int n_in, const float *x,
                          size_t ldx, int n_tok, float *y, size_t ldy, float *pack);
void kern_gemm_f16_avx512(const uint16_t *w, size_t ldw, int n_rows, int n_in, const float *x,
                          size_t ldx, int n_tok, float *y, size_t ldy, float *pack);

/* One row of any supported type to F32 (norm weights, biases, embeddings). */
void kern_row_f32(int type, const void *src, float *dst, int n);

/* out = x / rms(x) * w (out may be x). */
void kern_rmsnorm(float *out, const float *x, const float *w, int n, float eps);

/* RoPE of one layer: pair i of a head turns by theta_i = pos *
 * theta_scale^i (divided by freq_div[i] if not NULL), interpolated by
 * freq_scale; with YaRN (ext_factor > 0) the pairs between corr[0] and
 * corr[1] mix the interpolated and the original angle along a ramp and
 * the magnitude grows by 1 + 0.1 ln(1 / freq_scale), as the reference
 * computes it. Cosine and sine are multiplied by mscale (LongRoPE's and
 * YaRN's attention factor; 1 elsewhere). neox: pairs (i, i + n_rot/2)
 * instead of (2i, 2i+1). */
typedef struct kern_rope_params {
    int n_rot;
    float theta_scale, freq_scale, mscale;
    const float *freq_div;
    float ext_factor, corr[2];
    bool neox;
} kern_rope_params;

/* Rotates the first n_rot dimensions of each of n_heads heads of head_dim
 * floats for position pos. */
void kern_rope(float *v, int n_heads, int head_dim, int pos, const kern_rope_params *rp);

/* The cached positions one query attends to: lo..hi-1 of one KV head's
 * rows (k and v point at row 0, ld elements apart). A sliding-window layer
 * keeps a ring: position p sits in row p % ring (ring 0: in row p). Each
 * score is q.k * scale, then, if softcap > 0, tanh(score * (1 / softcap))
 * * softcap (gemma2's attention-logit cap). unfused picks the numerics
 * (see kern_attn_head). */
typedef struct kern_attn_span {
    const uint16_t *k, *v;
    size_t ld;
    int lo, hi, ring;
    float scale, softcap;
    bool unfused;
    /* gpt-oss's attention sink: one more logit in the softmax, with no
     * value (it only takes weight away from the positions) */
    bool has_sink;
    float sink;
} kern_attn_span;

/* Halves of tmp kern_attn_head needs for a span of up to n_pos positions
 * and head size hd. */
size_t kern_attn_tmp_halves(int hd, int n_pos);

/* Attention of one query head over a span of cached positions, in one of
 * the reference engine's two precisions (its flash-attention kernel, or
 * its unfused graph; llama.cpp's --flash-attn on/off), so that chord's
 * logits can follow a reference made either way:
 * - fused: an online softmax with the query rounded to F16 like the keys,
 *   each score a dot product of F16 values in 32 fused lanes folded
 *   pairwise (then double for a tail), times scale; the weighted values
 *   accumulated in an F16 vector, rescaled whenever the running maximum
 *   moves.
 * - unfused: the same scores, all of them first; softmax in float (the
 *   sum in double), each probability rounded to F16; each output element
 *   the sum over positions of value times probability (exact float
 *   products) in double, in position order.
 * tmp holds kern_attn_tmp_halves(hd, hi - lo) halves, 4-byte aligned; out
 * receives hd floats. The AVX2 twin gives the same bits; kern_attn_head
 * picks it when the CPU has AVX2 and CHORD_SIMD does not force scalar. */
void kern_attn_head(const float *q, const kern_attn_span *s, int hd, uint16_t *tmp, float *out);
void kern_attn_head_scalar(const float *q, const kern_attn_span *s, int hd, uint16_t *tmp,
                           float *out);
/* Needs hd a multiple of 32 and an AVX2+F16C CPU. */
void kern_attn_head_avx2(const float *q, const kern_attn_span *s, int hd, uint16_t *tmp,
                         float *out);

/* Batched causal attention (prefill): one KV head against a block of
 * queries, all n_grp query heads that share it (adjacent in the query row,
 * hd floats apart) for n_tok consecutive tokens, n_tok * n_grp <=
 * KERN_ATTN_MAX_ROWS rows. Token t (at position p = pos0 + t) sees the
 * cached positions 0..p, or with a window max(0, p - window + 1)..p, read
 * from row p % ring of a local layer's ring. Every row gets exactly the
 * bits kern_attn_head gives it, in either numerics (the reference's
 * precisions, with caps and sinks: see there): the AVX-512 twin holds
 * sixteen rows in the lanes of a register, converts each block of
 * KERN_ATTN_BK keys and values once for all the rows, masks lane by lane
 * the positions outside a row's span (below its window as above its
 * causal edge), and reproduces expf and tanhf lane by lane
 * (kern_attn_blk_avx512.c). kern_attn_blk_scalar is the one-query kernel
 * row by row; kern_attn_blk runs the AVX-512 twin when the CPU has it,
 * CHORD_SIMD allows it and hd is a multiple of 32, else kern_attn_head
 * row by row. ws holds kern_attn_blk_ws_floats(hd, n_tok * n_grp, n_ctx) floats
 * (spans of up to n_ctx positions), 64-byte aligned. */
#define KERN_ATTN_BK 32
#define KERN_ATTN_MAX_ROWS 64
typedef struct kern_attn_qblk {
    const float *q;      /* token 0's query, first head of the group */
    size_t ldq;          /* floats from one token's query row to the next */
    float *out;          /* token 0's output, first head of the group */
    size_t ldo;
    const uint16_t *k, *v; /* position 0 of this KV head in the F16 cache */
    size_t ld;           /* elements from one position to the next */
    int n_tok, n_grp, pos0, hd;
    float scale;
    int window;          /* a token at p sees p - window + 1 .. p; 0 = all */
    int ring;            /* rows of a local layer's ring (kern_attn_span) */
    float softcap;       /* kern_attn_span's score cap; 0 = none */
    bool unfused;        /* kern_attn_span's numerics */
    const float *sinks;  /* the group's n_grp sink logits, or NULL */
} kern_attn_qblk;
size_t kern_attn_blk_ws_floats(int hd, int n_rows, int n_ctx);
void kern_attn_blk(const kern_attn_qblk *b, float *ws);
void kern_attn_blk_scalar(const kern_attn_qblk *b, float *ws);
/* Needs an AVX-512 CPU and hd a multiple of 32. */
void kern_attn_blk_avx512(const kern_attn_qblk *b, float *ws);
/* expf(x) for 16 lanes at once with the bits of the C library's expf
 * (AVX-512 CPU only; exposed for its test). */
void kern_attn_expf16(const float *x, float *y);

/* In-place softmax of n floats. */
void kern_softmax(float *x, int n);

/* gate[i] = silu(gate[i]) * up[i]. */
void kern_swiglu(float *gate, const float *up, int n);

/* gate[i] = gelu(gate[i]) * up[i], GELU in its tanh form, rounded through
 * F16 as the reference's table does (input to F16, GELU of that, result to
 * F16); exact 0 at or below -10 and the identity at or above 10. */
void kern_geglu(float *gate, const float *up, int n);

/* gpt-oss's clamped SwiGLU: g = min(gate, limit), u = clamp(up, -limit,
 * limit), gate[i] = g / (1 + exp(-alpha g)) * (u + 1). */
void kern_swiglu_oai(float *gate, const float *up, int n, float alpha, float limit);

/* x[i] = tanh(x[i] * (1 / cap)) * cap (soft-capping of logits). */
void kern_softcap(float *x, int n, float cap);

/* y[i] += x[i]. */
void kern_add(float *y, const float *x, int n);

#endif
