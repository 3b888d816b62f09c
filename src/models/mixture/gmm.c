/* Gaussian mixtures (and the single Gaussian, K = 1) as dgm_models: allocation, the
 * quantities derived from the float parameters, exact log p(x) by log-sum-exp over
 * components, ancestral sampling, the safetensors file and its loader, and the closed-form
 * view for KL.
 *
 * Reference: scikit-learn's GaussianMixture (sklearn/mixture/_gaussian_mixture.py): the
 * same attributes under the same names and shapes (weights_, means_, covariances_,
 * precisions_cholesky_), log N(x | mu, Sigma) = -D/2 log 2 pi + log det U - |(x - mu) U|^2 / 2
 * with U U^T = Sigma^{-1}, and the same parameter count for BIC/AIC.
 * Left out: scikit-learn's predict/predict_proba (responsibilities are internal to EM). */
#include "models/mixture/tractable.h"
#include "distributions/gaussian.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GMM(m) ((dgm__gmm *)(m)->impl)

static size_t cov_size(dgm_cov_type cov, size_t K, size_t D)
{
    switch (cov) {
    case DGM_COV_FULL: return K * D * D;
    case DGM_COV_TIED: return D * D;
    case DGM_COV_DIAG: return K * D;
    case DGM_COV_SPHERICAL: return K;
    }
    return 0;
}

size_t dgm__gmm_n_params(dgm_cov_type cov, size_t K, size_t D)
{
    size_t c = cov == DGM_COV_FULL ? K * D * (D + 1) / 2
             : cov == DGM_COV_TIED ? D * (D + 1) / 2 : cov_size(cov, K, D);
    return c + K * D + K - 1;
}

dgm__gmm *dgm__gmm_alloc(dgm_cov_type cov, size_t G, size_t K, size_t D)
{
    dgm__gmm *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->cov = cov;
    g->G = G;
    g->K = K;
    g->D = D;
    g->csize = cov_size(cov, K, D);
    size_t GK = G * K, GKD, GC;
    if (!dgm_size_mul(&GKD, GK, D) || !dgm_size_mul(&GC, G, g->csize)) {
        free(g);
        return NULL;
    }
    g->weights = dgm_calloc_array(GK, sizeof(float));
    g->means = dgm_calloc_array(GKD, sizeof(float));
    g->covariances = dgm_calloc_array(GC, sizeof(float));
    g->prec_chol = dgm_calloc_array(GC, sizeof(float));
    g->log_norm = dgm_calloc_array(GK, sizeof(double));
    g->wd = dgm_calloc_array(GK, sizeof(double));
    g->fit = dgm_calloc_array(G, sizeof(dgm__fit_info));
    if (!g->weights || !g->means || !g->covariances || !g->prec_chol ||
        !g->log_norm || !g->wd || !g->fit) {
        dgm__gmm_free(g);
        return NULL;
    }
    return g;
}

void dgm__gmm_free(void *impl)
{
    dgm__gmm *g = impl;
    if (!g)
        return;
    free(g->weights);
    free(g->means);
    free(g->covariances);
    free(g->prec_chol);
    free(g->log_norm);
    free(g->wd);
    free(g->mu_u);
    free(g->u_d);
    free(g->dist_mean);
    free(g->dist_var);
    free(g->dist_cov);
    free(g->fit);
    free(g);
}

/* Sigma = (U U^T)^{-1} = V^T V with V = U^{-1} (upper triangular, by back substitution):
 * the covariance the float precision factor defines, for the closed-form view. */
