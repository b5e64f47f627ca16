/*
 * model_shift: the context shift (chord_ctx_drop, model_ctx_rebase).
 *
 * A shifted cache is not a re-prefill (the kept tokens attended to what
 * was dropped), so the test holds the mechanism to a property that must
 * hold: RoPE attention depends only on position differences, so tokens
 * prefilled from position D (the pos_offset hook) and then turned back by
 * D hold, in every layer, the cache prefilling them from 0 gives, and the
 * next token gets the same logits within the comparison protocol's
 * bounds. Layer 0's keys and values depend on nothing but the token and
 * its position, so there the bound is F16 rounding: keys within 2 F16
 * ulps of their pair's magnitude (the stored key is rounded, turned and
 * rounded again), values bit for bit. Deeper layers see the attention of
 * the layers before, whose rounding depends on the angles: their caches
 * agree to a small relative error.
 *
 * Then chord_ctx_drop itself: prefix + junk + tail with the junk dropped
 * gives layer 0 the cache of prefix + tail (rows moved, keys turned; a
 * sliding-window model's ring rewritten), and a drop whose next window
 * would need positions the rings lost is refused with the cache intact.
 *
 * Without an argument: synthetic models made by chord synth (llama,
 * LongRoPE phi3, gemma3 with a ring, gpt-oss with YaRN, sinks and a ring);
 * with "shared": the ../shared models of every family.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "quant/quant.h"
#include "t.h"

/* A check the rest depends on: fail and end the test here. */
#define NEED(cond, ...)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            t_fail_at(__FILE__, __LINE__, __VA_ARGS__);                                            \
            exit(t_done());                                                                        \
        }                                                                                          \
    } while (0)

/* One F16 ulp at magnitude x. */
static double f16_ulp(double x)
{
    x = fabs(x);
    if (x < 6.103515625e-05) /* subnormal range: fixed step */
        return 5.960464477539063e-08;
    return ldexp(1.0, (int)floor(log2(x)) - 10);
}

static chord_ctx *new_ctx(chord_model *m, int n_ctx, int pos_offset)
{
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = n_ctx;
    cp.pos_offset = pos_offset;
    chord_ctx *c = NULL;
    chord_err err;
    if (chord_ctx_new(m, &cp, &c, &err) != CHORD_OK)
        t_fail_at(__FILE__, __LINE__, "ctx: %s", err.msg);
    return c;
}

typedef struct cmp {
    double k_ulps;   /* worst key difference in ulps of its pair's magnitude */
    int v_diff;      /* values that differ */
    double rel;      /* rms difference / rms of the reference, K and V */
} cmp;

/* Compares layer il's positions lo..hi-1 of got (at position p + off)
 * with ref (at p). */
static cmp compare_layer(const chord_ctx *got, const chord_ctx *ref, int il, int lo, int hi, int off)
{
    const model_config *cf = &ref->m->cfg;
    int hd = cf->head_dim, half = cf->n_rot / 2;
    bool neox = cf->rc->rope_neox;
    cmp r = {0, 0, 0};
    double se = 0, ss = 0;
    for (int p = lo; p < hi; p++) {
        for (int h = 0; h < cf->n_head_kv; h++) {
            const uint16_t *gk = model_kv_row(got, 0, il, h, p + off), *rk = model_kv_row(ref, 0, il, h, p);
            const uint16_t *gv = model_kv_row(got, 1, il, h, p + off), *rv = model_kv_row(ref, 1, il, h, p);
            for (int i = 0; i < hd; i++) {
                /* the partner of a rotated element, for the pair's magnitude */
                int pi = i;
                if (i < 2 * half)
                    pi = neox ? (i < half ? i + half : i - half) : (i ^ 1);
                double a = quant_f16_to_f32(rk[i]), b = quant_f16_to_f32(gk[i]);
                double mag = fmax(fabs(a), fabs(quant_f16_to_f32(rk[pi])));
                double u = fabs(a - b) / f16_ulp(mag);
                if (u > r.k_ulps)
                    r.k_ulps = u;
                double va = quant_f16_to_f32(rv[i]), vb = quant_f16_to_f32(gv[i]);
                r.v_diff += rv[i] != gv[i];
                se += (a - b) * (a - b) + (va - vb) * (va - vb);
                ss += a * a + va * va;
            }
        }
    }
    r.rel = ss > 0 ? sqrt(se / ss) : 0;
    return r;
}

