/* The importance-weighted bound of Burda et al. (2015) for a model with a diagonal
 * Gaussian encoder and the N(0, I) prior: the log-weights, the bound, the normalised
 * weights and the encoder's gradient. docs/math.md, "VAE: the importance-weighted bound". */
#ifndef DGM_OBJECTIVES_IWAE_H
#define DGM_OBJECTIVES_IWAE_H

#include <stddef.h>

/* log w = log p(x|z) + log N(z; 0, I) - log q(z|x) for z = mu + e^(lv/2) eps: the Gaussian
 * constants cancel and log q = -(lvsum + |eps|^2) / 2, so log w = ll - |z|^2/2 + lvsum/2
 * + |eps|^2/2, with lvsum = sum_j lv_j. */
double dgm__iwae_log_weight(double ll, const float *z, const float *eps, double lvsum,
                            size_t Z);

/* sum_j lv_j in double (the log-weight's lvsum). */
double dgm__iwae_lvsum(const float *lv, size_t Z);

/* The bound log (1/K) sum_k e^(lw_k): log-sum-exp with the max subtracted, minus log K. */
double dgm__iwae_bound(const double *lw, size_t K);

/* The running form for weights that arrive in blocks: (*m, *s) hold the max and
 * sum_k e^(lw_k - m); start from m = -inf, s = 0; the log-sum-exp is then m + log s. */
static inline void dgm__lse_push(double *m, double *s, double lw);

/* The encoder's gradient of the minibatch bound's negative, scaled by inv_b = 1/B, for one
 * example with K samples: with normalised weights wt_k (already times inv_b), dz_k the
 * gradient into sample k's latent from the decoder, z_k and eps_k its latent and noise,
 * G_k = dz_k + wt_k z_k; dmu = sum_k G_k; dlv = -inv_b/2 + sum_k G_k eps_k e^(lv/2) / 2.
 * Rows k of dz and z are `stride` floats apart, of eps Z apart. */
void dgm__iwae_encoder_backward(float *dmu, float *dlv, const float *lv, const float *wt,
                                const float *dz, const float *z, size_t stride,
                                const float *eps, double inv_b, size_t K, size_t Z);

#include <math.h>
static inline void dgm__lse_push(double *m, double *s, double lw)
{
    if (lw == -INFINITY) /* a weight of 0 adds nothing (and -inf - -inf would be NaN) */
        return;
    if (lw > *m) {
        *s = *s * exp(*m - lw) + 1.0;
        *m = lw;
    } else {
        *s += exp(lw - *m);
    }
}

#endif
