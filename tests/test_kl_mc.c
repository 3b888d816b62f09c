/* Monte Carlo KL between two dgm models, on test-only models built here: diagonal Gaussians
 * with exact log-densities (vs the closed form, within 4 standard errors, in 1, 10 and 100
 * dimensions), and a latent-variable Gaussian whose log-density is importance sampled
 * (the estimate converges as k grows and is biased low for small k, as documented);
 * dgm_model_as_dist and the checks on mismatched models. */
#include "dgm.h"
#include "models/model.h"
#include "test.h"

// ---- a diagonal Gaussian model (exact)

typedef struct { size_t D; double *mean, *var; } tgauss;

static dgm_status tg_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                              const int32_t *y, size_t n, int k, dgm_err *err)
{
    (void)rng, (void)y, (void)k, (void)err;
    const tgauss *g = m->impl;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < g->D; j++) {
            double r = x[i * g->D + j] - g->mean[j];
            s += -0.5 * (log(2 * M_PI * g->var[j]) + r * r / g->var[j]);
        }
        out[i] = s;
    }
    return DGM_OK;
}

static dgm_status tg_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y, size_t n,
                            int mean, dgm_err *err)
{
    (void)y, (void)mean, (void)err;
    const tgauss *g = m->impl;
    for (size_t i = 0; i < n; i++) {
        dgm_rng r;
        dgm_rng_fork(&r, rng, i);
        for (size_t j = 0; j < g->D; j++)
            out[i * g->D + j] = (float)(g->mean[j] + sqrt(g->var[j]) * dgm_rng_normal(&r));
    }
    return DGM_OK;
}

static dgm_status tg_as_dist(const dgm_model *m, struct dgm_dist *out, dgm_err *err)
{
    (void)err;
    const tgauss *g = m->impl;
    *out = (dgm_dist){.kind = DGM_DIST_GAUSS_DIAG, .dim = g->D, .mean = g->mean, .var = g->var};
    return DGM_OK;
}

static void tg_destroy(void *impl)
{
    tgauss *g = impl;
    free(g->mean), free(g->var), free(g);
}

static const dgm__model_ops tg_ops = {.type = "test-gauss", .log_prob = tg_log_prob,
                                      .sample = tg_sample, .destroy = tg_destroy,
                                      .as_dist = tg_as_dist};

static dgm_model *tg_new(dgm_rng *r, size_t D, double mscale)
{
    tgauss *g = malloc(sizeof *g);
    g->D = D;
    g->mean = malloc(sizeof(double) * D);
    g->var = malloc(sizeof(double) * D);
    for (size_t j = 0; j < D; j++) {
        g->mean[j] = mscale * (2 * dgm_rng_uniform_d(r) - 1);
        g->var[j] = 0.5 + 1.5 * dgm_rng_uniform_d(r);
    }
    dgm_model *m = dgm__model_new(&tg_ops, g);
    m->dim = D;
    m->exact = 1;
    snprintf(m->likelihood, sizeof m->likelihood, "continuous");
    return m;
}

// ---- a latent-variable model: z ~ N(0, 1), x | z ~ N(z, s2) in 1-D, so p(x) = N(0, 1 + s2);
// log p(x) estimated by importance sampling from the prior: log mean_j p(x | z_j).

static dgm_status lv_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                              const int32_t *y, size_t n, int k, dgm_err *err)
{
    (void)y, (void)err;
    double s2 = *(double *)m->impl;
    double *w = malloc(sizeof(double) * (size_t)k);
    for (size_t i = 0; i < n; i++) {
        dgm_rng r;
        dgm_rng_fork(&r, rng, i);
        for (int j = 0; j < k; j++) {
            double z = dgm_rng_normal(&r), u = x[i] - z;
            w[j] = -0.5 * (log(2 * M_PI * s2) + u * u / s2);
        }
        out[i] = dgm_logsumexp_d(w, (size_t)k) - log((double)k);
    }
    free(w);
    return DGM_OK;
}

static dgm_status lv_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y, size_t n,
                            int mean, dgm_err *err)
{
    (void)y, (void)mean, (void)err;
    double s2 = *(double *)m->impl;
    for (size_t i = 0; i < n; i++) {
        dgm_rng r;
        dgm_rng_fork(&r, rng, i);
        out[i] = (float)(dgm_rng_normal(&r) + sqrt(s2) * dgm_rng_normal(&r));
    }
    return DGM_OK;
}

static const dgm__model_ops lv_ops = {.type = "test-latent", .log_prob = lv_log_prob,
                                      .sample = lv_sample, .destroy = free};

// ---- tests

