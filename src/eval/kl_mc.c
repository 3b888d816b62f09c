/* KL between two dgm models: the model as a closed-form distribution (through its optional
 * as_dist op), and the Monte Carlo estimate
 *   D(p||q) ~ (1/n) sum_i [log p(x_i) - log q(x_i)],  x_i ~ p,
 * with its standard error. Exact log-densities are used where a model has them; latent-
 * variable models give importance-sampled estimates of log p(x) with k samples, which are
 * biased low (Burda et al. 2016), so the KL estimate inherits that bias (docs/math.md).
 * Reference: the plain Monte Carlo KL, e.g. torch.distributions' kl_divergence fallback
 * people write as (p.log_prob(x) - q.log_prob(x)).mean() with x = p.sample().
 * Class-conditional models: two of the same classes give the KL of the joints over (x, y),
 * log p(y) + log p(x|y) against log q(y) + log q(x|y) with y ~ p(y) drawn first; beside
 * an unconditional model, a conditional one's marginal log sum_y p(y) p(x|y) (docs/math.md,
 * "Monte Carlo KL"). Left out: control variates. */
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

/* log p(x_i) of a class-conditional model's marginal, logsumexp_c [log p(c) + log p(x_i|c)],
 * for n rows: one pass per class, each with the same noise r (as dgm_classify). y, t: n. */
static dgm_status log_marginal(dgm_model *m, const dgm_rng *r, double *out, const float *x,
                               size_t n, int k, int32_t *y, double *t, dgm_err *err)
{
    int C = dgm_model_n_classes(m);
    const double *lpy = dgm_model_log_prior(m);
    for (size_t i = 0; i < n; i++)
        out[i] = -INFINITY;
    for (int c = 0; c < C; c++) {
        for (size_t i = 0; i < n; i++)
            y[i] = c;
        dgm_rng rc = *r;
        dgm_status s = dgm_model_log_prob(m, &rc, t, x, y, n, k, err);
        if (s)
            return s;
        for (size_t i = 0; i < n; i++) {
            double a = out[i], b = lpy[c] + t[i], hi = a > b ? a : b;
            out[i] = hi == -INFINITY ? hi : hi + log(exp(a - hi) + exp(b - hi));
        }
    }
    return DGM_OK;
}

/* y[0..n) ~ the class prior lpy (C entries), one uniform each from r */
static void draw_labels(int32_t *y, size_t n, const double *lpy, int C, dgm_rng *r)
{
    for (size_t i = 0; i < n; i++) {
        double u = dgm_rng_uniform_d(r), cum = 0;
        int c = 0;
        for (; c < C - 1; c++)
            if (u < (cum += exp(lpy[c])))
                break;
        y[i] = c;
    }
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
    int Cp = dgm_model_n_classes(p), Cq = dgm_model_n_classes(q), joint = Cp > 0 && Cq > 0;
    if (joint && Cp != Cq)
        return dgm_errf(err, DGM_ERR_ARG, "the models have different classes: p %d, q %d", Cp,
                        Cq);
    if (n < 2)
        return dgm_errf(err, DGM_ERR_ARG, "Monte Carlo KL needs at least 2 samples (got %zu)", n);
    if (k < 1)
        return dgm_errf(err, DGM_ERR_ARG, "k = %d importance samples: need at least 1", k);
    size_t B = n < MC_BATCH ? n : MC_BATCH;
    float *x = dgm_malloc_array(B, D * sizeof *x);
    double *lp = dgm_malloc_array(B, sizeof *lp), *lq = dgm_malloc_array(B, sizeof *lq);
    double *t = dgm_malloc_array(B, sizeof *t);
    int32_t *y = dgm_malloc_array(B, sizeof *y), *yc = dgm_malloc_array(B, sizeof *yc);
    dgm_status s = DGM_OK;
    dgm_rng ylab; /* the labels' streams, apart from the three of each batch */
    dgm_rng_fork(&ylab, rng, UINT64_MAX);
    if (!x || !lp || !lq || !t || !y || !yc) {
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
        if (Cp) {
            dgm_rng ry;
            dgm_rng_fork(&ry, &ylab, b);
            draw_labels(y, nb, dgm_model_log_prior(p), Cp, &ry);
        }
        if ((s = dgm_model_sample(p, &rs, x, Cp ? y : NULL, nb, 0, err)))
            goto done;
        if (joint) { /* log p(y) + log p(x|y) against log q(y) + log q(x|y) */
            if ((s = dgm_model_log_prob(p, &rp, lp, x, y, nb, k, err)) ||
                (s = dgm_model_log_prob(q, &rq, lq, x, y, nb, k, err)))
                goto done;
            for (size_t i = 0; i < nb; i++) {
                lp[i] += dgm_model_log_prior(p)[y[i]];
                lq[i] += dgm_model_log_prior(q)[y[i]];
            }
        } else if ((s = Cp ? log_marginal(p, &rp, lp, x, nb, k, yc, t, err)
                           : dgm_model_log_prob(p, &rp, lp, x, NULL, nb, k, err)) ||
                   (s = Cq ? log_marginal(q, &rq, lq, x, nb, k, yc, t, err)
                           : dgm_model_log_prob(q, &rq, lq, x, NULL, nb, k, err))) {
            goto done;
        }
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
    out->joint = joint;
done:
    free(x), free(lp), free(lq);
    dgm_free(t), dgm_free(y), dgm_free(yc);
    return s;
}
