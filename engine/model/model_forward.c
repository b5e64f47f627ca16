/*
 * model_forward.c - the transformer forward pass, one for every family.
 *
 * One function walks the layers for a batch of n tokens (n = 1 is a decode
 * step): embedding (scaled for gemma), then per layer RMSNorm, q/k/v
 * projections (fused or not, + biases where present), per-head q/k norms
 * (qwen3, gemma3), RoPE, causal attention over the KV cache (the whole
 * context, or a window on local layers; scores soft-capped for gemma2;
 * sinks for gpt-oss), output projection, [post-norm], residual;
 * RMSNorm, gated FFN (SwiGLU or GELU; gate and up fused for phi3) or a
 * mixture of experts (model_moe.c), [post-norm], residual; then the final
 * norm, the output projection and [logit soft-capping]. What a family has
 * is read from its recipe (model.h) and its tensors, not from its name.
 * Weights come from the layer cache, one layer acquired at a time; the
 * numeric work is in engine/kern.
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "core/err.h"
#include "kern/kern.h"
#include "kern/kern_attn_q.h"
#include "model/model.h"
#include "quant/quant.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* The kern view of a weight matrix of the acquired group g. */
kern_mat model_weight(const chord_model *m, int g, const model_tensor *t)
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
void model_project(chord_ctx *c, int g, const model_tensor *w, const model_tensor *b,
                    const float *x, int n, float *y)
{
    kern_mat km = model_weight(c->m, g, w);
    kern_matmul(c->pool, c->ws, &km, x, n, y, km.n_out);
    if (b) {
        const float *bv = vector_f32(c->m, g, b, c->vec);
        for (int i = 0; i < n; i++)
            kern_add(y + (size_t)i * km.n_out, bv, km.n_out);
    }
}

/* The n_mat projections of the same input x (q/k/v; gate/up), each plus
 * its bias b[m] if present: one pool job per group when decoding (see
 * kern_matmul_multi). */
static void project_multi(chord_ctx *c, int g, const model_tensor *const *w,
                          const model_tensor *const *b, int n_mat, const float *x, int n,
                          float *const *y)
{
    kern_mat km[KERN_MULTI_MAX];
    for (int m = 0; m < n_mat; m++)
        km[m] = model_weight(c->m, g, w[m]);
    kern_matmul_multi(c->pool, c->ws, km, n_mat, x, n, y);
    for (int m = 0; m < n_mat; m++) {
        if (!b || !b[m])
            continue;
        const float *bv = vector_f32(c->m, g, b[m], c->vec);
        for (int i = 0; i < n; i++)
            kern_add(y[m] + (size_t)i * km[m].n_out, bv, km[m].n_out);
    }
}

/* ------------------------------------------------------------------------
 * Attention
 * ---------------------------------------------------------------------- */

typedef struct attn_job {
    chord_ctx *c;
    int il, n, pos0;
    int n_qb;          /* batched path: query blocks of c->attn_tb tokens */
    atomic_int next;   /* the next work item to take (every path) */
    /* the layer's attention, the same for every work item */
    float scale;       /* 1 where the query was scaled before (q_prescale) */
    int window;        /* a local layer's window, else 0 */
    const float *sinks; /* per query head, or NULL */
} attn_job;

/* The attention parameters of layer il (acquired group 1 + il). */
static void attn_layer(const chord_ctx *c, int il, attn_job *j)
{
    const model_config *cf = &c->m->cfg;
    const model_tensor *st = model_layer_tensor(c->m, il, LT_SINKS);
    j->scale = cf->rc->q_prescale ? 1.0f : cf->attn_scale;
    j->window = cf->swa[il] ? cf->n_swa : 0;
    j->sinks = st ? lc_tensor(c->m->lc, 1 + il, st->slot) : NULL;
}

/* The positions a token at p attends to in job j's layer; h is the query
 * head (for its sink, where the layer has them), g its KV head. */
