/*
 * opts.c - parsing the main modes' options (see opts.h).
 *
 * Values are checked here, at the edge, so that the engine only ever sees
 * numbers in range: a bad value is a usage error (exit 2) naming the flag.
 */
#include "opts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "models.h"

void opts_init(chord_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_predict = -1;
    o->sampling = chord_sampler_default_params();
    o->prefetch = 2;
    o->kv_store = 2ll << 30;
}

bool opts_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool opts_parse_float(const char *s, double lo, double hi, double *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int64_t opts_parse_size(const char *s)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0)
        return -1;
    double mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1024.0; end++; break;
    case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
    case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
    case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (mul > 1 && (*end == 'i' || *end == 'I'))
        end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end)
        return -1;
    double bytes = v * mul;
    if (bytes > 9.0e18)
        return -1;
    return (int64_t)bytes;
}

int opts_parse_token_list(const char *s, chord_token **out)
{
    size_t cap = 16, n = 0;
    chord_token *v = malloc(cap * sizeof *v);
    if (!v)
        return -1;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        char *end;
        errno = 0;
        long t = strtol(p, &end, 10);
        if (end == p || errno || t < 0 || t > INT32_MAX) {
            free(v);
            return -1;
        }
        if (n == cap) {
            chord_token *nv = realloc(v, cap * 2 * sizeof *v);
            if (!nv) { free(v); return -1; }
            v = nv;
            cap *= 2;
        }
        v[n++] = (chord_token)t;
        p = end;
    }
    *out = v;
    return (int)n;
}

chord_model_params opts_model_params(const chord_opts *o)
{
    chord_model_params p = chord_model_default_params();
    p.n_threads = o->n_threads;
    p.mem_budget = o->mem_budget;
    p.prefetch = o->prefetch;
    p.direct_io = o->direct_io;
    p.expert_lru = o->expert_lru;
    p.verbose_plan = o->verbose > 0;
    return p;
}

chord_ctx_params opts_ctx_params(const chord_opts *o)
{
    chord_ctx_params p = chord_ctx_default_params();
    p.n_ctx = o->n_ctx;
    p.n_threads = o->n_threads;
    p.unfused_attn = o->unfused_attn;
    p.type_k = (chord_kv_type)o->cache_type_k;
    p.type_v = (chord_kv_type)o->cache_type_v;
    return p;
}

