/* quant_iq23.c - (being written) */
#include "quant/quant_impl.h"

void quant_register_iq23(quant_kernels *tab)
{
    (void)tab;
}