static void test_mc_vs_closed(void)
{
    const size_t dims[3] = {1, 10, 100};
    dgm_rng r;
    dgm_rng_init(&r, 5);
    for (int t = 0; t < 3; t++) {
        dgm_model *p = tg_new(&r, dims[t], 1.0), *q = tg_new(&r, dims[t], 1.0);
        dgm_dist dp, dq;
        dgm_err e;
        double kl;
        CHECK(dgm_model_as_dist(p, &dp, &e) == DGM_OK);
        CHECK(dgm_model_as_dist(q, &dq, &e) == DGM_OK);
        CHECK(dgm_kl_closed(&kl, &dp, &dq, &e) == DGM_OK);
        dgm_kl_result res;
        dgm_rng s;
        dgm_rng_init(&s, 100 + t);
        CHECK_MSG(dgm_kl_mc(&s, &res, p, q, 20000, 1, &e) == DGM_OK, "%s", e.msg);
        CHECK_EQ_INT(res.n, 20000);
        CHECK(res.exact == 1);
        CHECK(res.se > 0);
        CHECK_NEAR(res.kl, kl, 4 * res.se);
        /* the other direction differs: KL is not symmetric */
        double klr;
        dgm_kl_closed(&klr, &dq, &dp, &e);
        CHECK(dgm_kl_mc(&s, &res, q, p, 20000, 1, &e) == DGM_OK);
        CHECK_NEAR(res.kl, klr, 4 * res.se);
        dgm_model_free(p);
        dgm_model_free(q);
    }
}

static void test_mc_latent_bias(void)
{
    double *s2 = malloc(sizeof(double));
    *s2 = 0.25;
    dgm_model *p = dgm__model_new(&lv_ops, s2);
    p->dim = 1;
    p->exact = 0;
    snprintf(p->likelihood, sizeof p->likelihood, "continuous");
    dgm_rng r;
    dgm_rng_init(&r, 9);
    dgm_model *q = tg_new(&r, 1, 1.0);
    tgauss *g = q->impl;
    /* KL(N(0, 1.25) || N(mq, vq)) */
    double vp = 1.25, want = 0.5 * (vp / g->var[0] + g->mean[0] * g->mean[0] / g->var[0] - 1 +
                                    log(g->var[0] / vp));
    dgm_kl_result big, small;
    dgm_err e;
    dgm_rng_init(&r, 10);
    CHECK(dgm_kl_mc(&r, &big, p, q, 4000, 2000, &e) == DGM_OK);
    CHECK(big.exact == 0);
    CHECK_NEAR(big.kl, want, 4 * big.se);
    /* k = 1: log p(x) is biased low by E[log p(x)] - E[log p(x|z)] > 0, so is the KL; the
     * same seed makes the comparison paired */
    dgm_rng_init(&r, 10);
    CHECK(dgm_kl_mc(&r, &small, p, q, 4000, 1, &e) == DGM_OK);
    CHECK(small.kl < want - 4 * small.se);
    dgm_dist d;
    CHECK(dgm_model_as_dist(p, &d, &e) == DGM_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(e.msg, "test-latent") != NULL, "%s", e.msg);
    dgm_model_free(p);
    dgm_model_free(q);
}

static void test_mc_errors(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 3);
    dgm_model *a = tg_new(&r, 3, 1.0), *b = tg_new(&r, 4, 1.0), *c = tg_new(&r, 3, 1.0);
    snprintf(c->likelihood, sizeof c->likelihood, "binary");
    dgm_kl_result res;
    dgm_err e;
    CHECK(dgm_kl_mc(&r, &res, a, b, 100, 1, &e) == DGM_ERR_SHAPE);
    CHECK_MSG(strstr(e.msg, "different dimensions: p 3, q 4") != NULL, "%s", e.msg);
    CHECK(dgm_kl_mc(&r, &res, a, c, 100, 1, &e) == DGM_ERR_ARG);
    CHECK_MSG(strstr(e.msg, "continuous") && strstr(e.msg, "binary"), "%s", e.msg);
    CHECK(dgm_kl_mc(&r, &res, a, a, 1, 1, &e) == DGM_ERR_ARG);
    dgm_model_free(a), dgm_model_free(b), dgm_model_free(c);
}

static void test_mc_threads(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 4);
    dgm_model *p = tg_new(&r, 5, 1.0), *q = tg_new(&r, 5, 1.0);
    dgm_kl_result a, b;
    dgm_err e;
    dgm_set_threads(1);
    dgm_rng_init(&r, 8);
    dgm_kl_mc(&r, &a, p, q, 1000, 1, &e);
    dgm_set_threads(2);
    dgm_rng_init(&r, 8);
    dgm_kl_mc(&r, &b, p, q, 1000, 1, &e);
    CHECK(a.kl == b.kl && a.se == b.se);
    dgm_model_free(p), dgm_model_free(q);
}

int main(void)
{
    TEST_RUN(test_mc_vs_closed);
    TEST_RUN(test_mc_latent_bias);
    TEST_RUN(test_mc_errors);
    TEST_RUN(test_mc_threads);
    TEST_MAIN_END("test_kl_mc");
}
