/*
 * test_model_prompts.c - the public tokenizer API on the shared models,
 * against the reference runs in ../shared/ref/logits/<model>.pN.json: the
 * prompt tokenized with BOS as the model asks must equal prompt_tokens, and
 * the greedy tokens rendered as bytes must equal greedy_bytes_hex. Also
 * checks BOS/EOS/EOG of the model through chord.h. Every json file in the
 * directory is checked, so references added later are covered too.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "t.h"

static void check_one(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len;
    char *text = t_read_file(path, &len);
    if (!text) {
        t_fail_at(__FILE__, __LINE__, "cannot read %s", path);
        return;
    }
    chord_err err = {{0}};
    chord_json *j = chord_json_parse(text, len, &err);
    free(text);
    if (!j) {
        t_fail_at(__FILE__, __LINE__, "%s: %s", path, err.msg);
        return;
    }
    const chord_json *model = chord_json_get(j, "model"), *prompt = chord_json_get(j, "prompt");
    const chord_json *want = chord_json_get(j, "prompt_tokens"), *greedy = chord_json_get(j, "greedy_tokens");
    const chord_json *hex = chord_json_get(j, "greedy_bytes_hex");
    if (!model || !prompt || !want || !greedy || !hex || model->type != CHORD_JSON_STRING) {
        t_fail_at(__FILE__, __LINE__, "%s: missing keys", name);
        chord_json_free(j);
        return;
    }
    char mpath[4096];
    snprintf(mpath, sizeof mpath, "models/%s", model->string);
    chord_model_params mp = chord_model_default_params();
    mp.vocab_only = true;
    chord_model *m = NULL;
    if (chord_model_load(t_shared(mpath), &mp, &m, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s: %s", mpath, err.msg);
        chord_json_free(j);
        return;
    }
    chord_token ids[1024];
    int n = chord_tokenize(m, prompt->string, prompt->len, true, false, ids, 1024, &err);
    bool same = n == (int)want->len;
    for (int i = 0; same && i < n; i++)
        same = ids[i] == (chord_token)chord_json_at(want, (size_t)i)->number;
    T_CHECK(same, "%s: prompt tokens differ (%d ids, want %zu)", name, n, want->len);
    T_CHECK(n > 0 && chord_model_add_bos(m) == (ids[0] == chord_token_bos(m)),
            "%s: BOS as the model asks", name);

    /* greedy tokens to bytes, as hex */
    size_t cap = 8192, k = 0;
    char *got = malloc(cap);
    for (size_t i = 0; got && i < greedy->len; i++) {
        char buf[256];
        chord_token t = (chord_token)chord_json_at(greedy, i)->number;
        /* the reference rendered control tokens with their text (a forced
         * continuation may pass EOS: k-spm-iq3_xxs p1 shows "</s>") */
        int b = chord_token_to_bytes(m, t, true, buf, sizeof buf);
        T_CHECK(b >= 0 && b <= (int)sizeof buf, "%s: token %d bytes %d", name, t, b);
        for (int x = 0; x < b && x < (int)sizeof buf && k + 3 < cap; x++)
            k += (size_t)snprintf(got + k, cap - k, "%02x", (unsigned char)buf[x]);
    }
    if (got) {
        got[k] = 0;
        T_CHECK(strcmp(got, hex->string) == 0, "%s: greedy bytes\n got  %s\n want %s", name, got, hex->string);
    }
    free(got);
    chord_token eos = chord_token_eos(m);
    T_CHECK(eos >= 0 && chord_token_is_eog(m, eos), "%s: EOS %d is end of generation", name, eos);
    T_CHECK(chord_token_text(m, eos) != NULL, "%s: EOS has a text", name);
    T_CHECK(chord_token_text(m, -5) == NULL, "%s: bad id has no text", name);
    chord_model_free(m);
    chord_json_free(j);
}

int main(void)
{
    const char *dir = t_shared("ref/logits");
    DIR *dh = opendir(dir);
    T_REQUIRE(dh != NULL, "cannot list %s", dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(dh)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0) {
            check_one(dir, e->d_name);
            n++;
        }
    }
    closedir(dh);
    printf("%d reference prompts checked\n", n);
    T_CHECK(n > 0, "no reference prompts in %s", dir);
    return t_done();
}
