/* Products and mixtures of Bernoullis: the product's closed form, exact log-likelihoods
 * against the direct formula log sum_k w_k prod_j p^x (1-p)^(1-x), recovery of a known
 * mixture, a log-likelihood that never decreases over EM iterations, sampling moments,
 * constant pixels, clear errors, save/load and per-class models. */
#include "dgm.h"
#include "test.h"
#include "test_gmm_util.h"

enum { D = 30, K = 3 };

/* Component k: pixels of block k (10 wide) on with probability 0.85, others 0.1. */
static double truth_p(size_t k, size_t j) { return j / 10 == k ? 0.85 : 0.1; }

static void draw(dgm_rng *r, float *x, int32_t *comp, size_t n, const double *w)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = dgm_rng_categorical(r, w, K);
        if (comp)
            comp[i] = (int32_t)k;
        for (size_t j = 0; j < D; j++)
            x[i * D + j] = (float)dgm_rng_bernoulli(r, truth_p(k, j));
    }
}

/* log p(x) from the stored float parameters, term by term. */
static double direct(const float *x, const float *w, const float *p, size_t nk)
{
    double l[16], m = -INFINITY, s = 0, ws = 0;
    for (size_t k = 0; k < nk; k++)
        ws += w[k];
    for (size_t k = 0; k < nk; k++) {
        l[k] = log(w[k] / ws);
        for (size_t j = 0; j < D; j++)
            l[k] += x[j] ? log(p[k * D + j]) : log(1.0 - p[k * D + j]);
        m = l[k] > m ? l[k] : m;
    }
    for (size_t k = 0; k < nk; k++)
        s += exp(l[k] - m);
    return m + log(s);
}

static void test_product(void)
{
    enum { N = 4000 };
    dgm_rng r;
    dgm_rng_init(&r, 41);
    static float x[N * D];
    double w[K] = {0.5, 0.3, 0.2};
    draw(&r, x, NULL, N, w);
    for (size_t i = 0; i < N; i++)
        x[i * D + 5] = 0; /* a pixel that is never on */
    dgm_mixture_cfg cfg = dgm_mixture_defaults();
    cfg.min_prob = 1e-4;
    dgm_model *m = NULL;
    dgm_err err = {0};
    CHECK_MSG(dgm_bernoulli_fit(&m, x, N, D, &cfg, &err) == DGM_OK, "%s", err.msg);
    if (!m)
        return;
    CHECK(!strcmp(dgm_model_type(m), "bernoulli") && !strcmp(dgm_model_likelihood(m), "binary"));
    CHECK_EQ_INT(dgm_model_n_params(m), D);
    char path[128];
    CHECK(dgm_model_save(m, tmp_path(path, sizeof path, "bern"), &err) == DGM_OK);
    float p[D], one = 1;
    CHECK(read_tensor(p, D, path, "probs"));
    remove(path);
    for (size_t j = 0; j < D; j++) {
        double c = 0;
        for (size_t i = 0; i < N; i++)
            c += x[i * D + j];
        double want = c / N < 1e-4 ? 1e-4 : c / N;
        CHECK_NEAR(p[j], want, 1e-7 * want);
    }
    /* the clamped pixel turned on costs log(1e-4), not -inf */
    float t[D] = {0};
    t[5] = 1;
    double lp[2];
    CHECK(dgm_model_log_prob(m, NULL, lp, t, NULL, 1, 1, &err) == DGM_OK);
    CHECK_NEAR(lp[0], direct(t, &one, p, 1), 1e-10 * (1 + fabs(lp[0])));
    CHECK(isfinite(lp[0]) && lp[0] < log(1e-4));
    /* the closed-form view scores the same */
    dgm_dist d;
    CHECK_MSG(dgm_model_as_dist(m, &d, &err) == DGM_OK, "%s", err.msg);
    CHECK(d.kind == DGM_DIST_BERNOULLI && d.dim == D);
    double ld[2], lm[2];
    CHECK(dgm_dist_log_prob(ld, &d, x, 2, &err) == DGM_OK);
    CHECK(dgm_model_log_prob(m, NULL, lm, x, NULL, 2, 1, &err) == DGM_OK);
    CHECK_NEAR(ld[0], lm[0], 1e-10 * (1 + fabs(lm[0])));
    CHECK_NEAR(ld[1], lm[1], 1e-10 * (1 + fabs(lm[1])));
    dgm_model_free(m);
}

