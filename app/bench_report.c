/*
 * bench_report.c - `chord bench` output: a readable table, or one JSON
 * object (--json) with the same numbers. Bounds are derived here from the
 * measured limits so that text and JSON cannot disagree.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define MIB(x) ((double)(x) / (1024.0 * 1024.0))

/* Derived bounds, in tokens/s (0 when a limit is unknown). */
typedef struct bounds {
    double ops_per_tok;          /* 2 x matmul parameters per token */
    double bw;                   /* GB/s behind the tg bound */
    double tg, pp_sgemm, pp_int8, pp_fma, pp_path;
    double tg_frac, pp_frac, pp_frac_sgemm, pp_frac_int8, pp_frac_fma;
    double copy_bound, disk_bound, stream_ratio;
    double pcache_bound, pcache_ratio;   /* warm: read() from the page cache */
    /* a model too big for RAM has no resident run to compare with: its
     * decode is held to the lower of the bandwidth bound (every weight a
     * token uses read from memory once) and the I/O bound (the bytes it
     * streams, at the disk's rate cold, the page cache's warm) */
    double io_bound, both_ratio;
    int64_t rss_limit;           /* budget + KV + 64 MiB, bytes */
} bounds;

static double div0(double a, double b)
{
    return b > 0 ? a / b : 0;
}

/* Float weights (chord's F16 GEMM or sgemm): the bound for their
 * prefill is sgemm's, for quantized ones the int8 peak. */
static bool float_path(const bench_result *r)
{
    return r->pp_kernel && (!strcmp(r->pp_kernel, "fma") || !strcmp(r->pp_kernel, "sgemm"));
}

static bounds derive(const bench_opts *o, const bench_result *r)
{
    bounds b = {0};
    const chord_model_info *in = &r->info;
    /* The embedding table is a lookup, not a matmul; a mixture's token
     * runs only its chosen experts. */
    b.ops_per_tok = 2.0 * (double)(in->n_params_per_token - (int64_t)in->n_vocab * in->n_embd);
    b.bw = r->lim.model_bw_gb_s > 0 ? r->lim.model_bw_gb_s : r->lim.mem_bw_gb_s;
    /* at a context depth a step reads the KV cache as well */
    b.tg = div0(b.bw * 1e9, (double)(in->weight_bytes_per_token + r->kv_read_per_tok));
    b.pp_sgemm = div0(r->lim.sgemm_gflops * 1e9, b.ops_per_tok);
    b.pp_int8 = div0(r->lim.int8_gops * 1e9, b.ops_per_tok);
    b.pp_fma = div0(r->lim.fma_gflops * 1e9, b.ops_per_tok);
    b.pp_path = float_path(r) ? b.pp_sgemm : b.pp_int8;
    b.tg_frac = div0(r->resident.tg.med, b.tg);
    b.pp_frac = div0(r->resident.pp.med, b.pp_path);
    b.pp_frac_sgemm = div0(r->resident.pp.med, b.pp_sgemm);
    b.pp_frac_int8 = div0(r->resident.pp.med, b.pp_int8);
    b.pp_frac_fma = div0(r->resident.pp.med, b.pp_fma);
    if (r->have_stream) {
        const bench_speed *s = &r->stream;
        b.copy_bound = div0(r->lim.memcpy_gb_s * 1e9, s->bytes_per_tok);
        b.disk_bound = div0(r->lim.disk_mb_s * 1e6, s->bytes_per_tok);
        if (o->cold) {
            b.stream_ratio = div0(s->tg.med, b.disk_bound);
        } else {
            double ref = r->have_resident ? r->resident.tg.med : b.copy_bound;
            if (b.copy_bound > 0 && b.copy_bound < ref)
                ref = b.copy_bound;
            b.stream_ratio = div0(s->tg.med, ref);
            b.pcache_bound = div0(r->lim.pcache_gb_s * 1e9, s->bytes_per_tok);
            ref = r->have_resident ? r->resident.tg.med : b.pcache_bound;
            if (b.pcache_bound > 0 && b.pcache_bound < ref)
                ref = b.pcache_bound;
            b.pcache_ratio = b.pcache_bound > 0 ? div0(s->tg.med, ref) : 0;
        }
        b.io_bound = o->cold ? b.disk_bound : b.pcache_bound;
        double lim = b.io_bound > 0 && b.io_bound < b.tg ? b.io_bound : b.tg;
        b.both_ratio = div0(s->tg.med, lim);
        b.rss_limit = s->budget_bytes + r->kv_bytes + ((int64_t)64 << 20);
    }
    return b;
}

