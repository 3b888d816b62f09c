/* The Gaussian-mixture E-step kernel: log w_k + log N(x_i | mu_k, Sigma_k) for every
 * example and component, for the four covariance types. It serves both EM and the
 * model's log_prob, so the likelihoods EM reports are those the saved model gives.
 *
 * Reference: scikit-learn's _estimate_log_gaussian_prob (sklearn/mixture/
 * _gaussian_mixture.py): log N = -D/2 log 2 pi + log det U - |(x - mu) U|^2 / 2.
 *
 * Why diag and spherical are not a GEMM: the expanded form sum_j x_j^2 p_j - 2 x_j mu_j p_j
 * + mu_j^2 p_j (p = 1/var) that scikit-learn evaluates with two float64 matrix products
 * loses about eps * x^2 / var of relative accuracy per dimension to cancellation; in
 * float32, with dequantised pixels near 1 and variances near 1e-6, that is several percent
 * of the term. The direct form x/sigma - mu/sigma, squared and summed in double (two fused
 * multiply-adds), costs the same number of multiply-adds as the two products, reads each
 * row once, and is accurate to a few 1e-15 of the sum (docs/math.md, "Tractable
 * baselines": the rounding of mu/sigma is the only error beyond the sum's; measured 3e-15
 * at worst on Fashion-MNIST, 1/sigma up to 671). Full and tied covariances,
 * where the work is D^2 per example and component, go through dgm_gemm on centred rows.
 * Left out: a float64 GEMM path (dgm_gemm is float32 only). */
#include "models/mixture/tractable.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 512 /* rows per GEMM in the full/tied paths */

#ifdef __FMA__
#define MADD(a, b, c) fma(a, b, c)
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif

static inline const float *row_of(const float *x, const size_t *rows, size_t i, size_t D)
{
    return x + (rows ? rows[i] : i) * D;
}

/* Four rows at a time share each load of a component's parameters, and each block of rows
 * is converted to double once rather than once per component. With c = mu/sigma and
 * u = 1/sigma precomputed, y = x u - c is one fused multiply-add and y^2 is summed by
 * another. Every row keeps its own accumulator with the same vectorised order, so a row's
 * value does not depend on the rows it is grouped with. */
static dgm_status score_diag(double *out, const dgm__gmm *g, size_t grp, const float *x,
                             const size_t *rows, size_t n, dgm_err *err)
{
    const size_t K = g->K, D = g->D;
    const double *C = g->mu_u + grp * K * D, *U = g->u_d + grp * K * D;
    const double *ln = g->log_norm + grp * K;
    long nb = (long)((n + 3) / 4);
    int fail = 0;
#pragma omp parallel if (n * K * D > DGM__PAR_MIN)
    {
        double *xd = dgm_malloc_array(4 * D, sizeof(double)); /* 4 x D: the block's rows */
        if (!xd) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(static)
        for (long b = 0; b < nb; b++) {
            if (!xd)
                continue;
            size_t i0 = 4 * (size_t)b, m = n - i0 < 4 ? n - i0 : 4;
            for (size_t r = 0; r < 4; r++) { /* a short last block repeats its first row */
                const float *xr = row_of(x, rows, i0 + (r < m ? r : 0), D);
                double *o = xd + r * D;
#pragma omp simd
                for (size_t j = 0; j < D; j++)
                    o[j] = xr[j];
            }
            const double *x0 = xd, *x1 = xd + D, *x2 = xd + 2 * D, *x3 = xd + 3 * D;
            for (size_t k = 0; k < K; k++) {
                const double *ck = C + k * D, *uk = U + k * D;
                double q0 = 0, q1 = 0, q2 = 0, q3 = 0;
#pragma omp simd reduction(+:q0, q1, q2, q3)
                for (size_t j = 0; j < D; j++) {
                    double c = ck[j], u = uk[j];
                    double y0 = MADD(x0[j], u, -c), y1 = MADD(x1[j], u, -c);
                    double y2 = MADD(x2[j], u, -c), y3 = MADD(x3[j], u, -c);
                    q0 = MADD(y0, y0, q0);
                    q1 = MADD(y1, y1, q1);
                    q2 = MADD(y2, y2, q2);
                    q3 = MADD(y3, y3, q3);
                }
                double q[4] = {q0, q1, q2, q3};
                for (size_t r = 0; r < m; r++)
                    out[(i0 + r) * K + k] = ln[k] - 0.5 * q[r];
            }
        }
        free(xd);
    }
    if (fail)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory scoring %zu examples of dimension %zu",
                        n, D);
    return DGM_OK;
}

