/*
 * chord.h - the public API of libchord, chord's inference engine.
 *
 * This header is the whole contract between the engine and its users (app/,
 * ui/, data/, tests). Nothing here prints or exits: every fallible call
 * returns a chord_status and, where it takes one, fills a chord_err with a
 * one-line message naming what failed and where (file, key or tensor, byte
 * offset).
 *
 * Threading: a chord_model is read-only after load and may be shared; a
 * chord_ctx (KV cache and scratch buffers) belongs to one thread at a time.
 * chord_stats_get() may be called from any thread at any time.
 */
#ifndef CHORD_H
#define CHORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CHORD_VERSION "0.1.0"

/* ---------------------------------------------------------------------------
 * Status codes and errors
 * ------------------------------------------------------------------------- */

typedef enum chord_status {
    CHORD_OK = 0,
    CHORD_E_IO,          /* open/read/write failed (errno in the message) */
    CHORD_E_FORMAT,      /* malformed input file (corrupt/truncated GGUF...) */
    CHORD_E_UNSUPPORTED, /* valid but not supported (architecture, type...) */
    CHORD_E_INVALID,     /* bad argument from the caller */
    CHORD_E_NOMEM,       /* allocation failed or would exceed a limit */
    CHORD_E_CTX_FULL,    /* the KV cache has no room for more tokens */
    CHORD_E_CANCELLED,   /* stopped by chord_cancel() */
    CHORD_E_TEMPLATE,    /* the chat template raised or could not render */
} chord_status;

/* A one-line, NUL-terminated error message. */
typedef struct chord_err {
    char msg[512];
} chord_err;

/* A short name for a status code ("I/O error", "format error", ...). */
const char *chord_status_str(chord_status st);

/* Initializes process-wide state (CPU feature detection, SIMD dispatch).
 * Idempotent and thread-safe; every other entry point calls it too. The
 * environment variable CHORD_SIMD=scalar|avx2|avx512 forces a level. */
void chord_init(void);

/* The SIMD level in use: "scalar", "avx2" or "avx512". */
const char *chord_simd_level(void);

/* ---------------------------------------------------------------------------
 * Models
 * ------------------------------------------------------------------------- */

typedef struct chord_model chord_model;

typedef struct chord_model_params {
    int n_threads;        /* compute threads; 0 = number of online cores */
    int64_t mem_budget;   /* bytes of weights to hold in memory; 0 = auto,
                             -1 = everything (no streaming) */
    int prefetch;         /* prefetch distance in layers (0 = read each layer
                             only when the compute asks; < 0 = default, 2) */
    bool direct_io;       /* stream with O_DIRECT instead of fadvise(DONTNEED) */
    bool verbose_plan;    /* fill chord_model_plan() text at load */
    bool vocab_only;      /* load metadata and vocabulary only (no tensors
                             needed: tokenize/detokenize/chat-template) */
    bool expert_lru;      /* mixtures of experts beyond the budget: evict the
                             least recently used expert instead of the one
                             with the lowest decayed use count (to compare) */
} chord_model_params;

/* Defaults for chord_model_params. */
chord_model_params chord_model_default_params(void);

/* Opens a GGUF model: validates the file, reads hyperparameters and the
 * vocabulary, and prepares the weights (mapped, loaded or streamed according
 * to the memory budget). */
chord_status chord_model_load(const char *path, const chord_model_params *params,
                              chord_model **out, chord_err *err);
void chord_model_free(chord_model *m);

typedef struct chord_model_info {
    const char *path;
    const char *name;        /* general.name, or the file's base name */
    const char *arch;        /* "llama" or "qwen2" */
    const char *type_name;   /* most common weight type, e.g. "Q4_K" */
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff;
    int n_ctx_train;
    int64_t n_params;
    int64_t n_params_per_token; /* weights a token multiplies: n_params less
                                 * the experts a MoE token does not run */
    int64_t file_bytes;
    int64_t weight_bytes;    /* bytes of all tensors */
    int64_t weight_bytes_per_token; /* bytes read per decoded token */
} chord_model_info;

void chord_model_get_info(const chord_model *m, chord_model_info *out);

/* A human-readable description of the memory plan chosen at load (resident
 * layers, streaming slots, budget); never NULL. */
const char *chord_model_plan(const chord_model *m);

/* A metadata string value (e.g. "tokenizer.chat_template"), or NULL. */
const char *chord_model_meta_str(const chord_model *m, const char *key);

/* Writes a description of a GGUF file (metadata, tensor table, totals by
 * type, per-layer bytes) to out. For `chord inspect`. */
chord_status chord_inspect(const char *path, FILE *out, chord_err *err);

/* What `chord models` shows of a GGUF model, from its headers alone
 * (metadata and tensor tables; no tensor data is read). A split model is
 * read whole, from any of its parts, as chord_model_load reads it. */
