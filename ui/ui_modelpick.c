/*
 * ui_modelpick.c - the model picker (see ui_modelpick.h).
 *
 * A screen of its own (newterm/delscreen), ended before the chat's TUI
 * starts its own, so the two never share curses state.
 */
#include "ui_modelpick.h"

#include <locale.h>
#include <signal.h>
#include <string.h>

#include "ui_draw.h"

static volatile sig_atomic_t quit_sig;

static void on_signal(int sig)
{
    quit_sig = sig;
}

static void draw(const char *const *names, const char *const *details, int n, int sel, int *top)
{
    int h = LINES, w = COLS;
    erase();
    wattrset(stdscr, ui_style_attr(UI_S_TITLE));
    ui_draw_fmt(stdscr, 0, 1, w - 2, "chord \xc2\xb7 choose a model (%d)", n);
    wattrset(stdscr, A_NORMAL);
    int rows = h - 3;
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
        int k = *top + i, y = 2 + i;
        if (k == sel)
            wattrset(stdscr, A_REVERSE);
        mvhline(y, 0, ' ', w);
        ui_draw_text(stdscr, y, 1, k == sel ? ">" : " ", 1, 1);
        ui_draw_text(stdscr, y, 3, names[k], strlen(names[k]), nw);
        if (details && details[k] && 3 + nw + 2 < w)
            ui_draw_text(stdscr, y, 3 + nw + 2, details[k], strlen(details[k]), w - (3 + nw + 2) - 1);
        wattrset(stdscr, A_NORMAL);
    }
    wattrset(stdscr, ui_style_attr(UI_S_DIM));
    static const char hint[] = "Up/Down choose \xc2\xb7 Enter start \xc2\xb7 q quit";
    ui_draw_text(stdscr, h - 1, 1, hint, sizeof hint - 1, w - 2);
    wattrset(stdscr, A_NORMAL);
    refresh();
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
        switch (ch) {
        case ERR:
            continue;
        case KEY_UP: case 'k': case 16 /* Ctrl-P */:
            if (sel > 0)
                sel--;
            break;
        case KEY_DOWN: case 'j': case 14 /* Ctrl-N */:
            if (sel + 1 < n)
                sel++;
            break;
        case KEY_PPAGE:
            sel = sel > 10 ? sel - 10 : 0;
            break;
        case KEY_NPAGE:
            sel = sel + 10 < n ? sel + 10 : n - 1;
            break;
        case KEY_HOME:
            sel = 0;
            break;
        case KEY_END:
            sel = n - 1;
            break;
        case '\r': case '\n': case KEY_ENTER:
            chosen = sel;
            break;
        case 'q': case 27 /* Esc */: case 3 /* Ctrl-C */: case 4 /* Ctrl-D */:
            chosen = -1;
            break;
        default:
            break; /* KEY_RESIZE and the rest: redraw */
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
