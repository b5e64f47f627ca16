/*
 * lc.c - the layer cache (see lc.h): opening, the memory plan, stats.
 *
 * The policy. A forward pass touches layers 0..L-1 in order, every token,
 * so the access pattern is a cycle known in advance. Plain LRU is the worst
 * choice for a cycle longer than the cache: the least recently used layer
 * is exactly the one needed next, so it would miss every time. Instead:
 *
 *  - the global group (embeddings, output) and R layers are held in
 *    memory for the whole run ("pinned"), spread evenly among the layers;
 *  - the other L-R layers stream through a small ring of S slot buffers,
 *    read by prefetch workers `prefetch` streamed layers ahead of the
 *    compute, wrapping from the last streamed layer to the first of the
 *    next token; the pinned layers between two streamed ones compute while
 *    the next streamed ones are read (a pinned prefix would leave the disk
 *    idle during the prefix: the slots ahead are full by then);
 *  - when a slot must be reused, the victim is the loaded layer needed
 *    furthest in the future in that cyclic order (Belady's rule, exact here
 *    because the future is known); a layer in use or being read is never a
 *    victim, and a prefetch never evicts a layer needed sooner than the one
 *    it brings in.
 *
 * Pinning a fixed set rather than caching "some" layers makes every token
 * stream exactly the same L-R layers, so the I/O per token is the minimum
 * the budget allows and it is predictable (bytes per token = streamed
 * layers). Slots beyond prefetch + 1 would only absorb jitter, so the plan
 * spends the budget on pinned layers first.
 *
 * Streamed reads go through the page cache, which keeps them when the
 * streamed layers fit easily in it (then later tokens copy from RAM) and
 * is told to drop them after each read when they do not (keep_cache).
 *
 * When the whole model fits the budget, nothing streams: the file is mapped
 * read-only and tensors point into the mapping.
 */
#include "lc/lc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "lc/lc_impl.h"

#define MIB(x) ((double)(x) / (1024.0 * 1024.0))

static size_t align_size(size_t x, size_t a) { return (x + a - 1) / a * a; }

static uint64_t streamed_bytes(const lc_cache *lc)
{
    uint64_t b = 0;
    for (int g = 1; g < lc->n_groups; g++)
        b += lc->g[g].held ? 0 : lc->g[g].bytes;
    return b;
}

/* Checks that every extent lies inside its file (with overflow checks), so
 * no pointer or read can go past its end. */
static chord_status check_extents(const lc_cache *lc, int n_groups, const lc_group *groups,
                                  chord_err *err)
{
    for (int g = 0; g < n_groups; g++) {
        if (groups[g].n < 0 || (groups[g].n > 0 && !groups[g].extents))
            return err_set(err, CHORD_E_INVALID, "%s: group %d: bad extent list (n=%d)",
                           lc->path, g, groups[g].n);
        for (int k = 0; k < groups[g].n; k++) {
            const lc_extent *e = &groups[g].extents[k];
            if (e->file < 0 || e->file >= lc->n_files)
                return err_set(err, CHORD_E_INVALID, "%s: group %d tensor %d: file %d of %d",
                               lc->path, g, k, e->file, lc->n_files);
            uint64_t file_size = lc->file_size[e->file];
            if (e->offset > file_size || e->size > file_size - e->offset)
                return err_set(err, CHORD_E_FORMAT,
                               "%s: group %d tensor %d at offset %llu (%llu bytes) runs past end of file (%llu bytes)",
                               lc->paths[e->file], g, k, (unsigned long long)e->offset,
                               (unsigned long long)e->size, (unsigned long long)file_size);
        }
    }
    return CHORD_OK;
}

/* Copies the caller's groups and builds their read layouts. */
static bool copy_groups(lc_cache *lc, const lc_group *groups)
{
    for (int g = 0; g < lc->n_groups; g++) {
        lc_grp *gr = &lc->g[g];
        gr->slot = -1;
        gr->n = groups[g].n;
        gr->ext = malloc((gr->n > 0 ? (size_t)gr->n : 1) * sizeof(lc_extent));
        if (!gr->ext)
            return false;
        if (gr->n > 0)
            memcpy(gr->ext, groups[g].extents, (size_t)gr->n * sizeof(lc_extent));
        for (int k = 0; k < gr->n; k++)
            gr->bytes += gr->ext[k].size;
        lc->total_bytes += gr->bytes;
        if (!lc_layout(gr, lc->align))
            return false;
    }
    return true;
}

