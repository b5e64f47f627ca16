/*
 * ui_input.c - readline in callback mode inside ncurses (see ui_input.h).
 */
#include "ui_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "ui_cmd.h"
#include "ui_wrap.h"

/* Bytes waiting for readline's getc: filled by ui_input_feed, drained by
 * rl_callback_read_char within the same call, so it never grows large. */
static unsigned char fifo[256];
static size_t fifo_head, fifo_len;
static ui_input_line_fn line_fn;
static bool dirty;
static FILE *devnull;
/* text of earlier lines that ended with a backslash */
static char *pending;
static size_t pending_len;

static const char prompt_first[] = "> ";
static const char prompt_more[] = ". ";

static int in_getc(FILE *f)
{
    (void)f;
    if (!fifo_len)
        return EOF;
    int c = fifo[fifo_head];
    fifo_head = (fifo_head + 1) % sizeof fifo;
    fifo_len--;
    return c;
}

static int in_available(void)
{
    return fifo_len > 0;
}

static void in_redisplay(void)
{
    dirty = true;
}

static void in_prep(int meta)
{
    (void)meta;
}

static void in_deprep(void)
{
}

static char *complete_cmd(const char *text, int state)
{
    static int idx;
    static size_t len;
    if (!state) {
        idx = 0;
        len = strlen(text);
    }
    const char *const *v = ui_cmd_names();
    while (v[idx]) {
        const char *n = v[idx++];
        if (!strncmp(n, text, len))
            return strdup(n);
    }
    return NULL;
}

char **ui_input_complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1;
    if (start == 0 && text[0] == '/')
        return rl_completion_matches(text, complete_cmd);
    return NULL;
}

/* Several matches: readline would print a list on its output, under the
 * screen; they are kept here for the TUI to show over the input
 * (ui_input_matches) until the next key. */
static char match_list[512];

static void no_match_list(char **matches, int n, int max)
{
    (void)max;
    size_t len = 0;
    match_list[0] = 0;
    /* matches[0] is the common prefix; the candidates follow */
    for (int i = 1; i <= n && matches[i]; i++) {
        int w = snprintf(match_list + len, sizeof match_list - len, "%s%s", len ? "  " : "",
                         matches[i]);
        if (w < 0 || (size_t)w >= sizeof match_list - len)
            break;
        len += (size_t)w;
    }
    dirty = true;
}

const char *ui_input_matches(void)
{
    return match_list;
}

static bool in_line;          /* inside line_fn */
void ui_input_set(const char *text);
static char *deferred;        /* ui_input_set's text while in_line */

static void on_line(char *line)
{
    if (!line) {
        free(pending);
        pending = NULL;
        pending_len = 0;
        line_fn(NULL);
        return;
    }
    size_t n = strlen(line);
    bool more = n > 0 && line[n - 1] == '\\';
    if (more)
        line[--n] = 0;
    char *t = realloc(pending, pending_len + n + 2);
    if (!t) {
        free(line);
        return;
    }
    pending = t;
    memcpy(pending + pending_len, line, n);
    pending_len += n;
    pending[pending_len] = 0;
    free(line);
    if (more) {
        pending[pending_len++] = '\n';
        pending[pending_len] = 0;
        dirty = true;
        return;
    }
    char *full = pending;
    pending = NULL;
    pending_len = 0;
    dirty = true;
    in_line = true;
    line_fn(full);
    in_line = false;
}

/* A line set from inside the line callback (/edit) waits until readline
 * has finished with the accepted line, which it empties on return. */
static void apply_deferred(void)
{
    if (!deferred)
        return;
    char *d = deferred;
    deferred = NULL;
    ui_input_set(d);
    free(d);
}

bool ui_input_init(ui_input_line_fn fn)
{
    line_fn = fn;
    devnull = fopen("/dev/null", "w");
    if (!devnull)
        return false;
    rl_readline_name = "chord";
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_change_environment = 0;
    rl_getc_function = in_getc;
    rl_input_available_hook = in_available;
    rl_redisplay_function = in_redisplay;
    rl_prep_term_function = in_prep;
    rl_deprep_term_function = in_deprep;
    rl_outstream = devnull;
    rl_attempted_completion_function = ui_input_complete;
    rl_completion_display_matches_hook = no_match_list;
    using_history();
    rl_callback_handler_install("", on_line);
    /* a bell would go to /dev/null anyway; keep readline quiet */
    rl_variable_bind("bell-style", "none");
    rl_variable_bind("enable-bracketed-paste", "off");
    /* one Tab lists the candidates when there are several */
    rl_variable_bind("show-all-if-ambiguous", "on");
    return true;
}

