/*
 * synth_readonly_test.c - `chord synth --fast` in the types chord reads
 * but cannot quantize to (IQ3_S, IQ3_XXS, IQ2_S, IQ2_XS, IQ2_XXS, IQ1_S,
 * IQ1_M), whose fast pool is random bytes with a chosen super-block half:
 *
 *  - without --fast the type is refused with the read-only message;
 *  - the layers' matrices have the type, the embedding and output Q6_K,
 *    and a matrix whose rows no 256-block divides falls back to IQ4_NL;
 *  - the weights, dequantized, have about the float weights' deviation
 *    (1 / sqrt(fan-in)), so the half was chosen, not left random;
 *  - the model loads and runs with finite, spread logits whose argmax
 *    moves with the position;
 *  - the bytes are deterministic for a seed and another seed changes them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "quant/quant.h"
#include "quant/quant_types.h"
#include "synth_common.h"
#include "t.h"

#define SHAPE "--arch llama --dim 256 --layers 2 --heads 8 --kv-heads 4 --ffn 768 --vocab 1000"

static bool same_bytes(const char *a, const char *b, size_t *size)
{
    size_t na = 0, nb = 0;
    char *x = t_read_file(a, &na), *y = t_read_file(b, &nb);
    bool same = x && y && na == nb && memcmp(x, y, na) == 0;
    *size = na == nb ? na : 0;
    free(x);
    free(y);
    return same;
}

/* Tensor types, and the deviation of every layer matrix against
 * 1 / sqrt(fan-in) (the float weights' deviation in synth). */
static void check_tensors(const char *path, int type, const char *tname)
{
    gguf_file *g = NULL;
    chord_err err;
    if (gguf_open(path, &g, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
        return;
    }
    size_t len = 0;
    char *bytes = t_read_file(path, &len);
    int matrices = 0;
    for (uint64_t i = 0; bytes && i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        if (t->n_dims < 2)
            continue;
        bool vocab = !strcmp(t->name, "token_embd.weight") || !strcmp(t->name, "output.weight");
        int want = vocab ? QT_Q6_K : type;
        T_CHECK(t->type == want, "%s: %s: tensor '%s' has type %d, want %d", tname, path, t->name,
                t->type, want);
        if (vocab || t->type != want || t->offset + t->nbytes > len)
            continue;
        matrices++;
        int64_t ne0 = t->ne[0], rows = (int64_t)(t->nbytes / quant_row_bytes(t->type, ne0));
        float *f = malloc((size_t)ne0 * sizeof *f);
        double sq = 0;
        for (int64_t r = 0; f && r < rows; r++) {
            quant_dequant_row(t->type, bytes + t->offset + (size_t)r * quant_row_bytes(t->type, ne0),
                              f, ne0);
            for (int64_t j = 0; j < ne0; j++)
                sq += (double)f[j] * f[j];
        }
        free(f);
        double sd = sqrt(sq / (double)(rows * ne0)) * sqrt((double)ne0);
        /* the half is rounded to 11 bits and the pool's rows are a sample */
        T_CHECK(sd > 0.9 && sd < 1.1, "%s: tensor '%s': deviation x sqrt(fan-in) %.3f, want 1",
                tname, t->name, sd);
    }
    T_EQ_INT(matrices, 2 * 7);
    free(bytes);
    gguf_close(g);
}

int main(void)
{
    static const struct { const char *name; int type; } types[] = {
        {"IQ3_S", QT_IQ3_S}, {"IQ3_XXS", QT_IQ3_XXS}, {"IQ2_S", QT_IQ2_S},
        {"IQ2_XS", QT_IQ2_XS}, {"IQ2_XXS", QT_IQ2_XXS}, {"IQ1_S", QT_IQ1_S},
        {"IQ1_M", QT_IQ1_M},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const char *tn = types[i].name;
        char args[512], name[64], cmd[9000];
        /* the slow path has no quantizer to run */
        snprintf(cmd, sizeof cmd, "'%s' synth " SHAPE " --type %s -o '%s/slow-%s.gguf' 2>&1",
                 t_chord_bin(), tn, t_tmpdir(), tn);
        char *out = NULL;
        int rc = t_run(cmd, &out);
        T_CHECK(rc != 0 && out && strstr(out, "is read-only"), "%s without --fast: exit %d: %s",
                tn, rc, out ? out : "");
        free(out);

        snprintf(args, sizeof args, SHAPE " --type %s --seed 7 --fast", tn);
        snprintf(name, sizeof name, "fast-%s", tn);
        const char *fast = sy_synth(name, args);
        snprintf(name, sizeof name, "fast2-%s", tn);
        const char *again = sy_synth(name, args);
        snprintf(args, sizeof args, SHAPE " --type %s --seed 8 --fast", tn);
        snprintf(name, sizeof name, "fast8-%s", tn);
        const char *other = sy_synth(name, args);
        if (!fast || !again || !other)
            continue;
        size_t n1 = 0, n2 = 0;
        T_CHECK(same_bytes(fast, again, &n1), "%s: --fast with seed 7 twice gave different files", tn);
        T_CHECK(!same_bytes(fast, other, &n2), "%s: --fast seeds 7 and 8 gave the same file", tn);
        T_CHECK(n2 > 0 && n2 == n1, "%s: seeds 7 and 8 gave sizes %zu and %zu", tn, n1, n2);
        check_tensors(fast, types[i].type, tn);
        sy_check_runs(fast);
    }

    /* ffn_down's rows of 800 take no 256-block: IQ4_NL, as llama.cpp
     * falls back */
    const char *odd = sy_synth("odd", "--arch llama --dim 256 --layers 1 --heads 8 --kv-heads 4 "
                                   "--ffn 800 --vocab 1000 --type IQ2_XS --fast");
    gguf_file *g = NULL;
    chord_err err;
    if (odd && gguf_open(odd, &g, &err) == CHORD_OK) {
        const gguf_tensor *down = gguf_find_tensor(g, "blk.0.ffn_down.weight");
        const gguf_tensor *up = gguf_find_tensor(g, "blk.0.ffn_up.weight");
        T_CHECK(down && down->type == QT_IQ4_NL, "ffn_down of rows of 800: type %d", down ? down->type : -1);
        T_CHECK(up && up->type == QT_IQ2_XS, "ffn_up of rows of 256: type %d", up ? up->type : -1);
        gguf_close(g);
        sy_check_runs(odd);
    } else if (odd) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
    }
    return t_done();
}
