/*
 * lc_fixture.c - synthetic weight files for the layer cache tests.
 */
#include "lc_fixture.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "t.h"

uint64_t fx_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

bool fx_make(fx_model *m, const char *dir, int layers, size_t layer_bytes, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    uint64_t s = seed | 1;
    snprintf(m->path, sizeof m->path, "%s/weights-%llu.bin", dir, (unsigned long long)seed);
    m->n_groups = 1 + layers;
    uint64_t off = 0;
    for (int g = 0; g < m->n_groups; g++) {
        /* start at an odd offset sometimes, as a hand-made file might */
        off += fx_rand(&s) % 3 ? 32 - off % 32 : 7;
        m->layer_start[g] = off;
        int n = 2 + (int)(fx_rand(&s) % (FX_MAX_EXT - 2));
        for (int k = 0; k < n; k++) {
            uint64_t sz = k == 1 ? 0 : 1 + fx_rand(&s) % (2 * layer_bytes / (uint64_t)n);
            uint64_t gap = fx_rand(&s) % 4 == 0 ? 4096 + fx_rand(&s) % 9000 : fx_rand(&s) % 64;
            m->ext[g][k] = (lc_extent){off, sz, 0};
            off += sz + gap;
        }
        m->groups[g] = (lc_group){n, m->ext[g]};
    }
    m->size = off + 100;
    /* one tensor of each layer lives far away, inside the global region
     * (the bytes may be shared: extents can overlap) */
    for (int g = 1; g < m->n_groups; g++) {
        lc_extent *e = &m->ext[g][m->groups[g].n - 1];
        e->offset = m->layer_start[0] + fx_rand(&s) % 100;
        e->size = 1 + fx_rand(&s) % 300;
    }
    m->data = malloc(m->size);
    if (!m->data)
        return false;
    for (size_t i = 0; i < m->size; i++)
        m->data[i] = (uint8_t)(fx_rand(&s) >> 24);
    return t_write_file(m->path, m->data, m->size);
}

void fx_free(fx_model *m)
{
    free(m->data);
    m->data = NULL;
}

bool fx_check_group(const fx_model *m, const lc_cache *lc, int g)
{
    for (int k = 0; k < m->groups[g].n; k++) {
        const lc_extent *e = &m->ext[g][k];
        const uint8_t *p = lc_tensor(lc, g, k);
        if (!p) {
            t_fail_at(__FILE__, __LINE__, "group %d tensor %d: NULL pointer", g, k);
            return false;
        }
        if (memcmp(p, m->data + e->offset, e->size) != 0) {
            size_t i = 0;
            while (p[i] == m->data[e->offset + i])
                i++;
            t_fail_at(__FILE__, __LINE__, "group %d tensor %d (offset %llu, %llu bytes): byte %zu is %u, want %u",
                      g, k, (unsigned long long)e->offset, (unsigned long long)e->size, i,
                      p[i], m->data[e->offset + i]);
            return false;
        }
        if (e->size > 0 && ((uintptr_t)p - e->offset) % 32 != 0) {
            t_fail_at(__FILE__, __LINE__, "group %d tensor %d: pointer %p does not keep the file offset's alignment",
                      g, k, (const void *)p);
            return false;
        }
    }
    return true;
}

bool fx_quiesce(const lc_cache *lc)
{
    for (int i = 0; i < 10000; i++) {
        chord_stats st;
        lc_stats(lc, &st);
        if (st.queue_depth == 0 && st.in_flight == 0)
            return true;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    t_fail_at(__FILE__, __LINE__, "prefetch reads still pending after 10 s");
    return false;
}
