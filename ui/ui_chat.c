/*
 * ui_chat.c - the conversation driver (see ui_chat.h).
 */
#include "ui_chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvstore.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------------
 * Messages
 * ---------------------------------------------------------------------- */

/* Appends n bytes to a growing NUL-terminated buffer; false without
 * memory (the buffer is unchanged). */
static bool buf_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 64;
        while (c < *len + n + 1)
            c *= 2;
        char *t = realloc(*buf, c);
        if (!t)
            return false;
        *buf = t;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = 0;
    return true;
}

static bool msg_append(ui_msg *m, const char *s, size_t n)
{
    return buf_append(&m->text, &m->len, &m->cap, s, n);
}

/* Appends to the message's reasoning part. */
static bool msg_append_think(ui_msg *m, const char *s, size_t n)
{
    return buf_append(&m->think, &m->think_len, &m->think_cap, s, n);
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
    for (int i = 0; i < c->n_msgs; i++) {
        free(c->msgs[i].text);
        free(c->msgs[i].think);
    }
    c->n_msgs = 0;
    c->view_start = 0;
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

/* ------------------------------------------------------------------------
 * History: failures warn once and stop the recording, never the chat
 * ---------------------------------------------------------------------- */

/* The writes go through the queue (data/hist_queue.h): nothing here waits
 * for the database. The queue's state is read once per pump; a failure is
 * warned about once, a lock only shows in the status line and /stats. */
static void hist_watch(ui_chat *c)
{
    if (!c->q)
        return;
    bool was_failed = c->hq.failed;
    bool was_locked = c->hq.locked;
    int was_waiting = c->hq.n_waiting;
    hist_queue_state_get(c->q, &c->hq);
    if (c->hq.failed && !was_failed)
        ui_chat_warn(c, "%s (not recording this session any more)", c->hq.msg);
    if (c->hq.locked != was_locked || c->hq.n_waiting != was_waiting)
        c->version++;
    if (!c->conv_id && c->conv_ref)
        c->conv_id = hist_queue_conv_id(c->q, c->conv_ref);
}

static const char *base_name(const char *p)
{
    const char *s = p ? strrchr(p, '/') : NULL;
    return s ? s + 1 : (p ? p : "");
}

/* Queues the conversation row on the first recorded message. */
static bool hist_ensure_conv(ui_chat *c)
{
    if (!c->q || c->hq.failed)
        return false;
    if (c->conv_ref)
        return true;
    char pj[256];
    snprintf(pj, sizeof pj,
             "{\"temp\":%g,\"top_k\":%d,\"top_p\":%g,\"min_p\":%g,\"repeat_penalty\":%g,\"seed\":%llu}",
             c->sp.temp, c->sp.top_k, c->sp.top_p, c->sp.min_p, c->sp.repeat_penalty,
             (unsigned long long)c->sp.seed);
    hist_conv_params p = {
        .model = base_name(c->model_path),
        .arch = c->info.arch,
        .system_prompt = c->sess ? chord_chat_system(c->sess) : NULL,
        .params_json = pj,
    };
    c->conv_ref = hist_queue_conv_create(c->q, &p);
    /* after /model: the conversation so far, as the new model was given it */
    for (int i = 0; i < c->n_carry && i < c->n_msgs; i++) {
        const ui_msg *m = &c->msgs[i];
        if (m->role != UI_ROLE_NOTE && !m->failed)
            hist_queue_msg_add(c->q, c->conv_ref, m->role == UI_ROLE_USER ? "user" : "assistant",
                               m->text, m->len, NULL);
    }
    c->n_carry = 0;
    return true;
}

bool ui_chat_hist_problem(const ui_chat *c, char *out, size_t cap)
{
    if (c->hist_error[0]) {
        snprintf(out, cap, "history off: %s", c->hist_error);
        return true;
    }
    if (!c->q)
        return false;
    if (c->hq.failed) {
        snprintf(out, cap, "history not recorded: %s", c->hq.msg);
        return true;
    }
    if (c->hq.locked && !c->hq.opened) {
        snprintf(out, cap, "history locked by another process: opening it, retrying (%d write%s waiting)",
                 c->hq.n_waiting, c->hq.n_waiting == 1 ? "" : "s");
        return true;
    }
    if (c->hq.locked) {
        snprintf(out, cap, "history locked by another process: %d write%s waiting", c->hq.n_waiting,
                 c->hq.n_waiting == 1 ? "" : "s");
        return true;
    }
    return false;
}

void ui_chat_hist_line(const ui_chat *c, char *out, size_t cap)
{
    if (c->hist_error[0])
        snprintf(out, cap, "history: not recording: %s", c->hist_error);
    else if (!c->q)
        snprintf(out, cap, "history: off (--no-history)");
    else if (c->hq.failed)
        snprintf(out, cap, "history writes: stopped after %lld written, %lld lost: %s",
                 c->hq.n_written, c->hq.n_lost, c->hq.msg);
    else if (c->hq.locked && !c->hq.opened)
        snprintf(out, cap, "history: not open yet, %d write%s waiting, retrying every %d ms: %s",
                 c->hq.n_waiting, c->hq.n_waiting == 1 ? "" : "s", HIST_RETRY_MS, c->hq.msg);
    else if (c->hq.locked)
        snprintf(out, cap, "history writes: %d waiting, retrying every %d ms: %s", c->hq.n_waiting,
                 HIST_RETRY_MS, c->hq.msg);
    else
        snprintf(out, cap, "history writes: %lld written, %d waiting (%s)", c->hq.n_written,
                 c->hq.n_waiting, hist_queue_path(c->q));
}

const char *ui_chat_db_path(const ui_chat *c)
{
    return c->q ? hist_queue_path(c->q) : c->h ? hist_path(c->h) : NULL;
}

hist *ui_chat_reader(ui_chat *c, chord_err *err)
{
    if (c->h)
        return c->h;
    if (!c->q) {
        if (c->hist_error[0])
            snprintf(err->msg, sizeof err->msg, "history off: %.440s", c->hist_error);
        else
            snprintf(err->msg, sizeof err->msg, "history is off (--no-history)");
        return NULL;
    }
    hist_watch(c);
    if (c->hq.failed) {
        snprintf(err->msg, sizeof err->msg, "history not available: %.440s", c->hq.msg);
        return NULL;
    }
    if (!c->hq.opened) {
        /* the writer opens (creates, upgrades) the file first: a reader
         * of a file that is not there yet would find nothing anyway */
        if (c->hq.locked)
            snprintf(err->msg, sizeof err->msg, "history busy: not open yet (%.420s), try again", c->hq.msg);
        else
            snprintf(err->msg, sizeof err->msg, "history busy: still opening it, try again");
        return NULL;
    }
    bool locked = false;
    hist_open_params p = {.read_only = true, .busy_timeout_ms = UI_HIST_READ_MS, .locked = &locked};
    if (hist_open(hist_queue_path(c->q), &p, &c->h, err) != CHORD_OK) {
        if (locked) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err->msg);
            snprintf(err->msg, sizeof err->msg, "history busy (try again): %.440s", why);
        }
        return NULL;
    }
    return c->h;
}

