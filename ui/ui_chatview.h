/*
 * ui_chatview.h - the chat pane: the conversation wrapped by display width
 * under a role gutter, the reply streaming in, and scrollback. A reply's
 * Markdown is drawn rendered (ui_md.h) unless the chat's raw_view is set;
 * the code viewer shows one code block of the last reply whole, over the
 * screen, scrollable both ways.
 */
#ifndef CHORD_UI_CHATVIEW_H
#define CHORD_UI_CHATVIEW_H

#include "ui_chat.h"
#include "ui_draw.h"
#include "ui_md.h"

typedef struct ui_cv_entry ui_cv_entry;

/* The code viewer: one block, its lines unwrapped. */
typedef struct ui_codeview {
    bool open;
    int index, count;          /* block index (1-based) of count */
    char *lang;
    char *text;
    size_t *line;              /* start of each line in text */
    int n_lines, max_cols;
    int sy, sx;                /* first line and column shown */
    int page_h, page_w;        /* at the last draw */
} ui_codeview;

typedef struct ui_chatview {
    int scroll;        /* lines above the bottom; 0 follows the reply */
    int total;         /* lines at the last draw (to keep a scrolled view still) */
    int page;          /* rows at the last draw */
    ui_cv_entry *cache;        /* rendered Markdown per message index */
    int n_cache;
    ui_md_doc tail;            /* the streaming reply's unfinished block */
    ui_codeview code;
} ui_chatview;

/* Draws the visible part of the conversation into r. */
void ui_chatview_draw(ui_chatview *v, const ui_chat *c, WINDOW *w, ui_rect r);

/* Scrolls by delta lines (positive = back in time); INT_MAX / INT_MIN jump
 * to the top / bottom. Returns true if the view moved. */
bool ui_chatview_scroll(ui_chatview *v, int delta);

/* Frees the rendered lines kept between frames and the code viewer. */
void ui_chatview_free(ui_chatview *v);

/* Opens the viewer on code block n (1-based; 0: the last one) of the last
 * reply. On failure writes why into err and returns false. */
bool ui_chatview_code_open(ui_chatview *v, const ui_chat *c, int n, char *err, size_t cap);
void ui_chatview_code_close(ui_chatview *v);
/* A key while the viewer is open: arrows, PgUp/PgDn, Home/End scroll;
 * q or Esc closes. */
void ui_chatview_code_key(ui_chatview *v, int key);
/* Draws the viewer over r. */
void ui_chatview_code_draw(ui_chatview *v, WINDOW *w, ui_rect r);

#endif
