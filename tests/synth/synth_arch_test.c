/*
 * synth_arch_test.c - `chord synth --arch qwen3|gemma2|gemma3|phi3`:
 *
 *  - at the shapes of the shared fixtures of each family (with their
 *    vocabularies), the tensor names, types and shapes are exactly those
 *    of the fixture, and the family's metadata keys ("<arch>.*") are the
 *    same set (qwen3's key/value lengths, gemma's windows and soft-caps,
 *    phi3's LongRoPE keys), with the values the shape implies, and
 *    chord inspect's model summary says what they mean;
 *  - each such model loads, and a forward pass gives n_vocab finite,
 *    spread logits per position whose argmax varies with the input;
 *  - phi3's LongRoPE divisors rise from 1 and its attention factor is
 *    sqrt(1 + ln(ctx / orig) / ln(orig));
 *  - gemma3 lays out 5 local layers to 1 global (the KV description names
 *    the local layers' rings once the context exceeds the window and a
 *    batch), gemma2 every other layer, and one batch gives the same logits
 *    as token-by-token steps past the window;
 *  - a generated vocabulary carries the family's chat tokens and a
 *    template that renders turns with them;
 *  - a gemma3 at Gemma-3-1B widths (1152: not a multiple of 256) writes in
 *    Q4_K_M with the llama.cpp fallbacks (Q5_0, the tied embedding Q8_0)
 *    and runs;
 *  - llama.cpp's type rules for the new tensors: phi3's attn_qkv, a tied
 *    embedding (synth and chord quantize), IQ4_XS's early ffn_down;
 *  - bad uses (a window on a family without one, an odd head size) are
 *    usage errors.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "synth_common.h"
#include "t.h"

/* `chord inspect path` output, malloc'd, or NULL after a failure. */
static char *inspect(const char *path)
{
    char cmd[8400];
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "'%s' inspect '%s'", t_chord_bin(), path);
    int rc = t_run(cmd, &out);
    if (rc != 0 || !out) {
        t_fail_at(__FILE__, __LINE__, "%s exited %d", cmd, rc);
        free(out);
        return NULL;
    }
    return out;
}

/* Logits of n positions: finite, spread, argmax varying with position. */
static void check_logits(const char *what, const float *l, int n, int nv)
{
    int changes = 0, prev = -1;
    for (int p = 0; p < n; p++) {
        const float *r = l + (size_t)p * (size_t)nv;
        double sum = 0, sq = 0;
        int best = 0, bad = 0;
        for (int v = 0; v < nv; v++) {
            bad += !isfinite(r[v]);
            sum += r[v];
            sq += (double)r[v] * r[v];
            if (r[v] > r[best])
                best = v;
        }
        double sd = sqrt(sq / nv - (sum / nv) * (sum / nv));
        T_CHECK(bad == 0, "%s: position %d: %d non-finite logits", what, p, bad);
        T_CHECK(sd > 0.5, "%s: position %d: logits hardly spread (deviation %.3g)", what, p, sd);
        changes += prev >= 0 && best != prev;
        prev = best;
        if (p == n - 1)
            printf("%s: logit deviation %.2f at the last position, argmax changed %d times in %d\n",
                   what, sd, changes, n);
    }
    T_CHECK(changes >= n / 4, "%s: argmax barely depends on the input (%d changes in %d)", what,
            changes, n);
}

static double get_f32(const char *path, const char *key)
{
    gguf_file *f = NULL;
    chord_err err;
    double v = NAN;
    if (gguf_open(path, &f, &err) != CHORD_OK || !gguf_get_float(f, key, &v))
        t_fail_at(__FILE__, __LINE__, "%s: no float key '%s'", path, key);
    gguf_close(f);
    return v;
}

