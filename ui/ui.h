/* ui.h - the terminal UI (placeholder until ui/ lands). */
#ifndef CHORD_UI_H
#define CHORD_UI_H
#endif
