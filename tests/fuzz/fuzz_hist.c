/*
 * fuzz_hist.c - libFuzzer target for the history write and export paths.
 *
 * The input is cut at 0xFE bytes into: a system prompt, a user message, the
 * pieces of a streamed assistant reply (C strings: a NUL ends one) and
 * (last) a search query. They go
 * through hist_conv_create, hist_msg_add, hist_stream_*, then the
 * conversation is exported as Markdown and as JSON; the JSON must parse
 * back, and every message whose text was valid UTF-8 must come back byte
 * for byte. The database lives in a private temp dir (removed at exit) and
 * each conversation is deleted after use so it stays small.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chord.h"
#include "fuzz_common.h"
#include "hist.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n);

static hist *db;
/* tmpfs when there is one: SQLite syncs every commit, and on a disk the
 * syncs, not chord, would set the pace */
static char dir[] = "/dev/shm/chord-fuzz-hist-XXXXXX";
static char db_path[sizeof dir + 16];

static void cleanup(void)
{
    hist_close(db);
    char p[sizeof db_path + 8];
    static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", db_path, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
}

static void open_db(void)
{
    chord_err err;
    if (!mkdtemp(dir)) {
        static char tmp_dir[] = "/tmp/chord-fuzz-hist-XXXXXX";
        if (!mkdtemp(tmp_dir))
            abort();
        memcpy(dir, tmp_dir, sizeof tmp_dir);
    }
    snprintf(db_path, sizeof db_path, "%s/h.db", dir);
    if (hist_open(db_path, NULL, &db, &err) != CHORD_OK) {
        fprintf(stderr, "fuzz_hist: %s\n", err.msg);
        abort();
    }
    atexit(cleanup);
}

/* Strict UTF-8 without NULs (what survives export unchanged). */
static int text_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], need, cp, min;
        if (c == 0)
            return 0;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c < 0xE0) { need = 1; cp = c & 0x1F; min = 0x80; }
        else if (c >= 0xE0 && c < 0xF0) { need = 2; cp = c & 0x0F; min = 0x800; }
        else if (c >= 0xF0 && c < 0xF5) { need = 3; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if (i + need >= n)
            return 0;
        for (unsigned k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000))
            return 0;
        i += need + 1;
    }
    return 1;
}

#define MAX_PARTS 16

/* A broken invariant: say where (and the last error), then crash so the
 * fuzzer keeps the input. */
#define BROKEN() \
    do { fprintf(stderr, "fuzz_hist.c:%d: %s\n", __LINE__, err.msg); abort(); } while (0)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t n)
{
    chord_err err;
    err.msg[0] = 0;
    if (!db)
        open_db();
    const unsigned char *part[MAX_PARTS];
    size_t plen[MAX_PARTS];
    int np = 0;
    for (size_t start = 0; np < MAX_PARTS;) {
        const unsigned char *e = memchr(data + start, 0xFE, n - start);
        size_t end = e ? (size_t)(e - data) : n;
        part[np] = data + start;
        plen[np++] = end - start;
        if (!e)
            break;
        start = end + 1;
    }
    /* NUL-terminated copies: the system prompt and query are C strings */
    char *sys = strndup((const char *)part[0], plen[0]);
    char *query = strndup((const char *)part[np - 1], plen[np - 1]);
    if (!sys || !query)
        BROKEN();

    int64_t conv;
    hist_conv_params cp = { .model = "fuzz.gguf", .arch = "llama", .system_prompt = plen[0] ? sys : NULL };
    if (hist_conv_create(db, &cp, &conv, &err) != CHORD_OK)
        BROKEN();
    size_t ulen = np > 1 ? plen[1] : 0;
    const char *user = np > 1 ? (const char *)part[1] : "";
    if (hist_msg_add(db, conv, "user", user, ulen, NULL, NULL, &err) != CHORD_OK)
        BROKEN();
    int64_t mid;
    if (hist_stream_begin(db, conv, &mid, &err) != CHORD_OK)
        BROKEN();
    size_t alen = 0;
    char *reply = malloc(n + 1);
    if (!reply)
        BROKEN();
    for (int i = 2; i < np - 1; i++) {
        /* stream pieces are C strings: a NUL ends the piece */
        char *piece = strndup((const char *)part[i], plen[i]);
        if (!piece)
            BROKEN();
        if (hist_stream_add(db, piece, (int)(plen[i] % 40), &err) != CHORD_OK)
            BROKEN();
        size_t pl = strlen(piece);
        memcpy(reply + alen, piece, pl);
        alen += pl;
        free(piece);
    }
    hist_counts counts = { 1, 2, 3.5, 4.25 };
    if (hist_stream_end(db, (hist_msg_status)(n % 2 ? HIST_COMPLETE : HIST_INTERRUPTED), &counts, &err) != CHORD_OK)
        BROKEN();

    char *buf = NULL;
    size_t blen = 0;
    FILE *mem = open_memstream(&buf, &blen);
    if (!mem)
        BROKEN();
    if (hist_export_md(db, conv, mem, &err) != CHORD_OK)
        BROKEN();
    fclose(mem);
    free(buf);
    buf = NULL;
    if (!(mem = open_memstream(&buf, &blen)))
        BROKEN();
    if (hist_export_json(db, conv, mem, &err) != CHORD_OK)
        BROKEN();
    fclose(mem);
    chord_json *j = chord_json_parse(buf, blen, &err);
    if (!j)
        BROKEN();
    const chord_json *msgs = chord_json_get(j, "messages");
    if (!msgs || msgs->type != CHORD_JSON_ARRAY || msgs->len != 2)
        BROKEN();
    const char *want[2] = { user, reply };
    size_t wlen[2] = { ulen, alen };
    for (int i = 0; i < 2; i++) {
        const chord_json *c = chord_json_get(chord_json_at(msgs, (size_t)i), "content");
        if (!c || c->type != CHORD_JSON_STRING)
            BROKEN();
        if (text_ok((const unsigned char *)want[i], wlen[i]) &&
            (c->len != wlen[i] || memcmp(c->string, want[i], wlen[i]) != 0))
            BROKEN();
    }
    const chord_json *sp = chord_json_get(j, "system_prompt");
    if (plen[0] && (!sp || (text_ok((const unsigned char *)sys, strlen(sys)) &&
                            (sp->type != CHORD_JSON_STRING || strcmp(sp->string, sys) != 0))))
        BROKEN();
    chord_json_free(j);
    free(buf);

    /* a hostile search query must fail cleanly or find something */
    hist_hit *hits = NULL;
    int nh = 0;
    if (hist_search(db, query, 5, "[", "]", &hits, &nh, &err) == CHORD_OK)
        hist_hits_free(hits, nh);
    else if (!err.msg[0] || strchr(err.msg, '\n'))
        BROKEN();

    if (hist_conv_delete(db, conv, &err) != CHORD_OK)
        BROKEN();
    free(reply);
    free(sys);
    free(query);
    return 0;
}
