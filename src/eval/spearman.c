/* Spearman's rank correlation with tied values given their average rank: the Pearson
 * correlation of the ranks, as scipy.stats.spearmanr and pandas' corr(method="spearman")
 * compute it (Kendall & Gibbons, "Rank Correlation Methods", ch. 3). The shortcut
 * 1 - 6 sum d^2 / (n (n^2 - 1)) is left out: it is wrong when there are ties. */
#include "dgm.h"

#include <math.h>
#include <stdlib.h>

typedef struct { double v; size_t i; } keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->v < y->v) return -1;
    if (x->v > y->v) return 1;
    return x->i < y->i ? -1 : x->i > y->i; /* stable, so the result is deterministic */
}

dgm_status dgm_rank_average(double *rank, const double *x, size_t n, dgm_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (isnan(x[i]))
            return dgm_errf(err, DGM_ERR_NAN, "ranks: value %zu is NaN", i);
    keyed *k = dgm_malloc_array(n, sizeof *k);
    if (!k && n)
        return dgm_errf(err, DGM_ERR_NOMEM, "ranks: out of memory for %zu values", n);
    for (size_t i = 0; i < n; i++)
        k[i] = (keyed){x[i], i};
    qsort(k, n, sizeof *k, cmp_keyed);
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && k[b].v == k[a].v)
            b++;
        /* positions a..b-1 (0-based) hold ranks a+1..b: their mean is (a + 1 + b) / 2 */
        double r = 0.5 * (double)(a + 1 + b);
        for (size_t j = a; j < b; j++)
            rank[k[j].i] = r;
        a = b;
    }
    free(k);
    return DGM_OK;
}

dgm_status dgm_spearman(double *rho, const double *x, const double *y, size_t n, dgm_err *err)
{
    *rho = NAN;
    if (n < 2)
        return DGM_OK;
    double *rx = dgm_malloc_array(n, sizeof *rx), *ry = dgm_malloc_array(n, sizeof *ry);
    dgm_status s = DGM_OK;
    if (!rx || !ry)
        s = dgm_errf(err, DGM_ERR_NOMEM, "spearman: out of memory for %zu values", n);
    if (!s)
        s = dgm_rank_average(rx, x, n, err);
    if (!s)
        s = dgm_rank_average(ry, y, n, err);
    if (!s) {
        /* ranks average (n + 1) / 2 whatever the ties, so centring is exact */
        double m = 0.5 * (double)(n + 1), sxy = 0, sxx = 0, syy = 0;
        for (size_t i = 0; i < n; i++) {
            double a = rx[i] - m, b = ry[i] - m;
            sxy += a * b;
            sxx += a * a;
            syy += b * b;
        }
        if (sxx > 0 && syy > 0)
            *rho = sxy / sqrt(sxx * syy);
    }
    free(rx);
    free(ry);
    return s;
}
