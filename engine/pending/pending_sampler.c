/* TEMPORARY link stubs: deleted when engine/sample implements these. */
#include "core/err.h"
#include <string.h>
chord_sampler_params chord_sampler_default_params(void) { chord_sampler_params p; memset(&p, 0, sizeof p); return p; }
chord_status chord_sampler_check(const chord_sampler_params *p, chord_err *err) { return CHORD_OK; }
chord_sampler *chord_sampler_new(const chord_sampler_params *p, int n_vocab) { return NULL; }
void chord_sampler_free(chord_sampler *s) {}
chord_token chord_sampler_sample(chord_sampler *s, float *logits) { return 0; }
void chord_sampler_accept(chord_sampler *s, chord_token t) {}
void chord_sampler_reset(chord_sampler *s) {}
