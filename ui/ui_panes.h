/*
 * ui_panes.h - the TUI's diagnostics and status panes, htop-style: each
 * pane is a small object that first takes its values from the frame's one
 * snapshot (update), then renders only those (draw), so a frame is
 * consistent and drawing never calls into the engine.
 */
#ifndef CHORD_UI_PANES_H
#define CHORD_UI_PANES_H

#include "chord.h"
#include "ui_chat.h"
#include "ui_draw.h"

#define UI_SPARK_N 60   /* one sample a second: the last minute */

/* What the UI thread gathers once per frame. */
typedef struct ui_snap {
    chord_stats st;
    const ui_chat *chat;
    double read_mb_s[UI_SPARK_N];  /* oldest first */
    double gen_tok_s[UI_SPARK_N];
    int n_spark;
    bool busy;
} ui_snap;

typedef struct ui_pane ui_pane;
struct ui_pane {
    char title[48];                                   /* on its top border */
    void (*update)(ui_pane *p, const ui_snap *s);
    int (*rows)(const ui_pane *p, int width);         /* rows it wants */
    void (*draw)(const ui_pane *p, WINDOW *w, ui_rect r);
    int avail;   /* rows the column can give it, set before rows(); 0 = unknown */
};

/* The diagnostics column's panes, top to bottom; *n receives the count.
 * Their storage is static (one TUI per process). */
ui_pane **ui_panes_diag(int *n);

/* The status line: model, conversation title, sampling settings, hints. */
ui_pane *ui_pane_status(void);

#endif
