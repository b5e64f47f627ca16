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
#include "ui_chat.h"
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

/* The history for reading, opened here read-only with a short busy
 * timeout: opening it for writing (creating the file, upgrading its schema,
 * marking dead writers' rows) may wait seconds for another process's lock,
 * so the front end's writer thread does that (data/hist_queue.h) and the
 * screen opens at once. Reading a chord database (WAL) never waits for a
 * writer. Only a file that belongs to another program stops the chat here,
 * and only --resume/-c, which needs the rows before the screen, may wait
 * for a lock (with a line saying so). *h may stay NULL: the front end
 * opens its reader once its writer has opened the file. 0, or -1 after an
 * error line. */
static int open_history(const chord_opts *o, hist **h, chord_err *err)
{
    bool foreign = false, locked = false;
    hist_open_params rp = {.read_only = true, .busy_timeout_ms = UI_HIST_READ_MS,
                           .foreign = &foreign, .locked = &locked};
    if (hist_open(o->db, &rp, h, err) == CHORD_OK)
        return 0;
    if (foreign) {
        /* a wrong --db: never chat into another program's database */
        app_error("%s", err->msg);
        return -1;
    }
    /* missing (the writer creates it), locked, an old schema the writer
     * upgrades, or broken: the writer finds out which and the front end
     * says so in its status line (the REPL: on stderr) */
    if (!o->resume_id && !o->continue_last)
        return 0;
    /* resuming needs the rows now: open it as the writer will (creating,
     * upgrading), waiting for a lock up to the usual timeout; then it
     * serves the chat's reads, which must not wait long */
    if (locked)
        app_error("%s: waiting up to 5 s to resume", err->msg);
    hist_open_params wp = {.foreign = &foreign};
    if (hist_open(o->db, &wp, h, err) != CHORD_OK) {
        app_error("%s", err->msg);
        return foreign ? -1 : 0;   /* else: "cannot continue" */
    }
    hist_set_busy_timeout(*h, UI_HIST_READ_MS);
    return 0;
}

/* The readable local models as picker items ("name", "arch params type
 * size source", file); the count, or -1 when out of memory. */
static int list_models(void *ud, ui_model_item **out)
{
    (void)ud;
    *out = NULL;
    models_list l;
    if (!models_scan(&l)) {
        models_list_free(&l);
        return -1;
    }
    ui_model_item *v = calloc((size_t)l.n + 1, sizeof *v);
    int k = 0;
    for (int i = 0; v && i < l.n; i++) {
        const models_entry *e = &l.v[i];
        if (e->error)   /* a model whose file cannot be read is no choice */
            continue;
        char p[16], b[32], d[160];
        models_fmt_params(e->n_params, p, sizeof p);
        models_fmt_bytes(e->bytes, b, sizeof b);
        snprintf(d, sizeof d, "%-10s %6s  %-7s %10s  %s", e->arch, p, e->type_name, b,
                 models_source_name(e->src));
        v[k] = (ui_model_item){strdup(e->name), strdup(d), strdup(e->path)};
        if (!v[k].name || !v[k].detail || !v[k].path) {
            ui_model_items_free(v, k + 1);
            v = NULL;
            break;
        }
        k++;
    }
    models_list_free(&l);
    if (!v)
        return -1;
    *out = v;
    return k;
}

/* No model named: the models listed, in a picker. 0 with the file in
 * path, or the exit code (EXIT_OK when the user quit the picker). */
static int pick_model(char *path, size_t n)
{
    ui_model_item *v = NULL;
    int k = list_models(NULL, &v);
    if (k < 0) {
        app_error("out of memory listing the models");
        return EXIT_FAIL;
    }
    const char **names = calloc((size_t)k + 1, sizeof *names);
    const char **details = calloc((size_t)k + 1, sizeof *details);
    int rc = EXIT_FAIL;
    if (!names || !details) {
        app_error("out of memory listing the models");
        goto out;
    }
    for (int i = 0; i < k; i++) {
        names[i] = v[i].name;
        details[i] = v[i].detail;
    }
    if (!k) {
        app_error("no models found; get a small one with: chord pull Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M");
        goto out;
    }
    int c = ui_pick_model(names, details, k);
    if (c < 0)
        rc = EXIT_OK;
    else if (snprintf(path, n, "%s", v[c].path) < (int)n)
        rc = 0;
out:
    free(names);
    free(details);
    ui_model_items_free(v, k);
    return rc;
}

