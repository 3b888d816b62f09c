/* The single Gaussian: the closed-form fit against the sample mean and covariance computed
 * here in double, its maximised log-likelihood against -(D log 2 pi + log|S| + D)/2,
 * per-example log-densities against a direct formula, the closed-form view (as_dist)
 * agreeing with log_prob, per-class Gaussians, and clear errors. */
#include "dgm.h"
#include "test.h"
#include "test_gmm_util.h"

enum { N = 5000, D = 4 };

/* Correlated data: x = A z + b with a fixed A. */
static void data(float *x, dgm_rng *r)
{
    const double A[D * D] = {1, 0, 0, 0, 0.8, 0.5, 0, 0, -0.3, 0.2, 2, 0, 0.1, 0.1, 0.1, 0.05};
    for (size_t i = 0; i < N; i++) {
        double z[D];
        for (size_t j = 0; j < D; j++)
            z[j] = dgm_rng_normal(r);
        for (size_t a = 0; a < D; a++) {
            double s = 3.0 * (double)a;
            for (size_t b = 0; b < D; b++)
                s += A[a * D + b] * z[b];
            x[i * D + a] = (float)s;
        }
    }
}

static void test_closed_form(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 31);
    float x[N * D];
    data(x, &r);
    double m[D] = {0}, S[D * D] = {0};
    for (size_t i = 0; i < N; i++)
        for (size_t a = 0; a < D; a++)
            m[a] += x[i * D + a] / (double)N;
    for (size_t i = 0; i < N; i++)
        for (size_t a = 0; a < D; a++)
            for (size_t b = 0; b < D; b++)
                S[a * D + b] += (x[i * D + a] - m[a]) * (x[i * D + b] - m[b]) / N;
    const char *names[4] = {"full", "tied", "diag", "spherical"};
    for (int t = 0; t < 4; t++) {
        dgm_mixture_cfg cfg = dgm_mixture_defaults();
        cfg.covariance = (dgm_cov_type)t;
        cfg.reg_covar = 0.01;
        dgm_model *g = NULL;
        dgm_err err = {0};
        CHECK_MSG(dgm_gaussian_fit(&g, x, N, D, &cfg, &err) == DGM_OK, "%s", err.msg);
        if (!g)
            continue;
        CHECK(!strcmp(dgm_model_type(g), "gaussian"));
        char path[128];
        CHECK(dgm_model_save(g, tmp_path(path, sizeof path, "gauss"), &err) == DGM_OK);
        float fm[D], fc[D * D];
        size_t cs = t < 2 ? D * D : t == 2 ? D : 1;
        CHECK(read_tensor(fm, D, path, "means") && read_tensor(fc, cs, path, "covariances"));
        remove(path);
        double E[D * D] = {0}, sph = 0;
        for (size_t a = 0; a < D; a++)
            sph += (S[a * D + a] + cfg.reg_covar) / D;
        for (size_t a = 0; a < D; a++) {
            /* float storage: half an ulp, plus the double sums' rounding */
            CHECK_NEAR(fm[a], m[a], 1e-6 * (1 + fabs(m[a])));
            for (size_t b = 0; b < D; b++) {
                double want = S[a * D + b] + (a == b ? cfg.reg_covar : 0);
                double got = t < 2 ? fc[a * D + b] : t == 2 ? (a == b ? fc[a] : 0)
                                                          : (a == b ? fc[0] : 0);
                if (t == 2 && a != b)
                    want = 0;
                if (t == 3)
                    want = a == b ? sph : 0;
                CHECK_NEAR(got, want, 1e-6 * (fabs(want) + sqrt(S[a * D + a] * S[b * D + b])));
                E[a * D + b] = got;
            }
        }
        /* log-densities against the direct formula with the stored parameters */
        double lp[50], xd[D], mu[D];
        for (size_t a = 0; a < D; a++)
            mu[a] = fm[a];
        CHECK(dgm_model_log_prob(g, NULL, lp, x, NULL, 50, 1, &err) == DGM_OK);
        for (size_t i = 0; i < 50; i++) {
            for (size_t a = 0; a < D; a++)
                xd[a] = x[i * D + a];
            double ref = ref_logpdf(xd, mu, E, D);
            CHECK_NEAR(lp[i], ref, 2e-6 * (1 + fabs(ref)));
        }
        /* the closed-form view scores the same */
        dgm_dist d;
        CHECK_MSG(dgm_model_as_dist(g, &d, &err) == DGM_OK, "%s", err.msg);
        CHECK(d.kind == (t < 2 ? DGM_DIST_GAUSS_FULL : DGM_DIST_GAUSS_DIAG) && d.dim == D);
        double ld[50];
        CHECK(dgm_dist_log_prob(ld, &d, x, 50, &err) == DGM_OK);
        for (size_t i = 0; i < 50; i++)
            CHECK_NEAR(ld[i], lp[i], 2e-6 * (1 + fabs(lp[i])));
        CHECK_EQ_INT(dgm_model_n_params(g), (t < 2 ? D * (D + 1) / 2 : t == 2 ? D : 1) + D);
        (void)names;
        dgm_model_free(g);
    }
}

