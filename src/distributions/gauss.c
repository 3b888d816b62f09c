/* Gaussian kernels in double: log-densities and closed-form KL for
 * diagonal and full covariances.
 * Reference: the multivariate normal KL, e.g. torch.distributions.kl for
 * MultivariateNormal (_kl_multivariatenormal_multivariatenormal), which uses the same
 * Cholesky route: D(p||q) = 1/2 [tr(Sq^-1 Sp) + (mq-mp)^T Sq^-1 (mq-mp) - D
 * + log|Sq| - log|Sp|]; docs/math.md has the derivation.
 * Left out: pivoted or LDL^T factorisations for semidefinite covariances (they are
 * rejected), and blocked/BLAS Cholesky (D is at most a few thousand here). */
#include "distributions/dist_internal.h"
#include "distributions/gaussian.h"
#include "tensor/linalg.h"

#include <math.h>

double dgm__gauss_diag_logpdf(const double *mean, const double *var, const float *x, size_t D)
{
    double s = 0.0;
    for (size_t j = 0; j < D; j++) {
        double r = (double)x[j] - mean[j];
        s += log(var[j]) + r * r / var[j];
    }
    return -0.5 * (s + (double)D * DGM__LOG_2PI);
}

double dgm__gauss_full_logpdf(const double *mean, const double *L, double logdet,
                              const float *x, double *work, size_t D)
{
    for (size_t j = 0; j < D; j++)
        work[j] = (double)x[j] - mean[j];
    dgm__trsv_lower(L, work, D);
    double m = 0.0;
    for (size_t j = 0; j < D; j++)
        m += work[j] * work[j];
    return -0.5 * ((double)D * DGM__LOG_2PI + logdet + m);
}

double dgm__kl_gauss_diag(const double *mp, const double *vp, const double *mq,
                          const double *vq, size_t D)
{
    double s = 0.0;
    for (size_t j = 0; j < D; j++) {
        /* r - 1 - log r with r = vp/vq, written through delta = r - 1 and log1p so that
         * nearly equal variances do not cancel to noise */
        double delta = (vp[j] - vq[j]) / vq[j];
        double dm = mq[j] - mp[j];
        s += (delta - log1p(delta)) + dm * dm / vq[j];
    }
    return 0.5 * s;
}

double dgm__kl_gauss_full(const double *mp, const double *Lp, double logdet_p,
                          const double *mq, const double *Lq, double logdet_q, double *work,
                          size_t D)
{
    /* tr(Sq^-1 Sp) = ||Lq^-1 Lp||_F^2, one triangular solve per column of Lp */
    double tr = 0.0;
    for (size_t c = 0; c < D; c++) {
        for (size_t i = 0; i < D; i++)
            work[i] = Lp[i * D + c];
        dgm__trsv_lower(Lq, work, D);
        for (size_t i = c; i < D; i++) /* Lq^-1 Lp is lower triangular too */
            tr += work[i] * work[i];
    }
    for (size_t i = 0; i < D; i++)
        work[i] = mq[i] - mp[i];
    dgm__trsv_lower(Lq, work, D);
    double maha = 0.0;
    for (size_t i = 0; i < D; i++)
        maha += work[i] * work[i];
    return 0.5 * (tr + maha - (double)D + logdet_q - logdet_p);
}
