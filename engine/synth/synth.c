/*
 * synth.c - chord_synth: a random-weight model of a given shape and type.
 *
 * Weights are uniform random, scaled by 1/sqrt(fan-in) so activations keep
 * unit size through the layers, with RMS-norm weights near 1 and an output
 * matrix scaled for logits of a few units: a model whose logits are spread
 * and whose argmax is decisive, like a trained one, so tests built on it
 * can tell right from wrong arithmetic. The families (llama, qwen2, qwen3,
 * gemma2, gemma3, phi3) differ in the tensors of a block and in their
 * metadata keys (the table below); their shapes come from the caller. With
 * p->fast, block-quantized
 * tensors are filled from a per-tensor pool of quantized blocks (see
 * write_tensor_fast): the way to make models of tens of GB.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "quant/quant.h"
#include "synth/synth.h"

/* What a family's file holds beyond llama's block, and its metadata
 * defaults (those of its released models: Qwen3, Gemma 2 9B, Gemma 3 1B,
 * Phi-3-mini-128k). Each row matches what the loader's recipe of the same
 * name reads (engine/model/model_load.c). */
typedef struct syn_family {
    const char *arch;
    bool qkv_bias;       /* attn_q/k/v.bias (qwen2) */
    bool qk_norm;        /* attn_q_norm/attn_k_norm, one head wide */
    bool post_norm;      /* post_attention_norm, post_ffw_norm */
    bool tied;           /* no output.weight: the embedding is the output */
    bool fused;          /* attn_qkv and a double-height ffn_up, no gate;
                          * LongRoPE factors */
    bool head_keys;      /* always writes attention.key_length/value_length */
    bool rot_key;        /* writes rope.dimension_count */
    int ctx;             /* default context_length */
    float eps, rope_base;
    float rope_base_swa; /* local layers' base, 0 = none */
    int window;          /* default sliding window, 0 = none */
    float attn_cap, final_cap; /* soft-capping keys, 0 = none */
} syn_family;

static const syn_family families[] = {
    {.arch = "llama", .rot_key = true, .ctx = 4096, .eps = 1e-5f, .rope_base = 1e4f},
    {.arch = "qwen2", .qkv_bias = true, .rot_key = true, .ctx = 4096, .eps = 1e-6f,
     .rope_base = 1e6f},
    {.arch = "qwen3", .qk_norm = true, .head_keys = true, .ctx = 40960, .eps = 1e-6f,
     .rope_base = 1e6f},
    /* gemma2's files leave rope.freq_base out (the reader's 1e4 applies) */
    {.arch = "gemma2", .post_norm = true, .tied = true, .head_keys = true, .ctx = 8192,
     .eps = 1e-6f, .window = 4096, .attn_cap = 50, .final_cap = 30},
    {.arch = "gemma3", .qk_norm = true, .post_norm = true, .tied = true, .head_keys = true,
     .ctx = 32768, .eps = 1e-6f, .rope_base = 1e6f, .rope_base_swa = 1e4f, .window = 512},
    {.arch = "phi3", .fused = true, .rot_key = true, .ctx = 131072, .eps = 1e-5f,
     .rope_base = 1e4f},
};

static const syn_family *family_of(const char *arch)
{
    for (size_t i = 0; arch && i < sizeof families / sizeof *families; i++)
        if (!strcmp(arch, families[i].arch))
            return &families[i];
    return NULL;
}

/* phi3's LongRoPE: the context its rotation was trained at, below the
 * context_length it was stretched to (Phi-3-mini-128k: 4096). */
#define PHI3_ORIG_CTX 4096

typedef enum syn_fill {
    FILL_RANDOM,     /* center + scale * uniform(-1, 1) */
    FILL_ROPE_LONG,  /* LongRoPE divisors (see fill_rope) */
    FILL_ROPE_SHORT,
} syn_fill;

typedef struct syn_tensor {
    char name[64];
    int n_dims;
    int64_t ne0, ne1;
    int type;
    float center, scale;  /* values are center + scale * uniform(-1, 1) */
    syn_fill fill;
} syn_tensor;

/* LongRoPE's per-pair frequency divisors, rising from 1 at the fastest
 * pair: the long set geometrically up to 2 x the stretch (ctx / orig), as
 * Phi-3-128k's run from 1.08 to 64.8 for a stretch of 32; the short set
 * linearly from 1 to 2, as its do from 1.05 to 2.1. Smooth, not random:
 * random divisors would scramble the positions. */