typedef struct chord_gguf_summary {
    char arch[32];          /* general.architecture, or "" */
    char name[128];         /* general.name, or "" */
    char type_name[16];     /* main weight type, e.g. "Q4_K" ("" without tensors) */
    int64_t n_params;       /* elements of all its tensors */
    int64_t file_bytes;     /* bytes of all its files */
    int split_no;           /* split.no of the first part (0) */
    int split_count;        /* split.count; 0 when the model is one file */
} chord_gguf_summary;

chord_status chord_gguf_summarize(const char *path, chord_gguf_summary *out, chord_err *err);

/* ---------------------------------------------------------------------------
 * Tokenizer
 * ------------------------------------------------------------------------- */

typedef int32_t chord_token;

/* Tokenizes text. add_bos: prepend BOS if the model asks for it.
 * parse_special: match control/user-defined tokens written in the text (chat
 * templates do; raw user text never does). Writes at most max tokens and
 * returns the number the whole text needs, or -1 on error (err filled). */
int chord_tokenize(const chord_model *m, const char *text, size_t len,
                   bool add_bos, bool parse_special,
                   chord_token *out, int max, chord_err *err);

/* The raw bytes a token stands for (byte-fallback and byte-level tokens
 * decoded; control tokens give their text only if show_special). Returns
 * the number of bytes (which may exceed cap: then nothing useful was
 * written beyond cap), or -1 for an invalid id. */
int chord_token_to_bytes(const chord_model *m, chord_token t, bool show_special,
                         char *buf, int cap);

chord_token chord_token_bos(const chord_model *m);  /* -1 if none */
chord_token chord_token_eos(const chord_model *m);  /* -1 if none */
bool chord_token_is_eog(const chord_model *m, chord_token t); /* EOS/EOT/end of turn */
/* Whether the model asks for BOS at the start of a prompt. */
bool chord_model_add_bos(const chord_model *m);
/* The text of a token as stored in the vocabulary, or NULL. */
const char *chord_token_text(const chord_model *m, chord_token t);

/* Streaming detokenizer: feeds token bytes in, hands out only complete UTF-8
 * (a partial multi-byte character is held back until it completes; invalid
 * bytes become U+FFFD). */
typedef struct chord_detok {
    char pending[8];
    int n_pending;
    bool first;          /* strip the SentencePiece leading space once */
} chord_detok;

void chord_detok_init(chord_detok *d);
/* Appends the text of token t to out (cap bytes, NUL-terminated); returns the
 * number of bytes written (excluding the NUL). out needs room for at least
 * 64 + the token's length bytes; 256 is always enough. */
int chord_detok_push(chord_detok *d, const chord_model *m, chord_token t,
                     char *out, int cap);
/* Flushes held-back bytes (as U+FFFD) at the end of a stream. */
int chord_detok_flush(chord_detok *d, char *out, int cap);

/* The tokenizer in use: "spm" (SentencePiece) or the byte-level BPE
 * pre-tokenizer rule set ("gpt-2", "llama3", "qwen2", ...). If known is not
 * NULL it is set to false when the file's tokenizer.ggml.pre was not
 * recognised and gpt-2's rules stand in (worth a warning under -v). */
const char *chord_tokenizer_name(const chord_model *m, bool *known);

/* Tokenizes about `bytes` bytes of generated mixed text (prose, code,
 * digits, accents, CJK, emoji, whitespace runs) and reports the tokens made
 * and the seconds taken. For `chord bench --tokenizer`. */
chord_status chord_tokenizer_bench(const chord_model *m, size_t bytes,
                                   int *n_tokens, double *seconds, chord_err *err);

/* ---------------------------------------------------------------------------
 * Chat templates
 * ------------------------------------------------------------------------- */

/* A reasoning model's thinking switch: the chat template's enable_thinking
 * variable (Qwen3's templates read it: off renders an empty think block in
 * the generation prompt). DEFAULT leaves it undefined. */
typedef enum chord_thinking {
    CHORD_THINK_DEFAULT = 0,
    CHORD_THINK_ON,
    CHORD_THINK_OFF,
} chord_thinking;

typedef struct chord_chat_msg {
    const char *role;     /* "system", "user", "assistant" */
    const char *content;
} chord_chat_msg;

/* Renders messages with a Jinja chat template (Hugging Face semantics:
 * trim_blocks and lstrip_blocks). template_src NULL = the model's own
 * (tokenizer.chat_template) or the built-in fallback family. Returns a
 * malloc'd string in *out. */
chord_status chord_chat_render(const chord_model *m, const char *template_src,
                               const chord_chat_msg *msgs, int n_msgs,
                               bool add_generation_prompt,
                               const char *bos, const char *eos,
                               char **out, chord_err *err);

/* As chord_chat_render with the template variable enable_thinking set
 * (CHORD_THINK_DEFAULT: left undefined, exactly chord_chat_render). */
chord_status chord_chat_render_thinking(const chord_model *m, const char *template_src,
                                        const chord_chat_msg *msgs, int n_msgs,
                                        bool add_generation_prompt, const char *bos,
                                        const char *eos, chord_thinking thinking,
                                        char **out, chord_err *err);

