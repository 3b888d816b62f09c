/* Expectation-maximisation for Gaussian mixtures, as sklearn.mixture.GaussianMixture.fit:
 * responsibilities from k-means (or k-means++ seeds, or random), then E-step / M-step until
 * the mean log-likelihood changes by less than tol, n_init restarts keeping the one with
 * the highest lower bound, and a final E-step that gives the log-likelihood of the kept
 * parameters. The pieces shared with bernoulli_em.c are in tractable_em.c.
 *
 * Reference: Dempster, Laird & Rubin (1977); Bishop, PRML section 9.2.2; scikit-learn's
 * _gaussian_mixture.py (_estimate_gaussian_covariances_*, reg_covar, nk + 10 eps) and
 * _base.py (fit_predict's loop and convergence test). docs/math.md, "Tractable baselines".
 *
 * Numerics: responsibilities are exp(l - logsumexp(l)) in double; sums over examples are
 * double, column by column in row order, so results do not depend on the thread count.
 * Sums over examples read each row once, over fixed chunks of rows added in chunk order
 * (dgm__em_moments). Diagonal and spherical second moments take that same pass, shifted
 * by the previous means; full and tied scatter matrices are centred on the new means and
 * summed as GEMMs over blocks of weighted rows (scikit-learn's diag and tied forms expand
 * E[x^2] - mu^2 unshifted, which in float32 would cancel badly). The M-step skips pairs
 * whose responsibility underflowed to exactly 0: on high-dimensional data, all (i, k) but
 * about one per example.
 * Left out: warm_start, the variational (Dirichlet-process) mixture, precisions_init. */
#include "models/mixture/tractable.h"
#include "tensor/linalg.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 512

dgm_status dgm__gmm_work_init(dgm__gmm_work *w, const dgm__gmm *g, dgm_err *err)
{
    memset(w, 0, sizeof *w);
    const size_t K = g->K, D = g->D;
    const int square = g->cov == DGM_COV_FULL || g->cov == DGM_COV_TIED;
    w->nk = dgm_malloc_array(K, sizeof(double));
    w->mean = dgm_malloc_array(K * D, sizeof(double));
    w->cov = dgm_malloc_array(square ? g->csize : K * D, sizeof(double));
    w->mu_abs = dgm_malloc_array(D, sizeof(double));
    if (square) {
        w->L = dgm_malloc_array(D * D, sizeof(double));
        w->blk = dgm_malloc_array(BLOCK * D, sizeof(float));
        w->outer = dgm_malloc_array(D * D, sizeof(float));
        w->idx = dgm_malloc_array(BLOCK, sizeof(size_t));
    }
    if (!w->nk || !w->mean || !w->cov || !w->mu_abs ||
        (square && (!w->L || !w->blk || !w->outer || !w->idx))) {
        dgm__gmm_work_free(w);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for the M-step of %zu components of "
                        "dimension %zu", K, D);
    }
    return DGM_OK;
}

void dgm__gmm_work_free(dgm__gmm_work *w)
{
    free(w->nk);
    free(w->mean);
    free(w->cov);
    free(w->mu_abs);
    free(w->L);
    free(w->blk);
    free(w->outer);
    free(w->idx);
    memset(w, 0, sizeof *w);
}

/* u = L^{-T}: row i of Z = L^{-1} is (e_i - sum_{k<i} L_ik Z_k) / L_ii, so rows are built
 * from earlier rows with contiguous inner loops; u is Z transposed (upper triangular). */
static void chol_inv_t(float *u, double *z, const double *L, size_t D)
{
    memset(z, 0, D * D * sizeof(double));
    for (size_t i = 0; i < D; i++) {
        double *zi = z + i * D;
        zi[i] = 1.0;
        for (size_t k = 0; k < i; k++) {
            double a = L[i * D + k];
            const double *zk = z + k * D;
            for (size_t j = 0; j <= k; j++)
                zi[j] -= a * zk[j];
        }
        double inv = 1.0 / L[i * D + i];
        for (size_t j = 0; j <= i; j++)
            zi[j] *= inv;
    }
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < D; j++)
            u[j * D + i] = (float)z[i * D + j];
}

/* acc (D x D, double) += sum over examples with r_ik > 0 of r_ik (x_i - mu)(x_i - mu)^T,
 * BLOCK rows at a time through one GEMM each. */
