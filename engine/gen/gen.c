/*
 * gen.c - generation on a background thread (chord_gen_* in chord.h).
 *
 * Written against the public API (and the sampler's probabilities): the
 * thread evaluates the prompt in one batch, then samples, detokenizes and
 * evaluates one token at a time, posting each step to a gen_queue that the
 * UI thread or batch writer drains; with a draft model or prompt lookup it
 * checks several proposed tokens per evaluation instead (gen_spec.c).
 *
 * Threads and locks. Two threads touch a chord_gen:
 *   - the generation thread owns ctx (and the draft's), sampler, logits
 *     and detokenizer outright (no lock: nobody else reads them until join);
 *   - the caller reads events (gen_queue_pop: takes queue.mu briefly) and may
 *     call chord_gen_cancel (an atomic store plus chord_ctx_cancel, which is
 *     safe from any thread).
 * The only lock is queue.mu, held just to copy one event in or out, never
 * across an eval, so the reader never waits on the model.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "gen/gen_int.h"

double gen_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void gen_post_end(gen_run *r, chord_stop_reason reason, chord_status st, const char *msg)
{
    chord_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = reason == CHORD_STOP_ERROR ? CHORD_EV_ERROR : CHORD_EV_DONE;
    ev.token = -1;
    ev.reason = reason;
    ev.n_prompt = r->g->n_prompt;
    ev.n_gen = r->n_gen;
    ev.prompt_ms = r->prompt_ms;
    ev.gen_ms = r->gen_ms;
    ev.n_drafted = r->n_drafted;
    ev.n_accepted = r->n_accepted;
    ev.status = st;
    if (msg)
        snprintf(ev.message, sizeof ev.message, "%s", msg);
    chord_detok_flush(&r->dt, ev.text, (int)sizeof ev.text);
    gen_queue_push(&r->g->queue, &ev);
}

/* Maps an eval failure to the end of the run. A cancelled eval is a normal
 * stop; a full context is a normal stop once something was generated and
 * an error for the prompt (nothing could be generated at all). */
void gen_end_on_eval(gen_run *r, chord_status st, const chord_err *err, bool prefill)
{
    if (st == CHORD_E_CANCELLED)
        gen_post_end(r, CHORD_STOP_CANCELLED, CHORD_OK, NULL);
    else if (st == CHORD_E_CTX_FULL && !prefill)
        gen_post_end(r, CHORD_STOP_CTX_FULL, CHORD_OK, NULL);
    else
        gen_post_end(r, CHORD_STOP_ERROR, st, err->msg);
}