/* Maps every file read-only (each part of a split model on its own: the
 * tensors of a part point into its mapping). */
static chord_status open_mapped(lc_cache *lc, chord_err *err)
{
    lc->map = calloc((size_t)lc->n_files, sizeof *lc->map);
    lc->map_size = calloc((size_t)lc->n_files, sizeof *lc->map_size);
    if (!lc->map || !lc->map_size)
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for the layer cache", lc->path);
    for (int f = 0; f < lc->n_files; f++) {
        uint64_t fsize = lc->file_size[f];
        if (fsize == 0)
            continue;
        void *m = mmap(NULL, (size_t)fsize, PROT_READ, MAP_PRIVATE, lc->fd[f], 0);
        if (m == MAP_FAILED)
            return err_errno(err, CHORD_E_IO, errno, "%s: mmap of %llu bytes", lc->paths[f],
                             (unsigned long long)fsize);
        /* advisory only: a failure changes speed, not results */
        (void)madvise(m, (size_t)fsize, MADV_WILLNEED);
        lc->map[f] = m;
        lc->map_size[f] = (size_t)fsize;
    }
    lc->used = (int64_t)lc->total_bytes;
    return CHORD_OK;
}

/* Which layers are pinned when r of the L are: spread evenly (layer i when
 * floor((i + 1) r / L) steps), so that every streamed layer is followed by
 * about r / (L - r) pinned ones. A pinned prefix would leave the disk idle
 * while the prefix computes (the slots ahead are full by then); spread, the
 * pinned layers' compute hides the reads of the streamed ones around them. */
static void pick_pinned(int L, int r, bool *pin)
{
    for (int i = 0; i < L; i++)
        pin[i] = (int64_t)(i + 1) * r / L > (int64_t)i * r / L;
}

/* Chooses R (pinned layers) and S (slots) for a budget that cannot hold
 * everything: the most pinned layers such that global + pinned + S slots
 * fit, with S = prefetch + 1 (or fewer streamed layers) and slots the size
 * of the largest streamed layer; if even R = 0 does not fit, as many slots
 * as fit, at least one. */
static chord_status plan_stream(lc_cache *lc, chord_err *err)
{
    int L = lc->n_groups - 1;
    int64_t want_s = lc->prefetch_asked + 1;
    size_t gcost = lc->g[0].cost;
    bool *pin = calloc((size_t)L + 1, sizeof *pin);
    lc->stream_g = calloc((size_t)L + 1, sizeof *lc->stream_g);
    if (!pin || !lc->stream_g) {
        free(pin);
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory planning the layer cache", lc->path);
    }
    int best_r = -1;
    int64_t best_s = 0;
    size_t slot = 0;
    for (int r = L - 1; r >= 0 && best_r < 0; r--) {
        pick_pinned(L, r, pin);
        uint64_t pinned = 0;
        slot = 0;
        for (int i = 0; i < L; i++) {
            size_t c = lc->g[1 + i].cost;
            if (pin[i])
                pinned += c;
            else if (c > slot)
                slot = c;
        }
        int64_t s = want_s < L - r ? want_s : L - r;
        if (gcost + pinned + (uint64_t)s * slot <= (uint64_t)lc->budget) {
            best_r = r;
            best_s = s;
        }
    }
    if (best_r < 0) {
        /* r = 0 was the last tried: slot is the largest layer */
        uint64_t one = gcost + slot;
        if ((uint64_t)lc->budget < one) {
            free(pin);
            return err_set(err, CHORD_E_NOMEM,
                           "%s: memory budget of %lld bytes is too small: the global tensors need %zu bytes plus %zu for one streaming slot (at least %llu bytes)",
                           lc->path, (long long)lc->budget, gcost, slot,
                           (unsigned long long)one);
        }
        best_r = 0;
        best_s = slot ? (int64_t)(((uint64_t)lc->budget - gcost) / slot) : 1;
    }
    pick_pinned(L, best_r, pin);
    lc->g[0].held = true;
    lc->g[0].sidx = -1;
    lc->n_held = 1;
    lc->n_stream = 0;
    lc->slot_cost = 0;
    lc->used = (int64_t)gcost;
    for (int i = 0; i < L; i++) {
        lc_grp *gr = &lc->g[1 + i];
        gr->held = pin[i];
        gr->sidx = -1;
        if (pin[i]) {
            lc->n_held++;
            lc->used += (int64_t)gr->cost;
        } else {
            gr->sidx = lc->n_stream;
            lc->stream_g[lc->n_stream++] = 1 + i;
            if (gr->cost > lc->slot_cost)
                lc->slot_cost = gr->cost;
        }
    }
    free(pin);
    lc->n_slots = (int)best_s;
    lc->prefetch = lc->prefetch_asked < lc->n_stream - 1 ? lc->prefetch_asked
                                                        : lc->n_stream - 1;
    lc->used += (int64_t)((uint64_t)lc->n_slots * lc->slot_cost);
    return CHORD_OK;
}

