/*
 * lc_expert.c - the expert cache: a mixture-of-experts model's experts,
 * kept in a pool of slots within the layer cache's budget (see lc.h).
 *
 * Why not the layer cache's cycle. Dense layers are read 0..L-1 every
 * token, a cycle known in advance. Experts are not: each token picks k of
 * E per layer, the choices of consecutive tokens overlap, popularity is
 * skewed (a few experts take most tokens in a given text) and drifts as
 * the text changes. So the policy is a use count that forgets:
 *
 *  - every (layer, expert) has a score, raised by the number of tokens of
 *    a batch that chose it and decayed by half every LC_EX_HALF_LIFE
 *    tokens. Decaying every score every token would cost a pass over all
 *    the experts; instead each is kept in the units of a fixed epoch (a
 *    use at clock t adds 2^((t - epoch) / half-life)), so all scores decay
 *    by the same factor and comparing them needs no decay at all; the
 *    epoch moves (one pass) before those units could overflow. Popular
 *    experts stay; an expert
 *    that was popular in an earlier part of the text fades within a few
 *    hundred tokens, and recency breaks ties (a just-used expert has not
 *    decayed yet). LRU alone (lc_expert_policy LRU, for comparison) keeps
 *    whatever the last few tokens used and evicts a popular expert as soon
 *    as a run of rare ones passes; LFU without decay would never let go of
 *    an early favourite.
 *  - a victim is the slot whose expert has the lowest score, among those
 *    not in use, not being read and not hinted for the pass about to use
 *    them. An expert in use is never evicted.
 *
 * Prefetch. Layer l+1's router needs layer l's output, but layer l's input
 * through layer l+1's router (model_moe.c) predicts most of its choices;
 * the compute hints those while layer l runs, and the readers fetch the
 * missing ones in the background. A miss (an expert needed and not in
 * memory) is read at once: the caller queues it first in line and reads
 * too, so every reader thread works on the misses together, and the wait
 * is counted as a stall.
 *
 * When the whole model fits the budget, the file is mapped (lc.c) and the
 * experts are addresses in the mapping: no slots, every use a hit.
 *
 * Locking: ex->mu guards the fields marked [ex]; callers (lc_expert_* on
 * the compute thread, lc_stats from any thread) and the readers take it
 * briefly, never across a read. Readers wait on work_cv for jobs; callers
 * wait on done_cv for loads to end. It is independent of the layer cache's
 * own mutex (never both held).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "lc/lc_impl.h"

#define LC_EX_HALF_LIFE 256.0 /* tokens for an unused expert's score to halve */
#define LC_EX_READERS 2       /* background reader threads */

typedef enum { EX_EMPTY, EX_LOADING, EX_READY, EX_FAILED } ex_state;

typedef struct ex_slot {
    uint8_t *buf;
    int layer, expert;    /* [ex] held expert, or -1 */
    ex_state st;          /* [ex] */
    int refs;             /* [ex] lc_expert_get count not yet put */
    bool urgent;          /* [ex] queued as a miss (first in line) */
    bool queued;          /* [ex] waiting for a reader */
} ex_slot;

struct lc_excache {
    lc_experts cfg;
    int n_layer;
    lc_expert_layer *layer;
    size_t *pos;          /* n_layer x LC_EXPERT_PARTS: part offsets in a slot */
    size_t slot_cost;
    uint64_t bytes;       /* all experts' payload */
    const uint8_t *const *map; /* resident: the mapped files, else NULL */
    int n_files;
    int *fd;              /* the callers' fds, one per file */
    bool release;         /* fadvise(DONTNEED) after each read */

