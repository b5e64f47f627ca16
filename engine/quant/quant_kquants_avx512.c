/*
 * quant_kquants_avx512.c - AVX-512 twins of quant_kquants.c (placeholder: the
 * avx512 table keeps the avx2 kernels until these land).
 */
#include "quant/quant_impl.h"

void quant_register_kquants_avx512(quant_kernels *tab)
{
    (void)tab;
}
