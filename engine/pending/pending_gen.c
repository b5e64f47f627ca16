/* TEMPORARY link stubs: deleted when engine/gen implements these. */
#include "core/err.h"
#include <string.h>
chord_status chord_gen_start(chord_ctx *c, const chord_gen_params *p, chord_gen **out, chord_err *err) { return err_set(err, CHORD_E_UNSUPPORTED, "not built yet"); }
bool chord_gen_next(chord_gen *g, chord_event *ev, int timeout_ms) { return false; }
int chord_gen_fd(const chord_gen *g) { return -1; }
void chord_gen_cancel(chord_gen *g) {}
void chord_gen_join(chord_gen *g) {}
