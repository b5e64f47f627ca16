/*
 * ui_md.c - Markdown to styled display lines through md4c (see ui_md.h).
 *
 * md4c calls back as it walks the document: blocks open and close, spans
 * open and close, text arrives. Inline text collects into one buffer with
 * runs of flags until its block ends; then it is wrapped by display width
 * (ui_wrap) and each wrapped line is written under the prefixes of the
 * containers it sits in (a quote's bar, a list item's marker on its first
 * line and blanks of the marker's width after). Code blocks and tables are
 * gathered whole and laid out when they close: they are never wrapped, only
 * cut at the edge with a marker.
 *
 * Lists are always drawn tight (no blank line between items) so that a
 * list that turns loose as a reply streams on does not move the lines
 * above it; indented code blocks and raw HTML are off (an indented line of
 * prose or a <tag> in a reply is text, not code or markup).
 */
#include "ui_md.h"

#include <md4c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_wrap.h"

#define MD_FLAGS (MD_FLAG_TABLES | MD_FLAG_STRIKETHROUGH | MD_FLAG_TASKLISTS | MD_FLAG_PERMISSIVEURLAUTOLINKS | \
                  MD_FLAG_PERMISSIVEWWWAUTOLINKS | MD_FLAG_NOHTML | MD_FLAG_NOINDENTEDCODEBLOCKS)
#define MAX_NEST 32
#define MAX_LINKS 8
#define TAB 8

/* ------------------------------------------------------------------------
 * Growable buffers
 * ---------------------------------------------------------------------- */

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *t = realloc(*p, c * elem);
    if (!t)
        return false;
    *p = t;
    *cap = c;
    return true;
}

/* Inline text with runs of flags (a paragraph, a heading, a cell). */
typedef struct run {
    size_t off, len;
    uint32_t fl;
} run;

typedef struct ibuf {
    char *t;
    size_t len, cap;
    run *r;
    size_t n, cap_r;
} ibuf;

/* Appends text with flags fl; merge: into the last run when it has the
 * same flags. */
static bool ib_put(ibuf *b, const char *s, size_t n, uint32_t fl, bool merge)
{
    if (!n)
        return true;
    if (!grow((void **)&b->t, &b->cap, b->len + n + 1, 1))
        return false;
    memcpy(b->t + b->len, s, n);
    if (merge && b->n && b->r[b->n - 1].fl == fl && b->r[b->n - 1].off + b->r[b->n - 1].len == b->len) {
        b->r[b->n - 1].len += n;
    } else {
        if (!grow((void **)&b->r, &b->cap_r, b->n + 1, sizeof *b->r))
            return false;
        b->r[b->n++] = (run){b->len, n, fl};
    }
    b->len += n;
    b->t[b->len] = 0;
    return true;
}

static bool ib_add(ibuf *b, const char *s, size_t n, uint32_t fl)
{
    return ib_put(b, s, n, fl, true);
}

static void ib_free(ibuf *b)
{
    free(b->t);
    free(b->r);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------------
 * The renderer's state
 * ---------------------------------------------------------------------- */

enum { C_QUOTE, C_LI };

typedef struct cont {
    uint8_t type;
    bool used;             /* the item's marker has been drawn */
    char mark[32];
    int mark_cols;
} cont;

typedef struct list {
    bool ordered;
    unsigned next;
    char delim;
} list;

typedef struct cell {
    size_t r0, nr;         /* its runs in the table buffer */
    int row, cols;
    uint8_t align;
    bool head;
} cell;

typedef struct st {
    ui_md_doc *d;
    const ui_md_opts *o;
    int width;
    bool oom;

    cont cs[MAX_NEST];
    int nc, c_skip;        /* c_skip: containers too deep to draw */
    list ls[MAX_NEST];
    int nl, l_skip;
    bool gap;              /* a blank line before the next block */

    int span_cnt[6];       /* open spans per flag bit */
    uint32_t base_fl;      /* the block's own flags (headings) */
    ibuf ib;
    bool ib_open;
    struct { char *href; size_t start; } links[MAX_LINKS];
    int nlinks, link_skip;

    bool in_code;
    char lang[64];
    ibuf code;

    bool in_table, in_head;
    uint8_t align;
    int row;
    ibuf tb;
    cell *cells;
    size_t ncells, cap_cells;

    /* the line being written */
    size_t line_span0;
    int cols, content_col0;
} st;

static uint32_t cur_fl(const st *s)
{
    uint32_t fl = s->base_fl;
    for (int i = 0; i < 6; i++)
        if (s->span_cnt[i] > 0)
            fl |= 1u << i;
    return fl;
}

static const char *g(const st *s, const char *u, const char *a)
{
    return s->o->utf8 ? u : a;
}

/* ------------------------------------------------------------------------
 * Writing lines
 * ---------------------------------------------------------------------- */

static void line_begin(st *s)
{
    s->line_span0 = s->d->n_spans;
    s->cols = 0;
    s->content_col0 = 0;
}

/* Appends raw bytes (no tabs) as a span of the current line. */
static void put_raw(st *s, const char *p, size_t n, uint32_t fl, int cols)
{
    ui_md_doc *d = s->d;
    if (!n || s->oom)
        return;
    if (!grow((void **)&d->buf, &d->cap, d->len + n, 1)) {
        s->oom = true;
        return;
    }
    memcpy(d->buf + d->len, p, n);
    ui_md_span *last = d->n_spans > s->line_span0 ? &d->spans[d->n_spans - 1] : NULL;
    if (last && last->fl == fl && last->off + last->len == d->len) {
        last->len += (uint32_t)n;
    } else {
        if (!grow((void **)&d->spans, &d->cap_spans, d->n_spans + 1, sizeof *d->spans)) {
            s->oom = true;
            return;
        }
        d->spans[d->n_spans++] = (ui_md_span){(uint32_t)d->len, (uint32_t)n, fl};
    }
    d->len += n;
    s->cols += cols;
}

/* Appends text, tabs expanded to stops counted from the content's start. */
static void put(st *s, const char *p, size_t n, uint32_t fl)
{
    size_t a = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '\t')
            continue;
        put_raw(s, p + a, i - a, fl, ui_text_width(p + a, i - a));
        if (i < n) {
            int k = TAB - (s->cols - s->content_col0) % TAB;
            put_raw(s, "        ", (size_t)k, fl, k);
        }
        a = i + 1;
    }
}