#define LC_HUGE ((size_t)2 << 20)

/* A weight buffer of `size` bytes aligned on `a`, or NULL. Buffers of a
 * huge page or more start on a 2 MiB boundary and ask for transparent huge
 * pages over their whole 2 MiB pages: the page cache copies into a slot at
 * 11-13 GB/s with huge pages against 9-11 with 4 KiB ones (a TLB miss every
 * 4 KiB of destination), and the compute reading the layer back misses the
 * TLB less too. Advisory: without THP it is an ordinary buffer. Freed with
 * free(). */
static uint8_t *alloc_weights(size_t size, size_t a)
{
    size = size ? align_size(size, a) : a;
    bool huge = size >= LC_HUGE;
    void *p = NULL;
    if (posix_memalign(&p, huge ? LC_HUGE : a, size) != 0)
        return NULL;
    if (huge)
        (void)madvise(p, size / LC_HUGE * LC_HUGE, MADV_HUGEPAGE);
    return p;
}

/* Allocates the held groups' buffers and the slots, and reads the held
 * groups synchronously (they are needed before the first token anyway). */
static chord_status load_held(lc_cache *lc, chord_err *err)
{
    size_t a = lc->align < 64 ? 64 : lc->align;
    for (int g = 0; g < lc->n_groups; g++) {
        lc_grp *gr = &lc->g[g];
        if (!gr->held)
            continue;
        gr->buf = alloc_weights(gr->cost, a);
        if (!gr->buf)
            return err_set(err, CHORD_E_NOMEM, "%s: cannot allocate %zu bytes for group %d",
                           lc->path, gr->cost, g);
        lc_fail why;
        if (!lc_read_group(gr, lc->fd, lc->release, gr->buf, LC_FAULT_NONE, &gr->csum, &why))
            return err_errno(err, CHORD_E_IO, why.err ? why.err : EIO,
                             "%s: group %d: %s at offset %llu", lc->paths[why.file], g, why.what,
                             (unsigned long long)why.offset);
        gr->csum_set = true;
    }
    lc->slots = calloc((size_t)lc->n_slots, sizeof *lc->slots);
    if (!lc->slots)
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for slots", lc->path);
    for (int s = 0; s < lc->n_slots; s++) {
        lc->slots[s].g = -1;
        lc->slots[s].buf = alloc_weights(lc->slot_cost, a);
        if (!lc->slots[s].buf)
            return err_set(err, CHORD_E_NOMEM, "%s: cannot allocate a %zu-byte streaming slot",
                           lc->path, lc->slot_cost);
    }
    return CHORD_OK;
}

static void write_plan_layers(lc_cache *lc, const char *note);

/* The plan, then what the expert cache holds, if any. */
static void write_plan(lc_cache *lc, const char *note)
{
    write_plan_layers(lc, note);
    int n_slots = 0;
    size_t slot = 0;
    lc_expert_plan(lc, &n_slots, &slot);
    if (!lc->ex)
        return;
    size_t len = strlen(lc->plan);
    if (!n_slots)
        snprintf(lc->plan + len, sizeof lc->plan - len, "; experts (%.1f MiB) resident",
                 MIB(lc->ex_bytes));
    else
        snprintf(lc->plan + len, sizeof lc->plan - len,
                 "; experts (%.1f MiB in all) cached in %d slots of %.2f MiB, read on demand and on prediction",
                 MIB(lc->ex_bytes), n_slots, MIB(slot));
}

