/*
 * fuzz_tok.c - libFuzzer target for both tokenizers, encode and decode
 * (tests/fuzz/run.sh builds and runs it).
 *
 * The vocabularies are built once from the small vocab GGUFs in
 * ../shared/ref/tokenizer ($CHORD_SHARED): a SentencePiece one (llama-spm),
 * byte-level BPE ones with different pre-tokenizers (gpt-2, deepseek-llm,
 * phi-3 is SentencePiece with Phi rules). The first input byte picks the
 * vocabulary and the flags; the rest is text to encode, and the same bytes
 * read as little-endian 16/32-bit ids (some out of range) are decoded
 * through tok_token_bytes and the streaming detokenizer. Invariants:
 * encode never fails on any bytes and agrees with itself on the count;
 * decoding a bad id is refused (-1), and the detokenizer never writes past
 * cap and always NUL-terminates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "gguf/gguf.h"
#include "tok/tok.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n);

static const char *const vocab_files[] = {
    "ref/tokenizer/ggml-vocab-llama-spm.gguf",
    "ref/tokenizer/ggml-vocab-gpt-2.gguf",
    "ref/tokenizer/ggml-vocab-deepseek-llm.gguf",
    "ref/tokenizer/ggml-vocab-phi-3.gguf",
    "ref/tokenizer/ggml-vocab-starcoder.gguf",
};
#define N_VOCABS (sizeof vocab_files / sizeof vocab_files[0])
static tok_vocab *vocabs[N_VOCABS];

static void load_vocabs(void)
{
    for (size_t i = 0; i < N_VOCABS; i++) {
        char *path = fuzz_shared_path(vocab_files[i]);
        gguf_file *f;
        chord_err err;
        if (gguf_open(path, &f, &err) != CHORD_OK || tok_load_gguf(f, &vocabs[i], &err) != CHORD_OK) {
            fprintf(stderr, "fuzz_tok: %s: %s\n", path, err.msg);
            abort();
        }
        gguf_close(f);
        free(path);
    }
}

static void decode_ids(const tok_vocab *v, const unsigned char *p, size_t n, bool wide, bool show)
{
    chord_detok d;
    tok_detok_init(&d);
    char out[64], buf[32];
    size_t step = wide ? 4 : 2;
    for (size_t i = 0; i + step <= n; i += step) {
        chord_token t = wide ? (chord_token)((uint32_t)p[i] | (uint32_t)p[i + 1] << 8 |
                                             (uint32_t)p[i + 2] << 16 | (uint32_t)p[i + 3] << 24)
                             : (chord_token)((uint32_t)p[i] | (uint32_t)p[i + 1] << 8);
        int nb = tok_token_bytes(v, t, show, buf, (int)sizeof buf);
        if ((t < 0 || t >= tok_n_vocab(v)) != (nb < 0))
            abort();
        int cap = 1 + p[i] % (int)sizeof out;
        memset(out, 0x55, sizeof out);
        int w = tok_detok_push(&d, v, t, out, cap);
        if (w < 0 || w >= cap || out[w] != 0 || (cap < (int)sizeof out && out[cap] != 0x55))
            abort();
    }
    int w = tok_detok_flush(&d, out, (int)sizeof out);
    if (w < 0 || w >= (int)sizeof out || out[w] != 0)
        abort();
}

/* Loading five vocabularies takes seconds under ASan: done here, outside
 * the per-input timeout. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    load_vocabs();
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    if (!vocabs[0])
        load_vocabs();
    if (n < 1)
        return 0;
    unsigned sel = data[0];
    const tok_vocab *v = vocabs[sel % N_VOCABS];
    bool parse_special = sel & 0x08, add = sel & 0x10;
    const char *text = (const char *)data + 1;
    size_t len = n - 1;

    chord_err err;
    chord_token small[8];
    int need = tok_encode(v, text, len, add, add, parse_special, small, 8, &err);
    if (need < 0)
        abort();
    chord_token *ids = malloc(((size_t)need + 1) * sizeof *ids);
    if (!ids)
        return 0;
    int again = tok_encode(v, text, len, add, add, parse_special, ids, need, &err);
    if (again != need || memcmp(ids, small, (size_t)(need < 8 ? need : 8) * sizeof *ids) != 0)
        abort();
    for (int i = 0; i < need; i++)
        if (ids[i] < 0 || ids[i] >= tok_n_vocab(v))
            abort();
    /* decode what was encoded, then the raw bytes as ids */
    chord_detok d;
    tok_detok_init(&d);
    char out[256];
    for (int i = 0; i < need; i++) {
        int w = tok_detok_push(&d, v, ids[i], out, (int)sizeof out);
        if (w < 0 || w >= (int)sizeof out || out[w] != 0)
            abort();
    }
    free(ids);
    decode_ids(v, data + 1, len, sel & 0x20, sel & 0x40);
    return 0;
}