static void fill_rope(const syn_tensor *t, float *f, float stretch)
{
    for (int64_t i = 0; i < t->ne0; i++) {
        float x = t->ne0 > 1 ? (float)i / (float)(t->ne0 - 1) : 0.0f;
        f[i] = t->fill == FILL_ROPE_LONG ? powf(2.0f * stretch, x) : 1.0f + x;
    }
}

/* Writes one tensor: rows generated, quantized and written a chunk at a
 * time (about 1 MiB of floats), never the whole tensor. */
static chord_status write_tensor(gguf_writer *w, const syn_tensor *t, uint64_t seed,
                                 float stretch, chord_err *err)
{
    size_t rb = quant_row_bytes(t->type, t->ne0);
    int64_t chunk = (int64_t)((1u << 20) / ((size_t)t->ne0 * sizeof(float)));
    if (chunk < 1)
        chunk = 1;
    if (chunk > t->ne1)
        chunk = t->ne1;
    float *f = malloc((size_t)chunk * (size_t)t->ne0 * sizeof *f);
    uint8_t *q = malloc((size_t)chunk * rb);
    if (!f || !q || !rb) {
        free(f);
        free(q);
        return err_set(err, CHORD_E_NOMEM, "tensor '%s': out of memory for %lld rows",
                       t->name, (long long)chunk);
    }
    uint64_t state = synth_seed_for(seed, t->name);
    chord_status st = CHORD_OK;
    for (int64_t r = 0; r < t->ne1 && st == CHORD_OK; r += chunk) {
        int64_t nr = t->ne1 - r < chunk ? t->ne1 - r : chunk;
        if (t->fill != FILL_RANDOM)
            fill_rope(t, f, stretch); /* a vector: one row */
        else
            for (int64_t i = 0; i < nr * t->ne0; i++)
                f[i] = t->center + t->scale * synth_uniform(&state);
        for (int64_t i = 0; i < nr; i++)
            quant_quantize_row(t->type, f + i * t->ne0, q + (size_t)i * rb, t->ne0);
        st = gguf_writer_write(w, q, (size_t)nr * rb, err);
    }
    free(f);
    free(q);
    return st;
}

/* Blocks in the fast path's pool: enough that a row almost never repeats a
 * pair of neighbouring blocks, small enough to quantize in a few ms. */
#define FAST_POOL_BLOCKS 4096
/* Bytes the fast path assembles per write. */
#define FAST_CHUNK (4u << 20)

/* The fast path (p->fast) for block-quantized types: quantizing a 30 GB
 * model through the k-quant search runs for hours on two cores, so instead
 * each tensor quantizes a pool of FAST_POOL_BLOCKS random blocks once, with
 * the real quantizer and the tensor's own value distribution, and then
 * fills its rows with blocks drawn at random from that pool. Every block of
 * these formats carries its own scales, so any block is valid anywhere:
 * the file is a valid model of the same weight statistics (finite scales,
 * activations as spread as the slow path's), deterministic from the seed,
 * written at memcpy speed with memory bounded by the pool and one chunk. */
static chord_status write_tensor_fast(gguf_writer *w, const syn_tensor *t, uint64_t seed,
                                      chord_err *err)
{
    const quant_traits *qt = quant_traits_of(t->type);
    size_t bb = (size_t)qt->bytes;
    uint64_t n_blocks = (uint64_t)t->ne0 / (uint64_t)qt->block * (uint64_t)t->ne1;
    size_t pool_n = n_blocks < FAST_POOL_BLOCKS ? (size_t)n_blocks : FAST_POOL_BLOCKS;
    size_t out_n = FAST_CHUNK / bb;
    float *f = malloc(pool_n * (size_t)qt->block * sizeof *f);
    uint8_t *pool = malloc(pool_n * bb);
    uint8_t *out = malloc(out_n * bb);
    if (!f || !pool || !out) {
        free(f);
        free(pool);
        free(out);
        return err_set(err, CHORD_E_NOMEM, "tensor '%s': out of memory for the fast synth pool",
                       t->name);
    }
    uint64_t state = synth_seed_for(seed, t->name);
    for (size_t i = 0; i < pool_n * (size_t)qt->block; i++)
        f[i] = t->center + t->scale * synth_uniform(&state);
    quant_quantize_row(t->type, f, pool, (int64_t)(pool_n * (size_t)qt->block));
    free(f);
    chord_status st = CHORD_OK;
    for (uint64_t b = 0; b < n_blocks && st == CHORD_OK;) {
        size_t n = n_blocks - b < out_n ? (size_t)(n_blocks - b) : out_n;
        for (size_t i = 0; i < n; i++) {
            /* splitmix64 step; the top bits pick the block */
            uint64_t z = (state += 0x9e3779b97f4a7c15ull);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            z ^= z >> 31;
            memcpy(out + i * bb, pool + (size_t)((z >> 32) % pool_n) * bb, bb);
        }
        st = gguf_writer_write(w, out, n * bb, err);
        b += n;
    }
    free(pool);
    free(out);
    return st;
}

