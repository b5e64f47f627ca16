/*
 * model_moe.c - the mixture-of-experts FFN: the router's choice of experts
 * per token, then each chosen expert run once over the tokens that chose
 * it, and each token's weighted sum of its experts' outputs.
 *
 * The merged expert tensors (ffn_{gate,up,down}_exps: one ne1 x ne0 matrix
 * per expert, stacked) are read an expert's slice at a time; biases
 * (gpt-oss) are one row per expert.
 */
#include <string.h>

#include "kern/kern.h"
#include "model/model.h"
#include "quant/quant_types.h"

/* The indices of the k largest of p[0..n-1], largest first; ties go to
 * the lower index (k is small: repeated selection). */
static void top_k(const float *p, int n, int k, int *sel)
{
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int e = 0; e < n; e++) {
            bool taken = false;
            for (int i = 0; i < j && !taken; i++)
                taken = sel[i] == e;
            if (!taken && (best < 0 || p[e] > p[best]))
                best = e;
        }
        sel[j] = best;
    }
}

/* Router: the expert weights of n tokens from the router's logits (plus
 * its bias, where the layer has one), by the family's gating: softmax over
 * all the experts, the n_expert_used most probable (best first; ties to the
 * lower index), their probabilities renormalized to sum to one; or the
 * n_expert_used largest logits and a softmax over them. */
static void moe_route(chord_ctx *c, int g, int il, int n)
{
    const chord_model *m = c->m;
    const model_config *cf = &m->cfg;
    int ne_ = cf->n_expert, k = cf->n_expert_used;
    bool topk_softmax = cf->rc->gating == MODEL_GATING_SOFTMAX_TOPK;
    model_project(c, g, model_layer_tensor(m, il, LT_GATE_INP), model_layer_tensor(m, il, LT_GATE_INP_B),
            c->xb, n, c->moe_probs);
    for (int t = 0; t < n; t++) {
        float *p = c->moe_probs + (size_t)t * ne_, *w = c->moe_w + (size_t)t * k;
        int *sel = c->moe_sel + (size_t)t * k;
        if (!topk_softmax)
            kern_softmax(p, ne_);
        top_k(p, ne_, k, sel);
        for (int j = 0; j < k; j++)
            w[j] = p[sel[j]];
        if (topk_softmax) {
            kern_softmax(w, k);
            continue;
        }
        float sum = 0;
        for (int j = 0; j < k; j++)
            sum += w[j];
        /* the reference clamps the sum at the smallest normal half */
        if (sum < 6.103515625e-5f)
            sum = 6.103515625e-5f;
        for (int j = 0; j < k; j++)
            w[j] /= sum;
    }
}

/* Adds row e of a per-expert bias (ne0 x n_expert, F32 or not) to n rows. */
static void expert_bias(chord_ctx *c, int g, const model_tensor *b, int e, float *y, int n)
{
    if (!b)
        return;
    const uint8_t *base = lc_tensor(c->m->lc, g, b->slot);
    const float *bv = c->vec;
    kern_row_f32(b->type, base + (size_t)e * b->row_bytes, c->vec, (int)b->ne0);
    for (int i = 0; i < n; i++)
        kern_add(y + (size_t)i * b->ne0, bv, (int)b->ne0);
}

/* Expert matrix of tensor t (one expert's ne1 x ne0 slice) at data. */
static kern_mat part_mat(const model_tensor *t, const void *data)
{
    kern_mat w = {
        .data = data, .type = t->type, .n_in = (int)t->ne0, .n_out = (int)t->ne1,
        .row_bytes = t->row_bytes,
    };
    return w;
}

/* Expert e (its gate, up and down at pp) over the tokens of the batch that
 * chose it, gathered into moe_x; each (token, choice)'s weighted output
 * lands in moe_y. */
