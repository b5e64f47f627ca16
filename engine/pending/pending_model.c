/* TEMPORARY link stubs: deleted when engine/model implements these. */
#include "core/err.h"
#include <string.h>
chord_model_params chord_model_default_params(void) { chord_model_params p; memset(&p, 0, sizeof p); return p; }
chord_status chord_model_load(const char *path, const chord_model_params *params, chord_model **out, chord_err *err) { return err_set(err, CHORD_E_UNSUPPORTED, "%s: model loading not built yet", path); }
void chord_model_free(chord_model *m) {}
void chord_model_get_info(const chord_model *m, chord_model_info *out) { memset(out, 0, sizeof *out); }
const char *chord_model_plan(const chord_model *m) { return ""; }
const char *chord_model_meta_str(const chord_model *m, const char *key) { return NULL; }
chord_ctx_params chord_ctx_default_params(void) { chord_ctx_params p; memset(&p, 0, sizeof p); return p; }
chord_status chord_ctx_new(chord_model *m, const chord_ctx_params *p, chord_ctx **out, chord_err *err) { return err_set(err, CHORD_E_UNSUPPORTED, "not built yet"); }
void chord_ctx_free(chord_ctx *c) {}
int chord_ctx_n_ctx(const chord_ctx *c) { return 0; }
int chord_ctx_pos(const chord_ctx *c) { return 0; }
void chord_ctx_truncate(chord_ctx *c, int pos) {}
chord_status chord_ctx_eval(chord_ctx *c, const chord_token *tokens, int n, float *logits, bool all_logits, chord_err *err) { return err_set(err, CHORD_E_UNSUPPORTED, "not built yet"); }
void chord_ctx_cancel(chord_ctx *c) {}
void chord_stats_get(const chord_model *m, chord_stats *out) { memset(out, 0, sizeof *out); }
