/*
 * gen_spec_test.c - speculative decoding (chord_gen with a draft model or
 * prompt lookup) on synthetic models, so it runs without ../shared:
 *   - greedy output token for token what plain decoding gives (draft
 *     sharing the model's weights at a lower precision, an unrelated
 *     draft, lookup, both; several draft lengths; a repetition penalty;
 *     a streamed model; a full context; two turns in one conversation),
 *     with the same stop reason and cache position after join;
 *   - the acceptance rule's output distribution equal to p for random p
 *     and q (and a point-mass q), to a tight bound;
 *   - sampled generation: token frequencies over many seeded runs against
 *     plain sampling (chi-square), with a check that the same statistic
 *     tells the draft's own distribution apart;
 *   - prompt lookup's matcher, and the vocabulary check.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "gen/gen_int.h"
#include "t.h"

#define MAX_TOK 512

typedef struct run_out {
    chord_token tok[MAX_TOK];
    int n;
    chord_stop_reason reason;
    int pos;                 /* chord_ctx_pos after join */
    int n_drafted, n_accepted;
    bool ok;
} run_out;

typedef struct spec_opt {
    const chord_model *draft;
    chord_ctx *draft_ctx;
    int draft_max;
    bool lookup;
    const chord_token *context;
    int n_context;
} spec_opt;

/* Runs one generation to its end; out->ok false after reporting. */
static void run(chord_model *m, chord_ctx *c, const chord_token *prompt, int n_prompt,
                int n_predict, chord_sampler_params sp, const spec_opt *so, run_out *out)
{
    memset(out, 0, sizeof *out);
    chord_gen_params gp;
    memset(&gp, 0, sizeof gp);
    gp.prompt = prompt;
    gp.n_prompt = n_prompt;
    gp.n_predict = n_predict;
    gp.sampling = sp;
    gp.model = m;
    if (so) {
        gp.draft = so->draft;
        gp.draft_ctx = so->draft_ctx;
        gp.draft_max = so->draft_max;
        gp.lookup = so->lookup;
        gp.context = so->context;
        gp.n_context = so->n_context;
    }
    chord_gen *g;
    chord_err err;
    if (chord_gen_start(c, &gp, &g, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "start: %s", err.msg);
        return;
    }
    chord_event ev;
    bool done = false;
    while (!done && chord_gen_next(g, &ev, 120000)) {
        if (ev.kind == CHORD_EV_TOKEN) {
            if (out->n < MAX_TOK)
                out->tok[out->n++] = ev.token;
            T_CHECK(ev.n_gen == out->n, "TOKEN n_gen %d after %d tokens", ev.n_gen, out->n);
        } else if (ev.kind == CHORD_EV_DONE) {
            out->reason = ev.reason;
            out->n_drafted = ev.n_drafted;
            out->n_accepted = ev.n_accepted;
            T_EQ_INT(ev.n_gen, out->n);
            T_CHECK(ev.n_accepted <= ev.n_drafted, "accepted %d > drafted %d", ev.n_accepted, ev.n_drafted);
            done = true;
        } else if (ev.kind == CHORD_EV_ERROR) {
            t_fail_at(__FILE__, __LINE__, "generation failed: %s", ev.message);
            done = true;
            chord_gen_join(g);
            return;
        }
    }
    T_CHECK(done, "no DONE event");
    chord_gen_join(g);
    out->pos = chord_ctx_pos(c);
    out->ok = done;
}

static chord_model *load(const char *path, int64_t budget)
{
    chord_model_params mp = chord_model_default_params();
    mp.n_threads = 2;
    mp.mem_budget = budget;
    chord_model *m = NULL;
    chord_err err;
    if (chord_model_load(path, &mp, &m, &err) != CHORD_OK)
        t_fail_at(__FILE__, __LINE__, "load %s: %s", path, err.msg);
    return m;
}

static chord_ctx *new_ctx(chord_model *m, int n_ctx)
{
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = n_ctx;
    chord_ctx *c = NULL;
    chord_err err;
    if (chord_ctx_new(m, &cp, &c, &err) != CHORD_OK)
        t_fail_at(__FILE__, __LINE__, "ctx: %s", err.msg);
    return c;
}

