/* Reference pieces for the tractable-model tests, written independently of src/models:
 * a double Cholesky, the Gaussian log-density from a covariance (not from the model's
 * precision factor), a sampler for a known mixture, reading a model's tensors back through
 * the public safetensors reader, and writing a model file with known parameters so that
 * log_prob and sample can be checked against closed forms. */
#ifndef DGM_TEST_GMM_UTIL_H
#define DGM_TEST_GMM_UTIL_H

#include "dgm_blocks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* L (lower) with L L^T = A; 0 if A is not positive definite. */
static inline int ref_chol(double *L, const double *A, size_t D)
{
    memset(L, 0, D * D * sizeof(double));
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j <= i; j++) {
            double s = A[i * D + j];
            for (size_t k = 0; k < j; k++)
                s -= L[i * D + k] * L[j * D + k];
            if (i == j) {
                if (!(s > 0))
                    return 0;
                L[i * D + i] = sqrt(s);
            } else {
                L[i * D + j] = s / L[j * D + j];
            }
        }
    return 1;
}

/* log N(x | mu, cov) in double by forward substitution with chol(cov). */
static inline double ref_logpdf(const double *x, const double *mu, const double *cov, size_t D)
{
    double L[64 * 64], z[64];
    if (D > 64 || !ref_chol(L, cov, D))
        return NAN;
    double q = 0, logdet = 0;
    for (size_t i = 0; i < D; i++) {
        double s = x[i] - mu[i];
        for (size_t k = 0; k < i; k++)
            s -= L[i * D + k] * z[k];
        z[i] = s / L[i * D + i];
        q += z[i] * z[i];
        logdet += log(L[i * D + i]);
    }
    return -0.5 * (double)D * log(2 * M_PI) - logdet - 0.5 * q;
}

/* log sum_k w_k N(x | mu_k, cov_k); cov is K x D x D. */
static inline double ref_mix_logpdf(const double *x, size_t K, size_t D, const double *w,
                             const double *mu, const double *cov)
{
    double l[64], m = -INFINITY, s = 0;
    for (size_t k = 0; k < K; k++) {
        l[k] = log(w[k]) + ref_logpdf(x, mu + k * D, cov + k * D * D, D);
        m = l[k] > m ? l[k] : m;
    }
    for (size_t k = 0; k < K; k++)
        s += exp(l[k] - m);
    return m + log(s);
}

/* n draws from the mixture (component k with probability w_k, then mu_k + chol(cov_k) z),
 * with the component of each draw in comp (may be NULL). */
static inline void ref_sample(dgm_rng *r, float *x, int32_t *comp, size_t n, size_t K, size_t D,
                       const double *w, const double *mu, const double *cov)
{
    double L[16 * 64 * 64], z[64];
    for (size_t k = 0; k < K; k++)
        ref_chol(L + k * D * D, cov + k * D * D, D);
    for (size_t i = 0; i < n; i++) {
        size_t k = dgm_rng_categorical(r, w, K);
        if (comp)
            comp[i] = (int32_t)k;
        for (size_t a = 0; a < D; a++)
            z[a] = dgm_rng_normal(r);
        for (size_t a = 0; a < D; a++) {
            double s = mu[k * D + a];
            for (size_t b = 0; b <= a; b++)
                s += L[k * D * D + a * D + b] * z[b];
            x[i * D + a] = (float)s;
        }
    }
}

/* Round to float and back, so references use exactly the stored values. */
static inline void round_f(double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)v[i];
}

/* Copies tensor `name` of the model saved at path into out (n floats); 1 on success. */
static inline int read_tensor(float *out, size_t n, const char *path, const char *name)
{
    dgm_st_file *f;
    dgm_err err = {0};
    if (dgm_safetensors_read(&f, path, &err))
        return 0;
    const dgm_st_tensor *t = dgm_st_find(f, name);
    size_t got = 1;
    for (int i = 0; t && i < t->ndim; i++)
        got *= t->shape[i];
    int ok = t && got == n;
    if (ok)
        memcpy(out, t->data, n * sizeof(float));
    dgm_safetensors_free(f);
    return ok;
}

/* Writes a "gmm" model file with the given weights, means and full covariances
 * (K x D x D, converted to the layout of cov_type: "full", "tied" (uses cov_0), "diag"
 * (the diagonals), "spherical" (the mean of each diagonal)); precisions_cholesky is
 * computed here as L^{-T}. Values should be float-rounded already. */
