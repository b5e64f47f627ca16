/*
 * bench_run.c - the measuring half of `chord bench`: times prompt
 * processing and token generation on a loaded model, and asks the engine's
 * probes for the machine's limits at the model's shapes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static bool progress_on;

void bench_progress(const char *fmt, ...)
{
    static int tty = -1;
    if (tty < 0)
        tty = isatty(2);
    if (!tty)
        return;
    char buf[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\r\033[Kchord bench: %s", buf);
    fflush(stderr);
    progress_on = true;
}

void bench_progress_end(void)
{
    if (progress_on)
        fputs("\r\033[K", stderr);
    progress_on = false;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static bench_mmm mmm(double *v, int n)
{
    bench_mmm r = {0, 0, 0};
    if (n <= 0)
        return r;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    r.min = v[0];
    r.max = v[n - 1];
    r.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return r;
}

void bench_rss(int64_t *rss_kb, int64_t *hwm_kb)
{
    *rss_kb = *hwm_kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        long long v;
        if (sscanf(line, "VmRSS: %lld", &v) == 1)
            *rss_kb = v;
        else if (sscanf(line, "VmHWM: %lld", &v) == 1)
            *hwm_kb = v;
    }
    fclose(f);
}

void bench_reset_hwm(void)
{
    /* "5" resets the peak RSS (Linux >= 4.0); without it VmHWM would still
     * hold the resident run's peak. */
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return;
    fputs("5", f);
    fclose(f);
}

/* Drops the model file's pages before a cold repetition. */
static chord_status maybe_drop(const bench_opts *o, const chord_model_params *mp, chord_err *err)
{
    if (!o->cold || mp->mem_budget < 0)
        return CHORD_OK;
    return chord_file_drop_cache(o->model, err);
}

/* Runs n tokens after the context's first `depth` positions (what
 * bench_model prefilled once; 0: from an empty context): one batch (pp) or
 * n single steps (tg); *secs receives the time taken. With drop_path, the
 * file's pages are dropped before each step, outside the timed part. */
static int depth;

static chord_status run_once(chord_ctx *c, const chord_token *toks, int n, bool batch,
                             const char *drop_path, float *logits, double *secs,
                             chord_err *err)
{
    chord_ctx_truncate(c, depth);
    chord_status st = CHORD_OK;
    if (batch) {
        double t0 = now_s();
        st = chord_ctx_eval(c, toks, n, logits, false, err);
        *secs = now_s() - t0;
        return st;
    }
    *secs = 0;
    for (int i = 0; i < n && st == CHORD_OK; i++) {
        if (drop_path && (st = chord_file_drop_cache(drop_path, err)) != CHORD_OK)
            break;
        double t0 = now_s();
        st = chord_ctx_eval(c, toks + i, 1, logits, false, err);
        *secs += now_s() - t0;
    }
    return st;
}