static void puts_fl(st *s, const char *p, uint32_t fl)
{
    put(s, p, strlen(p), fl);
}

static void put_rep(st *s, const char *glyph, int n, uint32_t fl)
{
    for (int i = 0; i < n; i++)
        puts_fl(s, glyph, fl);
}

static void line_end(st *s)
{
    ui_md_doc *d = s->d;
    if (s->oom)
        return;
    if (!grow((void **)&d->lines, &d->cap_lines, (size_t)d->n_lines + 1, sizeof *d->lines)) {
        s->oom = true;
        return;
    }
    d->lines[d->n_lines++] =
        (ui_md_line){(uint32_t)s->line_span0, (uint32_t)(d->n_spans - s->line_span0), s->cols};
}

/* Cuts the current line's spans from span index s0 (which start at column
 * c0) to at most max cells: one cell less of text and the cut marker. */
static void cut(st *s, size_t s0, int c0, int max)
{
    ui_md_doc *d = s->d;
    if (s->oom || s->cols - c0 <= max)
        return;
    int limit = max - 1, c = 0;
    size_t i = s0;
    for (; i < d->n_spans; i++) {
        ui_md_span *sp = &d->spans[i];
        int w = ui_text_width(d->buf + sp->off, sp->len);
        if (c + w <= limit) {
            c += w;
            continue;
        }
        size_t fit = ui_fit(d->buf + sp->off, sp->len, limit - c);
        c += ui_text_width(d->buf + sp->off, fit);
        sp->len = (uint32_t)fit;
        if (fit)
            i++;
        break;
    }
    d->n_spans = i;
    d->len = i > s->line_span0 ? d->spans[i - 1].off + d->spans[i - 1].len : d->len;
    s->cols = c0 + c;
    put_rep(s, " ", limit - c, 0);
    puts_fl(s, g(s, "\xe2\x86\x92", ">"), UI_MD_CUT);
}

/* The containers' prefixes; blank: a line with no text (a gap), which
 * does not use up an item's marker and ends at the last quote's bar. */
static void put_prefix(st *s, bool blank)
{
    int end = s->nc;
    if (blank)
        while (end > 0 && s->cs[end - 1].type != C_QUOTE)
            end--;
    for (int i = 0; i < end; i++) {
        cont *c = &s->cs[i];
        if (c->type == C_QUOTE) {
            puts_fl(s, blank && i == end - 1 ? g(s, "\xe2\x94\x82", "|") : g(s, "\xe2\x94\x82 ", "| "),
                    UI_MD_QUOTE);
        } else if (!c->used && !blank) {
            puts_fl(s, c->mark, UI_MD_BULLET);
            c->used = true;
        } else {
            put_rep(s, " ", c->mark_cols, 0);
        }
    }
    s->content_col0 = s->cols;
}

static int prefix_cols(const st *s)
{
    int w = 0;
    for (int i = 0; i < s->nc; i++)
        w += s->cs[i].type == C_QUOTE ? 2 : s->cs[i].mark_cols;
    return w;
}