static void run_expert(chord_ctx *c, int g, int il, int e, const void *const *pp, int n)
{
    const chord_model *m = c->m;
    const model_config *cf = &m->cfg;
    int k = cf->n_expert_used, ne = cf->n_embd, ff = cf->n_ff_exp;
    int cnt = 0;
    for (int i = 0; i < n * k; i++)
        if (c->moe_sel[i] == e) {
            c->moe_tok[cnt] = i;
            memcpy(c->moe_x + (size_t)cnt * ne, c->xb + (size_t)(i / k) * ne, (size_t)ne * sizeof(float));
            cnt++;
        }
    kern_mat km[2] = {part_mat(model_layer_tensor(m, il, LT_GATE_EXPS), pp[0]),
                      part_mat(model_layer_tensor(m, il, LT_UP_EXPS), pp[1])};
    float *y[2] = {c->hb, c->hb2};
    kern_matmul_multi(c->pool, c->ws, km, 2, c->moe_x, cnt, y);
    expert_bias(c, g, model_layer_tensor(m, il, LT_GATE_EXPS_B), e, c->hb, cnt);
    expert_bias(c, g, model_layer_tensor(m, il, LT_UP_EXPS_B), e, c->hb2, cnt);
    if (cf->rc->act == MODEL_ACT_SWIGLU_OAI)
        kern_swiglu_oai(c->hb, c->hb2, cnt * ff, 1.702f, 7.0f);
    else
        kern_swiglu(c->hb, c->hb2, cnt * ff);
    kern_mat kd = part_mat(model_layer_tensor(m, il, LT_DOWN_EXPS), pp[2]);
    kern_matmul(c->pool, c->ws, &kd, c->hb, cnt, c->moe_x, ne);
    expert_bias(c, g, model_layer_tensor(m, il, LT_DOWN_EXPS_B), e, c->moe_x, cnt);
    for (int r = 0; r < cnt; r++) {
        int i = c->moe_tok[r];
        float w = c->moe_w[i], *dst = c->moe_y + (size_t)i * ne;
        const float *src = c->moe_x + (size_t)r * ne;
        for (int d = 0; d < ne; d++)
            dst[d] = src[d] * w;
    }
}

/* One token's experts ids[0..nb-1] (parts at pp[j]) together: every gate
 * and up as one pool job, then every down as another (two jobs per layer,
 * not two per expert); expert j's hidden row is row j of hb/hb2. The same
 * dot products as run_expert, so the same bits. */
static void run_experts_1(chord_ctx *c, int g, int il, const int *ids, int nb,
                          const void *(*pp)[LC_EXPERT_PARTS])
{
    const chord_model *m = c->m;
    const model_config *cf = &m->cfg;
    int k = cf->n_expert_used, ne = cf->n_embd, ff = cf->n_ff_exp;
    const model_tensor *tg = model_layer_tensor(m, il, LT_GATE_EXPS);
    const model_tensor *tu = model_layer_tensor(m, il, LT_UP_EXPS);
    const model_tensor *td = model_layer_tensor(m, il, LT_DOWN_EXPS);
    kern_mat km[KERN_MANY_MAX];
    const float *xs[KERN_MANY_MAX];
    float *ys[KERN_MANY_MAX];
    for (int j = 0; j < nb; j++) {
        km[2 * j] = part_mat(tg, pp[j][0]);
        km[2 * j + 1] = part_mat(tu, pp[j][1]);
        xs[2 * j] = xs[2 * j + 1] = c->xb;
        ys[2 * j] = c->hb + (size_t)j * ff;
        ys[2 * j + 1] = c->hb2 + (size_t)j * ff;
    }
    kern_matvec_many(c->pool, c->ws, km, 2 * nb, xs, ys);
    for (int j = 0; j < nb; j++) {
        float *h = c->hb + (size_t)j * ff, *h2 = c->hb2 + (size_t)j * ff;
        expert_bias(c, g, model_layer_tensor(m, il, LT_GATE_EXPS_B), ids[j], h, 1);
        expert_bias(c, g, model_layer_tensor(m, il, LT_UP_EXPS_B), ids[j], h2, 1);
        if (cf->rc->act == MODEL_ACT_SWIGLU_OAI)
            kern_swiglu_oai(h, h2, ff, 1.702f, 7.0f);
        else
            kern_swiglu(h, h2, ff);
        km[j] = part_mat(td, pp[j][2]);
        xs[j] = h;
        ys[j] = c->moe_x + (size_t)j * ne;
    }
    kern_matvec_many(c->pool, c->ws, km, nb, xs, ys);
    for (int j = 0; j < nb; j++) {
        float *y = c->moe_x + (size_t)j * ne;
        expert_bias(c, g, model_layer_tensor(m, il, LT_DOWN_EXPS_B), ids[j], y, 1);
        for (int i = 0; i < k; i++)
            if (c->moe_sel[i] == ids[j]) {
                float w = c->moe_w[i], *dst = c->moe_y + (size_t)i * ne;
                for (int d = 0; d < ne; d++)
                    dst[d] = y[d] * w;
            }
    }
}

/* The MoE FFN of n tokens (input c->xb) into out: each chosen expert runs
 * once, as a matmul over the tokens that chose it, so a batch reads each
 * expert's rows once; the expert cache hands them over as many at a time
 * as its slots allow (the misses read together). Each token sums its
 * choices' weighted outputs in order, best first, whatever the batching:
 * the bits do not depend on the budget. */
