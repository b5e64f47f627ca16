/*
 * ui_modelpick.c - the model picker (see ui_modelpick.h).
 *
 * A screen of its own (newterm/delscreen), ended before the chat's TUI
 * starts its own, so the two never share curses state.
 */
#include "ui_modelpick.h"

#include <locale.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "ui_draw.h"
#include "ui_picker.h"

static volatile sig_atomic_t quit_sig;

static void on_signal(int sig)
{
    quit_sig = sig;
}

/* The list in r: a title row, the models, and (hint_row) a row of keys. */
static void draw_list(WINDOW *win, ui_rect r, const char *title, const char *const *names,
                      const char *const *details, int n, int sel, int *top, bool hint_row)
{
    int w = r.w;
    wattrset(win, ui_style_attr(UI_S_TITLE));
    ui_draw_text(win, r.y, r.x + 1, title, strlen(title), w - 2);
    wattrset(win, A_NORMAL);
    int rows = r.h - (hint_row ? 3 : 2);
    if (rows < 1)
        rows = 1;
    if (sel < *top)
        *top = sel;
    if (sel >= *top + rows)
        *top = sel - rows + 1;
    int nw = 0;
    for (int i = 0; i < n; i++) {
        int l = (int)strlen(names[i]);
        if (l > nw)
            nw = l;
    }
    if (nw > w / 2)
        nw = w / 2;
    for (int i = 0; i < rows && *top + i < n; i++) {
        int k = *top + i, y = r.y + 2 + i;
        if (k == sel)
            wattrset(win, A_REVERSE);
        mvwhline(win, y, r.x, ' ', w);
        ui_draw_text(win, y, r.x + 1, k == sel ? ">" : " ", 1, 1);
        ui_draw_text(win, y, r.x + 3, names[k], strlen(names[k]), nw);
        if (details && details[k] && 3 + nw + 2 < w)
            ui_draw_text(win, y, r.x + 3 + nw + 2, details[k], strlen(details[k]), w - (3 + nw + 2) - 1);
        wattrset(win, A_NORMAL);
    }
    if (hint_row) {
        wattrset(win, ui_style_attr(UI_S_DIM));
        static const char hint[] = "Up/Down choose \xc2\xb7 Enter start \xc2\xb7 q quit";
        ui_draw_text(win, r.y + r.h - 1, r.x + 1, hint, sizeof hint - 1, w - 2);
        wattrset(win, A_NORMAL);
    }
}

static void draw(const char *const *names, const char *const *details, int n, int sel, int *top)
{
    erase();
    char title[96];
    snprintf(title, sizeof title, "chord \xc2\xb7 choose a model (%d)", n);
    draw_list(stdscr, (ui_rect){0, 0, LINES, COLS}, title, names, details, n, sel, top, true);
    refresh();
}

/* Up/Down/PgUp/PgDn/Home/End on a list of n; false for other keys. */
static bool move_key(int ch, int n, int *sel)
{
    switch (ch) {
    case KEY_UP: case 'k': case 16 /* Ctrl-P */:
        if (*sel > 0)
            (*sel)--;
        return true;
    case KEY_DOWN: case 'j': case 14 /* Ctrl-N */:
        if (*sel + 1 < n)
            (*sel)++;
        return true;
    case KEY_PPAGE:
        *sel = *sel > 10 ? *sel - 10 : 0;
        return true;
    case KEY_NPAGE:
        *sel = *sel + 10 < n ? *sel + 10 : n - 1;
        return true;
    case KEY_HOME:
        *sel = 0;
        return true;
    case KEY_END:
        *sel = n - 1;
        return true;
    default:
        return false;
    }
}

void ui_model_items_free(ui_model_item *v, int n)
{
    for (int i = 0; v && i < n; i++) {
        free(v[i].name);
        free(v[i].detail);
        free(v[i].path);
    }
    free(v);
}

bool ui_modelmenu_open(ui_modelmenu *mm, ui_model_item *v, int n)
{
    ui_modelmenu_close(mm);
    mm->names = calloc((size_t)n + 1, sizeof *mm->names);
    mm->details = calloc((size_t)n + 1, sizeof *mm->details);
    if (!mm->names || !mm->details) {
        free(mm->names);
        free(mm->details);
        ui_model_items_free(v, n);
        mm->names = mm->details = NULL;
        return false;
    }
    for (int i = 0; i < n; i++) {
        mm->names[i] = v[i].name;
        mm->details[i] = v[i].detail;
    }
    mm->v = v;
    mm->n = n;
    mm->open = true;
    return true;
}

void ui_modelmenu_close(ui_modelmenu *mm)
{
    ui_model_items_free(mm->v, mm->n);
    free(mm->names);
    free(mm->details);
    memset(mm, 0, sizeof *mm);
}

int ui_modelmenu_key(ui_modelmenu *mm, int key)
{
    if (mm->n && move_key(key, mm->n, &mm->sel))
        return UI_PICK_MOVED;
    switch (key) {
    case '\r': case '\n': case KEY_ENTER:
        return mm->n ? UI_PICK_CHOSEN : UI_PICK_CLOSED;
    case 27: case 'q': case 3:
        return UI_PICK_CLOSED;
    default:
        return UI_PICK_NONE;
    }
}

void ui_modelmenu_draw(ui_modelmenu *mm, WINDOW *w, ui_rect r)
{
    if (r.h < 3 || r.w < 20)
        return;
    for (int y = 0; y < r.h; y++)
        mvwhline(w, r.y + y, r.x, ' ', r.w);
    char title[128];
    snprintf(title, sizeof title, "models: %d (Enter switches to one, Esc closes)", mm->n);
    if (!mm->n)
        snprintf(title, sizeof title, "models: none found (/model FILE loads a file; Esc closes)");
    draw_list(w, r, title, mm->names, mm->details, mm->n, mm->sel, &mm->top, false);
}

int ui_pick_model(const char *const *names, const char *const *details, int n)
{
    if (n <= 0)
        return -1;
    setlocale(LC_CTYPE, "");
    struct sigaction sa, old_term, old_hup;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    quit_sig = 0;
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    SCREEN *scr = newterm(NULL, stdout, stdin);
    if (!scr) {
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGHUP, &old_hup, NULL);
        return -1;
    }
    raw();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    /* a short wait per key, so a signal is noticed without a key press */
    timeout(100);
    ui_draw_init();

    int sel = 0, top = 0, chosen = -2;
    draw(names, details, n, sel, &top);
    while (chosen == -2) {
        if (quit_sig) {
            chosen = -1;
            break;
        }
        int ch = getch();
        if (ch == ERR)
            continue;
        if (!move_key(ch, n, &sel)) {
            switch (ch) {
            case '\r': case '\n': case KEY_ENTER:
                chosen = sel;
                break;
            case 'q': case 27 /* Esc */: case 3 /* Ctrl-C */: case 4 /* Ctrl-D */:
                chosen = -1;
                break;
            default:
                break; /* KEY_RESIZE and the rest: redraw */
            }
        }
        draw(names, details, n, sel, &top);
    }
    curs_set(1);
    endwin();
    delscreen(scr);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    return chosen;
}