void opts_usage(FILE *f)
{
    fputs(
"usage: chord [-m MODEL] [options]          chat in the terminal (TUI)\n"
"       chord --batch -m MODEL [options]    the same engine for pipes\n"
"       chord SUBCOMMAND ...                 see below\n"
"\n"
"model and memory:\n"
"  -m, --model MODEL       a GGUF file (llama, qwen2, qwen3, qwen3moe, gemma2, gemma3,\n"
"                          phi3), OWNER/NAME[:QUANT] from the Hugging Face cache\n"
"                          (QUANT default Q4_K_M), ollama:NAME[:TAG], or a part of\n"
"                          a name chord models lists; without one: the config\n"
"                          file's model, else a picker of the models listed\n"
"  --ctx N                 context length (default: the model's own, or what\n"
"                          half the memory left after the weights holds)\n"
"  --flash-attn on|off     attention in the numerics of llama.cpp's flash-attention\n"
"                          kernel (on, the default) or of its unfused graph (off)\n"
"  -ctk, --cache-type-k T  KV cache keys: f16 (default), q8_0 or q4_0 (quantized:\n"
"  -ctv, --cache-type-v T  0.53x or 0.28x the bytes; needs --flash-attn on)\n"
"  --threads N             compute threads (default: number of cores)\n"
"  --mem-budget SIZE       bytes of weights kept in memory: 600M, 2G, auto, all\n"
"                          (default auto: all of it if it fits in 80% of RAM)\n"
"  --prefetch N            layers read ahead while streaming (default 2)\n"
"  --direct-io             stream layers with O_DIRECT instead of fadvise\n"
"  --expert-lru            mixtures of experts beyond the budget: evict the least\n"
"                          recently used expert (default: decayed use counts)\n"
"\n"
"generation:\n"
"  -n N                    max tokens per reply (default: until end of turn)\n"
"  --temp T                temperature; 0 = greedy (default 0.8)\n"
"  --top-k K               keep the K most likely tokens (default 40, 0 = off)\n"
"  --top-p P               nucleus sampling (default 0.95, 1 = off)\n"
"  --min-p P               drop tokens below P x the top probability (default 0.05)\n"
"  --repeat-penalty R      penalize recent tokens (default 1.0 = off)\n"
"  --repeat-last-n N       window of the penalty (default 64)\n"
"  --seed S                random seed; -1 = random (the default): drawn at start,\n"
"                          recorded in the history and shown by -v, so --seed S\n"
"                          gives the same replies again\n"
"  --draft MODEL           speculative decoding: a small model of the same\n"
"                          vocabulary (named as -m takes it) proposes tokens, the\n"
"                          model checks several per pass; the same replies (greedy:\n"
"                          token for token; sampled: the same distribution), faster\n"
"                          when the draft often agrees. It stays in memory: the auto\n"
"                          --mem-budget takes its size off the model's\n"
"  --draft-max N           tokens proposed per check (default 8, 1 to 32; fewer\n"
"                          while few are kept)\n"
"  --lookup                prompt lookup: propose what followed the last earlier\n"
"                          occurrence of the latest tokens in the conversation\n"
"                          (quotes, code edits); with --draft, the draft proposes\n"
"                          when nothing matches\n"
"\n"
"chat:\n"
"  --system TEXT           system prompt\n"
"  --chat-template F|NAME  template file or built-in family (chatml, llama2,\n"
"                          llama3, zephyr, phi3, gemma, mistral)\n"
"  -c, --continue          continue the most recent conversation\n"
"  --think on|off          a reasoning model thinks first or not (the template's\n"
"                          enable_thinking, as Qwen3's; /think in a chat)\n"
"  --resume ID             continue conversation ID\n"
"  --db PATH               history database (default $XDG_DATA_HOME/chord/history.db)\n"
"  --no-history            do not record this session\n"
"  --require-history       --batch: exit 3 when the history cannot be opened or\n"
"                          written (the default only warns and chats on)\n"
"  --no-tui                plain readline REPL instead of the full-screen UI\n"
"  --ctx-shift             when the context fills, drop the oldest turns from the\n"
"                          KV cache itself and move the rest down (keys turned\n"
"                          back by their RoPE): only the new turn is prefilled\n"
"                          (the default; every family; a sliding-window model\n"
"                          whose rings lost the next window prefills again)\n"
"  --no-ctx-shift          prefill the remaining conversation again instead\n"
"  --kv-store SIZE         a conversation's KV cache is saved after each turn\n"
"                          ($XDG_CACHE_HOME/chord/kv), so -c, --resume and\n"
"                          /history ID prefill only what it lacks; the folder is\n"
"                          kept under SIZE (default 2G, least recently used files\n"
"                          go first); 0 saves and loads none\n"
"\n"
"batch mode (--batch):\n"
"  --raw                   text completion of the prompt, no chat template\n"
"  -p, --prompt TEXT       the prompt (default: stdin; one user turn per line);\n"
"                          without --batch: the chat's first message\n"
"  --prompt-tokens \"1 2\"   the prompt as token ids (with --raw)\n"
"  --token-ids             print generated token ids instead of text\n"
"  --json                  one JSON object per event per line\n"
"  -v, --verbose           load and timing messages on stderr\n"
"\n"
"subcommands:\n"
"  pull OWNER/NAME[:QUANT] | URL       download a model into the Hugging Face cache\n"
"  models [list|rm NAME] [--json]      the models chord can see; rm one from the cache\n"
"  config [options]                    the settings in effect and where each comes from\n"
"  inspect MODEL                       metadata, tensors, per-layer bytes\n"
"  tokenize -m MODEL [--no-bos] TEXT   print token ids\n"
"  detokenize -m MODEL IDS...          print text\n"
"  eval -m MODEL --tokens \"1 2\" --dump-logits OUT.f32\n"
"  chat-template (-m MODEL | --template FILE) --messages FILE.json\n"
"  history list|show|search|export|rm|stats ...\n"
"  bench -m MODEL [-p 512] [-n 128] [-r 3] [--json]\n"
"  synth --arch A --dim D --layers L --heads H --kv-heads K --ffn F --type T -o FILE\n"
"  quantize IN OUT TYPE\n"
"  split --max-tensors N|--max-size SIZE IN PREFIX   split a model; --merge PART OUT\n"
"\n"
"config file: $CHORD_CONFIG, else $XDG_CONFIG_HOME/chord/config, else\n"
"~/.config/chord/config: `key = value` lines with the long option names above\n"
"(model, threads, temp, system, ...) and model-dirs (more folders of models,\n"
"colon- or comma-separated); flags override it. See chord config --help.\n"
"\n"
"  -h, --help              this text\n"
"  --version               print the version\n", f);
}

