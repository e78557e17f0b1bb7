#ifndef WEIGHTINIT_COPENBLAS_SHIM_H
#define WEIGHTINIT_COPENBLAS_SHIM_H
// OpenBLAS's CBLAS interface (also declares openblas_get_corename, openblas_get_config,
// openblas_{get,set}_num_threads) and the LAPACKE C interface.
#include <cblas.h>
#include <lapacke.h>
#endif
