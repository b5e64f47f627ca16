/*
 * cmd.h - the chord executable's subcommands and modes.
 *
 * Each subcommand lives in its own app/cmd_<name>.c and gets argv with
 * argv[0] = the subcommand name. Exit codes mean the same everywhere:
 *   0  success
 *   1  failure (bad model, bad input, I/O error, engine error)
 *   2  usage error (unknown flag, missing argument, value out of range)
 * Only app/ prints and exits; the libraries return status codes.
 */
#ifndef CHORD_APP_CMD_H
#define CHORD_APP_CMD_H

#include "opts.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

int cmd_inspect(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_chat_template(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_split(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_pull(int argc, char **argv);

/* `chord --batch ...`: the engine for pipes (app/mode_batch.c). */
int mode_batch(const chord_opts *o);
/* `chord -m MODEL`: the TUI, or the plain REPL with --no-tui or when stdin or
 * stdout is not a terminal (app/mode_interactive.c, which calls into ui/). */
int mode_interactive(const chord_opts *o);

/* Prints "chord: " + the formatted message + newline to stderr. */
void app_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Ignore SIGPIPE and treat EPIPE on stdout as a quiet, successful end:
 * app_stdout_write() returns false once the reader has gone away. */
void app_init_stdout(void);
bool app_stdout_write(const void *buf, size_t n);
bool app_stdout_closed(void);

#endif
