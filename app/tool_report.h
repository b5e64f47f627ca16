/*
 * tool_report.h - what `chord quantize` and `chord synth` say while and
 * after they write a model: progress on stderr (a terminal only), a
 * summary, and the tensors whose type fell back.
 */
#ifndef CHORD_APP_TOOL_REPORT_H
#define CHORD_APP_TOOL_REPORT_H

#include <stdbool.h>

#include "chord.h"

typedef struct tool_progress tool_progress;

/* Starts a thread that shows, every half second on one stderr line, the
 * bytes written to path so far and the time taken (only when stderr is a
 * terminal; NULL otherwise or when the thread cannot start). what names
 * the tool ("quantize", "synth"). */
tool_progress *tool_progress_start(const char *what, const char *path);
/* Stops it and clears its line; the seconds since the start. */
double tool_progress_stop(tool_progress *p);

/* After a successful write: warns on stderr, one line each, about the
 * matrices whose type is not the one asked for because their rows do not
 * fill the type's blocks (the engine gave them a type that does), then
 * prints one summary line on stdout. type is the TYPE asked for. */
void tool_report(const char *what, const char *path, const char *type, double secs);

#endif