static kern_attn_span attn_span(const attn_job *j, int p, int h, int g)
{
    const chord_ctx *c = j->c;
    const model_config *cf = &c->m->cfg;
    kern_attn_span sp = {
        .k = model_kv_head(c, 0, j->il, g), .v = model_kv_head(c, 1, j->il, g),
        .ld = c->kv_ldk, .ring = c->kv_ring[j->il],
        .lo = j->window && p >= j->window ? p - j->window + 1 : 0, .hi = p + 1,
        .scale = j->scale, .softcap = cf->attn_softcap, .unfused = c->attn_unfused,
        .has_sink = j->sinks != NULL, .sink = j->sinks ? j->sinks[h] : 0.0f,
    };
    return sp;
}

/* Decode: one (head, token) pair per work item, taken from a shared
 * counter (pool_run_dyn: a thread off its CPU leaves its heads to the
 * others): the token's query head against the cached positions up to its
 * own (the causal mask), within its window on a local layer. Each item is
 * computed whole by the thread that takes it, so which thread that is
 * does not change a bit. */
static void attn_work(void *arg, int ith, int nth)
{
    (void)nth;
    attn_job *j = arg;
    chord_ctx *c = j->c;
    const model_config *cf = &c->m->cfg;
    int hd = cf->head_dim, nq = cf->n_head * hd;
    int group = cf->n_head / cf->n_head_kv;
    uint16_t *tmp = c->attn_tmp + (size_t)ith * c->attn_tmp_halves;
    int total = cf->n_head * j->n;
    for (;;) {
        int item = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (item >= total)
            break;
        int h = item / j->n, t = item % j->n;
        kern_attn_span sp = attn_span(j, j->pos0 + t, h, h / group);
        kern_attn_head(c->q + (size_t)t * nq + (size_t)h * hd, &sp, hd, tmp,
                       c->att + (size_t)t * nq + (size_t)h * hd);
    }
}

/* Prefill: one (KV head, query block) per work item, taken from a shared
 * counter, the blocks of the last tokens (the longest) first so that the
 * threads finish together. Each item is computed whole by the thread that
 * takes it, so which thread that is does not change a bit. */
static void attn_blk_work(void *arg, int ith, int nth)
{
    (void)nth;
    attn_job *j = arg;
    chord_ctx *c = j->c;
    const model_config *cf = &c->m->cfg;
    int hd = cf->head_dim, nq = cf->n_head * hd;
    int group = cf->n_head / cf->n_head_kv, tb = c->attn_tb;
    float *ws = c->attn_ws + (size_t)ith * c->attn_ws_floats;
    int total = cf->n_head_kv * j->n_qb;
    for (;;) {
        int item = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (item >= total)
            break;
        int qb = j->n_qb - 1 - item / cf->n_head_kv, g = item % cf->n_head_kv;
        int t0 = qb * tb;
        size_t qoff = (size_t)t0 * nq + (size_t)g * group * hd;
        kern_attn_qblk b = {
            .q = c->q + qoff, .ldq = (size_t)nq,
            .out = c->att + qoff, .ldo = (size_t)nq,
            .k = model_kv_head(c, 0, j->il, g), .v = model_kv_head(c, 1, j->il, g), .ld = c->kv_ldk,
            .n_tok = j->n - t0 < tb ? j->n - t0 : tb,
            .n_grp = group, .pos0 = j->pos0 + t0, .hd = hd,
            .scale = j->scale, .window = j->window, .ring = c->kv_ring[j->il],
            .softcap = cf->attn_softcap, .unfused = c->attn_unfused,
            .sinks = j->sinks ? j->sinks + g * group : NULL,
        };
        kern_attn_blk(&b, ws);
    }
}

/* A quantized KV cache (kern_attn_q.h): one (token block, KV head) per
 * work item, all the query heads of the group at once (the group's keys
 * and values are read once), taken from a shared counter, the last tokens
 * (the longest spans) first. A block is attnq_tb consecutive tokens
 * (kern_attnq_multi: each tile of keys and values read once for all of
 * them, each token's bits its own); a sliding-window layer, whose tokens'
 * spans start at different places, takes one token an item. Each item is
 * computed whole by one thread. */