/* Every long option: its short alias, whether it takes a value, and whether
 * it may live in the config file (not the ones that describe one run: the
 * prompt, the output format, the conversation to resume) or only there
 * (model-dirs). The order is --help's, which `chord config` follows. */
static const struct opt_def {
    const char *name, *alias;
    bool value, config, cli;
} opt_defs[] = {
    {"model", "-m", true, true, true},
    {"model-dirs", NULL, true, true, false},
    {"ctx", NULL, true, true, true},
    {"flash-attn", "-fa", true, true, true},
    {"cache-type-k", "-ctk", true, true, true},
    {"cache-type-v", "-ctv", true, true, true},
    {"threads", "-t", true, true, true},
    {"mem-budget", NULL, true, true, true},
    {"prefetch", NULL, true, true, true},
    {"direct-io", NULL, false, true, true},
    {"expert-lru", NULL, false, true, true},
    {"n-predict", "-n", true, true, true},
    {"temp", NULL, true, true, true},
    {"top-k", NULL, true, true, true},
    {"top-p", NULL, true, true, true},
    {"min-p", NULL, true, true, true},
    {"repeat-penalty", NULL, true, true, true},
    {"repeat-last-n", NULL, true, true, true},
    {"seed", NULL, true, true, true},
    {"draft", NULL, true, true, true},
    {"draft-max", NULL, true, true, true},
    {"lookup", NULL, false, true, true},
    {"system", NULL, true, true, true},
    {"chat-template", NULL, true, true, true},
    {"think", NULL, true, true, true},
    {"db", NULL, true, true, true},
    {"no-history", NULL, false, true, true},
    {"require-history", NULL, false, true, true},
    {"no-tui", NULL, false, true, true},
    {"ctx-shift", NULL, false, true, true},
    {"no-ctx-shift", NULL, false, true, true},
    {"kv-store", NULL, true, true, true},
    {"continue", "-c", false, false, true},
    {"resume", NULL, true, false, true},
    {"batch", NULL, false, false, true},
    {"raw", NULL, false, false, true},
    {"prompt", "-p", true, false, true},
    {"prompt-tokens", NULL, true, false, true},
    {"token-ids", NULL, false, false, true},
    {"json", NULL, false, false, true},
    {"verbose", "-v", false, false, true},
};
#define N_OPTS ((int)(sizeof opt_defs / sizeof opt_defs[0]))
_Static_assert(N_OPTS <= (int)(sizeof ((chord_opts *)0)->origin / sizeof(const char *)),
               "chord_opts.origin is too short");

const char *const opts_keys[] = {
    "model", "model-dirs", "ctx", "flash-attn", "cache-type-k", "cache-type-v", "threads", "mem-budget", "prefetch",
    "direct-io", "expert-lru", "n-predict", "temp", "top-k", "top-p", "min-p",
    "repeat-penalty", "repeat-last-n", "seed", "draft", "draft-max", "lookup", "system", "chat-template", "think", "db",
    "no-history", "require-history", "no-tui", "ctx-shift", "no-ctx-shift", "kv-store", "continue", "resume", "batch", "raw", "prompt",
    "prompt-tokens", "token-ids", "json", "verbose", NULL,
};
_Static_assert(sizeof opts_keys / sizeof opts_keys[0] == N_OPTS + 1, "opts_keys and opt_defs differ");

static int opt_index(const char *key)
{
    for (int k = 0; k < N_OPTS; k++)
        if (!strcmp(opt_defs[k].name, key))
            return k;
    return -1;
}

bool opts_key_in_config(const char *key)
{
    int k = opt_index(key);
    return k >= 0 && opt_defs[k].config;
}

/* A flag's value in the config file: "no-tui = true". */
static bool parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "on", "yes", "1"}, *const no[] = {"false", "off", "no", "0"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) { *out = true; return true; }
        if (!strcasecmp(v, no[i])) { *out = false; return true; }
    }
    return false;
}

#define BAD(what) do { *why = (what); return OPTS_SET_BAD; } while (0)