static double nrmse(const float *a, const float *ref, int n)
{
    double se = 0, ss = 0;
    for (int i = 0; i < n; i++) {
        se += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
        ss += (double)ref[i] * ref[i];
    }
    return ss > 0 ? sqrt(se / ss) : 0;
}

static int argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b])
            b = i;
    return b;
}

static void make_tokens(chord_token *t, int n, int n_vocab, uint64_t seed)
{
    uint64_t s = seed;
    for (int i = 0; i < n; i++)
        t[i] = 3 + (chord_token)(t_rand(&s) % (uint64_t)(n_vocab - 3));
}

/* The comparison protocol's bounds for a model's class (../shared's
 * README): next-token logits' NRMSE, and the reference margin above which
 * the argmax must agree; and what the deeper layers' caches may differ by
 * (relative rms over a layer's K and V): F16 rounding for float weights,
 * for quantized ones the 8-bit quantization of activations, whose
 * roundings flip with the smallest change of the hidden state (it does
 * not grow with D: 13 and 2,000 positions give the same). */
typedef struct bounds {
    double nrmse, margin, cache_rel;
} bounds;
static const bounds B_F16 = {1e-3, 0.05, 2e-3};
static const bounds B_QUANT = {2.5e-2, 0.4, 2.5e-2};

/* Prefill from D then turn back by D against a prefill from 0: every
 * layer's cache, then the next token's logits. */
static void check_rebase(const char *name, chord_model *m, int n_ctx, int n, int D, bounds bd)
{
    const model_config *cf = &m->cfg;
    chord_ctx *a = new_ctx(m, n_ctx, D), *b = new_ctx(m, n_ctx, 0);
    if (!a || !b) {
        chord_ctx_free(a);
        chord_ctx_free(b);
        return;
    }
    chord_token *t = malloc((size_t)(n + 1) * sizeof *t);
    float *la = malloc((size_t)cf->n_vocab * sizeof *la), *lb = malloc((size_t)cf->n_vocab * sizeof *lb);
    make_tokens(t, n + 1, cf->n_vocab, 0x5eed + (uint64_t)D);
    chord_err err;
    NEED(chord_ctx_eval(a, t, n, NULL, false, &err) == CHORD_OK, "%s: eval at %d: %s", name, D, err.msg);
    NEED(chord_ctx_eval(b, t, n, NULL, false, &err) == CHORD_OK, "%s: eval: %s", name, err.msg);
    NEED(model_ctx_rebase(a, -D, &err) == CHORD_OK, "%s: rebase: %s", name, err.msg);
    double worst_rel = 0;
    for (int il = 0; il < cf->n_layer; il++) {
        cmp r = compare_layer(a, b, il, 0, n, 0);
        if (il == 0) {
            T_CHECK(r.k_ulps <= 2.0, "%s D=%d layer 0: a key %.2f F16 ulps off", name, D, r.k_ulps);
            T_CHECK(r.v_diff == 0, "%s D=%d layer 0: %d values differ", name, D, r.v_diff);
            printf("%s D=%d: layer 0 keys within %.2f ulps, values exact\n", name, D, r.k_ulps);
        }
        if (r.rel > worst_rel)
            worst_rel = r.rel;
    }
    /* deeper layers: the rounding of attention at other angles, no more */
    T_CHECK(worst_rel < bd.cache_rel, "%s D=%d: a layer's cache differs by %.2e relative", name, D,
            worst_rel);
    NEED(chord_ctx_eval(a, t + n, 1, la, false, &err) == CHORD_OK, "%s: next: %s", name, err.msg);
    NEED(chord_ctx_eval(b, t + n, 1, lb, false, &err) == CHORD_OK, "%s: next: %s", name, err.msg);
    double e = nrmse(la, lb, cf->n_vocab);
    int ta = argmax(la, cf->n_vocab), tb = argmax(lb, cf->n_vocab);
    T_CHECK(e <= bd.nrmse, "%s D=%d: next-token logits NRMSE %.2e > %.1e", name, D, e, bd.nrmse);
    float top = lb[tb], second = -INFINITY;
    for (int i = 0; i < cf->n_vocab; i++)
        if (i != tb && lb[i] > second)
            second = lb[i];
    T_CHECK(ta == tb || top - second < bd.margin, "%s D=%d: next token %d, from 0: %d (margin %.3f)",
            name, D, ta, tb, top - second);
    printf("%s D=%d: caches within %.2e relative, next-token logits NRMSE %.2e\n", name, D, worst_rel, e);
    free(t);
    free(la);
    free(lb);
    chord_ctx_free(a);
    chord_ctx_free(b);
}

