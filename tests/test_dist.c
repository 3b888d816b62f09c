/* Closed-form distributions: KL against hand-derived values, against an independent code
 * path (full-covariance formula on diagonal matrices, dense assembly of products), and
 * against seeded Monte Carlo of log-density differences within 4 standard errors, in 1, 10
 * and 100 dimensions; entropies; the infinite and unsupported cases; JSON specs and their
 * error messages; sampling independent of the thread count. */
#include "dgm.h"
#include "test.h"

/* Random Gaussian parameters: means in [-1, 1], variances in [0.5, 2]. */
static void rand_diag(dgm_rng *r, double *mean, double *var, size_t D)
{
    for (size_t j = 0; j < D; j++) {
        mean[j] = 2 * dgm_rng_uniform_d(r) - 1;
        var[j] = 0.5 + 1.5 * dgm_rng_uniform_d(r);
    }
}

/* cov = A A^T / D + 0.5 I with A standard normal: well conditioned, correlated. */
static void rand_spd(dgm_rng *r, double *cov, size_t D)
{
    double *A = malloc(sizeof(double) * D * D);
    for (size_t i = 0; i < D * D; i++)
        A[i] = dgm_rng_normal(r);
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < D; j++) {
            double s = 0;
            for (size_t k = 0; k < D; k++)
                s += A[i * D + k] * A[j * D + k];
            cov[i * D + j] = s / (double)D + (i == j ? 0.5 : 0.0);
        }
    free(A);
}

/* MC estimate of KL(p||q) with its standard error: mean of log p - log q over x ~ p. */
static void mc_kl(double *kl, double *se, const dgm_dist *p, const dgm_dist *q, size_t n,
                  uint64_t seed)
{
    float *x = malloc(sizeof(float) * n * p->dim);
    double *lp = malloc(sizeof(double) * n), *lq = malloc(sizeof(double) * n);
    dgm_rng r;
    dgm_rng_init(&r, seed);
    dgm_err e;
    CHECK(dgm_dist_sample(&r, x, p, n, &e) == DGM_OK);
    CHECK(dgm_dist_log_prob(lp, p, x, n, &e) == DGM_OK);
    CHECK(dgm_dist_log_prob(lq, q, x, n, &e) == DGM_OK);
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++) {
        double t = lp[i] - lq[i];
        s += t;
        ss += t * t;
    }
    *kl = s / n;
    *se = sqrt((ss / n - *kl * *kl) / (n - 1));
    free(x), free(lp), free(lq);
}

static void test_gauss_1d_known(void)
{
    /* KL(N(0,1) || N(1,4)) = log 2 + (1 + 1)/(2*4) - 1/2 */
    double m0 = 0, v0 = 1, m1 = 1, v1 = 4, kl;
    dgm_dist p = {.kind = DGM_DIST_GAUSS_DIAG, .dim = 1, .mean = &m0, .var = &v0};
    dgm_dist q = {.kind = DGM_DIST_GAUSS_DIAG, .dim = 1, .mean = &m1, .var = &v1};
    dgm_err e;
    CHECK(dgm_kl_closed(&kl, &p, &q, &e) == DGM_OK);
    CHECK_NEAR(kl, log(2.0) + 0.25 - 0.5, 1e-15);
    CHECK(dgm_kl_closed(&kl, &q, &p, &e) == DGM_OK); /* asymmetry: 1/2 (4 + 1 - 1 - log 4) */
    CHECK_NEAR(kl, 0.5 * (4 + 1 - 1 - log(4.0)), 1e-15);
    CHECK(dgm_kl_closed(&kl, &p, &p, &e) == DGM_OK);
    CHECK(kl == 0.0);
}

