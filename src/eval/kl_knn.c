/* KL divergence from samples alone: the k-nearest-neighbour estimator
 *   D(P||Q) ~ (d/n) sum_i log(nu_k(i) / rho_k(i)) + log(m / (n-1)),
 * rho_k(i) the distance from x_i to its k-th nearest neighbour among the other P samples,
 * nu_k(i) to its k-th nearest among the Q samples.
 * Reference: Q. Wang, S. Kulkarni, S. Verdu, "Divergence estimation for multidimensional
 * densities via k-nearest-neighbor distances", IEEE Trans. Inf. Theory 55(5), 2009, eq. (5)
 * with k_i = l_i = k; F. Perez-Cruz, "Kullback-Leibler divergence estimation of continuous
 * distributions", ISIT 2008. docs/math.md states its assumptions and its bias.
 * The per-point terms share neighbours, so their naive standard error is wrong (up to 4x
 * too small in 100-D); the reported one comes from 10 disjoint random splits of P and Q.
 * The interval resamples the per-point terms d log(nu/rho) rather than the points (a
 * resampled point set contains exact duplicates, whose zero distances would make rho 0),
 * then is widened about the estimate by the ratio of the split to the naive standard
 * error, since resampling terms shares the naive error's blindness to their dependence.
 * Exact duplicates (rounded or discrete data) would give zero distances: such points use
 * the smallest larger k_i = l_i with positive distances, which Wang et al.'s estimator with
 * per-point k_i, l_i allows without a digamma correction when k_i = l_i.
 * Left out: the adaptive choice of k_i, l_i of Wang et al. section IV (bias reduction). */
#include "dgm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TIE_EXTRA 16
#define SPLITS 10 /* disjoint splits for the standard error */

dgm_knn_cfg dgm_knn_defaults(void)
{
    return (dgm_knn_cfg){.k = 1, .n_boot = 1000, .level = 0.95, .p_name = "P", .q_name = "Q"};
}

static dgm_status check_rows(const float *x, size_t n, size_t d, const char *name, dgm_err *err)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            if (!isfinite(x[i * d + j]))
                return dgm_errf(err, DGM_ERR_NAN, "%s: row %zu, column %zu: %g is not a finite "
                                "number", name, i + 1, j + 1, (double)x[i * d + j]);
    return DGM_OK;
}

/* Points whose k-th distance is 0 (exact duplicates): t[i] = d log(nu_j / rho_j) with the
 * smallest j in k..k+TIE_EXTRA at which both distances are positive (Wang et al.'s
 * per-point k_i = l_i). Their neighbours are searched again with the larger count. */
