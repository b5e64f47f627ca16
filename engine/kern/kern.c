/*
 * kern.c - matmul dispatch and the small vector kernels (see kern.h).
 */
#include "kern/kern.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "quant/quant.h"
#include "quant/quant_impl.h"

/* Rows of weights dequantized per sgemm call. Fixed (not derived from the
 * thread count) so that each output element comes from the same sgemm shape
 * whatever the number of threads. */
#define KERN_TILE_ROWS 64

/* Below this many multiply-adds a matmul runs on the calling thread alone:
 * waking the pool costs more than it saves (measured on the 128-wide
 * fixture models, where two threads decoded at half the speed of one).
 * Which thread computes an element never changes its value, so this does
 * not affect results. */
#define KERN_PARALLEL_MIN_MACS (1 << 18)

struct kern_ws {
    int n_threads, max_tok, max_in;
    uint8_t *act;     /* max_tok quantized activation rows (F32 is widest) */
    uint8_t *act1;    /* one token's activations: up to KERN_MANY_MAX inputs */
    float *xr;        /* max_tok activation rows after the round trip */
    float **tile;     /* per thread: KERN_TILE_ROWS x max_in floats, at least
                       * KERN_GEMM_PACK_FLOATS, 64-byte aligned */
    bool decode_bits; /* batches through the one-token dots (kern_ws_set_decode_bits) */
};

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

/* Our pool already splits the work; OpenBLAS threads on top would only
 * compete for the same cores. */
static void blas_single_thread(void)
{
    openblas_set_num_threads(1);
}

chord_status kern_ws_new(int n_threads, int max_tok, int max_in, kern_ws **out,
                         chord_err *err)
{
    pthread_once(&blas_once, blas_single_thread);
    *out = NULL;
    kern_ws *ws = calloc(1, sizeof *ws);
    if (!ws)
        return err_set(err, CHORD_E_NOMEM, "matmul workspace: out of memory");
    ws->n_threads = n_threads;
    ws->max_tok = max_tok;
    ws->max_in = max_in;
    ws->act = malloc((size_t)max_tok * (size_t)max_in * sizeof(float));
    ws->xr = malloc((size_t)max_tok * (size_t)max_in * sizeof(float));
    ws->act1 = malloc((size_t)KERN_MANY_MAX * (size_t)max_in * sizeof(float));
    ws->tile = calloc((size_t)n_threads, sizeof *ws->tile);
    if (!ws->act || !ws->xr || !ws->act1 || !ws->tile)
        goto nomem;
    size_t tile = (size_t)KERN_TILE_ROWS * (size_t)max_in;
    if (tile < KERN_GEMM_PACK_FLOATS)
        tile = KERN_GEMM_PACK_FLOATS;
    for (int i = 0; i < n_threads; i++)
        if (!(ws->tile[i] = aligned_alloc(64, tile * sizeof(float))))
            goto nomem;
    *out = ws;
    return CHORD_OK;
nomem:
    kern_ws_free(ws);
    return err_set(err, CHORD_E_NOMEM, "matmul workspace (%d threads, %d x %d): out of memory",
                   n_threads, max_tok, max_in);
}

/* Whether type's blocked GEMM gives quant_vec_dot's bits at the level in
 * use: everywhere but the AVX-512 kernels that repeat the scalar dot's
 * float order (Q8_0 and the types run through it or like it; quant.h). */
static bool qgemm_decode_bits(int type)
{
    if (strcmp(quant_simd_name(), "avx512") != 0)
        return true;
    return type != QT_Q8_0 && type != QT_IQ4_NL && type != QT_MXFP4 && type != QT_Q5_0 &&
           type != QT_Q4_1 && type != QT_Q5_1;
}

void kern_ws_set_decode_bits(kern_ws *ws, bool on)
{
    if (ws)
        ws->decode_bits = on;
}

void kern_ws_free(kern_ws *ws)
{
    if (!ws)
        return;
    for (int i = 0; i < ws->n_threads && ws->tile; i++)
        free(ws->tile[i]);
    free(ws->tile);
    free(ws->act);
    free(ws->act1);
    free(ws->xr);
    free(ws);
}

/* ------------------------------------------------------------------------
 * Matmul
 * ---------------------------------------------------------------------- */

