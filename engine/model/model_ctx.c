/*
 * model_ctx.c - contexts: the run state of one conversation (KV cache,
 * activation buffers, thread pool), and chord_ctx_eval, which cuts a batch
 * into pieces the buffers hold and keeps the speed counters.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "kern/kern.h"
#include "kern/kern_attn_q.h"
#include "model/model.h"
#include "pool/pool.h"
#include "quant/quant_types.h"

/* Tokens per forward pass: bounds the activation buffers; longer batches
 * are run as consecutive pieces (the result is the same: attention is
 * causal and the cache holds the earlier pieces). */
#define MODEL_MAX_BATCH 128

chord_ctx_params chord_ctx_default_params(void)
{
    chord_ctx_params p;
    memset(&p, 0, sizeof p);
    return p;
}

void chord_ctx_free(chord_ctx *c)
{
    if (!c)
        return;
    pool_free(c->pool);
    kern_ws_free(c->ws);
    free(c->x);
    free(c->xb);
    free(c->q);
    free(c->k);
    free(c->v);
    free(c->att);
    free(c->hb);
    free(c->hb2);
    free(c->qkv);
    free(c->moe_probs);
    free(c->moe_w);
    free(c->moe_x);
    free(c->moe_y);
    free(c->moe_sel);
    free(c->moe_tok);
    free(c->moe_ids);
    free(c->moe_cnt);
    free(c->moe_parts);
    free(c->attn_tmp);
    free(c->attn_ws);
    free(c->vec);
    free(c->freq_div);
    free(c->kcache);
    free(c->vcache);
    free(c->attnq_tmp);
    free(c);
}

int chord_kv_type_parse(const char *name)
{
    static const char *const names[] = {"f16", "q8_0", "q4_0"};
    for (int i = 0; name && i < 3; i++)
        if (!strcasecmp(name, names[i]))
            return i;
    return -1;
}

const char *chord_kv_type_name(chord_kv_type t)
{
    return t == CHORD_KV_Q8_0 ? "q8_0" : t == CHORD_KV_Q4_0 ? "q4_0" : "f16";
}

static int kv_qt(chord_kv_type t)
{
    return t == CHORD_KV_Q8_0 ? QT_Q8_0 : t == CHORD_KV_Q4_0 ? QT_Q4_0 : QT_F16;
}

static const char *kv_qt_name(int t)
{
    return t == QT_Q8_0 ? "Q8_0" : t == QT_Q4_0 ? "Q4_0" : "F16";
}

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

/* YaRN's ramp between the pairs that keep their original angle and those
 * interpolated: the reference's correction dimensions for a base. */
static float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base)
{
    return (float)n_dims * logf((float)n_ctx_orig / (n_rot * 2 * (float)M_PI)) / (2 * logf(base));
}

static void yarn_corr_dims(const model_config *cf, float base, float out[2])
{
    float start = floorf(yarn_corr_dim(cf->n_rot, cf->n_ctx_orig, cf->yarn_beta_fast, base));
    float end = ceilf(yarn_corr_dim(cf->n_rot, cf->n_ctx_orig, cf->yarn_beta_slow, base));
    out[0] = start > 0 ? start : 0;
    out[1] = end < (float)(cf->n_rot - 1) ? end : (float)(cf->n_rot - 1);
}

/* Rows a local layer's ring keeps beyond its window: a batch of n_batch
 * tokens writes all its keys before any of them attends, and the slack
 * lets a truncation back by up to this many positions keep the window of
 * the position it returns to (chord_ctx_truncate). */
#define KV_RING_SLACK 256

/* Lays the KV cache out layer by layer, head by head within a layer
 * (kv_off, kv_offv, kv_ring, kv_ldk, kv_ldv: model.h) and describes it;
 * returns the 16-bit units of the K cache (*v_units: of the V cache). */
