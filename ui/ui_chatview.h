/*
 * ui_chatview.h - the chat pane: the conversation wrapped by display width
 * under a role gutter, the reply streaming in, and scrollback.
 */
#ifndef CHORD_UI_CHATVIEW_H
#define CHORD_UI_CHATVIEW_H

#include "ui_chat.h"
#include "ui_draw.h"

typedef struct ui_chatview {
    int scroll;        /* lines above the bottom; 0 follows the reply */
    int total;         /* lines at the last draw (to keep a scrolled view still) */
    int page;          /* rows at the last draw */
} ui_chatview;

/* Draws the visible part of the conversation into r. */
void ui_chatview_draw(ui_chatview *v, const ui_chat *c, WINDOW *w, ui_rect r);

/* Scrolls by delta lines (positive = back in time); INT_MAX / INT_MIN jump
 * to the top / bottom. Returns true if the view moved. */
bool ui_chatview_scroll(ui_chatview *v, int delta);

#endif
