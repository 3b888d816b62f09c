/* The ELBO's KL term and encoder gradient (elbo.h), on the Gaussian kernels of
 * src/distributions/gaussian.h. */
#include "objectives/elbo.h"
#include "dgm.h"
#include "core/assert.h"
#include "distributions/gaussian.h"

void dgm__elbo_kl(double *kl, double *penalty, int *active, const float *h, size_t B,
                  size_t Z, double free_bits)
{
    double klbar[DGM__ELBO_MAX_Z];
    DGM_ASSERT(Z <= DGM__ELBO_MAX_Z);
    const double invB = 1.0 / (double)B;
    for (size_t j = 0; j < Z; j++)
        klbar[j] = 0;
    for (size_t i = 0; i < B; i++) {
        const float *mu = h + i * 2 * Z, *lv = mu + Z;
        for (size_t j = 0; j < Z; j++)
            klbar[j] += dgm__gauss_kl_std1(mu[j], lv[j]) * invB;
    }
    double k = 0, pen = 0;
    for (size_t j = 0; j < Z; j++) {
        active[j] = !(free_bits > 0 && klbar[j] < free_bits);
        k += klbar[j];
        pen += active[j] ? klbar[j] : free_bits;
    }
    *kl = k;
    *penalty = pen;
}

void dgm__elbo_encoder_backward(float *denc, const float *h, const float *dz, size_t dz_stride,
                                const float *eps, const int *active, float beta, size_t B,
                                size_t Z)
{
    for (size_t i = 0; i < B; i++) {
        const float *mu = h + i * 2 * Z, *lv = mu + Z;
        float *dmu = denc + i * 2 * Z, *dlv = dmu + Z;
        dgm__gauss_rsample_backward(dmu, dlv, dz + i * dz_stride, lv, eps + i * Z, Z, 0);
        for (size_t j = 0; j < Z; j++) {
            if (active[j]) {
                dgm__gauss_kl_std_grad1(dmu + j, dlv + j, mu[j], expf(lv[j]), beta);
            } else { /* + 0, as the single sum it replaces did (the sign of a zero) */
                dmu[j] += 0.0f;
                dlv[j] += 0.0f;
            }
        }
    }
}