static bool synth(const char *path, const char *arch, int vocab, const char *type, uint64_t seed)
{
    chord_synth_params sp = {.arch = arch, .dim = 128, .layers = 3, .heads = 4, .kv_heads = 2,
                             .ffn = 256, .vocab = vocab, .type = type, .seed = seed, .ctx_len = 1024};
    chord_err err;
    if (chord_synth(&sp, path, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "synth %s: %s", path, err.msg);
        return false;
    }
    return true;
}

static chord_sampler_params greedy(void)
{
    chord_sampler_params sp = chord_sampler_default_params();
    sp.temp = 0;
    sp.seed = 1;
    return sp;
}

/* The same tokens, stop reason and cache position as the plain run. */
static void same_as(const run_out *want, const run_out *got, const char *what)
{
    if (!want->ok || !got->ok)
        return;
    T_CHECK(got->n == want->n, "%s: %d tokens, plain decoding %d", what, got->n, want->n);
    for (int i = 0; i < want->n && i < got->n; i++)
        if (got->tok[i] != want->tok[i]) {
            t_fail_at(__FILE__, __LINE__, "%s: token %d is %d, plain decoding gives %d", what, i,
                      got->tok[i], want->tok[i]);
            break;
        }
    T_CHECK(got->reason == want->reason, "%s: stop reason %d, plain %d", what, got->reason, want->reason);
    T_CHECK(got->pos == want->pos, "%s: cache position %d after join, plain %d", what, got->pos,
            want->pos);
}

static void make_prompt(chord_token *p, int n, int vocab, uint64_t seed)
{
    uint64_t s = seed;
    p[0] = 1;
    for (int i = 1; i < n; i++)
        p[i] = (chord_token)(3 + t_rand(&s) % (uint64_t)(vocab - 3));
}

/* Greedy identity against plain decoding, fresh contexts each time. */
static void test_greedy_identity(const char *tpath, const char *dpath, const char *upath)
{
    chord_model *m = load(tpath, -1), *d = load(dpath, -1), *u = load(upath, -1);
    T_NEED(m && d && u, "models");
    chord_token prompt[40];
    make_prompt(prompt, 40, 400, 7);
    /* a prompt that repeats itself, for lookup to find */
    chord_token rep[48];
    for (int i = 0; i < 48; i++)
        rep[i] = prompt[i % 16];

    struct {
        const chord_token *p;
        int n;
    } prompts[] = {{prompt, 40}, {rep, 48}};
    chord_sampler_params penal = greedy();
    penal.repeat_penalty = 1.3f;
    chord_sampler_params sps[] = {greedy(), penal};
    for (int pi = 0; pi < 2; pi++)
        for (int si = 0; si < 2; si++) {
            chord_ctx *c = new_ctx(m, 1024);
            run_out want, got;
            run(m, c, prompts[pi].p, prompts[pi].n, 120, sps[si], NULL, &want);
            chord_ctx_free(c);
            struct {
                chord_model *dm;
                int dmax;
                bool lookup;
                const char *what;
            } cases[] = {
                {d, 8, false, "shared-weights draft, 8"}, {d, 1, false, "shared-weights draft, 1"},
                {d, 3, false, "shared-weights draft, 3"}, {d, 32, false, "shared-weights draft, 32"},
                {u, 4, false, "unrelated draft, 4"},      {NULL, 8, true, "lookup"},
                {NULL, 2, true, "lookup, 2"},             {d, 6, true, "lookup + draft"},
            };
            for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
                char what[160];
                snprintf(what, sizeof what, "prompt %d, %s, %s", pi, si ? "penalty" : "greedy",
                         cases[ci].what);
                c = new_ctx(m, 1024);
                chord_ctx *dc = cases[ci].dm ? new_ctx(cases[ci].dm, 1024) : NULL;
                spec_opt so = {.draft = cases[ci].dm, .draft_ctx = dc, .draft_max = cases[ci].dmax,
                               .lookup = cases[ci].lookup};
                run(m, c, prompts[pi].p, prompts[pi].n, 120, sps[si], &so, &got);
                same_as(&want, &got, what);
                printf("# %s: %d tokens, %d of %d proposals kept\n", what, got.n, got.n_accepted,
                       got.n_drafted);
                if (cases[ci].dm == d && got.ok) {
                    /* the same weights at a lower precision mostly agree */
                    T_CHECK(got.n_drafted > 0 && got.n_accepted * 4 > got.n_drafted,
                            "%s: %d of %d proposals kept", what, got.n_accepted, got.n_drafted);
                    T_CHECK(dc && chord_ctx_pos(dc) <= got.pos, "%s: draft at %d, model at %d", what,
                            chord_ctx_pos(dc), got.pos);
                }
                if (pi == 1 && si == 0 && cases[ci].lookup && got.ok)
                    T_CHECK(got.n_drafted > 0, "%s: lookup proposed nothing on a repeating prompt", what);
                chord_ctx_free(dc);
                chord_ctx_free(c);
            }
        }
    chord_model_free(u);
    chord_model_free(d);
    chord_model_free(m);
}

