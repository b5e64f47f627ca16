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

/* Expert e's matrix of a merged 3-D tensor: its ne1 rows. */
static kern_mat expert_mat(const chord_model *m, int g, const model_tensor *t, int e)
{
    kern_mat w = model_weight(m, g, t);
    w.data = (const uint8_t *)w.data + (size_t)e * (size_t)t->ne1 * t->row_bytes;
    return w;
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
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int e = 0; e < ne_; e++) {
                bool taken = false;
                for (int i = 0; i < j && !taken; i++)
                    taken = sel[i] == e;
                if (!taken && (best < 0 || p[e] > p[best]))
                    best = e;
            }
            sel[j] = best;
            w[j] = p[best];
        }
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

/* The MoE FFN of n tokens (input c->xb) into out: each expert runs once,
 * as a matmul over the tokens that chose it (gathered into moe_x), so a
 * batch reads each chosen expert's rows once; each (token, choice) output
 * is weighted into moe_y and the choices summed in order, best first. */
void model_moe_ffn(chord_ctx *c, int g, int il, int n, float *out)
{
    const chord_model *m = c->m;
    const model_config *cf = &m->cfg;
    int k = cf->n_expert_used, ne = cf->n_embd, ff = cf->n_ff_exp;
    moe_route(c, g, il, n);
    const model_tensor *tg = model_layer_tensor(m, il, LT_GATE_EXPS);
    const model_tensor *tu = model_layer_tensor(m, il, LT_UP_EXPS);
    const model_tensor *td = model_layer_tensor(m, il, LT_DOWN_EXPS);
    for (int e = 0; e < cf->n_expert; e++) {
        /* the (token, choice) pairs that picked e, in token order */
        int cnt = 0;
        for (int i = 0; i < n * k; i++)
            if (c->moe_sel[i] == e) {
                c->moe_tok[cnt] = i;
                memcpy(c->moe_x + (size_t)cnt * ne, c->xb + (size_t)(i / k) * ne, (size_t)ne * sizeof(float));
                cnt++;
            }
        if (!cnt)
            continue;
        kern_mat km[2] = {expert_mat(m, g, tg, e), expert_mat(m, g, tu, e)};
        float *y[2] = {c->hb, c->hb2};
        kern_matmul_multi(c->pool, c->ws, km, 2, c->moe_x, cnt, y);
        expert_bias(c, g, model_layer_tensor(m, il, LT_GATE_EXPS_B), e, c->hb, cnt);
        expert_bias(c, g, model_layer_tensor(m, il, LT_UP_EXPS_B), e, c->hb2, cnt);
        if (cf->rc->act == MODEL_ACT_SWIGLU_OAI)
            kern_swiglu_oai(c->hb, c->hb2, cnt * ff, 1.702f, 7.0f);
        else
            kern_swiglu(c->hb, c->hb2, cnt * ff);
        kern_mat kd = expert_mat(m, g, td, e);
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
    for (int t = 0; t < n; t++) {
        float *o = out + (size_t)t * ne;
        memcpy(o, c->moe_y + (size_t)t * k * ne, (size_t)ne * sizeof(float));
        for (int j = 1; j < k; j++)
            kern_add(o, c->moe_y + ((size_t)t * k + j) * ne, ne);
    }
}