int opts_set(chord_opts *o, const char *key, const char *v, const char *where, const char **why)
{
    const char *why_unused;
    if (!why)
        why = &why_unused;
    int k = opt_index(key);
    if (k < 0)
        return OPTS_SET_UNKNOWN;
    long long ll;
    double d;
    bool b = false;
    if (!opt_defs[k].value && !parse_bool(v, &b))
        BAD("true or false");

    if (!strcmp(key, "model")) {
        o->model = o->model_spec = v;
    } else if (!strcmp(key, "model-dirs")) {
        o->model_dirs = v;
    } else if (!strcmp(key, "batch")) {
        o->batch = b;
    } else if (!strcmp(key, "raw")) {
        o->raw = b;
    } else if (!strcmp(key, "prompt")) {
        o->prompt = v;
    } else if (!strcmp(key, "prompt-tokens")) {
        o->prompt_tokens = v;
    } else if (!strcmp(key, "token-ids")) {
        o->token_ids = b;
    } else if (!strcmp(key, "json")) {
        o->json = b;
    } else if (!strcmp(key, "n-predict")) {
        if (!opts_parse_int(v, -1, 1000000000, &ll)) BAD("an integer from -1 to 1e9");
        o->n_predict = (int)ll;
    } else if (!strcmp(key, "temp")) {
        if (!opts_parse_float(v, 0, 100, &d)) BAD("a number from 0 to 100");
        o->sampling.temp = (float)d;
    } else if (!strcmp(key, "top-k")) {
        if (!opts_parse_int(v, 0, 1 << 30, &ll)) BAD("an integer >= 0");
        o->sampling.top_k = (int)ll;
    } else if (!strcmp(key, "top-p")) {
        if (!opts_parse_float(v, 0, 1, &d)) BAD("a number from 0 to 1");
        o->sampling.top_p = (float)d;
    } else if (!strcmp(key, "min-p")) {
        if (!opts_parse_float(v, 0, 1, &d)) BAD("a number from 0 to 1");
        o->sampling.min_p = (float)d;
    } else if (!strcmp(key, "repeat-penalty")) {
        if (!opts_parse_float(v, 0.01, 100, &d)) BAD("a number from 0.01 to 100");
        o->sampling.repeat_penalty = (float)d;
    } else if (!strcmp(key, "repeat-last-n")) {
        if (!opts_parse_int(v, 0, 1 << 20, &ll)) BAD("an integer from 0 to 1048576");
        o->sampling.repeat_last_n = (int)ll;
    } else if (!strcmp(key, "seed")) {
        if (!strcmp(v, "-1")) {   /* llama.cpp's spelling of random */
            o->sampling.seed = CHORD_SEED_RANDOM;
        } else {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (errno || *end || !*v || *v == '-' || s == CHORD_SEED_RANDOM)
                BAD("a non-negative integer, or -1 for random");
            o->sampling.seed = s;
        }
    } else if (!strcmp(key, "draft")) {
        o->draft = o->draft_spec = v;
    } else if (!strcmp(key, "draft-max")) {
        if (!opts_parse_int(v, 1, 32, &ll)) BAD("an integer from 1 to 32");
        o->draft_max = (int)ll;
    } else if (!strcmp(key, "lookup")) {
        o->lookup = b;
    } else if (!strcmp(key, "ctx")) {
        if (!opts_parse_int(v, 1, 1 << 24, &ll)) BAD("an integer from 1 to 16777216");
        o->n_ctx = (int)ll;
    } else if (!strcmp(key, "flash-attn")) {
        if (strcmp(v, "on") && strcmp(v, "off")) BAD("on or off");
        o->unfused_attn = !strcmp(v, "off");
    } else if (!strcmp(key, "cache-type-k") || !strcmp(key, "cache-type-v")) {
        int t = chord_kv_type_parse(v);
        if (t < 0) BAD("f16, q8_0 or q4_0");
        *(key[11] == 'k' ? &o->cache_type_k : &o->cache_type_v) = t;
    } else if (!strcmp(key, "threads")) {
        if (!opts_parse_int(v, 1, 1024, &ll)) BAD("an integer from 1 to 1024");
        o->n_threads = (int)ll;
    } else if (!strcmp(key, "mem-budget")) {
        int64_t mb = !strcmp(v, "auto") ? 0 : !strcmp(v, "all") ? -1 : opts_parse_size(v);
        if (mb == 0 && strcmp(v, "auto")) /* "0" is no budget at all */
            mb = -2;
        if (mb < -1 || (mb == -1 && strcmp(v, "all")))
            BAD("a size such as 600M or 2G, or auto, or all");
        o->mem_budget = mb;
    } else if (!strcmp(key, "prefetch")) {
        if (!opts_parse_int(v, 0, 64, &ll)) BAD("an integer from 0 to 64");
        o->prefetch = (int)ll;
    } else if (!strcmp(key, "direct-io")) {
        o->direct_io = b;
    } else if (!strcmp(key, "expert-lru")) {
        o->expert_lru = b;
    } else if (!strcmp(key, "verbose")) {
        /* repeatable on the command line: -v -v */
        o->verbose = b ? o->verbose + 1 : 0;
    } else if (!strcmp(key, "system")) {
        o->system = v;
    } else if (!strcmp(key, "chat-template")) {
        o->chat_template = v;
    } else if (!strcmp(key, "db")) {
        o->db = v;
    } else if (!strcmp(key, "no-history")) {
        o->no_history = b;
    } else if (!strcmp(key, "think")) {
        if (!strcmp(v, "on"))
            o->thinking = CHORD_THINK_ON;
        else if (!strcmp(v, "off"))
            o->thinking = CHORD_THINK_OFF;
        else
            BAD("on or off");
    } else if (!strcmp(key, "require-history")) {
        o->require_history = b;
    } else if (!strcmp(key, "continue")) {
        o->continue_last = b;
    } else if (!strcmp(key, "resume")) {
        if (!opts_parse_int(v, 1, INT64_MAX, &ll)) BAD("a conversation id");
        o->resume_id = ll;
    } else if (!strcmp(key, "no-tui")) {
        o->no_tui = b;
    } else if (!strcmp(key, "ctx-shift")) {
        o->no_ctx_shift = !b;
    } else if (!strcmp(key, "no-ctx-shift")) {
        o->no_ctx_shift = b;
    } else if (!strcmp(key, "kv-store")) {
        int64_t sz = opts_parse_size(v);
        if (sz < 0) BAD("a size such as 500M or 2G, or 0 for none");
        o->kv_store = sz;
    }
    o->origin[k] = where;
    return OPTS_SET_OK;
}

