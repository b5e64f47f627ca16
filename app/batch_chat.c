/*
 * batch_chat.c - `chord --batch -m MODEL` without --raw: a chat over pipes.
 *
 *   chord --batch -m MODEL [-p TEXT] [--system TEXT] [--chat-template F|NAME]
 *         [--json | --token-ids] [-n N] [sampling, memory and --ctx options]
 *         [--db PATH | --no-history] [-c | --resume ID] [-v]
 *
 * Each stdin line (or the one -p TEXT) is a user turn of one conversation;
 * the reply goes to stdout followed by a newline and is flushed, so a
 * script can write a line and read the answer. A reply may itself contain
 * newlines: --json frames every token and ends each turn with a "done"
 * event, which is the robust way to drive chord from a program. With
 * --draft or --lookup (app/draft.h) it also counts the proposed tokens
 * (drafted), those the model kept (accepted) and their ratio.
 *
 * The KV cache keeps the earlier turns (chord_chat_* in chord.h): a turn
 * prefills only its new tokens. When the conversation outgrows --ctx the oldest
 * turns leave the model's view (one stderr line says so); they stay in
 * the history.
 *
 * History: the conversation is created at the first turn (or continued
 * with -c / --resume ID); each user line is added, the reply is streamed
 * into its row as it grows (flushed every second / 32 tokens) and ended as
 * complete, interrupted or error. A database that cannot be opened or
 * written costs one warning line on stderr; the chat goes on unrecorded,
 * unless --require-history: then a database that cannot be opened stops
 * the run before the first turn, one that fails later ends it after the
 * turn, and the exit status is EXIT_HISTORY (3).
 *
 * Seeds: a random seed (the default, or --seed -1) is drawn here and
 * recorded in the conversation's params_json, so --seed N with that value
 * gives the same replies again.
 *
 * SIGINT or SIGTERM stops the reply in progress (kept as "interrupted",
 * followed by its newline), reads no further turn, and exits 130 (143 for
 * SIGTERM). A failed turn (too long for the context, engine error) prints
 * an error and an empty reply line, later turns still run, and the exit
 * status is 1.
 */
#include "batch_chat.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat_session.h"
#include "draft.h"
#include "cmd.h"
#include "hist.h"
#include "kvstore.h"

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

typedef struct batch {
    const chord_opts *o;
    chord_model *m;
    chord_ctx *ctx;
    app_draft draft;         /* --draft (none: draft.m NULL) */
    chord_model_info info;
    chord_chat *s;
    hist *h;                 /* NULL when not recording */
    int64_t conv;            /* 0 until the first turn is recorded */
    int turn;
    int rc;
    bool stop;               /* a signal or a closed stdout: no more turns */
    int n_shown;             /* tokens of the reply shown */
    chord_sampler_params sp; /* the options' sampling, with a drawn seed */
    bool hist_lost;          /* something was not recorded */
} batch;

/* --require-history: the history could not be opened or written. */
enum { EXIT_HISTORY = 3 };

/* ------------------------------------------------------------------------
 * History: any failure warns once and stops the recording, never the chat
 * ---------------------------------------------------------------------- */

static void hist_failed(batch *b, const chord_err *err)
{
    app_error("%s: %s (%s)", b->o->require_history ? "error" : "warning", err->msg,
              b->o->require_history ? "--require-history: no more turns"
                                    : "the chat goes on without history");
    hist_close(b->h);
    b->h = NULL;
    b->hist_lost = true;
    if (b->o->require_history)
        b->stop = true;
}


static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static bool hist_ensure_conv(batch *b)
{
    if (!b->h)
        return false;
    if (b->conv)
        return true;
    const chord_sampler_params *sp = &b->sp;
    char pj[320];
    snprintf(pj, sizeof pj,
             "{\"temp\":%g,\"top_k\":%d,\"top_p\":%g,\"min_p\":%g,\"repeat_penalty\":%g,"
             "\"repeat_last_n\":%d,\"seed\":%llu,\"n_predict\":%d}",
             sp->temp, sp->top_k, sp->top_p, sp->min_p, sp->repeat_penalty, sp->repeat_last_n,
             (unsigned long long)sp->seed, b->o->n_predict);
    hist_conv_params p = {
        .model = base_name(b->o->model),
        .arch = b->info.arch,
        .system_prompt = chord_chat_system(b->s),
        .params_json = pj,
    };
    chord_err err;
    if (hist_conv_create(b->h, &p, &b->conv, &err) != CHORD_OK) {
        hist_failed(b, &err);
        return false;
    }
    return true;
}

