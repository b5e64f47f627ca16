/* TEMPORARY link stubs: deleted when engine/synth implements these. */
#include "core/err.h"
#include <string.h>
chord_status chord_synth(const chord_synth_params *p, const char *out_path, chord_err *err) { return err_set(err, CHORD_E_UNSUPPORTED, "not built yet"); }
chord_status chord_quantize(const char *in_path, const char *out_path, const char *type, chord_err *err) { return err_set(err, CHORD_E_UNSUPPORTED, "not built yet"); }
