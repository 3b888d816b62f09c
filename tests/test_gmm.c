/* Gaussian mixtures: exact log-likelihood against a direct double formula, recovery of
 * known parameters for the four covariance types, a log-likelihood that never decreases
 * over EM iterations, sampling moments, k-means on separated blobs, degenerate inputs, and
 * model files that fail to load with a clear message. References are computed here
 * (test_gmm_util.h), not by the library; tolerances are standard errors at fixed seeds. */
#include "dgm_blocks.h"
#include "test.h"
#include "test_gmm_util.h"

#include <float.h>

dgm_status dgm__kmeans(dgm_rng *rng, int32_t *labels, float *centers, const float *x,
                       size_t n, size_t D, size_t K, int max_iter, double tol, int *n_iter,
                       dgm_err *err);

static const char *const covs[4] = {"full", "tied", "diag", "spherical"};

/* A random symmetric positive definite matrix: A A^T / D + ridge I, A ~ N(0, scale^2). */
static void rand_spd(dgm_rng *r, double *C, size_t D, double scale, double ridge)
{
    double A[64];
    for (size_t i = 0; i < D * D; i++)
        A[i] = scale * dgm_rng_normal(r);
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < D; j++) {
            double s = 0;
            for (size_t k = 0; k < D; k++)
                s += A[i * D + k] * A[j * D + k];
            C[i * D + j] = s / (double)D + (i == j ? ridge : 0);
        }
}

/* The full covariances a model of type t sees when given the K full covariances C. */
static void effective(double *E, const double *C, size_t K, size_t D, int t)
{
    for (size_t k = 0; k < K; k++)
        for (size_t i = 0; i < D; i++)
            for (size_t j = 0; j < D; j++) {
                double v = t == 0 ? C[k * D * D + i * D + j] : t == 1 ? C[i * D + j] : 0;
                if (t == 2 && i == j)
                    v = C[k * D * D + i * D + i];
                if (t == 3 && i == j) {
                    v = 0;
                    for (size_t a = 0; a < D; a++)
                        v += C[k * D * D + a * D + a];
                    v = (double)(float)(v / (double)D);
                }
                E[k * D * D + i * D + j] = v;
            }
}

static void test_loglik_direct(void)
{
    enum { K = 3, D = 4, N = 200 };
    dgm_rng r;
    dgm_rng_init(&r, 11);
    double w[K] = {0.5, 0.3, 0.2}, mu[K * D], C[K * D * D], E[K * D * D];
    for (size_t i = 0; i < K * D; i++)
        mu[i] = 3 * dgm_rng_normal(&r);
    for (size_t k = 0; k < K; k++)
        rand_spd(&r, C + k * D * D, D, 1.0, 0.3);
    round_f(w, K);
    round_f(mu, K * D);
    round_f(C, K * D * D);
    float x[N * D];
    double xd[D];
    for (size_t i = 0; i < N * D; i++) /* the last quarter far out in the tails */
        x[i] = (float)((i >= 3 * N * D / 4 ? 100.0 : 3.0) * dgm_rng_normal(&r));
    for (int t = 0; t < 4; t++) {
        char path[128];
        effective(E, C, K, D, t);
        CHECK(write_gmm(tmp_path(path, sizeof path, "gmm_direct"), covs[t], K, D, w, mu, E));
        dgm_model *m = NULL;
        dgm_err err = {0};
        CHECK_MSG(dgm_model_load(&m, path, &err) == DGM_OK, "%s", err.msg);
        if (!m)
            continue;
        CHECK(!strcmp(dgm_model_type(m), "gmm"));
        CHECK(dgm_model_exact(m));
        size_t cp = t == 0 ? K * D * (D + 1) / 2 : t == 1 ? D * (D + 1) / 2 : t == 2 ? K * D : K;
        CHECK_EQ_INT(dgm_model_n_params(m), cp + K * D + K - 1);
        double lp[N];
        CHECK(dgm_model_log_prob(m, NULL, lp, x, NULL, N, 1, &err) == DGM_OK);
        for (size_t i = 0; i < N; i++) {
            for (size_t j = 0; j < D; j++)
                xd[j] = x[i * D + j];
            double ref = ref_mix_logpdf(xd, K, D, w, mu, E);
            /* the model scores with the float precision factor written beside the float
             * covariance: a few float ulps of relative difference */
            CHECK_NEAR(lp[i], ref, 2e-6 * (1 + fabs(ref)));
        }
        dgm_model_free(m);
        remove(path);
    }
}

