/* dgm_kl_closed: the one dispatch for closed-form D(p || q) between dgm_dists.
 * Both sides are flattened into leaf families laid along x; the leaves are walked
 * together, splitting the factorised families (diagonal Gaussian, Bernoulli, categorical
 * at position boundaries) where the other side's blocks end, and the KL of independent
 * blocks adds up. When a full-covariance Gaussian would have to be split and both sides
 * are all Gaussian, both are assembled into one block-diagonal Gaussian instead.
 * Reference: torch.distributions.kl_divergence's registered pairs (Normal, Bernoulli,
 * Categorical, MultivariateNormal, Independent); docs/math.md gives the formulas.
 * Left out: mixtures and pairs of different supports (reported as unsupported). */
#include "distributions/dist_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_gauss(const dgm_dist *d)
{
    return d->kind == DGM_DIST_GAUSS_DIAG || d->kind == DGM_DIST_GAUSS_FULL;
}

/* Mean and dense covariance of an all-Gaussian leaf list (block diagonal). */
static void dense_gauss(double *mean, double *cov, const dgm__leaf *l, size_t nl, size_t D)
{
    memset(cov, 0, D * D * sizeof *cov);
    for (size_t i = 0; i < nl; i++) {
        const dgm_dist *d = l[i].d;
        size_t o = l[i].off, n = d->dim;
        memcpy(mean + o, d->mean, n * sizeof *mean);
        for (size_t r = 0; r < n; r++) {
            if (d->kind == DGM_DIST_GAUSS_DIAG)
                cov[(o + r) * D + o + r] = d->var[r];
            else
                memcpy(cov + (o + r) * D + o, d->cov + r * n, n * sizeof *cov);
        }
    }
}

static dgm_status kl_dense(double *out, const dgm__leaf *lp, size_t np, const dgm__leaf *lq,
                           size_t nq, size_t D, dgm_err *err)
{
    size_t DD;
    if (!dgm_size_mul(&DD, D, D))
        return dgm_errf(err, DGM_ERR_NOMEM, "dimension %zu is too large", D);
    double *mp = dgm_malloc_array(D, sizeof *mp), *mq = dgm_malloc_array(D, sizeof *mq);
    double *cp = dgm_malloc_array(DD, sizeof *cp), *cq = dgm_malloc_array(DD, sizeof *cq);
    double *work = dgm_malloc_array(D, sizeof *work);
    dgm_status s = DGM_OK;
    if (!mp || !mq || !cp || !cq || !work) {
        s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory for two %zu x %zu covariances", D, D);
    } else {
        dense_gauss(mp, cp, lp, np, D);
        dense_gauss(mq, cq, lq, nq, D);
        if (!dgm__cholesky(cp, D) || !dgm__cholesky(cq, D))
            s = dgm_errf(err, DGM_ERR_ARG, "a covariance is not positive definite");
        else
            *out = dgm__kl_gauss_full(mp, cp, dgm__chol_logdet(cp, D), mq, cq,
                                      dgm__chol_logdet(cq, D), work, D);
    }
    free(mp), free(mq), free(cp), free(cq), free(work);
    return s;
}

/* A Cholesky factor for a whole Gaussian leaf: the cached one, or diag(sqrt(var)) built
 * into buf. */
static const double *leaf_chol(const dgm__leaf *l, double *buf, double *logdet)
{
    if (l->d->kind == DGM_DIST_GAUSS_FULL) {
        *logdet = l->logdet;
        return l->chol;
    }
    size_t D = l->d->dim;
    memset(buf, 0, D * D * sizeof *buf);
    *logdet = 0.0;
    for (size_t j = 0; j < D; j++) {
        buf[j * D + j] = sqrt(l->d->var[j]);
        *logdet += log(l->d->var[j]);
    }
    return buf;
}

static dgm_status kl_gauss_leaves(double *out, const dgm__leaf *a, size_t ao, const dgm__leaf *b,
                                  size_t bo, size_t len, dgm_err *err)
{
    const dgm_dist *p = a->d, *q = b->d;
    if (p->kind == DGM_DIST_GAUSS_DIAG && q->kind == DGM_DIST_GAUSS_DIAG) {
        *out = dgm__kl_gauss_diag(p->mean + ao, p->var + ao, q->mean + bo, q->var + bo, len);
        return DGM_OK;
    }
    if (ao || bo || len != p->dim || len != q->dim)
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "no closed form implemented: a full-covariance "
                        "Gaussian block would have to be split against a non-Gaussian product");
    size_t D = len;
    double *bp = dgm_malloc_array(D * D, sizeof *bp), *bq = dgm_malloc_array(D * D, sizeof *bq);
    double *work = dgm_malloc_array(D, sizeof *work);
    dgm_status s = DGM_OK;
    if (!bp || !bq || !work) {
        s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    } else {
        double ldp, ldq;
        const double *Lp = leaf_chol(a, bp, &ldp), *Lq = leaf_chol(b, bq, &ldq);
        *out = dgm__kl_gauss_full(p->mean, Lp, ldp, q->mean, Lq, ldq, work, D);
    }
    free(bp), free(bq), free(work);
    return s;
}

