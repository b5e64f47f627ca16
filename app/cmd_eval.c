/*
 * cmd_eval.c - `chord eval`: teacher-forced logits of a token sequence.
 *
 *   chord eval -m MODEL --tokens "1 2 3" [--dump-logits OUT.f32]
 *              [--threads N] [--ctx N] [--mem-budget SIZE] [--flash-attn on|off] [-v]
 *
 * Runs the whole sequence as one batch and writes the logits of every
 * position as n_tokens x n_vocab little-endian float32 (the layout of the
 * shared reference .f32 files). Without --dump-logits it prints, per
 * position, the input token, the argmax and its logit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "models.h"

static void eval_usage(void)
{
    fputs("usage: chord eval -m MODEL --tokens \"1 2 3\" [--dump-logits OUT.f32]\n"
          "                  [--threads N] [--ctx N] [--mem-budget SIZE] [--flash-attn on|off] [-v]\n", stderr);
}

/* Writes n floats as little-endian float32 (the host order on every
 * platform chord builds for; checked at compile time below). */
static bool write_f32(const char *path, const float *v, size_t n)
{
    _Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host expected");
    FILE *f = fopen(path, "wb");
    if (!f) {
        app_error("%s: cannot create: %m", path);
        return false;
    }
    bool ok = fwrite(v, sizeof *v, n, f) == n;
    if (fclose(f) != 0)
        ok = false;
    if (!ok)
        app_error("%s: write failed: %m", path);
    return ok;
}

int cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *tokens_s = NULL, *dump = NULL;
    long long threads = 0, n_ctx = 0;
    bool unfused = false;
    int64_t budget = 0;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            eval_usage();
            return EXIT_OK;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose++;
        } else if (!has_val) {
            app_error("eval: unknown option or missing value: '%s'", a);
            eval_usage();
            return EXIT_USAGE;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            model = argv[++i];
        } else if (!strcmp(a, "--tokens")) {
            tokens_s = argv[++i];
        } else if (!strcmp(a, "--dump-logits")) {
            dump = argv[++i];
        } else if (!strcmp(a, "--threads") || !strcmp(a, "-t")) {
            if (!opts_parse_int(argv[++i], 1, 1024, &threads)) {
                app_error("eval: %s: bad value '%s' (an integer from 1 to 1024)", a, argv[i]);
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--flash-attn") || !strcmp(a, "-fa")) {
            const char *v = argv[++i];
            if (strcmp(v, "on") && strcmp(v, "off")) {
                app_error("eval: %s: bad value '%s' (on or off)", a, v);
                return EXIT_USAGE;
            }
            unfused = !strcmp(v, "off");
        } else if (!strcmp(a, "--ctx")) {
            if (!opts_parse_int(argv[++i], 1, 1 << 24, &n_ctx)) {
                app_error("eval: %s: bad value '%s' (an integer from 1 to 16777216)", a, argv[i]);
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--mem-budget")) {
            const char *v = argv[++i];
            budget = !strcmp(v, "auto") ? 0 : !strcmp(v, "all") ? -1 : opts_parse_size(v);
            if (budget < -1 || (budget == 0 && strcmp(v, "auto")) ) {
                app_error("eval: %s: bad value '%s' (a size such as 600M, auto or all)", a, v);
                return EXIT_USAGE;
            }
        } else {
            app_error("eval: unknown option '%s'", a);
            eval_usage();
            return EXIT_USAGE;
        }
    }
    if (!model || !tokens_s) {
        app_error("eval: %s is required", !model ? "-m MODEL" : "--tokens \"1 2 3\"");
        eval_usage();
        return EXIT_USAGE;
    }
    int mrc = models_resolve_arg(&model);
    if (mrc)
        return mrc;
    chord_token *toks = NULL;
    int n = opts_parse_token_list(tokens_s, &toks);
    if (n <= 0) {
        app_error("eval: --tokens: expected token ids such as \"1 2 3\"");
        free(toks);
        return EXIT_USAGE;
    }

    int rc = EXIT_FAIL;
    chord_err err = {{0}};
    chord_model *m = NULL;
    chord_ctx *c = NULL;
    float *logits = NULL;
    chord_model_params mp = chord_model_default_params();
    mp.n_threads = (int)threads;
    mp.mem_budget = budget;
    mp.verbose_plan = verbose > 0;
    chord_status st = chord_model_load(model, &mp, &m, &err);
    if (st != CHORD_OK) {
        app_error("%s", err.msg);
        goto out;
    }
    if (verbose)
        fprintf(stderr, "chord: %s\n", chord_model_plan(m));
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = (int)n_ctx;
    cp.unfused_attn = unfused;
    cp.n_threads = (int)threads;
    if ((st = chord_ctx_new(m, &cp, &c, &err)) != CHORD_OK) {
        app_error("%s", err.msg);
        goto out;
    }
    chord_model_info info;
    chord_model_get_info(m, &info);
    logits = malloc((size_t)n * (size_t)info.n_vocab * sizeof *logits);
    if (!logits) {
        app_error("eval: out of memory for %d x %d logits", n, info.n_vocab);
        goto out;
    }
    if ((st = chord_ctx_eval(c, toks, n, logits, true, &err)) != CHORD_OK) {
        app_error("%s", err.msg);
        goto out;
    }
    if (verbose) {
        chord_stats s;
        chord_stats_get(m, &s);
        fprintf(stderr, "chord: %d tokens in %.1f ms (%.1f tok/s)\n", n, s.prompt_ms,
                s.prompt_ms > 0 ? n * 1000.0 / s.prompt_ms : 0.0);
    }
    if (dump) {
        if (!write_f32(dump, logits, (size_t)n * (size_t)info.n_vocab))
            goto out;
    } else {
        for (int i = 0; i < n; i++) {
            const float *row = logits + (size_t)i * info.n_vocab;
            int best = 0;
            for (int j = 1; j < info.n_vocab; j++)
                if (row[j] > row[best])
                    best = j;
            printf("%d\t%d\t%d\t%.6f\n", i, toks[i], best, row[best]);
        }
        if (fflush(stdout) != 0)
            goto out;
    }
    rc = EXIT_OK;
out:
    free(logits);
    chord_ctx_free(c);
    chord_model_free(m);
    free(toks);
    return rc;
}
