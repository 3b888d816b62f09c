/* Empirical log-likelihood and the evaluation data preparation, on test-only models: a
 * continuous Gaussian (mean, total and standard error vs direct sums), a Bernoulli product
 * over binarized data (vs the expected log-likelihood of the grey levels, within 4 standard
 * errors), and the uniform density on [0,1)^D over dequantised 8-bit data, whose 8 bits/dim
 * is the bits/dim convention's fixed point; errors naming the data and row. */
#include "dgm.h"
#include "models/model.h"
#include "test.h"

/* The model's impl is a D-vector of parameters: Gaussian means (unit variance) or
 * Bernoulli probabilities; the uniform model ignores it. */
typedef struct { size_t D; double *w; int kind; } tmodel; /* 0 gauss, 1 bernoulli, 2 uniform */

static dgm_status t_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                             const int32_t *y, size_t n, int k, dgm_err *err)
{
    (void)rng, (void)y, (void)k;
    const tmodel *t = m->impl;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < t->D; j++) {
            double v = x[i * t->D + j];
            if (t->kind == 0)
                s += -0.5 * (log(2 * M_PI) + (v - t->w[j]) * (v - t->w[j]));
            else if (t->kind == 1) {
                if (v != 0.0 && v != 1.0)
                    return dgm_errf(err, DGM_ERR_ARG, "non-binary input %g", v);
                s += v ? log(t->w[j]) : log1p(-t->w[j]);
            } else if (!(v >= 0 && v < 1))
                s = -INFINITY;
        }
        out[i] = s;
    }
    return DGM_OK;
}

static dgm_status t_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y, size_t n,
                           int mean, dgm_err *err)
{
    (void)m, (void)rng, (void)out, (void)y, (void)n, (void)mean;
    return dgm_errf(err, DGM_ERR_UNSUPPORTED, "not needed");
}

static void t_destroy(void *impl)
{
    tmodel *t = impl;
    free(t->w), free(t);
}

static const dgm__model_ops t_ops = {.type = "test", .log_prob = t_log_prob,
                                     .sample = t_sample, .destroy = t_destroy};

static dgm_model *t_new(int kind, size_t D, const char *lik, dgm_rng *r)
{
    tmodel *t = malloc(sizeof *t);
    t->D = D;
    t->kind = kind;
    t->w = malloc(sizeof(double) * D);
    for (size_t j = 0; j < D; j++)
        t->w[j] = kind == 1 ? 0.05 + 0.9 * dgm_rng_uniform_d(r) : dgm_rng_normal(r);
    dgm_model *m = dgm__model_new(&t_ops, t);
    m->dim = D;
    m->exact = 1;
    snprintf(m->likelihood, sizeof m->likelihood, "%s", lik);
    return m;
}

static dgm_dataset mem_data(float *x, size_t n, size_t d, int is_8bit)
{
    dgm_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.kind = DGM_DATA_REAL;
    ds.n = n;
    ds.d = d;
    ds.x = x;
    ds.is_8bit = is_8bit;
    snprintf(ds.source, sizeof ds.source, "mem.csv");
    return ds;
}

static void test_continuous(void)
{
    size_t n = 500, D = 6;
    dgm_rng r;
    dgm_rng_init(&r, 1);
    dgm_model *m = t_new(0, D, "continuous", &r);
    float *x = malloc(sizeof(float) * n * D);
    for (size_t i = 0; i < n * D; i++)
        x[i] = (float)(2 * dgm_rng_normal(&r));
    dgm_dataset ds = mem_data(x, n, D, 0);
    double *lp = malloc(sizeof(double) * n), s = 0, ss = 0;
    dgm_loglik_result res;
    dgm_err e;
    CHECK_MSG(dgm_loglik(&r, &res, lp, m, &ds, 0, 1, &e) == DGM_OK, "%s", e.msg);
    const tmodel *t = m->impl;
    for (size_t i = 0; i < n; i++) {
        double v = 0;
        for (size_t j = 0; j < D; j++)
            v += -0.5 * (log(2 * M_PI) + (x[i * D + j] - t->w[j]) * (x[i * D + j] - t->w[j]));
        CHECK_NEAR(lp[i], v, 1e-9);
        s += v, ss += v * v;
    }
    double mean = s / n, sd = sqrt((ss - n * mean * mean) / (n - 1));
    CHECK_EQ_INT(res.n, n);
    CHECK_NEAR(res.total, s, 1e-9 * fabs(s));
    CHECK_NEAR(res.mean, mean, 1e-9 * fabs(mean));
    CHECK_NEAR(res.se, sd / sqrt(n), 1e-9);
    CHECK_NEAR(res.bits_per_dim, -mean / (D * log(2.0)), 1e-9);
    CHECK(res.exact == 1);
    /* --limit */
    CHECK(dgm_loglik(&r, &res, NULL, m, &ds, 10, 1, &e) == DGM_OK);
    CHECK_EQ_INT(res.n, 10);
    free(x), free(lp);
    dgm_model_free(m);
}

