/*
 * gen_int.h - what gen.c (the thread, plain decoding) and gen_spec.c
 * (speculative decoding) share, and the acceptance rule for its tests.
 */
#ifndef CHORD_GEN_INT_H
#define CHORD_GEN_INT_H

#include <stdatomic.h>
#include <pthread.h>

#include "chord.h"
#include "gen/gen_queue.h"
#include "sample/sample.h"

/* The most tokens one check proposes. */
#define GEN_DRAFT_MAX 32
#define GEN_DRAFT_DEFAULT 8

struct chord_gen {
    chord_ctx *ctx;
    const chord_model *model;
    chord_token *prompt;
    int n_prompt, n_predict;
    chord_sampler_params sp;
    int n_vocab;

    /* speculative decoding (gen_spec.c); spec false = plain decoding */
    bool spec, lookup;
    const chord_model *draft;
    chord_ctx *draft_ctx;
    int draft_max;
    int n_vocab_draft;
    chord_token *context;      /* a copy of the params' context, or NULL */
    int n_context;

    gen_queue queue;
    atomic_bool cancel;
    pthread_t thread;
    bool started;
};

/* Run state of one generation, local to the thread. */
typedef struct gen_run {
    chord_gen *g;
    chord_sampler *smp;
    float *logits;
    chord_detok dt;
    int n_gen;
    int n_drafted, n_accepted;
    double prompt_ms, gen_ms;
} gen_run;

double gen_now_ms(void);
/* Posts the final DONE (reason) or, for STOP_ERROR, the final ERROR. */
void gen_post_end(gen_run *r, chord_stop_reason reason, chord_status st, const char *msg);
/* Ends the run after a failed eval (cancelled and full contexts are
 * normal stops, see gen.c). */
void gen_end_on_eval(gen_run *r, chord_status st, const chord_err *err, bool prefill);

/* Speculative decoding's token loop, from the prompt on; every path ends
 * with exactly one gen_post_end(). */
void gen_spec_loop(gen_run *r);

/* The acceptance rule. p: the model's probabilities (n_p of them); the
 * proposal x was drawn from q (n_q probabilities; NULL: x was proposed
 * for certain, as lookup and a greedy draft do). Returns true if x is
 * kept; else *out is drawn from max(0, p - q) renormalized, so that the
 * token that comes out follows p exactly. */
bool gen_spec_accept(const float *p, int n_p, const float *q, int n_q, chord_token x,
                     samp_rng *rng, chord_token *out);

/* Prompt lookup: finds the last earlier occurrence of the final n tokens
 * of hist (n from GEN_LOOKUP_NGRAM down to 2) and copies up to max of the
 * tokens that followed it into out; returns how many (0: no match). */
#define GEN_LOOKUP_NGRAM 4
int gen_lookup(const chord_token *hist, int n_hist, int max, chord_token *out);

#endif
