/*
 * synth_quantize.c - chord_quantize: re-quantizes a GGUF model tensor by
 * tensor. Metadata is copied as is (general.file_type becomes the
 * target's);
 * matrices get the target type (with the mixes of synth_tensor_type),
 * vectors become F32, and a tensor that already has its target type is
 * copied byte for byte (no second rounding).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "quant/quant.h"
#include "synth/synth.h"

/* Reads exactly n bytes at off. */
static chord_status read_at(int fd, const char *path, const char *tensor, void *buf, size_t n,
                            uint64_t off, chord_err *err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return err_errno(err, CHORD_E_IO, errno, "%s: tensor '%s': read at offset %llu", path,
                             tensor, (unsigned long long)(off + got));
        if (r == 0)
            return err_set(err, CHORD_E_FORMAT, "%s: tensor '%s': file ends at offset %llu",
                           path, tensor, (unsigned long long)(off + got));
        got += (size_t)r;
    }
    return CHORD_OK;
}

/* Converts one tensor a chunk of rows at a time (about 1 MiB of floats). */
static chord_status convert(gguf_writer *w, int fd, const char *path, const gguf_tensor *t,
                            int dst_type, chord_err *err)
{
    int64_t ne0 = t->ne[0];
    int64_t rows = ne0 > 0 ? gguf_tensor_nelem(t) / ne0 : 0;
    size_t src_rb = quant_row_bytes(t->type, ne0), dst_rb = quant_row_bytes(dst_type, ne0);
    if (!src_rb || !dst_rb || (uint64_t)src_rb * (uint64_t)rows != t->nbytes)
        return err_set(err, CHORD_E_FORMAT, "%s: tensor '%s' at offset %llu: %llu bytes do not match its type and shape",
                       path, t->name, (unsigned long long)t->offset, (unsigned long long)t->nbytes);
    int64_t chunk = (int64_t)((1u << 20) / ((size_t)ne0 * sizeof(float)));
    chunk = chunk < 1 ? 1 : chunk > rows ? (rows > 0 ? rows : 1) : chunk;
    uint8_t *src = malloc((size_t)chunk * src_rb);
    uint8_t *dst = malloc((size_t)chunk * dst_rb);
    float *f = malloc((size_t)ne0 * sizeof *f);
    chord_status st = CHORD_OK;
    if (!src || !dst || !f)
        st = err_set(err, CHORD_E_NOMEM, "%s: tensor '%s': out of memory", path, t->name);
    for (int64_t r = 0; r < rows && st == CHORD_OK; r += chunk) {
        int64_t nr = rows - r < chunk ? rows - r : chunk;
        st = read_at(fd, path, t->name, src, (size_t)nr * src_rb,
                     t->offset + (uint64_t)r * src_rb, err);
        if (st != CHORD_OK)
            break;
        if (dst_type == t->type) {
            st = gguf_writer_write(w, src, (size_t)nr * src_rb, err);
            continue;
        }
        for (int64_t i = 0; i < nr; i++) {
            quant_dequant_row(t->type, src + (size_t)i * src_rb, f, ne0);
            quant_quantize_row(dst_type, f, dst + (size_t)i * dst_rb, ne0);
        }
        st = gguf_writer_write(w, dst, (size_t)nr * dst_rb, err);
    }
    free(src);
    free(dst);
    free(f);
    return st;
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

chord_status chord_quantize(const char *in_path, const char *out_path, const char *type,
                            chord_err *err)
{
    chord_init();
    if (!in_path || !out_path)
        return err_set(err, CHORD_E_INVALID, "chord_quantize: missing input or output path");
    synth_ftype ft;
    chord_status st = synth_parse_ftype(type, false, &ft, err);
    if (st != CHORD_OK)
        return st;
    if (same_file(in_path, out_path))
        return err_set(err, CHORD_E_INVALID, "%s: output would overwrite the input", out_path);
    gguf_file *f = NULL;
    if ((st = gguf_open(in_path, &f, err)) != CHORD_OK)
        return st;
    /* a split model's tensors are read from their parts; the output is one file */
    int *fd = malloc((size_t)f->n_parts * sizeof *fd);
    for (int i = 0; fd && i < f->n_parts; i++)
        fd[i] = -1;
    for (int i = 0; fd && i < f->n_parts && st == CHORD_OK; i++)
        if ((fd[i] = open(f->parts[i].path, O_RDONLY | O_CLOEXEC)) < 0)
            st = err_errno(err, CHORD_E_IO, errno, "%s: open", f->parts[i].path);
    int *types = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *types);
    gguf_writer *w = NULL;
    if (st == CHORD_OK && (!types || !fd))
        st = err_set(err, CHORD_E_NOMEM, "%s: out of memory", in_path);
    if (st == CHORD_OK)
        st = gguf_writer_open(out_path, &w, err);
    if (st == CHORD_OK) {
        int n_layer = 0;
        for (uint64_t i = 0; i < f->n_tensors; i++) {
            int il = gguf_tensor_layer(f->tensors[i].name);
            n_layer = il + 1 > n_layer ? il + 1 : n_layer;
        }
        bool tied = !gguf_find_tensor(f, "output.weight");
        /* the file type is the target's now (or unnamed) */
        for (uint64_t i = 0; i < f->n_kv; i++)
            if (strcmp(f->kv[i].key, "general.file_type") && strncmp(f->kv[i].key, "split.", 6))
                gguf_writer_kv_copy(w, &f->kv[i]);
        if (synth_ftype_id(&ft) >= 0)
            gguf_writer_kv_u32(w, "general.file_type", (uint32_t)synth_ftype_id(&ft));
        for (uint64_t i = 0; i < f->n_tensors && st == CHORD_OK; i++) {
            const gguf_tensor *t = &f->tensors[i];
            const quant_traits *qt = quant_traits_of(t->type);
            if (!qt || !qt->supported)
                st = err_set(err, CHORD_E_UNSUPPORTED, "%s: tensor '%s' at offset %llu: type %s cannot be converted",
                             in_path, t->name, (unsigned long long)t->offset, qt ? qt->name : "unknown");
            /* a tied embedding (no output.weight: gemma) is the output
             * matrix too and gets its type, as llama.cpp gives it */
            const char *as = tied && !strcmp(t->name, "token_embd.weight") ? "output.weight" : t->name;
            types[i] = synth_tensor_type(&ft, as, t->n_dims, t->ne[0],
                                         gguf_tensor_layer(t->name), n_layer);
            gguf_writer_tensor(w, t->name, types[i], t->n_dims, t->ne);
        }
        if (st == CHORD_OK)
            st = gguf_writer_begin_data(w, err);
        for (uint64_t i = 0; i < f->n_tensors && st == CHORD_OK; i++)
            st = convert(w, fd[f->tensors[i].part], f->parts[f->tensors[i].part].path,
                         &f->tensors[i], types[i], err);
        if (st == CHORD_OK) {
            st = gguf_writer_close(w, err);
        } else {
            gguf_writer_abort(w);
        }
    }
    free(types);
    for (int i = 0; fd && i < f->n_parts; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    free(fd);
    gguf_close(f);
    return st;
}
