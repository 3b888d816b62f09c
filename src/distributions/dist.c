/* Closed-form distributions (dgm_dist): validation, flattening into leaf families,
 * log-density, sampling and entropy for diagonal/full Gaussians, Bernoulli and categorical
 * products, and products of these.
 * Reference: torch.distributions (Normal, MultivariateNormal, Bernoulli, OneHotCategorical,
 * Independent) define the same densities and entropies.
 * Left out: mixtures (they have no closed-form KL; gmm models give exact log_prob through
 * their own model ops), gradients with respect to parameters. */
#include "distributions/dist_internal.h"
#include "distributions/gaussian.h"
#include "core/par.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>


const char *dgm_dist_name(const dgm_dist *d)
{
    switch (d->kind) {
    case DGM_DIST_GAUSS_DIAG: return "gaussian-diag";
    case DGM_DIST_GAUSS_FULL: return "gaussian-full";
    case DGM_DIST_BERNOULLI: return "bernoulli";
    case DGM_DIST_CATEGORICAL: return "categorical";
    case DGM_DIST_PRODUCT: return "product";
    }
    return "unknown";
}

// ---- validation

static dgm_status check_finite(const double *v, size_t n, const char *name, const char *at,
                               dgm_err *err)
{
    if (!v)
        return dgm_errf(err, DGM_ERR_ARG, "%s%s is missing", at, name);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return dgm_errf(err, DGM_ERR_NAN, "%s%s[%zu] is not finite", at, name, i);
    return DGM_OK;
}

/* Samples are float (FLT_MAX about 3.4e38): a Gaussian whose mean or spread is beyond 1e36
 * has no float draws, which came out infinite and scored NaN (fuzz_kl_spec). */
#define GAUSS_MAX_MEAN 1e36
#define GAUSS_MAX_VAR 1e72
static dgm_status check_gauss_range(const dgm_dist *d, const double *var, size_t stride,
                                    const char *at, dgm_err *err)
{
    for (size_t j = 0; j < d->dim; j++) {
        if (fabs(d->mean[j]) > GAUSS_MAX_MEAN)
            return dgm_errf(err, DGM_ERR_ARG, "%smean[%zu] = %g is beyond the float samples' "
                            "range (|mean| <= 1e36)", at, j, d->mean[j]);
        if (var[j * stride] > GAUSS_MAX_VAR)
            return dgm_errf(err, DGM_ERR_ARG, "%svariance %zu = %g is beyond the float samples' "
                            "range (<= 1e72)", at, j, var[j * stride]);
    }
    return DGM_OK;
}

static dgm_status check_full(const dgm_dist *d, const char *at, dgm_err *err)
{
    size_t D = d->dim, DD;
    if (!dgm_size_mul(&DD, D, D))
        return dgm_errf(err, DGM_ERR_NOMEM, "%sdimension %zu is too large", at, D);
    dgm_status s = check_finite(d->cov, DD, "cov", at, err);
    if (s)
        return s;
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < i; j++) {
            double a = d->cov[i * D + j], b = d->cov[j * D + i];
            double scale = sqrt(fabs(d->cov[i * D + i] * d->cov[j * D + j]));
            if (fabs(a - b) > 1e-9 * scale)
                return dgm_errf(err, DGM_ERR_ARG, "%scov is not symmetric: cov[%zu][%zu] = %g but "
                                "cov[%zu][%zu] = %g", at, i, j, a, j, i, b);
        }
    double *c = dgm_malloc_array(DD, sizeof *c);
    if (!c)
        return dgm_errf(err, DGM_ERR_NOMEM, "%sout of memory for a %zu x %zu covariance", at, D, D);
    memcpy(c, d->cov, DD * sizeof *c);
    int ok = dgm__cholesky(c, D);
    free(c);
    if (!ok)
        return dgm_errf(err, DGM_ERR_ARG, "%scov is not positive definite", at);
    return DGM_OK;
}