bool ui_chat_hist_sync(ui_chat *c, int timeout_ms, chord_err *err)
{
    if (!c->q)
        return true;
    bool done = hist_queue_flush(c->q, timeout_ms);
    hist_watch(c);
    if (!done)
        snprintf(err->msg, sizeof err->msg, "history busy: %d write%s of this session still waiting%s, try again",
                 c->hq.n_waiting, c->hq.n_waiting == 1 ? "" : "s",
                 c->hq.locked ? " (locked by another process)" : "");
    else if (c->hq.failed)
        snprintf(err->msg, sizeof err->msg, "history not recorded: %.440s", c->hq.msg);
    return done && !c->hq.failed;
}

const char *ui_chat_read_error(const ui_chat *c, chord_err *err)
{
    if (hist_locked(c->h) && strncmp(err->msg, "history busy", 12)) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        snprintf(err->msg, sizeof err->msg, "history busy (try again): %.440s", why);
    }
    return err->msg;
}


/* ------------------------------------------------------------------------
 * Setup
 * ---------------------------------------------------------------------- */

chord_status ui_chat_init(ui_chat *c, const ui_config *cfg, chord_err *err)
{
    memset(c, 0, sizeof *c);
    c->model = cfg->model;
    c->ctx = cfg->ctx;
    c->h = cfg->hist;   /* ours from here on, even if the init fails */
    c->model_path = cfg->model_path;
    c->sp = cfg->sampling;
    if (c->sp.seed == CHORD_SEED_RANDOM)
        c->sp.seed = chord_seed_random();
    c->n_predict = cfg->n_predict;
    c->kv_store = cfg->kv_store;
    c->draft = cfg->draft;
    c->draft_ctx = cfg->draft_ctx;
    c->draft_max = cfg->draft_max;
    c->lookup = cfg->lookup;
    c->tmpl_src = cfg->template_src;
    c->tmpl_family = cfg->template_family;
    c->model_load = cfg->model_load;
    c->model_list = cfg->model_list;
    c->model_ud = cfg->model_ud;
    if (cfg->history) {
        /* the writer opens the file on its own thread (it may wait for a
         * lock there, never here); reads use c->h */
        chord_err qerr;
        if (hist_queue_start(cfg->hist_db, NULL, &c->q, &qerr) != CHORD_OK)
            snprintf(c->hist_error, sizeof c->hist_error, "%s", qerr.msg);
    }
    chord_model_get_info(c->model, &c->info);
    chord_chat_params p = {
        .template_src = cfg->template_src,
        .template_family = cfg->template_family,
        .system = cfg->system,
        .thinking = cfg->thinking,
    };
    chord_status st = chord_chat_new(c->model, c->ctx, &p, &c->sess, err);
    if (st != CHORD_OK)
        return st;
    /* a default context memory cut short is worth a line at start (/stats
     * always says how the context was sized) */
    bool capped;
    const char *size_note = chord_ctx_size_note(c->ctx, &capped);
    if (capped)
        ui_chat_note(c, "(%s)", size_note);
    if (cfg->resume_id)
        return ui_chat_resume(c, cfg->resume_id, err);
    return CHORD_OK;
}

