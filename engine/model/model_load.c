/*
 * model_load.c - opening a GGUF model: hyperparameters from the metadata,
 * the weight table checked against them, the vocabulary, and the layer
 * cache over the tensor data. Also the model's read-only queries (info,
 * metadata, plan, stats).
 */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "quant/quant.h"
#include "tok/tok.h"

chord_model_params chord_model_default_params(void)
{
    chord_model_params p;
    memset(&p, 0, sizeof p);
    p.prefetch = 2;
    return p;
}

/* ------------------------------------------------------------------------
 * Hyperparameters
 * ---------------------------------------------------------------------- */

/* Reads the integer "<arch>.<suffix>" into *out; when the key is absent,
 * stores def, or fails if def < 0 (required). Values must fit in [1, 2^30]. */
static chord_status meta_int(const chord_model *m, const char *arch, const char *suffix,
                             int def, int *out, chord_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    const gguf_kv *kv = gguf_find(m->gguf, key);
    int64_t v;
    if (!kv) {
        if (def < 0)
            return err_set(err, CHORD_E_FORMAT, "%s: missing metadata key '%s'", m->path, key);
        *out = def;
        return CHORD_OK;
    }
    if (!gguf_get_int(m->gguf, key, &v))
        return err_set(err, CHORD_E_UNSUPPORTED, "%s: key '%s' at offset %llu is a %s, not an integer",
                       m->path, key, (unsigned long long)kv->offset, gguf_vtype_name(kv->type));
    if (v < 1 || v > (1 << 30))
        return err_set(err, CHORD_E_FORMAT, "%s: key '%s' at offset %llu: value %lld out of range",
                       m->path, key, (unsigned long long)kv->offset, (long long)v);
    *out = (int)v;
    return CHORD_OK;
}

/* Like meta_int for floats; def is used when absent (NAN = required). */
static chord_status meta_float(const chord_model *m, const char *arch, const char *suffix,
                               double def, float *out, chord_err *err)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    const gguf_kv *kv = gguf_find(m->gguf, key);
    double v;
    if (!kv) {
        if (def != def)
            return err_set(err, CHORD_E_FORMAT, "%s: missing metadata key '%s'", m->path, key);
        *out = (float)def;
        return CHORD_OK;
    }
    if (!gguf_get_float(m->gguf, key, &v) || !(v > 0 && v < 1e30))
        return err_set(err, CHORD_E_FORMAT, "%s: key '%s' at offset %llu: not a positive number",
                       m->path, key, (unsigned long long)kv->offset);
    *out = (float)v;
    return CHORD_OK;
}

#define TRY(x) do { chord_status st_ = (x); if (st_ != CHORD_OK) return st_; } while (0)

/* The families chord runs (model.h's model_recipe). Where a family's
 * numbers are not in its metadata, the reference's defaults are: gemma2's
 * window pattern is every other layer, gemma3's five local to one global. */
static const model_recipe recipes[] = {
    {.arch = "llama", .act = MODEL_ACT_SILU},
    {.arch = "qwen2", .rope_neox = true, .act = MODEL_ACT_SILU},
    {.arch = "qwen3", .rope_neox = true, .qk_norm = true, .act = MODEL_ACT_SILU},
    {.arch = "gemma2", .rope_neox = true, .post_norm = true, .embd_scale = true,
     .act = MODEL_ACT_GELU, .swa_period = 2, .swa_from_meta = true, .softcap = true,
     .attn_scale_rule = true, .q_prescale = true, .swa_rope_global = true},
    {.arch = "gemma3", .rope_neox = true, .qk_norm = true, .post_norm = true, .embd_scale = true,
     .act = MODEL_ACT_GELU, .swa_period = 6, .swa_from_meta = true, .softcap = true,
     .attn_scale_rule = true, .q_prescale = true},
    {.arch = "phi3", .rope_neox = true, .fused_up = true, .act = MODEL_ACT_SILU, .q_prescale = true},
    {.arch = "qwen3moe", .rope_neox = true, .qk_norm = true, .act = MODEL_ACT_SILU},
    {.arch = "gpt-oss", .rope_neox = true, .act = MODEL_ACT_SWIGLU_OAI, .gating = MODEL_GATING_SOFTMAX_TOPK,
     .ffn_norm = "post_attention_norm.weight", .swa_period = 2, .swa_from_meta = true,
     .swa_rope_global = true},
};

