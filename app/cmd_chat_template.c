/*
 * cmd_chat_template.c - `chord chat-template`: renders a conversation with a
 * chat template and prints the prompt exactly (no newline added).
 *
 *   chord chat-template (-m MODEL | --template FILE) --messages FILE.json
 *                       [--bos S] [--eos S] [--no-generation-prompt]
 *
 * --messages is a JSON array of {"role": ..., "content": ...} ("-" reads it
 * from stdin).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "models.h"

static void usage(FILE *f)
{
    fputs("usage: chord chat-template (-m MODEL | --template FILE) --messages FILE.json\n"
          "                           [--bos S] [--eos S] [--no-generation-prompt]\n", f);
}

/* Reads a whole file ("-" = stdin) into a NUL-terminated buffer; prints
 * and returns NULL on failure. */
static char *slurp(const char *path, size_t *len)
{
    bool in = strcmp(path, "-") == 0;
    FILE *f = in ? stdin : fopen(path, "rb");
    if (!f) {
        app_error("%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t k = fread(buf + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0)
            break;
    }
    bool bad = ferror(f);
    if (!in)
        fclose(f);
    if (!buf || bad) {
        app_error("%s: %s", path, buf ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Turns the --messages JSON into chord_chat_msg (pointing into j). */
static chord_chat_msg *messages_from_json(const char *path, const chord_json *j, int *n)
{
    if (j->type != CHORD_JSON_ARRAY) {
        app_error("%s: expected a JSON array of {role, content} objects", path);
        return NULL;
    }
    chord_chat_msg *msgs = calloc(j->len + 1, sizeof *msgs);
    if (!msgs) {
        app_error("out of memory");
        return NULL;
    }
    for (size_t i = 0; i < j->len; i++) {
        const chord_json *m = chord_json_at(j, i);
        const chord_json *role = m ? chord_json_get(m, "role") : NULL;
        const chord_json *content = m ? chord_json_get(m, "content") : NULL;
        if (!role || role->type != CHORD_JSON_STRING ||
            (content && content->type != CHORD_JSON_STRING && content->type != CHORD_JSON_NULL)) {
            app_error("%s: message %zu: needs a string \"role\" and a string \"content\"", path, i);
            free(msgs);
            return NULL;
        }
        msgs[i].role = role->string;
        msgs[i].content = content && content->type == CHORD_JSON_STRING ? content->string : "";
    }
    *n = (int)j->len;
    return msgs;
}

int cmd_chat_template(int argc, char **argv)
{
    const char *model = NULL, *tpl = NULL, *messages = NULL, *bos = NULL, *eos = NULL;
    bool gen_prompt = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = !strcmp(a, "-m") || !strcmp(a, "--model") ? &model
                          : !strcmp(a, "--template") ? &tpl
                          : !strcmp(a, "--messages") ? &messages
                          : !strcmp(a, "--bos") ? &bos
                          : !strcmp(a, "--eos") ? &eos : NULL;
        if (slot) {
            if (i + 1 >= argc) {
                app_error("%s: %s needs a value", argv[0], a);
                usage(stderr);
                return EXIT_USAGE;
            }
            *slot = argv[++i];
        } else if (!strcmp(a, "--no-generation-prompt")) {
            gen_prompt = false;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return EXIT_OK;
        } else {
            app_error("%s: unknown option '%s'", argv[0], a);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if ((!model == !tpl) || !messages) {
        app_error("%s: give exactly one of -m MODEL or --template FILE, and --messages FILE", argv[0]);
        usage(stderr);
        return EXIT_USAGE;
    }
    int mrc = model ? models_resolve_arg(&model) : 0;
    if (mrc)
        return mrc;

    int rc = EXIT_FAIL;
    char *tsrc = NULL, *mtext = NULL, *out = NULL;
    chord_json *mj = NULL;
    chord_chat_msg *msgs = NULL;
    chord_model *m = NULL;
    chord_err err = {{0}};
    size_t len, mlen;
    int n = 0;

    if (tpl && !(tsrc = slurp(tpl, &len)))
        goto done;
    if (!(mtext = slurp(messages, &mlen)))
        goto done;
    if (!(mj = chord_json_parse(mtext, mlen, &err))) {
        app_error("%s: %s", messages, err.msg);
        goto done;
    }
    if (!(msgs = messages_from_json(messages, mj, &n)))
        goto done;
    if (model) {
        chord_model_params mp = chord_model_default_params();
        mp.vocab_only = true;
        if (chord_model_load(model, &mp, &m, &err) != CHORD_OK) {
            app_error("%s", err.msg);
            goto done;
        }
    }
    if (chord_chat_render(m, tsrc, msgs, n, gen_prompt, bos, eos, &out, &err) != CHORD_OK) {
        app_error("%s: %s", tpl ? tpl : model, err.msg);
        goto done;
    }
    app_init_stdout();
    app_stdout_write(out, strlen(out));
    rc = EXIT_OK;
done:
    free(out);
    if (m)
        chord_model_free(m);
    free(msgs);
    chord_json_free(mj);
    free(mtext);
    free(tsrc);
    return rc;
}
