/*
 * test_detok.c - the tokenizer's behaviour beyond the reference vectors:
 * merge order on a hand-made vocabulary, byte fallback, special tokens only
 * when asked, BOS, token bytes, and the streaming detokenizer holding back
 * split UTF-8 and replacing invalid bytes with U+FFFD.
 */
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "t.h"
#include "tok/tok.h"

#define SP "\xe2\x96\x81" /* U+2581, SentencePiece's space */
#define FFFD "\xef\xbf\xbd"

/* ---- a hand-made SentencePiece vocabulary ---------------------------------- */

enum { ID_UNK, ID_BOS, ID_EOS, ID_BYTE0, ID_SP = ID_BYTE0 + 256, ID_A, ID_B, ID_C, ID_AB,
       ID_BC, ID_SPA, ID_ABC, ID_IMEND, ID_XY, ID_YZW, N_SPM };

static tok_vocab *make_spm(void)
{
    static char bytes[256][8];
    const char *tok[N_SPM];
    float score[N_SPM];
    int32_t type[N_SPM];
    for (int i = 0; i < N_SPM; i++) {
        score[i] = 0;
        type[i] = TOK_TYPE_NORMAL;
    }
    tok[ID_UNK] = "<unk>"; type[ID_UNK] = TOK_TYPE_UNKNOWN;
    tok[ID_BOS] = "<s>"; type[ID_BOS] = TOK_TYPE_CONTROL;
    tok[ID_EOS] = "</s>"; type[ID_EOS] = TOK_TYPE_CONTROL;
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        tok[ID_BYTE0 + b] = bytes[b];
        type[ID_BYTE0 + b] = TOK_TYPE_BYTE;
    }
    tok[ID_SP] = SP; score[ID_SP] = -10;
    tok[ID_A] = "a"; score[ID_A] = -5;
    tok[ID_B] = "b"; score[ID_B] = -5;
    tok[ID_C] = "c"; score[ID_C] = -5;
    tok[ID_AB] = "ab"; score[ID_AB] = -2;
    tok[ID_BC] = "bc"; score[ID_BC] = -1;
    tok[ID_SPA] = SP "a"; score[ID_SPA] = -3;
    tok[ID_ABC] = "abc"; score[ID_ABC] = -4;
    /* an end-of-turn marker stored as user-defined: must become control */
    tok[ID_IMEND] = "<|im_end|>"; type[ID_IMEND] = TOK_TYPE_USER_DEFINED;
    /* two user-defined pieces that can overlap in a text */
    tok[ID_XY] = "xy"; type[ID_XY] = TOK_TYPE_USER_DEFINED;
    tok[ID_YZW] = "yzw"; type[ID_YZW] = TOK_TYPE_USER_DEFINED;

    tok_desc d;
    tok_desc_init(&d);
    d.source = "hand-made spm";
    d.model = "llama";
    d.n_tokens = N_SPM;
    d.tokens = tok;
    d.scores = score;
    d.types = type;
    tok_vocab *v = NULL;
    chord_err err = {{0}};
    chord_status st = tok_vocab_build(&d, &v, &err);
    T_CHECK(st == CHORD_OK, "tok_vocab_build: %s", err.msg);
    return v;
}

static int enc(const tok_vocab *v, const char *s, bool bos, bool special, chord_token *out)
{
    chord_err err = {{0}};
    int n = tok_encode(v, s, strlen(s), bos, false, special, out, 64, &err);
    T_CHECK(n >= 0 && n <= 64, "encode \"%s\": %d (%s)", s, n, err.msg);
    return n;
}

static void expect_ids(const char *what, const chord_token *got, int n,
                       const chord_token *want, int nw)
{
    bool same = n == nw;
    for (int i = 0; same && i < n; i++)
        same = got[i] == want[i];
    if (!same) {
        char g[512] = "", w[512] = "";
        for (int i = 0; i < n && strlen(g) < 480; i++)
            snprintf(g + strlen(g), sizeof g - strlen(g), " %d", got[i]);
        for (int i = 0; i < nw && strlen(w) < 480; i++)
            snprintf(w + strlen(w), sizeof w - strlen(w), " %d", want[i]);
        t_fail_at(__FILE__, __LINE__, "%s: got [%s ] want [%s ]", what, g, w);
    }
}