const char *opts_origin(const chord_opts *o, const char *key)
{
    int k = opt_index(key);
    return k >= 0 && o->origin[k] ? o->origin[k] : "default";
}

void opts_value_str(const chord_opts *o, const char *key, char *buf, size_t n)
{
    const chord_sampler_params *sp = &o->sampling;
#define STR(x) snprintf(buf, n, "%s", (x) ? (x) : "(none)")
#define BOOL(x) snprintf(buf, n, "%s", (x) ? "true" : "false")
    if (!strcmp(key, "model")) STR(o->model_spec);
    else if (!strcmp(key, "model-dirs")) STR(o->model_dirs);
    else if (!strcmp(key, "batch")) BOOL(o->batch);
    else if (!strcmp(key, "raw")) BOOL(o->raw);
    else if (!strcmp(key, "prompt")) STR(o->prompt);
    else if (!strcmp(key, "prompt-tokens")) STR(o->prompt_tokens);
    else if (!strcmp(key, "token-ids")) BOOL(o->token_ids);
    else if (!strcmp(key, "json")) BOOL(o->json);
    else if (!strcmp(key, "n-predict"))
        snprintf(buf, n, o->n_predict < 0 ? "%d (until the end of the turn)" : "%d", o->n_predict);
    else if (!strcmp(key, "temp")) snprintf(buf, n, "%g", sp->temp);
    else if (!strcmp(key, "top-k")) snprintf(buf, n, "%d", sp->top_k);
    else if (!strcmp(key, "top-p")) snprintf(buf, n, "%g", sp->top_p);
    else if (!strcmp(key, "min-p")) snprintf(buf, n, "%g", sp->min_p);
    else if (!strcmp(key, "repeat-penalty")) snprintf(buf, n, "%g", sp->repeat_penalty);
    else if (!strcmp(key, "repeat-last-n")) snprintf(buf, n, "%d", sp->repeat_last_n);
    else if (!strcmp(key, "seed")) {
        if (sp->seed == CHORD_SEED_RANDOM)
            snprintf(buf, n, "random (drawn at start, recorded in the history)");
        else
            snprintf(buf, n, "%llu", (unsigned long long)sp->seed);
    } else if (!strcmp(key, "draft")) STR(o->draft_spec);
    else if (!strcmp(key, "draft-max"))
        snprintf(buf, n, o->draft_max ? "%d" : "%d (8, fewer while few are kept)", o->draft_max);
    else if (!strcmp(key, "lookup")) BOOL(o->lookup);
    else if (!strcmp(key, "ctx"))
        snprintf(buf, n, o->n_ctx ? "%d" : "%d (the model's own, or what half the free memory holds)", o->n_ctx);
    else if (!strcmp(key, "flash-attn")) snprintf(buf, n, "%s", o->unfused_attn ? "off" : "on");
    else if (!strcmp(key, "cache-type-k")) STR(chord_kv_type_name((chord_kv_type)o->cache_type_k));
    else if (!strcmp(key, "cache-type-v")) STR(chord_kv_type_name((chord_kv_type)o->cache_type_v));
    else if (!strcmp(key, "threads"))
        snprintf(buf, n, o->n_threads ? "%d" : "%d (one per core)", o->n_threads);
    else if (!strcmp(key, "mem-budget")) {
        if (o->mem_budget == 0)
            snprintf(buf, n, "auto");
        else if (o->mem_budget < 0)
            snprintf(buf, n, "all");
        else
            snprintf(buf, n, "%lld bytes (%.1f MiB)", (long long)o->mem_budget,
                     (double)o->mem_budget / (1024.0 * 1024));
    } else if (!strcmp(key, "prefetch")) snprintf(buf, n, "%d", o->prefetch);
    else if (!strcmp(key, "direct-io")) BOOL(o->direct_io);
    else if (!strcmp(key, "expert-lru")) BOOL(o->expert_lru);
    else if (!strcmp(key, "verbose")) snprintf(buf, n, "%d", o->verbose);
    else if (!strcmp(key, "system")) STR(o->system);
    else if (!strcmp(key, "chat-template")) STR(o->chat_template);
    else if (!strcmp(key, "db")) STR(o->db);
    else if (!strcmp(key, "no-history")) BOOL(o->no_history);
    else if (!strcmp(key, "ctx-shift")) BOOL(!o->no_ctx_shift);
    else if (!strcmp(key, "no-ctx-shift")) BOOL(o->no_ctx_shift);
    else if (!strcmp(key, "kv-store"))
        snprintf(buf, n, o->kv_store ? "%lld bytes (%.1f MiB)" : "0 (no saved KV caches)",
                 (long long)o->kv_store, (double)o->kv_store / (1024.0 * 1024));
    else if (!strcmp(key, "require-history")) BOOL(o->require_history);
    else if (!strcmp(key, "think"))
        snprintf(buf, n, "%s", o->thinking == CHORD_THINK_ON ? "on" : o->thinking == CHORD_THINK_OFF ? "off" : "(the template's default)");
    else if (!strcmp(key, "continue")) BOOL(o->continue_last);
    else if (!strcmp(key, "resume"))
        snprintf(buf, n, o->resume_id ? "%lld" : "(none)", (long long)o->resume_id);
    else if (!strcmp(key, "no-tui")) BOOL(o->no_tui);
    else snprintf(buf, n, "?");
#undef STR
#undef BOOL
}

