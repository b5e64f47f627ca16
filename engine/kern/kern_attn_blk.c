/*
 * kern_attn_blk.c - batched causal attention for prefill: the work
 * buffer's size, the row-by-row twin and the dispatch. The AVX-512 twin
 * (kern_attn_blk_avx512.c) gives the same bits much faster; this file is
 * both its reference and the path for other CPUs.
 */
#include <pthread.h>
#include <string.h>

#include "kern/kern_attn_blk.h"
#include "quant/quant.h"

size_t kern_attn_blk_ws_floats(int hd, int n_rows, int n_ctx)
{
    size_t one = (kern_attn_tmp_halves(hd, n_ctx) + 1) / 2; /* kern_attn_head's tmp */
    size_t blk = attn_blk_floats(hd, n_rows);
    return blk > one ? blk : one;
}

/* Row r = token r / n_grp, head r % n_grp of the block, through the
 * one-query kernel f. */
static void by_rows(const kern_attn_qblk *b, float *ws,
                    void (*f)(const float *, const kern_attn_span *, int, uint16_t *, float *))
{
    for (int r = 0; r < b->n_tok * b->n_grp; r++) {
        int t = r / b->n_grp, h = r % b->n_grp, p = b->pos0 + t;
        kern_attn_span sp = {
            .k = b->k, .v = b->v, .ld = b->ld, .ring = b->ring,
            .lo = b->window && p >= b->window ? p - b->window + 1 : 0, .hi = p + 1,
            .scale = b->scale, .softcap = b->softcap, .unfused = b->unfused,
            .has_sink = b->sinks != NULL, .sink = b->sinks ? b->sinks[h] : 0.0f,
        };
        f(b->q + (size_t)t * b->ldq + (size_t)h * b->hd, &sp, b->hd, (uint16_t *)ws,
          b->out + (size_t)t * b->ldo + (size_t)h * b->hd);
    }
}

void kern_attn_blk_scalar(const kern_attn_qblk *b, float *ws)
{
    by_rows(b, ws, kern_attn_head_scalar);
}

static bool blk_simd;
static pthread_once_t blk_once = PTHREAD_ONCE_INIT;

static void blk_init(void)
{
    blk_simd = !strcmp(chord_simd_level(), "avx512");
}

void kern_attn_blk(const kern_attn_qblk *b, float *ws)
{
    pthread_once(&blk_once, blk_init);
    if (blk_simd && b->hd % 32 == 0)
        kern_attn_blk_avx512(b, ws);
    else
        by_rows(b, ws, kern_attn_head);
}
