/*
 * model_shift.c - context shift: positions leave the KV cache and the ones
 * after them move down, their keys turned back by the distance moved.
 *
 * RoPE turns pair i of a key by an angle linear in the position (the
 * base's frequency, divided by llama 3's or LongRoPE's per-pair factor,
 * interpolated by the scale, and for YaRN mixed with the uninterpolated
 * angle along a ramp that depends on i only). So the key of position p
 * turned by the angle of -d is the key of position p - d: a shift is one
 * more rotation of each cached key, with the layer's own frequencies.
 * Magnitude factors (LongRoPE's attention factor, YaRN's mscale) were
 * applied once when the key was stored and stay: the shift turns without
 * scaling. Values do not depend on the position and move as they are.
 *
 * A local layer keeps a ring (position p in row p % ring). Its moved
 * positions are rewritten at their new rows from a copy of the ring;
 * positions whose rows were already overwritten cannot be moved, so the
 * shift is refused when the next position's window would need them.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "model/model.h"
#include "pool/pool.h"
#include "quant/quant.h"

/* The cosine and sine of the angle RoPE gives pair i of layer il's heads
 * at position pos, by kern_rope's own arithmetic (the same float
 * recurrence for the angle, the same YaRN ramp) but without its magnitude
 * factors. cs holds n_rot floats: cos of pair i at 2i, sin at 2i + 1. */
static void shift_angles(const kern_rope_params *rp, int pos, float *cs)
{
    float theta = (float)pos;
    for (int i = 0; i < rp->n_rot / 2; i++, theta *= rp->theta_scale) {
        float extrap = rp->freq_div ? theta / rp->freq_div[i] : theta;
        float th = rp->freq_scale * extrap;
        if (rp->ext_factor != 0.0f) {
            float y = ((float)i - rp->corr[0]) / fmaxf(0.001f, rp->corr[1] - rp->corr[0]);
            float mix = (1.0f - fminf(1.0f, fmaxf(0.0f, y))) * rp->ext_factor;
            th = th * (1.0f - mix) + extrap * mix;
        }
        cs[2 * i] = cosf(th);
        cs[2 * i + 1] = sinf(th);
    }
}

/* Turns one cached key (a head's row of F16 values) by the angles cs,
 * rounding each turned value to F16 once. */
static void turn_row(uint16_t *hv, const kern_rope_params *rp, const float *cs)
{
    int half = rp->n_rot / 2;
    for (int i = 0; i < half; i++) {
        int a = rp->neox ? i : 2 * i, b = rp->neox ? i + half : 2 * i + 1;
        float x0 = quant_f16_to_f32(hv[a]), x1 = quant_f16_to_f32(hv[b]);
        float c = cs[2 * i], s = cs[2 * i + 1];
        hv[a] = quant_f32_to_f16(fmaf(x0, c, -(x1 * s)));
        hv[b] = quant_f32_to_f16(fmaf(x0, s, x1 * c));
    }
}

/* One shift, the same for every layer: cache positions [a, b) leave,
 * [b, pos) move to [a, pos - (b - a)) and turn by `turn` positions (the
 * rebase: a = b = 0, nothing moves, everything turns). Positions below
 * lo_new are not needed afterwards (a ring's lost ones). */
typedef struct shift_job {
    chord_ctx *c;
    int a, b, turn, lo_new;
    atomic_int next;   /* the next layer to take */
    bool oom;
} shift_job;

static void shift_layer(shift_job *j, int il)
{
    chord_ctx *c = j->c;
    const model_config *cf = &c->m->cfg;
    int hd = cf->head_dim, nh = cf->n_head_kv;
    int d = j->b - j->a, pos_new = c->pos - d;
    kern_rope_params rp = model_rope_params(c, il);
    float cs[2 * 512];
    shift_angles(&rp, j->turn, cs);
    size_t hb = (size_t)hd * sizeof(uint16_t);
    int ring = c->kv_ring[il];
    if (!ring) {
        /* destinations below sources: in place, upwards */
        for (int g = 0; g < nh; g++) {
            uint16_t *kc = model_kv_head(c, 0, il, g), *vc = model_kv_head(c, 1, il, g);
            for (int p = j->b; p < c->pos; p++) {
                uint16_t *kd = kc + (size_t)(p - d) * hd;
                if (d) {
                    memcpy(kd, kc + (size_t)p * hd, hb);
                    memcpy(vc + (size_t)(p - d) * hd, vc + (size_t)p * hd, hb);
                }
                turn_row(kd, &rp, cs);
            }
        }
        return;
    }
    /* A ring: the new positions lo_new..pos_new-1 are distinct rows; each
     * moved one comes from a copy, so no source is overwritten first. A
     * layer's heads are one run of memory (model_kv_head). */
    size_t head = (size_t)ring * hd, bytes = head * nh * sizeof(uint16_t);
    uint16_t *tk = malloc(bytes), *tv = malloc(bytes);
    if (!tk || !tv) {
        free(tk);
        free(tv);
        j->oom = true;
        return;
    }
    memcpy(tk, model_kv_head(c, 0, il, 0), bytes);
    memcpy(tv, model_kv_head(c, 1, il, 0), bytes);
    for (int g = 0; g < nh; g++) {
        uint16_t *kc = model_kv_head(c, 0, il, g), *vc = model_kv_head(c, 1, il, g);
        for (int p = j->lo_new; p < pos_new; p++) {
            int from = p >= j->a ? p + d : p;
            if (d && p < j->a)
                continue; /* kept before the gap: stays in its row, unturned */
            size_t dst = (size_t)(p % ring) * hd, src = (size_t)g * head + (size_t)(from % ring) * hd;
            memcpy(kc + dst, tk + src, hb);
            memcpy(vc + dst, tv + src, hb);
            turn_row(kc + dst, &rp, cs);
        }
    }
    free(tk);
    free(tv);
}

