/*
 * tok.h - tokenizers: SentencePiece-style (score-ordered bigram merges with
 * byte fallback) and byte-level BPE (rank-ordered merges over GPT-2's
 * byte-to-unicode alphabet, after a regex-like pre-tokenizer split).
 *
 * A tok_vocab is built once from a plain description (tok_desc, so the
 * algorithms do not depend on where the vocabulary came from) or straight
 * from a GGUF file's tokenizer.ggml.* keys; it is read-only afterwards and
 * may be shared between threads. Nothing here prints: failures return a
 * chord_status / -1 and fill a chord_err.
 *
 * Behaviour follows the widely used reference implementation (llama.cpp) so
 * that token ids match it exactly:
 *  - SentencePiece ("llama"): one space is prepended to each run of user
 *    text that starts the input or follows a special token (unless
 *    add_space_prefix is off), spaces become U+2581, then adjacent symbols
 *    are merged best-score first; pieces that are not tokens fall back to
 *    <0xXX> byte tokens.
 *  - BPE ("gpt2"): the pre-tokenizer named by tokenizer.ggml.pre splits the
 *    text into words; each word's bytes are mapped to GPT-2's printable
 *    alphabet and merged lowest-rank first.
 *  - CONTROL (and UNKNOWN) tokens such as <|im_start|> are recognised in
 *    the text only when parse_special is set (chat templates); in user text
 *    they are plain characters (tok_encode_marked: in a chat, message text
 *    is always plain). USER_DEFINED tokens are pieces a model
 *    added to its vocabulary (runs of spaces, extra characters): the
 *    reference always cuts them out of the text, so does chord, or ids
 *    would differ. A token whose text is an end-of-turn marker
 *    (<|im_end|>, <|end|>, </s>...) or a fill-in-the-middle marker is made
 *    CONTROL whatever the file says, as the reference does.
 *    Special texts are cut out in the reference's order: the longest token
 *    first, each token's occurrences left to right. As in the reference, for
 *    Phi-3 models (general.name) ASCII white space after a special token
 *    is dropped (its "rstrip" flag), except after <unk>, <s> and
 *    <|endoftext|>.
 */
#ifndef CHORD_TOK_H
#define CHORD_TOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord.h"

struct gguf_file;
typedef struct tok_vocab tok_vocab;

/* Token types as stored in tokenizer.ggml.token_type. */
enum tok_type {
    TOK_TYPE_UNDEFINED = 0,
    TOK_TYPE_NORMAL = 1,
    TOK_TYPE_UNKNOWN = 2,
    TOK_TYPE_CONTROL = 3,
    TOK_TYPE_USER_DEFINED = 4,
    TOK_TYPE_UNUSED = 5,
    TOK_TYPE_BYTE = 6,
};

/* Leave an id or flag of tok_desc to the model's default. */
#define TOK_DEFAULT (-2)

/* A vocabulary described in plain arrays (borrowed: tok_vocab_build copies
 * what it keeps). */
typedef struct tok_desc {
    const char *source;          /* file name for error messages, or NULL */
    const char *model;           /* "llama" (SentencePiece) or "gpt2" (BPE) */
    const char *pre;             /* BPE pre-tokenizer name; NULL = "default" */
    const char *name;            /* general.name, or NULL (some models get
                                    the reference's per-model token flags) */
    int32_t n_tokens;
    const char *const *tokens;   /* n_tokens strings (may hold NULs: see lens) */
    const uint64_t *token_lens;  /* byte lengths, or NULL for strlen */
    const float *scores;         /* n_tokens, or NULL (all 0) */
    const int32_t *types;        /* n_tokens enum tok_type, or NULL (NORMAL) */
    int32_t n_merges;            /* BPE: merges, best (rank 0) first */
    const char *const *merges;   /* "left right" */
    const uint64_t *merge_lens;  /* or NULL for strlen */
    /* special ids: -1 none, TOK_DEFAULT = the model type's default */
    int32_t bos, eos, eot, eom, unk, pad;
    /* fill-in-the-middle markers: -1 none, TOK_DEFAULT = found by text */
    int32_t fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    /* -1/TOK_DEFAULT = the model type's default, 0 = no, 1 = yes */
    int add_bos, add_eos, add_space_prefix;
} tok_desc;

/* A tok_desc with every id and flag set to TOK_DEFAULT and nothing else. */
void tok_desc_init(tok_desc *d);

/* Builds a vocabulary (hash index of the token texts, merge ranks, special
 * token list). Fails with CHORD_E_FORMAT on an inconsistent description
 * (no tokens, an unknown token type, a merge without "left right"), naming
 * it; a special id outside the vocabulary falls back to the default. */
chord_status tok_vocab_build(const tok_desc *d, tok_vocab **out, chord_err *err);

/* Builds the vocabulary from a GGUF file's tokenizer.ggml.* keys. Errors
 * name the file, the key and its offset. */
chord_status tok_load_gguf(const struct gguf_file *f, tok_vocab **out, chord_err *err);

void tok_vocab_free(tok_vocab *v);

