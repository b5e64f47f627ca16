/*
 * ui_chat.c - the conversation driver (see ui_chat.h).
 */
#include "ui_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------------
 * Messages
 * ---------------------------------------------------------------------- */

static bool msg_append(ui_msg *m, const char *s, size_t n)
{
    if (m->len + n + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 64;
        while (cap < m->len + n + 1)
            cap *= 2;
        char *t = realloc(m->text, cap);
        if (!t)
            return false;
        m->text = t;
        m->cap = cap;
    }
    memcpy(m->text + m->len, s, n);
    m->len += n;
    m->text[m->len] = 0;
    return true;
}

/* Appends an empty message; NULL if memory ran out. */
static ui_msg *msg_push(ui_chat *c, ui_role role)
{
    if (c->n_msgs == c->cap_msgs) {
        int cap = c->cap_msgs ? c->cap_msgs * 2 : 16;
        ui_msg *t = realloc(c->msgs, (size_t)cap * sizeof *t);
        if (!t)
            return NULL;
        c->msgs = t;
        c->cap_msgs = cap;
    }
    ui_msg *m = &c->msgs[c->n_msgs++];
    memset(m, 0, sizeof *m);
    m->role = role;
    if (!msg_append(m, "", 0)) {
        c->n_msgs--;
        return NULL;
    }
    c->version++;
    return m;
}

static void msgs_clear(ui_chat *c)
{
    for (int i = 0; i < c->n_msgs; i++)
        free(c->msgs[i].text);
    c->n_msgs = 0;
    c->view_start = 0;
    c->win_first = 0;
    c->version++;
}

void ui_chat_note(ui_chat *c, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (c->hooks.on_note) {
        c->hooks.on_note(c->hooks.ud, buf);
        return;
    }
    ui_msg *m = msg_push(c, UI_ROLE_NOTE);
    if (m)
        msg_append(m, buf, strlen(buf));
}

void ui_chat_warn(ui_chat *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (c->hooks.on_warn)
        c->hooks.on_warn(c->hooks.ud, buf);
    else
        ui_chat_note(c, "%s", buf);
}

static bool tokens_push(chord_token **v, int *n, int *cap, const chord_token *t, int k)
{
    if (*n + k > *cap) {
        int nc = *cap ? *cap : 256;
        while (nc < *n + k)
            nc *= 2;
        chord_token *p = realloc(*v, (size_t)nc * sizeof *p);
        if (!p)
            return false;
        *v = p;
        *cap = nc;
    }
    memcpy(*v + *n, t, (size_t)k * sizeof *t);
    *n += k;
    return true;
}

/* ------------------------------------------------------------------------
 * History: failures warn once and stop the recording, never the chat
 * ---------------------------------------------------------------------- */

static void hist_failed(ui_chat *c, const chord_err *err)
{
    ui_chat_warn(c, "history: %s (not recording this session any more)", err->msg);
    c->h = NULL;
    c->stream_open = false;
}

static const char *base_name(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : (p ? p : "");
}