typedef struct mm_job {
    kern_ws *ws;
    const kern_mat *w;
    const float *x;
    int n_tok;
    float *y;
    int ldy;
    size_t act_bytes; /* bytes of one quantized activation row */
    bool qgemm;       /* quantized weights through quant_gemm */
    atomic_int next;  /* F16 GEMM, dots: the next strip nobody has taken */
} mm_job;

/* From how many tokens quantized weights go through the blocked int8
 * GEMM (quant_gemm) instead of one vec_dot per (row, token). Both give
 * the same bits (quant.h), except Q8_0 on AVX-512, whose GEMM gives the
 * scalar dot's bits and differs from the AVX-512 dot in float summation
 * order only; so this is speed only. The table below predates the
 * current GEMM tiles (they are faster; the switch points still hold: Q8_0's
 * GEMM beats its dots from 4 tokens, 58.6 against 100 us/token at
 * 2048x2048). Dequant + sgemm is not
 * a candidate for quantized weights: it is faster from 64 tokens (about
 * 110 us/token on 2048x2048 against 130-250) but changes the last bits
 * (kern_gemm_type). Measured with tests/quant/bench_gemm.c, CPU time of
 * one thread, us per token, GEMM / dots, busy machine (load 17 on 2
 * cores: +-20%):
 *             2048x2048                      5632x2048
 *   T     2    4    8   16   64  512      2    4    8   16   64  512
 * Q4_K  319  165  117  118  122  143   1110  435  338  334  367  408
 *       123  119  133  139  128  140    456  365  372  433  394  385
 * Q6_K  191  167   88   82   81  107    524  411  227  248  306  315
 *       176  199  178  181  180  164    445  506  470  794  568  458
 * Q8_0  483  203  190  151  191  177    981  454  444  390  447  526
 *       243  250  277  252  225  257    722  790  750  818  747  809
 * Q4_0  299  220  157  187  167  175    858  438  519  362  404  478
 *       242  253  218  233  239  234    861  701  695  725  680  689
 * (k-quant GEMM with 8-token tiles, Q8_0/Q4_0 with 4-token tiles.) A
 * partial tile loses to the dots, so each type switches at its tile
 * width. Q4_K's GEMM only matches its dots (both bound by the same
 * maddubs + vpdpwssd work); Q6_K's is twice as fast. */
static int kern_qgemm_min_tok(int type)
{
    return type == QT_Q4_K || type == QT_Q5_K || type == QT_Q6_K ? 8 : 4;
}

/* Rows of a strip in mm_dot_job (64 rows of 4096 Q8_0 values: 272 KiB). */
#define KERN_DOT_STRIP 64

/* Small batches: each (pre-quantized) activation row dotted with every
 * output row. Through quant_gemm each thread takes a contiguous range of
 * output rows (pool_run); through the dots the threads take strips of
 * KERN_DOT_STRIP rows from a shared counter (pool_run_dyn: a thread off
 * its CPU leaves its strips to the others, as in decode's matvec). Each
 * (row, token) is one dot computed whole by one thread either way, so the
 * split changes no bits. */
static void mm_dot_job(void *arg, int ith, int nth)
{
    mm_job *j = arg;
    const kern_mat *w = j->w;
    if (j->qgemm) {
        int lo, hi;
        pool_split(w->n_out, ith, nth, &lo, &hi);
        quant_gemm(w->type, w->n_in, w->data, w->row_bytes, lo, hi, j->ws->act, j->act_bytes,
                   j->n_tok, j->y, (size_t)j->ldy);
        return;
    }
    const quant_kernels *qk = quant_kernels_for(w->type, NULL);
    int n_strips = (w->n_out + KERN_DOT_STRIP - 1) / KERN_DOT_STRIP;
    for (;;) {
        int s = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (s >= n_strips)
            return;
        int o = s * KERN_DOT_STRIP;
        int nr = w->n_out - o < KERN_DOT_STRIP ? w->n_out - o : KERN_DOT_STRIP;
        const uint8_t *ws = (const uint8_t *)w->data + (size_t)o * w->row_bytes;
        if (qk->vec_dot_rows) {
            /* a short batch (a mixture's expert chosen by a few tokens of
             * a prompt, a speculative check): each token through the rows
             * kernel over the strip, small enough to stay in L2 while the
             * batch goes by, so the weights come from memory once. The
             * rows kernel gives vec_dot's bits (quant.h). */
            for (int t = 0; t < j->n_tok; t++)
                qk->vec_dot_rows(w->n_in, &j->y[(size_t)t * j->ldy + o], ws, w->row_bytes, nr,
                                 j->ws->act + (size_t)t * j->act_bytes);
            continue;
        }
        for (int r = 0; r < nr; r++, ws += w->row_bytes)
            for (int t = 0; t < j->n_tok; t++)
                quant_vec_dot(w->type, w->n_in, &j->y[(size_t)t * j->ldy + o + r], ws,
                              j->ws->act + (size_t)t * j->act_bytes);
    }
}

