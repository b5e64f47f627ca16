/*
 * test_random.c - random input: every byte string tokenizes without error
 * into ids inside the vocabulary, and every valid UTF-8 string comes back
 * byte for byte through the streaming detokenizer (byte-level BPE and
 * byte-fallback SentencePiece lose nothing). Strings mix ASCII words and
 * punctuation, runs of spaces/newlines/tabs, multi-byte characters from
 * several scripts, emoji, and (for the no-crash half) raw invalid bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "t.h"
#include "tok/tok.h"
#include "tok/tok_unicode.h"

static uint64_t rng = 0x243F6A8885A308D3ull;

static uint32_t next_u32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* Appends one random piece; valid UTF-8 unless allow_bad. */
static size_t piece(char *out, bool allow_bad)
{
    static const uint32_t ranges[][2] = {
        {'a', 'z'}, {'A', 'Z'}, {'0', '9'}, {0x21, 0x2F}, {0xC0, 0x17F}, {0x370, 0x3FF},
        {0x400, 0x4FF}, {0x600, 0x6FF}, {0x900, 0x97F}, {0x3040, 0x30FF}, {0x4E00, 0x9FA5},
        {0xAC00, 0xD7A3}, {0x1F300, 0x1F6FF}, {0x2000, 0x206F}, {0xFF01, 0xFF5E},
    };
    static const char *const ws[] = {" ", "  ", "\n", "\n\n", "\t", " \n ", "\r\n", "    "};
    uint32_t r = next_u32() % 10;
    if (r < 2) {
        const char *w = ws[next_u32() % 8];
        memcpy(out, w, strlen(w));
        return strlen(w);
    }
    if (r == 2 && allow_bad) {
        out[0] = (char)(0x80 + next_u32() % 0x80);
        return 1;
    }
    size_t nr = sizeof ranges / sizeof ranges[0];
    const uint32_t *rg = ranges[next_u32() % nr];
    uint32_t cp = rg[0] + next_u32() % (rg[1] - rg[0] + 1);
    return (size_t)tok_utf8_put(cp, out);
}

static void run_vocab(const char *rel, int n_strings)
{
    gguf_file *f = NULL;
    tok_vocab *v = NULL;
    chord_err err = {{0}};
    if (gguf_open(t_shared(rel), &f, &err) != CHORD_OK || tok_load_gguf(f, &v, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s: %s", rel, err.msg);
        gguf_close(f);
        return;
    }
    char text[2048], back[8192], buf[256];
    chord_token ids[2048];
    int bad_rt = 0, bad_ids = 0;
    for (int s = 0; s < n_strings; s++) {
        bool allow_bad = s % 4 == 3;
        size_t n = 0, target = 1 + next_u32() % 200;
        while (n < target)
            n += piece(text + n, allow_bad);
        int k = tok_encode(v, text, n, s % 2 == 0, false, s % 3 == 0, ids, 2048, &err);
        if (k < 0 || k > 2048) {
            t_fail_at(__FILE__, __LINE__, "%s: string %d: encode gave %d (%s)", rel, s, k, err.msg);
            continue;
        }
        for (int i = 0; i < k; i++)
            if (ids[i] < 0 || ids[i] >= tok_n_vocab(v))
                bad_ids++;
        if (allow_bad)
            continue;
        /* round trip (without BOS: encode again without it) */
        k = tok_encode(v, text, n, false, false, false, ids, 2048, &err);
        chord_detok d;
        tok_detok_init(&d);
        size_t m = 0;
        for (int i = 0; i < k; i++) {
            int b = tok_detok_push(&d, v, ids[i], buf, sizeof buf);
            memcpy(back + m, buf, (size_t)b);
            m += (size_t)b;
        }
        m += (size_t)tok_detok_flush(&d, back + m, 8);
        if (m != n || memcmp(back, text, n) != 0) {
            if (bad_rt++ < 3)
                t_fail_at(__FILE__, __LINE__, "%s: string %d (%zu bytes) came back as %zu bytes", rel, s, n, m);
        }
    }
    printf("%-40s %d strings: %d ids out of range, %d round-trip failures\n", rel, n_strings, bad_ids, bad_rt);
    T_EQ_INT(bad_ids, 0);
    T_EQ_INT(bad_rt, 0);
    tok_vocab_free(v);
    gguf_close(f);
}

int main(void)
{
    run_vocab("ref/tokenizer/ggml-vocab-llama-spm.gguf", 1500);
    run_vocab("ref/tokenizer/ggml-vocab-gpt-2.gguf", 1500);
    run_vocab("ref/tokenizer/ggml-vocab-deepseek-llm.gguf", 1500);
    run_vocab("ref/tokenizer/ggml-vocab-falcon.gguf", 1000);
    return t_done();
}