/* ------------------------------------------------------------------------
 * The saved KV cache (data/kvstore.h): written after a turn on a thread of
 * its own, once the history has given the conversation its id; loaded
 * when a conversation is resumed
 * ---------------------------------------------------------------------- */

/* Lets a running save finish: the context is about to change. */
static void kv_wait(ui_chat *c)
{
    char note[512];
    if (c->kv_saver && !kvstore_saver_wait(c->kv_saver, note, sizeof note))
        ui_chat_warn(c, "%s", note);
    c->kv_saver = NULL;
}

/* From the pump: reaps a finished save, starts one after a turn. */
static void kv_pump(ui_chat *c)
{
    if (c->kv_saver && kvstore_saver_done(c->kv_saver))
        kv_wait(c);
    if (!c->kv_dirty || c->kv_store <= 0 || c->gen || c->kv_saver || !ui_chat_db_path(c) ||
        !c->conv_id)
        return;
    c->kv_dirty = false;
    c->kv_saver = kvstore_save_start(c->sess, ui_chat_db_path(c), c->model_path, c->conv_id,
                                     c->kv_store);
}

/* At the end: the last turn's cache, saved here if its save had not
 * started (the conversation's id comes once the history wrote it). */
static void kv_finish(ui_chat *c)
{
    kv_wait(c);
    if (!c->kv_dirty || c->kv_store <= 0 || !ui_chat_db_path(c) || !c->sess)
        return;
    if (!c->conv_id && c->conv_ref && c->q && hist_queue_flush(c->q, 300))
        c->conv_id = hist_queue_conv_id(c->q, c->conv_ref);
    char note[700];
    if (c->conv_id &&
        !kvstore_save(c->sess, ui_chat_db_path(c), c->model_path, c->conv_id, c->kv_store, note,
                      sizeof note))
        fprintf(stderr, "chord: %s\n", note);
    c->kv_dirty = false;
}

/* Resuming conversation c->conv_id: its saved cache, if it matches, so
 * the next reply prefills only what the file lacks. */
