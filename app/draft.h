/*
 * draft.h - the draft model of --draft (speculative decoding) beside the
 * model, for every main mode.
 *
 * Memory: --mem-budget is the model's. The draft is kept whole in memory
 * (a streamed draft would cost more than it saves); under the auto budget
 * the draft's file size is taken off 80% of MemAvailable first and the
 * model plans with the rest (app_draft_budget, before the model loads).
 */
#ifndef CHORD_APP_DRAFT_H
#define CHORD_APP_DRAFT_H

#include "chord.h"
#include "opts.h"

typedef struct app_draft {
    chord_model *m;      /* NULL without --draft */
    chord_ctx *ctx;      /* as long as the model's context */
} app_draft;

/* With --draft and the auto budget: the model's budget made explicit as
 * 80% of MemAvailable less the draft's size. 0, or the exit code after
 * printing the problem. */
int app_draft_budget(const chord_opts *o, chord_model_params *mp);

/* Loads --draft (if given) for model m and its context c: refused with one
 * line when its vocabulary is not m's. 0, or the exit code after printing
 * the problem. */
int app_draft_open(const chord_opts *o, const chord_model *m, const chord_ctx *c, app_draft *d);
void app_draft_close(app_draft *d);

/* Fills gp's speculative decoding fields from the options and d. */
void app_draft_params(const chord_opts *o, app_draft *d, chord_gen_params *gp);

#endif
