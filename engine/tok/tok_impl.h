/*
 * tok_impl.h - the inside of a tok_vocab, shared by the files of engine/tok
 * (vocabulary, SentencePiece, BPE, pre-tokenizers, decoding). Not part of
 * the module's contract: other modules use tok.h only.
 */
#ifndef CHORD_TOK_IMPL_H
#define CHORD_TOK_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord.h"
#include "tok/tok.h"

enum tok_kind { TOK_KIND_SPM, TOK_KIND_BPE };

/* Pre-tokenizer rule sets (BPE). Each is a list of split rules applied in
 * turn to every piece the previous rules produced (tok_pre.c). */
enum tok_pre {
    TOK_PRE_DEFAULT,        /* no or "default" tokenizer.ggml.pre */
    TOK_PRE_GPT2,           /* gpt-2, mpt, olmo, jais, phi-2, roberta-bpe... */
    TOK_PRE_LLAMA3,         /* llama3, llama-bpe, falcon3: words that are tokens skip merging */
    TOK_PRE_DBRX,           /* dbrx, smaug-bpe: llama3's split, normal merging */
    TOK_PRE_QWEN2,          /* qwen2, stablelm2 */
    TOK_PRE_STARCODER,      /* starcoder, refact, smollm, command-r, codeshell... */
    TOK_PRE_FALCON,
    TOK_PRE_DEEPSEEK_LLM,
    TOK_PRE_DEEPSEEK_CODER,
    TOK_PRE_BLOOM,          /* bloom, poro-chat, gpt3-finnish */
    TOK_PRE_VIKING,
    TOK_PRE_SEED_CODER,
    TOK_PRE_CHAMELEON,
    TOK_PRE_GPT4O,          /* gpt-4o (o200k), llama4, kanana2, minimax-m2 */
};

/* Open-addressing hash index from byte strings to ids; the strings live in
 * the vocabulary (the index stores only hashes and ids). */
typedef struct tok_map {
    uint32_t *hash;
    int32_t *val;       /* -1 = empty slot */
    uint32_t mask;
} tok_map;

/* Open-addressing map from a pair of ids to an id: the fast path of both
 * merge loops (no string hashing or comparing for pairs of tokens). */
typedef struct tok_pair_slot {
    uint64_t key;       /* 0 = empty */
    int32_t val;
} tok_pair_slot;

typedef struct tok_pairmap {
    tok_pair_slot *slot;
    uint32_t mask;
} tok_pairmap;

struct tok_vocab {
    enum tok_kind kind;
    enum tok_pre pre;
    bool pre_known;
    char *pre_req;           /* the file's tokenizer.ggml.pre, or NULL */
    int32_t n;
    char **text;             /* NUL-terminated copies in one pool */
    uint32_t *len;
    float *score;
    uint8_t *type;           /* enum tok_type */
    char *pool;
    tok_map tokens;          /* text -> id (a later duplicate wins) */

    int32_t n_merges;        /* BPE */
    char **merge;            /* "left right", pointing into merge_pool */
    uint32_t *merge_len;
    uint32_t *merge_left;    /* length of the left part */
    char *merge_pool;
    tok_map merges;          /* (left, right) -> rank (the first one wins) */
    int32_t *merge_result;   /* id of a merge's concatenation, or -1 */
    tok_pairmap merge_ids;   /* (left id, right id) -> rank, for token parts */
    tok_pairmap spm_pairs;   /* SPM: (left id, right id) -> id of the concatenation */
    int32_t byte_sym[256];   /* BPE: id of each byte's one-character symbol, or -1 */
    int32_t ascii_id[128];   /* id of each one-byte text, or -1 */

    int32_t *special;        /* matchable special ids, by first byte, longest first */
    int32_t special_at[257]; /* special[special_at[b] .. special_at[b+1]) start with b */
    int32_t n_user_defined;  /* USER_DEFINED tokens among them */
    uint8_t *rstrip;         /* n flags: drop ASCII white space after it */
    int32_t *sp_rank;        /* n: a special token's place in the reference's
                                cutting order (longest first, then id); -1 */
    int32_t *sp_order;       /* the special ids in that order */