/* Creates the conversation row on the first recorded message. */
static bool hist_ensure_conv(ui_chat *c)
{
    if (!c->h)
        return false;
    if (c->conv_id)
        return true;
    char pj[256];
    snprintf(pj, sizeof pj,
             "{\"temp\":%g,\"top_k\":%d,\"top_p\":%g,\"min_p\":%g,\"repeat_penalty\":%g,\"seed\":%llu}",
             c->sp.temp, c->sp.top_k, c->sp.top_p, c->sp.min_p, c->sp.repeat_penalty,
             (unsigned long long)c->sp.seed);
    hist_conv_params p = {
        .model = base_name(c->model_path),
        .arch = c->info.arch,
        .system_prompt = c->system,
        .params_json = pj,
    };
    chord_err err;
    if (hist_conv_create(c->h, &p, &c->conv_id, &err) != CHORD_OK) {
        hist_failed(c, &err);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------
 * Setup
 * ---------------------------------------------------------------------- */

chord_status ui_chat_init(ui_chat *c, const ui_config *cfg, chord_err *err)
{
    memset(c, 0, sizeof *c);
    c->model = cfg->model;
    c->ctx = cfg->ctx;
    c->h = cfg->hist;
    c->model_path = cfg->model_path;
    c->tmpl_src = cfg->template_src;
    c->tmpl_family = cfg->template_family;
    c->sp = cfg->sampling;
    c->n_predict = cfg->n_predict;
    chord_model_get_info(c->model, &c->info);
    if (cfg->system && *cfg->system) {
        c->system = strdup(cfg->system);
        if (!c->system) {
            snprintf(err->msg, sizeof err->msg, "out of memory");
            return CHORD_E_NOMEM;
        }
    }
    if (cfg->resume_id)
        return ui_chat_resume(c, cfg->resume_id, err);
    return CHORD_OK;
}

/* Waits for the running reply to end, handling its last events. */
static void chat_finish_gen(ui_chat *c)
{
    if (!c->gen)
        return;
    chord_gen_cancel(c->gen);
    while (c->gen)
        ui_chat_pump(c, 1000);
}

void ui_chat_free(ui_chat *c)
{
    chat_finish_gen(c);
    msgs_clear(c);
    free(c->msgs);
    free(c->kv);
    free(c->feed);
    free(c->system);
    free(c->queued);
    memset(c, 0, sizeof *c);
}

void ui_chat_new(ui_chat *c)
{
    chat_finish_gen(c);
    msgs_clear(c);
    c->conv_id = 0;
    c->title[0] = 0;
}

void ui_chat_set_system(ui_chat *c, const char *text)
{
    free(c->system);
    c->system = text && *text ? strdup(text) : NULL;
    c->version++;
}

chord_status ui_chat_resume(ui_chat *c, int64_t id, chord_err *err)
{
    if (!c->h) {
        snprintf(err->msg, sizeof err->msg, "history is off (--no-history), nothing to resume");
        return CHORD_E_INVALID;
    }
    hist_conv *hc;
    chord_status st = hist_conv_load(c->h, id, &hc, err);
    if (st != CHORD_OK)
        return st;
    chat_finish_gen(c);
    msgs_clear(c);
    c->conv_id = hc->id;
    snprintf(c->title, sizeof c->title, "%s", hc->title ? hc->title : "");
    ui_chat_set_system(c, hc->system_prompt);
    for (int i = 0; i < hc->n_msgs; i++) {
        const hist_msg *hm = &hc->msgs[i];
        ui_role r;
        if (!strcmp(hm->role, "user"))
            r = UI_ROLE_USER;
        else if (!strcmp(hm->role, "assistant"))
            r = UI_ROLE_ASSISTANT;
        else
            continue;
        ui_msg *m = msg_push(c, r);
        if (!m || !msg_append(m, hm->content, hm->len)) {
            hist_conv_free(hc);
            snprintf(err->msg, sizeof err->msg, "out of memory loading conversation %lld", (long long)id);
            return CHORD_E_NOMEM;
        }
        m->interrupted = hm->status == HIST_INTERRUPTED;
        m->failed = hm->status == HIST_ERROR;
    }
    hist_conv_free(hc);
    return CHORD_OK;
}

/* ------------------------------------------------------------------------
 * Sending: render, tokenize, reuse the cached prefix, start the thread
 * ---------------------------------------------------------------------- */

/* Renders the conversation (system + user/assistant messages) with the
 * generation prompt; *out is malloc'd. */
static chord_status chat_render(ui_chat *c, char **out, chord_err *err)
{
    chord_chat_msg *v = malloc((size_t)(c->n_msgs + 1) * sizeof *v);
    if (!v) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return CHORD_E_NOMEM;
    }
    int n = 0;
    if (c->system)
        v[n++] = (chord_chat_msg){"system", c->system};
    for (int i = c->win_first; i < c->n_msgs; i++) {
        /* notes are ours; a user message that failed to send got no reply */
        if (c->msgs[i].role == UI_ROLE_NOTE || (c->msgs[i].role == UI_ROLE_USER && c->msgs[i].failed))
            continue;
        v[n++] = (chord_chat_msg){c->msgs[i].role == UI_ROLE_USER ? "user" : "assistant",
                                  c->msgs[i].text};
    }
    chord_token bos = chord_token_bos(c->model), eos = chord_token_eos(c->model);
    const char *bos_s = bos >= 0 ? chord_token_text(c->model, bos) : NULL;
    const char *eos_s = eos >= 0 ? chord_token_text(c->model, eos) : NULL;
    chord_status st;
    if (c->tmpl_family)
        st = chord_chat_render_builtin(c->tmpl_family, v, n, true, bos_s ? bos_s : "",
                                       eos_s ? eos_s : "", out, err);
    else
        st = chord_chat_render(c->model, c->tmpl_src, v, n, true, bos_s ? bos_s : "",
                               eos_s ? eos_s : "", out, err);
    free(v);
    return st;
}

/* Tokenizes the rendered conversation into c->feed. BOS is added when the
 * model asks for it and the template did not already write it. */
static chord_status chat_tokenize(ui_chat *c, const char *text, chord_err *err)
{
    chord_token bos = chord_token_bos(c->model);
    const char *bos_s = bos >= 0 ? chord_token_text(c->model, bos) : NULL;
    bool add_bos = chord_model_add_bos(c->model) &&
                   !(bos_s && *bos_s && !strncmp(text, bos_s, strlen(bos_s)));
    size_t len = strlen(text);
    int n = chord_tokenize(c->model, text, len, add_bos, true, NULL, 0, err);
    if (n < 0)
        return CHORD_E_INVALID;
    c->n_feed = 0;
    if (n > c->cap_feed) {
        chord_token *t = realloc(c->feed, (size_t)n * sizeof *t);
        if (!t) {
            snprintf(err->msg, sizeof err->msg, "out of memory for %d tokens", n);
            return CHORD_E_NOMEM;
        }
        c->feed = t;
        c->cap_feed = n;
    }
    if (chord_tokenize(c->model, text, len, add_bos, true, c->feed, n, err) != n)
        return CHORD_E_INVALID;
    c->n_feed = n;
    return CHORD_OK;
}

/* The room kept for the reply when old turns must leave the window, as
 * batch mode keeps it: -n tokens, a quarter of the context when unlimited,
 * never more than half. */
static int reply_reserve(const ui_chat *c, int n_ctx)
{
    int r = c->n_predict >= 0 ? c->n_predict : n_ctx / 4;
    if (r > n_ctx / 2)
        r = n_ctx / 2;
    return r < 1 ? 1 : r;
}

/* The index of the last user message, or -1. */
static int last_user(const ui_chat *c)
{
    for (int i = c->n_msgs - 1; i >= c->win_first; i--)
        if (c->msgs[i].role == UI_ROLE_USER)
            return i;
    return -1;
}

/* Renders and tokenizes the window into c->feed; while it does not fit
 * with room for the reply, the oldest turn (a user message and what
 * follows it up to the next one) leaves the window. The newest user
 * message always stays. */
static chord_status chat_fit(ui_chat *c, int n_ctx, chord_err *err)
{
    int lu = last_user(c), dropped = 0;
    for (;;) {
        char *text;
        chord_status st = chat_render(c, &text, err);
        if (st != CHORD_OK)
            return st;
        st = chat_tokenize(c, text, err);
        free(text);
        if (st != CHORD_OK)
            return st;
        if (c->n_feed + reply_reserve(c, n_ctx) <= n_ctx || lu < 0 || c->win_first >= lu)
            break;
        int i = c->win_first + 1;
        while (i < lu && c->msgs[i].role != UI_ROLE_USER)
            i++;
        c->win_first = i;
        dropped++;
    }
    if (dropped)
        ui_chat_warn(c, "(context %d tokens: the %d oldest turn%s left the model's window)", n_ctx,
                     dropped, dropped > 1 ? "s" : "");
    return CHORD_OK;
}

static chord_status chat_start(ui_chat *c, chord_err *err)
{
    int n_ctx = chord_ctx_n_ctx(c->ctx);
    chord_status st = chat_fit(c, n_ctx, err);
    if (st != CHORD_OK)
        return st;
    if (c->n_feed >= n_ctx) {
        snprintf(err->msg, sizeof err->msg,
                 "the conversation needs %d tokens but the context holds %d: /new starts over",
                 c->n_feed, n_ctx);
        return CHORD_E_CTX_FULL;
    }
    /* Keep the cached positions that still match; at least one token must
     * be evaluated to get logits. */
    int p = 0, lim = c->n_kv < chord_ctx_pos(c->ctx) ? c->n_kv : chord_ctx_pos(c->ctx);
    while (p < lim && p < c->n_feed && c->kv[p] == c->feed[p])
        p++;
    if (p >= c->n_feed)
        p = c->n_feed - 1;
    chord_ctx_truncate(c->ctx, p);
    c->n_kv = p;
    chord_gen_params gp = {
        .prompt = c->feed + p,
        .n_prompt = c->n_feed - p,
        .n_predict = c->n_predict,
        .sampling = c->sp,
        .model = c->model,
    };
    c->t_send_ms = now_ms();
    c->last_n_prompt = gp.n_prompt;
    c->last_n_gen = 0;
    c->last_prompt_ms = c->last_gen_ms = c->last_ttft_ms = 0;
    st = chord_gen_start(c->ctx, &gp, &c->gen, err);
    if (st != CHORD_OK)
        return st;
    if (!msg_push(c, UI_ROLE_ASSISTANT)) {
        chord_gen_cancel(c->gen);
        chord_gen_join(c->gen);
        c->gen = NULL;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return CHORD_E_NOMEM;
    }
    return CHORD_OK;
}

chord_status ui_chat_send(ui_chat *c, const char *text, chord_err *err)
{
    if (c->gen) {
        char *q = strdup(text);
        if (!q) {
            snprintf(err->msg, sizeof err->msg, "out of memory");
            return CHORD_E_NOMEM;
        }
        free(c->queued);
        c->queued = q;
        ui_chat_note(c, "(queued: sent when this reply ends; Esc stops it)");
        return CHORD_OK;
    }
    ui_msg *m = msg_push(c, UI_ROLE_USER);
    if (!m || !msg_append(m, text, strlen(text))) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return CHORD_E_NOMEM;
    }
    int idx = c->n_msgs - 1;
    chord_status st = chat_start(c, err);
    if (st != CHORD_OK) {
        /* keep the screen honest: the message was not answered */
        c->msgs[idx].failed = true;
        return st;
    }
    if (!c->title[0])     /* the same title the history gives it */
        hist_title_from(text, c->title, sizeof c->title);
    if (hist_ensure_conv(c)) {
        chord_err herr;
        if (hist_msg_add(c->h, c->conv_id, "user", text, strlen(text), NULL, NULL, &herr) != CHORD_OK)
            hist_failed(c, &herr);
    }
    return CHORD_OK;
}

