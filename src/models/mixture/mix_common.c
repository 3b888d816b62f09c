/* The lowest file of the tractable baselines, shared by all the others and calling none
 * of them (tractable.h gives the order): the names of covariance types and
 * initialisations, the fit options and fit info in the config JSON, log p(x) from a
 * per-component log joint by log-sum-exp over components (rows bucketed by class), and
 * the checks every fit and loader makes on its data and weights.
 * Reference: the names are sklearn.mixture.GaussianMixture's (covariance_type,
 * init_params). */
#include "models/mixture/mix_common.h"
#include "core/par.h"

#include <omp.h>

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const cov_names[] = {"full", "tied", "diag", "spherical"};
static const char *const init_names[] = {"kmeans", "k-means++", "random"};

int dgm__mix_find_name(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

int dgm_cov_type_from_name(const char *name) { return dgm__mix_find_name(cov_names, 4, name); }
const char *dgm_cov_type_name(dgm_cov_type c) { return (unsigned)c < 4 ? cov_names[c] : "?"; }
const char *dgm_mixture_init_name(dgm_mixture_init i) { return (unsigned)i < 3 ? init_names[i] : "?"; }

int dgm_mixture_init_from_name(const char *name)
{
    if (name && !strcmp(name, "kmeans++"))
        return DGM_INIT_KMEANSPP;
    return dgm__mix_find_name(init_names, 3, name);
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
    /* a non-finite value (1e999 parses as inf) is treated as missing: it could not be
     * written back (JSON has no inf; cJSON prints null), so the model would not round-trip */
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : dflt;
}

/* A count from the config: 0 unless an integer-valued number in 0..INT_MAX (a damaged
 * 1e11 converted to int would be undefined behaviour). */
static int jcount(const cJSON *o, const char *key)
{
    double v = jnum(o, key, 0);
    return v >= 0 && v <= INT_MAX ? (int)v : 0;
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
    o->max_iter = jcount(config, "max_iter");
    o->n_init = jcount(config, "n_init");
    const cJSON *init = cJSON_GetObjectItemCaseSensitive(config, "init");
    int i = cJSON_IsString(init) ? dgm_mixture_init_from_name(init->valuestring) : -1;
    o->init = i < 0 ? DGM_INIT_KMEANS : (dgm_mixture_init)i;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(config, "fit");
    for (size_t g = 0; g < G; g++) {
        const cJSON *e = cJSON_IsArray(a) && cJSON_GetArraySize(a) == (int)G
                       ? cJSON_GetArrayItem(a, (int)g) : NULL;
        f[g].n_iter = jcount(e, "n_iter");
        f[g].converged = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "converged"));
        f[g].best_init = jcount(e, "best_init");
        f[g].lower_bound = jnum(e, "lower_bound", NAN);
        f[g].log_likelihood = jnum(e, "log_likelihood", NAN);
        double n_train = jnum(e, "n_train", 0);
        f[g].n = n_train >= 0 && n_train < 9007199254740992.0 ? (size_t)n_train : 0;
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

dgm_status dgm__mix_check(const float *x, size_t n, size_t d, size_t K, const char *what,
                          dgm_err *err)
{
    if (d == 0)
        return dgm_errf(err, DGM_ERR_SHAPE, "%s: the data have dimension 0", what);
    if (n == 0)
        return dgm_errf(err, DGM_ERR_SHAPE, "%s: no examples to fit", what);
    if (K == 0)
        return dgm_errf(err, DGM_ERR_ARG, "%s: n_components must be at least 1", what);
    if (K > n)
        return dgm_errf(err, DGM_ERR_ARG, "%s: %zu components but only %zu examples (need "
                        "n_components <= examples)", what, K, n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            if (!isfinite(x[i * d + j]))
                return dgm_errf(err, DGM_ERR_NAN, "%s: example %zu, dimension %zu is %g", what, i,
                                j, (double)x[i * d + j]);
    return DGM_OK;
}

dgm_status dgm__mix_check_weights(double *wsum_out, const float *w, size_t K, size_t g,
                                  const char *where, dgm_err *err)
{
    double wsum = 0;
    for (size_t k = 0; k < K; k++) {
        if (!(w[k] >= 0) || !isfinite(w[k]))
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: weight %g of component %zu (group %zu) "
                            "is not a probability", where, (double)w[k], k, g);
        wsum += w[k];
    }
    if (!(wsum > 0))
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: the weights of group %zu add up to 0", where, g);
    *wsum_out = wsum;
    return DGM_OK;
}

void dgm__mix_gemm(dgm_trans ta, dgm_trans tb, size_t M, size_t N, size_t K, float alpha,
                   const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                   size_t ldc)
{
    enum { ROWS = 64 };
    long nblk = (long)((M + ROWS - 1) / ROWS);
#pragma omp parallel if (nblk > 1 && M * N * K > DGM__PAR_MIN)
    {
        omp_set_num_threads(1); /* nested regions of the product, if any, on this thread */
#pragma omp for schedule(static)
        for (long b = 0; b < nblk; b++) {
            size_t i0 = (size_t)b * ROWS, m = M - i0 < ROWS ? M - i0 : ROWS;
            const float *Ab = ta == DGM_NOTRANS ? A + i0 * lda : A + i0;
            dgm_gemm(ta, tb, m, N, K, alpha, Ab, lda, B, ldb, beta, C + i0 * ldc, ldc);
        }
    }
}
