/*
 * chat_reasoning: a reasoning model's reply forced through a chat session
 * on the fixtures' real vocabularies and templates, as the generation
 * drives it (tokens pushed until an end-of-generation token, which is
 * never pushed):
 *
 * - gpt-oss (harmony): the analysis message is the reasoning, the final
 *   one the answer, the markers and headers are handed out as empty
 *   markup pieces (one per token, so counts stay right); "<|end|>" after
 *   the analysis does not end the turn; the conversation keeps only the
 *   answer, and the next prompt renders it in the final channel.
 * - Qwen3 (think tags): the block is the reasoning, the answer follows;
 *   the stop text and EOG still end the turn.
 * - The zephyr fixture has no reasoning format: every piece is answer.
 */
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "t.h"

typedef struct want {
    const char *model;
    const char *format;      /* NULL: none */
    const char *reply;       /* spelled with special tokens */
    const char *reasoning, *answer;
    bool ends_by_itself;     /* the session ends the turn before EOG */
} want;

static const want cases[] = {
    {"models/n-gptoss-mxfp4.gguf", "harmony",
     "<|channel|>analysis<|message|>The user greets.<|end|><|start|>assistant<|channel|>final"
     "<|message|>Hello there!<|return|>",
     "The user greets.", "Hello there!", false},
    {"models/n-gptoss-mxfp4.gguf", "harmony",
     "<|channel|>final<|message|>Just this.<|end|>", "", "Just this.", true},
    {"models/f-qwen3-q8_0.gguf", "think", "<think>\nLet me see.\n</think>\n\nIt is noon.<|im_end|>",
     "Let me see.", "It is noon.", false},
    {"models/a-spm-q8_0.gguf", NULL, "Hello world</s>", "", "Hello world", false},
};

static void check(const want *w)
{
    chord_model_params mp = chord_model_default_params();
    mp.n_threads = 1;
    chord_model *m = NULL;
    chord_err err;
    T_NEED(chord_model_load(t_shared(w->model), &mp, &m, &err) == CHORD_OK, "load: %s", err.msg);
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = 512;
    chord_ctx *c = NULL;
    T_NEED(chord_ctx_new(m, &cp, &c, &err) == CHORD_OK, "ctx: %s", err.msg);
    chord_chat *s = NULL;
    T_NEED(chord_chat_new(m, c, NULL, &s, &err) == CHORD_OK, "chat: %s", err.msg);
    const char *fmt = chord_chat_reasoning_format(s);
    T_CHECK(w->format ? fmt && !strcmp(fmt, w->format) : !fmt, "%s: format %s", w->model, fmt ? fmt : "none");

    const chord_token *p;
    int n, reuse, dropped;
    T_NEED(chord_chat_add(s, true, "Hi", 2, &err) == CHORD_OK, "add");
    T_NEED(chord_chat_prepare(s, 64, &p, &n, &reuse, &dropped, &err) == CHORD_OK, "prepare: %s", err.msg);
    T_NEED(chord_ctx_eval(c, p, n, NULL, false, &err) == CHORD_OK, "eval: %s", err.msg);

    chord_token t[128];
    int nt = chord_tokenize(m, w->reply, strlen(w->reply), false, true, t, 128, &err);
    T_NEED(nt > 0 && nt <= 128, "tokenize the reply");
    chord_detok d;
    chord_detok_init(&d);
    char reasoning[256] = "", answer[256] = "";
    int pieces = 0, pushed = 0;
    bool ended = false;
    for (int i = 0; i < nt && !ended; i++) {
        if (chord_token_is_eog(m, t[i]))
            break;
        char text[256];
        int k = chord_detok_push(&d, m, t[i], text, (int)sizeof text);
        text[k < 0 ? 0 : k] = 0;
        chord_status st;
        ended = chord_chat_reply_push(s, t[i], text, &st);
        pushed++;
        if (!ended)
            T_CHECK(chord_ctx_eval(c, &t[i], 1, NULL, false, &err) == CHORD_OK, "eval: %s", err.msg);
        chord_chat_piece pc;
        while (chord_chat_reply_next(s, &pc)) {
            pieces += pc.token >= 0;
            if (pc.part == CHORD_PART_MARKUP)
                T_CHECK(pc.len == 0 && !pc.text[0], "%s: markup shows no text", w->model);
            else
                strncat(pc.part == CHORD_PART_REASONING ? reasoning : answer, pc.text, 100);
        }
    }
    T_CHECK(ended == w->ends_by_itself, "%s: the session ended the turn: %d", w->model, ended);
    chord_chat_reply_flush(s);
    chord_chat_piece pc;
    while (chord_chat_reply_next(s, &pc))
        pieces += pc.token >= 0;
    T_EQ_INT(pieces, pushed);
    size_t len;
    const char *r = chord_chat_reply_reasoning(s, &len);
    T_CHECK(len == strlen(w->reasoning) && !memcmp(r, w->reasoning, len), "%s: reasoning '%.*s'", w->model,
            (int)len, r);
    const char *a = chord_chat_reply_text(s, &len);
    T_CHECK(len == strlen(w->answer) && !memcmp(a, w->answer, len), "%s: answer '%.*s'", w->model, (int)len, a);
    T_CHECK(strstr(answer, w->answer) != NULL, "%s: the answer pieces '%s'", w->model, answer);
    T_NEED(chord_chat_reply_end(s, true, &err) == CHORD_OK, "reply_end: %s", err.msg);
    bool user = true;
    const char *kept = chord_chat_msg_text(s, 1, &user);
    T_CHECK(kept && !user && !strcmp(kept, w->answer), "%s: the conversation keeps the answer: '%s'", w->model,
            kept ? kept : "(none)");
    if (w->format && !strcmp(w->format, "harmony")) {
        /* the next prompt renders the answer in the final channel and
         * leaves the analysis out, as the template does */
        T_NEED(chord_chat_add(s, true, "Bye", 3, &err) == CHORD_OK, "add");
        T_NEED(chord_chat_prepare(s, 64, &p, &n, &reuse, &dropped, &err) == CHORD_OK, "prepare: %s",
                  err.msg);
        char *text = malloc(65536);
        int at = 0;
        for (int i = 0; i < s->n_feed && at < 60000; i++) {
            int k = chord_token_to_bytes(m, s->feed[i], true, text + at, 1024);
            at += k > 0 ? k : 0;
        }
        text[at] = 0;
        T_CHECK(strstr(text, "<|channel|>final<|message|>Hello there!<|end|>") ||
                    strstr(text, "<|channel|>final<|message|>Just this.<|end|>"),
                "the next prompt holds the answer: %s", text);
        T_CHECK(!strstr(text, "The user greets."), "the next prompt leaves the analysis out");
        free(text);
    }
    chord_chat_free(s);
    chord_ctx_free(c);
    chord_model_free(m);
}

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check(&cases[i]);
    return t_done();
}
