/*
 * synth_fast_test.c - `chord synth --fast` (rows of random blocks drawn
 * from a per-tensor pool, the way to write models of tens of GB):
 *
 *  - a small model made both ways has the same tensor table;
 *  - both load and run, with finite, spread logits (deviation across the
 *    vocabulary above 1, argmax varying with position), so the fast
 *    model's blocks carry sane scales, not just valid bytes;
 *  - the fast path is deterministic for a seed and another seed changes
 *    the weights (not the size);
 *  - the fast file differs from the slow one (the flag is not ignored).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synth_common.h"
#include "t.h"

#define SHAPE "--arch llama --dim 256 --layers 3 --heads 8 --kv-heads 4 --ffn 768 --vocab 1000"

static const char *synth(const char *name, const char *args)
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

/* Logits of 10 positions: finite, spread, argmax not constant. */
static void check_runs(const char *path)
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

static bool same_bytes(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    char *x = t_read_file(a, &na), *y = t_read_file(b, &nb);
    bool same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static size_t file_size(const char *p)
{
    size_t n = 0;
    free(t_read_file(p, &n));
    return n;
}

int main(void)
{
    const char *types[] = {"Q4_K_M", "Q8_0", "Q4_0"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char args[512], name[64];
        snprintf(args, sizeof args, SHAPE " --type %s --seed 7", types[i]);
        snprintf(name, sizeof name, "slow-%s", types[i]);
        const char *slow = synth(name, args);
        snprintf(args, sizeof args, SHAPE " --type %s --seed 7 --fast", types[i]);
        snprintf(name, sizeof name, "fast-%s", types[i]);
        const char *fast = synth(name, args);
        snprintf(name, sizeof name, "fast2-%s", types[i]);
        const char *again = synth(name, args);
        snprintf(args, sizeof args, SHAPE " --type %s --seed 8 --fast", types[i]);
        snprintf(name, sizeof name, "fast8-%s", types[i]);
        const char *other = synth(name, args);
        if (!slow || !fast || !again || !other)
            continue;
        T_EQ_INT(sy_same_layout(fast, slow), 0);
        T_CHECK(same_bytes(fast, again), "%s: --fast with seed 7 twice gave different files", types[i]);
        T_CHECK(!same_bytes(fast, other), "%s: --fast seeds 7 and 8 gave the same file", types[i]);
        T_EQ_INT(file_size(other), file_size(fast));
        T_CHECK(!same_bytes(fast, slow), "%s: --fast wrote the slow path's bytes", types[i]);
        check_runs(slow);
        check_runs(fast);
    }
    return t_done();
}