static void write_plan_layers(lc_cache *lc, const char *note)
{
    int L = lc->n_groups - 1;
    if (!lc->streaming) {
        snprintf(lc->plan, sizeof lc->plan,
                 "all %d layers resident (file mapped read-only): %.1f MiB of weights, budget %.1f MiB, no streaming%s",
                 L, MIB(lc->total_bytes), MIB(lc->budget), note);
        return;
    }
    int r = lc->n_held - 1;
    if (lc->n_stream == 0) {
        snprintf(lc->plan, sizeof lc->plan,
                 "within a budget of %.1f MiB (%.1f MiB used): global tensors %.1f MiB and all %d layers (%.1f MiB) held%s",
                 MIB(lc->budget), MIB(lc->used), MIB(lc->g[0].cost), L,
                 MIB(lc->total_bytes - lc->g[0].bytes), note);
        return;
    }
    char pinned[64], ahead[128] = "";
    if (r > 0)
        snprintf(pinned, sizeof pinned, "%d layer(s) pinned, spread among the %d streamed", r,
                 lc->n_stream);
    else
        snprintf(pinned, sizeof pinned, "no layer pinned");
    /* with fewer slots than prefetch + 1, reads run only as far ahead as
     * free slots allow: say so rather than promise the distance asked */
    if (lc->prefetch > lc->n_slots - 1)
        snprintf(ahead, sizeof ahead, " (%d slot(s) hold at most %d layer(s) ahead of the one in use)",
                 lc->n_slots, lc->n_slots - 1);
    snprintf(lc->plan, sizeof lc->plan,
             "streaming within a budget of %.1f MiB (%.1f MiB used): global tensors %.1f MiB resident, %s (%d layers), streamed through %d slot(s) of %.2f MiB, prefetch distance %d%s with %d reader thread(s), %s; %.1f MiB read per token%s",
             MIB(lc->budget), MIB(lc->used), MIB(lc->g[0].cost), pinned, L,
             lc->n_slots, MIB(lc->slot_cost), lc->prefetch, ahead, lc->n_workers,
             lc->direct ? "O_DIRECT reads"
             : lc->release ? "page cache released after reads (the stream would not fit in it)"
                           : "page cache kept (the stream fits in it: later tokens read from RAM)",
             MIB(streamed_bytes(lc)), note);
}

/* Whether buffered reads leave the streamed layers in the page cache.
 * The budget bounds the memory chord holds (its buffers, RSS); the page
 * cache is the kernel's and is given back under pressure. When the streamed
 * layers fit easily in it (at most half of what is available once the
 * budget is allocated), keeping them turns every later token's reads into
 * copies from RAM instead of disk reads. When they do not, a cyclic stream
 * longer than the cache would evict each page before its next use (LRU's
 * worst case) while pushing other files out, so the pages are released
 * after each read. */
static bool keep_cache(const lc_cache *lc)
{
    int64_t avail = lc_mem_available();
    if (avail < 0)
        return false;
    int64_t spare = avail - lc->used;
    return spare > 0 && (int64_t)streamed_bytes(lc) <= spare / 2;
}

/* Resolves the budget: -1 = everything, 0 = the whole model if it fits in
 * 80% of MemAvailable, else that 80%. Returns the note for the plan. */
static const char *resolve_budget(lc_cache *lc, int64_t asked)
{
    if (asked < 0) {
        lc->budget = (int64_t)(lc->total_bytes + lc->ex_bytes);
        return "";
    }
    if (asked > 0) {
        lc->budget = asked;
        return "";
    }
    int64_t avail = lc_mem_available();
    if (avail < 0) {
        lc->budget = (int64_t)(lc->total_bytes + lc->ex_bytes);
        return " (MemAvailable unknown: everything resident)";
    }
    int64_t cap = avail / 10 * 8;
    int64_t all = (int64_t)(lc->total_bytes + lc->ex_bytes);
    lc->budget = all <= cap ? all : cap;
    return " (auto budget: 80% of MemAvailable)";
}

/* Checks the experts' slices against their files, as check_extents does
 * for the groups. */
