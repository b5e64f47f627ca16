/*
 * ui_wrap.c - display-width measuring and word wrap (see ui_wrap.h).
 */
#include "ui_wrap.h"

#include <wchar.h>

size_t ui_utf8_next(const char *str, size_t len, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2; v = c & 0x1F; min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3; v = c & 0x0F; min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4; v = c & 0x07; min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (n > len) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    /* overlong forms, surrogates and beyond U+10FFFF are not characters */
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = v;
    return n;
}

/* Blocks whose characters are all wide or all zero-width: the answer when
 * the C library's tables are older than the text (wcwidth says -1 for a
 * code point it does not know, and the terminal still draws it wide). */
static const struct { uint32_t lo, hi; int w; } blocks[] = {
    {0x0300, 0x036F, 0}, {0x1AB0, 0x1AFF, 0}, {0x1DC0, 0x1DFF, 0}, {0x200B, 0x200F, 0},
    {0x20D0, 0x20FF, 0}, {0xFE00, 0xFE0F, 0}, {0xFE20, 0xFE2F, 0}, {0xE0100, 0xE01EF, 0},
    {0x1100, 0x115F, 2}, {0x2E80, 0x303E, 2}, {0x3041, 0x33FF, 2}, {0x3400, 0x4DBF, 2},
    {0x4E00, 0x9FFF, 2}, {0xA000, 0xA4CF, 2}, {0xAC00, 0xD7A3, 2}, {0xF900, 0xFAFF, 2},
    {0xFE30, 0xFE4F, 2}, {0xFF00, 0xFF60, 2}, {0xFFE0, 0xFFE6, 2}, {0x1F300, 0x1F64F, 2},
    {0x1F680, 0x1F6FF, 2}, {0x1F900, 0x1F9FF, 2}, {0x1FA70, 0x1FAFF, 2}, {0x20000, 0x3FFFD, 2},
};

int ui_cp_width(uint32_t cp)
{
    int w = wcwidth((wchar_t)cp);
    if (w < 0 && cp >= 0xA0) {
        for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
            if (cp >= blocks[i].lo && cp <= blocks[i].hi)
                return blocks[i].w;
    }
    if (w < 0)
        return 1;
    return w > 2 ? 2 : w;
}

int ui_adv(uint32_t cp, int col)
{
    return cp == '\t' ? UI_TAB - col % UI_TAB : ui_cp_width(cp);
}

int ui_text_width(const char *s, size_t len)
{
    int w = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += ui_utf8_next(s + i, len - i, &cp);
        w += ui_adv(cp, w);
    }
    return w;
}

size_t ui_fit(const char *s, size_t len, int width)
{
    int w = 0;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = ui_utf8_next(s + i, len - i, &cp);
        int cw = ui_adv(cp, w);
        if (w + cw > width)
            break;
        w += cw;
        i += n;
    }
    return i;
}

static void put_line(ui_line *out, int max, int idx, size_t a, size_t b, int cols)
{
    if (idx < max) {
        out[idx].start = a;
        out[idx].end = b;
        out[idx].cols = cols;
    }
}

int ui_wrap(const char *s, size_t len, int width, ui_line *out, int max)
{
    if (width < 2)
        width = 2;
    int n = 0;
    size_t start = 0, i = 0;
    int cols = 0;
    /* the last space on the current line: where a word break can go */
    size_t sp = 0;
    int sp_cols = -1;
    while (i < len) {
        uint32_t cp;
        size_t nb = ui_utf8_next(s + i, len - i, &cp);
        if (cp == '\n') {
            put_line(out, max, n++, start, i, cols);
            i += nb;
            start = i;
            cols = 0;
            sp_cols = -1;
            continue;
        }
        int cw = ui_adv(cp, cols);
        if (cols + cw > width && cw > 0) {
            if (cp == ' ' || cp == '\t') {
                /* a space (or tab) at the edge ends the line and is dropped */
                put_line(out, max, n++, start, i, cols);
                i += nb;
                start = i;
                cols = 0;
                sp_cols = -1;
                continue;
            }
            if (sp_cols >= 0) {
                put_line(out, max, n++, start, sp, sp_cols);
                start = sp + 1;
                cols = ui_text_width(s + start, i - start);
            } else {
                put_line(out, max, n++, start, i, cols);
                start = i;
                cols = 0;
            }
            sp_cols = -1;
        }
        if (cp == ' ' || cp == '\t') {
            sp = i;
            sp_cols = cols;
        }
        cols += cw;
        i += nb;
    }
    put_line(out, max, n++, start, len, cols);
    return n;
}
