/*
 * draft.c - --draft, --draft-max and --lookup for the main modes (see
 * draft.h).
 */
#include "draft.h"

#include <stdio.h>
#include <string.h>

#include "cmd.h"

int app_draft_budget(const chord_opts *o, chord_model_params *mp)
{
    if (!o->draft || mp->mem_budget != 0)
        return 0;
    chord_gguf_summary s;
    chord_err err;
    if (chord_gguf_summarize(o->draft, &s, &err) != CHORD_OK) {
        app_error("--draft: %s", err.msg);
        return EXIT_FAIL;
    }
    int64_t avail = chord_mem_available();
    if (avail < 0)
        return 0; /* unknown: the model's own rule (everything resident) */
    int64_t left = avail / 10 * 8 - s.file_bytes;
    if (left <= 0) {
        app_error("--draft: the draft (%.1f MiB) takes all of the memory budget (80%% of %.1f MiB "
                  "available); give --mem-budget for the model",
                  (double)s.file_bytes / 1048576.0, (double)avail / 1048576.0);
        return EXIT_FAIL;
    }
    mp->mem_budget = left;
    return 0;
}

int app_draft_open(const chord_opts *o, const chord_model *m, const chord_ctx *c, app_draft *d)
{
    memset(d, 0, sizeof *d);
    if (!o->draft)
        return 0;
    chord_model_params mp = opts_model_params(o);
    mp.mem_budget = -1;
    chord_err err;
    if (chord_model_load(o->draft, &mp, &d->m, &err) != CHORD_OK) {
        app_error("--draft: %s", err.msg);
        return EXIT_FAIL;
    }
    if (chord_vocab_check(m, d->m, &err) != CHORD_OK) {
        app_error("%s", err.msg);
        app_draft_close(d);
        return EXIT_FAIL;
    }
    chord_ctx_params cp = opts_ctx_params(o);
    cp.n_ctx = chord_ctx_n_ctx(c);
    if (chord_ctx_new(d->m, &cp, &d->ctx, &err) != CHORD_OK) {
        app_error("--draft: %s", err.msg);
        app_draft_close(d);
        return EXIT_FAIL;
    }
    if (o->verbose) {
        chord_model_info info;
        chord_model_get_info(d->m, &info);
        fprintf(stderr, "chord: draft %s (%s, %d layers), up to %d tokens a check%s\n", info.name,
                info.type_name, info.n_layer, o->draft_max ? o->draft_max : 8,
                o->lookup ? ", prompt lookup first" : "");
    }
    return 0;
}

void app_draft_close(app_draft *d)
{
    chord_ctx_free(d->ctx);
    chord_model_free(d->m);
    memset(d, 0, sizeof *d);
}

void app_draft_params(const chord_opts *o, app_draft *d, chord_gen_params *gp)
{
    gp->draft = d ? d->m : NULL;
    gp->draft_ctx = d ? d->ctx : NULL;
    gp->draft_max = o->draft_max;
    gp->lookup = o->lookup;
}
