/*
 * ui_draw.h - drawing helpers shared by the TUI's panes: colours (or plain
 * attributes without them), glyphs with an ASCII fallback, sanitized text.
 */
#ifndef CHORD_UI_DRAW_H
#define CHORD_UI_DRAW_H

#include <stdbool.h>
#include <stddef.h>

#include <curses.h>

/* A rectangle of the screen: panes draw only inside theirs. */
typedef struct ui_rect {
    int y, x, h, w;
} ui_rect;

typedef enum ui_style {
    UI_S_NORMAL = 0,
    UI_S_USER, UI_S_ASSISTANT, UI_S_NOTE, UI_S_ERROR,
    UI_S_BORDER, UI_S_TITLE, UI_S_DIM, UI_S_SPARK,
    /* one per chord_layer_state, in its order */
    UI_S_L_RESIDENT, UI_S_L_PINNED, UI_S_L_QUEUED, UI_S_L_LOADING,
    UI_S_L_READY, UI_S_L_IN_USE, UI_S_L_EVICTED,
    /* a reply's Markdown (see ui_md.h) */
    UI_S_MD_H1, UI_S_MD_H2, UI_S_MD_H3, UI_S_MD_CODE, UI_S_MD_LINK, UI_S_MD_URL,
    UI_S_MD_FRAME, UI_S_MD_LABEL, UI_S_MD_BULLET, UI_S_MD_QUOTE, UI_S_MD_CUT,
    UI_S_COUNT
} ui_style;

/* Sets colours up after initscr(): none when NO_COLOR is set or the
 * terminal has none (attributes then tell roles apart); the terminal's own
 * background is kept (use_default_colors). Decides the glyph set from the
 * locale's codeset. */
void ui_draw_init(void);
attr_t ui_style_attr(ui_style s);
/* The attributes of a Markdown span's UI_MD_* flags: attributes only
 * without colour (NO_COLOR, monochrome); italic is underline where the
 * terminal cannot show it. */
attr_t ui_md_attr(unsigned fl);
bool ui_draw_has_color(void);
bool ui_draw_utf8(void);

/* Glyph for a layer state (a chord_layer_state value). */
const char *ui_layer_glyph(int state);

/* Draws UTF-8 text at (y, x), at most maxcols cells; tabs run to the next
 * stop counted from x, other control characters show as spaces so a line
 * never moves the cursor elsewhere. Returns the cells drawn. */
int ui_draw_text(WINDOW *w, int y, int x, const char *s, size_t len, int maxcols);
/* printf-style ui_draw_text. */
int ui_draw_fmt(WINDOW *w, int y, int x, int maxcols, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A sparkline of the last values (oldest first) in cols cells, scaled to
 * their maximum. */
void ui_draw_spark(WINDOW *w, int y, int x, const double *v, int n, int cols);

#endif