static void test_binary(void)
{
    size_t n = 2000, D = 20;
    dgm_rng r;
    dgm_rng_init(&r, 2);
    dgm_model *m = t_new(1, D, "binary", &r);
    const tmodel *t = m->impl;
    float *x = malloc(sizeof(float) * n * D);
    double want = 0;
    for (size_t i = 0; i < n * D; i++) {
        x[i] = (float)dgm_rng_uniform(&r);
        size_t j = i % D; /* E over the binarization of x log p + (1-x) log(1-p) */
        want += x[i] * log(t->w[j]) + (1 - x[i]) * log1p(-t->w[j]);
    }
    want /= n;
    dgm_dataset ds = mem_data(x, n, D, 0);
    dgm_loglik_result a, b;
    dgm_err e;
    CHECK_MSG(dgm_loglik(&r, &a, NULL, m, &ds, 0, 1, &e) == DGM_OK, "%s", e.msg);
    CHECK_NEAR(a.mean, want, 4 * a.se);
    CHECK_NEAR(a.bits_per_dim, -a.mean / (D * log(2.0)), 1e-12);
    /* the binarization uses DGM_EVAL_PREP_SEED, not the caller's rng: same data each time */
    dgm_rng_init(&r, 999);
    CHECK(dgm_loglik(&r, &b, NULL, m, &ds, 0, 1, &e) == DGM_OK);
    CHECK(a.total == b.total);
    /* the prepared data are 0/1 with frequency x */
    float *px;
    size_t pn;
    CHECK(dgm_eval_prepare(&px, &pn, m, &ds, 0, 5, &e) == DGM_OK);
    double ones = 0, xs = 0;
    for (size_t i = 0; i < pn * D; i++) {
        CHECK(px[i] == 0.0f || px[i] == 1.0f);
        ones += px[i], xs += x[i];
    }
    CHECK_NEAR(ones / (n * D), xs / (n * D), 4 * 0.5 / sqrt(n * D));
    free(px);
    x[3 * D + 4] = 1.5f;
    CHECK(dgm_loglik(&r, &a, NULL, m, &ds, 0, 1, &e) == DGM_ERR_ARG);
    CHECK_MSG(strstr(e.msg, "mem.csv: row 4, column 5: 1.5 is outside [0, 1]") != NULL, "%s",
              e.msg);
    free(x);
    dgm_model_free(m);
}

static void test_dequantized(void)
{
    size_t n = 300, D = 16;
    dgm_rng r;
    dgm_rng_init(&r, 3);
    dgm_model *m = t_new(2, D, "dequantized", &r);
    float *x = malloc(sizeof(float) * n * D);
    for (size_t i = 0; i < n * D; i++)
        x[i] = (float)dgm_rng_below(&r, 256) / 255.0f;
    dgm_dataset ds = mem_data(x, n, D, 1);
    dgm_loglik_result res;
    dgm_err e;
    CHECK_MSG(dgm_loglik(&r, &res, NULL, m, &ds, 0, 1, &e) == DGM_OK, "%s", e.msg);
    /* uniform on [0,1)^D: log p = 0, i.e. each 8-bit level has probability 1/256: 8 bits */
    CHECK(res.mean == 0.0);
    CHECK_NEAR(res.bits_per_dim, 8.0, 1e-12);
    CHECK_NEAR(dgm_bits_per_dim(100.0, 10, "dequantized"), (100 + 10 * log(256.0)) / (10 * log(2.0)),
               1e-12);
    float *px;
    size_t pn;
    CHECK(dgm_eval_prepare(&px, &pn, m, &ds, 0, 5, &e) == DGM_OK);
    for (size_t i = 0; i < pn * D; i++) /* (k + u) / 256 stays in level k's bin */
        CHECK((long)floorf(px[i] * 256.0f) == lrintf(x[i] * 255.0f));
    free(px);
    ds.is_8bit = 0; /* off-grid values cannot be 8-bit data */
    x[7] = 0.5f;
    CHECK(dgm_loglik(&r, &res, NULL, m, &ds, 0, 1, &e) == DGM_ERR_ARG);
    CHECK_MSG(strstr(e.msg, "mem.csv: row 1, column 8: 0.5 is not an 8-bit level") != NULL, "%s",
              e.msg);
    free(x);
    dgm_model_free(m);
}

static void test_prepare_errors(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 4);
    dgm_model *m = t_new(0, 3, "continuous", &r);
    float x[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    dgm_dataset ds = mem_data(x, 2, 4, 0);
    float *px;
    size_t pn;
    dgm_err e;
    CHECK(dgm_eval_prepare(&px, &pn, m, &ds, 0, 1, &e) == DGM_ERR_SHAPE);
    CHECK_MSG(strstr(e.msg, "mem.csv: 4 values per example, but the model's dimension is 3"),
              "%s", e.msg);
    ds = mem_data(x, 2, 3, 0);
    x[4] = NAN;
    CHECK(dgm_eval_prepare(&px, &pn, m, &ds, 0, 1, &e) == DGM_ERR_NAN);
    CHECK_MSG(strstr(e.msg, "mem.csv: row 2, column 2: not a finite number"), "%s", e.msg);
    /* sequences need a sequence model: a continuous one refuses them, saying why */
    ds.kind = DGM_DATA_SEQ;
    CHECK(dgm_eval_prepare(&px, &pn, m, &ds, 0, 1, &e) == DGM_ERR_SHAPE);
    CHECK_MSG(strstr(e.msg, "need a sequence model"), "%s", e.msg);
    dgm_model_free(m);
}

int main(void)
{
    TEST_RUN(test_continuous);
    TEST_RUN(test_binary);
    TEST_RUN(test_dequantized);
    TEST_RUN(test_prepare_errors);
    TEST_MAIN_END("test_kl_loglik");
}
