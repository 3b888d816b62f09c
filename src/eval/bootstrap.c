/* Percentile bootstrap interval of a mean (Efron and Tibshirani 1993, ch. 13): n_boot
 * resamples of the n values with replacement, replicate b drawn from its own forked
 * stream so that the interval does not depend on the thread count; the interval is the
 * (1-level)/2 and (1+level)/2 quantiles of the replicate means (linear interpolation,
 * numpy.quantile's default).
 * Left out: BCa and studentised intervals; block bootstraps for dependent values. */
#include "dgm.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double quantile_sorted(const double *v, size_t n, double q)
{
    double h = q * (double)(n - 1);
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n)
        return v[n - 1];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

dgm_status dgm_bootstrap_mean_ci(dgm_rng *rng, double *lo, double *hi, const double *t,
                                 size_t n, size_t n_boot, double level, dgm_err *err)
{
    if (n == 0 || n_boot < 2)
        return dgm_errf(err, DGM_ERR_ARG, "bootstrap needs values and at least 2 replicates "
                        "(got n = %zu, %zu replicates)", n, n_boot);
    if (!(level > 0 && level < 1))
        return dgm_errf(err, DGM_ERR_ARG, "interval level %g is not in (0, 1)", level);
    double *rep = dgm_malloc_array(n_boot, sizeof *rep);
    if (!rep)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for %zu bootstrap replicates", n_boot);
    long B = (long)n_boot;
#pragma omp parallel for schedule(static)
    for (long b = 0; b < B; b++) {
        dgm_rng r;
        dgm_rng_fork(&r, rng, (uint64_t)b);
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
            s += t[dgm_rng_below(&r, n)];
        rep[b] = s / (double)n;
    }
    qsort(rep, n_boot, sizeof *rep, cmp_double);
    *lo = quantile_sorted(rep, n_boot, 0.5 * (1.0 - level));
    *hi = quantile_sorted(rep, n_boot, 0.5 * (1.0 + level));
    free(rep);
    return DGM_OK;
}
