/*
 * ui_wrap.h - UTF-8 text measured and wrapped by display width.
 *
 * Terminal cells, not bytes or code points: CJK and emoji take two cells,
 * combining marks none, a tab runs to the next stop (every UI_TAB cells,
 * counted from where the measured text starts). Widths come from wcwidth(),
 * so the caller must have set an UTF-8 LC_CTYPE (setlocale) first; code
 * points the C library does not know yet (newer emoji, CJK extensions)
 * get their East Asian width from the Unicode blocks they sit in; invalid
 * bytes count as one cell each (they are drawn as U+FFFD).
 */
#ifndef CHORD_UI_WRAP_H
#define CHORD_UI_WRAP_H

#include <stddef.h>
#include <stdint.h>

/* One wrapped line: bytes [start, end) of the text, cols cells wide. The
 * newline or the space a line was broken at belongs to no line. */
typedef struct ui_line {
    size_t start, end;
    int cols;
} ui_line;

/* Decodes the code point at s (len > 0 bytes); returns the bytes it takes
 * (1 for an invalid or truncated sequence, which yields U+FFFD). */
size_t ui_utf8_next(const char *s, size_t len, uint32_t *cp);

/* Cells one code point takes: 0 (combining, zero-width), 1 or 2; control
 * characters count 1 (they are drawn as a replacement glyph). */
int ui_cp_width(uint32_t cp);

#define UI_TAB 8

/* Cells code point cp takes when it starts at column col (only a tab's
 * width depends on where it starts). */
int ui_adv(uint32_t cp, int col);

/* Cells a whole string takes (no wrapping; newlines count as controls). */
int ui_text_width(const char *s, size_t len);

/* Wraps text into lines of at most width cells (width >= 2): breaks at
 * '\n', else after the last space or tab that fits (tab stops count from
 * each line's start), else between characters (a
 * wide character never splits; zero-width marks stay with their base).
 * Writes up to max lines to out (out may be NULL when max is 0) and returns
 * how many lines the whole text needs (at least 1, even for ""). */
int ui_wrap(const char *s, size_t len, int width, ui_line *out, int max);

/* Cuts s to at most width cells on a character boundary; returns the byte
 * length that fits. */
size_t ui_fit(const char *s, size_t len, int width);

#endif
