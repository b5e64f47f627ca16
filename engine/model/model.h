/*
 * model.h - the transformer's internals: hyperparameters, weight layout,
 * and what other engine modules may ask of a loaded model.
 *
 * Kept apart as in llama2.c: model_config (numbers read from the metadata),
 * the weight table (where each tensor sits in the layer cache), and the run
 * state of a context (model_ctx.c: activations and the KV cache).
 */
#ifndef CHORD_MODEL_H
#define CHORD_MODEL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "chord.h"
#include "gguf/gguf.h"
#include "kern/kern.h"
#include "lc/lc.h"

struct tok_vocab;

/* The gate activation of the FFN: silu(gate) * up or gelu(gate) * up. */
typedef enum model_act { MODEL_ACT_SILU, MODEL_ACT_GELU, MODEL_ACT_SWIGLU_OAI } model_act;

/* How a router's logits become expert weights: softmax over all experts,
 * the k most probable, renormalized (qwen3moe, mixtral); or the k largest
 * logits, softmax over those k (gpt-oss). */
typedef enum model_gating { MODEL_GATING_SOFTMAX, MODEL_GATING_SOFTMAX_TOPK } model_gating;

/* What differs between the families the one forward pass runs, as data:
 * one row per general.architecture in model_load.c's recipe table. A new
 * family is a new row (and the kernels it lacks), not a new pass. */
typedef struct model_recipe {
    const char *arch;       /* general.architecture */
    bool rope_neox;         /* rotate (i, i + n_rot/2) rather than (2i, 2i+1) */
    bool qk_norm;           /* RMS norm of each q and k head before RoPE */
    bool post_norm;         /* RMS norm of the attention and FFN outputs
                             * before their residual adds */
    bool embd_scale;        /* embeddings times sqrt(n_embd) */
    bool fused_up;          /* ffn_up holds the gate rows, then the up rows */
    model_act act;          /* gate activation (of the experts too) */
    model_gating gating;    /* MoE layers' expert weights */
    const char *ffn_norm;   /* the FFN's pre-norm tensor, if not ffn_norm
                             * (gpt-oss calls it post_attention_norm) */
    int swa_period;         /* default window pattern: of every swa_period
                             * layers all but the last are local (0: none) */
    bool swa_from_meta;     /* the window applies (phi3's key is ignored, as
                             * the reference does) */
    bool softcap;           /* attention and final logit soft-capping keys */
    bool attn_scale_rule;   /* gemma's query scale (see read_config) */
    bool swa_rope_global;   /* the local layers' RoPE base and scale default
                             * to the global ones (gemma2), not to 10000
                             * and 1 (gemma3) */
    bool q_prescale;        /* the query is scaled before attention (after
                             * RoPE), not the scores: as the reference's
                             * graphs for gemma and phi3 do, which rounds
                             * the scaled query to F16 */
} model_recipe;

typedef struct model_config {
    const model_recipe *rc;
    int n_vocab, n_embd, n_layer, n_ff;
    int n_head, n_head_kv;
    int head_dim;        /* key/query head size (attention.key_length) */
    int head_dim_v;      /* value head size (attention.value_length) */
    int n_rot;           /* rotated dimensions per head */
    int n_ctx_train;
    int n_ctx_orig;      /* rope.scaling.original_context_length (LongRoPE) */
    float eps;           /* RMSNorm epsilon */
    float rope_base;     /* rope.freq_base */
    float rope_base_swa; /* rope.freq_base_swa: the local layers' base */
    float rope_scale;    /* position multiplier (1 / linear scaling factor) */
    float rope_scale_swa; /* the same for the local layers (gemma3's global
                           * layers are stretched, its local ones not) */
    float rope_mscale;   /* rope.scaling.attn_factor: cos and sin times this
                          * (for YaRN: the reference's attention factor) */
    float rope_ext;      /* YaRN: 1 (rope.scaling.type yarn), else 0 */
    float yarn_beta_fast, yarn_beta_slow;
    float attn_scale;    /* score = q.k * attn_scale */
    float attn_softcap;  /* score = cap * tanh(score / cap); 0 = off */
    float final_softcap; /* the same on the logits */
    int n_swa;           /* sliding window (positions a local layer sees); 0 = none */
    int n_expert;        /* experts per MoE layer (expert_count; 0 = dense) */
    int n_expert_used;   /* experts each token runs (expert_used_count) */
    int n_ff_exp;        /* an expert's FFN width */
    bool swa[CHORD_MAX_LAYERS]; /* layer il is local (windowed) */
} model_config;