static void test_mixture(void)
{
    enum { N = 10000 };
    dgm_rng r;
    dgm_rng_init(&r, 42);
    static float x[N * D];
    double w[K] = {0.5, 0.3, 0.2};
    draw(&r, x, NULL, N, w);
    dgm_mixture_cfg cfg = dgm_mixture_defaults();
    cfg.n_components = K;
    cfg.n_init = 2;
    cfg.tol = 1e-8;
    dgm_model *m = NULL;
    dgm_err err = {0};
    CHECK_MSG(dgm_bernoulli_mixture_fit(&m, &r, x, N, D, &cfg, &err) == DGM_OK, "%s", err.msg);
    if (!m)
        return;
    CHECK(!strcmp(dgm_model_type(m), "bernoulli-mixture"));
    CHECK_EQ_INT(dgm_model_n_params(m), K * D + K - 1);
    char path[128];
    CHECK(dgm_model_save(m, tmp_path(path, sizeof path, "bmm"), &err) == DGM_OK);
    float fw[K], fp[K * D];
    CHECK(read_tensor(fw, K, path, "weights") && read_tensor(fp, K * D, path, "probs"));
    /* recovery within 5 standard errors */
    for (size_t k = 0; k < K; k++) {
        size_t best = 0;
        double bd = INFINITY;
        for (size_t c = 0; c < K; c++) {
            double dd = 0;
            for (size_t j = 0; j < D; j++)
                dd += (fp[c * D + j] - truth_p(k, j)) * (fp[c * D + j] - truth_p(k, j));
            if (dd < bd)
                bd = dd, best = c;
        }
        CHECK_NEAR(fw[best], w[k], 5 * sqrt(w[k] * (1 - w[k]) / N));
        for (size_t j = 0; j < D; j++) {
            double pt = truth_p(k, j);
            CHECK_NEAR(fp[best * D + j], pt, 5 * sqrt(pt * (1 - pt) / (w[k] * N)));
        }
    }
    /* exact log-likelihood against the direct formula */
    double lp[200];
    CHECK(dgm_model_log_prob(m, NULL, lp, x, NULL, 200, 1, &err) == DGM_OK);
    for (size_t i = 0; i < 200; i++)
        CHECK_NEAR(lp[i], direct(x + i * D, fw, fp, K), 1e-10 * (1 + fabs(lp[i])));
    dgm_dist d;
    CHECK(dgm_model_as_dist(m, &d, &err) == DGM_ERR_UNSUPPORTED);
    /* save -> load: identical log-probs */
    dgm_model *m2 = NULL;
    CHECK_MSG(dgm_model_load(&m2, path, &err) == DGM_OK, "%s", err.msg);
    double lp2[200];
    CHECK(m2 && dgm_model_log_prob(m2, NULL, lp2, x, NULL, 200, 1, &err) == DGM_OK);
    CHECK(m2 && !memcmp(lp, lp2, sizeof lp));
    dgm_model_free(m2);
    remove(path);
    /* sampling: pixel means against sum_k w_k p_kj, 5 standard errors; mean = 1 gives the
     * component probability vectors */
    enum { S = 100000 };
    float *s = malloc((size_t)S * D * sizeof(float));
    CHECK(dgm_model_sample(m, &r, s, NULL, S, 0, &err) == DGM_OK);
    for (size_t j = 0; j < D; j++) {
        double want = 0, got = 0;
        for (size_t k = 0; k < K; k++)
            want += fw[k] * fp[k * D + j];
        for (size_t i = 0; i < S; i++)
            got += s[i * D + j];
        CHECK_NEAR(got / S, want, 5 * sqrt(want * (1 - want) / S));
    }
    CHECK(dgm_model_sample(m, &r, s, NULL, 10, 1, &err) == DGM_OK);
    for (size_t i = 0; i < 10; i++) {
        int match = 0;
        for (size_t k = 0; k < K; k++)
            match |= !memcmp(s + i * D, fp + k * D, D * sizeof(float));
        CHECK(match);
    }
    free(s);
    dgm_model_free(m);
}

struct trace { int n; double ll[300]; };

static void record(void *ctx, int cls, int init, int iter, double ll)
{
    (void)cls;
    (void)init;
    (void)iter;
    struct trace *t = ctx;
    if (t->n < 300)
        t->ll[t->n++] = ll;
}

/* Random responsibilities, K = 5 for data of 3 components, tol 0: EM with the clamp is
 * exact EM for the box-constrained likelihood, scored in double, so every step must keep
 * or raise the log-likelihood up to double rounding (1e-13 relative). */
