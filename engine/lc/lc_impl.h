/*
 * lc_impl.h - the layer cache's internals, shared by lc.c (open, plan,
 * stats), lc_io.c (layouts, reads, checksums) and lc_stream.c (slots,
 * prefetch workers, acquire/release). Not a contract for other modules.
 *
 * Locking: one mutex, lc_cache.mu, guards every field marked [mu]. It is
 * taken by lc_acquire/lc_release/lc_stats/lc_test_* (caller threads) and by
 * the prefetch workers, always briefly: nobody holds it across a read, a
 * checksum or the caller's compute. Fields without a mark are written only
 * in lc_open (before any worker starts) and read-only afterwards.
 * Two condition variables go with it: work_cv wakes workers when a slot is
 * queued (or at close), done_cv wakes lc_acquire callers when a load ends.
 */
#ifndef CHORD_LC_IMPL_H
#define CHORD_LC_IMPL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "lc/lc.h"

/* One contiguous read: bytes [file_lo, file_lo + len) of file `file` land
 * at buf_pos in the group buffer. Only the first `need` bytes must arrive
 * (the tail is alignment padding that may lie past the end of the file). */
typedef struct lc_run {
    uint64_t file_lo, len, need;
    size_t buf_pos;
    int file;
} lc_run;

typedef struct lc_grp {
    int n;
    lc_extent *ext;       /* copies of the caller's extents */
    size_t *pos;          /* where extent k sits in the group buffer */
    int n_runs;
    lc_run *runs;
    size_t cost;          /* buffer bytes the layout needs */
    uint64_t bytes;       /* payload bytes (sum of extents) */
    uint8_t *buf;         /* own buffer: held groups while streaming */
    bool held;            /* global or pinned (own buffer), else streamed */
    int sidx;             /* streamed: position in the streaming cycle */
    int slot;             /* [mu] streamed: the slot holding it, or -1 */
    int refs;             /* [mu] lc_acquire count not yet released */
    bool csum_set;        /* [mu] checksum of the first good read known */
    uint64_t csum;        /* [mu] */
    int fault_kind;       /* [mu] test hook: injected fault... */
    int fault_count;      /* [mu] ...and how many reads it still hits */
    uint64_t loads;       /* [mu] successful streamed loads */
} lc_grp;

typedef enum lc_slot_state {
    LC_SLOT_EMPTY,
    LC_SLOT_QUEUED,       /* assigned, waiting for a worker */
    LC_SLOT_LOADING,      /* a worker or an lc_acquire caller is reading */
    LC_SLOT_READY,        /* holds a good copy, not in use */
    LC_SLOT_IN_USE,       /* acquired (refs > 0) */
    LC_SLOT_FAILED,       /* a worker's read failed; the acquirer retries */
} lc_slot_state;

typedef struct lc_slot {
    uint8_t *buf;         /* slot_cost bytes, aligned */
    int g;                /* [mu] group held, or -1 */
    lc_slot_state st;     /* [mu] */
} lc_slot;

/* Why a read failed, for the one-line message. */
typedef struct lc_fail {
    int err;              /* errno, or 0 for short read / checksum */
    uint64_t offset;      /* file offset of the failing read */
    const char *what;     /* "read", "short read", "checksum mismatch" */
    int file;             /* the file it was reading */
} lc_fail;

#define LC_RATE_N 16

struct lc_cache {
    char *path;           /* paths[0]: the model, in messages */
    int n_files;          /* the files the extents index (parts of a split model) */
    char **paths;
    uint64_t *file_size;
    int n_groups;         /* 1 + layers */
    lc_grp *g;
    bool streaming;
    bool direct;          /* O_DIRECT reads (else buffered) */
    bool release;         /* buffered: fadvise(DONTNEED) each run after
                             its read (else the page cache keeps it) */
    size_t align;         /* run alignment: 4096 direct, 64 otherwise */

    /* all-resident mode: each file mapped read-only (map[f], NULL for an
     * empty file); map itself is NULL when streaming */
    const uint8_t **map;
    size_t *map_size;