/* Tensors of a layer group, in their lc group order. Optional ones (biases)
 * may be absent; the recipe says which others a family has. */
enum {
    LT_ATTN_NORM, LT_Q, LT_K, LT_V, LT_QKV, LT_O, LT_QB, LT_KB, LT_VB,
    LT_Q_NORM, LT_K_NORM, LT_ATTN_POST_NORM,
    LT_FFN_NORM, LT_GATE, LT_UP, LT_DOWN, LT_FFN_POST_NORM,
    LT_GATE_INP, LT_GATE_EXPS, LT_UP_EXPS, LT_DOWN_EXPS,
    LT_OB, LT_SINKS, LT_GATE_INP_B, LT_GATE_EXPS_B, LT_UP_EXPS_B, LT_DOWN_EXPS_B, LT_COUNT
};
/* Tensors of the global group (group 0). */
enum { GT_EMBD, GT_OUT_NORM, GT_OUTPUT, GT_ROPE_FREQS, GT_ROPE_LONG, GT_ROPE_SHORT, GT_COUNT };

/* Where one tensor is: its slot k in its lc group (-1 if absent) and shape. */
typedef struct model_tensor {
    int slot;
    int part;                  /* an expert tensor: its part in the expert
                                * cache (0 gate, 1 up, 2 down), else -1 */
    int type;
    int64_t ne0, ne1;
    int64_t ne2;               /* matrices (experts) of a merged 3-D tensor, else 1 */
    size_t row_bytes;
} model_tensor;

/* Speed counters, shared with chord_stats_get (any thread). */
typedef struct model_speed {
    pthread_mutex_t mu;
    uint64_t n_prompt_tokens, n_gen_tokens;
    double prompt_ms, gen_ms;
    int ctx_used, ctx_size;
} model_speed;

struct chord_model {
    char *path;
    gguf_file *gguf;
    chord_model_params params;
    model_config cfg;
    model_tensor glob[GT_COUNT];
    model_tensor *layer;        /* n_layer x LT_COUNT */
    lc_cache *lc;               /* NULL when vocab_only */
    struct tok_vocab *vocab;
    model_speed speed;
    char name[256];
    char type_name[16];
    int64_t n_params, n_params_per_token, weight_bytes, weight_bytes_per_token;
};

/* Run state of a context (llama2.c's RunState): activation buffers for up
 * to n_batch tokens and the KV cache, all allocated by chord_ctx_new. */