static chord_status read_config(chord_model *m, chord_err *err)
{
    model_config *c = &m->cfg;
    const char *arch = gguf_get_str(m->gguf, "general.architecture");
    if (!arch)
        return err_set(err, CHORD_E_FORMAT, "%s: missing metadata key 'general.architecture'", m->path);
    for (size_t i = 0; i < sizeof recipes / sizeof *recipes && !c->rc; i++)
        if (!strcmp(arch, recipes[i].arch))
            c->rc = &recipes[i];
    if (!c->rc)
        return err_set(err, CHORD_E_UNSUPPORTED,
                       "%s: key 'general.architecture': '%s' is not supported (llama, qwen2, qwen3, qwen3moe, gemma2, gemma3, phi3, gpt-oss)",
                       m->path, arch);
    const model_recipe *rc = c->rc;
    TRY(meta_int(m, arch, "embedding_length", -1, &c->n_embd, err));
    TRY(meta_int(m, arch, "block_count", -1, &c->n_layer, err));
    TRY(meta_int(m, arch, "feed_forward_length", -1, &c->n_ff, err));
    TRY(meta_int(m, arch, "attention.head_count", -1, &c->n_head, err));
    TRY(meta_int(m, arch, "attention.head_count_kv", c->n_head, &c->n_head_kv, err));
    TRY(meta_int(m, arch, "context_length", 4096, &c->n_ctx_train, err));
    /* The head size is its own key where it is not n_embd / n_head (qwen3:
     * 16 heads of 128 on a width of 1024). */
    char key[128];
    snprintf(key, sizeof key, "%s.attention.key_length", arch);
    if (!gguf_find(m->gguf, key) && c->n_embd % c->n_head)
        return err_set(err, CHORD_E_FORMAT, "%s: key '%s.embedding_length' (%d) is not a multiple of the head count (%d)",
                       m->path, arch, c->n_embd, c->n_head);
    TRY(meta_int(m, arch, "attention.key_length", c->n_embd / c->n_head, &c->head_dim, err));
    TRY(meta_int(m, arch, "attention.value_length", c->head_dim, &c->head_dim_v, err));
    TRY(meta_int(m, arch, "rope.dimension_count", c->head_dim, &c->n_rot, err));
    TRY(meta_float(m, arch, "attention.layer_norm_rms_epsilon", 0.0 / 0.0, &c->eps, err));
    TRY(meta_float(m, arch, "rope.freq_base", 10000.0, &c->rope_base, err));
    TRY(meta_float(m, arch, "rope.freq_base_swa", rc->swa_rope_global ? c->rope_base : 10000.0,
                   &c->rope_base_swa, err));
    TRY(meta_int(m, arch, "rope.scaling.original_context_length", c->n_ctx_train, &c->n_ctx_orig, err));
    TRY(meta_float(m, arch, "rope.scaling.attn_factor", 1.0, &c->rope_mscale, err));
    /* Mixtures of experts: softmax over the router's logits, the
     * expert_used_count best, their weights renormalized to sum to one
     * (qwen3moe and mixtral both do; neither file carries a key for it). */
    snprintf(key, sizeof key, "%s.expert_count", arch);
    if (gguf_find(m->gguf, key)) {
        TRY(meta_int(m, arch, "expert_count", -1, &c->n_expert, err));
        TRY(meta_int(m, arch, "expert_used_count", -1, &c->n_expert_used, err));
        TRY(meta_int(m, arch, "expert_feed_forward_length", c->n_ff, &c->n_ff_exp, err));
        if (c->n_expert_used > c->n_expert || c->n_expert > 4096)
            return err_set(err, CHORD_E_FORMAT, "%s: key '%s.expert_used_count' (%d) exceeds the expert count (%d) or that is over 4096",
                           m->path, arch, c->n_expert_used, c->n_expert);
    }
    if (c->n_layer > CHORD_MAX_LAYERS)
        return err_set(err, CHORD_E_UNSUPPORTED, "%s: key '%s.block_count': %d layers (chord handles up to %d)",
                       m->path, arch, c->n_layer, CHORD_MAX_LAYERS);
    if (c->n_head % c->n_head_kv)
        return err_set(err, CHORD_E_FORMAT, "%s: key '%s.attention.head_count_kv' (%d) does not divide the head count (%d)",
                       m->path, arch, c->n_head_kv, c->n_head);
    if (c->head_dim_v != c->head_dim)
        return err_set(err, CHORD_E_UNSUPPORTED, "%s: key '%s.attention.value_length' (%d) differs from the key length (%d)",
                       m->path, arch, c->head_dim_v, c->head_dim);
    if (c->n_rot > c->head_dim || c->n_rot % 2)
        return err_set(err, CHORD_E_FORMAT, "%s: key '%s.rope.dimension_count' (%d) must be even and at most the head size (%d)",
                       m->path, arch, c->n_rot, c->head_dim);

    /* The query scale: 1/sqrt(head size), except where gemma's reference
     * scales by 1/sqrt(n_embd / n_head) (its 27B models, told apart by
     * their layer count, as the reference does); attention.scale, where a
     * file carries it, wins. */
    c->attn_scale = 1.0f / sqrtf((float)c->head_dim);
    if (rc->attn_scale_rule && c->n_layer == (!strcmp(arch, "gemma2") ? 46 : 62))
        c->attn_scale = 1.0f / sqrtf((float)(c->n_embd / c->n_head));
    TRY(meta_float(m, arch, "attention.scale", c->attn_scale, &c->attn_scale, err));
    if (rc->softcap) {
        /* gemma2 caps both by default (50 and 30); gemma3 only if its file
         * says so */
        bool g2 = !strcmp(arch, "gemma2");
        TRY(meta_float(m, arch, "attn_logit_softcapping", g2 ? 50.0 : 0.0, &c->attn_softcap, err));
        TRY(meta_float(m, arch, "final_logit_softcapping", g2 ? 30.0 : 0.0, &c->final_softcap, err));
        if (!g2)
            c->attn_softcap = 0; /* the reference caps gemma3's logits only */
    }
    /* Sliding windows: layer il is local when il % period < period - 1. */
    if (rc->swa_from_meta) {
        int period = rc->swa_period;
        TRY(meta_int(m, arch, "attention.sliding_window", !strcmp(arch, "gemma2") ? 4096 : 0,
                     &c->n_swa, err));
        TRY(meta_int(m, arch, "attention.sliding_window_pattern", period, &period, err));
        for (int il = 0; c->n_swa > 0 && il < c->n_layer; il++)
            c->swa[il] = il % period < period - 1;
    }

    /* RoPE scaling: none, linear or YaRN; anything else would silently give
     * wrong logits at long positions, so it is refused. (LongRoPE comes as
     * factor tensors and an attention factor, not as a scaling type.) */
    c->rope_scale = 1.0f;
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    const char *stype = gguf_get_str(m->gguf, key);
    float factor = 1.0f;
    if (stype && strcmp(stype, "none") && strcmp(stype, "linear") && strcmp(stype, "yarn"))
        return err_set(err, CHORD_E_UNSUPPORTED, "%s: key '%s': RoPE scaling '%s' is not supported (none, linear, yarn)",
                       m->path, key, stype);
    if (!stype || strcmp(stype, "none")) {
        TRY(meta_float(m, arch, "rope.scaling.factor", 1.0, &factor, err));
        if (factor == 1.0f)
            TRY(meta_float(m, arch, "rope.scale_linear", 1.0, &factor, err));
    }
    c->rope_scale = 1.0f / factor;
    if (stype && !strcmp(stype, "yarn") && factor > 1.0f) {
        /* The reference's attention factor for YaRN: its magnitude term,
         * cancelled by the rotation's own (kern_rope multiplies it back),
         * times the file's attn_factor; computed in its float steps. */
        c->rope_ext = 1.0f;
        TRY(meta_float(m, arch, "rope.scaling.yarn_beta_fast", 32.0, &c->yarn_beta_fast, err));
        TRY(meta_float(m, arch, "rope.scaling.yarn_beta_slow", 1.0, &c->yarn_beta_slow, err));
        float a = 0.1f * logf(factor) + 1.0f;
        a *= 1.0f / (1.0f + 0.1f * logf(factor));
        c->rope_mscale *= a;
    }
    c->rope_scale_swa = rc->swa_rope_global ? c->rope_scale : 1.0f;
    return CHORD_OK;
}

