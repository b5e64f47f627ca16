/*
 * ui_chatview.c - the chat pane (see ui_chatview.h).
 *
 * Every frame lays the visible messages out afresh: plain text is wrapped
 * again (cheap for chat-sized text, and it makes resizing trivially right);
 * a reply's Markdown is rendered once per message, length and width and
 * kept, so a frame re-renders only the streaming reply's unfinished block.
 */
#include "ui_chatview.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui_wrap.h"

#define GUTTER 7

/* What a screen line shows of its message. */
enum { CV_TEXT, CV_THINK, CV_THOUGHT, CV_MD };

/* One screen line: which message, which part, which bytes. */
typedef struct cv_line {
    int msg;
    size_t a, b;
    bool first;       /* the message's first line: draw the role */
    uint8_t kind;     /* CV_TEXT: the answer; CV_THINK: the reasoning, whole;
                         CV_THOUGHT: the reasoning folded into one line;
                         CV_MD: line li of the rendered answer md */
    const ui_md_doc *md;
    int li;
} cv_line;

/* A message's rendered Markdown and what it was rendered from. The key is
 * cheap to check every frame: the text's address, length and its first and
 * last bytes (a resumed or new conversation reallocates the messages), the
 * width and the options. */
struct ui_cv_entry {
    bool valid;
    const char *ptr;
    size_t len;
    char head[8], tail[8];
    int width, code_base;
    bool utf8;
    ui_md_doc doc;
};

static void key_ends(const char *t, size_t len, char head[8], char tail[8])
{
    size_t k = len < 8 ? len : 8;
    memset(head, 0, 8);
    memset(tail, 0, 8);
    memcpy(head, t, k);
    memcpy(tail, t + len - k, k);
}

/* The rendered first len bytes of message i (cached), or NULL. */
static const ui_md_doc *md_of(ui_chatview *v, int i, const char *t, size_t len, const ui_md_opts *o)
{
    if (i >= v->n_cache) {
        int n = i + 16;
        ui_cv_entry *e = realloc(v->cache, (size_t)n * sizeof *e);
        if (!e)
            return NULL;
        memset(e + v->n_cache, 0, (size_t)(n - v->n_cache) * sizeof *e);
        v->cache = e;
        v->n_cache = n;
    }
    ui_cv_entry *e = &v->cache[i];
    char head[8], tail[8];
    key_ends(t, len, head, tail);
    if (e->valid && e->ptr == t && e->len == len && e->width == o->width && e->utf8 == o->utf8 &&
        e->code_base == o->code_base && !memcmp(e->head, head, 8) && !memcmp(e->tail, tail, 8))
        return &e->doc;
    e->valid = false;
    if (ui_md_render(&e->doc, t, len, o) != 0)
        return NULL;
    *e = (ui_cv_entry){true, t, len, {0}, {0}, o->width, o->code_base, o->utf8, e->doc};
    memcpy(e->head, head, 8);
    memcpy(e->tail, tail, 8);
    return &e->doc;
}

/* The folded reasoning's line: its size in words, and the key. */
static int thought_line(const ui_msg *m, char *buf, size_t cap)
{
    int words = 0;
    bool in = false;
    for (size_t i = 0; i < m->think_len; i++) {
        bool sp = strchr(" \t\r\n", m->think[i]) != NULL;
        words += !sp && !in;
        in = !sp;
    }
    return snprintf(buf, cap, "%s thought for %d word%s (F3 shows it)", ui_draw_utf8() ? "\xe2\x96\xb8" : ">",
                    words, words == 1 ? "" : "s");
}

/* Room for k more lines in v. */
static bool reserve(cv_line **v, int n, int *cap, int k)
{
    if (n + k + 3 <= *cap)
        return true;
    int c = *cap;
    while (n + k + 3 > c)
        c *= 2;
    cv_line *t = realloc(*v, (size_t)c * sizeof *t);
    if (!t)
        return false;
    *v = t;
    *cap = c;
    return true;
}

