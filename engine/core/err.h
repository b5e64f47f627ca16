/*
 * err.h - filling chord_err, for every engine module.
 *
 * Messages are one line and say what and where: "model.gguf: tensor
 * 'blk.3.attn_q.weight' at offset 123456: data runs past end of file".
 * Nothing in the engine prints; callers decide.
 */
#ifndef CHORD_CORE_ERR_H
#define CHORD_CORE_ERR_H

#include "chord.h"

/* Formats a message into err (if not NULL) and returns st, so a failing
 * path reads: return err_set(err, CHORD_E_FORMAT, "%s: ...", path); */
chord_status err_set(chord_err *err, chord_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like err_set, with ": strerror(errno_val)" appended. */
chord_status err_errno(chord_err *err, chord_status st, int errno_val,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
