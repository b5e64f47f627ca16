/*
 * gen_spec_shared_test.c - speculative decoding on the shared models:
 * greedy output token for token what plain decoding gives, with a draft
 * of the same vocabulary at a lower precision (a-spm-q8_0 drafted by
 * a-spm-q4_0, b-spm-q6_k by b-spm-q4_k_m, the qwen3 mixture in Q8_0 by
 * its MXFP4 twin) and with prompt lookup (qwen2, gemma3's sliding
 * windows, gpt-oss); a draft of another vocabulary is refused.
 */
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "t.h"

#define MAX_TOK 256

typedef struct run_out {
    chord_token tok[MAX_TOK];
    int n, pos, n_drafted, n_accepted;
    chord_stop_reason reason;
    bool ok;
} run_out;

static chord_model *load(const char *rel)
{
    chord_model_params mp = chord_model_default_params();
    mp.n_threads = 2;
    chord_model *m = NULL;
    chord_err err;
    if (chord_model_load(t_shared(rel), &mp, &m, &err) != CHORD_OK)
        t_fail_at(__FILE__, __LINE__, "load %s: %s", rel, err.msg);
    return m;
}

static void run(chord_model *m, const chord_token *prompt, int n_prompt, int n_predict,
                chord_model *draft, bool lookup, run_out *out)
{
    memset(out, 0, sizeof *out);
    chord_err err;
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = 512;
    chord_ctx *c = NULL, *dc = NULL;
    if (chord_ctx_new(m, &cp, &c, &err) != CHORD_OK ||
        (draft && chord_ctx_new(draft, &cp, &dc, &err) != CHORD_OK)) {
        t_fail_at(__FILE__, __LINE__, "ctx: %s", err.msg);
        chord_ctx_free(c);
        return;
    }
    chord_gen_params gp;
    memset(&gp, 0, sizeof gp);
    gp.prompt = prompt;
    gp.n_prompt = n_prompt;
    gp.n_predict = n_predict;
    gp.sampling = chord_sampler_default_params();
    gp.sampling.temp = 0;
    gp.model = m;
    gp.draft = draft;
    gp.draft_ctx = dc;
    gp.lookup = lookup;
    chord_gen *g;
    if (chord_gen_start(c, &gp, &g, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "start: %s", err.msg);
        chord_ctx_free(dc);
        chord_ctx_free(c);
        return;
    }
    chord_event ev;
    while (chord_gen_next(g, &ev, 300000)) {
        if (ev.kind == CHORD_EV_TOKEN && out->n < MAX_TOK)
            out->tok[out->n++] = ev.token;
        if (ev.kind == CHORD_EV_ERROR)
            t_fail_at(__FILE__, __LINE__, "generation: %s", ev.message);
        if (ev.kind == CHORD_EV_DONE) {
            out->ok = true;
            out->reason = ev.reason;
            out->n_drafted = ev.n_drafted;
            out->n_accepted = ev.n_accepted;
        }
        if (ev.kind == CHORD_EV_DONE || ev.kind == CHORD_EV_ERROR)
            break;
    }
    chord_gen_join(g);
    out->pos = chord_ctx_pos(c);
    chord_ctx_free(dc);
    chord_ctx_free(c);
}

static void check_pair(const char *target, const char *draft, bool lookup, const char *text,
                       int n_predict)
{
    chord_model *m = load(target), *d = draft ? load(draft) : NULL;
    T_NEED(m && (!draft || d), "models");
    chord_token prompt[256];
    chord_err err;
    int n = chord_tokenize(m, text, strlen(text), true, false, prompt, 256, &err);
    T_NEED(n > 0 && n <= 256, "tokenize: %s", err.msg);
    run_out want, got;
    if (lookup) {
        /* the prompt, the model's reply to it and the prompt again: a
         * reply that starts as the first did is there to find */
        run(m, prompt, n, 24, NULL, false, &want);
        T_NEED(want.ok && n + want.n + n <= 256, "first reply");
        memcpy(prompt + n, want.tok, (size_t)want.n * sizeof *prompt);
        memcpy(prompt + n + want.n, prompt + 1, (size_t)(n - 1) * sizeof *prompt);
        n += want.n + n - 1;
    }
    run(m, prompt, n, n_predict, NULL, false, &want);
    run(m, prompt, n, n_predict, d, lookup, &got);
    if (want.ok && got.ok) {
        T_CHECK(got.n == want.n, "%s: %d tokens, plain %d", target, got.n, want.n);
        for (int i = 0; i < want.n && i < got.n; i++)
            if (got.tok[i] != want.tok[i]) {
                t_fail_at(__FILE__, __LINE__, "%s drafted by %s%s: token %d is %d, plain decoding gives %d",
                          target, draft ? draft : "nothing", lookup ? " (lookup)" : "", i, got.tok[i],
                          want.tok[i]);
                break;
            }
        T_EQ_INT(got.reason, want.reason);
        T_EQ_INT(got.pos, want.pos);
        T_CHECK(got.n_drafted > 0, "%s: nothing proposed", target);
        printf("# %s, draft %s%s: %d tokens, %d of %d proposals kept\n", target,
               draft ? draft : "none", lookup ? ", lookup" : "", got.n, got.n_accepted, got.n_drafted);
    }
    chord_model_free(d);
    chord_model_free(m);
}

int main(void)
{
    const char *story = "Once upon a time, there was a little girl named Lily. She loved to play in the "
                        "garden with her dog. One day, Lily and her dog";
    const char *repeat = "The quick brown fox jumps over the lazy dog. The quick brown fox jumps over "
                         "the lazy dog. The quick brown fox";
    check_pair("models/a-spm-q8_0.gguf", "models/a-spm-q4_0.gguf", false, story, 96);
    check_pair("models/a-spm-q8_0.gguf", NULL, true, repeat, 64);
    check_pair("models/b-spm-q6_k.gguf", "models/b-spm-q4_k_m.gguf", true, story, 64);
    check_pair("models/l-qwen3moe-q8_0.gguf", "models/l-qwen3moe-mxfp4.gguf", false, story, 48);
    check_pair("models/c-qwen2-q8_0.gguf", NULL, true, repeat, 48);
    check_pair("models/g-gemma3-q8_0.gguf", NULL, true, repeat, 48);
    check_pair("models/n-gptoss-mxfp4.gguf", NULL, true, repeat, 48);

    /* another vocabulary: refused with one line */
    chord_model *a = load("models/a-spm-q8_0.gguf"), *q = load("models/c-qwen2-q8_0.gguf");
    if (a && q) {
        chord_err err;
        T_CHECK(chord_vocab_check(a, q, &err) == CHORD_E_INVALID && !strchr(err.msg, '\n'),
                "qwen2 as llama's draft: %s", err.msg);
        printf("# %s\n", err.msg);
    }
    chord_model_free(q);
    chord_model_free(a);
    return t_done();
}
