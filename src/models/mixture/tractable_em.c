/* The pieces of EM that the Gaussian and Bernoulli mixtures share: the EM loop with its
 * restarts, sums over examples for an M-step, responsibilities and the mean log-likelihood
 * from a log joint, and initial responsibilities (the checks on data: mix_common.c).
 *
 * Reference: Bishop, PRML section 9.2.2 (responsibilities, eq. 9.23) and scikit-learn's
 * _base.py (_initialize_parameters: k-means labels or random rows; _e_step: log-sum-exp).
 * Sums are in double over fixed chunks of rows added in chunk order, so they do not depend
 * on the thread count. Left out: sample weights. */
#include "models/mixture/tractable.h"
#include "par/par.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNKS 64 /* at most this many partial sums: bounded memory, fixed summation order */

dgm_status dgm__em_moments(double *nk, double *s1, double *s2, const double *resp,
                           const float *x, const float *c, size_t n, size_t K, size_t D,
                           dgm_err *err)
{
    size_t ch = n / CHUNKS + 1, nch = (n + ch - 1) / ch, per = K * D * (s2 ? 2 : 1) + K;
    double *part = dgm_malloc_array(nch ? nch : 1, per * sizeof(double));
    if (!part)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for the M-step (%zu x %zu)", K, D);
    long nchl = (long)nch;
#pragma omp parallel for schedule(dynamic, 1) if (n * K * D > DGM__PAR_MIN)
    for (long cl = 0; cl < nchl; cl++) {
        double *p = part + (size_t)cl * per, *pn = p, *p1 = p + K, *p2 = p1 + K * D;
        memset(p, 0, per * sizeof(double));
        size_t i1 = ((size_t)cl + 1) * ch < n ? ((size_t)cl + 1) * ch : n;
        for (size_t i = (size_t)cl * ch; i < i1; i++) {
            const float *xi = x + i * D;
            for (size_t k = 0; k < K; k++) {
                double r = resp[i * K + k];
                if (r == 0) /* underflowed: on high-dimensional data, all but one k */
                    continue;
                double *a1 = p1 + k * D;
                pn[k] += r;
                if (!s2) {
#pragma omp simd
                    for (size_t j = 0; j < D; j++)
                        a1[j] += r * xi[j];
                    continue;
                }
                double *a2 = p2 + k * D;
                const float *ck = c + k * D;
#pragma omp simd
                for (size_t j = 0; j < D; j++) {
                    double d = (double)xi[j] - ck[j], rd = r * d;
                    a1[j] += rd;
                    a2[j] += rd * d;
                }
            }
        }
    }
    memset(nk, 0, K * sizeof(double));
    memset(s1, 0, K * D * sizeof(double));
    if (s2)
        memset(s2, 0, K * D * sizeof(double));
    for (size_t cl = 0; cl < nch; cl++) { /* in chunk order, whatever the thread count */
        const double *p = part + cl * per;
        for (size_t k = 0; k < K; k++)
            nk[k] += p[k];
        for (size_t j = 0; j < K * D; j++)
            s1[j] += p[K + j];
        for (size_t j = 0; s2 && j < K * D; j++)
            s2[j] += p[K + K * D + j];
    }
    free(part);
    return DGM_OK;
}

double dgm__em_normalize(double *lj, double *ll, size_t n, size_t K)
{
    long nl = (long)n;
#pragma omp parallel for schedule(static) if (n * K > DGM__PAR_MIN)
    for (long il = 0; il < nl; il++) {
        double *l = lj + (size_t)il * K;
        double lse = dgm_logsumexp_d(l, K);
        ll[il] = lse;
        /* exp underflows to exactly 0 below about -745.1, but only after glibc's slow
         * path (errno, exceptions). On high-dimensional data nearly every (i, k) but one
         * takes it: skipping it gives the same bits, and 60000 x 10 Fashion-MNIST
         * responsibilities took 8.8 ms instead of 13.3 (1 thread). */
        for (size_t k = 0; k < K; k++) {
            double d = l[k] - lse;
            l[k] = !isfinite(lse) ? 1.0 / (double)K : d < -746.0 ? 0.0 : exp(d);
        }
    }
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += ll[i];
    return s / (double)n;
}

