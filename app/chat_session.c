/*
 * chat_session.c - the --chat-template argument (see chat_session.h); the
 * session itself is the engine's (engine/chat/).
 */
#include "chat_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static chord_status oom(chord_err *err)
{
    snprintf(err->msg, sizeof err->msg, "out of memory");
    return CHORD_E_NOMEM;
}

static bool is_family(const char *name)
{
    for (const char *const *f = chord_chat_families(); f && *f; f++)
        if (!strcmp(*f, name))
            return true;
    return false;
}

/* Reads a whole text file into a malloc'd string. */
static chord_status slurp(const char *path, char **out, chord_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err->msg, sizeof err->msg,
                 "--chat-template %s: not a built-in family and not a readable file (%m)", path);
        return CHORD_E_IO;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *t = realloc(buf, cap);
            if (!t) {
                free(buf);
                fclose(f);
                return oom(err);
            }
            buf = t;
        }
        size_t n = fread(buf + len, 1, 4096, f);
        len += n;
        if (n < 4096)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        snprintf(err->msg, sizeof err->msg, "--chat-template %s: read error", path);
        return CHORD_E_IO;
    }
    buf[len] = 0;
    *out = buf;
    return CHORD_OK;
}

chord_status chs_template_arg(const char *arg, char **src, const char **family,
                              chord_err *err)
{
    *src = NULL;
    *family = NULL;
    if (!arg)
        return CHORD_OK;
    if (is_family(arg)) {
        *family = arg;
        return CHORD_OK;
    }
    return slurp(arg, src, err);
}