/* ---- queries ------------------------------------------------------------ */

int32_t tok_n_vocab(const tok_vocab *v);
bool tok_is_spm(const tok_vocab *v);
/* The pre-tokenizer rule set in use ("gpt-2", "llama3", ...; "spm" for
 * SentencePiece) and whether the file's tokenizer.ggml.pre was recognised
 * (false: it fell back to gpt-2; the app warns under -v). */
const char *tok_pre_name(const tok_vocab *v);
bool tok_pre_known(const tok_vocab *v);
/* The file's own tokenizer.ggml.pre string, or NULL. */
const char *tok_pre_requested(const tok_vocab *v);

chord_token tok_bos(const tok_vocab *v);   /* -1 if none */
chord_token tok_eos(const tok_vocab *v);   /* -1 if none */
chord_token tok_eot(const tok_vocab *v);   /* -1 if none */
chord_token tok_unk(const tok_vocab *v);   /* -1 if none */
bool tok_add_bos(const tok_vocab *v);
bool tok_add_eos(const tok_vocab *v);
/* End of generation, the reference's set: EOS, EOT, EOM, the
 * fill-in-the-middle pad/repo/file-separator markers, and every token whose
 * text marks an end of turn (<|im_end|>, <|eot_id|>, <|end|>,
 * <end_of_turn>, <|endoftext|>, </s>...; not gpt-oss's <|end|>, which only
 * separates its messages). */
bool tok_is_eog(const tok_vocab *v, chord_token t);
int tok_type(const tok_vocab *v, chord_token t);  /* -1 for a bad id */
/* The stored text of a token (NUL-terminated; *len its length if len is not
 * NULL), or NULL for a bad id. */
const char *tok_text(const tok_vocab *v, chord_token t, size_t *len);
/* The id whose stored text is exactly s, or -1. */
chord_token tok_find(const tok_vocab *v, const char *s, size_t len);

/* ---- encoding and decoding ---------------------------------------------- */

/* Tokenizes len bytes of text (need not be NUL-terminated; invalid UTF-8
 * bytes are read as U+FFFD like the reference). add_bos / add_eos add BOS /
 * EOS only if the vocabulary asks for them (the reference's add_special is
 * both). Writes at most max ids to out (out may be NULL when max is 0) and
 * returns how many the whole text needs, or -1 with err filled (allocation
 * failure). */
int tok_encode(const tok_vocab *v, const char *text, size_t len, bool add_bos,
               bool add_eos, bool parse_special, chord_token *out, int max,
               chord_err *err);

/* tok_encode with parse_special for a chat template's output in which
 * literal[i] != 0 flags the bytes of message text (NULL: none): a control
 * or unknown token is cut out of the text only where none of its bytes is
 * flagged, so a message that spells <|im_end|> gets the ids of those
 * characters while the template's own markers stay single tokens.
 * USER_DEFINED tokens are cut out everywhere (as in plain text), and runs
 * of text are tokenized across the flags' edges, so a conversation without
 * such spellings gives exactly tok_encode's ids. */
int tok_encode_marked(const tok_vocab *v, const char *text, size_t len, const uint8_t *literal,
                      bool add_bos, bool add_eos, chord_token *out, int max, chord_err *err);

/* The raw bytes token t stands for: byte-fallback tokens give their byte,
 * byte-level BPE tokens are decoded to bytes, U+2581 becomes a space in
 * SentencePiece tokens, control/unknown tokens give their text only when
 * show_special. Writes min(n, cap) bytes (no NUL) and returns n, or -1 for
 * a bad id. */
int tok_token_bytes(const tok_vocab *v, chord_token t, bool show_special,
                     char *buf, int cap);

/* Streaming detokenizer over a vocabulary (chord_detok_* call these): only
 * complete UTF-8 leaves; a partial sequence waits in d->pending; invalid
 * bytes become U+FFFD. For SentencePiece vocabularies one leading space of
 * the first non-empty piece is dropped while d->first is set (the space the
 * encoder prepended). Returns bytes written to out (NUL-terminated, cap >= 1);
 * text that does not fit in cap is cut at a character boundary. */
void tok_detok_init(chord_detok *d);
int tok_detok_push(chord_detok *d, const tok_vocab *v, chord_token t,
                   char *out, int cap);
int tok_detok_flush(chord_detok *d, char *out, int cap);

/* ---- benchmark ---------------------------------------------------------- */

typedef struct tok_bench_result {
    size_t bytes;        /* bytes tokenized */
    int n_tokens;        /* tokens produced */
    double seconds;      /* wall time of tok_encode */
    double mb_per_s;
} tok_bench_result;

/* Tokenizes about `bytes` bytes of generated mixed text (English prose,
 * code, digits, accents, CJK, emoji, whitespace runs) and times it. For
 * `chord bench --tokenizer` and the tests. */
chord_status tok_bench(const tok_vocab *v, size_t bytes, tok_bench_result *r,
                       chord_err *err);

/* ---- private: provided by engine/model ---------------------------------- */

const struct tok_vocab *model_vocab(const chord_model *m);

#endif