/* Cells left for a block's text under the current containers. */
static int avail(const st *s)
{
    int a = s->width - prefix_cols(s);
    return a < 4 ? 4 : a;
}

static bool in_item(const st *s)
{
    return s->nc > 0 && s->cs[s->nc - 1].type == C_LI;
}

static void gap_now(st *s)
{
    if (s->gap && s->d->n_lines > 0) {
        line_begin(s);
        put_prefix(s, true);
        line_end(s);
    }
    s->gap = false;
}

/* After a block: blocks get a blank line between them, except inside a
 * list item (lists are drawn tight). */
static void after_block(st *s)
{
    s->gap = !in_item(s);
}

/* Writes the pending inline text as wrapped lines. */
static void flush_para(st *s)
{
    if (!s->ib_open)
        return;
    s->ib_open = false;
    ibuf *b = &s->ib;
    if (b->len && !s->oom) {
        int w = avail(s);
        int n = ui_wrap(b->t, b->len, w, NULL, 0);
        ui_line *L = malloc((size_t)n * sizeof *L);
        if (!L) {
            s->oom = true;
        } else {
            ui_wrap(b->t, b->len, w, L, n);
            size_t ri = 0;
            for (int k = 0; k < n; k++) {
                line_begin(s);
                put_prefix(s, false);
                while (ri < b->n && b->r[ri].off + b->r[ri].len <= L[k].start)
                    ri++;
                for (size_t j = ri; j < b->n && b->r[j].off < L[k].end; j++) {
                    size_t a = b->r[j].off > L[k].start ? b->r[j].off : L[k].start;
                    size_t e = b->r[j].off + b->r[j].len < L[k].end ? b->r[j].off + b->r[j].len : L[k].end;
                    if (e > a)
                        put(s, b->t + a, e - a, b->r[j].fl);
                }
                line_end(s);
            }
            free(L);
        }
    }
    b->len = 0;
    b->n = 0;
}

/* ------------------------------------------------------------------------
 * Code blocks
 * ---------------------------------------------------------------------- */

static void code_frame(st *s)
{
    int fw = avail(s);
    if (fw < 8)
        fw = 8;
    int inner = fw - 4;
    const char *h = g(s, "\xe2\x94\x80", "-");
    char num[32] = "";
    int idx = s->d->n_codes++;
    if (s->o->code_base > 0)
        snprintf(num, sizeof num, " /code %d ", s->o->code_base + idx);
    int lw = s->lang[0] ? ui_text_width(s->lang, strlen(s->lang)) + 2 : 0;
    int nw = (int)strlen(num);
    if (4 + lw + nw + 1 > fw)
        nw = 0;
    if (4 + lw + 1 > fw)
        lw = 0;

    /* top: ┌─ lang ───── /code N ─┐ */
    line_begin(s);
    put_prefix(s, false);
    puts_fl(s, g(s, "\xe2\x94\x8c", "+"), UI_MD_FRAME);
    puts_fl(s, h, UI_MD_FRAME);
    if (lw) {
        puts_fl(s, " ", UI_MD_FRAME);
        puts_fl(s, s->lang, UI_MD_LABEL);
        puts_fl(s, " ", UI_MD_FRAME);
    }
    put_rep(s, h, fw - 4 - lw - nw, UI_MD_FRAME);
    if (nw)
        puts_fl(s, num, UI_MD_LABEL);
    puts_fl(s, h, UI_MD_FRAME);
    puts_fl(s, g(s, "\xe2\x94\x90", "+"), UI_MD_FRAME);
    line_end(s);

    /* body: each line cut at the frame, never wrapped */
    const char *t = s->code.t ? s->code.t : "";
    size_t len = s->code.len;
    if (len && t[len - 1] == '\n')
        len--;
    const char *v = g(s, "\xe2\x94\x82", "|");
    for (size_t a = 0; a <= len;) {
        const char *nl = memchr(t + a, '\n', len - a);
        size_t e = nl ? (size_t)(nl - t) : len;
        line_begin(s);
        put_prefix(s, false);
        puts_fl(s, v, UI_MD_FRAME);
        puts_fl(s, " ", UI_MD_FRAME);
        s->content_col0 = s->cols;
        int c0 = s->cols;
        size_t s0 = s->d->n_spans;
        put(s, t + a, e - a, UI_MD_PRE);
        cut(s, s0, c0, inner);
        put_rep(s, " ", inner - (s->cols - c0), 0);
        puts_fl(s, " ", UI_MD_FRAME);
        puts_fl(s, v, UI_MD_FRAME);
        line_end(s);
        a = e + 1;
        if (!nl)
            break;
    }

    line_begin(s);
    put_prefix(s, false);
    puts_fl(s, g(s, "\xe2\x94\x94", "+"), UI_MD_FRAME);
    put_rep(s, h, fw - 2, UI_MD_FRAME);
    puts_fl(s, g(s, "\xe2\x94\x98", "+"), UI_MD_FRAME);
    line_end(s);
}

