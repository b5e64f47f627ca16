/*
 * ui_cmd.h - the slash commands, shared by the TUI and the REPL.
 *
 * A command's output goes to the chat as notes (ui_chat_note), so each
 * front end shows it its own way. The result flags tell the front end what
 * else to do (htop's handler results: the loop decides how to repaint).
 */
#ifndef CHORD_UI_CMD_H
#define CHORD_UI_CMD_H

#include "ui_chat.h"

enum {
    UI_CMD_NONE = 0,
    UI_CMD_REDRAW = 1 << 0,     /* the chat changed */
    UI_CMD_QUIT = 1 << 1,
    UI_CMD_PANES = 1 << 2,      /* toggle the diagnostics column */
    UI_CMD_PICKER = 1 << 3,     /* open the history picker (TUI) */
    UI_CMD_CLEAR = 1 << 4,      /* clear the screen */
    UI_CMD_CODE = 1 << 5,       /* open code block c->code_req (TUI) */
    UI_CMD_COPY = 1 << 6,       /* put c->clip on the clipboard (OSC 52) */
    UI_CMD_MOUSE = 1 << 7,      /* toggle mouse capture (TUI) */
    UI_CMD_EDIT = 1 << 8,       /* put the last user message in the input */
    UI_CMD_MODEL = 1 << 9,      /* open the model picker (TUI) */
    UI_CMD_SWITCH = 1 << 10,    /* load c->switch_req (TUI: after a frame
                                   that says so; see ui_cmd_switch) */
};

/* Runs one line that starts with '/'. tui selects the picker for a bare
 * /history (the REPL lists instead). Returns UI_CMD_* flags. */
int ui_cmd_run(ui_chat *c, const char *line, bool tui);

/* NULL-terminated list of command names with their slash ("/help", ...),
 * for Tab completion. */
const char *const *ui_cmd_names(void);

/* Loads the model /model NAME asked for (c->switch_req) and says how it
 * went, as notes. */
void ui_cmd_switch(ui_chat *c);

/* Lists up to limit conversations as notes (for /history in the REPL). */
void ui_cmd_list_history(ui_chat *c, int limit);

#endif
