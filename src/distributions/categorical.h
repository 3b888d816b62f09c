/* Categorical kernels: the log-softmax likelihood of letters at L positions (the sequence
 * VAE's decoder), and p log(p/q) for discrete divergences. docs/math.md, "Protein family
 * models" and "Divergences". */
#ifndef DGM_DISTRIBUTIONS_CATEGORICAL_H
#define DGM_DISTRIBUTIONS_CATEGORICAL_H

#include <stddef.h>
#include <stdint.h>

/* log p(x | logits) = sum over positions l with x_l < A of logits[l, x_l] - logsumexp_a
 * logits[l, a]; a letter >= A (a gap) has no term. logits: L x A, overwritten with
 * dscale * d(-log p)/dlogits = dscale (softmax - onehot(x_l)) when dscale != 0 (zero rows
 * at gaps); scratch: 2L floats; 1 <= A <= 256. */
double dgm__categorical_loglik(float *logits, float *scratch, const uint8_t *x, size_t L,
                               size_t A, float dscale);

/* p log(p / q) for p, q >= 0: 0 when p = 0, +inf when q = 0 < p. */
double dgm__plogpq(double p, double q);

#endif