/* Renders with a built-in template family by name ("chatml", "llama2",
 * "llama3", "zephyr", "phi3", "gemma", "mistral"); see chord_chat_families. */
chord_status chord_chat_render_builtin(const char *family,
                                       const chord_chat_msg *msgs, int n_msgs,
                                       bool add_generation_prompt,
                                       const char *bos, const char *eos,
                                       char **out, chord_err *err);
/* NULL-terminated list of built-in family names. */
const char *const *chord_chat_families(void);
/* The family a model's template (or vocabulary) looks like, or NULL. */
const char *chord_chat_detect_family(const chord_model *m);

/* ---------------------------------------------------------------------------
 * Contexts: a KV cache plus scratch buffers, for one conversation
 * ------------------------------------------------------------------------- */

typedef struct chord_ctx chord_ctx;

typedef enum chord_kv_type { CHORD_KV_F16 = 0, CHORD_KV_Q8_0, CHORD_KV_Q4_0 } chord_kv_type;
/* "f16", "q8_0", "q4_0" (as llama.cpp names them; any case) -> the type,
 * or -1; and back. */
int chord_kv_type_parse(const char *name);
const char *chord_kv_type_name(chord_kv_type t);

typedef struct chord_ctx_params {
    int n_ctx;            /* KV cache length; 0 = the model's own, or as much
                             of it as fits (chord_ctx_size_note) */
    int n_threads;        /* 0 = the model's n_threads */
    /* Attention in the numerics of the reference engine's unfused graph
     * (llama.cpp --flash-attn off) rather than its flash-attention kernel
     * (the default, and chord's faster prefill): both are exact softmax
     * attention; they differ in where they round to F16. */
    bool unfused_attn;
    /* Test hook: RoPE places cache position p at p + pos_offset, as if
     * pos_offset positions no token attends to came first (0 = normal). */
    int pos_offset;
    /* The KV cache's types (llama.cpp's --cache-type-k / -v): keys and
     * values each F16 (the default), Q8_0 or Q4_0 (blocks of 32 along the
     * head: 34 or 18 bytes a block instead of 64). A quantized cache needs
     * the flash-attention numerics (not unfused_attn) and a head size that
     * is a multiple of 32; chord_ctx_drop refuses it (re-evaluate). */
    chord_kv_type type_k, type_v;
} chord_ctx_params;

chord_ctx_params chord_ctx_default_params(void);
chord_status chord_ctx_new(chord_model *m, const chord_ctx_params *p,
                           chord_ctx **out, chord_err *err);
void chord_ctx_free(chord_ctx *c);

int chord_ctx_n_ctx(const chord_ctx *c);
/* Number of tokens in the KV cache (the next position). */
int chord_ctx_pos(const chord_ctx *c);
/* Forgets every position >= pos (pos <= chord_ctx_pos). A model with
 * sliding-window layers keeps only a ring of recent positions there: when
 * the window before pos is no longer in it, everything is forgotten (read
 * chord_ctx_pos afterwards to see where evaluation resumes). */
void chord_ctx_truncate(chord_ctx *c, int pos);
/* Context shift: removes cache positions a..b-1 and moves b..pos-1 down
 * to a, turning each moved key back by b - a positions with its layer's
 * own RoPE (RoPE attention depends only on position differences, so the
 * moved entries are what those tokens give at their new positions, up to
 * one more F16 rounding of the keys; they still carry what they attended
 * to before). Every family shifts; a model with sliding-window layers
 * refuses (CHORD_E_UNSUPPORTED, the cache unchanged) when its rings no
 * longer hold the window the next position needs, and so does a quantized
 * KV cache (type_k or type_v not F16): re-evaluate instead. */
chord_status chord_ctx_drop(chord_ctx *c, int a, int b, chord_err *err);
/* One line saying what the KV cache holds and its bytes (for -v). */
const char *chord_ctx_describe(const chord_ctx *c);
/* Where n_ctx was 0: one line saying the context chosen and why (the
 * model's own, or what half the memory left after the weights holds);
 * "" where the caller gave n_ctx. *capped (if not NULL): whether memory
 * made it shorter than the model's own. */
const char *chord_ctx_size_note(const chord_ctx *c, bool *capped);

/* Runs the model over n tokens at positions pos..pos+n-1 (one batch; n = 1
 * is a decode step; both share one code path). If logits is not NULL it
 * receives n x n_vocab floats (every position) when all_logits, else n_vocab
 * floats (the last position). Returns CHORD_E_CTX_FULL without side effects
 * if the tokens do not fit, CHORD_E_CANCELLED if chord_ctx_cancel() was
 * called meanwhile (the cache is then rolled back to pos). */
chord_status chord_ctx_eval(chord_ctx *c, const chord_token *tokens, int n,
                            float *logits, bool all_logits, chord_err *err);

