/*
 * synth_common.c - helpers shared by the synth tests (see synth_common.h).
 */
#include "synth_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "t.h"

int sy_chord(const char *args)
{
    size_t n = strlen(args) + 4096;
    char *cmd = malloc(n);
    if (!cmd)
        return -1;
    snprintf(cmd, n, "'%s' %s 2>/dev/null", t_chord_bin(), args);
    int rc = t_run(cmd, NULL);
    free(cmd);
    return rc;
}

int sy_same_layout(const char *got, const char *want)
{
    gguf_file *g = NULL, *w = NULL;
    chord_err err;
    if (gguf_open(got, &g, &err) != CHORD_OK || gguf_open(want, &w, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
        gguf_close(g);
        return 1;
    }
    int bad = 0;
    if (g->n_tensors != w->n_tensors) {
        t_fail_at(__FILE__, __LINE__, "%s has %llu tensors, %s %llu", got,
                  (unsigned long long)g->n_tensors, want, (unsigned long long)w->n_tensors);
        bad++;
    }
    for (uint64_t i = 0; i < w->n_tensors; i++) {
        const gguf_tensor *wt = &w->tensors[i];
        const gguf_tensor *gt = gguf_find_tensor(g, wt->name);
        if (!gt || gt->type != wt->type || gt->n_dims != wt->n_dims ||
            memcmp(gt->ne, wt->ne, sizeof wt->ne) != 0) {
            t_fail_at(__FILE__, __LINE__, "%s: tensor '%s': type %d shape [%lld, %lld], want type %d shape [%lld, %lld] as in %s",
                      got, wt->name, gt ? gt->type : -1, gt ? (long long)gt->ne[0] : -1,
                      gt ? (long long)gt->ne[1] : -1, wt->type, (long long)wt->ne[0],
                      (long long)wt->ne[1], want);
            bad++;
        }
    }
    gguf_close(g);
    gguf_close(w);
    return bad;
}

float *sy_logits(const char *model, const chord_token *toks, int n, int *n_vocab)
{
    chord_model_params mp = chord_model_default_params();
    mp.n_threads = 2;
    mp.mem_budget = -1;
    chord_model *m = NULL;
    chord_ctx *c = NULL;
    chord_err err;
    if (chord_model_load(model, &mp, &m, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
        return NULL;
    }
    chord_model_info info;
    chord_model_get_info(m, &info);
    *n_vocab = info.n_vocab;
    float *out = malloc((size_t)n * (size_t)info.n_vocab * sizeof *out);
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = n + 8;
    bool ok = out && chord_ctx_new(m, &cp, &c, &err) == CHORD_OK &&
              chord_ctx_eval(c, toks, n, out, true, &err) == CHORD_OK;
    if (!ok) {
        t_fail_at(__FILE__, __LINE__, "%s: %s", model, out ? err.msg : "out of memory");
        free(out);
        out = NULL;
    }
    chord_ctx_free(c);
    chord_model_free(m);
    return out;
}

double sy_nrmse(const float *a, const float *b, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        r += (double)b[i] * b[i];
    }
    return r > 0 ? sqrt(d / r) : INFINITY;
}

const char *sy_synth(const char *name, const char *args)
{
    static char path[8][4200];
    static int k;
    char *p = path[k++ % 8];
    char cmd[9000];
    snprintf(p, sizeof path[0], "%s/%s.gguf", t_tmpdir(), name);
    snprintf(cmd, sizeof cmd, "synth %s -o '%s'", args, p);
    int rc = sy_chord(cmd);
    if (rc != 0) {
        t_fail_at(__FILE__, __LINE__, "chord %s exited %d", cmd, rc);
        return NULL;
    }
    return p;
}

int sy_same_arch_keys(const char *got, const char *want, const char *arch)
{
    gguf_file *g = NULL, *w = NULL;
    chord_err err;
    if (gguf_open(got, &g, &err) != CHORD_OK || gguf_open(want, &w, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
        gguf_close(g);
        return 1;
    }
    size_t n = strlen(arch);
    int bad = 0;
    for (int pass = 0; pass < 2; pass++) {
        gguf_file *a = pass ? g : w, *b = pass ? w : g;
        for (uint64_t i = 0; i < a->n_kv; i++) {
            const char *k = a->kv[i].key;
            if (strncmp(k, arch, n) || k[n] != '.' || gguf_find(b, k))
                continue;
            t_fail_at(__FILE__, __LINE__, "key '%s' is in %s but not in %s", k, a->path, b->path);
            bad++;
        }
    }
    gguf_close(g);
    gguf_close(w);
    return bad;
}

void sy_check_runs(const char *path)
{
    chord_token toks[10] = {1, 300, 301, 420, 517, 600, 733, 804, 900, 999};
    int nv = 0;
    float *l = sy_logits(path, toks, 10, &nv);
    if (!l)
        return;
    T_EQ_INT(nv, 1000);
    int changes = 0, prev = -1;
    for (int p = 0; p < 10; p++) {
        const float *r = l + (size_t)p * (size_t)nv;
        double sum = 0, sq = 0;
        int best = 0, bad = 0;
        for (int v = 0; v < nv; v++) {
            bad += !isfinite(r[v]);
            sum += r[v];
            sq += (double)r[v] * r[v];
            if (r[v] > r[best])
                best = v;
        }
        double sd = sqrt(sq / nv - (sum / nv) * (sum / nv));
        T_CHECK(bad == 0, "%s: position %d: %d non-finite logits", path, p, bad);
        T_CHECK(sd > 1.0 && sd < 100.0, "%s: position %d: logit deviation %.3f", path, p, sd);
        changes += prev >= 0 && best != prev;
        prev = best;
    }
    T_CHECK(changes >= 3, "%s: argmax changed only %d times over 10 positions", path, changes);
    free(l);
}
