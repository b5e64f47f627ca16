/*
 * cmd_quantize.c - `chord quantize IN OUT TYPE`: re-quantizes a model.
 */
#include <string.h>

#include "cmd.h"
#include "tool_report.h"

static void usage(FILE *f)
{
    fputs("usage: chord quantize IN.gguf OUT.gguf TYPE\n"
          "Re-quantizes every matrix of IN to TYPE (F32, F16, BF16, Q4_0, Q4_1, Q5_0,\n"
          "Q5_1, Q8_0, Q2_K..Q6_K, Q3_K_M, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M), tensor by\n"
          "tensor; vectors become F32 and the metadata is kept. A matrix whose rows\n"
          "do not fill TYPE's blocks gets a type they fill (a warning names it).\n"
          "Progress on stderr when it is a terminal; a summary line at the end.\n", f);
}

int cmd_quantize(int argc, char **argv)
{
    const char *pos[3];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            app_error("quantize: unknown option '%s' (see chord quantize --help)", argv[i]);
            return EXIT_USAGE;
        }
        if (n == 3) {
            app_error("quantize: too many arguments (usage: chord quantize IN OUT TYPE)");
            return EXIT_USAGE;
        }
        pos[n++] = argv[i];
    }
    if (n != 3) {
        app_error("quantize: expected IN OUT TYPE (usage: chord quantize IN OUT TYPE)");
        return EXIT_USAGE;
    }
    chord_err err;
    tool_progress *pr = tool_progress_start("quantize", pos[1]);
    chord_status st = chord_quantize(pos[0], pos[1], pos[2], &err);
    double secs = tool_progress_stop(pr);
    if (st != CHORD_OK) {
        app_error("quantize: %s", err.msg);
        return st == CHORD_E_INVALID ? EXIT_USAGE : EXIT_FAIL;
    }
    tool_report("quantize", pos[1], pos[2], secs);
    return EXIT_OK;
}
