/*
 * cmd_split.c - `chord split`: a model as the parts of a split model
 * (llama.cpp's gguf-split layout, which chord and llama.cpp both load),
 * and `chord split --merge`: the parts back into one file.
 */
#include <string.h>

#include "cmd.h"

static void usage(FILE *f)
{
    fputs("usage: chord split (--max-tensors N | --max-size SIZE) [--dry-run] IN.gguf OUTPREFIX\n"
          "       chord split --merge PART.gguf OUT.gguf\n"
          "Writes IN as OUTPREFIX-00001-of-0000K.gguf ... OUTPREFIX-0000K-of-0000K.gguf,\n"
          "the split layout of llama.cpp's gguf-split: the tensors in order, a new part\n"
          "after N tensors or before a part's tensor data would pass SIZE (as\n"
          "--mem-budget: 500M, 2G, bytes); a tensor is never cut. The first part holds\n"
          "the metadata; every part carries split.no, split.count and\n"
          "split.tensors.count. `chord -m` loads a split model from any of its parts.\n"
          "--merge writes the split model PART belongs to as the one file OUT (which\n"
          "must not exist).\n"
          "--dry-run  only print the parts it would write\n", f);
}

int cmd_split(int argc, char **argv)
{
    chord_split_params p = {0};
    bool merge = false;
    const char *pos[2];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "--merge")) {
            merge = true;
        } else if (!strcmp(a, "--dry-run")) {
            p.dry_run = true;
        } else if (!strcmp(a, "--max-tensors") || !strcmp(a, "--max-size")) {
            if (i + 1 >= argc) {
                app_error("split: %s needs a value", a);
                return EXIT_USAGE;
            }
            const char *v = argv[++i];
            long long t;
            if (!strcmp(a, "--max-tensors")) {
                if (!opts_parse_int(v, 1, 1 << 30, &t)) {
                    app_error("split: --max-tensors '%s': expected a count of at least 1", v);
                    return EXIT_USAGE;
                }
                p.max_tensors = (int)t;
            } else if ((p.max_bytes = opts_parse_size(v)) <= 0) {
                app_error("split: --max-size '%s': expected a size such as 500M or 2G", v);
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--") && i + 1 < argc) {
            for (i++; i < argc && n < 2; i++)
                pos[n++] = argv[i];
            if (i < argc) {
                app_error("split: too many arguments (see chord split --help)");
                return EXIT_USAGE;
            }
        } else if (a[0] == '-' && a[1]) {
            app_error("split: unknown option '%s' (see chord split --help)", a);
            return EXIT_USAGE;
        } else if (n == 2) {
            app_error("split: too many arguments (see chord split --help)");
            return EXIT_USAGE;
        } else {
            pos[n++] = a;
        }
    }
    if (merge && (p.max_tensors || p.max_bytes || p.dry_run)) {
        app_error("split: --merge takes no --max-tensors, --max-size or --dry-run");
        return EXIT_USAGE;
    }
    if (!merge && (p.max_tensors > 0) == (p.max_bytes > 0)) {
        app_error("split: give one of --max-tensors N and --max-size SIZE");
        return EXIT_USAGE;
    }
    if (n != 2) {
        app_error(merge ? "split: expected PART.gguf OUT.gguf (usage: chord split --merge PART.gguf OUT.gguf)"
                        : "split: expected IN.gguf OUTPREFIX (see chord split --help)");
        return EXIT_USAGE;
    }
    chord_err err;
    chord_status st = merge ? chord_merge(pos[0], pos[1], stdout, &err)
                            : chord_split(pos[0], pos[1], &p, stdout, &err);
    if (st != CHORD_OK) {
        app_error("split: %s", err.msg);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}
