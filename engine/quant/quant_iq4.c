/* quant_iq4.c - (being written) */
#include "quant/quant_impl.h"

void quant_register_iq4(quant_kernels *tab)
{
    (void)tab;
}