chord_status bench_model(const bench_opts *o, const chord_model_params *mp, bench_speed *out,
                         bench_result *res, chord_err *err)
{
    memset(out, 0, sizeof *out);
    chord_model *m = NULL;
    chord_status st = chord_model_load(o->model, mp, &m, err);
    if (st != CHORD_OK)
        return st;
    chord_model_info info;
    chord_model_get_info(m, &info);
    if (res) {
        res->info = info;
        snprintf(res->name, sizeof res->name, "%s", info.name ? info.name : "");
        snprintf(res->type, sizeof res->type, "%s", info.type_name ? info.type_name : "");
        snprintf(res->arch, sizeof res->arch, "%s", info.arch ? info.arch : "");
        res->info.name = res->name;
        res->info.type_name = res->type;
        res->info.arch = res->arch;
        res->info.path = o->model;
    }
    int n_max = o->n_pp > o->n_tg ? o->n_pp : o->n_tg;
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = (n_max < 16 ? 16 : n_max) + o->ctx_depth;
    cp.n_threads = o->threads;
    cp.type_k = (chord_kv_type)o->cache_type_k;
    cp.type_v = (chord_kv_type)o->cache_type_v;
    depth = 0;
    chord_ctx *c = NULL;
    chord_token *toks = malloc((size_t)n_max * sizeof *toks);
    float *logits = malloc((size_t)info.n_vocab * sizeof *logits);
    if (!toks || !logits) {
        st = CHORD_E_NOMEM;
        snprintf(err->msg, sizeof err->msg, "bench: out of memory for %d tokens", n_max);
        goto done;
    }
    st = chord_ctx_new(m, &cp, &c, err);
    if (st != CHORD_OK)
        goto done;
    if (res) {
        int hd = info.n_head > 0 ? info.n_embd / info.n_head : 0;
        /* bytes of one element of each cache, times 32 (a block) */
        static const int b32[3] = {64, 34, 18};
        int64_t per_pos = (int64_t)info.n_layer * info.n_head_kv * hd / 32 *
                          (b32[o->cache_type_k] + b32[o->cache_type_v]);
        res->kv_bytes = (int64_t)chord_ctx_n_ctx(c) * per_pos;
        res->kv_read_per_tok = (int64_t)o->ctx_depth * per_pos;
    }
    /* the context every timed run starts after: prefilled once, in
     * batches of the context's own size, untimed */
    for (int done = 0; done < o->ctx_depth;) {
        int k = o->ctx_depth - done < 512 ? o->ctx_depth - done : 512;
        chord_token *dt = malloc((size_t)k * sizeof *dt);
        if (!dt) {
            st = CHORD_E_NOMEM;
            goto done;
        }
        for (int i = 0; i < k; i++)
            dt[i] = (chord_token)((300 + (int64_t)(done + i) * 104729) % info.n_vocab);
        st = chord_ctx_eval(c, dt, k, NULL, false, err);
        free(dt);
        if (st != CHORD_OK)
            goto done;
        done += k;
    }
    depth = o->ctx_depth;
    /* Ordinary token ids spread over the vocabulary; the values do not
     * change the work done. */
    for (int i = 0; i < n_max; i++)
        toks[i] = (chord_token)((100 + (int64_t)i * 7919) % info.n_vocab);

    chord_stats s0, s1;
    chord_stats_get(m, &s0);
    /* cold: every streamed token starts from a dropped page cache */
    const char *drop = o->cold && s0.streaming ? o->model : NULL;
    /* Warm-up: a short batch and a few steps fault the weights in and wake
     * the threads at a fraction of a full repetition's cost (one step when
     * streaming: a step of a model larger than RAM can take many seconds,
     * and the layer cache needs no more to reach its steady state). */
    int warm_tg = s0.streaming ? 1 : 4;
    bench_progress("%s: warming up", s0.streaming ? "streamed run" : "resident run");
    double dt;
    if ((st = run_once(c, toks, o->n_pp < 32 ? o->n_pp : 32, true, NULL, logits, &dt, err)) != CHORD_OK ||
        (st = run_once(c, toks, o->n_tg < warm_tg ? o->n_tg : warm_tg, false, NULL, logits, &dt,
                       err)) != CHORD_OK)
        goto done;
    double pp[BENCH_MAX_REPS], tg[BENCH_MAX_REPS];
    uint64_t stalls = 0, bytes = 0, ex_bytes = 0;
    double stall_ms = 0, ex_stall_ms = 0, tg_s = 0;
    const char *run = s0.streaming ? "streamed run" : "resident run";
    for (int r = 0; r < o->reps; r++) {
        bench_progress("%s, repetition %d of %d: prompt of %d tokens", run, r + 1, o->reps, o->n_pp);
        if ((st = maybe_drop(o, mp, err)) != CHORD_OK ||
            (st = run_once(c, toks, o->n_pp, true, NULL, logits, &dt, err)) != CHORD_OK)
            goto done;
        pp[r] = o->n_pp / dt;
        if ((st = maybe_drop(o, mp, err)) != CHORD_OK)
            goto done;
        chord_stats_get(m, &s0);
        bench_progress("%s, repetition %d of %d: %d tokens generated one by one (prompt %.1f t/s)",
                       run, r + 1, o->reps, o->n_tg, pp[r]);
        if ((st = run_once(c, toks, o->n_tg, false, drop, logits, &dt, err)) != CHORD_OK)
            goto done;
        chord_stats_get(m, &s1);
        tg[r] = o->n_tg / dt;
        stalls += s1.stalls - s0.stalls;
        stall_ms += s1.stall_ms - s0.stall_ms;
        bytes += s1.bytes_read - s0.bytes_read;
        ex_bytes += s1.expert_bytes_read - s0.expert_bytes_read;
        ex_stall_ms += s1.expert_stall_ms - s0.expert_stall_ms;
        out->ex_hits += s1.expert_hits - s0.expert_hits;
        out->ex_misses += s1.expert_misses - s0.expert_misses;
        out->ex_predicted += s1.expert_predicted - s0.expert_predicted;
        out->ex_predict_right += s1.expert_predict_right - s0.expert_predict_right;
        tg_s += dt;
    }
    out->pp = mmm(pp, o->reps);
    out->tg = mmm(tg, o->reps);
    double n_tok = (double)o->n_tg * o->reps;
    out->stalls_per_tok = (double)stalls / n_tok;
    out->stall_ms_per_tok = stall_ms / n_tok;
    out->layer_bytes_per_tok = (double)bytes / n_tok;
    out->ex_bytes_per_tok = (double)ex_bytes / n_tok;
    out->bytes_per_tok = (double)(bytes + ex_bytes) / n_tok;
    out->read_mb_s = tg_s > 0 ? (double)(bytes + ex_bytes) / tg_s / 1e6 : 0;
    out->ex_stall_ms_per_tok = ex_stall_ms / n_tok;
    chord_stats_get(m, &s1);
    out->moe = s1.n_moe_layers > 0;
    if (out->moe) {
        out->n_expert = s1.n_expert;
        out->n_expert_used = s1.n_expert_used;
        out->n_moe_layers = s1.n_moe_layers;
        out->expert_slots = s1.expert_slots;
        uint64_t need = out->ex_hits + out->ex_misses;
        out->ex_hit_rate = need ? (double)out->ex_hits / (double)need : 1;
        out->ex_predict_rate =
            out->ex_predicted ? (double)out->ex_predict_right / (double)out->ex_predicted : 0;
        /* dense layers of a MoE model (if any) choose no experts: 0 */
        double seen = 0;
        for (int l = 0; l < s1.n_layer && l < CHORD_MAX_LAYERS; l++)
            seen += s1.experts_seen[l];
        out->experts_used = seen / s1.n_moe_layers;
    }
    out->streaming = s1.streaming;
    out->n_resident = s1.n_resident;
    out->n_slots = s1.n_slots;
    out->budget_bytes = s1.budget_bytes;
    bench_rss(&out->rss_kb, &out->hwm_kb);
    const char *plan = chord_model_plan(m);
    size_t k = 0;
    while (plan[k] && plan[k] != '\n' && k + 1 < sizeof out->plan) {
        out->plan[k] = plan[k];
        k++;
    }
    out->plan[k] = 0;
done:
    if (st != CHORD_OK && !err->msg[0])
        snprintf(err->msg, sizeof err->msg, "bench: %s", chord_status_str(st));
    chord_ctx_free(c);
    chord_model_free(m);
    free(toks);
    free(logits);
    return st;
}

