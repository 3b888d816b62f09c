/* Products and mixtures of Bernoullis for binary data as dgm_models: allocation, derived
 * log-parameters, exact log p(x) = logsumexp_k [log w_k + sum_j x_j logit p_kj +
 * log(1 - p_kj)], ancestral sampling, the safetensors file and its loader, the closed-form
 * view for KL, and the product's closed-form fit (p = the clamped mean of each pixel).
 *
 * Reference: Bishop, PRML section 9.3.3 (mixtures of Bernoulli distributions, eq. 9.44-9.48);
 * torch.distributions.Bernoulli(probs) for the parameter name "probs".
 * Probabilities are kept in [min_prob, 1 - min_prob] (min_prob > 0) so that no pixel value
 * has probability 0: a log-likelihood is then always finite, and the clamp is the exact
 * maximiser of EM's objective under that box constraint, so EM stays monotone.
 * Left out: Beta priors (MAP) and continuous Bernoulli likelihoods for grey levels. */
#include "models/mixture/tractable.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BMM(m) ((dgm__bmm *)(m)->impl)

dgm__bmm *dgm__bmm_alloc(size_t G, size_t K, size_t D)
{
    dgm__bmm *b = calloc(1, sizeof *b);
    size_t GK = G * K, GKD;
    if (!b || !dgm_size_mul(&GKD, GK, D)) {
        free(b);
        return NULL;
    }
    b->G = G;
    b->K = K;
    b->D = D;
    b->weights = dgm_calloc_array(GK, sizeof(float));
    b->probs = dgm_calloc_array(GKD, sizeof(float));
    b->logit = dgm_calloc_array(GKD, sizeof(double));
    b->log_norm = dgm_calloc_array(GK, sizeof(double));
    b->wd = dgm_calloc_array(GK, sizeof(double));
    b->fit = dgm_calloc_array(G, sizeof(dgm__fit_info));
    if (!b->weights || !b->probs || !b->logit || !b->log_norm || !b->wd || !b->fit) {
        dgm__bmm_free(b);
        return NULL;
    }
    return b;
}

void dgm__bmm_free(void *impl)
{
    dgm__bmm *b = impl;
    if (!b)
        return;
    free(b->weights);
    free(b->probs);
    free(b->logit);
    free(b->log_norm);
    free(b->wd);
    free(b->dist_p);
    free(b->fit);
    free(b);
}

dgm_status dgm__bmm_prepare(dgm__bmm *b, const char *where, dgm_err *err)
{
    const size_t K = b->K, D = b->D;
    for (size_t g = 0; g < b->G; g++) {
        const float *w = b->weights + g * K;
        double wsum;
        dgm_status st = dgm__mix_check_weights(&wsum, w, K, g, where, err);
        if (st)
            return st;
        for (size_t k = 0; k < K; k++) {
            const float *p = b->probs + (g * K + k) * D;
            double *lg = b->logit + (g * K + k) * D, l1m = 0;
            for (size_t j = 0; j < D; j++) {
                if (!(p[j] > 0 && p[j] < 1))
                    return dgm_errf(err, DGM_ERR_FORMAT, "%s: probability %g of pixel %zu in "
                                    "component %zu (group %zu) is not strictly between 0 and 1",
                                    where, (double)p[j], j, k, g);
                double q = log1p(-(double)p[j]);
                lg[j] = log(p[j]) - q;
                l1m += q;
            }
            b->wd[g * K + k] = w[k];
            b->log_norm[g * K + k] = log(w[k] / wsum) + l1m;
        }
    }
    if (b->G == 1 && K == 1) {
        free(b->dist_p);
        if (!(b->dist_p = dgm_malloc_array(D, sizeof(double))))
            return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", where);
        for (size_t j = 0; j < D; j++)
            b->dist_p[j] = b->probs[j];
    }
    return DGM_OK;
}

/* Four rows at a time share each load of the logits (as the Gaussian kernel, gmm_score.c);
 * every row keeps its own accumulator, so its value does not depend on its neighbours. */
void dgm__bmm_log_joint(double *out, const dgm__bmm *b, size_t group, const float *x,
                        const size_t *rows, size_t n)
{
    const size_t K = b->K, D = b->D;
    const double *lg = b->logit + group * K * D, *ln = b->log_norm + group * K;
    long nb = (long)((n + 3) / 4);
#pragma omp parallel for schedule(static) if (n * K * D > DGM__PAR_MIN)
    for (long bl = 0; bl < nb; bl++) {
        size_t i0 = 4 * (size_t)bl, m = n - i0 < 4 ? n - i0 : 4;
        const float *xr[4];
        for (size_t r = 0; r < 4; r++) {
            size_t i = i0 + (r < m ? r : 0);
            xr[r] = x + (rows ? rows[i] : i) * D;
        }
        const float *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3];
        for (size_t k = 0; k < K; k++) {
            const double *l = lg + k * D;
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+:s0, s1, s2, s3)
            for (size_t j = 0; j < D; j++) {
                s0 += x0[j] * l[j];
                s1 += x1[j] * l[j];
                s2 += x2[j] * l[j];
                s3 += x3[j] * l[j];
            }
            double s[4] = {s0, s1, s2, s3};
            for (size_t r = 0; r < m; r++)
                out[(i0 + r) * K + k] = ln[k] + s[r];
        }
    }
}

