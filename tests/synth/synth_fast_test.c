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
        const char *slow = sy_synth(name, args);
        snprintf(args, sizeof args, SHAPE " --type %s --seed 7 --fast", types[i]);
        snprintf(name, sizeof name, "fast-%s", types[i]);
        const char *fast = sy_synth(name, args);
        snprintf(name, sizeof name, "fast2-%s", types[i]);
        const char *again = sy_synth(name, args);
        snprintf(args, sizeof args, SHAPE " --type %s --seed 8 --fast", types[i]);
        snprintf(name, sizeof name, "fast8-%s", types[i]);
        const char *other = sy_synth(name, args);
        if (!slow || !fast || !again || !other)
            continue;
        T_EQ_INT(sy_same_layout(fast, slow), 0);
        T_CHECK(same_bytes(fast, again), "%s: --fast with seed 7 twice gave different files", types[i]);
        T_CHECK(!same_bytes(fast, other), "%s: --fast seeds 7 and 8 gave the same file", types[i]);
        T_EQ_INT(file_size(other), file_size(fast));
        T_CHECK(!same_bytes(fast, slow), "%s: --fast wrote the slow path's bytes", types[i]);
        sy_check_runs(slow);
        sy_check_runs(fast);
    }
    return t_done();
}