static void kv_load(ui_chat *c)
{
    kv_wait(c);
    c->kv_dirty = false;
    char path[4096], note[700];
    if (c->kv_store <= 0 || !ui_chat_db_path(c) ||
        !kvstore_path(ui_chat_db_path(c), c->model_path, c->conv_id, path, sizeof path) ||
        access(path, F_OK) != 0)
        return;
    chord_ctx_truncate(c->ctx, 0);
    if (c->draft_ctx) /* it held the old conversation: it starts over */
        chord_ctx_truncate(c->draft_ctx, 0);
    /* a loaded cache shows in /stats (the tokens reused); only a file
     * that was there and could not be used is worth a line in the chat */
    if (!kvstore_load(c->sess, ui_chat_db_path(c), c->model_path, c->conv_id, note, sizeof note) &&
        note[0])
        ui_chat_note(c, "(%s)", note);
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

/* Waits a bounded time for the history writes, and says on stderr what
 * could not be written (the screen is gone by now). */
static void hist_finish(ui_chat *c)
{
    if (!c->q)
        return;
    if (!hist_queue_flush(c->q, 300)) {
        hist_queue_state_get(c->q, &c->hq);
        if (!c->hq.failed)
            fprintf(stderr, "chord: history %s: waiting up to 3 s to save %d write%s (%s)\n",
                    hist_queue_path(c->q), c->hq.n_waiting, c->hq.n_waiting == 1 ? "" : "s",
                    c->hq.locked ? "the database is locked by another process" : "busy");
    }
    hist_queue_state st;
    hist_queue_close(c->q, 3000, &st);
    c->q = NULL;
    if (st.n_waiting > 0 && !st.failed)
        fprintf(stderr, "chord: %s: %d history write%s not saved (the last messages of this session"
                " are not in the history)\n", st.msg[0] ? st.msg : "history", st.n_waiting,
                st.n_waiting == 1 ? "" : "s");
    else if (st.failed)
        fprintf(stderr, "chord: %s: this session was not fully recorded (%lld write%s lost)\n",
                st.msg, st.n_lost, st.n_lost == 1 ? "" : "s");
}

void ui_chat_free(ui_chat *c)
{
    chat_finish_gen(c);
    kv_finish(c);
    /* the reader first: the writer's connection, closed last, tidies the
     * file (checkpoints and removes the -wal and -shm) */
    hist_close(c->h);
    c->h = NULL;
    hist_finish(c);
    msgs_clear(c);
    free(c->msgs);
    chord_chat_free(c->sess);
    free(c->queued);
    free(c->clip);
    free(c->switch_req);
    memset(c, 0, sizeof *c);
}

void ui_chat_new(ui_chat *c)
{
    chat_finish_gen(c);
    kv_wait(c);
    kv_pump(c);   /* the conversation left: its last turn's save */
    c->kv_dirty = false;
    msgs_clear(c);
    chord_chat_clear(c->sess);
    c->conv_id = 0;
    c->conv_ref = 0;
    c->title[0] = 0;
}

void ui_chat_set_system(ui_chat *c, const char *text)
{
    chord_err err;
    if (chord_chat_set_system(c->sess, text, &err) != CHORD_OK)
        ui_chat_warn(c, "/system: %s", err.msg);
    c->version++;
}

/* Puts the shown conversation into the session the way batch mode resumes
 * one: an error reply leaves with the user message it answered, and so
 * does a user message that got no reply (some templates refuse two user
 * turns in a row). */
static chord_status session_from_msgs(ui_chat *c, chord_err *err)
{
    chord_chat_clear(c->sess);
    bool after_user = false;
    for (int i = 0; i < c->n_msgs; i++) {
        const ui_msg *m = &c->msgs[i];
        bool user = m->role == UI_ROLE_USER;
        if (m->role == UI_ROLE_NOTE)
            continue;
        if ((!user && m->failed) || (user && after_user)) {
            if (after_user)
                chord_chat_pop(c->sess);
            after_user = false;
            if (!user)
                continue;
        }
        chord_status st = chord_chat_add(c->sess, user, m->text, m->len, err);
        if (st != CHORD_OK)
            return st;
        after_user = user;
    }
    if (after_user)
        chord_chat_pop(c->sess);
    return CHORD_OK;
}

chord_status ui_chat_resume(ui_chat *c, int64_t id, chord_err *err)
{
    hist *h = ui_chat_reader(c, err);
    if (!h)
        return CHORD_E_INVALID;
    hist_conv *hc;
    chord_status st = hist_conv_load(h, id, &hc, err);
    if (st != CHORD_OK) {
        ui_chat_read_error(c, err);
        return st;
    }
    chat_finish_gen(c);
    kv_pump(c);   /* the conversation left: its last turn's save */
    msgs_clear(c);
    c->conv_id = hc->id;
    c->conv_ref = hc->id;
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
        if (hm->superseded)   /* taken back (/retry, /edit, /undo) */
            continue;
        ui_msg *m = msg_push(c, r);
        size_t ra, rb;
        bool thought = hist_trim(hm->reasoning, hm->reasoning_len, &ra, &rb);
        if (!m || !msg_append(m, hm->content, hm->len) ||
            (thought && !msg_append_think(m, hm->reasoning + ra, rb - ra))) {
            hist_conv_free(hc);
            snprintf(err->msg, sizeof err->msg, "out of memory loading conversation %lld", (long long)id);
            return CHORD_E_NOMEM;
        }
        m->interrupted = hm->status == HIST_INTERRUPTED;
        m->failed = hm->status == HIST_ERROR;
    }
    hist_conv_free(hc);
    st = session_from_msgs(c, err);
    if (st == CHORD_OK)
        kv_load(c);
    return st;
}

