/* quant_iq1tq.c - (being written) */
#include "quant/quant_impl.h"

void quant_register_iq1tq(quant_kernels *tab)
{
    (void)tab;
}