/* A context that fills up mid-check, and the -n limit inside a check. */
static void test_limits(const char *tpath, const char *dpath)
{
    chord_model *m = load(tpath, -1), *d = load(dpath, -1);
    T_NEED(m && d, "models");
    chord_token prompt[30];
    make_prompt(prompt, 30, 400, 11);
    for (int n_ctx = 60; n_ctx <= 66; n_ctx += 3) {
        chord_ctx *c = new_ctx(m, n_ctx);
        run_out want, got;
        run(m, c, prompt, 30, -1, greedy(), NULL, &want);
        chord_ctx_free(c);
        T_CHECK(want.reason == CHORD_STOP_CTX_FULL || want.reason == CHORD_STOP_EOG,
                "plain run with a %d context stopped with %d", n_ctx, want.reason);
        c = new_ctx(m, n_ctx);
        chord_ctx *dc = new_ctx(d, n_ctx);
        spec_opt so = {.draft = d, .draft_ctx = dc, .draft_max = 8};
        run(m, c, prompt, 30, -1, greedy(), &so, &got);
        char what[64];
        snprintf(what, sizeof what, "full context %d", n_ctx);
        same_as(&want, &got, what);
        chord_ctx_free(dc);
        chord_ctx_free(c);
    }
    for (int n = 0; n <= 13; n++) {
        chord_ctx *c = new_ctx(m, 512);
        run_out want, got;
        run(m, c, prompt, 30, n, greedy(), NULL, &want);
        chord_ctx_free(c);
        c = new_ctx(m, 512);
        chord_ctx *dc = new_ctx(d, 512);
        spec_opt so = {.draft = d, .draft_ctx = dc, .draft_max = 5};
        run(m, c, prompt, 30, n, greedy(), &so, &got);
        char what[64];
        snprintf(what, sizeof what, "-n %d", n);
        same_as(&want, &got, what);
        chord_ctx_free(dc);
        chord_ctx_free(c);
    }
    chord_model_free(d);
    chord_model_free(m);
}

/* Two turns in one conversation: the second prompt continues the cache,
 * cut back first (as a chat session does); the draft context follows
 * from the context tokens, whatever it held. */
static void test_two_turns(const char *tpath, const char *dpath)
{
    chord_model *m = load(tpath, -1), *d = load(dpath, -1);
    T_NEED(m && d, "models");
    chord_token all[400];
    make_prompt(all, 30, 400, 21);
    chord_token p2[20];
    make_prompt(p2, 20, 400, 22);
    run_out w1, w2, g1, g2;
    chord_ctx *c = new_ctx(m, 512);
    chord_ctx *sc = new_ctx(m, 512), *dc = new_ctx(d, 512);
    spec_opt so = {.draft = d, .draft_ctx = dc, .draft_max = 6, .lookup = true};
    run(m, c, all, 30, 40, greedy(), NULL, &w1);
    run(m, sc, all, 30, 40, greedy(), &so, &g1);
    same_as(&w1, &g1, "turn 1");
    if (w1.ok && g1.ok) {
        /* the conversation: prompt 1, the reply, then prompt 2; the cache
         * is cut back 5 tokens into the reply, as a template's re-rendering
         * may */
        int n = 30;
        memcpy(all + n, w1.tok, (size_t)w1.n * sizeof *all);
        n += w1.n;
        int keep = n - 5;
        chord_ctx_truncate(c, keep);
        chord_ctx_truncate(sc, keep);
        memcpy(all + keep, p2, sizeof p2);
        run(m, c, all + keep, 20, 40, greedy(), NULL, &w2);
        spec_opt so2 = so;
        so2.context = all;
        so2.n_context = keep;
        run(m, sc, all + keep, 20, 40, greedy(), &so2, &g2);
        same_as(&w2, &g2, "turn 2");
        T_CHECK(chord_ctx_pos(dc) <= g2.pos, "draft at %d after turn 2, model at %d", chord_ctx_pos(dc),
                g2.pos);
        /* a draft context that lost everything is caught up from context */
        chord_ctx_truncate(dc, 0);
        chord_ctx_truncate(c, keep);
        chord_ctx_truncate(sc, keep);
        run(m, c, all + keep, 20, 40, greedy(), NULL, &w2);
        run(m, sc, all + keep, 20, 40, greedy(), &so2, &g2);
        same_as(&w2, &g2, "turn 2 again, draft from scratch");
        /* without the context tokens a draft that is behind is refused */
        chord_ctx_truncate(dc, 0);
        chord_ctx_truncate(sc, keep);
        chord_gen_params gp;
        memset(&gp, 0, sizeof gp);
        gp.prompt = p2;
        gp.n_prompt = 20;
        gp.n_predict = 4;
        gp.sampling = greedy();
        gp.model = m;
        gp.draft = d;
        gp.draft_ctx = dc;
        chord_gen *g = NULL;
        chord_err err;
        T_CHECK(chord_gen_start(sc, &gp, &g, &err) == CHORD_E_INVALID && !g,
                "a draft behind the context without its tokens was accepted");
    }
    chord_ctx_free(dc);
    chord_ctx_free(sc);
    chord_ctx_free(c);
    chord_model_free(d);
    chord_model_free(m);
}

