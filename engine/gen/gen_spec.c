/*
 * gen_spec.c - speculative decoding: a draft model (or prompt lookup)
 * proposes a few tokens, the model checks them all in one evaluation.
 *
 * Decoding reads every weight once per token, so its speed is the memory
 * bandwidth over the model's size. A batch of k tokens reads the weights
 * once too: if k proposed tokens are right, one read serves k + 1 of
 * them (the model's own next token comes with the check).
 *
 * One round. The pending token p (sampled, shown, not yet evaluated by the
 * model) and the proposals d1..dk are evaluated as one batch with every
 * position's logits: row i predicts the token after d_i (row 0: after p).
 * Walking the rows in order, the model's choice at row i - 1 either keeps
 * d_i (greedy: it is the argmax; sampled: the acceptance rule) or replaces
 * it, which ends the round with that token as the new pending one; if all
 * are kept, row k gives it. Both caches are then truncated to what was
 * kept (the model's holds p and the kept proposals; no re-evaluation).
 *
 * Why greedy output equals plain decoding's: the check batch runs with
 * chord_ctx_set_decode_numerics, so row i has exactly the bits a one-token
 * eval of the same tokens gives; the sampler sees the same logits with the
 * same accepted tokens (the repetition penalty's window) in the same
 * order, so it makes the same choices. The draft only decides how many of
 * those choices one evaluation confirms.
 *
 * Sampled output: a proposal x drawn from the draft's distribution q is
 * kept with probability min(1, p(x) / q(x)), else the token is drawn from
 * max(0, p - q) renormalized; the token that comes out then follows p
 * exactly (Leviathan et al. 2023, Chen et al. 2023), whatever q is. Both p
 * and q are the sampler's own distributions (samp_probs: penalty, top-k,
 * top-p, min-p, temperature); lookup proposes for certain (q a point
 * mass).
 *
 * Positions. hist holds the tokens of the conversation known to the run:
 * the context (if given), the prompt and every token shown; hist[i] is at
 * cache position base + i. The model's cache holds hist but the pending
 * token; the draft's holds a prefix of hist and catches up at the start of
 * each proposal (usually one or two tokens).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "gen/gen_int.h"

chord_status chord_vocab_check(const chord_model *target, const chord_model *draft,
                               chord_err *err)
{
    if (!target || !draft)
        return err_set(err, CHORD_E_INVALID, "vocabulary check: no model");
    chord_model_info ti, di;
    chord_model_get_info(target, &ti);
    chord_model_get_info(draft, &di);
    /* Models of one family may pad their vocabularies to different sizes
     * (Qwen2.5's 0.5B and 7B: 151936 and 152064); ids both have must
     * mean the same text. */
    int d = ti.n_vocab - di.n_vocab;
    if (d > 128 || d < -128 || ti.n_vocab <= 0 || di.n_vocab <= 0)
        return err_set(err, CHORD_E_INVALID,
                       "draft %s: its vocabulary has %d tokens, the model's (%s) %d: a draft "
                       "needs the model's vocabulary",
                       di.name, di.n_vocab, ti.name, ti.n_vocab);
    int n = ti.n_vocab < di.n_vocab ? ti.n_vocab : di.n_vocab;
    for (int t = 0; t < n; t++) {
        const char *a = chord_token_text(target, t), *b = chord_token_text(draft, t);
        if (!a != !b || (a && strcmp(a, b) != 0))
            return err_set(err, CHORD_E_INVALID,
                           "draft %s: token %d is \"%.40s\" there and \"%.40s\" in the model (%s): "
                           "a draft needs the model's vocabulary",
                           di.name, t, b ? b : "(none)", a ? a : "(none)", ti.name);
    }
    return CHORD_OK;
}

