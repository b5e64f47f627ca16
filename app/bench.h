/*
 * bench.h - `chord bench`: prompt processing and token generation speeds
 * next to the machine's limits measured in the same run (roofline), the
 * layer cache streamed against the resident model, and the tokenizer.
 *
 * cmd_bench.c parses the options and runs the parts in order;
 * bench_run.c times the model; bench_report.c prints text or JSON.
 */
#ifndef CHORD_APP_BENCH_H
#define CHORD_APP_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "chord.h"

#define BENCH_MAX_REPS 100
#define BENCH_MAX_DRAFT_LENS 8

typedef struct bench_opts {
    const char *model;
    int n_pp, n_tg, reps, threads;
    int ctx_depth;        /* --ctx-depth N: pp and tg after N tokens of context */
    int cache_type_k, cache_type_v; /* --cache-type-k/-v: chord_kv_type */
    bool json, cold, tokenizer;
    bool stream;          /* --mem-budget given: a streamed run */
    int64_t mem_budget;   /* its budget; 0 = auto (the engine's choice) */
    int prefetch;         /* 0 = engine default */
    bool expert_lru;      /* --expert-lru: the expert cache evicts by recency */
    /* speculative decoding: tg with and without (bench_spec) */
    const char *draft;    /* --draft MODEL, or NULL */
    bool lookup;          /* --lookup */
    int draft_lens[BENCH_MAX_DRAFT_LENS]; /* --draft-max N[,N...]; none = 8 */
    int n_draft_lens;
} bench_opts;

/* min / median / max of a series of tokens/s. */
typedef struct bench_mmm {
    double min, med, max;
} bench_mmm;

/* One model configuration (resident or streamed) timed. */
typedef struct bench_speed {
    bench_mmm pp, tg;
    /* tg's share of the layer cache counters, per generated token;
     * bytes_per_tok and read_mb_s count the expert cache's reads too */
    double stalls_per_tok, stall_ms_per_tok, bytes_per_tok, read_mb_s;
    double layer_bytes_per_tok;  /* the layer cache's share of bytes_per_tok */
    /* Mixtures of experts (moe false and the rest zero for a dense model):
     * tg's share of the expert cache counters. A hit rate means little
     * without the number of experts the text actually used (a random
     * model's routers can settle on a few), so experts_used (the mean over
     * MoE layers of the distinct experts chosen since the load) goes with
     * it everywhere. */
    bool moe;
    int n_expert, n_expert_used, n_moe_layers;
    int expert_slots;            /* 0: every expert resident */
    uint64_t ex_hits, ex_misses, ex_predicted, ex_predict_right;
    double ex_hit_rate;          /* hits / (hits + misses); 1 when none */
    double ex_predict_rate;      /* right / predicted; 0 when none */
    double ex_stall_ms_per_tok, ex_bytes_per_tok;
    double experts_used;
    bool streaming;
    int n_resident, n_slots;
    int64_t budget_bytes;
    int64_t rss_kb, hwm_kb;      /* after the runs; HWM since the load */
    char plan[512];
} bench_speed;

/* The machine's limits. */
typedef struct bench_limits {
    double mem_bw_gb_s, memcpy_gb_s, sgemm_gflops, int8_gops;
    double fma_gflops;           /* float multiply-add peak, all threads */
    const char *fma_kind;
    /* read bandwidth over a buffer the size of the weights one token
     * reads, when that is under 1 GiB: a model that fits in the caches is
     * bound by them, not by DRAM (0 = not measured: mem_bw_gb_s applies) */
    double model_bw_gb_s;
    const char *int8_kind;
    int memcpy_threads;
    double disk_mb_s;            /* 0 when not measured (no --cold) */
    int64_t disk_block;          /* the disk probe's request size, span... */
    int64_t disk_span;
    int disk_readers;            /* ...and concurrent readers */
    /* warm streaming: read() out of the page cache with the same pattern
     * over the cached file (0 when not measured: --cold or no stream) */
    double pcache_gb_s;
    int64_t pcache_span;
} bench_limits;

