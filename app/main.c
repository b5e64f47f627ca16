/*
 * main.c - chord's entry point: picks a subcommand or a mode.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

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

int main(int argc, char **argv)
{
    app_init_stdout();
    chord_init();
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
