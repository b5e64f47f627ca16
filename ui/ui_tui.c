/*
 * ui_tui.c - the full-screen TUI: layout, keys and the frame loop.
 *
 * One loop, one thread: poll() waits on the terminal and on the generation's
 * event fd; key handlers and events only mark the frame dirty, and the loop
 * repaints at most ~30 times a second from one stats snapshot. Nothing here
 * waits on the engine: generation runs on its own thread (chord_gen) and
 * chord_stats_get() is safe from any thread.
 */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curses.h>

#include "ui.h"
#include "ui_chat.h"
#include "ui_chatview.h"
#include "ui_clip.h"
#include "ui_cmd.h"
#include "ui_draw.h"
#include "ui_input.h"
#include "ui_modelpick.h"
#include "ui_panes.h"
#include "ui_picker.h"
#include "ui_wrap.h"

#define DIAG_W 28        /* the diagnostics column, borders excluded */
#define FRAME_MS 33      /* ~30 fps at most */
#define MIN_W 60
#define MIN_H 20
#define WIDE_W 100       /* below this the diagnostics fold away */
#define INPUT_MAX_ROWS 5

typedef struct tui {
    ui_chat chat;
    ui_chatview view;
    ui_picker picker;
    ui_modelmenu models; /* /model's list of local models */
    bool panes_wide;     /* diagnostics column at >= WIDE_W columns */
    bool panes_overlay;  /* diagnostics over the chat when narrower */
    bool quit;
    bool dirty;
    bool mouse_off;      /* /mouse: the terminal keeps the mouse (selection) */
    ui_snap snap;
    double last_sample_ms;
    uint64_t last_gen_tokens;
} tui;

static tui *T;           /* for readline's line callback */

/* Below MIN_W x MIN_H only a message is drawn. */
static bool too_small(void)
{
    return COLS < MIN_W || LINES < MIN_H;
}
static volatile sig_atomic_t sig_quit, sig_int;

