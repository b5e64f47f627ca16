/*
 * gguf_summary.c - chord_gguf_summarize(): the one-line facts `chord
 * models` shows of a GGUF file, from its header alone.
 *
 * gguf_open parses the metadata and the tensor table and never touches
 * tensor data, so listing a shelf of multi-gigabyte models costs a few
 * header reads, not their size.
 */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "gguf/gguf.h"
#include "quant/quant_types.h"

int gguf_main_type(const gguf_file *f)
{
    /* the layers' matrices decide: norms and biases are always F32, and
     * quantizers often keep the embedding or output at a higher precision
     * than the "Q4_K_M" a file is named after; the embedding's type wins
     * ties (and stands alone in a file without layers) */
    int count[QT_COUNT] = {0};
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        if (t->n_dims >= 2 && gguf_tensor_layer(t->name) >= 0 && t->type >= 0 && t->type < QT_COUNT)
            count[t->type]++;
    }
    const gguf_tensor *embd = gguf_find_tensor(f, "token_embd.weight");
    int best = embd && embd->type >= 0 && embd->type < QT_COUNT ? embd->type : 0;
    for (int t = 0; t < QT_COUNT; t++)
        if (count[t] > count[best])
            best = t;
    return best;
}

chord_status chord_gguf_summarize(const char *path, chord_gguf_summary *out, chord_err *err)
{
    chord_init();
    memset(out, 0, sizeof *out);
    gguf_file *f = NULL;
    chord_status st = gguf_open(path, &f, err);
    if (st)
        return st;
    const char *s = gguf_get_str(f, "general.architecture");
    snprintf(out->arch, sizeof out->arch, "%s", s ? s : "");
    s = gguf_get_str(f, "general.name");
    snprintf(out->name, sizeof out->name, "%s", s ? s : "");
    for (uint64_t i = 0; i < f->n_tensors; i++)
        out->n_params += gguf_tensor_nelem(&f->tensors[i]);
    if (f->n_tensors) {
        const quant_traits *q = quant_traits_of(gguf_main_type(f));
        snprintf(out->type_name, sizeof out->type_name, "%s", q ? q->name : "?");
    }
    out->file_bytes = (int64_t)f->file_size;
    int64_t v;
    if (gguf_get_int(f, "split.count", &v) && v > 1 && v <= 99999) {
        out->split_count = (int)v;
        if (gguf_get_int(f, "split.no", &v) && v >= 0 && v < out->split_count)
            out->split_no = (int)v;
    }
    gguf_close(f);
    return CHORD_OK;
}