static void cov_from_prec(double *S, const float *U, double *V, size_t D)
{
    memset(V, 0, D * D * sizeof(double));
    for (size_t j = 0; j < D; j++) /* column j of V: U v = e_j, v_i = 0 below i > j */
        for (size_t i = j + 1; i-- > 0;) {
            double t = i == j ? 1.0 : 0.0;
            for (size_t k = i + 1; k <= j; k++)
                t -= (double)U[i * D + k] * V[k * D + j];
            V[i * D + j] = t / U[i * D + i];
        }
    for (size_t a = 0; a < D; a++)
        for (size_t b = 0; b < D; b++) {
            double t = 0;
            for (size_t k = 0; k <= (a < b ? a : b); k++)
                t += V[k * D + a] * V[k * D + b];
            S[a * D + b] = t;
        }
}

/* Validates the float parameters and computes log w + log det U - D/2 log 2 pi. The density
 * is defined by the precision factor U alone (scoring and sampling both use it), so the
 * float covariances, informative like scikit-learn's covariances_, need only be finite:
 * rounding them to float may even cost positive definiteness when reg_covar is tiny. */
dgm_status dgm__gmm_prepare(dgm__gmm *g, const char *where, dgm_err *err)
{
    const size_t G = g->G, K = g->K, D = g->D;
    const int square = g->cov == DGM_COV_FULL || g->cov == DGM_COV_TIED;
    for (size_t gi = 0; gi < G; gi++) {
        const float *w = g->weights + gi * K;
        const float *U = g->prec_chol + gi * g->csize;
        double wsum;
        dgm_status st = dgm__mix_check_weights(&wsum, w, K, gi, where, err);
        if (st)
            return st;
        if (!dgm_all_finite(g->means + gi * K * D, K * D) ||
            !dgm_all_finite(g->covariances + gi * g->csize, g->csize) ||
            !dgm_all_finite(U, g->csize))
            return dgm_errf(err, DGM_ERR_NAN, "%s: group %zu has a mean or covariance that is not "
                            "finite", where, gi);
        for (size_t k = 0; k < K; k++) {
            double logdet = 0;
            if (square) {
                const float *Uk = U + (g->cov == DGM_COV_FULL ? k * D * D : 0);
                for (size_t j = 0; j < D; j++) {
                    if (!(Uk[j * D + j] > 0))
                        return dgm_errf(err, DGM_ERR_FORMAT, "%s: precisions_cholesky of "
                                        "component %zu (group %zu) has diagonal entry %zu = %g",
                                        where, k, gi, j, (double)Uk[j * D + j]);
                    logdet += log(Uk[j * D + j]);
                }
            } else {
                const float *Uk = U + (g->cov == DGM_COV_DIAG ? k * D : k);
                for (size_t j = 0; j < (g->cov == DGM_COV_DIAG ? D : 1); j++) {
                    if (!(Uk[j] > 0))
                        return dgm_errf(err, DGM_ERR_FORMAT, "%s: variance %zu of component %zu "
                                        "(group %zu) is not positive", where, j, k, gi);
                    logdet += log(Uk[j]);
                }
                if (g->cov == DGM_COV_SPHERICAL)
                    logdet *= (double)D;
            }
            g->wd[gi * K + k] = w[k];
            g->log_norm[gi * K + k] = log(w[k] / wsum) + logdet - 0.5 * (double)D * DGM__LOG_2PI;
        }
    }
    if (!square) {
        if (!g->mu_u)
            g->mu_u = dgm_malloc_array(G * K, D * sizeof(double));
        if (!g->u_d)
            g->u_d = dgm_malloc_array(G * K, D * sizeof(double));
        if (!g->mu_u || !g->u_d)
            return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", where);
        for (size_t c = 0; c < G * K; c++)
            for (size_t j = 0; j < D; j++) {
                g->u_d[c * D + j] = g->cov == DGM_COV_DIAG ? g->prec_chol[c * D + j]
                                                           : g->prec_chol[c];
                g->mu_u[c * D + j] = g->means[c * D + j] * g->u_d[c * D + j];
            }
    }
    if (G != 1 || K != 1)
        return DGM_OK;
    /* the model is one Gaussian: keep double views for as_dist */
    free(g->dist_mean);
    free(g->dist_var);
    free(g->dist_cov);
    g->dist_var = g->dist_cov = NULL;
    double *V = square ? dgm_malloc_array(D * D, sizeof(double)) : NULL;
    g->dist_mean = dgm_malloc_array(D, sizeof(double));
    if (square)
        g->dist_cov = dgm_malloc_array(D * D, sizeof(double));
    else
        g->dist_var = dgm_malloc_array(D, sizeof(double));
    if (!g->dist_mean || (square && (!V || !g->dist_cov)) || (!square && !g->dist_var)) {
        free(V);
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", where);
    }
    for (size_t j = 0; j < D; j++)
        g->dist_mean[j] = g->means[j];
    if (square)
        cov_from_prec(g->dist_cov, g->prec_chol, V, D);
    for (size_t j = 0; !square && j < D; j++) {
        double u = g->prec_chol[g->cov == DGM_COV_DIAG ? j : 0];
        g->dist_var[j] = 1.0 / (u * u);
    }
    free(V);
    return DGM_OK;
}