/* The option a command-line flag names ("--temp", "-m"), or NULL. */
static const struct opt_def *flag_def(const char *a)
{
    for (int k = 0; k < N_OPTS; k++) {
        const struct opt_def *d = &opt_defs[k];
        if (!d->cli)
            continue;
        if ((a[0] == '-' && a[1] == '-' && !strcmp(a + 2, d->name)) ||
            (d->alias && !strcmp(a, d->alias)))
            return d;
    }
    return NULL;
}

int opts_flag(const char *arg, const char **name)
{
    const struct opt_def *d = flag_def(arg);
    *name = d ? d->name : NULL;
    return d ? d->value : -1;
}

int opts_parse(chord_opts *o, int argc, char **argv, bool *exit_now)
{
    *exit_now = false;
    const config_file *cf = config_load();
    if (!cf)
        return EXIT_USAGE;
    /* config_load checked every entry with opts_set already */
    for (int i = 0; i < cf->n; i++)
        opts_set(o, cf->v[i].key, cf->v[i].value, cf->v[i].where, NULL);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            opts_usage(stdout);
            *exit_now = true;
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("chord %s\n", CHORD_VERSION);
            *exit_now = true;
            return 0;
        }
        const struct opt_def *d = flag_def(a);
        if (!d) {
            app_error("unknown option '%s' (see chord --help)", a);
            return EXIT_USAGE;
        }
        const char *v = "true", *why = "";
        if (d->value) {
            if (i + 1 >= argc) {
                app_error("%s needs a value (see chord --help)", a);
                return EXIT_USAGE;
            }
            v = argv[++i];
        }
        if (opts_set(o, d->name, v, "command line", &why) != OPTS_SET_OK) {
            app_error("%s: bad value '%s' (%s)", a, v, why);
            return EXIT_USAGE;
        }
    }
    if (!o->batch) {
        /* output formats of batch mode: in a chat they would be silently
         * ignored (a config file's values are batch defaults, not asked) */
        static const char *const only[] = {"raw", "json", "token-ids", "prompt-tokens"};
        bool set[] = {o->raw, o->json, o->token_ids, o->prompt_tokens != NULL};
        for (int k = 0; k < 4; k++) {
            const char *org = o->origin[opt_index(only[k])];
            if (set[k] && org && !strcmp(org, "command line")) {
                app_error("--%s only means something with --batch (add --batch, or drop it to chat)",
                          only[k]);
                return EXIT_USAGE;
            }
        }
    }
    if (o->prompt_tokens && !o->raw) {
        app_error("--prompt-tokens needs --raw");
        return EXIT_USAGE;
    }
    return 0;
}

