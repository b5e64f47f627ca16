/*
 * ui_picker.c - the history picker (see ui_picker.h).
 */
#include "ui_picker.h"

#include <string.h>
#include <time.h>

bool ui_picker_open(ui_picker *p, hist *h, chord_err *err)
{
    ui_picker_close(p);
    if (hist_list(h, 0, &p->rows, &p->n, err) != CHORD_OK)
        return false;
    p->open = true;
    p->sel = p->top = 0;
    return true;
}

void ui_picker_close(ui_picker *p)
{
    if (p->rows)
        hist_rows_free(p->rows, p->n);
    memset(p, 0, sizeof *p);
}

int ui_picker_key(ui_picker *p, int key, int64_t *id)
{
    switch (key) {
    case KEY_UP: case 'k': case 16 /* Ctrl-P */:
        if (p->sel > 0)
            p->sel--;
        return UI_PICK_MOVED;
    case KEY_DOWN: case 'j': case 14 /* Ctrl-N */:
        if (p->sel + 1 < p->n)
            p->sel++;
        return UI_PICK_MOVED;
    case KEY_PPAGE:
        p->sel = p->sel > 10 ? p->sel - 10 : 0;
        return UI_PICK_MOVED;
    case KEY_NPAGE:
        p->sel = p->sel + 10 < p->n ? p->sel + 10 : (p->n ? p->n - 1 : 0);
        return UI_PICK_MOVED;
    case '\r': case '\n': case KEY_ENTER:
        if (!p->n)
            return UI_PICK_CLOSED;
        *id = p->rows[p->sel].id;
        return UI_PICK_CHOSEN;
    case 27: case 'q': case 3:
        return UI_PICK_CLOSED;
    default:
        return UI_PICK_NONE;
    }
}

void ui_picker_draw(ui_picker *p, WINDOW *w, ui_rect r)
{
    if (r.h < 3 || r.w < 20)
        return;
    for (int y = 0; y < r.h; y++)
        mvwhline(w, r.y + y, r.x, ' ', r.w);
    wattrset(w, ui_style_attr(UI_S_TITLE));
    ui_draw_fmt(w, r.y, r.x + 1, r.w - 2, "history: %d conversations (Enter resumes, Esc closes)", p->n);
    wattrset(w, A_NORMAL);
    int rows = r.h - 1;
    if (p->sel < p->top)
        p->top = p->sel;
    if (p->sel >= p->top + rows)
        p->top = p->sel - rows + 1;
    if (!p->n)
        ui_draw_text(w, r.y + 1, r.x + 1, "(none yet)", 10, r.w - 2);
    for (int i = 0; i < rows && p->top + i < p->n; i++) {
        const hist_conv_row *c = &p->rows[p->top + i];
        char when[32];
        time_t t = (time_t)(c->updated_at / 1000);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
        bool sel = p->top + i == p->sel;
        if (sel)
            wattrset(w, A_REVERSE);
        mvwhline(w, r.y + 1 + i, r.x, ' ', r.w);
        /* the model's file name, without its folder and .gguf, up to a
         * quarter of the row: which model a conversation was with */
        const char *mn = c->model ? c->model : "?";
        const char *sl = strrchr(mn, '/');
        if (sl)
            mn = sl + 1;
        int ml = (int)strlen(mn);
        if (ml > 5 && !strcmp(mn + ml - 5, ".gguf"))
            ml -= 5;
        int mw = r.w / 4 < 12 ? 12 : r.w / 4;
        if (ml > mw)
            ml = mw;
        ui_draw_fmt(w, r.y + 1 + i, r.x + 1, r.w - 2, "%5lld  %s  %3d msgs  %-*.*s  %s", (long long)c->id,
                    when, c->n_msgs, mw, ml, mn, c->title ? c->title : "(untitled)");
        wattrset(w, A_NORMAL);
    }
}
