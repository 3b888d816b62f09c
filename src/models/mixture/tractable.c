/* The public face of the tractable baselines that is not one model's: defaults, kind
 * names, fitting any of them (per class into one class-conditional model), and the fit
 * summary. The top of src/models/mixture: it calls the model files, which never call it;
 * what they share is in mix_common.c.
 *
 * Reference: a class-conditional density p(x | y) with prior p(y) from label frequencies is
 * the generative classifier of Bishop, PRML section 4.2 (used by dgm classify through
 * Bayes' rule); the defaults are sklearn.mixture.GaussianMixture's.
 * Left out: priors other than the label frequencies. */
#include "models/mixture/tractable.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dgm_mixture_cfg dgm_mixture_defaults(void)
{
    dgm_mixture_cfg c = {0};
    c.n_components = 1;
    c.covariance = DGM_COV_FULL;
    c.reg_covar = 1e-6;
    c.min_prob = 1e-6;
    c.tol = 1e-3;
    c.max_iter = 100;
    c.n_init = 1;
    c.init = DGM_INIT_KMEANS;
    return c;
}

static const char *const kind_names[] = {"gaussian", "gmm", "bernoulli", "bernoulli-mixture"};

int dgm_tractable_kind_from_name(const char *name) { return dgm__mix_find_name(kind_names, 4, name); }
const char *dgm_tractable_kind_name(dgm_tractable_kind k) { return (unsigned)k < 4 ? kind_names[k] : "?"; }

// ---- per-class fitting -------------------------------------------------------------

struct relay { dgm_em_progress fn; void *ctx; int cls; };

static void relay_progress(void *ctx, int cls, int init, int iter, double loglik)
{
    (void)cls;
    struct relay *r = ctx;
    r->fn(r->ctx, r->cls, init, iter, loglik);
}

static dgm_status fit_one(dgm_model **out, dgm_rng *rng, dgm_tractable_kind kind,
                          const float *x, size_t n, size_t d, const dgm_mixture_cfg *cfg,
                          dgm_err *err)
{
    switch (kind) {
    case DGM_TRACTABLE_GAUSSIAN: return dgm_gaussian_fit(out, x, n, d, cfg, err);
    case DGM_TRACTABLE_GMM: return dgm_gmm_fit(out, rng, x, n, d, cfg, err);
    case DGM_TRACTABLE_BERNOULLI: return dgm_bernoulli_fit(out, x, n, d, cfg, err);
    case DGM_TRACTABLE_BERNOULLI_MIXTURE:
        return dgm_bernoulli_mixture_fit(out, rng, x, n, d, cfg, err);
    }
    return dgm_errf(err, DGM_ERR_ARG, "unknown tractable model kind %d", (int)kind);
}

/* Stacks the per-class G = 1 models parts[0..C) into one model with G = C groups. */
static dgm_status stack(dgm_model **out, dgm_model **parts, int C, int gaussian, int single,
                        const dgm_mixture_cfg *cfg, dgm_err *err)
{
    dgm_status s;
    if (gaussian) {
        const dgm__gmm *p0 = parts[0]->impl;
        dgm__gmm *g = dgm__gmm_alloc(p0->cov, (size_t)C, p0->K, p0->D);
        if (!g)
            return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for %d classes", C);
        g->opts = p0->opts;
        for (int c = 0; c < C; c++) {
            const dgm__gmm *p = parts[c]->impl;
            memcpy(g->weights + c * g->K, p->weights, g->K * sizeof(float));
            memcpy(g->means + c * g->K * g->D, p->means, g->K * g->D * sizeof(float));
            memcpy(g->covariances + c * g->csize, p->covariances, g->csize * sizeof(float));
            memcpy(g->prec_chol + c * g->csize, p->prec_chol, g->csize * sizeof(float));
            g->fit[c] = p->fit[0];
        }
        if ((s = dgm__gmm_prepare(g, "per-class model", err))) {
            dgm__gmm_free(g);
            return s;
        }
        return dgm__gmm_model(out, g, single, cfg, err);
    }
    const dgm__bmm *p0 = parts[0]->impl;
    dgm__bmm *b = dgm__bmm_alloc((size_t)C, p0->K, p0->D);
    if (!b)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for %d classes", C);
    b->opts = p0->opts;
    for (int c = 0; c < C; c++) {
        const dgm__bmm *p = parts[c]->impl;
        memcpy(b->weights + c * b->K, p->weights, b->K * sizeof(float));
        memcpy(b->probs + c * b->K * b->D, p->probs, b->K * b->D * sizeof(float));
        b->fit[c] = p->fit[0];
    }
    if ((s = dgm__bmm_prepare(b, "per-class model", err))) {
        dgm__bmm_free(b);
        return s;
    }
    return dgm__bmm_model(out, b, single, cfg, err);
}