/* The token loop. Every path ends with exactly one gen_post_end(). */
static void gen_loop(gen_run *r)
{
    chord_gen *g = r->g;
    chord_err err = {{0}};

    for (int i = 0; i < g->n_prompt; i++)
        chord_sampler_accept(r->smp, g->prompt[i]);

    if (atomic_load(&g->cancel)) {
        gen_post_end(r, CHORD_STOP_CANCELLED, CHORD_OK, NULL);
        return;
    }
    double t0 = gen_now_ms();
    chord_status st = chord_ctx_eval(g->ctx, g->prompt, g->n_prompt, r->logits, false, &err);
    r->prompt_ms = gen_now_ms() - t0;
    if (st != CHORD_OK) {
        gen_end_on_eval(r, st, &err, true);
        return;
    }
    chord_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = CHORD_EV_PREFILL_DONE;
    ev.token = -1;
    ev.n_prompt = g->n_prompt;
    ev.prompt_ms = r->prompt_ms;
    gen_queue_push(&g->queue, &ev);

    for (;;) {
        if (atomic_load(&g->cancel)) {
            gen_post_end(r, CHORD_STOP_CANCELLED, CHORD_OK, NULL);
            return;
        }
        if (g->n_predict >= 0 && r->n_gen >= g->n_predict) {
            gen_post_end(r, CHORD_STOP_LIMIT, CHORD_OK, NULL);
            return;
        }
        double t1 = gen_now_ms();
        chord_token t = chord_sampler_sample(r->smp, r->logits);
        if (t < 0 || t >= g->n_vocab) {
            gen_post_end(r, CHORD_STOP_ERROR, CHORD_E_INVALID, "generation: the sampler returned an invalid token id");
            return;
        }
        if (chord_token_is_eog(g->model, t)) {
            r->gen_ms += gen_now_ms() - t1;
            gen_post_end(r, CHORD_STOP_EOG, CHORD_OK, NULL);
            return;
        }
        chord_sampler_accept(r->smp, t);
        memset(&ev, 0, sizeof ev);
        ev.kind = CHORD_EV_TOKEN;
        ev.token = t;
        chord_detok_push(&r->dt, g->model, t, ev.text, (int)sizeof ev.text);
        r->n_gen++;
        ev.n_prompt = g->n_prompt;
        ev.n_gen = r->n_gen;
        /* The token that reaches the limit needs no eval: nobody will read
         * the logits after it. */
        bool last = g->n_predict >= 0 && r->n_gen >= g->n_predict;
        if (!last && chord_ctx_pos(g->ctx) >= chord_ctx_n_ctx(g->ctx)) {
            r->gen_ms += gen_now_ms() - t1;
            ev.gen_ms = r->gen_ms;
            ev.prompt_ms = r->prompt_ms;
            gen_queue_push(&g->queue, &ev);
            gen_post_end(r, CHORD_STOP_CTX_FULL, CHORD_OK, NULL);
            return;
        }
        if (!last) {
            /* Post before the eval so the text shows while the next token
             * is being computed; its timing then covers the sample only. */
            ev.prompt_ms = r->prompt_ms;
            ev.gen_ms = r->gen_ms + (gen_now_ms() - t1);
            gen_queue_push(&g->queue, &ev);
            st = chord_ctx_eval(g->ctx, &t, 1, r->logits, false, &err);
            r->gen_ms += gen_now_ms() - t1;
            if (st != CHORD_OK) {
                gen_end_on_eval(r, st, &err, false);
                return;
            }
        } else {
            r->gen_ms += gen_now_ms() - t1;
            ev.prompt_ms = r->prompt_ms;
            ev.gen_ms = r->gen_ms;
            gen_queue_push(&g->queue, &ev);
        }
    }
}

static void *gen_thread(void *arg)
{
    chord_gen *g = arg;
    gen_run r;
    memset(&r, 0, sizeof r);
    r.g = g;
    chord_detok_init(&r.dt);
    r.logits = malloc((size_t)g->n_vocab * sizeof *r.logits);
    r.smp = chord_sampler_new(&g->sp, g->n_vocab);
    if (!r.logits || !r.smp)
        gen_post_end(&r, CHORD_STOP_ERROR, CHORD_E_NOMEM, "generation: cannot allocate the logits or the sampler");
    else if (g->spec)
        gen_spec_loop(&r);
    else
        gen_loop(&r);
    chord_sampler_free(r.smp);
    free(r.logits);
    return NULL;
}

/* Checks and copies the speculative decoding parameters into g, and
 * brings the draft context back to a prefix of ctx (see chord.h). */
static chord_status spec_setup(chord_gen *g, chord_ctx *c, const chord_gen_params *p,
                               chord_err *err)
{
    if (!p->draft && !p->draft_ctx && !p->lookup)
        return CHORD_OK;
    if (!p->draft != !p->draft_ctx)
        return err_set(err, CHORD_E_INVALID, "chord_gen_start: a draft needs both its model and its context");
    if (p->draft_max < 0 || p->draft_max > GEN_DRAFT_MAX)
        return err_set(err, CHORD_E_INVALID, "chord_gen_start: draft_max %d out of range [0, %d]",
                       p->draft_max, GEN_DRAFT_MAX);
    int pos = chord_ctx_pos(c);
    if (p->context && p->n_context != pos)
        return err_set(err, CHORD_E_INVALID,
                       "chord_gen_start: %d context tokens given for a context holding %d",
                       p->n_context, pos);
    if (p->draft) {
        if (p->draft_ctx == c)
            return err_set(err, CHORD_E_INVALID, "chord_gen_start: the draft needs a context of its own");
        chord_status st = chord_vocab_check(p->model, p->draft, err);
        if (st != CHORD_OK)
            return st;
        chord_model_info di;
        chord_model_get_info(p->draft, &di);
        g->n_vocab_draft = di.n_vocab;
        if (chord_ctx_pos(p->draft_ctx) > pos)
            chord_ctx_truncate(p->draft_ctx, pos);
        /* behind ctx (a new draft context, or a sliding window that
         * started over): the missing tokens must come from context */
        int dpos = chord_ctx_pos(p->draft_ctx);
        if (dpos < pos && !p->context)
            return err_set(err, CHORD_E_INVALID,
                           "chord_gen_start: the draft context holds %d tokens, the context %d: "
                           "pass the context's tokens to catch it up",
                           dpos, pos);
    }
    if (p->context && p->n_context > 0) {
        g->context = malloc((size_t)p->n_context * sizeof *g->context);
        if (!g->context)
            return err_set(err, CHORD_E_NOMEM, "chord_gen_start: out of memory copying %d context tokens",
                           p->n_context);
        memcpy(g->context, p->context, (size_t)p->n_context * sizeof *g->context);
        g->n_context = p->n_context;
    }
    g->spec = true;
    g->lookup = p->lookup;
    g->draft = p->draft;
    g->draft_ctx = p->draft_ctx;
    g->draft_max = p->draft_max ? p->draft_max : GEN_DRAFT_DEFAULT;
    return CHORD_OK;
}