static dgm_status check_rec(const dgm_dist *d, const char *at, int depth, dgm_err *err)
{
    if (depth > 64)
        return dgm_errf(err, DGM_ERR_ARG, "%sproducts nested more than 64 deep", at);
    if (d->dim == 0)
        return dgm_errf(err, DGM_ERR_ARG, "%sdimension is 0", at);
    dgm_status s;
    switch (d->kind) {
    case DGM_DIST_GAUSS_DIAG:
        if ((s = check_finite(d->mean, d->dim, "mean", at, err)) ||
            (s = check_finite(d->var, d->dim, "var", at, err)))
            return s;
        for (size_t j = 0; j < d->dim; j++)
            if (!(d->var[j] > 0))
                return dgm_errf(err, DGM_ERR_ARG, "%svar[%zu] = %g is not > 0", at, j, d->var[j]);
        return check_gauss_range(d, d->var, 1, at, err);
    case DGM_DIST_GAUSS_FULL:
        if ((s = check_finite(d->mean, d->dim, "mean", at, err)) || (s = check_full(d, at, err)))
            return s;
        return check_gauss_range(d, d->cov, d->dim + 1, at, err);
    case DGM_DIST_BERNOULLI:
        if ((s = check_finite(d->p, d->dim, "p", at, err)))
            return s;
        for (size_t j = 0; j < d->dim; j++)
            if (d->p[j] < 0 || d->p[j] > 1)
                return dgm_errf(err, DGM_ERR_ARG, "%sp[%zu] = %g is outside [0, 1]", at, j, d->p[j]);
        return DGM_OK;
    case DGM_DIST_CATEGORICAL: {
        size_t A = d->n_cat;
        if (A == 0 || d->dim % A)
            return dgm_errf(err, DGM_ERR_ARG, "%sdimension %zu is not a multiple of %zu categories",
                            at, d->dim, A);
        if ((s = check_finite(d->p, d->dim, "p", at, err)))
            return s;
        for (size_t l = 0; l < d->dim / A; l++) {
            double sum = 0.0;
            for (size_t a = 0; a < A; a++) {
                double v = d->p[l * A + a];
                if (v < 0)
                    return dgm_errf(err, DGM_ERR_ARG, "%sp[%zu][%zu] = %g is negative", at, l, a, v);
                sum += v;
            }
            if (fabs(sum - 1.0) > 1e-6)
                return dgm_errf(err, DGM_ERR_ARG, "%sp[%zu] sums to %.9g, not 1", at, l, sum);
        }
        return DGM_OK;
    }
    case DGM_DIST_PRODUCT: {
        if (!d->factors || d->n_factors == 0)
            return dgm_errf(err, DGM_ERR_ARG, "%sa product needs at least one factor", at);
        size_t total = 0;
        char sub[256];
        for (size_t f = 0; f < d->n_factors; f++) {
            snprintf(sub, sizeof sub, "%sfactors[%zu]: ", at, f);
            if ((s = check_rec(&d->factors[f], sub, depth + 1, err)))
                return s;
            total += d->factors[f].dim;
        }
        if (total != d->dim)
            return dgm_errf(err, DGM_ERR_SHAPE, "%sfactor dimensions add up to %zu, not %zu", at,
                            total, d->dim);
        return DGM_OK;
    }
    }
    return dgm_errf(err, DGM_ERR_ARG, "%sunknown distribution kind %d", at, (int)d->kind);
}

dgm_status dgm_dist_check(const dgm_dist *d, dgm_err *err) { return check_rec(d, "", 0, err); }

// ---- leaves

static size_t count_leaves(const dgm_dist *d)
{
    if (d->kind != DGM_DIST_PRODUCT)
        return 1;
    size_t n = 0;
    for (size_t f = 0; f < d->n_factors; f++)
        n += count_leaves(&d->factors[f]);
    return n;
}

static void fill_leaves(dgm__leaf *l, size_t *i, size_t *off, const dgm_dist *d)
{
    if (d->kind != DGM_DIST_PRODUCT) {
        l[*i] = (dgm__leaf){d, *off, NULL, 0.0};
        ++*i;
        *off += d->dim;
        return;
    }
    for (size_t f = 0; f < d->n_factors; f++)
        fill_leaves(l, i, off, &d->factors[f]);
}

