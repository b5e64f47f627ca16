/*
 * synth_router.c - skewed routers for synthetic mixtures of experts
 * (--router-skew S).
 *
 * A random router row per expert gives every expert the same chance: each
 * token's logits are independent zero-mean gaussians of equal spread, so
 * the top-k is a uniform draw, the worst case for an expert cache. Trained
 * routers are skewed. Here the expert of popularity rank r (0 = hottest) is
 * made to take a share of the selections proportional to (r + 1)^-S.
 *
 * Two knobs move an expert's share, as seen by a router input x of unit
 * RMS and random direction (the FFN-normed hidden state): its row's scale
 * s (its logit is then s times a unit gaussian: a wider logit reaches the
 * top-k more often), or a bias b added to its logit (families whose router
 * has a bias tensor: gpt-oss). A scale alone cannot make an expert win for
 * more than half the tokens: x and -x are equally likely and give opposite
 * logits, and an expert cannot be among the k largest of both when
 * 2k <= n_expert. So without a bias the head of the curve is clamped a
 * below one half (SKEW_CAP_SCALE); with one, just below every token.
 * Clamped shares are "water-filled": the Zipf weights c (r + 1)^-S are
 * capped and c raised until the shares sum to k, the selections a token
 * makes.
 *
 * The knob per rank is calibrated by a fixed Monte Carlo (common random
 * numbers: the same gaussian logits every round, so the measured shares
 * move smoothly with the knob) and a few dozen multiplicative corrections.
 * The curve depends only on (n_expert, n_used, S), so it is computed once
 * per model; each layer then deals the ranks to its experts by its own
 * permutation, so hot experts differ from layer to layer as in trained
 * models. Everything is deterministic from the seed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "synth/synth.h"

/* The highest share a scale alone reaches in practice (the limit is 1/2,
 * approached only as the scale grows without bound); with a bias, the
 * highest share the calibration aims at. */
#define SKEW_CAP_SCALE 0.4
#define SKEW_CAP_BIAS 0.97
#define SKEW_SAMPLES 4096
#define SKEW_ROUNDS 100

