/* The single Gaussian baseline: closed-form maximum likelihood, mean = the sample mean and
 * covariance = the biased sample covariance (divided by n) plus reg_covar on the
 * diagonal; full, diagonal or spherical (tied is full for one component). It is the K = 1
 * Gaussian mixture, so it shares the mixture's M-step, scoring, sampling and file format
 * (gmm.c), under the model type "gaussian".
 *
 * Reference: Bishop, PRML eq. 2.121-2.122; sklearn.mixture.GaussianMixture(n_components=1)
 * gives the same estimate (sklearn.covariance.EmpiricalCovariance without reg_covar).
 * Left out: shrinkage estimators (Ledoit-Wolf, OAS). */
#include "models/mixture/tractable.h"

#include <stdlib.h>

dgm_status dgm_gaussian_fit(dgm_model **out, const float *x, size_t n, size_t d,
                            const dgm_mixture_cfg *cfg, dgm_err *err)
{
    *out = NULL;
    if (!(cfg->reg_covar >= 0) || (int)cfg->covariance < 0 || cfg->covariance > DGM_COV_SPHERICAL)
        return dgm_errf(err, DGM_ERR_ARG, "gaussian: reg_covar must be >= 0 and the covariance "
                        "type known (got %g)", cfg->reg_covar);
    dgm_status s = dgm__mix_check(x, n, d, 1, "gaussian", err);
    if (s)
        return s;
    dgm__gmm *g = dgm__gmm_alloc(cfg->covariance, 1, 1, d);
    double *resp = dgm_malloc_array(n, sizeof(double));
    dgm__gmm_work w = {0};
    if (!g || !resp) {
        s = dgm_errf(err, DGM_ERR_NOMEM, "gaussian: out of memory for dimension %zu", d);
        goto fail;
    }
    g->opts = dgm__mix_opts_of(cfg);
    for (size_t i = 0; i < n; i++)
        resp[i] = 1.0;
    if ((s = dgm__gmm_work_init(&w, g, err)) ||
        (s = dgm__gmm_mstep(g, &w, resp, x, n, cfg->reg_covar, err)) ||
        (s = dgm__gmm_log_joint(resp, g, 0, x, NULL, n, err)))
        goto fail;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += resp[i];
    g->fit[0] = (dgm__fit_info){.n_iter = 1, .converged = 1, .lower_bound = sum / (double)n,
                                .log_likelihood = sum / (double)n, .n = n};
    dgm__gmm_work_free(&w);
    free(resp);
    return dgm__gmm_model(out, g, 1, cfg, err);
fail:
    dgm__gmm_work_free(&w);
    dgm__gmm_free(g);
    free(resp);
    return s;
}
