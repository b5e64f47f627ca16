/*
 * chat_session: the engine's chat sessions (chord_chat_*) on the shared models: what ends an
 * assistant turn under each template (stop text, extra stop token), the
 * KV-cache prefix kept across turns, dropping the oldest turns when the
 * context is full, and the error for a turn that cannot fit at all.
 */
#include <stdlib.h>
#include <string.h>

#include "chat/chat.h"
#include "t.h"

static chord_model *load(const char *rel)
{
    chord_model_params mp = chord_model_default_params();
    mp.n_threads = 1;
    chord_model *m = NULL;
    chord_err err;
    if (chord_model_load(t_shared(rel), &mp, &m, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "load %s: %s", rel, err.msg);
        return NULL;
    }
    return m;
}

static chord_ctx *new_ctx(chord_model *m, int n_ctx)
{
    chord_ctx_params cp = chord_ctx_default_params();
    cp.n_ctx = n_ctx;
    chord_ctx *c = NULL;
    chord_err err;
    if (chord_ctx_new(m, &cp, &c, &err) != CHORD_OK)
        t_fail_at(__FILE__, __LINE__, "ctx: %s", err.msg);
    return c;
}

/* The stop text and stop tokens a template gives. */
static void check_stops(chord_model *m, chord_ctx *c, const char *src, const char *family,
                        const char *want_text, chord_token want_tok)
{
    chord_chat *s = NULL;
    chord_err err;
    chord_chat_params p = {.template_src = src, .template_family = family};
    if (chord_chat_new(m, c, &p, &s, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "chord_chat_new: %s", err.msg);
        return;
    }
    T_EQ_STR(chord_chat_stop_text(s), want_text);
    const chord_token *stop = NULL;
    int n_stop = chord_chat_stop_tokens(s, &stop);
    if (want_tok < 0) {
        T_EQ_INT(n_stop, 0);
    } else {
        T_EQ_INT(n_stop, 1);
        T_EQ_INT(stop[0], want_tok);
        /* the stop token ends the turn and shows nothing */
        chord_status st;
        T_CHECK(chord_chat_reply_push(s, want_tok, "", &st), "stop token %d did not end the turn", want_tok);
    }
    chord_chat_free(s);
}

/* Renders the next turn: chord_chat_prepare's counts and the prompt. */
static const chord_token *prompt;
static int n_prompt;

static chord_status prepare(chord_chat *s, int reserve, int *dropped, int *reuse, chord_err *err)
{
    return chord_chat_prepare(s, reserve, &prompt, &n_prompt, reuse, dropped, err);
}

/* Evaluates the prompt part prepare left to prefill, as chord_gen would,
 * and ends the turn without a reply (the user message stays: the test
 * adds the reply itself). */
static void prefill(chord_chat *s)
{
    chord_err err;
    chord_status st = chord_ctx_eval(s->ctx, prompt, n_prompt, NULL, false, &err);
    T_CHECK(st == CHORD_OK, "eval: %s", err.msg);
    T_CHECK(chord_chat_reply_end(s, true, &err) == CHORD_OK, "reply_end: %s", err.msg);
    chord_chat_pop(s);   /* the empty reply */
}

/* The next turn reuses the cache through a reply whose text does not
 * re-tokenize to its tokens: SentencePiece's "\u2581Hello" comes out as
 * "Hello" (the detokenizer drops the leading space), and "Hello" after the
 * template's newline is another token. Before the session kept the sampled
 * tokens, the whole reply was prefilled again. */