/* ------------------------------------------------------------------------
 * Tables
 * ---------------------------------------------------------------------- */

static void table_cell_end(st *s, bool head)
{
    s->ib_open = false;
    if (!grow((void **)&s->cells, &s->cap_cells, s->ncells + 1, sizeof *s->cells)) {
        s->oom = true;
        return;
    }
    cell *c = &s->cells[s->ncells++];
    c->r0 = s->tb.n;
    c->row = s->row;
    c->align = s->align;
    c->head = head;
    c->cols = ui_text_width(s->ib.t ? s->ib.t : "", s->ib.len);
    /* runs never merge across cells */
    for (size_t i = 0; i < s->ib.n; i++)
        if (!ib_put(&s->tb, s->ib.t + s->ib.r[i].off, s->ib.r[i].len, s->ib.r[i].fl, i > 0))
            s->oom = true;
    c->nr = s->tb.n - c->r0;
    s->ib.len = 0;
    s->ib.n = 0;
}

static void table_emit(st *s)
{
    int ncol = 0;
    for (size_t i = 0; i < s->ncells; i++) {
        int col = 0;
        for (size_t j = i; j > 0 && s->cells[j - 1].row == s->cells[i].row; j--)
            col++;
        if (col + 1 > ncol)
            ncol = col + 1;
    }
    if (!ncol)
        return;
    int *w = calloc((size_t)ncol, sizeof *w);
    if (!w) {
        s->oom = true;
        return;
    }
    for (size_t i = 0, col = 0; i < s->ncells; i++) {
        col = i > 0 && s->cells[i - 1].row == s->cells[i].row ? col + 1 : 0;
        if (s->cells[i].cols > w[col])
            w[col] = s->cells[i].cols;
    }
    int aw = avail(s);
    const char *sep = g(s, " \xe2\x94\x82 ", " | ");
    const char *h = g(s, "\xe2\x94\x80", "-");
    for (size_t i = 0; i < s->ncells;) {
        int row = s->cells[i].row;
        bool head = s->cells[i].head;
        line_begin(s);
        put_prefix(s, false);
        int c0 = s->cols;
        size_t s0 = s->d->n_spans;
        int col = 0;
        for (; i < s->ncells && s->cells[i].row == row; i++, col++) {
            const cell *c = &s->cells[i];
            if (col)
                puts_fl(s, sep, UI_MD_FRAME);
            int pad = w[col] - c->cols, pre = 0;
            if (!c->cols && col + 1 == ncol)
                pad = 0;    /* an empty last cell: no trailing blanks */
            if (c->align == MD_ALIGN_RIGHT)
                pre = pad;
            else if (c->align == MD_ALIGN_CENTER)
                pre = pad / 2;
            put_rep(s, " ", pre, 0);
            for (size_t r = c->r0; r < c->r0 + c->nr; r++) {
                const run *rr = &s->tb.r[r];
                put(s, s->tb.t + rr->off, rr->len, rr->fl | (c->head ? UI_MD_BOLD : 0));
            }
            /* the last column is not padded: no trailing blanks */
            if (col + 1 < ncol)
                put_rep(s, " ", pad - pre, 0);
        }
        /* a row with fewer cells still shows the separators */
        for (; col < ncol; col++) {
            puts_fl(s, sep, UI_MD_FRAME);
            if (col + 1 < ncol)
                put_rep(s, " ", w[col], 0);
        }
        cut(s, s0, c0, aw);
        line_end(s);
        if (head && (i >= s->ncells || !s->cells[i].head)) {
            line_begin(s);
            put_prefix(s, false);
            c0 = s->cols;
            s0 = s->d->n_spans;
            for (int k = 0; k < ncol; k++) {
                if (k)
                    puts_fl(s, g(s, "\xe2\x94\x80\xe2\x94\xbc\xe2\x94\x80", "-+-"), UI_MD_FRAME);
                put_rep(s, h, w[k], UI_MD_FRAME);
            }
            cut(s, s0, c0, aw);
            line_end(s);
        }
    }
    free(w);
}

/* ------------------------------------------------------------------------
 * md4c's callbacks
 * ---------------------------------------------------------------------- */

static void push_cont(st *s, uint8_t type, const char *mark)
{
    if (s->nc >= MAX_NEST) {
        s->c_skip++;
        return;
    }
    cont *c = &s->cs[s->nc++];
    c->type = type;
    c->used = false;
    snprintf(c->mark, sizeof c->mark, "%s", mark);
    c->mark_cols = ui_text_width(c->mark, strlen(c->mark));
}