void ui_input_shutdown(void)
{
    free(deferred);
    deferred = NULL;
    rl_callback_handler_remove();
    rl_outstream = stdout;
    rl_getc_function = rl_getc;
    rl_redisplay_function = rl_redisplay;
    rl_input_available_hook = NULL;
    if (devnull)
        fclose(devnull);
    devnull = NULL;
    free(pending);
    pending = NULL;
    pending_len = 0;
}

void ui_input_feed(const char *bytes, size_t n)
{
    match_list[0] = 0;    /* shown until the next key */
    for (size_t i = 0; i < n; i++) {
        if (fifo_len == sizeof fifo)
            rl_callback_read_char();
        fifo[(fifo_head + fifo_len) % sizeof fifo] = (unsigned char)bytes[i];
        fifo_len++;
    }
    while (fifo_len) {
        rl_callback_read_char();
        apply_deferred();
    }
    dirty = true;
}

bool ui_input_key(int key)
{
    switch (key) {
    case KEY_LEFT: rl_backward_char(1, 0); break;
    case KEY_RIGHT: rl_forward_char(1, 0); break;
    case KEY_UP: rl_get_previous_history(1, 0); break;
    case KEY_DOWN: rl_get_next_history(1, 0); break;
    case KEY_DC: rl_delete(1, 0); break;
    case KEY_BACKSPACE: rl_rubout(1, 0); break;
    case KEY_ENTER: ui_input_feed("\r", 1); return true;
    default: return false;
    }
    dirty = true;
    return true;
}

void ui_input_insert(const char *text)
{
    rl_insert_text(text);
    dirty = true;
}

void ui_input_set(const char *text)
{
    if (in_line) {
        free(deferred);
        deferred = strdup(text);
        return;
    }
    ui_input_clear();
    rl_replace_line(text, 0);
    rl_point = rl_end;
    dirty = true;
}

void ui_input_clear(void)
{
    rl_replace_line("", 0);
    rl_point = rl_end = 0;
    free(pending);
    pending = NULL;
    pending_len = 0;
    dirty = true;
}

bool ui_input_empty(void)
{
    return rl_end == 0 && pending_len == 0;
}

void ui_input_add_history(const char *line)
{
    add_history(line);
    /* the next Up starts from the newest entry, also for entries seeded
     * outside a line handler */
    using_history();
}

bool ui_input_take_dirty(void)
{
    bool d = dirty;
    dirty = false;
    return d;
}

/* The whole input as one text: pending lines, the prompt marks and the
 * line; *cur receives the byte offset of the cursor. Returns malloc'd text. */
static char *compose(size_t *cur)
{
    size_t ll = rl_line_buffer ? (size_t)rl_end : 0;
    size_t cap = pending_len * 2 + ll + 64;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    size_t n = 0;
    /* every line of the pending text gets its own prompt mark */
    const char *p = pending ? pending : "";
    memcpy(s + n, prompt_first, 2);
    n += 2;
    for (size_t i = 0; i < pending_len; i++) {
        s[n++] = p[i];
        if (p[i] == '\n') {
            memcpy(s + n, prompt_more, 2);
            n += 2;
        }
    }
    if (ll)
        memcpy(s + n, rl_line_buffer, ll);
    *cur = n + (size_t)rl_point;
    n += ll;
    s[n] = 0;
    return s;
}

int ui_input_rows(int width, int max_rows)
{
    size_t cur;
    char *s = compose(&cur);
    if (!s)
        return 1;
    /* one spare cell so the cursor after the last character fits */
    int n = ui_wrap(s, strlen(s), width - 1, NULL, 0);
    free(s);
    return n < 1 ? 1 : n > max_rows ? max_rows : n;
}

void ui_input_draw(WINDOW *w, int y, int x, int width, int rows, int *cy, int *cx)
{
    size_t cur;
    char *s = compose(&cur);
    *cy = y;
    *cx = x;
    if (!s)
        return;
    size_t len = strlen(s);
    int n = ui_wrap(s, len, width - 1, NULL, 0);
    ui_line *L = malloc((size_t)n * sizeof *L);
    if (!L) {
        free(s);
        return;
    }
    ui_wrap(s, len, width - 1, L, n);
    /* the cursor's line: the last line starting at or before it */
    int cl = 0;
    for (int i = 0; i < n; i++)
        if (L[i].start <= cur)
            cl = i;
    int first = cl - rows + 1 > 0 ? cl - rows + 1 : 0;
    for (int i = first; i < n && i < first + rows; i++) {
        size_t a = L[i].start, b = L[i].end;
        wmove(w, y + i - first, x);
        waddnstr(w, s + a, (int)(b - a));
        if (i == cl) {
            size_t e = cur < a ? a : cur > b ? b : cur;
            *cy = y + i - first;
            *cx = x + ui_text_width(s + a, e - a);
        }
    }
    free(L);
    free(s);
}