static void scatter_full(double *acc, dgm__gmm_work *w, const double *resp, size_t k,
                         const float *x, size_t n, size_t K, size_t D, const double *mu)
{
    size_t nb = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && resp[i * K + k] > 0)
            w->idx[nb++] = i;
        if (nb == BLOCK || (i == n && nb > 0)) {
            long nbl = (long)nb;
#pragma omp parallel for schedule(static) if (nb * D > DGM__PAR_MIN)
            for (long r = 0; r < nbl; r++) {
                size_t row = w->idx[r];
                double s = sqrt(resp[row * K + k]);
                const float *xi = x + row * D;
                float *o = w->blk + (size_t)r * D;
#pragma omp simd
                for (size_t j = 0; j < D; j++)
                    o[j] = (float)(s * ((double)xi[j] - mu[j]));
            }
            dgm__mix_gemm(DGM_TRANS, DGM_NOTRANS, D, D, nb, 1.0f, w->blk, D, w->blk, D, 0.0f,
                          w->outer, D);
            for (size_t j = 0; j < D * D; j++)
                acc[j] += w->outer[j];
            nb = 0;
        }
    }
}

/* A variance the float32 model cannot hold: not above zero, below the smallest normal
 * float, or a spread sqrt(v) under the float32 spacing of the mean, i.e. a feature that is
 * constant within the component as far as float data can tell. */
static int collapsed(double v, double mu)
{
    return !(v >= FLT_MIN) || !isfinite(v) || sqrt(v) <= FLT_EPSILON * fabs(mu);
}

static dgm_status collapse_error(dgm_err *err, size_t k, size_t j, double v, double reg)
{
    return dgm_errf(err, DGM_ERR_ARG, "component %zu has variance %g in dimension %zu (a "
                    "collapsed component or a constant feature): raise reg_covar (now %g) or "
                    "use fewer components", k, v, j, reg);
}

/* Cholesky of the (symmetrised) covariance c, then the float covariance and U = L^{-T}.
 * mu_abs[j] bounds |mean_j| of the components sharing c. Besides collapsed variances, a
 * pivot L_jj^2 below 1e-12 c_jj is refused: the covariance is then singular to about the
 * square of float32 precision, and a float32 U could not represent its inverse. */
static dgm_status set_square(float *cov, float *U, dgm__gmm_work *w, double *c,
                             const double *mu_abs, size_t D, size_t k, double reg, dgm_err *err)
{
    for (size_t a = 0; a < D; a++)
        for (size_t b = 0; b < a; b++)
            c[a * D + b] = c[b * D + a] = 0.5 * (c[a * D + b] + c[b * D + a]);
    for (size_t j = 0; j < D; j++)
        if (collapsed(c[j * D + j], mu_abs[j]))
            return collapse_error(err, k, j, c[j * D + j], reg);
    for (size_t j = 0; j < D * D; j++)
        cov[j] = (float)c[j];
    memcpy(w->L, c, D * D * sizeof(double));
    int ok = dgm__cholesky(w->L, D);
    for (size_t j = 0; ok && j < D; j++)
        ok = w->L[j * D + j] * w->L[j * D + j] >= 1e-12 * c[j * D + j];
    if (!ok)
        return dgm_errf(err, DGM_ERR_ARG, "the covariance of component %zu is not positive "
                        "definite (a component collapsed onto a subspace, or features that are "
                        "linear combinations of others): raise reg_covar (now %g) or use fewer "
                        "components", k, reg);
    chol_inv_t(U, c, w->L, D); /* c is free to reuse as the work matrix */
    return DGM_OK;
}