/* Large batches through sgemm (F32, BF16, and F16 without AVX-512): each
 * thread takes whole tiles of KERN_TILE_ROWS weight rows, dequantizes them
 * and multiplies the batch by the tile. */
static void mm_gemm_job(void *arg, int ith, int nth)
{
    const mm_job *j = arg;
    const kern_mat *w = j->w;
    int n_tiles = (w->n_out + KERN_TILE_ROWS - 1) / KERN_TILE_ROWS;
    int lo, hi;
    pool_split(n_tiles, ith, nth, &lo, &hi);
    float *tile = j->ws->tile[ith];
    for (int ti = lo; ti < hi; ti++) {
        int r0 = ti * KERN_TILE_ROWS;
        int nr = w->n_out - r0 < KERN_TILE_ROWS ? w->n_out - r0 : KERN_TILE_ROWS;
        const uint8_t *src = (const uint8_t *)w->data + (size_t)r0 * w->row_bytes;
        for (int r = 0; r < nr; r++)
            quant_dequant_row(w->type, src + (size_t)r * w->row_bytes,
                              tile + (size_t)r * w->n_in, w->n_in);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->n_tok, nr, w->n_in,
                    1.0f, j->x, w->n_in, tile, w->n_in, 0.0f, j->y + r0, j->ldy);
    }
}

/* The bits kern_gemm_f16_avx512 must give (kern.h): one fmaf chain per
 * element in k order. */
void kern_gemm_f16_scalar(const uint16_t *w, size_t ldw, int n_rows, int n_in, const float *x,
                          size_t ldx, int n_tok, float *y, size_t ldy, float *pack)
{
    (void)pack;
    for (int t = 0; t < n_tok; t++)
        for (int o = 0; o < n_rows; o++) {
            const uint16_t *wr = w + (size_t)o * ldw;
            const float *xt = x + (size_t)t * ldx;
            float acc = 0.0f;
            for (int k = 0; k < n_in; k++)
                acc = fmaf(xt[k], quant_f16_to_f32(wr[k]), acc);
            y[(size_t)t * ldy + o] = acc;
        }
}

/* F16 batches on AVX-512, at about 1.7 times the single-threaded sgemm's
 * GFLOP/s at the model's shapes (OpenBLAS runs its AVX2 kernel on this
 * class of CPU and repacks the batch for every tile; see
 * kern_gemm_avx512.c). The threads take strips of KERN_GEMM_NR rows
 * from a shared counter (a thread that loses its CPU for a while no
 * longer holds the other up at the end of each matmul); an element's bits
 * depend only on its row and token (kern.h), so not on who takes what. */
static void mm_f16_job(void *arg, int ith, int nth)
{
    (void)nth;
    mm_job *j = arg;
    const kern_mat *w = j->w;
    int n_strips = (w->n_out + KERN_GEMM_NR - 1) / KERN_GEMM_NR;
    for (;;) {
        int s = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (s >= n_strips)
            return;
        int r0 = s * KERN_GEMM_NR;
        int nr = w->n_out - r0 < KERN_GEMM_NR ? w->n_out - r0 : KERN_GEMM_NR;
        kern_gemm_f16_avx512((const uint16_t *)((const uint8_t *)w->data + (size_t)r0 * w->row_bytes),
                             w->row_bytes / sizeof(uint16_t), nr, w->n_in, j->x, (size_t)w->n_in,
                             j->n_tok, j->y + r0, (size_t)j->ldy, j->ws->tile[ith]);
    }
}

static bool gemm_avx512;
static pthread_once_t gemm_once = PTHREAD_ONCE_INIT;