static void hist_user(batch *b, const char *text, size_t len)
{
    chord_err err;
    if (hist_ensure_conv(b) &&
        hist_msg_add(b->h, b->conv, "user", text, len, NULL, NULL, &err) != CHORD_OK)
        hist_failed(b, &err);
}

static void hist_begin(batch *b)
{
    chord_err err;
    if (hist_ensure_conv(b) && hist_stream_begin(b->h, b->conv, NULL, &err) != CHORD_OK)
        hist_failed(b, &err);
}

static void hist_add(batch *b, const char *text, int n_tokens, bool reasoning)
{
    chord_err err;
    if (b->h && hist_stream_active(b->h) &&
        hist_stream_add_part(b->h, text, n_tokens, reasoning, &err) != CHORD_OK)
        hist_failed(b, &err);
}

static void hist_poll(batch *b)
{
    chord_err err;
    if (b->h && hist_stream_active(b->h) && hist_stream_poll(b->h, &err) != CHORD_OK)
        hist_failed(b, &err);
}

static void hist_end(batch *b, hist_msg_status st, const hist_counts *hc)
{
    chord_err err;
    if (b->h && hist_stream_active(b->h) && hist_stream_end(b->h, st, hc, &err) != CHORD_OK)
        hist_failed(b, &err);
}

/* Loads the conversation to continue into the session. Error turns (an
 * assistant row with status error) are left out with the user line they
 * answered: the model never saw them either. So is a user line that got no
 * reply at all (its writer died, or could not record the reply), since
 * some templates refuse two user turns in a row. Returns false after
 * printing the problem. */
static bool resume(batch *b, hist_conv **out)
{
    const chord_opts *o = b->o;
    chord_err err;
    int64_t id = o->resume_id;
    if (!b->h) {
        app_error("cannot %s: the history is not available", o->resume_id ? "resume" : "continue");
        return false;
    }
    if (!id) {
        if (hist_conv_last(b->h, &id, &err) != CHORD_OK) {
            app_error("%s", err.msg);
            return false;
        }
        if (!id) {
            app_error("no conversation to continue in %s", hist_path(b->h));
            return false;
        }
    }
    if (hist_conv_load(b->h, id, out, &err) != CHORD_OK) {
        app_error("%s", err.msg);
        return false;
    }
    b->conv = id;
    return true;
}

static bool last_is_user(const chord_chat *s)
{
    bool user = false;
    return chord_chat_msg_text(s, chord_chat_n_msgs(s) - 1, &user) && user;
}

static bool resume_msgs(batch *b, const hist_conv *hc)
{
    chord_err err;
    for (int i = 0; i < hc->n_msgs; i++) {
        const hist_msg *hm = &hc->msgs[i];
        bool user = !strcmp(hm->role, "user");
        /* a turn taken back in the chat (/retry, /edit, /undo) */
        if ((!user && strcmp(hm->role, "assistant")) || hm->superseded)
            continue;
        bool after_user = last_is_user(b->s);
        if ((!user && hm->status == HIST_ERROR) || (user && after_user)) {
            if (after_user)
                chord_chat_pop(b->s);
            if (!user)
                continue;
        }
        if (chord_chat_add(b->s, user, hm->content, hm->len, &err) != CHORD_OK) {
            app_error("%s", err.msg);
            return false;
        }
    }
    if (last_is_user(b->s))
        chord_chat_pop(b->s);
    return true;
}

/* ------------------------------------------------------------------------
 * Output
 * ---------------------------------------------------------------------- */

static const char *stop_name(chord_stop_reason r)
{
    switch (r) {
    case CHORD_STOP_EOG: return "eog";
    case CHORD_STOP_LIMIT: return "limit";
    case CHORD_STOP_CANCELLED: return "cancelled";
    case CHORD_STOP_CTX_FULL: return "ctx_full";
    default: return "error";
    }
}

