/*
 * hist_queue.c - the history writer thread and its ordered queue (see
 * hist_queue.h).
 *
 * Locks: one mutex, q->mu. It guards the list of operations (head, tail),
 * the conversation id table (ids), the state (st) and the closing flag and
 * deadline. Holders:
 *   - the owner's thread (the UI or batch loop) while it links a new
 *     operation, reads the state or an id: a few pointer updates;
 *   - the writer thread while it takes the head operation, retires it and
 *     updates the state, and inside pthread_cond_timedwait's waits.
 * The writer never holds it across a SQLite call, so the owner can always
 * take it within microseconds; the database connection (q->h) and the
 * operation being applied belong to the writer thread alone. Two
 * condition variables share the mutex: work (the writer sleeps on it: new
 * operation, close) and idle (flush and close sleep on it: the writer made
 * progress).
 */
#include "hist_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hist_int.h"

typedef enum op_kind { OP_CONV, OP_TITLE, OP_MSG, OP_BEGIN, OP_ADD, OP_END, OP_MARK } op_kind;

typedef struct op {
    struct op *next;
    op_kind kind;
    int64_t conv;              /* a reference (hist_queue_conv_create) */
    int slot;                  /* OP_CONV: the id table entry it fills */
    char *a, *b, *c, *d;       /* OP_CONV: model, arch, system, params;
                                  OP_MSG: role, content; OP_TITLE, OP_ADD: text */
    size_t len;
    int n_tokens;
    bool reasoning;
    hist_msg_status status;
    bool has_counts;
    hist_counts counts;
} op;

struct hist_queue {
    char *path;
    hist_open_params open_p;
    int retry_ms;
    pthread_t thread;

    pthread_mutex_t mu;
    pthread_cond_t work, idle;
    op *head, *tail;           /* guarded by mu */
    int n_ops;                 /* guarded by mu */
    int64_t *ids;              /* guarded by mu: conversation ids by slot */
    int n_ids, cap_ids;
    hist_queue_state st;       /* guarded by mu */
    bool closing;              /* guarded by mu */
    bool opened;               /* guarded by mu: the connection is open */
    bool stream_retry;         /* guarded by mu: a lock kept streamed text */
    int64_t deadline;          /* guarded by mu: monotonic ms, when closing */

    hist *h;                   /* the writer thread's connection */
};

/* ---------------------------------------------------------------------------
 * Operations
 * ------------------------------------------------------------------------- */

static void op_free(op *o)
{
    if (!o)
        return;
    free(o->a);
    free(o->b);
    free(o->c);
    free(o->d);
    free(o);
}

/* A copy of s (NULL stays NULL); sets *oom when memory runs out. */
static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

static char *dup_len(const char *s, size_t len, bool *oom)
{
    char *d = malloc(len + 1);
    if (!d) {
        *oom = true;
        return NULL;
    }
    if (len)
        memcpy(d, s, len);
    d[len] = 0;
    return d;
}

/* Called with mu held: the recording stops for good. */
static void fail_locked(hist_queue *q, const char *msg)
{
    if (!q->st.failed) {
        q->st.failed = true;
        snprintf(q->st.msg, sizeof q->st.msg, "%s", msg);
    }
    q->st.locked = false;
    /* what waits now will never be written */
    for (op *o = q->head, *n; o; o = n) {
        n = o->next;
        op_free(o);
        q->st.n_lost++;
    }
    q->head = q->tail = NULL;
    q->n_ops = 0;
    pthread_cond_broadcast(&q->idle);
}

/* Links o at the tail (takes it; NULL or oom = out of memory). */
static void push(hist_queue *q, op *o, bool oom)
{
    pthread_mutex_lock(&q->mu);
    if (!o || oom) {
        op_free(o);
        fail_locked(q, "history: out of memory queueing a write");
        q->st.n_lost++;
    } else if (q->st.failed) {
        op_free(o);
        q->st.n_lost++;
    } else {
        if (q->tail)
            q->tail->next = o;
        else
            q->head = o;
        q->tail = o;
        q->n_ops++;
        pthread_cond_signal(&q->work);
    }
    pthread_mutex_unlock(&q->mu);
}

static op *op_new(op_kind kind, int64_t conv)
{
    op *o = calloc(1, sizeof *o);
    if (o) {
        o->kind = kind;
        o->conv = conv;
    }
    return o;
}