static void gemm_init(void)
{
    gemm_avx512 = !strcmp(chord_simd_level(), "avx512");
}

static bool kern_gemm_type(int type);

/* The one place that decides which kernels a large batch of this weight
 * type runs through (kern_matmul, and `chord bench` for its bound). */
static bool gemm_f16_own(int type)
{
    pthread_once(&gemm_once, gemm_init);
    return type == QT_F16 && gemm_avx512;
}

const char *chord_prefill_kernel(const char *type_name)
{
    int type = quant_type_by_name(type_name ? type_name : "");
    if (type < 0)
        return "unknown";
    if (!kern_gemm_type(type))
        return "int8";
    return gemm_f16_own(type) ? "fma" : "sgemm";
}

/* Whether sgemm may stand in for the dot products of this weight type.
 * Only for float weights: quantized dot products sum integers exactly
 * within each block, and the reference's logits come from those exact
 * sums; sgemm's float sums differ in the last bits, which is enough to
 * flip the rounding of a later activation quantization now and then and
 * lose the reference's greedy tokens where two candidates are nearly tied
 * (measured: b-spm-q6_k.p1 diverged at position 1 through sgemm, at 15
 * through the dot products). */
static bool kern_gemm_type(int type)
{
    return type == QT_F32 || type == QT_F16 || type == QT_BF16;
}

/* Weight bytes per piece of a one-token matmul (at least one row). Each
 * piece is a new stream for the hardware prefetcher: measured on the
 * TinyLlama-shaped Q8_0 decode (2 threads, the same tokens alternating
 * between splits), 32 KiB pieces ran at half the speed of a fixed half
 * per thread, 128 KiB at 80%, 512 KiB-2 MiB on par with it. But a matmul
 * ends when its last piece does: with 1 MiB pieces one thread could be
 * left alone for up to a piece's time (~70 us) at the end of each of a
 * layer's four matmuls. So the pieces shrink towards the end (guided
 * scheduling): once what is left would give each thread fewer than two
 * full pieces, a piece is a quarter of what is left per thread, down to
 * KERN_PIECE_MIN_BYTES, so that the threads finish together and only
 * the last few streams are short. */
#define KERN_PIECE_BYTES (1024 * 1024)
#define KERN_PIECE_MIN_BYTES (128 * 1024)
/* Pieces one job lists; a job whose weights would make more takes bigger
 * pieces (a 70B-shaped model's output matrix: 860 MiB). */
#define KERN_MAX_PIECES 1024

/* One piece: rows [lo, hi) of matrix m. */
typedef struct mv_piece {
    int m, lo, hi;
} mv_piece;

/* One token through up to KERN_MANY_MAX matrices (kern_matvec_many). */
typedef struct mv_job {
    int n_mat;
    const kern_mat *w;
    const uint8_t *act[KERN_MANY_MAX];    /* the input in w[m]'s activation type */
    float *y[KERN_MANY_MAX];
    void (*dot[KERN_MANY_MAX])(int64_t, float *, const void *, const void *);
    /* the same dots a range of rows at a time, where the level has it */
    void (*dot_rows[KERN_MANY_MAX])(int64_t, float *, const void *, size_t, int, const void *);
    int n_pieces;
    mv_piece piece[KERN_MAX_PIECES];      /* in the order they are taken */
    atomic_int next;                       /* the next piece nobody has taken */
} mv_job;

/* Lists the job's pieces, matrix after matrix (see KERN_PIECE_BYTES):
 * whole multiples of four rows (the rows kernels' group) but the last. */
static void mv_plan(mv_job *j, int nth)
{
    size_t total = 0;
    for (int m = 0; m < j->n_mat; m++)
        total += (size_t)j->w[m].n_out * j->w[m].row_bytes;
    size_t big = KERN_PIECE_BYTES;
    if (total / big > KERN_MAX_PIECES / 2)
        big = total / (KERN_MAX_PIECES / 2) + 1;
    size_t left = total;
    j->n_pieces = 0;
    for (int m = 0; m < j->n_mat; m++) {
        const kern_mat *w = &j->w[m];
        for (int lo = 0; lo < w->n_out;) {
            size_t want = big;
            if (left < 2 * big * (size_t)nth) {
                want = left / (4 * (size_t)nth);
                if (want < KERN_PIECE_MIN_BYTES)
                    want = KERN_PIECE_MIN_BYTES;
            }
            size_t rows = want / w->row_bytes;
            rows = rows < 4 ? 4 : rows & ~(size_t)3;
            /* room kept for one piece of each matrix still to come */
            bool last = (size_t)(w->n_out - lo) <= rows || j->n_pieces >= KERN_MAX_PIECES - (j->n_mat - m);
            int hi = last ? w->n_out : lo + (int)rows;
            j->piece[j->n_pieces++] = (mv_piece){m, lo, hi};
            left -= (size_t)(hi - lo) * w->row_bytes;
            lo = hi;
        }
    }
}