static void attnq_work(void *arg, int ith, int nth)
{
    (void)nth;
    attn_job *j = arg;
    chord_ctx *c = j->c;
    const model_config *cf = &c->m->cfg;
    int hd = cf->head_dim, nq = cf->n_head * hd, group = cf->n_head / cf->n_head_kv;
    void *tmp = c->attnq_tmp + (size_t)ith * c->attnq_tmp_bytes;
    int tb = j->window ? 1 : c->attnq_tb, n_blk = (j->n + tb - 1) / tb;
    int total = cf->n_head_kv * n_blk;
    for (;;) {
        int item = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (item >= total)
            break;
        int b = n_blk - 1 - item / cf->n_head_kv, g = item % cf->n_head_kv;
        int t0 = b * tb, nt = j->n - t0 < tb ? j->n - t0 : tb, p = j->pos0 + t0 + nt - 1;
        kern_attnq_span sp = {
            .k = (const uint8_t *)model_kv_head(c, 0, j->il, g),
            .v = (const uint8_t *)model_kv_head(c, 1, j->il, g),
            .ldk = c->kv_ldk * 2, .ldv = c->kv_ldv * 2, .kt = c->kv_tk, .vt = c->kv_tv,
            .lo = j->window && p >= j->window ? p - j->window + 1 : 0, .hi = p + 1,
            .ring = c->kv_ring[j->il], .scale = j->scale, .softcap = cf->attn_softcap,
            .sinks = j->sinks ? j->sinks + g * group : NULL,
        };
        size_t qoff = (size_t)t0 * nq + (size_t)g * group * hd;
        if (nt == 1)
            kern_attnq(c->q + qoff, group, hd, &sp, tmp, c->att + qoff);
        else
            kern_attnq_multi(c->q + qoff, (size_t)nq, nt, group, hd, &sp, tmp, c->att + qoff, (size_t)nq);
    }
}

/* Layer il's RoPE: its base (the local layers may have their own), its
 * scale, the per-pair divisors and YaRN's ramp. Shared with the context
 * shift (model_shift.c), which must turn keys with the same frequencies. */
kern_rope_params model_rope_params(const chord_ctx *c, int il)
{
    const model_config *cf = &c->m->cfg;
    bool local = cf->swa[il];
    kern_rope_params rp = {
        .n_rot = cf->n_rot, .theta_scale = local ? c->theta_scale_swa : c->theta_scale,
        .freq_scale = local ? cf->rope_scale_swa : cf->rope_scale, .mscale = cf->rope_mscale,
        .freq_div = c->freq_div, .ext_factor = cf->rope_ext,
        .corr = {local ? c->rope_corr_swa[0] : c->rope_corr[0], local ? c->rope_corr_swa[1] : c->rope_corr[1]},
        .neox = cf->rc->rope_neox,
    };
    return rp;
}

/* Per-head q/k norms (where the family has them), RoPE on this batch's q
 * and k, then k and v into the cache in its types (F16, or quantized a
 * head's row at a time), each KV head into its own rows (model_kv_head). */
static void rope_and_store(chord_ctx *c, int g, int il, int n, int pos0)
{
    const model_config *cf = &c->m->cfg;
    const chord_model *m = c->m;
    int hd = cf->head_dim, nq = cf->n_head * hd, nkv = cf->n_head_kv * hd;
    const model_tensor *qn = model_layer_tensor(m, il, LT_Q_NORM);
    const model_tensor *kn = model_layer_tensor(m, il, LT_K_NORM);
    if (qn && kn) {
        const float *w = vector_f32(m, g, qn, c->vec);
        for (int r = 0; r < n * cf->n_head; r++)
            kern_rmsnorm(c->q + (size_t)r * hd, c->q + (size_t)r * hd, w, hd, cf->eps);
        w = vector_f32(m, g, kn, c->vec);
        for (int r = 0; r < n * cf->n_head_kv; r++)
            kern_rmsnorm(c->k + (size_t)r * hd, c->k + (size_t)r * hd, w, hd, cf->eps);
    }
    kern_rope_params rp = model_rope_params(c, il);
    for (int t = 0; t < n; t++) {
        float *q = c->q + (size_t)t * nq, *k = c->k + (size_t)t * nkv, *v = c->v + (size_t)t * nkv;
        int p = pos0 + t;
        kern_rope(q, cf->n_head, hd, p + c->rope_off, &rp);
        kern_rope(k, cf->n_head_kv, hd, p + c->rope_off, &rp);
        if (cf->rc->q_prescale)
            for (int i = 0; i < nq; i++)
                q[i] *= cf->attn_scale;
        for (int h = 0; h < cf->n_head_kv; h++) {
            uint16_t *kr = model_kv_row(c, 0, il, h, p), *vr = model_kv_row(c, 1, il, h, p);
            const float *kg = k + (size_t)h * hd, *vg = v + (size_t)h * hd;
            if (c->kv_tk == QT_F16)
                for (int i = 0; i < hd; i++)
                    kr[i] = quant_f32_to_f16(kg[i]);
            else
                quant_quantize_row(c->kv_tk, kg, kr, hd);
            if (c->kv_tv == QT_F16)
                for (int i = 0; i < hd; i++)
                    vr[i] = quant_f32_to_f16(vg[i]);
            else
                quant_quantize_row(c->kv_tv, vg, vr, hd);
        }
    }
}