static void test_gauss_vs_mc(void)
{
    const size_t dims[3] = {1, 10, 100};
    dgm_rng r;
    dgm_rng_init(&r, 11);
    for (int t = 0; t < 3; t++) {
        size_t D = dims[t];
        double *mp = malloc(8 * D), *vp = malloc(8 * D), *mq = malloc(8 * D), *vq = malloc(8 * D);
        double *cp = malloc(8 * D * D), *cq = malloc(8 * D * D);
        rand_diag(&r, mp, vp, D);
        rand_diag(&r, mq, vq, D);
        dgm_dist p = {.kind = DGM_DIST_GAUSS_DIAG, .dim = D, .mean = mp, .var = vp};
        dgm_dist q = {.kind = DGM_DIST_GAUSS_DIAG, .dim = D, .mean = mq, .var = vq};
        double kl, mc, se;
        dgm_err e;
        CHECK(dgm_kl_closed(&kl, &p, &q, &e) == DGM_OK);
        mc_kl(&mc, &se, &p, &q, 20000, 100 + t);
        CHECK_NEAR(mc, kl, 4 * se);

        /* full code path on the same (diagonal) covariances: must agree to rounding */
        for (size_t i = 0; i < D * D; i++)
            cp[i] = cq[i] = 0;
        for (size_t j = 0; j < D; j++)
            cp[j * D + j] = vp[j], cq[j * D + j] = vq[j];
        dgm_dist pf = {.kind = DGM_DIST_GAUSS_FULL, .dim = D, .mean = mp, .cov = cp};
        dgm_dist qf = {.kind = DGM_DIST_GAUSS_FULL, .dim = D, .mean = mq, .cov = cq};
        double klf, klm;
        CHECK(dgm_kl_closed(&klf, &pf, &qf, &e) == DGM_OK);
        CHECK_NEAR(klf, kl, 1e-12 * (1 + kl));
        CHECK(dgm_kl_closed(&klm, &p, &qf, &e) == DGM_OK); /* mixed diag/full */
        CHECK_NEAR(klm, kl, 1e-12 * (1 + kl));

        /* correlated covariances: closed form vs MC */
        rand_spd(&r, cp, D);
        rand_spd(&r, cq, D);
        CHECK(dgm_kl_closed(&klf, &pf, &qf, &e) == DGM_OK);
        mc_kl(&mc, &se, &pf, &qf, 20000, 200 + t);
        CHECK_NEAR(mc, klf, 4 * se);
        /* entropy of a full Gaussian vs MC of -log p */
        double h;
        CHECK(dgm_dist_entropy(&h, &pf, &e) == DGM_OK);
        {
            size_t n = 20000;
            float *x = malloc(sizeof(float) * n * D);
            double *lp = malloc(sizeof(double) * n), s = 0, ss = 0;
            dgm_rng rs;
            dgm_rng_init(&rs, 300 + t);
            dgm_dist_sample(&rs, x, &pf, n, &e);
            dgm_dist_log_prob(lp, &pf, x, n, &e);
            for (size_t i = 0; i < n; i++)
                s -= lp[i], ss += lp[i] * lp[i];
            double m = s / n, sd = sqrt(ss / n - m * m);
            CHECK_NEAR(m, h, 4 * sd / sqrt(n));
            free(x), free(lp);
        }
        free(mp), free(vp), free(mq), free(vq), free(cp), free(cq);
    }
}

