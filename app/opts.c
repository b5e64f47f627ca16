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

#include "cmd.h"

void opts_init(chord_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_predict = -1;
    o->sampling = chord_sampler_default_params();
    o->prefetch = 2;
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
    return p;
}

void opts_usage(FILE *f)
{
    fputs(
"usage: chord -m MODEL [options]            chat in the terminal (TUI)\n"
"       chord --batch -m MODEL [options]    the same engine for pipes\n"
"       chord SUBCOMMAND ...                 see below\n"
"\n"
"model and memory:\n"
"  -m, --model FILE        GGUF model (llama, qwen2, qwen3, qwen3moe, gemma2, gemma3, phi3)\n"
"  --ctx N                 context length (default: the model's, at most 4096)\n"
"  --flash-attn on|off     attention in the numerics of llama.cpp's flash-attention\n"
"                          kernel (on, the default) or of its unfused graph (off)\n"
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
"  --seed S                random seed (default: from the clock)\n"
"\n"
"chat:\n"
"  --system TEXT           system prompt\n"
"  --chat-template F|NAME  template file or built-in family (chatml, llama2,\n"
"                          llama3, zephyr, phi3, gemma, mistral)\n"
"  -c, --continue          continue the most recent conversation\n"
"  --resume ID             continue conversation ID\n"
"  --db PATH               history database (default $XDG_DATA_HOME/chord/history.db)\n"
"  --no-history            do not record this session\n"
"  --no-tui                plain readline REPL instead of the full-screen UI\n"
"\n"
"batch mode (--batch):\n"
"  --raw                   text completion of the prompt, no chat template\n"
"  -p, --prompt TEXT       the prompt (default: stdin; one user turn per line)\n"
"  --prompt-tokens \"1 2\"   the prompt as token ids (with --raw)\n"
"  --token-ids             print generated token ids instead of text\n"
"  --json                  one JSON object per event per line\n"
"  -v, --verbose           load and timing messages on stderr\n"
"\n"
"subcommands:\n"
"  inspect MODEL                       metadata, tensors, per-layer bytes\n"
"  tokenize -m MODEL [--no-bos] TEXT   print token ids\n"
"  detokenize -m MODEL IDS...          print text\n"
"  eval -m MODEL --tokens \"1 2\" --dump-logits OUT.f32\n"
"  chat-template (-m MODEL | --template FILE) --messages FILE.json\n"
"  history list|show|search|export|rm|stats ...\n"
"  bench -m MODEL [-p 512] [-n 128] [-r 3] [--json]\n"
"  synth --arch A --dim D --layers L --heads H --kv-heads K --ffn F --type T -o FILE\n"
"  quantize IN OUT TYPE\n"
"\n"
"  -h, --help              this text\n"
"  --version               print the version\n", f);
}

