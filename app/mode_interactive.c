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
#include "config.h"
#include "draft.h"
#include "hist.h"
#include "models.h"
#include "ui.h"
#include "ui_modelpick.h"

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

/* No model named: the models listed, in a picker. 0 with the file in
 * path, or the exit code (EXIT_OK when the user quit the picker). */
static int pick_model(char *path, size_t n)
{
    models_list l;
    if (!models_scan(&l)) {
        models_list_free(&l);
        app_error("out of memory listing the models");
        return EXIT_FAIL;
    }
    /* a model whose file cannot be read is no choice */
    const char **names = calloc((size_t)l.n + 1, sizeof *names);
    const char **details = calloc((size_t)l.n + 1, sizeof *details);
    char (*dbuf)[160] = calloc((size_t)l.n + 1, sizeof *dbuf);
    int *idx = calloc((size_t)l.n + 1, sizeof *idx);
    int k = 0, rc = EXIT_FAIL;
    if (!names || !details || !dbuf || !idx) {
        app_error("out of memory listing the models");
        goto out;
    }
    for (int i = 0; i < l.n; i++) {
        const models_entry *e = &l.v[i];
        if (e->error)
            continue;
        char p[16], b[32];
        models_fmt_params(e->n_params, p, sizeof p);
        models_fmt_bytes(e->bytes, b, sizeof b);
        snprintf(dbuf[k], sizeof dbuf[k], "%-10s %6s  %-7s %10s  %s", e->arch, p, e->type_name, b,
                 models_source_name(e->src));
        names[k] = e->name;
        details[k] = dbuf[k];
        idx[k++] = i;
    }
    if (!k) {
        app_error("no models found; get a small one with: chord pull Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M");
        goto out;
    }
    int c = ui_pick_model(names, details, k);
    if (c < 0)
        rc = EXIT_OK;
    else if (snprintf(path, n, "%s", l.v[idx[c]].path) < (int)n)
        rc = 0;
out:
    free(names);
    free(details);
    free(dbuf);
    free(idx);
    models_list_free(&l);
    return rc;
}

int mode_interactive(const chord_opts *o)
{
    bool tui = !o->no_tui && isatty(0) && isatty(1);
    char picked[4096] = "";
    const char *model = o->model;
    if (!model && !tui) {
        char cp[4096];
        app_error("no model: give -m MODEL (a file, OWNER/NAME:QUANT, ollama:NAME or a name from "
                  "chord models) or set model in %s",
                  config_path(cp, sizeof cp) ? cp : "the config file");
        return EXIT_USAGE;
    }
    if (!model) {
        int prc = pick_model(picked, sizeof picked);
        if (prc || !picked[0])
            return prc;
        model = picked;
    }
    ui_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char *tmpl = NULL;
    if (!resolve_template(o->chat_template, &cfg, &tmpl))
        return EXIT_FAIL;

    chord_err err;
    chord_model_params mp = opts_model_params(o);
    chord_model *m = NULL;
    app_draft draft = {0};
    if (app_draft_budget(o, &mp) != 0) {
        free(tmpl);
        return EXIT_FAIL;
    }
    if (chord_model_load(model, &mp, &m, &err) != CHORD_OK) {
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
    if (app_draft_open(o, m, ctx, &draft) != 0) {
        rc = EXIT_FAIL;
        goto out;
    }
    chord_err herr = {{0}};
    bool foreign = false;
    hist_open_params hp = {.foreign = &foreign};
    if (!o->no_history) {
        if (hist_open(o->db, &hp, &h, &herr) != CHORD_OK && foreign) {
            /* a wrong --db: never chat into another program's database */
            app_error("%s", herr.msg);
            rc = EXIT_FAIL;
            goto out;
        } else if (!h) {
            /* a broken history must not cost the user the chat; the TUI
             * keeps saying so in its status line */
            app_error("%s (continuing without history)", herr.msg);
            h = NULL;
            cfg.hist_error = herr.msg;
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
    cfg.model_path = model;
    cfg.system = o->system;
    cfg.sampling = o->sampling;
    cfg.n_predict = o->n_predict;
    cfg.draft = draft.m;
    cfg.draft_ctx = draft.ctx;
    cfg.draft_max = o->draft_max;
    cfg.lookup = o->lookup;
    cfg.thinking = o->thinking;
    cfg.first_message = o->prompt;
    if (tui)
        rc = ui_run_tui(&cfg);
    else
        rc = ui_run_repl(&cfg);
out:
    hist_close(h);
    app_draft_close(&draft);
    chord_ctx_free(ctx);
    chord_model_free(m);
    free(tmpl);
    return rc;
}