/* The two memory read probes: 1 GiB (mem) and, for a model that reads
 * less than that a token, its own bytes a token (model; at least 1 MiB). */
static chord_status probe_reads(const bench_opts *o, const bench_result *res, double *mem, double *model,
                                chord_err *err)
{
    chord_status st = chord_probe_mem_read(o->threads, (size_t)1 << 30, 5, mem, err);
    if (st != CHORD_OK)
        return st;
    int64_t wpt = res->info.weight_bytes_per_token;
    if (wpt > 0 && wpt < ((int64_t)1 << 30))
        st = chord_probe_mem_read(o->threads, (size_t)wpt < ((size_t)1 << 20) ? (size_t)1 << 20 : (size_t)wpt, 5,
                                  model, err);
    return st;
}

/* The read probes again, after the timed runs, each rate the higher of
 * its two measurements: a bound is the fastest the memory was seen to
 * read in this run. On a shared host the rate moves while a bench runs
 * (a Zen 4 VM here read 30-38 GB/s for minutes, then 50-76), and a
 * model's tg measured in a fast moment against a probe taken in a slow
 * one read as 117% of its bound. */
chord_status bench_limits_read_again(const bench_opts *o, bench_result *res, chord_err *err)
{
    bench_limits *l = &res->lim;
    double mem = 0, model = 0;
    chord_status st = probe_reads(o, res, &mem, &model, err);
    if (st != CHORD_OK)
        return st;
    if (mem > l->mem_bw_gb_s)
        l->mem_bw_gb_s = mem;
    if (model > l->model_bw_gb_s)
        l->model_bw_gb_s = model;
    return CHORD_OK;
}

