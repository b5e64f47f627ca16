/*
 * hfcache.h - the Hugging Face hub cache, where the Hub's own tools,
 * llama.cpp and chord keep downloaded models.
 *
 * Layout (the Hub's, so a model pulled by any of those tools is found and
 * not downloaded again):
 *
 *   ROOT/models--OWNER--NAME/refs/main            the commit id, one line
 *   ROOT/models--OWNER--NAME/blobs/SHA256          file contents (LFS files
 *                                                  are named by their sha256)
 *   ROOT/models--OWNER--NAME/blobs/SHA256.incomplete  a download in progress
 *   ROOT/models--OWNER--NAME/snapshots/COMMIT/FILE a relative symlink to
 *                                                  ../../blobs/SHA256
 *
 * ROOT is $HF_HUB_CACHE, else $HF_HOME/hub, else
 * $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
 *
 * chord pull (app/pull.c) writes this layout; chord models and `-m
 * OWNER/NAME[:QUANT]` (app/models.c) read it.
 */
#ifndef CHORD_APP_HFCACHE_H
#define CHORD_APP_HFCACHE_H

#include <stdbool.h>
#include <stddef.h>

/* The cache root as above, into buf. False when no variable and no HOME
 * give one, or it does not fit. The directory need not exist. */
bool hfc_root(char *buf, size_t n);

/* "OWNER/NAME" -> "models--OWNER--NAME". False when repo is not of the form
 * OWNER/NAME (exactly one '/', neither part empty, no "..", no other '/'). */
bool hfc_repo_dirname(const char *repo, char *buf, size_t n);

/* Does a file name carry the quantization tag QUANT (case-insensitive),
 * delimited by non-alphanumerics or the name's ends: "Qwen2.5-0.5B-Instruct-
 * Q4_K_M.gguf" carries "q4_k_m" but not "Q4_K"; "x.IQ4_XS-00001-of-00002.gguf"
 * carries "IQ4_XS". */
bool hfc_name_has_quant(const char *filename, const char *quant);

/* Is this the name of a split part, "...-00001-of-00003.gguf"? Sets the
 * part number and the count when not NULL. */
bool hfc_split_part(const char *filename, int *part, int *count);

/* Finds, in the cached snapshot refs/main names, the GGUF of REPO that
 * carries QUANT (NULL = "Q4_K_M"); for a split model, its first part.
 * Writes the snapshot path into buf and returns 0; 1 when the repo or no
 * matching file is cached; 2 when several files match (buf then names
 * two of them, "A, B"). */
int hfc_resolve(const char *repo, const char *quant, char *buf, size_t n);

#endif