static void gen_free(chord_gen *g)
{
    free(g->context);
    free(g->prompt);
    free(g);
}

chord_status chord_gen_start(chord_ctx *c, const chord_gen_params *p,
                             chord_gen **out, chord_err *err)
{
    *out = NULL;
    if (!c || !p || !p->model)
        return err_set(err, CHORD_E_INVALID, "chord_gen_start: ctx and params.model are required");
    if (!p->prompt || p->n_prompt <= 0)
        return err_set(err, CHORD_E_INVALID, "chord_gen_start: the prompt is empty");
    chord_status st = chord_sampler_check(&p->sampling, err);
    if (st != CHORD_OK)
        return st;
    chord_model_info info;
    chord_model_get_info(p->model, &info);
    if (info.n_vocab <= 0)
        return err_set(err, CHORD_E_INVALID, "chord_gen_start: the model has no vocabulary");
    for (int i = 0; i < p->n_prompt; i++)
        if (p->prompt[i] < 0 || p->prompt[i] >= info.n_vocab)
            return err_set(err, CHORD_E_INVALID, "chord_gen_start: prompt token %d at index %d is out of range (vocabulary %d)",
                           p->prompt[i], i, info.n_vocab);

    chord_gen *g = calloc(1, sizeof *g);
    if (!g)
        return err_set(err, CHORD_E_NOMEM, "chord_gen_start: out of memory");
    g->prompt = malloc((size_t)p->n_prompt * sizeof *g->prompt);
    if (!g->prompt) {
        free(g);
        return err_set(err, CHORD_E_NOMEM, "chord_gen_start: out of memory copying %d prompt tokens", p->n_prompt);
    }
    memcpy(g->prompt, p->prompt, (size_t)p->n_prompt * sizeof *g->prompt);
    g->ctx = c;
    g->model = p->model;
    g->n_prompt = p->n_prompt;
    g->n_predict = p->n_predict;
    g->sp = p->sampling;
    g->n_vocab = info.n_vocab;
    st = spec_setup(g, c, p, err);
    if (st != CHORD_OK) {
        gen_free(g);
        return st;
    }
    atomic_init(&g->cancel, false);
    st = gen_queue_init(&g->queue, err);
    if (st != CHORD_OK) {
        gen_free(g);
        return st;
    }
    int rc = pthread_create(&g->thread, NULL, gen_thread, g);
    if (rc != 0) {
        gen_queue_destroy(&g->queue);
        gen_free(g);
        return err_errno(err, CHORD_E_NOMEM, rc, "chord_gen_start: pthread_create");
    }
    g->started = true;
    *out = g;
    return CHORD_OK;
}

bool chord_gen_next(chord_gen *g, chord_event *ev, int timeout_ms)
{
    return g && gen_queue_pop(&g->queue, ev, timeout_ms);
}

int chord_gen_fd(const chord_gen *g)
{
    return g ? g->queue.efd : -1;
}

void chord_gen_cancel(chord_gen *g)
{
    if (!g)
        return;
    atomic_store(&g->cancel, true);
    chord_ctx_cancel(g->ctx);
    if (g->draft_ctx)
        chord_ctx_cancel(g->draft_ctx);
}

void chord_gen_join(chord_gen *g)
{
    if (!g)
        return;
    if (g->started)
        pthread_join(g->thread, NULL);
    gen_queue_destroy(&g->queue);
    gen_free(g);
}