static void pop_cont(st *s)
{
    if (s->c_skip)
        s->c_skip--;
    else if (s->nc)
        s->nc--;
}

static void item_mark(st *s, const MD_BLOCK_LI_DETAIL *li, char *out, size_t cap)
{
    list *l = s->nl ? &s->ls[s->nl - 1] : NULL;
    int n = 0;
    if (l && l->ordered) {
        n = snprintf(out, cap, "%u%c ", l->next++, l->delim);
    } else {
        int depth = 0;
        for (int i = 0; i < s->nl; i++)
            depth += !s->ls[i].ordered;
        static const char *const u[] = {"\xe2\x80\xa2 ", "\xe2\x97\xa6 ", "\xe2\x96\xaa "};
        static const char *const a[] = {"* ", "- ", "+ "};
        int k = depth > 0 ? (depth - 1) % 3 : 0;
        n = snprintf(out, cap, "%s", s->o->utf8 ? u[k] : a[k]);
    }
    if (li && li->is_task && n >= 0 && (size_t)n < cap) {
        bool done = li->task_mark != ' ';
        snprintf(out + n, cap - (size_t)n, "%s",
                 done ? g(s, "\xe2\x98\x92 ", "[x] ") : g(s, "\xe2\x98\x90 ", "[ ] "));
    }
}

static int enter_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
    st *s = ud;
    if (s->in_table) {
        if (type == MD_BLOCK_THEAD)
            s->in_head = true;
        if (type == MD_BLOCK_TH || type == MD_BLOCK_TD) {
            s->ib_open = true;
            s->ib.len = s->ib.n = 0;
            s->align = (uint8_t)((MD_BLOCK_TD_DETAIL *)detail)->align;
        }
        return s->oom;
    }
    if (type != MD_BLOCK_DOC && type != MD_BLOCK_LI)
        flush_para(s);
    switch (type) {
    case MD_BLOCK_QUOTE:
        gap_now(s);
        push_cont(s, C_QUOTE, "");
        break;
    case MD_BLOCK_UL:
    case MD_BLOCK_OL:
        gap_now(s);
        if (s->nl >= MAX_NEST) {
            s->l_skip++;
            break;
        }
        if (type == MD_BLOCK_OL) {
            MD_BLOCK_OL_DETAIL *o = detail;
            s->ls[s->nl++] = (list){true, o->start, o->mark_delimiter ? o->mark_delimiter : '.'};
        } else {
            s->ls[s->nl++] = (list){false, 0, 0};
        }
        break;
    case MD_BLOCK_LI: {
        flush_para(s);
        char mark[32];
        item_mark(s, detail, mark, sizeof mark);
        push_cont(s, C_LI, mark);
        s->ib_open = true;   /* a tight list's text comes without a paragraph */
        break;
    }
    case MD_BLOCK_HR:
        gap_now(s);
        line_begin(s);
        put_prefix(s, false);
        put_rep(s, g(s, "\xe2\x94\x80", "-"), avail(s), UI_MD_FRAME);
        line_end(s);
        break;
    case MD_BLOCK_H: {
        gap_now(s);
        unsigned lv = ((MD_BLOCK_H_DETAIL *)detail)->level;
        s->base_fl = lv == 1 ? UI_MD_H1 : lv == 2 ? UI_MD_H2 : UI_MD_H3;
        s->ib_open = true;
        break;
    }
    case MD_BLOCK_CODE: {
        gap_now(s);
        MD_BLOCK_CODE_DETAIL *c = detail;
        size_t n = c->lang.size < sizeof s->lang - 1 ? c->lang.size : sizeof s->lang - 1;
        n = ui_fit(c->lang.text ? c->lang.text : "", n, 24);
        memcpy(s->lang, c->lang.text ? c->lang.text : "", n);
        s->lang[n] = 0;
        s->in_code = true;
        s->code.len = s->code.n = 0;
        break;
    }
    case MD_BLOCK_P:
    case MD_BLOCK_HTML:
        gap_now(s);
        s->ib_open = true;
        break;
    case MD_BLOCK_TABLE:
        gap_now(s);
        s->in_table = true;
        s->in_head = false;
        s->row = 0;
        s->ncells = 0;
        s->tb.len = s->tb.n = 0;
        break;
    default:
        break;
    }
    return s->oom;
}