/* Without regularisation the fitted log-likelihood is the maximum,
 * -(D log 2 pi + log det S + D) / 2 per example. */
static void test_max_loglik(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 32);
    float x[N * D];
    data(x, &r);
    double m[D] = {0}, S[D * D] = {0}, L[D * D];
    for (size_t i = 0; i < N; i++)
        for (size_t a = 0; a < D; a++)
            m[a] += x[i * D + a] / (double)N;
    for (size_t i = 0; i < N; i++)
        for (size_t a = 0; a < D; a++)
            for (size_t b = 0; b < D; b++)
                S[a * D + b] += (x[i * D + a] - m[a]) * (x[i * D + b] - m[b]) / N;
    CHECK(ref_chol(L, S, D));
    double logdet = 0, diag_logdet = 0;
    for (size_t a = 0; a < D; a++) {
        logdet += 2 * log(L[a * D + a]);
        diag_logdet += log(S[a * D + a]);
    }
    dgm_mixture_cfg cfg = dgm_mixture_defaults();
    cfg.reg_covar = 0;
    for (int t = 0; t < 3; t += 2) {
        cfg.covariance = (dgm_cov_type)t;
        dgm_model *g = NULL;
        dgm_err err = {0};
        CHECK(dgm_gaussian_fit(&g, x, N, D, &cfg, &err) == DGM_OK);
        dgm_mixture_info info;
        CHECK(g && dgm_mixture_fit_info(&info, g, 0, &err) == DGM_OK);
        double want = -0.5 * (D * log(2 * M_PI) + (t == 0 ? logdet : diag_logdet) + D);
        CHECK_NEAR(info.log_likelihood, want, 1e-5 * fabs(want));
        CHECK(info.n == N && info.converged && info.n_iter == 1);
        dgm_model_free(g);
    }
}

static void test_per_class_and_errors(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 33);
    float x[N * D];
    int32_t y[N];
    data(x, &r);
    for (size_t i = 0; i < N; i++) { /* class 1 shifted by +10 in every dimension */
        y[i] = (int32_t)(i % 2);
        for (size_t a = 0; y[i] && a < D; a++)
            x[i * D + a] += 10;
    }
    dgm_mixture_cfg cfg = dgm_mixture_defaults();
    dgm_model *g = NULL;
    dgm_err err = {0};
    CHECK(dgm_tractable_fit(&g, &r, DGM_TRACTABLE_GAUSSIAN, x, y, N, D, 2, &cfg, &err) == DGM_OK);
    if (g) {
        CHECK(!strcmp(dgm_model_type(g), "gaussian") && dgm_model_n_classes(g) == 2);
        dgm_dist d;
        CHECK(dgm_model_as_dist(g, &d, &err) == DGM_ERR_UNSUPPORTED);
        float s[2000 * D];
        int32_t ys[2000];
        for (size_t i = 0; i < 2000; i++)
            ys[i] = 1;
        CHECK(dgm_model_sample(g, &r, s, ys, 2000, 0, &err) == DGM_OK);
        double mean = 0;
        for (size_t i = 0; i < 2000; i++)
            mean += s[i * D] / 2000.0;
        CHECK_NEAR(mean, 10.0, 5 * 1.0 / sqrt(2000.0) + 5 * 1.0 / sqrt(N / 2.0));
        dgm_model_free(g);
    }
    g = NULL;
    CHECK(dgm_gaussian_fit(&g, x, 0, D, &cfg, &err) == DGM_ERR_SHAPE && !g);
    CHECK_MSG(strstr(err.msg, "no examples"), "%s", err.msg);
    cfg.reg_covar = -1;
    CHECK(dgm_gaussian_fit(&g, x, N, D, &cfg, &err) == DGM_ERR_ARG && !g);
    cfg.reg_covar = 0;
    for (size_t i = 0; i < N; i++) /* dimension 2 = 2 x dimension 0: singular */
        x[i * D + 2] = 2 * x[i * D];
    CHECK(dgm_gaussian_fit(&g, x, N, D, &cfg, &err) == DGM_ERR_ARG && !g);
    CHECK_MSG(strstr(err.msg, "not positive definite"), "%s", err.msg);
    cfg.reg_covar = 1e-6; /* regularised: fine */
    CHECK_MSG(dgm_gaussian_fit(&g, x, N, D, &cfg, &err) == DGM_OK, "%s", err.msg);
    dgm_model_free(g);
}

int main(void)
{
    TEST_RUN(test_closed_form);
    TEST_RUN(test_max_loglik);
    TEST_RUN(test_per_class_and_errors);
    TEST_MAIN_END("test_gaussian");
}