static dgm_status untie(double *t, const double *rho, const size_t *ri, const double *nu,
                        const size_t *ni, const float *x, size_t n, const float *y, size_t m,
                        size_t d, size_t k, const char *pn, const char *qn, dgm_err *err)
{
    size_t nt = 0, K = k + TIE_EXTRA;
    size_t Kr = K + 1 < n ? K + 1 : n, Kn = K < m ? K : m; /* Kr counts the point itself */
    for (size_t i = 0; i < n; i++)
        nt += rho[i * k + k - 1] == 0.0 || nu[i * k + k - 1] == 0.0;
    size_t *who = dgm_malloc_array(nt, sizeof *who);
    float *q = dgm_malloc_array(nt, d * sizeof *q);
    double *dr = dgm_malloc_array(nt, Kr * sizeof *dr), *dn = dgm_malloc_array(nt, Kn * sizeof *dn);
    size_t *ir = dgm_malloc_array(nt, Kr * sizeof *ir), *in = dgm_malloc_array(nt, Kn * sizeof *in);
    dgm_status s = DGM_OK;
    if (!who || !q || !dr || !dn || !ir || !in) {
        s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0, j = 0; i < n; i++)
        if (rho[i * k + k - 1] == 0.0 || nu[i * k + k - 1] == 0.0) {
            who[j] = i;
            memcpy(q + j * d, x + i * d, d * sizeof *q);
            j++;
        }
    if ((s = dgm_knn_search(dr, ir, q, nt, x, n, d, Kr, 0, err)) ||
        (s = dgm_knn_search(dn, in, q, nt, y, m, d, Kn, 0, err)))
        goto done;
    for (size_t j = 0; j < nt && !s; j++) {
        size_t i = who[j], self = Kr - 1;
        double *r = dr + j * Kr;
        for (size_t c = 0; c < Kr; c++) /* drop the point itself from its own list */
            if (ir[j * Kr + c] == i) {
                self = c;
                break;
            }
        memmove(r + self, r + self + 1, (Kr - 1 - self) * sizeof *r);
        size_t lim = Kr - 1 < Kn ? Kr - 1 : Kn, c = k - 1;
        while (c < lim && (r[c] == 0.0 || dn[j * Kn + c] == 0.0))
            c++;
        if (c == lim) {
            int in_p = r[lim - 1] == 0.0;
            s = dgm_errf(err, DGM_ERR_ARG, "%s: row %zu has %zu or more exact duplicates in %s "
                         "(row %zu is one): zero distances make the k-NN estimate infinite; remove "
                         "duplicates or add noise", pn, i + 1, lim, in_p ? pn : qn,
                         (in_p ? ri[i * k] : ni[i * k]) + 1);
            break;
        }
        t[i] = (double)d * (log(dn[j * Kn + c]) - log(r[c]));
    }
done:
    free(who), free(q), free(dr), free(dn), free(ir), free(in);
    return s;
}

/* The estimate over all of x and y: per-point terms t[0..n) (without the log(m/(n-1))
 * shift), their mean plus the shift in *kl, and the number of tied points. */
static dgm_status estimate(double *kl, double *t, size_t *n_tied, const float *x, size_t n,
                           const float *y, size_t m, size_t d, size_t k, const char *pn,
                           const char *qn, dgm_err *err)
{
    double *rho = dgm_malloc_array(n, k * sizeof *rho);
    double *nu = dgm_malloc_array(n, k * sizeof *nu);
    size_t *ri = dgm_malloc_array(n, k * sizeof *ri);
    size_t *ni = dgm_malloc_array(n, k * sizeof *ni);
    dgm_status s = DGM_OK;
    if (!rho || !nu || !ri || !ni) {
        s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory for k-NN distances of %zu points", n);
        goto done;
    }
    if ((s = dgm_knn_search(rho, ri, x, n, x, n, d, k, 1, err)) ||
        (s = dgm_knn_search(nu, ni, x, n, y, m, d, k, 0, err)))
        goto done;
    *n_tied = 0;
    for (size_t i = 0; i < n; i++)
        *n_tied += rho[i * k + k - 1] == 0.0 || nu[i * k + k - 1] == 0.0;
    if (*n_tied && (s = untie(t, rho, ri, nu, ni, x, n, y, m, d, k, pn, qn, err)))
        goto done;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = rho[i * k + k - 1], v = nu[i * k + k - 1];
        if (r > 0.0 && v > 0.0) /* else untie() has set t[i] */
            t[i] = (double)d * (log(v) - log(r));
        sum += t[i];
    }
    *kl = sum / (double)n + log((double)m / (double)(n - 1));
done:
    free(rho), free(nu), free(ri), free(ni);
    return s;
}

/* Standard error from G disjoint random splits: sd of the G split estimates / sqrt(G),
 * which, unlike the naive one, sees the dependence between the terms. Returns NAN when a
 * split is too small or fails (the caller then keeps the naive value). */