void dgm__leaves_free(dgm__leaf *l, size_t n)
{
    if (!l)
        return;
    for (size_t i = 0; i < n; i++)
        free(l[i].chol);
    free(l);
}

dgm_status dgm__dist_leaves(dgm__leaf **out, size_t *n_out, const dgm_dist *d, int with_chol,
                            dgm_err *err)
{
    size_t n = count_leaves(d), i = 0, off = 0;
    dgm__leaf *l = dgm_calloc_array(n, sizeof *l);
    if (!l)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    fill_leaves(l, &i, &off, d);
    for (i = 0; with_chol && i < n; i++) {
        if (l[i].d->kind != DGM_DIST_GAUSS_FULL)
            continue;
        size_t D = l[i].d->dim;
        l[i].chol = dgm_malloc_array(D * D, sizeof(double));
        if (!l[i].chol) {
            dgm__leaves_free(l, n);
            return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for a %zu x %zu covariance", D, D);
        }
        memcpy(l[i].chol, l[i].d->cov, D * D * sizeof(double));
        if (!dgm__cholesky(l[i].chol, D)) {
            dgm__leaves_free(l, n);
            return dgm_errf(err, DGM_ERR_ARG, "cov is not positive definite");
        }
        l[i].logdet = dgm__chol_logdet(l[i].chol, D);
    }
    *out = l;
    *n_out = n;
    return DGM_OK;
}

static size_t max_full_dim(const dgm__leaf *l, size_t n)
{
    size_t m = 1;
    for (size_t i = 0; i < n; i++)
        if (l[i].d->kind == DGM_DIST_GAUSS_FULL && l[i].d->dim > m)
            m = l[i].d->dim;
    return m;
}

// ---- log-density, sampling, entropy

static double leaf_logpdf(const dgm__leaf *lf, const float *row, double *work)
{
    const dgm_dist *d = lf->d;
    const float *x = row + lf->off;
    double s = 0.0;
    switch (d->kind) {
    case DGM_DIST_GAUSS_DIAG:
        return dgm__gauss_diag_logpdf(d->mean, d->var, x, d->dim);
    case DGM_DIST_GAUSS_FULL:
        return dgm__gauss_full_logpdf(d->mean, lf->chol, lf->logdet, x, work, d->dim);
    case DGM_DIST_BERNOULLI:
        for (size_t j = 0; j < d->dim; j++) {
            double xj = x[j]; /* 0 log 0 = 0 on both branches */
            if (xj != 0.0)
                s += xj * log(d->p[j]);
            if (xj != 1.0)
                s += (1.0 - xj) * log1p(-d->p[j]);
        }
        return s;
    case DGM_DIST_CATEGORICAL:
        for (size_t j = 0; j < d->dim; j++)
            if (x[j] != 0.0f)
                s += (double)x[j] * log(d->p[j]);
        return s;
    case DGM_DIST_PRODUCT:
        break;
    }
    return NAN;
}

dgm_status dgm_dist_log_prob(double *out, const dgm_dist *d, const float *x, size_t n,
                             dgm_err *err)
{
    dgm_status s = dgm_dist_check(d, err);
    if (s)
        return s;
    dgm__leaf *l;
    size_t nl;
    if ((s = dgm__dist_leaves(&l, &nl, d, 1, err)))
        return s;
    size_t W = max_full_dim(l, nl);
    int T = omp_get_max_threads();
    double *work = dgm_malloc_array((size_t)T * W, sizeof *work);
    if (!work) {
        dgm__leaves_free(l, nl);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    }
    long nn = (long)n;
#pragma omp parallel for schedule(static) if (n * d->dim > DGM__PAR_MIN_ROWS)
    for (long i = 0; i < nn; i++) {
        double *w = work + (size_t)omp_get_thread_num() * W;
        double lp = 0.0;
        for (size_t j = 0; j < nl; j++)
            lp += leaf_logpdf(&l[j], x + (size_t)i * d->dim, w);
        out[i] = lp;
    }
    free(work);
    dgm__leaves_free(l, nl);
    return DGM_OK;
}

