/* TEMPORARY link stubs: deleted when engine/tmpl implements these. */
#include "core/err.h"
chord_status chord_chat_render(const chord_model *m, const char *template_src, const chord_chat_msg *msgs, int n_msgs, bool add_generation_prompt, const char *bos, const char *eos, char **out, chord_err *err) { return err_set(err, CHORD_E_UNSUPPORTED, "not built yet"); }
chord_status chord_chat_render_builtin(const char *family, const chord_chat_msg *msgs, int n_msgs, bool add_generation_prompt, const char *bos, const char *eos, char **out, chord_err *err) { return err_set(err, CHORD_E_UNSUPPORTED, "not built yet"); }
const char *const *chord_chat_families(void) { static const char *const f[] = {0}; return f; }
const char *chord_chat_detect_family(const chord_model *m) { return NULL; }
