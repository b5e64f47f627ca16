/*
 * gguf_build.h - a byte builder for hand-made GGUF files in tests.
 *
 * Independent of engine/gguf's writer on purpose: the corrupt-file tests
 * craft exact bytes (bad counts, bad types, overlapping offsets) that the
 * writer would refuse to produce, and the round trip compares the writer's
 * output with what this builder says the format is.
 */
#ifndef CHORD_TEST_GGUF_BUILD_H
#define CHORD_TEST_GGUF_BUILD_H

#include <stddef.h>
#include <stdint.h>

typedef struct bb {
    uint8_t *p;
    size_t n, cap;
} bb;

void bb_bytes(bb *b, const void *p, size_t n);
void bb_u8(bb *b, uint8_t v);
void bb_u32(bb *b, uint32_t v);
void bb_u64(bb *b, uint64_t v);
void bb_str(bb *b, const char *s);            /* u64 length + bytes */
void bb_zeros(bb *b, size_t n);
void bb_pad(bb *b, size_t align);              /* zeros up to a multiple */
void bb_header(bb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv);
/* key + type u32 (the value follows, written by the caller) */
void bb_key(bb *b, const char *key, uint32_t type);
/* a tensor info: name, n_dims, dims, type, relative offset */
void bb_tensor(bb *b, const char *name, uint32_t n_dims, const uint64_t *ne,
               uint32_t type, uint64_t offset);
void bb_put_u64_at(bb *b, size_t at, uint64_t v);
void bb_free(bb *b);

#endif