bool gen_spec_accept(const float *p, int n_p, const float *q, int n_q, chord_token x,
                     samp_rng *rng, chord_token *out)
{
    double px = x >= 0 && x < n_p ? p[x] : 0.0;
    double qx = q ? (x >= 0 && x < n_q ? q[x] : 0.0) : 1.0;
    /* u < p/q without the division: qx > 0 whenever x was drawn from q */
    if (samp_rng_uniform(rng) * qx < px)
        return true;
    double total = 0;
    for (int i = 0; i < n_p; i++) {
        double qi = q ? (i < n_q ? q[i] : 0.0) : (i == x ? 1.0 : 0.0);
        double r = (double)p[i] - qi;
        total += r > 0 ? r : 0;
    }
    if (!(total > 0)) {
        /* p <= q everywhere means p == q (both sum to 1), where every x
         * is kept; rounding can still land here: then p itself is the
         * right distribution */
        double u = samp_rng_uniform(rng), acc = 0;
        for (int i = 0; i < n_p; i++) {
            acc += p[i];
            if (u < acc) {
                *out = i;
                return false;
            }
        }
        *out = samp_argmax(p, n_p);
        return false;
    }
    double u = samp_rng_uniform(rng) * total, acc = 0;
    int last = -1;
    for (int i = 0; i < n_p; i++) {
        double qi = q ? (i < n_q ? q[i] : 0.0) : (i == x ? 1.0 : 0.0);
        double r = (double)p[i] - qi;
        if (r <= 0)
            continue;
        acc += r;
        last = i;
        if (u < acc) {
            *out = i;
            return false;
        }
    }
    *out = last;
    return false;
}

int gen_lookup(const chord_token *hist, int n_hist, int max, chord_token *out)
{
    for (int n = GEN_LOOKUP_NGRAM; n >= 2; n--) {
        if (n_hist <= n)
            continue;
        const chord_token *tail = hist + n_hist - n;
        /* the latest earlier occurrence: the nearest text repeats best */
        for (int j = n_hist - n - 1; j >= 0; j--) {
            if (hist[j] != tail[0] || memcmp(hist + j, tail, (size_t)n * sizeof *tail) != 0)
                continue;
            int k = 0;
            while (k < max && j + n + k < n_hist)
                out[k] = hist[j + n + k], k++;
            return k;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * The run
 * ---------------------------------------------------------------------- */

typedef struct spec_run {
    gen_run *r;
    chord_gen *g;
    chord_token *hist;
    int n_hist, cap_hist;
    int base;              /* cache position of hist[0] */
    bool greedy;
    float *rows;           /* (draft_max + 1) x n_vocab: the check's logits */
    float *p;              /* n_vocab: the model's probabilities */
    chord_sampler *dsmp;   /* the draft's sampler (its penalty window) */
    float *dlog;           /* n_vocab_draft: the draft's last logits */
    float *q;              /* draft_max x n_vocab_draft: what each proposal
                            * was drawn from (sampled runs) */
    bool q_valid;          /* q holds the proposals' distributions */
    samp_rng rng;          /* the draws of the acceptance rule and the draft */
    int k_cur;             /* proposals to ask for next */
    double accept_rate;    /* recent share of proposals kept */
    chord_token prop[GEN_DRAFT_MAX];
} spec_run;

static bool hist_push(spec_run *s, chord_token t)
{
    if (s->n_hist == s->cap_hist) {
        int cap = s->cap_hist ? 2 * s->cap_hist : 1024;
        chord_token *h = realloc(s->hist, (size_t)cap * sizeof *h);
        if (!h)
            return false;
        s->hist = h;
        s->cap_hist = cap;
    }
    s->hist[s->n_hist++] = t;
    return true;
}

/* Draws from probabilities (they sum to 1 up to rounding). */
static chord_token draw(samp_rng *rng, const float *p, int n)
{
    double u = samp_rng_uniform(rng), acc = 0;
    int last = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] <= 0)
            continue;
        acc += p[i];
        last = i;
        if (u < acc)
            return i;
    }
    return last;
}

/* Truncates ctx to pos; a sliding-window model that lost the window there
 * restarts further back, and is evaluated again up to pos from hist (with
 * decode numerics when exact, so the model's cache keeps its bits). */
static chord_status sync_ctx(spec_run *s, chord_ctx *c, int pos, bool exact, chord_err *err)
{
    if (chord_ctx_pos(c) > pos)
        chord_ctx_truncate(c, pos);
    int at = chord_ctx_pos(c);
    if (at >= pos)
        return CHORD_OK;
    if (at < s->base)
        return err_set(err, CHORD_E_UNSUPPORTED,
                       "generation: a sliding-window cache lost its window at position %d "
                       "and the tokens before %d are unknown to the generation",
                       pos, s->base);
    chord_ctx_set_decode_numerics(c, exact);
    chord_status st = chord_ctx_eval(c, s->hist + (at - s->base), pos - at, NULL, false, err);
    chord_ctx_set_decode_numerics(c, false);
    return st;
}