dgm_status dgm__gmm_mstep(dgm__gmm *g, dgm__gmm_work *w, const double *resp, const float *x,
                          size_t n, double reg, dgm_err *err)
{
    const size_t K = g->K, D = g->D;
    const int diagonal = g->cov == DGM_COV_DIAG || g->cov == DGM_COV_SPHERICAL;
    /* N_k (+ 10 eps, which keeps an emptied component finite, as scikit-learn does) and
     * means; diagonal second moments in the same pass, shifted by the previous means c
     * (the shifted-data algorithm): with a1 = sum r (x - c) and a2 = sum r (x - c)^2,
     * mu = c + a1/N and var = a2/N - (a1/N)^2. In double, with c near mu after the first
     * iteration, the subtraction costs about eps_64 a2 / (N var), ~1e-10 at worst for the
     * first M-step on [0, 1] data with variances of 1e-6. An emptied component keeps c. */
    dgm_status s = dgm__em_moments(w->nk, w->mean, diagonal ? w->cov : NULL, resp, x,
                                   diagonal ? g->means : NULL, n, K, D, err);
    if (s)
        return s;
    for (size_t k = 0; k < K; k++) {
        w->nk[k] += 10 * DBL_EPSILON;
        for (size_t j = 0; j < D; j++) {
            double e = w->mean[k * D + j] / w->nk[k];
            if (diagonal)
                w->cov[k * D + j] = w->cov[k * D + j] / w->nk[k] - e * e;
            w->mean[k * D + j] = (diagonal ? g->means[k * D + j] : 0) + e;
        }
    }
    double ntot = 0;
    for (size_t k = 0; k < K; k++)
        ntot += w->nk[k];
    for (size_t k = 0; k < K; k++) {
        g->weights[k] = (float)(w->nk[k] / ntot);
        for (size_t j = 0; j < D; j++)
            g->means[k * D + j] = (float)w->mean[k * D + j];
    }
    switch (g->cov) {
    case DGM_COV_DIAG:
    case DGM_COV_SPHERICAL: {
        for (size_t k = 0; k < K && !s; k++) {
            double *v = w->cov + k * D;
            const double *m = w->mean + k * D;
            for (size_t j = 0; j < D; j++)
                v[j] = (v[j] > 0 ? v[j] : 0) + reg; /* rounding can leave -0 for a constant */
            if (g->cov == DGM_COV_SPHERICAL) {
                double a = 0, mmax = 0;
                for (size_t j = 0; j < D; j++) {
                    a += v[j];
                    mmax = fmax(mmax, fabs(m[j]));
                }
                a /= (double)D;
                if (collapsed(a, mmax))
                    s = dgm_errf(err, DGM_ERR_ARG, "component %zu collapsed to a point (variance "
                                 "%g): raise reg_covar (now %g) or use fewer components", k, a, reg);
                g->covariances[k] = (float)a;
                g->prec_chol[k] = (float)(1 / sqrt(a));
                continue;
            }
            for (size_t j = 0; j < D && !s; j++) {
                if (collapsed(v[j], m[j]))
                    s = collapse_error(err, k, j, v[j], reg);
                g->covariances[k * D + j] = (float)v[j];
                g->prec_chol[k * D + j] = (float)(1 / sqrt(v[j]));
            }
        }
        break;
    }
    case DGM_COV_FULL:
        for (size_t k = 0; k < K && !s; k++) {
            double *c = w->cov + k * D * D;
            memset(c, 0, D * D * sizeof(double));
            scatter_full(c, w, resp, k, x, n, K, D, w->mean + k * D);
            for (size_t j = 0; j < D * D; j++)
                c[j] /= w->nk[k];
            for (size_t j = 0; j < D; j++)
                c[j * D + j] += reg;
            for (size_t j = 0; j < D; j++)
                w->mu_abs[j] = fabs(w->mean[k * D + j]);
            s = set_square(g->covariances + k * D * D, g->prec_chol + k * D * D, w, c,
                           w->mu_abs, D, k, reg, err);
        }
        break;
    case DGM_COV_TIED:
        memset(w->cov, 0, D * D * sizeof(double));
        for (size_t k = 0; k < K; k++)
            scatter_full(w->cov, w, resp, k, x, n, K, D, w->mean + k * D);
        for (size_t j = 0; j < D * D; j++)
            w->cov[j] /= ntot;
        for (size_t j = 0; j < D; j++)
            w->cov[j * D + j] += reg;
        for (size_t j = 0; j < D; j++) {
            w->mu_abs[j] = 0;
            for (size_t k = 0; k < K; k++)
                w->mu_abs[j] = fmax(w->mu_abs[j], fabs(w->mean[k * D + j]));
        }
        s = set_square(g->covariances, g->prec_chol, w, w->cov, w->mu_abs, D, 0, reg, err);
        break;
    }
    return s ? s : dgm__gmm_prepare(g, "EM", err);
}

