/*
 * kvstore.h - the saved KV caches beside the history: one file per
 * conversation and model in $XDG_CACHE_HOME/chord/kv (else
 * ~/.cache/chord/kv), named DBKEY-CONV-MODELKEY.kv (hashes of the history
 * database's and the model file's real paths: ids are per database; what
 * the file was made from, the model's identity included, is checked
 * inside it by chord_chat_kv_load). A file's
 * modification time is its last use (written or loaded): past the cap the
 * least recently used go first.
 *
 * Notes (why a file was ignored, what was loaded) come back as one line
 * for the caller to show (-v in batch mode, a note in the TUI).
 */
#ifndef CHORD_KVSTORE_H
#define CHORD_KVSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chord.h"

/* The folder (not created here); false without HOME nor XDG_CACHE_HOME. */
bool kvstore_dir(char *buf, size_t n);

/* The file for conversation conv of database db with the model file
 * model_path. */
bool kvstore_path(const char *db, const char *model_path, int64_t conv, char *buf, size_t n);

/* Loads conversation conv's saved cache into s (whose context is empty).
 * Returns the cache positions loaded, 0 if none; note gets what happened
 * (empty when there was no file at all). */
int kvstore_load(chord_chat *s, const char *db, const char *model_path, int64_t conv, char *note,
                 size_t n);

/* Saves s's cache as conversation conv's (the folder made if needed),
 * then keeps the folder under cap bytes. False with note set on failure. */
bool kvstore_save(const chord_chat *s, const char *db, const char *model_path, int64_t conv,
                  int64_t cap, char *note, size_t n);

/* kvstore_save with the writing on a thread of its own: what the session
 * says is taken now, the rows are read from its context meanwhile, so the
 * context must not change (no evaluation, truncation, load or free) until
 * kvstore_saver_wait returns; the session may. NULL when there is nothing
 * to save. kvstore_saver_done: the thread is finished (wait will not
 * block). kvstore_saver_wait frees w (NULL is fine and returns true). */
typedef struct kvstore_saver kvstore_saver;
kvstore_saver *kvstore_save_start(const chord_chat *s, const char *db, const char *model_path,
                                  int64_t conv, int64_t cap);
bool kvstore_saver_done(const kvstore_saver *w);
bool kvstore_saver_wait(kvstore_saver *w, char *note, size_t n);

/* Removes files, oldest use first, until the folder holds at most cap
 * bytes; keep (a path, or NULL) goes last. Returns the files removed. */
int kvstore_evict(int64_t cap, const char *keep);

/* Removes conversation conv's files (every model's); returns how many,
 * their bytes in *bytes. */
int kvstore_rm_conv(const char *db, int64_t conv, int64_t *bytes);

/* The folder's saved caches: returns the file count, their bytes in
 * *bytes. */
int kvstore_stats(int64_t *bytes);

#endif