/* The head size: --head-dim, else dim / heads. */
static int head_dim_of(const chord_synth_params *p)
{
    return p->head_dim ? p->head_dim : p->heads > 0 ? p->dim / p->heads : 0;
}

static chord_status check_shape(const chord_synth_params *p, chord_err *err)
{
    const syn_family *fam = family_of(p->arch);
    if (!fam)
        return err_set(err, CHORD_E_INVALID,
                       "architecture '%s' is not supported (llama, qwen2, qwen3, gemma2, gemma3, phi3)",
                       p->arch ? p->arch : "");
    if (p->dim < 2 || p->dim > (1 << 16) || p->layers < 1 || p->layers > CHORD_MAX_LAYERS ||
        p->heads < 1 || p->kv_heads < 1 || p->ffn < 1 || p->ffn > (1 << 18))
        return err_set(err, CHORD_E_INVALID,
                       "bad shape: dim %d, layers %d (1 to %d), heads %d, kv-heads %d, ffn %d",
                       p->dim, p->layers, CHORD_MAX_LAYERS, p->heads, p->kv_heads, p->ffn);
    if (p->head_dim < 0 || p->head_dim > 1024 || p->head_dim % 2)
        return err_set(err, CHORD_E_INVALID, "head size %d must be even, from 2 to 1024", p->head_dim);
    if (!p->head_dim && (p->dim % p->heads || (p->dim / p->heads) % 2))
        return err_set(err, CHORD_E_INVALID, "dim %d must be a multiple of heads %d with an even head size",
                       p->dim, p->heads);
    if ((int64_t)p->heads * head_dim_of(p) > (1 << 16))
        return err_set(err, CHORD_E_INVALID, "heads %d x head size %d is too wide", p->heads,
                       head_dim_of(p));
    if (p->heads % p->kv_heads)
        return err_set(err, CHORD_E_INVALID, "kv-heads %d must divide heads %d", p->kv_heads, p->heads);
    if (p->ctx_len < 0)
        return err_set(err, CHORD_E_INVALID, "bad context length %d", p->ctx_len);
    if (p->window < 0 || (p->window && !fam->window))
        return err_set(err, CHORD_E_INVALID, "a sliding window (%d) applies to gemma2 and gemma3 only",
                       p->window);
    return CHORD_OK;
}

static void add(syn_tensor *x, const char *name, int n_dims, int64_t ne0, int64_t ne1,
                float center, float scale, const synth_ftype *ft, int layer, int n_layer)
{
    snprintf(x->name, sizeof x->name, "%s", name);
    x->n_dims = n_dims;
    x->ne0 = ne0;
    x->ne1 = ne1;
    x->center = center;
    x->scale = scale;
    x->type = synth_tensor_type(ft, name, n_dims, ne0, layer, n_layer);
}

/* The tensor list of the model, in file order: global tensors first, then
 * each layer's tensors together (what the layer cache reads as a group). */
