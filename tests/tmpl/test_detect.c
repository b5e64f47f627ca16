/*
 * test_detect.c - tmpl_model_templates: chord_chat_render with a model's
 * own template (template_src NULL) and chord_chat_detect_family, on the
 * shared models: the a/b models carry TinyLlama's zephyr template, the c
 * model Qwen2.5's ChatML one, and llama-2-tiny-random has none (so the
 * render falls back to a built-in family).
 */
#include <stdlib.h>
#include <string.h>

#include "chord.h"
#include "t.h"

static chord_model *load(const char *rel)
{
    chord_model_params p = chord_model_default_params();
    p.vocab_only = true;
    chord_model *m = NULL;
    chord_err err;
    chord_status st = chord_model_load(t_shared(rel), &p, &m, &err);
    T_CHECK(st == CHORD_OK, "%s: %s", rel, err.msg);
    return st == CHORD_OK ? m : NULL;
}

int main(void)
{
    const chord_chat_msg msgs[] = {{"user", "What is 2+2?"}};
    chord_err err;
    char *out = NULL;

    chord_model *a = load("models/a-spm-f16.gguf");
    T_REQUIRE(a, "cannot load a-spm-f16");
    T_EQ_STR(chord_chat_detect_family(a), "zephyr");
    /* bos/eos NULL: the model's own token texts */
    T_EQ_INT(chord_chat_render(a, NULL, msgs, 1, true, NULL, NULL, &out, &err), CHORD_OK);
    T_EQ_STR(out, "<|user|>\nWhat is 2+2?</s>\n<|assistant|>\n");
    free(out);
    /* an explicit template wins over the model's */
    T_EQ_INT(chord_chat_render(a, "{{ bos_token }}{{ messages[0].content }}", msgs, 1, true, NULL, NULL, &out, &err),
             CHORD_OK);
    T_EQ_STR(out, "<s>What is 2+2?");
    free(out);
    chord_model_free(a);

    chord_model *c = load("models/c-qwen2-q8_0.gguf");
    T_REQUIRE(c, "cannot load c-qwen2");
    T_EQ_STR(chord_chat_detect_family(c), "chatml");
    T_EQ_INT(chord_chat_render(c, NULL, msgs, 1, true, NULL, NULL, &out, &err), CHORD_OK);
    T_EQ_STR(out, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                  "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
    free(out);
    chord_model_free(c);

    chord_model *t = load("models/llama-2-tiny-random.gguf");
    T_REQUIRE(t, "cannot load llama-2-tiny-random");
    T_CHECK(chord_model_meta_str(t, "tokenizer.chat_template") == NULL, "fixture unexpectedly has a template");
    T_CHECK(chord_chat_detect_family(t) == NULL, "no template and no marker tokens: no family");
    T_EQ_INT(chord_chat_render(t, NULL, msgs, 1, true, NULL, NULL, &out, &err), CHORD_OK);
    T_EQ_STR(out, "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
    free(out);
    chord_model_free(t);
    return t_done();
}
