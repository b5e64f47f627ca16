/* TEMPORARY placeholder: replaced by the real mode. */
#include "cmd.h"
int mode_batch(const chord_opts *o) { app_error("mode not built yet"); return EXIT_FAIL; }