static void test_bernoulli_categorical(void)
{
    double p[4] = {0.1, 0.5, 0.9, 0.0}, q[4] = {0.2, 0.5, 0.7, 0.3}, kl, want = 0;
    for (int j = 0; j < 4; j++) /* direct sum, with 0 log 0 = 0 written out */
        want += (p[j] > 0 ? p[j] * log(p[j] / q[j]) : 0) + (1 - p[j]) * log((1 - p[j]) / (1 - q[j]));
    dgm_dist bp = {.kind = DGM_DIST_BERNOULLI, .dim = 4, .p = p};
    dgm_dist bq = {.kind = DGM_DIST_BERNOULLI, .dim = 4, .p = q};
    dgm_err e;
    CHECK(dgm_kl_closed(&kl, &bp, &bq, &e) == DGM_OK);
    CHECK_NEAR(kl, want, 1e-14);
    double mc, se;
    mc_kl(&mc, &se, &bp, &bq, 20000, 5);
    CHECK_NEAR(mc, kl, 4 * se);
    /* q = 0 where p > 0: +inf, not NaN; the other direction is finite */
    CHECK(dgm_kl_closed(&kl, &bq, &bp, &e) == DGM_OK);
    CHECK(isinf(kl) && kl > 0);

    double cp[6] = {0.2, 0.3, 0.5, 1.0, 0.0, 0.0}, cq[6] = {0.3, 0.3, 0.4, 0.5, 0.25, 0.25};
    dgm_dist c1 = {.kind = DGM_DIST_CATEGORICAL, .dim = 6, .n_cat = 3, .p = cp};
    dgm_dist c2 = {.kind = DGM_DIST_CATEGORICAL, .dim = 6, .n_cat = 3, .p = cq};
    want = 0.2 * log(0.2 / 0.3) + 0.5 * log(0.5 / 0.4) + log(1 / 0.5);
    CHECK(dgm_kl_closed(&kl, &c1, &c2, &e) == DGM_OK);
    CHECK_NEAR(kl, want, 1e-14);
    mc_kl(&mc, &se, &c1, &c2, 20000, 6);
    CHECK_NEAR(mc, kl, 4 * se);
    CHECK(dgm_kl_closed(&kl, &c2, &c1, &e) == DGM_OK);
    CHECK(isinf(kl) && kl > 0);
    double h;
    CHECK(dgm_dist_entropy(&h, &c1, &e) == DGM_OK);
    CHECK_NEAR(h, -(0.2 * log(0.2) + 0.3 * log(0.3) + 0.5 * log(0.5)), 1e-14);
    CHECK(dgm_dist_entropy(&h, &bp, &e) == DGM_OK);
    CHECK_NEAR(h, -(0.1 * log(0.1) + 0.9 * log(0.9)) * 2 - 2 * 0.5 * log(0.5), 1e-14);
}

