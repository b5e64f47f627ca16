/*
 * sample_test.c - the sampler: greedy, the distribution a seeded sampler
 * draws from, each truncation, the repetition penalty, seeds and range
 * checks.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "sample/sample.h"
#include "t.h"

/* All truncation off, temperature 1: draws follow softmax(logits). */
static chord_sampler_params plain(uint64_t seed)
{
    chord_sampler_params p = chord_sampler_default_params();
    p.temp = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.0f;
    p.seed = seed;
    return p;
}

/* Draws n tokens from fixed logits and returns the frequency of each. */
static void frequencies(const chord_sampler_params *p, const float *logits, int nv, int n, double *freq)
{
    chord_sampler *s = chord_sampler_new(p, nv);
    float *tmp = malloc((size_t)nv * sizeof *tmp);
    memset(freq, 0, (size_t)nv * sizeof *freq);
    for (int i = 0; i < n; i++) {
        memcpy(tmp, logits, (size_t)nv * sizeof *tmp);
        chord_token t = chord_sampler_sample(s, tmp);
        if (t >= 0 && t < nv)
            freq[t] += 1.0 / n;
    }
    free(tmp);
    chord_sampler_free(s);
}

static void test_defaults(void)
{
    chord_sampler_params p = chord_sampler_default_params();
    T_NEAR(p.temp, 0.8, 1e-6);
    T_EQ_INT(p.top_k, 40);
    T_NEAR(p.top_p, 0.95, 1e-6);
    T_NEAR(p.min_p, 0.05, 1e-6);
    T_NEAR(p.repeat_penalty, 1.0, 0);
    T_EQ_INT(p.repeat_last_n, 64);
    T_CHECK(p.seed == CHORD_SEED_RANDOM, "default seed is the clock sentinel");
    chord_err err;
    T_EQ_INT(chord_sampler_check(&p, &err), CHORD_OK);
}

static void test_check_names_field(void)
{
    struct { const char *field; chord_sampler_params p; } bad[5];
    for (int i = 0; i < 5; i++)
        bad[i].p = chord_sampler_default_params();
    bad[0].field = "temp"; bad[0].p.temp = -0.5f;
    bad[1].field = "top_k"; bad[1].p.top_k = -1;
    bad[2].field = "top_p"; bad[2].p.top_p = 1.5f;
    bad[3].field = "min_p"; bad[3].p.min_p = NAN;
    bad[4].field = "repeat_penalty"; bad[4].p.repeat_penalty = 0.0f;
    for (int i = 0; i < 5; i++) {
        chord_err err = {{0}};
        T_EQ_INT(chord_sampler_check(&bad[i].p, &err), CHORD_E_INVALID);
        T_CHECK(strstr(err.msg, bad[i].field), "message '%s' names '%s'", err.msg, bad[i].field);
        T_CHECK(chord_sampler_new(&bad[i].p, 10) == NULL, "no sampler from bad %s", bad[i].field);
    }
}

static void test_greedy_is_argmax(void)
{
    chord_sampler_params p = plain(1);
    p.temp = 0;
    chord_sampler *s = chord_sampler_new(&p, 5);
    float l[5] = {0.1f, 3.0f, -2.0f, 3.0f, 2.9f};
    T_EQ_INT(chord_sampler_sample(s, l), 1); /* ties go to the lower id */
    float l2[5] = {-5, -4, -3, -2, -1};
    T_EQ_INT(chord_sampler_sample(s, l2), 4);
    chord_sampler_free(s);
}

static void test_distribution_matches_softmax(void)
{
    float logits[3] = {logf(0.5f), logf(0.3f), logf(0.2f)};
    double f[3];
    chord_sampler_params p = plain(42);
    frequencies(&p, logits, 3, 40000, f);
    T_NEAR(f[0], 0.5, 0.015);
    T_NEAR(f[1], 0.3, 0.015);
    T_NEAR(f[2], 0.2, 0.015);

    /* Temperature 2: probabilities proportional to sqrt(p). */
    p.temp = 2.0f;
    frequencies(&p, logits, 3, 40000, f);
    double z = sqrt(0.5) + sqrt(0.3) + sqrt(0.2);
    T_NEAR(f[0], sqrt(0.5) / z, 0.015);
    T_NEAR(f[2], sqrt(0.2) / z, 0.015);
}

static void test_truncations(void)
{
    float logits[4] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
    double f[4];

    chord_sampler_params p = plain(7);
    p.top_k = 2; /* keeps 0.5 and 0.3, renormalized to 0.625 / 0.375 */
    frequencies(&p, logits, 4, 40000, f);
    T_NEAR(f[0], 0.625, 0.015);
    T_NEAR(f[1], 0.375, 0.015);
    T_EQ_INT(f[2] + f[3] == 0, 1);

    p = plain(7);
    p.top_p = 0.7f; /* 0.5 < 0.7 <= 0.8: the first two */
    frequencies(&p, logits, 4, 20000, f);
    T_CHECK(f[2] == 0 && f[3] == 0 && f[1] > 0.3, "top-p 0.7 keeps two tokens: %g %g %g %g", f[0], f[1], f[2], f[3]);
    p.top_p = 0.9f; /* 0.8 < 0.9 <= 0.95: three */
    frequencies(&p, logits, 4, 20000, f);
    T_CHECK(f[2] > 0.1 && f[3] == 0, "top-p 0.9 keeps three tokens: %g %g", f[2], f[3]);

    p = plain(7);
    p.min_p = 0.35f; /* keeps p >= 0.175: the first two */
    frequencies(&p, logits, 4, 20000, f);
    T_CHECK(f[1] > 0.3 && f[2] == 0 && f[3] == 0, "min-p 0.35 keeps two tokens: %g %g %g", f[1], f[2], f[3]);

    p = plain(7);
    p.top_k = 1; /* any temperature: always the top token */
    p.temp = 5.0f;
    frequencies(&p, logits, 4, 1000, f);
    T_NEAR(f[0], 1.0, 1e-9);
}

