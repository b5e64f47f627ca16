/* hist.h - conversation history in SQLite (placeholder until data/ lands). */
#ifndef CHORD_DATA_HIST_H
#define CHORD_DATA_HIST_H
#endif