/* ------------------------------------------------------------------------
 * /model NAME
 * ---------------------------------------------------------------------- */

chord_status ui_chat_switch_model(ui_chat *c, const char *spec, chord_err *err)
{
    if (!c->model_load) {
        snprintf(err->msg, sizeof err->msg, "switching models is not available here");
        return CHORD_E_INVALID;
    }
    if (c->gen) {
        snprintf(err->msg, sizeof err->msg, "a reply is running (Esc stops it)");
        return CHORD_E_INVALID;
    }
    const char *sp = chord_chat_system(c->sess);
    char *sys = sp ? strdup(sp) : NULL;
    if (sp && !sys) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return CHORD_E_NOMEM;
    }
    chord_thinking th = chord_chat_get_thinking(c->sess);
    kv_wait(c);   /* a save reads the context the loader frees */
    c->kv_dirty = false;
    /* the session holds the context, which the loader frees on success */
    chord_chat_free(c->sess);
    c->sess = NULL;
    chord_model *m = c->model;
    chord_ctx *ctx = c->ctx;
    char path[sizeof c->model_path_buf];
    chord_status st = c->model_load(c->model_ud, spec, &m, &ctx, path, sizeof path, err);
    if (st == CHORD_OK) {
        c->model = m;
        c->ctx = ctx;
        snprintf(c->model_path_buf, sizeof c->model_path_buf, "%s", path);
        c->model_path = c->model_path_buf;
        chord_model_get_info(c->model, &c->info);
        /* --chat-template was chosen for the first model */
        c->tmpl_src = c->tmpl_family = NULL;
    }
    chord_chat_params p = {
        .template_src = c->tmpl_src,
        .template_family = c->tmpl_family,
        .system = sys,
        .thinking = th,
    };
    chord_err e2;
    chord_status st2 = chord_chat_new(c->model, c->ctx, &p, &c->sess, &e2);
    if (st2 != CHORD_OK) {
        /* a template that does not render: ChatML rather than no chat */
        p.template_src = NULL;
        p.template_family = "chatml";
        st2 = chord_chat_new(c->model, c->ctx, &p, &c->sess, err);
        if (st2 == CHORD_OK)
            ui_chat_warn(c, "the model's chat template: %s (ChatML used instead)", e2.msg);
    }
    free(sys);
    if (st2 != CHORD_OK)
        return st2;
    if (session_from_msgs(c, &e2) != CHORD_OK)
        ui_chat_warn(c, "the conversation could not be carried over whole: %s", e2.msg);
    if (st != CHORD_OK)
        return st;
    /* the rest is another model's: a conversation of its own in the history */
    c->n_carry = c->n_msgs;
    c->conv_id = 0;
    c->conv_ref = 0;
    c->last_n_reuse = 0;
    c->version++;
    return CHORD_OK;
}

/* ------------------------------------------------------------------------
 * Taking a turn back: /undo, /retry, /edit
 * ---------------------------------------------------------------------- */

static int last_user(const ui_chat *c)
{
    for (int i = c->n_msgs - 1; i >= 0; i--)
        if (c->msgs[i].role == UI_ROLE_USER)
            return i;
    return -1;
}