/* Fits K = 3 to n draws of a known mixture and compares every parameter with the truth
 * within 5 standard errors of its maximum-likelihood estimate. */
static void recovery(int t, size_t D, size_t n, uint64_t seed)
{
    enum { K = 3 };
    dgm_rng r;
    dgm_rng_init(&r, seed);
    double w[K] = {0.5, 0.3, 0.2}, mu[K * 8] = {0}, C[K * 64], E[K * 64];
    for (size_t k = 0; k < K; k++) {
        for (size_t j = 0; j < D; j++)
            mu[k * D + j] = (k == 1 && j == 0) || (k == 2 && j == 1) ? 8.0 : 0.0;
        rand_spd(&r, C + k * D * D, D, 0.8, 0.4);
    }
    effective(E, C, K, D, t);
    float *x = malloc(n * D * sizeof(float));
    ref_sample(&r, x, NULL, n, K, D, w, mu, E);
    dgm_mixture_cfg cfg = dgm_mixture_defaults();
    cfg.n_components = K;
    cfg.covariance = (dgm_cov_type)t;
    cfg.n_init = 2;
    cfg.tol = 1e-7;
    cfg.max_iter = 500;
    dgm_model *m = NULL;
    dgm_err err = {0};
    CHECK_MSG(dgm_gmm_fit(&m, &r, x, n, D, &cfg, &err) == DGM_OK, "%s", err.msg);
    char path[128];
    tmp_path(path, sizeof path, "gmm_recovery");
    CHECK(m && dgm_model_save(m, path, &err) == DGM_OK);
    size_t cs = t == 0 ? K * D * D : t == 1 ? D * D : t == 2 ? K * D : K;
    float fw[K], fm[K * 8], fc[K * 64];
    CHECK(read_tensor(fw, K, path, "weights") && read_tensor(fm, K * D, path, "means") &&
          read_tensor(fc, cs, path, "covariances"));
    dgm_mixture_info info;
    CHECK(m && dgm_mixture_fit_info(&info, m, 0, &err) == DGM_OK && info.converged);
    for (size_t k = 0; k < K; k++) {
        size_t best = 0;
        double bd = INFINITY;
        for (size_t j = 0; j < K; j++) {
            double d = 0;
            for (size_t a = 0; a < D; a++)
                d += (fm[j * D + a] - mu[k * D + a]) * (fm[j * D + a] - mu[k * D + a]);
            if (d < bd)
                bd = d, best = j;
        }
        double nk = w[k] * (double)n, nc = t == 1 ? (double)n : nk;
        CHECK_NEAR(fw[best], w[k], 5 * sqrt(w[k] * (1 - w[k]) / (double)n));
        for (size_t a = 0; a < D; a++) {
            const double *Ek = E + k * D * D;
            CHECK_NEAR(fm[best * D + a], mu[k * D + a], 5 * sqrt(Ek[a * D + a] / nk));
            for (size_t b = 0; b < D; b++) {
                double truth = Ek[a * D + b];
                double se = sqrt((Ek[a * D + a] * Ek[b * D + b] + truth * truth) / nc);
                if (t == 0)
                    CHECK_NEAR(fc[best * D * D + a * D + b], truth, 5 * se);
                else if (t == 1 && k == 0)
                    CHECK_NEAR(fc[a * D + b], truth, 5 * se);
                else if (t == 2 && a == b)
                    CHECK_NEAR(fc[best * D + a], truth, 5 * se);
                else if (t == 3 && a == 0 && b == 0) /* the mean of D variances */
                    CHECK_NEAR(fc[best], truth, 5 * truth * sqrt(2 / (nk * (double)D)));
            }
        }
    }
    dgm_model_free(m);
    free(x);
    remove(path);
}

static void test_recovery(void)
{
    for (int t = 0; t < 4; t++)
        recovery(t, 2, 20000, 100 + (uint64_t)t);
    recovery(0, 5, 20000, 200);
    recovery(2, 5, 20000, 201);
}

