/*
 * model_forward.c - the transformer forward pass (llama and qwen2).
 *
 * One function walks the layers for a batch of n tokens (n = 1 is a decode
 * step): embedding, then per layer RMSNorm, q/k/v projections (+ biases
 * for qwen2), RoPE, causal attention over the KV cache, output projection
 * and residual, RMSNorm, SwiGLU FFN and residual; then the final norm and
 * the output projection to logits. Weights come from the layer cache, one
 * layer acquired at a time; the numeric work is in engine/kern.
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "core/err.h"
#include "kern/kern.h"
#include "model/model.h"
#include "quant/quant.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* The kern view of a weight matrix of the acquired group g. */
static kern_mat weight(const chord_model *m, int g, const model_tensor *t)
{
    kern_mat w = {
        .data = lc_tensor(m->lc, g, t->slot),
        .type = t->type,
        .n_in = (int)t->ne0,
        .n_out = (int)t->ne1,
        .row_bytes = t->row_bytes,
    };
    return w;
}

/* A 1-D tensor (norm weight, bias) of group g, as floats in buf. */
static const float *vector_f32(const chord_model *m, int g, const model_tensor *t, float *buf)
{
    const void *src = lc_tensor(m->lc, g, t->slot);
    if (t->type == QT_F32)
        return src;
    kern_row_f32(t->type, src, buf, (int)t->ne0);
    return buf;
}

/* Normalizes n rows of x into out with the norm weight t of group g. */
static void norm_rows(chord_ctx *c, int g, const model_tensor *t, const float *x,
                      float *out, int n)
{
    int ne = c->m->cfg.n_embd;
    const float *w = vector_f32(c->m, g, t, c->vec);
    for (int i = 0; i < n; i++)
        kern_rmsnorm(out + (size_t)i * ne, x + (size_t)i * ne, w, ne, c->m->cfg.eps);
}

/* y (n rows of the matrix's n_out) = x * W^T, plus the bias b if present. */
static void project(chord_ctx *c, int g, const model_tensor *w, const model_tensor *b,
                    const float *x, int n, float *y)
{
    kern_mat km = weight(c->m, g, w);
    kern_matmul(c->pool, c->ws, &km, x, n, y, km.n_out);
    if (b) {
        const float *bv = vector_f32(c->m, g, b, c->vec);
        for (int i = 0; i < n; i++)
            kern_add(y + (size_t)i * km.n_out, bv, km.n_out);
    }
}

/* ------------------------------------------------------------------------
 * Attention
 * ---------------------------------------------------------------------- */

/* F16 -> F32 by table: the KV cache is read head_dim values at a time in
 * the innermost loop, where a conversion call per value would dominate. */
static float f16_table[65536];
static pthread_once_t f16_once = PTHREAD_ONCE_INIT;

static void f16_table_init(void)
{
    for (int i = 0; i < 65536; i++)
        f16_table[i] = quant_f16_to_f32((uint16_t)i);
}

/* Dot product of two F16 vectors, summed in the reference's order: 32
 * lanes (4 x 8) of fused multiply-adds, folded pairwise, then the rest in
 * double. */
static float dot_f16(const uint16_t *x, const uint16_t *y, int n)
{
    int np = n & ~31;
    float acc[32] = {0};
    for (int i = 0; i < np; i += 32)
        for (int l = 0; l < 32; l++)
            acc[l] = fmaf(f16_table[x[i + l]], f16_table[y[i + l]], acc[l]);
    float r8[8], r4[4];
    for (int l = 0; l < 8; l++) {
        float a = acc[l] + acc[16 + l], b = acc[8 + l] + acc[24 + l];
        r8[l] = a + b;
    }
    for (int l = 0; l < 4; l++)
        r4[l] = r8[l] + r8[4 + l];
    double sum = (r4[0] + r4[1]) + (r4[2] + r4[3]);
    for (int i = np; i < n; i++)
        sum += (double)(f16_table[x[i]] * f16_table[y[i]]);
    return (float)sum;
}

typedef struct attn_job {
    chord_ctx *c;
    int il, n, pos0;
} attn_job;

/* One (head, token) pair per work item, split contiguously over the
 * threads. Attention over the cached positions up to the token's own (the
 * causal mask) with an online softmax, in the reference's precision: the
 * query rounded to F16 like the cached keys, scores summed in double, the
 * weighted values accumulated in an F16 vector. Mirroring those roundings
 * keeps our logits within a hair of the reference's, which matters where
 * two candidate tokens are nearly tied. */
