/* TEMPORARY placeholder: replaced by the real subcommand. */
#include "cmd.h"
int cmd_bench(int argc, char **argv) { app_error("%s: not built yet", argv[0]); return EXIT_FAIL; }