/* The threads take pieces of rows from a shared counter until none are
 * left, instead of a fixed share each: a thread that wakes late or loses
 * its CPU to another process for a while (a shared 2-core machine) no
 * longer holds the others up at the end of every matmul; whoever is
 * running takes its pieces, and a worker that has not started when the
 * caller runs out of pieces is not waited for (pool_run_dyn). Each row is
 * still one dot product computed whole by one thread, so which thread
 * takes a piece changes no bits. */
static void mv_job_run(void *arg, int ith, int nth)
{
    (void)ith;
    (void)nth;
    mv_job *j = arg;
    for (;;) {
        int c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (c >= j->n_pieces)
            return;
        const mv_piece *pc = &j->piece[c];
        const int m = pc->m, lo = pc->lo, hi = pc->hi;
        const kern_mat *w = &j->w[m];
        const uint8_t *wrow = (const uint8_t *)w->data + (size_t)lo * w->row_bytes;
        if (j->dot_rows[m]) {
            j->dot_rows[m](w->n_in, &j->y[m][lo], wrow, w->row_bytes, hi - lo, j->act[m]);
            continue;
        }
        for (int o = lo; o < hi; o++, wrow += w->row_bytes)
            j->dot[m](w->n_in, &j->y[m][o], wrow, j->act[m]);
    }
}

void kern_matvec_many(pool *p, kern_ws *ws, const kern_mat *w, int n_mat, const float *const *x,
                      float *const *y)
{
    mv_job j = {.n_mat = n_mat, .w = w};
    atomic_init(&j.next, 0);
    int types[KERN_MANY_MAX];
    size_t macs = 0;
    uint8_t *next = ws->act1;
    for (int m = 0; m < n_mat; m++) {
        types[m] = quant_act_type(w[m].type);
        j.act[m] = NULL;
        /* an input shared by several matrices of one activation type is
         * quantized once */
        for (int k = 0; k < m; k++)
            if (types[k] == types[m] && x[k] == x[m] && w[k].n_in == w[m].n_in)
                j.act[m] = j.act[k];
        if (!j.act[m]) {
            /* the reference's rounding, as in kern_matmul */
            quant_quantize_row(types[m], x[m], next, w[m].n_in);
            j.act[m] = next;
            next += quant_row_bytes(types[m], w[m].n_in);
        }
        j.y[m] = y[m];
        const quant_kernels *qk = quant_kernels_for(w[m].type, NULL);
        j.dot[m] = qk->vec_dot;
        j.dot_rows[m] = qk->vec_dot_rows;
        macs += (size_t)w[m].n_out * (size_t)w[m].n_in;
    }
    const bool inline_job = macs < KERN_PARALLEL_MIN_MACS;
    mv_plan(&j, inline_job ? 1 : pool_size(p));
    if (inline_job)
        mv_job_run(&j, 0, 1);
    else
        pool_run_dyn(p, mv_job_run, &j);
}

void kern_matmul_multi(pool *p, kern_ws *ws, const kern_mat *w, int n_mat, const float *x,
                       int n_tok, float *const *y)
{
    if (n_tok != 1 || n_mat > KERN_MULTI_MAX) {
        for (int m = 0; m < n_mat; m++)
            kern_matmul(p, ws, &w[m], x, n_tok, y[m], w[m].n_out);
        return;
    }
    const float *xs[KERN_MULTI_MAX];
    for (int m = 0; m < n_mat; m++)
        xs[m] = x;
    kern_matvec_many(p, ws, w, n_mat, xs, y);
}