struct trace { int n; double ll[400]; };

static void record(void *ctx, int cls, int init, int iter, double ll)
{
    (void)cls;
    (void)init;
    (void)iter;
    struct trace *t = ctx;
    if (t->n < 400)
        t->ll[t->n++] = ll;
}

/* Overlapping components and random responsibilities make EM crawl for the whole run
 * (tol 0), with and without reg_covar: every step must keep or raise the mean
 * log-likelihood. diag and spherical are scored in double, so the allowance is 1e-13
 * relative (double rounding of sums of O(1) terms); full and tied go through a float32
 * GEMM, whose y = (x - mu) U carries up to (D + 2) float ulps of relative error. (Measured
 * at the fixed point: 5e-9 full/tied, 3e-14 diag/spherical, relative to |ll| ~ 5.) */
static void test_monotone(void)
{
    enum { K = 3, D = 3, N = 3000 };
    dgm_rng r;
    dgm_rng_init(&r, 7);
    double w[K] = {0.4, 0.35, 0.25}, mu[K * D] = {0, 0, 0, 1.2, 0, 0, 0, 1.2, 0.5}, C[K * 9];
    for (size_t k = 0; k < K; k++)
        rand_spd(&r, C + k * D * D, D, 1.0, 0.2);
    float x[2 * N * D];
    ref_sample(&r, x, NULL, N, K, D, w, mu, C);
    /* and a separated mixture on which EM converges within a few iterations, so that the
     * rest of the run sits at the fixed point where only rounding moves the likelihood */
    double far[K * D] = {0, 0, 0, 6, 0, 0, 0, 6, 0};
    ref_sample(&r, x + N * D, NULL, N, K, D, w, far, C);
    for (int t = 0; t < 4; t++)
        for (int reg = 0; reg < 4; reg++) {
            struct trace tr = {0};
            dgm_mixture_cfg cfg = dgm_mixture_defaults();
            int sep = reg >= 2;
            cfg.n_components = sep ? 3 : 4;
            cfg.covariance = (dgm_cov_type)t;
            cfg.init = sep ? DGM_INIT_KMEANS : DGM_INIT_RANDOM;
            cfg.tol = 0;
            cfg.max_iter = 150;
            cfg.reg_covar = reg % 2 ? 1e-6 : 0;
            cfg.progress = record;
            cfg.progress_ctx = &tr;
            dgm_model *m = NULL;
            dgm_err err = {0};
            CHECK_MSG(dgm_gmm_fit(&m, &r, x + (sep ? N * D : 0), N, D, &cfg, &err) == DGM_OK,
                      "%s", err.msg);
            CHECK_EQ_INT(tr.n, 150);
            double allow_f = t < 2 ? (D + 2) * FLT_EPSILON : 0;
            for (int i = 1; i < tr.n; i++) {
                double allow = (allow_f + 1e-13) * (1 + fabs(tr.ll[i]));
                CHECK_MSG(tr.ll[i] >= tr.ll[i - 1] - allow, "%s reg %d iteration %d: %.17g < "
                          "%.17g", covs[t], reg, i + 1, tr.ll[i], tr.ll[i - 1]);
            }
            /* not vacuous: EM climbed a long way from the random start */
            CHECK(tr.n > 1 && tr.ll[tr.n - 1] > tr.ll[0] + (sep ? 1e-6 : 0.01));
            dgm_mixture_info info;
            CHECK(m && dgm_mixture_fit_info(&info, m, 0, &err) == DGM_OK);
            CHECK(m && info.log_likelihood >= info.lower_bound -
                           (allow_f + 1e-13) * (1 + fabs(info.lower_bound)));
            dgm_model_free(m);
        }
}

/* Moments of 1e5 draws against the mixture's mean sum_k w_k mu_k and covariance
 * sum_k w_k (Sigma_k + mu_k mu_k^T) - m m^T, each within 5 standard errors (estimated from
 * the draws); mean = 1 gives component means with frequencies w. */
