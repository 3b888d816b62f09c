/* Categorical kernels (categorical.h). The log-softmax is torch.nn.functional.log_softmax's
 * max-shifted form; the per-position sums of exponentials use a fixed tree for the 20
 * amino acids, which keeps the dependency chains short (an `omp simd reduction` over 20
 * lanes spent most of its time adding its lane array back up serially). */
#include "dgm.h"
#include "core/assert.h"
#include "distributions/categorical.h"
#include "core/fastmath.h"

#include <math.h>
#include <string.h>

/* sum of e[0..A), the 20-letter case as a fixed tree */
static float sum_exp(const float *e, size_t A)
{
    if (A == 20) {
        float s0 = (e[0] + e[1]) + (e[2] + e[3]) + e[4], s1 = (e[5] + e[6]) + (e[7] + e[8]) + e[9];
        float s2 = (e[10] + e[11]) + (e[12] + e[13]) + e[14];
        float s3 = (e[15] + e[16]) + (e[17] + e[18]) + e[19];
        return (s0 + s1) + (s2 + s3);
    }
    float s = 0;
    for (size_t a = 0; a < A; a++)
        s += e[a];
    return s;
}

double dgm__categorical_loglik(float *logits, float *scratch, const uint8_t *x, size_t L,
                               size_t A, float dscale)
{
    float *mx = scratch, *lse = scratch + L, e[256];
    DGM_ASSERT(A >= 1 && A <= 256);
    /* max and sum of e^(y - max) per position, then the logs in one vector loop */
    for (size_t l = 0; l < L; l++) {
        const float *q = logits + l * A;
        float m = q[0];
        for (size_t a = 1; a < A; a++)
            m = q[a] > m ? q[a] : m;
#pragma omp simd
        for (size_t a = 0; a < A; a++)
            e[a] = dgm__expf(q[a] - m);
        mx[l] = m;
        lse[l] = sum_exp(e, A);
    }
#pragma omp simd
    for (size_t l = 0; l < L; l++)
        lse[l] = mx[l] + dgm__logf(lse[l]);
    double s = 0;
    for (size_t l = 0; l < L; l++)
        if (x[l] < A) /* a gap has no term */
            s += (double)(logits[l * A + x[l]] - lse[l]);
    if (dscale == 0.0f)
        return s;
    for (size_t l = 0; l < L; l++) {
        float *q = logits + l * A;
        if (x[l] >= A) { /* and no gradient */
            memset(q, 0, A * sizeof *q);
            continue;
        }
#pragma omp simd
        for (size_t a = 0; a < A; a++)
            q[a] = dscale * dgm__expf(q[a] - lse[l]);
        q[x[l]] -= dscale;
    }
    return s;
}

double dgm__plogpq(double p, double q)
{
    if (p == 0.0)
        return 0.0;
    if (q == 0.0)
        return INFINITY;
    return p * (log(p) - log(q));
}