static const char *pp_kernel_text(const char *k)
{
    if (k && !strcmp(k, "fma"))
        return "chord's F16 GEMM on multiply-adds (float weights; bound: sgemm)";
    if (k && !strcmp(k, "sgemm"))
        return "OpenBLAS sgemm (float weights)";
    return "int8 dot products (quantized weights)";
}

static void row(const char *name, int n, const bench_mmm *m, double bound, const char *what)
{
    printf("  %-4s%-6d %9.2f %9.2f %9.2f   %10.2f  %6.1f%% of %s\n", name, n, m->min, m->med,
           m->max, bound, 100 * div0(m->med, bound), what);
}

/* The expert cache's line(s) of a run of a mixture of experts: every hit
 * rate next to the experts per layer the text actually used. */
static void experts_text(const bench_opts *o, const bench_speed *s)
{
    if (!s->moe)
        return;
    if (s->expert_slots == 0) {
        printf("  experts: all resident (%d layers x %d, %d per token); %.1f of %d used per layer\n",
               s->n_moe_layers, s->n_expert, s->n_expert_used, s->experts_used, s->n_expert);
        return;
    }
    printf("  experts: %d slots for %d layers x %d (%d per token), %s eviction\n"
           "  expert hit rate %.1f%% (%llu of %llu) with %.1f of %d experts used per layer;"
           " predicted right %.1f%% (%llu of %llu)\n"
           "  per token: %.2f ms stalled on experts, %.1f MiB of experts + %.1f MiB of layers"
           " = %.1f MiB read\n",
           s->expert_slots, s->n_moe_layers, s->n_expert, s->n_expert_used,
           o->expert_lru ? "LRU" : "decayed-count", 100 * s->ex_hit_rate,
           (unsigned long long)s->ex_hits, (unsigned long long)(s->ex_hits + s->ex_misses),
           s->experts_used, s->n_expert, 100 * s->ex_predict_rate,
           (unsigned long long)s->ex_predict_right, (unsigned long long)s->ex_predicted,
           s->ex_stall_ms_per_tok, MIB(s->ex_bytes_per_tok), MIB(s->layer_bytes_per_tok),
           MIB(s->bytes_per_tok));
}