/* ------------------------------------------------------------------------
 * The weight table
 * ---------------------------------------------------------------------- */

/* Looks a tensor up and checks its type and shape: ne1 = 0 means a vector
 * (1-D) of ne0 elements. Absent and !required: t->slot stays -1. */
static chord_status find_weight3(chord_model *m, const char *name, int64_t ne0, int64_t ne1,
                                 int64_t ne2, bool required, model_tensor *t, chord_err *err)
{
    t->slot = -1;
    const gguf_tensor *g = gguf_find_tensor(m->gguf, name);
    if (!g) {
        if (required)
            return err_set(err, CHORD_E_FORMAT, "%s: missing tensor '%s'", m->path, name);
        return CHORD_OK;
    }
    int64_t want1 = ne1 ? ne1 : 1;
    if (g->ne[0] != ne0 || g->ne[1] != want1 || g->ne[2] != ne2 || g->ne[3] != 1)
        return err_set(err, CHORD_E_FORMAT,
                       "%s: tensor '%s' at offset %llu has shape [%lld, %lld, %lld, %lld], the metadata implies [%lld, %lld, %lld]",
                       m->path, name, (unsigned long long)g->offset, (long long)g->ne[0],
                       (long long)g->ne[1], (long long)g->ne[2], (long long)g->ne[3],
                       (long long)ne0, (long long)want1, (long long)ne2);
    const quant_traits *qt = quant_traits_of(g->type);
    if (!qt || !qt->supported || quant_act_type(g->type) < 0)
        return err_set(err, CHORD_E_UNSUPPORTED, "%s: tensor '%s' at offset %llu: type %s (%d) is not supported",
                       m->path, name, (unsigned long long)g->offset, qt ? qt->name : "unknown", g->type);
    t->type = g->type;
    t->ne0 = ne0;
    t->ne1 = want1;
    t->ne2 = ne2;
    t->row_bytes = quant_row_bytes(g->type, ne0);
    if (!t->row_bytes || (uint64_t)t->row_bytes * (uint64_t)want1 * (uint64_t)ne2 != g->nbytes)
        return err_set(err, CHORD_E_FORMAT, "%s: tensor '%s' at offset %llu: %llu bytes do not match its type and shape",
                       m->path, name, (unsigned long long)g->offset, (unsigned long long)g->nbytes);
    t->slot = 0; /* placed in its group later */
    t->part = -1;
    return CHORD_OK;
}

