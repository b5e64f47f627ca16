/*
 * gguf_build.c - the test byte builder (see gguf_build.h).
 */
#include "gguf_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bb_bytes(bb *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            fprintf(stderr, "FAIL: out of memory in the test builder\n");
            exit(1);
        }
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void bb_le(bb *b, uint64_t v, size_t n)
{
    uint8_t x[8];
    for (size_t i = 0; i < n; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    bb_bytes(b, x, n);
}

void bb_u8(bb *b, uint8_t v) { bb_le(b, v, 1); }
void bb_u32(bb *b, uint32_t v) { bb_le(b, v, 4); }
void bb_u64(bb *b, uint64_t v) { bb_le(b, v, 8); }

void bb_str(bb *b, const char *s)
{
    bb_u64(b, strlen(s));
    bb_bytes(b, s, strlen(s));
}

void bb_zeros(bb *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bb_u8(b, 0);
}

void bb_pad(bb *b, size_t align)
{
    while (b->n % align)
        bb_u8(b, 0);
}

void bb_header(bb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    bb_bytes(b, "GGUF", 4);
    bb_u32(b, version);
    bb_u64(b, n_tensors);
    bb_u64(b, n_kv);
}

void bb_key(bb *b, const char *key, uint32_t type)
{
    bb_str(b, key);
    bb_u32(b, type);
}

void bb_tensor(bb *b, const char *name, uint32_t n_dims, const uint64_t *ne,
               uint32_t type, uint64_t offset)
{
    bb_str(b, name);
    bb_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        bb_u64(b, ne[d]);
    bb_u32(b, type);
    bb_u64(b, offset);
}

void bb_put_u64_at(bb *b, size_t at, uint64_t v)
{
    for (size_t i = 0; i < 8; i++)
        b->p[at + i] = (uint8_t)(v >> (8 * i));
}

void bb_free(bb *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}
