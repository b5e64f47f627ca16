/*
 * gguf_inspect.c - chord_inspect(): a readable description of a GGUF file.
 *
 * Sections: the header, one line per metadata key, a summary of the model
 * those keys describe, the tensor table, totals by tensor type, and the
 * per-layer byte sizes as the layer cache groups
 * them ("global" = every tensor not named blk.N.*, then each layer N).
 * Output errors (a closed pipe) are reported as CHORD_E_IO.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "gguf/gguf.h"
#include "quant/quant_types.h"

#define STR_SHOW 64   /* bytes of a string value shown before truncating */
#define ARR_SHOW 5    /* array elements shown */

/* Writes at most max of the n bytes of s with control bytes, quotes and
 * backslashes escaped, so every key and tensor stays on one line. */
static void put_escaped(FILE *out, const char *s, uint64_t n, uint64_t max)
{
    for (uint64_t i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
}

/* A string value: quoted, cut at max bytes with its full length noted. */
static void put_quoted(FILE *out, const char *s, uint64_t n, uint64_t max)
{
    /* cut on a character boundary, not inside a UTF-8 sequence */
    while (max > 0 && max < n && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    fputc('"', out);
    put_escaped(out, s, n, max);
    fputc('"', out);
    if (n > max)
        fprintf(out, "... (%" PRIu64 " bytes)", n);
}

/* A key or tensor name, left-aligned in width columns. */
static void put_name(FILE *out, const char *s, int width)
{
    size_t n = strlen(s);
    fputs("  ", out);
    put_escaped(out, s, n, n);
    for (size_t i = n; i < (size_t)width; i++)
        fputc(' ', out);
    fputc(' ', out);
}

/* One numeric element of type t from packed host-order bytes p. */
static void put_number(FILE *out, gguf_vtype t, const void *p)
{
    switch (t) {
    case GGUF_UINT8: fprintf(out, "%u", *(const uint8_t *)p); break;
    case GGUF_INT8: fprintf(out, "%d", *(const int8_t *)p); break;
    case GGUF_UINT16: fprintf(out, "%u", *(const uint16_t *)p); break;
    case GGUF_INT16: fprintf(out, "%d", *(const int16_t *)p); break;
    case GGUF_UINT32: fprintf(out, "%" PRIu32, *(const uint32_t *)p); break;
    case GGUF_INT32: fprintf(out, "%" PRId32, *(const int32_t *)p); break;
    case GGUF_UINT64: fprintf(out, "%" PRIu64, *(const uint64_t *)p); break;
    case GGUF_INT64: fprintf(out, "%" PRId64, *(const int64_t *)p); break;
    case GGUF_FLOAT32: fprintf(out, "%.9g", *(const float *)p); break;
    case GGUF_FLOAT64: fprintf(out, "%.17g", *(const double *)p); break;
    case GGUF_BOOL: fputs(*(const uint8_t *)p ? "true" : "false", out); break;
    default: fputc('?', out); break;
    }
}

static void put_kv(FILE *out, const gguf_kv *kv, int width)
{
    put_name(out, kv->key, width);
    if (kv->type == GGUF_STRING) {
        fprintf(out, "%-6s ", "str");
        put_quoted(out, kv->str, kv->str_len, STR_SHOW);
    } else if (kv->type == GGUF_ARRAY) {
        fprintf(out, "[%" PRIu64 " x %s]", kv->arr_n, gguf_vtype_name(kv->arr_type));
        size_t esz = gguf_vtype_size(kv->arr_type);
        for (uint64_t i = 0; i < kv->arr_n && i < ARR_SHOW; i++) {
            fputs(i ? ", " : " ", out);
            if (kv->arr_type == GGUF_STRING)
                put_quoted(out, ((char **)kv->arr)[i], kv->arr_lens[i], 24);
            else
                put_number(out, kv->arr_type, (const uint8_t *)kv->arr + i * esz);
        }
        if (kv->arr_n > ARR_SHOW)
            fputs(", ...", out);
    } else {
        fprintf(out, "%-6s ", gguf_vtype_name(kv->type));
        switch (kv->type) {
        case GGUF_FLOAT32: case GGUF_FLOAT64: fprintf(out, "%.9g", kv->num.f); break;
        case GGUF_BOOL: fputs(kv->num.b ? "true" : "false", out); break;
        case GGUF_INT8: case GGUF_INT16: case GGUF_INT32: case GGUF_INT64:
            fprintf(out, "%" PRId64, kv->num.i);
            break;
        default: fprintf(out, "%" PRIu64, kv->num.u); break;
        }
    }
    fputc('\n', out);
}

static const char *type_name(int type)
{
    const quant_traits *q = quant_traits_of(type);
    return q ? q->name : "?";
}

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static void put_tensors(FILE *out, const gguf_file *f)
{
    /* a split model's offsets are in the tensor's part: say which */
    bool split = f->n_parts > 1;
    fprintf(out, "\ntensors (%" PRIu64 "):\n", f->n_tensors);
    fprintf(out, "  %-32s %-5s %-24s %s%12s %12s\n", "name", "type", "shape", split ? " part" : "",
            "offset", "bytes");
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char shape[64] = "";
        size_t n = 0;
        for (int d = 0; d < t->n_dims && n < sizeof shape; d++)
            n += (size_t)snprintf(shape + n, sizeof shape - n, "%s%" PRId64, d ? " x " : "", t->ne[d]);
        put_name(out, t->name, 32);
        fprintf(out, "%-5s %-24s ", type_name(t->type), shape);
        if (split)
            fprintf(out, "%5d", t->part + 1);
        fprintf(out, "%12" PRIu64 " %12" PRIu64 "\n", t->offset, t->nbytes);
    }
    /* totals by type: type ids are below QT_COUNT (the reader checked) */
    uint64_t count[QT_COUNT] = {0}, bytes[QT_COUNT] = {0};
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        count[f->tensors[i].type]++;
        bytes[f->tensors[i].type] += f->tensors[i].nbytes;
    }
    fputs("\ntotals by type:\n", out);
    for (int q = 0; q < QT_COUNT; q++)
        if (count[q])
            fprintf(out, "  %-5s %6" PRIu64 " tensors %14" PRIu64 " bytes %6.2f%% of file\n",
                    type_name(q), count[q], bytes[q], pct(bytes[q], f->file_size));
}

