/* The public face of the tractable baselines that is not one model's: defaults and names,
 * fitting any of them per class into one class-conditional model, the fit summary, and the
 * pieces their model files share (options and fit info in the config JSON, log p(x) from
 * a per-component log joint by log-sum-exp over components, rows bucketed by class).
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

static const char *const cov_names[] = {"full", "tied", "diag", "spherical"};
static const char *const init_names[] = {"kmeans", "k-means++", "random"};
static const char *const kind_names[] = {"gaussian", "gmm", "bernoulli", "bernoulli-mixture"};

static int find_name(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

int dgm_cov_type_from_name(const char *name) { return find_name(cov_names, 4, name); }
const char *dgm_cov_type_name(dgm_cov_type c) { return (unsigned)c < 4 ? cov_names[c] : "?"; }
const char *dgm_mixture_init_name(dgm_mixture_init i) { return (unsigned)i < 3 ? init_names[i] : "?"; }
int dgm_tractable_kind_from_name(const char *name) { return find_name(kind_names, 4, name); }
const char *dgm_tractable_kind_name(dgm_tractable_kind k) { return (unsigned)k < 4 ? kind_names[k] : "?"; }

int dgm_mixture_init_from_name(const char *name)
{
    if (name && !strcmp(name, "kmeans++"))
        return DGM_INIT_KMEANSPP;
    return find_name(init_names, 3, name);
}

dgm__mix_opts dgm__mix_opts_of(const dgm_mixture_cfg *cfg)
{
    dgm__mix_opts o = {cfg->reg_covar, cfg->min_prob, cfg->tol, cfg->max_iter, cfg->n_init,
                       cfg->init};
    return o;
}

cJSON *dgm__mix_fit_json(cJSON *c, const dgm__fit_info *f, const dgm__mix_opts *o, size_t G,
                         int gaussian, int em)
{
    if (gaussian)
        cJSON_AddNumberToObject(c, "reg_covar", o->reg_covar);
    else
        cJSON_AddNumberToObject(c, "min_prob", o->min_prob);
    if (em) {
        cJSON_AddNumberToObject(c, "tol", o->tol);
        cJSON_AddNumberToObject(c, "max_iter", o->max_iter);
        cJSON_AddNumberToObject(c, "n_init", o->n_init);
        cJSON_AddStringToObject(c, "init", dgm_mixture_init_name(o->init));
    }
    cJSON *a = cJSON_AddArrayToObject(c, "fit");
    for (size_t i = 0; i < G; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "n_iter", f[i].n_iter);
        cJSON_AddBoolToObject(e, "converged", f[i].converged);
        cJSON_AddNumberToObject(e, "best_init", f[i].best_init);
        cJSON_AddNumberToObject(e, "lower_bound", f[i].lower_bound);
        cJSON_AddNumberToObject(e, "log_likelihood", f[i].log_likelihood);
        cJSON_AddNumberToObject(e, "n_train", (double)f[i].n);
        cJSON_AddItemToArray(a, e);
    }
    return c;
}

static double jnum(const cJSON *o, const char *key, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

dgm_status dgm__mix_read_K(size_t *K, const cJSON *config, const char *path, dgm_err *err)
{
    double k = jnum(config, "n_components", -1);
    if (!(k >= 1 && k <= 1e6) || k != floor(k))
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged model: n_components missing or "
                        "invalid", path);
    *K = (size_t)k;
    return DGM_OK;
}

void dgm__mix_read_fit(dgm__fit_info *f, dgm__mix_opts *o, size_t G, const cJSON *config)
{
    o->reg_covar = jnum(config, "reg_covar", 0);
    o->min_prob = jnum(config, "min_prob", 0);
    o->tol = jnum(config, "tol", 0);
    o->max_iter = (int)jnum(config, "max_iter", 0);
    o->n_init = (int)jnum(config, "n_init", 0);
    const cJSON *init = cJSON_GetObjectItemCaseSensitive(config, "init");
    int i = cJSON_IsString(init) ? dgm_mixture_init_from_name(init->valuestring) : -1;
    o->init = i < 0 ? DGM_INIT_KMEANS : (dgm_mixture_init)i;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(config, "fit");
    for (size_t g = 0; g < G; g++) {
        const cJSON *e = cJSON_IsArray(a) && cJSON_GetArraySize(a) == (int)G
                       ? cJSON_GetArrayItem(a, (int)g) : NULL;
        f[g].n_iter = (int)jnum(e, "n_iter", 0);
        f[g].converged = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "converged"));
        f[g].best_init = (int)jnum(e, "best_init", 0);
        f[g].lower_bound = jnum(e, "lower_bound", NAN);
        f[g].log_likelihood = jnum(e, "log_likelihood", NAN);
        f[g].n = (size_t)jnum(e, "n_train", 0);
    }
}

#define CHUNK 4096 /* rows scored at a time, to bound the K-wide scratch */

dgm_status dgm__mix_log_prob(double *out, const void *model, dgm__joint_fn joint, size_t G,
                             size_t K, const float *x, const int32_t *y, size_t n, dgm_err *err)
{
    if (n == 0)
        return DGM_OK;
    size_t *rows = dgm_malloc_array(n, sizeof(size_t));
    size_t *start = dgm_calloc_array(G + 1, sizeof(size_t));
    double *lj = dgm_malloc_array(n < CHUNK ? n : CHUNK, K * sizeof(double));
    dgm_status s = DGM_OK;
    if (!rows || !start || !lj) {
        s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory scoring %zu examples", n);
        goto done;
    }
    /* counting sort of the rows by group, so each group's parameters score a run of rows */
    for (size_t i = 0; i < n; i++)
        start[(G > 1 ? (size_t)y[i] : 0) + 1]++;
    for (size_t c = 0; c < G; c++)
        start[c + 1] += start[c];
    for (size_t i = 0; i < n; i++)
        rows[start[G > 1 ? (size_t)y[i] : 0]++] = i;
    for (size_t c = G; c > 0; c--)
        start[c] = start[c - 1];
    start[0] = 0;
    for (size_t c = 0; c < G && !s; c++)
        for (size_t a = start[c]; a < start[c + 1] && !s; a += CHUNK) {
            size_t m = start[c + 1] - a < CHUNK ? start[c + 1] - a : CHUNK;
            s = joint(lj, model, c, x, rows + a, m, err);
            for (size_t i = 0; !s && i < m; i++)
                out[rows[a + i]] = dgm_logsumexp_d(lj + i * K, K);
        }
done:
    free(rows);
    free(start);
    free(lj);
    return s;
}

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