void bench_print_text(const bench_opts *o, const bench_result *r)
{
    const chord_model_info *in = &r->info;
    bounds b = derive(o, r);
    char active[48] = "";
    if (in->n_params_per_token != in->n_params)
        snprintf(active, sizeof active, " (%.3f B a token)", (double)in->n_params_per_token / 1e9);
    printf("model    %s: %s %s, %.3f B params%s, weights %.1f MiB, %.1f MiB read per token\n",
           in->path, in->arch, in->type_name, (double)in->n_params / 1e9, active, MIB(in->weight_bytes),
           MIB(in->weight_bytes_per_token));
    printf("threads  %d, simd %s, prefill path %s, load average %.2f (%.2f at the end)\n",
           o->threads, chord_simd_level(), pp_kernel_text(r->pp_kernel), r->load_avg,
           r->load_avg_end);
    printf("machine  read %.2f GB/s (1 GiB), %.2f GB/s over %.1f MiB (the tg bound's)\n",
           r->lim.mem_bw_gb_s, b.bw,
           MIB(r->lim.model_bw_gb_s > 0 ? in->weight_bytes_per_token : (int64_t)1 << 30));
    if (o->ctx_depth)
        printf("context  depth %d (pp and tg after it), KV cache K %s V %s: %.1f MiB read per token"
               " beside the weights\n", o->ctx_depth, chord_kv_type_name((chord_kv_type)o->cache_type_k),
               chord_kv_type_name((chord_kv_type)o->cache_type_v), MIB(r->kv_read_per_tok));
    printf("         memcpy %.2f GB/s (%d thr) | sgemm %.1f GFLOP/s (M=%d) | int8 %.1f GOP/s (%s)\n",
           r->lim.memcpy_gb_s, r->lim.memcpy_threads, r->lim.sgemm_gflops, o->n_pp,
           r->lim.int8_gops, r->lim.int8_kind ? r->lim.int8_kind : "?");
    printf("         fma %.1f GFLOP/s (%s)\n", r->lim.fma_gflops,
           r->lim.fma_kind ? r->lim.fma_kind : "?");
    if (r->have_resident) {
        printf("resident (tokens/s over %d reps)\n  test        min       med       max    bound t/s\n",
               o->reps);
        row("pp", o->n_pp, &r->resident.pp, b.pp_path, float_path(r) ? "sgemm bound" : "int8 bound");
        row("tg", o->n_tg, &r->resident.tg, b.tg, "bandwidth bound");
        printf("  pp vs the other bound: %.1f%% of sgemm (%.1f t/s), %.1f%% of int8 (%.1f t/s)\n",
               100 * b.pp_frac_sgemm, b.pp_sgemm, 100 * b.pp_frac_int8, b.pp_int8);
        /* chord's own float GEMM is not bound by what OpenBLAS reaches but
         * by the multiply-add units: say how far it is from those too */
        if (r->pp_kernel && !strcmp(r->pp_kernel, "fma"))
            printf("  pp vs the fma peak (the limit of chord's float GEMM): %.1f%% (%.1f t/s)\n",
                   100 * b.pp_frac_fma, b.pp_fma);
        experts_text(o, &r->resident);
        printf("  RSS %.1f MiB, peak %.1f MiB\n", r->resident.rss_kb / 1024.0,
               r->resident.hwm_kb / 1024.0);
    } else {
        printf("resident skipped: the file is larger than the available RAM (%.1f MiB at the start)\n",
               MIB(r->mem_available));
    }
    if (r->have_stream) {
        const bench_speed *s = &r->stream;
        printf("streamed, budget %.1f MiB%s\n  plan: %s\n", MIB(s->budget_bytes),
               o->cold ? ", cold (pages dropped before each run)" : ", warm", s->plan);
        row("pp", o->n_pp, &s->pp, r->resident.pp.med, "resident");
        row("tg", o->n_tg, &s->tg, r->resident.tg.med, "resident");
        if (o->cold)
            printf("  disk probe: %d reader(s) at once, %.1f MiB blocks in 512 KiB preads over %.0f MiB,\n"
                   "  pages dropped before each pass, the first pass untimed (host cache as when streaming)\n",
                   r->lim.disk_readers, MIB(r->lim.disk_block), MIB(r->lim.disk_span));
        printf("  per token: %.2f stalls, %.2f ms stalled, %.1f MiB streamed; read %.1f MB/s\n",
               s->stalls_per_tok, s->stall_ms_per_tok, MIB(s->bytes_per_tok), s->read_mb_s);
        experts_text(o, s);
        printf("  copy bound %.2f t/s (memcpy / bytes per token)", b.copy_bound);
        if (o->cold)
            printf(", disk bound %.2f t/s (disk read %.1f MB/s)\n"
                   "  cold ratio tg / disk bound = %.2f\n", b.disk_bound, r->lim.disk_mb_s,
                   b.stream_ratio);
        else
            printf(", page-cache bound %.2f t/s (page-cache read %.2f GB/s, %d readers)\n"
                   "  warm ratio tg / min(resident tg, copy bound) = %.2f\n"
                   "  warm ratio tg / min(resident tg, page-cache bound) = %.2f\n",
                   b.pcache_bound, r->lim.pcache_gb_s, r->lim.disk_readers, b.stream_ratio,
                   b.pcache_ratio);
        if (!r->have_resident)
            printf("  bandwidth bound %.2f t/s (all %.1f MiB a token uses, from memory); tg / min(it, %s"
                   " bound %.2f t/s) = %.2f\n", b.tg, MIB(in->weight_bytes_per_token),
                   o->cold ? "disk" : "page-cache", b.io_bound, b.both_ratio);
        printf("  RSS %.1f MiB, peak %.1f MiB vs budget + KV + 64 MiB = %.1f MiB\n",
               s->rss_kb / 1024.0, s->hwm_kb / 1024.0, MIB(b.rss_limit));
    }
    if (r->have_spec) {
        printf("speculative decoding (greedy, %d tokens, %s%s%s%s), plain and drafted runs alternated:\n",
               r->spec[0].n_gen, r->spec_streamed ? "model streamed, " : "",
               o->draft ? "draft " : "", o->draft ? r->draft_name : "", o->lookup ? (o->draft ? " after lookup" : "prompt lookup") : "");
        for (int i = 0; i < r->n_spec; i++) {
            const bench_spec_run *sr = &r->spec[i];
            printf("  draft-max %2d: tg %.2f t/s against %.2f plain, ratio %.2f (min %.2f, max %.2f); "
                   "%lld of %lld proposals kept (%.0f%%)%s\n",
                   sr->draft_max, sr->tg_spec.med, sr->tg_plain.med, sr->ratio.med, sr->ratio.min,
                   sr->ratio.max, (long long)sr->accepted, (long long)sr->drafted,
                   sr->drafted ? 100.0 * sr->accepted / sr->drafted : 0.0,
                   sr->same ? "" : "; TOKENS DIFFER from plain decoding");
        }
    }
    if (r->have_tok)
        printf("tokenizer  %.2f MB/s (%zu bytes -> %d tokens in %.3f s)\n", r->tok_mb_s,
               r->tok_bytes, r->tok_tokens, r->tok_seconds);
    /* what each bound above means, one line each */
    printf("bounds   the speed no run can pass on this machine, and why:\n");
    if (r->have_resident) {
        printf("  %-16s all the prompt's multiply-adds at the measured %s peak (compute limits a prompt)\n",
               float_path(r) ? "sgemm bound" : "int8 bound", float_path(r) ? "sgemm" : "int8");
    }
    printf("  %-16s every weight a token uses read once at the measured memory speed (memory "
           "limits generation)\n", "bandwidth bound");
    if (r->have_stream) {
        printf("  %-16s the bytes streamed per token copied at the measured memcpy speed\n",
               "copy bound");
        printf("  %-16s the bytes streamed per token read at the measured %s speed\n",
               o->cold ? "disk bound" : "page-cache bound", o->cold ? "disk" : "page-cache");
        printf("  %-16s near 1: the run is as fast as that limit allows\n", "ratio");
    }
}