/* KL between dims [ao, ao+len) of leaf a and [bo, bo+len) of leaf b. */
static dgm_status kl_piece(double *out, const dgm__leaf *a, size_t ao, const dgm__leaf *b,
                           size_t bo, size_t len, dgm_err *err)
{
    const dgm_dist *p = a->d, *q = b->d;
    size_t at = a->off + ao;
    if (is_gauss(p) && is_gauss(q))
        return kl_gauss_leaves(out, a, ao, b, bo, len, err);
    if (p->kind != q->kind)
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "no closed form for KL(%s || %s) on dimensions "
                        "%zu..%zu: the two families have different supports",
                        dgm_dist_name(p), dgm_dist_name(q), at, at + len - 1);
    double s = 0.0;
    if (p->kind == DGM_DIST_BERNOULLI) {
        for (size_t j = 0; j < len; j++) {
            double pj = p->p[ao + j], qj = q->p[bo + j];
            s += dgm__plogpq(pj, qj) + dgm__plogpq(1.0 - pj, 1.0 - qj);
        }
    } else { /* categorical: p is L x A flat, so its index is x's index */
        size_t A = p->n_cat;
        if (q->n_cat != A)
            return dgm_errf(err, DGM_ERR_UNSUPPORTED, "no closed form for KL between categoricals "
                            "over %zu and %zu letters", A, q->n_cat);
        if (ao % A || bo % A || len % A)
            return dgm_errf(err, DGM_ERR_UNSUPPORTED, "categorical blocks do not line up at "
                            "dimension %zu (positions of %zu letters)", at, A);
        for (size_t j = 0; j < len; j++)
            s += dgm__plogpq(p->p[ao + j], q->p[bo + j]);
    }
    *out = s;
    return DGM_OK;
}

/* Prefixes err's message with which side it is about. */
static dgm_status prefixed(dgm_err *err, dgm_status s, const char *who)
{
    if (err) {
        char m[sizeof err->msg];
        memcpy(m, err->msg, sizeof m);
        dgm_errf(err, s, "%s: %s", who, m);
    }
    return s;
}

dgm_status dgm_kl_closed(double *out, const dgm_dist *p, const dgm_dist *q, dgm_err *err)
{
    dgm_status s;
    if ((s = dgm_dist_check(p, err)))
        return prefixed(err, s, "p");
    if ((s = dgm_dist_check(q, err)))
        return prefixed(err, s, "q");
    if (p->dim != q->dim)
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "no KL between distributions of different "
                        "dimensions: p has %zu, q has %zu", p->dim, q->dim);
    dgm__leaf *lp = NULL, *lq = NULL;
    size_t np = 0, nq = 0;
    if ((s = dgm__dist_leaves(&lp, &np, p, 1, err)) || (s = dgm__dist_leaves(&lq, &nq, q, 1, err))) {
        dgm__leaves_free(lp, np);
        return s;
    }
    int has_full = 0, all_gauss = 1;
    for (size_t i = 0; i < np + nq; i++) {
        const dgm_dist *d = i < np ? lp[i].d : lq[i - np].d;
        has_full |= d->kind == DGM_DIST_GAUSS_FULL;
        all_gauss &= is_gauss(d);
    }
    double total = 0.0;
    if (has_full && all_gauss && !(np == 1 && nq == 1)) {
        s = kl_dense(&total, lp, np, lq, nq, p->dim, err);
    } else {
        size_t i = 0, j = 0, ao = 0, bo = 0;
        while (!s && i < np && j < nq) {
            size_t ra = lp[i].d->dim - ao, rb = lq[j].d->dim - bo, len = ra < rb ? ra : rb;
            double v = 0.0;
            s = kl_piece(&v, &lp[i], ao, &lq[j], bo, len, err);
            total += v;
            if ((ao += len) == lp[i].d->dim)
                i++, ao = 0;
            if ((bo += len) == lq[j].d->dim)
                j++, bo = 0;
        }
    }
    dgm__leaves_free(lp, np);
    dgm__leaves_free(lq, nq);
    if (!s)
        *out = total;
    return s;
}