/* Asks a running chord_ctx_eval to stop at the next layer boundary. Safe
 * from any thread; cleared when the next eval starts. */
void chord_ctx_cancel(chord_ctx *c);

/* on: batches run each token through the kernels of a one-token eval (the
 * dot products) instead of the batched GEMMs, so every position's logits
 * and cache entries have exactly the bits that evaluating the tokens one at
 * a time gives (the GEMMs differ from them in float summation order only,
 * and are faster for prompts). Speculative decoding checks its drafts this
 * way. Off by default. */
void chord_ctx_set_decode_numerics(chord_ctx *c, bool on);

/* ---------------------------------------------------------------------------
 * Sampling
 * ------------------------------------------------------------------------- */

typedef struct chord_sampler chord_sampler;

typedef struct chord_sampler_params {
    float temp;           /* 0 = greedy (argmax) */
    int top_k;            /* 0 = off */
    float top_p;          /* 1 = off */
    float min_p;          /* 0 = off */
    float repeat_penalty; /* 1 = off */
    int repeat_last_n;    /* window of the penalty */
    uint64_t seed;        /* CHORD_SEED_RANDOM = from the clock */
} chord_sampler_params;

#define CHORD_SEED_RANDOM UINT64_MAX

/* A fresh seed for "random" (getrandom, else the clock), below 2^53 so a
 * JSON reader keeps it exact: front ends draw it themselves to record it
 * and show it, so that --seed with it gives the reply again. */
uint64_t chord_seed_random(void);

chord_sampler_params chord_sampler_default_params(void);
/* Validates ranges; fills err naming the bad field. */
chord_status chord_sampler_check(const chord_sampler_params *p, chord_err *err);
chord_sampler *chord_sampler_new(const chord_sampler_params *p, int n_vocab);
void chord_sampler_free(chord_sampler *s);
/* Picks a token from logits (n_vocab floats; may be modified in place). */
chord_token chord_sampler_sample(chord_sampler *s, float *logits);
/* Records a token (prompt or generated) for the repetition penalty. */
void chord_sampler_accept(chord_sampler *s, chord_token t);
void chord_sampler_reset(chord_sampler *s);

/* ---------------------------------------------------------------------------
 * Generation on a background thread, with an event queue
 * ------------------------------------------------------------------------- */

typedef enum chord_event_kind {
    CHORD_EV_PREFILL_DONE, /* prompt processed: n_prompt, prompt_ms */
    CHORD_EV_TOKEN,        /* one generated token: id, text (complete UTF-8) */
    CHORD_EV_DONE,         /* finished: reason, counts, timings */
    CHORD_EV_ERROR,        /* failed: status, message */
} chord_event_kind;

typedef enum chord_stop_reason {
    CHORD_STOP_EOG,       /* end-of-generation token */
    CHORD_STOP_LIMIT,     /* -n reached */
    CHORD_STOP_CANCELLED, /* chord_gen_cancel() */
    CHORD_STOP_CTX_FULL,  /* context full */
    CHORD_STOP_ERROR,
} chord_stop_reason;

typedef struct chord_event {
    chord_event_kind kind;
    chord_token token;
    char text[256];           /* TOKEN: its text (may be empty) */
    chord_stop_reason reason; /* DONE */
    int n_prompt, n_gen;
    double prompt_ms, gen_ms;
    chord_status status;      /* ERROR */
    char message[512];        /* ERROR */
    /* speculative decoding so far (TOKEN and DONE; 0 without it): tokens
     * proposed and checked by the model, and those of them it kept */
    int n_drafted, n_accepted;
} chord_event;

typedef struct chord_gen chord_gen;

typedef struct chord_gen_params {
    const chord_token *prompt;  /* tokens to feed (copied) */
    int n_prompt;
    int n_predict;              /* max tokens to generate; <0 = until EOG/ctx */
    chord_sampler_params sampling;
    const chord_model *model;   /* the ctx's model (vocabulary, EOG, detok);
                                   required */
    /* Speculative decoding (optional; all zero = off). A draft model, or
     * prompt lookup, proposes up to draft_max tokens; the model checks
     * them in one batch (chord_ctx_set_decode_numerics, so each position
     * has a one-token eval's bits) and keeps the longest agreeing prefix
     * plus its own next token. Greedy output is token for token what
     * decoding without it gives; sampled output keeps the model's
     * distribution (a proposal x is kept with probability min(1, p(x) /
     * q(x)), else the token comes from max(0, p - q) renormalized). */
    const chord_model *draft;   /* same vocabulary (chord_vocab_check) */
    chord_ctx *draft_ctx;       /* the draft's context, owned by the generation
                                   like ctx: positions it holds beyond ctx's
                                   are dropped, the rest must hold what ctx
                                   holds there (after chord_ctx_drop on ctx,
                                   truncate it to 0); it is brought up to the
                                   prompt from context and left in step */
    int draft_max;              /* tokens proposed per check at most (0 = 8,
                                   <= 32); fewer while few are accepted */
    bool lookup;                /* prompt lookup: propose what followed the
                                   last earlier occurrence of the last few
                                   tokens (context, prompt and reply); with a
                                   draft too, the draft proposes when
                                   nothing matches */
    const chord_token *context; /* the n_context tokens ctx holds before the
                                   prompt (n_context == chord_ctx_pos(ctx)),
                                   or NULL: lookup searches them, a draft
                                   context behind ctx is fed from them */
    int n_context;
} chord_gen_params;