static int leave_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
    st *s = ud;
    (void)detail;
    if (s->in_table) {
        switch (type) {
        case MD_BLOCK_THEAD: s->in_head = false; break;
        case MD_BLOCK_TR: s->row++; break;
        case MD_BLOCK_TH:
        case MD_BLOCK_TD: table_cell_end(s, s->in_head); break;
        case MD_BLOCK_TABLE:
            s->in_table = false;
            table_emit(s);
            after_block(s);
            break;
        default: break;
        }
        return s->oom;
    }
    switch (type) {
    case MD_BLOCK_QUOTE:
        flush_para(s);
        pop_cont(s);
        after_block(s);
        break;
    case MD_BLOCK_UL:
    case MD_BLOCK_OL:
        flush_para(s);
        if (s->l_skip)
            s->l_skip--;
        else if (s->nl)
            s->nl--;
        after_block(s);
        break;
    case MD_BLOCK_LI:
        flush_para(s);
        /* an empty item still shows its marker */
        if (!s->c_skip && s->nc && !s->cs[s->nc - 1].used) {
            line_begin(s);
            put_prefix(s, false);
            line_end(s);
        }
        pop_cont(s);
        s->gap = false;
        break;
    case MD_BLOCK_HR:
        after_block(s);
        break;
    case MD_BLOCK_H:
        flush_para(s);
        s->base_fl = 0;
        after_block(s);
        break;
    case MD_BLOCK_CODE:
        s->in_code = false;
        code_frame(s);
        after_block(s);
        break;
    case MD_BLOCK_P:
    case MD_BLOCK_HTML:
        flush_para(s);
        after_block(s);
        break;
    default:
        break;
    }
    return s->oom;
}

static int span_bit(MD_SPANTYPE type)
{
    switch (type) {
    case MD_SPAN_EM: return 1;
    case MD_SPAN_STRONG: return 0;
    case MD_SPAN_CODE: return 2;
    case MD_SPAN_DEL: return 3;
    case MD_SPAN_A:
    case MD_SPAN_IMG:
    case MD_SPAN_WIKILINK: return 4;
    case MD_SPAN_U: return 1;
    default: return -1;
    }
}

static int enter_span(MD_SPANTYPE type, void *detail, void *ud)
{
    st *s = ud;
    int b = span_bit(type);
    if (b >= 0)
        s->span_cnt[b]++;
    if (type == MD_SPAN_A || type == MD_SPAN_IMG) {
        if (s->nlinks >= MAX_LINKS) {
            s->link_skip++;
            return 0;
        }
        const MD_ATTRIBUTE *at = type == MD_SPAN_A ? &((MD_SPAN_A_DETAIL *)detail)->href
                                                   : &((MD_SPAN_IMG_DETAIL *)detail)->src;
        char *h = malloc(at->size + 1);
        if (!h)
            return s->oom = true;
        memcpy(h, at->text, at->size);
        h[at->size] = 0;
        s->links[s->nlinks].href = h;
        s->links[s->nlinks].start = s->ib.len;
        s->nlinks++;
    }
    return 0;
}

static bool ends_with(const char *s, size_t n, const char *t, size_t tn)
{
    return n >= tn && memcmp(s + n - tn, t, tn) == 0;
}

static int leave_span(MD_SPANTYPE type, void *detail, void *ud)
{
    st *s = ud;
    (void)detail;
    int b = span_bit(type);
    if (b >= 0 && s->span_cnt[b] > 0)
        s->span_cnt[b]--;
    if ((type == MD_SPAN_A || type == MD_SPAN_IMG)) {
        if (s->link_skip) {
            s->link_skip--;
            return 0;
        }
        if (!s->nlinks)
            return 0;
        s->nlinks--;
        char *h = s->links[s->nlinks].href;
        size_t st0 = s->links[s->nlinks].start, hn = strlen(h);
        const char *txt = s->ib.t ? s->ib.t + st0 : "";
        size_t tn = s->ib.len - st0;
        /* an autolink's text is its URL already (www.x for http://www.x) */
        bool same = tn > 0 && ends_with(h, hn, txt, tn) &&
                    (hn == tn || !strncmp(h, "http://", hn - tn) || !strncmp(h, "https://", hn - tn) ||
                     !strncmp(h, "mailto:", hn - tn));
        if (hn && !same && s->ib_open) {
            uint32_t fl = cur_fl(s) | UI_MD_URL;
            if (!ib_add(&s->ib, " <", 2, fl) || !ib_add(&s->ib, h, hn, fl) || !ib_add(&s->ib, ">", 1, fl))
                s->oom = true;
        }
        free(h);
    }
    return s->oom;
}