int dgm__find_nonbinary(const float *x, size_t n, size_t D, size_t *row, size_t *col)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < D; j++)
            if (x[i * D + j] != 0.0f && x[i * D + j] != 1.0f) {
                *row = i;
                *col = j;
                return 1;
            }
    return 0;
}

// ---- model operations -------------------------------------------------------------

static dgm_status bmm_joint(double *out, const void *model, size_t group, const float *x,
                            const size_t *rows, size_t n, dgm_err *err)
{
    (void)err;
    dgm__bmm_log_joint(out, model, group, x, rows, n);
    return DGM_OK;
}

static dgm_status bmm_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                               const int32_t *y, size_t n, int k, dgm_err *err)
{
    (void)rng;
    (void)k;
    const dgm__bmm *b = BMM(m);
    size_t r, c;
    if (dgm__find_nonbinary(x, n, b->D, &r, &c))
        return dgm_errf(err, DGM_ERR_ARG, "example %zu, dimension %zu is %g: a %s model needs "
                        "0/1 data (binarize first)", r, c, (double)x[r * b->D + c], m->ops->type);
    return dgm__mix_log_prob(out, b, bmm_joint, b->G, b->K, x, y, n, err);
}

/* k from the weights, then each pixel; mean gives the component's probabilities. */
static dgm_status bmm_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y,
                             size_t n, int mean, dgm_err *err)
{
    (void)err;
    const dgm__bmm *b = BMM(m);
    const size_t K = b->K, D = b->D;
    long nl = (long)n;
#pragma omp parallel for schedule(static) if (n * D > DGM__PAR_MIN / 8)
    for (long il = 0; il < nl; il++) {
        size_t i = (size_t)il, g = y && b->G > 1 ? (size_t)y[i] : 0;
        dgm_rng r;
        dgm_rng_fork(&r, rng, (uint64_t)i);
        size_t k = dgm_rng_categorical(&r, b->wd + g * K, K);
        const float *p = b->probs + (g * K + k) * D;
        float *o = out + i * D;
        for (size_t j = 0; j < D; j++)
            o[j] = mean ? p[j] : (float)dgm_rng_bernoulli(&r, p[j]);
    }
    return DGM_OK;
}

static cJSON *bmm_config(const dgm_model *m)
{
    const dgm__bmm *b = BMM(m);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "n_components", (double)b->K);
    return dgm__mix_fit_json(c, b->fit, &b->opts, b->G, 0, strcmp(m->ops->type, "bernoulli"));
}

static dgm_status bmm_save(const dgm_model *m, const char *path, dgm_err *err)
{
    const dgm__bmm *b = BMM(m);
    dgm_st_tensor t[2] = {{"weights", b->weights, {0}, 0}, {"probs", b->probs, {0}, 0}};
    for (int i = 0; i < 2; i++) {
        if (m->n_classes > 0)
            t[i].shape[t[i].ndim++] = b->G;
        t[i].shape[t[i].ndim++] = b->K;
        if (i == 1)
            t[i].shape[t[i].ndim++] = b->D;
    }
    cJSON *cfg = bmm_config(m);
    dgm_status s = dgm__model_write(m, path, t, 2, cfg, NULL, err);
    cJSON_Delete(cfg);
    return s;
}

static void bmm_describe(const dgm_model *m, cJSON *o)
{
    cJSON_AddItemToObject(o, "config", bmm_config(m));
}

static dgm_status bmm_as_dist(const dgm_model *m, struct dgm_dist *out, dgm_err *err)
{
    const dgm__bmm *b = BMM(m);
    if (!b->dist_p)
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "a %s model with %zu components%s is not a "
                        "product of Bernoullis", m->ops->type, b->K, b->G > 1 ? " per class" : "");
    memset(out, 0, sizeof *out);
    out->kind = DGM_DIST_BERNOULLI;
    out->dim = b->D;
    out->p = b->dist_p;
    return DGM_OK;
}

static const dgm__model_ops bernoulli_ops = {
    .type = "bernoulli", .log_prob = bmm_log_prob, .sample = bmm_sample, .save = bmm_save,
    .destroy = dgm__bmm_free, .describe = bmm_describe, .as_dist = bmm_as_dist};
static const dgm__model_ops bmm_ops = {
    .type = "bernoulli-mixture", .log_prob = bmm_log_prob, .sample = bmm_sample,
    .save = bmm_save, .destroy = dgm__bmm_free, .describe = bmm_describe,
    .as_dist = bmm_as_dist};

