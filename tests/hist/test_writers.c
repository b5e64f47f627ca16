/*
 * test_writers.c - two processes append to the same database at once: each
 * writes 200 messages into one shared conversation (so they contend for the
 * same seq numbers) while also streaming into a conversation of its own.
 * All 400 messages must be there with seq 1..400, and the file must pass
 * integrity_check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ht.h"
#include "t.h"

enum { PER_WRITER = 200 };

/* Runs in a child: returns the exit code (0 = every call succeeded). */
static int writer(const char *path, int64_t shared_conv, int who)
{
    hist *h = ht_open(path);
    if (!h)
        return 2;
    chord_err e;
    int64_t own;
    hist_conv_params cp = {who ? "b.gguf" : "a.gguf", "llama", NULL, NULL};
    if (hist_conv_create(h, &cp, &own, &e) != CHORD_OK ||
        hist_stream_begin(h, own, NULL, &e) != CHORD_OK) {
        fprintf(stderr, "writer %d: %s\n", who, e.msg);
        return 3;
    }
    for (int i = 0; i < PER_WRITER; i++) {
        char text[64];
        int n = snprintf(text, sizeof text, "writer%d message%03d", who, i);
        if (hist_msg_add(h, shared_conv, i % 2 ? "assistant" : "user", text, (size_t)n,
                         NULL, NULL, &e) != CHORD_OK ||
            hist_stream_add(h, "tok ", 8, &e) != CHORD_OK) {
            fprintf(stderr, "writer %d at %d: %s\n", who, i, e.msg);
            return 4;
        }
    }
    if (hist_stream_end(h, HIST_COMPLETE, NULL, &e) != CHORD_OK) {
        fprintf(stderr, "writer %d: %s\n", who, e.msg);
        return 5;
    }
    hist_close(h);
    return 0;
}

/* Two processes racing to create, configure and upgrade the same new file:
 * both must end up writing to one valid database. */
static void test_fresh_race(void)
{
    char *path = ht_path("race.db");
    int go[2];
    T_CHECK(pipe(go) == 0, "pipe");
    pid_t pids[2];
    for (int w = 0; w < 2; w++) {
        pids[w] = fork();
        if (pids[w] == 0) {
            char c;
            close(go[1]);
            if (read(go[0], &c, 1) != 0)   /* EOF = start together */
                _exit(6);
            hist *h = ht_open(path);
            chord_err e;
            int64_t conv;
            hist_conv_params cp = {"race.gguf", NULL, NULL, NULL};
            if (!h || hist_conv_create(h, &cp, &conv, &e) != CHORD_OK)
                _exit(2);
            for (int i = 0; i < 20; i++)
                if (hist_msg_add(h, conv, "user", "hi", 2, NULL, NULL, &e) != CHORD_OK)
                    _exit(3);
            hist_close(h);
            _exit(0);
        }
    }
    close(go[0]);
    close(go[1]);
    for (int w = 0; w < 2; w++) {
        int status;
        waitpid(pids[w], &status, 0);
        T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "racer %d: status %d", w, status);
    }
    T_EQ_INT(ht_int(path, "SELECT count(*) FROM messages", 0, false), 40);
    T_EQ_INT(ht_int(path, "PRAGMA user_version", 0, false), hist_schema_version());
    T_CHECK(ht_integrity(path), "integrity");
    free(path);
}

int main(void)
{
    test_fresh_race();

    char *path = ht_path("w.db");
    hist *h = ht_open(path);
    T_REQUIRE(h, "open");
    chord_err e;
    int64_t conv;
    hist_conv_params cp = {"shared.gguf", "qwen2", NULL, NULL};
    T_REQUIRE(hist_conv_create(h, &cp, &conv, &e) == CHORD_OK, "%s", e.msg);
    hist_close(h);

    pid_t pids[2];
    for (int w = 0; w < 2; w++) {
        pids[w] = fork();
        T_REQUIRE(pids[w] >= 0, "fork");
        if (pids[w] == 0)
            _exit(writer(path, conv, w));   /* _exit: keep the parent's tmpdir */
    }
    for (int w = 0; w < 2; w++) {
        int status;
        waitpid(pids[w], &status, 0);
        T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d: status %d", w, status);
    }
    T_EQ_INT(ht_int(path, "SELECT count(*) FROM messages WHERE conversation_id = ?", conv, true),
             2 * PER_WRITER);
    T_EQ_INT(ht_int(path, "SELECT count(DISTINCT seq) FROM messages WHERE conversation_id = ?",
                    conv, true), 2 * PER_WRITER);
    T_EQ_INT(ht_int(path, "SELECT max(seq) FROM messages WHERE conversation_id = ?", conv, true),
             2 * PER_WRITER);
    T_EQ_INT(ht_int(path, "SELECT count(*) FROM messages WHERE content LIKE 'writer1 %'", 0, false),
             PER_WRITER);
    /* Each writer's own messages keep their order. */
    T_EQ_INT(ht_int(path, "SELECT count(*) FROM messages a JOIN messages b"
                          " ON a.conversation_id = b.conversation_id"
                          " AND substr(a.content, 1, 8) = substr(b.content, 1, 8)"
                          " AND a.content < b.content AND a.seq > b.seq"
                          " WHERE a.conversation_id = ?", conv, true), 0);
    T_EQ_INT(ht_int(path, "SELECT sum(length(content)) FROM messages m JOIN conversations c"
                          " ON c.id = m.conversation_id WHERE c.model IN ('a.gguf', 'b.gguf')"
                          " AND m.status = 'complete' AND m.n_gen = 1600", 0, false),
             2 * 4 * PER_WRITER);
    T_CHECK(ht_integrity(path), "integrity");
    free(path);
    return t_done();
}
