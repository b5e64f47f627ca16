/*
 * ui_chatview.c - the chat pane (see ui_chatview.h).
 *
 * Every frame wraps the visible messages afresh: cheap for chat-sized text
 * and it makes resizing trivially right.
 */
#include "ui_chatview.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ui_wrap.h"

#define GUTTER 7

/* One screen line: which message, which bytes. */
typedef struct cv_line {
    int msg;
    size_t a, b;
    bool first;       /* the message's first line: draw the role */
} cv_line;

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
 * between messages) to *out. Returns the count, or -1 without memory. */
static int layout(const ui_chat *c, int width, cv_line **out)
{
    int cap = 64, n = 0;
    cv_line *v = malloc((size_t)cap * sizeof *v);
    if (!v)
        return -1;
    for (int i = c->view_start; i < c->n_msgs; i++) {
        const ui_msg *m = &c->msgs[i];
        int k = ui_wrap(m->text, m->len, width, NULL, 0);
        ui_line *L = malloc((size_t)k * sizeof *L);
        if (!L) {
            free(v);
            return -1;
        }
        ui_wrap(m->text, m->len, width, L, k);
        if (n + k + 2 > cap) {
            while (n + k + 2 > cap)
                cap *= 2;
            cv_line *t = realloc(v, (size_t)cap * sizeof *t);
            if (!t) {
                free(L);
                free(v);
                return -1;
            }
            v = t;
        }
        /* notes sit tight together; turns get air between them */
        bool gap = i > c->view_start && !(m->role == UI_ROLE_NOTE && c->msgs[i - 1].role == UI_ROLE_NOTE);
        if (gap)
            v[n++] = (cv_line){-1, 0, 0, false};
        for (int j = 0; j < k; j++)
            v[n++] = (cv_line){i, L[j].start, L[j].end, j == 0};
        /* a mark that does not fit after the text gets a line of its own */
        const char *mk = msg_mark(m);
        if (*mk && L[k - 1].cols + ui_text_width(mk, strlen(mk)) > width)
            v[n++] = (cv_line){i, m->len, m->len, false};
        free(L);
    }
    *out = v;
    return n;
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