const ui_msg *ui_chat_last_reply(const ui_chat *c)
{
    for (int i = c->n_msgs - 1; i >= 0; i--)
        if (c->msgs[i].role == UI_ROLE_ASSISTANT && c->msgs[i].len)
            return &c->msgs[i];
    return NULL;
}

/* Removes the last turn from the screen (notes stay): the last user message
 * (if with_user) and the replies after it; marks it in the history and
 * rebuilds the session from what is left. The session keeps its cached
 * tokens, so the next prompt prefills only from where the rendering
 * differs. */
static chord_status take_back(ui_chat *c, bool with_user, hist_mark mark, chord_err *err)
{
    int iu = last_user(c);
    if (c->gen || iu < 0) {
        snprintf(err->msg, sizeof err->msg, "%s",
                 c->gen ? "a reply is running (Esc stops it)" : "no exchange to take back");
        return CHORD_E_INVALID;
    }
    int w = iu;
    for (int i = iu; i < c->n_msgs; i++) {
        ui_msg *m = &c->msgs[i];
        if (m->role == UI_ROLE_NOTE || (i == iu && !with_user)) {
            c->msgs[w++] = *m;
        } else {
            free(m->text);
            free(m->think);
        }
    }
    c->n_msgs = w;
    if (c->view_start > c->n_msgs)
        c->view_start = c->n_msgs;
    c->version++;
    if (c->conv_ref && c->q && !c->hq.failed)
        hist_queue_turn_mark(c->q, c->conv_ref, with_user, mark);
    return session_from_msgs(c, err);
}

chord_status ui_chat_undo(ui_chat *c, chord_err *err)
{
    c->editing = false;
    return take_back(c, true, HIST_REMOVED, err);
}

const char *ui_chat_edit_begin(ui_chat *c, chord_err *err)
{
    int iu = last_user(c);
    if (c->gen || iu < 0) {
        snprintf(err->msg, sizeof err->msg, "%s",
                 c->gen ? "a reply is running (Esc stops it)" : "no message to edit");
        return NULL;
    }
    c->editing = true;
    return c->msgs[iu].text;
}

void ui_chat_edit_cancel(ui_chat *c)
{
    c->editing = false;
}

static chord_status chat_start(ui_chat *c, chord_err *err);

chord_status ui_chat_retry(ui_chat *c, chord_err *err)
{
    c->editing = false;
    chord_status st = take_back(c, false, HIST_ALTERNATIVE, err);
    if (st != CHORD_OK)
        return st;
    /* the session left the unanswered question out: it asks again */
    ui_msg *u = &c->msgs[last_user(c)];
    u->failed = false;
    if ((st = chord_chat_add(c->sess, true, u->text, u->len, err)) != CHORD_OK ||
        (st = chat_start(c, err)) != CHORD_OK) {
        u->failed = true;
        chord_err e2;
        session_from_msgs(c, &e2);
        return st;
    }
    return CHORD_OK;
}

/* ------------------------------------------------------------------------
 * Sending: render, tokenize, reuse the cached prefix, start the thread
 * ---------------------------------------------------------------------- */

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

/* Renders the conversation through the session (which keeps the cached
 * prefix and drops the oldest turns when the context is full) and starts
 * the generation thread on the tokens left to prefill. */