struct chord_ctx {
    chord_model *m;
    int n_ctx, n_batch, n_threads;
    int pos;                   /* tokens in the cache */
    int rope_off;              /* RoPE turns cache position p as p + rope_off
                                * (0 but for the test hook pos_offset) */
    int ring_lo;               /* positions ring_lo..pos-1 are all still in
                                * the local layers' rings (the earlier ones
                                * were overwritten or moved out) */
    _Atomic int cancel;
    struct pool *pool;
    struct kern_ws *ws;
    float *x;                  /* n_batch x n_embd: the residual stream */
    float *xb;                 /* n_batch x n_embd: normed input / block output */
    float *q;                  /* n_batch x n_head*head_dim */
    float *k, *v;              /* n_batch x n_head_kv*head_dim */
    float *att;                /* n_batch x n_head*head_dim: attention output */
    float *hb, *hb2;           /* n_batch x n_ff: gate, up (a fused ffn_up
                                * fills hb with 2 x n_ff per token) */
    float *qkv;                /* n_batch x (nq + 2 nkv): a fused attn_qkv's output, or NULL */
    uint16_t *attn_tmp;        /* n_threads x attn_tmp_halves: kern_attn_head's tmp */
    size_t attn_tmp_halves;
    bool attn_unfused;         /* the reference's unfused attention numerics
                                * (chord_ctx_params.flash_attn off) */
    int attn_tb;               /* batched attention: tokens per query block, 0 = per head */
    size_t attn_ws_floats;     /* one thread's share of attn_ws (a multiple of 16) */
    float *attn_ws;            /* n_threads x attn_ws_floats, 64-byte aligned */
    float *vec;                /* max(n_embd, n_head*head_dim): a norm weight or bias */
    float theta_scale;         /* RoPE: rope_base^(-2/n_rot) */
    float theta_scale_swa;     /* the same for the local layers' base */
    float rope_corr[2], rope_corr_swa[2]; /* YaRN's ramp, by base */
    float *freq_div;           /* RoPE: per-pair divisors (rope_freqs, or
                                * LongRoPE's long or short factors), or NULL */
    /* MoE layers (NULL for dense models): per token the router's
     * probabilities (n_expert), the chosen experts and their weights
     * (n_expert_used each, best first); an expert's tokens gathered into
     * moe_x, and each (token, choice)'s weighted expert output in moe_y
     * (n_batch x n_expert_used x n_embd), summed in choice order. */
    float *moe_probs, *moe_w, *moe_x, *moe_y;
    int *moe_sel, *moe_tok;
    int *moe_ids, *moe_cnt;    /* n_expert each: a pass's experts, counts */
    const void *(*moe_parts)[LC_EXPERT_PARTS]; /* n_expert: their addresses */
    /* The KV cache, head by head: layer il's K cache starts at kv_off[il]
     * (V: kv_offv[il]) in 16-bit units of kcache (vcache) and holds its
     * KV heads one after the other, each a run of rows, one a position,
     * kv_ldk (kv_ldv) units each: head_dim values of type kv_tk (kv_tv):
     * QT_F16, or QT_Q8_0 / QT_Q4_0 blocks of 32 (an even number of
     * bytes). Attention over one head then streams one contiguous run of
     * memory, which the hardware prefetchers follow; with the heads of a
     * position side by side it would take a slice of every few cache
     * lines. A local layer whose window is shorter than the context keeps
     * a ring of kv_ring[il] rows a head (position p in row p % kv_ring);
     * other layers hold every position (kv_ring 0): model_kv_head. */
    uint16_t *kcache, *vcache;
    size_t kv_off[CHORD_MAX_LAYERS];
    int kv_ring[CHORD_MAX_LAYERS];
    size_t kv_bytes;           /* both caches */
    int kv_tk, kv_tv;
    size_t kv_offv[CHORD_MAX_LAYERS];
    size_t kv_ldk, kv_ldv;
    size_t attnq_tmp_bytes;    /* one thread's share of attnq_tmp */
    int attnq_tb;              /* tokens a quantized-cache prefill item takes */
    uint8_t *attnq_tmp;        /* kern_attnq's tmp, n_threads x, 64-aligned */
    char kv_desc[256];         /* what the KV cache holds (for -v) */
    char ctx_note[256];        /* how a default n_ctx was chosen, else "" */
    bool ctx_capped;           /* ... shorter than the model's, for memory */
};

/* Layer il's rows of KV head g in the K (which 0) or V (1) cache, kv_ldk
 * (kv_ldv) units apart (the kernels take this and the stride). */