/* Wraps text into lines of kind at the end of v (grown as needed). */
static int add_lines(cv_line **v, int *n, int *cap, int msg, const char *text, size_t len, int width,
                     uint8_t kind, ui_line **last)
{
    int k = ui_wrap(text, len, width, NULL, 0);
    ui_line *L = malloc((size_t)k * sizeof *L);
    if (!L)
        return -1;
    ui_wrap(text, len, width, L, k);
    if (!reserve(v, *n, cap, k)) {
        free(L);
        return -1;
    }
    for (int j = 0; j < k; j++)
        (*v)[(*n)++] = (cv_line){msg, L[j].start, L[j].end, false, kind, NULL, 0};
    *last = L;
    return k;
}

static bool add_md(cv_line **v, int *n, int *cap, int msg, const ui_md_doc *d)
{
    if (!reserve(v, *n, cap, d->n_lines))
        return false;
    for (int j = 0; j < d->n_lines; j++)
        (*v)[(*n)++] = (cv_line){msg, 0, 0, false, CV_MD, d, j};
    return true;
}

/* Lays a reply's answer out as Markdown. A streaming reply is its finished
 * blocks (rendered once, cached) and then the block still being written,
 * rendered every frame on its own: the lines above it never move. Returns
 * the last line's width, or -1 to fall back to plain text. */
static int md_lines(ui_chatview *cv, const ui_chat *c, int i, int width, bool label, cv_line **v, int *n,
                    int *cap)
{
    const ui_msg *m = &c->msgs[i];
    bool streaming = c->gen && i == c->n_msgs - 1;
    ui_md_opts o = {width, ui_draw_utf8(), label ? 1 : 0};
    size_t sl = streaming ? ui_md_stable_len(m->text, m->len) : m->len;
    const ui_md_doc *d = md_of(cv, i, m->text, sl, &o);
    if (!d)
        return -1;
    int n0 = *n;
    if (!add_md(v, n, cap, i, d))
        return -1;
    if (sl < m->len) {
        o.code_base = label ? 1 + d->n_codes : 0;
        if (ui_md_render(&cv->tail, m->text + sl, m->len - sl, &o) != 0)
            return -1;
        if (d->n_lines && cv->tail.n_lines)
            (*v)[(*n)++] = (cv_line){i, 0, 0, false, CV_TEXT, NULL, 0};
        if (!add_md(v, n, cap, i, &cv->tail))
            return -1;
    }
    if (*n == n0) {
        (*v)[(*n)++] = (cv_line){i, 0, 0, false, CV_TEXT, NULL, 0};
        return 0;
    }
    const cv_line *l = &(*v)[*n - 1];
    return l->kind == CV_MD ? l->md->lines[l->li].cols : 0;
}

static const char *msg_mark(const ui_msg *m);

static const char *role_name(const ui_msg *m)
{
    switch (m->role) {
    case UI_ROLE_USER: return "you";
    case UI_ROLE_ASSISTANT: return "chord";
    default: return "";
    }
}

static ui_style role_style(const ui_msg *m)
{
    if (m->failed)
        return UI_S_ERROR;
    switch (m->role) {
    case UI_ROLE_USER: return UI_S_USER;
    case UI_ROLE_ASSISTANT: return UI_S_ASSISTANT;
    default: return UI_S_NOTE;
    }
}

/* The suffix shown after a message's text. */
static const char *msg_mark(const ui_msg *m)
{
    if (m->interrupted)
        return " [interrupted]";
    if (m->cut_at > 0) {
        /* drawn at once by the caller, one message at a time */
        static char buf[48];
        snprintf(buf, sizeof buf, " [cut at -n %d]", m->cut_at);
        return buf;
    }
    if (m->failed && m->role == UI_ROLE_USER)
        return " [not sent]";
    return "";
}

