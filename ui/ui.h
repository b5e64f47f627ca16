/*
 * ui.h - the interactive front ends: the ncurses TUI and the plain REPL.
 *
 * app/mode_interactive.c loads the model, the context and the history, then
 * hands them over here. Both front ends share one conversation driver
 * (ui_chat.h) and one set of slash commands (ui_cmd.h), so a command means
 * the same in both.
 */
#ifndef CHORD_UI_H
#define CHORD_UI_H

#include <stdbool.h>
#include <stdint.h>

#include "chord.h"
#include "hist.h"

typedef struct ui_config {
    chord_model *model;
    chord_ctx *ctx;              /* used by one generation at a time */
    hist *hist;                  /* NULL = no history */
    const char *hist_error;      /* why the history could not be opened
                                    (shown in the status line), or NULL */
    const char *model_path;
    int64_t resume_id;           /* conversation to continue; 0 = a new one */
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
} ui_config;

/* Runs the full-screen TUI until /quit, Ctrl-D, SIGTERM or SIGHUP; the
 * terminal is restored on every path. Returns the process exit code. */
int ui_run_tui(const ui_config *cfg);

/* Runs the line-oriented REPL (readline when stdin is a terminal, plain
 * lines otherwise), streaming replies to stdout. Returns the exit code. */
int ui_run_repl(const ui_config *cfg);

#endif
