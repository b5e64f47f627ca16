/*
 * ui_draw.c - colours, glyphs and text drawing (see ui_draw.h).
 */
#include "ui_draw.h"

#include <langinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_wrap.h"

static bool has_color, utf8;
static attr_t attrs[UI_S_COUNT];

bool ui_draw_has_color(void) { return has_color; }
bool ui_draw_utf8(void) { return utf8; }

void ui_draw_init(void)
{
    const char *cs = nl_langinfo(CODESET);
    utf8 = cs && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8"));
    const char *nc = getenv("NO_COLOR");
    has_color = has_colors() && !(nc && *nc);
    /* without colour: roles and states still differ by attribute/glyph */
    attrs[UI_S_USER] = A_BOLD;
    attrs[UI_S_ASSISTANT] = A_NORMAL;
    attrs[UI_S_NOTE] = A_DIM;
    attrs[UI_S_ERROR] = A_BOLD;
    attrs[UI_S_TITLE] = A_BOLD;
    attrs[UI_S_DIM] = A_DIM;
    attrs[UI_S_L_IN_USE] = A_BOLD;
    attrs[UI_S_L_EVICTED] = A_DIM;
    if (!has_color)
        return;
    start_color();
    use_default_colors();
    static const struct { ui_style s; short fg; attr_t extra; } map[] = {
        {UI_S_USER, COLOR_CYAN, A_BOLD},
        {UI_S_ASSISTANT, COLOR_GREEN, A_BOLD},
        {UI_S_NOTE, COLOR_YELLOW, 0},
        {UI_S_ERROR, COLOR_RED, A_BOLD},
        {UI_S_BORDER, COLOR_BLUE, 0},
        {UI_S_TITLE, COLOR_CYAN, A_BOLD},
        {UI_S_SPARK, COLOR_CYAN, 0},
        {UI_S_L_RESIDENT, COLOR_GREEN, 0},
        {UI_S_L_PINNED, COLOR_CYAN, 0},
        {UI_S_L_QUEUED, COLOR_MAGENTA, 0},
        {UI_S_L_LOADING, COLOR_YELLOW, 0},
        {UI_S_L_READY, COLOR_BLUE, A_BOLD},
        {UI_S_L_IN_USE, COLOR_RED, A_BOLD},
        {UI_S_L_EVICTED, -1, A_DIM},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        short pair = (short)(i + 1);
        if (COLOR_PAIRS <= pair)
            break;
        init_pair(pair, map[i].fg, -1);
        attrs[map[i].s] = COLOR_PAIR(pair) | map[i].extra;
    }
}

attr_t ui_style_attr(ui_style s)
{
    return s < UI_S_COUNT ? attrs[s] : A_NORMAL;
}

const char *ui_layer_glyph(int state)
{
    static const char *const u[] = {"\xe2\x96\x88", "\xe2\x96\x87", "\xe2\x96\xab", "\xe2\x96\x92",
                                    "\xe2\x96\xaa", "\xe2\x96\x93", "\xe2\x96\x91"};
    static const char *const a[] = {"#", "P", "q", "~", "r", "@", "."};
    if (state < 0 || state > 6)
        return "?";
    return utf8 ? u[state] : a[state];
}

int ui_draw_text(WINDOW *w, int y, int x, const char *s, size_t len, int maxcols)
{
    int cols = 0;
    wmove(w, y, x);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = ui_utf8_next(s + i, len - i, &cp);
        int cw = ui_cp_width(cp);
        if (cols + cw > maxcols)
            break;
        if (cp < 0x20 || cp == 0x7f || cp == 0xFFFD) {
            waddch(w, cp == 0xFFFD ? '?' : ' ');
        } else if (cw == 0 && cols == 0) {
            /* a mark with no base on this line: nothing to combine with */
        } else {
            waddnstr(w, s + i, (int)n);
        }
        cols += cw;
        i += n;
    }
    return cols;
}

int ui_draw_fmt(WINDOW *w, int y, int x, int maxcols, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return ui_draw_text(w, y, x, buf, strlen(buf), maxcols);
}

void ui_draw_spark(WINDOW *w, int y, int x, const double *v, int n, int cols)
{
    static const char *const u[] = {" ", "\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83", "\xe2\x96\x84",
                                    "\xe2\x96\x85", "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88"};
    static const char a[] = " .:-=+*#@";
    int first = n > cols ? n - cols : 0;
    double mx = 0;
    for (int i = first; i < n; i++)
        if (v[i] > mx)
            mx = v[i];
    wmove(w, y, x);
    for (int i = first; i < n; i++) {
        int k = mx > 0 ? (int)(v[i] / mx * 8 + 0.5) : 0;
        if (k < 0)
            k = 0;
        if (k > 8)
            k = 8;
        if (k == 0 && v[i] > 0)
            k = 1;
        if (utf8)
            waddstr(w, u[k]);
        else
            waddch(w, (chtype)a[k]);
    }
}