/* Full: y = (x - mu_k) U_k by GEMM per component on rows centred first, so the product
 * never subtracts two large numbers. Tied: one product for all components, centred on the
 * weighted mean c of the means, and y = (x - c) U - (mu_k - c) U. */
static dgm_status score_full(double *out, const dgm__gmm *g, size_t grp, const float *x,
                             const size_t *rows, size_t n, dgm_err *err)
{
    const size_t K = g->K, D = g->D;
    const int tied = g->cov == DGM_COV_TIED;
    const float *mu = g->means + grp * K * D, *U = g->prec_chol + grp * g->csize;
    const double *ln = g->log_norm + grp * K, *w = g->wd + grp * K;
    size_t B = n < BLOCK ? n : BLOCK;
    float *xc = dgm_malloc_array(B * D, sizeof(float));
    float *y = dgm_malloc_array(B * D, sizeof(float));
    float *c = dgm_calloc_array(D, sizeof(float));
    double *mU = tied ? dgm_calloc_array(K * D, sizeof(double)) : NULL;
    if (!xc || !y || !c || (tied && !mU)) {
        free(xc);
        free(y);
        free(c);
        free(mU);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory scoring %zu examples of dimension %zu",
                        n, D);
    }
    if (tied) {
        double wsum = 0;
        for (size_t k = 0; k < K; k++)
            wsum += w[k];
        for (size_t j = 0; j < D; j++) {
            double s = 0;
            for (size_t k = 0; k < K; k++)
                s += w[k] * mu[k * D + j];
            c[j] = (float)(s / wsum);
        }
        for (size_t k = 0; k < K; k++)
            for (size_t a = 0; a < D; a++) {
                double d = (double)mu[k * D + a] - c[a];
                const float *Ua = U + a * D;
                for (size_t b = a; b < D; b++) /* U is upper triangular */
                    mU[k * D + b] += d * Ua[b];
            }
    }
    for (size_t b0 = 0; b0 < n; b0 += B) {
        long nb = (long)(n - b0 < B ? n - b0 : B);
        for (size_t k = 0; k < (tied ? 1 : K); k++) {
            const float *ctr = tied ? c : mu + k * D;
#pragma omp parallel for schedule(static) if ((size_t)nb * D > DGM__PAR_MIN)
            for (long r = 0; r < nb; r++) {
                const float *xi = row_of(x, rows, b0 + (size_t)r, D);
                float *o = xc + (size_t)r * D;
#pragma omp simd
                for (size_t j = 0; j < D; j++)
                    o[j] = xi[j] - ctr[j];
            }
            dgm__mix_gemm(DGM_NOTRANS, DGM_NOTRANS, (size_t)nb, D, D, 1.0f, xc, D,
                          U + (tied ? 0 : k * D * D), D, 0.0f, y, D);
#pragma omp parallel for schedule(static) if ((size_t)nb * D * (tied ? K : 1) > DGM__PAR_MIN)
            for (long r = 0; r < nb; r++) {
                const float *yr = y + (size_t)r * D;
                double *o = out + (b0 + (size_t)r) * K;
                if (!tied) {
                    double q = 0;
#pragma omp simd reduction(+:q)
                    for (size_t j = 0; j < D; j++)
                        q += (double)yr[j] * yr[j];
                    o[k] = ln[k] - 0.5 * q;
                    continue;
                }
                for (size_t kk = 0; kk < K; kk++) {
                    const double *m = mU + kk * D;
                    double q = 0;
#pragma omp simd reduction(+:q)
                    for (size_t j = 0; j < D; j++) {
                        double d = yr[j] - m[j];
                        q += d * d;
                    }
                    o[kk] = ln[kk] - 0.5 * q;
                }
            }
        }
    }
    free(xc);
    free(y);
    free(c);
    free(mU);
    return DGM_OK;
}

dgm_status dgm__gmm_log_joint(double *out, const dgm__gmm *g, size_t group, const float *x,
                              const size_t *rows, size_t n, dgm_err *err)
{
    if (n == 0)
        return DGM_OK;
    if (g->cov == DGM_COV_DIAG || g->cov == DGM_COV_SPHERICAL) {
        return score_diag(out, g, group, x, rows, n, err);
    }
    return score_full(out, g, group, x, rows, n, err);
}