/* Appends the wrapped lines of every visible message (and a blank line
 * between messages) to *out. Returns the count, or -1 without memory. A
 * reasoning model's thinking comes first, dimmed: whole while it streams
 * (or when F3 asked for it), else folded into one line once the answer
 * has begun. A reply's answer is Markdown, rendered unless raw_view. */
static int layout(ui_chatview *cv, const ui_chat *c, int width, cv_line **out)
{
    int cap = 64, n = 0;
    cv_line *v = malloc((size_t)cap * sizeof *v);
    if (!v)
        return -1;
    int last_reply = -1;
    for (int i = c->n_msgs - 1; i >= c->view_start && last_reply < 0; i--)
        if (c->msgs[i].role == UI_ROLE_ASSISTANT)
            last_reply = i;
    for (int i = c->view_start; i < c->n_msgs; i++) {
        const ui_msg *m = &c->msgs[i];
        /* notes sit tight together; turns get air between them */
        bool gap = i > c->view_start && !(m->role == UI_ROLE_NOTE && c->msgs[i - 1].role == UI_ROLE_NOTE);
        if (gap)
            v[n++] = (cv_line){-1, 0, 0, false, CV_TEXT, NULL, 0};
        int first = n;
        ui_line *L = NULL;
        if (m->think_len) {
            if (c->show_thinking || m->len == 0) {
                int kt = add_lines(&v, &n, &cap, i, m->think, m->think_len, width, CV_THINK, &L);
                if (kt < 0)
                    goto oom;
                /* no answer: the thinking's last line takes the mark, or
                 * a line of its own when it does not fit there */
                const char *mk = m->len ? "" : msg_mark(m);
                if (*mk && kt && L[kt - 1].cols + ui_text_width(mk, strlen(mk)) > width)
                    v[n++] = (cv_line){i, 0, 0, false, CV_TEXT, NULL, 0};
                free(L);
                L = NULL;
            } else {
                v[n++] = (cv_line){i, 0, 0, false, CV_THOUGHT, NULL, 0};
            }
        }
        int k = 0, cols = -1;
        if (m->len && m->role == UI_ROLE_ASSISTANT && !c->raw_view)
            cols = md_lines(cv, c, i, width, i == last_reply, &v, &n, &cap);
        if (cols >= 0) {
            const char *mk = msg_mark(m);
            if (*mk && cols + ui_text_width(mk, strlen(mk)) > width)
                v[n++] = (cv_line){i, m->len, m->len, false, CV_TEXT, NULL, 0};
        } else if (m->len || !m->think_len) {
            if ((k = add_lines(&v, &n, &cap, i, m->text, m->len, width, CV_TEXT, &L)) < 0)
                goto oom;
            /* a mark that does not fit after the text gets a line of its own */
            const char *mk = msg_mark(m);
            if (*mk && L[k - 1].cols + ui_text_width(mk, strlen(mk)) > width)
                v[n++] = (cv_line){i, m->len, m->len, false, CV_TEXT, NULL, 0};
            free(L);
        }
        v[first].first = true;
    }
    *out = v;
    return n;
oom:
    free(v);
    return -1;
}

