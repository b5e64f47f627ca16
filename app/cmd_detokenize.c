/*
 * cmd_detokenize.c - `chord detokenize -m MODEL IDS...`: writes the bytes
 * the ids stand for, exactly (no newline added, no UTF-8 repair).
 *
 * IDS are separate arguments or lists ("1 2 3", "1,2,3"); with none, they
 * are read from stdin, so `chord tokenize ... | chord detokenize -m M`
 * round-trips. Control tokens (BOS, <|im_end|>...) print nothing unless
 * --special. For SentencePiece vocabularies the space the tokenizer put in
 * front of the first word is dropped, as the streaming detokenizer does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "models.h"

static void usage(FILE *f)
{
    fputs("usage: chord detokenize -m MODEL [--special] IDS...\n"
          "Writes the text of the token ids (raw bytes, no newline added).\n"
          "IDS may be separate arguments or lists like \"1 2 3\" or 1,2,3;\n"
          "with no IDS they are read from stdin.\n"
          "  -m, --model MODEL   GGUF file (a vocabulary-only file is enough)\n"
          "  --special           also print control tokens (<s>, <|im_end|>...)\n"
          "  --keep-space        keep SentencePiece's leading space\n", f);
}

/* Appends the ids in s to *ids (n, cap); false on a malformed list. */
static bool add_ids(const char *s, chord_token **ids, int *n, int *cap)
{
    chord_token *more = NULL;
    int k = opts_parse_token_list(s, &more);
    if (k < 0)
        return false;
    if (*n + k > *cap) {
        int nc = (*n + k) * 2 + 16;
        chord_token *a = realloc(*ids, (size_t)nc * sizeof *a);
        if (!a) {
            free(more);
            return false;
        }
        *ids = a;
        *cap = nc;
    }
    memcpy(*ids + *n, more, (size_t)k * sizeof *more);
    *n += k;
    free(more);
    return true;
}

static char *read_stdin(void)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, stdin);
        if (n < cap)
            break;
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            return NULL;
        }
        buf = nb;
        cap *= 2;
    }
    if (buf)
        buf[n] = 0;
    return buf;
}

int cmd_detokenize(int argc, char **argv)
{
    const char *model = NULL;
    bool special = false, keep_space = false, any_ids = false, ids_ok = true;
    chord_token *ids = NULL;
    int n = 0, cap = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            free(ids);
            return EXIT_OK;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (i + 1 >= argc) {
                app_error("detokenize: %s needs a value", a);
                free(ids);
                return EXIT_USAGE;
            }
            model = argv[++i];
        } else if (!strcmp(a, "--special")) {
            special = true;
        } else if (!strcmp(a, "--keep-space")) {
            keep_space = true;
        } else if (a[0] == '-' && a[1] && !(a[1] >= '0' && a[1] <= '9')) {
            app_error("detokenize: unknown option '%s' (see chord detokenize --help)", a);
            free(ids);
            return EXIT_USAGE;
        } else {
            any_ids = true;
            if (ids_ok && !add_ids(a, &ids, &n, &cap)) {
                app_error("detokenize: '%s' is not a list of token ids", a);
                ids_ok = false;
            }
        }
    }
    if (!model) {
        app_error("detokenize: missing -m MODEL (see chord detokenize --help)");
        free(ids);
        return EXIT_USAGE;
    }
    if (!ids_ok) {
        free(ids);
        return EXIT_USAGE;
    }
    int mrc = models_resolve_arg(&model);
    if (mrc) {
        free(ids);
        return mrc;
    }
    if (!any_ids) {
        char *in = read_stdin();
        if (!in) {
            app_error("detokenize: reading stdin: %s", strerror(errno ? errno : ENOMEM));
            return EXIT_FAIL;
        }
        bool ok = add_ids(in, &ids, &n, &cap);
        free(in);
        if (!ok) {
            app_error("detokenize: stdin is not a list of token ids");
            free(ids);
            return EXIT_FAIL;
        }
    }

    chord_model_params mp = chord_model_default_params();
    mp.vocab_only = true;
    chord_model *m = NULL;
    chord_err err;
    if (chord_model_load(model, &mp, &m, &err) != CHORD_OK) {
        app_error("%s", err.msg);
        free(ids);
        return EXIT_FAIL;
    }
    bool strip = !keep_space && strcmp(chord_tokenizer_name(m, NULL), "spm") == 0;
    int rc = EXIT_OK;
    size_t out_cap = 4096, out_n = 0;
    char *out = malloc(out_cap);
    for (int i = 0; out && i < n; i++) {
        int k = chord_token_to_bytes(m, ids[i], special, NULL, 0);
        if (k < 0) {
            app_error("detokenize: token id %d is outside the vocabulary", (int)ids[i]);
            rc = EXIT_FAIL;
            break;
        }
        if (out_n + (size_t)k > out_cap) {
            size_t nc = (out_n + (size_t)k) * 2;
            char *o = realloc(out, nc);
            if (!o) {
                free(out);
                out = NULL;
                break;
            }
            out = o;
            out_cap = nc;
        }
        chord_token_to_bytes(m, ids[i], special, out + out_n, k);
        if (strip && k > 0) {
            strip = false;
            if (out[out_n] == ' ') {
                memmove(out + out_n, out + out_n + 1, (size_t)k - 1);
                k--;
            }
        }
        out_n += (size_t)k;
    }
    if (!out) {
        app_error("detokenize: out of memory");
        rc = EXIT_FAIL;
    } else if (rc == EXIT_OK) {
        app_stdout_write(out, out_n);
    }
    free(out);
    free(ids);
    chord_model_free(m);
    return rc;
}
