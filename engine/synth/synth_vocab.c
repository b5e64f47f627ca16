/*
 * synth_vocab.c - the tokenizer of a synthetic model: copied from another
 * GGUF, or generated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "synth/synth.h"

static chord_status copy_vocab(gguf_writer *w, const char *from, int *n_vocab, chord_err *err)
{
    gguf_file *f = NULL;
    chord_status st = gguf_open(from, &f, err);
    if (st != CHORD_OK)
        return st;
    const gguf_kv *tokens = gguf_find_array(f, "tokenizer.ggml.tokens", GGUF_STRING);
    if (!tokens || tokens->arr_n == 0 || tokens->arr_n > (1u << 30)) {
        gguf_close(f);
        return err_set(err, CHORD_E_FORMAT, "%s: no vocabulary (key 'tokenizer.ggml.tokens')", from);
    }
    *n_vocab = (int)tokens->arr_n;
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (!strncmp(f->kv[i].key, "tokenizer.", 10))
            gguf_writer_kv_copy(w, &f->kv[i]);
    gguf_close(f);
    return CHORD_OK;
}

/* Piece j of the generated vocabulary (after the special and byte
 * tokens): "▁" and some punctuation, then every string of 1, 2, 3...
 * letters, each first with the SentencePiece word-start mark, then bare. */
static void piece(int j, char *out, size_t cap)
{
    static const char *const head[] = {"\xe2\x96\x81", ".", ",", "!", "?", "'", "-", ":",
                                       "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    static const char alpha[] = "etaoinshrdlcumwfgypbvkjxqz";
    int nh = (int)(sizeof head / sizeof head[0]);
    if (j < nh) {
        snprintf(out, cap, "%s", head[j]);
        return;
    }
    j -= nh;
    long long count = 26;
    int len = 1;
    while (j >= 2 * count) {
        j -= (int)(2 * count);
        count *= 26;
        len++;
    }
    bool mark = j % 2 == 0;
    long long k = j / 2;
    char letters[16];
    for (int i = len - 1; i >= 0; i--) {
        letters[i] = alpha[k % 26];
        k /= 26;
    }
    letters[len] = 0;
    snprintf(out, cap, "%s%s", mark ? "\xe2\x96\x81" : "", letters);
}

/* A family's chat turns, for a generated vocabulary: the control tokens its
 * template writes (placed at the end of the vocabulary, as the shared
 * fixtures keep them) and a template of the family's format, short and
 * written here (turn markers as the released models use them). llama and
 * qwen2 files get neither, as before. */
typedef struct chat_family {
    const char *arch;
    const char *specials[6];
    const char *tmpl;
} chat_family;

static const chat_family chat_families[] = {
    {"qwen3", {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"},
     "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\n' + "
     "message['content'] + '<|im_end|>\n' }}{%- endfor %}{%- if add_generation_prompt %}"
     "{{- '<|im_start|>assistant\n' }}{%- endif %}"},
    {"qwen3moe", {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"},
     "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\n' + "
     "message['content'] + '<|im_end|>\n' }}{%- endfor %}{%- if add_generation_prompt %}"
     "{{- '<|im_start|>assistant\n' }}{%- endif %}"},
    /* gemma has no system turn: a system message is a user turn */
    {"gemma2", {"<start_of_turn>", "<end_of_turn>"}, NULL},
    {"gemma3", {"<start_of_turn>", "<end_of_turn>"}, NULL},
    {"phi3", {"<|endoftext|>", "<|assistant|>", "<|system|>", "<|end|>", "<|user|>"},
     "{% for message in messages %}{{ '<|' + message['role'] + '|>\n' + message['content'] + "
     "'<|end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}"
     "{% else %}{{ eos_token }}{% endif %}"},
};

static const char gemma_template[] =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'assistant' %}"
    "{% set role = 'model' %}{% else %}{% set role = 'user' %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}";

static chord_status make_vocab(gguf_writer *w, int n, const char *arch, int *n_vocab,
                               chord_err *err)
{
    enum { N_FIXED = 3 + 256 };
    const chat_family *chat = NULL;
    int n_special = 0;
    for (size_t i = 0; arch && i < sizeof chat_families / sizeof *chat_families; i++)
        if (!strcmp(arch, chat_families[i].arch))
            chat = &chat_families[i];
    while (chat && n_special < 6 && chat->specials[n_special])
        n_special++;
    if (n < N_FIXED + 1 + n_special || n > (1 << 24))
        return err_set(err, CHORD_E_INVALID, "vocabulary size %d out of range (%d to %d)", n,
                       N_FIXED + 1 + n_special, 1 << 24);
    char **tok = calloc((size_t)n, sizeof *tok);
    float *score = malloc((size_t)n * sizeof *score);
    int32_t *type = malloc((size_t)n * sizeof *type);
    chord_status st = CHORD_OK;
    if (!tok || !score || !type) {
        st = err_set(err, CHORD_E_NOMEM, "out of memory for a %d-token vocabulary", n);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        char buf[64];
        if (i == 0)
            snprintf(buf, sizeof buf, "<unk>");
        else if (i == 1)
            snprintf(buf, sizeof buf, "<s>");
        else if (i == 2)
            snprintf(buf, sizeof buf, "</s>");
        else if (i < N_FIXED)
            snprintf(buf, sizeof buf, "<0x%02X>", i - 3);
        else if (i >= n - n_special)
            snprintf(buf, sizeof buf, "%s", chat->specials[i - (n - n_special)]);
        else
            piece(i - N_FIXED, buf, sizeof buf);
        /* SentencePiece types: 1 normal, 2 unknown, 3 control, 6 byte */
        bool special = i >= n - n_special;
        type[i] = i == 0 ? 2 : i < 3 || special ? 3 : i < N_FIXED ? 6 : 1;
        score[i] = i < N_FIXED || special ? 0.0f : -(float)(i - N_FIXED);
        if (!(tok[i] = strdup(buf))) {
            st = err_set(err, CHORD_E_NOMEM, "out of memory for a %d-token vocabulary", n);
            goto out;
        }
    }
    gguf_writer_kv_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_kv_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok, (uint64_t)n);
    gguf_writer_kv_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, score, (uint64_t)n);
    gguf_writer_kv_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, type, (uint64_t)n);
    gguf_writer_kv_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    gguf_writer_kv_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_kv_u32(w, "tokenizer.ggml.eos_token_id", 2);
    gguf_writer_kv_bool(w, "tokenizer.ggml.add_bos_token", true);
    gguf_writer_kv_bool(w, "tokenizer.ggml.add_eos_token", false);
    if (chat)
        gguf_writer_kv_str(w, "tokenizer.chat_template", chat->tmpl ? chat->tmpl : gemma_template);
    *n_vocab = n;
out:
    if (tok)
        for (int i = 0; i < n; i++)
            free(tok[i]);
    free(tok);
    free(score);
    free(type);
    return st;
}

chord_status synth_vocab(gguf_writer *w, const chord_synth_params *p, int *n_vocab,
                         chord_err *err)
{
    if (p->vocab_from)
        return copy_vocab(w, p->vocab_from, n_vocab, err);
    return make_vocab(w, p->vocab, p->arch, n_vocab, err);
}
