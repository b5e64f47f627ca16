/*
 * ui_repl.c - the plain REPL: readline when stdin is a terminal, bare lines
 * otherwise, replies streamed to stdout as they come.
 *
 * Ctrl-C stops a reply (the partial text is kept and marked interrupted);
 * Ctrl-D or /quit leaves. A line ending in a backslash continues on the
 * next line.
 */
#include <errno.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "ui.h"
#include "ui_chat.h"
#include "ui_clip.h"
#include "ui_cmd.h"
#include "ui_input.h"

static volatile sig_atomic_t repl_sigint;

static void on_sigint(int sig)
{
    (void)sig;
    repl_sigint = 1;
}

static void repl_text(void *ud, const char *text, size_t len)
{
    (void)ud;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
}

/* The REPL streams a reasoning model's thinking as it comes, dimmed on a
 * terminal (and as plain text otherwise), before the answer. */
static void repl_think(void *ud, const char *text, size_t len)
{
    (void)ud;
    bool dim = isatty(1) && !getenv("NO_COLOR");
    if (dim)
        fputs("\033[2m", stdout);
    fwrite(text, 1, len, stdout);
    if (dim)
        fputs("\033[0m", stdout);
    fflush(stdout);
}

static void repl_note(void *ud, const char *text)
{
    (void)ud;
    printf("%s\n", text);
    fflush(stdout);
}

static void repl_warn(void *ud, const char *text)
{
    (void)ud;
    fflush(stdout);
    fprintf(stderr, "chord: %s\n", text);
}

static void repl_done(void *ud, const chord_event *ev)
{
    (void)ud;
    if (ev->kind == CHORD_EV_DONE && ev->reason == CHORD_STOP_CANCELLED)
        fputs(" [interrupted]", stdout);
    else if (ev->kind == CHORD_EV_DONE && ev->reason == CHORD_STOP_LIMIT && isatty(1))
        /* for the eye only: piped, stdout stays the reply text */
        printf(" [cut at -n %d]", ev->n_gen);
    fputc('\n', stdout);
    fflush(stdout);
}

/* Reads one logical line (joining backslash continuations); NULL at EOF. */
/* /edit: readline starts the next line with the last message. */
static const char *edit_text;

static int edit_hook(void)
{
    if (edit_text) {
        rl_insert_text(edit_text);
        edit_text = NULL;
    }
    return 0;
}

static char *read_logical_line(bool tty)
{
    char *acc = NULL;
    size_t alen = 0;
    for (;;) {
        char *line = NULL;
        if (tty) {
            line = readline(acc ? "... " : "> ");
        } else {
            size_t cap = 0;
            ssize_t n = getline(&line, &cap, stdin);
            if (n < 0) {
                free(line);
                line = NULL;
            } else if (n > 0 && line[n - 1] == '\n') {
                line[n - 1] = 0;
            }
        }
        if (!line)
            return acc;
        size_t n = strlen(line);
        bool more = n > 0 && line[n - 1] == '\\';
        if (more)
            line[--n] = 0;
        char *t = realloc(acc, alen + n + 2);
        if (!t) {
            free(line);
            return acc;
        }
        acc = t;
        memcpy(acc + alen, line, n);
        alen += n;
        acc[alen] = 0;
        free(line);
        if (!more)
            return acc;
        acc[alen++] = '\n';
        acc[alen] = 0;
    }
}

/* Streams the running reply until it ends; Ctrl-C stops it. */
static void repl_wait(ui_chat *c)
{
    while (ui_chat_busy(c)) {
        if (repl_sigint) {
            repl_sigint = 0;
            ui_chat_stop(c);
        }
        struct pollfd p = {.fd = ui_chat_fd(c), .events = POLLIN};
        int r = poll(&p, 1, 200);
        if (r < 0 && errno != EINTR)
            break;
        ui_chat_pump(c, 0);
    }
}

int ui_run_repl(const ui_config *cfg)
{
    ui_chat chat;
    chord_err err;
    if (ui_chat_init(&chat, cfg, &err) != CHORD_OK) {
        fprintf(stderr, "chord: %s\n", err.msg);
        ui_chat_free(&chat);
        return 1;
    }
    chat.hooks = (ui_chat_hooks){.on_text = repl_text, .on_think = repl_think, .on_note = repl_note,
                                 .on_done = repl_done, .on_warn = repl_warn};
    setlocale(LC_CTYPE, "");
    bool tty = isatty(0);
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);
    if (tty) {
        rl_readline_name = "chord";
        rl_attempted_completion_function = ui_input_complete;
        rl_startup_hook = edit_hook;
        using_history();
        if (chat.h) {
            char **v;
            int n;
            if (hist_prompts(chat.h, 500, &v, &n, &err) == CHORD_OK) {
                for (int i = 0; i < n; i++)
                    add_history(v[i]);
                hist_strings_free(v, n);
            }
        }
        if (chat.conv_id)
            printf("(resumed \"%s\": %d messages)\n", chat.title, chat.n_msgs);
    }
    int rc = 0;
    if (cfg->first_message && *cfg->first_message) {   /* -p TEXT */
        if (ui_chat_send(&chat, cfg->first_message, &err) != CHORD_OK)
            fprintf(stderr, "chord: %s\n", err.msg);
        repl_wait(&chat);
    }
    for (;;) {
        repl_sigint = 0;
        char *line = read_logical_line(tty);
        if (!line)
            break;
        if (!*line) {
            free(line);
            continue;
        }
        if (tty)
            add_history(line);
        if (line[0] == '/') {
            int r = ui_cmd_run(&chat, line, false);
            free(line);
            if (r & UI_CMD_QUIT)
                break;
            if (r & UI_CMD_CLEAR && tty)
                fputs("\033[H\033[2J", stdout);
            if (r & UI_CMD_COPY) {
                /* OSC 52 needs the terminal: never into a pipe */
                if (!isatty(1))
                    fprintf(stderr, "chord: /copy: stdout is not a terminal\n");
                else
                    ui_clip_osc52(stdout, chat.clip, chat.clip_len);
                free(chat.clip);
                chat.clip = NULL;
            }
            if (r & UI_CMD_EDIT)   /* the next line is the new text */
                edit_text = tty ? ui_chat_edit_begin(&chat, &err) : NULL;
            repl_wait(&chat);     /* /retry's reply */
            continue;
        }
        if (ui_chat_send(&chat, line, &err) != CHORD_OK)
            fprintf(stderr, "chord: %s\n", err.msg);
        free(line);
        repl_wait(&chat);
    }
    ui_chat_free(&chat);
    sigaction(SIGINT, &old_sa, NULL);
    return rc;
}
