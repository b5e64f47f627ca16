/*
 * ui_draw.c - colours, glyphs and text drawing (see ui_draw.h).
 */
#include "ui_draw.h"

#include <langinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_md.h"
#include "ui_wrap.h"

static bool has_color, utf8;
static attr_t attrs[UI_S_COUNT];
static attr_t italic = A_UNDERLINE;

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
    /* Markdown: bold, underline and reverse tell the parts apart alone */
    attrs[UI_S_MD_H1] = A_BOLD | A_UNDERLINE;
    attrs[UI_S_MD_H2] = A_BOLD;
    attrs[UI_S_MD_H3] = A_BOLD;
    attrs[UI_S_MD_CODE] = A_REVERSE;
    attrs[UI_S_MD_LINK] = A_UNDERLINE;
    attrs[UI_S_MD_URL] = A_DIM;
    attrs[UI_S_MD_FRAME] = A_DIM;
    attrs[UI_S_MD_LABEL] = A_BOLD;
    attrs[UI_S_MD_CUT] = A_BOLD;
    /* italic where the terminal has it (terminfo sitm), else underline */
    const char *sitm = tigetstr("sitm");
    if (sitm && sitm != (char *)-1)
        italic = A_ITALIC;
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
        {UI_S_MD_H1, COLOR_MAGENTA, A_BOLD | A_UNDERLINE},
        {UI_S_MD_H2, COLOR_MAGENTA, A_BOLD},
        {UI_S_MD_H3, COLOR_MAGENTA, 0},
        {UI_S_MD_CODE, COLOR_YELLOW, 0},
        {UI_S_MD_LINK, COLOR_BLUE, A_UNDERLINE},
        {UI_S_MD_URL, -1, A_DIM},
        {UI_S_MD_FRAME, COLOR_BLUE, 0},
        {UI_S_MD_LABEL, COLOR_CYAN, A_BOLD},
        {UI_S_MD_BULLET, COLOR_CYAN, A_BOLD},
        {UI_S_MD_QUOTE, COLOR_GREEN, 0},
        {UI_S_MD_CUT, COLOR_RED, A_BOLD},
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

attr_t ui_md_attr(unsigned fl)
{
    /* one colour (the most specific part wins), every attribute */
    static const struct { unsigned fl; ui_style s; } order[] = {
        {UI_MD_CUT, UI_S_MD_CUT},     {UI_MD_LABEL, UI_S_MD_LABEL}, {UI_MD_FRAME, UI_S_MD_FRAME},
        {UI_MD_BULLET, UI_S_MD_BULLET}, {UI_MD_QUOTE, UI_S_MD_QUOTE}, {UI_MD_URL, UI_S_MD_URL},
        {UI_MD_CODE, UI_S_MD_CODE},   {UI_MD_LINK, UI_S_MD_LINK},   {UI_MD_H1, UI_S_MD_H1},
        {UI_MD_H2, UI_S_MD_H2},       {UI_MD_H3, UI_S_MD_H3},
    };
    attr_t a = A_NORMAL, color = 0;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (!(fl & order[i].fl))
            continue;
        attr_t x = attrs[order[i].s];
        if (!color)
            color = x & A_COLOR;
        a |= x & ~A_COLOR;
    }
    if (fl & UI_MD_BOLD)
        a |= A_BOLD;
    if (fl & UI_MD_ITALIC)
        a |= italic;
    if (fl & UI_MD_STRIKE)
        a |= A_DIM;
    return a | color;
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
        int cw = ui_adv(cp, cols);
        if (cols + cw > maxcols)
            break;
        if (cp == '\t') {
            for (int k = 0; k < cw; k++)
                waddch(w, ' ');
        } else if (cp < 0x20 || cp == 0x7f || cp == 0xFFFD) {
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
