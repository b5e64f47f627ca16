/* TEMPORARY link stubs: deleted when engine/tok implements these. */
#include "core/err.h"
#include <string.h>
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