/* Whether draft can propose tokens for target: the same token texts for
 * every id both vocabularies have, sizes at most 128 apart (padding);
 * else CHORD_E_INVALID with one line saying where they differ. */
chord_status chord_vocab_check(const chord_model *target, const chord_model *draft,
                               chord_err *err);

/* Starts generating on a new thread. The ctx is owned by the generation
 * until chord_gen_join() returns. Events come in order: PREFILL_DONE, then
 * TOKEN per generated token (an EOG token is not sent as a TOKEN), then
 * exactly one final DONE or ERROR. The sampled token that ends a run at
 * the -n limit is not evaluated, so chord_ctx_pos() after join counts the
 * prompt plus every generated token but the last. DONE.text holds bytes the
 * detokenizer still held back (as U+FFFD), usually empty. */
chord_status chord_gen_start(chord_ctx *c, const chord_gen_params *p,
                             chord_gen **out, chord_err *err);
/* Waits up to timeout_ms (-1 = forever, 0 = poll) for the next event.
 * Returns true if one was stored in *ev. */
bool chord_gen_next(chord_gen *g, chord_event *ev, int timeout_ms);
/* A file descriptor that is readable while events are queued (for poll()). */
int chord_gen_fd(const chord_gen *g);
/* Asks the generation to stop as soon as possible (between tokens or layers). */
void chord_gen_cancel(chord_gen *g);
/* Waits for the thread to end and frees the handle (pending events dropped). */
void chord_gen_join(chord_gen *g);

/* ---------------------------------------------------------------------------
 * Chat sessions: one conversation kept in step with a context's KV cache,
 * shared by every front end so all stop a turn on the same things
 * ------------------------------------------------------------------------- */

typedef struct chord_chat chord_chat;

typedef struct chord_chat_params {
    const char *template_src;    /* Jinja source (copied), or NULL */
    const char *template_family; /* built-in family (copied), or NULL; both
                                    NULL = the model's own template */
    const char *system;          /* system prompt; NULL or "" = none */
    bool no_ctx_shift;           /* when turns leave the window, prefill
                                    the rest again instead of shifting the
                                    KV cache (chord_ctx_drop) */
    int thinking;                /* a chord_thinking: the template's
                                    enable_thinking (0 = its default) */
} chord_chat_params;

/* A piece of reply text cleared for showing: token is the generated token
 * it comes from (-1: text without one, the detokenizer's tail); text is
 * NUL-terminated, len bytes (may be 0), valid until the next call. */
typedef enum chord_part {
    CHORD_PART_ANSWER = 0,    /* the reply proper */
    CHORD_PART_REASONING,     /* a reasoning model's thinking (<think>...,
                                 harmony's analysis channel) */
    CHORD_PART_MARKUP,        /* neither: the markers around them; text "" */
} chord_part;

typedef struct chord_chat_piece {
    chord_token token;
    const char *text;
    size_t len;
    chord_part part;
} chord_chat_piece;

/* Starts a session over m and ctx (borrowed; ctx empty and used by this
 * session only until chord_chat_free). Finds what the template closes an
 * assistant turn with: its text, and its control token when the model's
 * end-of-generation set lacks it. */
chord_status chord_chat_new(chord_model *m, chord_ctx *ctx, const chord_chat_params *p,
                            chord_chat **out, chord_err *err);
void chord_chat_free(chord_chat *s);
/* One line for -v: which template renders the conversation and why. */
void chord_chat_describe_template(const chord_chat *s, char *out, size_t cap);
/* The text that ends an assistant turn ("" if none) and the extra stop
 * tokens (their number; *out may be NULL). */
const char *chord_chat_stop_text(const chord_chat *s);
int chord_chat_stop_tokens(const chord_chat *s, const chord_token **out);

/* Sets (non-empty text) or clears the system prompt. */
chord_status chord_chat_set_system(chord_chat *s, const char *text, chord_err *err);
const char *chord_chat_system(const chord_chat *s);  /* NULL if none */
/* Appends a message (user, else assistant). */
chord_status chord_chat_add(chord_chat *s, bool user, const char *text, size_t len,
                            chord_err *err);
/* True (err says why) when a user message certainly cannot fit: its first
 * n_ctx * 8 bytes alone already make more tokens than the context holds.
 * A megabyte pasted on one line is refused at once instead of being
 * tokenized whole first; anything else goes the usual way. */