static size_t kv_layout(chord_ctx *c, size_t *v_units)
{
    const model_config *cf = &c->m->cfg;
    size_t off = 0, offv = 0;
    int n_local = 0, ring = 0;
    const int hd = cf->head_dim, nh = cf->n_head_kv;
    c->kv_ldk = kern_kv_row_bytes(c->kv_tk, hd) / 2;
    c->kv_ldv = kern_kv_row_bytes(c->kv_tv, hd) / 2;
    for (int il = 0; il < cf->n_layer; il++) {
        int rows = c->n_ctx;
        c->kv_ring[il] = 0;
        if (cf->swa[il] && cf->n_swa + c->n_batch + KV_RING_SLACK < c->n_ctx) {
            ring = cf->n_swa + c->n_batch + KV_RING_SLACK;
            rows = c->kv_ring[il] = ring;
            n_local++;
        }
        c->kv_off[il] = off;
        c->kv_offv[il] = offv;
        off += (size_t)rows * nh * c->kv_ldk;
        offv += (size_t)rows * nh * c->kv_ldv;
    }
    c->kv_bytes = (off + offv) * sizeof(uint16_t);
    /* a global layer's bytes per position of context, K and V */
    size_t per_tok = (c->kv_ldk + c->kv_ldv) * 2 * (size_t)nh * (size_t)(cf->n_layer - n_local);
    char types[64];
    if (c->kv_tk == c->kv_tv)
        snprintf(types, sizeof types, "%s", kv_qt_name(c->kv_tk));
    else
        snprintf(types, sizeof types, "K %s, V %s", kv_qt_name(c->kv_tk), kv_qt_name(c->kv_tv));
    if (n_local)
        snprintf(c->kv_desc, sizeof c->kv_desc,
                 "KV cache %s, %.1f MiB: %d layers x %d positions (%zu bytes a position), %d local layers x a ring of %d (window %d)",
                 types, (double)c->kv_bytes / 1048576.0, cf->n_layer - n_local, c->n_ctx, per_tok,
                 n_local, ring, cf->n_swa);
    else
        snprintf(c->kv_desc, sizeof c->kv_desc,
                 "KV cache %s, %.1f MiB: %d layers x %d positions (%zu bytes a position)", types,
                 (double)c->kv_bytes / 1048576.0, cf->n_layer, c->n_ctx, per_tok);
    *v_units = offv;
    return off;
}

/* The context a model gets when none is asked for: its own
 * (context_length; LongRoPE models: their original one), unless its KV cache would take more than half of the
 * memory left once the layer cache holds its budget; then as many
 * positions (a multiple of 256) as that half holds. Half: the rest stays
 * with the system, other programs and the page cache the weights may
 * stream through. A sliding-window layer costs its ring whatever the
 * context; the attention scratch grows with it too. */
static int default_n_ctx(chord_model *m, int tk, int tv, int n_threads, char *note, size_t cap, bool *capped)
{
    const model_config *cf = &m->cfg;
    const int train = cf->n_ctx_train > 0 ? cf->n_ctx_train : 4096;
    /* LongRoPE: the context decides the factors (the long ones beyond the
     * original context), so every token's numerics: the default stays
     * where the model was trained to run unasked, as the reference's
     * would (-c longer takes the long factors). */
    if (m->glob[GT_ROPE_LONG].slot >= 0 && cf->n_ctx_orig > 0 && cf->n_ctx_orig < train) {
        snprintf(note, cap,
                 "context %d tokens: the model's original (LongRoPE takes its long factors above it; its own is %d:"
                 " -c sets it)",
                 cf->n_ctx_orig, train);
        return cf->n_ctx_orig;
    }
    const size_t nkv = (size_t)cf->n_head_kv * cf->head_dim;
    const size_t row = kern_kv_row_bytes(tk, (int)nkv) + kern_kv_row_bytes(tv, (int)nkv);
    int n_global = 0, n_local = 0;
    for (int il = 0; il < cf->n_layer; il++)
        cf->swa[il] ? n_local++ : n_global++;
    const double per_pos = (double)row * n_global + 6.0 * n_threads;
    const double fixed = (double)row * n_local * (cf->n_swa + MODEL_MAX_BATCH + KV_RING_SLACK);
    const int64_t avail = chord_mem_available();
    if (avail < 0) {
        const int n = train < 4096 ? train : 4096;
        snprintf(note, cap, "context %d tokens (the model's %d; free memory unknown: at most 4096)", n, train);
        return n;
    }
    const double spare = (double)avail - (double)lc_budget_left(m->lc);
    const double room = spare / 2 - fixed;
    const double fit = room > 0 ? room / per_pos : 0;
    if (fit >= train) {
        snprintf(note, cap, "context %d tokens (the model's own; KV cache %.1f MiB)", train,
                 (fixed + per_pos * train) / 1048576.0);
        return train;
    }
    *capped = true;
    int n = (int)fit / 256 * 256;
    if (n < 256)
        n = train < 256 ? train : 256;
    snprintf(note, cap,
             "context %d tokens: the model's %d would take %.1f GiB of KV cache, more than half of the %.1f GiB"
             " left after the weights (-c sets it)",
             n, train, (fixed + per_pos * train) / 1073741824.0, spare / 1073741824.0);
    return n;
}