dgm_status dgm__bmm_model(dgm_model **out, dgm__bmm *b, int single, const dgm_mixture_cfg *cfg,
                          dgm_err *err)
{
    dgm_model *m = dgm__model_new(single ? &bernoulli_ops : &bmm_ops, b);
    if (!m) {
        dgm__bmm_free(b);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    }
    m->dim = b->D;
    m->exact = 1;
    m->n_params = b->G * (b->K * b->D + b->K - 1);
    snprintf(m->likelihood, sizeof m->likelihood, "%s",
             cfg && cfg->likelihood ? cfg->likelihood : "binary");
    if (cfg && cfg->height * cfg->width == b->D) {
        m->height = cfg->height;
        m->width = cfg->width;
    }
    *out = m;
    return DGM_OK;
}

dgm_status dgm__bernoulli_load(dgm_model **out, const dgm_st_file *f, const cJSON *config,
                               const char *path, dgm_err *err)
{
    dgm_model tmp;
    dgm_status s = dgm__model_peek_common(&tmp, config, path, err);
    if (s)
        return s;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(config, "model");
    size_t K;
    if ((s = dgm__mix_read_K(&K, config, path, err)))
        return s;
    size_t G = tmp.n_classes > 0 ? (size_t)tmp.n_classes : 1, GK, GKD;
    /* the shapes' values must be in the file before anything of their size is allocated */
    if (!dgm_size_mul(&GK, G, K) || !dgm_size_mul(&GKD, GK, tmp.dim) || GKD > dgm__st_total(f))
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged model: %zu components of dimension "
                        "%zu need more values than the file holds", path, K, tmp.dim);
    dgm__bmm *b = dgm__bmm_alloc(G, K, tmp.dim);
    if (!b)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    const float *w = dgm__st_expect(f, "weights", G * K, path, err);
    const float *p = w ? dgm__st_expect(f, "probs", G * K * tmp.dim, path, err) : NULL;
    if (!p) {
        dgm__bmm_free(b);
        return err ? err->code : DGM_ERR_FORMAT;
    }
    memcpy(b->weights, w, G * K * sizeof(float));
    memcpy(b->probs, p, G * K * tmp.dim * sizeof(float));
    dgm__mix_read_fit(b->fit, &b->opts, G, config);
    if ((s = dgm__bmm_prepare(b, path, err))) {
        dgm__bmm_free(b);
        return s;
    }
    dgm_model *m;
    int single = cJSON_IsString(type) && !strcmp(type->valuestring, "bernoulli");
    if ((s = dgm__bmm_model(&m, b, single, NULL, err)))
        return s;
    return dgm__model_finish_load(out, m, config, path, err);
}

// ---- the product of Bernoullis: closed form ----------------------------------------

dgm_status dgm__bmm_check(const float *x, size_t n, size_t d, size_t K, double min_prob,
                          const char *what, dgm_err *err)
{
    if (!(min_prob > 0 && min_prob < 0.5))
        return dgm_errf(err, DGM_ERR_ARG, "%s: min_prob must be in (0, 0.5) (got %g)", what,
                        min_prob);
    dgm_status s = dgm__mix_check(x, n, d, K, what, err);
    size_t r, c;
    if (!s && dgm__find_nonbinary(x, n, d, &r, &c))
        return dgm_errf(err, DGM_ERR_ARG, "%s: example %zu, dimension %zu is %g: Bernoulli "
                        "models need 0/1 data (binarize first)", what, r, c, (double)x[r * d + c]);
    return s;
}

float dgm__clamp_prob(double p, double lo)
{
    float f = (float)(p < lo ? lo : p > 1 - lo ? 1 - lo : p);
    /* rounding to float may step outside (0, 1) only for lo below float resolution */
    return f <= 0 ? (float)lo : f >= 1 ? nextafterf(1.0f, 0.0f) : f;
}

dgm_status dgm_bernoulli_fit(dgm_model **out, const float *x, size_t n, size_t d,
                             const dgm_mixture_cfg *cfg, dgm_err *err)
{
    *out = NULL;
    dgm_status s = dgm__bmm_check(x, n, d, 1, cfg->min_prob, "bernoulli", err);
    if (s)
        return s;
    dgm__bmm *b = dgm__bmm_alloc(1, 1, d);
    double *ll = dgm_malloc_array(n, sizeof(double));
    if (!b || !ll) {
        dgm__bmm_free(b);
        free(ll);
        return dgm_errf(err, DGM_ERR_NOMEM, "bernoulli: out of memory");
    }
    b->opts = dgm__mix_opts_of(cfg);
    b->weights[0] = 1;
    for (size_t j = 0; j < d; j++) {
        double c = 0;
        for (size_t i = 0; i < n; i++)
            c += x[i * d + j];
        b->probs[j] = dgm__clamp_prob(c / (double)n, cfg->min_prob);
    }
    if ((s = dgm__bmm_prepare(b, "bernoulli", err))) {
        dgm__bmm_free(b);
        free(ll);
        return s;
    }
    dgm__bmm_log_joint(ll, b, 0, x, NULL, n);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += ll[i];
    free(ll);
    b->fit[0] = (dgm__fit_info){.n_iter = 1, .converged = 1, .lower_bound = sum / (double)n,
                                .log_likelihood = sum / (double)n, .n = n};
    return dgm__bmm_model(out, b, 1, cfg, err);
}
