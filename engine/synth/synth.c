/*
 * synth.c - chord_synth: a random-weight model of a given shape and type.
 *
 * Weights are uniform random, scaled by 1/sqrt(fan-in) so activations keep
 * unit size through the layers, with RMS-norm weights near 1 and an output
 * matrix scaled for logits of a few units: a model whose logits are spread
 * and whose argmax is decisive, like a trained one, so tests built on it
 * can tell right from wrong arithmetic. The families (llama, qwen2, qwen3,
 * gemma2, gemma3, phi3) differ in the tensors of a block and in their
 * metadata keys (the table below); their shapes come from the caller.
 * Mixtures of experts (qwen3moe, gpt-oss, llama with --experts: Mixtral's
 * layout) replace the FFN by a router and merged 3-D expert tensors; the
 * router may be skewed (synth_router.c). With p->fast, block-quantized
 * tensors are filled from a per-tensor pool of quantized blocks (see
 * write_tensor_fast): the way to make models of tens of GB, and the only
 * way to make them in the read-only i-quants (random_pool).
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "quant/quant.h"
#include "quant/quant_impl.h"
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
    bool moe;            /* a mixture of experts only (needs --experts) */
    bool moe_ok;         /* takes --experts (Mixtral: llama's layout) */
    bool oai;            /* gpt-oss: attn_output.bias, attention sinks,
                          * router and expert biases, post_attention_norm as
                          * the FFN's norm, YaRN keys */
} syn_family;

static const syn_family families[] = {
    {.arch = "llama", .rot_key = true, .ctx = 4096, .eps = 1e-5f, .rope_base = 1e4f,
     .moe_ok = true},
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
    /* Qwen3-30B-A3B's; gpt-oss-20b's (a window of 128 on every other layer,
     * YaRN from 4096 to 131072) */
    {.arch = "qwen3moe", .qk_norm = true, .head_keys = true, .ctx = 40960, .eps = 1e-6f,
     .rope_base = 1e6f, .moe = true, .moe_ok = true},
    {.arch = "gpt-oss", .qkv_bias = true, .head_keys = true, .ctx = 131072, .eps = 1e-5f,
     .rope_base = 150000.0f, .window = 128, .moe = true, .moe_ok = true, .oai = true},
};

/* Mixtral's base (its files carry 1e6 where dense llama's carry 1e4) */
#define MIXTRAL_ROPE_BASE 1e6f
/* gpt-oss: the context its YaRN rotation was trained at */
#define OAI_ORIG_CTX 4096

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
    FILL_VALUES,     /* a vector copied from values */
    FILL_ROPE_LONG,  /* LongRoPE divisors (see fill_rope) */
    FILL_ROPE_SHORT,
} syn_fill;

