/*
 * ui_input.h - GNU readline inside the ncurses screen.
 *
 * readline runs in callback mode and never touches the terminal: its
 * getc reads bytes the UI feeds from ncurses' input, its redisplay only
 * marks the input dirty (the frame loop draws rl_line_buffer), and its
 * terminal prep/deprep are no-ops. We keep readline's editing, history and
 * Tab completion of slash commands. readline is global state, so there is
 * one input per process.
 */
#ifndef CHORD_UI_INPUT_H
#define CHORD_UI_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include <curses.h>

/* Called with each accepted logical line (backslash continuations joined;
 * malloc'd, the callee frees it) or with NULL for Ctrl-D on an empty line. */
typedef void (*ui_input_line_fn)(char *line);

/* Installs the callback handler. Returns false if readline could not be set
 * up (no memory for its output sink). */
bool ui_input_init(ui_input_line_fn fn);
/* Removes the handler and restores readline's defaults. */
void ui_input_shutdown(void);

/* Feeds raw bytes (typed characters, UTF-8) to readline. */
void ui_input_feed(const char *bytes, size_t n);
/* Handles an ncurses KEY_* code for line editing (arrows, Home/End,
 * Delete, Backspace, history). Returns false if it is not one of ours. */
bool ui_input_key(int key);
/* Inserts text at the cursor (Alt-Enter inserts "\n"). */
void ui_input_insert(const char *text);
/* Replaces the line by text, the cursor at its end (/edit). */
void ui_input_set(const char *text);
/* Empties the line and any pending continuation. */
void ui_input_clear(void);
bool ui_input_empty(void);
/* Adds a past prompt to readline's history (newest last). */
void ui_input_add_history(const char *line);
/* True once since readline changed the line (redisplay was asked). */
bool ui_input_take_dirty(void);

/* Rows the input needs at this width (the prompt included), 1..max_rows. */
int ui_input_rows(int width, int max_rows);
/* Draws the input into rows [y, y+rows) of w from column x, width cells,
 * scrolled so the cursor shows; stores the cursor's screen position. */
void ui_input_draw(WINDOW *w, int y, int x, int width, int rows, int *cy, int *cx);

/* The candidates the last Tab found when there were several ("/help
 * /history"), "" when none; cleared by the next key. */
const char *ui_input_matches(void);

/* Slash-command completion for rl_attempted_completion_function (also used
 * by the REPL). */
char **ui_input_complete(const char *text, int start, int end);

#endif