static chord_status check_experts(const lc_cache *lc, const lc_experts *xc, chord_err *err)
{
    if (xc->n_expert < 1 || xc->n_used < 1 || xc->n_used > xc->n_expert ||
        xc->n_used > CHORD_MAX_EXPERT_USED)
        return err_set(err, CHORD_E_UNSUPPORTED, "%s: %d of %d experts per token (chord handles up to %d)",
                       lc->path, xc->n_used, xc->n_expert, CHORD_MAX_EXPERT_USED);
    for (int l = 0; l < lc->n_groups - 1; l++) {
        const lc_expert_layer *ly = &xc->layer[l];
        for (int p = 0; p < ly->n_parts; p++) {
            if (ly->file[p] < 0 || ly->file[p] >= lc->n_files)
                return err_set(err, CHORD_E_INVALID, "%s: layer %d's experts: file %d of %d",
                               lc->path, l, ly->file[p], lc->n_files);
            uint64_t fsize = lc->file_size[ly->file[p]];
            uint64_t span = ly->stride[p] * (uint64_t)xc->n_expert;
            if (ly->stride[p] && span / ly->stride[p] != (uint64_t)xc->n_expert)
                span = UINT64_MAX;
            if (ly->offset[p] > fsize || span > fsize - ly->offset[p])
                return err_set(err, CHORD_E_FORMAT,
                               "%s: layer %d's experts at offset %llu run past end of file (%llu bytes)",
                               lc->paths[ly->file[p]], l, (unsigned long long)ly->offset[p],
                               (unsigned long long)fsize);
        }
    }
    return CHORD_OK;
}

static size_t max_group_cost(const lc_cache *lc)
{
    size_t c = 0;
    for (int g = 1; g < lc->n_groups; g++)
        c = lc->g[g].cost > c ? lc->g[g].cost : c;
    return c;
}

/* Whether every group fits the budget held (a mixture of experts' dense
 * part usually does). */
static bool all_held_fit(const lc_cache *lc)
{
    uint64_t c = 0;
    for (int g = 0; g < lc->n_groups; g++)
        c += lc->g[g].cost;
    return lc->budget > 0 && c <= (uint64_t)lc->budget;
}

/* The plan with every group held and none streamed. */
static void hold_all(lc_cache *lc)
{
    lc->n_held = lc->n_groups;
    lc->n_stream = 0;
    lc->n_slots = 0;
    lc->prefetch = 0;
    lc->slot_cost = 0;
    lc->used = 0;
    for (int g = 0; g < lc->n_groups; g++) {
        lc->g[g].held = true;
        lc->g[g].sidx = -1;
        lc->used += (int64_t)lc->g[g].cost;
    }
}

/* Opens (buffered) and sizes every file into lc. */
static chord_status open_files(lc_cache *lc, int n_files, const char *const *paths, chord_err *err)
{
    lc->paths = calloc((size_t)n_files, sizeof *lc->paths);
    lc->file_size = calloc((size_t)n_files, sizeof *lc->file_size);
    lc->fd = malloc((size_t)n_files * sizeof *lc->fd);
    if (!lc->paths || !lc->file_size || !lc->fd)
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for the layer cache", paths[0]);
    for (int f = 0; f < n_files; f++)
        lc->fd[f] = -1;
    lc->n_files = n_files;
    for (int f = 0; f < n_files; f++)
        if (!paths[f] || !(lc->paths[f] = strdup(paths[f])))
            return err_set(err, paths[f] ? CHORD_E_NOMEM : CHORD_E_INVALID,
                           "%s: file %d of the layer cache: %s", paths[0], f,
                           paths[f] ? "out of memory" : "no path");
    chord_status s = lc_fds_open(lc, O_RDONLY | O_CLOEXEC, lc->fd, "the layer cache", err);
    for (int f = 0; s == CHORD_OK && f < n_files; f++) {
        struct stat st;
        if (fstat(lc->fd[f], &st) != 0)
            return err_errno(err, CHORD_E_IO, errno, "%s: fstat", lc->paths[f]);
        lc->file_size[f] = (uint64_t)st.st_size;
    }
    return s;
}

/* Switches to O_DIRECT reads of every file, or leaves buffered ones (and
 * says why in *note) where the file system refuses O_DIRECT. */
