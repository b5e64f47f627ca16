/*
 * cmd_bench.c - `chord bench`: options, and the order of the parts
 * (resident model, machine limits, streamed model, tokenizer). The
 * measuring is in bench_run.c, the printing in bench_report.c.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "cmd.h"
#include "models.h"

static void usage(FILE *f)
{
    fputs("usage: chord bench -m MODEL [-p 512] [-n 128] [-r 3] [--threads N] [--json]\n"
          "                   [--mem-budget SIZE] [--prefetch N] [--cold] [--expert-lru]\n"
          "                   [--tokenizer] [--draft MODEL] [--draft-max N[,N...]] [--lookup]\n"
          "                   [--ctx-depth N] [--cache-type-k T] [--cache-type-v T]\n"
          "Times prompt processing (pp: one batch of -p tokens) and token generation\n"
          "(tg: -n decode steps), min/median/max over -r repetitions after a warm-up,\n"
          "next to the machine's limits measured in the same run: memory read\n"
          "bandwidth (tg bound = bandwidth / weight bytes per token; the higher of a\n"
          "probe before and one after the runs), sgemm and int8 peaks (pp bound =\n"
          "peak / (2 x parameters per token)).\n"
          "--mem-budget SIZE  also run the model streamed through the layer cache\n"
          "                   (SIZE or auto: the engine's choice); a file larger than\n"
          "                   the available RAM skips the resident run\n"
          "--cold             drop the file's pages before each streamed run and\n"
          "                   token, and measure the disk's read rate the way the\n"
          "                   layer cache reads (a block per reader, readers at once)\n"
          "--expert-lru       mixtures of experts: the expert cache evicts the least\n"
          "                   recently used expert instead of the least used one\n"
          "                   (decayed counts), to compare the two policies\n"
          "--ctx-depth N      pp and tg measured after a prefill of N tokens of context\n"
          "                   (llama-bench's -d; prefilled once, untimed); the tg bound\n"
          "                   then counts the KV cache a step reads beside the weights\n"
          "-ctk, -ctv T       the KV cache's key / value type: f16 (default), q8_0, q4_0\n"
          "--tokenizer        tokenize 1 MB of mixed text\n"
          "--draft MODEL      speculative decoding: greedy tg of -n tokens from a short\n"
          "                   text, without and then with the draft, alternated in each\n"
          "                   of the -r repetitions; reports both rates, their ratio per\n"
          "                   pair, the proposals kept and whether the tokens matched\n"
          "                   (the model as run last: streamed with --mem-budget)\n"
          "--draft-max N,...  draft lengths to time (default 8)\n"
          "--lookup           the same with prompt lookup (with --draft: lookup first)\n"
          "A mixture-of-experts model's streamed run also reports its expert cache:\n"
          "hit and prediction rates next to the experts per layer the text used,\n"
          "bytes read (layers and experts) and stalls per token.\n", f);
}

/* The 1-minute load average, or -1. */
static double load_avg(void)
{
    double v = -1;
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf", &v) != 1)
            v = -1;
        fclose(la);
    }
    return v;
}

