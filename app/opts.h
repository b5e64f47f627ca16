/*
 * opts.h - the options of chord's main modes (--batch, TUI, REPL).
 *
 * One parser for every mode, so a flag means the same thing everywhere.
 * Subcommands (inspect, eval, history...) parse their own argv but may use
 * opts_parse_size() and friends.
 */
#ifndef CHORD_APP_OPTS_H
#define CHORD_APP_OPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "chord.h"

typedef struct chord_opts {
    const char *model;          /* -m */
    bool batch;                 /* --batch */
    bool raw;                   /* --raw: text completion, no chat template */
    const char *prompt;         /* -p TEXT */
    const char *prompt_tokens;  /* --prompt-tokens "1 2 3" */
    bool token_ids;             /* --token-ids: print ids, not text */
    bool json;                  /* --json: one JSON event per line */
    int n_predict;              /* -n (default -1: until end of turn / ctx) */
    chord_sampler_params sampling; /* --temp --top-k --top-p --min-p
                                      --repeat-penalty --repeat-last-n --seed */
    const char *draft;          /* --draft MODEL: the file, once resolved */
    const char *draft_spec;     /* --draft as given (as -m takes it) */
    int draft_max;              /* --draft-max N (0 = 8) */
    bool lookup;                /* --lookup: prompt lookup decoding */
    int n_ctx;                  /* --ctx (0 = model's, capped at 4096) */
    int n_threads;              /* --threads (0 = cores) */
    bool unfused_attn;          /* --flash-attn off */
    int cache_type_k, cache_type_v; /* --cache-type-k/-v: a chord_kv_type */
    int64_t mem_budget;         /* --mem-budget SIZE|auto|all (0 = auto, -1 = all) */
    int prefetch;               /* --prefetch N (default 2) */
    bool direct_io;             /* --direct-io */
    bool expert_lru;            /* --expert-lru: evict experts least recently used */
    int verbose;                /* -v (repeatable) */
    const char *system;         /* --system TEXT */
    const char *chat_template;  /* --chat-template FILE|NAME */
    int thinking;               /* --think: a chord_thinking */
    const char *db;             /* --db PATH */
    bool no_history;            /* --no-history */
    bool require_history;       /* --require-history (--batch) */
    bool continue_last;         /* -c / --continue */
    int64_t resume_id;          /* --resume ID (0 = none) */
    bool no_tui;                /* --no-tui */
    bool no_ctx_shift;          /* --no-ctx-shift (--ctx-shift: false) */
    int64_t kv_store;           /* --kv-store SIZE: cap of the saved KV
                                   caches' folder (default 2G; 0 = none) */
    const char *model_spec;     /* -m as given (a path, OWNER/NAME:QUANT,
                                   ollama:NAME, a short name); model is the
                                   file it names once opts_resolve_model ran */
    const char *model_dirs;     /* config file only: extra model folders */
    const char *origin[48];     /* per option (opts_keys order): NULL =
                                   default, "command line" or "PATH:LINE" */
} chord_opts;

/* Fills defaults. */
void opts_init(chord_opts *o);

/* Applies the config file (app/config.h), then parses argv (argv[0] =
 * program), so flags override the file. Returns 0, or EXIT_USAGE after
 * printing the problem; sets *exit_now when --help/--version was handled.
 * A missing model is not an error here (see opts_resolve_model). */
int opts_parse(chord_opts *o, int argc, char **argv, bool *exit_now);

/* Turns the model name given (-m or the config file's) into its file
 * (app/models.h); with none, --batch is a usage error and the interactive
 * mode offers a picker. 0, or the exit code after printing the problem. */
int opts_resolve_model(chord_opts *o);

/* Every long option, in --help order (NULL-terminated); those a config
 * file may set answer true to opts_key_in_config. */
extern const char *const opts_keys[];
bool opts_key_in_config(const char *key);

enum { OPTS_SET_OK, OPTS_SET_UNKNOWN, OPTS_SET_BAD, OPTS_SET_CLI_ONLY };
/* Sets the option named key (a long name without the dashes) from the text
 * val, checked as its flag is (a flag without a value takes true/false,
 * on/off, yes/no, 1/0); where (NULL = default) is kept as its origin.
 * Returns OPTS_SET_*; on OPTS_SET_BAD *why says what is expected. */
int opts_set(chord_opts *o, const char *key, const char *val, const char *where,
             const char **why);
/* The option's value as `chord config` shows it, into buf. */
void opts_value_str(const chord_opts *o, const char *key, char *buf, size_t n);
/* "default", "command line" or "PATH:LINE". */
const char *opts_origin(const chord_opts *o, const char *key);

/* A command-line flag of the main modes ("--temp", "-m"): 1 if it takes a
 * value, 0 if not, -1 if it is not one of them; *name gets its long name
 * ("temp", "model"). */
int opts_flag(const char *arg, const char **name);

/* Sizes like 600M, 2G, 1.5GiB, 123456 (bytes). Returns -1 if malformed. */
int64_t opts_parse_size(const char *s);

/* Strict integer/float parsing: the whole string, in [lo, hi]. */
bool opts_parse_int(const char *s, long long lo, long long hi, long long *out);
bool opts_parse_float(const char *s, double lo, double hi, double *out);

/* Parses "1 2 3" (spaces or commas) into a malloc'd array; -1 on error. */
int opts_parse_token_list(const char *s, chord_token **out);

/* chord_model_params / chord_ctx_params from the options. */
chord_model_params opts_model_params(const chord_opts *o);
chord_ctx_params opts_ctx_params(const chord_opts *o);
/* At start, on stderr: how a default context was sized (with -v, or
 * when memory made it shorter than the model's own) and, with -v, what
 * its KV cache holds. */
void app_ctx_notes(const chord_opts *o, const chord_ctx *c);

void opts_usage(FILE *f);

#endif
