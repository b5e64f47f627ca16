/*
 * kern_attn_q.h - attention over a KV cache whose keys and/or values are
 * stored quantized (Q8_0, Q4_0: llama.cpp's --cache-type-k/-v), or F16
 * beside a quantized other half.
 *
 * Numerics: the query is converted to the key type's dot-product partner
 * as the reference engine does (F16 for F16 keys, Q8_0 blocks of 32 for
 * Q8_0 and Q4_0 keys); each score is that dot product (Q8_0/Q4_0: exact
 * integer sums per block of 32, then sum += isum * (d_k * d_q) in float,
 * block after block; F16: kern_attn_head's), times scale, soft-capped if
 * asked. The softmax runs online over tiles of KERN_ATTNQ_TILE positions
 * (from the span's first): a tile's scores, its maximum (a new running
 * maximum rescales the float accumulator and the sum by expf of the
 * difference), its weights kern_attnq_exp(score - max), their sum folded
 * as sixteen lanes are (halves, then pairwise) and added to the running
 * sum, and each value row (dequantized exactly: d * q, or F16) added as
 * acc = fmaf(v, w, acc) in position order. Not the reference's
 * position-by-position F16 accumulation (kern_attn_head): a tile's scores
 * and weights are independent, so the SIMD twins compute them side by
 * side; the tiles depend only on the span, not on threads. The twins do
 * the same operations in the same order, so every level gives the same
 * bits (tests/kern/attn_q_test.c).
 */
#ifndef CHORD_KERN_ATTN_Q_H
#define CHORD_KERN_ATTN_Q_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One KV head's cached positions lo..hi-1 for n_grp query heads (adjacent
 * in the query row, hd floats apart; all of them see the same span). k
 * and v point at position 0's row of this KV head; ldk / ldv are the bytes
 * from one position's row to the next; a ring of `ring` rows keeps
 * position p in row p % ring (0: row p). kt / vt: QT_F16, QT_Q8_0 or
 * QT_Q4_0 (hd a multiple of 32 for the quantized ones). */
typedef struct kern_attnq_span {
    const uint8_t *k, *v;
    size_t ldk, ldv;
    int kt, vt;
    int lo, hi, ring;
    float scale, softcap;
    const float *sinks;   /* n_grp sink logits (gpt-oss), or NULL */
} kern_attnq_span;

/* Bytes of tmp kern_attnq needs for n_grp heads of hd (64-byte aligned). */
size_t kern_attnq_tmp_bytes(int hd, int n_grp);

/* out[h * hd ..] = attention of query q[h * hd ..] for h < n_grp. tmp:
 * kern_attnq_tmp_bytes(hd, n_grp) bytes, 64-byte aligned. kern_attnq
 * picks the best level the CPU and CHORD_SIMD allow. */
void kern_attnq(const float *q, int n_grp, int hd, const kern_attnq_span *s, void *tmp, float *out);
void kern_attnq_scalar(const float *q, int n_grp, int hd, const kern_attnq_span *s, void *tmp,
                       float *out);
/* AVX2+FMA+F16C CPU; hd a multiple of 32 */
void kern_attnq_avx2(const float *q, int n_grp, int hd, const kern_attnq_span *s, void *tmp,
                     float *out);
/* AVX-512 (F, BW, VL, VNNI) CPU; hd a multiple of 32 */
void kern_attnq_avx512(const float *q, int n_grp, int hd, const kern_attnq_span *s, void *tmp,
                       float *out);

/* Prefill's batch: n_tok consecutive tokens whose n_grp query heads start
 * at q + t * ldq (heads hd floats apart); token t sees positions lo .. hi
 * - n_tok + t (the last one up to hi - 1, each earlier one a position
 * fewer); its output goes to out + t * ldo. The bits of kern_attnq for
 * each token with its own span: the AVX-512 level reads each tile of keys
 * and values once for all the tokens (quantized keys, hd a multiple of 64
 * up to 256, n_tok * n_grp <= 64), the others call kern_attnq token by
 * token. tmp: kern_attnq_tmp_bytes(hd, n_tok * n_grp) bytes. */
void kern_attnq_multi(const float *q, size_t ldq, int n_tok, int n_grp, int hd, const kern_attnq_span *s,
                      void *tmp, float *out, size_t ldo);
/* The AVX-512 batch; false (nothing done) where it does not apply. */
bool kern_attnq_multi_avx512(const float *q, size_t ldq, int n_tok, int n_grp, int hd,
                             const kern_attnq_span *s, void *tmp, float *out, size_t ldo);

#define KERN_ATTNQ_TILE 32

/* exp(x) for x <= 0 as the tiles weigh their positions (see above). */
float kern_attnq_exp(float x);

/* kern_attnq_exp's constants, which its SIMD twins repeat lane by lane:
 * below EXP_MIN the result is 0; n = rint(x * LOG2E); f = x - n ln 2 in
 * two steps (LN2_HI exact in a float's leading bits, LN2_LO the rest);
 * then the degree-6 Taylor polynomial of e^f by Horner, from EXP_C6
 * down to 1, 1. */
#define KERN_ATTNQ_EXP_MIN (-87.0f)
#define KERN_ATTNQ_EXP_LOG2E 1.44269504f
#define KERN_ATTNQ_EXP_LN2_HI 0.693145752f
#define KERN_ATTNQ_EXP_LN2_LO 1.42860677e-6f
#define KERN_ATTNQ_EXP_C6 (1.0f / 720)
#define KERN_ATTNQ_EXP_C5 (1.0f / 120)
#define KERN_ATTNQ_EXP_C4 (1.0f / 24)
#define KERN_ATTNQ_EXP_C3 (1.0f / 6)
#define KERN_ATTNQ_EXP_C2 0.5f

/* Bytes of one row of n elements of KV type t (QT_F16, QT_Q8_0, QT_Q4_0). */
size_t kern_kv_row_bytes(int t, int n);

/* Shared by the twins: the query of one head in the key type's partner
 * form (F16 halves, or Q8_0 blocks) at dst; the same code at every level,
 * so that the scores start from the same bits. */
void kern_attnq_prep_q(int kt, const float *q, int hd, void *dst);

#endif
