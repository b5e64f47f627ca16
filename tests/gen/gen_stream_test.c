/*
 * gen_stream_test.c - chord_gen end to end on a shared model: the event
 * order, the greedy tokens against the llama.cpp reference (up to the
 * first low-margin position, per the shared protocol), the -n limit and the
 * KV position it leaves, a full context, prompt cancellation, argument
 * checks, and a cancel that stops a long run promptly.
 */
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chord.h"
#include "t.h"

/* T_REQUIRE for void functions: report and return. */
#define T_REQUIRE_V(cond, ...) \
    do { if (!(cond)) { t_fail_at(__FILE__, __LINE__, __VA_ARGS__); return; } } while (0)

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef struct ref {
    chord_token prompt[64], greedy[64];
    int n_prompt, n_greedy;
    int n_sure;   /* greedy tokens the protocol pins down */
} ref;

/* Reads prompt_tokens, greedy_tokens and the margins from a logits ref. */
static bool load_ref(const char *path, float margin, ref *r)
{
    size_t len;
    char *text = t_read_file(path, &len);
    if (!text)
        return false;
    chord_err err;
    chord_json *j = chord_json_parse(text, len, &err);
    free(text);
    if (!j)
        return false;
    const chord_json *pt = chord_json_get(j, "prompt_tokens"), *gt = chord_json_get(j, "greedy_tokens");
    const chord_json *pos = chord_json_get(j, "positions");
    r->n_prompt = (int)pt->len;
    r->n_greedy = (int)gt->len;
    for (int i = 0; i < r->n_prompt && i < 64; i++)
        r->prompt[i] = (chord_token)chord_json_at(pt, (size_t)i)->number;
    for (int i = 0; i < r->n_greedy && i < 64; i++)
        r->greedy[i] = (chord_token)chord_json_at(gt, (size_t)i)->number;
    /* greedy token k is predicted at position n_prompt - 1 + k; it is sure
     * up to and including the first position whose margin is small */
    r->n_sure = r->n_greedy;
    for (int k = 0; k < r->n_greedy; k++) {
        const chord_json *p = chord_json_at(pos, (size_t)(r->n_prompt - 1 + k));
        const chord_json *top = p ? chord_json_get(p, "top") : NULL;
        if (!top || top->len < 2)
            break;
        double m = chord_json_at(chord_json_at(top, 0), 1)->number - chord_json_at(chord_json_at(top, 1), 1)->number;
        if (m < margin) {
            r->n_sure = k + 1;
            break;
        }
    }
    chord_json_free(j);
    return true;
}

static bool utf8_complete(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
        if (!n)
            return false;
        for (int i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                return false;
        p += n;
    }
    return true;
}

static chord_gen_params params(const chord_model *m, const chord_token *p, int n, int n_predict)
{
    chord_gen_params gp;
    memset(&gp, 0, sizeof gp);
    gp.prompt = p;
    gp.n_prompt = n;
    gp.n_predict = n_predict;
    gp.sampling = chord_sampler_default_params();
    gp.sampling.temp = 0;
    gp.model = m;
    return gp;
}

