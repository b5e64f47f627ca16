/* quant_iq1tq_avx2.c - (being written) */
#include "quant/quant_impl.h"

void quant_register_iq1tq_avx2(quant_kernels *tab)
{
    (void)tab;
}