static void on_signal(int sig)
{
    if (sig == SIGINT)
        sig_int = 1;
    else
        sig_quit = 1;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------------
 * Commands and lines
 * ---------------------------------------------------------------------- */

/* Wheel events to the chat, or (mouse_off) none at all: then the terminal
 * keeps its own selection and scrollback wheel. */
static void set_mouse(tui *t)
{
    mmask_t m = t->mouse_off ? 0 : BUTTON4_PRESSED
#ifdef BUTTON5_PRESSED
        | BUTTON5_PRESSED
#endif
        ;
    mousemask(m, NULL);
}

static void draw_frame(tui *t);

static void apply_cmd_flags(tui *t, int r)
{
    if (r & UI_CMD_QUIT)
        t->quit = true;
    if (r & UI_CMD_PANES) {
        if (COLS >= WIDE_W)
            t->panes_wide = !t->panes_wide;
        else
            t->panes_overlay = !t->panes_overlay;
    }
    if (r & UI_CMD_PICKER) {
        chord_err err;
        hist *h = ui_chat_reader(&t->chat, &err);
        if (!h)
            ui_chat_note(&t->chat, "%s", err.msg);
        else if (!ui_picker_open(&t->picker, h, &err))
            ui_chat_note(&t->chat, "%s", ui_chat_read_error(&t->chat, &err));
    }
    if (r & UI_CMD_CODE) {
        char e[160];
        if (!ui_chatview_code_open(&t->view, &t->chat, t->chat.code_req, e, sizeof e))
            ui_chat_note(&t->chat, "/code: %s", e);
    }
    if (r & UI_CMD_CLEAR) {
        clearok(curscr, TRUE);
        t->view.scroll = 0;
    }
    if (r & UI_CMD_COPY) {
        /* straight to the terminal, between two frames (curses has flushed) */
        if (t->chat.clip && !ui_clip_osc52(stdout, t->chat.clip, t->chat.clip_len))
            ui_chat_note(&t->chat, "/copy: could not write to the terminal");
        free(t->chat.clip);
        t->chat.clip = NULL;
    }
    if (r & UI_CMD_MOUSE) {
        t->mouse_off = !t->mouse_off;
        set_mouse(t);
        ui_chat_note(&t->chat, t->mouse_off
                     ? "mouse off: the terminal selects text; PgUp/PgDn scroll (/mouse: wheel on)"
                     : "mouse on: the wheel scrolls the chat; Shift+drag selects text (/mouse: off)");
    }
    if (r & UI_CMD_MODEL) {
        ui_model_item *v = NULL;
        int n = t->chat.model_list ? t->chat.model_list(t->chat.model_ud, &v) : -1;
        if (n < 0 || !ui_modelmenu_open(&t->models, v, n))
            ui_chat_note(&t->chat, "/model: the local models could not be listed");
    }
    if (r & UI_CMD_SWITCH) {
        /* loading takes a while and blocks this thread: the screen says
         * "loading ..." first */
        draw_frame(t);
        ui_cmd_switch(&t->chat);
        ui_chatview_scroll(&t->view, INT_MIN);
    }
    if (r & UI_CMD_EDIT) {
        const char *u = ui_chat_edit_begin(&t->chat, &(chord_err){{0}});
        if (u) {
            ui_input_set(u);
            ui_chat_note(&t->chat, "editing your last message: Enter sends it in place of that exchange, Esc keeps it");
        }
    }
    t->dirty = true;
}

static void on_line(char *line)
{
    tui *t = T;
    t->dirty = true;
    if (!line) {            /* Ctrl-D on an empty line */
        t->quit = true;
        return;
    }
    if (!*line) {
        free(line);
        return;
    }
    ui_input_add_history(line);
    if (line[0] == '/') {
        apply_cmd_flags(t, ui_cmd_run(&t->chat, line, true));
    } else {
        chord_err err;
        if (ui_chat_send(&t->chat, line, &err) != CHORD_OK)
            ui_chat_note(&t->chat, "error: %s", err.msg);
        ui_chatview_scroll(&t->view, INT_MIN);
    }
    free(line);
}

/* ------------------------------------------------------------------------
 * Keys
 * ---------------------------------------------------------------------- */

static void feed_char(wint_t ch)
{
    char buf[8];
    mbstate_t ps;
    memset(&ps, 0, sizeof ps);
    size_t n = wcrtomb(buf, (wchar_t)ch, &ps);
    if (n != (size_t)-1)
        ui_input_feed(buf, n);
}

static void stop_or_clear(tui *t)
{
    if (ui_chat_busy(&t->chat)) {
        ui_chat_stop(&t->chat);
    } else {
        ui_input_clear();
        ui_chat_edit_cancel(&t->chat);   /* an /edit given up */
    }
    t->dirty = true;
}

static void handle_key(tui *t, int r, wint_t ch)
{
    if (too_small()) {
        /* the input is not on the screen: nothing is typed or sent blind */
        if (r == OK && ch == 3)
            stop_or_clear(t);
        else if (r == OK && ch == 4)
            t->quit = true;
        t->dirty = true;
        return;
    }
    if (t->picker.open) {
        int64_t id = 0;
        int k = r == KEY_CODE_YES ? (int)ch : (int)ch;
        switch (ui_picker_key(&t->picker, k, &id)) {
        case UI_PICK_CHOSEN: {
            ui_picker_close(&t->picker);
            chord_err err;
            if (ui_chat_resume(&t->chat, id, &err) != CHORD_OK)
                ui_chat_note(&t->chat, "cannot resume %lld: %s", (long long)id, err.msg);
            else
                ui_chat_note(&t->chat, "resumed conversation %lld", (long long)id);
            ui_chatview_scroll(&t->view, INT_MIN);
            break;
        }
        case UI_PICK_CLOSED:
            ui_picker_close(&t->picker);
            break;
        default:
            break;
        }
        t->dirty = true;
        return;
    }
    if (t->models.open) {
        int k = (int)ch;
        switch (ui_modelmenu_key(&t->models, k)) {
        case UI_PICK_CHOSEN: {
            const ui_model_item *it = &t->models.v[t->models.sel];
            char *path = strdup(it->path);
            if (path) {
                ui_chat_note(&t->chat, "loading %s...", it->name);
                free(t->chat.switch_req);
                t->chat.switch_req = path;
            }
            ui_modelmenu_close(&t->models);
            if (ui_chat_busy(&t->chat)) {
                free(t->chat.switch_req);
                t->chat.switch_req = NULL;
                ui_chat_note(&t->chat, "/model: a reply is running (Esc stops it)");
            } else if (path) {
                apply_cmd_flags(t, UI_CMD_SWITCH);
            }
            break;
        }
        case UI_PICK_CLOSED:
            ui_modelmenu_close(&t->models);
            break;
        default:
            break;
        }
        t->dirty = true;
        return;
    }
    if (t->view.code.open) {
        /* the code viewer has the keys until q or Esc */
        ui_chatview_code_key(&t->view, ch == 3 ? 'q' : (int)ch);
        t->dirty = true;
        return;
    }
    if (r == KEY_CODE_YES) {
        switch (ch) {
        case KEY_RESIZE:
            break;
        case KEY_F(2):
            apply_cmd_flags(t, UI_CMD_PANES);
            break;
        case KEY_F(3):
            /* a reasoning model's thinking: folded to one line, or whole */
            t->chat.show_thinking = !t->chat.show_thinking;
            t->chat.version++;
            break;
        case KEY_F(4):
            /* the last code block of the last reply, whole */
            t->chat.code_req = 0;
            apply_cmd_flags(t, UI_CMD_CODE);
            break;
        case KEY_PPAGE:
            ui_chatview_scroll(&t->view, t->view.page > 2 ? t->view.page - 1 : 1);
            break;
        case KEY_NPAGE:
            ui_chatview_scroll(&t->view, -(t->view.page > 2 ? t->view.page - 1 : 1));
            break;
        case KEY_HOME:
            ui_chatview_scroll(&t->view, INT_MAX);
            break;
        case KEY_END:
            ui_chatview_scroll(&t->view, INT_MIN);
            break;
        case KEY_MOUSE: {
            MEVENT me;
            if (getmouse(&me) == OK) {
                if (me.bstate & BUTTON4_PRESSED)
                    ui_chatview_scroll(&t->view, 3);
#ifdef BUTTON5_PRESSED
                else if (me.bstate & BUTTON5_PRESSED)
                    ui_chatview_scroll(&t->view, -3);
#endif
            }
            break;
        }
        default:
            ui_input_key((int)ch);
            break;
        }
        t->dirty = true;
        return;
    }
    if (ch == 27) {
        /* Esc alone stops; Esc then a key at once is Alt+key */
        wint_t next;
        int r2 = get_wch(&next);
        if (r2 == ERR) {
            stop_or_clear(t);
        } else if (r2 == OK && (next == '\r' || next == '\n')) {
            ui_input_insert("\n");
        } else if (r2 == OK) {
            ui_input_feed("\033", 1);
            feed_char(next);
        }
        t->dirty = true;
        return;
    }
    if (ch == 3) {          /* Ctrl-C (raw mode: no SIGINT from the tty) */
        stop_or_clear(t);
        return;
    }
    if (ch == '\n')
        ch = '\r';
    feed_char(ch);
    t->dirty = true;
}

/* ------------------------------------------------------------------------
 * Drawing
 * ---------------------------------------------------------------------- */

static void hline_at(int y, int x, int n)
{
    if (n > 0)
        mvhline(y, x, ACS_HLINE, n);
}

/* A border title " text " at (y, x), at most maxw cells. */
static void border_title(int y, int x, int maxw, const char *text, ui_style st)
{
    if (maxw < 4)
        return;
    attrset(ui_style_attr(st));
    int n = ui_draw_fmt(stdscr, y, x, maxw, " %s ", text);
    (void)n;
    attrset(A_NORMAL);
}

/* Stacks the diagnostics panes in column x..x+w-1, rows y..y+h-1; the
 * first pane's title goes on row title_y. */
static void draw_diag(tui *t, int title_y, int y, int x, int w, int h)
{
    int n;
    ui_pane **v = ui_panes_diag(&n);
    int yy = y, end = y + h;
    /* The first pane (the layer map) takes what the others leave: it
     * chooses a layout to fit that, not just its width. */
    int others = 0;
    for (int i = 0; i < n; i++) {
        v[i]->update(v[i], &t->snap);
        if (i > 0)
            others += v[i]->rows(v[i], w - 1) + 1;
    }
    if (n > 0)
        v[0]->avail = h - others > 1 ? h - others : 1;
    for (int i = 0; i < n && yy < end; i++) {
        ui_pane *p = v[i];
        int ty = i == 0 ? title_y : yy;
        if (i > 0) {
            attrset(ui_style_attr(UI_S_BORDER));
            mvaddch(yy, x - 1, ACS_LTEE);
            hline_at(yy, x, w);
            mvaddch(yy, x + w, ACS_RTEE);
            attrset(A_NORMAL);
            yy++;
        }
        border_title(ty, x + 1, w - 2, p->title, UI_S_TITLE);
        int rows = p->rows(p, w - 1);
        if (rows > end - yy)
            rows = end - yy;
        if (rows > 0)
            p->draw(p, stdscr, (ui_rect){yy, x + 1, rows, w - 1});
        yy += rows;
    }
}

static void draw_frame(tui *t)
{
    int H = LINES, W = COLS;
    erase();
    if (too_small()) {
        /* in short lines, so it reads whole on a small screen; keys wait */
        char l[3][48];
        snprintf(l[0], sizeof l[0], "chord needs %dx%d", MIN_W, MIN_H);
        snprintf(l[1], sizeof l[1], "(now %dx%d)", W, H);
        snprintf(l[2], sizeof l[2], "Ctrl-D quits");
        for (int i = 0; i < 3 && i < H; i++)
            ui_draw_text(stdscr, i, 0, l[i], strlen(l[i]), W);
        curs_set(0);
        refresh();
        return;
    }
    chord_stats_get(t->chat.model, &t->snap.st);   /* the frame's one snapshot */
    t->snap.chat = &t->chat;
    t->snap.busy = ui_chat_busy(&t->chat);
    bool side = t->panes_wide && W >= WIDE_W;
    int ih = ui_input_rows(W - 2, INPUT_MAX_ROWS);
    int ch = H - 3 - ih;                  /* chat rows */
    int split = side ? W - DIAG_W - 2 : -1; /* column of the split line */

    /* borders */
    attrset(ui_style_attr(UI_S_BORDER));
    mvaddch(0, 0, ACS_ULCORNER);
    hline_at(0, 1, W - 2);
    mvaddch(0, W - 1, ACS_URCORNER);
    for (int y = 1; y < H - 1; y++) {
        mvaddch(y, 0, ACS_VLINE);
        mvaddch(y, W - 1, ACS_VLINE);
    }
    if (side) {
        mvaddch(0, split, ACS_TTEE);
        for (int y = 1; y <= ch; y++)
            mvaddch(y, split, ACS_VLINE);
    }
    mvaddch(ch + 1, 0, ACS_LTEE);
    hline_at(ch + 1, 1, W - 2);
    mvaddch(ch + 1, W - 1, ACS_RTEE);
    if (side)
        mvaddch(ch + 1, split, ACS_BTEE);
    mvaddch(H - 1, 0, ACS_LLCORNER);
    hline_at(H - 1, 1, W - 2);
    mvaddch(H - 1, W - 1, ACS_LRCORNER);
    attrset(A_NORMAL);

    /* title: chord · model type · "conversation" */
    const chord_model_info *mi = &t->chat.info;
    char title[320];
    snprintf(title, sizeof title, "chord \xc2\xb7 %s %s%s%s%s", mi->name ? mi->name : "?",
             mi->type_name ? mi->type_name : "", t->chat.title[0] ? " \xc2\xb7 \"" : "",
             t->chat.title, t->chat.title[0] ? "\"" : "");
    int title_end = side ? split : t->panes_overlay ? W - DIAG_W - 3 : W - 1;
    border_title(0, 2, title_end - 3, title, UI_S_TITLE);

    /* the folded diagnostics (F2 when narrow) take the right of the chat,
     * which wraps to what is left rather than being drawn over */
    int chat_end = side ? split : t->panes_overlay ? W - DIAG_W - 3 : W - 1;
    ui_rect chat_r = {1, 2, ch, chat_end - 3};
    ui_chatview_draw(&t->view, &t->chat, stdscr, chat_r);
    if (side) {
        draw_diag(t, 0, 1, split + 1, W - split - 2, ch);
    } else if (t->panes_overlay) {
        /* folded: F2 shows the column over the right of the chat */
        int x = W - DIAG_W - 3;
        for (int y = 1; y <= ch; y++)
            mvhline(y, x, ' ', W - 1 - x);
        attrset(ui_style_attr(UI_S_BORDER));
        mvaddch(0, x, ACS_TTEE);
        for (int y = 1; y <= ch; y++)
            mvaddch(y, x, ACS_VLINE);
        mvaddch(ch + 1, x, ACS_BTEE);
        attrset(A_NORMAL);
        draw_diag(t, 0, 1, x + 1, W - x - 2, ch);
    }
    if (t->picker.open || t->models.open) {
        /* a list over the whole inside: the split's junctions and the
         * panes' title would point at lines no longer there */
        attrset(ui_style_attr(UI_S_BORDER));
        hline_at(0, 1, W - 2);
        hline_at(ch + 1, 1, W - 2);
        attrset(A_NORMAL);
        border_title(0, 2, W - 5, title, UI_S_TITLE);
    }
    if (t->picker.open)
        ui_picker_draw(&t->picker, stdscr, (ui_rect){1, 1, ch, W - 2});
    if (t->models.open)
        ui_modelmenu_draw(&t->models, stdscr, (ui_rect){1, 1, ch, W - 2});

    ui_pane *st = ui_pane_status();
    st->update(st, &t->snap);
    st->draw(st, stdscr, (ui_rect){H - 1, 2, 1, W - 4});
    /* a history that is not being written is said where the eye goes:
     * over the key hints, in the error colour */
    char hp[600];
    if (ui_chat_hist_problem(&t->chat, hp, sizeof hp)) {
        int hw = (int)strlen(hp) + 2, max = (W - 4) * 2 / 3;
        if (hw > max)
            hw = max;
        attrset(ui_style_attr(UI_S_ERROR) | A_BOLD);
        ui_draw_fmt(stdscr, H - 1, W - 2 - hw, hw, " %s ", hp);
        attrset(A_NORMAL);
    }

    /* Tab with several candidates: they show on the rule over the input */
    const char *mt = ui_input_matches();
    if (*mt)
        border_title(ch + 1, 2, W - 4, mt, UI_S_NOTE);

    int cy, cx;
    ui_input_draw(stdscr, ch + 2, 1, W - 2, ih, &cy, &cx);
    ui_chatview_code_draw(&t->view, stdscr, (ui_rect){0, 0, H, W});
    if (t->picker.open || t->models.open || t->view.code.open) {
        curs_set(0);
    } else {
        curs_set(1);
        move(cy, cx);
    }
    refresh();
}

/* Once a second: the sparklines' samples. */
static void sample(tui *t, double now)
{
    chord_stats st;
    chord_stats_get(t->chat.model, &st);
    double dt = (now - t->last_sample_ms) / 1e3;
    double gen = dt > 0 ? (double)(st.n_gen_tokens - t->last_gen_tokens) / dt : 0;
    if (st.n_gen_tokens < t->last_gen_tokens)
        gen = 0;
    t->last_gen_tokens = st.n_gen_tokens;
    t->last_sample_ms = now;
    ui_snap *s = &t->snap;
    if (s->n_spark == UI_SPARK_N) {
        memmove(s->read_mb_s, s->read_mb_s + 1, (UI_SPARK_N - 1) * sizeof *s->read_mb_s);
        memmove(s->gen_tok_s, s->gen_tok_s + 1, (UI_SPARK_N - 1) * sizeof *s->gen_tok_s);
        s->n_spark--;
    }
    s->read_mb_s[s->n_spark] = st.read_mb_s;
    s->gen_tok_s[s->n_spark] = gen;
    s->n_spark++;
}

/* ------------------------------------------------------------------------
 * The loop
 * ---------------------------------------------------------------------- */

static void loop(tui *t)
{
    double last_draw = 0;
    t->last_sample_ms = now_ms();
    while (!t->quit && !sig_quit) {
        if (sig_int) {
            sig_int = 0;
            stop_or_clear(t);
        }
        double now = now_ms();
        if (now - t->last_sample_ms >= 1000) {
            sample(t, now);
            t->dirty = true;
        }
        if (ui_chat_busy(&t->chat) && now - last_draw >= 250)
            t->dirty = true;    /* the layer map and rates move */
        if (ui_input_take_dirty())
            t->dirty = true;
        if (t->dirty && now - last_draw >= FRAME_MS) {
            draw_frame(t);
            t->dirty = false;
            last_draw = now;
        }
        int timeout = (int)(1000 - (now - t->last_sample_ms));
        if (t->dirty) {
            int left = (int)(FRAME_MS - (now - last_draw));
            timeout = left < timeout ? left : timeout;
        } else if (ui_chat_busy(&t->chat) && timeout > 250) {
            timeout = 250;
        }
        if (timeout < 0)
            timeout = 0;
        struct pollfd pf[2] = {{.fd = 0, .events = POLLIN}, {.fd = ui_chat_fd(&t->chat), .events = POLLIN}};
        int r = poll(pf, pf[1].fd >= 0 ? 2 : 1, timeout);
        if (r < 0 && errno != EINTR)
            break;
        /* the terminal went away without a SIGHUP: leave, do not spin */
        if (r > 0 && (pf[0].revents & (POLLHUP | POLLERR | POLLNVAL)) && !(pf[0].revents & POLLIN))
            break;
        /* keys: also after EINTR, which is how SIGWINCH shows up */
        wint_t ch;
        int kr;
        while ((kr = get_wch(&ch)) != ERR) {
            handle_key(t, kr, ch);
            if (t->quit)
                break;
        }
        if (ui_chat_pump(&t->chat, 0))
            t->dirty = true;
    }
}

static void seed_history(hist *h)
{
    if (!h)
        return;
    char **v;
    int n;
    chord_err err;
    if (hist_prompts(h, 500, &v, &n, &err) != CHORD_OK)
        return;
    for (int i = 0; i < n; i++)
        ui_input_add_history(v[i]);
    hist_strings_free(v, n);
}

int ui_run_tui(const ui_config *cfg)
{
    setlocale(LC_CTYPE, "");
    static tui t;
    memset(&t, 0, sizeof t);
    T = &t;
    t.panes_wide = true;
    chord_err err;
    if (ui_chat_init(&t.chat, cfg, &err) != CHORD_OK) {
        fprintf(stderr, "chord: %s\n", err.msg);
        ui_chat_free(&t.chat);
        return 1;
    }
    if (!ui_input_init(on_line)) {
        fprintf(stderr, "chord: cannot set up line editing\n");
        ui_chat_free(&t.chat);
        return 1;
    }
    seed_history(t.chat.h);

    struct sigaction sa, old_term, old_hup, old_int;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    sigaction(SIGINT, &sa, &old_int);

    if (!initscr()) {
        fprintf(stderr, "chord: cannot initialise the terminal\n");
        ui_input_shutdown();
        ui_chat_free(&t.chat);
        return 1;
    }
    raw();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    set_mouse(&t);
    mouseinterval(0);
    ui_draw_init();
    if (t.chat.conv_id)
        ui_chat_note(&t.chat, "resumed conversation %lld", (long long)t.chat.conv_id);
    if (cfg->first_message && *cfg->first_message &&
        ui_chat_send(&t.chat, cfg->first_message, &err) != CHORD_OK)
        ui_chat_note(&t.chat, "error: %s", err.msg);
    t.dirty = true;
    loop(&t);

    /* leave curses first so the terminal is back even if the rest is slow */
    endwin();
    ui_picker_close(&t.picker);
    ui_chatview_free(&t.view);
    ui_input_shutdown();
    ui_chat_free(&t.chat);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    sigaction(SIGINT, &old_int, NULL);
    T = NULL;
    return 0;
}
