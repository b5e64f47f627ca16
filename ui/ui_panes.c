/*
 * ui_panes.c - layer map, prefetch, speed and status panes (see ui_panes.h).
 */
#include "ui_panes.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Layer map: one cell per layer, with a legend
 * ---------------------------------------------------------------------- */

typedef struct layer_pane {
    ui_pane base;
    int n_layer;
    uint8_t state[CHORD_MAX_LAYERS];
    /* a mixture of experts (n_expert 0 for a dense model) */
    int n_expert, n_used;
    bool moe[CHORD_MAX_LAYERS];                 /* layer l has experts */
    uint16_t resident[CHORD_MAX_LAYERS];
    int16_t last[CHORD_MAX_LAYERS][CHORD_MAX_EXPERT_USED];
} layer_pane;

static const char *const state_names[] = {"resident", "pinned", "queued", "loading",
                                          "ready", "in use", "evicted"};

static void layer_update(ui_pane *p, const ui_snap *s)
{
    layer_pane *lp = (layer_pane *)p;
    const chord_stats *st = &s->st;
    lp->n_layer = st->n_layer < CHORD_MAX_LAYERS ? st->n_layer : CHORD_MAX_LAYERS;
    memcpy(lp->state, st->layer_state, (size_t)lp->n_layer);
    lp->n_expert = st->n_moe_layers > 0 ? st->n_expert : 0;
    lp->n_used = st->n_expert_used;
    for (int l = 0; l < lp->n_layer && lp->n_expert; l++) {
        /* a model whose layers are not all MoE: the dense ones have never
         * held or chosen an expert */
        lp->moe[l] = st->n_moe_layers >= lp->n_layer || st->experts_resident[l] > 0 ||
                     st->experts_seen[l] > 0;
        lp->resident[l] = st->experts_resident[l];
        memcpy(lp->last[l], st->experts_last[l], sizeof lp->last[l]);
    }
    if (lp->n_expert)
        snprintf(p->title, sizeof p->title, "layers %d \xc2\xb7 experts %d/%d", lp->n_layer,
                 lp->n_used, lp->n_expert);
    else
        snprintf(p->title, sizeof p->title, "layers %d", lp->n_layer);
}

/* ---- Mixtures of experts: a grid of cells "LL r/E last", column-major:
 * the layer's number in its state's colour, its experts in memory out of
 * all, and the experts the last token chose: their ids when they fit the
 * cell, else a bar whose marks each stand for a run of experts (lit if the
 * token chose one of them) if it is fine enough to tell choices apart.
 * At 120x40, 48 layers of 128 experts get two columns of counts and no
 * room for either. The stats give a count of resident experts
 * per layer, not which: the count is all the cell claims. */

