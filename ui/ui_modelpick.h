/*
 * ui_modelpick.h - the model picker `chord` opens when no model is named
 * (neither -m nor the config file's model): a full-screen list, Up/Down
 * (or j/k) to choose, Enter to start, q or Esc to quit.
 *
 * It takes plain strings, so ui/ needs nothing from app/'s model list.
 */
#ifndef CHORD_UI_MODELPICK_H
#define CHORD_UI_MODELPICK_H

#include <stdbool.h>

#include "ui.h"
#include "ui_draw.h"

/* Shows the n models (names[i], with details[i] after it: architecture,
 * size...) and returns the index chosen, or -1 when the user quit (q, Esc,
 * Ctrl-C, Ctrl-D, SIGTERM, SIGHUP) or the terminal could not be set up.
 * The terminal is left as it was found either way. */
int ui_pick_model(const char *const *names, const char *const *details, int n);

/* The same list over the chat, for /model without a name in the TUI:
 * Up/Down choose, Enter switches, Esc closes (keys answer as the history
 * picker's, UI_PICK_*). It owns the items from open to close. */
typedef struct ui_modelmenu {
    bool open;
    ui_model_item *v;
    const char **names, **details;
    int n, sel, top;
} ui_modelmenu;

bool ui_modelmenu_open(ui_modelmenu *mm, ui_model_item *v, int n);
void ui_modelmenu_close(ui_modelmenu *mm);
int ui_modelmenu_key(ui_modelmenu *mm, int key);
void ui_modelmenu_draw(ui_modelmenu *mm, WINDOW *w, ui_rect r);

#endif
