/*
 * test_stream.c - an assistant message streamed into its row: flushed every
 * 32 tokens and every second; after `kill -9` of the writer the partial text
 * is there (at most about the last second lost) and the row reads
 * "interrupted" once the file is reopened; a live writer's row is left
 * alone, a zombie writer counts as dead.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ht.h"
#include "t.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long row_len(const char *path, int64_t id)
{
    return ht_int(path, "SELECT length(content) FROM messages WHERE id = ?", id, true);
}

static char *row_status(const char *path, int64_t id)
{
    return ht_text(path, "SELECT status FROM messages WHERE id = ?", id);
}

static void test_stream_complete(const char *path, int64_t conv)
{
    hist *h = ht_open(path);
    T_CHECK(h, "open");
    if (!h)
        return;
    chord_err e;
    int64_t id;
    T_CHECK(hist_stream_begin(h, conv, &id, &e) == CHORD_OK, "%s", e.msg);
    T_CHECK(hist_stream_active(h), "active");
    T_EQ_INT(hist_stream_begin(h, conv, NULL, &e), CHORD_E_INVALID);
    char *st = row_status(path, id);
    T_EQ_STR(st, "streaming");
    free(st);
    T_EQ_INT(row_len(path, id), 0);
    char want[2048] = "";
    for (int i = 0; i < 100; i++) {
        char chunk[16];
        snprintf(chunk, sizeof chunk, "chunk%03d ", i);
        strcat(want, chunk);
        T_CHECK(hist_stream_add(h, chunk, 1, &e) == CHORD_OK, "%s", e.msg);
        if (i == 30)   /* 31 tokens: still buffered */
            T_EQ_INT(row_len(path, id), 0);
        if (i == 31)   /* 32 tokens: flushed */
            T_EQ_INT(row_len(path, id), 32 * 9);
    }
    T_EQ_INT(ht_int(path, "SELECT n_gen FROM messages WHERE id = ?", id, true), 96);
    /* Not searchable while streaming (flushes do not re-index)... */
    hist_hit *hits;
    int n = -1;
    T_CHECK(hist_search(h, "chunk010", 10, NULL, NULL, &hits, &n, &e) == CHORD_OK && n == 0,
            "streaming row searchable: %d", n);
    hist_hits_free(hits, n);
    hist_counts c = {7, 100, 12.5, 2000};
    T_CHECK(hist_stream_end(h, HIST_COMPLETE, &c, &e) == CHORD_OK, "%s", e.msg);
    T_CHECK(!hist_stream_active(h), "ended");
    /* ...and is, once it ends. */
    T_CHECK(hist_search(h, "chunk010", 10, NULL, NULL, &hits, &n, &e) == CHORD_OK && n == 1,
            "finished row searchable: %d", n);
    hist_hits_free(hits, n);
    T_EQ_INT(hist_stream_add(h, "x", 1, &e), CHORD_E_INVALID);
    hist_conv *cv;
    T_CHECK(hist_conv_load(h, conv, &cv, &e) == CHORD_OK, "%s", e.msg);
    if (cv && cv->n_msgs) {
        hist_msg *m = &cv->msgs[cv->n_msgs - 1];
        T_EQ_STR(m->content, want);
        T_EQ_INT(m->status, HIST_COMPLETE);
        T_EQ_INT(m->counts.n_gen, 100);
        T_EQ_INT(m->counts.n_prompt, 7);
        T_EQ_STR(m->role, "assistant");
        hist_conv_free(cv);
    }

    /* Time-based flush: one token, then a pause longer than a second. */
    T_CHECK(hist_stream_begin(h, conv, &id, &e) == CHORD_OK, "%s", e.msg);
    T_CHECK(hist_stream_add(h, "slow", 1, &e) == CHORD_OK, "%s", e.msg);
    T_CHECK(hist_stream_poll(h, &e) == CHORD_OK, "%s", e.msg);
    T_EQ_INT(row_len(path, id), 0);
    sleep_ms(HIST_FLUSH_MS + 100);
    T_CHECK(hist_stream_poll(h, &e) == CHORD_OK, "%s", e.msg);
    T_EQ_INT(row_len(path, id), 4);
    T_CHECK(hist_stream_add(h, " token", 1, &e) == CHORD_OK, "%s", e.msg);
    /* Closing with a stream open finishes it as interrupted. */
    hist_close(h);
    st = row_status(path, id);
    T_EQ_STR(st, "interrupted");
    free(st);
    T_EQ_INT(row_len(path, id), 10);
    T_EQ_INT(ht_int(path, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'slow'",
                    0, false), 1);

    /* A conversation deleted by another process while streaming into it. */
    h = ht_open(path);
    if (!h)
        return;
    int64_t doomed;
    hist_conv_params cp = {"tiny.gguf", NULL, NULL, NULL};
    T_CHECK(hist_conv_create(h, &cp, &doomed, &e) == CHORD_OK, "%s", e.msg);
    T_CHECK(hist_stream_begin(h, doomed, &id, &e) == CHORD_OK, "%s", e.msg);
    hist *other = ht_open(path);
    T_CHECK(other && hist_conv_delete(other, doomed, &e) == CHORD_OK, "delete");
    hist_close(other);
    chord_status s2 = CHORD_OK;
    for (int i = 0; i < HIST_FLUSH_TOKENS && s2 == CHORD_OK; i++)
        s2 = hist_stream_add(h, "x", 1, &e);
    T_EQ_INT(s2, CHORD_E_INVALID);
    T_CHECK(ht_has(e.msg, "deleted while streaming"), "%s", e.msg);
    T_CHECK(hist_stream_end(h, HIST_COMPLETE, NULL, &e) != CHORD_OK, "end fails too");
    hist_close(h);
}