chord_status bench_limits_measure(const bench_opts *o, bench_result *res, chord_err *err)
{
    bench_limits *l = &res->lim;
    int nt = o->threads;
    bench_progress("measuring the machine: memory read, memcpy, sgemm, fma and int8 peaks");
    chord_status st = probe_reads(o, res, &l->mem_bw_gb_s, &l->model_bw_gb_s, err);
    if (st != CHORD_OK)
        return st;
    /* The layer cache copies with up to two prefetch workers. */
    int pf = o->prefetch > 0 ? o->prefetch : 2;
    l->memcpy_threads = pf < 2 ? pf : 2;
    st = chord_probe_memcpy(l->memcpy_threads, (size_t)256 << 20, 3, &l->memcpy_gb_s, err);
    if (st != CHORD_OK)
        return st;
    const chord_model_info *in = &res->info;
    int hd = in->n_head > 0 ? in->n_embd / in->n_head : in->n_embd;
    int kv = in->n_head_kv * hd, d = in->n_embd, f = in->n_ff;
    /* One layer's matrices: q, k, v, o, gate, up, down (rows out, inputs). */
    int shapes[] = {d, d, kv, d, kv, d, d, d, f, d, f, d, d, f};
    st = chord_probe_sgemm(nt, o->n_pp, shapes, 7, 2, &l->sgemm_gflops, err);
    if (st != CHORD_OK)
        return st;
    st = chord_probe_fma(nt, &l->fma_gflops, &l->fma_kind, err);
    if (st != CHORD_OK)
        return st;
    return chord_probe_int8(nt, &l->int8_gops, &l->int8_kind, err);
}

/* The streaming's pattern: one layer per prefetch worker, the workers at
 * once, in 512 KiB preads; blocks capped at 64 MiB, past which the kernel's
 * readahead windows are far smaller anyway. */
static void stream_pattern(bench_result *res)
{
    bench_limits *l = &res->lim;
    const chord_model_info *in = &res->info;
    int64_t block = in->n_layer > 0 ? in->weight_bytes_per_token / in->n_layer : (int64_t)8 << 20;
    block = block < ((int64_t)1 << 20) ? (int64_t)1 << 20
          : block > ((int64_t)64 << 20) ? (int64_t)64 << 20 : block;
    l->disk_block = block;
    l->disk_readers = l->memcpy_threads;
}

