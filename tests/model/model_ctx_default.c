/*
 * model_ctx_default.c - the context a model gets when none is asked for:
 * its own context_length where half the memory left after the weights
 * holds its KV cache (a 131072-token model of 768 bytes a position), else
 * the positions that half holds; a context the caller sizes carries no
 * note. Synthetic models only: runs on any checkout.
 */
#include <stdio.h>
#include <string.h>

#include "chord.h"
#include "t.h"

static chord_model *synth_load(const char *path, int ctx_len)
{
    chord_synth_params sp = {.arch = "llama", .dim = 128, .layers = 3, .heads = 4, .kv_heads = 2,
                             .ffn = 256, .vocab = 512, .type = "Q8_0", .seed = 7, .ctx_len = ctx_len,
                             .fast = true};
    chord_err err;
    if (chord_synth(&sp, path, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "synth: %s", err.msg);
        return NULL;
    }
    chord_model_params mp = chord_model_default_params();
    chord_model *m = NULL;
    if (chord_model_load(path, &mp, &m, &err) != CHORD_OK)
        t_fail_at(__FILE__, __LINE__, "load: %s", err.msg);
    return m;
}

int main(void)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/ctx131072.gguf", t_tmpdir());
    chord_model *m = synth_load(path, 131072);
    if (!m)
        return t_done();

    chord_ctx_params cp = chord_ctx_default_params();
    T_EQ_INT(cp.n_ctx, 0);
    chord_ctx *c = NULL;
    chord_err err;
    const int64_t avail = chord_mem_available();
    T_EQ_INT(chord_ctx_new(m, &cp, &c, &err), CHORD_OK);
    if (c) {
        bool capped = true;
        const char *note = chord_ctx_size_note(c, &capped);
        const int n = chord_ctx_n_ctx(c);
        /* 3 layers x K and V of 2 heads x 32 halves: 768 bytes a
         * position, 96 MiB for the model's own context */
        const int64_t kv = (int64_t)131072 * 768;
        printf("MemAvailable %lld, n_ctx %d: %s\n", (long long)avail, n, note);
        if (avail < 0 || avail / 2 > 2 * kv) {
            T_EQ_INT(n, avail < 0 ? 4096 : 131072);
            T_CHECK(!capped, "the context was not capped");
            T_CHECK(strstr(note, avail < 0 ? "4096" : "131072 tokens (the model's own") != NULL, "note: %s", note);
        } else {
            /* a machine this short of memory: what half of it holds */
            T_CHECK(capped, "capped");
            T_CHECK(n % 256 == 0 && n < 131072, "n_ctx %d", n);
            T_CHECK((int64_t)n * 768 <= avail / 2 || n == 256, "n_ctx %d", n);
        }
        chord_ctx_free(c);
    }

    /* asked for: exactly that, and nothing to say */
    cp.n_ctx = 300;
    T_EQ_INT(chord_ctx_new(m, &cp, &c, &err), CHORD_OK);
    if (c) {
        bool capped = true;
        T_EQ_INT(chord_ctx_n_ctx(c), 300);
        T_EQ_STR(chord_ctx_size_note(c, &capped), "");
        T_CHECK(!capped, "the context was not capped");
        chord_ctx_free(c);
    }
    chord_model_free(m);
    remove(path);
    return t_done();
}
