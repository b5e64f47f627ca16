/*
 * tool_report.c - progress, summary and fallback warnings for `chord
 * quantize` and `chord synth` (see tool_report.h).
 *
 * The engine writes the file on its own; progress is what the file has
 * grown to, and the fallbacks are read back from the file it wrote (its
 * tensor table, through chord_inspect), so what is said is what is there.
 */
#include "tool_report.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "models.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct tool_progress {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, tty;
    const char *what, *path;
    double t0;
};

static void *progress_main(void *arg)
{
    tool_progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 500000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (p->stop)
            break;
        struct stat sb;
        char b[32];
        models_fmt_bytes(stat(p->path, &sb) == 0 ? (int64_t)sb.st_size : 0, b, sizeof b);
        fprintf(stderr, "\r\033[Kchord %s: %s written to %s (%.0f s)", p->what, b, p->path,
                now_s() - p->t0);
        fflush(stderr);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

tool_progress *tool_progress_start(const char *what, const char *path)
{
    tool_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->what = what;
    p->path = path;
    p->t0 = now_s();
    p->tty = isatty(2);
    if (!p->tty)
        return p;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->th, NULL, progress_main, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        p->tty = false;
    }
    return p;
}

double tool_progress_stop(tool_progress *p)
{
    if (!p)
        return 0;
    double secs = now_s() - p->t0;
    if (p->tty) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->th, NULL);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        fputs("\r\033[K", stderr);
    }
    free(p);
    return secs;
}

/* Elements per block of a type chord writes (1 for float types); 0 when
 * unknown. */
static int type_block(const char *t)
{
    static const char *const k256[] = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS",
                                       "TQ1_0", "TQ2_0", NULL};
    static const char *const k32[] = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "IQ4_NL",
                                      "MXFP4", NULL};
    for (int i = 0; k256[i]; i++)
        if (!strncmp(t, k256[i], strlen(k256[i])))
            return 256;
    for (int i = 0; k32[i]; i++)
        if (!strcmp(t, k32[i]))
            return 32;
    if (!strcmp(t, "F32") || !strcmp(t, "F16") || !strcmp(t, "BF16"))
        return 1;
    return 0;
}

void tool_report(const char *what, const char *path, const char *type, double secs)
{
    /* the tensor table, as inspect prints it */
    char *text = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&text, &len);
    chord_err err;
    int n_tensors = 0, n_fell = 0;
    int blk = type_block(type);
    if (mf && chord_inspect(path, mf, &err) == CHORD_OK && fclose(mf) == 0) {
        mf = NULL;
        bool in_table = false;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
            if (!strncmp(line, "tensors (", 9)) {
                in_table = true;
                continue;
            }
            if (!in_table)
                continue;
            if (line[0] != ' ')
                break;
            char name[256], t[32];
            long long ne0, ne1;
            /* "  name  TYPE  NE0 x NE1 ..." (vectors have one dimension) */
            if (sscanf(line, " %255s %31s %lld x %lld", name, t, &ne0, &ne1) != 4)
                continue;
            n_tensors++;
            if (blk > 1 && ne0 % blk != 0 && strcmp(t, "F32")) {
                n_fell++;
                fprintf(stderr, "chord: %s: warning: %s is %s, not %s: its rows of %lld do not "
                                "fill %s's blocks of %d\n",
                        what, name, t, type, ne0, type, blk);
            }
        }
    }
    if (mf)
        fclose(mf);
    free(text);
    chord_gguf_summary s;
    if (chord_gguf_summarize(path, &s, &err) != CHORD_OK) {
        printf("wrote %s in %.1f s\n", path, secs);
        return;
    }
    char p[16], b[32];
    models_fmt_params(s.n_params, p, sizeof p);
    models_fmt_bytes(s.file_bytes, b, sizeof b);
    printf("wrote %s: %s, %s params, %d matrices, main type %s, %s, in %.1f s%s\n", path,
           s.arch[0] ? s.arch : "?", p, n_tensors, s.type_name, b, secs,
           n_fell ? " (some matrices fell back to another type: see above)" : "");
}
