/* k-means for initialising mixtures: greedy k-means++ seeding and Lloyd's iterations,
 * with the conventions of sklearn.cluster.KMeans(n_init=1, algorithm="lloyd"): 2 + ln K
 * candidate seeds per step with the one that lowers the potential most kept, tolerance
 * relative to the mean per-dimension variance of the data, empty clusters moved to the
 * points farthest from their centres, and a last assignment so labels match centres.
 *
 * Reference: Arthur & Vassilvitskii, "k-means++: the advantages of careful seeding" (SODA
 * 2007); scikit-learn's _kmeans_plusplus and _kmeans_single_lloyd (sklearn/cluster/
 * _kmeans.py). Distances to the centres are |x|^2 - 2 x.c + |c|^2 with x.c from dgm_gemm:
 * the cancellation only matters between near-equal distances, where either label is fine.
 * Left out: Elkan's algorithm, sample weights, n_init restarts (the mixture restarts). */
#include "models/tractable.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows per GEMM. Large, so that an iteration is one product and one parallel loop: on a
 * busy machine every extra parallel region can cost a scheduler time slice at its barrier. */
#define BLOCK 65536

static double sqdist(const float *a, const float *b, size_t D)
{
    double s = 0;
#pragma omp simd reduction(+:s)
    for (size_t j = 0; j < D; j++) {
        double d = (double)a[j] - b[j];
        s += d * d;
    }
    return s;
}

/* Candidates per seeding step: scikit-learn's 2 + floor(ln K), at most 16. */
static size_t n_trials(size_t K)
{
    size_t t = 2 + (size_t)log((double)K);
    return t > 16 ? 16 : t;
}

/* First index whose cumulative sum exceeds u (numpy's searchsorted, clipped to n - 1). */
static size_t search(const double *cum, size_t n, double u)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] <= u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Greedy k-means++. Distances to the candidate seeds come from one GEMM per block of rows
 * (n x trials), like the assignment step. */
static void seed_plusplus(dgm_rng *rng, float *centers, const float *x, const double *xsq,
                          size_t n, size_t D, size_t K, double *closest, double *cum,
                          double *cand_d, float *S)
{
    const size_t trials = n_trials(K);
    size_t first = (size_t)dgm_rng_below(rng, n);
    memcpy(centers, x + first * D, D * sizeof(float));
    long nl = (long)n;
#pragma omp parallel for schedule(static) if (n * D > DGM__PAR_MIN)
    for (long i = 0; i < nl; i++)
        closest[i] = sqdist(x + (size_t)i * D, centers, D);
    double pot = 0;
    for (size_t i = 0; i < n; i++)
        pot += closest[i];
    float *cand_x = centers + K * D; /* scratch rows after the K centres */
    for (size_t c = 1; c < K; c++) {
        size_t cand[16];
        double acc = 0, csq[16];
        for (size_t i = 0; i < n; i++)
            cum[i] = acc += closest[i];
        for (size_t t = 0; t < trials; t++) {
            cand[t] = pot > 0 ? search(cum, n, dgm_rng_uniform_d(rng) * pot)
                              : (size_t)dgm_rng_below(rng, n);
            memcpy(cand_x + t * D, x + cand[t] * D, D * sizeof(float));
            csq[t] = xsq[cand[t]];
        }
        for (size_t b0 = 0; b0 < n; b0 += BLOCK) {
            size_t nb = n - b0 < BLOCK ? n - b0 : BLOCK;
            dgm_gemm(DGM_NOTRANS, DGM_TRANS, nb, trials, D, 1.0f, x + b0 * D, D, cand_x, D,
                     0.0f, S, trials);
            long nbl = (long)nb;
#pragma omp parallel for schedule(static) if (nb * trials > DGM__PAR_MIN / 8)
            for (long r = 0; r < nbl; r++) {
                size_t i = b0 + (size_t)r;
                for (size_t t = 0; t < trials; t++) {
                    double d = xsq[i] - 2.0 * S[(size_t)r * trials + t] + csq[t];
                    d = d > 0 ? d : 0;
                    cand_d[t * n + i] = d < closest[i] ? d : closest[i];
                }
            }
        }
        size_t best = 0;
        double best_pot = INFINITY;
        for (size_t t = 0; t < trials; t++) {
            double p = 0;
            for (size_t i = 0; i < n; i++)
                p += cand_d[t * n + i];
            if (p < best_pot) {
                best_pot = p;
                best = t;
            }
        }
        memcpy(closest, cand_d + best * n, n * sizeof(double));
        pot = best_pot;
        memcpy(centers + c * D, x + cand[best] * D, D * sizeof(float));
    }
}

/* Nearest centre of every row; dist gets the squared distance to it. Returns how many
 * labels changed. */
