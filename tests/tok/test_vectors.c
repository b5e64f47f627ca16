/*
 * test_vectors.c - tokenizer ids against the reference vectors.
 *
 * For every ggml-vocab-*.gguf.inp / .out pair in ../shared/ref/tokenizer
 * (the directory is listed, so vocabularies added later are checked too):
 * each case tokenized without BOS/EOS and without special tokens must give
 * exactly the reference ids, and streaming detokenization of those ids must
 * give the text back (byte-level BPE and byte-fallback SentencePiece are
 * lossless; the SentencePiece prefix space is dropped by the detokenizer).
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "t.h"
#include "tok/tok.h"

#define SEP "\n__ggml_vocab_test__\n"

static void print_escaped(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n && i < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 0x20) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
}

static int parse_ids(const char *line, size_t n, chord_token *ids, int max)
{
    int k = 0;
    const char *p = line, *end = line + n;
    while (p < end) {
        while (p < end && *p == ' ')
            p++;
        if (p >= end)
            break;
        long x = strtol(p, (char **)&p, 10);
        if (k < max)
            ids[k] = (chord_token)x;
        k++;
    }
    return k;
}

/* Checks one vocabulary; returns the number of cases. */
static int check_vocab(const char *dir, const char *inp_name, int *n_bad)
{
    char path[4096], out_path[4096], gguf_path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, inp_name);
    snprintf(out_path, sizeof out_path, "%.*s.out", (int)(strlen(path) - 4), path);
    snprintf(gguf_path, sizeof gguf_path, "%.*s", (int)(strlen(path) - 4), path);

    size_t inp_len, out_len;
    char *inp = t_read_file(path, &inp_len);
    char *out = t_read_file(out_path, &out_len);
    if (!inp || !out) {
        t_fail_at(__FILE__, __LINE__, "%s: cannot read the .inp or .out file", path);
        free(inp);
        free(out);
        return 0;
    }
    gguf_file *f = NULL;
    tok_vocab *v = NULL;
    chord_err err = {{0}};
    if (gguf_open(gguf_path, &f, &err) != CHORD_OK || tok_load_gguf(f, &v, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s: %s", gguf_path, err.msg);
        gguf_close(f);
        free(inp);
        free(out);
        return 0;
    }

    int cases = 0, bad = 0, rt_bad = 0;
    size_t ip = 0, op = 0;
    chord_token want[4096], got[4096];
    char *text_back = malloc(1 << 20);
    while (ip < inp_len) {
        const char *sep = strstr(inp + ip, SEP);
        if (!sep)
            break;
        size_t tlen = (size_t)(sep - (inp + ip));
        const char *text = inp + ip;
        const char *nl = memchr(out + op, '\n', out_len - op);
        size_t llen = nl ? (size_t)(nl - (out + op)) : out_len - op;
        int nw = parse_ids(out + op, llen, want, 4096);
        op += llen + (nl ? 1 : 0);
        ip += tlen + strlen(SEP);
        cases++;

        int ng = tok_encode(v, text, tlen, false, false, false, got, 4096, &err);
        bool same = ng == nw && ng <= 4096 && memcmp(got, want, (size_t)ng * sizeof *got) == 0;
        if (!same) {
            bad++;
            fprintf(stderr, "MISMATCH %s case %d \"", inp_name, cases);
            print_escaped(stderr, text, tlen);
            fprintf(stderr, "\"\n  want:");
            for (int i = 0; i < nw && i < 4096; i++)
                fprintf(stderr, " %d", want[i]);
            fprintf(stderr, "\n  got: ");
            for (int i = 0; i < ng && i < 4096; i++)
                fprintf(stderr, " %d", got[i]);
            fprintf(stderr, "\n");
            continue;
        }
        /* round trip through the streaming detokenizer */
        chord_detok d;
        tok_detok_init(&d);
        size_t k = 0;
        char piece[1024];
        for (int i = 0; i < ng; i++) {
            int m = tok_detok_push(&d, v, got[i], piece, sizeof piece);
            memcpy(text_back + k, piece, (size_t)m);
            k += (size_t)m;
        }
        k += (size_t)tok_detok_flush(&d, text_back + k, 8);
        if (k != tlen || memcmp(text_back, text, tlen) != 0) {
            rt_bad++;
            fprintf(stderr, "ROUNDTRIP %s case %d \"", inp_name, cases);
            print_escaped(stderr, text, tlen);
            fprintf(stderr, "\" came back as \"");
            print_escaped(stderr, text_back, k);
            fprintf(stderr, "\"\n");
        }
    }
    if (op < out_len)
        t_fail_at(__FILE__, __LINE__, "%s: .out has more lines than .inp has cases", inp_name);
    printf("%-36s %-15s %3d cases, %d id mismatches, %d round-trip failures\n", inp_name,
           tok_pre_name(v), cases, bad, rt_bad);
    T_CHECK(cases > 0, "%s: no cases parsed", inp_name);
    T_CHECK(tok_pre_known(v), "%s: pre-tokenizer '%s' not recognised", inp_name,
            tok_pre_requested(v) ? tok_pre_requested(v) : "(none)");
    *n_bad += bad + rt_bad;
    free(text_back);
    tok_vocab_free(v);
    gguf_close(f);
    free(inp);
    free(out);
    return cases;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    const char *dir = t_shared("ref/tokenizer");
    DIR *dh = opendir(dir);
    T_REQUIRE(dh != NULL, "cannot list %s", dir);
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 9 && strcmp(e->d_name + l - 9, ".gguf.inp") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(dh);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    T_REQUIRE(n > 0, "no *.gguf.inp files in %s", dir);

    int total = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        total += check_vocab(dir, names[i], &bad);
        free(names[i]);
    }
    printf("%d vocabularies, %d cases, %d failures\n", n, total, bad);
    T_EQ_INT(bad, 0);
    return t_done();
}