/* A model streamed through the layer cache (half its weights in the
 * budget) with a resident draft: the same tokens as the resident model
 * decoding alone. */
static void test_streamed(const char *tpath, const char *dpath)
{
    chord_model *m = load(tpath, -1);
    T_NEED(m, "model");
    chord_model_info info;
    chord_model_get_info(m, &info);
    chord_token prompt[24];
    make_prompt(prompt, 24, 400, 31);
    chord_ctx *c = new_ctx(m, 512);
    run_out want, got;
    run(m, c, prompt, 24, 60, greedy(), NULL, &want);
    chord_ctx_free(c);
    chord_model_free(m);

    m = load(tpath, info.weight_bytes / 2);
    chord_model *d = load(dpath, -1);
    T_NEED(m && d, "models");
    chord_stats st;
    chord_stats_get(m, &st);
    T_CHECK(st.streaming, "the model is not streamed with half its weights in the budget: %s",
            chord_model_plan(m));
    c = new_ctx(m, 512);
    chord_ctx *dc = new_ctx(d, 512);
    spec_opt so = {.draft = d, .draft_ctx = dc, .draft_max = 8};
    run(m, c, prompt, 24, 60, greedy(), &so, &got);
    same_as(&want, &got, "streamed model");
    chord_stats_get(d, &st);
    T_CHECK(!st.streaming, "the draft is streamed");
    chord_ctx_free(dc);
    chord_ctx_free(c);
    chord_model_free(d);
    chord_model_free(m);
}

/* The acceptance rule on its own: x ~ q, out = x if kept else the residual
 * draw; the frequencies of out must be p's. */
static void test_accept_rule(void)
{
    enum { N = 12, DRAWS = 400000 };
    uint64_t s = 99;
    samp_rng rng;
    samp_rng_seed(&rng, 5);
    for (int trial = 0; trial < 4; trial++) {
        float p[N], q[N];
        double sp = 0, sq = 0;
        for (int i = 0; i < N; i++) {
            /* some zeros on either side: tokens one keeps and the other cut */
            p[i] = (trial & 1) && i % 5 == 0 ? 0.0f : (float)(t_rand(&s) % 1000) + 1.0f;
            q[i] = (trial & 2) && i % 4 == 1 ? 0.0f : (float)(t_rand(&s) % 1000) + 1.0f;
            sp += p[i];
            sq += q[i];
        }
        for (int i = 0; i < N; i++) {
            p[i] = (float)(p[i] / sp);
            q[i] = (float)(q[i] / sq);
        }
        long cnt[N] = {0}, cnt_pm[N] = {0};
        long kept = 0;
        for (int k = 0; k < DRAWS; k++) {
            double u = samp_rng_uniform(&rng), acc = 0;
            int x = N - 1;
            for (int i = 0; i < N; i++) {
                acc += q[i];
                if (u < acc && q[i] > 0) {
                    x = i;
                    break;
                }
            }
            chord_token out = -1;
            if (gen_spec_accept(p, N, q, N, x, &rng, &out)) {
                out = x;
                kept++;
            }
            T_NEED(out >= 0 && out < N, "out of range: %d", out);
            cnt[out]++;
            /* a point-mass proposal (lookup): always token 3 */
            if (!gen_spec_accept(p, N, NULL, 0, 3, &rng, &out))
                T_NEED(out != 3, "the rejected point mass came back");
            else
                out = 3;
            cnt_pm[out]++;
        }
        double tv = 0, tv_pm = 0, want_kept = 0;
        for (int i = 0; i < N; i++) {
            tv += fabs((double)cnt[i] / DRAWS - p[i]) / 2;
            tv_pm += fabs((double)cnt_pm[i] / DRAWS - p[i]) / 2;
            want_kept += fmin(p[i], q[i]);
        }
        /* sampling noise of the total variation over 12 bins at 400000
         * draws is about 0.002; drawing from q instead would be far off */
        T_CHECK(tv < 0.006, "trial %d: output distribution %.4f from p (total variation)", trial, tv);
        T_CHECK(tv_pm < 0.006, "trial %d: point-mass proposals: %.4f from p", trial, tv_pm);
        T_NEAR((double)kept / DRAWS, want_kept, 0.006);
    }
}