static void out(batch *b, const char *s, size_t n)
{
    if (!app_stdout_write(s, n))
        b->stop = true;
}

/* Shows one token (t < 0: text without a token, the detokenizer's tail).
 * A reasoning model's thinking is an event of its own part in --json;
 * plain text shows the answer only (the history keeps both). */
static void out_token(batch *b, chord_token t, const char *text, size_t len, chord_part part)
{
    const chord_opts *o = b->o;
    char buf[512];
    int n = 0;
    if (o->json && t >= 0) {
        char *q = chord_json_quote(text, len);
        const char *pn = part == CHORD_PART_REASONING ? ",\"part\":\"reasoning\""
                       : part == CHORD_PART_MARKUP    ? ",\"part\":\"markup\""
                                                      : "";
        n = snprintf(buf, sizeof buf, "{\"event\":\"token\",\"id\":%d,\"text\":%s%s}\n", t,
                     q ? q : "\"\"", pn);
        free(q);
    } else if (o->token_ids && t >= 0) {
        n = snprintf(buf, sizeof buf, "%s%d", b->n_shown ? " " : "", t);
    } else if (!o->json && !o->token_ids) {
        if (part == CHORD_PART_ANSWER)
            out(b, text, len);
        return;
    }
    if (n > 0)
        out(b, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void out_error(batch *b, const char *msg)
{
    if (b->o->json) {
        char *q = chord_json_quote(msg, strlen(msg));
        char *line = NULL;
        size_t n = 0;
        FILE *f = q ? open_memstream(&line, &n) : NULL;
        if (f) {
            fprintf(f, "{\"event\":\"error\",\"turn\":%d,\"message\":%s}\n", b->turn, q);
            fclose(f);
            out(b, line, n);
        }
        free(line);
        free(q);
    } else {
        out(b, "\n", 1);
    }
    app_error("turn %d: %s", b->turn, msg);
}

static void out_done(batch *b, const chord_event *ev, const char *stop, int n_gen, int n_reuse)
{
    if (b->o->json) {
        /* the cache at this turn's start: kept (reused), dropped (let go:
         * turns shifted out, or the part prefilled again), prefilled */
        bool shifted = false;
        int dropped = chord_chat_dropped_tokens(b->s, &shifted);
        char buf[512];
        int n = snprintf(buf, sizeof buf,
                         "{\"event\":\"done\",\"turn\":%d,\"n_prompt\":%d,\"n_cached\":%d,\"n_gen\":%d,"
                         "\"prompt_ms\":%.3f,\"gen_ms\":%.3f,\"stop\":\"%s\",\"kept\":%d,\"dropped\":%d,"
                         "\"prefilled\":%d,\"shifted\":%s,\"drafted\":%d,\"accepted\":%d,"
                         "\"accept_rate\":%.4f}\n",
                         b->turn, ev->n_prompt, n_reuse, n_gen, ev->prompt_ms, ev->gen_ms, stop, n_reuse,
                         dropped, ev->n_prompt, shifted ? "true" : "false", ev->n_drafted,
                         ev->n_accepted, ev->n_drafted > 0 ? (double)ev->n_accepted / ev->n_drafted : 0.0);
        out(b, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    } else {
        out(b, "\n", 1);
    }
    if (b->o->verbose)
        fprintf(stderr,
                "chord: turn %d: %d prompt tokens (%d reused from the cache) in %.1f ms, %d generated in %.1f ms (%.1f tok/s), stop: %s\n",
                b->turn, ev->n_prompt, n_reuse, ev->prompt_ms, n_gen, ev->gen_ms,
                ev->gen_ms > 0 ? n_gen * 1e3 / ev->gen_ms : 0.0, stop);
    if (b->o->verbose && ev->n_drafted > 0)
        fprintf(stderr, "chord: turn %d: %d of %d proposed tokens accepted (%.0f%%)\n", b->turn,
                ev->n_accepted, ev->n_drafted, 100.0 * ev->n_accepted / ev->n_drafted);
}

/* ------------------------------------------------------------------------
 * One turn
 * ---------------------------------------------------------------------- */

/* Shows and records the reply text the session has cleared: text that may
 * begin the template's stop text waits until it is known not to. */
static void show_ready(batch *b)
{
    chord_chat_piece p;
    while (chord_chat_reply_next(b->s, &p)) {
        /* recorded before it is shown: what a reader saw is on disk
         * within a flush */
        hist_add(b, p.text, p.token >= 0 ? 1 : 0, p.part == CHORD_PART_REASONING);
        out_token(b, p.token, p.text, p.len, p.part);
        if (p.token >= 0)
            b->n_shown++;
    }
}

/* The room kept for the reply when deciding to drop old turns: -n tokens,
 * at most half the context; a quarter of it when -n is unlimited. */
static int reply_reserve(const batch *b)
{
    int n_ctx = chord_ctx_n_ctx(b->ctx);
    int r = b->o->n_predict >= 0 ? b->o->n_predict : n_ctx / 4;
    if (r > n_ctx / 2)
        r = n_ctx / 2;
    return r < 1 ? 1 : r;
}

/* A turn that gets no reply: reported, recorded as an error, and taken out
 * of the conversation the model sees. */
static void turn_failed(batch *b, const char *msg, bool recorded_user)
{
    out_error(b, msg);
    if (recorded_user && b->h) {
        hist_begin(b);
        hist_end(b, HIST_ERROR, NULL);
    }
    chord_chat_pop(b->s);
    b->rc = EXIT_FAIL;
}


static void run_turn(batch *b, const char *text, size_t len)
{
    chord_err err = {{0}};
    b->turn++;
    if (chord_chat_too_long(b->s, text, len, &err) || chord_chat_add(b->s, true, text, len, &err) != CHORD_OK) {
        out_error(b, err.msg);
        b->rc = EXIT_FAIL;
        return;
    }
    hist_user(b, text, len);
    int n_dropped = 0, n_reuse = 0, n_prompt = 0;
    const chord_token *prompt = NULL;
    chord_status st = chord_chat_prepare(b->s, reply_reserve(b), &prompt, &n_prompt, &n_reuse,
                                         &n_dropped, &err);
    if (n_dropped)
        app_error("context full (%d tokens): the oldest %d turn%s left the model's view",
                  chord_ctx_n_ctx(b->ctx), n_dropped, n_dropped > 1 ? "s" : "");
    if (st != CHORD_OK) {
        turn_failed(b, err.msg, true);
        return;
    }
    chord_gen_params gp = {
        .prompt = prompt,
        .n_prompt = n_prompt,
        .n_predict = b->o->n_predict,
        .sampling = b->sp,
        .model = b->m,
        /* the session's rendering starts n_reuse tokens before the prompt:
         * the tokens the cache holds, for lookup and the draft */
        .context = prompt - n_reuse,
        .n_context = n_reuse,
    };
    app_draft_params(b->o, &b->draft, &gp);
    {
        /* a context shift moved the model's cache: the draft's, not moved,
         * starts over from the context tokens */
        bool shifted = false;
        chord_chat_dropped_tokens(b->s, &shifted);
        if (shifted && b->draft.ctx)
            chord_ctx_truncate(b->draft.ctx, 0);
    }
    chord_gen *g = NULL;
    if (chord_gen_start(b->ctx, &gp, &g, &err) != CHORD_OK) {
        turn_failed(b, err.msg, true);
        return;
    }
    hist_begin(b);
    b->n_shown = 0;
    bool template_stop = false, cancel_sent = false, oom = false;
    chord_event ev;
    for (;;) {
        if ((got_signal || b->stop) && !cancel_sent) {
            chord_gen_cancel(g);
            cancel_sent = true;
        }
        if (!chord_gen_next(g, &ev, 200)) {
            hist_poll(b);
            continue;
        }
        if (ev.kind == CHORD_EV_PREFILL_DONE)
            continue;
        if (ev.kind == CHORD_EV_TOKEN) {
            if (template_stop)
                continue;
            /* the template's end of turn (a token or its text): the reply
             * is complete */
            chord_status pst;
            template_stop = chord_chat_reply_push(b->s, ev.token, ev.text, &pst);
            if (pst != CHORD_OK)
                oom = true;
            show_ready(b);
            if (template_stop && !cancel_sent) {
                chord_gen_cancel(g);
                cancel_sent = true;
            }
            continue;
        }
        break;
    }
    chord_gen_join(g);
    /* text the detokenizer held back at the end (an incomplete UTF-8) */
    if (!template_stop && ev.kind == CHORD_EV_DONE && ev.text[0]) {
        chord_status pst;
        chord_chat_reply_push(b->s, -1, ev.text, &pst);
        if (pst != CHORD_OK)
            oom = true;
    }
    chord_chat_reply_flush(b->s);
    show_ready(b);
    int n_gen = b->n_shown;
    size_t reply_len = 0;
    chord_chat_reply_text(b->s, &reply_len);

    hist_counts hc = {ev.n_prompt, n_gen, ev.prompt_ms, ev.gen_ms};
    if (ev.kind == CHORD_EV_ERROR) {
        hist_end(b, HIST_ERROR, &hc);
        if (!b->o->json && !b->o->token_ids && reply_len)
            out(b, "\n", 1);
        out_error(b, ev.message);
        chord_chat_reply_end(b->s, false, &err);
        b->rc = EXIT_FAIL;
        return;
    }
    bool interrupted = ev.reason == CHORD_STOP_CANCELLED && !template_stop;
    const char *stop = template_stop ? "eog" : stop_name(ev.reason);
    hist_end(b, interrupted ? HIST_INTERRUPTED : HIST_COMPLETE, &hc);
    if (ev.reason == CHORD_STOP_CTX_FULL)
        app_error("context full (%d tokens): turn %d's reply was cut there", chord_ctx_n_ctx(b->ctx),
                  b->turn);
    else if (ev.reason == CHORD_STOP_LIMIT && !template_stop && (b->o->verbose || isatty(2)))
        /* stdout stays the reply; someone watching is told it is not whole */
        app_error("turn %d's reply was cut at -n %d", b->turn, b->o->n_predict);
    if (oom) {
        out_error(b, "out of memory keeping the reply");
        chord_chat_reply_end(b->s, false, &err);
        return;
    }
    if (chord_chat_reply_end(b->s, true, &err) != CHORD_OK) {
        out_error(b, err.msg);
        b->rc = EXIT_FAIL;
        return;
    }
    out_done(b, &ev, stop, n_gen, n_reuse);
    if (interrupted)
        b->stop = true;
}

/* ------------------------------------------------------------------------
 * The mode
 * ---------------------------------------------------------------------- */

static bool setup(batch *b)
{
    const chord_opts *o = b->o;
    chord_err err = {{0}};
    char *tsrc = NULL;
    const char *tfam = NULL;
    if (chs_template_arg(o->chat_template, &tsrc, &tfam, &err) != CHORD_OK) {
        app_error("%s", err.msg);
        return false;
    }
    chord_model_params mp = opts_model_params(o);
    if (app_draft_budget(o, &mp) != 0) {
        free(tsrc);
        return false;
    }
    if (chord_model_load(o->model, &mp, &b->m, &err) != CHORD_OK) {
        app_error("%s", err.msg);
        free(tsrc);
        return false;
    }
    chord_model_get_info(b->m, &b->info);
    if (o->verbose)
        fprintf(stderr, "chord: %s\n", chord_model_plan(b->m));
    chord_ctx_params cp = opts_ctx_params(o);
    if (chord_ctx_new(b->m, &cp, &b->ctx, &err) != CHORD_OK) {
        app_error("%s", err.msg);
        free(tsrc);
        return false;
    }
    app_ctx_notes(o, b->ctx);
    if (app_draft_open(o, b->m, b->ctx, &b->draft) != 0) {
        free(tsrc);
        return false;
    }
    bool foreign = false;
    hist_open_params hp = {.foreign = &foreign};
    if (!o->no_history && hist_open(o->db, &hp, &b->h, &err) != CHORD_OK) {
        b->h = NULL;
        b->hist_lost = true;
        if (foreign) {   /* a wrong --db: never chat into someone's database */
            app_error("%s", err.msg);
            free(tsrc);
            return false;
        }
        if (o->require_history) {
            app_error("%s (--require-history: not chatting unrecorded)", err.msg);
            free(tsrc);
            return false;
        }
        app_error("warning: %s (the chat goes on without history)", err.msg);
    }
    hist_conv *hc = NULL;
    if ((o->continue_last || o->resume_id) && !resume(b, &hc)) {
        free(tsrc);
        return false;
    }
    /* --system overrides the stored conversation's system prompt for the
     * model; the stored row keeps the one it was created with */
    const char *system = o->system ? o->system : hc ? hc->system_prompt : NULL;
    chord_chat_params sp = {.template_src = tsrc, .template_family = tfam, .system = system,
                            .thinking = o->thinking};
    sp.no_ctx_shift = o->no_ctx_shift;
    bool ok = chord_chat_new(b->m, b->ctx, &sp, &b->s, &err) == CHORD_OK;
    free(tsrc);
    tsrc = NULL;
    if (!ok)
        app_error("%s", err.msg);
    else if (hc)
        ok = resume_msgs(b, hc);
    if (ok && hc && o->kv_store > 0) {
        /* the conversation's saved cache: the first turn prefills only
         * what it lacks (anything that does not match is ignored) */
        char note[700];
        kvstore_load(b->s, hist_path(b->h), o->model, b->conv, note, sizeof note);
        if (o->verbose && note[0])
            fprintf(stderr, "chord: %s\n", note);
    }
    if (ok && o->verbose) {
        char line[700];
        chord_chat_describe_template(b->s, line, sizeof line);
        fprintf(stderr, "chord: %s\n", line);
        if (hc)
            fprintf(stderr, "chord: continuing conversation %lld (%d messages)\n", (long long)hc->id,
                    chord_chat_n_msgs(b->s));
    }
    hist_conv_free(hc);
    return ok;
}

/* Reads turns from stdin, one per line, until EOF or a stop. */
static void read_turns(batch *b)
{
    char *line = NULL;
    size_t cap = 0;
    while (!b->stop && !got_signal) {
        errno = 0;
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0) {
            if (ferror(stdin) && errno != EINTR) {
                app_error("reading stdin: %s", strerror(errno));
                b->rc = EXIT_FAIL;
            }
            break;
        }
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = 0;
        if (n > 0 && line[n - 1] == '\r')
            line[--n] = 0;
        run_turn(b, line, (size_t)n);
    }
    free(line);
}

int batch_chat(const chord_opts *o)
{
    chord_err err = {{0}};
    if (!o->model) {
        app_error("no model: use -m MODEL.gguf (see chord --help)");
        return EXIT_USAGE;
    }
    if (o->prompt_tokens) {
        app_error("--prompt-tokens needs --raw (chat turns are text)");
        return EXIT_USAGE;
    }
    if (chord_sampler_check(&o->sampling, &err) != CHORD_OK) {
        app_error("%s", err.msg);
        return EXIT_USAGE;
    }
    batch b;
    memset(&b, 0, sizeof b);
    b.o = o;
    b.rc = EXIT_OK;
    b.sp = o->sampling;
    if (b.sp.seed == CHORD_SEED_RANDOM)
        b.sp.seed = chord_seed_random();
    if (o->verbose)
        fprintf(stderr, "chord: seed %llu\n", (unsigned long long)b.sp.seed);
    /* no SA_RESTART: a signal must also end a blocking read of stdin */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (!setup(&b)) {
        b.rc = EXIT_FAIL;
    } else if (o->prompt) {
        run_turn(&b, o->prompt, strlen(o->prompt));
    } else {
        read_turns(&b);
    }
    /* one save at the end: a batch run is one process, its last cache is
     * the one a later -c / --resume can use */
    if (b.s && b.h && b.conv && o->kv_store > 0) {
        char note[700];
        if (!kvstore_save(b.s, hist_path(b.h), o->model, b.conv, o->kv_store, note, sizeof note) ||
            o->verbose)
            if (note[0])
                app_error("%s", note);
    }
    int rc = b.rc;
    if (o->require_history && b.hist_lost && !o->no_history)
        rc = EXIT_HISTORY;
    if (got_signal)
        rc = 128 + got_signal;
    hist_close(b.h);
    chord_chat_free(b.s);
    app_draft_close(&b.draft);
    chord_ctx_free(b.ctx);
    chord_model_free(b.m);
    return rc;
}