static chord_status open_direct(lc_cache *lc, const char **note, chord_err *err)
{
    int *dfd = malloc((size_t)lc->n_files * sizeof *dfd);
    if (!dfd)
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for the layer cache", lc->path);
    chord_err derr;
    if (lc_fds_open(lc, O_RDONLY | O_CLOEXEC | O_DIRECT, dfd, "O_DIRECT reads", &derr) != CHORD_OK) {
        free(dfd);
        *note = " (O_DIRECT unsupported here: buffered reads)";
        return CHORD_OK;
    }
    lc_fds_close(lc->n_files, lc->fd);
    free(lc->fd);
    lc->fd = dfd;
    lc->direct = true;
    lc->align = 4096;
    for (int g = 0; g < lc->n_groups; g++)
        if (!lc_layout(&lc->g[g], lc->align))
            return err_set(err, CHORD_E_NOMEM, "%s: out of memory for the layer cache", lc->path);
    return CHORD_OK;
}

chord_status lc_open(const char *path, int n_groups, const lc_group *groups,
                     const lc_params *p, lc_cache **out, chord_err *err)
{
    return lc_open_files(1, &path, n_groups, groups, p, out, err);
}

chord_status lc_open_files(int n_files, const char *const *paths, int n_groups,
                           const lc_group *groups, const lc_params *p, lc_cache **out,
                           chord_err *err)
{
    *out = NULL;
    if (n_files < 1 || !paths || !paths[0] || n_groups < 1 || !groups ||
        n_groups - 1 > CHORD_MAX_LAYERS)
        return err_set(err, CHORD_E_INVALID, "lc_open: bad arguments (%d files, %d groups)",
                       n_files, n_groups);
    const char *path = paths[0];
    int prefetch = p && p->prefetch > 0 ? p->prefetch : 0;

    lc_cache *lc = calloc(1, sizeof *lc);
    if (!lc)
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for the layer cache", path);
    lc->n_groups = n_groups;
    lc->prefetch_asked = prefetch;
    lc->cursor = -1;
    lc->align = 64;
    pthread_mutex_init(&lc->mu, NULL);
    pthread_cond_init(&lc->work_cv, NULL);
    pthread_cond_init(&lc->done_cv, NULL);
    lc->path = strdup(path);
    chord_status s = lc->path ? open_files(lc, n_files, paths, err)
                              : err_set(err, CHORD_E_NOMEM, "%s: out of memory for the layer cache", path);
    if (s == CHORD_OK)
        s = check_extents(lc, n_groups, groups, err);
    if (s != CHORD_OK) {
        lc_close(lc);
        return s;
    }
    lc->g = calloc((size_t)n_groups, sizeof *lc->g);
    if (!lc->g || !copy_groups(lc, groups)) {
        lc_close(lc);
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for the layer cache", path);
    }

    const lc_experts *xc = p && p->experts ? p->experts : NULL;
    if (xc && (s = check_experts(lc, xc, err)) != CHORD_OK) {
        lc_close(lc);
        return s;
    }
    lc->ex_bytes = lc_expert_bytes(xc, n_groups - 1);
    const char *note = resolve_budget(lc, p ? p->budget : 0);
    /* compare layout costs, not payload: that is what the buffers take */
    uint64_t all_cost = lc->ex_bytes;
    for (int g = 0; g < n_groups; g++)
        all_cost += lc->g[g].cost;
    if (n_groups == 1 || (uint64_t)lc->budget >= all_cost ||
        (uint64_t)lc->budget >= lc->total_bytes + lc->ex_bytes) {
        s = open_mapped(lc, err);
        if (s == CHORD_OK && xc)
            s = lc_expert_open(lc, xc, lc->map, 0, false, err);
        if (s != CHORD_OK) {
            lc_close(lc);
            return s;
        }
        write_plan(lc, note);
        *out = lc;
        return CHORD_OK;
    }

    lc->streaming = true;
    if (p && p->direct_io && (s = open_direct(lc, &note, err)) != CHORD_OK) {
        lc_close(lc);
        return s;
    }
    /* A mixture of experts keeps the budget the expert cache's minimum
     * needs out of the dense plan: the global and dense groups first (all
     * held when they fit), the experts in the rest. */
    size_t ex_slot = xc ? lc_expert_slot_cost(xc, n_groups - 1) : 0;
    int64_t ex_min = xc ? (int64_t)lc_expert_min_slots(xc) * (int64_t)ex_slot : 0;
    int64_t full_budget = lc->budget;
    lc->budget -= ex_min;
    if (xc && all_held_fit(lc))
        hold_all(lc);
    else if (lc->budget <= 0 || (s = plan_stream(lc, err)) != CHORD_OK) {
        lc->budget = full_budget;
        if (s == CHORD_OK || xc)
            s = err_set(err, CHORD_E_NOMEM,
                        "%s: memory budget of %lld bytes is too small: the global tensors (%zu bytes), a streaming slot for the dense layers and %d expert slots of %zu bytes need at least %lld",
                        path, (long long)full_budget, lc->g[0].cost, lc_expert_min_slots(xc), ex_slot,
                        (long long)(lc->g[0].cost + max_group_cost(lc) + ex_min));
        lc_close(lc);
        return s;
    }
    lc->budget = full_budget;
    lc->release = !lc->direct && !keep_cache(lc);
    if (xc) {
        uint64_t n_ex = 0;
        for (int l = 0; l < n_groups - 1; l++)
            n_ex += xc->layer[l].n_parts ? (uint64_t)xc->n_expert : 0;
        uint64_t slots = ((uint64_t)lc->budget - (uint64_t)lc->used) / ex_slot;
        if (slots > n_ex)
            slots = n_ex;
        lc->used += (int64_t)(slots * ex_slot);
        /* the experts' reads stay in the page cache when all of them fit
         * easily in what is left of it (as keep_cache decides for layers) */
        int64_t avail = lc_mem_available(), spare = avail - lc->used;
        bool ex_release = avail < 0 || spare <= 0 || (int64_t)lc->ex_bytes > spare / 2;
        if ((s = lc_expert_open(lc, xc, NULL, (int)slots, ex_release, err)) != CHORD_OK) {
            lc_close(lc);
            return s;
        }
    }
    /* two readers keep a fast disk busy; more than the layers that can be
     * queued at once would only wait */
    lc->n_workers = lc->prefetch < 1 ? 0 : lc->prefetch < 2 ? lc->prefetch : 2;
    if ((s = load_held(lc, err)) != CHORD_OK || (s = lc_stream_start(lc, err)) != CHORD_OK) {
        lc_close(lc);
        return s;
    }
    write_plan(lc, note);
    *out = lc;
    return CHORD_OK;
}