int64_t hist_queue_conv_create(hist_queue *q, const hist_conv_params *p)
{
    bool oom = false;
    op *o = op_new(OP_CONV, 0);
    if (o) {
        o->a = dup_or_null(p->model ? p->model : "", &oom);
        o->b = dup_or_null(p->arch, &oom);
        o->c = dup_or_null(p->system_prompt, &oom);
        o->d = dup_or_null(p->params_json, &oom);
    }
    pthread_mutex_lock(&q->mu);
    if (q->n_ids == q->cap_ids) {
        int cap = q->cap_ids ? q->cap_ids * 2 : 8;
        int64_t *t = realloc(q->ids, (size_t)cap * sizeof *t);
        if (t) {
            q->ids = t;
            q->cap_ids = cap;
        } else {
            oom = true;
        }
    }
    int slot = oom ? 0 : q->n_ids++;
    if (!oom)
        q->ids[slot] = 0;
    pthread_mutex_unlock(&q->mu);
    if (o)
        o->slot = slot;
    push(q, o, oom);
    return -(int64_t)slot - 1;
}

void hist_queue_set_title(hist_queue *q, int64_t conv, const char *text)
{
    bool oom = false;
    op *o = op_new(OP_TITLE, conv);
    if (o)
        o->a = dup_or_null(text ? text : "", &oom);
    push(q, o, oom);
}

void hist_queue_msg_add(hist_queue *q, int64_t conv, const char *role, const char *content,
                        size_t len, const hist_counts *counts)
{
    bool oom = false;
    op *o = op_new(OP_MSG, conv);
    if (o) {
        o->a = dup_or_null(role, &oom);
        o->b = dup_len(content ? content : "", content ? len : 0, &oom);
        o->len = content ? len : 0;
        o->has_counts = counts != NULL;
        if (counts)
            o->counts = *counts;
    }
    push(q, o, oom);
}

void hist_queue_stream_begin(hist_queue *q, int64_t conv)
{
    push(q, op_new(OP_BEGIN, conv), false);
}

void hist_queue_stream_add(hist_queue *q, const char *text, size_t len, int n_tokens,
                           bool reasoning)
{
    bool oom = false;
    op *o = op_new(OP_ADD, 0);
    if (o) {
        o->a = dup_len(text ? text : "", text ? len : 0, &oom);
        o->n_tokens = n_tokens;
        o->reasoning = reasoning;
    }
    push(q, o, oom);
}

void hist_queue_stream_end(hist_queue *q, hist_msg_status status, const hist_counts *counts)
{
    op *o = op_new(OP_END, 0);
    if (o) {
        o->status = status;
        o->has_counts = counts != NULL;
        if (counts)
            o->counts = *counts;
    }
    push(q, o, false);
}

void hist_queue_turn_mark(hist_queue *q, int64_t conv, bool with_user, hist_mark mark)
{
    op *o = op_new(OP_MARK, conv);
    if (o) {
        o->reasoning = with_user;   /* the flag's slot */
        o->n_tokens = (int)mark;
    }
    push(q, o, false);
}

int64_t hist_queue_conv_id(hist_queue *q, int64_t ref)
{
    if (ref >= 0 || !q)
        return ref > 0 ? ref : 0;
    int64_t id = 0;
    pthread_mutex_lock(&q->mu);
    int slot = (int)(-ref - 1);
    if (slot < q->n_ids)
        id = q->ids[slot];
    pthread_mutex_unlock(&q->mu);
    return id;
}

const char *hist_queue_path(const hist_queue *q)
{
    return q->path;
}

/* ---------------------------------------------------------------------------
 * The writer thread
 * ------------------------------------------------------------------------- */

/* Whether the open stream holds text a lock kept from its row. Writer
 * thread only (it reads the connection's stream state). */
static bool stream_pending(const hist_queue *q)
{
    return q->h && q->h->s_active && q->h->s_retry_at;
}

/* Called with mu held by the writer: notes what the stream keeps. */
static void note_stream(hist_queue *q)
{
    q->stream_retry = stream_pending(q);
    q->st.n_waiting = q->n_ops + (q->stream_retry ? 1 : 0);
}

/* Applies one operation on the writer's connection. Called without mu,
 * except for reading and filling the id table. */
