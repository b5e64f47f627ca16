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

int ui_cp_width(uint32_t cp)
{
    int w = wcwidth((wchar_t)cp);
    if (w < 0)
        return 1;
    return w > 2 ? 2 : w;
}

int ui_text_width(const char *s, size_t len)
{
    int w = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += ui_utf8_next(s + i, len - i, &cp);
        w += ui_cp_width(cp);
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
        int cw = ui_cp_width(cp);
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
        int cw = ui_cp_width(cp);
        if (cols + cw > width && cw > 0) {
            if (cp == ' ') {
                /* a space at the edge ends the line and is dropped */
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
        if (cp == ' ') {
            sp = i;
            sp_cols = cols;
        }
        cols += cw;
        i += nb;
    }
    put_line(out, max, n++, start, len, cols);
    return n;
}