static void leaf_sample(const dgm__leaf *lf, dgm_rng *r, float *row, double *work)
{
    const dgm_dist *d = lf->d;
    float *x = row + lf->off;
    size_t D = d->dim;
    switch (d->kind) {
    case DGM_DIST_GAUSS_DIAG:
        for (size_t j = 0; j < D; j++)
            x[j] = (float)(d->mean[j] + sqrt(d->var[j]) * dgm_rng_normal(r));
        break;
    case DGM_DIST_GAUSS_FULL:
        for (size_t j = 0; j < D; j++)
            work[j] = dgm_rng_normal(r);
        for (size_t i = 0; i < D; i++) { /* x = mean + L z */
            double t = d->mean[i];
            for (size_t k = 0; k <= i; k++)
                t += lf->chol[i * D + k] * work[k];
            x[i] = (float)t;
        }
        break;
    case DGM_DIST_BERNOULLI:
        for (size_t j = 0; j < D; j++)
            x[j] = (float)dgm_rng_bernoulli(r, d->p[j]);
        break;
    case DGM_DIST_CATEGORICAL: {
        size_t A = d->n_cat;
        for (size_t l = 0; l < D / A; l++) {
            size_t a = dgm_rng_categorical(r, d->p + l * A, A);
            for (size_t b = 0; b < A; b++)
                x[l * A + b] = b == a ? 1.0f : 0.0f;
        }
        break;
    }
    case DGM_DIST_PRODUCT:
        break;
    }
}

dgm_status dgm_dist_sample(dgm_rng *rng, float *out, const dgm_dist *d, size_t n,
                           dgm_err *err)
{
    dgm_status s = dgm_dist_check(d, err);
    if (s)
        return s;
    dgm__leaf *l;
    size_t nl;
    if ((s = dgm__dist_leaves(&l, &nl, d, 1, err)))
        return s;
    size_t W = max_full_dim(l, nl);
    int T = omp_get_max_threads();
    double *work = dgm_malloc_array((size_t)T * W, sizeof *work);
    if (!work) {
        dgm__leaves_free(l, nl);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    }
    long nn = (long)n;
#pragma omp parallel for schedule(static) if (n * d->dim > DGM__PAR_MIN_ROWS)
    for (long i = 0; i < nn; i++) {
        double *w = work + (size_t)omp_get_thread_num() * W;
        dgm_rng r;
        dgm_rng_fork(&r, rng, (uint64_t)i);
        for (size_t j = 0; j < nl; j++)
            leaf_sample(&l[j], &r, out + (size_t)i * d->dim, w);
    }
    free(work);
    dgm__leaves_free(l, nl);
    return DGM_OK;
}

dgm_status dgm_dist_entropy(double *out, const dgm_dist *d, dgm_err *err)
{
    dgm_status s = dgm_dist_check(d, err);
    if (s)
        return s;
    dgm__leaf *l;
    size_t nl;
    if ((s = dgm__dist_leaves(&l, &nl, d, 1, err)))
        return s;
    double h = 0.0;
    for (size_t i = 0; i < nl; i++) {
        const dgm_dist *f = l[i].d;
        size_t D = f->dim;
        switch (f->kind) {
        case DGM_DIST_GAUSS_DIAG:
            for (size_t j = 0; j < D; j++)
                h += 0.5 * (1.0 + DGM__LOG_2PI + log(f->var[j]));
            break;
        case DGM_DIST_GAUSS_FULL:
            h += 0.5 * ((double)D * (1.0 + DGM__LOG_2PI) + l[i].logdet);
            break;
        case DGM_DIST_BERNOULLI:
            for (size_t j = 0; j < D; j++)
                h -= dgm__plogpq(f->p[j], 1.0) + dgm__plogpq(1.0 - f->p[j], 1.0);
            break;
        case DGM_DIST_CATEGORICAL:
            for (size_t j = 0; j < D; j++)
                h -= dgm__plogpq(f->p[j], 1.0);
            break;
        case DGM_DIST_PRODUCT:
            break;
        }
    }
    dgm__leaves_free(l, nl);
    *out = h;
    return DGM_OK;
}