/* A 2-D matrix or a 1-D vector (ne1 = 0). */
static chord_status find_weight(chord_model *m, const char *name, int64_t ne0, int64_t ne1,
                                bool required, model_tensor *t, chord_err *err)
{
    return find_weight3(m, name, ne0, ne1, 1, required, t, err);
}

static const char *const layer_names[LT_COUNT] = {
    "attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight",
    "attn_qkv.weight", "attn_output.weight", "attn_q.bias", "attn_k.bias", "attn_v.bias",
    "attn_q_norm.weight", "attn_k_norm.weight", "post_attention_norm.weight",
    "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
    "post_ffw_norm.weight", "ffn_gate_inp.weight", "ffn_gate_exps.weight",
    "ffn_up_exps.weight", "ffn_down_exps.weight", "attn_output.bias", "attn_sinks.weight",
    "ffn_gate_inp.bias", "ffn_gate_exps.bias", "ffn_up_exps.bias", "ffn_down_exps.bias",
};

/* Layer tensor k's name within its block, as this family calls it. */
static const char *layer_name(const model_config *c, int k)
{
    if (k == LT_FFN_NORM && c->rc->ffn_norm)
        return c->rc->ffn_norm;
    return layer_names[k];
}

static const char *const glob_names[GT_COUNT] = {
    "token_embd.weight", "output_norm.weight", "output.weight", "rope_freqs.weight",
    "rope_factors_long.weight", "rope_factors_short.weight",
};

