/*
 * lc_eval_test.c - streaming changes where the weights come from, never
 * the arithmetic: on the shared models, logits computed with budgets that
 * force streaming (one slot, two slots, pinned layers plus slots, all but
 * a byte) are BIT-IDENTICAL to the fully resident run.
 *
 *  - `chord eval --dump-logits` (one batch: one pass over the layers) with
 *    each budget, compared byte for byte with the resident dump;
 *  - in process, token-by-token decoding (one pass per token, so the slot
 *    ring wraps many times) with prefetch distances 0..4 and O_DIRECT,
 *    compared with memcmp at every step.
 *
 * Budgets come from the file's own tensor table: the global group and
 * the largest layer, plus a little for the cache's 64-byte read alignment.
 */
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "t.h"

typedef struct model_sizes {
    uint64_t global, largest, first, total;
    int n_layer;
} model_sizes;

static bool sizes_of(const char *path, model_sizes *s)
{
    gguf_file *f = NULL;
    chord_err err;
    memset(s, 0, sizeof *s);
    if (gguf_open(path, &f, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
        return false;
    }
    uint64_t layer[CHORD_MAX_LAYERS] = {0};
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        int il = gguf_tensor_layer(t->name);
        s->total += t->nbytes;
        if (il < 0) {
            s->global += t->nbytes;
        } else if (il < CHORD_MAX_LAYERS) {
            layer[il] += t->nbytes;
            s->n_layer = il + 1 > s->n_layer ? il + 1 : s->n_layer;
        }
    }
    for (int i = 0; i < s->n_layer; i++)
        s->largest = layer[i] > s->largest ? layer[i] : s->largest;
    s->first = layer[0];
    gguf_close(f);
    return true;
}

/* prompt_tokens + greedy_tokens[:-1] of a reference file (teacher forcing). */
static int ref_tokens(const char *json_path, chord_token **out)
{
    size_t len;
    char *text = t_read_file(json_path, &len);
    chord_err err;
    chord_json *j = text ? chord_json_parse(text, len, &err) : NULL;
    free(text);
    if (!j)
        return -1;
    const chord_json *p = chord_json_get(j, "prompt_tokens");
    const chord_json *g = chord_json_get(j, "greedy_tokens");
    int n = 0;
    if (p && g && p->type == CHORD_JSON_ARRAY && g->type == CHORD_JSON_ARRAY && g->len > 0) {
        *out = malloc((p->len + g->len) * sizeof **out);
        for (size_t i = 0; *out && i < p->len; i++)
            (*out)[n++] = (chord_token)p->items[i].number;
        for (size_t i = 0; *out && i + 1 < g->len; i++)
            (*out)[n++] = (chord_token)g->items[i].number;
    }
    chord_json_free(j);
    return n;
}

/* Runs chord eval; returns the dumped logits (malloc'd, *len bytes) and
 * its stderr (the plan, with -v) in *plan. */
static char *eval_dump(const char *model, const char *toks, const char *budget,
                       const char *out, char **plan, size_t *len)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' eval -v -m '%s' --threads 2 --tokens '%s' --mem-budget %s --dump-logits '%s' 2>&1",
             t_chord_bin(), model, toks, budget, out);
    int rc = t_run(cmd, plan);
    if (rc != 0) {
        t_fail_at(__FILE__, __LINE__, "chord eval --mem-budget %s exited %d: %s", budget, rc,
                  *plan ? *plan : "");
        return NULL;
    }
    return t_read_file(out, len);
}