    /* streaming plan: held groups (global + pinned layers, spread evenly
     * among the layers) have own buffers; the others rotate through the
     * slots in layer order, stream_g[i] being the i-th of them. */
    int n_held;           /* held groups, the global one included */
    int n_stream;         /* M = n_groups - n_held */
    int *stream_g;
    int n_slots;          /* S */
    int prefetch;         /* distance used (<= M - 1) */
    int prefetch_asked;
    size_t slot_cost;
    int64_t budget;       /* effective budget (bytes) */
    int64_t used;         /* bytes of weight buffers held */
    uint64_t total_bytes; /* payload bytes of every group */
    uint64_t ex_bytes;    /* payload bytes of every expert (not in a group) */
    lc_slot *slots;

    int *fd;              /* the callers' fds (one per file), for synchronous reads */
    int n_workers;
    pthread_t *workers;
    int *worker_fd;       /* n_workers x n_files: each worker's own fds */
    int n_started;        /* workers running (joined at close) */

    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    bool stop;            /* [mu] workers exit */
    int cursor;           /* [mu] stream index of the last acquired layer */

    /* [mu] statistics */
    uint64_t hits, stalls, evictions, bytes_read;
    double stall_ms;
    double rate_sec[LC_RATE_N];
    uint64_t rate_bytes[LC_RATE_N];
    int rate_n, rate_i;
    int delay_us;         /* [mu] test hook: random delay before worker reads */
    unsigned delay_seed;  /* [mu] */

    char plan[768];

    struct lc_excache *ex; /* the expert cache (lc_expert.c; own lock), or NULL */
};

/* lc_io.c */
/* Builds group gr's read layout (runs, extent positions, cost) for the
 * given alignment. Returns false on allocation failure. */
bool lc_layout(lc_grp *gr, size_t align);
/* Opens every file of the cache with flags into fds[0..n_files-1] (all -1
 * on failure, with err naming the file and `what` the reader). */
chord_status lc_fds_open(const lc_cache *lc, int flags, int *fds, const char *what,
                         chord_err *err);
/* Closes fds[0..n-1] that are open. */
void lc_fds_close(int n, int *fds);
/* Reads every run of gr into buf through fds (one per file) and stores in *sum a cheap
 * 64-bit checksum of the file bytes read (each run's payload span),
 * computed piece by piece as they arrive. fault is an injected lc_fault
 * (LC_FAULT_NONE normally). Releases the page cache of the runs if
 * release. Returns true on success, else fills *why. */
bool lc_read_group(const lc_grp *gr, const int *fds, bool release, uint8_t *buf,
                   int fault, uint64_t *sum, lc_fail *why);
/* The read checksum's state (words) and its inner loop with AVX2
 * (lc_csum_avx2.c; the portable loop in lc_io.c gives the same result). */
#define LC_CSUM_WORDS 16
void lc_csum_portable(uint64_t h[LC_CSUM_WORDS], const uint8_t *p, uint64_t n);
void lc_csum_avx2(uint64_t h[LC_CSUM_WORDS], const uint8_t *p, uint64_t n);
/* MemAvailable from /proc/meminfo in bytes, or -1. */
int64_t lc_mem_available(void);
/* Monotonic clock in seconds. */
double lc_now(void);

/* lc_expert.c */
/* Payload bytes of every expert, and the slot size one expert needs. */
uint64_t lc_expert_bytes(const lc_experts *cfg, int n_layer);
size_t lc_expert_slot_cost(const lc_experts *cfg, int n_layer);
/* Slots below which the expert cache refuses to run. */
int lc_expert_min_slots(const lc_experts *cfg);
/* Sets up the expert cache: over the mappings (map != NULL, one per file:
 * everything resident), else n_slots slots and its readers. */
chord_status lc_expert_open(lc_cache *lc, const lc_experts *cfg, const uint8_t *const *map,
                            int n_slots, bool release, chord_err *err);
void lc_expert_close(lc_cache *lc);
/* The pool (0 slots when resident) and one slot's bytes. */
void lc_expert_plan(const lc_cache *lc, int *n_slots, size_t *slot_cost);
void lc_expert_stats(const lc_cache *lc, chord_stats *out);

/* lc_stream.c */
/* Starts the prefetch workers and queues the first layers. */
chord_status lc_stream_start(lc_cache *lc, chord_err *err);
/* Stops and joins the workers (lc_close). */
void lc_stream_stop(lc_cache *lc);

#endif