dgm_status dgm__em_init_resp(double *resp, dgm_rng *rng, const float *x, size_t n, size_t D,
                             size_t K, dgm_mixture_init init, dgm_err *err)
{
    if (init == DGM_INIT_RANDOM) {
        long nl = (long)n;
#pragma omp parallel for schedule(static) if (n * K > DGM__PAR_MIN / 8)
        for (long il = 0; il < nl; il++) {
            dgm_rng r;
            dgm_rng_fork(&r, rng, (uint64_t)il);
            double *o = resp + (size_t)il * K, s = 0;
            for (size_t k = 0; k < K; k++)
                s += o[k] = dgm_rng_uniform_d(&r);
            for (size_t k = 0; k < K; k++)
                o[k] /= s;
        }
        return DGM_OK;
    }
    int32_t *labels = dgm_malloc_array(n, sizeof(int32_t));
    float *centers = dgm_malloc_array(K * D, sizeof(float));
    dgm_status s = DGM_OK;
    int iters;
    if (!labels || !centers)
        s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory for k-means on %zu examples", n);
    else
        s = dgm__kmeans(rng, labels, centers, x, n, D, K, init == DGM_INIT_KMEANS ? 300 : 0,
                        1e-4, &iters, err);
    if (!s) {
        memset(resp, 0, n * K * sizeof(double));
        for (size_t i = 0; i < n; i++)
            resp[i * K + (size_t)labels[i]] = 1.0;
    }
    free(labels);
    free(centers);
    return s;
}

/* The log joint of all n rows, on every rank. Under MPI ranks, rank r scores the
 * contiguous blocks of EM_ROWS rows [nb r / R, nb (r + 1) / R) of the nb blocks, and each
 * rank's rows then go to every rank (MPI_Bcast from their owner). A row's score does not
 * depend on the rows scored with it (the scorers' own blocks start at multiples of
 * EM_ROWS from the first row), so the result is the one-process one, bit for bit; the
 * rest of EM (normalising, the M-step, the sums) runs alike on every rank. */
#define EM_ROWS 512
static dgm_status joint_all(const dgm__em_ops *ops, void *ctx, double *out, const float *x,
                            size_t n, size_t D, size_t K, dgm_err *err)
{
    if (dgm__par_size() == 1)
        return ops->joint(ctx, out, x, n, err);
    size_t r0, r1;
    dgm__par_rows_mine(&r0, &r1, n, EM_ROWS);
    dgm_status s = r1 > r0 ? ops->joint(ctx, out + r0 * K, x + r0 * D, r1 - r0, err) : DGM_OK;
    if ((s = dgm__par_agree(s, err)))
        return s;
    dgm__par_share_rows(out, n, EM_ROWS, K * sizeof(double));
    return DGM_OK;
}

dgm_status dgm__em_run(const dgm__em_ops *ops, void *ctx, dgm_rng *rng, const float *x,
                       size_t n, size_t D, size_t K, const dgm_mixture_cfg *cfg, int cls,
                       dgm__fit_info *fit_out, dgm_err *err)
{
    double *resp = dgm_malloc_array(n, K * sizeof(double));
    double *ll = dgm_malloc_array(n, sizeof(double));
    dgm_status s = DGM_OK;
    if (!resp || !ll) {
        s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory for EM on %zu examples", n);
        goto done;
    }
    dgm__fit_info fit = {0};
    fit.lower_bound = -INFINITY;
    for (int init = 0; init < cfg->n_init && !s; init++) {
        dgm_rng r;
        dgm_rng_fork(&r, rng, (uint64_t)init);
        if ((s = dgm__em_init_resp(resp, &r, x, n, D, K, cfg->init, err)) ||
            (s = ops->mstep(ctx, resp, x, n, err)))
            break;
        double lb = -INFINITY;
        int it, converged = 0;
        for (it = 1; it <= cfg->max_iter; it++) {
            double prev = lb;
            if ((s = joint_all(ops, ctx, resp, x, n, D, K, err)))
                break;
            lb = dgm__em_normalize(resp, ll, n, K);
            if (!isfinite(lb)) {
                s = dgm_errf(err, DGM_ERR_NAN, "the log-likelihood is %g at EM iteration %d", lb, it);
                break;
            }
            if ((s = ops->mstep(ctx, resp, x, n, err)))
                break;
            if (cfg->progress)
                cfg->progress(cfg->progress_ctx, cls, init, it, lb);
            if (fabs(lb - prev) < cfg->tol) {
                converged = 1;
                break;
            }
        }
        if (!s && (lb > fit.lower_bound || init == 0)) {
            ops->keep(ctx);
            fit.n_iter = it > cfg->max_iter ? cfg->max_iter : it;
            fit.converged = converged;
            fit.best_init = init;
            fit.lower_bound = lb;
        }
    }
    if (s || (s = ops->restore(ctx, err)) || (s = joint_all(ops, ctx, resp, x, n, D, K, err)))
        goto done;
    fit.log_likelihood = dgm__em_normalize(resp, ll, n, K);
    fit.n = n;
    *fit_out = fit;
done:
    free(resp);
    free(ll);
    return s;
}
