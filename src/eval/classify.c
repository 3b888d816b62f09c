/* The generative classifier: Bayes' rule over a class-conditional model's log p(x|y)
 * (docs/math.md, "Bayes-rule classifier"). Each class's log-likelihood of a batch uses the
 * same rng stream, so for a VAE the importance samples of different classes share their
 * noise: the posterior then compares like with like. */
#include "dgm_blocks.h"

#include <math.h>
#include <stdlib.h>

dgm_status dgm_classify(dgm_rng *rng, double *log_post, dgm_model *m, const float *x,
                        size_t n, int k, dgm_err *err)
{
    int C = dgm_model_n_classes(m);
    const double *lp = dgm_model_log_prior(m);
    if (C < 1 || !lp)
        return dgm_errf(err, DGM_ERR_ARG, "a %s model is not class-conditional: it cannot "
                        "classify", dgm_model_type(m));
    const size_t nb = 256;
    int32_t *y = malloc(nb * sizeof *y);
    double *ll = malloc(nb * sizeof *ll);
    if (!y || !ll) {
        free(y);
        free(ll);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    }
    size_t D = dgm_model_dim(m);
    dgm_status s = DGM_OK;
    for (size_t i0 = 0; i0 < n && !s; i0 += nb) {
        size_t b = n - i0 < nb ? n - i0 : nb;
        dgm_rng br;
        dgm_rng_fork(&br, rng, i0);
        for (int c = 0; c < C && !s; c++) {
            for (size_t i = 0; i < b; i++)
                y[i] = c;
            dgm_rng r = br; /* same noise for every class */
            s = dgm_model_log_prob(m, &r, ll, x + i0 * D, y, b, k, err);
            for (size_t i = 0; i < b && !s; i++)
                log_post[(i0 + i) * (size_t)C + (size_t)c] = ll[i] + lp[c];
        }
        for (size_t i = 0; i < b && !s; i++) {
            double *row = log_post + (i0 + i) * (size_t)C;
            double z = dgm_logsumexp_d(row, (size_t)C);
            if (!isfinite(z)) {
                s = dgm_errf(err, DGM_ERR_NAN, "example %zu: no class gives it a finite "
                             "likelihood", i0 + i + 1);
                break;
            }
            for (int c = 0; c < C; c++)
                row[c] -= z;
        }
    }
    free(y);
    free(ll);
    return s;
}
