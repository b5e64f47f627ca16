/* TEMPORARY placeholder until ui/ lands. */
#include "ui.h"
int ui_placeholder_;
