/* TEMPORARY link stubs: deleted when engine/gguf implements these. */
#include "core/err.h"
chord_status chord_inspect(const char *path, FILE *out, chord_err *err) { return err_set(err, CHORD_E_UNSUPPORTED, "not built yet"); }
