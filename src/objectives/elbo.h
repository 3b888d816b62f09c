/* The minibatch ELBO's KL term for a diagonal Gaussian encoder and the N(0, I) prior, with
 * a KL weight (warm-up) and free bits (Kingma et al. 2016, eq. 15), and the encoder's
 * gradient: the reparameterisation's plus the weighted KL's. docs/math.md, "VAE". */
#ifndef DGM_OBJECTIVES_ELBO_H
#define DGM_OBJECTIVES_ELBO_H

#include <stddef.h>

/* The per-dimension batch means klbar_j of KL(q(z_j|x_i) || N(0, 1)) over the B rows of
 * h (B x 2Z: mu, lv); active_j = 0 where free bits apply (free_bits > 0 and klbar_j below
 * it: the dimension is charged free_bits with no gradient). *kl = sum_j klbar_j;
 * *penalty = sum_j (active_j ? klbar_j : free_bits). Z <= DGM__ELBO_MAX_Z. */
#define DGM__ELBO_MAX_Z 256
void dgm__elbo_kl(double *kl, double *penalty, int *active, const float *h, size_t B,
                  size_t Z, double free_bits);

/* d(loss)/d(encoder output) for the B rows: the reparameterisation's backward of dz (row i
 * at dz + i * dz_stride, noise eps row i at eps + i * Z) plus beta * dKL for the active
 * dimensions, beta = kl_weight / B. denc: B x 2Z. */
void dgm__elbo_encoder_backward(float *denc, const float *h, const float *dz, size_t dz_stride,
                                const float *eps, const int *active, float beta, size_t B,
                                size_t Z);

#endif