void kern_matmul(pool *p, kern_ws *ws, const kern_mat *w, const float *x,
                 int n_tok, float *y, int ldy)
{
    if (n_tok == 1) {
        kern_matmul_multi(p, ws, w, 1, x, 1, &y);
        return;
    }
    mm_job j = {.ws = ws, .w = w, .x = x, .n_tok = n_tok, .y = y, .ldy = ldy};
    int at = quant_act_type(w->type);
    j.act_bytes = quant_row_bytes(at, w->n_in);
    /* quant_quantize_row makes Q8_0/Q8_K activations the reference's way
     * (see quant_legacy.c, quant_kquants.c): its rounding decides whether
     * near-tied logits agree with the reference. */
    for (int t = 0; t < n_tok; t++)
        quant_quantize_row(at, x + (size_t)t * w->n_in, ws->act + (size_t)t * j.act_bytes, w->n_in);
    bool small = (size_t)w->n_out * (size_t)w->n_in * (size_t)n_tok < KERN_PARALLEL_MIN_MACS;
    if (n_tok < KERN_GEMM_MIN_TOK || !kern_gemm_type(w->type) || ws->decode_bits) {
        j.qgemm = !kern_gemm_type(w->type) && n_tok >= kern_qgemm_min_tok(w->type) &&
                  quant_gemm_has(w->type) && (!ws->decode_bits || qgemm_decode_bits(w->type));
        atomic_init(&j.next, 0);
        if (small)
            mm_dot_job(&j, 0, 1);
        else if (j.qgemm)
            pool_run(p, mm_dot_job, &j);
        else
            pool_run_dyn(p, mm_dot_job, &j);
        return;
    }
    /* sgemm sees the activations exactly as the dot products would (each
     * row quantized to the activation type and back), so both paths agree
     * with each other up to float summation order. */
    for (int t = 0; t < n_tok; t++)
        quant_dequant_row(at, ws->act + (size_t)t * j.act_bytes, ws->xr + (size_t)t * w->n_in, w->n_in);
    j.x = ws->xr;
    void (*job)(void *, int, int) = mm_gemm_job;
    if (gemm_f16_own(w->type)) {
        atomic_init(&j.next, 0);
        job = mm_f16_job;
    }
    if (small)
        job(&j, 0, 1);
    else if (job == mm_f16_job)
        pool_run_dyn(p, job, &j);
    else
        pool_run(p, job, &j);
}

void kern_row_f32(int type, const void *src, float *dst, int n)
{
    quant_dequant_row(type, src, dst, n);
}

/* ------------------------------------------------------------------------
 * Vector kernels
 * ---------------------------------------------------------------------- */

void kern_rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (double)(x[i] * x[i]);
    float mean = (float)(ss / n);
    float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++)
        out[i] = x[i] * scale * w[i];
}

void kern_rope(float *v, int n_heads, int head_dim, int pos, const kern_rope_params *rp)
{
    int half = rp->n_rot / 2;
    float mscale = rp->mscale;
    if (rp->ext_factor != 0.0f)
        mscale *= 1.0f + 0.1f * logf(1.0f / rp->freq_scale);
    /* The angle of pair i is pos * theta_scale^i, built by repeated float
     * multiplication: the way the reference computes it, so the rotations
     * agree to the last bit in practice. */
    float theta = (float)pos;
    for (int i = 0; i < half; i++, theta *= rp->theta_scale) {
        float extrap = rp->freq_div ? theta / rp->freq_div[i] : theta;
        float th = rp->freq_scale * extrap;
        if (rp->ext_factor != 0.0f) {
            float y = ((float)i - rp->corr[0]) / fmaxf(0.001f, rp->corr[1] - rp->corr[0]);
            float mix = (1.0f - fminf(1.0f, fmaxf(0.0f, y))) * rp->ext_factor;
            th = th * (1.0f - mix) + extrap * mix;
        }
        float c = cosf(th) * mscale, s = sinf(th) * mscale;
        for (int h = 0; h < n_heads; h++) {
            float *hv = v + (size_t)h * head_dim;
            int a = rp->neox ? i : 2 * i;
            int b = rp->neox ? i + half : 2 * i + 1;
            float x0 = hv[a], x1 = hv[b];
            hv[a] = fmaf(x0, c, -(x1 * s));
            hv[b] = fmaf(x0, s, x1 * c);
        }
    }
}

/* ------------------------------------------------------------------------
 * Attention
 * ---------------------------------------------------------------------- */

