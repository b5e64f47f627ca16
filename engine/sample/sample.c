/*
 * sample.c - choosing the next token from logits (see sample.h for the
 * order of the steps and chord.h for the API).
 *
 * Everything the sampler needs per call (candidate list, penalty marks) is
 * allocated once in chord_sampler_new, so sampling never allocates.
 */
#include "sample/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/err.h"

typedef struct samp_cand {
    float logit;
    int id;
} samp_cand;

struct chord_sampler {
    chord_sampler_params p;
    int n_vocab;
    uint64_t seed;
    samp_rng rng;
    chord_token *recent;   /* ring of the last repeat_last_n accepted tokens */
    int n_recent, recent_head;
    uint32_t *mark;        /* per token: stamp of the last penalty pass that hit it */
    uint32_t stamp;
    samp_cand *cand;       /* n_vocab candidates */
};

/* ------------------------------------------------------------------------
 * Random numbers
 * ---------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void samp_rng_seed(samp_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t samp_rng_next(samp_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double samp_rng_uniform(samp_rng *r)
{
    return (double)(samp_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* ------------------------------------------------------------------------
 * Parameters
 * ---------------------------------------------------------------------- */

chord_sampler_params chord_sampler_default_params(void)
{
    chord_sampler_params p = {
        .temp = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .seed = CHORD_SEED_RANDOM,
    };
    return p;
}

chord_status chord_sampler_check(const chord_sampler_params *p, chord_err *err)
{
    if (!p)
        return err_set(err, CHORD_E_INVALID, "sampler: no parameters");
    if (!(p->temp >= 0.0f && p->temp <= 100.0f))
        return err_set(err, CHORD_E_INVALID, "sampler: temp %g out of range [0, 100]", (double)p->temp);
    if (p->top_k < 0)
        return err_set(err, CHORD_E_INVALID, "sampler: top_k %d must be >= 0", p->top_k);
    if (!(p->top_p >= 0.0f && p->top_p <= 1.0f))
        return err_set(err, CHORD_E_INVALID, "sampler: top_p %g out of range [0, 1]", (double)p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return err_set(err, CHORD_E_INVALID, "sampler: min_p %g out of range [0, 1]", (double)p->min_p);
    if (!(p->repeat_penalty > 0.0f && p->repeat_penalty <= 100.0f))
        return err_set(err, CHORD_E_INVALID, "sampler: repeat_penalty %g out of range (0, 100]",
                       (double)p->repeat_penalty);
    if (p->repeat_last_n < 0 || p->repeat_last_n > (1 << 20))
        return err_set(err, CHORD_E_INVALID, "sampler: repeat_last_n %d out of range [0, 1048576]",
                       p->repeat_last_n);
    return CHORD_OK;
}

/* ------------------------------------------------------------------------
 * Life cycle
 * ---------------------------------------------------------------------- */

chord_sampler *chord_sampler_new(const chord_sampler_params *p, int n_vocab)
{
    if (!p || n_vocab <= 0 || chord_sampler_check(p, NULL) != CHORD_OK)
        return NULL;
    chord_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->p = *p;
    s->n_vocab = n_vocab;
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->mark = calloc((size_t)n_vocab, sizeof *s->mark);
    s->recent = malloc(((size_t)p->repeat_last_n + 1) * sizeof *s->recent);
    if (!s->cand || !s->mark || !s->recent) {
        chord_sampler_free(s);
        return NULL;
    }
    s->seed = p->seed == CHORD_SEED_RANDOM ? chord_seed_random() : p->seed;
    chord_sampler_reset(s);
    return s;
}

uint64_t chord_seed_random(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec;
    }
    return s & ((1ull << 53) - 1);
}

void chord_sampler_free(chord_sampler *s)
{
    if (!s)
        return;
    free(s->cand);
    free(s->mark);
    free(s->recent);
    free(s);
}

void chord_sampler_reset(chord_sampler *s)
{
    if (!s)
        return;
    samp_rng_seed(&s->rng, s->seed);
    s->n_recent = 0;
    s->recent_head = 0;
}

uint64_t samp_seed(const chord_sampler *s)
{
    return s->seed;
}

void chord_sampler_accept(chord_sampler *s, chord_token t)
{
    if (!s || s->p.repeat_last_n == 0)
        return;
    s->recent[s->recent_head] = t;
    s->recent_head = (s->recent_head + 1) % s->p.repeat_last_n;
    if (s->n_recent < s->p.repeat_last_n)
        s->n_recent++;
}

/* ------------------------------------------------------------------------
 * Sampling
 * ---------------------------------------------------------------------- */

int samp_argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* Penalizes each distinct recent token once: positive logits are divided,
 * negative ones multiplied, so the penalty always lowers the token. */
static void apply_penalty(chord_sampler *s, float *logits)
{
    float pen = s->p.repeat_penalty;
    if (pen == 1.0f || s->n_recent == 0)
        return;
    if (++s->stamp == 0) { /* wrapped: clear the marks once */
        memset(s->mark, 0, (size_t)s->n_vocab * sizeof *s->mark);
        s->stamp = 1;
    }
    for (int i = 0; i < s->n_recent; i++) {
        chord_token t = s->recent[i];
        if (t < 0 || t >= s->n_vocab || s->mark[t] == s->stamp)
            continue;
        s->mark[t] = s->stamp;
        logits[t] = logits[t] > 0 ? logits[t] / pen : logits[t] * pen;
    }
}

/* Candidate order: higher logit first, lower id on ties, so the kept set
 * and the draw are fully determined by the logits and the seed. */