    int n_slots;
    ex_slot *slots;
    int *where;           /* [ex] n_layer x n_expert: slot or -1 */
    double *score;        /* [ex] decayed use count, in units of the epoch */
    uint64_t *stamp;      /* [ex] clock of the last use (the LRU policy's key) */
    uint64_t epoch;       /* [ex] clock the scores' units refer to */
    uint8_t *hinted;      /* [ex] predicted for the coming pass of its layer */
    uint8_t *seen;        /* [ex] chosen at least once */
    uint64_t clock;       /* [ex] tokens so far */
    int16_t last[CHORD_MAX_LAYERS][CHORD_MAX_EXPERT_USED]; /* [ex] */

    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    bool stop;            /* [ex] readers exit */
    int n_readers;
    pthread_t readers[LC_EX_READERS];
    int *reader_fd[LC_EX_READERS]; /* each reader's own fds */
    int read_err;         /* [ex] errno of the last failed read, for the message */
    uint64_t read_off;    /* [ex] its offset */
    int read_file;        /* [ex] and file */

    /* [ex] statistics */
    uint64_t hits, misses, predicted, predict_right, bytes_read, tokens;
    double stall_ms;
};

static size_t align_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

uint64_t lc_expert_bytes(const lc_experts *cfg, int n_layer)
{
    uint64_t b = 0;
    for (int l = 0; cfg && l < n_layer; l++)
        for (int p = 0; p < cfg->layer[l].n_parts; p++)
            b += cfg->layer[l].stride[p] * (uint64_t)cfg->n_expert;
    return b;
}

size_t lc_expert_slot_cost(const lc_experts *cfg, int n_layer)
{
    size_t best = 0;
    for (int l = 0; cfg && l < n_layer; l++) {
        size_t c = 0;
        for (int p = 0; p < cfg->layer[l].n_parts; p++)
            c = align_up(c, 64) + (size_t)cfg->layer[l].stride[p];
        if (c > best)
            best = c;
    }
    return align_up(best, 64);
}

int lc_expert_min_slots(const lc_experts *cfg)
{
    /* the experts of the layer being computed, and as many hinted for the
     * next one */
    return cfg ? 2 * cfg->n_used : 0;
}

/* The eviction key of (layer, expert): lower goes first. [ex] */
static double score_now(const struct lc_excache *ex, int i)
{
    if (ex->cfg.policy == LC_EXPERT_LRU)
        return (double)ex->stamp[i];
    return ex->score[i];
}

/* Slot s's expert leaves it (an eviction). [ex] */
static void detach(struct lc_excache *ex, int s)
{
    ex_slot *sl = &ex->slots[s];
    if (sl->layer >= 0)
        ex->where[sl->layer * ex->cfg.n_expert + sl->expert] = -1;
    sl->layer = sl->expert = -1;
    sl->st = EX_EMPTY;
}

/* A slot for a new expert: an empty one, else the lowest-scored one not in
 * use, not being read and not hinted (a hint must not evict another hint
 * the coming pass needs). -1 if none. [ex] */
static int pick_victim(struct lc_excache *ex)
{
    int best = -1;
    double best_score = 0;
    for (int s = 0; s < ex->n_slots; s++) {
        ex_slot *sl = &ex->slots[s];
        if (sl->st == EX_EMPTY)
            return s;
        if (sl->refs > 0 || sl->st == EX_LOADING || sl->queued)
            continue;
        int i = sl->layer * ex->cfg.n_expert + sl->expert;
        if (ex->hinted[i])
            continue;
        double sc = score_now(ex, i);
        if (best < 0 || sc < best_score) {
            best = s;
            best_score = sc;
        }
    }
    return best;
}

/* A slot for a miss when pick_victim finds none. The slots a miss cannot
 * take are the ones this call already claimed (at most lc_expert_batch),
 * the next layer's hints (at most n_used) and reads of hints still under
 * way: older predictions that turned out wrong, still queued or loading
 * when a slow reader (a busy machine) has not reached them. A hint not
 * started yet gives its slot up (that prediction becomes a miss if it was
 * right); otherwise wait for a read to finish, which frees its slot, and
 * look again. -1 only if no read is under way either (a caller asking
 * for more than the batch). Waits on done_cv with mu held. [ex] */