/* F16 -> F32 by table: the KV cache is read a value at a time in the
 * innermost loops, where a conversion call per value would dominate. */
static float f16_table[65536];
static pthread_once_t f16_once = PTHREAD_ONCE_INIT;

typedef void (*attn_fn)(const float *, const kern_attn_span *, int, uint16_t *, float *);
static attn_fn attn_simd;

static void attn_init(void)
{
    for (int i = 0; i < 65536; i++)
        f16_table[i] = quant_f16_to_f32((uint16_t)i);
    if (strcmp(chord_simd_level(), "scalar") != 0 && quant_cpu_has("avx2"))
        attn_simd = kern_attn_head_avx2;
}

/* Dot product of two F16 vectors in the reference's order: 32 lanes (4 x
 * 8) of fused multiply-adds, folded pairwise, then any tail in double. */
static float dot_f16(const uint16_t *x, const uint16_t *y, int n)
{
    int np = n & ~31;
    float acc[32] = {0};
    for (int i = 0; i < np; i += 32)
        for (int l = 0; l < 32; l++)
            acc[l] = fmaf(f16_table[x[i + l]], f16_table[y[i + l]], acc[l]);
    float r8[8], r4[4];
    for (int l = 0; l < 8; l++)
        r8[l] = (acc[l] + acc[16 + l]) + (acc[8 + l] + acc[24 + l]);
    for (int l = 0; l < 4; l++)
        r4[l] = r8[l] + r8[4 + l];
    double sum = (r4[0] + r4[1]) + (r4[2] + r4[3]);
    for (int i = np; i < n; i++)
        sum += (double)(f16_table[x[i]] * f16_table[y[i]]);
    return (float)sum;
}

size_t kern_attn_tmp_halves(int hd, int n_pos)
{
    /* the query and the accumulator; unfused: the scores (floats) and the
     * probabilities (halves) of every position */
    return 2 * (size_t)hd + 3 * (size_t)n_pos + 2;
}

static void attn_fused(const float *q, const kern_attn_span *sp, int hd, uint16_t *tmp, float *out)
{
    uint16_t *q16 = tmp, *acc = tmp + hd;
    for (int d = 0; d < hd; d++) {
        q16[d] = quant_f32_to_f16(q[d]);
        acc[d] = 0;
    }
    float mx = -INFINITY, sum = 0;
    for (int p = sp->lo; p < sp->hi; p++) {
        size_t row = (size_t)(sp->ring ? p % sp->ring : p) * sp->ld;
        const uint16_t *kr = sp->k + row, *vr = sp->v + row;
        float s = dot_f16(kr, q16, hd) * sp->scale;
        if (sp->softcap > 0)
            s = tanhf(s * (1.0f / sp->softcap)) * sp->softcap;
        float ms = 1.0f, vs = 1.0f;
        if (s > mx) {
            ms = expf(mx - s);
            mx = s;
            for (int d = 0; d < hd; d++)
                acc[d] = quant_f32_to_f16(f16_table[acc[d]] * ms);
        } else {
            vs = expf(s - mx);
        }
        for (int d = 0; d < hd; d++)
            acc[d] = quant_f32_to_f16(fmaf(f16_table[vr[d]], vs, f16_table[acc[d]]));
        sum = sum * ms + vs;
    }
    /* the sink as the reference adds it after the positions: on the F32
     * copy of the accumulator */
    float ms = 1.0f;
    if (sp->has_sink) {
        float vs = 1.0f;
        if (sp->sink > mx)
            ms = expf(mx - sp->sink);
        else
            vs = expf(sp->sink - mx);
        sum = sum * ms + vs;
    }
    float inv = sum > 0 ? 1.0f / sum : 0.0f;
    for (int d = 0; d < hd; d++)
        out[d] = f16_table[acc[d]] * ms * inv;
}

/* The unfused numerics (kern.h). The scores sit after the query in tmp
 * (4-byte aligned: hd is even), the probabilities after them. */