static int cand_cmp(const void *a, const void *b)
{
    const samp_cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* "a is worse than b" in cand_cmp's order. */
static inline int cand_worse(const samp_cand *a, const samp_cand *b)
{
    return cand_cmp(a, b) > 0;
}

/* Keeps the k best of c[0..n) in c[0..k) (unordered): a min-heap of the
 * best so far, whose root is the worst kept. */
static void keep_top_k(samp_cand *c, int n, int k)
{
    for (int i = 0; i < n; i++) {
        samp_cand x = c[i];
        int j;
        if (i < k) { /* sift up */
            j = i;
            while (j > 0 && cand_worse(&x, &c[(j - 1) / 2])) {
                c[j] = c[(j - 1) / 2];
                j = (j - 1) / 2;
            }
            c[j] = x;
        } else if (cand_worse(&c[0], &x)) { /* replace the root, sift down */
            j = 0;
            for (;;) {
                int l = 2 * j + 1, r = l + 1, m = j;
                const samp_cand *mv = &x;
                if (l < k && cand_worse(&c[l], mv)) { m = l; mv = &c[l]; }
                if (r < k && cand_worse(&c[r], mv)) { m = r; }
                if (m == j)
                    break;
                c[j] = c[m];
                j = m;
            }
            c[j] = x;
        }
    }
}

/* Fills c with the tokens whose logit is at least thr; returns how many. */
static int gather(const float *logits, int n_vocab, float thr, samp_cand *c)
{
    int n = 0;
    for (int i = 0; i < n_vocab; i++)
        if (logits[i] >= thr && logits[i] > -INFINITY)
            c[n++] = (samp_cand){logits[i], i};
    return n;
}

/* The candidates a draw chooses from: applies the penalty to logits, then
 * leaves the kept tokens in s->cand[0..n) in candidate order and returns
 * n, with the top logit in *maxl; returns 0 when the choice is the argmax
 * (greedy, or logits that are not finite). */
static int samp_kept(chord_sampler *s, float *logits, float *maxl_out)
{
    int n_vocab = s->n_vocab;
    apply_penalty(s, logits);
    if (s->p.temp <= 0.0f)
        return 0;
    float maxl = logits[samp_argmax(logits, n_vocab)];
    if (!isfinite(maxl))
        return 0;
    *maxl_out = maxl;
    /* The order is top-k, top-p, min-p. Each keeps a prefix of the sorted
     * candidates, so min-p (a threshold relative to the top logit) can be
     * applied first to save work, as long as top-p measures its share
     * against the mass of everything top-k kept (z). */
    samp_cand *c = s->cand;
    float thr = s->p.min_p > 0.0f ? maxl + logf(s->p.min_p) : -INFINITY;
    double z = 0;
    int n;
    if (s->p.top_k > 0 && s->p.top_k < n_vocab) {
        n = gather(logits, n_vocab, -INFINITY, c);
        if (n > s->p.top_k) {
            keep_top_k(c, n, s->p.top_k);
            n = s->p.top_k;
        }
        int kept = 0;
        for (int i = 0; i < n; i++) {
            z += exp((double)c[i].logit - maxl);
            if (c[i].logit >= thr)
                c[kept++] = c[i];
        }
        n = kept;
    } else {
        for (int i = 0; i < n_vocab; i++)
            z += exp((double)logits[i] - maxl);
        n = gather(logits, n_vocab, thr, c);
        if (s->p.top_p < 1.0f && n > 256) {
            /* A nucleus is usually small: if the best 256 already hold
             * top_p of the mass, nothing beyond them can be kept, so
             * sorting the whole vocabulary is not needed. */
            keep_top_k(c, n, 256);
            double best = 0;
            for (int i = 0; i < 256; i++)
                best += exp((double)c[i].logit - maxl);
            n = best >= (double)s->p.top_p * z ? 256 : gather(logits, n_vocab, thr, c);
        }
    }
    qsort(c, (size_t)n, sizeof *c, cand_cmp);

    if (s->p.top_p < 1.0f) {
        double cum = 0, target = (double)s->p.top_p * z;
        for (int i = 0; i < n; i++) {
            cum += exp((double)c[i].logit - maxl);
            if (cum >= target) {
                n = i + 1;
                break;
            }
        }
    }
    return n;
}

chord_token chord_sampler_sample(chord_sampler *s, float *logits)
{
    float maxl = 0;
    int n = samp_kept(s, logits, &maxl);
    if (n == 0)
        return samp_argmax(logits, s->n_vocab);
    samp_cand *c = s->cand;
    /* The draw: weights exp((l - max) / T), walked in candidate order. */
    double inv_t = 1.0 / s->p.temp, total = 0;
    for (int i = 0; i < n; i++)
        total += exp(((double)c[i].logit - maxl) * inv_t);
    double u = samp_rng_uniform(&s->rng) * total, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += exp(((double)c[i].logit - maxl) * inv_t);
        if (u < acc)
            return c[i].id;
    }
    return c[n - 1].id;
}

void samp_probs(chord_sampler *s, float *logits, float *probs)
{
    float maxl = 0;
    int n = samp_kept(s, logits, &maxl);
    memset(probs, 0, (size_t)s->n_vocab * sizeof *probs);
    if (n == 0) {
        probs[samp_argmax(logits, s->n_vocab)] = 1.0f;
        return;
    }
    /* the draw's weights, as chord_sampler_sample walks them */
    const samp_cand *c = s->cand;
    double inv_t = 1.0 / s->p.temp, total = 0;
    for (int i = 0; i < n; i++)
        total += exp(((double)c[i].logit - maxl) * inv_t);
    for (int i = 0; i < n; i++)
        probs[c[i].id] = (float)(exp(((double)c[i].logit - maxl) * inv_t) / total);
}