void ui_chatview_draw(ui_chatview *v, const ui_chat *c, WINDOW *w, ui_rect r)
{
    int width = r.w - GUTTER;
    if (width < 4 || r.h < 1)
        return;
    cv_line *L;
    int n = layout(v, c, width, &L);
    if (n < 0) {
        ui_draw_text(w, r.y, r.x, "(out of memory)", 15, r.w);
        return;
    }
    /* a scrolled-back view stays on the same text while a reply grows */
    if (v->scroll > 0 && n > v->total)
        v->scroll += n - v->total;
    int max_scroll = n > r.h ? n - r.h : 0;
    if (v->scroll > max_scroll)
        v->scroll = max_scroll;
    if (v->scroll < 0)
        v->scroll = 0;
    v->total = n;
    v->page = r.h;
    int first = n - r.h - v->scroll;
    if (first < 0)
        first = 0;
    const ui_msg *streaming = c->gen && c->n_msgs ? &c->msgs[c->n_msgs - 1] : NULL;
    for (int row = 0; row < r.h && first + row < n; row++) {
        const cv_line *l = &L[first + row];
        if (l->msg < 0)
            continue;
        const ui_msg *m = &c->msgs[l->msg];
        int y = r.y + row;
        if (l->first) {
            const char *rn = role_name(m);
            wattrset(w, ui_style_attr(role_style(m)));
            ui_draw_text(w, y, r.x, rn, strlen(rn), GUTTER - 1);
            wattrset(w, A_NORMAL);
        }
        if (m->role == UI_ROLE_NOTE)
            wattrset(w, ui_style_attr(UI_S_NOTE));
        int cols = 0;
        if (l->kind == CV_THINK || l->kind == CV_THOUGHT) {
            char buf[96];
            int k = l->kind == CV_THOUGHT ? thought_line(m, buf, sizeof buf) : 0;
            wattrset(w, ui_style_attr(UI_S_DIM));
            if (l->kind == CV_THOUGHT)
                ui_draw_text(w, y, r.x + GUTTER, buf, k > 0 ? (size_t)k : 0, width);
            else
                cols = ui_draw_text(w, y, r.x + GUTTER, m->think + l->a, l->b - l->a, width);
            wattrset(w, A_NORMAL);
            /* the reply's last line carries its mark or the cursor: the
             * answer's, or the thinking's while there is no answer (still
             * thinking, or cut or stopped there) */
            if (m->len)
                continue;
        } else if (l->kind == CV_MD) {
            const ui_md_line *ml = &l->md->lines[l->li];
            for (uint32_t k = 0; k < ml->n_spans && cols < width; k++) {
                const ui_md_span *sp = &l->md->spans[ml->span0 + k];
                wattrset(w, ui_md_attr(sp->fl));
                cols += ui_draw_text(w, y, r.x + GUTTER + cols, l->md->buf + sp->off, sp->len, width - cols);
            }
        } else if (l->b > l->a) {
            cols = ui_draw_text(w, y, r.x + GUTTER, m->text + l->a, l->b - l->a, width);
        }
        wattrset(w, A_NORMAL);
        bool last = first + row + 1 >= n || L[first + row + 1].msg != l->msg;
        if (last) {
            const char *mk = msg_mark(m);
            if (*mk) {
                if (cols == 0 && l->kind == CV_TEXT && l->a == m->len && m->len)
                    mk++;   /* its own line: no separating space */
                wattrset(w, ui_style_attr(UI_S_DIM));
                ui_draw_text(w, y, r.x + GUTTER + cols, mk, strlen(mk), width - cols);
                wattrset(w, A_NORMAL);
            } else if (m == streaming && m->role == UI_ROLE_ASSISTANT && cols < width) {
                mvwaddstr(w, y, r.x + GUTTER + cols, ui_draw_utf8() ? "\xe2\x96\x8c" : "_");
            }
        }
    }
    if (v->scroll > 0 && r.w > 20) {
        wattrset(w, ui_style_attr(UI_S_DIM) | A_REVERSE);
        ui_draw_fmt(w, r.y + r.h - 1, r.x + r.w - 16, 16, " \xe2\x86\x93 %d more ", v->scroll);
        wattrset(w, A_NORMAL);
    }
    free(L);
}

bool ui_chatview_scroll(ui_chatview *v, int delta)
{
    int old = v->scroll;
    int max_scroll = v->total > v->page ? v->total - v->page : 0;
    if (delta == INT_MAX)
        v->scroll = max_scroll;
    else if (delta == INT_MIN)
        v->scroll = 0;
    else
        v->scroll += delta;
    if (v->scroll > max_scroll)
        v->scroll = max_scroll;
    if (v->scroll < 0)
        v->scroll = 0;
    return v->scroll != old;
}