/* prefix + junk + tail, junk dropped, against prefix + tail: layer 0
 * holds the same keys (2 ulps) and values (exact) at every position the
 * cache still holds; the other layers' rows are where they belong (their
 * entries carry the junk's influence, so no values are compared). */
static void check_drop(const char *name, chord_model *m, int n_ctx, int np, int nj, int nt)
{
    const model_config *cf = &m->cfg;
    chord_ctx *a = new_ctx(m, n_ctx, 0), *b = new_ctx(m, n_ctx, 0);
    if (!a || !b) {
        chord_ctx_free(a);
        chord_ctx_free(b);
        return;
    }
    int n = np + nj + nt;
    chord_token *t = malloc((size_t)n * sizeof *t), *u = malloc((size_t)(np + nt) * sizeof *u);
    make_tokens(t, n, cf->n_vocab, 0xd209 + (uint64_t)n);
    memcpy(u, t, (size_t)np * sizeof *u);
    memcpy(u + np, t + np + nj, (size_t)nt * sizeof *u);
    chord_err err;
    NEED(chord_ctx_eval(a, t, n, NULL, false, &err) == CHORD_OK, "%s: eval: %s", name, err.msg);
    NEED(chord_ctx_eval(b, u, np + nt, NULL, false, &err) == CHORD_OK, "%s: eval: %s", name, err.msg);
    NEED(chord_ctx_drop(a, np, np + nj, &err) == CHORD_OK, "%s: drop: %s", name, err.msg);
    T_EQ_INT(chord_ctx_pos(a), np + nt);
    /* what a ring still holds: the positions ring_lo.. */
    int lo = a->ring_lo;
    bool ring = false;
    for (int il = 0; il < cf->n_layer; il++)
        ring |= a->kv_ring[il] != 0;
    T_CHECK(lo <= np + nt - cf->n_swa + 1 || !ring, "%s: the window after the drop is intact", name);
    cmp r = compare_layer(a, b, 0, cf->swa[0] && a->kv_ring[0] ? lo : 0, np + nt, 0);
    T_CHECK(r.k_ulps <= 2.0, "%s drop: layer 0 key %.2f ulps off", name, r.k_ulps);
    T_CHECK(r.v_diff == 0, "%s drop: %d layer-0 values differ", name, r.v_diff);
    printf("%s: dropped %d of %d positions (ring from %d): layer 0 keys within %.2f ulps, values exact\n",
           name, nj, n, lo, r.k_ulps);
    /* decoding goes on from the shifted cache */
    T_CHECK(chord_ctx_eval(a, t, 1, NULL, false, &err) == CHORD_OK, "%s: eval after drop: %s", name,
            err.msg);
    free(t);
    free(u);
    chord_ctx_free(a);
    chord_ctx_free(b);
}

/* A sliding-window model whose rings lost the positions the next window
 * needs: refused, cache untouched. */
static void check_refused(const char *name, chord_model *m, int n_ctx, int np, int nj, int nt)
{
    chord_ctx *a = new_ctx(m, n_ctx, 0);
    if (!a)
        return;
    int n = np + nj + nt;
    chord_token *t = malloc((size_t)n * sizeof *t);
    make_tokens(t, n, m->cfg.n_vocab, 7);
    chord_err err;
    NEED(chord_ctx_eval(a, t, n, NULL, false, &err) == CHORD_OK, "%s: eval: %s", name, err.msg);
    size_t bytes = a->kv_bytes / 2;
    uint16_t *k0 = malloc(bytes);
    memcpy(k0, a->kcache, bytes);
    T_EQ_INT(chord_ctx_drop(a, np, np + nj, &err), CHORD_E_UNSUPPORTED);
    T_EQ_INT(chord_ctx_pos(a), n);
    T_CHECK(!memcmp(k0, a->kcache, bytes), "%s: a refused drop left the cache alone", name);
    printf("%s: refused: %s\n", name, err.msg);
    free(k0);
    free(t);
    chord_ctx_free(a);
}