typedef struct layer_sum {
    int layer;        /* -1 = global */
    uint64_t n, bytes;
} layer_sum;

static int cmp_layer(const void *a, const void *b)
{
    int x = ((const layer_sum *)a)->layer, y = ((const layer_sum *)b)->layer;
    return (x > y) - (x < y);
}

/* Per-layer sizes: sorted (layer, bytes) entries merged by layer, so a
 * hostile "blk.999999999.x" name costs nothing. */
static chord_status put_layers(FILE *out, const gguf_file *f, chord_err *err)
{
    layer_sum *s = malloc((size_t)(f->n_tensors ? f->n_tensors : 1) * sizeof *s);
    if (!s)
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory", f->path);
    for (uint64_t i = 0; i < f->n_tensors; i++)
        s[i] = (layer_sum){gguf_tensor_layer(f->tensors[i].name), 1, f->tensors[i].nbytes};
    qsort(s, (size_t)f->n_tensors, sizeof *s, cmp_layer);
    fputs("\nlayers (as the layer cache groups them):\n", out);
    uint64_t total = 0, n_layers = 0, max_layer = 0;
    if (!f->n_tensors || s[0].layer >= 0)
        fprintf(out, "  %-10s %5d tensors %14d bytes\n", "global", 0, 0);
    for (uint64_t i = 0; i < f->n_tensors;) {
        layer_sum g = {s[i].layer, 0, 0};
        for (; i < f->n_tensors && s[i].layer == g.layer; i++) {
            g.n++;
            g.bytes += s[i].bytes;
        }
        char label[24];
        if (g.layer < 0)
            snprintf(label, sizeof label, "global");
        else
            snprintf(label, sizeof label, "layer %d", g.layer);
        fprintf(out, "  %-10s %5" PRIu64 " tensors %14" PRIu64 " bytes\n", label, g.n, g.bytes);
        if (g.layer >= 0) {
            n_layers++;
            if (g.bytes > max_layer)
                max_layer = g.bytes;
        }
        total += g.bytes;
    }
    free(s);
    fprintf(out, "\ntotal: %" PRIu64 " tensors, %" PRIu64 " bytes (%.2f%% of file), "
            "%" PRIu64 " layers, largest layer %" PRIu64 " bytes\n",
            f->n_tensors, total, pct(total, f->file_size), n_layers, max_layer);
    return CHORD_OK;
}