static const struct family_case {
    const char *arch, *ref, *shape;
    int n_layer;
    const char *want[8];   /* inspect lines (substrings) the file must show */
    bool tied;
} cases[] = {
    {"qwen3", "models/f-qwen3-q8_0.gguf",
     "--dim 128 --layers 3 --heads 4 --kv-heads 2 --head-dim 64 --ffn 384", 3,
     {"qwen3.attention.key_length               u32    64", "qwen3.attention.value_length",
      "blk.0.attn_q_norm.weight         F32   64 ", "blk.0.attn_q.weight              Q8_0  128 x 256",
      "qwen3.rope.freq_base                     f32    1000000",
      "  attention: 4 heads x 64 (256 wide), 2 KV heads (2 queries each)\n",
      "  block (layer 0): llama's plus q/k norms\n"}, false},
    {"gemma3", "models/g-gemma3-q8_0.gguf",
     "--dim 128 --layers 6 --heads 4 --kv-heads 1 --head-dim 64 --ffn 384 --window 8", 6,
     {"gemma3.rope.freq_base_swa                f32    10000", "gemma3.attention.sliding_window          u32    8",
      "blk.5.post_ffw_norm.weight", "blk.0.post_attention_norm.weight", "blk.0.attn_k_norm.weight",
      "  rope: base 1000000 (local layers 10000), 64 of 64 dims rotated per head\n  sliding window: 8 positions\n",
      "  output: tied to token_embd (no output.weight)\n",
      "  block (layer 0): llama's plus q/k norms, post-attention norm, post-FFN norm\n"}, true},
    {"gemma2", "models/h-gemma2-q8_0.gguf",
     "--dim 128 --layers 4 --heads 4 --kv-heads 2 --head-dim 32 --ffn 384 --window 8", 4,
     {"gemma2.attn_logit_softcapping            f32    50", "gemma2.final_logit_softcapping           f32    30",
      "gemma2.attention.sliding_window          u32    8", "blk.3.post_ffw_norm.weight",
      "  soft-capping: attention scores 50, logits 30\n", "  output: tied to token_embd (no output.weight)\n",
      "  block (layer 0): llama's plus post-attention norm, post-FFN norm\n"}, true},
    {"phi3", "models/i-phi3-q8_0.gguf", "--dim 128 --layers 3 --heads 4 --kv-heads 4 --ffn 256", 3,
     {"phi3.rope.scaling.original_context_length u32    4096", "phi3.rope.scaling.attn_factor             f32    1.19023812",
      "rope_factors_long.weight         F32   16 ", "blk.0.attn_qkv.weight            Q8_0  128 x 384",
      "blk.0.ffn_up.weight              Q8_0  128 x 512",
      "  LongRoPE: trained at 4096, stretched x32 to 131072, attention factor 1.19023812, long and short factors (16 each)\n",
      "  block (layer 0): llama's plus fused q/k/v, fused gate+up (no ffn_gate)\n"}, false},
};

static void test_fixture_shapes(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct family_case *c = &cases[i];
        const char *ref = t_shared(c->ref);
        char args[4800];
        snprintf(args, sizeof args, "--arch %s %s --vocab-from '%s' --type Q8_0 --seed %zu", c->arch,
                 c->shape, ref, i + 7);
        const char *path = sy_synth(c->arch, args);
        if (!path)
            continue;
        T_EQ_INT(sy_same_layout(path, ref), 0);
        T_EQ_INT(sy_same_arch_keys(path, ref, c->arch), 0);
        char *text = inspect(path);
        for (int k = 0; text && k < 8 && c->want[k]; k++)
            T_CHECK(strstr(text, c->want[k]), "%s: inspect does not show '%s'", c->arch, c->want[k]);
        /* a tied model has no output matrix (attn_output is another) */
        T_CHECK(text && !strstr(text, "\n  output.weight ") == c->tied,
                "%s: output.weight %s", c->arch, c->tied ? "present in a tied model" : "missing");
        free(text);

        chord_token toks[16] = {1, 450, 996, 1735, 1701, 432, 2074, 310, 278, 1736, 1203, 2988, 29, 77, 3000, 5};
        int nv = 0;
        float *l = sy_logits(path, toks, 16, &nv);
        if (!l)
            continue;
        T_EQ_INT(nv, 4096);
        check_logits(c->arch, l, 16, nv);
        free(l);
    }
}