static syn_tensor *plan_tensors(const chord_synth_params *p, const syn_family *fam,
                                const synth_ftype *ft, int n_vocab, int *count)
{
    int per_layer = 17; /* at most: every kind of layer tensor */
    syn_tensor *t = calloc(5 + (size_t)p->layers * (size_t)per_layer, sizeof *t);
    if (!t)
        return NULL;
    int n = 0;
    int hd = head_dim_of(p);
    int64_t d = p->dim, nq = (int64_t)hd * p->heads, kv = (int64_t)hd * p->kv_heads;
    float unit = sqrtf(3.0f); /* uniform(-a, a) has deviation a / sqrt(3) */
    /* ADD(layer, dims, ne0, ne1, center, scale) after formatting nm */
#define ADD(il, nd, e0, e1, c, s) add(&t[n++], nm, nd, e0, e1, c, s, ft, il, p->layers)
    char nm[64];
    snprintf(nm, sizeof nm, "token_embd.weight");
    if (fam->tied) {
        /* The embedding is the output matrix too, scaled for logits of
         * deviation about 3 (as below); gemma's forward pass multiplies
         * the embeddings by sqrt(dim), which brings them back to 3. It
         * gets the output's type, as llama.cpp gives tied embeddings. */
        ADD(-1, 2, d, n_vocab, 0.0f, 3.0f * unit / sqrtf((float)d));
        t[n - 1].type = synth_tensor_type(ft, "output.weight", 2, d, -1, p->layers);
    } else {
        ADD(-1, 2, d, n_vocab, 0.0f, unit);
    }
    snprintf(nm, sizeof nm, "output_norm.weight");
    ADD(-1, 1, d, 1, 1.0f, 0.1f);
    if (!fam->tied) {
        /* logits of deviation about 3: spread, with a clear winner */
        snprintf(nm, sizeof nm, "output.weight");
        ADD(-1, 2, d, n_vocab, 0.0f, 3.0f * unit / sqrtf((float)d));
    }
    if (fam->fused) {
        snprintf(nm, sizeof nm, "rope_factors_long.weight");
        ADD(-1, 1, hd / 2, 1, 0.0f, 0.0f);
        t[n - 1].fill = FILL_ROPE_LONG;
        snprintf(nm, sizeof nm, "rope_factors_short.weight");
        ADD(-1, 1, hd / 2, 1, 0.0f, 0.0f);
        t[n - 1].fill = FILL_ROPE_SHORT;
    }
    /* Norm weights sit near 1 in every family: gemma's files store its
     * norms' (1 + w) already added, as its converters write them. */
    float in_d = unit / sqrtf((float)d), in_q = unit / sqrtf((float)nq);
    float in_f = unit / sqrtf((float)p->ffn);
    for (int il = 0; il < p->layers; il++) {
#define L(suffix) snprintf(nm, sizeof nm, "blk.%d." suffix, il)
        L("attn_norm.weight"); ADD(il, 1, d, 1, 1.0f, 0.1f);
        if (fam->fused) {
            /* rows: q, then k, then v */
            L("attn_qkv.weight"); ADD(il, 2, d, nq + 2 * kv, 0.0f, in_d);
        } else {
            L("attn_q.weight"); ADD(il, 2, d, nq, 0.0f, in_d);
            L("attn_k.weight"); ADD(il, 2, d, kv, 0.0f, in_d);
            L("attn_v.weight"); ADD(il, 2, d, kv, 0.0f, in_d);
        }
        if (fam->qkv_bias) {
            L("attn_q.bias"); ADD(il, 1, nq, 1, 0.0f, 0.05f);
            L("attn_k.bias"); ADD(il, 1, kv, 1, 0.0f, 0.05f);
            L("attn_v.bias"); ADD(il, 1, kv, 1, 0.0f, 0.05f);
        }
        if (fam->qk_norm) {
            L("attn_q_norm.weight"); ADD(il, 1, hd, 1, 1.0f, 0.1f);
            L("attn_k_norm.weight"); ADD(il, 1, hd, 1, 1.0f, 0.1f);
        }
        L("attn_output.weight"); ADD(il, 2, nq, d, 0.0f, in_q);
        if (fam->post_norm) {
            L("post_attention_norm.weight"); ADD(il, 1, d, 1, 1.0f, 0.1f);
        }
        L("ffn_norm.weight"); ADD(il, 1, d, 1, 1.0f, 0.1f);
        if (fam->fused) {
            /* rows: the gate's, then the up projection's */
            L("ffn_up.weight"); ADD(il, 2, d, 2 * (int64_t)p->ffn, 0.0f, in_d);
        } else {
            L("ffn_gate.weight"); ADD(il, 2, d, p->ffn, 0.0f, in_d);
            L("ffn_up.weight"); ADD(il, 2, d, p->ffn, 0.0f, in_d);
        }
        L("ffn_down.weight"); ADD(il, 2, p->ffn, d, 0.0f, in_f);
        if (fam->post_norm) {
            L("post_ffw_norm.weight"); ADD(il, 1, d, 1, 1.0f, 0.1f);
        }
#undef L
    }
#undef ADD
    *count = n;
    return t;
}