static double split_se(dgm_rng *rng, const float *x, size_t n, const float *y, size_t m,
                       size_t d, size_t k)
{
    size_t ng = n / SPLITS, mg = m / SPLITS;
    if (ng < k + 1 || mg < k || ng < 2)
        return NAN;
    size_t *px = dgm_malloc_array(n, sizeof *px), *py = dgm_malloc_array(m, sizeof *py);
    float *xs = dgm_malloc_array(ng, d * sizeof *xs), *ys = dgm_malloc_array(mg, d * sizeof *ys);
    double *t = dgm_malloc_array(ng, sizeof *t), est[SPLITS], se = NAN;
    if (!px || !py || !xs || !ys || !t)
        goto done;
    dgm_rng_permutation(rng, px, n);
    dgm_rng_permutation(rng, py, m);
    for (size_t g = 0; g < SPLITS; g++) {
        for (size_t i = 0; i < ng; i++)
            memcpy(xs + i * d, x + px[g * ng + i] * d, d * sizeof *xs);
        for (size_t j = 0; j < mg; j++)
            memcpy(ys + j * d, y + py[g * mg + j] * d, d * sizeof *ys);
        size_t tied;
        if (estimate(&est[g], t, &tied, xs, ng, ys, mg, d, k, "P", "Q", NULL))
            goto done;
    }
    double mean = 0.0, ss = 0.0;
    for (size_t g = 0; g < SPLITS; g++)
        mean += est[g] / SPLITS;
    for (size_t g = 0; g < SPLITS; g++)
        ss += (est[g] - mean) * (est[g] - mean);
    se = sqrt(ss / (SPLITS - 1) / SPLITS);
done:
    free(px), free(py), free(xs), free(ys), free(t);
    return se;
}

dgm_status dgm_kl_knn(dgm_rng *rng, dgm_kl_result *out, const float *x, size_t n,
                      const float *y, size_t m, size_t d, const dgm_knn_cfg *cfg,
                      dgm_err *err)
{
    dgm_knn_cfg def = dgm_knn_defaults();
    if (!cfg)
        cfg = &def;
    const char *pn = cfg->p_name ? cfg->p_name : "P", *qn = cfg->q_name ? cfg->q_name : "Q";
    size_t k = cfg->k, n_tied = 0;
    dgm_status s;
    if (k == 0)
        return dgm_errf(err, DGM_ERR_ARG, "k must be at least 1");
    if (d == 0)
        return dgm_errf(err, DGM_ERR_SHAPE, "%s: samples have no columns", pn);
    if ((s = check_rows(x, n, d, pn, err)) || (s = check_rows(y, m, d, qn, err)))
        return s;
    if (n < k + 1)
        return dgm_errf(err, DGM_ERR_ARG, "%s: %zu samples, fewer than k + 1 = %zu: each point "
                        "needs k neighbours among the other samples", pn, n, k + 1);
    if (m < k)
        return dgm_errf(err, DGM_ERR_ARG, "%s: %zu samples, fewer than k = %zu", qn, m, k);
    double *t = dgm_malloc_array(n, sizeof *t), kl;
    if (!t)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for %zu k-NN terms", n);
    if ((s = estimate(&kl, t, &n_tied, x, n, y, m, d, k, pn, qn, err)))
        goto done;
    double mean = 0.0, m2 = 0.0; /* Welford, for the naive standard error */
    for (size_t i = 0; i < n; i++) {
        double delta = t[i] - mean;
        mean += delta / (double)(i + 1);
        m2 += delta * (t[i] - mean);
    }
    double naive = sqrt(m2 / (double)(n - 1) / (double)n);
    dgm_rng rs, rb; /* stream 0 for the splits, 1 for the bootstrap */
    dgm_rng_fork(&rs, rng, 0);
    dgm_rng_fork(&rb, rng, 1);
    double sse = split_se(&rs, x, n, y, m, d, k);
    out->kl = kl;
    out->se = isnan(sse) ? naive : sse;
    out->n = n;
    out->exact = 1;
    out->n_tied = n_tied;
    out->ci_low = out->ci_high = NAN;
    if (cfg->n_boot > 0) {
        double lo, hi;
        if ((s = dgm_bootstrap_mean_ci(&rb, &lo, &hi, t, n, cfg->n_boot, cfg->level, err)))
            goto done;
        /* widen (never narrow) about the estimate by the design effect se / naive */
        double w = out->se > naive && naive > 0 ? out->se / naive : 1.0;
        out->ci_low = kl - w * (mean - lo);
        out->ci_high = kl + w * (hi - mean);
    }
done:
    free(t);
    return s;
}
