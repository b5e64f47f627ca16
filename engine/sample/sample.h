/*
 * sample.h - the sampler's internals, for its tests.
 *
 * The public API (chord_sampler_*) is in chord.h. The pipeline, in order:
 * repetition penalty on the raw logits; greedy argmax at temp 0; otherwise
 * top-k, top-p and min-p truncation (on the temperature-1 distribution, so
 * the kept set does not depend on the temperature), then the temperature,
 * then one draw from the renormalized distribution.
 */
#ifndef CHORD_SAMPLE_H
#define CHORD_SAMPLE_H

#include <stdint.h>

#include "chord.h"

/* xoshiro256** seeded through splitmix64: small, fast, and good enough that
 * sampling frequencies match probabilities in the tests. */
typedef struct samp_rng {
    uint64_t s[4];
} samp_rng;

void samp_rng_seed(samp_rng *r, uint64_t seed);
uint64_t samp_rng_next(samp_rng *r);
/* Uniform in [0, 1) with 53 bits. */
double samp_rng_uniform(samp_rng *r);

/* Index of the largest of n floats (the lowest index on ties). */
int samp_argmax(const float *x, int n);

/* The seed actually used by a sampler (the clock-derived one when the
 * params asked for CHORD_SEED_RANDOM). */
uint64_t samp_seed(const chord_sampler *s);

/* The distribution chord_sampler_sample draws from for these logits, as n_vocab
 * probabilities (0 outside the kept set; one 1 when the choice is the
 * argmax): the same steps (the penalty over the accepted tokens, applied to
 * logits in place, then the truncations and the temperature), without a
 * draw. For speculative decoding's acceptance rule. */
void samp_probs(chord_sampler *s, float *logits, float *probs);

#endif
