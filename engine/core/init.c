/*
 * init.c - process-wide engine state: SIMD dispatch and BLAS threading,
 * set up once however many threads call chord_init() at the same time.
 */
#include <pthread.h>

#include "chord.h"
#include "quant/quant.h"

/* OpenBLAS's own thread pool would fight chord's pool for the cores;
 * chord splits matmuls itself, so BLAS calls run single-threaded. */
void openblas_set_num_threads(int num_threads);

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_process(void)
{
    quant_init();
    openblas_set_num_threads(1);
}

void chord_init(void)
{
    pthread_once(&init_once, init_process);
}

const char *chord_simd_level(void)
{
    chord_init();
    return quant_simd_name();
}