/* Top-p measures against the mass top-k kept, before min-p: with
 * probabilities .4 .3 .2 .1, top-p 0.5 keeps two tokens (.4 < .5 <= .7)
 * and min-p 0.6 (p >= .24) keeps both of them. (Applying min-p first and
 * renormalizing would keep only the first.) */
static void test_truncation_order(void)
{
    float logits[4] = {logf(0.4f), logf(0.3f), logf(0.2f), logf(0.1f)};
    double f[4];
    chord_sampler_params p = plain(11);
    p.top_p = 0.5f;
    p.min_p = 0.6f;
    frequencies(&p, logits, 4, 20000, f);
    T_NEAR(f[1], 0.3 / 0.7, 0.02);
    T_CHECK(f[2] == 0 && f[3] == 0, "two tokens kept: %g %g", f[2], f[3]);
}

/* Large vocabularies: the nucleus found among the best 256, and the full
 * sort when 256 are not enough (ties rank by id). */
static void test_large_vocab_nucleus(void)
{
    enum { NV = 1000 };
    float logits[NV];
    double f[NV];
    for (int i = 0; i < NV; i++)
        logits[i] = i < 10 ? 10.0f : 0.0f;
    chord_sampler_params p = plain(5);
    p.top_p = 0.9f;
    frequencies(&p, logits, NV, 5000, f);
    double in10 = 0;
    for (int i = 0; i < 10; i++)
        in10 += f[i];
    T_NEAR(in10, 1.0, 1e-9);

    for (int i = 0; i < NV; i++)
        logits[i] = 0.0f; /* uniform: top-p 0.5 keeps ids 0..499 */
    p.top_p = 0.5f;
    frequencies(&p, logits, NV, 20000, f);
    double low = 0, mid = 0, high = 0;
    for (int i = 0; i < NV; i++) {
        if (i < 256)
            low += f[i];
        else if (i < 500)
            mid += f[i];
        else
            high += f[i];
    }
    T_NEAR(low, 256.0 / 500, 0.02);
    T_NEAR(mid, 244.0 / 500, 0.02);
    T_NEAR(high, 0.0, 1e-9);
}

static void test_repeat_penalty(void)
{
    chord_sampler_params p = plain(3);
    p.temp = 0;
    p.repeat_penalty = 1.5f;
    p.repeat_last_n = 2;
    chord_sampler *s = chord_sampler_new(&p, 4);
    chord_sampler_accept(s, 0);
    float l[4] = {2.0f, 1.5f, -1.0f, -1.4f};
    T_EQ_INT(chord_sampler_sample(s, l), 1); /* 2.0 / 1.5 = 1.33 < 1.5 */
    T_NEAR(l[0], 2.0 / 1.5, 1e-6);
    chord_sampler_accept(s, 2);
    chord_sampler_accept(s, 2); /* counted once; token 0 left the window */
    float l2[4] = {2.0f, 1.5f, -1.0f, -1.4f};
    T_EQ_INT(chord_sampler_sample(s, l2), 0);
    T_NEAR(l2[2], -1.5, 1e-6); /* negative logits are multiplied */
    chord_sampler_free(s);
}

static void test_seed_reproducible(void)
{
    float logits[16];
    for (int i = 0; i < 16; i++)
        logits[i] = (float)(i % 5) * 0.3f;
    chord_sampler_params p = plain(1234);
    chord_token a[64], b[64], c[64];
    chord_sampler *s = chord_sampler_new(&p, 16);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 64; i++) {
            float tmp[16];
            memcpy(tmp, logits, sizeof tmp);
            (round ? b : a)[i] = chord_sampler_sample(s, tmp);
        }
        chord_sampler_reset(s); /* same seed again */
    }
    T_CHECK(!memcmp(a, b, sizeof a), "reset replays the same draws");
    chord_sampler_free(s);
    p.seed = 1235;
    s = chord_sampler_new(&p, 16);
    for (int i = 0; i < 64; i++) {
        float tmp[16];
        memcpy(tmp, logits, sizeof tmp);
        c[i] = chord_sampler_sample(s, tmp);
    }
    T_CHECK(memcmp(a, c, sizeof a), "another seed gives other draws");
    chord_sampler_free(s);

    samp_rng r;
    samp_rng_seed(&r, 0);
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = samp_rng_uniform(&r);
        T_CHECK(u >= 0 && u < 1, "uniform in [0,1): %g", u);
        sum += u;
    }
    T_NEAR(sum / 100000, 0.5, 0.005);
}

int main(void)
{
    test_defaults();
    test_check_names_field();
    test_greedy_is_argmax();
    test_distribution_matches_softmax();
    test_truncations();
    test_truncation_order();
    test_large_vocab_nucleus();
    test_repeat_penalty();
    test_seed_reproducible();
    return t_done();
}
