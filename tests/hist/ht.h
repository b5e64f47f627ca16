/*
 * ht.h - helpers shared by the history tests: paths in the test's temp dir
 * and raw SQLite peeks that check what the hist API wrote, independently of
 * the API itself.
 */
#ifndef CHORD_TESTS_HIST_HT_H
#define CHORD_TESTS_HIST_HT_H

#include <stdbool.h>
#include <stdint.h>

#include "hist.h"

/* tmpdir/name; the result is malloc'd (tests do not bother freeing it). */
char *ht_path(const char *name);

/* Opens with default parameters; prints the error and returns NULL on
 * failure. */
hist *ht_open(const char *path);

/* Runs a query that returns one integer through a separate raw SQLite
 * connection; arg binds ?1 when has_arg. Returns -1 on any error. */
long long ht_int(const char *path, const char *sql, long long arg, bool has_arg);

/* The first column of the first row as a malloc'd string (NULL on error or
 * no row), through a raw connection. */
char *ht_text(const char *path, const char *sql, long long arg);

/* PRAGMA integrity_check is "ok" and the FTS index matches its content. */
bool ht_integrity(const char *path);

/* Whether s contains needle. */
bool ht_has(const char *s, const char *needle);

#endif