static void test_spm_merge_order_and_fallback(void)
{
    tok_vocab *v = make_spm();
    if (!v)
        return;
    chord_token ids[64];
    int n;
    /* "▁abc": bc (-1) first, then ▁a (-3); "abc" (-4) came too late: its
     * left symbol had already grown */
    n = enc(v, "abc", false, false, ids);
    expect_ids("abc", ids, n, (chord_token[]){ID_SPA, ID_BC}, 2);
    /* BOS only when asked and wanted by the vocabulary (SPM default: yes) */
    n = enc(v, "abc", true, false, ids);
    expect_ids("abc with BOS", ids, n, (chord_token[]){ID_BOS, ID_SPA, ID_BC}, 3);
    /* no symbol: bytes; "é" is C3 A9 */
    n = enc(v, "\xc3\xa9", false, false, ids);
    expect_ids("e-acute", ids, n, (chord_token[]){ID_SP, ID_BYTE0 + 0xC3, ID_BYTE0 + 0xA9}, 3);
    /* special tokens only when parse_special; the text after one gets the
     * SentencePiece space prefix again */
    n = enc(v, "<s>a", false, true, ids);
    expect_ids("<s>a special", ids, n, (chord_token[]){ID_BOS, ID_SPA}, 2);
    n = enc(v, "a</s>", false, false, ids);
    for (int i = 0; i < n; i++)
        T_CHECK(ids[i] != ID_EOS && ids[i] != ID_BOS, "</s> in user text gave control id %d", ids[i]);
    n = enc(v, "a<|im_end|>", false, false, ids);
    for (int i = 0; i < n; i++)
        T_CHECK(ids[i] != ID_IMEND, "<|im_end|> in user text was matched");
    T_EQ_INT(tok_type(v, ID_IMEND), TOK_TYPE_CONTROL);
    T_CHECK(tok_is_eog(v, ID_IMEND), "<|im_end|> is end of generation");
    T_CHECK(tok_is_eog(v, ID_EOS), "EOS is end of generation");
    T_CHECK(!tok_is_eog(v, ID_A), "'a' is not end of generation");
    n = enc(v, "<|im_end|>", false, true, ids);
    expect_ids("<|im_end|> special", ids, n, (chord_token[]){ID_IMEND}, 1);
    /* user-defined pieces count in any text; where two overlap, the
     * longer one wins wherever it is (the reference's order), so "xyzw"
     * is "x" + "yzw", not "xy" + "zw"; "x" alone is ▁ + the byte 'x' */
    n = enc(v, "xyzw", false, false, ids);
    expect_ids("xyzw", ids, n, (chord_token[]){ID_SP, ID_BYTE0 + 'x', ID_YZW}, 3);
    n = enc(v, "xyxy", false, false, ids);
    expect_ids("xyxy", ids, n, (chord_token[]){ID_XY, ID_XY}, 2);
    /* empty text: nothing, not even the space */
    n = enc(v, "", false, false, ids);
    T_EQ_INT(n, 0);
    tok_vocab_free(v);
}

static void test_spm_token_bytes(void)
{
    tok_vocab *v = make_spm();
    if (!v)
        return;
    char buf[32];
    int n = tok_token_bytes(v, ID_SPA, false, buf, sizeof buf);
    T_CHECK(n == 2 && memcmp(buf, " a", 2) == 0, "bytes of '" SP "a': %d", n);
    n = tok_token_bytes(v, ID_BYTE0 + 0xFF, false, buf, sizeof buf);
    T_CHECK(n == 1 && (unsigned char)buf[0] == 0xFF, "bytes of <0xFF>: %d", n);
    T_EQ_INT(tok_token_bytes(v, ID_BOS, false, buf, sizeof buf), 0);
    n = tok_token_bytes(v, ID_BOS, true, buf, sizeof buf);
    T_CHECK(n == 3 && memcmp(buf, "<s>", 3) == 0, "<s> shown: %d", n);
    T_EQ_INT(tok_token_bytes(v, N_SPM, false, buf, sizeof buf), -1);
    T_EQ_INT(tok_token_bytes(v, -1, false, buf, sizeof buf), -1);
    /* too small a buffer: the full length is still reported */
    T_EQ_INT(tok_token_bytes(v, ID_SPA, false, buf, 1), 2);
    tok_vocab_free(v);
}