static void attn_work(void *arg, int ith, int nth)
{
    const attn_job *j = arg;
    chord_ctx *c = j->c;
    const model_config *cf = &c->m->cfg;
    int hd = cf->head_dim, nq = cf->n_head * hd, nkv = cf->n_head_kv * hd;
    int group = cf->n_head / cf->n_head_kv;
    float scale = 1.0f / sqrtf((float)hd);
    const uint16_t *kl = c->kcache + (size_t)j->il * c->n_ctx * nkv;
    const uint16_t *vl = c->vcache + (size_t)j->il * c->n_ctx * nkv;
    uint16_t *q16 = c->attn_tmp + (size_t)ith * 2 * hd, *acc = q16 + hd;
    int lo, hi;
    pool_split(cf->n_head * j->n, ith, nth, &lo, &hi);
    for (int item = lo; item < hi; item++) {
        int h = item / j->n, t = item % j->n;
        int kvh = h / group, n_pos = j->pos0 + t + 1;
        const float *q = c->q + (size_t)t * nq + (size_t)h * hd;
        for (int d = 0; d < hd; d++) {
            q16[d] = quant_f32_to_f16(q[d]);
            acc[d] = 0;
        }
        float mx = -INFINITY, sum = 0;
        for (int p = 0; p < n_pos; p++) {
            const uint16_t *kr = kl + (size_t)p * nkv + (size_t)kvh * hd;
            const uint16_t *vr = vl + (size_t)p * nkv + (size_t)kvh * hd;
            float s = dot_f16(kr, q16, hd) * scale;
            float ms = 1.0f, vs = 1.0f;
            if (s > mx) {
                ms = expf(mx - s);
                mx = s;
                for (int d = 0; d < hd; d++)
                    acc[d] = quant_f32_to_f16(f16_table[acc[d]] * ms);
            } else {
                vs = expf(s - mx);
            }
            for (int d = 0; d < hd; d++)
                acc[d] = quant_f32_to_f16(fmaf(f16_table[vr[d]], vs, f16_table[acc[d]]));
            sum = sum * ms + vs;
        }
        float inv = sum > 0 ? 1.0f / sum : 0.0f;
        float *out = c->att + (size_t)t * nq + (size_t)h * hd;
        for (int d = 0; d < hd; d++)
            out[d] = f16_table[acc[d]] * inv;
    }
}

/* RoPE on this batch's q and k, then k and v into the cache as F16. */
static void rope_and_store(chord_ctx *c, int il, int n, int pos0)
{
    const model_config *cf = &c->m->cfg;
    int hd = cf->head_dim, nq = cf->n_head * hd, nkv = cf->n_head_kv * hd;
    for (int t = 0; t < n; t++) {
        float *q = c->q + (size_t)t * nq, *k = c->k + (size_t)t * nkv, *v = c->v + (size_t)t * nkv;
        kern_rope(q, cf->n_head, hd, cf->n_rot, pos0 + t, c->theta_scale, cf->rope_scale,
                  c->freq_div, cf->rope_neox);
        kern_rope(k, cf->n_head_kv, hd, cf->n_rot, pos0 + t, c->theta_scale, cf->rope_scale,
                  c->freq_div, cf->rope_neox);
        size_t at = ((size_t)il * c->n_ctx + (size_t)(pos0 + t)) * nkv;
        for (int i = 0; i < nkv; i++) {
            c->kcache[at + i] = quant_f32_to_f16(k[i]);
            c->vcache[at + i] = quant_f32_to_f16(v[i]);
        }
    }
}

/* ------------------------------------------------------------------------
 * The forward pass
 * ---------------------------------------------------------------------- */

chord_status model_forward(chord_ctx *c, const chord_token *tokens, int n,
                           float *logits, bool all, chord_err *err)
{
    chord_model *m = c->m;
    const model_config *cf = &m->cfg;
    int ne = cf->n_embd, pos0 = c->pos;
    pthread_once(&f16_once, f16_table_init);

    /* Embedding: one row of the table per token. */
    const model_tensor *emb = &m->glob[GT_EMBD];
    const uint8_t *etab = lc_tensor(m->lc, 0, emb->slot);
    for (int t = 0; t < n; t++)
        kern_row_f32(emb->type, etab + (size_t)tokens[t] * emb->row_bytes, c->x + (size_t)t * ne, ne);

    for (int il = 0; il < cf->n_layer; il++) {
        if (atomic_load(&c->cancel))
            return err_set(err, CHORD_E_CANCELLED, "%s: evaluation cancelled at layer %d", m->path, il);
        int g = 1 + il;
        chord_status st = lc_acquire(m->lc, g, err);
        if (st != CHORD_OK)
            return st;
#define LT(k) model_layer_tensor(m, il, k)
        /* Attention block. */
        norm_rows(c, g, LT(LT_ATTN_NORM), c->x, c->xb, n);
        project(c, g, LT(LT_Q), LT(LT_QB), c->xb, n, c->q);
        project(c, g, LT(LT_K), LT(LT_KB), c->xb, n, c->k);
        project(c, g, LT(LT_V), LT(LT_VB), c->xb, n, c->v);
        rope_and_store(c, il, n, pos0);
        attn_job aj = {c, il, n, pos0};
        pool_run(c->pool, attn_work, &aj);
        project(c, g, LT(LT_O), NULL, c->att, n, c->xb);
        kern_add(c->x, c->xb, n * ne);

        /* Feed-forward block. */
        norm_rows(c, g, LT(LT_FFN_NORM), c->x, c->xb, n);
        project(c, g, LT(LT_GATE), NULL, c->xb, n, c->hb);
        project(c, g, LT(LT_UP), NULL, c->xb, n, c->hb2);
        kern_swiglu(c->hb, c->hb2, n * cf->n_ff);
        project(c, g, LT(LT_DOWN), NULL, c->hb, n, c->xb);
        kern_add(c->x, c->xb, n * ne);
#undef LT
        lc_release(m->lc, g);
    }
    if (!logits)
        return CHORD_OK;

    /* Final norm and output projection: every row, or the last only. */
    int first = all ? 0 : n - 1, nrows = n - first;
    norm_rows(c, 0, &m->glob[GT_OUT_NORM], c->x + (size_t)first * ne, c->xb, nrows);
    const model_tensor *out = m->glob[GT_OUTPUT].slot >= 0 ? &m->glob[GT_OUTPUT] : emb;
    kern_mat w = weight(m, 0, out);
    kern_matmul(c->pool, c->ws, &w, c->xb, nrows, logits, cf->n_vocab);
    return CHORD_OK;
}
