/*
 * lc.c - the layer cache (see lc.h).
 *
 * This first version keeps every group resident: the file is mapped
 * read-only and lc_tensor() is the mapping plus the extent's offset.
 * Acquire and release are bookkeeping only.
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

typedef struct lc_grp {
    int n;
    lc_extent *ext;
    uint64_t bytes;
    int in_use;       /* acquire count, for the stats */
} lc_grp;

struct lc_cache {
    char *path;
    int n_groups;
    lc_grp *g;
    const uint8_t *map;
    size_t map_size;
    uint64_t total_bytes;
    int64_t budget;
    int prefetch;
    char plan[512];
};

/* Checks that every extent lies inside the file (with overflow checks), so
 * lc_tensor() can never hand out a pointer past the mapping. */
static chord_status check_extents(const char *path, int n_groups,
                                  const lc_group *groups, uint64_t file_size,
                                  chord_err *err)
{
    for (int g = 0; g < n_groups; g++) {
        if (groups[g].n < 0 || (groups[g].n > 0 && !groups[g].extents))
            return err_set(err, CHORD_E_INVALID, "%s: group %d: bad extent list (n=%d)",
                           path, g, groups[g].n);
        for (int k = 0; k < groups[g].n; k++) {
            const lc_extent *e = &groups[g].extents[k];
            if (e->offset > file_size || e->size > file_size - e->offset)
                return err_set(err, CHORD_E_FORMAT,
                               "%s: group %d tensor %d at offset %llu (%llu bytes) runs past end of file (%llu bytes)",
                               path, g, k, (unsigned long long)e->offset,
                               (unsigned long long)e->size, (unsigned long long)file_size);
        }
    }
    return CHORD_OK;
}

chord_status lc_open(const char *path, int n_groups, const lc_group *groups,
                     const lc_params *p, lc_cache **out, chord_err *err)
{
    *out = NULL;
    if (!path || n_groups < 1 || !groups || n_groups - 1 > CHORD_MAX_LAYERS)
        return err_set(err, CHORD_E_INVALID, "lc_open: bad arguments (%d groups)", n_groups);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_errno(err, CHORD_E_IO, errno, "%s: open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return err_errno(err, CHORD_E_IO, e, "%s: fstat", path);
    }
    uint64_t fsize = (uint64_t)st.st_size;
    chord_status s = check_extents(path, n_groups, groups, fsize, err);
    if (s != CHORD_OK) {
        close(fd);
        return s;
    }

    lc_cache *lc = calloc(1, sizeof *lc);
    if (!lc) {
        close(fd);
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for the layer cache", path);
    }
    lc->n_groups = n_groups;
    lc->budget = p ? p->budget : 0;
    lc->prefetch = p ? p->prefetch : 0;
    lc->path = strdup(path);
    lc->g = calloc((size_t)n_groups, sizeof *lc->g);
    if (!lc->path || !lc->g) {
        close(fd);
        lc_close(lc);
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for the layer cache", path);
    }
    for (int g = 0; g < n_groups; g++) {
        lc->g[g].n = groups[g].n;
        if (groups[g].n > 0) {
            lc->g[g].ext = malloc((size_t)groups[g].n * sizeof(lc_extent));
            if (!lc->g[g].ext) {
                close(fd);
                lc_close(lc);
                return err_set(err, CHORD_E_NOMEM, "%s: out of memory for the layer cache", path);
            }
            memcpy(lc->g[g].ext, groups[g].extents, (size_t)groups[g].n * sizeof(lc_extent));
        }
        for (int k = 0; k < groups[g].n; k++)
            lc->g[g].bytes += groups[g].extents[k].size;
        lc->total_bytes += lc->g[g].bytes;
    }

    if (fsize > 0) {
        void *m = mmap(NULL, (size_t)fsize, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            lc_close(lc);
            return err_errno(err, CHORD_E_IO, e, "%s: mmap of %llu bytes", path,
                             (unsigned long long)fsize);
        }
        /* advisory only: a failure changes speed, not results */
        (void)madvise(m, (size_t)fsize, MADV_WILLNEED);
        lc->map = m;
        lc->map_size = (size_t)fsize;
    }
    close(fd);
    snprintf(lc->plan, sizeof lc->plan,
             "all %d layers resident (mapped): %.1f MiB of weights, no streaming",
             n_groups - 1, (double)lc->total_bytes / (1024.0 * 1024.0));
    *out = lc;
    return CHORD_OK;
}

void lc_close(lc_cache *lc)
{
    if (!lc)
        return;
    if (lc->map)
        munmap((void *)lc->map, lc->map_size);
    if (lc->g)
        for (int g = 0; g < lc->n_groups; g++)
            free(lc->g[g].ext);
    free(lc->g);
    free(lc->path);
    free(lc);
}

chord_status lc_acquire(lc_cache *lc, int g, chord_err *err)
{
    if (!lc || g < 0 || g >= lc->n_groups)
        return err_set(err, CHORD_E_INVALID, "lc_acquire: group %d out of range", g);
    lc->g[g].in_use++;
    return CHORD_OK;
}

const void *lc_tensor(const lc_cache *lc, int g, int k)
{
    if (!lc || g < 0 || g >= lc->n_groups || k < 0 || k >= lc->g[g].n || !lc->map)
        return NULL;
    return lc->map + lc->g[g].ext[k].offset;
}

void lc_release(lc_cache *lc, int g)
{
    if (lc && g >= 0 && g < lc->n_groups && lc->g[g].in_use > 0)
        lc->g[g].in_use--;
}

const char *lc_plan(const lc_cache *lc)
{
    return lc ? lc->plan : "no layer cache";
}

void lc_stats(const lc_cache *lc, chord_stats *out)
{
    if (!lc || !out)
        return;
    int nl = lc->n_groups - 1;
    out->n_layer = nl;
    for (int i = 0; i < nl; i++)
        out->layer_state[i] = CHORD_LAYER_RESIDENT;
    out->streaming = false;
    out->n_resident = nl;
    out->n_slots = 0;
    out->prefetch_distance = lc->prefetch;
    out->queue_depth = 0;
    out->in_flight = 0;
    out->hits = out->stalls = out->evictions = 0;
    out->stall_ms = 0;
    out->bytes_read = 0;
    out->read_mb_s = 0;
    out->budget_bytes = lc->budget;
    out->budget_used_bytes = (int64_t)lc->total_bytes;
}