typedef struct syn_tensor {
    char name[64];
    int n_dims;
    int64_t ne0, ne1;
    int type;
    int64_t ne2;          /* matrices stacked (experts), 1 otherwise */
    float center, scale;  /* values are center + scale * uniform(-1, 1) */
    syn_fill fill;
    const float *values;    /* FILL_VALUES: ne0 of them */
    const float *row_scale; /* or NULL: row r's values times row_scale[r] */
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
    int64_t rows = t->ne1 * t->ne2;
    if (chunk > rows)
        chunk = rows;
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
    for (int64_t r = 0; r < rows && st == CHORD_OK; r += chunk) {
        int64_t nr = rows - r < chunk ? rows - r : chunk;
        if (t->fill == FILL_VALUES)
            memcpy(f, t->values, (size_t)t->ne0 * sizeof *f); /* a vector: one row */
        else if (t->fill != FILL_RANDOM)
            fill_rope(t, f, stretch);
        else
            for (int64_t i = 0; i < nr * t->ne0; i++)
                f[i] = t->center + t->scale * synth_uniform(&state);
        for (int64_t i = 0; t->row_scale && i < nr; i++)
            for (int64_t j = 0; j < t->ne0; j++)
                f[i * t->ne0 + j] *= t->row_scale[r + i];
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

/* The read-only types (no quantizer in chord: IQ3_S down to IQ1_M) get
 * their fast pool as random bytes: every grid index, sign pattern and
 * sub-scale of these formats is a valid encoding, so only the super-block
 * scale needs choosing (see random_pool). */
static bool random_pool_type(int type)
{
    switch (type) {
    case QT_IQ2_XXS: case QT_IQ2_XS: case QT_IQ2_S: case QT_IQ3_XXS: case QT_IQ3_S:
    case QT_IQ1_S: case QT_IQ1_M:
        return true;
    default:
        return false;
    }
}

_Static_assert(offsetof(block_iq2_xxs, d) == 0 && offsetof(block_iq2_xs, d) == 0 &&
               offsetof(block_iq2_s, d) == 0 && offsetof(block_iq3_xxs, d) == 0 &&
               offsetof(block_iq3_s, d) == 0 && offsetof(block_iq1_s, d) == 0,
               "the read-only types but IQ1_M start with their half");

/* Writes the super-block half h into blk. IQ1_M has no half field: its
 * four 16-bit scale words carry it in their top nibbles (the half's bits
 * 0-3 in word 0's, 12-15 in word 3's) over their 3-bit sub-scales. */
static void set_block_half(int type, uint8_t *blk, uint16_t h)
{
    if (type != QT_IQ1_M) {
        memcpy(blk, &h, sizeof h);
        return;
    }
    uint8_t *sc = blk + offsetof(block_iq1_m, scales);
    for (int k = 0; k < 4; k++) {
        uint16_t w;
        memcpy(&w, sc + 2 * k, sizeof w);
        w = (uint16_t)((w & 0x0fffu) | (((unsigned)h >> (4 * k) & 0xfu) << 12));
        memcpy(sc + 2 * k, &w, sizeof w);
    }
}

/* A pool of pool_n random blocks of a read-only type (random_pool_type)
 * for tensor t. The bytes are random; the half of every block is then
 * chosen so that the pool, dequantized, has the deviation of the float
 * weights the slow path would quantize (scale / sqrt(3) for uniform
 * values): measured at d = 1, then scaled, since the spread at d = 1 is
 * set by each format's grids and sub-scales. One half for the whole pool:
 * the random sub-scales already vary it block to block. f holds pool_n
 * blocks of floats (scratch). */
static void random_pool(const syn_tensor *t, uint8_t *pool, size_t pool_n, float *f,
                        uint64_t *state)
{
    const quant_traits *qt = quant_traits_of(t->type);
    size_t bb = (size_t)qt->bytes, nb = pool_n * bb;
    for (size_t i = 0; i < nb; i += 8) {
        uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        memcpy(pool + i, &z, nb - i < 8 ? nb - i : 8);
    }
    for (size_t b = 0; b < pool_n; b++)
        set_block_half(t->type, pool + b * bb, quant_f32_to_f16(1.0f));
    int64_t n = (int64_t)pool_n * qt->block;
    quant_dequant_row(t->type, pool, f, n);
    double sq = 0;
    for (int64_t i = 0; i < n; i++)
        sq += (double)f[i] * f[i];
    double rms = sqrt(sq / (double)n);
    double want = sqrt((double)t->center * t->center + (double)t->scale * t->scale / 3.0);
    uint16_t h = quant_f32_to_f16(rms > 0 ? (float)(want / rms) : 0.0f);
    for (size_t b = 0; b < pool_n; b++)
        set_block_half(t->type, pool + b * bb, h);
}

/* The fast path (p->fast) for block-quantized types: quantizing a 30 GB
 * model through the k-quant search runs for hours on two cores, so instead
 * each tensor quantizes a pool of FAST_POOL_BLOCKS random blocks once, with
 * the real quantizer and the tensor's own value distribution, and then
 * fills its rows with blocks drawn at random from that pool. Every block of
 * these formats carries its own scales, so any block is valid anywhere:
 * the file is a valid model of the same weight statistics (finite scales,
 * activations as spread as the slow path's), deterministic from the seed,
 * written at memcpy speed with memory bounded by the pool and one chunk.
 * The read-only types have no quantizer: their pool is random_pool's. */
static chord_status write_tensor_fast(gguf_writer *w, const syn_tensor *t, uint64_t seed,
                                      chord_err *err)
{
    const quant_traits *qt = quant_traits_of(t->type);
    size_t bb = (size_t)qt->bytes;
    uint64_t n_blocks = (uint64_t)t->ne0 / (uint64_t)qt->block * (uint64_t)(t->ne1 * t->ne2);
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
    if (random_pool_type(t->type)) {
        random_pool(t, pool, pool_n, f, &state);
    } else {
        for (size_t i = 0; i < pool_n * (size_t)qt->block; i++)
            f[i] = t->center + t->scale * synth_uniform(&state);
        quant_quantize_row(t->type, f, pool, (int64_t)(pool_n * (size_t)qt->block));
    }
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
                       "architecture '%s' is not supported (llama, qwen2, qwen3, gemma2, gemma3, phi3, qwen3moe, gpt-oss)",
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
        return err_set(err, CHORD_E_INVALID, "a sliding window (%d) applies to gemma2, gemma3 and gpt-oss only",
                       p->window);
    if (fam->moe && p->experts < 1)
        return err_set(err, CHORD_E_INVALID, "%s is a mixture of experts: --experts and --experts-used are required",
                       p->arch);
    if (p->experts && !fam->moe_ok)
        return err_set(err, CHORD_E_INVALID, "experts apply to llama (Mixtral's layout), qwen3moe and gpt-oss, not %s",
                       p->arch);
    if (p->experts < 0 || p->experts > 4096 || (p->experts && (p->experts < 2 || p->experts_used < 1 ||
                                                               p->experts_used > p->experts)))
        return err_set(err, CHORD_E_INVALID, "bad experts: %d experts (2 to 4096), %d used per token (1 to the experts)",
                       p->experts, p->experts_used);
    if (p->expert_ffn < 0 || p->expert_ffn > (1 << 18) || (p->expert_ffn && !p->experts))
        return err_set(err, CHORD_E_INVALID, "bad expert FFN width %d (1 to %d, with --experts)",
                       p->expert_ffn, 1 << 18);
    if (!(p->router_skew >= 0 && p->router_skew <= 4) || (p->router_skew > 0 && !p->experts))
        return err_set(err, CHORD_E_INVALID, "bad router skew %g (0 to 4, with --experts)",
                       (double)p->router_skew);
    return CHORD_OK;
}

static void add(syn_tensor *x, const char *name, int n_dims, int64_t ne0, int64_t ne1,
                float center, float scale, const synth_ftype *ft, int layer, int n_layer)
{
    snprintf(x->name, sizeof x->name, "%s", name);
    x->n_dims = n_dims;
    x->ne0 = ne0;
    x->ne1 = ne1;
    x->ne2 = 1;
    x->center = center;
    x->scale = scale;
    x->type = synth_tensor_type(ft, name, n_dims, ne0, layer, n_layer);
}

/* llama.cpp's rules for 8-expert models (Mixtral) in the quantized
 * mixes: attn_k and attn_v in Q8_0 (they are small beside the experts),
 * attn_output in Q5_K in the low-bit mixes. */
static void eight_expert_rule(syn_tensor *x, const synth_ftype *ft, int n_expert)
{
    int b = ft->base;
    if (n_expert != 8 || ft->mix == 'X' || b == QT_F32 || b == QT_F16 || b == QT_BF16)
        return;
    size_t n = strlen(x->name);
    if (n > 13 && (!strcmp(x->name + n - 13, "attn_k.weight") || !strcmp(x->name + n - 13, "attn_v.weight")))
        x->type = QT_Q8_0;
    else if (n > 18 && !strcmp(x->name + n - 18, "attn_output.weight") &&
             (b == QT_Q2_K || b == QT_IQ4_NL || b == QT_IQ4_XS || (ft->mix && b != QT_Q5_K)))
        x->type = QT_Q5_K;
    const quant_traits *qt = quant_traits_of(x->type);
    if (qt && x->ne0 % qt->block)
        x->type = synth_tensor_type(ft, x->name, x->n_dims, x->ne0, -1, 1);
}

/* The routers' skew: knob[il * n_expert + e] is expert e's row scale, or
 * its logit bias for families with a router bias (gpt-oss). */
static chord_status plan_routers(const chord_synth_params *p, const syn_family *fam, float **out,
                                 chord_err *err)
{
    int ne = p->experts;
    float *rank = malloc((size_t)ne * sizeof *rank);
    float *knob = malloc((size_t)ne * (size_t)p->layers * sizeof *knob);
    int *perm = malloc((size_t)ne * sizeof *perm);
    chord_status st = rank && knob && perm ? CHORD_OK
                      : err_set(err, CHORD_E_NOMEM, "out of memory for %d routers", p->layers);
    if (st == CHORD_OK)
        st = synth_router_calibrate(ne, p->experts_used, p->router_skew, fam->oai, p->seed, rank, err);
    for (int il = 0; st == CHORD_OK && il < p->layers; il++) {
        synth_router_perm(p->seed, il, ne, perm);
        for (int r = 0; r < ne; r++)
            knob[(size_t)il * ne + perm[r]] = rank[r];
    }
    free(rank);
    free(perm);
    if (st != CHORD_OK) {
        free(knob);
        knob = NULL;
    }
    *out = knob;
    return st;
}

/* The tensor list of the model, in file order: global tensors first, then
 * each layer's tensors together (what the layer cache reads as a group).
 * knob: the routers' (plan_routers), for a mixture of experts. */
static syn_tensor *plan_tensors(const chord_synth_params *p, const syn_family *fam,
                                const synth_ftype *ft, int n_vocab, const float *knob, int *count)
{
    int per_layer = 24; /* at most: every kind of layer tensor */
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
        if (fam->oai) {
            L("attn_output.bias"); ADD(il, 1, d, 1, 0.0f, 0.05f);
            /* a sink's logit competes with the scores (of deviation ~1) */
            L("attn_sinks.weight"); ADD(il, 1, p->heads, 1, 0.0f, 1.0f);
        }
        if (fam->qk_norm) {
            L("attn_q_norm.weight"); ADD(il, 1, hd, 1, 1.0f, 0.1f);
            L("attn_k_norm.weight"); ADD(il, 1, hd, 1, 1.0f, 0.1f);
        }
        L("attn_output.weight"); ADD(il, 2, nq, d, 0.0f, in_q);
        if (fam->post_norm) {
            L("post_attention_norm.weight"); ADD(il, 1, d, 1, 1.0f, 0.1f);
        }
        if (fam->oai) {
            L("post_attention_norm.weight"); ADD(il, 1, d, 1, 1.0f, 0.1f);
        } else {
            L("ffn_norm.weight"); ADD(il, 1, d, 1, 1.0f, 0.1f);
        }
        if (p->experts) {
            /* the router: F32 as llama.cpp keeps it, one row per expert,
             * its scale (or the bias) from the skew */
            int64_t ne_ = p->experts, fe = p->expert_ffn ? p->expert_ffn : p->ffn;
            const float *k = knob + (size_t)il * (size_t)ne_;
            L("ffn_gate_inp.weight"); ADD(il, 2, d, ne_, 0.0f, in_d);
            t[n - 1].type = QT_F32;
            if (!fam->oai)
                t[n - 1].row_scale = k;
            else {
                L("ffn_gate_inp.bias"); ADD(il, 1, ne_, 1, 0.0f, 0.0f);
                t[n - 1].fill = FILL_VALUES;
                t[n - 1].values = k;
            }
            float in_fe = unit / sqrtf((float)fe);
            L("ffn_gate_exps.weight"); ADD(il, 3, d, fe, 0.0f, in_d);
            t[n - 1].ne2 = ne_;
            L("ffn_up_exps.weight"); ADD(il, 3, d, fe, 0.0f, in_d);
            t[n - 1].ne2 = ne_;
            L("ffn_down_exps.weight"); ADD(il, 3, fe, d, 0.0f, in_fe);
            t[n - 1].ne2 = ne_;
            if (fam->oai) {
                /* per-expert biases: one row each, F32 */
                L("ffn_gate_exps.bias"); ADD(il, 1, fe, ne_, 0.0f, 0.05f);
                t[n - 1].n_dims = 2;
                L("ffn_up_exps.bias"); ADD(il, 1, fe, ne_, 0.0f, 0.05f);
                t[n - 1].n_dims = 2;
                L("ffn_down_exps.bias"); ADD(il, 1, d, ne_, 0.0f, 0.05f);
                t[n - 1].n_dims = 2;
            }
        } else if (fam->fused) {
            /* rows: the gate's, then the up projection's */
            L("ffn_up.weight"); ADD(il, 2, d, 2 * (int64_t)p->ffn, 0.0f, in_d);
        } else {
            L("ffn_gate.weight"); ADD(il, 2, d, p->ffn, 0.0f, in_d);
            L("ffn_up.weight"); ADD(il, 2, d, p->ffn, 0.0f, in_d);
        }
        if (!p->experts) {
            L("ffn_down.weight"); ADD(il, 2, p->ffn, d, 0.0f, in_f);
        }
        if (fam->post_norm) {
            L("post_ffw_norm.weight"); ADD(il, 1, d, 1, 1.0f, 0.1f);
        }
#undef L
    }
#undef ADD
    for (int i = 0; i < n; i++)
        eight_expert_rule(&t[i], ft, p->experts);
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
        st = synth_parse_ftype(p->type, p->fast, &ft, err);
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
        KV_F32("rope.freq_base", p->experts && !fam->moe ? MIXTRAL_ROPE_BASE : fam->rope_base);
    if (p->experts) {
        int fe = p->expert_ffn ? p->expert_ffn : p->ffn;
        KV_U32("expert_count", p->experts);
        KV_U32("expert_used_count", p->experts_used);
        /* Mixtral's files leave it out: its experts are ffn wide */
        if (fam->moe || fe != p->ffn)
            KV_U32("expert_feed_forward_length", fe);
    }
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
    if (fam->oai && ctx > OAI_ORIG_CTX) {
        /* YaRN, as gpt-oss's files describe it */
        snprintf(key, sizeof key, "%s.rope.scaling.type", a);
        gguf_writer_kv_str(w, key, "yarn");
        KV_F32("rope.scaling.factor", (double)ctx / OAI_ORIG_CTX);
        KV_U32("rope.scaling.original_context_length", OAI_ORIG_CTX);
        KV_F32("rope.scaling.yarn_beta_fast", 32.0);
        KV_F32("rope.scaling.yarn_beta_slow", 1.0);
    }
    int n_vocab = 0, n_t = 0;
    if ((st = synth_vocab(w, p, &n_vocab, err)) != CHORD_OK) {
        gguf_writer_abort(w);
        return st;
    }
    /* Mixtral's files (llama's converter) name the vocabulary size */
    if (p->experts && !fam->moe)
        KV_U32("vocab_size", n_vocab);
#undef KV_U32
#undef KV_F32
    float *knob = NULL;
    if (p->experts && (st = plan_routers(p, fam, &knob, err)) != CHORD_OK) {
        gguf_writer_abort(w);
        return st;
    }
    syn_tensor *t = plan_tensors(p, fam, &ft, n_vocab, knob, &n_t);
    if (!t) {
        free(knob);
        gguf_writer_abort(w);
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory", out_path);
    }
    for (int i = 0; i < n_t; i++)
        gguf_writer_tensor(w, t[i].name, t[i].type, t[i].n_dims,
                           (int64_t[3]){t[i].ne0, t[i].ne1, t[i].ne2});
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
    free(knob);
    if (st != CHORD_OK) {
        gguf_writer_abort(w);
        return st;
    }
    return gguf_writer_close(w, err);
}