static void test_monotone(void)
{
    enum { N = 3000 };
    dgm_rng r;
    dgm_rng_init(&r, 43);
    static float x[N * D];
    double w[K] = {0.4, 0.3, 0.3};
    draw(&r, x, NULL, N, w);
    for (int pass = 0; pass < 2; pass++) {
        struct trace tr = {0};
        dgm_mixture_cfg cfg = dgm_mixture_defaults();
        cfg.n_components = 5;
        cfg.init = pass ? DGM_INIT_KMEANS : DGM_INIT_RANDOM;
        cfg.tol = 0;
        cfg.max_iter = 200;
        cfg.min_prob = pass ? 0.05 : 1e-6; /* a floor that binds, and one that does not */
        cfg.progress = record;
        cfg.progress_ctx = &tr;
        dgm_model *m = NULL;
        dgm_err err = {0};
        CHECK_MSG(dgm_bernoulli_mixture_fit(&m, &r, x, N, D, &cfg, &err) == DGM_OK, "%s", err.msg);
        CHECK_EQ_INT(tr.n, 200);
        for (int i = 1; i < tr.n; i++)
            CHECK_MSG(tr.ll[i] >= tr.ll[i - 1] - 1e-13 * (1 + fabs(tr.ll[i])),
                      "pass %d iteration %d: %.17g < %.17g", pass, i + 1, tr.ll[i], tr.ll[i - 1]);
        CHECK(tr.ll[tr.n - 1] > tr.ll[0] + 0.01);
        dgm_model_free(m);
    }
}

static void test_errors_and_classes(void)
{
    enum { N = 1200 };
    dgm_rng r;
    dgm_rng_init(&r, 44);
    static float x[N * D];
    int32_t comp[N];
    double w[K] = {0.4, 0.3, 0.3};
    draw(&r, x, comp, N, w);
    dgm_mixture_cfg cfg = dgm_mixture_defaults();
    cfg.n_components = 2;
    dgm_model *m = NULL;
    dgm_err err = {0};
    /* per class (classes = the true components): equal to separate fits with fork c */
    dgm_rng root;
    dgm_rng_init(&root, 5);
    CHECK_MSG(dgm_tractable_fit(&m, &root, DGM_TRACTABLE_BERNOULLI_MIXTURE, x, comp, N, D, K,
                                &cfg, &err) == DGM_OK, "%s", err.msg);
    double lp[N];
    CHECK(m && dgm_model_log_prob(m, NULL, lp, x, comp, N, 1, &err) == DGM_OK);
    int bad = m ? per_class_mismatch(dgm_bernoulli_mixture_fit, &cfg, &root, lp, x, comp, N, D, K)
                : -1;
    CHECK_MSG(bad < 0, "class %d: a separate fit gives other log-probabilities", bad);
    dgm_model_free(m);
    m = NULL;
    /* a product per class */
    CHECK(dgm_tractable_fit(&m, &root, DGM_TRACTABLE_BERNOULLI, x, comp, N, D, K, &cfg, &err) ==
          DGM_OK && m && !strcmp(dgm_model_type(m), "bernoulli") && dgm_model_n_classes(m) == K);
    CHECK(m && dgm_model_n_params(m) == K * D);
    dgm_model_free(m);
    m = NULL;
    /* grey levels, a bad floor, more components than examples */
    x[3 * D + 7] = 0.5f;
    CHECK(dgm_bernoulli_mixture_fit(&m, &r, x, N, D, &cfg, &err) == DGM_ERR_ARG && !m);
    CHECK_MSG(strstr(err.msg, "example 3, dimension 7 is 0.5") && strstr(err.msg, "binarize"),
              "%s", err.msg);
    CHECK(dgm_bernoulli_fit(&m, x, N, D, &cfg, &err) == DGM_ERR_ARG && !m);
    x[3 * D + 7] = 1;
    cfg.min_prob = 0;
    CHECK(dgm_bernoulli_fit(&m, x, N, D, &cfg, &err) == DGM_ERR_ARG && !m);
    CHECK_MSG(strstr(err.msg, "min_prob"), "%s", err.msg);
    cfg.min_prob = 1e-6;
    cfg.n_components = N + 1;
    CHECK(dgm_bernoulli_mixture_fit(&m, &r, x, N, D, &cfg, &err) == DGM_ERR_ARG && !m);
    /* scoring grey levels is refused too */
    cfg.n_components = 2;
    CHECK(dgm_bernoulli_mixture_fit(&m, &r, x, N, D, &cfg, &err) == DGM_OK);
    x[0] = 0.25f;
    CHECK(m && dgm_model_log_prob(m, NULL, lp, x, NULL, 2, 1, &err) == DGM_ERR_ARG);
    dgm_model_free(m);
}

int main(void)
{
    TEST_RUN(test_product);
    TEST_RUN(test_mixture);
    TEST_RUN(test_monotone);
    TEST_RUN(test_errors_and_classes);
    TEST_MAIN_END("test_bernoulli");
}
