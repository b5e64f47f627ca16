/*
 * ui_chatview.c - the chat pane (see ui_chatview.h).
 *
 * Every frame wraps the visible messages afresh: cheap for chat-sized text
 * and it makes resizing trivially right.
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
enum { CV_TEXT, CV_THINK, CV_THOUGHT };

/* One screen line: which message, which part, which bytes. */
typedef struct cv_line {
    int msg;
    size_t a, b;
    bool first;       /* the message's first line: draw the role */
    uint8_t kind;     /* CV_TEXT: the answer; CV_THINK: the reasoning, whole;
                         CV_THOUGHT: the reasoning folded into one line */
} cv_line;

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

/* Wraps text into lines of kind at the end of v (grown as needed). */
static int add_lines(cv_line **v, int *n, int *cap, int msg, const char *text, size_t len, int width,
                     uint8_t kind, ui_line **last)
{
    int k = ui_wrap(text, len, width, NULL, 0);
    ui_line *L = malloc((size_t)k * sizeof *L);
    if (!L)
        return -1;
    ui_wrap(text, len, width, L, k);
    if (*n + k + 3 > *cap) {
        int c = *cap;
        while (*n + k + 3 > c)
            c *= 2;
        cv_line *t = realloc(*v, (size_t)c * sizeof *t);
        if (!t) {
            free(L);
            return -1;
        }
        *v = t;
        *cap = c;
    }
    for (int j = 0; j < k; j++)
        (*v)[(*n)++] = (cv_line){msg, L[j].start, L[j].end, false, kind};
    *last = L;
    return k;
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
    if (m->failed && m->role == UI_ROLE_USER)
        return " [not sent]";
    return "";
}

/* Appends the wrapped lines of every visible message (and a blank line
 * between messages) to *out. Returns the count, or -1 without memory. A
 * reasoning model's thinking comes first, dimmed: whole while it streams
 * (or when F3 asked for it), else folded into one line once the answer
 * has begun. */
static int layout(const ui_chat *c, int width, cv_line **out)
{
    int cap = 64, n = 0;
    cv_line *v = malloc((size_t)cap * sizeof *v);
    if (!v)
        return -1;
    for (int i = c->view_start; i < c->n_msgs; i++) {
        const ui_msg *m = &c->msgs[i];
        /* notes sit tight together; turns get air between them */
        bool gap = i > c->view_start && !(m->role == UI_ROLE_NOTE && c->msgs[i - 1].role == UI_ROLE_NOTE);
        if (gap)
            v[n++] = (cv_line){-1, 0, 0, false, CV_TEXT};
        int first = n;
        ui_line *L = NULL;
        if (m->think_len) {
            if (c->show_thinking || m->len == 0) {
                if (add_lines(&v, &n, &cap, i, m->think, m->think_len, width, CV_THINK, &L) < 0)
                    goto oom;
                free(L);
                L = NULL;
            } else {
                v[n++] = (cv_line){i, 0, 0, false, CV_THOUGHT};
            }
        }
        int k = 0;
        if (m->len || !m->think_len) {
            if ((k = add_lines(&v, &n, &cap, i, m->text, m->len, width, CV_TEXT, &L)) < 0)
                goto oom;
            /* a mark that does not fit after the text gets a line of its own */
            const char *mk = msg_mark(m);
            if (*mk && L[k - 1].cols + ui_text_width(mk, strlen(mk)) > width)
                v[n++] = (cv_line){i, m->len, m->len, false, CV_TEXT};
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
    int n = layout(c, width, &L);
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
        if (l->kind != CV_TEXT) {
            char buf[96];
            int k = l->kind == CV_THOUGHT ? thought_line(m, buf, sizeof buf) : 0;
            wattrset(w, ui_style_attr(UI_S_DIM));
            if (l->kind == CV_THOUGHT)
                ui_draw_text(w, y, r.x + GUTTER, buf, k > 0 ? (size_t)k : 0, width);
            else
                ui_draw_text(w, y, r.x + GUTTER, m->think + l->a, l->b - l->a, width);
            wattrset(w, A_NORMAL);
            continue;
        }
        int cols = ui_draw_text(w, y, r.x + GUTTER, m->text + l->a, l->b - l->a, width);
        wattrset(w, A_NORMAL);
        bool last = first + row + 1 >= n || L[first + row + 1].msg != l->msg;
        if (last) {
            const char *mk = msg_mark(m);
            if (*mk) {
                if (cols == 0 && l->a == m->len && m->len)
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