/* The text of token i in the crash test. */
static void tok_text(int i, char *out, size_t cap)
{
    snprintf(out, cap, "w%05d ", i);
}

/* A child that streams tokens every interval_ms forever, publishing its
 * message id and how many tokens it has handed to hist_stream_add. */
static void streamer(const char *path, int64_t conv, int interval_ms, volatile int64_t *shared)
{
    hist *h = ht_open(path);
    chord_err e;
    int64_t id;
    if (!h || hist_stream_begin(h, conv, &id, &e) != CHORD_OK)
        _exit(3);
    shared[0] = id;
    for (int i = 0; ; i++) {
        char t[16];
        tok_text(i, t, sizeof t);
        if (hist_stream_add(h, t, 1, &e) != CHORD_OK)
            _exit(4);
        shared[1] = i + 1;
        sleep_ms(interval_ms);
    }
}

/* Kills a streaming child after run_ms and checks what survived: an exact
 * prefix of the stream, missing at most max_lost tokens. */
static void test_crash(const char *path, int64_t conv, int interval_ms, int run_ms,
                       int max_lost, bool reap_first)
{
    volatile int64_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    T_CHECK(shared != MAP_FAILED, "mmap");
    if (shared == MAP_FAILED)
        return;
    shared[0] = shared[1] = 0;
    pid_t pid = fork();
    if (pid == 0)
        streamer(path, conv, interval_ms, shared);
    T_CHECK(pid > 0, "fork");
    for (int i = 0; i < 500 && !shared[0]; i++)
        sleep_ms(10);
    sleep_ms(run_ms);
    kill(pid, SIGKILL);
    int status;
    if (reap_first)
        waitpid(pid, &status, 0);
    else
        sleep_ms(100);   /* a zombie until reaped below */
    int64_t id = shared[0];
    int sent = (int)shared[1];
    T_CHECK(id > 0 && sent > 0, "child streamed (id %lld, %d tokens)", (long long)id, sent);

    char *st = row_status(path, id);
    T_EQ_STR(st, "streaming");
    free(st);
    hist *h = ht_open(path);   /* recovery runs here */
    T_CHECK(h, "reopen");
    st = row_status(path, id);
    T_EQ_STR(st, "interrupted");
    free(st);
    hist_conv *cv = NULL;
    chord_err e;
    T_CHECK(h && hist_conv_load(h, conv, &cv, &e) == CHORD_OK, "load");
    const hist_msg *m = NULL;
    for (int i = 0; cv && i < cv->n_msgs; i++)
        if (cv->msgs[i].id == id)
            m = &cv->msgs[i];
    T_CHECK(m, "message %lld present", (long long)id);
    if (m) {
        int saved = (int)(m->len / 7);
        T_EQ_INT(m->len % 7, 0);
        for (int i = 0; i < saved; i++) {
            char t[16];
            tok_text(i, t, sizeof t);
            if (memcmp(m->content + 7 * i, t, 7)) {
                T_CHECK(0, "token %d differs", i);
                break;
            }
        }
        T_EQ_INT(m->counts.n_gen, saved);
        T_CHECK(saved <= sent && saved >= sent - max_lost,
                "kill -9 after %d tokens at %d ms each: %d saved (at most %d may be lost)",
                sent, interval_ms, saved, max_lost);
        printf("crash at %d ms/token: %d of %d tokens saved\n", interval_ms, saved, sent);
    }
    hist_conv_free(cv);
    hist_close(h);
    if (!reap_first)
        waitpid(pid, &status, 0);
    munmap((void *)shared, 4096);
}

/* A writer that is alive keeps its row "streaming" across another
 * process's open; once it dies, the next open recovers it. */