bool ui_chat_busy(const ui_chat *c)
{
    return c->gen != NULL;
}

int ui_chat_fd(const ui_chat *c)
{
    return c->gen ? chord_gen_fd(c->gen) : -1;
}

void ui_chat_stop(ui_chat *c)
{
    if (c->gen)
        chord_gen_cancel(c->gen);
    free(c->queued);
    c->queued = NULL;
}

/* ------------------------------------------------------------------------
 * Events
 * ---------------------------------------------------------------------- */

static ui_msg *reply_msg(ui_chat *c)
{
    for (int i = c->n_msgs - 1; i >= 0; i--)
        if (c->msgs[i].role == UI_ROLE_ASSISTANT)
            return &c->msgs[i];
    return NULL;
}

static void on_token(ui_chat *c, const chord_event *ev)
{
    ui_msg *m = reply_msg(c);
    size_t n = strlen(ev->text);
    if (c->last_n_gen == 0)
        c->last_ttft_ms = now_ms() - c->t_send_ms;
    c->last_n_gen = ev->n_gen;
    c->last_gen_ms = ev->gen_ms;
    tokens_push(&c->feed, &c->n_feed, &c->cap_feed, &ev->token, 1);
    if (m)
        msg_append(m, ev->text, n);
    c->version++;
    if (c->hooks.on_text && n)
        c->hooks.on_text(c->hooks.ud, ev->text, n);
    if (c->h && !c->stream_open && hist_ensure_conv(c)) {
        chord_err err;
        if (hist_stream_begin(c->h, c->conv_id, NULL, &err) != CHORD_OK)
            hist_failed(c, &err);
        else
            c->stream_open = true;
    }
    if (c->h && c->stream_open) {
        chord_err err;
        if (hist_stream_add(c->h, ev->text, 1, &err) != CHORD_OK)
            hist_failed(c, &err);
    }
}