static void test_products(void)
{
    double m5[5] = {0.1, -0.2, 0.3, 0.0, 1.0}, v5[5] = {1.0, 0.5, 2.0, 1.5, 0.7};
    double n5[5] = {0.0, 0.2, -0.1, 0.4, 0.9}, w5[5] = {1.2, 0.6, 1.0, 1.0, 1.1};
    dgm_dist p5 = {.kind = DGM_DIST_GAUSS_DIAG, .dim = 5, .mean = m5, .var = v5};
    dgm_dist q5 = {.kind = DGM_DIST_GAUSS_DIAG, .dim = 5, .mean = n5, .var = w5};
    /* q as a product of blocks 2 + 3 that p's single block must be split against */
    dgm_dist qf[2] = {{.kind = DGM_DIST_GAUSS_DIAG, .dim = 2, .mean = n5, .var = w5},
                      {.kind = DGM_DIST_GAUSS_DIAG, .dim = 3, .mean = n5 + 2, .var = w5 + 2}};
    dgm_dist qp = {.kind = DGM_DIST_PRODUCT, .dim = 5, .factors = qf, .n_factors = 2};
    double a, b;
    dgm_err e;
    CHECK(dgm_kl_closed(&a, &p5, &q5, &e) == DGM_OK);
    CHECK(dgm_kl_closed(&b, &p5, &qp, &e) == DGM_OK);
    CHECK_NEAR(b, a, 1e-14);

    /* a full block inside an all-Gaussian product: compare with the dense 5 x 5 formula */
    double c3[9] = {1.0, 0.3, 0.1, 0.3, 0.8, -0.2, 0.1, -0.2, 1.5};
    dgm_dist pf[2] = {{.kind = DGM_DIST_GAUSS_FULL, .dim = 3, .mean = m5, .cov = c3},
                      {.kind = DGM_DIST_GAUSS_DIAG, .dim = 2, .mean = m5 + 3, .var = v5 + 3}};
    dgm_dist pp = {.kind = DGM_DIST_PRODUCT, .dim = 5, .factors = pf, .n_factors = 2};
    double dense[25] = {0};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            dense[i * 5 + j] = c3[i * 3 + j];
    dense[18] = v5[3], dense[24] = v5[4];
    dgm_dist pd = {.kind = DGM_DIST_GAUSS_FULL, .dim = 5, .mean = m5, .cov = dense};
    CHECK(dgm_kl_closed(&a, &pd, &qp, &e) == DGM_OK);
    CHECK(dgm_kl_closed(&b, &pp, &qp, &e) == DGM_OK);
    CHECK_NEAR(b, a, 1e-12);
    double mc, se;
    mc_kl(&mc, &se, &pp, &q5, 20000, 7);
    CHECK_NEAR(mc, a, 4 * se);

    /* mixed families: gauss(2) x bernoulli(2) vs the same layout; KL adds up */
    double bp[2] = {0.3, 0.6}, bq[2] = {0.5, 0.5};
    dgm_dist mp[2] = {{.kind = DGM_DIST_GAUSS_DIAG, .dim = 2, .mean = m5, .var = v5},
                      {.kind = DGM_DIST_BERNOULLI, .dim = 2, .p = bp}};
    dgm_dist mq[2] = {{.kind = DGM_DIST_GAUSS_DIAG, .dim = 2, .mean = n5, .var = w5},
                      {.kind = DGM_DIST_BERNOULLI, .dim = 2, .p = bq}};
    dgm_dist P = {.kind = DGM_DIST_PRODUCT, .dim = 4, .factors = mp, .n_factors = 2};
    dgm_dist Q = {.kind = DGM_DIST_PRODUCT, .dim = 4, .factors = mq, .n_factors = 2};
    double g, ber, all;
    CHECK(dgm_kl_closed(&g, &mp[0], &mq[0], &e) == DGM_OK);
    CHECK(dgm_kl_closed(&ber, &mp[1], &mq[1], &e) == DGM_OK);
    CHECK(dgm_kl_closed(&all, &P, &Q, &e) == DGM_OK);
    CHECK_NEAR(all, g + ber, 1e-14);
    mc_kl(&mc, &se, &P, &Q, 20000, 8);
    CHECK_NEAR(mc, all, 4 * se);
    double h, hg, hb;
    CHECK(dgm_dist_entropy(&h, &P, &e) == DGM_OK);
    dgm_dist_entropy(&hg, &mp[0], &e);
    dgm_dist_entropy(&hb, &mp[1], &e);
    CHECK_NEAR(h, hg + hb, 1e-14);
}