/* Posts a TOKEN event for t (already known not to be EOG) and records it. */
static bool emit(spec_run *s, chord_token t, double t_round)
{
    gen_run *r = s->r;
    chord_gen *g = s->g;
    if (!hist_push(s, t))
        return false;
    chord_sampler_accept(r->smp, t);
    chord_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = CHORD_EV_TOKEN;
    ev.token = t;
    chord_detok_push(&r->dt, g->model, t, ev.text, (int)sizeof ev.text);
    r->n_gen++;
    ev.n_prompt = g->n_prompt;
    ev.n_gen = r->n_gen;
    ev.prompt_ms = r->prompt_ms;
    ev.gen_ms = r->gen_ms + (gen_now_ms() - t_round);
    ev.n_drafted = r->n_drafted;
    ev.n_accepted = r->n_accepted;
    gen_queue_push(&g->queue, &ev);
    return true;
}

/* Evaluates what the draft lacks of hist, then lets it propose up to k
 * tokens (its greedy choices, or draws from its distribution recorded in
 * s->q). Returns how many, or -1 with *st set on a failed eval. */
static int draft_propose(spec_run *s, int k, chord_status *st, chord_err *err)
{
    chord_gen *g = s->g;
    chord_ctx *dc = g->draft_ctx;
    int dpos = chord_ctx_pos(dc), end = s->base + s->n_hist;
    /* a draft context shorter than the model's stops proposing when full */
    if (k > chord_ctx_n_ctx(dc) - end)
        k = chord_ctx_n_ctx(dc) - end;
    if (k <= 0)
        return 0;
    if (dpos >= end) { /* holds everything: evaluate the last token again */
        chord_ctx_truncate(dc, end - 1);
        dpos = chord_ctx_pos(dc);
    }
    if (dpos < s->base) {
        *st = err_set(err, CHORD_E_UNSUPPORTED,
                      "generation: the draft's sliding-window cache lost its window and the "
                      "tokens before %d are unknown to the generation", s->base);
        return -1;
    }
    *st = chord_ctx_eval(dc, s->hist + (dpos - s->base), end - dpos, s->dlog, false, err);
    if (*st != CHORD_OK)
        return -1;
    /* the draft's penalty window: the last tokens shown */
    chord_sampler_reset(s->dsmp);
    int w = g->sp.repeat_last_n < s->n_hist ? g->sp.repeat_last_n : s->n_hist;
    for (int i = s->n_hist - w; i < s->n_hist; i++)
        chord_sampler_accept(s->dsmp, s->hist[i]);
    s->q_valid = !s->greedy;
    int n = 0;
    for (int i = 0; i < k; i++) {
        chord_token x;
        if (s->greedy) {
            x = chord_sampler_sample(s->dsmp, s->dlog);
        } else {
            float *qi = s->q + (size_t)i * g->n_vocab_draft;
            samp_probs(s->dsmp, s->dlog, qi);
            x = draw(&s->rng, qi, g->n_vocab_draft);
        }
        if (x < 0 || x >= g->n_vocab)
            break; /* a padding id the model does not have */
        s->prop[n++] = x;
        chord_sampler_accept(s->dsmp, x);
        if (chord_token_is_eog(g->model, x) || i + 1 == k)
            break;
        if (atomic_load(&g->cancel))
            break;
        *st = chord_ctx_eval(dc, &x, 1, s->dlog, false, err);
        if (*st != CHORD_OK)
            return -1;
    }
    return n;
}

/* The next proposal length from the recent acceptance: a run of kept
 * proposals is about a / (1 - a) long at rate a, and proposals beyond it
 * cost a check position (and draft evaluations) for nothing. */
static void adapt(spec_run *s, int drafted, int kept)
{
    if (drafted <= 0)
        return;
    s->accept_rate = 0.7 * s->accept_rate + 0.3 * ((double)kept / drafted);
    double a = s->accept_rate > 0.97 ? 0.97 : s->accept_rate;
    int k = (int)ceil(a / (1.0 - a)) + 1;
    s->k_cur = k < 1 ? 1 : k > s->g->draft_max ? s->g->draft_max : k;
}

/* The model's choice at one check row: greedy, or the acceptance rule for
 * proposal x (x < 0: no proposal, a plain draw from the row). Returns
 * true if x is kept; else *out is the model's token. */