static void on_end(ui_chat *c, const chord_event *ev)
{
    ui_msg *m = reply_msg(c);
    size_t tail = strlen(ev->text);
    if (m && tail)
        msg_append(m, ev->text, tail);
    if (c->hooks.on_text && tail)
        c->hooks.on_text(c->hooks.ud, ev->text, tail);
    bool cancelled = ev->kind == CHORD_EV_DONE && ev->reason == CHORD_STOP_CANCELLED;
    bool failed = ev->kind == CHORD_EV_ERROR;
    if (m) {
        m->interrupted = cancelled;
        m->failed = failed;
    }
    c->last_n_prompt = ev->n_prompt;
    c->last_n_gen = ev->n_gen;
    c->last_prompt_ms = ev->prompt_ms;
    c->last_gen_ms = ev->gen_ms;

    hist_counts hc = {ev->n_prompt, ev->n_gen, ev->prompt_ms, ev->gen_ms};
    hist_msg_status hs = failed ? HIST_ERROR : cancelled ? HIST_INTERRUPTED : HIST_COMPLETE;
    chord_err err;
    if (c->h && c->stream_open) {
        if (tail && hist_stream_add(c->h, ev->text, 0, &err) != CHORD_OK)
            hist_failed(c, &err);
        else if (hist_stream_end(c->h, hs, &hc, &err) != CHORD_OK)
            hist_failed(c, &err);
        c->stream_open = false;
    } else if (c->h && !cancelled && hist_ensure_conv(c)) {
        /* an empty reply (end of turn at once) still takes its place */
        if (hist_msg_add(c->h, c->conv_id, "assistant", m ? m->text : "", m ? m->len : 0, &hc, NULL, &err) != CHORD_OK)
            hist_failed(c, &err);
    }

    chord_gen_join(c->gen);
    c->gen = NULL;
    /* the cache now holds the first pos tokens of prompt + reply */
    int pos = chord_ctx_pos(c->ctx);
    if (pos > c->n_feed)
        pos = c->n_feed;
    c->n_kv = 0;
    tokens_push(&c->kv, &c->n_kv, &c->cap_kv, c->feed, pos);
    if (failed)
        ui_chat_warn(c, "error: %s", ev->message);
    else if (ev->reason == CHORD_STOP_CTX_FULL)
        ui_chat_warn(c, "(context full: /new starts a fresh conversation)");
    c->version++;
    if (c->hooks.on_done)
        c->hooks.on_done(c->hooks.ud, ev);
    if (c->queued) {
        char *q = c->queued;
        c->queued = NULL;
        chord_err serr;
        if (ui_chat_send(c, q, &serr) != CHORD_OK)
            ui_chat_warn(c, "error: %s", serr.msg);
        free(q);
    }
}