/* "<arch>.<suffix>" as an integer or a float; false when absent. */
static bool arch_int(const gguf_file *f, const char *arch, const char *suffix, int64_t *v)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return gguf_get_int(f, key, v);
}

static bool arch_float(const gguf_file *f, const char *arch, const char *suffix, double *v)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return gguf_get_float(f, key, v);
}

static bool has_tensor(const gguf_file *f, const char *name)
{
    return gguf_find_tensor(f, name) != NULL;
}

/* A few lines on the model the metadata describes, for what the raw keys
 * leave to arithmetic: heads x head size against the width, the KV
 * grouping, local layers' rope base and window, soft-caps, LongRoPE's
 * stretch, a tied output, and what a block holds beyond llama's. Only
 * keys and tensor names are read: no family's defaults are assumed. */
static void put_model(FILE *out, const gguf_file *f)
{
    const char *arch = gguf_get_str(f, "general.architecture");
    int64_t embd, layers, heads, kv = 0, ffn = 0, ctx = 0, hd = 0, rot = 0, win, orig;
    if (!arch || !arch_int(f, arch, "embedding_length", &embd) ||
        !arch_int(f, arch, "block_count", &layers) || !arch_int(f, arch, "attention.head_count", &heads) ||
        heads < 1)
        return;
    const gguf_kv *toks = gguf_find_array(f, "tokenizer.ggml.tokens", GGUF_STRING);
    const gguf_tensor *emb = gguf_find_tensor(f, "token_embd.weight");
    arch_int(f, arch, "feed_forward_length", &ffn);
    arch_int(f, arch, "context_length", &ctx);
    if (!arch_int(f, arch, "attention.head_count_kv", &kv))
        kv = heads;
    if (!arch_int(f, arch, "attention.key_length", &hd))
        hd = embd / heads;
    if (!arch_int(f, arch, "rope.dimension_count", &rot))
        rot = hd;
    fputs("\nmodel (from its metadata):\n", out);
    fprintf(out, "  %s: %" PRId64 " layers, width %" PRId64 ", feed-forward %" PRId64
            ", vocabulary %" PRId64 ", context %" PRId64 "\n", arch, layers, embd, ffn,
            toks ? (int64_t)toks->arr_n : emb ? emb->ne[1] : 0, ctx);
    fprintf(out, "  attention: %" PRId64 " heads x %" PRId64 " (%" PRId64 " wide%s), %" PRId64
            " KV head%s", heads, hd, heads * hd, heads * hd == embd ? ", the width" : "", kv,
            kv == 1 ? "" : "s");
    if (kv > 0 && heads % kv == 0 && kv < heads)
        fprintf(out, " (%" PRId64 " queries each)", heads / kv);
    fputc('\n', out);
    double base = 0, base_swa = 0, cap = 0, fcap = 0, mscale = 0;
    fputs("  rope: ", out);
    if (arch_float(f, arch, "rope.freq_base", &base))
        fprintf(out, "base %.9g", base);
    else
        fputs("base not given (the default)", out);
    if (arch_float(f, arch, "rope.freq_base_swa", &base_swa))
        fprintf(out, " (local layers %.9g)", base_swa);
    fprintf(out, ", %" PRId64 " of %" PRId64 " dims rotated per head\n", rot, hd);
    if (arch_int(f, arch, "attention.sliding_window", &win)) {
        int64_t pattern;
        fprintf(out, "  sliding window: %" PRId64 " positions", win);
        if (arch_int(f, arch, "attention.sliding_window_pattern", &pattern))
            fprintf(out, ", pattern %" PRId64, pattern);
        fputc('\n', out);
    }
    bool has_cap = arch_float(f, arch, "attn_logit_softcapping", &cap);
    bool has_fcap = arch_float(f, arch, "final_logit_softcapping", &fcap);
    if (has_cap || has_fcap) {
        fputs("  soft-capping:", out);
        if (has_cap)
            fprintf(out, " attention scores %.9g", cap);
        if (has_fcap)
            fprintf(out, "%s logits %.9g", has_cap ? "," : "", fcap);
        fputc('\n', out);
    }
    if (arch_int(f, arch, "rope.scaling.original_context_length", &orig)) {
        /* a scaling type of its own (yarn) or LongRoPE's factor tensors */
        char key[160];
        snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
        const char *stype = gguf_get_str(f, key);
        fprintf(out, "  %s: trained at %" PRId64 ", stretched x%.3g to %" PRId64,
                stype && !strcmp(stype, "yarn") ? "YaRN" : stype ? stype : "LongRoPE", orig,
                orig > 0 ? (double)ctx / (double)orig : 0.0, ctx);
        if (arch_float(f, arch, "rope.scaling.attn_factor", &mscale))
            fprintf(out, ", attention factor %.9g", mscale);
        const gguf_tensor *lf = gguf_find_tensor(f, "rope_factors_long.weight");
        if (lf && has_tensor(f, "rope_factors_short.weight"))
            fprintf(out, ", long and short factors (%" PRId64 " each)", lf->ne[0]);
        fputc('\n', out);
    }
    if (emb)
        fprintf(out, "  output: %s\n", has_tensor(f, "output.weight")
                                           ? "its own matrix (output.weight)"
                                           : "tied to token_embd (no output.weight)");
    /* what layer 0 holds beyond attn_norm, q/k/v, attn_output, ffn_norm,
     * gate, up, down */
    static const struct { const char *name; const char *what; } extras[] = {
        {"blk.0.attn_q.bias", "q/k/v biases"}, {"blk.0.attn_qkv.weight", "fused q/k/v"},
        {"blk.0.attn_q_norm.weight", "q/k norms"},
        {"blk.0.post_attention_norm.weight", "post-attention norm"},
        {"blk.0.post_ffw_norm.weight", "post-FFN norm"},
    };
    int n = 0;
    fputs("  block (layer 0): llama's", out);
    for (size_t i = 0; i < sizeof extras / sizeof *extras; i++)
        if (has_tensor(f, extras[i].name))
            fprintf(out, "%s %s", n++ ? "," : " plus", extras[i].what);
    if (has_tensor(f, "blk.0.ffn_up.weight") && !has_tensor(f, "blk.0.ffn_gate.weight"))
        fprintf(out, "%s fused gate+up (no ffn_gate)", n++ ? "," : " plus");
    fputc('\n', out);
}