void lc_close(lc_cache *lc)
{
    if (!lc)
        return;
    lc_expert_close(lc);
    lc_stream_stop(lc);
    for (int f = 0; lc->map && f < lc->n_files; f++)
        if (lc->map[f])
            munmap((void *)lc->map[f], lc->map_size[f]);
    free(lc->map);
    free(lc->map_size);
    if (lc->g)
        for (int g = 0; g < lc->n_groups; g++) {
            free(lc->g[g].ext);
            free(lc->g[g].pos);
            free(lc->g[g].runs);
            free(lc->g[g].buf);
        }
    if (lc->slots)
        for (int s = 0; s < lc->n_slots; s++)
            free(lc->slots[s].buf);
    free(lc->slots);
    free(lc->stream_g);
    free(lc->g);
    free(lc->path);
    if (lc->fd)
        lc_fds_close(lc->n_files, lc->fd);
    free(lc->fd);
    for (int f = 0; lc->paths && f < lc->n_files; f++)
        free(lc->paths[f]);
    free(lc->paths);
    free(lc->file_size);
    pthread_cond_destroy(&lc->work_cv);
    pthread_cond_destroy(&lc->done_cv);
    pthread_mutex_destroy(&lc->mu);
    free(lc);
}

const void *lc_tensor(const lc_cache *lc, int g, int k)
{
    static const uint8_t empty[64];
    if (!lc || g < 0 || g >= lc->n_groups || k < 0 || k >= lc->g[g].n)
        return NULL;
    const lc_grp *gr = &lc->g[g];
    if (!lc->streaming)
        return lc->map && lc->map[gr->ext[k].file] ? lc->map[gr->ext[k].file] + gr->ext[k].offset
                                                   : empty;
    if (gr->ext[k].size == 0)
        return empty;
    if (gr->held)
        return gr->buf + gr->pos[k];
    /* no lock: the caller acquired g, so its slot cannot change under it,
     * and the acquire (under the mutex) ordered this read after the write */
    if (gr->slot < 0)
        return NULL;
    return lc->slots[gr->slot].buf + gr->pos[k];
}

bool lc_is_held(const lc_cache *lc, int g)
{
    return lc && g >= 0 && g < lc->n_groups && (!lc->streaming || lc->g[g].held);
}