chord_status model_moe_ffn(chord_ctx *c, int g, int il, int n, float *out, chord_err *err)
{
    const chord_model *m = c->m;
    const model_config *cf = &m->cfg;
    int k = cf->n_expert_used, ne = cf->n_embd;
    moe_route(c, g, il, n);
    int nl = 0;
    memset(c->moe_cnt, 0, (size_t)cf->n_expert * sizeof *c->moe_cnt);
    for (int i = 0; i < n * k; i++)
        c->moe_cnt[c->moe_sel[i]]++;
    for (int e = 0; e < cf->n_expert; e++)
        if (c->moe_cnt[e]) {
            c->moe_ids[nl] = e;
            c->moe_cnt[nl++] = c->moe_cnt[e];
        }
    lc_cache *lc = m->lc;
    lc_expert_pass(lc, il, nl, c->moe_ids, c->moe_cnt);
    int batch = lc_expert_batch(lc);
    for (int i0 = 0; i0 < nl; i0 += batch) {
        int nb = nl - i0 < batch ? nl - i0 : batch;
        chord_status st = lc_expert_get(lc, il, nb, c->moe_ids + i0, c->moe_parts, err);
        if (st != CHORD_OK)
            return st;
        if (n == 1 && 2 * nb <= KERN_MANY_MAX && nb <= c->n_batch)
            run_experts_1(c, g, il, c->moe_ids + i0, nb, c->moe_parts);
        else
            for (int j = 0; j < nb; j++)
                run_expert(c, g, il, c->moe_ids[i0 + j], c->moe_parts[j], n);
        lc_expert_put(lc, il, nb, c->moe_ids + i0);
    }
    lc_expert_last(lc, il, c->moe_sel + (size_t)(n - 1) * k, k);
    for (int t = 0; t < n; t++) {
        float *o = out + (size_t)t * ne;
        memcpy(o, c->moe_y + (size_t)t * k * ne, (size_t)ne * sizeof(float));
        for (int j = 1; j < k; j++)
            kern_add(o, c->moe_y + ((size_t)t * k + j) * ne, ne);
    }
    return CHORD_OK;
}

/* Layer il's likely experts, from the previous layer's FFN input (c->x, n
 * rows) normed and routed with layer il's own weights: the hidden state
 * changes little in one layer, so most of the choices come out the same.
 * The experts most of the batch's tokens would pick, up to n_expert_used,
 * are hinted to the expert cache, which reads the missing ones while the
 * previous layer computes. Only when experts are cached (not all resident)
 * and layer il's dense part is held in memory. */
void model_moe_predict(chord_ctx *c, int il, int n)
{
    const chord_model *m = c->m;
    const model_config *cf = &m->cfg;
    if (!lc_expert_caching(m->lc) || !lc_is_held(m->lc, 1 + il))
        return;
    int g = 1 + il, k = cf->n_expert_used, E = cf->n_expert;
    const model_tensor *router = model_layer_tensor(m, il, LT_GATE_INP);
    const model_tensor *norm = model_layer_tensor(m, il, LT_FFN_NORM);
    if (!router || !norm)
        return;
    const float *w = norm->type == QT_F32 ? lc_tensor(m->lc, g, norm->slot) : NULL;
    if (!w)
        return;
    for (int t = 0; t < n; t++)
        kern_rmsnorm(c->moe_x + (size_t)t * cf->n_embd, c->x + (size_t)t * cf->n_embd, w,
                     cf->n_embd, cf->eps);
    model_project(c, g, router, model_layer_tensor(m, il, LT_GATE_INP_B), c->moe_x, n,
                  c->moe_probs);
    /* votes: each token's k largest logits (softmax keeps their order) */
    memset(c->moe_cnt, 0, (size_t)E * sizeof *c->moe_cnt);
    for (int t = 0; t < n; t++) {
        const float *p = c->moe_probs + (size_t)t * E;
        int *sel = c->moe_tok; /* scratch: k ids */
        top_k(p, E, k, sel);
        for (int j = 0; j < k; j++)
            c->moe_cnt[sel[j]]++;
    }
    int nh = 0;
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int e = 0; e < E; e++)
            if (c->moe_cnt[e] > 0 && (best < 0 || c->moe_cnt[e] > c->moe_cnt[best]))
                best = e;
        if (best < 0)
            break;
        c->moe_ids[nh++] = best;
        c->moe_cnt[best] = 0;
    }
    lc_expert_hint(m->lc, il, nh, c->moe_ids);
}
