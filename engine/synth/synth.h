/*
 * synth.h - making model files: random-weight models of any shape
 * (chord_synth, for tests and benchmarks without downloads) and
 * re-quantization of existing ones (chord_quantize). Both write tensor by
 * tensor through the streaming GGUF writer, a few rows at a time, so
 * memory stays small whatever the model size.
 *
 * This header is shared by the files of engine/synth only: the public
 * entry points are in chord.h.
 */
#ifndef CHORD_SYNTH_H
#define CHORD_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include "chord.h"
#include "gguf/gguf.h"

/* A target "file type": one base tensor type, or a llama.cpp-style mix
 * (Q4_K_M: Q4_K with Q6_K for the output and for attn_v/ffn_down in about
 * half the layers). */
typedef struct synth_ftype {
    int base;           /* quant_type id */
    char mix;           /* 0, 'M' or 'S' */
    bool read_only;     /* base has no quantizer (IQ2_XXS, IQ1_M...) */
    char name[16];      /* as given, upper case */
} synth_ftype;

/* Parses "Q4_K_M", "q8_0", "F16"... Fails with CHORD_E_INVALID naming the
 * accepted names. A type chord reads but cannot quantize to (the i-quants
 * below IQ4) is accepted only with read_only_ok (synth --fast, which
 * writes random valid blocks instead of quantizing); otherwise it fails
 * with CHORD_E_UNSUPPORTED. */
chord_status synth_parse_ftype(const char *s, bool read_only_ok, synth_ftype *out,
                               chord_err *err);

/* llama.cpp's "general.file_type" number for ft, or -1 when ft has no
 * exact counterpart there (plain Q3_K, Q4_K, Q5_K). */
int synth_ftype_id(const synth_ftype *ft);

/* The type tensor `name` (n_dims dims, rows of ne0) gets under ft, layer
 * = its block index or -1, n_layer = the model's block count. Vectors stay
 * F32; a type whose block does not divide ne0 falls back to the nearest
 * one that does (as llama.cpp does: Q4_K -> Q5_0, Q6_K -> Q8_0, the
 * 256-blocks i-quants -> IQ4_NL...). A read-only base covers the layers'
 * matrices only: the embedding and the output get Q6_K. */
int synth_tensor_type(const synth_ftype *ft, const char *name, int n_dims, int64_t ne0,
                      int layer, int n_layer);

/* Declares the tokenizer keys: copied from p->vocab_from (every
 * "tokenizer.*" key) or generated (a SentencePiece-style vocabulary of
 * p->vocab pieces: <unk>, <s>, </s>, 256 byte tokens, then letters and
 * letter groups; for qwen3, gemma2, gemma3 and phi3 the family's chat
 * control tokens last and a chat template of its format). Sets *n_vocab. */
chord_status synth_vocab(gguf_writer *w, const chord_synth_params *p, int *n_vocab,
                         chord_err *err);

/* splitmix64: the random stream of one tensor, from the seed and its name,
 * so every tensor is reproducible on its own. */
uint64_t synth_seed_for(uint64_t seed, const char *name);
float synth_uniform(uint64_t *state); /* in [-1, 1) */

/* Router skew (synth_router.c). The target shares of a token's n_used
 * selections per popularity rank r, summing to n_used: proportional to
 * (r + 1)^-skew, capped where a router can reach no further (with a bias:
 * nearly every token; a row scale alone: under half) and the rest raised
 * to keep the sum. */
void synth_router_targets(int n_expert, int n_used, float skew, bool bias, double *t);
/* The knob per rank that gives those shares for router inputs of random
 * direction: a row scale (bias false; 1 = a plain random row) or a logit
 * bias (0 = none). Deterministic from the seed; skew 0 gives all 1 / 0. */
chord_status synth_router_calibrate(int n_expert, int n_used, float skew, bool bias,
                                    uint64_t seed, float *knob, chord_err *err);
/* Layer `layer`'s expert of each rank: perm[r], a permutation of
 * 0..n_expert-1 drawn from the seed. */
void synth_router_perm(uint64_t seed, int layer, int n_expert, int *perm);

#endif