/* Pushes ids one by one; the concatenated output and each step's length. */
static size_t stream(const tok_vocab *v, const chord_token *ids, int n, char *out, int *steps)
{
    chord_detok d;
    tok_detok_init(&d);
    size_t k = 0;
    char piece[256];
    for (int i = 0; i < n; i++) {
        int m = tok_detok_push(&d, v, ids[i], piece, sizeof piece);
        T_CHECK(m >= 0 && (size_t)m == strlen(piece), "push %d: %d bytes, NUL at %zu", i, m, strlen(piece));
        steps[i] = m;
        memcpy(out + k, piece, (size_t)m);
        k += (size_t)m;
    }
    int m = tok_detok_flush(&d, piece, sizeof piece);
    steps[n] = m;
    memcpy(out + k, piece, (size_t)m);
    k += (size_t)m;
    out[k] = 0;
    return k;
}

static void test_streaming_detok(void)
{
    tok_vocab *v = make_spm();
    if (!v)
        return;
    char out[256];
    int steps[16];
    /* 😀 = F0 9F 98 80 in four byte tokens: nothing until the last one;
     * the first piece loses SentencePiece's leading space */
    chord_token emoji[] = {ID_SPA, ID_BYTE0 + 0xF0, ID_BYTE0 + 0x9F, ID_BYTE0 + 0x98,
                           ID_BYTE0 + 0x80, ID_SPA};
    size_t k = stream(v, emoji, 6, out, steps);
    T_EQ_STR(out, "a\xf0\x9f\x98\x80 a");
    T_EQ_INT(k, 7);
    T_EQ_INT(steps[0], 1);
    T_EQ_INT(steps[1], 0);
    T_EQ_INT(steps[2], 0);
    T_EQ_INT(steps[3], 0);
    T_EQ_INT(steps[4], 4);
    T_EQ_INT(steps[5], 2);
    /* BOS prints nothing and does not use up the first-piece rule */
    chord_token bos_first[] = {ID_BOS, ID_SPA};
    stream(v, bos_first, 2, out, steps);
    T_EQ_STR(out, "a");
    /* invalid bytes: a lone continuation byte, 0xFF, and a lead byte
     * followed by a non-continuation: each becomes U+FFFD */
    chord_token bad[] = {ID_BYTE0 + 0x80, ID_BYTE0 + 0xFF, ID_BYTE0 + 0xE2, ID_A};
    stream(v, bad, 4, out, steps);
    T_EQ_STR(out, FFFD FFFD FFFD "a");
    T_EQ_INT(steps[2], 0);
    /* an overlong encoding (C0 80) and a surrogate (ED A0 80) are invalid */
    chord_token overlong[] = {ID_BYTE0 + 0xC0, ID_BYTE0 + 0x80, ID_BYTE0 + 0xED, ID_BYTE0 + 0xA0,
                              ID_BYTE0 + 0x80};
    stream(v, overlong, 5, out, steps);
    T_EQ_STR(out, FFFD FFFD FFFD FFFD FFFD);
    /* a sequence cut off at the end of the stream: flushed as one U+FFFD */
    chord_token cut[] = {ID_A, ID_BYTE0 + 0xE2, ID_BYTE0 + 0x82};
    stream(v, cut, 3, out, steps);
    T_EQ_STR(out, "a" FFFD);
    T_EQ_INT(steps[3], 3);
    tok_vocab_free(v);
}

/* ---- a hand-made byte-level BPE vocabulary ------------------------------- */

