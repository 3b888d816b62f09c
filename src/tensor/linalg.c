/* Dense linear algebra in double for small matrices (D up to a few thousand): the lower
 * Cholesky factor, the triangular solve with it and the log-determinant it gives. Used by
 * the full-covariance Gaussians (src/distributions/gauss.c) and the GMM's M-step.
 * Left out: pivoting, LDL^T and blocked (BLAS/LAPACK) factorisations. */
#include "tensor/linalg.h"

#include <math.h>

int dgm__cholesky(double *a, size_t D)
{
    for (size_t j = 0; j < D; j++) {
        double *aj = a + j * D;
        double s = aj[j];
        for (size_t k = 0; k < j; k++)
            s -= aj[k] * aj[k];
        if (!(s > 0) || !isfinite(s))
            return 0;
        double ljj = sqrt(s);
        aj[j] = ljj;
        for (size_t i = j + 1; i < D; i++) {
            double *ai = a + i * D;
            double t = ai[j];
            for (size_t k = 0; k < j; k++)
                t -= ai[k] * aj[k];
            ai[j] = t / ljj;
        }
        for (size_t k = j + 1; k < D; k++)
            aj[k] = 0.0;
    }
    return 1;
}

void dgm__trsv_lower(const double *L, double *b, size_t D)
{
    for (size_t i = 0; i < D; i++) {
        const double *li = L + i * D;
        double t = b[i];
        for (size_t k = 0; k < i; k++)
            t -= li[k] * b[k];
        b[i] = t / li[i];
    }
}

double dgm__chol_logdet(const double *L, size_t D)
{
    double s = 0.0;
    for (size_t i = 0; i < D; i++)
        s += log(L[i * D + i]);
    return 2.0 * s;
}