const char *chord_ctx_size_note(const chord_ctx *c, bool *capped)
{
    if (capped)
        *capped = c && c->ctx_capped;
    return c ? c->ctx_note : "";
}

chord_status chord_ctx_new(chord_model *m, const chord_ctx_params *p, chord_ctx **out,
                           chord_err *err)
{
    *out = NULL;
    if (!m || !m->lc)
        return err_set(err, CHORD_E_INVALID, "%s: a context needs a model loaded with its weights",
                       m ? m->path : "(null)");
    const model_config *cf = &m->cfg;
    chord_ctx_params cp = p ? *p : chord_ctx_default_params();
    if (cp.n_ctx < 0 || cp.n_threads < 0 || cp.pos_offset < 0)
        return err_set(err, CHORD_E_INVALID,
                       "context: negative n_ctx (%d), n_threads (%d) or pos_offset (%d)",
                       cp.n_ctx, cp.n_threads, cp.pos_offset);
    /* Past its training length a model's positions are extrapolation (no
     * context scaling here), and the KV cache would be sized by whatever
     * the caller typed: refuse rather than allocate gigabytes for garbage. */
    if (cp.n_ctx > cf->n_ctx_train)
        return err_set(err, CHORD_E_INVALID,
                       "%s: context of %d tokens exceeds the model's %d (%s.context_length)",
                       m->path, cp.n_ctx, cf->n_ctx_train, cf->rc->arch);
    if ((unsigned)cp.type_k > CHORD_KV_Q4_0 || (unsigned)cp.type_v > CHORD_KV_Q4_0)
        return err_set(err, CHORD_E_INVALID, "context: unknown KV cache type (%d, %d)", (int)cp.type_k,
                       (int)cp.type_v);
    bool kvq = cp.type_k != CHORD_KV_F16 || cp.type_v != CHORD_KV_F16;
    /* The reference's unfused graph cannot read a quantized V cache (it
     * needs flash attention); and a block of 32 must not straddle heads. */
    if (kvq && cp.unfused_attn)
        return err_set(err, CHORD_E_UNSUPPORTED,
                       "a quantized KV cache (--cache-type-k/-v %s/%s) needs flash attention (--flash-attn on)",
                       chord_kv_type_name(cp.type_k), chord_kv_type_name(cp.type_v));
    if (kvq && (cf->head_dim % 32 || cf->head_dim > 512))
        return err_set(err, CHORD_E_UNSUPPORTED,
                       "%s: a quantized KV cache needs a head size that is a multiple of 32 up to 512 (this model's is %d)",
                       m->path, cf->head_dim);
    chord_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(err, CHORD_E_NOMEM, "context: out of memory");
    c->m = m;
    c->kv_tk = kv_qt(cp.type_k);
    c->kv_tv = kv_qt(cp.type_v);
    c->attn_unfused = cp.unfused_attn;
    c->rope_off = cp.pos_offset;
    c->n_threads = cp.n_threads ? cp.n_threads : m->params.n_threads;
    if (c->n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c->n_threads = n > 0 ? (int)n : 1;
    }
    if (c->n_threads > 1024)
        c->n_threads = 1024;
    c->n_ctx = cp.n_ctx ? cp.n_ctx
                        : default_n_ctx(m, c->kv_tk, c->kv_tv, c->n_threads, c->ctx_note,
                                                      sizeof c->ctx_note, &c->ctx_capped);
    c->n_batch = c->n_ctx < MODEL_MAX_BATCH ? c->n_ctx : MODEL_MAX_BATCH;

    size_t nb = (size_t)c->n_batch, ne = (size_t)cf->n_embd;
    size_t nq = (size_t)cf->n_head * cf->head_dim, nkv = (size_t)cf->n_head_kv * cf->head_dim;
    size_t cache_v = 0;
    size_t cache = kv_layout(c, &cache_v);
    c->x = malloc(nb * ne * sizeof(float));
    c->xb = malloc(nb * ne * sizeof(float));
    c->q = malloc(nb * nq * sizeof(float));
    c->k = malloc(nb * nkv * sizeof(float));
    c->v = malloc(nb * nkv * sizeof(float));
    c->att = malloc(nb * nq * sizeof(float));
    size_t ffw = (size_t)max_int(cf->n_ff, cf->n_ff_exp);
    c->hb = malloc(nb * ffw * (cf->rc->fused_up ? 2 : 1) * sizeof(float));
    c->hb2 = malloc(nb * ffw * sizeof(float));
    c->attn_tmp_halves = (kern_attn_tmp_halves(cf->head_dim, c->n_ctx) + 31) & ~(size_t)31;
    c->attn_tmp = malloc((size_t)c->n_threads * c->attn_tmp_halves * sizeof(uint16_t));
    /* a norm weight or bias: up to the widest of the model's vectors */
    c->vec = malloc((size_t)max_int(max_int((int)ne, max_int((int)nq, (int)nkv)),
                                    max_int(cf->n_ff_exp, cf->n_expert)) * sizeof(float));
    /* Batched attention (prefill): a query block holds all the query heads
     * of a KV head for attn_tb tokens, at most KERN_ATTN_MAX_ROWS rows. */
    int group = cf->n_head / cf->n_head_kv;
    if (group <= KERN_ATTN_MAX_ROWS && c->n_batch > 1) {
        c->attn_tb = KERN_ATTN_MAX_ROWS / group;
        c->attn_ws_floats = (kern_attn_blk_ws_floats(cf->head_dim, c->attn_tb * group, c->n_ctx) + 15) & ~(size_t)15;
        c->attn_ws = aligned_alloc(64, (size_t)c->n_threads * c->attn_ws_floats * sizeof(float));
    }
    c->kcache = malloc(cache * sizeof(uint16_t));
    c->vcache = malloc(cache_v * sizeof(uint16_t));
    if (kvq) {
        /* prefill: up to 64 rows (tokens x the group's heads) an item */
        c->attnq_tb = group >= 64 ? 1 : 64 / group;
        c->attnq_tmp_bytes = (kern_attnq_tmp_bytes(cf->head_dim, group * c->attnq_tb) + 63) & ~(size_t)63;
        c->attnq_tmp = aligned_alloc(64, (size_t)c->n_threads * c->attnq_tmp_bytes);
    }
    bool fused_qkv = false;
    for (int il = 0; il < cf->n_layer; il++)
        fused_qkv |= model_layer_tensor(m, il, LT_QKV) != NULL;
    if (fused_qkv && !(c->qkv = malloc(nb * (nq + 2 * nkv) * sizeof(float)))) {
        chord_ctx_free(c);
        return err_set(err, CHORD_E_NOMEM, "context: out of memory");
    }
    if (cf->n_expert) {
        size_t ku = (size_t)cf->n_expert_used;
        c->moe_probs = malloc(nb * (size_t)cf->n_expert * sizeof(float));
        c->moe_w = malloc(nb * ku * sizeof(float));
        c->moe_sel = malloc(nb * ku * sizeof(int));
        c->moe_tok = malloc((nb * ku > (size_t)cf->n_expert ? nb * ku : (size_t)cf->n_expert) * sizeof(int));
        c->moe_ids = malloc((size_t)cf->n_expert * sizeof(int));
        c->moe_cnt = malloc((size_t)cf->n_expert * sizeof(int));
        c->moe_parts = malloc((size_t)cf->n_expert * sizeof *c->moe_parts);
        c->moe_x = malloc(nb * ne * sizeof(float));
        c->moe_y = malloc(nb * ku * ne * sizeof(float));
        if (!c->moe_probs || !c->moe_w || !c->moe_sel || !c->moe_tok || !c->moe_x || !c->moe_y ||
            !c->moe_ids || !c->moe_cnt || !c->moe_parts) {
            chord_ctx_free(c);
            return err_set(err, CHORD_E_NOMEM, "context: out of memory for the experts' buffers");
        }
    }
    if (!c->x || !c->xb || !c->q || !c->k || !c->v || !c->att || !c->hb || !c->hb2 ||
        !c->attn_tmp || (c->attn_tb && !c->attn_ws) || !c->vec || !c->kcache || !c->vcache ||
        (kvq && !c->attnq_tmp)) {
        chord_ctx_free(c);
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for a context of %d tokens (KV cache %zu MiB)",
                       m->path, cp.n_ctx ? cp.n_ctx : c->n_ctx, (cache + cache_v) * 2 >> 20);
    }
    int max_in = max_int(max_int((int)ne, (int)nq), max_int(cf->n_ff, cf->n_ff_exp));
    chord_status st = pool_new(c->n_threads, &c->pool, err);
    if (st == CHORD_OK)
        st = kern_ws_new(c->n_threads, c->n_batch, max_in, &c->ws, err);
    if (st != CHORD_OK) {
        chord_ctx_free(c);
        return st;
    }

    /* RoPE: the angle step between pairs (the local layers may have a base
     * of their own) and, if the model has them, per-pair divisors: llama 3
     * style frequency factors, or LongRoPE's long factors when this context
     * is longer than the model's original one, else its short ones (the
     * reference's choice, made from the context it allocates). */
    c->theta_scale = powf(cf->rope_base, -2.0f / (float)cf->n_rot);
    c->theta_scale_swa = powf(cf->rope_base_swa, -2.0f / (float)cf->n_rot);
    yarn_corr_dims(cf, cf->rope_base, c->rope_corr);
    yarn_corr_dims(cf, cf->rope_base_swa, c->rope_corr_swa);
    const model_tensor *ff = &m->glob[GT_ROPE_FREQS];
    if (ff->slot < 0)
        ff = &m->glob[c->n_ctx > cf->n_ctx_orig ? GT_ROPE_LONG : GT_ROPE_SHORT];
    if (ff->slot >= 0) {
        if (!(c->freq_div = malloc((size_t)ff->ne0 * sizeof(float)))) {
            chord_ctx_free(c);
            return err_set(err, CHORD_E_NOMEM, "context: out of memory");
        }
        kern_row_f32(ff->type, lc_tensor(m->lc, 0, ff->slot), c->freq_div, (int)ff->ne0);
    }
    *out = c;
    return CHORD_OK;
}

