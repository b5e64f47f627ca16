/*
 * synth_quantize_test.c - `chord quantize` re-quantizes tensor by tensor:
 *
 *  - it picks the tensor types llama.cpp picks: the shared F16 model to
 *    Q8_0 and Q4_0 has the layout of the shared Q8_0 and Q4_0 models (the
 *    latter's 128-column output matrix at Q8_0), the Q6_K model to Q4_K_M
 *    the layout of the shared Q4_K_M model (Q6_K output, attn_v and
 *    ffn_down in layers 2 and 3);
 *  - it quantizes as well as llama.cpp: the NRMSE of our file's logits
 *    against the source model's is at most 1.1 x that of the shared file
 *    llama.cpp made (measured: Q8_0 0.0134 vs 0.0138, Q4_0 0.145 vs
 *    0.145, Q4_K_M from Q6_K 0.126 vs 0.128), and below a hard cap;
 *  - a tensor already of the target type is copied byte for byte, and
 *    every metadata key is kept;
 *  - usage errors exit 2, a missing input exits 1, and no partial output
 *    is left behind.
 */
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "synth_common.h"
#include "t.h"

static const chord_token TOKS[] = {1, 450, 4996, 17354, 1701, 432, 2074, 310,
                                   278, 17366, 11203, 29889, 13, 1576, 29871, 30010};
#define N_TOKS ((int)(sizeof TOKS / sizeof TOKS[0]))

/* Quantizes src to type and checks the layout against ref (llama.cpp's
 * file of that type) and the logits against src's: no worse than ref's,
 * and within the cap. */
static void check_quantized(const char *src, const char *type, const char *ref, double bound)
{
    char out[4200], args[9000];
    snprintf(out, sizeof out, "%s/%s.gguf", t_tmpdir(), type);
    snprintf(args, sizeof args, "quantize '%s' '%s' %s", src, out, type);
    if (sy_chord(args) != 0) {
        t_fail_at(__FILE__, __LINE__, "chord %s failed", args);
        return;
    }
    T_EQ_INT(sy_same_layout(out, ref), 0);
    int nv = 0, nv2 = 0;
    float *want = sy_logits(src, TOKS, N_TOKS, &nv);
    float *got = sy_logits(out, TOKS, N_TOKS, &nv2);
    int nv3 = 0;
    float *theirs = sy_logits(ref, TOKS, N_TOKS, &nv3);
    if (want && got && theirs && nv == nv2 && nv == nv3) {
        double e = sy_nrmse(got, want, (size_t)N_TOKS * (size_t)nv);
        double e_ref = sy_nrmse(theirs, want, (size_t)N_TOKS * (size_t)nv);
        printf("%s -> %s: logits NRMSE %.4g (llama.cpp's file: %.4g; cap %.3g)\n", src, type, e,
               e_ref, bound);
        T_CHECK(e <= 1.1 * e_ref, "%s -> %s: logits NRMSE %.4g > 1.1 x llama.cpp's %.4g", src,
                type, e, e_ref);
        T_CHECK(e <= bound, "%s -> %s: logits NRMSE %.4g > %.4g", src, type, e, bound);
    }
    free(want);
    free(got);
    free(theirs);
}

/* Every tensor of a and b has the same bytes, and every key of b is in a. */
static void check_same_bytes(const char *a_path, const char *b_path)
{
    gguf_file *a = NULL, *b = NULL;
    chord_err err;
    if (gguf_open(a_path, &a, &err) != CHORD_OK || gguf_open(b_path, &b, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", err.msg);
        gguf_close(a);
        return;
    }
    size_t al, bl;
    char *ab = t_read_file(a_path, &al), *bb = t_read_file(b_path, &bl);
    for (uint64_t i = 0; ab && bb && i < b->n_tensors; i++) {
        const gguf_tensor *bt = &b->tensors[i], *at = gguf_find_tensor(a, bt->name);
        T_CHECK(at && at->nbytes == bt->nbytes && memcmp(ab + at->offset, bb + bt->offset, bt->nbytes) == 0,
                "%s: tensor '%s' is not a verbatim copy", a_path, bt->name);
    }
    for (uint64_t i = 0; i < b->n_kv; i++)
        T_CHECK(gguf_find(a, b->kv[i].key) != NULL, "%s: key '%s' lost", a_path, b->kv[i].key);
    int64_t ft = -1;
    T_CHECK(gguf_get_int(a, "general.file_type", &ft) && ft == 7, "%s: general.file_type %lld, want 7 (Q8_0)",
            a_path, (long long)ft);
    free(ab);
    free(bb);
    gguf_close(a);
    gguf_close(b);
}

int main(void)
{
    const char *f16 = t_shared("models/a-spm-f16.gguf");
    const char *q8 = t_shared("models/a-spm-q8_0.gguf");
    const char *q4 = t_shared("models/a-spm-q4_0.gguf");
    const char *q6k = t_shared("models/b-spm-q6_k.gguf");
    const char *q4km = t_shared("models/b-spm-q4_k_m.gguf");
    const char *dir = t_tmpdir();

    check_quantized(f16, "Q8_0", q8, 0.02);
    check_quantized(f16, "Q4_0", q4, 0.2);
    check_quantized(q6k, "Q4_K_M", q4km, 0.2);

    char out[4200], args[9000];
    snprintf(out, sizeof out, "%s/again.gguf", dir);
    snprintf(args, sizeof args, "quantize '%s' '%s' q8_0", q8, out);
    T_EQ_INT(sy_chord(args), 0);
    check_same_bytes(out, q8);

    snprintf(out, sizeof out, "%s/x.gguf", dir);
    snprintf(args, sizeof args, "quantize '%s' '%s' Q9_9", f16, out);
    T_EQ_INT(sy_chord(args), 2);
    snprintf(args, sizeof args, "quantize '%s' '%s'", f16, out);
    T_EQ_INT(sy_chord(args), 2);
    snprintf(args, sizeof args, "quantize '%s' '%s' Q8_0", f16, f16);
    T_EQ_INT(sy_chord(args), 2);  /* would overwrite its input */
    snprintf(args, sizeof args, "quantize '%s/missing.gguf' '%s' Q8_0", dir, out);
    T_EQ_INT(sy_chord(args), 1);
    size_t len;
    char *left = t_read_file(out, &len);
    T_CHECK(!left, "a failed run left %s behind", out);
    free(left);
    return t_done();
}
