/*
 * mode_interactive.c - `chord -m MODEL`: the TUI, or the plain REPL with
 * --no-tui or when stdin or stdout is not a terminal.
 *
 * Sets up what the front ends need (model, context, history, chat
 * template, the conversation to resume) and hands over to ui/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "hist.h"
#include "ui.h"

/* Reads a whole text file into a malloc'd string, or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *t = realloc(buf, cap);
            if (!t) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = t;
        }
        size_t n = fread(buf + len, 1, 4096, f);
        len += n;
        if (n < 4096)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[len] = 0;
    return buf;
}

/* --chat-template is a built-in family name or a Jinja file. */
static bool resolve_template(const char *arg, ui_config *cfg, char **owned)
{
    *owned = NULL;
    if (!arg)
        return true;
    for (const char *const *f = chord_chat_families(); f && *f; f++)
        if (!strcmp(*f, arg)) {
            cfg->template_family = arg;
            return true;
        }
    *owned = slurp(arg);
    if (!*owned) {
        app_error("--chat-template %s: not a built-in family and not a readable file", arg);
        return false;
    }
    cfg->template_src = *owned;
    return true;
}

int mode_interactive(const chord_opts *o)
{
    if (!o->model) {
        app_error("no model: use -m MODEL.gguf (see chord --help)");
        return EXIT_USAGE;
    }
    ui_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char *tmpl = NULL;
    if (!resolve_template(o->chat_template, &cfg, &tmpl))
        return EXIT_FAIL;

    chord_err err;
    chord_model_params mp = opts_model_params(o);
    chord_model *m = NULL;
    if (chord_model_load(o->model, &mp, &m, &err) != CHORD_OK) {
        app_error("%s", err.msg);
        free(tmpl);
        return EXIT_FAIL;
    }
    chord_ctx_params cp = opts_ctx_params(o);
    chord_ctx *ctx = NULL;
    if (chord_ctx_new(m, &cp, &ctx, &err) != CHORD_OK) {
        app_error("%s", err.msg);
        chord_model_free(m);
        free(tmpl);
        return EXIT_FAIL;
    }

    hist *h = NULL;
    int rc = EXIT_OK;
    if (!o->no_history) {
        if (hist_open(o->db, NULL, &h, &err) != CHORD_OK) {
            /* a broken history must not cost the user the chat */
            app_error("%s (continuing without history)", err.msg);
            h = NULL;
        }
    }
    if (o->resume_id || o->continue_last) {
        int64_t id = o->resume_id;
        bool ok = h != NULL;
        if (ok && o->continue_last && !id)
            ok = hist_conv_last(h, &id, &err) == CHORD_OK && id > 0;
        if (!ok) {
            app_error(h ? "no conversation to continue" : "cannot continue: history is not available");
            rc = EXIT_FAIL;
            goto out;
        }
        cfg.resume_id = id;
    }

    cfg.model = m;
    cfg.ctx = ctx;
    cfg.hist = h;
    cfg.model_path = o->model;
    cfg.system = o->system;
    cfg.sampling = o->sampling;
    cfg.n_predict = o->n_predict;
    if (!o->no_tui && isatty(0) && isatty(1))
        rc = ui_run_tui(&cfg);
    else
        rc = ui_run_repl(&cfg);
out:
    hist_close(h);
    chord_ctx_free(ctx);
    chord_model_free(m);
    free(tmpl);
    return rc;
}