static void test_unsupported_and_invalid(void)
{
    double m[2] = {0, 0}, v[2] = {1, 1}, p[2] = {0.5, 0.5}, kl = 123;
    dgm_dist g = {.kind = DGM_DIST_GAUSS_DIAG, .dim = 2, .mean = m, .var = v};
    dgm_dist b = {.kind = DGM_DIST_BERNOULLI, .dim = 2, .p = p};
    dgm_dist g1 = {.kind = DGM_DIST_GAUSS_DIAG, .dim = 1, .mean = m, .var = v};
    dgm_err e = {0};
    CHECK(dgm_kl_closed(&kl, &g, &b, &e) == DGM_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(e.msg, "different supports") != NULL, "%s", e.msg);
    CHECK(kl == 123);
    CHECK(dgm_kl_closed(&kl, &g, &g1, &e) == DGM_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(e.msg, "dimensions") != NULL, "%s", e.msg);
    double badv[2] = {1, -1};
    dgm_dist gb = {.kind = DGM_DIST_GAUSS_DIAG, .dim = 2, .mean = m, .var = badv};
    CHECK(dgm_kl_closed(&kl, &g, &gb, &e) == DGM_ERR_ARG);
    CHECK_MSG(strstr(e.msg, "q: var[1] = -1 is not > 0") != NULL, "%s", e.msg);
    double c[4] = {1, 2, 2, 1}; /* symmetric, not positive definite */
    dgm_dist gf = {.kind = DGM_DIST_GAUSS_FULL, .dim = 2, .mean = m, .cov = c};
    CHECK(dgm_dist_check(&gf, &e) == DGM_ERR_ARG);
    CHECK_MSG(strstr(e.msg, "positive definite") != NULL, "%s", e.msg);
    double huge[2] = {0, 1e308}, unit[2] = {1, 1}, bigc[4] = {1e80, 0, 0, 1};
    dgm_dist gh = {.kind = DGM_DIST_GAUSS_DIAG, .dim = 2, .mean = huge, .var = unit};
    CHECK(dgm_dist_check(&gh, &e) == DGM_ERR_ARG); /* no float sample (fuzz_kl_spec) */
    CHECK_MSG(strstr(e.msg, "mean[1]") && strstr(e.msg, "float"), "%s", e.msg);
    dgm_dist gc = {.kind = DGM_DIST_GAUSS_FULL, .dim = 2, .mean = m, .cov = bigc};
    CHECK(dgm_dist_check(&gc, &e) == DGM_ERR_ARG);
    CHECK_MSG(strstr(e.msg, "variance 0"), "%s", e.msg);
    double cat[3] = {0.5, -0.1, 0.6};
    dgm_dist cd = {.kind = DGM_DIST_CATEGORICAL, .dim = 3, .n_cat = 3, .p = cat};
    CHECK(dgm_dist_check(&cd, &e) == DGM_ERR_ARG);
    CHECK_MSG(strstr(e.msg, "p[0][1] = -0.1 is negative") != NULL, "%s", e.msg);
    double nanm[2] = {NAN, 0};
    dgm_dist gn = {.kind = DGM_DIST_GAUSS_DIAG, .dim = 2, .mean = nanm, .var = v};
    CHECK(dgm_dist_check(&gn, &e) == DGM_ERR_NAN);
}

static void test_log_prob_edges(void)
{
    double p[3] = {0.0, 1.0, 0.25}, lp[2];
    dgm_dist b = {.kind = DGM_DIST_BERNOULLI, .dim = 3, .p = p};
    float x[6] = {0, 1, 1, 1, 1, 0};
    dgm_err e;
    CHECK(dgm_dist_log_prob(lp, &b, x, 2, &e) == DGM_OK);
    CHECK_NEAR(lp[0], log(0.25), 1e-15);      /* 0 log 0 terms vanish */
    CHECK(isinf(lp[1]) && lp[1] < 0);          /* x = 1 where p = 0 */
    /* full log-density on a diagonal covariance equals the diagonal one */
    double m[2] = {1, -1}, v[2] = {0.5, 3}, c[4] = {0.5, 0, 0, 3}, a[1], f[1];
    float y[2] = {2.5f, 0.25f};
    dgm_dist gd = {.kind = DGM_DIST_GAUSS_DIAG, .dim = 2, .mean = m, .var = v};
    dgm_dist gf = {.kind = DGM_DIST_GAUSS_FULL, .dim = 2, .mean = m, .cov = c};
    dgm_dist_log_prob(a, &gd, y, 1, &e);
    dgm_dist_log_prob(f, &gf, y, 1, &e);
    double want = -0.5 * (2 * log(2 * M_PI) + log(1.5) + 1.5 * 1.5 / 0.5 + 1.25 * 1.25 / 3);
    CHECK_NEAR(a[0], want, 1e-12);
    CHECK_NEAR(f[0], want, 1e-12);
}

static void test_sample_threads(void)
{
    double m[50], v[50];
    dgm_rng r;
    dgm_rng_init(&r, 3);
    rand_diag(&r, m, v, 50);
    dgm_dist g = {.kind = DGM_DIST_GAUSS_DIAG, .dim = 50, .mean = m, .var = v};
    size_t n = 4000;
    float *a = malloc(sizeof(float) * n * 50), *b = malloc(sizeof(float) * n * 50);
    dgm_err e;
    dgm_set_threads(1);
    dgm_rng_init(&r, 9);
    dgm_dist_sample(&r, a, &g, n, &e);
    dgm_set_threads(2);
    dgm_rng_init(&r, 9);
    dgm_dist_sample(&r, b, &g, n, &e);
    CHECK(memcmp(a, b, sizeof(float) * n * 50) == 0);
    free(a), free(b);
}

