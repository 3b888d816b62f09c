/* The diagonal Gaussian of a latent-variable model's encoder, q(z|x) = N(mu, diag(e^lv)),
 * once for every model that has one (the VAE, the CVAE, the sequence VAE): the
 * reparameterised draw and its backward pass, the analytic KL to the prior N(0, I) and
 * its gradient, and the diagonal Gaussian log-likelihood with a log-variance (the image
 * VAE's Gaussian decoder). docs/math.md, "VAE", derives each term.
 * The kernels are inline: they run inside the models' per-example loops and threads. */
#ifndef DGM_DISTRIBUTIONS_GAUSSIAN_H
#define DGM_DISTRIBUTIONS_GAUSSIAN_H

#include <math.h>
#include <stddef.h>

/* log(2 pi) as the double that libm's log(2 * M_PI) gives (1 ulp below the correctly
 * rounded 1.83787706640934548...): the value every model in dgm has been fit with. */
#define DGM__LOG_2PI 1.8378770664093453

/* The reparameterisation z = mu + e^(lv/2) eps, eps ~ N(0, I), for Z dimensions. */
static inline void dgm__gauss_rsample(float *z, const float *mu, const float *lv,
                                      const float *eps, size_t Z)
{
    for (size_t j = 0; j < Z; j++)
        z[j] = mu[j] + expf(0.5f * lv[j]) * eps[j];
}

/* Backward of the reparameterisation: with G = dL/dz, dL/dmu += G and
 * dL/dlv += G eps e^(lv/2) / 2. `add` starts the sums (0: dmu = G, dlv = ...). */
static inline void dgm__gauss_rsample_backward(float *dmu, float *dlv, const float *dz,
                                               const float *lv, const float *eps, size_t Z,
                                               int add)
{
    for (size_t j = 0; j < Z; j++) {
        float g = dz[j] * eps[j] * 0.5f * expf(0.5f * lv[j]);
        dmu[j] = add ? dmu[j] + dz[j] : dz[j];
        dlv[j] = add ? dlv[j] + g : g;
    }
}

/* One dimension of KL(N(mu, e^lv) || N(0, 1)) = (mu^2 + e^lv - 1 - lv) / 2, in double. */
static inline double dgm__gauss_kl_std1(float mu, float lv)
{
    return 0.5 * ((double)mu * mu + exp((double)lv) - 1.0 - (double)lv);
}

/* KL(N(mu, diag(e^lv)) || N(0, I)) over Z dimensions. */
static inline double dgm__gauss_kl_std(const float *mu, const float *lv, size_t Z)
{
    double kl = 0;
    for (size_t j = 0; j < Z; j++)
        kl += dgm__gauss_kl_std1(mu[j], lv[j]);
    return kl;
}

/* The gradient of scale * KL for one dimension, added to the reparameterisation's:
 * dKL/dmu = mu, dKL/dlv = (e^lv - 1) / 2. The caller gives var = e^lv as it has it at hand
 * (expf(lv), or the square of its e^(lv/2)). */
static inline void dgm__gauss_kl_std_grad1(float *dmu, float *dlv, float mu, float var,
                                           float scale)
{
    *dmu += scale * mu;
    *dlv += scale * 0.5f * (var - 1.0f);
}

/* log N(x; m, diag(e^lv)) over D dimensions and, if gm, its negative gradient:
 * d(-log p)/dm into gm, d(-log p)/dlv into glv. */
static inline double dgm__gauss_logvar_loglik(const float *x, const float *m, const float *lv,
                                              float *gm, float *glv, size_t D)
{
    double ll = 0;
    for (size_t j = 0; j < D; j++) {
        float d = x[j] - m[j], iv = expf(-lv[j]);
        ll += -0.5 * (DGM__LOG_2PI + lv[j] + (double)d * d * iv);
        if (gm) {
            gm[j] = -d * iv;
            glv[j] = 0.5f * (1.0f - d * d * iv);
        }
    }
    return ll;
}

#endif
