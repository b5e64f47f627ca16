/*
 * main.c - chord's entry point: picks a subcommand or a mode.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "opts.h"

void app_error(const char *fmt, ...)
{
    va_list ap;
    fputs("chord: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static bool stdout_closed;

void app_init_stdout(void)
{
    /* A reader that goes away (`| head -c 10`) must end the run quietly:
     * with SIGPIPE ignored, write() fails with EPIPE and we stop. */
    signal(SIGPIPE, SIG_IGN);
}

bool app_stdout_write(const void *buf, size_t n)
{
    if (stdout_closed)
        return false;
    if (n && fwrite(buf, 1, n, stdout) != n) {
        stdout_closed = true;
        return false;
    }
    if (fflush(stdout) != 0) {
        stdout_closed = true;
        return false;
    }
    return true;
}

bool app_stdout_closed(void)
{
    return stdout_closed;
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
} subcommands[] = {
    {"inspect", cmd_inspect},
    {"tokenize", cmd_tokenize},
    {"detokenize", cmd_detokenize},
    {"eval", cmd_eval},
    {"chat-template", cmd_chat_template},
    {"history", cmd_history},
    {"bench", cmd_bench},
    {"synth", cmd_synth},
    {"quantize", cmd_quantize},
    {"split", cmd_split},
    {"models", cmd_models},
    {"config", cmd_config},
    {"pull", cmd_pull},
};

/* The options of the main modes a subcommand also takes, so they may come
 * before its name: `chord --db F history list`. */
static const struct {
    const char *sub, *opts;   /* long names, space-separated */
} leading_ok[] = {
    {"history", " db "},
    {"bench", " model threads mem-budget prefetch expert-lru "},
    {"eval", " model threads ctx mem-budget flash-attn verbose "},
    {"tokenize", " model "},
    {"detokenize", " model "},
    {"chat-template", " model "},
};

/* `chord OPTIONS SUBCOMMAND ARGS`: runs the subcommand with the options
 * moved after its name, or refuses an option it does not take (one line,
 * exit 2). -1 when argv is not of that shape (the modes parse it). */
static int leading_options(int argc, char **argv)
{
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        const char *name;
        int arity = opts_flag(argv[i], &name);
        if (arity < 0)
            return -1;
        i += 1 + arity;
    }
    if (i <= 1 || i >= argc)
        return -1;
    int (*fn)(int, char **) = NULL;
    for (size_t k = 0; k < sizeof subcommands / sizeof subcommands[0]; k++)
        if (!strcmp(argv[i], subcommands[k].name))
            fn = subcommands[k].fn;
    if (!fn)
        return -1;
    const char *ok = "";
    for (size_t k = 0; k < sizeof leading_ok / sizeof leading_ok[0]; k++)
        if (!strcmp(argv[i], leading_ok[k].sub))
            ok = leading_ok[k].opts;
    char **v = calloc((size_t)argc + 1, sizeof *v);
    static char spelled[16][48];   /* "--NAME" for the options moved */
    if (!v) {
        app_error("out of memory");
        return EXIT_FAIL;
    }
    int n = 0, n_sp = 0;
    v[n++] = argv[i];
    for (int j = 1; j < i;) {
        const char *name;
        int arity = opts_flag(argv[j], &name);
        char key[48];
        snprintf(key, sizeof key, " %s ", name);
        if (!strstr(ok, key)) {
            app_error("%s is an option of the chat modes, not of chord %s (see chord %s --help)",
                      argv[j], argv[i], argv[i]);
            free(v);
            return EXIT_USAGE;
        }
        /* the long spelling: the subcommands do not all know the aliases */
        if (n_sp < 16) {
            snprintf(spelled[n_sp], sizeof spelled[n_sp], "--%s", name);
            v[n++] = spelled[n_sp++];
        } else {
            v[n++] = argv[j];
        }
        for (int k = 1; k <= arity; k++)
            v[n++] = argv[j + k];
        j += 1 + arity;
    }
    for (int j = i + 1; j < argc; j++)
        v[n++] = argv[j];
    int rc = fn(n, v);
    free(v);
    return rc;
}

int main(int argc, char **argv)
{
    app_init_stdout();
    chord_init();
    if (argc >= 3 && argv[1][0] == '-') {
        int rc = leading_options(argc, argv);
        if (rc >= 0)
            return rc;
    }
    if (argc >= 2 && argv[1][0] != '-') {
        for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
            if (!strcmp(argv[1], subcommands[i].name))
                return subcommands[i].fn(argc - 1, argv + 1);
        app_error("unknown subcommand '%s' (see chord --help)", argv[1]);
        return EXIT_USAGE;
    }
    chord_opts o;
    opts_init(&o);
    bool exit_now;
    int rc = opts_parse(&o, argc, argv, &exit_now);
    if (rc || exit_now)
        return rc;
    if ((rc = opts_resolve_model(&o)))
        return rc;
    if (o.batch)
        return mode_batch(&o);
    return mode_interactive(&o);
}
