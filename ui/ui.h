/*
 * ui.h - the interactive front ends: the ncurses TUI and the plain REPL.
 *
 * app/mode_interactive.c loads the model and the context, then hands them
 * over here with the history's path: the history is opened for writing on
 * its writer thread (data/hist_queue.h), never here, so a database that
 * another process keeps locked cannot hold the screen back. Both front ends share one conversation driver
 * (ui_chat.h) and one set of slash commands (ui_cmd.h), so a command means
 * the same in both.
 */
#ifndef CHORD_UI_H
#define CHORD_UI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord.h"
#include "hist.h"

/* A model the user can switch to: what -m takes, a line about it
 * (architecture, size...), and its file. */
typedef struct ui_model_item {
    char *name, *detail, *path;
} ui_model_item;

/* /model NAME: loads the model NAME names (as -m takes it) with the
 * session's settings and a new context. On success *m and *ctx are the new
 * ones, path the file, and the previous model and context are freed (the
 * chat has let go of them before the call); on failure nothing changed and
 * err says why in one or a few lines. */
typedef chord_status (*ui_model_load_fn)(void *ud, const char *spec, chord_model **m,
                                         chord_ctx **ctx, char *path, size_t path_cap,
                                         chord_err *err);
/* The local models (malloc'd items, freed with ui_model_items_free); the
 * count, or -1 when they could not be listed. */
typedef int (*ui_model_list_fn)(void *ud, ui_model_item **items);
void ui_model_items_free(ui_model_item *v, int n);

typedef struct ui_config {
    chord_model *model;
    chord_ctx *ctx;              /* used by one generation at a time */
    bool history;                /* record the chat in hist_db */
    const char *hist_db;         /* --db; NULL = hist_default_path() */
    hist *hist;                  /* a connection for reads, with a short
                                    busy timeout (UI_HIST_READ_MS): read-only,
                                    or the one --resume/-c opened; NULL =
                                    opened later, once the writer has opened
                                    the file. The front end takes it over
                                    and closes it */
    const char *model_path;
    int64_t resume_id;           /* conversation to continue; 0 = a new one */
    int64_t kv_store;            /* --kv-store: cap of the saved KV caches'
                                    folder; 0 = none saved or loaded */
    const char *template_src;    /* Jinja source; NULL = the model's own */
    const char *template_family; /* built-in family name, or NULL */
    const char *system;          /* system prompt, or NULL */
    int thinking;                /* a chord_thinking (--think) */
    const char *first_message;   /* -p without --batch: sent at once */
    chord_sampler_params sampling;
    int n_predict;               /* per reply; <0 = until end of turn */
    chord_model *draft;          /* --draft (speculative decoding), or NULL */
    chord_ctx *draft_ctx;        /* its context, used with ctx */
    int draft_max;               /* --draft-max (0 = the engine's default) */
    bool lookup;                 /* --lookup */
    ui_model_load_fn model_load; /* /model NAME; NULL = not offered */
    ui_model_list_fn model_list; /* /model's list; NULL = none */
    void *model_ud;
} ui_config;

/* Runs the full-screen TUI until /quit, Ctrl-D, SIGTERM or SIGHUP; the
 * terminal is restored on every path. Returns the process exit code. */
int ui_run_tui(const ui_config *cfg);

/* Runs the line-oriented REPL (readline when stdin is a terminal, plain
 * lines otherwise), streaming replies to stdout. Returns the exit code. */
int ui_run_repl(const ui_config *cfg);

#endif
