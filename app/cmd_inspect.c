/*
 * cmd_inspect.c - `chord inspect [-m] MODEL [--json]`: describes a GGUF file
 * on stdout: a one-line summary, then the header, metadata, tensor table,
 * totals by type and per-layer bytes; --json gives the summary as one JSON
 * object instead.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "models.h"

static void usage(FILE *f)
{
    fputs("usage: chord inspect [-m] MODEL [--json]\n"
          "MODEL is a file or a name as -m takes it (OWNER/NAME[:QUANT], ollama:NAME,\n"
          "a name from chord models). Prints a one-line summary (name, architecture,\n"
          "parameters, main type, size), then the file's header, metadata, tensor\n"
          "table, totals by tensor type and the bytes of each layer as the layer\n"
          "cache groups them.\n"
          "  --json    the summary as one JSON object (path, name, arch, type,\n"
          "            n_params, bytes, parts), nothing else\n", f);
}

/* What a path that is not a plain file is, for the one line refusing it:
 * opening a FIFO would wait for a writer, a device could read forever. */
static const char *not_regular(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || S_ISREG(sb.st_mode))
        return NULL;   /* missing: the reader says so, naming the file */
    if (S_ISDIR(sb.st_mode))
        return "a directory";
    if (S_ISFIFO(sb.st_mode))
        return "a FIFO";
    if (S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode))
        return "a device";
    if (S_ISSOCK(sb.st_mode))
        return "a socket";
    return "not a regular file";
}

static void summary_json(const char *path, const chord_gguf_summary *s)
{
    fputs("{\"path\":", stdout);
    chord_json_write_str(stdout, path, strlen(path));
    fputs(",\"name\":", stdout);
    chord_json_write_str(stdout, s->name, strlen(s->name));
    fputs(",\"arch\":", stdout);
    chord_json_write_str(stdout, s->arch, strlen(s->arch));
    fputs(",\"type\":", stdout);
    chord_json_write_str(stdout, s->type_name, strlen(s->type_name));
    printf(",\"n_params\":%lld,\"bytes\":%lld,\"parts\":%d}\n", (long long)s->n_params,
           (long long)s->file_bytes, s->split_count > 0 ? s->split_count : 1);
}

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--json")) {
            json = true;
            continue;
        }
        /* -m MODEL as the other subcommands take it */
        bool m = !strcmp(argv[i], "-m") || !strcmp(argv[i], "--model");
        if ((m || !strcmp(argv[i], "--")) && i + 1 < argc && !path) {
            path = argv[++i];
            continue;
        }
        if (m) {
            app_error("inspect: %s needs a MODEL", argv[i]);
            return EXIT_USAGE;
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
        app_error("inspect: missing MODEL (usage: chord inspect [-m] MODEL [--json])");
        return EXIT_USAGE;
    }
    const char *what = not_regular(path);
    if (what) {
        app_error("inspect: %s is %s, not a GGUF file", path, what);
        return EXIT_FAIL;
    }
    int mrc = models_resolve_arg(&path);
    if (mrc)
        return mrc;
    chord_err err;
    chord_gguf_summary s;
    bool have = chord_gguf_summarize(path, &s, &err) == CHORD_OK;
    if (json) {
        if (!have) {
            app_error("%s", err.msg);
            return EXIT_FAIL;
        }
        summary_json(path, &s);
        return fflush(stdout) == 0 || errno == EPIPE ? EXIT_OK : EXIT_FAIL;
    }
    if (have) {
        /* a file that cannot be summarized gets the reader's own error below */
        char p[16], b[32], parts[32] = "";
        models_fmt_params(s.n_params, p, sizeof p);
        models_fmt_bytes(s.file_bytes, b, sizeof b);
        if (s.split_count > 1)
            snprintf(parts, sizeof parts, " in %d parts", s.split_count);
        printf("summary:     %s: %s, %s params, %s, %s%s\n", s.name[0] ? s.name : "(unnamed)",
               s.arch[0] ? s.arch : "unknown architecture", p, s.type_name[0] ? s.type_name : "no tensors",
               b, parts);
    }
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
