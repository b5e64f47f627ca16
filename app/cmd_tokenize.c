/*
 * cmd_tokenize.c - `chord tokenize -m MODEL [--no-bos] [--special] TEXT`:
 * prints the token ids of TEXT, space separated, on one line.
 *
 * Only the vocabulary is loaded (vocab_only), so vocabulary-only GGUF files
 * work too. BOS is added when the model asks for it unless --no-bos;
 * control tokens written in TEXT (<|im_start|>, <s>...) are recognised only
 * with --special, as a chat template's output would be.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "models.h"

static void usage(FILE *f)
{
    fputs("usage: chord tokenize -m MODEL [--no-bos] [--special] [-v] TEXT\n"
          "       chord tokenize -m MODEL [options] -f FILE   (FILE '-' = stdin)\n"
          "Prints the token ids of TEXT on one line, separated by spaces.\n"
          "  -m, --model MODEL   GGUF file (a vocabulary-only file is enough)\n"
          "  --no-bos            do not add BOS even if the model asks for it\n"
          "  --special           recognise control tokens written in the text\n"
          "  -f, --file FILE     tokenize the bytes of FILE instead of TEXT\n"
          "  -v, --verbose       report the tokenizer used on stderr\n", f);
}

/* Reads a whole file (or stdin for "-"); NULL with errno set on failure. */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) {
            if (ferror(f)) {
                free(buf);
                buf = NULL;
            }
            break;
        }
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            errno = ENOMEM;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int saved = errno;
    if (f != stdin)
        fclose(f);
    errno = saved;
    *len = n;
    return buf;
}

/* Writes the ids as one line; false if stdout failed (not a reader going away). */
static bool print_ids(const chord_token *ids, int n)
{
    size_t cap = (size_t)n * 12 + 2, k = 0;
    char *line = malloc(cap);
    if (!line)
        return false;
    for (int i = 0; i < n; i++)
        k += (size_t)snprintf(line + k, cap - k, i ? " %d" : "%d", (int)ids[i]);
    line[k++] = '\n';
    app_stdout_write(line, k);
    free(line);
    return true;
}

int cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL, *text = NULL, *file = NULL;
    bool no_bos = false, special = false, verbose = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return EXIT_OK;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model") || !strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (i + 1 >= argc) {
                app_error("tokenize: %s needs a value", a);
                return EXIT_USAGE;
            }
            *(a[1] == 'm' || a[2] == 'm' ? &model : &file) = argv[++i];
        } else if (!strcmp(a, "--no-bos")) {
            no_bos = true;
        } else if (!strcmp(a, "--special")) {
            special = true;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = true;
        } else if (!strcmp(a, "--") && i + 1 < argc && !text) {
            text = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            app_error("tokenize: unknown option '%s' (see chord tokenize --help)", a);
            return EXIT_USAGE;
        } else if (text) {
            app_error("tokenize: one TEXT argument (quote it): got '%s' and '%s'", text, a);
            return EXIT_USAGE;
        } else {
            text = a;
        }
    }
    if (!model) {
        app_error("tokenize: missing -m MODEL (see chord tokenize --help)");
        return EXIT_USAGE;
    }
    if (!text == !file) {
        app_error("tokenize: give either TEXT or -f FILE (see chord tokenize --help)");
        return EXIT_USAGE;
    }
    int mrc = models_resolve_arg(&model);
    if (mrc)
        return mrc;

    char *buf = NULL;
    size_t len;
    if (file) {
        buf = read_all(file, &len);
        if (!buf) {
            app_error("tokenize: %s: %s", file, strerror(errno));
            return EXIT_FAIL;
        }
        text = buf;
    } else {
        len = strlen(text);
    }

    chord_model_params mp = chord_model_default_params();
    mp.vocab_only = true;
    chord_model *m = NULL;
    chord_err err;
    if (chord_model_load(model, &mp, &m, &err) != CHORD_OK) {
        app_error("%s", err.msg);
        free(buf);
        return EXIT_FAIL;
    }
    if (verbose) {
        bool known;
        const char *name = chord_tokenizer_name(m, &known);
        const char *pre = chord_model_meta_str(m, "tokenizer.ggml.pre");
        if (!known)
            app_error("warning: %s: pre-tokenizer '%s' is not known; using gpt-2's rules", model,
                      pre ? pre : "?");
        else
            app_error("tokenizer: %s", name);
    }

    int rc = EXIT_OK;
    int n = chord_tokenize(m, text, len, !no_bos, special, NULL, 0, &err);
    chord_token *ids = n > 0 ? malloc((size_t)n * sizeof *ids) : NULL;
    if (n < 0) {
        app_error("%s", err.msg);
        rc = EXIT_FAIL;
    } else if (n > 0 && !ids) {
        app_error("tokenize: out of memory for %d tokens", n);
        rc = EXIT_FAIL;
    } else if (n > 0 && chord_tokenize(m, text, len, !no_bos, special, ids, n, &err) != n) {
        app_error("%s", err.msg);
        rc = EXIT_FAIL;
    } else if (!print_ids(ids, n)) {
        app_error("tokenize: out of memory");
        rc = EXIT_FAIL;
    }
    free(ids);
    free(buf);
    chord_model_free(m);
    return rc;
}
