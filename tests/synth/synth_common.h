/*
 * synth_common.h - helpers shared by the synth tests: running the chord
 * binary, comparing tensor tables, and teacher-forced logits.
 */
#ifndef CHORD_TESTS_SYNTH_COMMON_H
#define CHORD_TESTS_SYNTH_COMMON_H

#include "chord.h"

/* Runs `chord ARGS` (stderr discarded); returns its exit code. */
int sy_chord(const char *args);

/* Checks that got has exactly want's tensor names, types and shapes (not
 * bytes). Returns the number of mismatches (reported). */
int sy_same_layout(const char *got, const char *want);

/* Logits of every position of toks (one batch), malloc'd n x *n_vocab, or
 * NULL after reporting the failure. */
float *sy_logits(const char *model, const chord_token *toks, int n, int *n_vocab);

/* rms(a - b) / rms(b) over n floats. */
double sy_nrmse(const float *a, const float *b, size_t n);

/* `chord synth ARGS -o TMPDIR/NAME.gguf`; the path (valid for the next
 * seven calls), or NULL after reporting the failure. */
const char *sy_synth(const char *name, const char *args);

/* Keys starting with "<arch>." that one file has and the other lacks
 * (each reported); their number. */
int sy_same_arch_keys(const char *got, const char *want, const char *arch);

/* The logits of 10 positions of a model with a 1000-token vocabulary are
 * finite and spread (deviation 1..100), and the argmax changes at least 3
 * times. */
void sy_check_runs(const char *path);

#endif
