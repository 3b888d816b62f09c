/* Gaussian mixtures as model files and class-conditional models: save -> load gives
 * bit-identical log-probs and samples, the file carries scikit-learn's names and the fit
 * info; per-class fits equal the separate fits of each class and sample from their class;
 * results do not depend on the thread count. */
#include "dgm.h"
#include "test.h"
#include "test_gmm_util.h"

static void blobs(dgm_rng *r, float *x, int32_t *y, size_t n, size_t D, int C)
{
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i % (size_t)C);
        if (y)
            y[i] = c;
        for (size_t j = 0; j < D; j++) /* class c: two sub-clusters around 5c */
            x[i * D + j] = (float)(5.0 * c + (i / (size_t)C % 2 ? 1.5 : -1.5) * (j == 0) +
                                   (0.5 + 0.1 * (double)j) * dgm_rng_normal(r));
    }
}

/* Overwrites the first entry of the file's log_prior with text (padded with spaces, which
 * JSON ignores, so the header keeps its length); returns 0 if there is none. */
static int patch_prior(const char *path, const char *text)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    /* the config is a JSON string inside the safetensors header, its quotes escaped */
    char *at = memmem(buf, n, "log_prior\\\":[", 13);
    if (!at)
        return 0;
    at += 13;
    char *end = at;
    while (end < buf + n && *end != ',' && *end != ']')
        end++;
    size_t w = (size_t)(end - at), t = strlen(text);
    if (t > w)
        return 0;
    memcpy(at, text, t);
    memset(at + t, ' ', w - t);
    f = fopen(path, "wb");
    if (!f)
        return 0;
    int ok = fwrite(buf, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static void test_roundtrip(void)
{
    enum { N = 600, D = 3, M = 50 };
    dgm_rng r;
    dgm_rng_init(&r, 21);
    float x[N * D];
    blobs(&r, x, NULL, N, D, 3);
    for (int t = 0; t < 4; t++) {
        dgm_mixture_cfg cfg = dgm_mixture_defaults();
        cfg.n_components = 3;
        cfg.covariance = (dgm_cov_type)t;
        cfg.likelihood = "dequantized";
        cfg.height = 1;
        cfg.width = 3;
        dgm_model *m = NULL, *m2 = NULL;
        dgm_err err = {0};
        char path[128];
        tmp_path(path, sizeof path, "gmm_rt");
        CHECK_MSG(dgm_gmm_fit(&m, &r, x, N, D, &cfg, &err) == DGM_OK, "%s", err.msg);
        CHECK(m && dgm_model_save(m, path, &err) == DGM_OK);
        CHECK_MSG(dgm_model_load(&m2, path, &err) == DGM_OK, "%s", err.msg);
        if (!m || !m2)
            continue;
        double a[M], b[M];
        CHECK(dgm_model_log_prob(m, NULL, a, x, NULL, M, 1, &err) == DGM_OK);
        CHECK(dgm_model_log_prob(m2, NULL, b, x, NULL, M, 1, &err) == DGM_OK);
        CHECK(!memcmp(a, b, sizeof a));
        float sa[M * D], sb[M * D];
        dgm_rng s1, s2;
        dgm_rng_init(&s1, 4);
        dgm_rng_init(&s2, 4);
        CHECK(dgm_model_sample(m, &s1, sa, NULL, M, 0, &err) == DGM_OK);
        CHECK(dgm_model_sample(m2, &s2, sb, NULL, M, 0, &err) == DGM_OK);
        CHECK(!memcmp(sa, sb, sizeof sa));
        CHECK(!strcmp(dgm_model_type(m2), "gmm"));
        CHECK(!strcmp(dgm_model_likelihood(m2), "dequantized"));
        CHECK_EQ_INT(dgm_model_n_params(m2), dgm_model_n_params(m));
        CHECK_EQ_INT(dgm_model_dim(m2), D);
        dgm_mixture_info i1, i2;
        CHECK(dgm_mixture_fit_info(&i1, m, 0, &err) == DGM_OK);
        CHECK(dgm_mixture_fit_info(&i2, m2, 0, &err) == DGM_OK);
        CHECK(i1.n_iter == i2.n_iter && i1.converged == i2.converged && i2.n == N);
        /* the fit info is JSON text: cJSON prints 15 significant digits when they read back
         * within DBL_EPSILON */
        CHECK_NEAR(i2.log_likelihood, i1.log_likelihood, 4e-16 * fabs(i1.log_likelihood));
        CHECK_NEAR(i2.lower_bound, i1.lower_bound, 4e-16 * fabs(i1.lower_bound));
        /* the train log-likelihood reported is the mean of the model's own log_prob */
        double all[N], s = 0;
        CHECK(dgm_model_log_prob(m2, NULL, all, x, NULL, N, 1, &err) == DGM_OK);
        for (size_t i = 0; i < N; i++)
            s += all[i];
        CHECK_NEAR(s / N, i1.log_likelihood, 1e-12 * (1 + fabs(s / N)));
        char *d = dgm_model_describe(m2);
        CHECK(d && strstr(d, "\"covariance_type\"") && strstr(d, "\"n_components\":3") &&
              strstr(d, "\"reg_covar\"") && strstr(d, "\"converged\""));
        free(d);
        float fu[27];
        size_t cs = t == 0 ? 27 : t == 1 ? 9 : t == 2 ? 9 : 3;
        CHECK(read_tensor(fu, cs, path, "precisions_cholesky"));
        CHECK(dgm_mixture_fit_info(&i1, m, 1, &err) == DGM_ERR_ARG);
        dgm_model_free(m);
        dgm_model_free(m2);
        remove(path);
    }
}

/* Per class: log p(x | y = c) and the class model of the same rows with rng fork c agree
 * exactly; log_prior is the label frequencies; sample(y) draws from class y. */
static void test_per_class(void)
{
    enum { N = 1500, D = 2, C = 3 };
    dgm_rng r;
    dgm_rng_init(&r, 8);
    float x[N * D];
    int32_t y[N];
    blobs(&r, x, y, N, D, C);
    y[0] = 2; /* uneven classes: 499, 500, 501 */
    dgm_mixture_cfg cfg = dgm_mixture_defaults();
    cfg.n_components = 2;
    cfg.covariance = DGM_COV_FULL;
    dgm_model *m = NULL;
    dgm_err err = {0};
    dgm_rng root;
    dgm_rng_init(&root, 99);
    CHECK_MSG(dgm_tractable_fit(&m, &root, DGM_TRACTABLE_GMM, x, y, N, D, C, &cfg, &err) ==
              DGM_OK, "%s", err.msg);
    if (!m)
        return;
    CHECK_EQ_INT(dgm_model_n_classes(m), C);
    CHECK_EQ_INT(dgm_model_n_params(m), C * (2 * 3 + 2 * 2 + 1));
    double lp[N];
    CHECK(dgm_model_log_prob(m, NULL, lp, x, y, N, 1, &err) == DGM_OK);
    CHECK(dgm_model_log_prob(m, NULL, lp, x, NULL, N, 1, &err) == DGM_ERR_ARG);
    CHECK(dgm_model_log_prob(m, NULL, lp, x, y, N, 1, &err) == DGM_OK);
    int bad = per_class_mismatch(dgm_gmm_fit, &cfg, &root, lp, x, y, N, D, C);
    CHECK_MSG(bad < 0, "class %d: a separate fit gives other log-probabilities", bad);
    /* log_prior, and the prior survives a round trip with the parameters */
    char path[128];
    CHECK(dgm_model_save(m, tmp_path(path, sizeof path, "gmm_pc"), &err) == DGM_OK);
    dgm_model *m2 = NULL;
    CHECK_MSG(dgm_model_load(&m2, path, &err) == DGM_OK, "%s", err.msg);
    double lp2[N];
    CHECK(m2 && dgm_model_log_prob(m2, NULL, lp2, x, y, N, 1, &err) == DGM_OK);
    CHECK(m2 && !memcmp(lp, lp2, sizeof lp));
    char *d = m2 ? dgm_model_describe(m2) : NULL;
    CHECK(d && strstr(d, "\"n_classes\":3"));
    free(d);
    float mw[C * 2];
    CHECK(read_tensor(mw, C * 2, path, "weights"));
    /* a prior that is no distribution is refused, by the setter and by the loader: an
     * infinity (1e999 in the file) could not be written back, and mass other than 1 would
     * shift every log p(x) */
    double wrong[C] = {0, 0, 0};
    CHECK(m2 && dgm_model_set_log_prior(m2, wrong, &err) == DGM_ERR_ARG);
    CHECK_MSG(strstr(err.msg, "log_prior sums to probability 3, not 1"), "%s", err.msg);
    wrong[1] = -INFINITY;
    CHECK(m2 && dgm_model_set_log_prior(m2, wrong, &err) == DGM_ERR_ARG);
    CHECK_MSG(strstr(err.msg, "log_prior[1] is not a finite number"), "%s", err.msg);
    dgm_model_free(m2);
    m2 = NULL;
    CHECK(patch_prior(path, "1e999"));
    CHECK(dgm_model_load(&m2, path, &err) == DGM_ERR_FORMAT && !m2);
    CHECK_MSG(strstr(err.msg, "damaged model: log_prior[0] is not a finite number"), "%s",
              err.msg);
    CHECK(patch_prior(path, "0"));
    CHECK(dgm_model_load(&m2, path, &err) == DGM_ERR_FORMAT && !m2);
    CHECK_MSG(strstr(err.msg, "damaged model: log_prior sums to probability"), "%s", err.msg);
    remove(path);
    /* samples of class c sit around 5c (mean of x_1 within 5 standard errors) */
    enum { S = 20000 };
    float *s = malloc(S * D * sizeof(float));
    int32_t ys[S];
    for (int c = 0; c < C; c++) {
        for (size_t i = 0; i < S; i++)
            ys[i] = c;
        CHECK(dgm_model_sample(m, &r, s, ys, S, 0, &err) == DGM_OK);
        double mean = 0;
        for (size_t i = 0; i < S; i++)
            mean += s[i * D + 1] / (double)S;
        CHECK_NEAR(mean, 5.0 * c, 5 * 0.6 / sqrt(S) + 5 * 0.6 / sqrt(N / C));
    }
    free(s);
    dgm_model_free(m);
    /* a class without examples; labels out of range; no labels at all */
    CHECK(dgm_tractable_fit(&m, &root, DGM_TRACTABLE_GMM, x, y, N, D, C + 1, &cfg, &err) ==
          DGM_ERR_ARG && !m);
    CHECK_MSG(strstr(err.msg, "class 3 has no examples"), "%s", err.msg);
    CHECK(dgm_tractable_fit(&m, &root, DGM_TRACTABLE_GMM, x, y, N, D, 2, &cfg, &err) ==
          DGM_ERR_ARG && !m);
    CHECK_MSG(strstr(err.msg, "label 2 of example 0"), "%s", err.msg);
    cfg.n_components = 600; /* more components than a class has examples */
    CHECK(dgm_tractable_fit(&m, &root, DGM_TRACTABLE_GMM, x, y, N, D, C, &cfg, &err) ==
          DGM_ERR_ARG && !m);
    CHECK_MSG(strstr(err.msg, "class 0: gmm: 600 components but only 499"), "%s", err.msg);
}

/* The same seed gives bit-identical parameters with 1 and 2 threads. */
static void test_threads(void)
{
    enum { N = 3000, D = 6 };
    dgm_rng r;
    dgm_rng_init(&r, 12);
    float x[N * D];
    blobs(&r, x, NULL, N, D, 4);
    int before = dgm_get_threads();
    for (int t = 0; t < 4; t++) {
        float p[2][4 * D * D];
        size_t cs = t == 0 ? 4 * D * D : t == 1 ? D * D : t == 2 ? 4 * D : 4;
        for (int th = 0; th < 2; th++) {
            dgm_set_threads(th + 1);
            dgm_rng s;
            dgm_rng_init(&s, 5);
            dgm_mixture_cfg cfg = dgm_mixture_defaults();
            cfg.n_components = 4;
            cfg.covariance = (dgm_cov_type)t;
            cfg.n_init = 2;
            dgm_model *m = NULL;
            dgm_err err = {0};
            char path[128];
            CHECK(dgm_gmm_fit(&m, &s, x, N, D, &cfg, &err) == DGM_OK);
            CHECK(m && dgm_model_save(m, tmp_path(path, sizeof path, "gmm_th"), &err) == DGM_OK);
            CHECK(read_tensor(p[th], cs, path, "covariances"));
            remove(path);
            dgm_model_free(m);
        }
        CHECK_MSG(!memcmp(p[0], p[1], cs * sizeof(float)), "covariance type %d", t);
    }
    dgm_set_threads(before);
}

int main(void)
{
    TEST_RUN(test_roundtrip);
    TEST_RUN(test_per_class);
    TEST_RUN(test_threads);
    TEST_MAIN_END("test_gmm_io");
}
