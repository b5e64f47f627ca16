/*
 * mode_batch.c - `chord --batch`: the engine for pipes.
 *
 *   chord --batch -m MODEL --raw [-p TEXT | --prompt-tokens "1 2"] [-n N]
 *         [--token-ids] [--json] [sampling and memory options] [-v]
 *
 * Raw mode completes the prompt (or all of stdin) and streams the generated
 * text to stdout as it comes, through the same generation thread and event
 * queue as the TUI. Only -v puts load and timing lines on stderr. A reader
 * that goes away (`| head -c 10`) ends the run quietly with status 0.
 * Chat mode (without --raw) is app/batch_chat.c.
 */
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch_chat.h"
#include "cmd.h"
#include "draft.h"

/* Reads all of stdin into a malloc'd NUL-terminated buffer. */
static char *read_stdin(size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - 1 - n, stdin);
        n += r;
        if (r == 0) {
            if (ferror(stdin)) {
                free(buf);
                return NULL;
            }
            break;
        }
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* An error: one line on stderr, and with --json an error event on stdout
 * too, so a reader of the events learns why the run ended. */
static void raw_error(const chord_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void raw_error(const chord_opts *o, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    app_error("%s", msg);
    if (!o->json)
        return;
    char *q = chord_json_quote(msg, strlen(msg));
    char buf[1400];
    int n = snprintf(buf, sizeof buf, "{\"event\":\"error\",\"message\":%s}\n", q ? q : "\"\"");
    free(q);
    if (n > 0)
        app_stdout_write(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* The prompt as tokens: --prompt-tokens as given, else -p or stdin
 * tokenized (BOS as the model asks, special tokens not parsed). Returns the
 * count (> 0) or -1 after printing the problem. */
static int prompt_tokens(const chord_opts *o, const chord_model *m, chord_token **out)
{
    if (o->prompt_tokens) {
        int n = opts_parse_token_list(o->prompt_tokens, out);
        if (n <= 0) {
            raw_error(o, "--prompt-tokens: expected token ids such as \"1 2 3\"");
            return -1;
        }
        return n;
    }
    size_t len = 0;
    char *text = NULL;
    if (o->prompt) {
        len = strlen(o->prompt);
    } else if (!(text = read_stdin(&len))) {
        raw_error(o, "cannot read the prompt from stdin: %m");
        return -1;
    }
    const char *src = o->prompt ? o->prompt : text;
    chord_err err = {{0}};
    bool bos = chord_model_add_bos(m);
    int need = chord_tokenize(m, src, len, bos, false, NULL, 0, &err);
    chord_token *toks = need > 0 ? malloc((size_t)need * sizeof *toks) : NULL;
    if (need > 0 && toks)
        need = chord_tokenize(m, src, len, bos, false, toks, need, &err);
    free(text);
    if (need < 0) {
        raw_error(o, "%s", err.msg);
        free(toks);
        return -1;
    }
    if (need == 0 || !toks) {
        raw_error(o, need == 0 ? "the prompt is empty" : "out of memory tokenizing the prompt");
        free(toks);
        return -1;
    }
    *out = toks;
    return need;
}

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

/* Prints one event; false once stdout has gone away. first: no token
 * printed yet (for the spacing of --token-ids). */
static bool print_event(const chord_opts *o, const chord_event *ev, bool *first)
{
    char buf[1024];
    if (o->json) {
        char *q = chord_json_quote(ev->text, strlen(ev->text));
        int n = 0;
        if (ev->kind == CHORD_EV_TOKEN)
            n = snprintf(buf, sizeof buf, "{\"event\":\"token\",\"id\":%d,\"text\":%s}\n", ev->token,
                         q ? q : "\"\"");
        else if (ev->kind == CHORD_EV_PREFILL_DONE)
            n = snprintf(buf, sizeof buf, "{\"event\":\"prefill\",\"n_prompt\":%d,\"prompt_ms\":%.3f}\n",
                         ev->n_prompt, ev->prompt_ms);
        else if (ev->kind == CHORD_EV_DONE)
            n = snprintf(buf, sizeof buf,
                         "{\"event\":\"done\",\"reason\":\"%s\",\"n_prompt\":%d,\"n_gen\":%d,\"prompt_ms\":%.3f,\"gen_ms\":%.3f,"
                         "\"drafted\":%d,\"accepted\":%d,\"accept_rate\":%.4f}\n",
                         stop_name(ev->reason), ev->n_prompt, ev->n_gen, ev->prompt_ms, ev->gen_ms,
                         ev->n_drafted, ev->n_accepted,
                         ev->n_drafted > 0 ? (double)ev->n_accepted / ev->n_drafted : 0.0);
        free(q);
        return n <= 0 || app_stdout_write(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    }
    if (o->token_ids) {
        if (ev->kind == CHORD_EV_TOKEN) {
            int n = snprintf(buf, sizeof buf, "%s%d", *first ? "" : " ", ev->token);
            *first = false;
            return app_stdout_write(buf, (size_t)n);
        }
        if (ev->kind == CHORD_EV_DONE && !*first)
            return app_stdout_write("\n", 1);
        return true;
    }
    if (ev->kind == CHORD_EV_TOKEN || ev->kind == CHORD_EV_DONE)
        return app_stdout_write(ev->text, strlen(ev->text));
    return true;
}

int mode_batch(const chord_opts *o)
{
    if (!o->raw)
        return batch_chat(o);
    chord_err err = {{0}};
    if (chord_sampler_check(&o->sampling, &err) != CHORD_OK) {
        app_error("%s", err.msg);
        return EXIT_USAGE;
    }
    int rc = EXIT_FAIL;
    chord_model *m = NULL;
    chord_ctx *c = NULL;
    chord_token *toks = NULL;
    chord_gen *g = NULL;
    app_draft d = {0};
    chord_model_params mp = opts_model_params(o);
    if (app_draft_budget(o, &mp) != 0)
        goto out;
    if (chord_model_load(o->model, &mp, &m, &err) != CHORD_OK) {
        raw_error(o, "%s", err.msg);
        goto out;
    }
    if (o->verbose)
        fprintf(stderr, "chord: %s\n", chord_model_plan(m));
    int n = prompt_tokens(o, m, &toks);
    if (n < 0)
        goto out;
    chord_ctx_params cp = opts_ctx_params(o);
    if (chord_ctx_new(m, &cp, &c, &err) != CHORD_OK) {
        raw_error(o, "%s", err.msg);
        goto out;
    }
    app_ctx_notes(o, c);
    if (app_draft_open(o, m, c, &d) != 0)
        goto out;
    chord_gen_params gp = {
        .prompt = toks,
        .n_prompt = n,
        .n_predict = o->n_predict,
        .sampling = o->sampling,
        .model = m,
    };
    app_draft_params(o, &d, &gp);
    if (chord_gen_start(c, &gp, &g, &err) != CHORD_OK) {
        raw_error(o, "%s", err.msg);
        goto out;
    }
    bool first = true, open = true;
    for (;;) {
        chord_event ev;
        if (!chord_gen_next(g, &ev, -1))
            continue;
        if (ev.kind == CHORD_EV_ERROR) {
            raw_error(o, "%s", ev.message);
            break;
        }
        if (open && !print_event(o, &ev, &first)) {
            /* The reader is gone: stop generating, end quietly. */
            open = false;
            chord_gen_cancel(g);
        }
        if (ev.kind == CHORD_EV_DONE) {
            if (o->verbose)
                fprintf(stderr, "chord: %d prompt tokens in %.1f ms (%.1f tok/s), %d generated in %.1f ms (%.1f tok/s), stop: %s\n",
                        ev.n_prompt, ev.prompt_ms, ev.prompt_ms > 0 ? ev.n_prompt * 1e3 / ev.prompt_ms : 0.0,
                        ev.n_gen, ev.gen_ms, ev.gen_ms > 0 ? ev.n_gen * 1e3 / ev.gen_ms : 0.0,
                        stop_name(ev.reason));
            if (o->verbose && ev.n_drafted > 0)
                fprintf(stderr, "chord: %d of %d proposed tokens accepted (%.0f%%)\n", ev.n_accepted,
                        ev.n_drafted, 100.0 * ev.n_accepted / ev.n_drafted);
            rc = EXIT_OK;
            break;
        }
    }
out:
    chord_gen_join(g);
    app_draft_close(&d);
    chord_ctx_free(c);
    chord_model_free(m);
    free(toks);
    return rc;
}