/* q, k and v of n tokens: three matrices, or one fused attn_qkv whose rows
 * are q's, then k's, then v's (split into the three buffers). */
static void project_qkv(chord_ctx *c, int g, int il, int n)
{
    const chord_model *m = c->m;
    const model_config *cf = &m->cfg;
    const model_tensor *fused = model_layer_tensor(m, il, LT_QKV);
    if (!fused) {
        const model_tensor *w[3] = {model_layer_tensor(m, il, LT_Q), model_layer_tensor(m, il, LT_K),
                                    model_layer_tensor(m, il, LT_V)};
        const model_tensor *b[3] = {model_layer_tensor(m, il, LT_QB), model_layer_tensor(m, il, LT_KB),
                                    model_layer_tensor(m, il, LT_VB)};
        float *y[3] = {c->q, c->k, c->v};
        project_multi(c, g, w, b, 3, c->xb, n, y);
        return;
    }
    size_t nq = (size_t)cf->n_head * cf->head_dim, nkv = (size_t)cf->n_head_kv * cf->head_dim;
    size_t nt = nq + 2 * nkv;
    model_project(c, g, fused, NULL, c->xb, n, c->qkv);
    for (int t = 0; t < n; t++) {
        const float *r = c->qkv + (size_t)t * nt;
        memcpy(c->q + (size_t)t * nq, r, nq * sizeof(float));
        memcpy(c->k + (size_t)t * nkv, r + nq, nkv * sizeof(float));
        memcpy(c->v + (size_t)t * nkv, r + nq + nkv, nkv * sizeof(float));
    }
}

/* The gated FFN's input side into hb (n x n_ff): act(gate) * up, from two
 * matrices or from one ffn_up holding the gate rows then the up rows. */
static void ffn_gate_up(chord_ctx *c, int g, int il, int n)
{
    const chord_model *m = c->m;
    const model_config *cf = &m->cfg;
    size_t ff = (size_t)cf->n_ff;
    void (*act)(float *, const float *, int) = cf->rc->act == MODEL_ACT_GELU ? kern_geglu : kern_swiglu;
    const model_tensor *gate = model_layer_tensor(m, il, LT_GATE);
    if (gate) {
        const model_tensor *w[2] = {gate, model_layer_tensor(m, il, LT_UP)};
        float *y[2] = {c->hb, c->hb2};
        project_multi(c, g, w, NULL, 2, c->xb, n, y);
        act(c->hb, c->hb2, n * cf->n_ff);
        return;
    }
    /* Fused: token t's 2 x n_ff outputs, compacted to n_ff in place (token
     * t's result lands at or before its own input, never over a later
     * token's). */
    model_project(c, g, model_layer_tensor(m, il, LT_UP), NULL, c->xb, n, c->hb);
    for (int t = 0; t < n; t++) {
        float *in = c->hb + (size_t)t * 2 * ff, *out = c->hb + (size_t)t * ff;
        act(in, in + ff, (int)ff);
        if (t)
            memmove(out, in, ff * sizeof(float));
    }
}

