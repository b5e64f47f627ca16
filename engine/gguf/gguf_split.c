/*
 * gguf_split.c - opening a split model as one gguf_file (see gguf.h).
 *
 * llama.cpp's gguf-split writes a model as PREFIX-00001-of-0000N.gguf ...
 * PREFIX-0000N-of-0000N.gguf. Every part is a complete GGUF file with its
 * own header and data section; split.no (u16, 0-based) and split.count
 * (u16) are in every part, split.tensors.count (i32) and the model's
 * metadata in the first. A tensor is whole in one part, at an offset
 * relative to that part's data section (the reader makes it absolute in
 * that file, as for any file).
 *
 * The set is found from the name, as llama.cpp finds it: the parts differ
 * only in their number, so opening any part locates the first. Nothing in
 * a part names its set, so a part of another model that happens to carry
 * the right number and count is caught only by what it holds: a tensor
 * count that does not add up, a tensor twice, or (later, in the model
 * loader) a tensor missing or of the wrong shape.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "gguf/gguf.h"

#define SPLIT_SUFFIX "-%05d-of-%05d.gguf"
#define SPLIT_MAX 65535 /* split.count is a u16 */

bool gguf_split_path(char *buf, size_t n, const char *prefix, int no, int count)
{
    int w = snprintf(buf, n, "%s" SPLIT_SUFFIX, prefix, no + 1, count);
    return w >= 0 && (size_t)w < n;
}

bool gguf_split_prefix(char *buf, size_t n, const char *path, int no, int count)
{
    char suffix[48];
    snprintf(suffix, sizeof suffix, SPLIT_SUFFIX, no + 1, count);
    size_t len = strlen(path), sl = strlen(suffix);
    if (len <= sl || strcmp(path + len - sl, suffix) || len - sl >= n)
        return false;
    memcpy(buf, path, len - sl);
    buf[len - sl] = 0;
    return true;
}

/* An integer key in [0, max], or absent (then *v = def). */
static chord_status split_int(const gguf_file *f, const char *key, int64_t max, int def,
                              int *v, chord_err *err)
{
    const gguf_kv *kv = gguf_find(f, key);
    int64_t x;
    *v = def;
    if (!kv)
        return CHORD_OK;
    if (kv->type == GGUF_BOOL || !gguf_get_int(f, key, &x))
        return err_set(err, CHORD_E_FORMAT, "%s: key '%s' at offset %" PRIu64 " is a %s, not an integer",
                       f->path, key, kv->offset, gguf_vtype_name(kv->type));
    if (x < 0 || x > max)
        return err_set(err, CHORD_E_FORMAT, "%s: key '%s' at offset %" PRIu64 ": %" PRId64
                       " is out of range (0..%" PRId64 ")", f->path, key, kv->offset, x, max);
    *v = (int)x;
    return CHORD_OK;
}

chord_status gguf_split_keys(const gguf_file *f, int *no, int *count, chord_err *err)
{
    chord_status st = split_int(f, GGUF_KEY_SPLIT_COUNT, SPLIT_MAX, 0, count, err);
    if (st == CHORD_OK)
        st = split_int(f, GGUF_KEY_SPLIT_NO, SPLIT_MAX, 0, no, err);
    if (st != CHORD_OK)
        return st;
    if (*count == 0 && *no == 0)
        return CHORD_OK;
    if (*no >= *count)
        return err_set(err, CHORD_E_FORMAT, "%s: split.no %d is not below split.count %d", f->path,
                       *no, *count);
    return CHORD_OK;
}

/* Opens part no of the set prefix (count parts) and checks it claims to
 * be that part. */
static chord_status open_part(const char *prefix, int no, int count, const char *first,
                              gguf_file **out, chord_err *err)
{
    *out = NULL;
    size_t n = strlen(prefix) + 32;
    char *path = malloc(n);
    if (!path)
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory", first);
    gguf_split_path(path, n, prefix, no, count);
    struct stat sb;
    chord_status st;
    if (stat(path, &sb) != 0 && errno == ENOENT) {
        st = err_set(err, CHORD_E_IO, "%s: part %d of %d of this split model is missing: %s",
                     first, no + 1, count, path);
        free(path);
        return st;
    }
    gguf_file *f;
    st = gguf_open_file(path, &f, err);
    free(path);
    if (st != CHORD_OK)
        return st;
    int f_no, f_count;
    st = gguf_split_keys(f, &f_no, &f_count, err);
    if (st == CHORD_OK && (!gguf_find(f, GGUF_KEY_SPLIT_NO) || f_count == 0))
        st = err_set(err, CHORD_E_FORMAT, "%s: not a part of a split model (no split.no and "
                     "split.count), expected part %d of %d", f->path, no + 1, count);
    else if (st == CHORD_OK && (f_no != no || f_count != count))
        st = err_set(err, CHORD_E_FORMAT, "%s: says it is part %d of %d, expected part %d of %d "
                     "(a part of another split model?)", f->path, f_no + 1, f_count, no + 1, count);
    if (st != CHORD_OK) {
        gguf_close(f);
        return st;
    }
    *out = f;
    return CHORD_OK;
}

