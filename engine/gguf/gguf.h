/*
 * gguf.h - reading and writing GGUF files (versions 2 and 3, little-endian).
 *
 * The reader parses and validates the whole header (metadata, tensor infos,
 * alignment, data offset) against the file size before trusting any count,
 * so a hostile file can neither crash it nor make it allocate much more than
 * the file's own size: entry tables grow with what is actually read (a
 * header of 700k tiny keys costs 2-4 bytes of memory per byte of file).
 * It reads with buffered pread(), keeps no descriptor open and never maps
 * the file: tensor data is the caller's business (the layer cache reads it
 * by absolute offset in the tensor's part).
 *
 * Split models (llama.cpp's gguf-split): NAME-00001-of-0000N.gguf ...
 * NAME-0000N-of-0000N.gguf, each part carrying split.no (0-based) and
 * split.count, the first also split.tensors.count and all the model's
 * metadata; every tensor lives whole in one part. gguf_open opens the whole
 * set (from any of its parts) as one gguf_file: the first part's metadata,
 * every part's tensors, each tensor knowing its part. A file that is not
 * split is a set of one part.
 *
 * The writer streams: the caller declares every key and tensor, writes the
 * header, then hands each tensor's bytes in declaration order. It never
 * holds tensor data beyond the caller's buffer.
 *
 * Errors: one line, "<file>: <what> (key 'x' | tensor 'y') at offset N".
 * CHORD_E_IO for open/read/write failures, CHORD_E_FORMAT for malformed
 * files, CHORD_E_UNSUPPORTED for a well-formed file using something chord
 * does not support (version 1, nested arrays, unknown tensor types).
 */
#ifndef CHORD_GGUF_H
#define CHORD_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as a little-endian uint32 */
#define GGUF_DEFAULT_ALIGNMENT 32

/* The split keys (llama.cpp's LLM_KV_SPLIT_*): u16, u16, i32. */
#define GGUF_KEY_SPLIT_NO "split.no"
#define GGUF_KEY_SPLIT_COUNT "split.count"
#define GGUF_KEY_SPLIT_TENSORS "split.tensors.count"

typedef enum gguf_vtype {
    GGUF_UINT8 = 0, GGUF_INT8, GGUF_UINT16, GGUF_INT16, GGUF_UINT32, GGUF_INT32,
    GGUF_FLOAT32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY, GGUF_UINT64, GGUF_INT64,
    GGUF_FLOAT64,
    GGUF_VTYPE_COUNT
} gguf_vtype;

typedef struct gguf_kv {
    char *key;
    gguf_vtype type;
    uint64_t offset;      /* file offset of this key/value pair */
    /* scalars: ints sign/zero-extended, floats widened, bool in b (and u) */
    union { uint64_t u; int64_t i; double f; bool b; } num;
    char *str;            /* STRING: NUL-terminated copy (may hold NULs: use str_len) */
    uint64_t str_len;
    gguf_vtype arr_type;  /* ARRAY: element type (never ARRAY: nested arrays are rejected) */
    uint64_t arr_n;
    /* numeric arrays: arr_n packed host-order values of arr_type (BOOL is one
     * byte each); string arrays: char *[arr_n], each NUL-terminated */
    void *arr;
    uint64_t *arr_lens;   /* string arrays: byte lengths */
} gguf_kv;

typedef struct gguf_tensor {
    char *name;
    int type;             /* quant_type id (engine/quant/quant_types.h) */
    int n_dims;           /* 1..4 */
    int64_t ne[4];        /* ne[0] = row length; unused dims = 1 */
    uint64_t offset;      /* ABSOLUTE offset of the data in its part's file */
    uint64_t nbytes;
    int part;             /* index in gguf_file.parts of the file holding it */
} gguf_tensor;

/* One file of a model: the file itself, or one part of a split model. */
typedef struct gguf_part {
    char *path;
    uint64_t file_size;
    uint64_t data_offset; /* start of this file's data section */
    uint64_t n_tensors;   /* tensors whose data this file holds */
} gguf_part;

typedef struct gguf_file {
    char *path;           /* the first part's (the file's) path */
    uint64_t file_size;   /* bytes of every part together */
    uint32_t version;
    uint64_t n_kv;
    gguf_kv *kv;          /* in file order */
    uint64_t n_tensors;
    gguf_tensor *tensors; /* in file order */
    uint32_t alignment;   /* general.alignment or 32 */
    uint64_t data_offset; /* start of the first part's data section (aligned end
                             of the header; past the end of a file without tensors) */
    int n_parts;          /* 1, or split.count of a split model */
    gguf_part *parts;     /* in split.no order; parts[0].path == path */
} gguf_file;

/* Parses and validates a GGUF model: a single file, or every part of a
 * split model when path names any of its parts (each part checked: its
 * split.no and split.count, no tensor twice, the tensor count the first
 * part announces). On success *out owns everything (free with gguf_close);
 * on failure *out is NULL and err names the file (a missing part by its
 * name) and offset. */
chord_status gguf_open(const char *path, gguf_file **out, chord_err *err);
/* Parses one file only: a part of a split model stays one part (n_parts 1,
 * its split.* keys visible), for tools that handle parts themselves. */
chord_status gguf_open_file(const char *path, gguf_file **out, chord_err *err);
void gguf_close(gguf_file *f);

/* Split models' file names, as llama.cpp spells them: PREFIX-%05d-of-%05d.gguf
 * with the 1-based part number. gguf_split_path writes part no (0-based) of
 * count into buf; false if it does not fit. gguf_split_prefix writes into
 * buf the PREFIX of a path that is part no of count; false if the name does
 * not end that way (or does not fit). */
