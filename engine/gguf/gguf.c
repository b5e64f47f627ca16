/*
 * gguf.c - lookups over a parsed GGUF file, and freeing it (see gguf.h).
 *
 * Keys and tensor names are found through open-addressing hash tables built
 * once by the reader (which also uses them to reject duplicates), so a
 * loader that looks up each of 700 tensors by name does not go quadratic.
 */
#include "gguf/gguf.h"

#include <stdlib.h>
#include <string.h>

/* The gguf_file callers see, plus the indexes. Slots hold index + 1; 0 is
 * empty. Capacity is a power of two at least twice the entry count. */
typedef struct gguf_full {
    gguf_file pub;
    uint64_t *kv_slots, kv_mask;
    uint64_t *t_slots, t_mask;
} gguf_full;

gguf_file *gguf_file_new(const char *path)
{
    gguf_full *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->pub.path = strdup(path);
    if (!g->pub.path) {
        free(g);
        return NULL;
    }
    return &g->pub;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static const char *entry_name(const gguf_file *f, bool tensors, uint64_t i)
{
    return tensors ? f->tensors[i].name : f->kv[i].key;
}

chord_status gguf_index_build(gguf_file *f, bool tensors, uint64_t *dup)
{
    gguf_full *g = (gguf_full *)f;
    uint64_t n = tensors ? f->n_tensors : f->n_kv, cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    uint64_t *slots = calloc((size_t)cap, sizeof *slots);
    if (!slots)
        return CHORD_E_NOMEM;
    if (tensors) {
        free(g->t_slots);
        g->t_slots = slots;
        g->t_mask = cap - 1;
    } else {
        free(g->kv_slots);
        g->kv_slots = slots;
        g->kv_mask = cap - 1;
    }
    for (uint64_t i = 0; i < n; i++) {
        const char *name = entry_name(f, tensors, i);
        uint64_t h = hash_str(name) & (cap - 1);
        while (slots[h]) {
            if (!strcmp(entry_name(f, tensors, slots[h] - 1), name)) {
                *dup = i;
                return CHORD_E_FORMAT;
            }
            h = (h + 1) & (cap - 1);
        }
        slots[h] = i + 1;
    }
    return CHORD_OK;
}

/* Index of name among keys or tensors, or -1. */
static int64_t lookup(const gguf_file *f, bool tensors, const char *name)
{
    if (!f || !name)
        return -1;
    const gguf_full *g = (const gguf_full *)f;
    const uint64_t *slots = tensors ? g->t_slots : g->kv_slots;
    uint64_t mask = tensors ? g->t_mask : g->kv_mask;
    if (!slots) { /* not indexed yet: only while the reader is still parsing */
        uint64_t n = tensors ? f->n_tensors : f->n_kv;
        for (uint64_t i = 0; i < n; i++)
            if (!strcmp(entry_name(f, tensors, i), name))
                return (int64_t)i;
        return -1;
    }
    for (uint64_t h = hash_str(name) & mask; slots[h]; h = (h + 1) & mask)
        if (!strcmp(entry_name(f, tensors, slots[h] - 1), name))
            return (int64_t)(slots[h] - 1);
    return -1;
}

const gguf_kv *gguf_find(const gguf_file *f, const char *key)
{
    int64_t i = lookup(f, false, key);
    return i < 0 ? NULL : &f->kv[i];
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name)
{
    int64_t i = lookup(f, true, name);
    return i < 0 ? NULL : &f->tensors[i];
}

bool gguf_get_int(const gguf_file *f, const char *key, int64_t *out)
{
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv)
        return false;
    switch (kv->type) {
    case GGUF_UINT8: case GGUF_UINT16: case GGUF_UINT32: case GGUF_UINT64:
        if (kv->num.u > INT64_MAX)
            return false;
        *out = (int64_t)kv->num.u;
        return true;
    case GGUF_INT8: case GGUF_INT16: case GGUF_INT32: case GGUF_INT64:
        *out = kv->num.i;
        return true;
    case GGUF_BOOL:
        *out = kv->num.b;
        return true;
    default:
        return false;
    }
}

bool gguf_get_float(const gguf_file *f, const char *key, double *out)
{
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv)
        return false;
    if (kv->type == GGUF_FLOAT32 || kv->type == GGUF_FLOAT64) {
        *out = kv->num.f;
        return true;
    }
    int64_t i;
    if (kv->type == GGUF_BOOL || !gguf_get_int(f, key, &i))
        return false;
    *out = (double)i;
    return true;
}

const char *gguf_get_str(const gguf_file *f, const char *key)
{
    const gguf_kv *kv = gguf_find(f, key);
    return kv && kv->type == GGUF_STRING ? kv->str : NULL;
}

const gguf_kv *gguf_find_array(const gguf_file *f, const char *key, gguf_vtype elem_type)
{
    const gguf_kv *kv = gguf_find(f, key);
    return kv && kv->type == GGUF_ARRAY && kv->arr_type == elem_type ? kv : NULL;
}

int gguf_tensor_layer(const char *name)
{
    if (!name || strncmp(name, "blk.", 4))
        return -1;
    const char *p = name + 4;
    long n = 0;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');
        if (n > 1000000000L)
            return -1;
    }
    return *p == '.' ? (int)n : -1;
}

int64_t gguf_tensor_nelem(const gguf_tensor *t)
{
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

const char *gguf_vtype_name(gguf_vtype t)
{
    static const char *const names[GGUF_VTYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64",
    };
    return (unsigned)t < GGUF_VTYPE_COUNT ? names[t] : "?";
}

void gguf_close(gguf_file *f)
{
    if (!f)
        return;
    gguf_full *g = (gguf_full *)f;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        free(f->kv[i].key);
        free(f->kv[i].str);
        free(f->kv[i].arr); /* string arrays: pointers and bytes in one block */
        free(f->kv[i].arr_lens);
    }
    for (uint64_t i = 0; i < f->n_tensors; i++)
        free(f->tensors[i].name);
    free(f->kv);
    free(f->tensors);
    /* parts[0].path is path itself */
    for (int i = 1; i < f->n_parts; i++)
        free(f->parts[i].path);
    free(f->parts);
    free(f->path);
    free(g->kv_slots);
    free(g->t_slots);
    free(g);
}
