/* One knob for both thread pools: OpenMP regions and OpenBLAS. Setting them together
 * avoids the oversubscription that two independent pools cause on a small machine. */
#include "dgm.h"

#include <omp.h>
#ifndef DGM_NO_BLAS
#include <cblas.h>
#endif

void dgm_set_threads(int n)
{
    if (n <= 0)
        n = omp_get_num_procs();
    omp_set_num_threads(n);
#ifndef DGM_NO_BLAS
    openblas_set_num_threads(n);
#endif
}

int dgm_get_threads(void) { return omp_get_max_threads(); }
