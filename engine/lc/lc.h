/*
 * lc.h - the layer cache: hands the compute a layer's weights, resident or
 * streamed from disk within a memory budget, prefetched by worker threads.
 *
 * The model describes its weights as groups of tensor extents in the file:
 * group 0 is "global" (token embedding, output norm, output; always
 * resident), group 1 + i is transformer layer i (every blk.i.* tensor).
 * The compute brackets each layer with lc_acquire()/lc_release() and reads
 * tensor k of the group through lc_tensor(); the pointer is valid until
 * lc_release() of that group (forever for resident groups).
 *
 * Access is cyclic (layers 0..L-1 every token). See lc.c for the policy.
 */
#ifndef CHORD_LC_H
#define CHORD_LC_H

#include <stdint.h>

#include "chord.h"

typedef struct lc_extent {
    uint64_t offset;  /* absolute byte offset in the file */
    uint64_t size;    /* bytes */
} lc_extent;

typedef struct lc_group {
    int n;                     /* number of tensors */
    const lc_extent *extents;  /* n extents (copied by lc_open) */
} lc_group;

typedef struct lc_params {
    int64_t budget;      /* bytes of weights to hold; 0 = auto, -1 = all */
    int prefetch;        /* prefetch distance in layers (>= 0) */
    bool direct_io;      /* O_DIRECT reads instead of buffered ones */
} lc_params;

typedef struct lc_cache lc_cache;

/* Opens the cache over a file: groups[0] is global, groups[1..n_groups-1]
 * are layers 0..n_groups-2. Decides the plan (all resident, or R resident
 * layers plus S streaming slots) and loads what is resident. */
chord_status lc_open(const char *path, int n_groups, const lc_group *groups,
                     const lc_params *p, lc_cache **out, chord_err *err);
void lc_close(lc_cache *lc);

/* Makes group g available (waiting for its read if needed: a stall) and
 * marks it in use. Returns CHORD_E_IO with err filled if the layer could
 * not be read (after one synchronous retry). */
chord_status lc_acquire(lc_cache *lc, int g, chord_err *err);

/* Pointer to tensor k of group g; g must be acquired (or resident). */
const void *lc_tensor(const lc_cache *lc, int g, int k);

/* Done with group g for this pass: its slot may be reused. */
void lc_release(lc_cache *lc, int g);

/* A one-paragraph description of the plan (for -v). */
const char *lc_plan(const lc_cache *lc);

/* Fills the cache fields of a stats snapshot (layer states, hits, stalls,
 * bytes read, budget). Takes the cache's lock briefly; never blocks on I/O. */
void lc_stats(const lc_cache *lc, chord_stats *out);

/* --- test hooks (always compiled; a lock-protected check per read) --- */

typedef enum lc_fault {
    LC_FAULT_NONE = 0,
    LC_FAULT_EIO,        /* the read fails with EIO */
    LC_FAULT_SHORT,      /* the read comes back short */
    LC_FAULT_CHECKSUM,   /* a byte flips after the read (only once the
                            group's checksum is known) */
} lc_fault;

/* Makes the next `count` reads of group g fail with `kind`. */
void lc_test_inject(lc_cache *lc, int g, lc_fault kind, int count);
/* Prefetch workers sleep a random 0..max_us microseconds before each read. */
void lc_test_delay(lc_cache *lc, int max_us, unsigned seed);
/* Successful streamed loads of group g so far (0 for held groups). */
uint64_t lc_test_loads(const lc_cache *lc, int g);
/* Buffer bytes group g needs (its layout: payload plus alignment). */
uint64_t lc_group_cost(const lc_cache *lc, int g);

#endif