    int32_t bos, eos, eot, eom, unk, pad;
    bool add_bos, add_eos, add_space_prefix;
    bool ignore_merges;      /* llama3: a word that is a token is not merged */
    uint8_t *eog;            /* n flags */
    int32_t byte_tok[256];   /* SPM: <0xXX> ids (-1 if absent) */
    uint64_t *pairs;         /* SPM: set of adjacent-character pairs found */
    uint32_t pairs_mask;     /* inside any token (tok_spm_pair_key), 0 = empty */
    char byte_enc[256][2];   /* BPE: UTF-8 of GPT-2's code point for each byte */
    uint8_t byte_enc_len[256];
};

/* ---- tok_vocab.c ---- */
uint32_t tok_hash(const char *s, size_t n);
/* The id of the token whose text is s[0..n), or -1. */
int32_t tok_lookup(const tok_vocab *v, const char *s, size_t n);
/* The merge rank of (left, right), or -1. */
int32_t tok_merge_rank(const tok_vocab *v, const char *l, size_t ln,
                       const char *r, size_t rn);

/* The value stored for (a, b), or -1 (a, b >= 0). */
static inline int32_t tok_pair_get(const tok_pairmap *m, int32_t a, int32_t b)
{
    uint64_t k = ((uint64_t)(uint32_t)(a + 1) << 32) | (uint32_t)(b + 1);
    uint64_t h = k * 0x9E3779B97F4A7C15ull;
    for (uint32_t i = (uint32_t)(h >> 40) & m->mask;; i = (i + 1) & m->mask) {
        if (m->slot[i].key == k)
            return m->slot[i].val;
        if (m->slot[i].key == 0)
            return -1;
    }
}
bool tok_pairmap_init(tok_pairmap *m, size_t n);
/* Stores val for (a, b) unless the pair is already there (first wins). */
void tok_pair_put(tok_pairmap *m, int32_t a, int32_t b, int32_t val);

/* ---- growable id list used while encoding ---- */
typedef struct tok_ids {
    chord_token *ids;
    size_t n, cap;
    bool oom;
} tok_ids;
void tok_ids_push(tok_ids *o, chord_token t);

/* ---- tok_spm.c ---- */
/* The key of two adjacent characters (each a UTF-8 symbol of 1..4 bytes)
 * in the pair set; never 0. Different pairs may share a key: the set then
 * only over-approximates, which is safe (see tok_spm.c). */
uint64_t tok_spm_pair_key(const char *a, size_t an, const char *b, size_t bn);
/* Builds v->pairs (adjacent characters seen in tokens) and v->spm_pairs
 * (every split of a token into two tokens); false on allocation failure. */
bool tok_spm_build_pairs(tok_vocab *v);

/* SentencePiece on one run of text (already prefixed and
 * with spaces escaped as U+2581). Returns false on allocation failure. */
bool tok_spm_encode(const tok_vocab *v, const char *s, size_t n, tok_ids *out);

/* ---- tok_bpe.c: byte-level BPE on one run of text (pre-tokenized inside).
 * Returns false on allocation failure. */
bool tok_bpe_encode(const tok_vocab *v, const char *s, size_t n, tok_ids *out);

/* ---- tok_pre.c: splits code points cp[0..n) into words by v->pre's
 * rules; *lens receives the word lengths (in code points, malloc'd) and
 * the return value is their count, or -1 on allocation failure. */
long tok_pre_split(enum tok_pre pre, const uint32_t *cp, size_t n, uint32_t **lens);
/* Rule set from a tokenizer.ggml.pre name; *known = false for an
 * unrecognised name (which maps to TOK_PRE_GPT2). */
enum tok_pre tok_pre_from_name(const char *name, bool *known);
const char *tok_pre_label(enum tok_pre pre);

#endif
