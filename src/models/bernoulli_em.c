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
#include "models/tractable.h"

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

dgm_status dgm__bmm_em(dgm__bmm *b, dgm_rng *rng, const float *x, size_t n,
                       const dgm_mixture_cfg *cfg, int cls, dgm_err *err)
{
    const size_t K = b->K, D = b->D;
    double *resp = dgm_malloc_array(n, K * sizeof(double));
    double *ll = dgm_malloc_array(n, sizeof(double));
    double *nk = dgm_malloc_array(K, sizeof(double));
    double *acc = dgm_malloc_array(K, D * sizeof(double));
    float *best_w = dgm_malloc_array(K, sizeof(float));
    float *best_p = dgm_malloc_array(K, D * sizeof(float));
    dgm_status s = DGM_OK;
    if (!resp || !ll || !nk || !acc || !best_w || !best_p) {
        s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory for EM on %zu examples", n);
        goto done;
    }
    dgm__fit_info fit = {0};
    fit.lower_bound = -INFINITY;
    for (int init = 0; init < cfg->n_init && !s; init++) {
        dgm_rng r;
        dgm_rng_fork(&r, rng, (uint64_t)init);
        if ((s = dgm__em_init_resp(resp, &r, x, n, D, K, cfg->init, err)))
            break;
        if ((s = bmm_mstep(b, nk, acc, resp, x, n, cfg->min_prob, err)) ||
            (s = dgm__bmm_prepare(b, "EM", err)))
            break;
        double lb = -INFINITY;
        int it, converged = 0;
        for (it = 1; it <= cfg->max_iter; it++) {
            double prev = lb;
            dgm__bmm_log_joint(resp, b, 0, x, NULL, n);
            lb = dgm__em_normalize(resp, ll, n, K);
            if (!isfinite(lb)) {
                s = dgm_errf(err, DGM_ERR_NAN, "the log-likelihood is %g at EM iteration %d", lb, it);
                break;
            }
            if ((s = bmm_mstep(b, nk, acc, resp, x, n, cfg->min_prob, err)) ||
                (s = dgm__bmm_prepare(b, "EM", err)))
                break;
            if (cfg->progress)
                cfg->progress(cfg->progress_ctx, cls, init, it, lb);
            if (fabs(lb - prev) < cfg->tol) {
                converged = 1;
                break;
            }
        }
        if (!s && (lb > fit.lower_bound || init == 0)) {
            memcpy(best_w, b->weights, K * sizeof(float));
            memcpy(best_p, b->probs, K * D * sizeof(float));
            fit.n_iter = it > cfg->max_iter ? cfg->max_iter : it;
            fit.converged = converged;
            fit.best_init = init;
            fit.lower_bound = lb;
        }
    }
    if (s)
        goto done;
    memcpy(b->weights, best_w, K * sizeof(float));
    memcpy(b->probs, best_p, K * D * sizeof(float));
    if ((s = dgm__bmm_prepare(b, "EM", err)))
        goto done;
    dgm__bmm_log_joint(resp, b, 0, x, NULL, n);
    fit.log_likelihood = dgm__em_normalize(resp, ll, n, K);
    fit.n = n;
    b->fit[0] = fit;
done:
    free(resp);
    free(ll);
    free(nk);
    free(acc);
    free(best_w);
    free(best_p);
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