static void test_cli_budgets(const char *name, const model_sizes *s, const chord_token *toks, int n)
{
    char model[512], ref[4200], out[4200], list[8192] = "";
    snprintf(model, sizeof model, "models/%s.gguf", name);
    const char *path = t_shared(model);
    for (int i = 0, o = 0; i < n && o < (int)sizeof list - 16; i++)
        o += snprintf(list + o, sizeof list - (size_t)o, "%s%d", i ? " " : "", toks[i]);
    snprintf(ref, sizeof ref, "%s/%s.resident.f32", t_tmpdir(), name);
    snprintf(out, sizeof out, "%s/%s.stream.f32", t_tmpdir(), name);
    char *plan = NULL;
    size_t n_bytes;
    char *want = eval_dump(path, list, "all", ref, &plan, &n_bytes);
    free(plan);
    if (!want)
        return;
    T_CHECK(n_bytes > 0 && n_bytes % ((size_t)n * 4) == 0, "%s: resident dump has %zu bytes", name, n_bytes);
    struct { uint64_t budget; const char *says; } budgets[] = {
        {s->global + s->largest + 4096, "through 1 slot(s)"},
        {s->global + 2 * s->largest + 8192, "through 2 slot(s)"},
        {s->global + s->first + 3 * s->largest + 16384, "streaming"},
        {s->total - 1, "streaming"},
    };
    for (size_t i = 0; i < sizeof budgets / sizeof budgets[0]; i++) {
        if (budgets[i].budget >= s->total)
            budgets[i].says = "resident";
        char b[32];
        snprintf(b, sizeof b, "%llu", (unsigned long long)budgets[i].budget);
        plan = NULL;
        size_t got_len;
        char *got = eval_dump(path, list, b, out, &plan, &got_len);
        if (got) {
            T_CHECK(got_len == n_bytes && memcmp(got, want, n_bytes) == 0,
                    "%s: logits with --mem-budget %s differ from the resident run", name, b);
            T_CHECK(plan && strstr(plan, budgets[i].says),
                    "%s: --mem-budget %s: plan does not say '%s': %s", name, b, budgets[i].says,
                    plan ? plan : "");
        }
        free(got);
        free(plan);
    }
    free(want);
}

/* Decodes toks one at a time and returns every step's logits (malloc'd,
 * n x *n_vocab floats), or NULL after reporting a failure. */
static float *decode_all(const char *path, int64_t budget, int prefetch, bool direct,
                         const chord_token *toks, int n, int *n_vocab, char *plan, size_t cap)
{
    chord_model_params mp = chord_model_default_params();
    mp.mem_budget = budget;
    mp.prefetch = prefetch;
    mp.direct_io = direct;
    mp.n_threads = 2;
    chord_model *m = NULL;
    chord_ctx *c = NULL;
    chord_err err;
    if (chord_model_load(path, &mp, &m, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "load budget %lld: %s", (long long)budget, err.msg);
        return NULL;
    }
    snprintf(plan, cap, "%s", chord_model_plan(m));
    chord_model_info info;
    chord_model_get_info(m, &info);
    *n_vocab = info.n_vocab;
    float *out = malloc((size_t)n * (size_t)info.n_vocab * sizeof *out);
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = n + 8;
    bool ok = out && chord_ctx_new(m, &cp, &c, &err) == CHORD_OK;
    for (int i = 0; ok && i < n; i++)
        ok = chord_ctx_eval(c, &toks[i], 1, out + (size_t)i * (size_t)info.n_vocab, false, &err) == CHORD_OK;
    if (!ok)
        t_fail_at(__FILE__, __LINE__, "budget %lld prefetch %d: %s", (long long)budget, prefetch, err.msg);
    chord_stats st;
    chord_stats_get(m, &st);
    if (ok && st.streaming)
        T_CHECK(st.hits + st.stalls == (uint64_t)n * (uint64_t)(st.n_layer - st.n_resident),
                "budget %lld prefetch %d: hits %llu + stalls %llu != %d tokens x %d streamed layers",
                (long long)budget, prefetch, (unsigned long long)st.hits,
                (unsigned long long)st.stalls, n, st.n_layer - st.n_resident);
    chord_ctx_free(c);
    chord_model_free(m);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

static void test_decode_budgets(const char *name, const char *path, const model_sizes *s,
                                const chord_token *toks, int n)
{
    char plan[1024];
    int nv = 0, nv2 = 0;
    float *want = decode_all(path, -1, 2, false, toks, n, &nv, plan, sizeof plan);
    if (!want)
        return;
    /* every prefetch distance on the tightest budget (one slot), O_DIRECT
     * once; the distance asked (2) on the others */
    struct { uint64_t budget; int pf; bool direct; } runs[] = {
        {s->global + s->largest + 4096, 0, false}, {s->global + s->largest + 4096, 1, false},
        {s->global + s->largest + 4096, 2, false}, {s->global + s->largest + 4096, 3, false},
        {s->global + s->largest + 4096, 4, false},
        {s->global + s->largest + 32768, 2, true},
        {s->global + 2 * s->largest + 8192, 2, false},
        {s->global + s->first + 3 * s->largest + 16384, 4, false},
    };
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        uint64_t budget = runs[r].budget;
        int pf = runs[r].pf;
        bool direct = runs[r].direct;
        if (budget >= s->total)
            continue;  /* would be all resident: nothing to compare */
        float *got = decode_all(path, (int64_t)budget, pf, direct, toks, n, &nv2, plan, sizeof plan);
        if (!got)
            continue;
        T_CHECK(strstr(plan, "streaming") != NULL, "%s: not streaming: %s", name, plan);
        for (int i = 0; i < n; i++)
            if (memcmp(got + (size_t)i * (size_t)nv, want + (size_t)i * (size_t)nv,
                       (size_t)nv * sizeof *got) != 0) {
                t_fail_at(__FILE__, __LINE__, "%s: budget %llu prefetch %d%s: logits at step %d differ from the resident run",
                          name, (unsigned long long)budget, pf, direct ? " O_DIRECT" : "", i);
                break;
            }
        free(got);
    }
    free(want);
}