static int parse_args(bench_opts *o, int argc, char **argv, bool *done)
{
    struct { const char *flag; int *dst; long long lo, hi; } ints[] = {
        {"-p", &o->n_pp, 1, 1 << 16}, {"-n", &o->n_tg, 1, 1 << 16},
        {"-r", &o->reps, 1, BENCH_MAX_REPS}, {"--threads", &o->threads, 1, 1024},
        {"--prefetch", &o->prefetch, 1, 64}, {"--ctx-depth", &o->ctx_depth, 0, 1 << 20},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            *done = true;
            return EXIT_OK;
        }
        if (!strcmp(a, "--json")) {
            o->json = true;
            continue;
        }
        if (!strcmp(a, "--cold")) {
            o->cold = true;
            continue;
        }
        if (!strcmp(a, "--expert-lru")) {
            o->expert_lru = true;
            continue;
        }
        if (!strcmp(a, "--tokenizer")) {
            o->tokenizer = true;
            continue;
        }
        if (!strcmp(a, "--lookup")) {
            o->lookup = true;
            continue;
        }
        if (i + 1 >= argc) {
            app_error("bench: unknown option or missing value: '%s' (see chord bench --help)", a);
            return EXIT_USAGE;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            o->model = v;
            continue;
        }
        if (!strcmp(a, "--draft")) {
            o->draft = v;
            continue;
        }
        if (!strcmp(a, "--draft-max")) {
            /* a list: one timing per length */
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            o->n_draft_lens = 0;
            for (char *sv = NULL, *t = strtok_r(buf, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
                long long x;
                if (o->n_draft_lens == BENCH_MAX_DRAFT_LENS || !opts_parse_int(t, 1, 32, &x)) {
                    app_error("bench: --draft-max: bad value '%s' (up to %d lengths from 1 to 32, "
                              "comma-separated)", v, BENCH_MAX_DRAFT_LENS);
                    return EXIT_USAGE;
                }
                o->draft_lens[o->n_draft_lens++] = (int)x;
            }
            continue;
        }
        if (!strcmp(a, "--cache-type-k") || !strcmp(a, "-ctk") || !strcmp(a, "--cache-type-v") ||
            !strcmp(a, "-ctv")) {
            int t = chord_kv_type_parse(v);
            if (t < 0) {
                app_error("bench: %s: bad type '%s' (f16, q8_0 or q4_0)", a, v);
                return EXIT_USAGE;
            }
            *(strchr(a + 2, 'k') ? &o->cache_type_k : &o->cache_type_v) = t;
            continue;
        }
        if (!strcmp(a, "--mem-budget")) {
            o->stream = true;
            o->mem_budget = !strcmp(v, "auto") ? 0 : opts_parse_size(v);
            if (o->mem_budget < 0 || (o->mem_budget == 0 && strcmp(v, "auto"))) {
                app_error("bench: --mem-budget: bad size '%s' (e.g. 600M, 2G, auto)", v);
                return EXIT_USAGE;
            }
            continue;
        }
        bool found = false;
        for (size_t k = 0; k < sizeof ints / sizeof ints[0] && !found; k++) {
            if (strcmp(a, ints[k].flag))
                continue;
            long long x;
            if (!opts_parse_int(v, ints[k].lo, ints[k].hi, &x)) {
                app_error("bench: %s: bad value '%s' (an integer from %lld to %lld)", a, v,
                          ints[k].lo, ints[k].hi);
                return EXIT_USAGE;
            }
            *ints[k].dst = (int)x;
            found = true;
        }
        if (!found) {
            app_error("bench: unknown option '%s' (see chord bench --help)", a);
            return EXIT_USAGE;
        }
    }
    if (!o->model) {
        app_error("bench: -m MODEL is required (see chord bench --help)");
        return EXIT_USAGE;
    }
    int mrc = models_resolve_arg(&o->model);
    if (mrc)
        return mrc;
    if (o->draft && (mrc = models_resolve_arg(&o->draft)) != 0)
        return mrc;
    if (o->n_draft_lens && !o->draft && !o->lookup) {
        app_error("bench: --draft-max needs --draft or --lookup");
        return EXIT_USAGE;
    }
    if (o->cold && !o->stream) {
        app_error("bench: --cold applies to the streamed run: give --mem-budget too");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

int cmd_bench(int argc, char **argv)
{
    bench_opts o = {.n_pp = 512, .n_tg = 128, .reps = 3};
    bool done = false;
    int rc = parse_args(&o, argc, argv, &done);
    if (rc != EXIT_OK || done)
        return rc;
    if (o.threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = n > 0 ? (int)n : 1;
    }
    static bench_result r; /* large; one per process */
    memset(&r, 0, sizeof r);
    chord_err err = {{0}};
    /* The machine may be shared: the load says how far to trust speeds. */
    r.load_avg = load_avg();

    /* Resident first: its load also gives the shapes the probes need. A
     * file larger than the available RAM cannot be resident: mapped, every
     * token would read all of it from disk through a thrashing page cache
     * (minutes per token), so only the streamed run gives the shapes. */
    struct stat fst;
    int64_t avail = chord_mem_available();
    /* a test's stand-in for a machine with less memory than the file */
    const char *fake = getenv("CHORD_BENCH_MEM_AVAILABLE");
    if (fake && *fake)
        avail = strtoll(fake, NULL, 10);
    r.mem_available = avail;
    bool too_big = stat(o.model, &fst) == 0 && avail > 0 && (int64_t)fst.st_size > avail;
    if (too_big && !o.stream) {
        /* without --mem-budget it would be mapped whole and thrash: it is
         * streamed under the auto budget instead, as chat would run it */
        o.stream = true;
        o.mem_budget = 0;
        char fb[32], ab[32];
        models_fmt_bytes((int64_t)fst.st_size, fb, sizeof fb);
        models_fmt_bytes(avail, ab, sizeof ab);
        fprintf(stderr, "chord: bench: the model (%s) is larger than the available memory (%s): "
                        "it runs streamed under the auto budget (--mem-budget SIZE chooses one)\n",
                fb, ab);
    }
    r.have_resident = !(o.stream && too_big);
    chord_model_params mp = chord_model_default_params();
    mp.n_threads = o.threads;
    mp.mem_budget = -1;
    mp.expert_lru = o.expert_lru;
    bench_progress("loading %s", o.model);
    if (r.have_resident && bench_model(&o, &mp, &r.resident, &r, &err) != CHORD_OK) {
        bench_progress_end();
        app_error("bench: %s", err.msg);
        return EXIT_FAIL;
    }
    if (r.have_resident && bench_limits_measure(&o, &r, &err) != CHORD_OK) {
        bench_progress_end();
        app_error("bench: %s", err.msg);
        return EXIT_FAIL;
    }
    if (o.stream) {
        mp.mem_budget = o.mem_budget;
        /* 0 in bench_opts is "not given": the engine's default distance
         * (in chord_model_params, 0 would mean no read-ahead at all) */
        mp.prefetch = o.prefetch > 0 ? o.prefetch : -1;
        bench_reset_hwm();
        chord_err e2 = {{0}};
        if (bench_model(&o, &mp, &r.stream, r.have_resident ? NULL : &r, &e2) != CHORD_OK) {
            bench_progress_end();
            app_error("bench: streamed run: %s", e2.msg);
            return EXIT_FAIL;
        }
        r.have_stream = true;
    }
    if (!r.have_resident && bench_limits_measure(&o, &r, &err) != CHORD_OK) {
        bench_progress_end();
        app_error("bench: %s", err.msg);
        return EXIT_FAIL;
    }
    bench_progress("measuring the memory's read rate again");
    if (bench_limits_read_again(&o, &r, &err) != CHORD_OK) {
        bench_progress_end();
        app_error("bench: %s", err.msg);
        return EXIT_FAIL;
    }
    if (r.have_stream)
        bench_progress("measuring %s reads of the file", o.cold ? "disk" : "page-cache");
    if (o.cold && r.have_stream && bench_disk_measure(&o, &r, &err) != CHORD_OK) {
        bench_progress_end();
        app_error("bench: disk probe: %s", err.msg);
        return EXIT_FAIL;
    }
    if (!o.cold && r.have_stream && bench_pcache_measure(&o, &r, &err) != CHORD_OK) {
        bench_progress_end();
        app_error("bench: page-cache probe: %s", err.msg);
        return EXIT_FAIL;
    }
    if (o.draft || o.lookup) {
        /* the model as run last: streamed when --mem-budget was given */
        if (bench_spec(&o, &mp, &r, &err) != CHORD_OK) {
            bench_progress_end();
            app_error("bench: speculative decoding: %s", err.msg);
            return EXIT_FAIL;
        }
    }
    r.pp_kernel = chord_prefill_kernel(r.type);
    if (o.tokenizer) {
        bench_progress("tokenizing 1 MiB of text");
        chord_model_params vp = chord_model_default_params();
        vp.vocab_only = true;
        chord_model *m = NULL;
        if (chord_model_load(o.model, &vp, &m, &err) != CHORD_OK ||
            chord_tokenizer_bench(m, (size_t)1 << 20, &r.tok_tokens, &r.tok_seconds, &err) !=
                CHORD_OK) {
            chord_model_free(m);
            bench_progress_end();
            app_error("bench: tokenizer: %s", err.msg);
            return EXIT_FAIL;
        }
        chord_model_free(m);
        r.have_tok = true;
        r.tok_bytes = (size_t)1 << 20;
        r.tok_mb_s = r.tok_seconds > 0 ? (double)r.tok_bytes / r.tok_seconds / 1e6 : 0;
    }
    r.load_avg_end = load_avg();
    bench_progress_end();
    if (o.json)
        bench_print_json(&o, &r);
    else
        bench_print_text(&o, &r);
    fflush(stdout);
    return EXIT_OK;
}