// ---- model operations -------------------------------------------------------------

static dgm_status gmm_joint(double *out, const void *model, size_t group, const float *x,
                            const size_t *rows, size_t n, dgm_err *err)
{
    return dgm__gmm_log_joint(out, model, group, x, rows, n, err);
}

static dgm_status gmm_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                               const int32_t *y, size_t n, int k, dgm_err *err)
{
    (void)rng;
    (void)k;
    const dgm__gmm *g = GMM(m);
    for (size_t i = 0; i < n; i++)
        if (!dgm_all_finite(x + i * g->D, g->D))
            return dgm_errf(err, DGM_ERR_NAN, "example %zu holds NaN or infinity", i);
    return dgm__mix_log_prob(out, g, gmm_joint, g->G, g->K, x, y, n, err);
}

/* x = mu_k + U_k^{-T} z with z ~ N(0, I): then x - mu_k has covariance
 * U^{-T} U^{-1} = (U U^T)^{-1} = Sigma_k, and U^T v = z is a forward substitution, so the
 * draws follow exactly the density log_prob scores. k is drawn from the weights first.
 * Example i uses dgm_rng_fork(rng, i). */
static dgm_status gmm_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y,
                             size_t n, int mean, dgm_err *err)
{
    dgm__gmm *g = GMM(m);
    const size_t K = g->K, D = g->D;
    long nl = (long)n;
    int fail = 0;
#pragma omp parallel if (n * D * (g->cov <= DGM_COV_TIED ? D : 1) > DGM__PAR_MIN)
    {
        float *z = dgm_malloc_array(D, sizeof(float));
        double *v = dgm_malloc_array(D, sizeof(double));
        if (!z || !v) {
#pragma omp atomic write
            fail = 1;
        }
#pragma omp for schedule(static)
        for (long il = 0; il < nl; il++) {
            if (!z || !v)
                continue;
            size_t i = (size_t)il, gi = y && g->G > 1 ? (size_t)y[i] : 0;
            dgm_rng r;
            dgm_rng_fork(&r, rng, (uint64_t)i);
            size_t k = dgm_rng_categorical(&r, g->wd + gi * K, K);
            const float *mu = g->means + (gi * K + k) * D;
            const float *U = g->prec_chol + gi * g->csize;
            float *o = out + i * D;
            memcpy(o, mu, D * sizeof(float));
            if (mean)
                continue;
            dgm_rng_fill_normal(&r, z, D);
            switch (g->cov) {
            case DGM_COV_FULL:
            case DGM_COV_TIED: {
                const float *Uk = U + (g->cov == DGM_COV_FULL ? k * D * D : 0);
                for (size_t a = 0; a < D; a++) { /* (U^T)_{ab} = U_{ba} */
                    double t = z[a];
                    for (size_t b = 0; b < a; b++)
                        t -= (double)Uk[b * D + a] * v[b];
                    v[a] = t / Uk[a * D + a];
                    o[a] += (float)v[a];
                }
                break;
            }
            case DGM_COV_DIAG:
                for (size_t a = 0; a < D; a++)
                    o[a] += z[a] / U[k * D + a];
                break;
            case DGM_COV_SPHERICAL:
                for (size_t a = 0; a < D; a++)
                    o[a] += z[a] / U[k];
                break;
            }
        }
        free(z);
        free(v);
    }
    if (fail)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory drawing %zu samples", n);
    return DGM_OK;
}