int chord_ctx_n_ctx(const chord_ctx *c)
{
    return c ? c->n_ctx : 0;
}

int chord_ctx_pos(const chord_ctx *c)
{
    return c ? c->pos : 0;
}

void chord_ctx_truncate(chord_ctx *c, int pos)
{
    if (!c || pos < 0 || pos >= c->pos)
        return;
    /* The next position's window must still be in the local layers'
     * rings; otherwise those keys are gone (overwritten by the positions
     * past pos, or moved out by a shift) and the context must be
     * evaluated again from the start. */
    int need = pos - c->m->cfg.n_swa + 1;
    if (c->ring_lo > (need > 0 ? need : 0))
        pos = c->ring_lo = 0;
    c->pos = pos;
}

const char *chord_ctx_describe(const chord_ctx *c)
{
    return c ? c->kv_desc : "";
}

void chord_ctx_set_decode_numerics(chord_ctx *c, bool on)
{
    if (c)
        kern_ws_set_decode_bits(c->ws, on);
}

void chord_ctx_cancel(chord_ctx *c)
{
    if (c)
        atomic_store(&c->cancel, 1);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

chord_status chord_ctx_eval(chord_ctx *c, const chord_token *tokens, int n,
                            float *logits, bool all_logits, chord_err *err)
{
    if (!c || !tokens || n <= 0)
        return err_set(err, CHORD_E_INVALID, "eval: no tokens given");
    chord_model *m = c->m;
    atomic_store(&c->cancel, 0);
    if (n > c->n_ctx - c->pos)
        return err_set(err, CHORD_E_CTX_FULL,
                       "context full: %d tokens in the cache + %d new exceed the context size %d (--ctx)",
                       c->pos, n, c->n_ctx);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->cfg.n_vocab)
            return err_set(err, CHORD_E_INVALID, "eval: token %d (at %d) is not in the vocabulary (0..%d)",
                           tokens[i], i, m->cfg.n_vocab - 1);

    double t0 = now_ms();
    int pos_start = c->pos;
    /* these positions' rows of a ring overwrite the positions a ring's
     * length before them (even if the evaluation fails half way) */
    for (int il = 0; il < m->cfg.n_layer; il++)
        if (c->kv_ring[il] && c->pos + n - c->kv_ring[il] > c->ring_lo)
            c->ring_lo = c->pos + n - c->kv_ring[il];
    for (int done = 0; done < n;) {
        int k = n - done < c->n_batch ? n - done : c->n_batch;
        bool last = done + k == n;
        float *lg = NULL;
        if (logits && all_logits)
            lg = logits + (size_t)done * m->cfg.n_vocab;
        else if (logits && last)
            lg = logits;
        chord_status st = model_forward(c, tokens + done, k, lg, all_logits, err);
        if (st != CHORD_OK) {
            c->pos = pos_start; /* roll back: the pieces already run are forgotten */
            return st;
        }
        c->pos += k;
        done += k;
    }
    double ms = now_ms() - t0;

    pthread_mutex_lock(&m->speed.mu);
    if (n == 1) {
        m->speed.n_gen_tokens++;
        m->speed.gen_ms += ms;
    } else {
        m->speed.n_prompt_tokens += (uint64_t)n;
        m->speed.prompt_ms += ms;
    }
    m->speed.ctx_used = c->pos;
    m->speed.ctx_size = c->n_ctx;
    pthread_mutex_unlock(&m->speed.mu);
    return CHORD_OK;
}

