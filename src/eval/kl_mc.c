/* KL between two dgm models: the model as a closed-form distribution (through its optional
 * as_dist op), and the Monte Carlo estimate
 *   D(p||q) ~ (1/n) sum_i [log p(x_i) - log q(x_i)],  x_i ~ p,
 * with its standard error. Exact log-densities are used where a model has them; latent-
 * variable models give importance-sampled estimates of log p(x) with k samples, which are
 * biased low (Burda et al. 2016), so the KL estimate inherits that bias (docs/math.md).
 * Reference: the plain Monte Carlo KL, e.g. torch.distributions' kl_divergence fallback
 * people write as (p.log_prob(x) - q.log_prob(x)).mean() with x = p.sample().
 * Left out: class-conditional models (the joint over labels needs p(y)); control variates. */
#include "models/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MC_BATCH 256

dgm_status dgm_model_as_dist(const dgm_model *m, dgm_dist *out, dgm_err *err)
{
    if (!m->ops->as_dist)
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "a %s model is not a closed-form distribution",
                        m->ops->type);
    memset(out, 0, sizeof *out);
    return m->ops->as_dist(m, out, err);
}

dgm_status dgm_kl_mc(dgm_rng *rng, dgm_kl_result *out, dgm_model *p, dgm_model *q,
                     size_t n, int k, dgm_err *err)
{
    size_t D = dgm_model_dim(p);
    if (dgm_model_dim(q) != D)
        return dgm_errf(err, DGM_ERR_SHAPE, "the models have different dimensions: p %zu, q %zu",
                        D, dgm_model_dim(q));
    if (strcmp(dgm_model_likelihood(p), dgm_model_likelihood(q)))
        return dgm_errf(err, DGM_ERR_ARG, "the models are densities over different spaces: p is "
                        "%s, q is %s", dgm_model_likelihood(p), dgm_model_likelihood(q));
    if (dgm_model_n_classes(p) || dgm_model_n_classes(q))
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "Monte Carlo KL between class-conditional "
                        "models is not supported");
    if (n < 2)
        return dgm_errf(err, DGM_ERR_ARG, "Monte Carlo KL needs at least 2 samples (got %zu)", n);
    if (k < 1)
        return dgm_errf(err, DGM_ERR_ARG, "k = %d importance samples: need at least 1", k);
    size_t B = n < MC_BATCH ? n : MC_BATCH;
    float *x = dgm_malloc_array(B, D * sizeof *x);
    double *lp = dgm_malloc_array(B, sizeof *lp), *lq = dgm_malloc_array(B, sizeof *lq);
    dgm_status s = DGM_OK;
    if (!x || !lp || !lq) {
        s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory for a batch of %zu samples", B);
        goto done;
    }
    double mean = 0.0, m2 = 0.0; /* Welford over the finite terms */
    size_t cnt = 0;
    int infinite = 0;
    for (size_t b = 0, done_n = 0; done_n < n; b++) {
        size_t nb = n - done_n < B ? n - done_n : B;
        dgm_rng rs, rp, rq; /* three streams per batch: sampling and the two estimates */
        dgm_rng_fork(&rs, rng, 3 * b);
        dgm_rng_fork(&rp, rng, 3 * b + 1);
        dgm_rng_fork(&rq, rng, 3 * b + 2);
        if ((s = dgm_model_sample(p, &rs, x, NULL, nb, 0, err)) ||
            (s = dgm_model_log_prob(p, &rp, lp, x, NULL, nb, k, err)) ||
            (s = dgm_model_log_prob(q, &rq, lq, x, NULL, nb, k, err)))
            goto done;
        for (size_t i = 0; i < nb; i++) {
            if (!isfinite(lp[i]) || isnan(lq[i]) || lq[i] == INFINITY) {
                s = dgm_errf(err, DGM_ERR_NAN, "sample %zu drawn from p has log p = %g and log q "
                             "= %g: p's log-density must be finite on its own samples",
                             done_n + i + 1, lp[i], lq[i]);
                goto done;
            }
            if (lq[i] == -INFINITY) { /* q gives zero density where p has mass */
                infinite = 1;
                continue;
            }
            double t = lp[i] - lq[i], delta = t - mean;
            mean += delta / (double)++cnt;
            m2 += delta * (t - mean);
        }
        done_n += nb;
    }
    out->kl = infinite ? INFINITY : mean;
    out->se = infinite ? NAN : sqrt(m2 / (double)(n - 1) / (double)n);
    out->n = n;
    out->ci_low = out->ci_high = NAN;
    out->exact = dgm_model_exact(p) && dgm_model_exact(q);
done:
    free(x), free(lp), free(lq);
    return s;
}
