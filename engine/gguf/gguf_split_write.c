/*
 * gguf_split_write.c - `chord split`: a model written as the parts of a
 * split model, and the parts merged back into one file (see chord.h).
 *
 * The parts are what llama.cpp's gguf-split writes, so either tool reads
 * the other's: the tensors in the input's order, cut into consecutive
 * runs; the first part carries every metadata key of the input, then
 * split.no (u16), split.count (u16) and split.tensors.count (i32); the
 * other parts only those three. Tensor bytes are copied a piece at a time
 * through the streaming writer, so memory stays at one buffer whatever the
 * model's size.
 *
 * The input may itself be split (gguf_open gathers its parts): its split
 * keys are dropped and the new ones written, so a model can be re-split or
 * merged. The merged file carries no split keys at all (llama.cpp's merge
 * keeps split.count = 0, which means the same), so splitting a file chord
 * wrote and merging it back gives the same bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "gguf/gguf.h"

#define COPY_PIECE ((size_t)4 << 20)

static bool is_split_key(const char *key)
{
    return !strncmp(key, "split.", 6);
}

/* Whether path is one of f's files (an output must never overwrite them). */
static bool is_input(const gguf_file *f, const char *path)
{
    struct stat a, b;
    if (stat(path, &a) != 0)
        return false;
    for (int i = 0; i < f->n_parts; i++)
        if (stat(f->parts[i].path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
            return true;
    return false;
}

/* The input's files, opened for reading tensor data. */
typedef struct src {
    const gguf_file *f;
    int *fd;
    uint8_t *buf;
} src;

static chord_status src_open(src *s, const gguf_file *f, chord_err *err)
{
    s->f = f;
    s->fd = malloc((size_t)f->n_parts * sizeof *s->fd);
    for (int i = 0; s->fd && i < f->n_parts; i++)
        s->fd[i] = -1;
    s->buf = malloc(COPY_PIECE);
    if (!s->fd || !s->buf)
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory", f->path);
    for (int i = 0; i < f->n_parts; i++)
        if ((s->fd[i] = open(f->parts[i].path, O_RDONLY | O_CLOEXEC)) < 0)
            return err_errno(err, CHORD_E_IO, errno, "%s: cannot open", f->parts[i].path);
    return CHORD_OK;
}

static void src_close(src *s)
{
    for (int i = 0; s->fd && i < s->f->n_parts; i++)
        if (s->fd[i] >= 0)
            close(s->fd[i]);
    free(s->fd);
    free(s->buf);
}

/* Streams tensor t's bytes from its part into w. */
static chord_status copy_tensor(src *s, const gguf_tensor *t, gguf_writer *w, chord_err *err)
{
    const char *path = s->f->parts[t->part].path;
    for (uint64_t done = 0; done < t->nbytes;) {
        size_t n = t->nbytes - done < COPY_PIECE ? (size_t)(t->nbytes - done) : COPY_PIECE;
        ssize_t got = pread(s->fd[t->part], s->buf, n, (off_t)(t->offset + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return err_errno(err, CHORD_E_IO, errno, "%s: tensor '%s': read at offset %" PRIu64,
                             path, t->name, t->offset + done);
        if (got == 0)
            return err_set(err, CHORD_E_IO, "%s: tensor '%s': file ends at offset %" PRIu64
                           " (changed while copying?)", path, t->name, t->offset + done);
        chord_status st = gguf_writer_write(w, s->buf, (size_t)got, err);
        if (st != CHORD_OK)
            return st;
        done += (uint64_t)got;
    }
    return CHORD_OK;
}

/* Writes tensors [lo, hi) of s's model to path: the model's metadata (no
 * split keys) when meta, then the split keys when count > 0. */
static chord_status write_file(src *s, const char *path, uint64_t lo, uint64_t hi, bool meta,
                               int no, int count, chord_err *err)
{
    const gguf_file *f = s->f;
    gguf_writer *w;
    chord_status st = gguf_writer_open(path, &w, err);
    if (st != CHORD_OK)
        return st;
    for (uint64_t i = 0; meta && i < f->n_kv; i++)
        if (!is_split_key(f->kv[i].key))
            gguf_writer_kv_copy(w, &f->kv[i]);
    if (count > 0) {
        uint16_t v = (uint16_t)no;
        gguf_writer_kv_scalar(w, GGUF_KEY_SPLIT_NO, GGUF_UINT16, &v);
        v = (uint16_t)count;
        gguf_writer_kv_scalar(w, GGUF_KEY_SPLIT_COUNT, GGUF_UINT16, &v);
        gguf_writer_kv_i32(w, GGUF_KEY_SPLIT_TENSORS, (int32_t)f->n_tensors);
    }
    for (uint64_t i = lo; i < hi; i++)
        gguf_writer_tensor(w, f->tensors[i].name, f->tensors[i].type, f->tensors[i].n_dims,
                           f->tensors[i].ne);
    st = gguf_writer_begin_data(w, err);
    for (uint64_t i = lo; i < hi && st == CHORD_OK; i++)
        st = copy_tensor(s, &f->tensors[i], w, err);
    if (st != CHORD_OK) {
        gguf_writer_abort(w);
        return st;
    }
    return gguf_writer_close(w, err);
}

/* Where each part begins: first[k] is the index of part k's first tensor
 * (first[count] = n_tensors). A part ends after max_tensors tensors, or
 * before the tensor that would take its data past max_bytes (each tensor
 * counted padded to the alignment, as llama.cpp counts); a tensor is never
 * cut, and a part never left empty (one tensor larger than max_bytes is a
 * part of its own). Returns the count. */
static int plan_parts(const gguf_file *f, int max_tensors, int64_t max_bytes, uint64_t *first)
{
    int count = 0;
    uint64_t in_part = 0, bytes = 0, a = f->alignment;
    first[0] = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        uint64_t padded = (f->tensors[i].nbytes + a - 1) / a * a;
        bool cut = in_part > 0 && ((max_tensors > 0 && in_part >= (uint64_t)max_tensors) ||
                                   (max_bytes > 0 && bytes + padded > (uint64_t)max_bytes));
        if (cut) {
            first[++count] = i;
            in_part = bytes = 0;
        }
        in_part++;
        bytes += padded;
    }
    first[++count] = f->n_tensors;
    return count;
}

chord_status chord_split(const char *in, const char *out_prefix, const chord_split_params *p,
                         FILE *out, chord_err *err)
{
    chord_init();
    if (!in || !out_prefix || !p || (p->max_tensors <= 0 && p->max_bytes <= 0))
        return err_set(err, CHORD_E_INVALID, "chord_split: needs an input, an output prefix and a limit");
    gguf_file *f;
    chord_status st = gguf_open(in, &f, err);
    if (st != CHORD_OK)
        return st;
    uint64_t *first = malloc((size_t)(f->n_tensors + 2) * sizeof *first);
    size_t plen = strlen(out_prefix) + 32;
    char *path = malloc(plen);
    src s = {0};
    int count = 0;
    if (!first || !path)
        st = err_set(err, CHORD_E_NOMEM, "%s: out of memory", in);
    else if ((count = plan_parts(f, p->max_tensors, p->max_bytes, first)) > 65535)
        st = err_set(err, CHORD_E_INVALID, "%s: %d parts: a split model has at most 65535", in, count);
    for (int k = 0; k < count && st == CHORD_OK; k++) {
        gguf_split_path(path, plen, out_prefix, k, count);
        if (is_input(f, path))
            st = err_set(err, CHORD_E_INVALID, "%s: output would overwrite the input", path);
    }
    if (st == CHORD_OK && !p->dry_run)
        st = src_open(&s, f, err);
    int written = 0;
    for (int k = 0; k < count && st == CHORD_OK; k++) {
        gguf_split_path(path, plen, out_prefix, k, count);
        uint64_t bytes = 0;
        for (uint64_t i = first[k]; i < first[k + 1]; i++)
            bytes += f->tensors[i].nbytes;
        if (!p->dry_run && (st = write_file(&s, path, first[k], first[k + 1], k == 0, k, count, err)))
            break;
        written = k + 1;
        if (out)
            fprintf(out, "%s %s: %" PRIu64 " tensors, %" PRIu64 " bytes of tensor data\n",
                    p->dry_run ? "would write" : "wrote", path, first[k + 1] - first[k], bytes);
    }
    /* a failed split leaves no parts behind: half a set is no model */
    for (int k = 0; st != CHORD_OK && !p->dry_run && k < written; k++) {
        gguf_split_path(path, plen, out_prefix, k, count);
        unlink(path);
    }
    src_close(&s);
    free(path);
    free(first);
    gguf_close(f);
    return st;
}

chord_status chord_merge(const char *in, const char *out_path, FILE *out, chord_err *err)
{
    chord_init();
    if (!in || !out_path)
        return err_set(err, CHORD_E_INVALID, "chord_merge: needs an input and an output");
    gguf_file *f;
    chord_status st = gguf_open(in, &f, err);
    if (st != CHORD_OK)
        return st;
    struct stat sb;
    src s = {0};
    if (!gguf_find(f, GGUF_KEY_SPLIT_COUNT))
        st = err_set(err, CHORD_E_INVALID, "%s: not a split model (no split.count): nothing to merge",
                     in);
    else if (stat(out_path, &sb) == 0)
        st = err_set(err, CHORD_E_INVALID, "%s: already exists (merge does not overwrite)", out_path);
    if (st == CHORD_OK)
        st = src_open(&s, f, err);
    if (st == CHORD_OK)
        st = write_file(&s, out_path, 0, f->n_tensors, true, 0, 0, err);
    if (st == CHORD_OK && out)
        fprintf(out, "wrote %s: %" PRIu64 " tensors from %d part%s\n", out_path, f->n_tensors,
                f->n_parts, f->n_parts == 1 ? "" : "s");
    src_close(&s);
    gguf_close(f);
    return st;
}