static chord_model *load(const char *path)
{
    chord_model_params mp = chord_model_default_params();
    mp.n_threads = 2;
    chord_model *m = NULL;
    chord_err err;
    if (chord_model_load(path, &mp, &m, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "load %s: %s", path, err.msg);
        return NULL;
    }
    return m;
}

static chord_model *synth(const char *name, const char *args)
{
    char path[4096], cmd[8192];
    snprintf(path, sizeof path, "%s/%s.gguf", t_tmpdir(), name);
    snprintf(cmd, sizeof cmd, "'%s' synth %s -o '%s' >/dev/null", t_chord_bin(), args, path);
    if (t_run(cmd, NULL) != 0) {
        t_fail_at(__FILE__, __LINE__, "%s", cmd);
        return NULL;
    }
    return load(path);
}

static void run_synth(void)
{
    static const struct {
        const char *name, *args;
        bool ring;
    } mods[] = {
        {"llama", "--arch llama --dim 64 --layers 3 --heads 4 --kv-heads 2 --ffn 128 --vocab 300 --type F16", false},
        {"phi3", "--arch phi3 --dim 64 --layers 2 --heads 4 --kv-heads 4 --ffn 128 --vocab 300 --type F16", false},
        {"gemma3", "--arch gemma3 --dim 64 --layers 6 --heads 2 --kv-heads 1 --head-dim 32 --ffn 128 --vocab 300 --window 16 --type F16", true},
        {"gpt-oss", "--arch gpt-oss --dim 64 --layers 2 --heads 4 --kv-heads 2 --head-dim 32 --ffn 64 --experts 4 --experts-used 2 --vocab 300 --window 8 --type F16", true},
    };
    for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
        chord_model *m = synth(mods[i].name, mods[i].args);
        if (!m)
            continue;
        check_rebase(mods[i].name, m, 1024, 40, 700, B_F16);
        check_rebase(mods[i].name, m, 1024, 40, 37, B_F16);
        /* past a ring's length (16 + 128 + 256 rows), so the ring wraps */
        check_drop(mods[i].name, m, 1024, 8, 300, 200);
        check_drop(mods[i].name, m, 1024, 8, 20, 30);
        if (mods[i].ring)
            check_refused(mods[i].name, m, 1024, 8, 600, 2);
        chord_model_free(m);
    }
}

static void run_shared(void)
{
    static const struct {
        const char *file;
        bounds b;
        int n_ctx;
    } mods[] = {
        {"models/a-spm-f16.gguf", B_F16, 1024},     {"models/a-spm-q8_0.gguf", B_QUANT, 1024},
        {"models/c-qwen2-q8_0.gguf", B_QUANT, 1024}, {"models/f-qwen3-q8_0.gguf", B_QUANT, 1024},
        {"models/i-phi3-q8_0.gguf", B_QUANT, 1024},  {"models/g-gemma3-q8_0.gguf", B_QUANT, 2048},
        {"models/h-gemma2-q8_0.gguf", B_QUANT, 2048}, {"models/n-gptoss-mxfp4.gguf", B_QUANT, 1024},
    };
    for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
        chord_model *m = load(t_shared(mods[i].file));
        if (!m)
            continue;
        const char *name = strrchr(mods[i].file, '/') + 1;
        int n_ctx = mods[i].n_ctx < m->cfg.n_ctx_train ? mods[i].n_ctx : m->cfg.n_ctx_train;
        check_rebase(name, m, n_ctx, 40, n_ctx - 100, mods[i].b);
        check_rebase(name, m, n_ctx, 40, 13, mods[i].b);
        check_drop(name, m, n_ctx, 8, n_ctx / 2, n_ctx / 3);
        chord_model_free(m);
    }
}

int main(int argc, char **argv)
{
    chord_init();
    if (argc > 1 && !strcmp(argv[1], "shared"))
        run_shared();
    else
        run_synth();
    return t_done();
}