static void test_sampling(void)
{
    enum { K = 2, D = 3, N = 100000 };
    dgm_rng r;
    dgm_rng_init(&r, 5);
    double w[K] = {0.3, 0.7}, mu[K * D] = {-2, 1, 0, 3, 0, 1}, C[K * 9], E[K * 9];
    for (size_t k = 0; k < K; k++)
        rand_spd(&r, C + k * D * D, D, 1.0, 0.3);
    round_f(w, K);
    round_f(C, K * 9);
    float *x = malloc(N * D * sizeof(float));
    for (int t = 0; t < 4; t++) {
        char path[128];
        effective(E, C, K, D, t);
        CHECK(write_gmm(tmp_path(path, sizeof path, "gmm_sampling"), covs[t], K, D, w, mu, E));
        dgm_model *m = NULL;
        dgm_err err = {0};
        CHECK_MSG(dgm_model_load(&m, path, &err) == DGM_OK, "%s", err.msg);
        remove(path);
        if (!m)
            continue;
        CHECK(dgm_model_sample(m, &r, x, NULL, N, 0, &err) == DGM_OK);
        double m_true[D] = {0}, S[D * D] = {0}, mean[D] = {0};
        for (size_t k = 0; k < K; k++)
            for (size_t a = 0; a < D; a++) {
                m_true[a] += w[k] * mu[k * D + a];
                for (size_t b = 0; b < D; b++)
                    S[a * D + b] += w[k] * (E[k * D * D + a * D + b] + mu[k * D + a] * mu[k * D + b]);
            }
        for (size_t a = 0; a < D; a++)
            for (size_t b = 0; b < D; b++)
                S[a * D + b] -= m_true[a] * m_true[b];
        for (size_t i = 0; i < N; i++)
            for (size_t a = 0; a < D; a++)
                mean[a] += x[i * D + a] / (double)N;
        for (size_t a = 0; a < D; a++) {
            CHECK_NEAR(mean[a], m_true[a], 5 * sqrt(S[a * D + a] / N));
            for (size_t b = 0; b <= a; b++) {
                double s = 0, ss = 0;
                for (size_t i = 0; i < N; i++) {
                    double p = (x[i * D + a] - mean[a]) * (x[i * D + b] - mean[b]);
                    s += p;
                    ss += p * p;
                }
                double c = s / N, se = sqrt((ss / N - c * c) / N);
                CHECK_NEAR(c, S[a * D + b], 5 * se);
            }
        }
        CHECK(dgm_model_sample(m, &r, x, NULL, N, 1, &err) == DGM_OK);
        size_t c0 = 0;
        int exact = 1;
        for (size_t i = 0; i < N; i++) {
            int is0 = x[i * D] == (float)mu[0] && x[i * D + 1] == (float)mu[1];
            int is1 = x[i * D] == (float)mu[3] && x[i * D + 1] == (float)mu[4];
            exact &= is0 || is1;
            c0 += is0;
        }
        CHECK(exact);
        CHECK_NEAR((double)c0 / N, w[0], 5 * sqrt(w[0] * w[1] / N));
        dgm_model_free(m);
    }
    free(x);
}

/* Four blobs 20 sigma apart in 10 dimensions: k-means must find the partition exactly. */
static void test_kmeans(void)
{
    enum { K = 4, D = 10, N = 2000 };
    dgm_rng r;
    dgm_rng_init(&r, 3);
    float *x = malloc(N * D * sizeof(float)), centers[K * D];
    int32_t truth[N], lab[N];
    for (size_t i = 0; i < N; i++) {
        truth[i] = (int32_t)(i % K);
        for (size_t j = 0; j < D; j++)
            x[i * D + j] = (float)(20.0 * (j == (size_t)truth[i]) + dgm_rng_normal(&r));
    }
    int it = 0;
    dgm_err err = {0};
    CHECK(dgm__kmeans(&r, lab, centers, x, N, D, K, 300, 1e-4, &it, &err) == DGM_OK);
    CHECK(it >= 1 && it < 300);
    int map[K] = {-1, -1, -1, -1}, consistent = 1;
    for (size_t i = 0; i < N; i++) {
        if (map[truth[i]] < 0)
            map[truth[i]] = lab[i];
        consistent &= map[truth[i]] == lab[i];
    }
    CHECK(consistent);
    for (int a = 0; a < K; a++)
        for (int b = 0; b < a; b++)
            CHECK(map[a] != map[b]);
    free(x);
}

