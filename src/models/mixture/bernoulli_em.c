/* Expectation-maximisation for mixtures of Bernoullis: initial responsibilities as for the
 * Gaussian mixture (k-means on the 0/1 vectors, k-means++ seeds, or random), then
 * E-step (responsibilities by log-sum-exp in double) and M-step
 *   N_k = sum_i r_ik,  w_k = N_k / n,  p_kj = clamp(sum_i r_ik x_ij / N_k, min_prob, 1 - min_prob)
 * until the mean log-likelihood changes by less than tol; n_init restarts keep the highest
 * lower bound; a last E-step gives the log-likelihood of the kept parameters.
 *
 * Reference: Bishop, PRML section 9.3.3, eq. 9.55-9.60. The clamp is the exact maximiser of
 * the M-step objective sum_i r_ik [x log p + (1 - x) log(1 - p)] (concave in p) over
 * [min_prob, 1 - min_prob], so this is EM for the box-constrained likelihood and the
 * log-likelihood never decreases (docs/math.md, "Tractable baselines").
 * Left out: Beta-prior (MAP) updates, whose monotone quantity is the posterior instead. */
#include "models/mixture/tractable.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static dgm_status bmm_mstep(dgm__bmm *b, double *nk, double *acc, const double *resp,
                            const float *x, size_t n, double min_prob, dgm_err *err)
{
    const size_t K = b->K, D = b->D;
    dgm_status s = dgm__em_moments(nk, acc, NULL, resp, x, NULL, n, K, D, err);
    if (s)
        return s;
    double tot = 0;
    for (size_t k = 0; k < K; k++) {
        nk[k] += 10 * DBL_EPSILON;
        tot += nk[k];
        for (size_t j = 0; j < D; j++)
            b->probs[k * D + j] = dgm__clamp_prob(acc[k * D + j] / nk[k], min_prob);
    }
    for (size_t k = 0; k < K; k++)
        b->weights[k] = (float)(nk[k] / tot);
    return DGM_OK;
}

typedef struct {
    dgm__bmm *b;
    double   *nk, *acc;   /* K and K x D sums of the M-step */
    float    *best_w, *best_p;
    double    min_prob;
} bmm_em;

static dgm_status em_mstep(void *ctx, const double *resp, const float *x, size_t n,
                           dgm_err *err)
{
    bmm_em *e = ctx;
    dgm_status s = bmm_mstep(e->b, e->nk, e->acc, resp, x, n, e->min_prob, err);
    return s ? s : dgm__bmm_prepare(e->b, "EM", err);
}

static dgm_status em_joint(void *ctx, double *out, const float *x, size_t n, dgm_err *err)
{
    (void)err;
    dgm__bmm_log_joint(out, ((bmm_em *)ctx)->b, 0, x, NULL, n);
    return DGM_OK;
}

static void em_keep(void *ctx)
{
    bmm_em *e = ctx;
    memcpy(e->best_w, e->b->weights, e->b->K * sizeof(float));
    memcpy(e->best_p, e->b->probs, e->b->K * e->b->D * sizeof(float));
}

static dgm_status em_restore(void *ctx, dgm_err *err)
{
    bmm_em *e = ctx;
    memcpy(e->b->weights, e->best_w, e->b->K * sizeof(float));
    memcpy(e->b->probs, e->best_p, e->b->K * e->b->D * sizeof(float));
    return dgm__bmm_prepare(e->b, "EM", err);
}

dgm_status dgm__bmm_em(dgm__bmm *b, dgm_rng *rng, const float *x, size_t n,
                       const dgm_mixture_cfg *cfg, int cls, dgm_err *err)
{
    static const dgm__em_ops ops = {em_mstep, em_joint, em_keep, em_restore};
    const size_t K = b->K, D = b->D;
    bmm_em e = {b, dgm_malloc_array(K, sizeof(double)), dgm_malloc_array(K, D * sizeof(double)),
                dgm_malloc_array(K, sizeof(float)), dgm_malloc_array(K, D * sizeof(float)),
                cfg->min_prob};
    dgm_status s = e.nk && e.acc && e.best_w && e.best_p
                       ? dgm__em_run(&ops, &e, rng, x, n, D, K, cfg, cls, &b->fit[0], err)
                       : dgm_errf(err, DGM_ERR_NOMEM, "out of memory for EM on %zu examples", n);
    free(e.nk);
    free(e.acc);
    free(e.best_w);
    free(e.best_p);
    return s;
}

dgm_status dgm_bernoulli_mixture_fit(dgm_model **out, dgm_rng *rng, const float *x, size_t n,
                                     size_t d, const dgm_mixture_cfg *cfg, dgm_err *err)
{
    *out = NULL;
    if (cfg->max_iter < 1 || cfg->n_init < 1 || !(cfg->tol >= 0) || (int)cfg->init < 0 ||
        cfg->init > DGM_INIT_RANDOM)
        return dgm_errf(err, DGM_ERR_ARG, "bernoulli-mixture: max_iter and n_init must be at "
                        "least 1, tol >= 0 and the init method known");
    dgm_status s = dgm__bmm_check(x, n, d, cfg->n_components, cfg->min_prob,
                                  "bernoulli-mixture", err);
    if (s)
        return s;
    dgm__bmm *b = dgm__bmm_alloc(1, cfg->n_components, d);
    if (!b)
        return dgm_errf(err, DGM_ERR_NOMEM, "bernoulli-mixture: out of memory for %zu "
                        "components of dimension %zu", cfg->n_components, d);
    b->opts = dgm__mix_opts_of(cfg);
    if ((s = dgm__bmm_em(b, rng, x, n, cfg, -1, err))) {
        dgm__bmm_free(b);
        return s;
    }
    return dgm__bmm_model(out, b, 0, cfg, err);
}