static size_t assign(int32_t *labels, double *dist, float *S, double *cs, const float *x,
                     const double *xsq, const float *centers, size_t n, size_t D, size_t K)
{
    for (size_t k = 0; k < K; k++) {
        const float *ck = centers + k * D;
        double a = 0;
#pragma omp simd reduction(+:a)
        for (size_t j = 0; j < D; j++)
            a += (double)ck[j] * ck[j];
        cs[k] = a;
    }
    size_t changed = 0;
    for (size_t b0 = 0; b0 < n; b0 += BLOCK) {
        size_t nb = n - b0 < BLOCK ? n - b0 : BLOCK;
        dgm_gemm(DGM_NOTRANS, DGM_TRANS, nb, K, D, 1.0f, x + b0 * D, D, centers, D, 0.0f, S, K);
        long nbl = (long)nb;
#pragma omp parallel for schedule(static) reduction(+:changed) if (nb * K > DGM__PAR_MIN / 8)
        for (long r = 0; r < nbl; r++) {
            size_t i = b0 + (size_t)r, arg = 0;
            double best = INFINITY;
            for (size_t k = 0; k < K; k++) {
                double d = xsq[i] - 2.0 * S[(size_t)r * K + k] + cs[k];
                if (d < best) {
                    best = d;
                    arg = k;
                }
            }
            changed += labels[i] != (int32_t)arg;
            labels[i] = (int32_t)arg;
            dist[i] = best > 0 ? best : 0;
        }
    }
    return changed;
}

dgm_status dgm__kmeans(dgm_rng *rng, int32_t *labels, float *centers, const float *x,
                       size_t n, size_t D, size_t K, int max_iter, double tol, int *n_iter,
                       dgm_err *err)
{
    const size_t trials = n_trials(K);
    double *xsq = dgm_malloc_array(n, sizeof(double));
    double *dist = dgm_malloc_array(n, sizeof(double));
    double *cum = dgm_malloc_array(n, sizeof(double));
    double *cand_d = dgm_malloc_array(n, trials * sizeof(double));
    double *sums = dgm_malloc_array(K, D * sizeof(double));
    double *csq = dgm_malloc_array(K, sizeof(double));
    size_t *count = dgm_malloc_array(K, sizeof(size_t));
    float *S = dgm_malloc_array(n < BLOCK ? n : BLOCK, (K > 16 ? K : 16) * sizeof(float));
    float *cseed = dgm_malloc_array(K + 16, D * sizeof(float)); /* centres + candidates */
    float *zero = dgm_calloc_array(D, sizeof(float));
    dgm_status s = DGM_OK;
    *n_iter = 0;
    if (!xsq || !dist || !cum || !cand_d || !sums || !csq || !count || !S || !cseed || !zero) {
        s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory for k-means on %zu examples", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        xsq[i] = sqdist(x + i * D, zero, D);
        labels[i] = -1;
    }
    seed_plusplus(rng, cseed, x, xsq, n, D, K, dist, cum, cand_d, S);
    memcpy(centers, cseed, K * D * sizeof(float));
    /* scikit-learn's _tolerance: tol times the mean variance of the features (two passes
     * over the rows, so memory is read in order) */
    double tol_abs = 0;
    {
        double *mean = sums, *var = sums + D; /* free until the first update; K x D >= 2 D */
        memset(sums, 0, K * D * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            const float *xi = x + i * D;
#pragma omp simd
            for (size_t j = 0; j < D; j++)
                mean[j] += xi[j];
        }
        for (size_t j = 0; j < D; j++)
            mean[j] /= (double)n;
        for (size_t i = 0; K > 1 && i < n; i++) {
            const float *xi = x + i * D;
#pragma omp simd
            for (size_t j = 0; j < D; j++)
                var[j] += ((double)xi[j] - mean[j]) * ((double)xi[j] - mean[j]);
        }
        for (size_t j = 0; K > 1 && j < D; j++)
            tol_abs += var[j] / (double)n;
    }
    tol_abs = tol_abs / (double)D * tol;
    int strict = 0;
    for (int it = 1; it <= max_iter; it++) {
        size_t changed = assign(labels, dist, S, csq, x, xsq, centers, n, D, K);
        *n_iter = it;
        if (changed == 0 && it > 1) {
            strict = 1;
            break;
        }
        long Kl = (long)K;
#pragma omp parallel for schedule(dynamic, 1) if (n * D > DGM__PAR_MIN)
        for (long kl = 0; kl < Kl; kl++) {
            double *sk = sums + (size_t)kl * D;
            memset(sk, 0, D * sizeof(double));
            count[kl] = 0;
            for (size_t i = 0; i < n; i++)
                if (labels[i] == (int32_t)kl) {
                    const float *xi = x + i * D;
                    count[kl]++;
#pragma omp simd
                    for (size_t j = 0; j < D; j++)
                        sk[j] += xi[j];
                }
        }
        /* an empty cluster takes the point farthest from its centre, which leaves its own */
        for (size_t k = 0; k < K; k++) {
            if (count[k])
                continue;
            size_t far = 0;
            for (size_t i = 1; i < n; i++)
                if (dist[i] > dist[far])
                    far = i;
            size_t old = (size_t)labels[far];
            if (count[old] > 1) {
                count[old]--;
                for (size_t j = 0; j < D; j++)
                    sums[old * D + j] -= x[far * D + j];
            }
            count[k] = 1;
            for (size_t j = 0; j < D; j++)
                sums[k * D + j] = x[far * D + j];
            dist[far] = -1; /* not picked twice */
        }
        double shift = 0;
        for (size_t k = 0; k < K; k++)
            for (size_t j = 0; j < D; j++) {
                float c = (float)(sums[k * D + j] / (double)count[k]);
                double d = (double)c - centers[k * D + j];
                shift += d * d;
                centers[k * D + j] = c;
            }
        if (shift <= tol_abs)
            break;
    }
    if (!strict)
        assign(labels, dist, S, csq, x, xsq, centers, n, D, K);
done:
    free(xsq);
    free(dist);
    free(cum);
    free(cand_d);
    free(sums);
    free(csq);
    free(count);
    free(S);
    free(cseed);
    free(zero);
    return s;
}