/* Fetches the value of the flag at argv[*i]; prints and fails if missing. */
static const char *need_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        app_error("%s needs a value (see chord --help)", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

#define BAD_VALUE(flag, val, what) \
    do { app_error("%s: bad value '%s' (%s)", flag, val, what); return EXIT_USAGE; } while (0)

int opts_parse(chord_opts *o, int argc, char **argv, bool *exit_now)
{
    *exit_now = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v;
        long long ll;
        double d;

        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            opts_usage(stdout);
            *exit_now = true;
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("chord %s\n", CHORD_VERSION);
            *exit_now = true;
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(o->model = need_value(argc, argv, &i))) return EXIT_USAGE;
        } else if (!strcmp(a, "--batch")) {
            o->batch = true;
        } else if (!strcmp(a, "--raw")) {
            o->raw = true;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!(o->prompt = need_value(argc, argv, &i))) return EXIT_USAGE;
        } else if (!strcmp(a, "--prompt-tokens")) {
            if (!(o->prompt_tokens = need_value(argc, argv, &i))) return EXIT_USAGE;
        } else if (!strcmp(a, "--token-ids")) {
            o->token_ids = true;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
            if (!(v = need_value(argc, argv, &i))) return EXIT_USAGE;
            if (!opts_parse_int(v, -1, 1000000000, &ll)) BAD_VALUE(a, v, "an integer from -1 to 1e9");
            o->n_predict = (int)ll;
        } else if (!strcmp(a, "--temp")) {
            if (!(v = need_value(argc, argv, &i))) return EXIT_USAGE;
            if (!opts_parse_float(v, 0, 100, &d)) BAD_VALUE(a, v, "a number from 0 to 100");
            o->sampling.temp = (float)d;
        } else if (!strcmp(a, "--top-k")) {
            if (!(v = need_value(argc, argv, &i))) return EXIT_USAGE;
            if (!opts_parse_int(v, 0, 1 << 30, &ll)) BAD_VALUE(a, v, "an integer >= 0");
            o->sampling.top_k = (int)ll;
        } else if (!strcmp(a, "--top-p")) {
            if (!(v = need_value(argc, argv, &i))) return EXIT_USAGE;
            if (!opts_parse_float(v, 0, 1, &d)) BAD_VALUE(a, v, "a number from 0 to 1");
            o->sampling.top_p = (float)d;
        } else if (!strcmp(a, "--min-p")) {
            if (!(v = need_value(argc, argv, &i))) return EXIT_USAGE;
            if (!opts_parse_float(v, 0, 1, &d)) BAD_VALUE(a, v, "a number from 0 to 1");
            o->sampling.min_p = (float)d;
        } else if (!strcmp(a, "--repeat-penalty")) {
            if (!(v = need_value(argc, argv, &i))) return EXIT_USAGE;
            if (!opts_parse_float(v, 0.01, 100, &d)) BAD_VALUE(a, v, "a number from 0.01 to 100");
            o->sampling.repeat_penalty = (float)d;
        } else if (!strcmp(a, "--repeat-last-n")) {
            if (!(v = need_value(argc, argv, &i))) return EXIT_USAGE;
            if (!opts_parse_int(v, 0, 1 << 20, &ll)) BAD_VALUE(a, v, "an integer from 0 to 1048576");
            o->sampling.repeat_last_n = (int)ll;
        } else if (!strcmp(a, "--seed")) {
            if (!(v = need_value(argc, argv, &i))) return EXIT_USAGE;
            char *end;
            errno = 0;
            unsigned long long s = strtoull(v, &end, 10);
            if (errno || *end || !*v || *v == '-') BAD_VALUE(a, v, "a non-negative integer");
            o->sampling.seed = s;
        } else if (!strcmp(a, "--ctx")) {
            if (!(v = need_value(argc, argv, &i))) return EXIT_USAGE;
            if (!opts_parse_int(v, 1, 1 << 24, &ll)) BAD_VALUE(a, v, "an integer from 1 to 16777216");
            o->n_ctx = (int)ll;
        } else if (!strcmp(a, "--flash-attn") || !strcmp(a, "-fa")) {
            if (!(v = need_value(argc, argv, &i))) return EXIT_USAGE;
            if (strcmp(v, "on") && strcmp(v, "off")) BAD_VALUE(a, v, "on or off");
            o->unfused_attn = !strcmp(v, "off");
        } else if (!strcmp(a, "--threads") || !strcmp(a, "-t")) {
            if (!(v = need_value(argc, argv, &i))) return EXIT_USAGE;
            if (!opts_parse_int(v, 1, 1024, &ll)) BAD_VALUE(a, v, "an integer from 1 to 1024");
            o->n_threads = (int)ll;
        } else if (!strcmp(a, "--mem-budget")) {
            if (!(v = need_value(argc, argv, &i))) return EXIT_USAGE;
            if (!strcmp(v, "auto"))
                o->mem_budget = 0;
            else if (!strcmp(v, "all"))
                o->mem_budget = -1;
            else if ((o->mem_budget = opts_parse_size(v)) <= 0)
                BAD_VALUE(a, v, "a size such as 600M or 2G, or auto, or all");
        } else if (!strcmp(a, "--prefetch")) {
            if (!(v = need_value(argc, argv, &i))) return EXIT_USAGE;
            if (!opts_parse_int(v, 0, 64, &ll)) BAD_VALUE(a, v, "an integer from 0 to 64");
            o->prefetch = (int)ll;
        } else if (!strcmp(a, "--direct-io")) {
            o->direct_io = true;
        } else if (!strcmp(a, "--expert-lru")) {
            o->expert_lru = true;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o->verbose++;
        } else if (!strcmp(a, "--system")) {
            if (!(o->system = need_value(argc, argv, &i))) return EXIT_USAGE;
        } else if (!strcmp(a, "--chat-template")) {
            if (!(o->chat_template = need_value(argc, argv, &i))) return EXIT_USAGE;
        } else if (!strcmp(a, "--db")) {
            if (!(o->db = need_value(argc, argv, &i))) return EXIT_USAGE;
        } else if (!strcmp(a, "--no-history")) {
            o->no_history = true;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--continue")) {
            o->continue_last = true;
        } else if (!strcmp(a, "--resume")) {
            if (!(v = need_value(argc, argv, &i))) return EXIT_USAGE;
            if (!opts_parse_int(v, 1, INT64_MAX, &ll)) BAD_VALUE(a, v, "a conversation id");
            o->resume_id = ll;
        } else if (!strcmp(a, "--no-tui")) {
            o->no_tui = true;
        } else {
            app_error("unknown option '%s' (see chord --help)", a);
            return EXIT_USAGE;
        }
    }
    if (!o->model) {
        app_error("no model given: use -m MODEL.gguf (see chord --help)");
        return EXIT_USAGE;
    }
    if (o->prompt_tokens && !o->raw) {
        app_error("--prompt-tokens needs --raw");
        return EXIT_USAGE;
    }
    return 0;
}
