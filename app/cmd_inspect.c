/*
 * cmd_inspect.c - `chord inspect MODEL`: describes a GGUF file (header,
 * metadata, tensor table, totals by type, per-layer bytes) on stdout.
 */
#include <errno.h>
#include <string.h>

#include "cmd.h"
#include "models.h"

static void usage(FILE *f)
{
    fputs("usage: chord inspect MODEL.gguf\n"
          "Prints the file's header, metadata, tensor table, totals by tensor type\n"
          "and the bytes of each layer as the layer cache groups them.\n", f);
}

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--") && i + 1 < argc && !path) {
            path = argv[++i];
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            app_error("inspect: unknown option '%s' (see chord inspect --help)", argv[i]);
            return EXIT_USAGE;
        }
        if (path) {
            app_error("inspect: one model at a time ('%s' and '%s')", path, argv[i]);
            return EXIT_USAGE;
        }
        path = argv[i];
    }
    if (!path) {
        app_error("inspect: missing MODEL (usage: chord inspect MODEL.gguf)");
        return EXIT_USAGE;
    }
    int mrc = models_resolve_arg(&path);
    if (mrc)
        return mrc;
    chord_err err;
    chord_status st = chord_inspect(path, stdout, &err);
    if (st) {
        /* a reader that went away (`| head`) is a quiet end, not a failure */
        if (st == CHORD_E_IO && ferror(stdout) && errno == EPIPE)
            return EXIT_OK;
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}
