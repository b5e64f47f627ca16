/*
 * tmpl.h - a small Jinja interpreter for chat templates.
 *
 * It implements the part of Jinja2 that Hugging Face chat templates use,
 * with the settings transformers renders them with (trim_blocks,
 * lstrip_blocks, loop controls, its own tojson): text, {{ }}, {% if/for/set/
 * macro %}, filters, tests, Python-like string/dict methods, and the globals
 * range, namespace, raise_exception and strftime_now.
 *
 * Parse once, render any number of times; a parsed template is read-only
 * and may be shared between threads.
 */
#ifndef CHORD_TMPL_H
#define CHORD_TMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "chord.h"

typedef struct tmpl tmpl;

/* Parses src (len bytes). name labels error messages ("template" if NULL).
 * Syntax errors give CHORD_E_TEMPLATE and "line L:C: what". */
chord_status tmpl_parse(const char *src, size_t len, const char *name, tmpl **out,
                        chord_err *err);
void tmpl_free(tmpl *t);

/* Renders with the members of ctx (a JSON object) as variables; JSON
 * numbers that are whole become ints. On success *out is a malloc'd,
 * NUL-terminated string (*out_len bytes, may be NULL). A raise_exception()
 * gives CHORD_E_TEMPLATE with the template's own message; a filter, test or
 * method this interpreter lacks gives CHORD_E_UNSUPPORTED. A runaway
 * template stops: CHORD_E_NOMEM past 256 MiB of values or of output,
 * CHORD_E_TEMPLATE past 500k loop iterations or 64 nested macro calls. */
chord_status tmpl_render(const tmpl *t, const chord_json *ctx, char **out, size_t *out_len,
                         chord_err *err);

/* Test hook: makes strftime_now() use this Unix time (0 = the real clock). */
void tmpl_set_now(long unix_time);

#endif