chord_status bench_disk_measure(const bench_opts *o, bench_result *res, chord_err *err)
{
    bench_limits *l = &res->lim;
    stream_pattern(res);
    /* over as many bytes as a token streams (at least 1 GiB when the file
     * has it): what the host's cache holds of them decides the rate */
    int64_t span = (int64_t)res->stream.bytes_per_tok;
    if (span < ((int64_t)1 << 30))
        span = (int64_t)1 << 30;
    l->disk_span = span;
    return chord_probe_disk_read(o->model, span, (int64_t)1 << 30, l->disk_block, l->disk_readers,
                                 &l->disk_mb_s, err);
}

chord_status bench_pcache_measure(const bench_opts *o, bench_result *res, chord_err *err)
{
    bench_limits *l = &res->lim;
    stream_pattern(res);
    /* as many bytes as a token streams, which the streamed run just left
     * in the page cache (the probe's untimed first pass reads any that
     * were not); repeated until 1 GiB was timed */
    int64_t span = (int64_t)res->stream.bytes_per_tok;
    if (span < ((int64_t)16 << 20))
        span = (int64_t)16 << 20;
    l->pcache_span = span;
    double mb_s = 0;
    chord_status st = chord_probe_pcache_read(o->model, span, (int64_t)1 << 30, l->disk_block,
                                              l->disk_readers, &mb_s, err);
    l->pcache_gb_s = mb_s / 1e3;
    return st;
}

/* ------------------------------------------------------------------------
 * Speculative decoding
 * ---------------------------------------------------------------------- */

/* One greedy generation of up to n tokens after the prompt, from empty
 * contexts; the tokens into out, the DONE event into *done. */
static chord_status spec_gen(chord_model *m, chord_ctx *c, chord_model *d, chord_ctx *dc,
                             bool lookup, int draft_max, const chord_token *prompt, int n_prompt,
                             int n, chord_token *out, chord_event *done, chord_err *err)
{
    chord_ctx_truncate(c, 0);
    if (dc)
        chord_ctx_truncate(dc, 0);
    chord_gen_params gp;
    memset(&gp, 0, sizeof gp);
    gp.prompt = prompt;
    gp.n_prompt = n_prompt;
    gp.n_predict = n;
    gp.sampling = chord_sampler_default_params();
    gp.sampling.temp = 0;
    gp.model = m;
    gp.draft = d;
    gp.draft_ctx = dc;
    gp.draft_max = draft_max;
    gp.lookup = lookup;
    chord_gen *g = NULL;
    chord_status st = chord_gen_start(c, &gp, &g, err);
    if (st != CHORD_OK)
        return st;
    int k = 0;
    memset(done, 0, sizeof *done);
    for (;;) {
        chord_event ev;
        if (!chord_gen_next(g, &ev, -1))
            continue;
        if (ev.kind == CHORD_EV_TOKEN && k < n)
            out[k++] = ev.token;
        if (ev.kind == CHORD_EV_ERROR) {
            st = ev.status;
            snprintf(err->msg, sizeof err->msg, "%s", ev.message);
            break;
        }
        if (ev.kind == CHORD_EV_DONE) {
            *done = ev;
            break;
        }
    }
    chord_gen_join(g);
    return st;
}