int opts_resolve_model(chord_opts *o)
{
    /* the file's name lives as long as the options: one model per run */
    static char path[4096];
    if (o->draft_spec) {
        static char dpath[4096];
        int rc = models_resolve(o->draft_spec, dpath, sizeof dpath);
        if (rc) {
            int k = opt_index("draft");
            if (o->origin[k] && strcmp(o->origin[k], "command line"))
                app_error("(that draft is set in %s)", o->origin[k]);
            return rc;
        }
        o->draft = dpath;
    }
    if (!o->model_spec) {
        if (o->batch) {
            char cp[4096];
            app_error("no model: give -m MODEL (a file, OWNER/NAME:QUANT, ollama:NAME or a name "
                      "from chord models) or set model in %s",
                      config_path(cp, sizeof cp) ? cp : "the config file");
            return EXIT_USAGE;
        }
        return 0;
    }
    /* --batch --json: a model that cannot be found is an error event on
     * stdout too; models_resolve says why on stderr, kept to repeat it */
    FILE *cap = o->batch && o->json ? tmpfile() : NULL;
    int saved = cap ? dup(2) : -1;
    fflush(stderr);
    if (saved >= 0)
        dup2(fileno(cap), 2);
    int rc = models_resolve(o->model_spec, path, sizeof path);
    fflush(stderr);
    if (saved >= 0) {
        dup2(saved, 2);
        close(saved);
        char buf[2048];
        size_t n = 0;
        rewind(cap);
        n = fread(buf, 1, sizeof buf - 1, cap);
        buf[n] = 0;
        fputs(buf, stderr);
        /* the first line, without "chord: ", is the event's message */
        char *msg = buf, *nl = strchr(buf, '\n');
        if (nl)
            *nl = 0;
        if (!strncmp(msg, "chord: ", 7))
            msg += 7;
        char *q = rc && *msg ? chord_json_quote(msg, strlen(msg)) : NULL;
        if (q)
            printf("{\"event\":\"error\",\"message\":%s}\n", q);
        free(q);
        fflush(stdout);
    }
    if (cap)
        fclose(cap);
    if (rc) {
        int k = opt_index("model");
        if (o->origin[k] && strcmp(o->origin[k], "command line"))
            app_error("(that model is set in %s)", o->origin[k]);
        return rc;
    }
    o->model = path;
    return 0;
}

void app_ctx_notes(const chord_opts *o, const chord_ctx *c)
{
    bool capped;
    const char *note = chord_ctx_size_note(c, &capped);
    if (*note && (o->verbose || capped))
        fprintf(stderr, "chord: %s\n", note);
    if (o->verbose)
        fprintf(stderr, "chord: %s\n", chord_ctx_describe(c));
}