static void test_lookup(void)
{
    chord_token h[] = {5, 6, 7, 8, 9, 1, 2, 5, 6, 7, 8, 3, 4, 9, 9, 5, 6, 7, 8};
    chord_token out[8];
    int n = gen_lookup(h, 19, 8, out);
    /* the latest earlier 5 6 7 8 is followed by 3 4 9 9 5 6 7 8 */
    T_EQ_INT(n, 8);
    T_EQ_INT(out[0], 3);
    T_EQ_INT(out[3], 9);
    n = gen_lookup(h, 19, 2, out);
    T_EQ_INT(n, 2);
    /* the match runs into the end of the history */
    chord_token h2[] = {1, 2, 3, 4, 1, 2};
    n = gen_lookup(h2, 6, 8, out);
    T_EQ_INT(n, 4);
    T_EQ_INT(out[0], 3);
    T_EQ_INT(out[3], 2);
    chord_token h3[] = {1, 2, 3, 4, 5, 6};
    T_EQ_INT(gen_lookup(h3, 6, 8, out), 0);
    T_EQ_INT(gen_lookup(h3, 1, 8, out), 0);
}

static void test_vocab_check(const char *tpath, const char *dir)
{
    char other[4200], big[4200];
    snprintf(other, sizeof other, "%s/q3.gguf", dir);
    snprintf(big, sizeof big, "%s/big.gguf", dir);
    /* qwen3's synthetic vocabulary ends in its chat tokens, llama's in
     * letters: same size, other texts */
    T_NEED(synth(other, "qwen3", 400, "Q8_0", 3) && synth(big, "llama", 600, "Q8_0", 3), "synth");
    chord_model *m = load(tpath, -1), *o = load(other, -1), *b = load(big, -1);
    T_NEED(m && o && b, "models");
    chord_err err;
    T_CHECK(chord_vocab_check(m, m, &err) == CHORD_OK, "a model refused as its own draft: %s", err.msg);
    T_CHECK(chord_vocab_check(m, o, &err) == CHORD_E_INVALID && strstr(err.msg, "token") &&
                !strchr(err.msg, '\n'),
            "other texts: %s", err.msg);
    T_CHECK(chord_vocab_check(m, b, &err) == CHORD_E_INVALID && strstr(err.msg, "600"),
            "other size: %s", err.msg);
    chord_token prompt[4] = {1, 5, 6, 7};
    chord_ctx *c = new_ctx(m, 64), *oc = new_ctx(o, 64);
    chord_gen_params gp;
    memset(&gp, 0, sizeof gp);
    gp.prompt = prompt;
    gp.n_prompt = 4;
    gp.n_predict = 4;
    gp.sampling = greedy();
    gp.model = m;
    gp.draft = o;
    gp.draft_ctx = oc;
    chord_gen *g = NULL;
    T_CHECK(chord_gen_start(c, &gp, &g, &err) == CHORD_E_INVALID && !g, "a foreign draft was started");
    gp.draft_ctx = c;
    gp.draft = m;
    T_CHECK(chord_gen_start(c, &gp, &g, &err) == CHORD_E_INVALID && !g, "the model's own context as the draft's");
    chord_ctx_free(oc);
    chord_ctx_free(c);
    chord_model_free(b);
    chord_model_free(o);
    chord_model_free(m);
}

