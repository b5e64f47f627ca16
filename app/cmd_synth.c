/*
 * cmd_synth.c - `chord synth`: writes a random-weight model of a given
 * shape and type (for tests and benchmarks without downloads).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "tool_report.h"

static void usage(FILE *f)
{
    fputs("usage: chord synth --arch ARCH --dim D --layers L --heads H\n"
          "                   --kv-heads K --ffn F [--head-dim N] [--window N]\n"
          "                   [--vocab-from VOCAB.gguf | --vocab N]\n"
          "                   [--experts E --experts-used K [--expert-ffn F]\n"
          "                    [--router-skew S]]\n"
          "                   --type TYPE [--seed S] [--ctx N] [--fast] -o FILE\n"
          "Writes a GGUF model with random weights of that shape, quantized to TYPE\n"
          "(F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K, Q3_K_M, Q4_K_S,\n"
          "Q4_K_M, Q5_K_S, Q5_K_M, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0 where chord can\n"
          "quantize them; MXFP4_MOE: experts in MXFP4, the other matrices in Q8_0, as\n"
          "gpt-oss ships; with --fast also the read-only IQ3_S, IQ3_XXS, IQ2_S,\n"
          "IQ2_XS, IQ2_XXS, IQ1_S, IQ1_M: random valid blocks scaled to the float\n"
          "weights' deviation in the layers, the embedding and output in Q6_K).\n"
          "ARCH: llama, qwen2, qwen3 (q/k norms), gemma2 (soft-caps, a window on\n"
          "every other layer), gemma3 (q/k norms, 5 local layers to 1 global),\n"
          "phi3 (fused qkv and gate/up, LongRoPE), qwen3moe (qwen3 with experts),\n"
          "gpt-oss (experts, biases, attention sinks, windows, YaRN); llama with\n"
          "--experts is Mixtral's layout. The vocabulary is copied from\n"
          "VOCAB.gguf or generated with N tokens (default 32000; with the family's\n"
          "chat tokens and template for qwen3, gemma2, gemma3, phi3).\n"
          "--head-dim N  query/key head size (default dim / heads; qwen3 and gemma\n"
          "              heads x head size may differ from dim)\n"
          "--window N    gemma2/gemma3/gpt-oss sliding window (default 4096/512/128)\n"
          "--ctx N       context_length (default: the family's, 4096 for llama/qwen2)\n"
          "--experts E, --experts-used K  a mixture of E experts, K run per token\n"
          "--expert-ffn F  an expert's FFN width (default --ffn; qwen3moe's\n"
          "              expert_feed_forward_length)\n"
          "--router-skew S  expert popularity ~ (rank + 1)^-S (a different ranking\n"
          "              per layer) instead of uniform; 0.8 resembles Qwen3-30B-A3B\n"
          "--fast  quantize a pool of random blocks per tensor once and fill the rows\n"
          "        with blocks drawn from it (valid blocks, same statistics, written\n"
          "        at disk speed: for models of tens of GiB)\n", f);
}

/* A whole-string unsigned 64-bit number. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

int cmd_synth(int argc, char **argv)
{
    chord_synth_params p;
    memset(&p, 0, sizeof p);
    p.vocab = 32000;
    const char *out = NULL;
    struct { const char *flag; int *dst; long long lo, hi; } ints[] = {
        {"--dim", &p.dim, 2, 1 << 16}, {"--layers", &p.layers, 1, CHORD_MAX_LAYERS},
        {"--heads", &p.heads, 1, 1 << 12}, {"--kv-heads", &p.kv_heads, 1, 1 << 12},
        {"--ffn", &p.ffn, 1, 1 << 18}, {"--vocab", &p.vocab, 260, 1 << 24},
        {"--ctx", &p.ctx_len, 1, 1 << 24}, {"--head-dim", &p.head_dim, 2, 1024},
        {"--window", &p.window, 1, 1 << 24}, {"--experts", &p.experts, 2, 4096},
        {"--experts-used", &p.experts_used, 1, 4096}, {"--expert-ffn", &p.expert_ffn, 1, 1 << 18},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "--fast")) {
            p.fast = true;
            continue;
        }
        if (i + 1 >= argc) {
            app_error("synth: unknown option or missing value: '%s' (see chord synth --help)", a);
            return EXIT_USAGE;
        }
        const char *v = argv[++i];
        bool done = false;
        for (size_t k = 0; k < sizeof ints / sizeof ints[0] && !done; k++) {
            if (strcmp(a, ints[k].flag))
                continue;
            long long x;
            if (!opts_parse_int(v, ints[k].lo, ints[k].hi, &x)) {
                app_error("synth: %s: bad value '%s' (an integer from %lld to %lld)", a, v,
                          ints[k].lo, ints[k].hi);
                return EXIT_USAGE;
            }
            *ints[k].dst = (int)x;
            done = true;
        }
        if (done)
            continue;
        if (!strcmp(a, "--arch")) {
            p.arch = v;
        } else if (!strcmp(a, "--vocab-from")) {
            p.vocab_from = v;
        } else if (!strcmp(a, "--type")) {
            p.type = v;
        } else if (!strcmp(a, "--seed")) {
            if (!parse_u64(v, &p.seed)) {
                app_error("synth: --seed: bad value '%s' (an unsigned 64-bit integer)", v);
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--router-skew")) {
            char *end;
            errno = 0;
            double x = strtod(v, &end);
            if (errno || end == v || *end || !(x >= 0 && x <= 4)) {
                app_error("synth: --router-skew: bad value '%s' (a number from 0 to 4)", v);
                return EXIT_USAGE;
            }
            p.router_skew = (float)x;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            out = v;
        } else {
            app_error("synth: unknown option '%s' (see chord synth --help)", a);
            return EXIT_USAGE;
        }
    }
    const char *missing = !p.arch ? "--arch" : !p.dim ? "--dim" : !p.layers ? "--layers"
                        : !p.heads ? "--heads" : !p.ffn ? "--ffn" : !p.type ? "--type"
                        : !out ? "-o FILE" : NULL;
    if (missing) {
        app_error("synth: %s is required (see chord synth --help)", missing);
        return EXIT_USAGE;
    }
    if (!p.kv_heads)
        p.kv_heads = p.heads;
    if ((p.experts != 0) != (p.experts_used != 0)) {
        app_error("synth: --experts and --experts-used go together (see chord synth --help)");
        return EXIT_USAGE;
    }
    chord_err err;
    tool_progress *pr = tool_progress_start("synth", out);
    chord_status st = chord_synth(&p, out, &err);
    double secs = tool_progress_stop(pr);
    if (st != CHORD_OK) {
        app_error("synth: %s", err.msg);
        /* a shape or type the engine refuses is the caller's mistake */
        return st == CHORD_E_INVALID ? EXIT_USAGE : EXIT_FAIL;
    }
    tool_report("synth", out, p.type, secs);
    return EXIT_OK;
}
