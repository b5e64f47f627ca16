/*
 * ui_md.h - a reply's Markdown turned into styled display lines.
 *
 * md4c (a CommonMark parser with GitHub's tables, strikethrough, task lists
 * and autolinks) reads the text; this module lays its blocks out for a
 * terminal of a given width: paragraphs wrapped by display width, lists
 * with hanging indents, block quotes under a bar, code blocks in a frame
 * with their language (long lines cut with a marker, never wrapped), tables
 * aligned to their columns (cut, not wrapped, when wider than the pane),
 * links followed by their URL. No curses here: a line is a list of spans,
 * each some UTF-8 bytes with UI_MD_* flags, and the caller maps the flags
 * to attributes (ui_md_attr in ui_draw.h). Output lines hold no tabs (they
 * are expanded to 8-column stops) and are at most width cells wide, unless
 * containers nest deeper than the width allows.
 *
 * Streaming: ui_md_stable_len() tells how much of a growing text is made of
 * finished blocks; rendering that prefix alone gives the same first lines
 * as rendering any longer text, so the caller renders (and caches) the
 * prefix and only the rest, the block still being written, changes.
 */
#ifndef CHORD_UI_MD_H
#define CHORD_UI_MD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    UI_MD_BOLD = 1u << 0,
    UI_MD_ITALIC = 1u << 1,
    UI_MD_CODE = 1u << 2,      /* inline code */
    UI_MD_STRIKE = 1u << 3,
    UI_MD_LINK = 1u << 4,      /* a link's text (or an image's alt text) */
    UI_MD_URL = 1u << 5,       /* a link's address, after its text */
    UI_MD_H1 = 1u << 6,        /* heading text, by level */
    UI_MD_H2 = 1u << 7,
    UI_MD_H3 = 1u << 8,        /* levels 3 to 6 */
    UI_MD_PRE = 1u << 9,       /* a code block's text */
    UI_MD_FRAME = 1u << 10,    /* code frames, table rules, horizontal rules */
    UI_MD_BULLET = 1u << 11,   /* list markers */
    UI_MD_QUOTE = 1u << 12,    /* a block quote's bar */
    UI_MD_CUT = 1u << 13,      /* the marker where a line was cut */
    UI_MD_LABEL = 1u << 14,    /* a code block's language and number */
};

/* Bytes buf[off, off + len) drawn with flags fl. */
typedef struct ui_md_span {
    uint32_t off, len;
    uint32_t fl;
} ui_md_span;

/* Spans [span0, span0 + n_spans) of the doc, cols cells wide in all. */
typedef struct ui_md_line {
    uint32_t span0, n_spans;
    int cols;
} ui_md_line;

typedef struct ui_md_doc {
    char *buf;
    size_t len, cap;
    ui_md_span *spans;
    size_t n_spans, cap_spans;
    ui_md_line *lines;
    int n_lines;
    size_t cap_lines;
    int n_codes;               /* code blocks in the text */
} ui_md_doc;

typedef struct ui_md_opts {
    int width;                 /* cells per line (at least 8 is sensible) */
    bool utf8;                 /* box-drawing glyphs; else ASCII */
    int code_base;             /* > 0: frames show "/code N", N from code_base */
} ui_md_opts;

/* Renders text into d (whose old lines are dropped; a zeroed doc is a
 * valid empty one). Returns 0, or -1 without memory (d is then empty). */
int ui_md_render(ui_md_doc *d, const char *text, size_t len, const ui_md_opts *o);
void ui_md_free(ui_md_doc *d);

/* The length of the longest prefix of text that ends after a finished
 * block: after the last blank line outside a code fence, or after a
 * closing fence or an ATX heading at the top level. What follows (the
 * block still growing, or an open fence) is the provisional part. */
size_t ui_md_stable_len(const char *text, size_t len);

/* A fenced or indented code block of a text: its language (may be "") and
 * its lines, tabs expanded, without the final newline. */
typedef struct ui_md_code {
    char *lang;
    char *text;
    size_t len;
} ui_md_code;

/* The code blocks of text in order into *out (free with ui_md_codes_free).
 * Returns their count, or -1 without memory. */
int ui_md_codes(const char *text, size_t len, ui_md_code **out);
void ui_md_codes_free(ui_md_code *v, int n);

#endif
