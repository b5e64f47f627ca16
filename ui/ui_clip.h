/*
 * ui_clip.h - /copy: fenced code blocks of a reply, and the terminal's
 * clipboard through OSC 52 (ESC ] 52 ; c ; BASE64 BEL), which xterm, kitty,
 * iTerm2, WezTerm, foot, Windows Terminal and tmux (set-clipboard on)
 * understand, over ssh too: no X11 or Wayland client needed.
 */
#ifndef CHORD_UI_CLIP_H
#define CHORD_UI_CLIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Fenced code blocks (``` or ~~~, up to three spaces of indent, closed by
 * a fence of the same character at least as long, or by the end of the
 * text) in text: returns how many there are; for 1 <= n <= that count,
 * *start and *blen get the n-th block's content (the lines between its fences,
 * without the last newline). */
int ui_clip_code_block(const char *text, size_t len, int n, const char **start, size_t *blen);

/* Base64 of s into a malloc'd NUL-terminated string (NULL: no memory). */
char *ui_clip_base64(const char *s, size_t n);

/* Writes the OSC 52 sequence that puts s on the clipboard to f and
 * flushes; false when memory or the write failed. */
bool ui_clip_osc52(FILE *f, const char *s, size_t n);

#endif
