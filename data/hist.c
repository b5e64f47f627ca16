/* TEMPORARY placeholder until data/ lands. */
#include "hist.h"
int hist_placeholder_;
