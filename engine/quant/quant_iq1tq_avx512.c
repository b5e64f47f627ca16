/* quant_iq1tq_avx512.c - (being written) */
#include "quant/quant_impl.h"

void quant_register_iq1tq_avx512(quant_kernels *tab)
{
    (void)tab;
}

quant_gemm_fn quant_gemm_iq1tq_avx512_for(int type)
{
    (void)type;
    return NULL;
}