static void test_greedy_stream_matches_reference(chord_model *m, const ref *r)
{
    chord_ctx *c;
    chord_err err;
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = 256;
    T_REQUIRE_V(chord_ctx_new(m, &cp, &c, &err) == CHORD_OK, "ctx: %s", err.msg);
    chord_gen_params gp = params(m, r->prompt, r->n_prompt, r->n_greedy);
    chord_gen *g;
    if (chord_gen_start(c, &gp, &g, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "start: %s", err.msg);
        chord_ctx_free(c);
        return;
    }
    /* the fd must become readable by itself (the UI's poll() path) */
    struct pollfd pf = {.fd = chord_gen_fd(g), .events = POLLIN};
    T_EQ_INT(poll(&pf, 1, 60000), 1);
    chord_event ev;
    int n_tok = 0, i_ev = 0;
    bool done = false;
    while (!done && chord_gen_next(g, &ev, 60000)) {
        if (i_ev++ == 0)
            T_EQ_INT(ev.kind, CHORD_EV_PREFILL_DONE);
        switch (ev.kind) {
        case CHORD_EV_PREFILL_DONE:
            T_EQ_INT(ev.n_prompt, r->n_prompt);
            T_CHECK(ev.prompt_ms > 0, "prompt_ms %g", ev.prompt_ms);
            break;
        case CHORD_EV_TOKEN:
            if (n_tok < r->n_sure)
                T_CHECK(ev.token == r->greedy[n_tok], "greedy token %d: got %d, want %d", n_tok, ev.token,
                        r->greedy[n_tok]);
            T_CHECK(utf8_complete(ev.text), "token %d text is not complete UTF-8", n_tok);
            n_tok++;
            T_EQ_INT(ev.n_gen, n_tok);
            break;
        case CHORD_EV_DONE:
            done = true;
            T_EQ_INT(ev.reason, CHORD_STOP_LIMIT);
            T_EQ_INT(ev.n_gen, r->n_greedy);
            T_EQ_INT(ev.n_prompt, r->n_prompt);
            T_CHECK(ev.gen_ms > 0, "gen_ms %g", ev.gen_ms);
            break;
        case CHORD_EV_ERROR:
            t_fail_at(__FILE__, __LINE__, "error event: %s", ev.message);
            done = true;
            break;
        }
    }
    T_CHECK(done, "no DONE event");
    T_EQ_INT(n_tok, r->n_greedy);
    T_CHECK(!chord_gen_next(g, &ev, 0), "an event after DONE");
    pf.revents = 0;
    T_EQ_INT(poll(&pf, 1, 0), 0);   /* drained: not readable */
    chord_gen_join(g);
    /* the last token reached the limit and was not evaluated */
    T_EQ_INT(chord_ctx_pos(c), r->n_prompt + r->n_greedy - 1);
    chord_ctx_free(c);
}

static void test_full_context_stops_with_ctx_full(chord_model *m, const ref *r)
{
    chord_ctx *c;
    chord_err err;
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = r->n_prompt + 5;
    T_REQUIRE_V(chord_ctx_new(m, &cp, &c, &err) == CHORD_OK, "ctx: %s", err.msg);
    chord_gen_params gp = params(m, r->prompt, r->n_prompt, -1);
    chord_gen *g;
    T_REQUIRE_V(chord_gen_start(c, &gp, &g, &err) == CHORD_OK, "start: %s", err.msg);
    chord_event ev;
    int n_tok = 0;
    while (chord_gen_next(g, &ev, 60000) && ev.kind != CHORD_EV_DONE && ev.kind != CHORD_EV_ERROR)
        n_tok += ev.kind == CHORD_EV_TOKEN;
    T_EQ_INT(ev.kind, CHORD_EV_DONE);
    T_EQ_INT(ev.reason, CHORD_STOP_CTX_FULL);
    /* 5 evaluated tokens fill the cache; the 6th is sampled, not stored */
    T_EQ_INT(n_tok, 6);
    T_EQ_INT(ev.n_gen, 6);
    chord_gen_join(g);
    T_EQ_INT(chord_ctx_pos(c), cp.n_ctx);
    chord_ctx_free(c);
}

static void test_prompt_longer_than_context_is_an_error(chord_model *m, const ref *r)
{
    chord_ctx *c;
    chord_err err;
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = r->n_prompt - 2;
    T_REQUIRE_V(chord_ctx_new(m, &cp, &c, &err) == CHORD_OK, "ctx: %s", err.msg);
    chord_gen_params gp = params(m, r->prompt, r->n_prompt, 4);
    chord_gen *g;
    T_REQUIRE_V(chord_gen_start(c, &gp, &g, &err) == CHORD_OK, "start: %s", err.msg);
    chord_event ev;
    T_CHECK(chord_gen_next(g, &ev, 60000), "no event");
    T_EQ_INT(ev.kind, CHORD_EV_ERROR);
    T_EQ_INT(ev.status, CHORD_E_CTX_FULL);
    T_CHECK(ev.message[0] != 0, "empty error message");
    chord_gen_join(g);
    chord_ctx_free(c);
}