static void check_reply_tokens_reused(chord_model *m)
{
    chord_ctx *c = new_ctx(m, 256);
    chord_chat *s = NULL;
    chord_err err;
    if (!c || chord_chat_new(m, c, NULL, &s, &err) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "session: %s", c ? err.msg : "no ctx");
        chord_ctx_free(c);
        return;
    }
    int dropped, reuse;
    T_CHECK(chord_chat_add(s, true, "Hi", 2, &err) == CHORD_OK, "add");
    T_CHECK(prepare(s, 8, &dropped, &reuse, &err) == CHORD_OK, "prepare 1: %s", err.msg);
    int n1 = n_prompt;
    T_CHECK(chord_ctx_eval(c, prompt, n_prompt, NULL, false, &err) == CHORD_OK, "eval: %s", err.msg);
    /* the reply "Hello world", as the generation would sample it */
    chord_token r[8];
    int nr = chord_tokenize(m, "Hello world", 11, false, false, r, 8, &err);
    T_CHECK(nr >= 2 && nr <= 8, "reply tokens: %d", nr);
    char piece[64];
    T_CHECK(chord_token_to_bytes(m, r[0], false, piece, (int)sizeof piece) > 0 && piece[0] == ' ',
            "the first reply token starts with a space");
    chord_detok d;
    chord_detok_init(&d);
    for (int i = 0; i < nr; i++) {
        chord_status st;
        char text[256];
        chord_detok_push(&d, m, r[i], text, (int)sizeof text);
        T_CHECK(!chord_chat_reply_push(s, r[i], text, &st) && st == CHORD_OK, "push %d", i);
    }
    chord_chat_reply_flush(s);
    T_EQ_STR(chord_chat_reply_text(s, NULL), "Hello world");
    /* all but the last sampled token evaluated, as at an -n limit */
    T_CHECK(chord_ctx_eval(c, r, nr - 1, NULL, false, &err) == CHORD_OK, "eval reply: %s", err.msg);
    T_CHECK(chord_chat_reply_end(s, true, &err) == CHORD_OK, "reply_end: %s", err.msg);
    T_CHECK(chord_chat_add(s, true, "Bye", 3, &err) == CHORD_OK, "add");
    T_CHECK(prepare(s, 8, &dropped, &reuse, &err) == CHORD_OK, "prepare 2: %s", err.msg);
    T_EQ_INT(reuse, n1 + nr - 1);
    T_EQ_INT(chord_ctx_pos(c), n1 + nr - 1);
    /* the prompt goes on with the last reply token, then the new turn */
    T_CHECK(n_prompt > 1 && prompt[0] == r[nr - 1], "prefill starts with the reply's last token");
    chord_chat_free(s);
    chord_ctx_free(c);
}