bool ui_chat_pump(ui_chat *c, int timeout_ms)
{
    bool changed = false;
    chord_event ev;
    while (c->gen && chord_gen_next(c->gen, &ev, changed ? 0 : timeout_ms)) {
        changed = true;
        switch (ev.kind) {
        case CHORD_EV_PREFILL_DONE:
            c->last_prompt_ms = ev.prompt_ms;
            c->last_n_prompt = ev.n_prompt;
            break;
        case CHORD_EV_TOKEN:
            on_token(c, &ev);
            break;
        case CHORD_EV_DONE:
        case CHORD_EV_ERROR:
            on_end(c, &ev);
            break;
        }
    }
    if (c->h && c->stream_open) {
        chord_err err;
        if (hist_stream_poll(c->h, &err) != CHORD_OK)
            hist_failed(c, &err);
    }
    return changed;
}

void ui_chat_sampling_str(const ui_chat *c, char *out, size_t cap)
{
    const chord_sampler_params *p = &c->sp;
    if (p->temp <= 0) {
        snprintf(out, cap, "greedy");
        return;
    }
    int n = snprintf(out, cap, "temp %g", p->temp);
    if (p->top_k > 0 && n >= 0 && (size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n, " \xc2\xb7 top-k %d", p->top_k);
    if (p->top_p < 1 && n >= 0 && (size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n, " \xc2\xb7 top-p %g", p->top_p);
    if (p->min_p > 0 && n >= 0 && (size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n, " \xc2\xb7 min-p %g", p->min_p);
    if (p->repeat_penalty != 1 && n >= 0 && (size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n, " \xc2\xb7 rep %g", p->repeat_penalty);
#ifdef CHORD_SEED_RANDOM
    if (p->seed == CHORD_SEED_RANDOM) {
        if (n >= 0 && (size_t)n < cap)
            snprintf(out + n, cap - (size_t)n, " \xc2\xb7 seed random");
        return;
    }
#endif
    if (n >= 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, " \xc2\xb7 seed %llu", (unsigned long long)p->seed);
}