void ui_chatview_free(ui_chatview *v)
{
    for (int i = 0; i < v->n_cache; i++)
        ui_md_free(&v->cache[i].doc);
    free(v->cache);
    v->cache = NULL;
    v->n_cache = 0;
    ui_md_free(&v->tail);
    ui_chatview_code_close(v);
}

/* ------------------------------------------------------------------------
 * The code viewer
 * ---------------------------------------------------------------------- */

void ui_chatview_code_close(ui_chatview *v)
{
    ui_codeview *cv = &v->code;
    free(cv->lang);
    free(cv->text);
    free(cv->line);
    memset(cv, 0, sizeof *cv);
}

bool ui_chatview_code_open(ui_chatview *v, const ui_chat *c, int n, char *err, size_t cap)
{
    const ui_msg *m = NULL;
    for (int i = c->n_msgs - 1; i >= 0 && !m; i--)
        if (c->msgs[i].role == UI_ROLE_ASSISTANT && c->msgs[i].len)
            m = &c->msgs[i];
    if (!m) {
        snprintf(err, cap, "no reply yet");
        return false;
    }
    ui_md_code *codes;
    int k = ui_md_codes(m->text, m->len, &codes);
    if (k < 0) {
        snprintf(err, cap, "out of memory");
        return false;
    }
    if (n == 0)
        n = k;
    if (k == 0 || n < 1 || n > k) {
        if (k == 0)
            snprintf(err, cap, "the last reply has no code block");
        else
            snprintf(err, cap, "the last reply has %d code block%s: /code 1%s", k, k == 1 ? "" : "s",
                     k == 1 ? "" : "..N");
        ui_md_codes_free(codes, k);
        return false;
    }
    ui_chatview_code_close(v);
    ui_codeview *cv = &v->code;
    ui_md_code *b = &codes[n - 1];
    int lines = 1;
    for (size_t i = 0; i < b->len; i++)
        lines += b->text[i] == '\n';
    cv->line = malloc((size_t)(lines + 1) * sizeof *cv->line);
    if (!cv->line) {
        ui_md_codes_free(codes, k);
        snprintf(err, cap, "out of memory");
        return false;
    }
    cv->text = b->text;
    cv->lang = b->lang;
    b->text = b->lang = NULL;
    cv->n_lines = 0;
    cv->line[cv->n_lines++] = 0;
    for (size_t i = 0; i < b->len; i++)
        if (cv->text[i] == '\n')
            cv->line[cv->n_lines++] = i + 1;
    cv->line[cv->n_lines] = b->len + 1;
    for (int i = 0; i < cv->n_lines; i++) {
        int w = ui_text_width(cv->text + cv->line[i], cv->line[i + 1] - 1 - cv->line[i]);
        if (w > cv->max_cols)
            cv->max_cols = w;
    }
    cv->index = n;
    cv->count = k;
    cv->open = true;
    ui_md_codes_free(codes, k);
    return true;
}

void ui_chatview_code_key(ui_chatview *v, int key)
{
    ui_codeview *cv = &v->code;
    int ph = cv->page_h > 1 ? cv->page_h - 1 : 1, pw = cv->page_w > 8 ? cv->page_w / 2 : 4;
    switch (key) {
    case 'q': case 27: ui_chatview_code_close(v); return;
    case KEY_UP: case 'k': cv->sy--; break;
    case KEY_DOWN: case 'j': cv->sy++; break;
    case KEY_LEFT: case 'h': cv->sx -= 4; break;
    case KEY_RIGHT: case 'l': cv->sx += 4; break;
    case KEY_PPAGE: cv->sy -= ph; break;
    case KEY_NPAGE: case ' ': cv->sy += ph; break;
    case KEY_SLEFT: cv->sx -= pw; break;
    case KEY_SRIGHT: cv->sx += pw; break;
    case KEY_HOME: case 'g': cv->sy = 0; cv->sx = 0; break;
    case KEY_END: case 'G': cv->sy = cv->n_lines; break;
    case '0': cv->sx = 0; break;
    case '$': cv->sx = cv->max_cols; break;
    default: break;
    }
}