/* A standard gaussian from the splitmix stream (Box-Muller). */
static double gauss(uint64_t *state)
{
    double u1 = 0.5 * ((double)synth_uniform(state) + 1.0);
    double u2 = 0.5 * ((double)synth_uniform(state) + 1.0);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void synth_router_targets(int n_expert, int n_used, float skew, bool bias, double *t)
{
    double cap = bias ? SKEW_CAP_BIAS : SKEW_CAP_SCALE;
    if (cap * n_expert < n_used)
        cap = (double)n_used / n_expert;
    /* sum over r of min(cap, c w_r) grows with c: bisect for n_used */
    double lo = 0, hi = 1;
    for (int it = 0; it < 200; it++) {
        double sum = 0;
        for (int r = 0; r < n_expert; r++)
            sum += fmin(cap, hi * pow(r + 1.0, -skew));
        if (sum >= n_used)
            break;
        hi *= 2;
    }
    for (int it = 0; it < 100; it++) {
        double c = 0.5 * (lo + hi), sum = 0;
        for (int r = 0; r < n_expert; r++)
            sum += fmin(cap, c * pow(r + 1.0, -skew));
        if (sum < n_used)
            lo = c;
        else
            hi = c;
    }
    for (int r = 0; r < n_expert; r++)
        t[r] = fmin(cap, hi * pow(r + 1.0, -skew));
}

/* Each rank's share over the samples with logits b + s z, smoothed: the
 * chance that rank e's own logit clears the k-th largest of the others'
 * (known in the sample) is taken exactly from the gaussian tail, not
 * counted from e's own draw. Counting over-fits the knobs of the rare
 * ranks to the few draws that select them; this does not. */
static void measure(const float *z, int n_expert, int n_used, const double *s, const double *b,
                    double *f, double *logit, int *sel)
{
    for (int e = 0; e < n_expert; e++)
        f[e] = 0;
    for (int i = 0; i < SKEW_SAMPLES; i++) {
        const float *zi = z + (size_t)i * (size_t)n_expert;
        for (int e = 0; e < n_expert; e++)
            logit[e] = b[e] + s[e] * zi[e];
        /* the n_used + 1 largest, by repeated selection (n_used is small) */
        for (int j = 0; j <= n_used && j < n_expert; j++) {
            int best = -1;
            for (int e = 0; e < n_expert; e++) {
                bool taken = false;
                for (int q = 0; q < j && !taken; q++)
                    taken = sel[q] == e;
                if (!taken && (best < 0 || logit[e] > logit[best]))
                    best = e;
            }
            sel[j] = best;
        }
        for (int e = 0; e < n_expert; e++) {
            bool in = false;
            for (int q = 0; q < n_used && !in; q++)
                in = sel[q] == e;
            /* the k-th largest of the others */
            double thr = n_used < n_expert ? logit[sel[in ? n_used : n_used - 1]] : -INFINITY;
            f[e] += 0.5 * erfc((thr - b[e]) / (s[e] * 1.4142135623730951)) / SKEW_SAMPLES;
        }
    }
}

chord_status synth_router_calibrate(int n_expert, int n_used, float skew, bool bias,
                                    uint64_t seed, float *knob, chord_err *err)
{
    for (int r = 0; r < n_expert; r++)
        knob[r] = bias ? 0.0f : 1.0f;
    if (skew <= 0)
        return CHORD_OK; /* all alike: uniform already */
    size_t n = (size_t)SKEW_SAMPLES * (size_t)n_expert;
    float *z = malloc(n * sizeof *z);
    double *buf = malloc((size_t)n_expert * 5 * sizeof *buf);
    int *sel = malloc(((size_t)n_used + 1) * sizeof *sel); /* the n_used + 1 largest */
    if (!z || !buf || !sel) {
        free(z);
        free(buf);
        free(sel);
        return err_set(err, CHORD_E_NOMEM, "router calibration: out of memory for %d experts", n_expert);
    }
    double *t = buf, *s = buf + n_expert, *b = s + n_expert, *f = b + n_expert, *lg = f + n_expert;
    uint64_t state = synth_seed_for(seed, "router.calibration");
    for (size_t i = 0; i < n; i++)
        z[i] = (float)gauss(&state);
    synth_router_targets(n_expert, n_used, skew, bias, t);
    /* start from a guess the corrections refine: a bias of the log of the
     * target (a softmax-like link), or a scale that grows with it */
    for (int r = 0; r < n_expert; r++) {
        double rel = log(t[r] * n_expert / n_used);
        b[r] = bias ? rel : 0.0;
        s[r] = bias ? 1.0 : exp(0.5 * rel);
    }
    for (int round = 0; round < SKEW_ROUNDS; round++) {
        measure(z, n_expert, n_used, s, b, f, lg, sel);
        double floor_f = 0.5 / SKEW_SAMPLES;
        for (int r = 0; r < n_expert; r++) {
            double step = log(t[r] / fmax(f[r], floor_f));
            /* damped: shares respond to every knob at once */
            if (bias)
                b[r] += 0.5 * step;
            else
                s[r] = s[r] * exp(0.35 * step);
        }
        /* only ratios of scales matter: hold their geometric mean at 1
         * (else they drift together with the capped head) */
        double lg_mean = 0;
        for (int r = 0; !bias && r < n_expert; r++)
            lg_mean += log(s[r]) / n_expert;
        for (int r = 0; !bias && r < n_expert; r++)
            s[r] = fmin(100.0, fmax(1e-2, s[r] * exp(-lg_mean)));
    }
    /* bias is relative: centre it (the shares depend on differences only) */
    double mean = 0;
    for (int r = 0; r < n_expert; r++)
        mean += b[r] / n_expert;
    for (int r = 0; r < n_expert; r++)
        knob[r] = bias ? (float)(b[r] - mean) : (float)s[r];
    free(z);
    free(buf);
    free(sel);
    return CHORD_OK;
}

void synth_router_perm(uint64_t seed, int layer, int n_expert, int *perm)
{
    char name[48];
    snprintf(name, sizeof name, "blk.%d.router.permutation", layer);
    uint64_t state = synth_seed_for(seed, name);
    for (int e = 0; e < n_expert; e++)
        perm[e] = e;
    for (int e = n_expert - 1; e > 0; e--) {
        /* Fisher-Yates: j uniform in [0, e] */
        double u = 0.5 * ((double)synth_uniform(&state) + 1.0);
        int j = (int)(u * (e + 1));
        if (j > e)
            j = e;
        int tmp = perm[e];
        perm[e] = perm[j];
        perm[j] = tmp;
    }
}