static void shift_work(void *arg, int ith, int nth)
{
    (void)ith;
    (void)nth;
    shift_job *j = arg;
    for (;;) {
        int il = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (il >= j->c->m->cfg.n_layer)
            break;
        shift_layer(j, il);
    }
}

/* Where the rings' intact positions start after the shift (a ring's
 * positions that were overwritten stay lost at their new places). */
static int ring_lo_after(const chord_ctx *c, int a, int b)
{
    int d = b - a, pos_new = c->pos - d, ring = 0;
    for (int il = 0; il < c->m->cfg.n_layer; il++)
        if (c->kv_ring[il])
            ring = c->kv_ring[il];
    if (!ring)
        return 0;
    int lo = pos_new - ring > 0 ? pos_new - ring : 0;
    int lost;   /* new positions below this are not intact */
    if (c->ring_lo <= a)
        lost = c->ring_lo;
    else
        lost = c->ring_lo - d > a ? c->ring_lo - d : a;
    return lost > lo ? lost : lo;
}

static chord_status run_shift(chord_ctx *c, int a, int b, int turn, int lo_new, chord_err *err)
{
    const model_config *cf = &c->m->cfg;
    /* A quantized key would be dequantized, turned and quantized again:
     * one more rounding of a coarse type per shift, compounding over a long
     * chat; the caller re-evaluates instead. */
    if (c->kv_tk != QT_F16 || c->kv_tv != QT_F16)
        return err_set(err, CHORD_E_UNSUPPORTED, "context shift: the KV cache is quantized (%s keys, %s values)",
                       c->kv_tk == QT_F16 ? "F16" : c->kv_tk == QT_Q8_0 ? "Q8_0" : "Q4_0",
                       c->kv_tv == QT_F16 ? "F16" : c->kv_tv == QT_Q8_0 ? "Q8_0" : "Q4_0");
    if (cf->n_rot > 1024 || cf->n_rot % 2)
        return err_set(err, CHORD_E_UNSUPPORTED, "context shift: %d rotated dimensions per head",
                       cf->n_rot);
    shift_job j = {.c = c, .a = a, .b = b, .turn = turn, .lo_new = lo_new};
    atomic_init(&j.next, 0);
    /* a small cache is moved faster than the pool wakes */
    if ((size_t)(c->pos - b) * cf->n_layer * cf->n_head_kv * cf->head_dim < (1u << 16))
        shift_work(&j, 0, 1);
    else
        pool_run(c->pool, shift_work, &j);
    if (j.oom) {
        /* some rings were not moved: the cache is inconsistent */
        c->pos = c->ring_lo = 0;
        return err_set(err, CHORD_E_NOMEM, "context shift: out of memory (the cache was cleared)");
    }
    return CHORD_OK;
}

chord_status chord_ctx_drop(chord_ctx *c, int a, int b, chord_err *err)
{
    if (!c || a < 0 || b < a || b > c->pos)
        return err_set(err, CHORD_E_INVALID, "context shift: cannot drop positions %d..%d of %d", a,
                       b, c ? c->pos : 0);
    if (a == b)
        return CHORD_OK;
    int d = b - a, pos_new = c->pos - d;
    int lo_new = ring_lo_after(c, a, b);
    int need = pos_new - c->m->cfg.n_swa + 1;
    if (lo_new > (need > 0 ? need : 0))
        return err_set(err, CHORD_E_UNSUPPORTED,
                       "context shift: the sliding-window layers' rings no longer hold positions %d..%d that position %d would see",
                       need > 0 ? need : 0, lo_new - 1, pos_new);
    chord_status st = run_shift(c, a, b, -d, lo_new, err);
    if (st != CHORD_OK)
        return st;
    c->pos = pos_new;
    c->ring_lo = lo_new;
    return CHORD_OK;
}

chord_status model_ctx_rebase(chord_ctx *c, int delta, chord_err *err)
{
    chord_status st = run_shift(c, 0, 0, delta, c->ring_lo, err);
    if (st == CHORD_OK)
        c->rope_off += delta;
    return st;
}