/* Speculative decoding at one draft length: greedy generation of -n
 * tokens from the same prompt without and with it, alternated within each
 * repetition (the machine may be shared: the ratio is taken per pair). */
typedef struct bench_spec_run {
    int draft_max;
    bench_mmm tg_plain, tg_spec; /* tokens/s */
    bench_mmm ratio;             /* tg_spec / tg_plain of each pair */
    int64_t drafted, accepted;   /* over every repetition */
    bool same;                   /* every run gave plain decoding's tokens */
    int n_gen;                   /* tokens generated per run */
} bench_spec_run;

typedef struct bench_result {
    chord_model_info info;       /* strings point into the result's copies */
    char name[256], type[32], arch[32];
    const char *pp_kernel;       /* chord_prefill_kernel: int8, fma, sgemm
                                  * (the last two: float weights, whose
                                  * prefill bound is sgemm's) */
    bench_limits lim;
    bool have_resident;          /* false when the file exceeds available RAM */
    bench_speed resident;
    bool have_stream;
    bench_speed stream;
    int64_t kv_bytes;            /* the context's KV cache */
    int64_t kv_read_per_tok;     /* KV bytes a decode step reads at ctx_depth */
    bool have_tok;
    double tok_mb_s, tok_seconds;
    int tok_tokens;
    size_t tok_bytes;
    double load_avg;             /* 1-minute load average at the start */
    double load_avg_end;         /* ...and at the end */
    int64_t mem_available;       /* MemAvailable at the start, bytes */
    bool have_spec;
    bool spec_streamed;          /* the model streamed (--mem-budget) */
    char draft_name[256], draft_type[32];
    int n_spec;
    bench_spec_run spec[BENCH_MAX_DRAFT_LENS];
} bench_result;

/* Loads the model with mp (mem_budget decides resident or streamed) and
 * times pp and tg over o->reps repetitions after a short warm-up. With
 * o->cold, the file's pages are dropped before each repetition and, in
 * tg, before each token (untimed), so that every token streams from disk
 * even when the layer cache leaves its reads in the page cache. info, if
 * not NULL, receives the model's info (its strings are valid until the
 * model is freed: copy them). Prints nothing. */
chord_status bench_model(const bench_opts *o, const chord_model_params *mp, bench_speed *out,
                         bench_result *res, chord_err *err);

/* With --draft or --lookup: loads the model with mp (and the draft whole)
 * and times greedy generation without and with speculative decoding at
 * each draft length (res->spec). Prints nothing. */
chord_status bench_spec(const bench_opts *o, const chord_model_params *mp, bench_result *res,
                        chord_err *err);

/* Measures the machine's limits for the model's shapes (res->info). */
chord_status bench_limits_measure(const bench_opts *o, bench_result *res, chord_err *err);
/* The memory read probes once more after the runs, keeping the higher
 * rate of each (the bound is the fastest read seen in the run). */
chord_status bench_limits_read_again(const bench_opts *o, bench_result *res, chord_err *err);

/* With --cold, after the streamed run: the disk's read rate for the layer
 * cache's pattern over the bytes one token streams (lim.disk_*). */
chord_status bench_disk_measure(const bench_opts *o, bench_result *res, chord_err *err);

/* Without --cold, after the streamed run: the page cache's read rate for
 * the same pattern over the model file's cached pages (lim.pcache_*, the
 * block and readers in lim.disk_*). */
chord_status bench_pcache_measure(const bench_opts *o, bench_result *res, chord_err *err);

/* Reads VmRSS and VmHWM (kB) from /proc/self/status; -1 when unknown. */
void bench_rss(int64_t *rss_kb, int64_t *hwm_kb);
/* Resets VmHWM to the current RSS (Linux clear_refs), if allowed. */
void bench_reset_hwm(void);

void bench_print_text(const bench_opts *o, const bench_result *r);

/* What the bench is doing, on one stderr line rewritten in place, when
 * stderr is a terminal (a run takes minutes; nothing when piped). */
void bench_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Clears that line before the report. */
void bench_progress_end(void);
void bench_print_json(const bench_opts *o, const bench_result *r);

#endif