bool gguf_split_path(char *buf, size_t n, const char *prefix, int no, int count);
bool gguf_split_prefix(char *buf, size_t n, const char *path, int no, int count);
/* A file's split keys: *no and *count (both 0 for a file that is not
 * split; split.count 0 is what llama.cpp's merge leaves). Fails with a
 * message naming the key when they are of the wrong type or out of range. */
chord_status gguf_split_keys(const gguf_file *f, int *no, int *count, chord_err *err);

/* Lookups. Keys are unique (the reader rejects duplicates). */
const gguf_kv *gguf_find(const gguf_file *f, const char *key);
/* Any integer or bool type; false if absent or another type. */
bool gguf_get_int(const gguf_file *f, const char *key, int64_t *out);
/* A float or integer type; false if absent or another type. */
bool gguf_get_float(const gguf_file *f, const char *key, double *out);
/* A STRING value, else NULL. */
const char *gguf_get_str(const gguf_file *f, const char *key);
/* An ARRAY of elem_type, else NULL. */
const gguf_kv *gguf_find_array(const gguf_file *f, const char *key, gguf_vtype elem_type);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* N for a tensor named "blk.N.<anything>", else -1 (global tensors). */
int gguf_tensor_layer(const char *name);

/* "u8", "i32", "f32", "bool", "str", "arr", ... or "?" */
const char *gguf_vtype_name(gguf_vtype t);
/* Bytes of one element of a numeric type (BOOL = 1); 0 for STRING/ARRAY/unknown. */
size_t gguf_vtype_size(gguf_vtype t);

/* Product of a tensor's dims (number of elements). */
int64_t gguf_tensor_nelem(const gguf_tensor *t);

/* The file's main weight type (a quant_type id): the most common type of
 * the layers' matrices, the embedding's on a tie or without layers. What
 * chord_model_info.type_name and `chord models` show. */
int gguf_main_type(const gguf_file *f);

/* ---------------------------------------------------------------------------
 * Writer (for `chord synth` and `chord quantize`)
 *
 * Usage: gguf_writer_open; any number of gguf_writer_kv_* and
 * gguf_writer_tensor (declarations, in order); gguf_writer_begin_data;
 * for each declared tensor in order, gguf_writer_write its bytes (in as many
 * pieces as convenient); gguf_writer_close. The declaration calls cannot
 * fail visibly: an allocation failure or a bad declaration (duplicate key,
 * unknown type, bad shape) is remembered and reported by
 * gguf_writer_begin_data. Always call gguf_writer_close (or
 * gguf_writer_abort) to free the writer. Output is GGUF v3; setting
 * "general.alignment" (u32, power of two) changes the alignment.
 * ------------------------------------------------------------------------- */

typedef struct gguf_writer gguf_writer;

chord_status gguf_writer_open(const char *path, gguf_writer **out, chord_err *err);

void gguf_writer_kv_u32(gguf_writer *w, const char *key, uint32_t v);
void gguf_writer_kv_i32(gguf_writer *w, const char *key, int32_t v);
void gguf_writer_kv_u64(gguf_writer *w, const char *key, uint64_t v);
void gguf_writer_kv_f32(gguf_writer *w, const char *key, float v);
void gguf_writer_kv_bool(gguf_writer *w, const char *key, bool v);
void gguf_writer_kv_str(gguf_writer *w, const char *key, const char *v);
/* A string with explicit length (may contain NULs). */
void gguf_writer_kv_strn(gguf_writer *w, const char *key, const char *v, uint64_t len);
/* Any scalar type: the value's bytes in host order (BOOL: one byte). */
void gguf_writer_kv_scalar(gguf_writer *w, const char *key, gguf_vtype t, const void *v);
void gguf_writer_kv_arr_str(gguf_writer *w, const char *key, const char *const *v, uint64_t n);
/* A numeric array: n packed host-order values of t (not STRING/ARRAY). */
void gguf_writer_kv_arr(gguf_writer *w, const char *key, gguf_vtype t, const void *v, uint64_t n);
/* Copies a key/value pair read by gguf_open (e.g. when quantizing). */
void gguf_writer_kv_copy(gguf_writer *w, const gguf_kv *kv);

/* Declares the next tensor (dims as in gguf_tensor: ne[0] = row length). */
void gguf_writer_tensor(gguf_writer *w, const char *name, int type, int n_dims,
                        const int64_t *ne);

/* Writes header, metadata, tensor infos and padding up to the data section. */
chord_status gguf_writer_begin_data(gguf_writer *w, chord_err *err);

/* Appends bytes of the current tensor; moves on to the next (padding to the
 * alignment) once the current one has all its bytes. A write may not span
 * two tensors. */
chord_status gguf_writer_write(gguf_writer *w, const void *data, size_t n, chord_err *err);

/* Checks every declared tensor got exactly its bytes, flushes, fsyncs,
 * closes and frees the writer (even on error). On error the partial file is
 * removed. */
chord_status gguf_writer_close(gguf_writer *w, chord_err *err);

/* Frees the writer and removes the partial file (for error paths). */
void gguf_writer_abort(gguf_writer *w);

/* ---------------------------------------------------------------------------
 * Internal to engine/gguf (the reader and the lookups share them)
 * ------------------------------------------------------------------------- */

/* An empty gguf_file with room for the lookup indexes, or NULL. */
gguf_file *gguf_file_new(const char *path);
/* Builds the hash index of the keys (tensors = false) or tensor names.
 * Returns CHORD_OK, CHORD_E_NOMEM, or CHORD_E_FORMAT with *dup = the index
 * of the first entry whose name repeats an earlier one. */
chord_status gguf_index_build(gguf_file *f, bool tensors, uint64_t *dup);

#endif
