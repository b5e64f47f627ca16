/*
 * t.h - the tiny test harness every C test uses.
 *
 * A test is a program: it returns 0 when every check held, 1 when one failed,
 * 77 when it was skipped (a ../shared fixture is missing and CI is unset).
 * Checks report both values, file and line, and keep going so one run shows
 * every failure; T_REQUIRE stops the test at once.
 */
#ifndef CHORD_T_H
#define CHORD_T_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern int t_failures;

void t_fail_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define T_CHECK(cond, ...) \
    do { if (!(cond)) t_fail_at(__FILE__, __LINE__, __VA_ARGS__); } while (0)
#define T_REQUIRE(cond, ...) \
    do { if (!(cond)) { t_fail_at(__FILE__, __LINE__, __VA_ARGS__); return t_done(); } } while (0)
/* T_REQUIRE for a function returning void: the rest of it is skipped. */
#define T_NEED(cond, ...) \
    do { if (!(cond)) { t_fail_at(__FILE__, __LINE__, __VA_ARGS__); return; } } while (0)
#define T_EQ_INT(a, b) \
    do { long long a_ = (long long)(a), b_ = (long long)(b); \
         if (a_ != b_) t_fail_at(__FILE__, __LINE__, "%s == %s: got %lld, want %lld", #a, #b, a_, b_); } while (0)
#define T_EQ_STR(a, b) \
    do { const char *a_ = (a), *b_ = (b); \
         if (!a_ || !b_ || strcmp(a_, b_) != 0) \
             t_fail_at(__FILE__, __LINE__, "%s == %s: got \"%s\", want \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } while (0)
#define T_NEAR(a, b, tol) \
    do { double a_ = (a), b_ = (b), t_ = (tol); \
         if (!(fabs(a_ - b_) <= t_)) t_fail_at(__FILE__, __LINE__, "%s ~ %s: got %.9g, want %.9g (tol %.3g)", #a, #b, a_, b_, t_); } while (0)

/* Returns the process exit code: 0, or 1 if any check failed. */
int t_done(void);

/* Path of a file under ../shared (from $CHORD_SHARED). If it is missing, the
 * test ends here: skipped (77) normally, failed (1) when $CI is set. */
const char *t_shared(const char *rel);

/* True if the shared file exists (no skip, no failure). */
bool t_shared_exists(const char *rel);

/* Skips the whole test with a reason (exit 77). */
void t_skip(const char *why) __attribute__((noreturn));

/* A fresh private directory under $TMPDIR (or /tmp), removed at exit
 * unless CHORD_KEEP_TMP is set. */
const char *t_tmpdir(void);

/* Reads a whole file; returns malloc'd bytes (NUL-terminated) and its length. */
char *t_read_file(const char *path, size_t *len);

/* Writes bytes to a file; returns false on error. */
bool t_write_file(const char *path, const void *data, size_t len);

/* Path of the chord binary (from $CHORD_BIN). */
const char *t_chord_bin(void);

/* Runs a shell command, capturing stdout into *out (malloc'd, may be NULL)
 * and returning the exit status (or -1 if it did not exit normally). */
int t_run(const char *cmd, char **out);

/* Test data from a seed: xorshift64 on the caller's state, so each test
 * keeps its own reproducible sequence. */
static inline uint64_t t_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Uniform in [-1, 1): the top 53 bits as a double in [0, 1), then in float. */
static inline float t_sym(uint64_t *s)
{
    return (float)((t_rand(s) >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

/* Standard normal by Box-Muller (two draws, u first). */
static inline float t_gauss(uint64_t *s)
{
    double u = ((t_rand(s) >> 11) + 0.5) / 9007199254740992.0;
    double v = ((t_rand(s) >> 11) + 0.5) / 9007199254740992.0;
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

#endif