static void attn_unfused(const float *q, const kern_attn_span *sp, int hd, uint16_t *tmp,
                         float *out)
{
    uint16_t *q16 = tmp;
    int n = sp->hi - sp->lo;
    float *sc = (float *)(void *)(tmp + 2 * (size_t)hd);
    uint16_t *pr = (uint16_t *)(sc + n);
    for (int d = 0; d < hd; d++)
        q16[d] = quant_f32_to_f16(q[d]);
    float mx = -INFINITY;
    for (int p = sp->lo; p < sp->hi; p++) {
        size_t row = (size_t)(sp->ring ? p % sp->ring : p) * sp->ld;
        float s = dot_f16(sp->k + row, q16, hd) * sp->scale;
        if (sp->softcap > 0)
            s = tanhf(s * (1.0f / sp->softcap)) * sp->softcap;
        sc[p - sp->lo] = s;
        if (s > mx)
            mx = s;
    }
    if (sp->has_sink && sp->sink > mx)
        mx = sp->sink;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        sc[i] = expf(sc[i] - mx);
        sum += sc[i];
    }
    if (sp->has_sink)
        sum += (double)expf(sp->sink - mx);
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++)
        pr[i] = quant_f32_to_f16(sc[i] * inv);
    /* each element's sum runs over the positions in order; positions
     * outside, elements inside, so the value rows are read in order */
    enum { MAX_HD = 512 };
    double acc[MAX_HD];
    for (int d0 = 0; d0 < hd; d0 += MAX_HD) {
        int nd = hd - d0 < MAX_HD ? hd - d0 : MAX_HD;
        for (int d = 0; d < nd; d++)
            acc[d] = 0;
        for (int p = sp->lo; p < sp->hi; p++) {
            const uint16_t *vr = sp->v + (size_t)(sp->ring ? p % sp->ring : p) * sp->ld + d0;
            float w = f16_table[pr[p - sp->lo]];
            for (int d = 0; d < nd; d++)
                acc[d] += (double)(f16_table[vr[d]] * w);
        }
        for (int d = 0; d < nd; d++)
            out[d0 + d] = (float)acc[d];
    }
}

void kern_attn_head_scalar(const float *q, const kern_attn_span *sp, int hd, uint16_t *tmp,
                           float *out)
{
    pthread_once(&f16_once, attn_init);
    if (sp->unfused)
        attn_unfused(q, sp, hd, tmp, out);
    else
        attn_fused(q, sp, hd, tmp, out);
}

void kern_attn_head(const float *q, const kern_attn_span *s, int hd, uint16_t *tmp, float *out)
{
    pthread_once(&f16_once, attn_init);
    if (attn_simd && hd % 32 == 0)
        attn_simd(q, s, hd, tmp, out);
    else
        kern_attn_head_scalar(q, s, hd, tmp, out);
}

void kern_softmax(float *x, int n)
{
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (x[i] > mx)
            mx = x[i];
    double sum = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}

void kern_swiglu(float *gate, const float *up, int n)
{
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

/* GELU (tanh form) of every half, rounded to a half: the reference's
 * table, built from the formula. */
static uint16_t gelu_table[65536];
static pthread_once_t gelu_once = PTHREAD_ONCE_INIT;

static void gelu_init(void)
{
    const float a = 0.044715f, c = 0.79788456080286535587989211986876f; /* sqrt(2/pi) */
    for (int i = 0; i < 65536; i++) {
        float x = quant_f16_to_f32((uint16_t)i);
        gelu_table[i] = quant_f32_to_f16(0.5f * x * (1.0f + tanhf(c * x * (1.0f + a * x * x))));
    }
}

void kern_geglu(float *gate, const float *up, int n)
{
    pthread_once(&gelu_once, gelu_init);
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        if (g <= -10.0f)
            gate[i] = 0.0f;
        else if (g >= 10.0f)
            gate[i] = g * up[i];
        else
            gate[i] = quant_f16_to_f32(gelu_table[quant_f32_to_f16(g)]) * up[i];
    }
}

void kern_swiglu_oai(float *gate, const float *up, int n, float alpha, float limit)
{
    for (int i = 0; i < n; i++) {
        float x = fminf(gate[i], limit);
        float y = fminf(fmaxf(up[i], -limit), limit);
        gate[i] = x / (1.0f + expf(alpha * (-x))) * (y + 1.0f);
    }
}

void kern_softcap(float *x, int n, float cap)
{
    for (int i = 0; i < n; i++)
        x[i] = tanhf(x[i] * (1.0f / cap)) * cap;
}

void kern_add(float *y, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] += x[i];
}