static chord_status apply(hist_queue *q, op *o, chord_err *err)
{
    hist *h = q->h;
    int64_t conv = o->conv;
    if (conv < 0) {
        conv = hist_queue_conv_id(q, conv);
        if (!conv)
            return hist_err(h, err, CHORD_E_INVALID, "a conversation was not recorded");
    }
    switch (o->kind) {
    case OP_CONV: {
        hist_conv_params p = {.model = o->a, .arch = o->b, .system_prompt = o->c,
                              .params_json = o->d};
        int64_t id = 0;
        chord_status st = hist_conv_create(h, &p, &id, err);
        if (st == CHORD_OK) {
            pthread_mutex_lock(&q->mu);
            q->ids[o->slot] = id;
            pthread_mutex_unlock(&q->mu);
        }
        return st;
    }
    case OP_TITLE:
        return hist_conv_set_title(h, conv, o->a, err);
    case OP_MSG:
        return hist_msg_add(h, conv, o->a, o->b, o->len, o->has_counts ? &o->counts : NULL,
                            NULL, err);
    case OP_BEGIN:
        return hist_stream_begin(h, conv, NULL, err);
    case OP_ADD:
        return hist_stream_add_part(h, o->a, o->n_tokens, o->reasoning, err);
    case OP_END:
        return hist_stream_end(h, o->status, o->has_counts ? &o->counts : NULL, err);
    case OP_MARK:
        return hist_turn_mark(h, conv, o->reasoning, (hist_mark)o->n_tokens, err);
    }
    return CHORD_E_INVALID;
}

static int64_t mono_ms(void)
{
    return hist_mono_ms();
}

/* pthread_cond_timedwait on CLOCK_MONOTONIC (see hist_queue_start) for
 * ms milliseconds. */
static void wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(cv, mu, &ts);
}

/* Opens the connection, retrying while another process holds the lock.
 * Called with mu held; false when the queue failed or closed first. */
static bool open_db(hist_queue *q)
{
    for (;;) {
        bool locked = false;
        hist_open_params p = q->open_p;
        p.locked = &locked;
        chord_err e;
        hist *h = NULL;
        pthread_mutex_unlock(&q->mu);
        chord_status st = hist_open(q->path, &p, &h, &e);
        pthread_mutex_lock(&q->mu);
        if (st == CHORD_OK) {
            q->h = h;
            q->opened = true;
            q->st.opened = true;
            q->st.locked = false;
            q->st.msg[0] = 0;
            return true;
        }
        if (!locked) {
            fail_locked(q, e.msg);
            return false;
        }
        q->st.locked = true;
        snprintf(q->st.msg, sizeof q->st.msg, "%s", e.msg);
        if (q->closing && mono_ms() >= q->deadline)
            return false;
        wait_ms(&q->work, &q->mu, q->retry_ms);
    }
}

static void *writer(void *arg)
{
    hist_queue *q = arg;
    pthread_mutex_lock(&q->mu);
    bool open = open_db(q);
    while (open) {
        bool retry = stream_pending(q);
        if (q->st.failed) {
            if (q->closing)
                break;
            pthread_cond_wait(&q->work, &q->mu);
            continue;
        }
        if (q->closing && ((!q->head && !retry) || mono_ms() >= q->deadline))
            break;
        op *o = q->head;
        if (!o) {
            /* nothing queued: flush a stream's text on time (HIST_FLUSH_MS,
             * or the retry after a lock) */
            bool active = q->h->s_active;
            if (!active) {
                pthread_cond_wait(&q->work, &q->mu);
                continue;
            }
            wait_ms(&q->work, &q->mu, retry ? q->retry_ms : HIST_FLUSH_MS / 2);
            if (q->head)
                continue;
            pthread_mutex_unlock(&q->mu);
            chord_err e;
            chord_status st = hist_stream_poll(q->h, &e);
            bool locked = hist_locked(q->h);
            pthread_mutex_lock(&q->mu);
            if (st != CHORD_OK && !locked)
                fail_locked(q, e.msg);
            else if (st != CHORD_OK)
                q->st.locked = true, snprintf(q->st.msg, sizeof q->st.msg, "%s", e.msg);
            else if (!stream_pending(q))
                q->st.locked = false, q->st.msg[0] = 0;
            note_stream(q);
            pthread_cond_broadcast(&q->idle);
            continue;
        }
        pthread_mutex_unlock(&q->mu);
        chord_err e;
        chord_status st = apply(q, o, &e);
        bool locked = st != CHORD_OK && hist_locked(q->h);
        /* a lock leaves streamed text in the connection's buffer: the
         * operation is done, its text waits for the stream's retry */
        bool consumed = st == CHORD_OK || (locked && o->kind == OP_ADD);
        pthread_mutex_lock(&q->mu);
        if (consumed) {
            q->head = o->next;
            if (!q->head)
                q->tail = NULL;
            q->n_ops--;
            op_free(o);
            q->st.n_written++;
        }
        if (st == CHORD_OK) {
            if (!stream_pending(q)) {
                q->st.locked = false;
                q->st.msg[0] = 0;
            }
        } else if (locked) {
            q->st.locked = true;
            snprintf(q->st.msg, sizeof q->st.msg, "%s", e.msg);
            if (!consumed && !(q->closing && mono_ms() >= q->deadline))
                wait_ms(&q->work, &q->mu, q->retry_ms);
        } else {
            fail_locked(q, e.msg);
        }
        note_stream(q);
        pthread_cond_broadcast(&q->idle);
    }
    /* what is left now stays unwritten */
    note_stream(q);
    hist *h = q->h;
    q->h = NULL;
    q->opened = false;
    q->st.opened = false;
    pthread_mutex_unlock(&q->mu);
    hist_close(h);
    return NULL;
}