void ui_chatview_code_draw(ui_chatview *v, WINDOW *w, ui_rect r)
{
    ui_codeview *cv = &v->code;
    if (!cv->open || r.h < 4 || r.w < 12)
        return;
    int ih = r.h - 2, iw = r.w - 2;
    cv->page_h = ih;
    cv->page_w = iw;
    /* clamped here, where the page is known */
    if (cv->sy > cv->n_lines - ih)
        cv->sy = cv->n_lines - ih;
    if (cv->sy < 0)
        cv->sy = 0;
    if (cv->sx > cv->max_cols - iw + 1)
        cv->sx = cv->max_cols - iw + 1;
    if (cv->sx < 0)
        cv->sx = 0;
    for (int y = r.y; y < r.y + r.h; y++)
        mvwhline(w, y, r.x, ' ', r.w);
    wattrset(w, ui_style_attr(UI_S_BORDER));
    mvwaddch(w, r.y, r.x, ACS_ULCORNER);
    mvwhline(w, r.y, r.x + 1, ACS_HLINE, iw);
    mvwaddch(w, r.y, r.x + r.w - 1, ACS_URCORNER);
    for (int y = r.y + 1; y < r.y + r.h - 1; y++) {
        mvwaddch(w, y, r.x, ACS_VLINE);
        mvwaddch(w, y, r.x + r.w - 1, ACS_VLINE);
    }
    mvwaddch(w, r.y + r.h - 1, r.x, ACS_LLCORNER);
    mvwhline(w, r.y + r.h - 1, r.x + 1, ACS_HLINE, iw);
    mvwaddch(w, r.y + r.h - 1, r.x + r.w - 1, ACS_LRCORNER);
    wattrset(w, ui_style_attr(UI_S_TITLE));
    ui_draw_fmt(w, r.y, r.x + 2, iw - 2, " code %d/%d%s%s ", cv->index, cv->count, cv->lang && *cv->lang ? " \xc2\xb7 " : "",
                cv->lang ? cv->lang : "");
    wattrset(w, ui_style_attr(UI_S_DIM));
    int last = cv->sy + ih < cv->n_lines ? cv->sy + ih : cv->n_lines;
    bool u = ui_draw_utf8();
    ui_draw_fmt(w, r.y + r.h - 1, r.x + 2, iw - 2, " lines %d-%d of %d, column %d %s %s scroll %s q closes ",
                cv->n_lines ? cv->sy + 1 : 0, last, cv->n_lines, cv->sx + 1, u ? "\xc2\xb7" : "-",
                u ? "\xe2\x86\x91\xe2\x86\x93\xe2\x86\x90\xe2\x86\x92" : "arrows", u ? "\xc2\xb7" : "-");
    wattrset(w, A_NORMAL);
    for (int row = 0; row < ih && cv->sy + row < cv->n_lines; row++) {
        int i = cv->sy + row;
        const char *t = cv->text + cv->line[i];
        size_t len = cv->line[i + 1] - 1 - cv->line[i];
        /* skip sx cells; a wide character cut in half shows as a blank */
        size_t a = 0;
        int col = 0;
        while (a < len && col < cv->sx) {
            uint32_t cp;
            size_t k = ui_utf8_next(t + a, len - a, &cp);
            col += ui_cp_width(cp);
            a += k;
        }
        int x = r.x + 1 + (col - cv->sx);
        int rest = ui_text_width(t + a, len - a);
        bool more = rest > iw - (col - cv->sx);
        int room = iw - (col - cv->sx) - (more ? 1 : 0);
        ui_draw_text(w, r.y + 1 + row, x, t + a, len - a, room);
        if (more) {
            wattrset(w, ui_md_attr(UI_MD_CUT));
            mvwaddstr(w, r.y + 1 + row, r.x + r.w - 2, u ? "\xe2\x86\x92" : ">");
            wattrset(w, A_NORMAL);
        }
    }
}
