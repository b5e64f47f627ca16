/* TEMPORARY link stubs: deleted when engine/model implements these. */
#include "core/err.h"
#include <string.h>
chord_model_params chord_model_default_params(void) { chord_model_params p; memset(&p, 0, sizeof p); return p; }
chord_status chord_model_load(const char *path, const chord_model_params *params, chord_model **out, chord_err *err) { return err_set(err, CHORD_E_UNSUPPORTED, "%s: model loading not built yet", path); }
void chord_model_free(chord_model *m) {}
void chord_model_get_info(const chord_model *m, chord_model_info *out) { memset(out, 0, sizeof *out); }
const char *chord_model_plan(const chord_model *m) { return ""; }
const char *chord_model_meta_str(const chord_model *m, const char *key) { return NULL; }
int chord_tokenize(const chord_model *m, const char *text, size_t len, bool add_bos, bool parse_special, chord_token *out, int max, chord_err *err) { err_set(err, CHORD_E_UNSUPPORTED, "not built yet"); return -1; }
int chord_token_to_bytes(const chord_model *m, chord_token t, bool show_special, char *buf, int cap) { return -1; }
chord_token chord_token_bos(const chord_model *m) { return -1; }
chord_token chord_token_eos(const chord_model *m) { return -1; }
bool chord_token_is_eog(const chord_model *m, chord_token t) { return false; }
bool chord_model_add_bos(const chord_model *m) { return false; }
const char *chord_token_text(const chord_model *m, chord_token t) { return NULL; }
void chord_detok_init(chord_detok *d) { memset(d, 0, sizeof *d); }
int chord_detok_push(chord_detok *d, const chord_model *m, chord_token t, char *out, int cap) { return 0; }
int chord_detok_flush(chord_detok *d, char *out, int cap) { return 0; }
chord_ctx_params chord_ctx_default_params(void) { chord_ctx_params p; memset(&p, 0, sizeof p); return p; }
chord_status chord_ctx_new(chord_model *m, const chord_ctx_params *p, chord_ctx **out, chord_err *err) { return err_set(err, CHORD_E_UNSUPPORTED, "not built yet"); }
void chord_ctx_free(chord_ctx *c) {}
int chord_ctx_n_ctx(const chord_ctx *c) { return 0; }
int chord_ctx_pos(const chord_ctx *c) { return 0; }
void chord_ctx_truncate(chord_ctx *c, int pos) {}
chord_status chord_ctx_eval(chord_ctx *c, const chord_token *tokens, int n, float *logits, bool all_logits, chord_err *err) { return err_set(err, CHORD_E_UNSUPPORTED, "not built yet"); }
void chord_ctx_cancel(chord_ctx *c) {}
void chord_stats_get(const chord_model *m, chord_stats *out) { memset(out, 0, sizeof *out); }
chord_status chord_gen_start(chord_ctx *c, const chord_gen_params *p, chord_gen **out, chord_err *err) { return err_set(err, CHORD_E_UNSUPPORTED, "not built yet"); }
bool chord_gen_next(chord_gen *g, chord_event *ev, int timeout_ms) { return false; }
int chord_gen_fd(const chord_gen *g) { return -1; }
void chord_gen_cancel(chord_gen *g) {}
void chord_gen_join(chord_gen *g) {}
chord_status chord_synth(const chord_synth_params *p, const char *out_path, chord_err *err) { return err_set(err, CHORD_E_UNSUPPORTED, "not built yet"); }
chord_status chord_quantize(const char *in_path, const char *out_path, const char *type, chord_err *err) { return err_set(err, CHORD_E_UNSUPPORTED, "not built yet"); }