/* ---------------------------------------------------------------------------
 * Starting and stopping
 * ------------------------------------------------------------------------- */

chord_status hist_queue_start(const char *path, const hist_queue_params *p,
                              hist_queue **out, chord_err *err)
{
    *out = NULL;
    hist_queue *q = calloc(1, sizeof *q);
    if (!q) {
        snprintf(err->msg, sizeof err->msg, "history: out of memory");
        return CHORD_E_NOMEM;
    }
    q->path = path ? strdup(path) : hist_default_path(err);
    if (!q->path) {
        if (path)
            snprintf(err->msg, sizeof err->msg, "history: out of memory");
        free(q);
        return path ? CHORD_E_NOMEM : CHORD_E_INVALID;
    }
    q->open_p.busy_timeout_ms = p && p->busy_timeout_ms > 0 ? p->busy_timeout_ms : 200;
    q->open_p.max_pages = p ? p->max_pages : 0;
    q->retry_ms = p && p->retry_ms > 0 ? p->retry_ms : HIST_RETRY_MS;
    pthread_mutex_init(&q->mu, NULL);
    /* timed waits on the monotonic clock: a clock change must not make
     * the exit wait longer than it says */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->work, &ca);
    pthread_cond_init(&q->idle, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&q->thread, NULL, writer, q);
    if (rc) {
        snprintf(err->msg, sizeof err->msg, "history: cannot start the writer thread: %s",
                 strerror(rc));
        pthread_cond_destroy(&q->work);
        pthread_cond_destroy(&q->idle);
        pthread_mutex_destroy(&q->mu);
        free(q->path);
        free(q);
        return CHORD_E_IO;
    }
    *out = q;
    return CHORD_OK;
}

void hist_queue_state_get(hist_queue *q, hist_queue_state *st)
{
    pthread_mutex_lock(&q->mu);
    *st = q->st;
    st->n_waiting = q->n_ops + (q->stream_retry ? 1 : 0);
    pthread_mutex_unlock(&q->mu);
}

bool hist_queue_flush(hist_queue *q, int timeout_ms)
{
    int64_t end = mono_ms() + timeout_ms;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        bool done = q->st.failed || (q->opened && !q->head && !q->stream_retry);
        int64_t left = end - mono_ms();
        if (done || left <= 0) {
            pthread_mutex_unlock(&q->mu);
            return done;
        }
        wait_ms(&q->idle, &q->mu, left < 50 ? left : 50);
    }
}

void hist_queue_close(hist_queue *q, int timeout_ms, hist_queue_state *final)
{
    if (!q) {
        if (final)
            memset(final, 0, sizeof *final);
        return;
    }
    pthread_mutex_lock(&q->mu);
    q->closing = true;
    q->deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    if (final) {
        *final = q->st;
        final->n_waiting = q->n_ops + (q->stream_retry ? 1 : 0);
    }
    for (op *o = q->head, *n; o; o = n) {
        n = o->next;
        op_free(o);
    }
    pthread_cond_destroy(&q->work);
    pthread_cond_destroy(&q->idle);
    pthread_mutex_destroy(&q->mu);
    free(q->ids);
    free(q->path);
    free(q);
}
