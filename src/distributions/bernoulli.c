/* The Bernoulli log-likelihood from logits (bernoulli.h). Reference:
 * torch.nn.functional.binary_cross_entropy_with_logits, which uses the same stable form.
 * softplus(l) = max(l, 0) + log1p(e^-|l|) and sigmoid(l) share the one exponential, and
 * the SIMD kernels of fastmath.h keep the loop vectorised: it runs once per pixel per
 * importance sample. */
#include "distributions/bernoulli.h"
#include "core/fastmath.h"

#include <math.h>

double dgm__bernoulli_logits_loglik(const float *x, const float *l, float *g, size_t D)
{
    double ll = 0;
    if (g) {
#pragma omp simd reduction(+ : ll)
        for (size_t j = 0; j < D; j++) {
            float lj = l[j], t = dgm__exp_neg(-fabsf(lj));
            float sp = (lj > 0 ? lj : 0.0f) + dgm__log1p_unit(t);
            ll += (double)(x[j] * lj - sp);
            float inv = 1.0f / (1.0f + t);
            g[j] = (lj >= 0 ? inv : t * inv) - x[j];
        }
    } else {
#pragma omp simd reduction(+ : ll)
        for (size_t j = 0; j < D; j++) {
            float lj = l[j];
            ll += (double)(x[j] * lj - dgm__softplus(lj));
        }
    }
    return ll;
}