static chord_status chat_start(ui_chat *c, chord_err *err)
{
    kv_wait(c);
    int n_ctx = chord_ctx_n_ctx(c->ctx);
    const chord_token *prompt = NULL;
    int n_prompt = 0, n_reuse = 0, dropped = 0;
    chord_status st = chord_chat_prepare(c->sess, reply_reserve(c, n_ctx), &prompt, &n_prompt,
                                         &n_reuse, &dropped, err);
    if (dropped)
        ui_chat_warn(c, "(context %d tokens: the %d oldest turn%s left the model's window)", n_ctx,
                     dropped, dropped > 1 ? "s" : "");
    if (st != CHORD_OK)
        return st;
    chord_gen_params gp = {
        .prompt = prompt,
        .n_prompt = n_prompt,
        .n_predict = c->n_predict,
        .sampling = c->sp,
        .model = c->model,
        /* the rendering starts n_reuse tokens before the prompt: what the
         * cache holds, for lookup and the draft */
        .context = prompt - n_reuse,
        .n_context = n_reuse,
        .draft_max = c->draft_max,
        .lookup = c->lookup,
    };
    if (c->draft && chord_vocab_check(c->model, c->draft, NULL) == CHORD_OK) {
        /* a context shift moved the model's cache, not the draft's: that
         * one starts over (from the context tokens) */
        bool shifted = false;
        chord_chat_dropped_tokens(c->sess, &shifted);
        if (shifted)
            chord_ctx_truncate(c->draft_ctx, 0);
        gp.draft = c->draft;
        gp.draft_ctx = c->draft_ctx;
    }
    c->t_send_ms = now_ms();
    c->last_n_reuse = n_reuse;
    c->last_n_prompt = gp.n_prompt;
    c->last_n_gen = 0;
    c->last_prompt_ms = c->last_gen_ms = c->last_ttft_ms = 0;
    c->last_n_drafted = c->last_n_accepted = 0;
    c->turn_ended = false;
    c->n_shown = 0;
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
    if (chord_chat_too_long(c->sess, text, strlen(text), err))
        return CHORD_E_INVALID;
    if (c->editing) {
        /* /edit: this message replaces the last exchange */
        c->editing = false;
        if (take_back(c, true, HIST_ALTERNATIVE, err) != CHORD_OK)
            return CHORD_E_INVALID;
    }
    ui_msg *m = msg_push(c, UI_ROLE_USER);
    if (!m || !msg_append(m, text, strlen(text))) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return CHORD_E_NOMEM;
    }
    int idx = c->n_msgs - 1;
    chord_status st = chord_chat_add(c->sess, true, text, strlen(text), err);
    if (st != CHORD_OK) {
        c->msgs[idx].failed = true;
        return st;
    }
    st = chat_start(c, err);
    if (st != CHORD_OK) {
        /* keep the screen honest: the message was not answered, and the
         * model does not see it again */
        c->msgs[idx].failed = true;
        chord_chat_pop(c->sess);
        return st;
    }
    if (!c->title[0])     /* the same title the history gives it */
        hist_title_from(text, c->title, sizeof c->title);
    if (hist_ensure_conv(c))
        hist_queue_msg_add(c->q, c->conv_ref, "user", text, strlen(text), NULL);
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

/* Shows and records the reply text the session has cleared for showing
 * (text that may begin the template's stop text waits until it is known
 * not to, as in batch mode). */
static void show_ready(ui_chat *c)
{
    ui_msg *m = reply_msg(c);
    chord_chat_piece p;
    while (chord_chat_reply_next(c->sess, &p)) {
        if (p.token >= 0)
            c->n_shown++;
        bool think = p.part == CHORD_PART_REASONING;
        if (m && think) {
            /* the blank lines that open a block are not worth a row */
            size_t skip = 0;
            while (!m->think_len && skip < p.len && strchr(" \t\r\n", p.text[skip]))
                skip++;
            msg_append_think(m, p.text + skip, p.len - skip);
        } else if (m) {
            msg_append(m, p.text, p.len);
        }
        c->version++;
        if (think && c->hooks.on_think && p.len)
            c->hooks.on_think(c->hooks.ud, p.text, p.len);
        else if (!think && c->hooks.on_text && p.len)
            c->hooks.on_text(c->hooks.ud, p.text, p.len);
        if (!c->stream_open && hist_ensure_conv(c)) {
            hist_queue_stream_begin(c->q, c->conv_ref);
            c->stream_open = true;
        }
        if (c->stream_open)
            hist_queue_stream_add(c->q, p.text, p.len, p.token >= 0 ? 1 : 0, think);
    }
}

static void on_token(ui_chat *c, const chord_event *ev)
{
    if (c->last_n_gen == 0)
        c->last_ttft_ms = now_ms() - c->t_send_ms;
    c->last_n_gen = ev->n_gen;
    c->last_gen_ms = ev->gen_ms;
    c->last_n_drafted = ev->n_drafted;
    c->last_n_accepted = ev->n_accepted;
    c->version++;
    if (c->turn_ended)
        return;
    chord_status st;
    c->turn_ended = chord_chat_reply_push(c->sess, ev->token, ev->text, &st);
    if (st != CHORD_OK)
        c->reply_lost = true;
    show_ready(c);
    /* the template's end of turn (its token or its text): the reply is
     * complete, the generation need not go on */
    if (c->turn_ended)
        chord_gen_cancel(c->gen);
}