/* The distribution of sampled output. n_runs seeded runs of 3 tokens each,
 * plain and speculative; the second and third tokens come out of checks.
 * Their frequencies (token 2, and the pair of tokens 2 and 3 folded to a
 * few bins) must agree between plain and speculative runs by a two-sample
 * chi-square test, while the same test must tell plain runs of the model
 * from plain runs of the draft. */
typedef struct freq {
    long n[2][512];
} freq;

static void sample_runs(chord_model *m, chord_model *dm, chord_model *d, bool lookup,
                        chord_sampler_params sp, int n_runs, const chord_token *prompt, int n_prompt,
                        freq *f, int *drafted, int *accepted)
{
    memset(f, 0, sizeof *f);
    chord_ctx *c = new_ctx(dm, 256), *dc = d ? new_ctx(d, 256) : NULL;
    for (int k = 0; k < n_runs; k++) {
        sp.seed = 1000 + (uint64_t)k;
        chord_ctx_truncate(c, 0);
        spec_opt so = {.draft = d, .draft_ctx = dc, .draft_max = 3, .lookup = lookup};
        run_out o;
        run(dm, c, prompt, n_prompt, 3, sp, d || lookup ? &so : NULL, &o);
        if (!o.ok || (o.n < 3 && o.reason != CHORD_STOP_EOG)) {
            t_fail_at(__FILE__, __LINE__, "sampled run %d: %d tokens", k, o.n);
            break;
        }
        /* an end of generation counts as a token of its own (id 511) */
        for (int i = o.n; i < 3; i++)
            o.tok[i] = 511;
        f->n[0][o.tok[1] % 512]++;
        f->n[1][(o.tok[1] * 31 + o.tok[2]) % 512]++;
        if (drafted) {
            *drafted += o.n_drafted;
            *accepted += o.n_accepted;
        }
    }
    (void)m;
    chord_ctx_free(dc);
    chord_ctx_free(c);
}

/* Two-sample chi-square over bins with enough counts (the rest pooled);
 * returns the statistic and its degrees of freedom. */
static double chi2(const long *a, const long *b, int n, int *df)
{
    long na = 0, nb = 0;
    for (int i = 0; i < n; i++)
        na += a[i], nb += b[i];
    double k1 = sqrt((double)nb / na), k2 = sqrt((double)na / nb), x = 0;
    long ra = 0, rb = 0;
    *df = -1;
    for (int i = 0; i < n; i++) {
        if (a[i] + b[i] < 20) {
            ra += a[i];
            rb += b[i];
            continue;
        }
        double dd = k1 * a[i] - k2 * b[i];
        x += dd * dd / (double)(a[i] + b[i]);
        (*df)++;
    }
    if (ra + rb > 0) {
        double dd = k1 * ra - k2 * rb;
        x += dd * dd / (double)(ra + rb);
        (*df)++;
    }
    return x;
}

/* The chi-square quantile for a tail of about 1e-4 (Wilson-Hilferty). */
static double chi2_crit(int df)
{
    double z = 3.72, v = 2.0 / (9.0 * df);
    double c = 1 - v + z * sqrt(v);
    return df * c * c * c;
}