/* ------------------------------------------------------------------------
 * The KV cache one row at a time, for saving and loading it
 * (model_kvfile.c): the layout stays this file's business.
 * ---------------------------------------------------------------------- */

int model_ctx_kv_type(const chord_ctx *c, int which)
{
    return which ? c->kv_tv : c->kv_tk;
}

size_t model_ctx_kv_row_bytes(const chord_ctx *c, int which)
{
    return (which ? c->kv_ldv : c->kv_ldk) * sizeof(uint16_t) * (size_t)c->m->cfg.n_head_kv;
}

int model_ctx_kv_ring(const chord_ctx *c, int il)
{
    return c->kv_ring[il];
}

int model_ctx_kv_ring_lo(const chord_ctx *c)
{
    return c->ring_lo;
}

/* A saved row is the heads' rows one after the other. */
void model_ctx_kv_get(const chord_ctx *c, int il, int which, int pos, void *dst)
{
    size_t hb = (which ? c->kv_ldv : c->kv_ldk) * sizeof(uint16_t);
    for (int g = 0; g < c->m->cfg.n_head_kv; g++)
        memcpy((uint8_t *)dst + (size_t)g * hb, model_kv_row(c, which, il, g, pos), hb);
}

void model_ctx_kv_put(chord_ctx *c, int il, int which, int pos, const void *src)
{
    size_t hb = (which ? c->kv_ldv : c->kv_ldk) * sizeof(uint16_t);
    for (int g = 0; g < c->m->cfg.n_head_kv; g++)
        memcpy(model_kv_row(c, which, il, g, pos), (const uint8_t *)src + (size_t)g * hb, hb);
}

void model_ctx_kv_restore(chord_ctx *c, int pos, int ring_lo)
{
    c->pos = pos;
    c->ring_lo = ring_lo;
}
