/* The Bernoulli likelihood from logits, for binary data (the image VAE's decoder):
 * log p(x | l) = x l - softplus(l), and its negative gradient sigmoid(l) - x.
 * docs/math.md, "VAE". */
#ifndef DGM_DISTRIBUTIONS_BERNOULLI_H
#define DGM_DISTRIBUTIONS_BERNOULLI_H

#include <stddef.h>

/* sum_j x_j l_j - softplus(l_j) over D values, in double; with g, d(-log p)/dl into g. */
double dgm__bernoulli_logits_loglik(const float *x, const float *l, float *g, size_t D);

#endif
