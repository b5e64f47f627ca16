/*
 * models.h - the models chord can see, and the names -m takes.
 *
 * Sources, in the order they are listed:
 *   hf         the Hugging Face hub cache (app/hfcache.h): the GGUF files
 *              of each repo's refs/main snapshot, named OWNER/NAME:QUANT
 *              (QUANT is the type tag of the file name; a split model is
 *              one entry, its first part, with the size of all parts);
 *              vision projectors (mmproj-*) are left out, as -m never
 *              means them
 *   llama.cpp  llama.cpp's cache, $LLAMA_CACHE, else
 *              $XDG_CACHE_HOME/llama.cpp, else ~/.cache/llama.cpp: its
 *              *.gguf files (named by their base name, as llama.cpp saved
 *              them: OWNER_REPO_FILE), and any hub-layout repos in it (the
 *              layout newer llama.cpp keeps there)
 *   ollama     ollama's store, $OLLAMA_MODELS, else ~/.ollama/models: each
 *              manifest manifests/HOST/NAMESPACE/NAME/TAG names its model
 *              layer's blob, blobs/sha256-HEX, a GGUF; named ollama:NAME:TAG
 *              (ollama:NAMESPACE/NAME:TAG outside "library",
 *              ollama:HOST/NAMESPACE/NAME:TAG on other registries)
 *   dir        the config file's model-dirs folders (colon- or
 *              comma-separated): their *.gguf files, subfolders included
 * Only headers are read (chord_gguf_summarize). A file that cannot be read
 * is listed with its error rather than left out; the same file reached
 * twice (a model-dirs folder inside a cache) is listed once.
 */
#ifndef CHORD_APP_MODELS_H
#define CHORD_APP_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum models_source {
    MODELS_HF, MODELS_LLAMACPP, MODELS_OLLAMA, MODELS_DIR,
    MODELS_CHORD,         /* chord pull URL's own folder (not a Hub file) */
} models_source;

typedef struct models_entry {
    char *name;           /* what -m takes */
    models_source src;
    char *path;           /* the file to load (a split model's first part) */
    char *repo;           /* hf: OWNER/NAME; else NULL */
    char *repo_dir;       /* hf: the repo's folder in the cache */
    char arch[32];        /* "" when unknown */
    char type_name[16];
    int64_t n_params;     /* 0 when unknown */
    int64_t bytes;        /* all parts */
    int n_parts;          /* files (1 unless split) */
    char *error;          /* NULL, or why the model cannot be read */
} models_entry;

typedef struct models_list {
    models_entry *v;
    int n;
} models_list;

/* "hf", "llama.cpp", "ollama", "dir". */
const char *models_source_name(models_source s);
/* The folder `chord pull URL` downloads other files to; false without
 * XDG_CACHE_HOME and HOME. */
bool models_chord_dir(char *buf, size_t n);

/* Lists every source. False only when out of memory. */
bool models_scan(models_list *out);
void models_list_free(models_list *l);

/* The folders looked in, one per line ("hf         /root/.cache/..."),
 * for `chord models` when it finds nothing. */
void models_print_sources(FILE *f);

/* Turns a -m argument into a file to load:
 *   an existing file          itself
 *   OWNER/NAME[:QUANT]        the hub cache's file with that tag (default
 *                             Q4_K_M), else llama.cpp's (in its hub layout
 *                             or named OWNER_NAME_FILE.gguf); not cached:
 *                             one line saying `chord pull OWNER/NAME:QUANT`
 *   ollama:NAME[:TAG]         ollama's model (TAG default latest)
 *   anything else             the one listed model whose name contains it
 *                             (case-insensitive; an exact name wins);
 *                             several: they are listed; none: says so
 * Returns 0 with the path in buf, or an exit code after printing why. */
int models_resolve(const char *spec, char *buf, size_t n);

/* For the subcommands that take -m: models_resolve into a buffer of its
 * own (one model per run), replacing *model by the file. 0 or the exit
 * code after printing why. */
int models_resolve_arg(const char **model);

/* "1.5B", "494M", "23K". */
void models_fmt_params(int64_t n, char *buf, size_t cap);
/* "468.6 MiB", "4.36 GiB". */
void models_fmt_bytes(int64_t n, char *buf, size_t cap);

#endif