static inline int write_gmm(const char *path, const char *cov_type, size_t K, size_t D,
                     const double *w, const double *mu, const double *cov)
{
    int full = !strcmp(cov_type, "full"), tied = !strcmp(cov_type, "tied");
    int diag = !strcmp(cov_type, "diag");
    size_t cs = full ? K * D * D : tied ? D * D : diag ? K * D : K;
    float *fw = calloc(K, 4), *fm = calloc(K * D, 4), *fc = calloc(cs, 4), *fu = calloc(cs, 4);
    double L[64 * 64];
    for (size_t k = 0; k < K; k++) {
        fw[k] = (float)w[k];
        for (size_t j = 0; j < D; j++)
            fm[k * D + j] = (float)mu[k * D + j];
    }
    for (size_t k = 0; k < (full ? K : tied ? 1 : 0); k++) {
        const double *C = cov + k * D * D;
        ref_chol(L, C, D);
        /* U = L^{-T}: column j of L^{-1} by forward substitution, stored as row j of U */
        for (size_t j = 0; j < D; j++) {
            double e[64];
            for (size_t i = 0; i < D; i++) {
                double s = i == j ? 1.0 : 0.0;
                for (size_t m = 0; m < i; m++)
                    s -= L[i * D + m] * e[m];
                e[i] = s / L[i * D + i];
            }
            for (size_t i = 0; i < D; i++) /* (L^{-1})_{ij} = e[i] -> U_{ji} */
                fu[k * D * D + j * D + i] = (float)e[i];
        }
        for (size_t i = 0; i < D * D; i++)
            fc[k * D * D + i] = (float)C[i];
    }
    for (size_t k = 0; diag && k < K; k++)
        for (size_t j = 0; j < D; j++) {
            double v = cov[k * D * D + j * D + j];
            fc[k * D + j] = (float)v;
            fu[k * D + j] = (float)(1 / sqrt(v));
        }
    for (size_t k = 0; !full && !tied && !diag && k < K; k++) {
        double v = 0;
        for (size_t j = 0; j < D; j++)
            v += cov[k * D * D + j * D + j];
        v /= (double)D;
        fc[k] = (float)v;
        fu[k] = (float)(1 / sqrt(v));
    }
    dgm_st_tensor t[4] = {{"weights", fw, {K}, 1}, {"means", fm, {K, D}, 2},
                          {"covariances", fc, {0}, 0}, {"precisions_cholesky", fu, {0}, 0}};
    size_t shape[3] = {K, D, D};
    const size_t *sh = full ? shape : tied ? shape + 1 : shape;
    int nd = full ? 3 : tied ? 2 : diag ? 2 : 1;
    for (int i = 2; i < 4; i++) {
        t[i].ndim = nd;
        memcpy(t[i].shape, sh, (size_t)nd * sizeof(size_t));
    }
    char cfg[512];
    snprintf(cfg, sizeof cfg, "{\"model\":\"gmm\",\"dim\":%zu,\"n_classes\":0,\"likelihood\":"
             "\"continuous\",\"height\":0,\"width\":0,\"covariance_type\":\"%s\","
             "\"n_components\":%zu}", D, cov_type, K);
    const char *kv[4] = {"format", "pt", "dgm.config", cfg};
    dgm_err err = {0};
    int ok = dgm_safetensors_write(path, t, 4, kv, 2, &err) == DGM_OK;
    if (!ok)
        fprintf(stderr, "write_gmm: %s\n", err.msg);
    free(fw);
    free(fm);
    free(fc);
    free(fu);
    return ok;
}

/* A temporary file name unique to this process. */
static inline const char *tmp_path(char *buf, size_t cap, const char *tag)
{
    snprintf(buf, cap, "/tmp/dgm_test_%s_%ld.safetensors", tag, (long)getpid());
    return buf;
}

typedef dgm_status (*mix_fit_fn)(dgm_model **, dgm_rng *, const float *, size_t, size_t,
                                  const dgm_mixture_cfg *, dgm_err *);

/* A per-class mixture must be, bit for bit, a separate fit of each class's rows with
 * stream c of the fit's generator: lp (N) is the per-class model's log p(x_i | y_i).
 * Returns -1, or the first class whose separate fit fails or scores differently. */
static inline int per_class_mismatch(mix_fit_fn fit, const dgm_mixture_cfg *cfg,
                                     const dgm_rng *root, const double *lp, const float *x,
                                     const int32_t *y, size_t N, size_t D, int C)
{
    float *xc = malloc(N * D * sizeof *xc);
    size_t *idx = malloc(N * sizeof *idx);
    double *lc = malloc(N * sizeof *lc);
    int bad = xc && idx && lc ? -1 : 0;
    for (int c = 0; bad < 0 && c < C; c++) {
        size_t nc = 0;
        for (size_t i = 0; i < N; i++)
            if (y[i] == c) {
                memcpy(xc + nc * D, x + i * D, D * sizeof(float));
                idx[nc++] = i;
            }
        dgm_rng rc;
        dgm_rng_fork(&rc, root, (uint64_t)c);
        dgm_model *mc = NULL;
        dgm_err err = {0};
        int same = fit(&mc, &rc, xc, nc, D, cfg, &err) == DGM_OK &&
                   dgm_model_log_prob(mc, NULL, lc, xc, NULL, nc, 1, &err) == DGM_OK;
        for (size_t i = 0; same && i < nc; i++)
            same = lc[i] == lp[idx[i]];
        if (!same)
            bad = c;
        dgm_model_free(mc);
    }
    free(xc);
    free(idx);
    free(lc);
    return bad;
}

#endif