/* Moves the tensors of parts[1..count-1] into first, after its own, with
 * their part index; checks names are unique across parts and the count
 * the first part announces. Takes ownership of parts[1..]. */
static chord_status gather(gguf_file *first, gguf_file **parts, int count, chord_err *err)
{
    chord_status st = CHORD_OK;
    uint64_t total = 0;
    for (int i = 0; i < count; i++)
        total += parts[i]->n_tensors;
    int announced = 0;
    if (!gguf_find(first, GGUF_KEY_SPLIT_TENSORS))
        return err_set(err, CHORD_E_FORMAT, "%s: split model without key '%s'", first->path,
                       GGUF_KEY_SPLIT_TENSORS);
    if ((st = split_int(first, GGUF_KEY_SPLIT_TENSORS, INT32_MAX, 0, &announced, err)))
        return st;
    if ((uint64_t)announced != total)
        return err_set(err, CHORD_E_FORMAT, "%s: split.tensors.count is %d but the %d parts hold %"
                       PRIu64 " tensors (a part of another split model?)", first->path, announced,
                       count, total);
    gguf_tensor *t = realloc(first->tensors, (size_t)(total ? total : 1) * sizeof *t);
    gguf_part *pt = realloc(first->parts, (size_t)count * sizeof *pt);
    if (t)
        first->tensors = t;
    if (pt)
        first->parts = pt;
    if (!t || !pt)
        return err_set(err, CHORD_E_NOMEM, "%s: out of memory for %" PRIu64 " tensors",
                       first->path, total);
    uint64_t at = first->n_tensors;
    for (int i = 1; i < count; i++) {
        gguf_file *p = parts[i];
        for (uint64_t k = 0; k < p->n_tensors; k++) {
            t[at] = p->tensors[k];
            t[at++].part = i;
        }
        p->n_tensors = 0; /* the names are first's now */
        pt[i] = p->parts[0];
        p->path = NULL;   /* and the path */
        first->file_size += pt[i].file_size;
        first->n_parts = i + 1;
    }
    first->n_tensors = total;
    uint64_t dup;
    if ((st = gguf_index_build(first, true, &dup)) == CHORD_E_NOMEM)
        return err_set(err, st, "%s: out of memory", first->path);
    if (st != CHORD_OK) {
        /* the index holds the entries before dup: the lookup finds the first */
        const gguf_tensor *d = &t[dup], *e = gguf_find_tensor(first, d->name);
        return err_set(err, CHORD_E_FORMAT, "%s: tensor '%.80s' is in part %d and again in part %d"
                       " (a part of another split model?)", first->parts[d->part].path,
                       d->name, (e ? e->part : 0) + 1, d->part + 1);
    }
    return CHORD_OK;
}

chord_status gguf_open(const char *path, gguf_file **out, chord_err *err)
{
    *out = NULL;
    gguf_file *f;
    chord_status st = gguf_open_file(path, &f, err);
    int no = 0, count = 0;
    if (st == CHORD_OK)
        st = gguf_split_keys(f, &no, &count, err);
    if (st == CHORD_OK && count == 1 && gguf_find(f, GGUF_KEY_SPLIT_TENSORS)) {
        int announced = 0;
        st = split_int(f, GGUF_KEY_SPLIT_TENSORS, INT32_MAX, 0, &announced, err);
        if (st == CHORD_OK && (uint64_t)announced != f->n_tensors)
            st = err_set(err, CHORD_E_FORMAT, "%s: split.tensors.count is %d but the file holds %"
                         PRIu64 " tensors", path, announced, f->n_tensors);
    }
    if (st != CHORD_OK || count <= 1) {
        if (st != CHORD_OK)
            gguf_close(f);
        else
            *out = f;
        return st;
    }
    size_t n = strlen(path) + 1;
    char *prefix = malloc(n);
    gguf_file **parts = calloc((size_t)count, sizeof *parts);
    if (!prefix || !parts)
        st = err_set(err, CHORD_E_NOMEM, "%s: out of memory", path);
    else if (!gguf_split_prefix(prefix, n, path, no, count)) {
        char want[48];
        snprintf(want, sizeof want, SPLIT_SUFFIX, no + 1, count);
        st = err_set(err, CHORD_E_FORMAT, "%s: part %d of %d of a split model, but its name does not"
                     " end in '%s': cannot find the other parts", path, no + 1, count, want);
    }
    /* from any part: the set is read from its first */
    if (st == CHORD_OK && no != 0) {
        gguf_close(f);
        f = NULL;
        st = open_part(prefix, 0, count, path, &f, err);
    }
    if (st == CHORD_OK) {
        parts[0] = f;
        for (int i = 1; i < count && st == CHORD_OK; i++)
            st = open_part(prefix, i, count, f->path, &parts[i], err);
    }
    if (st == CHORD_OK)
        st = gather(f, parts, count, err);
    for (int i = 1; parts && i < count; i++)
        gguf_close(parts[i]);
    free(parts);
    free(prefix);
    if (st != CHORD_OK) {
        gguf_close(f);
        return st;
    }
    *out = f;
    return CHORD_OK;
}
