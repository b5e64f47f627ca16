/*
 * config.h - chord's config file: defaults for the main modes' options.
 *
 * Where: $CHORD_CONFIG when set (then the file must exist), else
 * $XDG_CONFIG_HOME/chord/config, else ~/.config/chord/config (a missing
 * file there is an empty config).
 *
 * What: one `key = value` per line, keys being the long option names
 * (model, threads, mem-budget, temp, system, ctx...; the list is
 * opts_config_keys in opts.h) plus model-dirs, the extra folders `chord
 * models` lists (colon- or comma-separated). Blank lines and lines
 * starting with '#' are ignored; there are no trailing comments, so a
 * system prompt may hold a '#'. A value may be put in double quotes to keep
 * spaces at its ends. Flags of the command line override the file.
 *
 * Every entry is checked when the file is read, with the same checks as
 * the flag, so a typo fails every command the same way: one line
 * "chord: PATH:LINE: unknown key 'x'" or "... bad value for 'temp': ...",
 * exit status 2.
 */
#ifndef CHORD_APP_CONFIG_H
#define CHORD_APP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct config_entry {
    char *key, *value;
    int line;
    char *where;        /* "PATH:LINE", for messages and `chord config` */
} config_entry;

typedef struct config_file {
    char path[4096];    /* "" when no path could be made (no HOME) */
    bool exists;
    config_entry *v;
    int n;
} config_file;

/* The path the config file is read from (see above); false when there is
 * none (no CHORD_CONFIG, XDG_CONFIG_HOME nor HOME). */
bool config_path(char *buf, size_t n);

/* Reads and checks the config file, once per process: later calls return
 * the same result. NULL after printing the problem (a usage error). */
const config_file *config_load(void);

/* The entry for key, or NULL. */
const config_entry *config_find(const config_file *c, const char *key);

#endif