int main(void)
{
    chord_model *a = load("models/a-spm-q8_0.gguf");
    chord_model *q = load("models/c-qwen2-q8_0.gguf");
    T_REQUIRE(a && q, "models");
    chord_ctx *ca = new_ctx(a, 64), *cq = new_ctx(q, 64);
    T_REQUIRE(ca && cq, "contexts");

    /* zephyr (the a model's own): </s> is EOS, already end of generation */
    check_stops(a, ca, NULL, NULL, "</s>", -1);
    /* ChatML on a vocabulary without <|im_end|>: the text only */
    check_stops(a, ca, NULL, "chatml", "<|im_end|>", -1);
    check_stops(q, cq, NULL, NULL, "<|im_end|>", -1);
    /* a template that closes replies with BOS, a control token that is not
     * end of generation: it becomes a stop token */
    check_stops(a, ca,
                "{% for m in messages %}{{ m.role }}: {{ m.content }}{% if m.role == 'assistant' %}{{ bos_token }}\n{% endif %}{% endfor %}",
                NULL, "<s>", chord_token_bos(a));
    /* closing with a newline only: nothing to stop on */
    check_stops(a, ca, "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}", NULL, "", -1);

    /* the cache: a second turn keeps the whole first one */
    chord_chat *s = NULL;
    chord_err err;
    chord_chat_params sp = {.system = "Be brief."};
    T_REQUIRE(chord_chat_new(a, ca, &sp, &s, &err) == CHORD_OK, "init: %s", err.msg);
    int dropped = -1, reuse = -1;
    T_REQUIRE(chord_chat_add(s, true, "Hi", 2, &err) == CHORD_OK, "add");
    T_REQUIRE(prepare(s, 8, &dropped, &reuse, &err) == CHORD_OK, "prepare 1: %s", err.msg);
    T_EQ_INT(dropped, 0);
    T_EQ_INT(reuse, 0);
    int n1 = s->n_feed;
    prefill(s);
    T_EQ_INT(chord_ctx_pos(ca), n1);
    T_REQUIRE(chord_chat_add(s, false, "Hello", 5, &err) == CHORD_OK, "add");
    T_REQUIRE(chord_chat_add(s, true, "Bye", 3, &err) == CHORD_OK, "add");
    T_REQUIRE(prepare(s, 8, &dropped, &reuse, &err) == CHORD_OK, "prepare 2: %s", err.msg);
    T_EQ_INT(dropped, 0);
    T_EQ_INT(reuse, n1);
    T_EQ_INT(chord_ctx_pos(ca), n1);
    T_CHECK(s->n_feed > n1, "the second turn adds tokens");
    prefill(s);

    /* a changed history (different reply text) keeps only the common part */
    chord_chat_pop(s);
    chord_chat_pop(s);
    T_REQUIRE(chord_chat_add(s, false, "Howdy", 5, &err) == CHORD_OK, "add");
    T_REQUIRE(chord_chat_add(s, true, "Bye", 3, &err) == CHORD_OK, "add");
    int n2 = s->n_feed;
    T_REQUIRE(prepare(s, 8, &dropped, &reuse, &err) == CHORD_OK, "prepare 3: %s", err.msg);
    T_CHECK(reuse >= n1 && reuse < n2, "reuse %d after an edit (first turn %d, all %d)", reuse, n1, n2);
    T_EQ_INT(chord_ctx_pos(ca), reuse);
    prefill(s);

    /* more turns than 64 tokens hold: the oldest go, the system prompt and
     * the last user turn stay */
    for (int i = 0; i < 4; i++) {
        T_REQUIRE(chord_chat_add(s, false, "A longer answer with several words in it", 40, &err) == CHORD_OK, "add");
        T_REQUIRE(chord_chat_add(s, true, "Tell me more about that", 23, &err) == CHORD_OK, "add");
    }
    T_REQUIRE(prepare(s, 8, &dropped, &reuse, &err) == CHORD_OK, "prepare 4: %s", err.msg);
    T_CHECK(dropped > 0, "no turn dropped");
    T_CHECK(s->n_feed + 8 <= 64, "window of %d tokens + 8 > 64", s->n_feed);
    bool user = false;
    int first = chord_chat_window_start(s);
    T_CHECK(chord_chat_msg_text(s, first, &user) && user, "the window starts with a user turn");
    T_CHECK(first < chord_chat_n_msgs(s), "the last user turn stays");

    /* a turn too long for the context alone */
    char big[2000];
    memset(big, 0, sizeof big);
    for (int i = 0; i + 5 < (int)sizeof big - 1; i += 5)
        memcpy(big + i, "word ", 5);
    T_REQUIRE(chord_chat_add(s, true, big, strlen(big), &err) == CHORD_OK, "add");
    T_CHECK(prepare(s, 8, &dropped, &reuse, &err) == CHORD_E_CTX_FULL, "a too-long turn was accepted");
    T_CHECK(strstr(err.msg, "context holds 64") != NULL, "error: %s", err.msg);
    chord_chat_pop(s);
    T_REQUIRE(prepare(s, 8, &dropped, &reuse, &err) == CHORD_OK, "prepare after pop: %s", err.msg);
    chord_chat_free(s);

    check_reply_tokens_reused(a);

    chord_ctx_free(ca);
    chord_ctx_free(cq);
    chord_model_free(a);
    chord_model_free(q);
    return t_done();
}
