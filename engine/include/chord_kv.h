/*
 * chord_kv.h - a chat session's KV cache saved to a file and loaded back,
 * so a conversation resumed later prefills only what the file lacks.
 *
 * The file holds the cached tokens, the rows of every layer for them and
 * what they depend on: the model file's identity (size, modification time,
 * a hash of its first MiB), the template (a hash of its source or family
 * and the thinking switch), the RoPE the keys were turned with, the cache's
 * types and row sizes. A load checks all of it, and every count and size
 * against the model and context before allocating, and a checksum over
 * the whole file; anything that does not match leaves the session as it
 * was and says why, so the caller prefills as usual.
 *
 * A save reads and a load writes the session's context: the caller makes
 * sure nothing else uses it meanwhile (a save may run on another thread
 * between turns: chord_chat_kv_snapshot below).
 */
#ifndef CHORD_KV_H
#define CHORD_KV_H

#include <stdint.h>

#include "chord.h"

/* Writes what s's cache holds to path: a temporary file beside it,
 * fsync'd, then renamed over path. *bytes (if not NULL) gets the file's
 * size, 0 when the cache held nothing to save (then no file is written). */
chord_status chord_chat_kv_save(const chord_chat *s, const char *path, int64_t *bytes,
                                chord_err *err);

/* The same in two steps, for a save on another thread: the snapshot
 * copies what the session says the cache holds (*out stays NULL when
 * there is nothing to save); the write then reads the rows from the
 * session's context, which must not change until it returns; the
 * session itself may. */
typedef struct chord_kv_snap chord_kv_snap;
chord_status chord_chat_kv_snapshot(const chord_chat *s, chord_kv_snap **out, chord_err *err);
chord_status chord_kv_snap_write(const chord_kv_snap *k, const char *path, int64_t *bytes,
                                 chord_err *err);
void chord_kv_snap_free(chord_kv_snap *k);

/* Loads path into s, whose context must be empty: on CHORD_OK the context
 * holds *n_tok positions and the session knows their tokens, so the next
 * chord_chat_prepare keeps the prefix the conversation still starts with.
 * Otherwise (CHORD_E_IO: no file; CHORD_E_FORMAT: corrupt or truncated;
 * CHORD_E_UNSUPPORTED: made for another model file, template or cache
 * layout) err says why and s and its context are unchanged. */
chord_status chord_chat_kv_load(chord_chat *s, const char *path, int *n_tok, chord_err *err);

#endif