static void test_phi3_longrope(void)
{
    const char *path = sy_synth("phi3-rope", "--arch phi3 --dim 64 --layers 1 --heads 2 --ffn 128 --vocab 600 --type F32 --ctx 65536");
    if (!path)
        return;
    double want = sqrt(1.0 + log(65536.0 / 4096.0) / log(4096.0));
    T_NEAR(get_f32(path, "phi3.rope.scaling.attn_factor"), want, 1e-6);
    gguf_file *f = NULL;
    chord_err err;
    size_t len = 0;
    char *bytes = t_read_file(path, &len);
    if (!bytes || gguf_open(path, &f, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", bytes ? err.msg : "read failed");
        free(bytes);
        return;
    }
    int64_t v = 0;
    T_CHECK(gguf_get_int(f, "phi3.rope.scaling.original_context_length", &v) && v == 4096,
            "original context %lld", (long long)v);
    T_CHECK(gguf_get_int(f, "phi3.context_length", &v) && v == 65536, "context %lld", (long long)v);
    const char *names[2] = {"rope_factors_long.weight", "rope_factors_short.weight"};
    for (int k = 0; k < 2; k++) {
        const gguf_tensor *t = gguf_find_tensor(f, names[k]);
        T_CHECK(t && t->type == 0 && t->n_dims == 1 && t->ne[0] == 16, "%s: type or shape", names[k]);
        if (!t || t->ne[0] != 16 || t->offset + 64 > len)
            continue;
        float x[16];
        memcpy(x, bytes + t->offset, sizeof x);
        T_NEAR(x[0], 1.0, 1e-6);
        /* long: up to twice the stretch (16); short: up to 2 */
        T_NEAR(x[15], k == 0 ? 32.0 : 2.0, 1e-4);
        for (int i = 1; i < 16; i++)
            T_CHECK(x[i] > x[i - 1], "%s: not rising at %d", names[k], i);
    }
    gguf_close(f);
    free(bytes);
}

/* The KV cache layout of a context of n_ctx over path. */
static void check_describe(const char *path, int n_ctx, const char *want)
{
    chord_model_params mp = chord_model_default_params();
    mp.n_threads = 2;
    chord_model *m = NULL;
    chord_ctx *c = NULL;
    chord_err err;
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = n_ctx;
    if (chord_model_load(path, &mp, &m, &err) != CHORD_OK || chord_ctx_new(m, &cp, &c, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s: %s", path, err.msg);
        chord_model_free(m);
        return;
    }
    const char *d = chord_ctx_describe(c);
    T_CHECK(strstr(d, want), "%s at n_ctx %d: '%s' does not say '%s'", path, n_ctx, d, want);
    chord_ctx_free(c);
    chord_model_free(m);
}

static void test_window_layout(void)
{
    const char *g3 = sy_synth("g3-layers", "--arch gemma3 --dim 64 --layers 12 --heads 2 --kv-heads 1 --head-dim 32 --ffn 128 --vocab 600 --type Q8_0 --window 16");
    if (g3) {
        /* of every 6 layers, the first 5 are local */
        check_describe(g3, 1024, "2 layers x 1024 positions (");
        check_describe(g3, 1024, "), 10 local layers x a ring of");
        check_describe(g3, 1024, "(window 16)");
        /* a context the window plus a batch and the slack covers: no rings */
        check_describe(g3, 256, "12 layers x 256 positions");
    }
    const char *g2 = sy_synth("g2-layers", "--arch gemma2 --dim 64 --layers 4 --heads 2 --kv-heads 1 --ffn 128 --vocab 600 --type Q8_0");
    if (g2) {
        /* gemma2's default window is 4096: a longer context is needed */
        check_describe(g2, 8192, "2 layers x 8192 positions (");
        check_describe(g2, 8192, "), 2 local layers x a ring of");
    }
    const char *dflt = sy_synth("g3-default", "--arch gemma3 --dim 64 --layers 6 --heads 2 --kv-heads 1 --ffn 128 --vocab 600 --type Q8_0");
    if (dflt) {
        check_describe(dflt, 2048, "5 local layers");
        check_describe(dflt, 2048, "(window 512)");
        T_NEAR(get_f32(dflt, "gemma3.rope.freq_base"), 1e6, 0);
        T_NEAR(get_f32(dflt, "gemma3.rope.freq_base_swa"), 1e4, 0);
    }
}

/* Batches and single-token steps agree far past the window: the local
 * layers see only the last window positions either way, and at these
 * contexts their KV rings (window + batch + slack = 388 rows) wrap. */
static void test_window_consistency(void)
{
    const char *p = sy_synth("g3-steps", "--arch gemma3 --dim 64 --layers 6 --heads 2 --kv-heads 1 --head-dim 32 --ffn 128 --vocab 600 --type F32 --window 4");
    if (!p)
        return;
    enum { N = 480 };
    chord_token toks[N];
    for (int i = 0; i < N; i++)
        toks[i] = (chord_token)(1 + (i * 37) % 590);
    int nv = 0;
    float *batch = sy_logits(p, toks, N, &nv);
    if (!batch)
        return;
    check_logits("gemma3 window 4", batch, N, nv);
    chord_model_params mp = chord_model_default_params();
    mp.n_threads = 2;
    chord_model *m = NULL;
    chord_ctx *c = NULL;
    chord_err err;
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = 1024;
    float *one = malloc((size_t)nv * sizeof *one);
    if (one && chord_model_load(p, &mp, &m, &err) == CHORD_OK && chord_ctx_new(m, &cp, &c, &err) == CHORD_OK) {
        double worst = 0;
        for (int i = 0; i < N; i++) {
            if (chord_ctx_eval(c, &toks[i], 1, one, false, &err) != CHORD_OK) {
                t_fail_at(__FILE__, __LINE__, "step %d: %s", i, err.msg);
                break;
            }
            double e = sy_nrmse(one, batch + (size_t)i * (size_t)nv, (size_t)nv);
            worst = e > worst ? e : worst;
        }
        T_CHECK(worst < 3e-3, "gemma3: steps and one batch differ (nrmse %.3g)", worst);
        printf("gemma3, window 4: %d single steps against batches: worst nrmse %.3g (%s)\n", N,
               worst, chord_ctx_describe(c));
    } else {
        t_fail_at(__FILE__, __LINE__, "%s", one ? err.msg : "out of memory");
    }
    chord_ctx_free(c);
    chord_model_free(m);
    free(one);
    free(batch);
}

/* A generated vocabulary: the family's chat tokens at its end, a template
 * that uses them, and the tokenizer reading them back as single tokens. */
static void test_generated_chat_vocab(void)
{
    static const struct { const char *arch, *extra, *turn_end; } fams[] = {
        {"qwen3", "--head-dim 32", "<|im_end|>"},
        {"gemma3", "--head-dim 32", "<end_of_turn>"},
        {"gemma2", "", "<end_of_turn>"},
        {"phi3", "", "<|end|>"},
    };
    for (size_t i = 0; i < sizeof fams / sizeof *fams; i++) {
        char args[512], name[32];
        snprintf(args, sizeof args, "--arch %s --dim 64 --layers 2 --heads 2 --kv-heads 1 %s --ffn 128 --vocab 2000 --type Q8_0",
                 fams[i].arch, fams[i].extra);
        snprintf(name, sizeof name, "vocab-%s", fams[i].arch);
        const char *p = sy_synth(name, args);
        if (!p)
            continue;
        chord_model_params mp = chord_model_default_params();
        chord_model *m = NULL;
        chord_err err;
        if (chord_model_load(p, &mp, &m, &err) != CHORD_OK) {
            t_fail_at(__FILE__, __LINE__, "%s", err.msg);
            continue;
        }
        const char *tmpl = chord_model_meta_str(m, "tokenizer.chat_template");
        T_CHECK(tmpl && strstr(tmpl, fams[i].turn_end), "%s: template missing or without %s",
                fams[i].arch, fams[i].turn_end);
        chord_token t[8];
        int n = chord_tokenize(m, fams[i].turn_end, strlen(fams[i].turn_end), false, true, t, 8, &err);
        T_CHECK(n == 1 && t[0] >= 2000 - 6 && chord_token_is_eog(m, t[0]),
                "%s: '%s' is %d tokens (first %d), not one end-of-turn token", fams[i].arch,
                fams[i].turn_end, n, n > 0 ? t[0] : -1);
        chord_model_free(m);
        /* and the renderer takes it */
        char cmd[8400], *out = NULL;
        snprintf(cmd, sizeof cmd, "printf '%%s' '[{\"role\":\"user\",\"content\":\"hi\"}]' > '%s/m.json' && '%s' chat-template -m '%s' --messages '%s/m.json'",
                 t_tmpdir(), t_chord_bin(), p, t_tmpdir());
        int rc = t_run(cmd, &out);
        T_CHECK(rc == 0 && out && strstr(out, fams[i].turn_end) && strstr(out, "hi"),
                "%s: template render (exit %d): %s", fams[i].arch, rc, out ? out : "");
        free(out);
    }
    /* llama's generated vocabulary stays as it was: no template */
    const char *p = sy_synth("vocab-llama", "--arch llama --dim 64 --layers 1 --heads 2 --ffn 128 --vocab 600 --type F32");
    char *text = p ? inspect(p) : NULL;
    T_CHECK(text && !strstr(text, "chat_template"), "llama: a template appeared");
    free(text);
}

/* Gemma-3-1B widths: 1152 is not a multiple of 256, so Q4_K falls back to
 * Q5_0 and the tied embedding's Q6_K to Q8_0, as llama.cpp does. */
static void test_gemma3_1b_widths(void)
{
    const char *p = sy_synth("g3-1b", "--arch gemma3 --dim 1152 --layers 2 --heads 4 --kv-heads 1 --head-dim 256 --ffn 6912 --vocab 4096 --type Q4_K_M --fast");
    if (!p)
        return;
    gguf_file *f = NULL;
    chord_err err;
    if (gguf_open(p, &f, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
        return;
    }
    static const struct { const char *name; int type; } want[] = {
        {"token_embd.weight", 8 /* Q8_0 */}, {"blk.0.attn_q.weight", 6 /* Q5_0 */},
        {"blk.1.ffn_gate.weight", 6}, {"blk.0.attn_output.weight", 12 /* Q4_K: 1024 wide */},
        {"blk.0.ffn_down.weight", 12 /* 6912 = 27 x 256 */},
        {"blk.1.ffn_down.weight", 14 /* Q6_K: the last eighth */},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const gguf_tensor *t = gguf_find_tensor(f, want[i].name);
        T_CHECK(t && t->type == want[i].type, "%s: type %d, want %d", want[i].name, t ? t->type : -1,
                want[i].type);
    }
    T_CHECK(!gguf_find_tensor(f, "output.weight"), "gemma3 with an output matrix");
    gguf_close(f);
    chord_token toks[6] = {1, 100, 2000, 3000, 4000, 50};
    int nv = 0;
    float *l = sy_logits(p, toks, 6, &nv);
    if (l) {
        T_EQ_INT(nv, 4096);
        check_logits("gemma3 1152", l, 6, nv);
    }
    free(l);
}

/* The type of tensor name in path (-1 when absent). */
static int type_of(const char *path, const char *name)
{
    gguf_file *f = NULL;
    chord_err err;
    if (gguf_open(path, &f, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
        return -1;
    }
    const gguf_tensor *t = gguf_find_tensor(f, name);
    int type = t ? t->type : -1;
    gguf_close(f);
    return type;
}

/* llama.cpp's mix rules where the new families differ: phi3's fused q/k/v
 * one step up in Q4_K_M; a tied embedding quantized as the output matrix
 * (by synth and by chord quantize); IQ4_XS's first-eighth ffn_down in
 * Q5_K. Type ids: Q4_K 12, Q5_K 13, Q6_K 14, IQ4_XS 23. */
static void test_type_rules(void)
{
    const char *p = sy_synth("phi3-mix", "--arch phi3 --dim 256 --layers 8 --heads 4 --ffn 512 --vocab 600 --type Q4_K_M --fast");
    if (p) {
        T_EQ_INT(type_of(p, "blk.3.attn_qkv.weight"), 13);
        T_EQ_INT(type_of(p, "blk.3.ffn_up.weight"), 12);
        T_EQ_INT(type_of(p, "token_embd.weight"), 12);
        T_EQ_INT(type_of(p, "output.weight"), 14);
    }
    p = sy_synth("g2-f16", "--arch gemma2 --dim 256 --layers 2 --heads 4 --kv-heads 2 --ffn 512 --vocab 600 --type F16");
    if (p) {
        char cmd[9000];
        snprintf(cmd, sizeof cmd, "quantize '%s' '%s/g2-q4km.gguf' Q4_K_M", p, t_tmpdir());
        T_EQ_INT(sy_chord(cmd), 0);
        snprintf(cmd, sizeof cmd, "%s/g2-q4km.gguf", t_tmpdir());
        T_EQ_INT(type_of(cmd, "token_embd.weight"), 14);
        T_EQ_INT(type_of(cmd, "blk.0.attn_q.weight"), 12);
        T_EQ_INT(type_of(cmd, "output.weight"), -1);
    }
    p = sy_synth("g2-q4km", "--arch gemma2 --dim 256 --layers 2 --heads 4 --kv-heads 2 --ffn 512 --vocab 600 --type Q4_K_M --fast");
    if (p)
        T_EQ_INT(type_of(p, "token_embd.weight"), 14);
    p = sy_synth("q3-iq4xs", "--arch qwen3 --dim 256 --layers 8 --heads 4 --kv-heads 2 --head-dim 64 --ffn 512 --vocab 600 --type IQ4_XS --fast");
    if (p) {
        T_EQ_INT(type_of(p, "blk.0.ffn_down.weight"), 13);
        T_EQ_INT(type_of(p, "blk.1.ffn_down.weight"), 23);
        T_EQ_INT(type_of(p, "blk.0.attn_q.weight"), 23);
        T_EQ_INT(type_of(p, "output.weight"), 14);
        chord_token toks[6] = {1, 100, 200, 300, 400, 500};
        int nv = 0;
        float *l = sy_logits(p, toks, 6, &nv);
        if (l)
            check_logits("qwen3 IQ4_XS", l, 6, nv);
        free(l);
    }
}

static void test_usage_errors(void)
{
    const char *bad[] = {
        "--arch llama --dim 64 --layers 1 --heads 2 --ffn 128 --type F16 --window 8",
        "--arch phi3 --dim 64 --layers 1 --heads 2 --ffn 128 --type F16 --window 8",
        "--arch qwen3 --dim 64 --layers 1 --heads 2 --ffn 128 --type F16 --head-dim 31",
        "--arch gemma3 --dim 64 --layers 1 --heads 2 --kv-heads 3 --ffn 128 --type F16 --head-dim 32",
        "--arch gemma4 --dim 64 --layers 1 --heads 2 --ffn 128 --type F16",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char args[4800];
        snprintf(args, sizeof args, "synth %s -o '%s/bad.gguf'", bad[i], t_tmpdir());
        T_CHECK(sy_chord(args) == 2, "chord %s: want exit 2", args);
    }
}

int main(void)
{
    test_fixture_shapes();
    test_phi3_longrope();
    test_window_layout();
    test_window_consistency();
    test_generated_chat_vocab();
    test_gemma3_1b_widths();
    test_type_rules();
    test_usage_errors();
    return t_done();
}