/* The model the chat runs now: /model replaces it. */
typedef struct loaded {
    const chord_opts *o;
    chord_model *m;
    chord_ctx *ctx;
} loaded;

/* What models_resolve printed (it speaks to stderr, which is under the
 * TUI's screen) as the error message: its lines without "chord: ". */
static void take_captured(FILE *f, chord_err *err)
{
    char line[512];
    size_t n = 0;
    err->msg[0] = 0;
    rewind(f);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        const char *s = !strncmp(line, "chord: ", 7) ? line + 7 : line;
        if (!*s)
            continue;
        int w = snprintf(err->msg + n, sizeof err->msg - n, "%s%s", n ? "\n" : "", s);
        if (w < 0 || (size_t)w >= sizeof err->msg - n)
            break;
        n += (size_t)w;
    }
    if (!err->msg[0])
        snprintf(err->msg, sizeof err->msg, "no such model");
}

/* ui_model_load_fn: the new model with the options the session started
 * with; the old one is freed once the new one is up. */
static chord_status load_model(void *ud, const char *spec, chord_model **m, chord_ctx **ctx,
                               char *path, size_t path_cap, chord_err *err)
{
    loaded *L = ud;
    char file[4096];
    /* models_resolve prints why it fails: keep it off the screen */
    FILE *cap = tmpfile();
    int saved = cap ? dup(2) : -1;
    fflush(stderr);
    if (saved >= 0)
        dup2(fileno(cap), 2);
    int rc = models_resolve(spec, file, sizeof file);
    fflush(stderr);
    if (saved >= 0) {
        dup2(saved, 2);
        close(saved);
    }
    if (rc) {
        if (cap)
            take_captured(cap, err);
        else
            snprintf(err->msg, sizeof err->msg, "%s: no such model", spec);
    }
    if (cap)
        fclose(cap);
    if (rc)
        return CHORD_E_INVALID;
    chord_model_params mp = opts_model_params(L->o);
    chord_model *nm = NULL;
    chord_status st = chord_model_load(file, &mp, &nm, err);
    if (st != CHORD_OK)
        return st;
    chord_ctx_params cp = opts_ctx_params(L->o);
    chord_ctx *nc = NULL;
    st = chord_ctx_new(nm, &cp, &nc, err);
    if (st != CHORD_OK) {
        chord_model_free(nm);
        return st;
    }
    chord_ctx_free(L->ctx);
    chord_model_free(L->m);
    L->m = *m = nm;
    L->ctx = *ctx = nc;
    snprintf(path, path_cap, "%s", file);
    return CHORD_OK;
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
    if (!o->no_history && open_history(o, &h, &herr) != 0) {
        rc = EXIT_FAIL;
        goto out;
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
    cfg.kv_store = o->kv_store;
    cfg.draft = draft.m;
    cfg.draft_ctx = draft.ctx;
    cfg.draft_max = o->draft_max;
    cfg.lookup = o->lookup;
    cfg.thinking = o->thinking;
    cfg.first_message = o->prompt;
    loaded L = {o, m, ctx};
    cfg.model_load = load_model;
    cfg.model_list = list_models;
    cfg.model_ud = &L;
    cfg.history = !o->no_history;
    cfg.hist_db = o->db;
    h = NULL;   /* the front end closes it */
    if (tui)
        rc = ui_run_tui(&cfg);
    else
        rc = ui_run_repl(&cfg);
    m = L.m;    /* what /model left */
    ctx = L.ctx;
out:
    hist_close(h);
    app_draft_close(&draft);
    chord_ctx_free(ctx);
    chord_model_free(m);
    free(tmpl);
    return rc;
}
