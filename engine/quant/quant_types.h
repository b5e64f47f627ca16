/*
 * quant_types.h - tensor types as GGUF numbers them, and their block shape.
 *
 * The numbering is the file format's (ggml's type ids) and must not change.
 * Every type stores a row as whole blocks of `block` elements in `bytes`
 * bytes; a row of n elements therefore takes n / block * bytes bytes and n
 * must be a multiple of block.
 */
#ifndef CHORD_QUANT_TYPES_H
#define CHORD_QUANT_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum quant_type {
    QT_F32 = 0,
    QT_F16 = 1,
    QT_Q4_0 = 2,
    QT_Q4_1 = 3,
    QT_Q5_0 = 6,
    QT_Q5_1 = 7,
    QT_Q8_0 = 8,
    QT_Q8_1 = 9,
    QT_Q2_K = 10,
    QT_Q3_K = 11,
    QT_Q4_K = 12,
    QT_Q5_K = 13,
    QT_Q6_K = 14,
    QT_Q8_K = 15,
    QT_IQ2_XXS = 16,
    QT_IQ2_XS = 17,
    QT_IQ3_XXS = 18,
    QT_IQ1_S = 19,
    QT_IQ4_NL = 20,
    QT_IQ3_S = 21,
    QT_IQ2_S = 22,
    QT_IQ4_XS = 23,
    QT_IQ1_M = 29,
    QT_BF16 = 30,
    QT_TQ1_0 = 34,
    QT_TQ2_0 = 35,
    QT_MXFP4 = 39,
    QT_COUNT = 64, /* ids are below this */
} quant_type;

typedef struct quant_traits {
    const char *name;    /* "Q4_K" */
    int block;           /* elements per block */
    int bytes;           /* bytes per block */
    bool supported;      /* the engine can dequantize it and dot with it */
} quant_traits;

/* Traits of a type id, or NULL if the id is unknown to chord. */
const quant_traits *quant_traits_of(int type);

/* Bytes of a row of n elements (n a multiple of the block size), or 0 if the
 * type is unknown or n is not a multiple of the block. */
size_t quant_row_bytes(int type, int64_t n);

/* Type id by name ("Q4_K", case-insensitive), or -1. */
int quant_type_by_name(const char *name);

#endif