int64_t lc_budget_left(lc_cache *lc)
{
    if (!lc)
        return 0;
    pthread_mutex_lock(&lc->mu);
    int64_t left = lc->budget - lc->used;
    pthread_mutex_unlock(&lc->mu);
    return left > 0 ? left : 0;
}

const char *lc_plan(const lc_cache *lc)
{
    return lc ? lc->plan : "no layer cache";
}

/* The layer state the UI shows, from the group's slot and refs. */
static chord_layer_state layer_state(const lc_cache *lc, int g)
{
    const lc_grp *gr = &lc->g[g];
    if (gr->refs > 0)
        return CHORD_LAYER_IN_USE;
    if (!lc->streaming)
        return CHORD_LAYER_RESIDENT;
    if (gr->held)
        return CHORD_LAYER_PINNED;
    if (gr->slot < 0)
        return CHORD_LAYER_EVICTED;
    switch (lc->slots[gr->slot].st) {
    case LC_SLOT_QUEUED: return CHORD_LAYER_QUEUED;
    case LC_SLOT_LOADING: return CHORD_LAYER_LOADING;
    case LC_SLOT_READY: return CHORD_LAYER_READY;
    case LC_SLOT_IN_USE: return CHORD_LAYER_IN_USE;
    default: return CHORD_LAYER_EVICTED;
    }
}

void lc_stats(const lc_cache *lc, chord_stats *out)
{
    if (!lc || !out)
        return;
    /* the mutex is the one mutable part of a const cache */
    lc_cache *m = (lc_cache *)lc;
    pthread_mutex_lock(&m->mu);
    int nl = lc->n_groups - 1;
    out->n_layer = nl;
    for (int i = 0; i < nl; i++)
        out->layer_state[i] = (uint8_t)layer_state(lc, 1 + i);
    out->streaming = lc->streaming;
    out->n_resident = lc->streaming ? lc->n_held - 1 : nl;
    out->n_slots = lc->n_slots;
    out->prefetch_distance = lc->streaming ? lc->prefetch : 0;
    out->queue_depth = 0;
    out->in_flight = 0;
    for (int s = 0; s < lc->n_slots; s++) {
        out->queue_depth += lc->slots[s].st == LC_SLOT_QUEUED;
        out->in_flight += lc->slots[s].st == LC_SLOT_LOADING;
    }
    out->hits = lc->hits;
    out->stalls = lc->stalls;
    out->evictions = lc->evictions;
    out->stall_ms = lc->stall_ms;
    out->bytes_read = lc->bytes_read;
    double sec = 0, bytes = 0;
    for (int i = 0; i < lc->rate_n; i++) {
        sec += lc->rate_sec[i];
        bytes += (double)lc->rate_bytes[i];
    }
    out->read_mb_s = sec > 0 ? bytes / sec / 1e6 : 0;
    out->budget_bytes = lc->budget;
    out->budget_used_bytes = lc->used;
    pthread_mutex_unlock(&m->mu);
    lc_expert_stats(lc, out); /* under its own lock, after this one */
}

void lc_test_inject(lc_cache *lc, int g, lc_fault kind, int count)
{
    if (!lc || g < 0 || g >= lc->n_groups)
        return;
    pthread_mutex_lock(&lc->mu);
    lc->g[g].fault_kind = (int)kind;
    lc->g[g].fault_count = count;
    pthread_mutex_unlock(&lc->mu);
}

void lc_test_delay(lc_cache *lc, int max_us, unsigned seed)
{
    if (!lc)
        return;
    pthread_mutex_lock(&lc->mu);
    lc->delay_us = max_us;
    lc->delay_seed = seed;
    pthread_mutex_unlock(&lc->mu);
}

uint64_t lc_test_loads(const lc_cache *lc, int g)
{
    if (!lc || g < 0 || g >= lc->n_groups)
        return 0;
    lc_cache *m = (lc_cache *)lc;
    pthread_mutex_lock(&m->mu);
    uint64_t n = lc->g[g].loads;
    pthread_mutex_unlock(&m->mu);
    return n;
}

uint64_t lc_group_cost(const lc_cache *lc, int g)
{
    return lc && g >= 0 && g < lc->n_groups ? lc->g[g].cost : 0;
}