/* A synthetic 12-layer model: plans with several pinned layers, and 40
 * decoded tokens so the slot ring wraps 40 times. */
static void test_synth_many_layers(void)
{
    char path[4200], plan[1024];
    snprintf(path, sizeof path, "%s/synth12.gguf", t_tmpdir());
    chord_synth_params sp = {.arch = "llama", .dim = 256, .layers = 12, .heads = 8, .kv_heads = 4,
                             .ffn = 768, .vocab = 1000, .type = "Q4_K_M", .seed = 5};
    chord_err err;
    if (chord_synth(&sp, path, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "chord_synth: %s", err.msg);
        return;
    }
    model_sizes s;
    if (!sizes_of(path, &s))
        return;
    chord_token toks[40];
    for (int i = 0; i < 40; i++)
        toks[i] = (chord_token)(1 + (i * 37) % 999);
    int nv = 0, nv2 = 0;
    float *want = decode_all(path, -1, 2, false, toks, 40, &nv, plan, sizeof plan);
    if (!want)
        return;
    uint64_t per_layer = (s.total - s.global) / (uint64_t)s.n_layer;
    for (int pinned = 0; pinned <= 9; pinned += 3)
        for (int pf = 0; pf <= 4; pf += 2) {
            uint64_t budget = s.global + (uint64_t)pinned * per_layer +
                              (uint64_t)(pf + 1) * s.largest + 65536;
            float *got = decode_all(path, (int64_t)budget, pf, false, toks, 40, &nv2, plan, sizeof plan);
            if (!got)
                continue;
            T_CHECK(strstr(plan, "streaming"), "synth12: budget %llu not streaming: %s",
                    (unsigned long long)budget, plan);
            T_CHECK(nv == nv2 && memcmp(got, want, (size_t)40 * (size_t)nv * sizeof *got) == 0,
                    "synth12: budget %llu prefetch %d: logits differ from the resident run (%s)",
                    (unsigned long long)budget, pf, plan);
            free(got);
        }
    free(want);
}

int main(void)
{
    static const char *const models[] = {"a-spm-f16", "a-spm-q4_0", "b-spm-q4_k_m",
                                         "b-spm-q6_k", "c-qwen2-q8_0"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "models/%s.gguf", models[i]);
        model_sizes s;
        if (!sizes_of(t_shared(rel), &s))
            continue;
        snprintf(rel, sizeof rel, "ref/logits/%s.p1.json", models[i]);
        chord_token *toks = NULL;
        int n = ref_tokens(t_shared(rel), &toks);
        T_REQUIRE(n > 0, "%s: no tokens", rel);
        test_cli_budgets(models[i], &s, toks, n);
        snprintf(rel, sizeof rel, "models/%s.gguf", models[i]);
        test_decode_budgets(models[i], t_shared(rel), &s, toks, n < 16 ? n : 16);
        free(toks);
    }
    test_synth_many_layers();
    return t_done();
}