chord_status chord_inspect(const char *path, FILE *out, chord_err *err)
{
    chord_init();
    gguf_file *f;
    chord_status st = gguf_open(path, &f, err);
    if (st)
        return st;
    fprintf(out, "file:        %s\n", f->path);
    fprintf(out, "size:        %" PRIu64 " bytes\n", f->file_size);
    fprintf(out, "version:     %" PRIu32 "\n", f->version);
    fprintf(out, "alignment:   %" PRIu32 "\n", f->alignment);
    fprintf(out, "data offset: %" PRIu64 "\n", f->data_offset);
    if (f->n_parts > 1) {
        fprintf(out, "split:       %d parts (size is their total)\n", f->n_parts);
        for (int i = 0; i < f->n_parts; i++)
            fprintf(out, "  part %-4d %s: %" PRIu64 " bytes, %" PRIu64 " tensors, data at %" PRIu64 "\n",
                    i + 1, f->parts[i].path, f->parts[i].file_size, f->parts[i].n_tensors,
                    f->parts[i].data_offset);
    }
    fprintf(out, "\nmetadata (%" PRIu64 " keys):\n", f->n_kv);
    /* keys line up in one column, however long the longest (phi3's
     * rope.scaling.original_context_length is 41 bytes), up to a limit */
    int width = 40;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        size_t n = strlen(f->kv[i].key);
        if (n > (size_t)width && n <= 64)
            width = (int)n;
    }
    for (uint64_t i = 0; i < f->n_kv; i++)
        put_kv(out, &f->kv[i], width);
    put_model(out, f);
    put_tensors(out, f);
    st = put_layers(out, f, err);
    if (!st && (fflush(out) != 0 || ferror(out)))
        st = err_errno(err, CHORD_E_IO, errno ? errno : EIO, "%s: writing the description failed",
                       path);
    gguf_close(f);
    return st;
}