/* x += block output y (n rows), through the family's post-norm if any. */
static void residual(chord_ctx *c, int g, int il, int post, float *y, int n)
{
    const model_tensor *pn = model_layer_tensor(c->m, il, post);
    if (pn)
        norm_rows(c, g, pn, y, y, n);
    kern_add(c->x, y, n * c->m->cfg.n_embd);
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

    /* Embedding: one row of the table per token (times sqrt(n_embd) for
     * the families that scale it). */
    const model_tensor *emb = &m->glob[GT_EMBD];
    const uint8_t *etab = lc_tensor(m->lc, 0, emb->slot);
    for (int t = 0; t < n; t++) {
        float *xt = c->x + (size_t)t * ne;
        kern_row_f32(emb->type, etab + (size_t)tokens[t] * emb->row_bytes, xt, ne);
        if (cf->rc->embd_scale)
            for (int i = 0; i < ne; i++)
                xt[i] *= sqrtf((float)ne);
    }

    lc_expert_tokens(m->lc, n);
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
        project_qkv(c, g, il, n);
        rope_and_store(c, g, il, n, pos0);
        /* Batches take query blocks (attn_blk_work), and so does decode
         * when a KV head serves several query heads: the block kernel
         * converts each key and value once for the whole group instead of
         * once per head (at 4,096 positions and 8 heads to a KV head, 3x
         * faster; equal at a few dozen). A short context, or fewer KV heads
         * than threads, keeps the one-query kernel per head. The bits are
         * the same either way. */
        int group = cf->n_head / cf->n_head_kv;
        bool blk = c->attn_tb > 0 &&
                   (n > 1 || (group >= 2 && pos0 >= 64 && cf->n_head_kv >= c->n_threads));
        attn_job aj = {.c = c, .il = il, .n = n, .pos0 = pos0,
                       .n_qb = blk ? (n + c->attn_tb - 1) / c->attn_tb : 0};
        atomic_init(&aj.next, 0);
        attn_layer(c, il, &aj);
        pool_fn fn = c->attnq_tmp ? attnq_work : blk ? attn_blk_work : attn_work;
        if ((size_t)cf->n_head * n * (pos0 + n) * cf->head_dim < (1u << 16))
            fn(&aj, 0, 1); /* too little work to wake the pool */
        else
            pool_run_dyn(c->pool, fn, &aj); /* each takes items from aj.next */
        model_project(c, g, LT(LT_O), LT(LT_OB), c->att, n, c->xb);
        residual(c, g, il, LT_ATTN_POST_NORM, c->xb, n);
        /* the next layer's experts, predicted now, are read while this
         * layer's FFN computes */
        if (il + 1 < cf->n_layer && model_layer_tensor(m, il + 1, LT_GATE_INP))
            model_moe_predict(c, il + 1, n);

        /* Feed-forward block. */
        norm_rows(c, g, LT(LT_FFN_NORM), c->x, c->xb, n);
        if (LT(LT_GATE_INP)) {
            /* att is free until the next layer */
            st = model_moe_ffn(c, g, il, n, c->att, err);
            if (st != CHORD_OK) {
                lc_release(m->lc, g);
                return st;
            }
            residual(c, g, il, LT_FFN_POST_NORM, c->att, n);
        } else {
            ffn_gate_up(c, g, il, n);
            model_project(c, g, LT(LT_DOWN), NULL, c->hb, n, c->xb);
            residual(c, g, il, LT_FFN_POST_NORM, c->xb, n);
        }
#undef LT
        lc_release(m->lc, g);
    }
    if (!logits)
        return CHORD_OK;

    /* Final norm and output projection: every row, or the last only. */
    int first = all ? 0 : n - 1, nrows = n - first;
    norm_rows(c, 0, &m->glob[GT_OUT_NORM], c->x + (size_t)first * ne, c->xb, nrows);
    const model_tensor *out = m->glob[GT_OUTPUT].slot >= 0 ? &m->glob[GT_OUTPUT] : emb;
    kern_mat w = model_weight(m, 0, out);
    kern_matmul(c->pool, c->ws, &w, c->xb, nrows, logits, cf->n_vocab);
    if (cf->final_softcap > 0)
        kern_softcap(logits, nrows * cf->n_vocab, cf->final_softcap);
    return CHORD_OK;
}