// ---- the EM loop -------------------------------------------------------------------

static void copy_params(dgm__gmm *dst, const dgm__gmm *src)
{
    memcpy(dst->weights, src->weights, src->K * sizeof(float));
    memcpy(dst->means, src->means, src->K * src->D * sizeof(float));
    memcpy(dst->covariances, src->covariances, src->csize * sizeof(float));
    memcpy(dst->prec_chol, src->prec_chol, src->csize * sizeof(float));
}

typedef struct {
    dgm__gmm     *g, *best;
    dgm__gmm_work w;
    double        reg_covar;
} gmm_em;

static dgm_status em_mstep(void *ctx, const double *resp, const float *x, size_t n,
                           dgm_err *err)
{
    gmm_em *e = ctx;
    return dgm__gmm_mstep(e->g, &e->w, resp, x, n, e->reg_covar, err);
}

static dgm_status em_joint(void *ctx, double *out, const float *x, size_t n, dgm_err *err)
{
    return dgm__gmm_log_joint(out, ((gmm_em *)ctx)->g, 0, x, NULL, n, err);
}

static void em_keep(void *ctx)
{
    gmm_em *e = ctx;
    copy_params(e->best, e->g);
}

static dgm_status em_restore(void *ctx, dgm_err *err)
{
    gmm_em *e = ctx;
    copy_params(e->g, e->best);
    return dgm__gmm_prepare(e->g, "EM", err);
}

dgm_status dgm__gmm_em(dgm__gmm *g, dgm_rng *rng, const float *x, size_t n,
                       const dgm_mixture_cfg *cfg, int cls, dgm_err *err)
{
    static const dgm__em_ops ops = {em_mstep, em_joint, em_keep, em_restore};
    gmm_em e = {g, NULL, {0}, cfg->reg_covar};
    dgm_status s = dgm__gmm_work_init(&e.w, g, err);
    if (s)
        return s;
    e.best = dgm__gmm_alloc(g->cov, 1, g->K, g->D);
    s = e.best ? dgm__em_run(&ops, &e, rng, x, n, g->D, g->K, cfg, cls, &g->fit[0], err)
               : dgm_errf(err, DGM_ERR_NOMEM, "out of memory for EM on %zu examples", n);
    dgm__gmm_work_free(&e.w);
    dgm__gmm_free(e.best);
    return s;
}

static dgm_status check_cfg(const dgm_mixture_cfg *cfg, dgm_err *err)
{
    if (!(cfg->reg_covar >= 0) || !isfinite(cfg->reg_covar))
        return dgm_errf(err, DGM_ERR_ARG, "reg_covar must be >= 0 (got %g)", cfg->reg_covar);
    if (!(cfg->tol >= 0))
        return dgm_errf(err, DGM_ERR_ARG, "tol must be >= 0 (got %g)", cfg->tol);
    if (cfg->max_iter < 1 || cfg->n_init < 1)
        return dgm_errf(err, DGM_ERR_ARG, "max_iter and n_init must be at least 1 (got %d, %d)",
                        cfg->max_iter, cfg->n_init);
    if ((int)cfg->covariance < 0 || cfg->covariance > DGM_COV_SPHERICAL ||
        (int)cfg->init < 0 || cfg->init > DGM_INIT_RANDOM)
        return dgm_errf(err, DGM_ERR_ARG, "unknown covariance type or init method");
    return DGM_OK;
}

dgm_status dgm_gmm_fit(dgm_model **out, dgm_rng *rng, const float *x, size_t n, size_t d,
                       const dgm_mixture_cfg *cfg, dgm_err *err)
{
    *out = NULL;
    dgm_status s;
    if ((s = check_cfg(cfg, err)) ||
        (s = dgm__mix_check(x, n, d, cfg->n_components, "gmm", err)))
        return s;
    dgm__gmm *g = dgm__gmm_alloc(cfg->covariance, 1, cfg->n_components, d);
    if (!g)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for %zu components of dimension %zu",
                        cfg->n_components, d);
    g->opts = dgm__mix_opts_of(cfg);
    if ((s = dgm__gmm_em(g, rng, x, n, cfg, -1, err))) {
        dgm__gmm_free(g);
        return s;
    }
    return dgm__gmm_model(out, g, 0, cfg, err);
}
