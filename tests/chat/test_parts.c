/*
 * chat_parts: the part (answer, reasoning, markup) of each generated token
 * and the end of a harmony turn, on made-up token ids (no model).
 *
 * - think tags: the block is reasoning, the tags and the blank lines after
 *   the block are markup, the rest the answer; a prompt that ends inside
 *   the block (an R1 distill's template opens it) starts the reply there;
 *   one that closed it already (Qwen3 with thinking off) does not.
 * - harmony: analysis and commentary messages are reasoning, the final one
 *   the answer; headers and markers are markup; "<|end|>" ends the turn
 *   only after the final message; a reply that never writes a header is
 *   shown (after a bounded header) rather than hidden.
 */
#include <string.h>

#include "chat/chat_parts.h"
#include "t.h"

enum { OPEN = 100, CLOSE, CHAN, MSG, START, END, RET, CALL, CONSTR, W = 1 };

typedef struct step {
    chord_token t;
    const char *text;
    int part;
    bool ends;
} step;

static void run(chat_parts *p, const char *name, const step *s, int n)
{
    for (int i = 0; i < n; i++) {
        bool ends = true;
        int part = chat_parts_push(p, s[i].t, s[i].text, &ends);
        T_CHECK(part == s[i].part, "%s: token %d ('%s') is part %d, want %d", name, i, s[i].text, part,
                s[i].part);
        T_CHECK(ends == s[i].ends, "%s: token %d ('%s') ends the turn: %d, want %d", name, i, s[i].text,
                ends, s[i].ends);
        T_EQ_INT(chat_parts_kind(p, i), s[i].part);
    }
}

#define R CHORD_PART_REASONING
#define A CHORD_PART_ANSWER
#define M CHORD_PART_MARKUP
#define N(a) (int)(sizeof a / sizeof a[0])

static void think(void)
{
    chat_parts p;
    chat_parts_init(&p, NULL);
    T_EQ_INT(p.fmt, CHAT_FMT_PLAIN);
    p.fmt = CHAT_FMT_THINK;
    p.mark[CP_THINK_OPEN] = OPEN;
    p.mark[CP_THINK_CLOSE] = CLOSE;

    chat_parts_reset(&p, "<|im_start|>assistant\n");
    static const step a[] = {
        {OPEN, "<think>", M, false}, {W, "\n", R, false},       {W, "hmm", R, false},
        {CLOSE, "</think>", M, false}, {W, "\n\n", M, false},   {W, "Hel", A, false},
        {W, "lo\n", A, false},        {W, "\n", A, false},
    };
    run(&p, "think", a, N(a));

    chat_parts_reset(&p, "<|im_start|>assistant\n<think>\n");
    static const step b[] = {
        {W, "so", R, false}, {CLOSE, "</think>", M, false}, {W, " Yes", A, false},
    };
    run(&p, "opened by the prompt", b, N(b));

    chat_parts_reset(&p, "<|im_start|>assistant\n<think>\n\n</think>\n\n");
    static const step c[] = {{W, "Yes", A, false}, {W, " no", A, false}};
    run(&p, "closed by the prompt", c, N(c));
    chat_parts_free(&p);
}

static void harmony(void)
{
    chat_parts p;
    chat_parts_init(&p, NULL);
    p.fmt = CHAT_FMT_HARMONY;
    p.mark[CP_H_CHANNEL] = CHAN;
    p.mark[CP_H_MESSAGE] = MSG;
    p.mark[CP_H_START] = START;
    p.mark[CP_H_END] = END;
    p.mark[CP_H_RETURN] = RET;
    p.mark[CP_H_CALL] = CALL;
    p.mark[CP_H_CONSTRAIN] = CONSTR;

    const char *prompt = "<|start|>user<|message|>hi<|end|><|start|>assistant";
    chat_parts_reset(&p, prompt);
    static const step a[] = {
        {CHAN, "<|channel|>", M, false}, {W, "anal", M, false},    {W, "ysis", M, false},
        {MSG, "<|message|>", M, false},  {W, "User", R, false},    {W, " greets.", R, false},
        {END, "<|end|>", M, false},      {START, "<|start|>", M, false},
        {W, "assistant", M, false},      {CHAN, "<|channel|>", M, false},
        {W, "final", M, false},          {MSG, "<|message|>", M, false},
        {W, "Hello", A, false},          {W, "!", A, false},       {RET, "<|return|>", M, false},
    };
    run(&p, "harmony", a, N(a));

    chat_parts_reset(&p, prompt);
    static const step b[] = {
        {CHAN, "<|channel|>", M, false}, {W, "final", M, false}, {MSG, "<|message|>", M, false},
        {W, "Hi", A, false},            {END, "<|end|>", M, true},
    };
    run(&p, "final closed by <|end|>", b, N(b));

    /* a tool call: the commentary channel, a recipient and a constraint */
    chat_parts_reset(&p, prompt);
    static const step c[] = {
        {CHAN, "<|channel|>", M, false}, {W, "comment", M, false}, {W, "ary to", M, false},
        {W, "=functions.get", M, false}, {CONSTR, "<|constrain|>", M, false},
        {W, "json", M, false},          {MSG, "<|message|>", M, false},
        {W, "{}", R, false},            {CALL, "<|call|>", M, false},
    };
    run(&p, "commentary", c, N(c));

    /* the prompt opened the final message itself */
    chat_parts_reset(&p, "<|start|>assistant<|channel|>final<|message|>");
    static const step d[] = {{W, "Sure", A, false}, {END, "<|end|>", M, true}};
    run(&p, "opened by the prompt", d, N(d));

    /* no header at all: after the bound, the text is the answer */
    chat_parts_reset(&p, prompt);
    step e[40];
    for (int i = 0; i < 40; i++)
        e[i] = (step){W, "word ", i < 32 ? M : A, false};
    run(&p, "no header", e, 40);
    chat_parts_free(&p);
}

int main(void)
{
    think();
    harmony();
    return t_done();
}