static inline uint16_t *model_kv_head(const chord_ctx *c, int which, int il, int g)
{
    size_t rows = (size_t)(c->kv_ring[il] ? c->kv_ring[il] : c->n_ctx);
    if (which)
        return c->vcache + c->kv_offv[il] + (size_t)g * rows * c->kv_ldv;
    return c->kcache + c->kv_off[il] + (size_t)g * rows * c->kv_ldk;
}

/* Position p's row of that head: row p % ring of a ring, else row p. */
static inline uint16_t *model_kv_row(const chord_ctx *c, int which, int il, int g, int p)
{
    size_t row = (size_t)(c->kv_ring[il] ? p % c->kv_ring[il] : p);
    return model_kv_head(c, which, il, g) + row * (which ? c->kv_ldv : c->kv_ldk);
}

/* The KV cache a row at a time (model_ctx.c), for saving and loading it
 * (model_kvfile.c) whatever the layout: which is 0 for K, 1 for V; a row
 * is one position of one layer (its heads one after the other),
 * model_ctx_kv_row_bytes long, of GGUF type model_ctx_kv_type. A layer with a ring (model_ctx_kv_ring > 0 rows)
 * holds only the last ring positions; model_ctx_kv_ring_lo is the first
 * position every ring still holds. model_ctx_kv_restore sets the cache's
 * length and that bound after rows were put. */
int model_ctx_kv_type(const chord_ctx *c, int which);
size_t model_ctx_kv_row_bytes(const chord_ctx *c, int which);
int model_ctx_kv_ring(const chord_ctx *c, int il);
int model_ctx_kv_ring_lo(const chord_ctx *c);
void model_ctx_kv_get(const chord_ctx *c, int il, int which, int pos, void *dst);
void model_ctx_kv_put(chord_ctx *c, int il, int which, int pos, const void *src);
void model_ctx_kv_restore(chord_ctx *c, int pos, int ring_lo);

/* Runs the transformer over n (<= n_batch) tokens at positions c->pos ..
 * c->pos + n - 1, filling the KV cache there (c->pos is left to the
 * caller). logits: NULL, or n x n_vocab (all) or n_vocab (last token). */
chord_status model_forward(chord_ctx *c, const chord_token *tokens, int n,
                           float *logits, bool all, chord_err *err);

/* Shared by the forward pass's files (model_forward.c, model_moe.c): the
 * kern view of weight t of acquired group g; y (n rows of w's n_out) =
 * x * W^T plus bias b if present; the MoE FFN of n normed rows (c->xb)
 * into out (CHORD_E_IO if an expert could not be read). */
struct kern_mat;
struct kern_mat model_weight(const chord_model *m, int g, const model_tensor *t);
void model_project(chord_ctx *c, int g, const model_tensor *w, const model_tensor *b,
                   const float *x, int n, float *y);
chord_status model_moe_ffn(chord_ctx *c, int g, int il, int n, float *out, chord_err *err);
/* Hints layer il's likely experts from the current FFN input (model_moe.c). */
void model_moe_predict(chord_ctx *c, int il, int n);

/* Layer il's RoPE parameters (model_forward.c): what the forward pass
 * turns its q and k with, and the shift turns cached keys with. */
kern_rope_params model_rope_params(const chord_ctx *c, int il);

/* Turns every cached key by delta positions in every layer (a pure
 * rotation, no magnitude factor) and moves the context's RoPE origin with
 * them: a context made with pos_offset D and rebased by -D holds what
 * prefilling its tokens from position 0 gives (model_shift.c; for tests). */
chord_status model_ctx_rebase(chord_ctx *c, int delta, chord_err *err);

/* The tokenizer's vocabulary of a loaded model (for engine/tok's wrappers). */
const struct tok_vocab *model_vocab(const chord_model *m);

/* Tensor k (LT_*) of layer il, or NULL if the model lacks it. The layer's
 * group (1 + il) must be acquired. */
const model_tensor *model_layer_tensor(const chord_model *m, int il, int k);

#endif