static void test_bpe_hand_made(void)
{
    /* the 256 byte symbols in GPT-2's alphabet, then merged tokens */
    static char sym[256][4];
    const char *tok[262];
    int n = 0;
    for (int b = 0; b < 256; b++) {
        unsigned cp = (unsigned)b;
        bool self = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        if (!self) {
            int k = 0;
            for (int x = 0; x < b; x++)
                k += !((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE);
            cp = 0x100u + (unsigned)k;
        }
        if (cp < 0x80) {
            sym[b][0] = (char)cp;
            sym[b][1] = 0;
        } else {
            sym[b][0] = (char)(0xC0 | (cp >> 6));
            sym[b][1] = (char)(0x80 | (cp & 0x3F));
            sym[b][2] = 0;
        }
        tok[n++] = sym[b];
    }
    int he = n; tok[n++] = "he";
    int ll = n; tok[n++] = "ll";
    int hell = n; tok[n++] = "hell";
    int hello = n; tok[n++] = "hello";
    int eot = n; tok[n++] = "<|endoftext|>";
    int32_t type[262];
    for (int i = 0; i < n; i++)
        type[i] = i == eot ? TOK_TYPE_CONTROL : TOK_TYPE_NORMAL;
    const char *merges[] = {"h e", "l l", "he ll", "hell o"};
    tok_desc d;
    tok_desc_init(&d);
    d.source = "hand-made bpe";
    d.model = "gpt2";
    d.pre = "no-such-pre";
    d.n_tokens = n;
    d.tokens = tok;
    d.types = type;
    d.n_merges = 4;
    d.merges = merges;
    d.eos = eot;
    tok_vocab *v = NULL;
    chord_err err = {{0}};
    T_CHECK(tok_vocab_build(&d, &v, &err) == CHORD_OK, "build: %s", err.msg);
    if (!v)
        return;
    T_CHECK(!tok_pre_known(v), "an unknown pre is reported");
    T_EQ_STR(tok_pre_name(v), "gpt-2");
    T_CHECK(!tok_add_bos(v), "gpt2 vocabularies add no BOS by default");
    chord_token ids[64];
    int k = enc(v, "hello", true, false, ids);
    expect_ids("hello", ids, k, (chord_token[]){hello}, 1);
    /* " hello!" is the words " hello" and "!": Ġ (byte 0x20's symbol, id
     * 0x20 here) + hello, then ! (no merge joins Ġ and h) */
    k = enc(v, " hello!", false, false, ids);
    expect_ids(" hello!", ids, k, (chord_token[]){0x20, hello, '!'}, 3);
    k = enc(v, "hehe", false, false, ids);
    expect_ids("hehe", ids, k, (chord_token[]){he, he}, 2);
    k = enc(v, "x<|endoftext|>", false, true, ids);
    expect_ids("x<|endoftext|> special", ids, k, (chord_token[]){'x', eot}, 2);
    k = enc(v, "x<|endoftext|>", false, false, ids);
    T_CHECK(k > 2, "<|endoftext|> in user text is plain text (%d ids)", k);
    for (int i = 0; i < k; i++)
        T_CHECK(ids[i] != eot, "user text matched <|endoftext|>");
    /* byte-level decoding: Ġ is the space byte, bytes come back exactly */
    char out[64];
    int steps[64];
    const char *text = " hello\xc3\xa9\n";
    k = enc(v, text, false, false, ids);
    size_t m = stream(v, ids, k, out, steps);
    T_CHECK(m == strlen(text) && memcmp(out, text, m) == 0, "BPE round trip: \"%s\"", out);
    T_CHECK(ll >= 0 && hell >= 0, "ids");
    tok_vocab_free(v);
}

static void test_bad_descriptions(void)
{
    const char *tok[] = {"a", "b"};
    tok_desc d;
    tok_vocab *v = NULL;
    chord_err err = {{0}};
    tok_desc_init(&d);
    d.model = "bert";
    d.n_tokens = 2;
    d.tokens = tok;
    T_EQ_INT(tok_vocab_build(&d, &v, &err), CHORD_E_UNSUPPORTED);
    T_CHECK(strstr(err.msg, "bert") != NULL, "message names the model: %s", err.msg);
    T_CHECK(v == NULL, "no vocabulary on failure");
    d.model = "gpt2";
    const char *merges[] = {"ab"};
    d.merges = merges;
    d.n_merges = 1;
    T_EQ_INT(tok_vocab_build(&d, &v, &err), CHORD_E_FORMAT);
    T_CHECK(strstr(err.msg, "merge 0") != NULL, "message names the merge: %s", err.msg);
    d.n_merges = 0;
    d.n_tokens = 0;
    T_EQ_INT(tok_vocab_build(&d, &v, &err), CHORD_E_FORMAT);
}

/* ---- real vocabularies ----------------------------------------------------- */

static tok_vocab *load(const char *rel, gguf_file **f)
{
    chord_err err = {{0}};
    tok_vocab *v = NULL;
    *f = NULL;
    if (gguf_open(t_shared(rel), f, &err) != CHORD_OK || tok_load_gguf(*f, &v, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s: %s", rel, err.msg);
        return NULL;
    }
    return v;
}

static void test_real_specials(void)
{
    gguf_file *f;
    tok_vocab *v = load("ref/tokenizer/ggml-vocab-llama-spm.gguf", &f);
    chord_token ids[64], plain[64];
    if (v) {
        int n = enc(v, "<s>Hello</s>", false, true, ids);
        int p = enc(v, "Hello", false, false, plain);
        T_CHECK(n == p + 2 && ids[0] == 1 && ids[n - 1] == 2 &&
                memcmp(ids + 1, plain, (size_t)p * sizeof *ids) == 0,
                "<s>Hello</s> with specials: %d ids", n);
        n = enc(v, "<s>Hello</s>", false, false, ids);
        for (int i = 0; i < n; i++)
            T_CHECK(ids[i] != 1 && ids[i] != 2, "control id %d from user text", ids[i]);
        n = enc(v, "Hello", true, false, ids);
        T_CHECK(n == p + 1 && ids[0] == 1, "BOS first (%d ids)", n);
        /* an emoji through byte fallback: held back until complete */
        n = enc(v, "\xf0\x9f\xa6\x99!", false, false, ids);
        char out[64];
        int steps[64];
        stream(v, ids, n, out, steps);
        T_EQ_STR(out, "\xf0\x9f\xa6\x99!");
        tok_vocab_free(v);
        gguf_close(f);
    }
    v = load("ref/tokenizer/ggml-vocab-phi-3.gguf", &f);
    if (v) {
        chord_token end = tok_find(v, "<|end|>", 7);
        T_CHECK(end >= 0 && tok_is_eog(v, end), "phi-3 <|end|> is end of generation");
        int n = enc(v, "hi<|end|>", false, false, ids);
        for (int i = 0; i < n; i++)
            T_CHECK(ids[i] != end, "<|end|> matched in user text");
        n = enc(v, "hi<|end|>", false, true, ids);
        T_CHECK(n >= 2 && ids[n - 1] == end, "<|end|> with specials");
        /* Phi-3: white space after a special token is dropped (rstrip),
         * but not after <s>. "</s>" is stored as user-defined, but its text
         * ends a generation, so it is control like the reference makes it:
         * plain text in user text, a token (with rstrip) with specials */
        int p = enc(v, "<|end|>x", false, true, plain);
        n = enc(v, "<|end|> \n x", false, true, ids);
        expect_ids("phi-3 rstrip after <|end|>", ids, n, plain, p);
        chord_token eos_s = tok_find(v, "</s>", 4);
        T_CHECK(eos_s >= 0 && tok_type(v, eos_s) == TOK_TYPE_CONTROL && tok_is_eog(v, eos_s),
                "phi-3 </s> is a control end-of-generation token");
        n = enc(v, "</s>", false, false, ids);
        for (int i = 0; i < n; i++)
            T_CHECK(ids[i] != eos_s, "</s> matched in user text");
        p = enc(v, "</s>x", false, true, plain);
        n = enc(v, "</s>\t x", false, true, ids);
        expect_ids("phi-3 rstrip after </s>", ids, n, plain, p);
        p = enc(v, "<s>x", false, true, plain);
        n = enc(v, "<s> x", false, true, ids);
        T_CHECK(n > p, "no rstrip after <s>: %d vs %d ids", n, p);
        tok_vocab_free(v);
        gguf_close(f);
    }
    v = load("ref/tokenizer/ggml-vocab-gpt-2.gguf", &f);
    if (v) {
        int n = enc(v, "<|endoftext|>", false, true, ids);
        expect_ids("gpt-2 <|endoftext|>", ids, n, (chord_token[]){50256}, 1);
        n = enc(v, "<|endoftext|>", false, false, ids);
        T_CHECK(n > 1, "plain <|endoftext|>: %d ids", n);
        T_CHECK(tok_is_eog(v, 50256), "gpt-2 EOS is end of generation");
        tok_vocab_free(v);
        gguf_close(f);
    }
}

int main(void)
{
    test_spm_merge_order_and_fallback();
    test_spm_token_bytes();
    test_streaming_detok();
    test_bpe_hand_made();
    test_bad_descriptions();
    test_real_specials();
    return t_done();
}