static chord_status read_weights(chord_model *m, chord_err *err)
{
    const model_config *c = &m->cfg;
    const model_recipe *rc = c->rc;
    const gguf_tensor *emb = gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!emb)
        return err_set(err, CHORD_E_FORMAT, "%s: missing tensor 'token_embd.weight'", m->path);
    m->cfg.n_vocab = (int)emb->ne[1];
    if (emb->ne[1] < 1 || emb->ne[1] > (1 << 30))
        return err_set(err, CHORD_E_FORMAT, "%s: tensor 'token_embd.weight' at offset %llu: bad vocabulary size %lld",
                       m->path, (unsigned long long)emb->offset, (long long)emb->ne[1]);
    int nv = c->n_vocab, ne = c->n_embd, nq = c->n_head * c->head_dim, nkv = c->n_head_kv * c->head_dim;
    TRY(find_weight(m, glob_names[GT_EMBD], ne, nv, true, &m->glob[GT_EMBD], err));
    TRY(find_weight(m, glob_names[GT_OUT_NORM], ne, 0, true, &m->glob[GT_OUT_NORM], err));
    TRY(find_weight(m, glob_names[GT_OUTPUT], ne, nv, false, &m->glob[GT_OUTPUT], err));
    for (int k = GT_ROPE_FREQS; k <= GT_ROPE_SHORT; k++)
        TRY(find_weight(m, glob_names[k], c->n_rot / 2, 0, false, &m->glob[k], err));

    m->layer = calloc((size_t)c->n_layer * LT_COUNT, sizeof *m->layer);
    if (!m->layer)
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory", m->path);
    for (size_t i = 0; i < (size_t)c->n_layer * LT_COUNT; i++)
        m->layer[i].slot = m->layer[i].part = -1;
    const int n_up = rc->fused_up ? 2 * c->n_ff : c->n_ff;
    const int64_t shape[LT_COUNT][2] = {
        [LT_ATTN_NORM] = {ne, 0}, [LT_Q] = {ne, nq}, [LT_K] = {ne, nkv}, [LT_V] = {ne, nkv},
        [LT_QKV] = {ne, nq + 2 * nkv}, [LT_O] = {nq, ne}, [LT_QB] = {nq, 0}, [LT_KB] = {nkv, 0},
        [LT_VB] = {nkv, 0}, [LT_Q_NORM] = {c->head_dim, 0}, [LT_K_NORM] = {c->head_dim, 0},
        [LT_ATTN_POST_NORM] = {ne, 0}, [LT_FFN_NORM] = {ne, 0}, [LT_GATE] = {ne, c->n_ff},
        [LT_UP] = {ne, n_up}, [LT_DOWN] = {c->n_ff, ne}, [LT_FFN_POST_NORM] = {ne, 0},
        [LT_GATE_INP] = {ne, c->n_expert}, [LT_GATE_EXPS] = {ne, c->n_ff_exp},
        [LT_UP_EXPS] = {ne, c->n_ff_exp}, [LT_DOWN_EXPS] = {c->n_ff_exp, ne},
        [LT_OB] = {ne, 0}, [LT_SINKS] = {c->n_head, 0}, [LT_GATE_INP_B] = {c->n_expert, 0},
        [LT_GATE_EXPS_B] = {c->n_ff_exp, c->n_expert}, [LT_UP_EXPS_B] = {c->n_ff_exp, c->n_expert},
        [LT_DOWN_EXPS_B] = {ne, c->n_expert},
    };
    /* Which tensors a layer must have follows from the recipe; q/k/v come
     * as three matrices or as one fused attn_qkv (phi3 files use both). */
    bool need[LT_COUNT] = {
        [LT_ATTN_NORM] = true, [LT_O] = true, [LT_FFN_NORM] = true,
        [LT_Q_NORM] = rc->qk_norm, [LT_K_NORM] = rc->qk_norm,
        [LT_ATTN_POST_NORM] = rc->post_norm, [LT_FFN_POST_NORM] = rc->post_norm,
    };
    for (int il = 0; il < c->n_layer; il++) {
        char name[96];
        snprintf(name, sizeof name, "blk.%d.%s", il, layer_names[LT_QKV]);
        bool fused = gguf_find_tensor(m->gguf, name) != NULL;
        need[LT_QKV] = fused;
        need[LT_Q] = need[LT_K] = need[LT_V] = !fused;
        /* A layer with a router is a mixture of experts (a model may mix
         * dense and MoE layers); else a dense gated FFN. */
        snprintf(name, sizeof name, "blk.%d.%s", il, layer_names[LT_GATE_INP]);
        bool moe = c->n_expert > 0 && gguf_find_tensor(m->gguf, name) != NULL;
        need[LT_GATE_INP] = need[LT_GATE_EXPS] = need[LT_UP_EXPS] = need[LT_DOWN_EXPS] = moe;
        need[LT_UP] = need[LT_DOWN] = !moe;
        need[LT_GATE] = !moe && !rc->fused_up;
        for (int k = 0; k < LT_COUNT; k++) {
            /* biases and sinks are taken where a file has them */
            bool optional = k == LT_QB || k == LT_KB || k == LT_VB || k == LT_OB || k == LT_SINKS ||
                            (moe && k >= LT_GATE_INP_B);
            if (!need[k] && !optional)
                continue; /* not part of this family's block: left out */
            snprintf(name, sizeof name, "blk.%d.%s", il, layer_name(c, k));
            bool exps = k == LT_GATE_EXPS || k == LT_UP_EXPS || k == LT_DOWN_EXPS;
            TRY(find_weight3(m, name, shape[k][0], shape[k][1], exps ? c->n_expert : 1, need[k],
                             &m->layer[(size_t)il * LT_COUNT + k], err));
            const model_tensor *t = &m->layer[(size_t)il * LT_COUNT + k];
            if (k == LT_SINKS && t->slot >= 0 && t->type != QT_F32)
                return err_set(err, CHORD_E_UNSUPPORTED, "%s: tensor '%s': sinks must be F32", m->path, name);
        }
    }
    return CHORD_OK;
}

