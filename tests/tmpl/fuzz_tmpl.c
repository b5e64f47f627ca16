/*
 * fuzz_tmpl.c - libFuzzer target for the template interpreter (built with
 * -DCHORD_FUZZ=ON under clang: ./tmpl_fuzz CORPUS_DIR).
 *
 * Each input is a template: it must parse or fail cleanly, and whatever
 * parses is rendered with a small conversation and must render or fail
 * cleanly too, with a one-line message either way.
 */
#include <stdlib.h>
#include <string.h>

#include "tmpl/tmpl.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    static chord_json *ctx;
    static const char ctx_text[] =
        "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"U\"},"
        " {\"role\": \"assistant\", \"content\": \"A\"}], \"add_generation_prompt\": true,"
        " \"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"tools\": null}";
    chord_err err;
    if (!ctx && !(ctx = chord_json_parse(ctx_text, strlen(ctx_text), &err)))
        abort();
    tmpl *t = NULL;
    if (tmpl_parse((const char *)data, n, "fuzz", &t, &err) != CHORD_OK) {
        if (!err.msg[0] || strchr(err.msg, '\n'))
            abort();
        return 0;
    }
    char *out = NULL;
    if (tmpl_render(t, ctx, &out, NULL, &err) != CHORD_OK && (!err.msg[0] || strchr(err.msg, '\n')))
        abort();
    free(out);
    tmpl_free(t);
    return 0;
}
