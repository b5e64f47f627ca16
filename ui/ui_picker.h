/*
 * ui_picker.h - the /history picker: a list of past conversations over the
 * chat; Up/Down choose, Enter resumes, Esc closes.
 */
#ifndef CHORD_UI_PICKER_H
#define CHORD_UI_PICKER_H

#include <stdbool.h>
#include <stdint.h>

#include "hist.h"
#include "ui_draw.h"

typedef struct ui_picker {
    bool open;
    hist_conv_row *rows;
    int n, sel, top;
} ui_picker;

/* Loads the list (newest first) and opens; false with err on failure. */
bool ui_picker_open(ui_picker *p, hist *h, chord_err *err);
void ui_picker_close(ui_picker *p);

enum { UI_PICK_NONE, UI_PICK_MOVED, UI_PICK_CHOSEN, UI_PICK_CLOSED };
/* Handles a key; on UI_PICK_CHOSEN *id is the conversation. */
int ui_picker_key(ui_picker *p, int key, int64_t *id);
void ui_picker_draw(ui_picker *p, WINDOW *w, ui_rect r);

#endif