bool chord_chat_too_long(const chord_chat *s, const char *text, size_t len, chord_err *err);
/* Removes the last message. */
void chord_chat_pop(chord_chat *s);
/* Removes every message (the system prompt and the cached tokens stay). */
void chord_chat_clear(chord_chat *s);
int chord_chat_n_msgs(const chord_chat *s);
/* Message i: whether it is the user's, and its text (NULL if out of range). */
const char *chord_chat_msg_text(const chord_chat *s, int i, bool *user);
/* The first message still in the model's window (older ones were dropped). */
int chord_chat_window_start(const chord_chat *s);

/* Before a reply: renders the window with the generation prompt, dropping
 * the oldest turns while it plus `reserve` tokens (room for the reply)
 * exceed the context (*n_dropped: turns dropped now), and truncates the
 * cache to the prefix that still matches (*n_reuse tokens kept). Then
 * *prompt / *n_prompt are the tokens to prefill (for chord_gen_start;
 * valid until the next call). The last reply kept counts as the tokens
 * sampled for it (its text re-tokenized need not give them back), so the
 * cache is reused through it. CHORD_E_CTX_FULL when even the last user
 * turn alone does not fit. Starts a new reply for the calls below. */
chord_status chord_chat_prepare(chord_chat *s, int reserve, const chord_token **prompt,
                                int *n_prompt, int *n_reuse, int *n_dropped, chord_err *err);
/* After chord_chat_prepare: the tokens the cache held that it no longer
 * holds, and whether turns that left the window were dropped from the
 * cache itself (a context shift: the rest of the conversation moved down,
 * only the new part is prefilled) rather than by prefilling again. */
int chord_chat_dropped_tokens(const chord_chat *s, bool *shifted);
/* Feeds one TOKEN event (t and its text), or with t < 0 the DONE event's
 * leftover text. Returns true once the turn has ended (the template's stop
 * token or stop text; later calls are ignored): cancel the generation.
 * *st is CHORD_E_NOMEM if memory ran out (the text is lost). */
bool chord_chat_reply_push(chord_chat *s, chord_token t, const char *text, chord_status *st);
/* The reply ended for another reason (EOG, limit, cancel, error): releases
 * the text held back. */
void chord_chat_reply_flush(chord_chat *s);
/* Takes the next piece of reply text cleared for showing, in order (text
 * that may begin the stop text is held back until it is known not to);
 * false when none is ready. Call after each push and after the flush. */
bool chord_chat_reply_next(chord_chat *s, chord_chat_piece *out);
/* The reply so far, cut before the stop text: its answer part only when
 * the model reasons (the text handed out so far). */
const char *chord_chat_reply_text(const chord_chat *s, size_t *len);
/* The reasoning part of the reply handed out so far, without the blank
 * lines around it ("" if none). */
const char *chord_chat_reply_reasoning(const chord_chat *s, size_t *len);
/* How the model marks its reasoning: "think" (<think> tags), "harmony"
 * (gpt-oss's channels) or NULL when it has no reasoning part. */
const char *chord_chat_reasoning_format(const chord_chat *s);
/* Whether the session's template reads enable_thinking (a built-in family
 * or a template without it does not: setting it changes nothing). */
bool chord_chat_thinking_switch(const chord_chat *s);
/* Sets enable_thinking for the next renderings; the cached prefix that
 * still matches is reused as always. */
void chord_chat_set_thinking(chord_chat *s, chord_thinking t);
chord_thinking chord_chat_get_thinking(const chord_chat *s);
/* After chord_gen_join(): notes what the cache now holds. keep: the reply
 * joins the conversation as an assistant message; else the turn (with the
 * user message that asked) leaves it. */
chord_status chord_chat_reply_end(chord_chat *s, bool keep, chord_err *err);

/* ---------------------------------------------------------------------------
 * Statistics: a consistent snapshot, safe from any thread
 * ------------------------------------------------------------------------- */

typedef enum chord_layer_state {
    CHORD_LAYER_RESIDENT = 0, /* loaded, kept for the whole run */
    CHORD_LAYER_PINNED,       /* resident and never evicted */
    CHORD_LAYER_QUEUED,       /* waiting for a prefetch worker */
    CHORD_LAYER_LOADING,      /* being read */
    CHORD_LAYER_READY,        /* in a slot, not yet used */
    CHORD_LAYER_IN_USE,       /* being computed */
    CHORD_LAYER_EVICTED,      /* not in memory */
} chord_layer_state;

#define CHORD_MAX_LAYERS 512
#define CHORD_MAX_EXPERT_USED 16 /* experts one token runs per MoE layer, at most */