static void test_sampled_distribution(const char *tpath, const char *dpath, const char *upath)
{
    chord_model *m = load(tpath, -1), *d = load(dpath, -1), *u = load(upath, -1);
    T_NEED(m && d && u, "models");
    chord_token prompt[12];
    make_prompt(prompt, 12, 400, 41);
    /* for lookup: the prompt, the model's greedy reply to it, the prompt
     * again, so that a reply starting as the first one is found */
    chord_token rep[32];
    memcpy(rep, prompt, sizeof prompt);
    chord_ctx *c = new_ctx(m, 256);
    run_out o;
    run(m, c, prompt, 12, 8, greedy(), NULL, &o);
    chord_ctx_free(c);
    T_NEED(o.ok && o.n == 8, "greedy reply: %d tokens", o.n);
    memcpy(rep + 12, o.tok, 8 * sizeof *rep);
    memcpy(rep + 20, prompt, sizeof prompt);

    chord_sampler_params t1 = chord_sampler_default_params();
    t1.temp = 1.0f;
    t1.top_k = 0;
    t1.top_p = 1.0f;
    t1.min_p = 0.0f;
    chord_sampler_params trunc = chord_sampler_default_params(); /* top-k, top-p, min-p, 0.8 */
    trunc.repeat_penalty = 1.2f;
    chord_sampler_params t07 = t1;
    t07.temp = 0.7f;
    struct {
        chord_sampler_params sp;
        chord_model *draft;
        const chord_token *p;
        int n;
        const char *what;
    } cases[] = {
        {t1, u, prompt, 12, "unrelated draft, temp 1"},
        {trunc, d, prompt, 12, "shared-weights draft, truncated + penalty"},
        {t07, NULL, rep, 32, "lookup, temp 0.7"},
    };
    enum { RUNS = 3000 };
    static freq fp, fs, fd;
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        int drafted = 0, accepted = 0;
        sample_runs(m, m, NULL, false, cases[ci].sp, RUNS, cases[ci].p, cases[ci].n, &fp, NULL, NULL);
        sample_runs(m, m, cases[ci].draft, !cases[ci].draft, cases[ci].sp, RUNS, cases[ci].p,
                    cases[ci].n, &fs, &drafted, &accepted);
        T_CHECK(drafted > RUNS / 4 && accepted > RUNS / 40 && drafted - accepted > RUNS / 40,
                "%s: %d proposals, %d kept: the rule was not exercised both ways", cases[ci].what,
                drafted, accepted);
        for (int w = 0; w < 2; w++) {
            int df;
            double x = chi2(fp.n[w], fs.n[w], 512, &df);
            T_CHECK(df >= 3 && x < chi2_crit(df), "%s, %s: chi-square %.1f on %d df (limit %.1f)",
                    cases[ci].what, w ? "tokens 2-3" : "token 2", x, df, chi2_crit(df));
            printf("# %s, %s: chi-square %.1f on %d df (limit %.1f); %d of %d proposals kept\n",
                   cases[ci].what, w ? "tokens 2-3" : "token 2", x, df, chi2_crit(df), accepted,
                   drafted);
        }
        if (ci == 0) {
            /* power: a rule that kept every proposal would give the
             * draft's output, which the test tells apart at once */
            sample_runs(u, u, NULL, false, cases[ci].sp, RUNS, cases[ci].p, cases[ci].n, &fd, NULL,
                        NULL);
            int df;
            double x = chi2(fp.n[0], fd.n[0], 512, &df);
            T_CHECK(x > 10 * chi2_crit(df), "the test cannot tell the draft from the model: %.1f on %d df", x,
                    df);
            printf("# the draft's own output against the model's: chi-square %.1f on %d df\n", x, df);
        }
    }
    chord_model_free(u);
    chord_model_free(d);
    chord_model_free(m);
}

int main(void)
{
    const char *dir = t_tmpdir();
    char tpath[4200], dpath[4200], upath[4200];
    snprintf(tpath, sizeof tpath, "%s/target.gguf", dir);
    snprintf(dpath, sizeof dpath, "%s/draft.gguf", dir);
    snprintf(upath, sizeof upath, "%s/other.gguf", dir);
    chord_err err;
    T_REQUIRE(synth(tpath, "llama", 400, "Q8_0", 17), "synth target");
    /* the same weights at a lower precision, and an unrelated model */
    T_REQUIRE(chord_quantize(tpath, dpath, "Q4_0", &err) == CHORD_OK, "quantize: %s", err.msg);
    T_REQUIRE(synth(upath, "llama", 400, "Q4_0", 18), "synth other");

    test_accept_rule();
    test_lookup();
    test_vocab_check(tpath, dir);
    test_greedy_identity(tpath, dpath, upath);
    test_limits(tpath, dpath);
    test_two_turns(tpath, dpath);
    test_streamed(tpath, dpath);
#if defined(__SANITIZE_THREAD__)
    /* The TSan build runs this test for its threads (the generation thread,
     * the pool, the streamed model's readers), all exercised above; the
     * 18,000 seeded runs of the distribution check are arithmetic on one
     * thread and would take the TSan build past its time limit. The main
     * and ASan builds run them. */
    printf("TSan build: the sampled-distribution check runs in the other builds\n");
    (void)test_sampled_distribution;
#else
    test_sampled_distribution(tpath, dpath, upath);
#endif
    return t_done();
}