static void on_end(ui_chat *c, const chord_event *ev_in)
{
    ui_msg *m = reply_msg(c);
    chord_event ev = *ev_in;
    if (c->turn_ended && ev.kind == CHORD_EV_DONE)
        ev.reason = CHORD_STOP_EOG;   /* stopped by us at the end of the turn */
    /* text the detokenizer held back at the end (an incomplete UTF-8) */
    if (!c->turn_ended && ev.kind == CHORD_EV_DONE && ev.text[0]) {
        chord_status st;
        chord_chat_reply_push(c->sess, -1, ev.text, &st);
        if (st != CHORD_OK)
            c->reply_lost = true;
    }
    chord_chat_reply_flush(c->sess);
    show_ready(c);
    bool cancelled = ev.kind == CHORD_EV_DONE && ev.reason == CHORD_STOP_CANCELLED;
    bool failed = ev.kind == CHORD_EV_ERROR;
    if (m) {
        m->interrupted = cancelled;
        m->failed = failed;
        m->cut_at = ev.kind == CHORD_EV_DONE && ev.reason == CHORD_STOP_LIMIT ? ev.n_gen : 0;
    }
    c->last_n_prompt = ev.n_prompt;
    c->last_n_gen = ev.n_gen;
    c->last_prompt_ms = ev.prompt_ms;
    c->last_gen_ms = ev.gen_ms;
    if (ev.kind == CHORD_EV_DONE) {
        c->last_n_drafted = ev.n_drafted;
        c->last_n_accepted = ev.n_accepted;
    }

    hist_counts hc = {ev.n_prompt, c->n_shown, ev.prompt_ms, ev.gen_ms};
    hist_msg_status hs = failed ? HIST_ERROR : cancelled ? HIST_INTERRUPTED : HIST_COMPLETE;
    chord_err err;
    if (c->stream_open) {
        hist_queue_stream_end(c->q, hs, &hc);
        c->stream_open = false;
    } else if (!cancelled && hist_ensure_conv(c)) {
        /* an empty reply (end of turn at once) still takes its place */
        hist_queue_msg_add(c->q, c->conv_ref, "assistant", m ? m->text : "", m ? m->len : 0, &hc);
    }

    chord_gen_join(c->gen);
    c->gen = NULL;
    c->kv_dirty = true;   /* saved from the pump, off this thread */
    /* the session notes what the cache now holds; a failed reply leaves
     * the model's view with the message that asked (as in batch mode) */
    bool keep = !failed && !c->reply_lost;
    if (chord_chat_reply_end(c->sess, keep, &err) != CHORD_OK)
        ui_chat_warn(c, "error: %s", err.msg);
    else if (c->reply_lost)
        ui_chat_warn(c, "error: out of memory keeping the reply");
    c->reply_lost = false;
    if (failed)
        ui_chat_warn(c, "error: %s", ev.message);
    else if (ev.reason == CHORD_STOP_CTX_FULL)
        ui_chat_warn(c, "(context full at %d tokens: the reply was cut here; the next message still"
                        " goes on, the oldest turns leaving the model's view; /new starts afresh)",
                     chord_ctx_n_ctx(c->ctx));
    c->version++;
    if (c->hooks.on_done)
        c->hooks.on_done(c->hooks.ud, &ev);
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
    uint64_t v = c->version;
    hist_watch(c);
    kv_pump(c);
    return changed || v != c->version;
}

void ui_fmt_bytes(double b, char *out, size_t cap)
{
    if (b < 1024)
        snprintf(out, cap, "%.0f B", b);
    else if (b < 1024.0 * 1024)
        snprintf(out, cap, "%.1f KiB", b / 1024);
    else if (b < 1024.0 * 1024 * 1024)
        snprintf(out, cap, "%.1f MiB", b / (1024.0 * 1024));
    else
        snprintf(out, cap, "%.2f GiB", b / (1024.0 * 1024 * 1024));
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
