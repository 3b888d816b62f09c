/* The discretised logistic likelihood of 8-bit pixels (Salimans et al. 2017, PixelCNN++;
 * Kingma et al. 2016, IAF), the image VAE's decoder for grey levels: level k of 256 gets
 * the mass a logistic of location mu and scale s = e^ls puts on its bin
 * [k/256, (k+1)/256), with the two end bins taking the tails:
 *     P(k) = sigma((k+1)/256 - mu)/s) - sigma((k/256 - mu)/s),
 *     P(0) = sigma((1/256 - mu)/s),   P(255) = 1 - sigma((255/256 - mu)/s).
 * As a density over dequantised data y = (k + u)/256 on [0,1)^D (the space every dgm model
 * of 8-bit data shares) it is P(k) 256^D, constant over each bin: its bits/dim of the
 * 8-bit data are exactly -log2 P(k) / D. docs/math.md, "Discretised logistic", derives the
 * stable forms below and their gradients. */
#ifndef DGM_DISTRIBUTIONS_LOGISTIC_H
#define DGM_DISTRIBUTIONS_LOGISTIC_H

#include "core/fastmath.h"

#include <math.h>
#include <stddef.h>

/* The log-scale is clamped below (as PixelCNN++ does, with zero gradient there): with
 * e^-9 = 1.2e-4, a bin holds 31 scales, so a centred level gets mass 1 - 2e-7, and a/s
 * stays finite. */
#define DGM__DLOGISTIC_LS_MIN (-9.0)

/* log(1 - e^-w) for w = (1/256)/s > 0, the log-mass factor of an interior bin's width. For
 * w <= 1 as log w + log((1 - e^-w)/w), whose second term is -w/2 + log(sinh(w/2)/(w/2)) =
 * -w/2 + w^2/24 - w^4/2880 + w^6/181440 (next term w^8/9676800 < 1.1e-7); above, as
 * log(1 - e^-w) with e^-w < 0.37, which float keeps to its last bits. */
static inline float dgm__log1mexp_neg(float w)
{
    float w2 = w * w;
    float small = dgm__logf(w) + w * (-0.5f + w * (1.0f / 24 + w2 * (-1.0f / 2880 +
                  w2 * (1.0f / 181440))));
    float big = dgm__logf(1.0f - dgm__exp_neg(-w));
    return w <= 1.0f ? small : big;
}

/* log p(y) = sum_j log P(k_j) + D log 256 over D pixels, k_j = floor(256 y_j) (mu, ls per
 * pixel; ls clamped at DGM__DLOGISTIC_LS_MIN) and, if gm, its negative gradient:
 * d(-log p)/dmu into gm, d(-log p)/dls into gls (0 where ls is clamped). -inf if any y_j is
 * outside [0, 1] or NaN. With a = (hi - mu)/s and b = (lo - mu)/s the standardised bin
 * edges, sp = softplus and softplus(x) = softplus(-x) + x:
 *   interior  log P = -b + log(1 - e^-(a-b)) - sp(-a) - sp(-b)
 *             (sigma(a) - sigma(b) = e^-b (1 - e^-(a-b)) / ((1 + e^-a)(1 + e^-b)), the width
 *             a - b = (1/256)/s formed directly: no difference of near-equal CDF values),
 *             d/da = sigma'(a) / P = e^(-2 sp(-a) - a - log P), d/db = -sigma'(b) / P, and
 *             their sum, which d/dmu needs, as 1 - sigma(a) - sigma(b) (sigma' = sigma(1 -
 *             sigma) factors P out): for a wide bin d/da and d/db are each near +-1/(a-b),
 *             and their float sum would cancel; d/dls = -(a d/da + b d/db) likewise as
 *             -(b (d/da + d/db) + (a - b) d/da);
 *   k = 0     log P = log sigma(a) = -sp(-a),      d/da = sigma(-a) = e^(-sp(-a) - a);
 *   k = 255   log P = log sigma(-b) = -sp(-b) - b, d/db = -sigma(b) = -e^(-sp(-b)).
 * Then da/dmu = -1/s and da/dls = -a (b alike). Float kernels of core/fastmath.h, so that
 * the loop vectorises (the evaluation's 10^6 decoder rows each take D of these); the sum
 * is in double. */
static inline double dgm__dlogistic_loglik(const float *y, const float *mu, const float *ls,
                                           float *gm, float *gls, size_t D)
{
    int bad = 0;
    for (size_t j = 0; j < D; j++)
        bad |= !(y[j] >= 0.0f && y[j] <= 1.0f);
    if (bad)
        return -INFINITY;
    const float lmin = (float)DGM__DLOGISTIC_LS_MIN, h = 1.0f / 256;
    double ll = 0;
    /* one body for both loops (branch-free, so that they vectorise); kf = floor(256 y) is
     * exact (a power-of-two scaling), and y = 1 exactly is the top of the last bin */
#define DGM__DLOGISTIC_PIXEL                                                              \
    float kf = floorf(y[j] * 256.0f);                                                     \
    kf = kf < 255.0f ? kf : 255.0f;                                                       \
    int clamped = ls[j] < lmin, first = kf == 0.0f, last = kf == 255.0f;                  \
    float l = clamped ? lmin : ls[j], is = dgm__expf(-l), lo = kf * h;                    \
    float a = (lo + h - mu[j]) * is, b = (lo - mu[j]) * is;                               \
    float spa = dgm__softplus(-a), spb = dgm__softplus(-b);                               \
    float lin = -b + dgm__log1mexp_neg(is * h) - spa - spb;                               \
    float L = first ? -spa : last ? -spb - b : lin;
    if (!gm) {
#pragma omp simd reduction(+ : ll)
        for (size_t j = 0; j < D; j++) {
            DGM__DLOGISTIC_PIXEL
            (void)clamped;
            ll += (double)L;
        }
    } else {
#pragma omp simd reduction(+ : ll)
        for (size_t j = 0; j < D; j++) {
            DGM__DLOGISTIC_PIXEL
            ll += (double)L;
            /* ga: sigma(-a) for k = 0, else sigma(a) sigma(-a) / P; sa, sb: sigma(a), sigma(b) */
            float ga = dgm__expf(first ? -spa - a : -2.0f * spa - a - L);
            float sa = dgm__expf(-spa), sb = dgm__expf(-spb);
            float gsum = first ? ga : last ? -sb : (1.0f - sa) - sb;
            gm[j] = gsum * is;
            gls[j] = clamped ? 0.0f : first ? a * ga : last ? -b * sb : b * gsum + is * h * ga;
        }
    }
#undef DGM__DLOGISTIC_PIXEL
    return ll + (double)D * log(256.0);
}

/* A draw of one pixel in the dequantised space: a level k from P (the logistic draw
 * mu + s logit(u) put in its bin, the tails in the end bins), then a point of its bin,
 * (k + u2)/256. u and u2 are uniforms in (0, 1) and [0, 1). */
static inline float dgm__dlogistic_draw(double mu, double ls, double u, double u2)
{
    double l = ls < DGM__DLOGISTIC_LS_MIN ? DGM__DLOGISTIC_LS_MIN : ls;
    double x = mu + exp(l) * (log(u) - log1p(-u));
    double k = floor(x * 256.0);
    k = k < 0 ? 0 : k > 255 ? 255 : k;
    float y = (float)((k + u2) / 256.0);
    return y < (float)((k + 1) / 256.0) ? y : nextafterf((float)((k + 1) / 256.0), 0.0f);
}

#endif
