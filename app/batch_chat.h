/*
 * batch_chat.h - `chord --batch -m MODEL` without --raw: a multi-turn chat
 * over pipes, recorded in the history.
 */
#ifndef CHORD_APP_BATCH_CHAT_H
#define CHORD_APP_BATCH_CHAT_H

#include "opts.h"

/* Runs the chat: each stdin line (or the single -p TEXT) is a user turn,
 * each reply is written to stdout followed by a newline (or as --json
 * events), flushed at once. Returns the exit status: 0, 1 when a turn
 * failed (the others still ran), 2 for usage errors, 130 after SIGINT
 * (the reply in progress is kept as "interrupted"; no further turn is
 * read). */
int batch_chat(const chord_opts *o);

#endif
