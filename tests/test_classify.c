/* The Bayes-rule classifier on synthetic data whose optimal classifier is known: two
 * Gaussians. With equal covariances and priors the optimal accuracy is Phi(Delta / 2),
 * Delta the Mahalanobis distance between the means; dgm's per-class Gaussian fit, through
 * dgm_classify, must reach it within sampling error. With unequal covariances and priors
 * it must agree with the classifier that knows the true densities. */
#include "dgm.h"
#include "test.h"

/* x = mu + L eps for a 2-D Gaussian with Cholesky factor L (lower: l11, l21, l22). */
static void draw(dgm_rng *r, float *x, const double mu[2], const double L[3])
{
    double e0 = dgm_rng_normal(r), e1 = dgm_rng_normal(r);
    x[0] = (float)(mu[0] + L[0] * e0);
    x[1] = (float)(mu[1] + L[1] * e0 + L[2] * e1);
}

static double log_gauss(const float *x, const double mu[2], const double L[3])
{
    /* solve L u = x - mu; log N = -|u|^2/2 - log|L| - log 2 pi */
    double d0 = x[0] - mu[0], d1 = x[1] - mu[1];
    double u0 = d0 / L[0], u1 = (d1 - L[1] * u0) / L[2];
    return -0.5 * (u0 * u0 + u1 * u1) - log(L[0] * L[2]) - log(2 * M_PI);
}

static void run_case(const double mu[2][2], const double L[2][3], double p1, double *acc_dgm,
                     double *acc_true, double *agree, size_t n_test)
{
    const size_t n_train = 20000;
    dgm_rng r;
    dgm_rng_init(&r, 17);
    float *x = malloc(n_train * 2 * sizeof(float)), *xt = malloc(n_test * 2 * sizeof(float));
    int32_t *y = malloc(n_train * sizeof(int32_t)), *yt = malloc(n_test * sizeof(int32_t));
    for (size_t i = 0; i < n_train + n_test; i++) {
        int c = dgm_rng_uniform_d(&r) < p1;
        if (i < n_train) {
            y[i] = c;
            draw(&r, x + 2 * i, mu[c], L[c]);
        } else {
            yt[i - n_train] = c;
            draw(&r, xt + 2 * (i - n_train), mu[c], L[c]);
        }
    }
    dgm_mixture_cfg cfg = dgm_mixture_defaults();
    cfg.covariance = DGM_COV_FULL;
    dgm_model *m = NULL;
    dgm_err e = {0};
    dgm_status s = dgm_tractable_fit(&m, &r, DGM_TRACTABLE_GAUSSIAN, x, y, n_train, 2, 2, &cfg, &e);
    CHECK_MSG(s == DGM_OK, "%s", e.msg);
    double *lp = malloc(n_test * 2 * sizeof(double));
    s = m ? dgm_classify(&r, lp, m, xt, n_test, 1, &e) : DGM_ERR_ARG;
    CHECK_MSG(s == DGM_OK, "%s", e.msg);
    size_t hit = 0, hit_true = 0, same = 0;
    for (size_t i = 0; i < n_test && !s; i++) {
        int pd = lp[2 * i + 1] > lp[2 * i];
        CHECK_NEAR(exp(lp[2 * i]) + exp(lp[2 * i + 1]), 1.0, 1e-9);
        double t0 = log_gauss(xt + 2 * i, mu[0], L[0]) + log(1 - p1);
        double t1 = log_gauss(xt + 2 * i, mu[1], L[1]) + log(p1);
        int pt = t1 > t0;
        hit += pd == yt[i];
        hit_true += pt == yt[i];
        same += pd == pt;
    }
    *acc_dgm = (double)hit / (double)n_test;
    *acc_true = (double)hit_true / (double)n_test;
    *agree = (double)same / (double)n_test;
    free(lp); free(x); free(xt); free(y); free(yt);
    dgm_model_free(m);
}

static void test_equal_covariance_optimal(void)
{
    /* Sigma = [[1, 0.5], [0.5, 1]], means (0,0) and (1.5, 0): Delta^2 = d^T Sigma^-1 d */
    const double mu[2][2] = {{0, 0}, {1.5, 0}};
    const double L[2][3] = {{1, 0.5, sqrt(0.75)}, {1, 0.5, sqrt(0.75)}};
    double delta = sqrt(1.5 * 1.5 / 0.75); /* (Sigma^-1)_00 = 1/0.75 */
    double opt = 0.5 * erfc(-delta / 2 / sqrt(2.0));
    size_t n = 40000;
    double acc, acc_true, agree;
    run_case(mu, L, 0.5, &acc, &acc_true, &agree, n);
    double se = sqrt(opt * (1 - opt) / (double)n);
    CHECK_NEAR(acc, opt, 4 * se);
    CHECK_NEAR(acc_true, opt, 4 * se);
    CHECK_MSG(agree > 0.995, "agreement with the true classifier %g", agree);
}

static void test_unequal_covariance(void)
{
    const double mu[2][2] = {{0, 0}, {1, 1}};
    const double L[2][3] = {{1, 0, 1}, {2, -0.8, 0.6}};
    size_t n = 40000;
    double acc, acc_true, agree;
    run_case(mu, L, 0.3, &acc, &acc_true, &agree, n);
    /* the same test points: accuracies differ only where the two rules disagree */
    CHECK_NEAR(acc, acc_true, 4 * sqrt((1 - agree) / (double)n) + 1e-3);
    CHECK_MSG(agree > 0.99, "agreement with the true classifier %g", agree);
    CHECK(acc > 0.7);
}

static void test_not_conditional(void)
{
    float x[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    dgm_mixture_cfg cfg = dgm_mixture_defaults();
    dgm_model *m = NULL;
    dgm_err e = {0};
    CHECK(dgm_gaussian_fit(&m, x, 4, 2, &cfg, &e) == DGM_OK);
    double lp[8];
    dgm_rng r;
    dgm_rng_init(&r, 1);
    if (m)
        CHECK(dgm_classify(&r, lp, m, x, 4, 1, &e) == DGM_ERR_ARG && strstr(e.msg, "class"));
    dgm_model_free(m);
}

int main(void)
{
    TEST_RUN(test_equal_covariance_optimal);
    TEST_RUN(test_unequal_covariance);
    TEST_RUN(test_not_conditional);
    TEST_MAIN_END("test_classify");
}
