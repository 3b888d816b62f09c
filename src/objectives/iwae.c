/* The importance-weighted bound (iwae.h). Reference: Burda, Grosse and Salakhutdinov,
 * "Importance Weighted Autoencoders" (2015), eq. 8 for the bound and eq. 14 for its
 * gradient, the normalised weights times each sample's gradient. */
#include "objectives/iwae.h"
#include "dgm_blocks.h"

#include <math.h>

double dgm__iwae_lvsum(const float *lv, size_t Z)
{
    double s = 0;
    for (size_t j = 0; j < Z; j++)
        s += lv[j];
    return s;
}

double dgm__iwae_log_weight(double ll, const float *z, const float *eps, double lvsum,
                            size_t Z)
{
    double zz = 0, ee = 0;
    for (size_t j = 0; j < Z; j++) {
        zz += (double)z[j] * z[j];
        ee += (double)eps[j] * eps[j];
    }
    return ll - 0.5 * zz + 0.5 * lvsum + 0.5 * ee;
}

double dgm__iwae_bound(const double *lw, size_t K)
{
    return dgm_logsumexp_d(lw, K) - log((double)K);
}

void dgm__iwae_encoder_backward(float *dmu, float *dlv, const float *lv, const float *wt,
                                const float *dz, const float *z, size_t stride,
                                const float *eps, double inv_b, size_t K, size_t Z)
{
    for (size_t j = 0; j < Z; j++)
        dmu[j] = 0, dlv[j] = (float)(-0.5 * inv_b);
    for (size_t k = 0; k < K; k++) {
        const float *zk = z + k * stride, *dzk = dz + k * stride, *ek = eps + k * Z;
        for (size_t j = 0; j < Z; j++) {
            float G = dzk[j] + wt[k] * zk[j];
            dmu[j] += G;
            dlv[j] += G * ek[j] * 0.5f * expf(0.5f * lv[j]);
        }
    }
}