/* Assigns lc slots and builds the groups: group 0 the global tensors, group
 * 1 + il every tensor of layer il, then opens the cache. */
static chord_status open_cache(chord_model *m, chord_err *err)
{
    const model_config *c = &m->cfg;
    int n_groups = c->n_layer + 1;
    lc_group *groups = calloc((size_t)n_groups, sizeof *groups);
    lc_extent *ext = calloc((size_t)n_groups * LT_COUNT, sizeof *ext);
    if (!groups || !ext) {
        free(groups);
        free(ext);
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory", m->path);
    }
    lc_extent *e = ext;
    groups[0].extents = e;
    for (int k = 0; k < GT_COUNT; k++) {
        if (m->glob[k].slot < 0)
            continue;
        const gguf_tensor *g = gguf_find_tensor(m->gguf, glob_names[k]);
        m->glob[k].slot = groups[0].n++;
        *e++ = (lc_extent){g->offset, g->nbytes, g->part};
    }
    /* A MoE layer's merged expert tensors go to the expert cache, one
     * slice per expert; its group keeps the dense part. */
    lc_expert_layer *xl = c->n_expert ? calloc((size_t)c->n_layer, sizeof *xl) : NULL;
    if (c->n_expert && !xl) {
        free(groups);
        free(ext);
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory", m->path);
    }
    static const int parts[LC_EXPERT_PARTS] = {LT_GATE_EXPS, LT_UP_EXPS, LT_DOWN_EXPS};
    for (int il = 0; il < c->n_layer; il++) {
        lc_group *gr = &groups[1 + il];
        gr->extents = e;
        for (int k = 0; k < LT_COUNT; k++) {
            model_tensor *t = &m->layer[(size_t)il * LT_COUNT + k];
            if (t->slot < 0)
                continue;
            char name[96];
            snprintf(name, sizeof name, "blk.%d.%s", il, layer_name(c, k));
            const gguf_tensor *g = gguf_find_tensor(m->gguf, name);
            int p = -1;
            for (int q = 0; q < LC_EXPERT_PARTS; q++)
                p = parts[q] == k ? q : p;
            if (p >= 0) {
                t->slot = -1;
                t->part = p;
                xl[il].n_parts = LC_EXPERT_PARTS;
                xl[il].offset[p] = g->offset;
                xl[il].file[p] = g->part;
                xl[il].stride[p] = (uint64_t)t->ne1 * t->row_bytes;
                continue;
            }
            t->slot = gr->n++;
            *e++ = (lc_extent){g->offset, g->nbytes, g->part};
        }
    }
    lc_experts xc = {
        .n_expert = c->n_expert, .n_used = c->n_expert_used, .layer = xl,
        .policy = m->params.expert_lru ? LC_EXPERT_LRU : LC_EXPERT_DECAYED,
    };
    lc_params lp = {
        .budget = m->params.mem_budget,
        .prefetch = m->params.prefetch >= 0 ? m->params.prefetch : 2,
        .direct_io = m->params.direct_io,
        .experts = xl ? &xc : NULL,
    };
    /* a split model's parts are the cache's files, in the tensors' numbering */
    const char **paths = malloc((size_t)m->gguf->n_parts * sizeof *paths);
    for (int i = 0; paths && i < m->gguf->n_parts; i++)
        paths[i] = m->gguf->parts[i].path;
    chord_status st = paths ? lc_open_files(m->gguf->n_parts, paths, n_groups, groups, &lp, &m->lc, err)
                            : err_set(err, CHORD_E_NOMEM, "%s: out of memory", m->path);
    free(paths);
    free(xl);
    free(groups);
    free(ext);
    return st;
}

