/*
 * pull_progress.c - what `chord pull` says while it works: a progress line
 * on a terminal, a line per file when stderr is a log, JSON events on
 * stdout with --json (one object per line, for frontends).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chord.h"
#include "pull.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 1536 -> "1.5 KiB": binary units, as the Hub's own sizes are shown. */
static const char *human(int64_t b, char *buf, size_t n)
{
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    if (b < 0) {
        snprintf(buf, n, "?");
        return buf;
    }
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4)
        v /= 1024, u++;
    snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
    return buf;
}

static void json_kv_str(const char *key, const char *val)
{
    printf(",\"%s\":", key);
    chord_json_write_str(stdout, val, strlen(val));
}

void prog_init(pull_progress *p, bool json)
{
    memset(p, 0, sizeof *p);
    p->mode = json ? PROG_JSON : isatty(STDERR_FILENO) ? PROG_TTY : PROG_LINES;
}

/* Ends a TTY line in progress so the next message starts clean. */
static void clear_line(pull_progress *p)
{
    if (p->mode == PROG_TTY && p->drawn) {
        fputs("\r\033[K", stderr);
        p->drawn = false;
    }
}

void prog_start(pull_progress *p, const char *file, int64_t total, int64_t offset)
{
    char a[32], b[32];
    p->file = file;
    p->total = total;
    p->offset = p->bytes = offset;
    p->t0 = p->last = now_s();
    switch (p->mode) {
    case PROG_JSON:
        printf("{\"event\":\"start\"");
        json_kv_str("file", file);
        printf(",\"total\":%lld,\"offset\":%lld}\n", (long long)total, (long long)offset);
        fflush(stdout);
        break;
    case PROG_LINES:
        if (offset)
            fprintf(stderr, "downloading %s (%s, resuming at %s)\n", file, human(total, a, sizeof a),
                    human(offset, b, sizeof b));
        else
            fprintf(stderr, "downloading %s (%s)\n", file, human(total, a, sizeof a));
        break;
    case PROG_TTY:
        prog_update(p, offset);
        break;
    }
}

static void draw_tty(pull_progress *p, double t)
{
    char a[32], b[32], r[32], eta[32] = "--:--";
    double el = t - p->t0;
    double rate = el > 0.2 ? (double)(p->bytes - p->offset) / el : 0;
    if (rate > 0 && p->total >= 0) {
        long s = (long)((double)(p->total - p->bytes) / rate);
        if (s >= 3600)
            snprintf(eta, sizeof eta, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
        else
            snprintf(eta, sizeof eta, "%02ld:%02ld", s / 60, s % 60);
    }
    double pct = p->total > 0 ? 100.0 * (double)p->bytes / (double)p->total : 0.0;
    /* Long repo paths are cut from the left: the end names the quant. */
    const char *name = p->file;
    size_t nl = strlen(name);
    if (nl > 36)
        name += nl - 36;
    fprintf(stderr, "\r\033[K%s%s  %s / %s  %5.1f%%  %s/s  ETA %s", nl > 36 ? "..." : "", name,
            human(p->bytes, a, sizeof a), human(p->total, b, sizeof b), pct,
            human((int64_t)rate, r, sizeof r), eta);
    fflush(stderr);
    p->drawn = true;
}

void prog_update(pull_progress *p, int64_t bytes)
{
    p->bytes = bytes;
    double t = now_s();
    bool last = p->total >= 0 && bytes >= p->total;
    /* Five redraws a second are smooth enough and cost nothing. */
    if (!last && t - p->last < 0.2 && bytes != p->offset)
        return;
    p->last = t;
    if (p->mode == PROG_TTY) {
        draw_tty(p, t);
    } else if (p->mode == PROG_JSON) {
        printf("{\"event\":\"progress\"");
        json_kv_str("file", p->file);
        printf(",\"bytes\":%lld,\"total\":%lld}\n", (long long)bytes, (long long)p->total);
        fflush(stdout);
    }
}

void prog_file_done(pull_progress *p, const char *file, const char *path, bool cached)
{
    clear_line(p);
    if (p->mode == PROG_JSON) {
        printf("{\"event\":\"file_done\"");
        json_kv_str("file", file);
        json_kv_str("path", path);
        printf(",\"cached\":%s}\n", cached ? "true" : "false");
        fflush(stdout);
    } else if (cached) {
        fprintf(stderr, "already in the cache: %s\n", path);
    } else {
        char a[32], r[32];
        double el = now_s() - p->t0;
        int64_t got = p->bytes - p->offset;
        fprintf(stderr, "done %s (%s in %.1f s, %s/s), sha256 verified\n", file,
                human(got, a, sizeof a), el, human(el > 0 ? (int64_t)((double)got / el) : got, r, sizeof r));
    }
}

void prog_note(pull_progress *p, const char *fmt, ...)
{
    clear_line(p);
    va_list ap;
    va_start(ap, fmt);
    fputs("chord: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void prog_error(pull_progress *p, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    clear_line(p);
    fprintf(stderr, "chord: %s\n", msg);
    if (p->mode == PROG_JSON) {
        printf("{\"event\":\"error\"");
        json_kv_str("message", msg);
        printf("}\n");
        fflush(stdout);
    }
}

void prog_done(pull_progress *p, const char *path, const char *model)
{
    clear_line(p);
    if (p->mode == PROG_JSON) {
        printf("{\"event\":\"done\"");
        json_kv_str("path", path);
        if (model)
            json_kv_str("model", model);
        printf("}\n");
        fflush(stdout);
        return;
    }
    /* The path alone on stdout, so `chord -m "$(chord pull ...)"` works;
     * the hint is for the reader. */
    printf("%s\n", path);
    fflush(stdout);
    if (model)
        fprintf(stderr, "run it: chord -m %s\n", model);
    else
        fprintf(stderr, "run it: chord -m %s\n", path);
}