static cJSON *gmm_config(const dgm_model *m)
{
    const dgm__gmm *g = GMM(m);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "covariance_type", dgm_cov_type_name(g->cov));
    cJSON_AddNumberToObject(c, "n_components", (double)g->K);
    return dgm__mix_fit_json(c, g->fit, &g->opts, g->G, 1, strcmp(m->ops->type, "gaussian"));
}

static dgm_status gmm_save(const dgm_model *m, const char *path, dgm_err *err)
{
    const dgm__gmm *g = GMM(m);
    const size_t G = g->G, K = g->K, D = g->D;
    dgm_st_tensor t[4] = {{"weights", g->weights, {0}, 0}, {"means", g->means, {0}, 0},
                          {"covariances", g->covariances, {0}, 0},
                          {"precisions_cholesky", g->prec_chol, {0}, 0}};
    size_t cs[3];
    int cn = 0;
    if (g->cov == DGM_COV_FULL || g->cov == DGM_COV_DIAG || g->cov == DGM_COV_SPHERICAL)
        cs[cn++] = K;
    if (g->cov == DGM_COV_FULL || g->cov == DGM_COV_TIED || g->cov == DGM_COV_DIAG)
        cs[cn++] = D;
    if (g->cov == DGM_COV_FULL || g->cov == DGM_COV_TIED)
        cs[cn++] = D;
    const size_t per[3][3] = {{K}, {K, D}, {0}};
    const int pern[2] = {1, 2};
    for (int i = 0; i < 4; i++) {
        int o = 0;
        if (m->n_classes > 0)
            t[i].shape[o++] = G;
        const size_t *src = i < 2 ? per[i] : cs;
        int nsrc = i < 2 ? pern[i] : cn;
        for (int j = 0; j < nsrc; j++)
            t[i].shape[o++] = src[j];
        t[i].ndim = o;
    }
    cJSON *cfg = gmm_config(m);
    dgm_status s = dgm__model_write(m, path, t, 4, cfg, NULL, err);
    cJSON_Delete(cfg);
    return s;
}

static void gmm_describe(const dgm_model *m, cJSON *o)
{
    cJSON_AddItemToObject(o, "config", gmm_config(m));
}

static dgm_status gmm_as_dist(const dgm_model *m, struct dgm_dist *out, dgm_err *err)
{
    const dgm__gmm *g = GMM(m);
    if (!g->dist_mean)
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "a %s model with %zu components%s is not a "
                        "single Gaussian", m->ops->type, g->K,
                        g->G > 1 ? " per class" : "");
    memset(out, 0, sizeof *out);
    out->dim = g->D;
    out->mean = g->dist_mean;
    if (g->dist_cov) {
        out->kind = DGM_DIST_GAUSS_FULL;
        out->cov = g->dist_cov;
    } else {
        out->kind = DGM_DIST_GAUSS_DIAG;
        out->var = g->dist_var;
    }
    return DGM_OK;
}

static const dgm__model_ops gaussian_ops = {
    .type = "gaussian", .log_prob = gmm_log_prob, .sample = gmm_sample, .save = gmm_save,
    .destroy = dgm__gmm_free, .describe = gmm_describe, .as_dist = gmm_as_dist};
static const dgm__model_ops gmm_ops = {
    .type = "gmm", .log_prob = gmm_log_prob, .sample = gmm_sample, .save = gmm_save,
    .destroy = dgm__gmm_free, .describe = gmm_describe, .as_dist = gmm_as_dist};