/* Appends an entity's character (&amp; &#233; &#x1F600;), or its text. */
static bool add_entity(st *s, const char *t, size_t n, uint32_t fl)
{
    static const struct { const char *name, *utf8; } named[] = {
        {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"},
        {"&nbsp;", "\xc2\xa0"}, {"&copy;", "\xc2\xa9"}, {"&mdash;", "\xe2\x80\x94"},
        {"&ndash;", "\xe2\x80\x93"}, {"&hellip;", "\xe2\x80\xa6"},
    };
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strlen(named[i].name) == n && !memcmp(named[i].name, t, n))
            return ib_add(&s->ib, named[i].utf8, strlen(named[i].utf8), fl);
    if (n > 3 && t[1] == '#') {
        unsigned long cp = (t[2] == 'x' || t[2] == 'X') ? strtoul(t + 3, NULL, 16) : strtoul(t + 2, NULL, 10);
        char u[4];
        size_t k = 0;
        if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            cp = 0xFFFD;
        if (cp < 0x80) {
            u[k++] = (char)cp;
        } else if (cp < 0x800) {
            u[k++] = (char)(0xC0 | (cp >> 6));
            u[k++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            u[k++] = (char)(0xE0 | (cp >> 12));
            u[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            u[k++] = (char)(0x80 | (cp & 0x3F));
        } else {
            u[k++] = (char)(0xF0 | (cp >> 18));
            u[k++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            u[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            u[k++] = (char)(0x80 | (cp & 0x3F));
        }
        return ib_add(&s->ib, u, k, fl);
    }
    return ib_add(&s->ib, t, n, fl);
}

static int text(MD_TEXTTYPE type, const MD_CHAR *t, MD_SIZE n, void *ud)
{
    st *s = ud;
    bool ok = true;
    if (s->in_code) {
        if (type == MD_TEXT_NULLCHAR)
            ok = ib_add(&s->code, "\xef\xbf\xbd", 3, 0);
        else
            ok = ib_add(&s->code, t, n, 0);
        s->oom |= !ok;
        return s->oom;
    }
    s->ib_open = true;
    uint32_t fl = cur_fl(s);
    switch (type) {
    case MD_TEXT_NULLCHAR: ok = ib_add(&s->ib, "\xef\xbf\xbd", 3, fl); break;
    case MD_TEXT_BR: ok = ib_add(&s->ib, s->in_table ? " " : "\n", 1, fl); break;
    case MD_TEXT_SOFTBR: ok = ib_add(&s->ib, " ", 1, fl); break;
    case MD_TEXT_ENTITY: ok = add_entity(s, t, n, fl); break;
    default:
        if (s->in_table) {
            /* a cell is one line: tabs and newlines would break the columns */
            for (MD_SIZE i = 0; ok && i < n; i++)
                ok = ib_add(&s->ib, (t[i] == '\t' || t[i] == '\n') ? " " : t + i, 1, fl);
        } else {
            ok = ib_add(&s->ib, t, n, fl);
        }
        break;
    }
    s->oom |= !ok;
    return s->oom;
}

/* ------------------------------------------------------------------------
 * The API
 * ---------------------------------------------------------------------- */

int ui_md_render(ui_md_doc *d, const char *src, size_t len, const ui_md_opts *o)
{
    d->len = 0;
    d->n_spans = 0;
    d->n_lines = 0;
    d->n_codes = 0;
    st s;
    memset(&s, 0, sizeof s);
    s.d = d;
    s.o = o;
    s.width = o->width < 8 ? 8 : o->width;
    MD_PARSER p = {0};
    p.flags = MD_FLAGS;
    p.enter_block = enter_block;
    p.leave_block = leave_block;
    p.enter_span = enter_span;
    p.leave_span = leave_span;
    p.text = text;
    int r = len ? md_parse(src, (MD_SIZE)len, &p, &s) : 0;
    flush_para(&s);
    for (int i = 0; i < s.nlinks; i++)
        free(s.links[i].href);
    ib_free(&s.ib);
    ib_free(&s.code);
    ib_free(&s.tb);
    free(s.cells);
    if (r != 0 || s.oom) {
        d->len = d->n_spans = 0;
        d->n_lines = d->n_codes = 0;
        return -1;
    }
    return 0;
}

void ui_md_free(ui_md_doc *d)
{
    free(d->buf);
    free(d->spans);
    free(d->lines);
    memset(d, 0, sizeof *d);
}

/* A fence line: up to any indent and quote marks, then 3+ ` or ~. Returns
 * its length and sets *ch, else 0. */
static size_t fence(const char *s, size_t n, char *ch, bool *top, bool *rest_blank, size_t *pos)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '>' || s[i] == '\t'))
        i++;
    *top = i == 0;
    if (i >= n || (s[i] != '`' && s[i] != '~'))
        return 0;
    size_t k = 0;
    while (i + k < n && s[i + k] == s[i])
        k++;
    if (k < 3)
        return 0;
    *ch = s[i];
    *pos = i;
    size_t j = i + k;
    while (j < n && (s[j] == ' ' || s[j] == '\t'))
        j++;
    *rest_blank = j == n;
    return k;
}

size_t ui_md_stable_len(const char *s, size_t len)
{
    size_t stable = 0;
    char fch = 0;
    size_t flen = 0;
    for (size_t a = 0; a < len;) {
        const char *nl = memchr(s + a, '\n', len - a);
        if (!nl)
            break;   /* the last line is still being written */
        size_t e = (size_t)(nl - s), n = e - a;
        const char *l = s + a;
        char ch;
        bool top = false, rest_blank = false;
        size_t fpos = 0;
        size_t k = fence(l, n, &ch, &top, &rest_blank, &fpos);
        if (flen) {
            if (k >= flen && ch == fch && rest_blank) {
                flen = 0;
                if (top)
                    stable = e + 1;
            }
        } else if (k && !(ch == '`' && memchr(l + fpos + k, '`', n - fpos - k))) {
            /* an opening fence (a backtick fence's info has no backtick) */
            fch = ch;
            flen = k;
        } else {
            size_t i = 0;
            while (i < n && (l[i] == ' ' || l[i] == '\t' || l[i] == '\r'))
                i++;
            if (i == n) {
                stable = e + 1;
            } else if (l[0] == '#') {
                size_t h = 0;
                while (h < n && l[h] == '#')
                    h++;
                if (h <= 6 && (h == n || l[h] == ' '))
                    stable = e + 1;
            }
        }
        a = e + 1;
    }
    return stable;
}

/* ------------------------------------------------------------------------
 * Code blocks alone
 * ---------------------------------------------------------------------- */

typedef struct cst {
    ui_md_code *v;
    size_t n, cap;
    bool in;
    char *lang;
    ibuf b;
    bool oom;
} cst;

static int c_enter(MD_BLOCKTYPE type, void *detail, void *ud)
{
    cst *c = ud;
    if (type != MD_BLOCK_CODE)
        return 0;
    MD_BLOCK_CODE_DETAIL *d = detail;
    c->in = true;
    c->b.len = c->b.n = 0;
    c->lang = malloc(d->lang.size + 1);
    if (!c->lang)
        return c->oom = true;
    memcpy(c->lang, d->lang.text ? d->lang.text : "", d->lang.size);
    c->lang[d->lang.size] = 0;
    return 0;
}

static int c_leave(MD_BLOCKTYPE type, void *detail, void *ud)
{
    cst *c = ud;
    (void)detail;
    if (type != MD_BLOCK_CODE || !c->in)
        return 0;
    c->in = false;
    /* tabs expanded, so the viewer can count columns as cells */
    ibuf out = {0};
    int col = 0;
    size_t n = c->b.len;
    if (n && c->b.t[n - 1] == '\n')
        n--;
    bool ok = true;
    for (size_t i = 0; ok && i < n;) {
        uint32_t cp;
        size_t k = ui_utf8_next(c->b.t + i, n - i, &cp);
        if (cp == '\t') {
            int w = TAB - col % TAB;
            ok = ib_add(&out, "        ", (size_t)w, 0);
            col += w;
        } else {
            ok = ib_add(&out, c->b.t + i, k, 0);
            col = cp == '\n' ? 0 : col + ui_cp_width(cp);
        }
        i += k;
    }
    if (ok && !out.t && (out.t = malloc(1)) != NULL)
        out.t[0] = 0;
    ok = ok && out.t;
    if (!ok || !grow((void **)&c->v, &c->cap, c->n + 1, sizeof *c->v)) {
        ib_free(&out);
        free(c->lang);
        c->lang = NULL;
        return c->oom = true;
    }
    c->v[c->n++] = (ui_md_code){c->lang, out.t, out.len};
    c->lang = NULL;
    free(out.r);
    return 0;
}

static int c_span(MD_SPANTYPE type, void *detail, void *ud)
{
    (void)type, (void)detail, (void)ud;
    return 0;
}

static int c_text(MD_TEXTTYPE type, const MD_CHAR *t, MD_SIZE n, void *ud)
{
    cst *c = ud;
    (void)type;
    if (c->in && !ib_add(&c->b, t, n, 0))
        return c->oom = true;
    return 0;
}

int ui_md_codes(const char *text, size_t len, ui_md_code **out)
{
    cst c;
    memset(&c, 0, sizeof c);
    MD_PARSER p = {0};
    p.flags = MD_FLAGS;
    p.enter_block = c_enter;
    p.leave_block = c_leave;
    p.enter_span = c_span;
    p.leave_span = c_span;
    p.text = c_text;
    int r = len ? md_parse(text, (MD_SIZE)len, &p, &c) : 0;
    free(c.lang);
    ib_free(&c.b);
    if (r || c.oom) {
        ui_md_codes_free(c.v, (int)c.n);
        *out = NULL;
        return -1;
    }
    *out = c.v;
    return (int)c.n;
}

void ui_md_codes_free(ui_md_code *v, int n)
{
    for (int i = 0; i < n; i++) {
        free(v[i].lang);
        free(v[i].text);
    }
    free(v);
}
