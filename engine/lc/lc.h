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

/* The weights may lie in several files (the parts of a split model): an
 * extent names its file by index in the cache's list (0 for one file). */
typedef struct lc_extent {
    uint64_t offset;  /* absolute byte offset in its file */
    uint64_t size;    /* bytes */
    int file;         /* which of the cache's files */
} lc_extent;

typedef struct lc_group {
    int n;                     /* number of tensors */
    const lc_extent *extents;  /* n extents (copied by lc_open) */
} lc_group;

/* --- mixtures of experts ---
 *
 * A MoE layer's experts are slices of merged tensors: expert e's part p
 * is the bytes [offset[p] + e * stride[p], + stride[p]) of the file. Their
 * group (1 + layer) holds only the layer's dense part (attention, norms,
 * router, biases). The expert cache (lc_expert.c) keeps experts in slots
 * of the budget left after the global and dense groups; the compute asks
 * for a layer's chosen experts (lc_expert_get / lc_expert_put) and hints
 * the ones it predicts for the next layer (lc_expert_hint). */
#define LC_EXPERT_PARTS 3
typedef struct lc_expert_layer {
    int n_parts;                  /* 0: a dense layer */
    uint64_t offset[LC_EXPERT_PARTS];
    uint64_t stride[LC_EXPERT_PARTS];
    int file[LC_EXPERT_PARTS];    /* the file holding each part */
} lc_expert_layer;

typedef enum lc_expert_policy {
    LC_EXPERT_DECAYED = 0,        /* decayed use counts (see lc_expert.c) */
    LC_EXPERT_LRU,                /* least recently used, for comparison */
} lc_expert_policy;

typedef struct lc_experts {
    int n_expert, n_used;         /* per MoE layer; experts a token runs */
    const lc_expert_layer *layer; /* one per layer (n_groups - 1) */
    lc_expert_policy policy;
} lc_experts;

typedef struct lc_params {
    int64_t budget;      /* bytes of weights to hold; 0 = auto, -1 = all */
    int prefetch;        /* prefetch distance in layers (>= 0) */
    bool direct_io;      /* O_DIRECT reads instead of buffered ones */
    const lc_experts *experts; /* NULL: no MoE layers */
} lc_params;

typedef struct lc_cache lc_cache;

/* Opens the cache over files paths[0..n_files-1] (paths[0] names the
 * model in messages): groups[0] is global, groups[1..n_groups-1] are
 * layers 0..n_groups-2. Decides the plan (all resident, or R resident
 * layers plus S streaming slots) and loads what is resident. */
chord_status lc_open_files(int n_files, const char *const *paths, int n_groups,
                           const lc_group *groups, const lc_params *p, lc_cache **out,
                           chord_err *err);
/* The same over one file. */
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

/* A pass of layer il begins: ids[0..n-1] are every expert its batch chose,
 * tokens[i] how many tokens chose ids[i] (the cache's use counts; NULL =
 * 1 each); the predictions for the layer are scored and settled. */
void lc_expert_pass(lc_cache *lc, int il, int n, const int *ids, const int *tokens);
/* Makes experts ids[0..n-1] of layer il resident (reading the missing
 * ones at once, all reader threads together: a stall), marks them in use
 * and stores in parts[i][p] the address of expert ids[i]'s part p. n is at
 * most lc_expert_batch(). Returns CHORD_E_IO with err filled if a read
 * failed. */
chord_status lc_expert_get(lc_cache *lc, int il, int n, const int *ids,
                           const void *(*parts)[LC_EXPERT_PARTS], chord_err *err);
/* Done with them for this pass. */
void lc_expert_put(lc_cache *lc, int il, int n, const int *ids);
/* The experts of layer il the next pass is expected to choose: read the
 * missing ones in the background (never evicting one in use). */
void lc_expert_hint(lc_cache *lc, int il, int n, const int *ids);
/* Whether the experts live in slots (not all resident), and whether group
 * g is held in memory for the whole run (readable without lc_acquire). */
bool lc_expert_caching(const lc_cache *lc);
bool lc_is_held(const lc_cache *lc, int g);
/* The most experts one lc_expert_get may ask for (all of them when the
 * model is resident). */
int lc_expert_batch(const lc_cache *lc);
/* Counts n more tokens (the decay clock); records the last token's
 * choices of layer il for the stats (best first). */
void lc_expert_tokens(lc_cache *lc, int n);
void lc_expert_last(lc_cache *lc, int il, const int *ids, int n);

/* Bytes the cache may still take beyond those it holds now (its budget
 * less its use): what memory sized now must leave to the weights. */
int64_t lc_budget_left(lc_cache *lc);

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