/* Totals for chord_model_get_info: parameters, bytes, bytes read per token
 * (everything but the embedding table, of which one row is read, unless it
 * doubles as the output matrix) and the most common layer weight type. */
static void compute_totals(chord_model *m)
{
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        const gguf_tensor *t = &m->gguf->tensors[i];
        m->n_params += gguf_tensor_nelem(t);
        m->weight_bytes += (int64_t)t->nbytes;
    }
    const quant_traits *qt = quant_traits_of(gguf_main_type(m->gguf));
    snprintf(m->type_name, sizeof m->type_name, "%s", qt ? qt->name : "?");
    m->weight_bytes_per_token = m->weight_bytes;
    m->n_params_per_token = m->n_params;
    if (m->glob[GT_OUTPUT].slot >= 0) {
        const model_tensor *e = &m->glob[GT_EMBD];
        m->weight_bytes_per_token -= (int64_t)(e->row_bytes * (size_t)(e->ne1 - 1));
    }
    /* a token reads n_expert_used of a MoE layer's n_expert experts */
    const model_config *c = &m->cfg;
    for (int il = 0; c->n_expert && il < c->n_layer; il++)
        for (int k = LT_GATE_EXPS; k <= LT_DOWN_EXPS; k++) {
            const model_tensor *t = model_layer_tensor(m, il, k);
            if (t) {
                m->weight_bytes_per_token -= (int64_t)((uint64_t)t->ne1 * t->row_bytes *
                                                       (uint64_t)(c->n_expert - c->n_expert_used));
                m->n_params_per_token -= t->ne0 * t->ne1 * (int64_t)(c->n_expert - c->n_expert_used);
            }
        }
}

/* ------------------------------------------------------------------------
 * Load and free
 * ---------------------------------------------------------------------- */