static int digits(int v)
{
    int d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

typedef struct moe_grid {
    int cols, rows, cell_w;  /* cell_w without the gap between columns */
    bool legend;
} moe_grid;

/* The fewest columns whose rows fit in avail (with a legend line if there
 * is room for it), as long as a cell still holds the number and the count:
 * 48 layers at 27 columns and 24 rows are two columns of 24. */
static moe_grid moe_layout(const layer_pane *lp, int width, int avail)
{
    int need = digits(lp->n_layer - 1) + 1 + 2 * digits(lp->n_expert) + 1;
    moe_grid g = {1, lp->n_layer, width, false};
    if (avail <= 0)
        avail = lp->n_layer + 1;
    for (int c = 1; c <= lp->n_layer; c++) {
        int cw = (width - (c - 1)) / c;
        if (cw < need)
            break;
        g = (moe_grid){c, (lp->n_layer + c - 1) / c, cw, false};
        if (g.rows + 1 <= avail) {
            g.legend = true;
            break;
        }
        if (g.rows <= avail)
            break;
    }
    return g;
}

static bool used_by_last(const layer_pane *lp, int l, int e)
{
    for (int i = 0; i < CHORD_MAX_EXPERT_USED && lp->last[l][i] >= 0; i++)
        if (lp->last[l][i] == e)
            return true;
    return false;
}

static void moe_cell(const layer_pane *lp, WINDOW *w, int y, int x, int cw, int l)
{
    int dl = digits(lp->n_layer - 1), de = digits(lp->n_expert);
    int st = lp->state[l];
    wattrset(w, ui_style_attr((ui_style)(UI_S_L_RESIDENT + (st <= 6 ? st : 6))));
    ui_draw_fmt(w, y, x, dl, "%*d", dl, l);
    wattrset(w, A_NORMAL);
    if (!lp->moe[l])
        return;   /* a dense layer of a MoE model: its state is all it has */
    int n = ui_draw_fmt(w, y, x + dl, cw - dl, " %*d/%d ", de, lp->resident[l], lp->n_expert);
    int room = cw - dl - n, x0 = x + dl + n;
    if (room <= 0 || lp->last[l][0] < 0)
        return;
    char ids[8 * CHORD_MAX_EXPERT_USED];
    size_t k = 0;
    for (int i = 0; i < CHORD_MAX_EXPERT_USED && lp->last[l][i] >= 0 && k + 8 < sizeof ids; i++)
        k += (size_t)snprintf(ids + k, sizeof ids - k, "%s%d", i ? "," : "", lp->last[l][i]);
    wattrset(w, ui_style_attr(UI_S_L_IN_USE));
    if ((int)k <= room) {
        ui_draw_text(w, y, x0, ids, k, room);
        wattrset(w, A_NORMAL);
        return;
    }
    /* mark b stands for experts [b*E/room, (b+1)*E/room); when most
     * marks would be lit whatever the choice (8 of 128 in 2 marks), the
     * bar says nothing and is left out: the count is what fits */
    int n_last = 0;
    while (n_last < CHORD_MAX_EXPERT_USED && lp->last[l][n_last] >= 0)
        n_last++;
    if ((lp->n_expert + room - 1) / room * n_last * 2 > lp->n_expert) {
        wattrset(w, A_NORMAL);
        return;
    }
    bool utf8 = ui_draw_utf8();
    for (int b = 0; b < room; b++) {
        int e0 = b * lp->n_expert / room, e1 = (b + 1) * lp->n_expert / room;
        bool u = false;
        for (int e = e0; e < e1 && !u; e++)
            u = used_by_last(lp, l, e);
        wattrset(w, ui_style_attr(u ? UI_S_L_IN_USE : UI_S_DIM));
        mvwaddstr(w, y, x0 + b, u ? (utf8 ? "\xe2\x96\x88" : "#") : e1 > e0 ? (utf8 ? "\xc2\xb7" : ".") : " ");
    }
    wattrset(w, A_NORMAL);
}

static void moe_draw(const layer_pane *lp, WINDOW *w, ui_rect r)
{
    moe_grid g = moe_layout(lp, r.w, lp->base.avail);
    for (int l = 0; l < lp->n_layer; l++) {
        int row = l % g.rows, col = l / g.rows;
        if (row < r.h)
            moe_cell(lp, w, r.y + row, r.x + col * (g.cell_w + 1), g.cell_w, l);
    }
    if (g.legend && g.rows < r.h) {
        const char *lg = "layer resident/all  last";
        ui_draw_text(w, r.y + g.rows, r.x, lg, strlen(lg), r.w);
    }
}

/* Cells are "██ " (3 columns) when the map fits that way, else one column. */
static int layer_cell_w(int n_layer, int width)
{
    int per = width / 3;
    return per > 0 && (n_layer + per - 1) / per <= 8 ? 3 : 1;
}

static int layer_rows(const ui_pane *p, int width)
{
    const layer_pane *lp = (const layer_pane *)p;
    if (lp->n_expert) {
        moe_grid g = moe_layout(lp, width, p->avail);
        return g.rows + g.legend;
    }
    int cw = layer_cell_w(lp->n_layer, width);
    int per = width / cw > 0 ? width / cw : 1;
    int map = lp->n_layer ? (lp->n_layer + per - 1) / per : 1;
    return map + 4;   /* legend: 7 states in two columns */
}

static void layer_draw(const ui_pane *p, WINDOW *w, ui_rect r)
{
    const layer_pane *lp = (const layer_pane *)p;
    if (lp->n_expert) {
        moe_draw(lp, w, r);
        return;
    }
    int cw = layer_cell_w(lp->n_layer, r.w);
    int per = r.w / cw > 0 ? r.w / cw : 1;
    int row = 0;
    if (!lp->n_layer)
        ui_draw_text(w, r.y, r.x, "(no model)", 10, r.w);
    for (int i = 0; i < lp->n_layer; i++) {
        row = i / per;
        if (row >= r.h - 4)
            break;
        int st = lp->state[i];
        wattrset(w, ui_style_attr((ui_style)(UI_S_L_RESIDENT + (st <= 6 ? st : 6))));
        wmove(w, r.y + row, r.x + (i % per) * cw);
        const char *g = ui_layer_glyph(st);
        waddstr(w, g);
        if (cw == 3)
            waddstr(w, g);
        wattrset(w, A_NORMAL);
    }
    int ly = r.y + (lp->n_layer ? (lp->n_layer - 1) / per + 1 : 1);
    int half = r.w / 2;
    for (int s = 0; s < 7 && ly + s / 2 < r.y + r.h; s++) {
        int x = r.x + (s % 2) * half;
        wattrset(w, ui_style_attr((ui_style)(UI_S_L_RESIDENT + s)));
        mvwaddstr(w, ly + s / 2, x, ui_layer_glyph(s));
        wattrset(w, A_NORMAL);
        ui_draw_text(w, ly + s / 2, x + 2, state_names[s], strlen(state_names[s]), half - 2);
    }
}

static layer_pane layers = {.base = {"layers", layer_update, layer_rows, layer_draw, 0}};

/* ------------------------------------------------------------------------
 * Prefetch: queue, hits, stalls, read throughput with a sparkline
 * ---------------------------------------------------------------------- */

typedef struct prefetch_pane {
    ui_pane base;
    chord_stats st;
    double spark[UI_SPARK_N];
    int n_spark;
} prefetch_pane;

static void prefetch_update(ui_pane *p, const ui_snap *s)
{
    prefetch_pane *pp = (prefetch_pane *)p;
    pp->st = s->st;
    memcpy(pp->spark, s->read_mb_s, sizeof pp->spark);
    pp->n_spark = s->n_spark;
}

static int prefetch_rows(const ui_pane *p, int width)
{
    (void)width;
    return ((const prefetch_pane *)p)->st.streaming ? 5 : 2;
}

/* "0.4 / 1.2 MiB" or "1.25 / 3.40 GiB": one unit, the larger one's, so
 * the line stays short in the narrow column. */
static void two_sizes(double a, double b, char *out, size_t cap)
{
    const double mib = 1024.0 * 1024, gib = mib * 1024;
    if (b >= gib)
        snprintf(out, cap, "%.2f / %.2f GiB", a / gib, b / gib);
    else
        snprintf(out, cap, "%.1f / %.1f MiB", a / mib, b / mib);
}

static void prefetch_draw(const ui_pane *p, WINDOW *w, ui_rect r)
{
    const prefetch_pane *pp = (const prefetch_pane *)p;
    const chord_stats *st = &pp->st;
    if (!st->streaming) {
        ui_draw_fmt(w, r.y, r.x, r.w, "all layers resident");
        char rb[32];
        ui_fmt_bytes((double)st->bytes_read, rb, sizeof rb);
        ui_draw_fmt(w, r.y + 1, r.x, r.w, "read %s", rb);
        return;
    }
    uint64_t acq = st->hits + st->stalls;
    ui_draw_fmt(w, r.y, r.x, r.w, "distance %d  queue %d", st->prefetch_distance, st->queue_depth);
    ui_draw_fmt(w, r.y + 1, r.x, r.w, "in flight %d  hits %.0f%%", st->in_flight,
                acq ? 100.0 * (double)st->hits / (double)acq : 0.0);
    ui_draw_fmt(w, r.y + 2, r.x, r.w, "stalls %llu (%.0f ms)", (unsigned long long)st->stalls, st->stall_ms);
    ui_draw_fmt(w, r.y + 3, r.x, r.w, "read %.0f MB/s  %.0f MB", st->read_mb_s, st->bytes_read / 1e6);
    if (r.h > 4) {
        wattrset(w, ui_style_attr(UI_S_SPARK));
        ui_draw_spark(w, r.y + 4, r.x, pp->spark, pp->n_spark, r.w);
        wattrset(w, A_NORMAL);
    }
}

static prefetch_pane prefetch = {{"prefetch", prefetch_update, prefetch_rows, prefetch_draw, 0}, {0}, {0}, 0};

/* ------------------------------------------------------------------------
 * Speed: prompt and generation rates, first-token latency, ctx, memory
 * ---------------------------------------------------------------------- */

typedef struct speed_pane {
    ui_pane base;
    double prompt_tps, gen_tps, ttft_ms;
    int n_drafted, n_accepted;   /* speculative decoding, last reply */
    int ctx_used, ctx_size;
    int64_t mem_used, mem_budget;
    double spark[UI_SPARK_N];
    int n_spark;
} speed_pane;

static void speed_update(ui_pane *p, const ui_snap *s)
{
    speed_pane *sp = (speed_pane *)p;
    const ui_chat *c = s->chat;
    sp->prompt_tps = c->last_prompt_ms > 0 ? c->last_n_prompt * 1e3 / c->last_prompt_ms : 0;
    sp->gen_tps = c->last_gen_ms > 0 ? c->last_n_gen * 1e3 / c->last_gen_ms : 0;
    sp->ttft_ms = c->last_ttft_ms;
    sp->n_drafted = c->last_n_drafted;
    sp->n_accepted = c->last_n_accepted;
    sp->ctx_used = s->st.ctx_used;
    /* before the first eval the engine has no size to report yet; the
     * context's length never changes, so reading it here is safe */
    sp->ctx_size = s->st.ctx_size ? s->st.ctx_size : chord_ctx_n_ctx(c->ctx);
    sp->mem_used = s->st.budget_used_bytes;
    sp->mem_budget = s->st.budget_bytes;
    memcpy(sp->spark, s->gen_tok_s, sizeof sp->spark);
    sp->n_spark = s->n_spark;
}

static int speed_rows(const ui_pane *p, int width)
{
    (void)width;
    /* a row for speculative decoding once a reply used it */
    return ((const speed_pane *)p)->n_drafted > 0 ? 6 : 5;
}

static void speed_draw(const ui_pane *p, WINDOW *w, ui_rect r)
{
    const speed_pane *sp = (const speed_pane *)p;
    ui_draw_fmt(w, r.y, r.x, r.w, "prompt %.1f tok/s", sp->prompt_tps);
    int n = ui_draw_fmt(w, r.y + 1, r.x, r.w, "gen    %.1f tok/s ", sp->gen_tps);
    if (n < r.w) {
        wattrset(w, ui_style_attr(UI_S_SPARK));
        ui_draw_spark(w, r.y + 1, r.x + n, sp->spark, sp->n_spark, r.w - n);
        wattrset(w, A_NORMAL);
    }
    ui_draw_fmt(w, r.y + 2, r.x, r.w, "first token %.0f ms", sp->ttft_ms);
    ui_draw_fmt(w, r.y + 3, r.x, r.w, "ctx  %d / %d", sp->ctx_used, sp->ctx_size);
    char mb[48];
    two_sizes((double)sp->mem_used, (double)sp->mem_budget, mb, sizeof mb);
    ui_draw_fmt(w, r.y + 4, r.x, r.w, "mem  %s budget", mb);
    if (sp->n_drafted > 0 && r.h > 5)
        ui_draw_fmt(w, r.y + 5, r.x, r.w, "draft %d / %d kept (%.0f%%)", sp->n_accepted, sp->n_drafted,
                    100.0 * sp->n_accepted / sp->n_drafted);
}

static speed_pane speed = {{"speed", speed_update, speed_rows, speed_draw, 0}, 0, 0, 0, 0, 0, 0, 0, 0, 0, {0}, 0};

ui_pane **ui_panes_diag(int *n)
{
    static ui_pane *v[] = {&layers.base, &prefetch.base, &speed.base};
    *n = 3;
    return v;
}

/* ------------------------------------------------------------------------
 * Status line
 * ---------------------------------------------------------------------- */

typedef struct status_pane {
    ui_pane base;
    char left[256];
    bool busy;
} status_pane;

static void status_update(ui_pane *p, const ui_snap *s)
{
    status_pane *sp = (status_pane *)p;
    char samp[160];
    ui_chat_sampling_str(s->chat, samp, sizeof samp);
    snprintf(sp->left, sizeof sp->left, "%s", samp);
    sp->busy = s->busy;
}

static int status_rows(const ui_pane *p, int width)
{
    (void)p;
    (void)width;
    return 1;
}

static void status_draw(const ui_pane *p, WINDOW *w, ui_rect r)
{
    const status_pane *sp = (const status_pane *)p;
    const char *hints = sp->busy ? "Esc stop \xc2\xb7 F2 panes \xc2\xb7 PgUp/PgDn scroll \xc2\xb7 /help"
                                 : "Ctrl-D quit \xc2\xb7 F2 panes \xc2\xb7 PgUp/PgDn scroll \xc2\xb7 /help";
    /* " settings │ hints " over the bottom border */
    int n = ui_draw_fmt(w, r.y, r.x, r.w, " %s ", sp->left);
    if (n + 4 < r.w) {
        wattrset(w, ui_style_attr(UI_S_BORDER));
        mvwaddstr(w, r.y, r.x + n, ui_draw_utf8() ? "\xe2\x94\x82" : "|");
        wattrset(w, A_NORMAL);
        ui_draw_fmt(w, r.y, r.x + n + 1, r.w - n - 1, " %s ", hints);
    }
}

static status_pane status = {{"status", status_update, status_rows, status_draw, 0}, {0}, false};

ui_pane *ui_pane_status(void)
{
    return &status.base;
}
