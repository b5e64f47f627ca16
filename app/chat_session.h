/*
 * chat_session.h - what the app adds to the engine's chat sessions
 * (chord_chat_* in chord.h): resolving the --chat-template argument.
 */
#ifndef CHORD_APP_CHAT_SESSION_H
#define CHORD_APP_CHAT_SESSION_H

#include "chord.h"

/* Resolves --chat-template: a built-in family name is kept as *family; any
 * other value is read as a Jinja file into *src (malloc'd). arg NULL leaves
 * both NULL (the model's own template). */
chord_status chs_template_arg(const char *arg, char **src, const char **family,
                              chord_err *err);

#endif