static bool check_row(spec_run *s, float *row, chord_token x, const float *q, chord_token *out)
{
    gen_run *r = s->r;
    if (s->greedy || x < 0) {
        *out = chord_sampler_sample(r->smp, row);
        return x >= 0 && *out == x;
    }
    samp_probs(r->smp, row, s->p);
    return gen_spec_accept(s->p, s->g->n_vocab, q, s->g->n_vocab_draft, x, &s->rng, out);
}

static void spec_rounds(spec_run *s)
{
    gen_run *r = s->r;
    chord_gen *g = s->g;
    chord_ctx *c = g->ctx;
    chord_err err = {{0}};
    chord_status st;
    int n_ctx = chord_ctx_n_ctx(c);
    int V = g->n_vocab;

    if (g->n_predict == 0) {
        gen_post_end(r, CHORD_STOP_LIMIT, CHORD_OK, NULL);
        return;
    }
    /* the first token comes from the prompt's logits, as without a draft */
    double t1 = gen_now_ms();
    chord_token t = chord_sampler_sample(r->smp, r->logits);
    for (;;) {
        /* t: the model's choice, not shown yet, not evaluated */
        if (t < 0 || t >= V) {
            gen_post_end(r, CHORD_STOP_ERROR, CHORD_E_INVALID, "generation: the sampler returned an invalid token id");
            return;
        }
        if (chord_token_is_eog(g->model, t)) {
            r->gen_ms += gen_now_ms() - t1;
            gen_post_end(r, CHORD_STOP_EOG, CHORD_OK, NULL);
            return;
        }
        if (!emit(s, t, t1)) {
            gen_post_end(r, CHORD_STOP_ERROR, CHORD_E_NOMEM, "generation: out of memory");
            return;
        }
        r->gen_ms += gen_now_ms() - t1;
        t1 = gen_now_ms();
        int left = g->n_predict >= 0 ? g->n_predict - r->n_gen : INT32_MAX;
        if (left <= 0) {
            gen_post_end(r, CHORD_STOP_LIMIT, CHORD_OK, NULL);
            return;
        }
        int pos = chord_ctx_pos(c);
        if (pos >= n_ctx) {
            gen_post_end(r, CHORD_STOP_CTX_FULL, CHORD_OK, NULL);
            return;
        }
        if (atomic_load(&g->cancel)) {
            gen_post_end(r, CHORD_STOP_CANCELLED, CHORD_OK, NULL);
            return;
        }

        /* Proposals: no more than the limit can show (the check's own
         * token is one more) nor the cache can hold. */
        int k = s->k_cur;
        if (k > left - 1)
            k = left - 1;
        if (k > n_ctx - pos - 1)
            k = n_ctx - pos - 1;
        int n_prop = 0;
        bool from_draft = false;
        if (k > 0 && g->lookup)
            n_prop = gen_lookup(s->hist, s->n_hist, k, s->prop);
        if (k > 0 && n_prop == 0 && g->draft) {
            n_prop = draft_propose(s, k, &st, &err);
            if (n_prop < 0) {
                r->gen_ms += gen_now_ms() - t1;
                gen_end_on_eval(r, st, &err, false);
                return;
            }
            from_draft = true;
        }
        if (atomic_load(&g->cancel)) {
            gen_post_end(r, CHORD_STOP_CANCELLED, CHORD_OK, NULL);
            return;
        }

        /* The check: the pending token and the proposals, every row. */
        chord_token batch[GEN_DRAFT_MAX + 1];
        batch[0] = t;
        memcpy(batch + 1, s->prop, (size_t)n_prop * sizeof *batch);
        chord_ctx_set_decode_numerics(c, true);
        st = chord_ctx_eval(c, batch, n_prop + 1, s->rows, true, &err);
        chord_ctx_set_decode_numerics(c, false);
        if (st != CHORD_OK) {
            r->gen_ms += gen_now_ms() - t1;
            gen_end_on_eval(r, st, &err, false);
            return;
        }
        r->n_drafted += n_prop;

        int kept = 0;
        chord_token next = -1;
        bool stop = false;
        for (int i = 0; i <= n_prop; i++) {
            chord_token x = i < n_prop ? s->prop[i] : -1;
            const float *q = from_draft && s->q_valid && x >= 0
                                 ? s->q + (size_t)i * g->n_vocab_draft : NULL;
            chord_token choice;
            if (!check_row(s, s->rows + (size_t)i * V, x, q, &choice)) {
                next = choice;
                break;
            }
            /* kept: shown now, as the model's own choice at this row */
            kept++;
            r->n_accepted++;
            if (chord_token_is_eog(g->model, x)) {
                next = x;
                break;
            }
            if (!emit(s, x, t1)) {
                gen_post_end(r, CHORD_STOP_ERROR, CHORD_E_NOMEM, "generation: out of memory");
                return;
            }
            if (g->n_predict >= 0 && r->n_gen >= g->n_predict) {
                stop = true;
                break;
            }
        }
        adapt(s, n_prop, kept);

        /* The model's cache keeps every token shown (next, the new
         * pending token, is not shown yet), but the last at the -n limit,
         * whose logits nobody reads: what a plain run leaves. */
        int keep = s->base + s->n_hist - (stop ? 1 : 0);
        st = sync_ctx(s, c, keep, true, &err);
        if (st == CHORD_OK && g->draft && chord_ctx_pos(g->draft_ctx) > keep)
            chord_ctx_truncate(g->draft_ctx, keep);
        if (st != CHORD_OK) {
            r->gen_ms += gen_now_ms() - t1;
            gen_end_on_eval(r, st, &err, false);
            return;
        }
        if (stop) {
            r->gen_ms += gen_now_ms() - t1;
            gen_post_end(r, CHORD_STOP_LIMIT, CHORD_OK, NULL);
            return;
        }
        t = next;
    }
}

