/*
 * err.c - error messages (see err.h).
 */
#include "core/err.h"

#include <stdarg.h>
#include <string.h>

chord_status err_set(chord_err *err, chord_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        /* one line, always: a newline inside a message would break logs */
        for (char *p = err->msg; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    return st;
}

chord_status err_errno(chord_err *err, chord_status st, int errno_val,
                       const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof err->msg)
            snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(errno_val));
    }
    return st;
}

const char *chord_status_str(chord_status st)
{
    switch (st) {
    case CHORD_OK: return "ok";
    case CHORD_E_IO: return "I/O error";
    case CHORD_E_FORMAT: return "format error";
    case CHORD_E_UNSUPPORTED: return "unsupported";
    case CHORD_E_INVALID: return "invalid argument";
    case CHORD_E_NOMEM: return "out of memory";
    case CHORD_E_CTX_FULL: return "context full";
    case CHORD_E_CANCELLED: return "cancelled";
    case CHORD_E_TEMPLATE: return "template error";
    }
    return "unknown error";
}
