/*
 * synth.c - chord_synth: a random-weight model of a given shape and type.
 *
 * Weights are uniform random, scaled by 1/sqrt(fan-in) so activations keep
 * unit size through the layers, with RMS-norm weights near 1 and an output
 * matrix scaled for logits of a few units: a model whose logits are spread
 * and whose argmax is decisive, like a trained one, so tests built on it
 * can tell right from wrong arithmetic. With p->fast, block-quantized
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

typedef struct syn_tensor {
    char name[64];
    int n_dims;
    int64_t ne0, ne1;
    int type;
    float center, scale;  /* values are center + scale * uniform(-1, 1) */
} syn_tensor;

/* Writes one tensor: rows generated, quantized and written a chunk at a
 * time (about 1 MiB of floats), never the whole tensor. */
static chord_status write_tensor(gguf_writer *w, const syn_tensor *t, uint64_t seed,
                                 chord_err *err)
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

static chord_status check_shape(const chord_synth_params *p, chord_err *err)
{
    if (!p->arch || (strcmp(p->arch, "llama") && strcmp(p->arch, "qwen2")))
        return err_set(err, CHORD_E_INVALID, "architecture '%s' is not supported (llama, qwen2)",
                       p->arch ? p->arch : "");
    if (p->dim < 2 || p->dim > (1 << 16) || p->layers < 1 || p->layers > CHORD_MAX_LAYERS ||
        p->heads < 1 || p->kv_heads < 1 || p->ffn < 1 || p->ffn > (1 << 18))
        return err_set(err, CHORD_E_INVALID,
                       "bad shape: dim %d, layers %d (1 to %d), heads %d, kv-heads %d, ffn %d",
                       p->dim, p->layers, CHORD_MAX_LAYERS, p->heads, p->kv_heads, p->ffn);
    if (p->dim % p->heads || (p->dim / p->heads) % 2)
        return err_set(err, CHORD_E_INVALID, "dim %d must be a multiple of heads %d with an even head size",
                       p->dim, p->heads);
    if (p->heads % p->kv_heads)
        return err_set(err, CHORD_E_INVALID, "kv-heads %d must divide heads %d", p->kv_heads, p->heads);
    if (p->ctx_len < 0)
        return err_set(err, CHORD_E_INVALID, "bad context length %d", p->ctx_len);
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
static syn_tensor *plan_tensors(const chord_synth_params *p, const synth_ftype *ft, int n_vocab,
                                int *count)
{
    bool qwen = !strcmp(p->arch, "qwen2");
    int per_layer = qwen ? 12 : 9;
    syn_tensor *t = calloc(3 + (size_t)p->layers * (size_t)per_layer, sizeof *t);
    if (!t)
        return NULL;
    int n = 0;
    int64_t d = p->dim, kv = (int64_t)p->dim / p->heads * p->kv_heads;
    float unit = sqrtf(3.0f); /* uniform(-a, a) has deviation a / sqrt(3) */
    /* ADD(layer, dims, ne0, ne1, center, scale) after formatting nm */
#define ADD(il, nd, e0, e1, c, s) add(&t[n++], nm, nd, e0, e1, c, s, ft, il, p->layers)
    char nm[64];
    snprintf(nm, sizeof nm, "token_embd.weight");
    ADD(-1, 2, d, n_vocab, 0.0f, unit);
    snprintf(nm, sizeof nm, "output_norm.weight");
    ADD(-1, 1, d, 1, 1.0f, 0.1f);
    /* logits of deviation about 3: spread, with a clear winner */
    snprintf(nm, sizeof nm, "output.weight");
    ADD(-1, 2, d, n_vocab, 0.0f, 3.0f * unit / sqrtf((float)d));
    float in_d = unit / sqrtf((float)d), in_f = unit / sqrtf((float)p->ffn);
    for (int il = 0; il < p->layers; il++) {
#define L(suffix) snprintf(nm, sizeof nm, "blk.%d." suffix, il)
        L("attn_norm.weight"); ADD(il, 1, d, 1, 1.0f, 0.1f);
        L("attn_q.weight"); ADD(il, 2, d, d, 0.0f, in_d);
        L("attn_k.weight"); ADD(il, 2, d, kv, 0.0f, in_d);
        L("attn_v.weight"); ADD(il, 2, d, kv, 0.0f, in_d);
        if (qwen) {
            L("attn_q.bias"); ADD(il, 1, d, 1, 0.0f, 0.05f);
            L("attn_k.bias"); ADD(il, 1, kv, 1, 0.0f, 0.05f);
            L("attn_v.bias"); ADD(il, 1, kv, 1, 0.0f, 0.05f);
        }
        L("attn_output.weight"); ADD(il, 2, d, d, 0.0f, in_d);
        L("ffn_norm.weight"); ADD(il, 1, d, 1, 1.0f, 0.1f);
        L("ffn_gate.weight"); ADD(il, 2, d, p->ffn, 0.0f, in_d);
        L("ffn_up.weight"); ADD(il, 2, d, p->ffn, 0.0f, in_d);
        L("ffn_down.weight"); ADD(il, 2, p->ffn, d, 0.0f, in_f);
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

    gguf_writer *w = NULL;
    if ((st = gguf_writer_open(out_path, &w, err)) != CHORD_OK)
        return st;
    const char *a = p->arch;
    char key[128], name[128];
    bool qwen = !strcmp(a, "qwen2");
    gguf_writer_kv_str(w, "general.architecture", a);
    snprintf(name, sizeof name, "synth-%s-%dx%d-%s", a, p->dim, p->layers, ft.name);
    gguf_writer_kv_str(w, "general.name", name);
    if (synth_ftype_id(&ft) >= 0)
        gguf_writer_kv_u32(w, "general.file_type", (uint32_t)synth_ftype_id(&ft));
#define KV_U32(suffix, v) do { snprintf(key, sizeof key, "%s." suffix, a); \
                               gguf_writer_kv_u32(w, key, (uint32_t)(v)); } while (0)
#define KV_F32(suffix, v) do { snprintf(key, sizeof key, "%s." suffix, a); \
                               gguf_writer_kv_f32(w, key, (float)(v)); } while (0)
    KV_U32("context_length", p->ctx_len ? p->ctx_len : 4096);
    KV_U32("embedding_length", p->dim);
    KV_U32("block_count", p->layers);
    KV_U32("feed_forward_length", p->ffn);
    KV_U32("attention.head_count", p->heads);
    KV_U32("attention.head_count_kv", p->kv_heads);
    KV_U32("rope.dimension_count", p->dim / p->heads);
    KV_F32("attention.layer_norm_rms_epsilon", qwen ? 1e-6 : 1e-5);
    KV_F32("rope.freq_base", qwen ? 1e6 : 1e4);
#undef KV_U32
#undef KV_F32
    int n_vocab = 0, n_t = 0;
    if ((st = synth_vocab(w, p, &n_vocab, err)) != CHORD_OK) {
        gguf_writer_abort(w);
        return st;
    }
    syn_tensor *t = plan_tensors(p, &ft, n_vocab, &n_t);
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
            st = write_tensor(w, &t[i], p->seed, err);
    }
    free(t);
    if (st != CHORD_OK) {
        gguf_writer_abort(w);
        return st;
    }
    return gguf_writer_close(w, err);
}