chord_status bench_spec(const bench_opts *o, const chord_model_params *mp, bench_result *res,
                        chord_err *err)
{
    chord_model *m = NULL, *d = NULL;
    chord_ctx *c = NULL, *dc = NULL;
    chord_token *plain = NULL, *spec = NULL;
    chord_status st = chord_model_load(o->model, mp, &m, err);
    if (st != CHORD_OK)
        return st;
    chord_stats ms;
    chord_stats_get(m, &ms);
    res->spec_streamed = ms.streaming;
    if (o->draft) {
        /* the draft stays whole in memory, as the main modes keep it */
        chord_model_params dp = *mp;
        dp.mem_budget = -1;
        if ((st = chord_model_load(o->draft, &dp, &d, err)) != CHORD_OK)
            goto done;
        if ((st = chord_vocab_check(m, d, err)) != CHORD_OK)
            goto done;
        chord_model_info di;
        chord_model_get_info(d, &di);
        snprintf(res->draft_name, sizeof res->draft_name, "%s", di.name ? di.name : "");
        snprintf(res->draft_type, sizeof res->draft_type, "%s", di.type_name ? di.type_name : "");
    }
    /* A prompt of ordinary text; models that were not trained on it (a
     * random one) still continue it the same way with and without */
    static const char text[] =
        "The printing press changed how ideas travelled. Before it, a book was copied by hand, "
        "and a copy took months. After it, a workshop could print hundreds of copies in the same "
        "time, and the price of a book fell. Here is a short account of";
    chord_token prompt[256];
    int n_prompt = chord_tokenize(m, text, sizeof text - 1, true, false, prompt, 256, err);
    if (n_prompt <= 0 || n_prompt > 256) {
        st = CHORD_E_INVALID;
        goto done;
    }
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = n_prompt + o->n_tg + 64;
    cp.n_threads = o->threads;
    if ((st = chord_ctx_new(m, &cp, &c, err)) != CHORD_OK ||
        (d && (st = chord_ctx_new(d, &cp, &dc, err)) != CHORD_OK))
        goto done;
    plain = malloc((size_t)o->n_tg * sizeof *plain);
    spec = malloc((size_t)o->n_tg * sizeof *spec);
    if (!plain || !spec) {
        st = CHORD_E_NOMEM;
        snprintf(err->msg, sizeof err->msg, "bench: out of memory");
        goto done;
    }
    int lens[BENCH_MAX_DRAFT_LENS] = {8};
    int n_lens = o->n_draft_lens ? o->n_draft_lens : 1;
    if (o->n_draft_lens)
        memcpy(lens, o->draft_lens, sizeof lens);
    chord_event ev;
    /* warm-up: the weights faulted in, the threads awake */
    if ((st = spec_gen(m, c, d, dc, o->lookup, lens[0], prompt, n_prompt, 8, spec, &ev, err)) != CHORD_OK)
        goto done;
    for (int li = 0; li < n_lens; li++) {
        bench_spec_run *sr = &res->spec[li];
        memset(sr, 0, sizeof *sr);
        sr->draft_max = lens[li];
        sr->same = true;
        double tp[BENCH_MAX_REPS], ts[BENCH_MAX_REPS], ra[BENCH_MAX_REPS];
        for (int r = 0; r < o->reps; r++) {
            chord_event pe, se;
            if ((st = spec_gen(m, c, NULL, NULL, false, 0, prompt, n_prompt, o->n_tg, plain, &pe,
                               err)) != CHORD_OK ||
                (st = spec_gen(m, c, d, dc, o->lookup, lens[li], prompt, n_prompt, o->n_tg, spec, &se,
                               err)) != CHORD_OK)
                goto done;
            tp[r] = pe.gen_ms > 0 ? pe.n_gen * 1e3 / pe.gen_ms : 0;
            ts[r] = se.gen_ms > 0 ? se.n_gen * 1e3 / se.gen_ms : 0;
            ra[r] = tp[r] > 0 ? ts[r] / tp[r] : 0;
            sr->drafted += se.n_drafted;
            sr->accepted += se.n_accepted;
            sr->n_gen = pe.n_gen;
            if (se.n_gen != pe.n_gen || memcmp(plain, spec, (size_t)pe.n_gen * sizeof *plain) != 0)
                sr->same = false;
        }
        sr->tg_plain = mmm(tp, o->reps);
        sr->tg_spec = mmm(ts, o->reps);
        sr->ratio = mmm(ra, o->reps);
        res->n_spec = li + 1;
    }
    res->have_spec = true;
done:
    if (st != CHORD_OK && !err->msg[0])
        snprintf(err->msg, sizeof err->msg, "bench: %s", chord_status_str(st));
    free(plain);
    free(spec);
    chord_ctx_free(dc);
    chord_ctx_free(c);
    chord_model_free(d);
    chord_model_free(m);
    return st;
}