static void test_cancel_stops_promptly(chord_model *m, const ref *r)
{
    chord_ctx *c;
    chord_err err;
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = 2048;
    T_REQUIRE_V(chord_ctx_new(m, &cp, &c, &err) == CHORD_OK, "ctx: %s", err.msg);
    chord_gen_params gp = params(m, r->prompt, r->n_prompt, -1);
    gp.sampling.temp = 1.0f;     /* wander: no early EOG from a greedy loop */
    gp.sampling.seed = 7;
    chord_gen *g;
    T_REQUIRE_V(chord_gen_start(c, &gp, &g, &err) == CHORD_OK, "start: %s", err.msg);
    chord_event ev;
    int n_tok = 0;
    while (n_tok < 3 && chord_gen_next(g, &ev, 60000)) {
        n_tok += ev.kind == CHORD_EV_TOKEN;
        if (ev.kind == CHORD_EV_DONE || ev.kind == CHORD_EV_ERROR)
            break;
    }
    T_EQ_INT(n_tok, 3);
    double t0 = now_ms();
    chord_gen_cancel(g);
    bool done = false;
    while (chord_gen_next(g, &ev, 5000)) {
        if (ev.kind == CHORD_EV_DONE) {
            done = true;
            T_EQ_INT(ev.reason, CHORD_STOP_CANCELLED);
            break;
        }
    }
    double dt = now_ms() - t0;
    T_CHECK(done, "no DONE after cancel");
    T_CHECK(dt < 500, "cancel took %.1f ms", dt);
    chord_gen_join(g);
    chord_ctx_free(c);
}

static void test_bad_arguments_are_refused(chord_model *m, const ref *r)
{
    chord_ctx *c;
    chord_err err;
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = 64;
    T_REQUIRE_V(chord_ctx_new(m, &cp, &c, &err) == CHORD_OK, "ctx: %s", err.msg);
    chord_gen *g = (chord_gen *)1;
    chord_gen_params gp = params(m, r->prompt, 0, 4);
    T_EQ_INT(chord_gen_start(c, &gp, &g, &err), CHORD_E_INVALID);
    T_CHECK(g == NULL, "handle set on failure");
    gp = params(NULL, r->prompt, r->n_prompt, 4);
    T_EQ_INT(chord_gen_start(c, &gp, &g, &err), CHORD_E_INVALID);
    chord_token bad[2] = {1, 1 << 30};
    gp = params(m, bad, 2, 4);
    T_EQ_INT(chord_gen_start(c, &gp, &g, &err), CHORD_E_INVALID);
    T_CHECK(strstr(err.msg, "index 1") != NULL, "message names the index: %s", err.msg);
    gp = params(m, r->prompt, r->n_prompt, 4);
    gp.sampling.top_p = 2.0f;
    T_CHECK(chord_gen_start(c, &gp, &g, &err) != CHORD_OK, "top_p 2 accepted");
    chord_ctx_free(c);
}

int main(void)
{
    const char *mp = t_shared("models/a-spm-q8_0.gguf");
    const char *rp = t_shared("ref/logits/a-spm-q8_0.p1.json");
    ref r;
    T_REQUIRE(load_ref(rp, 0.4f, &r), "cannot read %s", rp);
    T_REQUIRE(r.n_sure >= 1 && r.n_greedy == 32, "reference: %d sure of %d", r.n_sure, r.n_greedy);
    chord_model *m;
    chord_err err;
    chord_model_params p = chord_model_default_params();
    p.n_threads = 2;
    T_REQUIRE(chord_model_load(mp, &p, &m, &err) == CHORD_OK, "load: %s", err.msg);
    test_greedy_stream_matches_reference(m, &r);
    test_full_context_stops_with_ctx_full(m, &r);
    test_prompt_longer_than_context_is_an_error(m, &r);
    test_cancel_stops_promptly(m, &r);
    test_bad_arguments_are_refused(m, &r);
    chord_model_free(m);
    return t_done();
}
