/*
 * cmd_config.c - `chord config [OPTIONS]`: the settings a run with those
 * options would use, and where each comes from (the default, a line of the
 * config file, or the command line).
 */
#include <string.h>

#include "cmd.h"
#include "config.h"

static void usage(FILE *f)
{
    char path[4096];
    fprintf(f,
            "usage: chord config [OPTIONS]\n"
            "Prints the settings chord would run with (given the same OPTIONS as\n"
            "chord itself) and where each comes from: default, the config file's\n"
            "line, or the command line.\n"
            "The config file is %s\n"
            "($CHORD_CONFIG, else $XDG_CONFIG_HOME/chord/config, else\n"
            "~/.config/chord/config): `key = value` lines with the long option names,\n"
            "'#' comment lines. For example:\n"
            "  model = Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M\n"
            "  temp = 0.7\n"
            "  threads = 4\n"
            "  model-dirs = ~/models:/srv/gguf\n"
            "Flags on the command line override the file.\n",
            config_path(path, sizeof path) ? path : "(none: no HOME)");
}

int cmd_config(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return EXIT_OK;
        }
    chord_opts o;
    opts_init(&o);
    bool exit_now;
    int rc = opts_parse(&o, argc, argv, &exit_now);
    if (rc || exit_now)
        return rc;
    const config_file *cf = config_load();
    if (cf->path[0])
        printf("# config file: %s%s\n", cf->path, cf->exists ? "" : " (not there: every value is a default)");
    else
        printf("# config file: none (no CHORD_CONFIG, XDG_CONFIG_HOME nor HOME)\n");
    int kw = 0;
    for (const char *const *k = opts_keys; *k; k++)
        if (opts_key_in_config(*k) && (int)strlen(*k) > kw)
            kw = (int)strlen(*k);
    for (const char *const *k = opts_keys; *k; k++) {
        if (!opts_key_in_config(*k))
            continue;
        char v[1024];
        opts_value_str(&o, *k, v, sizeof v);
        printf("%-*s = %-24s # %s\n", kw, *k, v, opts_origin(&o, *k));
    }
    return EXIT_OK;
}