typedef struct chord_stats {
    int n_layer;
    uint8_t layer_state[CHORD_MAX_LAYERS]; /* chord_layer_state */
    bool streaming;          /* false when the whole model is resident */
    int n_resident, n_slots, prefetch_distance;
    int queue_depth, in_flight;
    uint64_t hits, stalls, evictions;
    double stall_ms;
    uint64_t bytes_read;
    double read_mb_s;        /* recent read throughput */
    int64_t budget_bytes, budget_used_bytes;
    /* Mixtures of experts (all zero for a dense model): the expert cache.
     * An expert is needed when a token's router picks it; it is a hit if
     * it was in memory then, else a miss (read at once: a stall). The
     * prefetcher reads the experts layer l's input predicts for layer
     * l + 1; a prediction is right if the token then picks that expert. */
    int n_expert, n_expert_used;
    int n_moe_layers;
    uint16_t experts_resident[CHORD_MAX_LAYERS]; /* experts of layer l in memory */
    int16_t experts_last[CHORD_MAX_LAYERS][CHORD_MAX_EXPERT_USED]; /* the last token's
                                                                     * choices, -1 = none */
    uint64_t expert_hits, expert_misses;
    uint64_t expert_predicted, expert_predict_right;
    uint64_t expert_bytes_read;
    double expert_stall_ms;
    uint64_t expert_tokens;  /* tokens the expert counters cover */
    int expert_slots;        /* experts the cache holds at once (0: all resident) */
    uint16_t experts_seen[CHORD_MAX_LAYERS]; /* distinct experts of layer l chosen
                                              * since the model was loaded */
    /* engine speed, updated by chord_ctx_eval */
    uint64_t n_prompt_tokens, n_gen_tokens;
    double prompt_ms, gen_ms;
    int ctx_used, ctx_size;
} chord_stats;

void chord_stats_get(const chord_model *m, chord_stats *out);

/* ---------------------------------------------------------------------------
 * Tools: synthetic models and quantization
 * ------------------------------------------------------------------------- */

typedef struct chord_synth_params {
    const char *arch;        /* llama, qwen2, qwen3, gemma2, gemma3, phi3,
                                qwen3moe, gpt-oss */
    int dim, layers, heads, kv_heads, ffn;
    int head_dim;            /* query/key head size; 0 = dim / heads */
    int window;              /* gemma2/gemma3 sliding window; 0 = the
                                family's default (4096, 512) */
    int vocab;               /* used when vocab_from is NULL */
    const char *vocab_from;  /* a GGUF whose vocabulary to copy, or NULL */
    const char *type;        /* "Q4_K_M", "Q8_0", "F16", ... */
    uint64_t seed;
    int ctx_len;             /* 0 = 4096 */
    bool fast;               /* quantized tensors: rows of random blocks
                                drawn from a per-tensor pool quantized once
                                (valid, same statistics, ~memcpy speed)
                                instead of quantizing every row */
    /* Mixtures of experts (qwen3moe and gpt-oss need them; llama with
     * experts is Mixtral's layout): */
    int experts, experts_used;
    int expert_ffn;          /* an expert's FFN width; 0 = ffn */
    float router_skew;       /* 0 = uniform routers; S > 0: expert of rank r
                                takes a share ~ (r + 1)^-S of selections */
} chord_synth_params;

/* Writes a random-weight GGUF, tensor by tensor (never the whole model in
 * memory). */
chord_status chord_synth(const chord_synth_params *p, const char *out_path,
                         chord_err *err);

/* Re-quantizes a GGUF to type (Q8_0, Q4_0, Q4_K, Q6_K, Q4_K_M mix, ...),
 * tensor by tensor. */
chord_status chord_quantize(const char *in_path, const char *out_path,
                            const char *type, chord_err *err);

/* `chord split`: writes the model at in (a file, or any part of a split
 * model) as OUT_PREFIX-00001-of-0000K.gguf ... in llama.cpp's gguf-split
 * layout: tensors in order, a new part after max_tensors tensors (> 0) or
 * before max_bytes of tensor data would be passed (> 0); a tensor is never
 * cut. One line per part to out (NULL: quiet); dry_run only says what it
 * would write. A failure leaves no part behind. */
typedef struct chord_split_params {
    int max_tensors;
    int64_t max_bytes;
    bool dry_run;
} chord_split_params;
chord_status chord_split(const char *in, const char *out_prefix, const chord_split_params *p,
                         FILE *out, chord_err *err);
/* `chord split --merge`: the split model at in (any part) as the one file
 * out_path (which must not exist), without split keys. */
chord_status chord_merge(const char *in, const char *out_path, FILE *out, chord_err *err);

/* ---------------------------------------------------------------------------
 * Machine limits, for `chord bench` (engine/probe). Each measures under the
 * machine's current load; rates are in 1e9 (GB, GFLOP, GOP) or 1e6 (MB) units.
 * ------------------------------------------------------------------------- */

/* Streaming read bandwidth: the best of reps passes over a buffer of about
 * bytes (take much more than the caches), split over n_threads threads. */
chord_status chord_probe_mem_read(int n_threads, size_t bytes, int reps, double *gb_s,
                                  chord_err *err);
