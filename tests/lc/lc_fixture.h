/*
 * lc_fixture.h - synthetic weight files for the layer cache tests: random
 * bytes and a group table (global + L layers) with odd sizes, gaps large
 * enough to split reads, empty tensors and extents far from their layer.
 */
#ifndef CHORD_TESTS_LC_FIXTURE_H
#define CHORD_TESTS_LC_FIXTURE_H

#include <stdint.h>

#include "lc/lc.h"

#define FX_MAX_EXT 8

typedef struct fx_model {
    char path[4200];
    uint8_t *data;          /* the file's bytes */
    size_t size;
    int n_groups;           /* 1 + layers */
    lc_group groups[1 + 64];
    lc_extent ext[1 + 64][FX_MAX_EXT];
    uint64_t layer_start[1 + 64];  /* first byte of each group's region */
} fx_model;

/* Writes a file of `layers` layers of about `layer_bytes` bytes each into
 * dir and fills m. Returns false on I/O failure. */
bool fx_make(fx_model *m, const char *dir, int layers, size_t layer_bytes, uint64_t seed);
void fx_free(fx_model *m);

/* True if every tensor pointer of group g holds exactly the file's bytes
 * (reports the first difference with t_fail_at). */
bool fx_check_group(const fx_model *m, const lc_cache *lc, int g);

/* Waits (up to 10 s) until no read is queued or in flight, so counters
 * read in several calls agree. Returns false on timeout. */
bool fx_quiesce(const lc_cache *lc);

/* A small deterministic generator for the tests. */
uint64_t fx_rand(uint64_t *s);

#endif