static int victim_or_wait(struct lc_excache *ex)
{
    for (;;) {
        int s = pick_victim(ex);
        if (s >= 0)
            return s;
        bool loading = false;
        for (s = 0; s < ex->n_slots; s++) {
            ex_slot *sl = &ex->slots[s];
            if (sl->queued && !sl->urgent && sl->refs == 0) {
                sl->queued = false;
                detach(ex, s);
                return s;
            }
            loading |= sl->st == EX_LOADING && !sl->queued;
        }
        if (!loading)
            return -1;
        pthread_cond_wait(&ex->done_cv, &ex->mu);
    }
}

/* Gives slot s to (il, e), to be read (queued for a reader). [ex] */
static void assign(struct lc_excache *ex, int s, int il, int e, bool urgent)
{
    detach(ex, s);
    ex_slot *sl = &ex->slots[s];
    sl->layer = il;
    sl->expert = e;
    sl->st = EX_LOADING;
    sl->queued = true;
    sl->urgent = urgent;
    ex->where[il * ex->cfg.n_expert + e] = s;
}

/* Reads slot s's expert through fds (no lock held). Returns 0 or an errno
 * (EIO for a short read), with the failing offset and file in *off, *file. */
static int read_slot(struct lc_excache *ex, const int *fds, int s, uint64_t *off, int *file)
{
    ex_slot *sl = &ex->slots[s];
    const lc_expert_layer *ly = &ex->layer[sl->layer];
    for (int p = 0; p < ly->n_parts; p++) {
        uint64_t lo = ly->offset[p] + (uint64_t)sl->expert * ly->stride[p], got = 0;
        uint8_t *dst = sl->buf + ex->pos[sl->layer * LC_EXPERT_PARTS + p];
        int fd = fds[ly->file[p]];
        *file = ly->file[p];
        while (got < ly->stride[p]) {
            ssize_t n = pread(fd, dst + got, (size_t)(ly->stride[p] - got), (off_t)(lo + got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                *off = lo + got;
                return n < 0 ? errno : EIO;
            }
            got += (uint64_t)n;
        }
        if (ex->release)
            (void)posix_fadvise(fd, (off_t)lo, (off_t)ly->stride[p], POSIX_FADV_DONTNEED);
    }
    return 0;
}

/* The next queued slot, misses first; -1 if none. [ex] */
static int take_job(struct lc_excache *ex)
{
    int pick = -1;
    for (int s = 0; s < ex->n_slots; s++) {
        if (!ex->slots[s].queued)
            continue;
        if (ex->slots[s].urgent)
            return s;
        if (pick < 0)
            pick = s;
    }
    return pick;
}

/* Reads job s with fds, the lock held on entry and on return. [ex] */
static void run_job(struct lc_excache *ex, const int *fds, int s)
{
    ex->slots[s].queued = false;
    pthread_mutex_unlock(&ex->mu);
    uint64_t off = 0;
    int file = 0;
    int e = read_slot(ex, fds, s, &off, &file);
    pthread_mutex_lock(&ex->mu);
    ex_slot *sl = &ex->slots[s];
    if (e) {
        sl->st = EX_FAILED;
        ex->read_err = e;
        ex->read_off = off;
        ex->read_file = file;
    } else {
        sl->st = EX_READY;
        for (int p = 0; p < ex->layer[sl->layer].n_parts; p++)
            ex->bytes_read += ex->layer[sl->layer].stride[p];
    }
    pthread_cond_broadcast(&ex->done_cv);
}

typedef struct reader_arg {
    struct lc_excache *ex;
    const int *fds;
} reader_arg;

static void *reader_main(void *arg)
{
    reader_arg a = *(reader_arg *)arg;
    free(arg);
    struct lc_excache *ex = a.ex;
    pthread_mutex_lock(&ex->mu);
    while (!ex->stop) {
        int s = take_job(ex);
        if (s < 0) {
            pthread_cond_wait(&ex->work_cv, &ex->mu);
            continue;
        }
        run_job(ex, a.fds, s);
    }
    pthread_mutex_unlock(&ex->mu);
    return NULL;
}

chord_status lc_expert_open(lc_cache *lc, const lc_experts *cfg, const uint8_t *const *map,
                            int n_slots, bool release, chord_err *err)
{
    int L = lc->n_groups - 1;
    struct lc_excache *ex = calloc(1, sizeof *ex);
    if (!ex)
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for the expert cache", lc->path);
    lc->ex = ex;
    ex->cfg = *cfg;
    ex->n_layer = L;
    ex->map = map;
    ex->n_files = lc->n_files;
    ex->release = release;
    pthread_mutex_init(&ex->mu, NULL);
    pthread_cond_init(&ex->work_cv, NULL);
    pthread_cond_init(&ex->done_cv, NULL);
    memset(ex->last, 0xff, sizeof ex->last);
    size_t ne = (size_t)L * (size_t)cfg->n_expert;
    ex->layer = malloc((size_t)L * sizeof *ex->layer);
    ex->pos = calloc((size_t)L * LC_EXPERT_PARTS, sizeof *ex->pos);
    ex->where = malloc((ne ? ne : 1) * sizeof *ex->where);
    ex->score = calloc(ne ? ne : 1, sizeof *ex->score);
    ex->stamp = calloc(ne ? ne : 1, sizeof *ex->stamp);
    ex->hinted = calloc(ne ? ne : 1, 1);
    ex->seen = calloc(ne ? ne : 1, 1);
    if (!ex->layer || !ex->pos || !ex->where || !ex->score || !ex->stamp || !ex->hinted || !ex->seen)
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for the expert cache", lc->path);
    memcpy(ex->layer, cfg->layer, (size_t)L * sizeof *ex->layer);
    ex->cfg.layer = ex->layer;
    for (size_t i = 0; i < ne; i++)
        ex->where[i] = -1;
    for (int l = 0; l < L; l++) {
        size_t c = 0;
        for (int p = 0; p < ex->layer[l].n_parts; p++) {
            c = align_up(c, 64);
            ex->pos[l * LC_EXPERT_PARTS + p] = c;
            c += (size_t)ex->layer[l].stride[p];
        }
    }
    ex->bytes = lc_expert_bytes(cfg, L);
    ex->slot_cost = lc_expert_slot_cost(cfg, L);
    if (map)
        return CHORD_OK;

    ex->n_slots = n_slots;
    ex->slots = calloc((size_t)n_slots, sizeof *ex->slots);
    if (!ex->slots)
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for the expert cache", lc->path);
    for (int s = 0; s < n_slots; s++) {
        ex->slots[s].layer = ex->slots[s].expert = -1;
        if (posix_memalign((void **)&ex->slots[s].buf, 64, ex->slot_cost) != 0) {
            ex->slots[s].buf = NULL;
            return err_set(err, CHORD_E_NOMEM, "%s: cannot allocate expert slot %d of %zu bytes",
                           lc->path, s, ex->slot_cost);
        }
    }
    size_t nf = (size_t)lc->n_files;
    if (!(ex->fd = malloc(nf * sizeof *ex->fd)))
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for the expert cache", lc->path);
    chord_status st = lc_fds_open(lc, O_RDONLY | O_CLOEXEC, ex->fd, "the expert cache", err);
    if (st != CHORD_OK)
        return st;
    for (int r = 0; r < LC_EX_READERS; r++) {
        /* own fds per reader: no shared file position or readahead state */
        if (!(ex->reader_fd[r] = malloc(nf * sizeof *ex->reader_fd[r])))
            return err_set(err, CHORD_E_NOMEM, "%s: out of memory for expert readers", lc->path);
        if ((st = lc_fds_open(lc, O_RDONLY | O_CLOEXEC, ex->reader_fd[r], "an expert reader", err)))
            return st;
        reader_arg *a = malloc(sizeof *a);
        if (!a)
            return err_set(err, CHORD_E_NOMEM, "%s: out of memory for expert readers", lc->path);
        *a = (reader_arg){ex, ex->reader_fd[r]};
        int e = pthread_create(&ex->readers[r], NULL, reader_main, a);
        if (e != 0) {
            free(a);
            return err_errno(err, CHORD_E_IO, e, "%s: cannot start expert reader %d", lc->path, r);
        }
        ex->n_readers = r + 1;
    }
    return CHORD_OK;
}

void lc_expert_close(lc_cache *lc)
{
    struct lc_excache *ex = lc ? lc->ex : NULL;
    if (!ex)
        return;
    pthread_mutex_lock(&ex->mu);
    ex->stop = true;
    pthread_cond_broadcast(&ex->work_cv);
    pthread_mutex_unlock(&ex->mu);
    for (int r = 0; r < ex->n_readers; r++)
        pthread_join(ex->readers[r], NULL);
    for (int r = 0; r < LC_EX_READERS; r++) {
        lc_fds_close(ex->reader_fd[r] ? ex->n_files : 0, ex->reader_fd[r]);
        free(ex->reader_fd[r]);
    }
    lc_fds_close(ex->fd ? ex->n_files : 0, ex->fd);
    free(ex->fd);
    for (int s = 0; ex->slots && s < ex->n_slots; s++)
        free(ex->slots[s].buf);
    free(ex->slots);
    free(ex->layer);
    free(ex->pos);
    free(ex->where);
    free(ex->score);
    free(ex->stamp);
    free(ex->hinted);
    free(ex->seen);
    pthread_cond_destroy(&ex->work_cv);
    pthread_cond_destroy(&ex->done_cv);
    pthread_mutex_destroy(&ex->mu);
    free(ex);
    lc->ex = NULL;
}

void lc_expert_plan(const lc_cache *lc, int *n_slots, size_t *slot_cost)
{
    const struct lc_excache *ex = lc ? lc->ex : NULL;
    *n_slots = ex && !ex->map ? ex->n_slots : 0;
    *slot_cost = ex ? ex->slot_cost : 0;
}

bool lc_expert_caching(const lc_cache *lc)
{
    return lc && lc->ex && !lc->ex->map;
}

int lc_expert_batch(const lc_cache *lc)
{
    const struct lc_excache *ex = lc ? lc->ex : NULL;
    if (!ex)
        return 0;
    if (ex->map)
        return ex->cfg.n_expert;
    /* all slots but those the next layer's hints may hold */
    int n = ex->n_slots - ex->cfg.n_used;
    return n > ex->cfg.n_used ? n : ex->cfg.n_used;
}

/* Raises (il, e)'s score by `tokens` uses at the current clock. [ex] */
static void count_use(struct lc_excache *ex, int i, int tokens)
{
    ex->stamp[i] = ex->clock;
    double age = (double)(ex->clock - ex->epoch) / LC_EX_HALF_LIFE;
    if (age > 512) {
        /* a new epoch before 2^age nears the double's range */
        double f = exp2(-age);
        for (size_t k = 0; k < (size_t)ex->n_layer * (size_t)ex->cfg.n_expert; k++)
            ex->score[k] *= f;
        ex->epoch = ex->clock;
        age = 0;
    }
    ex->score[i] += tokens * exp2(age);
}

void lc_expert_pass(lc_cache *lc, int il, int n, const int *ids, const int *tokens)
{
    struct lc_excache *ex = lc ? lc->ex : NULL;
    if (!ex)
        return;
    int E = ex->cfg.n_expert;
    pthread_mutex_lock(&ex->mu);
    for (int i = 0; i < n; i++) {
        int x = il * E + ids[i];
        ex->predict_right += ex->hinted[x];
        ex->seen[x] = 1;
        count_use(ex, x, tokens ? tokens[i] : 1);
    }
    /* the predictions for this pass are settled: they protect nothing now */
    memset(ex->hinted + (size_t)il * E, 0, (size_t)E);
    pthread_mutex_unlock(&ex->mu);
}

chord_status lc_expert_get(lc_cache *lc, int il, int n, const int *ids,
                           const void *(*parts)[LC_EXPERT_PARTS], chord_err *err)
{
    struct lc_excache *ex = lc->ex;
    const lc_expert_layer *ly = &ex->layer[il];
    int E = ex->cfg.n_expert;
    pthread_mutex_lock(&ex->mu);
    if (ex->map) {
        ex->hits += (uint64_t)n;
        pthread_mutex_unlock(&ex->mu);
        for (int i = 0; i < n; i++)
            for (int p = 0; p < ly->n_parts; p++)
                parts[i][p] = ex->map[ly->file[p]] + ly->offset[p] + (uint64_t)ids[i] * ly->stride[p];
        return CHORD_OK;
    }
    /* Claim every one first (so none of them can be a victim for another),
     * queue the misses first in line, then read alongside the readers. */
    bool stalled = false;
    for (int i = 0; i < n; i++) {
        int x = il * E + ids[i], s = ex->where[x];
        if (s >= 0 && ex->slots[s].st != EX_FAILED) {
            ex->hits++;
            if (ex->slots[s].queued)
                ex->slots[s].urgent = true; /* a hint not started yet: now a miss's priority */
        } else {
            ex->misses++;
            stalled = true;
            if (s < 0) {
                s = victim_or_wait(ex);
                if (s < 0) {
                    pthread_mutex_unlock(&ex->mu);
                    return err_set(err, CHORD_E_INVALID,
                                   "%s: expert cache: no free slot for layer %d (%d slots, %d asked)",
                                   lc->path, il, ex->n_slots, n);
                }
            }
            assign(ex, s, il, ids[i], true);
        }
        ex->slots[s].refs++;
    }
    double t0 = stalled ? lc_now() : 0;
    if (stalled)
        pthread_cond_broadcast(&ex->work_cv);
    for (;;) {
        /* help with the misses of this call while any is queued */
        int job = -1;
        for (int i = 0; i < n && job < 0; i++) {
            int s = ex->where[il * E + ids[i]];
            if (ex->slots[s].queued)
                job = s;
        }
        if (job >= 0) {
            run_job(ex, ex->fd, job);
            continue;
        }
        bool loading = false, failed = false;
        for (int i = 0; i < n; i++) {
            ex_state st = ex->slots[ex->where[il * E + ids[i]]].st;
            loading |= st == EX_LOADING;
            failed |= st == EX_FAILED;
        }
        if (failed) {
            int e = ex->read_err;
            uint64_t off = ex->read_off;
            int file = ex->read_file;
            for (int i = 0; i < n; i++) {
                int s = ex->where[il * E + ids[i]];
                ex->slots[s].refs--;
                if (ex->slots[s].st == EX_FAILED && !ex->slots[s].refs)
                    detach(ex, s);
            }
            pthread_mutex_unlock(&ex->mu);
            return err_errno(err, CHORD_E_IO, e ? e : EIO, "%s: expert of layer %d: read at offset %llu",
                             lc->paths[file], il, (unsigned long long)off);
        }
        if (!loading)
            break;
        pthread_cond_wait(&ex->done_cv, &ex->mu);
    }
    if (stalled)
        ex->stall_ms += (lc_now() - t0) * 1e3;
    for (int i = 0; i < n; i++) {
        const ex_slot *sl = &ex->slots[ex->where[il * E + ids[i]]];
        for (int p = 0; p < ly->n_parts; p++)
            parts[i][p] = sl->buf + ex->pos[il * LC_EXPERT_PARTS + p];
    }
    pthread_mutex_unlock(&ex->mu);
    return CHORD_OK;
}

void lc_expert_put(lc_cache *lc, int il, int n, const int *ids)
{
    struct lc_excache *ex = lc->ex;
    if (ex->map)
        return;
    pthread_mutex_lock(&ex->mu);
    for (int i = 0; i < n; i++) {
        int s = ex->where[il * ex->cfg.n_expert + ids[i]];
        if (s >= 0 && ex->slots[s].refs > 0)
            ex->slots[s].refs--;
    }
    pthread_mutex_unlock(&ex->mu);
}

void lc_expert_hint(lc_cache *lc, int il, int n, const int *ids)
{
    struct lc_excache *ex = lc ? lc->ex : NULL;
    if (!ex || il < 0 || il >= ex->n_layer || !ex->layer[il].n_parts)
        return;
    int E = ex->cfg.n_expert;
    bool queued = false;
    pthread_mutex_lock(&ex->mu);
    /* the layer's earlier hints are over: this pass predicts afresh */
    memset(ex->hinted + (size_t)il * E, 0, (size_t)E);
    for (int i = 0; i < n; i++) {
        int x = il * E + ids[i];
        ex->hinted[x] = 1;
        ex->predicted++;
        if (ex->map || ex->where[x] >= 0)
            continue;
        int s = pick_victim(ex);
        if (s < 0)
            break;
        assign(ex, s, il, ids[i], false);
        queued = true;
    }
    if (queued)
        pthread_cond_broadcast(&ex->work_cv);
    pthread_mutex_unlock(&ex->mu);
}

void lc_expert_tokens(lc_cache *lc, int n)
{
    struct lc_excache *ex = lc ? lc->ex : NULL;
    if (!ex)
        return;
    pthread_mutex_lock(&ex->mu);
    ex->clock += (uint64_t)n;
    ex->tokens += (uint64_t)n;
    pthread_mutex_unlock(&ex->mu);
}

void lc_expert_last(lc_cache *lc, int il, const int *ids, int n)
{
    struct lc_excache *ex = lc ? lc->ex : NULL;
    if (!ex || il < 0 || il >= CHORD_MAX_LAYERS)
        return;
    pthread_mutex_lock(&ex->mu);
    for (int i = 0; i < CHORD_MAX_EXPERT_USED; i++)
        ex->last[il][i] = (int16_t)(i < n ? ids[i] : -1);
    pthread_mutex_unlock(&ex->mu);
}

void lc_expert_stats(const lc_cache *lc, chord_stats *out)
{
    struct lc_excache *ex = lc ? lc->ex : NULL;
    if (!ex)
        return;
    pthread_mutex_lock(&ex->mu);
    out->n_expert = ex->cfg.n_expert;
    out->n_expert_used = ex->cfg.n_used;
    out->n_moe_layers = 0;
    for (int l = 0; l < ex->n_layer && l < CHORD_MAX_LAYERS; l++) {
        bool moe = ex->layer[l].n_parts > 0;
        out->n_moe_layers += moe;
        int r = 0;
        if (moe && ex->map)
            r = ex->cfg.n_expert;
        else if (moe)
            for (int e = 0; e < ex->cfg.n_expert; e++) {
                int s = ex->where[l * ex->cfg.n_expert + e];
                r += s >= 0 && ex->slots[s].st == EX_READY;
            }
        out->experts_resident[l] = (uint16_t)r;
        int seen = 0;
        for (int e = 0; moe && e < ex->cfg.n_expert; e++)
            seen += ex->seen[l * ex->cfg.n_expert + e];
        out->experts_seen[l] = (uint16_t)seen;
        memcpy(out->experts_last[l], ex->last[l], sizeof ex->last[l]);
    }
    out->expert_hits = ex->hits;
    out->expert_misses = ex->misses;
    out->expert_predicted = ex->predicted;
    out->expert_predict_right = ex->predict_right;
    out->expert_bytes_read = ex->bytes_read;
    out->expert_stall_ms = ex->stall_ms;
    out->expert_tokens = ex->tokens;
    out->expert_slots = ex->map ? 0 : ex->n_slots;
    pthread_mutex_unlock(&ex->mu);
}