static void test_live_writer(const char *path, int64_t conv)
{
    int go[2], ready[2];
    T_CHECK(pipe(go) == 0 && pipe(ready) == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        hist *h = ht_open(path);
        chord_err e;
        int64_t id = 0;
        if (!h || hist_stream_begin(h, conv, &id, &e) != CHORD_OK ||
            hist_stream_add(h, "partial", 32, &e) != CHORD_OK)
            _exit(3);
        if (write(ready[1], &id, sizeof id) != sizeof id)
            _exit(4);
        char c;
        if (read(go[0], &c, 1) != 1)
            _exit(5);
        hist_stream_end(h, HIST_COMPLETE, NULL, &e);
        hist_close(h);
        _exit(0);
    }
    int64_t id = 0;
    T_CHECK(read(ready[0], &id, sizeof id) == sizeof id, "child ready");
    hist *h = ht_open(path);
    T_CHECK(h, "open while the writer lives");
    char *st = row_status(path, id);
    T_EQ_STR(st, "streaming");
    free(st);
    hist_close(h);
    T_CHECK(write(go[1], "x", 1) == 1, "go");
    int status;
    waitpid(pid, &status, 0);
    T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    st = row_status(path, id);
    T_EQ_STR(st, "complete");
    free(st);
    close(go[0]); close(go[1]); close(ready[0]); close(ready[1]);
}

/* A reasoning model's reply: the thinking streams into its own column,
 * interleaved flushes keep both parts in order, the loaded message and
 * both exports carry it apart from the answer, and search sees only the
 * answer. */
static void test_reasoning(const char *path, int64_t conv)
{
    hist *h = ht_open(path);
    if (!h) {
        t_fail_at(__FILE__, __LINE__, "open");
        return;
    }
    chord_err e;
    int64_t id;
    if (hist_stream_begin(h, conv, &id, &e) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", e.msg);
        hist_close(h);
        return;
    }
    for (int i = 0; i < 40; i++)
        T_CHECK(hist_stream_add_part(h, i ? " think" : "\nthink", 1, true, &e) == CHORD_OK, "%s", e.msg);
    T_CHECK(hist_stream_add_part(h, "\n", 1, true, &e) == CHORD_OK, "%s", e.msg);
    for (int i = 0; i < 40; i++)
        T_CHECK(hist_stream_add(h, " zanswer", 1, &e) == CHORD_OK, "%s", e.msg);
    hist_counts hc = {5, 81, 1, 2};
    T_CHECK(hist_stream_end(h, HIST_COMPLETE, &hc, &e) == CHORD_OK, "%s", e.msg);
    T_EQ_INT(ht_int(path, "SELECT length(reasoning) FROM messages WHERE id = ?", id, true), 6 + 39 * 6 + 1);
    T_EQ_INT(row_len(path, id), 40 * 8);

    hist_conv *c;
    if (hist_conv_load(h, conv, &c, &e) != CHORD_OK) {
        t_fail_at(__FILE__, __LINE__, "%s", e.msg);
        hist_close(h);
        return;
    }
    const hist_msg *m = &c->msgs[c->n_msgs - 1];
    T_EQ_INT(m->id, id);
    T_CHECK(m->reasoning_len == 241 && !strncmp(m->reasoning, "\nthink think", 12), "reasoning loaded");
    T_CHECK(!strstr(m->content, "think"), "the answer holds no reasoning");
    hist_conv_free(c);

    char *json = NULL, *md = NULL;
    size_t nj = 0, nm = 0;
    FILE *f = open_memstream(&json, &nj);
    T_CHECK(hist_export_json(h, conv, f, &e) == CHORD_OK, "%s", e.msg);
    fclose(f);
    f = open_memstream(&md, &nm);
    T_CHECK(hist_export_md(h, conv, f, &e) == CHORD_OK, "%s", e.msg);
    fclose(f);
    T_CHECK(ht_has(json, "\"reasoning\": \"\\nthink think"), "json export: %s", json);
    T_CHECK(ht_has(md, "<details><summary>Reasoning</summary>\n\nthink think"), "md export: %s", md);
    free(json);
    free(md);

    hist_hit *hits;
    int n;
    T_CHECK(hist_search(h, "zanswer", 10, NULL, NULL, &hits, &n, &e) == CHORD_OK && n >= 1, "search finds the answer");
    hist_hits_free(hits, n);
    T_CHECK(hist_search(h, "think", 10, NULL, NULL, &hits, &n, &e) == CHORD_OK && n == 0, "search leaves reasoning out");
    hist_hits_free(hits, n);
    hist_close(h);
}

int main(void)
{
    char *path = ht_path("s.db");
    hist *h = ht_open(path);
    T_REQUIRE(h, "open");
    chord_err e;
    int64_t conv;
    hist_conv_params cp = {"tiny.gguf", "llama", NULL, NULL};
    T_REQUIRE(hist_conv_create(h, &cp, &conv, &e) == CHORD_OK, "%s", e.msg);
    hist_close(h);

    test_stream_complete(path, conv);
    /* Fast tokens: the 32-token rule bounds the loss. */
    test_crash(path, conv, 10, 1500, HIST_FLUSH_TOKENS, true);
    /* Slow tokens (4/s): the one-second rule bounds it; zombie writer. */
    test_crash(path, conv, 250, 2600, 1000 / 250 + 1, false);
    test_live_writer(path, conv);
    test_reasoning(path, conv);
    T_CHECK(ht_integrity(path), "integrity");
    free(path);
    return t_done();
}