static void test_degenerate(void)
{
    enum { N = 400, D = 3 };
    dgm_rng r;
    dgm_rng_init(&r, 9);
    float x[N * D];
    for (size_t i = 0; i < N; i++) {
        x[i * D] = (float)dgm_rng_normal(&r);
        x[i * D + 1] = 3.0f; /* a constant feature */
        x[i * D + 2] = (float)(i % 2 ? 4 : -4) + (float)dgm_rng_normal(&r);
    }
    dgm_mixture_cfg cfg = dgm_mixture_defaults();
    cfg.n_components = 2;
    dgm_model *m = NULL;
    dgm_err err = {0};
    for (int t = 0; t < 4; t++) { /* regularised: a finite fit, variance reg_covar */
        cfg.covariance = (dgm_cov_type)t;
        cfg.reg_covar = 1e-6;
        CHECK_MSG(dgm_gmm_fit(&m, &r, x, N, D, &cfg, &err) == DGM_OK, "%s", err.msg);
        double lp[N];
        CHECK(m && dgm_model_log_prob(m, NULL, lp, x, NULL, N, 1, &err) == DGM_OK);
        for (size_t i = 0; m && i < N; i++)
            CHECK(isfinite(lp[i]));
        char path[128];
        float fc[2 * 9];
        size_t cs = t == 0 ? 18 : t == 1 ? 9 : t == 2 ? 6 : 2;
        CHECK(m && dgm_model_save(m, tmp_path(path, sizeof path, "gmm_degen"), &err) == DGM_OK);
        CHECK(read_tensor(fc, cs, path, "covariances"));
        if (t == 2)
            CHECK_NEAR(fc[1], 1e-6, 1e-12); /* exactly reg_covar, up to float rounding */
        remove(path);
        dgm_model_free(m);
        m = NULL;
        cfg.reg_covar = 0; /* unregularised: a clear error instead of a NaN */
        if (t == 3)
            continue; /* spherical averages the constant feature with the others */
        CHECK(dgm_gmm_fit(&m, &r, x, N, D, &cfg, &err) == DGM_ERR_ARG && !m);
        CHECK_MSG(strstr(err.msg, "reg_covar") != NULL, "%s", err.msg);
        if (t == 2)
            CHECK_MSG(strstr(err.msg, "dimension 1") != NULL, "%s", err.msg);
    }
    /* a component collapsing onto 100 copies of one point: finite with reg_covar, error
     * without */
    float y[300 * 2];
    for (size_t i = 0; i < 300; i++) {
        y[i * 2] = i < 100 ? 5.0f : (float)dgm_rng_normal(&r);
        y[i * 2 + 1] = i < 100 ? 5.0f : (float)dgm_rng_normal(&r);
    }
    cfg.n_components = 3;
    cfg.covariance = DGM_COV_FULL;
    cfg.reg_covar = 1e-6;
    CHECK_MSG(dgm_gmm_fit(&m, &r, y, 300, 2, &cfg, &err) == DGM_OK, "%s", err.msg);
    double lp[300];
    CHECK(m && dgm_model_log_prob(m, NULL, lp, y, NULL, 300, 1, &err) == DGM_OK);
    for (size_t i = 0; m && i < 300; i++)
        CHECK(isfinite(lp[i]));
    /* the spike at (5, 5) has covariance reg I: log p ~ log w - log(2 pi 1e-6) */
    CHECK(m && lp[0] > 10);
    dgm_model_free(m);
    m = NULL;
    cfg.reg_covar = 0;
    CHECK(dgm_gmm_fit(&m, &r, y, 300, 2, &cfg, &err) == DGM_ERR_ARG && !m);
    CHECK_MSG(strstr(err.msg, "collapsed component") != NULL, "%s", err.msg);
    /* more components than points; non-finite data; bad options */
    cfg.reg_covar = 1e-6;
    cfg.n_components = 10;
    CHECK(dgm_gmm_fit(&m, &r, x, 5, D, &cfg, &err) == DGM_ERR_ARG && !m);
    CHECK_MSG(strstr(err.msg, "10 components but only 5 examples") != NULL, "%s", err.msg);
    cfg.n_components = 2;
    x[7] = NAN;
    CHECK(dgm_gmm_fit(&m, &r, x, N, D, &cfg, &err) == DGM_ERR_NAN && !m);
    CHECK_MSG(strstr(err.msg, "example 2, dimension 1") != NULL, "%s", err.msg);
    x[7] = 0;
    cfg.max_iter = 0;
    CHECK(dgm_gmm_fit(&m, &r, x, N, D, &cfg, &err) == DGM_ERR_ARG && !m);
    cfg.max_iter = 100;
    cfg.reg_covar = -1;
    CHECK(dgm_gmm_fit(&m, &r, x, N, D, &cfg, &err) == DGM_ERR_ARG && !m);
    /* fewer distinct points than components: still finite (empty components get
     * reg_covar and a weight of ~1e-16) */
    float z[20 * 2];
    for (size_t i = 0; i < 20; i++)
        z[i * 2] = z[i * 2 + 1] = i % 2 ? 1.0f : -1.0f;
    cfg.reg_covar = 1e-6;
    cfg.n_components = 3;
    cfg.covariance = DGM_COV_DIAG;
    CHECK_MSG(dgm_gmm_fit(&m, &r, z, 20, 2, &cfg, &err) == DGM_OK, "%s", err.msg);
    CHECK(m && dgm_model_log_prob(m, NULL, lp, z, NULL, 20, 1, &err) == DGM_OK && isfinite(lp[0]));
    /* scoring non-finite input is an error, not a NaN */
    z[3] = INFINITY;
    CHECK(m && dgm_model_log_prob(m, NULL, lp, z, NULL, 20, 1, &err) == DGM_ERR_NAN);
    dgm_model_free(m);
}

