/* Divergences between discrete tables: KL, Jensen-Shannon and entropy of probability
 * tables or count histograms, normalised after optional additive (Lidstone) smoothing.
 * Reference: scipy.stats.entropy(pk, qk) and scipy.spatial.distance.jensenshannon (whose
 * square is the JS divergence here), both in nats; docs/math.md for the conventions
 * (0 log 0 = 0, p log(p/0) = +inf).
 * Left out: bias corrections for plug-in estimates from counts (Miller-Madow and kin). */
#include "dgm.h"
#include "distributions/categorical.h"

#include <math.h>
#include <stdlib.h>

/* out = (t + alpha) / sum(t + alpha), validating t; `who` names the table in messages. */
static dgm_status normalise(double *out, const double *t, size_t n, double alpha,
                            const char *who, dgm_err *err)
{
    if (n == 0)
        return dgm_errf(err, DGM_ERR_ARG, "%s: the table is empty", who);
    if (!(alpha >= 0) || !isfinite(alpha))
        return dgm_errf(err, DGM_ERR_ARG, "smoothing %g is not a finite number >= 0", alpha);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(t[i]))
            return dgm_errf(err, DGM_ERR_NAN, "%s: entry %zu is not finite", who, i + 1);
        if (t[i] < 0)
            return dgm_errf(err, DGM_ERR_ARG, "%s: entry %zu is negative (%g)", who, i + 1, t[i]);
        sum += t[i] + alpha;
    }
    if (!(sum > 0) || !isfinite(sum))
        return dgm_errf(err, DGM_ERR_ARG, "%s: the entries sum to %g; a table needs a positive "
                        "finite total", who, sum);
    for (size_t i = 0; i < n; i++)
        out[i] = (t[i] + alpha) / sum;
    return DGM_OK;
}

/* Normalised copies of p and (if q) q in one allocation. */
static dgm_status both(double **buf, const double *p, const double *q, size_t n, double alpha,
                       dgm_err *err)
{
    *buf = dgm_malloc_array(n, 2 * sizeof **buf);
    if (!*buf)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for tables of %zu entries", n);
    dgm_status s = normalise(*buf, p, n, alpha, "p", err);
    if (!s && q)
        s = normalise(*buf + n, q, n, alpha, "q", err);
    if (s) {
        free(*buf);
        *buf = NULL;
    }
    return s;
}

dgm_status dgm_kl_discrete(double *out, const double *p, const double *q, size_t n,
                           double alpha, dgm_err *err)
{
    double *b;
    dgm_status s = both(&b, p, q, n, alpha, err);
    if (s)
        return s;
    double kl = 0.0; /* terms are finite or +inf, never -inf: the sum is never NaN */
    for (size_t i = 0; i < n; i++)
        kl += dgm__plogpq(b[i], b[n + i]);
    free(b);
    *out = kl;
    return DGM_OK;
}

dgm_status dgm_js_discrete(double *out, const double *p, const double *q, size_t n,
                           double alpha, dgm_err *err)
{
    double *b;
    dgm_status s = both(&b, p, q, n, alpha, err);
    if (s)
        return s;
    double js = 0.0;
    for (size_t i = 0; i < n; i++) {
        double m = 0.5 * (b[i] + b[n + i]); /* m > 0 wherever p or q is */
        js += 0.5 * (dgm__plogpq(b[i], m) + dgm__plogpq(b[n + i], m));
    }
    free(b);
    *out = js < 0 ? 0.0 : js; /* rounding can leave -1e-17 for equal tables */
    return DGM_OK;
}

dgm_status dgm_entropy_discrete(double *out, const double *p, size_t n, double alpha,
                                dgm_err *err)
{
    double *b;
    dgm_status s = both(&b, p, NULL, n, alpha, err);
    if (s)
        return s;
    double h = 0.0;
    for (size_t i = 0; i < n; i++)
        h -= dgm__plogpq(b[i], 1.0);
    free(b);
    *out = h;
    return DGM_OK;
}