static void json_mmm(const char *key, const bench_mmm *m)
{
    printf(",\"%s_tok_s\":%.4f,\"%s_tok_s_min\":%.4f,\"%s_tok_s_max\":%.4f", key, m->med, key,
           m->min, key, m->max);
}

/* The expert cache's counters of a run (nothing for a dense model). */
static void experts_json(const bench_opts *o, const bench_speed *s)
{
    if (!s->moe)
        return;
    printf(",\"n_expert\":%d,\"n_expert_used\":%d,\"n_moe_layers\":%d,\"expert_slots\":%d"
           ",\"expert_policy\":\"%s\"", s->n_expert, s->n_expert_used, s->n_moe_layers,
           s->expert_slots, o->expert_lru ? "lru" : "decayed");
    printf(",\"expert_hits\":%llu,\"expert_misses\":%llu,\"expert_hit_rate\":%.4f"
           ",\"expert_predicted\":%llu,\"expert_predict_right\":%llu,\"expert_predict_rate\":%.4f"
           ",\"experts_used_per_layer\":%.3f", (unsigned long long)s->ex_hits,
           (unsigned long long)s->ex_misses, s->ex_hit_rate, (unsigned long long)s->ex_predicted,
           (unsigned long long)s->ex_predict_right, s->ex_predict_rate, s->experts_used);
    printf(",\"expert_stall_ms_per_token\":%.4f,\"expert_bytes_per_token\":%.0f"
           ",\"layer_bytes_per_token\":%.0f,\"bytes_read_per_token\":%.0f",
           s->ex_stall_ms_per_tok, s->ex_bytes_per_tok, s->layer_bytes_per_tok, s->bytes_per_tok);
}

