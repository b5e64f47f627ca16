/* TEMPORARY link stubs: deleted when engine/quant implements chord_init. */
#include "core/err.h"
void chord_init(void) {}
const char *chord_simd_level(void) { return "scalar"; }
