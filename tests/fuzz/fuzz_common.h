/*
 * fuzz_common.h - helpers shared by the fuzz targets in tests/fuzz.
 */
#ifndef CHORD_FUZZ_COMMON_H
#define CHORD_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A malloc'd path under the shared fixtures: $CHORD_SHARED, else the
 * directory CMake was configured with. Aborts when out of memory: a fuzz
 * target has no other way to say its setup failed. */
static inline char *fuzz_shared_path(const char *rel)
{
    const char *root = getenv("CHORD_SHARED");
    if (!root || !*root)
        root = CHORD_SHARED_DEFAULT;
    size_t n = strlen(root) + strlen(rel) + 2;
    char *p = malloc(n);
    if (!p)
        abort();
    snprintf(p, n, "%s/%s", root, rel);
    return p;
}

#endif