/* Damaged files: a missing tensor, a wrong size, a bad precision factor. */
static void test_bad_files(void)
{
    double w[2] = {0.5, 0.5}, mu[4] = {0, 0, 1, 1}, C[8] = {1, 0, 0, 1, 1, 0, 0, 1};
    char path[128];
    tmp_path(path, sizeof path, "gmm_bad");
    CHECK(write_gmm(path, "diag", 2, 2, w, mu, C));
    dgm_st_file *f;
    dgm_err err = {0};
    CHECK(dgm_safetensors_read(&f, path, &err) == DGM_OK);
    const char *cfg = dgm_st_meta(f, "dgm.config");
    float U[4] = {1, -1, 1, 1}, ww[2] = {0.5f, 0.5f}, mm[4] = {0};
    dgm_st_tensor t[4] = {{"weights", ww, {2}, 1}, {"means", mm, {2, 2}, 2},
                          {"covariances", U, {2, 2}, 2}, {"precisions_cholesky", U, {2, 2}, 2}};
    const char *kv[4] = {"format", "pt", "dgm.config", cfg};
    dgm_model *m = NULL;
    CHECK(dgm_safetensors_write(path, t, 4, kv, 2, &err) == DGM_OK);
    CHECK(dgm_model_load(&m, path, &err) == DGM_ERR_FORMAT && !m);
    CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, "variance 1 of component 0"), "%s", err.msg);
    CHECK(dgm_safetensors_write(path, t, 3, kv, 2, &err) == DGM_OK);
    CHECK(dgm_model_load(&m, path, &err) == DGM_ERR_FORMAT && !m);
    CHECK_MSG(strstr(err.msg, "'precisions_cholesky' is missing"), "%s", err.msg);
    t[1].shape[1] = 1;
    CHECK(dgm_safetensors_write(path, t, 4, kv, 2, &err) == DGM_OK);
    CHECK(dgm_model_load(&m, path, &err) == DGM_ERR_FORMAT && !m);
    CHECK_MSG(strstr(err.msg, "'means' has 2 values, expected 4"), "%s", err.msg);
    dgm_safetensors_free(f);
    remove(path);
}

int main(void)
{
    TEST_RUN(test_loglik_direct);
    TEST_RUN(test_recovery);
    TEST_RUN(test_monotone);
    TEST_RUN(test_sampling);
    TEST_RUN(test_kmeans);
    TEST_RUN(test_degenerate);
    TEST_RUN(test_bad_files);
    TEST_MAIN_END("test_gmm");
}