chord_status chord_synth(const chord_synth_params *p, const char *out_path, chord_err *err)
{
    chord_init();
    if (!p || !out_path)
        return err_set(err, CHORD_E_INVALID, "chord_synth: no parameters or output path");
    synth_ftype ft;
    chord_status st = check_shape(p, err);
    if (st == CHORD_OK)
        st = synth_parse_ftype(p->type, &ft, err);
    if (st != CHORD_OK)
        return st;
    const syn_family *fam = family_of(p->arch);

    gguf_writer *w = NULL;
    if ((st = gguf_writer_open(out_path, &w, err)) != CHORD_OK)
        return st;
    const char *a = p->arch;
    char key[128], name[128];
    gguf_writer_kv_str(w, "general.architecture", a);
    snprintf(name, sizeof name, "synth-%s-%dx%d-%s", a, p->dim, p->layers, ft.name);
    gguf_writer_kv_str(w, "general.name", name);
    if (synth_ftype_id(&ft) >= 0)
        gguf_writer_kv_u32(w, "general.file_type", (uint32_t)synth_ftype_id(&ft));
#define KV_U32(suffix, v) do { snprintf(key, sizeof key, "%s." suffix, a); \
                               gguf_writer_kv_u32(w, key, (uint32_t)(v)); } while (0)
#define KV_F32(suffix, v) do { snprintf(key, sizeof key, "%s." suffix, a); \
                               gguf_writer_kv_f32(w, key, (float)(v)); } while (0)
    int ctx = p->ctx_len ? p->ctx_len : fam->ctx;
    int hd = head_dim_of(p);
    KV_U32("context_length", ctx);
    KV_U32("embedding_length", p->dim);
    KV_U32("block_count", p->layers);
    KV_U32("feed_forward_length", p->ffn);
    KV_U32("attention.head_count", p->heads);
    KV_U32("attention.head_count_kv", p->kv_heads);
    if (fam->rot_key)
        KV_U32("rope.dimension_count", hd);
    KV_F32("attention.layer_norm_rms_epsilon", fam->eps);
    if (fam->rope_base > 0)
        KV_F32("rope.freq_base", fam->rope_base);
    /* the head size is a key of its own where heads x head size may differ
     * from the width (and wherever it does) */
    if (fam->head_keys || hd * p->heads != p->dim) {
        KV_U32("attention.key_length", hd);
        KV_U32("attention.value_length", hd);
    }
    if (fam->rope_base_swa > 0)
        KV_F32("rope.freq_base_swa", fam->rope_base_swa);
    if (fam->window)
        KV_U32("attention.sliding_window", p->window ? p->window : fam->window);
    if (fam->attn_cap > 0) {
        KV_F32("attn_logit_softcapping", fam->attn_cap);
        KV_F32("final_logit_softcapping", fam->final_cap);
    }
    float stretch = 1.0f;
    if (fam->fused) {
        /* LongRoPE: trained at PHI3_ORIG_CTX (or the whole context, if
         * shorter), stretched to ctx; cos and sin scaled by the reference
         * converter's factor sqrt(1 + ln(stretch) / ln(orig)). The window
         * key is written as Phi-3-128k's config has it (twice the context:
         * none in effect); readers ignore it. */
        int orig = ctx < PHI3_ORIG_CTX ? ctx : PHI3_ORIG_CTX;
        stretch = (float)ctx / (float)orig;
        double mscale = stretch > 1.0f ? sqrt(1.0 + log((double)ctx / orig) / log((double)orig)) : 1.0;
        KV_U32("rope.scaling.original_context_length", orig);
        KV_F32("rope.scaling.attn_factor", mscale);
        KV_U32("attention.sliding_window", 2u * (uint32_t)ctx);
    }
#undef KV_U32
#undef KV_F32
    int n_vocab = 0, n_t = 0;
    if ((st = synth_vocab(w, p, &n_vocab, err)) != CHORD_OK) {
        gguf_writer_abort(w);
        return st;
    }
    syn_tensor *t = plan_tensors(p, fam, &ft, n_vocab, &n_t);
    if (!t) {
        gguf_writer_abort(w);
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory", out_path);
    }
    for (int i = 0; i < n_t; i++)
        gguf_writer_tensor(w, t[i].name, t[i].type, t[i].n_dims, (int64_t[2]){t[i].ne0, t[i].ne1});
    st = gguf_writer_begin_data(w, err);
    for (int i = 0; i < n_t && st == CHORD_OK; i++) {
        const quant_traits *qt = quant_traits_of(t[i].type);
        /* float types convert at memory speed already */
        if (p->fast && qt && qt->block >= 32)
            st = write_tensor_fast(w, &t[i], p->seed, err);
        else
            st = write_tensor(w, &t[i], p->seed, stretch, err);
    }
    free(t);
    if (st != CHORD_OK) {
        gguf_writer_abort(w);
        return st;
    }
    return gguf_writer_close(w, err);
}