chord_status chord_model_load(const char *path, const chord_model_params *params,
                              chord_model **out, chord_err *err)
{
    chord_init();
    *out = NULL;
    if (!path)
        return err_set(err, CHORD_E_INVALID, "no model path given");
    chord_model *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory", path);
    }
    pthread_mutex_init(&m->speed.mu, NULL);
    m->params = params ? *params : chord_model_default_params();
    chord_status st = gguf_open(path, &m->gguf, err);
    /* A vocabulary-only file may come from any architecture: only the
     * tokenizer is read from it. */
    if (st == CHORD_OK && !m->params.vocab_only)
        st = read_config(m, err);
    if (st == CHORD_OK)
        st = tok_load_gguf(m->gguf, &m->vocab, err);
    if (st == CHORD_OK && !m->params.vocab_only) {
        st = read_weights(m, err);
        /* Every token id the tokenizer can produce must have an embedding
         * row (more rows than tokens is fine: padded vocabularies). */
        if (st == CHORD_OK && tok_n_vocab(m->vocab) > m->cfg.n_vocab)
            st = err_set(err, CHORD_E_FORMAT,
                         "%s: tensor 'token_embd.weight' has %d rows but the tokenizer has %d tokens",
                         path, m->cfg.n_vocab, (int)tok_n_vocab(m->vocab));
        if (st == CHORD_OK)
            st = open_cache(m, err);
        if (st == CHORD_OK)
            compute_totals(m);
    }
    if (st != CHORD_OK) {
        chord_model_free(m);
        return st;
    }
    if (m->params.vocab_only)
        m->cfg.n_vocab = (int)tok_n_vocab(m->vocab);
    const char *name = gguf_get_str(m->gguf, "general.name");
    if (!name) {
        const char *slash = strrchr(path, '/');
        name = slash ? slash + 1 : path;
    }
    snprintf(m->name, sizeof m->name, "%s", name);
    *out = m;
    return CHORD_OK;
}

void chord_model_free(chord_model *m)
{
    if (!m)
        return;
    lc_close(m->lc);
    tok_vocab_free(m->vocab);
    gguf_close(m->gguf);
    pthread_mutex_destroy(&m->speed.mu);
    free(m->layer);
    free(m->path);
    free(m);
}

/* ------------------------------------------------------------------------
 * Queries
 * ---------------------------------------------------------------------- */

const struct tok_vocab *model_vocab(const chord_model *m)
{
    return m ? m->vocab : NULL;
}

const model_tensor *model_layer_tensor(const chord_model *m, int il, int k)
{
    const model_tensor *t = &m->layer[(size_t)il * LT_COUNT + k];
    return t->slot >= 0 || t->part >= 0 ? t : NULL;
}

void chord_model_get_info(const chord_model *m, chord_model_info *out)
{
    memset(out, 0, sizeof *out);
    if (!m)
        return;
    const model_config *c = &m->cfg;
    out->path = m->path;
    out->name = m->name;
    out->arch = gguf_get_str(m->gguf, "general.architecture");
    out->type_name = m->type_name;
    out->n_vocab = c->n_vocab;
    out->n_embd = c->n_embd;
    out->n_layer = c->n_layer;
    out->n_head = c->n_head;
    out->n_head_kv = c->n_head_kv;
    out->n_ff = c->n_ff;
    out->n_ctx_train = c->n_ctx_train;
    out->n_params = m->n_params;
    out->n_params_per_token = m->n_params_per_token;
    out->file_bytes = (int64_t)m->gguf->file_size;
    out->weight_bytes = m->weight_bytes;
    out->weight_bytes_per_token = m->weight_bytes_per_token;
}

const char *chord_model_plan(const chord_model *m)
{
    if (!m || !m->lc)
        return "vocabulary only: no weights loaded";
    return lc_plan(m->lc);
}

const char *chord_model_meta_str(const chord_model *m, const char *key)
{
    return m && key ? gguf_get_str(m->gguf, key) : NULL;
}

void chord_stats_get(const chord_model *m, chord_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!m)
        return;
    out->n_layer = m->cfg.n_layer;
    if (m->lc)
        lc_stats(m->lc, out);
    model_speed *sp = (model_speed *)&m->speed;
    pthread_mutex_lock(&sp->mu);
    out->n_prompt_tokens = sp->n_prompt_tokens;
    out->n_gen_tokens = sp->n_gen_tokens;
    out->prompt_ms = sp->prompt_ms;
    out->gen_ms = sp->gen_ms;
    out->ctx_used = sp->ctx_used;
    out->ctx_size = sp->ctx_size;
    pthread_mutex_unlock(&sp->mu);
}