void gen_spec_loop(gen_run *r)
{
    chord_gen *g = r->g;
    chord_err err = {{0}};
    spec_run s;
    memset(&s, 0, sizeof s);
    s.r = r;
    s.g = g;
    s.greedy = g->sp.temp <= 0.0f;
    s.k_cur = g->draft_max;
    s.accept_rate = 0.9;
    samp_rng_seed(&s.rng, samp_seed(r->smp) ^ 0x5bd1e9955bd1e995ull);
    int V = g->n_vocab;
    s.base = chord_ctx_pos(g->ctx) - g->n_context;
    s.rows = malloc((size_t)(g->draft_max + 1) * V * sizeof *s.rows);
    s.p = malloc((size_t)V * sizeof *s.p);
    bool ok = s.rows && s.p;
    for (int i = 0; ok && i < g->n_context; i++)
        ok = hist_push(&s, g->context[i]);
    for (int i = 0; ok && i < g->n_prompt; i++)
        ok = hist_push(&s, g->prompt[i]);
    if (ok && g->draft) {
        chord_sampler_params dp = g->sp;
        s.dsmp = chord_sampler_new(&dp, g->n_vocab_draft);
        s.dlog = malloc((size_t)g->n_vocab_draft * sizeof *s.dlog);
        if (!s.greedy)
            s.q = malloc((size_t)g->draft_max * g->n_vocab_draft * sizeof *s.q);
        ok = s.dsmp && s.dlog && (s.greedy || s.q);
    }
    if (!ok) {
        gen_post_end(r, CHORD_STOP_ERROR, CHORD_E_NOMEM, "generation: out of memory for speculative decoding");
        goto out;
    }

    for (int i = 0; i < g->n_prompt; i++)
        chord_sampler_accept(r->smp, g->prompt[i]);
    if (atomic_load(&g->cancel)) {
        gen_post_end(r, CHORD_STOP_CANCELLED, CHORD_OK, NULL);
        goto out;
    }
    double t0 = gen_now_ms();
    chord_status st = chord_ctx_eval(g->ctx, g->prompt, g->n_prompt, r->logits, false, &err);
    /* the draft reads the prompt too (and whatever else it lacks), so its
     * first proposal waits for one or two tokens only */
    if (st == CHORD_OK && g->draft) {
        int dpos = chord_ctx_pos(g->draft_ctx), end = s.base + s.n_hist;
        if (dpos < end && end < chord_ctx_n_ctx(g->draft_ctx))
            st = chord_ctx_eval(g->draft_ctx, s.hist + (dpos - s.base), end - dpos, NULL, false, &err);
    }
    r->prompt_ms = gen_now_ms() - t0;
    if (st != CHORD_OK) {
        gen_end_on_eval(r, st, &err, true);
        goto out;
    }
    chord_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = CHORD_EV_PREFILL_DONE;
    ev.token = -1;
    ev.n_prompt = g->n_prompt;
    ev.prompt_ms = r->prompt_ms;
    gen_queue_push(&g->queue, &ev);
    spec_rounds(&s);
out:
    chord_sampler_free(s.dsmp);
    free(s.dlog);
    free(s.q);
    free(s.rows);
    free(s.p);
    free(s.hist);
}