static void test_json_spec(void)
{
    const char *ps = "{\"family\":\"product\",\"factors\":[\n"
                     " {\"family\":\"gaussian\",\"mean\":[0,1],\"cov\":[[1,0.5],[0.5,2]]},\n"
                     " {\"family\":\"bernoulli\",\"p\":[0.25]},\n"
                     " {\"family\":\"categorical\",\"p\":[[0.5,0.5],[0.1,0.9]]}]}";
    const char *qs = "{\"family\":\"product\",\"factors\":[\n"
                     " {\"family\":\"gaussian\",\"mean\":[0,0],\"var\":[1,1]},\n"
                     " {\"family\":\"bernoulli\",\"p\":[0.5]},\n"
                     " {\"family\":\"categorical\",\"p\":[[0.9,0.1],[0.5,0.5]]}]}";
    dgm_dist *p, *q;
    dgm_err e;
    CHECK(dgm_dist_parse_json(&p, ps, "p.json", &e) == DGM_OK);
    CHECK(dgm_dist_parse_json(&q, qs, "q.json", &e) == DGM_OK);
    if (!p || !q)
        return;
    CHECK_EQ_INT(p->dim, 7);
    /* hand sum of the three blocks */
    double kg = 0.5 * (1 + 2 + 1 - 2 - log(1.75)); /* tr + maha - D + log|I| - log|S| */
    double kb = 0.25 * log(0.5) + 0.75 * log(1.5);
    double kc = 0.5 * log(0.5 / 0.9) + 0.5 * log(0.5 / 0.1) + 0.1 * log(0.2) + 0.9 * log(1.8);
    double kl;
    CHECK(dgm_kl_closed(&kl, p, q, &e) == DGM_OK);
    CHECK_NEAR(kl, kg + kb + kc, 1e-14);
    dgm_dist_free(p);
    dgm_dist_free(q);

    struct { const char *text, *want; } bad[] = {
        {"{\"family\":\"gaussian\",\"mean\":[0],\n\"var\":[1],}", "s.json: line 2: not valid JSON"},
        {"{\"family\":\"poisson\"}", "s.json: unknown family 'poisson'"},
        {"{\"family\":\"gaussian\",\"mean\":[0,0],\"var\":[1]}", "mean has 2 values but var has 1"},
        {"{\"family\":\"product\",\"factors\":[{\"family\":\"bernoulli\",\"p\":[0.5]},"
         "{\"family\":\"gaussian\",\"mean\":[0],\"var\":[-2]}]}",
         "s.json: factors[1]: var[0] = -2 is not > 0"},
        {"{\"family\":\"bernoulli\",\"p\":[0.5,\"x\"]}", "s.json: p[1] is not a number"},
        {"{\"family\":\"categorical\",\"p\":[[0.5,0.5],[1]]}", "p[1] has 1 values but p[0] has 2"},
        {"{\"family\":\"categorical\",\"p\":[0.5,0.6]}", "p[0] sums to 1.1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dgm_dist *d = (dgm_dist *)1;
        CHECK(dgm_dist_parse_json(&d, bad[i].text, "s.json", &e) != DGM_OK);
        CHECK(d == NULL);
        CHECK_MSG(strstr(e.msg, bad[i].want) != NULL, "case %zu: '%s'", i, e.msg);
    }
}

int main(void)
{
    TEST_RUN(test_gauss_1d_known);
    TEST_RUN(test_gauss_vs_mc);
    TEST_RUN(test_bernoulli_categorical);
    TEST_RUN(test_products);
    TEST_RUN(test_unsupported_and_invalid);
    TEST_RUN(test_log_prob_edges);
    TEST_RUN(test_sample_threads);
    TEST_RUN(test_json_spec);
    TEST_MAIN_END("test_dist");
}