dgm_status dgm_tractable_fit(dgm_model **out, dgm_rng *rng, dgm_tractable_kind kind,
                             const float *x, const int32_t *y, size_t n, size_t d,
                             int n_classes, const dgm_mixture_cfg *cfg, dgm_err *err)
{
    *out = NULL;
    if (!y)
        return fit_one(out, rng, kind, x, n, d, cfg, err);
    if (n_classes < 1)
        return dgm_errf(err, DGM_ERR_ARG, "per-class fit: the data have no classes");
    const int C = n_classes;
    size_t *count = dgm_calloc_array((size_t)C, sizeof(size_t));
    if (!count)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= C) {
            free(count);
            return dgm_errf(err, DGM_ERR_ARG, "per-class fit: label %d of example %zu is "
                            "outside 0..%d", (int)y[i], i, C - 1);
        }
        count[y[i]]++;
    }
    size_t maxc = 0;
    for (int c = 0; c < C; c++) {
        if (!count[c]) {
            free(count);
            return dgm_errf(err, DGM_ERR_ARG, "per-class fit: class %d has no examples", c);
        }
        maxc = count[c] > maxc ? count[c] : maxc;
    }
    dgm_model **parts = dgm_calloc_array((size_t)C, sizeof(dgm_model *));
    float *xc = dgm_malloc_array(maxc, d * sizeof(float));
    dgm_status s = DGM_OK;
    if (!parts || !xc)
        s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory for the largest class (%zu examples)",
                     maxc);
    for (int c = 0; c < C && !s; c++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (y[i] == c)
                memcpy(xc + m++ * d, x + i * d, d * sizeof(float));
        dgm_rng r;
        dgm_rng_fork(&r, rng, (uint64_t)c);
        dgm_mixture_cfg cc = *cfg;
        struct relay rel = {cfg->progress, cfg->progress_ctx, c};
        if (cfg->progress) {
            cc.progress = relay_progress;
            cc.progress_ctx = &rel;
        }
        if ((s = fit_one(&parts[c], &r, kind, xc, m, d, &cc, err))) {
            char msg[sizeof err->msg];
            if (err) {
                snprintf(msg, sizeof msg, "class %d: %.480s", c, err->msg);
                memcpy(err->msg, msg, sizeof msg);
            }
        }
    }
    if (!s) {
        int gaussian = kind == DGM_TRACTABLE_GAUSSIAN || kind == DGM_TRACTABLE_GMM;
        int single = kind == DGM_TRACTABLE_GAUSSIAN || kind == DGM_TRACTABLE_BERNOULLI;
        s = stack(out, parts, C, gaussian, single, cfg, err);
    }
    if (!s) {
        dgm_model *m = *out;
        m->n_classes = C;
        if (!(m->log_prior = dgm_malloc_array((size_t)C, sizeof(double)))) {
            dgm_model_free(m);
            *out = NULL;
            s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
        } else {
            for (int c = 0; c < C; c++)
                m->log_prior[c] = log((double)count[c] / (double)n);
        }
    }
    for (int c = 0; parts && c < C; c++)
        dgm_model_free(parts[c]);
    free(parts);
    free(xc);
    free(count);
    return s;
}

dgm_status dgm_mixture_fit_info(dgm_mixture_info *out, const dgm_model *m, int cls,
                                dgm_err *err)
{
    int kind = dgm_tractable_kind_from_name(dgm_model_type(m));
    if (kind < 0)
        return dgm_errf(err, DGM_ERR_ARG, "a %s model is not a tractable baseline",
                        dgm_model_type(m));
    int gaussian = kind == DGM_TRACTABLE_GAUSSIAN || kind == DGM_TRACTABLE_GMM;
    size_t G = gaussian ? ((const dgm__gmm *)m->impl)->G : ((const dgm__bmm *)m->impl)->G;
    const dgm__fit_info *f = gaussian ? ((const dgm__gmm *)m->impl)->fit
                                      : ((const dgm__bmm *)m->impl)->fit;
    if (cls < 0 || (size_t)cls >= G)
        return dgm_errf(err, DGM_ERR_ARG, "class %d is outside 0..%zu", cls, G - 1);
    f += cls;
    *out = (dgm_mixture_info){f->n_iter, f->converged, f->lower_bound, f->log_likelihood, f->n};
    return DGM_OK;
}