void bench_print_json(const bench_opts *o, const bench_result *r)
{
    const chord_model_info *in = &r->info;
    bounds b = derive(o, r);
    printf("{\"model\":");
    chord_json_write_str(stdout, in->path, strlen(in->path));
    printf(",\"name\":");
    chord_json_write_str(stdout, in->name, strlen(in->name));
    printf(",\"type\":");
    chord_json_write_str(stdout, in->type_name, strlen(in->type_name));
    printf(",\"threads\":%d,\"simd\":\"%s\",\"n_prompt\":%d,\"n_gen\":%d,\"reps\":%d"
           ",\"load_avg\":%.2f,\"load_avg_end\":%.2f,\"resident_run\":%s", o->threads,
           chord_simd_level(), o->n_pp, o->n_tg, o->reps, r->load_avg, r->load_avg_end,
           r->have_resident ? "true" : "false");
    printf(",\"n_params\":%lld,\"n_params_per_token\":%lld,\"weight_bytes\":%lld,\"weight_bytes_per_token\":%lld",
           (long long)in->n_params, (long long)in->n_params_per_token, (long long)in->weight_bytes,
           (long long)in->weight_bytes_per_token);
    printf(",\"ctx_depth\":%d,\"cache_type_k\":\"%s\",\"cache_type_v\":\"%s\",\"kv_read_bytes_per_token\":%lld",
           o->ctx_depth, chord_kv_type_name((chord_kv_type)o->cache_type_k),
           chord_kv_type_name((chord_kv_type)o->cache_type_v), (long long)r->kv_read_per_tok);
    json_mmm("pp", &r->resident.pp);
    json_mmm("tg", &r->resident.tg);
    printf(",\"mem_bw_gb_s\":%.4f,\"memcpy_gb_s\":%.4f,\"sgemm_gflops\":%.4f,\"int8_gops\":%.4f",
           r->lim.mem_bw_gb_s, r->lim.memcpy_gb_s, r->lim.sgemm_gflops, r->lim.int8_gops);
    printf(",\"fma_gflops\":%.4f,\"fma_kind\":\"%s\"", r->lim.fma_gflops,
           r->lim.fma_kind ? r->lim.fma_kind : "");
    printf(",\"int8_kind\":\"%s\",\"pp_path\":\"%s\",\"pp_kernel\":\"%s\"",
           r->lim.int8_kind ? r->lim.int8_kind : "", float_path(r) ? "sgemm" : "int8",
           r->pp_kernel ? r->pp_kernel : "");
    printf(",\"tg_bound_bw_gb_s\":%.4f", b.bw);
    printf(",\"tg_bound_tok_s\":%.4f,\"pp_bound_tok_s\":%.4f", b.tg, b.pp_path);
    printf(",\"tg_fraction_of_bound\":%.4f,\"pp_fraction_of_bound\":%.4f", b.tg_frac, b.pp_frac);
    printf(",\"pp_fraction_of_sgemm\":%.4f,\"pp_fraction_of_int8\":%.4f"
           ",\"pp_fraction_of_fma\":%.4f", b.pp_frac_sgemm, b.pp_frac_int8, b.pp_frac_fma);
    printf(",\"rss_bytes\":%lld,\"peak_rss_bytes\":%lld", (long long)r->resident.rss_kb * 1024,
           (long long)r->resident.hwm_kb * 1024);
    const bench_speed *ms = r->have_resident ? &r->resident : &r->stream;
    printf(",\"moe\":%s", ms->moe || (r->have_stream && r->stream.moe) ? "true" : "false");
    if (r->have_resident)
        experts_json(o, &r->resident);
    if (r->have_stream) {
        const bench_speed *s = &r->stream;
        printf(",\"stream\":{\"cold\":%s,\"budget_bytes\":%lld,\"n_resident\":%d,\"n_slots\":%d",
               o->cold ? "true" : "false", (long long)s->budget_bytes, s->n_resident, s->n_slots);
        json_mmm("pp", &s->pp);
        json_mmm("tg", &s->tg);
        printf(",\"stalls_per_token\":%.4f,\"stall_ms_per_token\":%.4f,\"bytes_per_token\":%.0f"
               ",\"read_mb_s\":%.4f", s->stalls_per_tok, s->stall_ms_per_tok, s->bytes_per_tok,
               s->read_mb_s);
        experts_json(o, s);
        printf(",\"copy_bound_tok_s\":%.4f,\"disk_mb_s\":%.4f,\"disk_bound_tok_s\":%.4f",
               b.copy_bound, r->lim.disk_mb_s, b.disk_bound);
        if (!o->cold)
            printf(",\"pcache_gb_s\":%.4f,\"pcache_bound_tok_s\":%.4f,\"warm_ratio_pcache\":%.4f",
                   r->lim.pcache_gb_s, b.pcache_bound, b.pcache_ratio);
        printf(",\"ratio_min_bandwidth_io\":%.4f", b.both_ratio);
        printf(",\"ratio\":%.4f,\"rss_bytes\":%lld,\"peak_rss_bytes\":%lld,\"rss_limit_bytes\":%lld}",
               b.stream_ratio, (long long)s->rss_kb * 1024, (long long)s->hwm_kb * 1024,
               (long long)b.rss_limit);
    }
    if (r->have_spec) {
        printf(",\"spec\":{\"streamed\":%s,\"lookup\":%s,\"draft\":", r->spec_streamed ? "true" : "false",
               o->lookup ? "true" : "false");
        if (o->draft)
            chord_json_write_str(stdout, r->draft_name, strlen(r->draft_name));
        else
            printf("null");
        printf(",\"runs\":[");
        for (int i = 0; i < r->n_spec; i++) {
            const bench_spec_run *sr = &r->spec[i];
            printf("%s{\"draft_max\":%d,\"n_gen\":%d", i ? "," : "", sr->draft_max, sr->n_gen);
            json_mmm("tg_plain", &sr->tg_plain);
            json_mmm("tg_spec", &sr->tg_spec);
            printf(",\"ratio\":%.4f,\"ratio_min\":%.4f,\"ratio_max\":%.4f,\"drafted\":%lld,"
                   "\"accepted\":%lld,\"accept_rate\":%.4f,\"same_tokens\":%s}",
                   sr->ratio.med, sr->ratio.min, sr->ratio.max, (long long)sr->drafted,
                   (long long)sr->accepted, sr->drafted ? (double)sr->accepted / sr->drafted : 0.0,
                   sr->same ? "true" : "false");
        }
        printf("]}");
    }
    if (r->have_tok)
        printf(",\"tokenizer_mb_s\":%.4f,\"tokenizer_seconds\":%.6f,\"tokenizer_tokens\":%d",
               r->tok_mb_s, r->tok_seconds, r->tok_tokens);
    printf("}\n");
}