/* memcpy bandwidth (bytes copied per second) between two such buffers. */
chord_status chord_probe_memcpy(int n_threads, size_t bytes, int reps, double *gb_s,
                                chord_err *err);
/* OpenBLAS sgemm GFLOP/s for m rows of activations times each weight
 * matrix shapes[2i] (rows out) x shapes[2i+1] (inputs), i < n_shapes, run
 * as the engine runs it (rows split over n_threads single-threaded sgemm
 * calls); the best of reps passes over all shapes. */
chord_status chord_probe_sgemm(int n_threads, int m, const int *shapes, int n_shapes, int reps,
                               double *gflops, chord_err *err);
/* Peak int8 multiply-accumulate rate (a multiply and an add count as two
 * operations) on n_threads threads with the instructions of the SIMD level
 * in use: AVX-512 VNNI vpdpbusd, else AVX2 vpmaddubsw, else scalar. kind
 * (may be NULL) receives a name of the instructions used. */
chord_status chord_probe_int8(int n_threads, double *gops, const char **kind, chord_err *err);
/* Peak float multiply-add rate (GFLOP/s, a multiply and an add count as
 * two) on n_threads threads with the SIMD level in use (AVX-512 or AVX2
 * vfmadd, else scalar): the limit of chord's own float GEMM. */
chord_status chord_probe_fma(int n_threads, double *gflops, const char **kind, chord_err *err);
/* Which kernels prefill batches of weights of this type ("Q4_K", "F16")
 * run through on this machine: "int8" (int8 dot products of quantized
 * weights and activations), "fma" (chord's own float GEMM), "sgemm"
 * (OpenBLAS), or "unknown" for a name the engine does not know. */
const char *chord_prefill_kernel(const char *type_name);
/* Drops the file's pages from the page cache (dirty pages written first). */
chord_status chord_file_drop_cache(const char *path, chord_err *err);
/* Sequential read rate of the file's first max_bytes (<= 0: all of it),
 * after dropping its pages from the cache if drop_first. */
chord_status chord_probe_file_read(const char *path, int64_t max_bytes, bool drop_first,
                                   double *mb_s, chord_err *err);
/* The kernel's MemAvailable in bytes (-1 if unknown): the figure
 * --mem-budget auto plans from. */
int64_t chord_mem_available(void);

/* The disk's read rate for the layer cache's access pattern: n_readers
 * threads with their own fds read blocks of block_bytes at once (reader i
 * takes blocks i, i + n_readers, ...) in 4 MiB preads as the cache does,
 * releasing each block's pages after
 * it as the cache does, over passes of the file's first max_bytes (<= 0:
 * all of it) with its pages dropped before each pass: one untimed pass
 * (the cache re-reads the same bytes every token; a virtual disk serves
 * re-reads from its host's cache), then timed ones until at least
 * min_total bytes were read. */
chord_status chord_probe_disk_read(const char *path, int64_t max_bytes, int64_t min_total,
                                   int64_t block_bytes, int n_readers, double *mb_s,
                                   chord_err *err);
/* The same pattern with the file's pages left in the page cache: the
 * untimed first pass caches the span (when it fits in RAM), so the timed
 * passes measure read() copying out of the page cache, the bound of warm
 * streaming (on some VMs far below memcpy). */
chord_status chord_probe_pcache_read(const char *path, int64_t max_bytes, int64_t min_total,
                                     int64_t block_bytes, int n_readers, double *mb_s,
                                     chord_err *err);

/* ---------------------------------------------------------------------------
 * JSON: a small DOM parser and a string escaper, shared by app/, data/, tests
 * ------------------------------------------------------------------------- */

typedef enum chord_json_type {
    CHORD_JSON_NULL, CHORD_JSON_FALSE, CHORD_JSON_TRUE, CHORD_JSON_NUMBER,
    CHORD_JSON_STRING, CHORD_JSON_ARRAY, CHORD_JSON_OBJECT,
} chord_json_type;

typedef struct chord_json chord_json;
struct chord_json {
    chord_json_type type;
    double number;
    char *string;        /* STRING: NUL-terminated UTF-8 (may contain NULs: see len) */
    size_t len;          /* STRING: bytes; ARRAY/OBJECT: number of children */
    chord_json *items;   /* ARRAY/OBJECT children */
    char **keys;         /* OBJECT keys, parallel to items */
};

/* Parses a whole JSON text. Returns NULL with err filled (line:column). */
chord_json *chord_json_parse(const char *text, size_t len, chord_err *err);
void chord_json_free(chord_json *j);
/* Object member by key, or NULL. */
const chord_json *chord_json_get(const chord_json *obj, const char *key);
/* Array element, or NULL if out of range. */
const chord_json *chord_json_at(const chord_json *arr, size_t i);
/* Writes s (len bytes) as a quoted JSON string to f. */
void chord_json_write_str(FILE *f, const char *s, size_t len);
/* Same into a malloc'd buffer; returns NULL on allocation failure. */
char *chord_json_quote(const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* CHORD_H */