dgm_status dgm__gmm_model(dgm_model **out, dgm__gmm *g, int single, const dgm_mixture_cfg *cfg,
                          dgm_err *err)
{
    dgm_model *m = dgm__model_new(single ? &gaussian_ops : &gmm_ops, g);
    if (!m) {
        dgm__gmm_free(g);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    }
    m->dim = g->D;
    m->exact = 1;
    m->n_params = g->G * dgm__gmm_n_params(g->cov, g->K, g->D);
    snprintf(m->likelihood, sizeof m->likelihood, "%s",
             cfg && cfg->likelihood ? cfg->likelihood : "continuous");
    if (cfg && cfg->height * cfg->width == g->D) {
        m->height = cfg->height;
        m->width = cfg->width;
    }
    *out = m;
    return DGM_OK;
}

// ---- loading ----------------------------------------------------------------------

dgm_status dgm__gmm_load(dgm_model **out, const dgm_st_file *f, const cJSON *config,
                         const char *path, dgm_err *err)
{
    dgm_model tmp;
    dgm_status s = dgm__model_peek_common(&tmp, config, path, err);
    if (s)
        return s;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(config, "model");
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(config, "covariance_type");
    int cov = cJSON_IsString(ct) ? dgm_cov_type_from_name(ct->valuestring) : -1;
    size_t K;
    if (cov < 0)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged model: covariance_type missing or "
                        "invalid", path);
    if ((s = dgm__mix_read_K(&K, config, path, err)))
        return s;
    size_t G = tmp.n_classes > 0 ? (size_t)tmp.n_classes : 1;
    /* the values the shapes call for must be in the file before anything is allocated: a
     * damaged dim (10^9) would otherwise reserve gigabytes for a small file */
    size_t GK, GKD, DD, GC = 0, total = dgm__st_total(f);
    int ok = dgm_size_mul(&GK, G, K) && dgm_size_mul(&GKD, GK, tmp.dim) &&
             dgm_size_mul(&DD, tmp.dim, tmp.dim);
    if (ok)
        ok = cov == DGM_COV_FULL ? dgm_size_mul(&GC, GK, DD) : cov == DGM_COV_TIED
             ? dgm_size_mul(&GC, G, DD) : (GC = cov == DGM_COV_DIAG ? GKD : GK, 1);
    if (!ok || GKD > total || GC > total) /* each alone: missing tensors get their own message */
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged model: %zu components of dimension "
                        "%zu need more values than the file holds (%zu)", path, K, tmp.dim, total);
    dgm__gmm *g = dgm__gmm_alloc((dgm_cov_type)cov, G, K, tmp.dim);
    if (!g)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for %zu components of dimension "
                        "%zu", path, K, tmp.dim);
    struct { const char *name; float *dst; size_t n; } want[4] = {
        {"weights", g->weights, G * g->K}, {"means", g->means, G * g->K * g->D},
        {"covariances", g->covariances, G * g->csize},
        {"precisions_cholesky", g->prec_chol, G * g->csize}};
    for (int i = 0; i < 4; i++) {
        const float *src = dgm__st_expect(f, want[i].name, want[i].n, path, err);
        if (!src) {
            dgm__gmm_free(g);
            return err ? err->code : DGM_ERR_FORMAT;
        }
        memcpy(want[i].dst, src, want[i].n * sizeof(float));
    }
    dgm__mix_read_fit(g->fit, &g->opts, G, config);
    if ((s = dgm__gmm_prepare(g, path, err))) {
        dgm__gmm_free(g);
        return s;
    }
    dgm_model *m;
    int single = cJSON_IsString(type) && !strcmp(type->valuestring, "gaussian");
    if ((s = dgm__gmm_model(&m, g, single, NULL, err)))
        return s;
    return dgm__model_finish_load(out, m, config, path, err);
}
