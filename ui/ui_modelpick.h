/*
 * ui_modelpick.h - the model picker `chord` opens when no model is named
 * (neither -m nor the config file's model): a full-screen list, Up/Down
 * (or j/k) to choose, Enter to start, q or Esc to quit.
 *
 * It takes plain strings, so ui/ needs nothing from app/'s model list.
 */
#ifndef CHORD_UI_MODELPICK_H
#define CHORD_UI_MODELPICK_H

/* Shows the n models (names[i], with details[i] after it: architecture,
 * size...) and returns the index chosen, or -1 when the user quit (q, Esc,
 * Ctrl-C, Ctrl-D, SIGTERM, SIGHUP) or the terminal could not be set up.
 * The terminal is left as it was found either way. */
int ui_pick_model(const char *const *names, const char *const *details, int n);

#endif
