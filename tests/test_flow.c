/* RealNVP and MAF (src/models/flow/), each test for both: the logit transform and its log-determinant by central
 * differences; the gradient of -log p(x) for every parameter and for the input, with and
 * without the logit transform (coupling layers, tanh-bounded scales, base density, every
 * Jacobian term); log |det df/dx| against a finite-difference Jacobian of the whole map;
 * the inverse against the forward (round trip within 1e-5); samples finite and in [0, 1);
 * the file (PyTorch names, the same log p after a round trip); bad data refused; the NaN
 * guard. */
#include "dgm_blocks.h"
#include "core/assert.h"
#include "gradcheck.h"
#include "models/flow/flow.h"

#include <stdint.h>
#include <unistd.h>
#include "test.h"

static float *alloc_f(size_t n)
{
    float *p = dgm_calloc_array(n ? n : 1, sizeof(float));
    DGM_ASSERT(p);
    return p;
}

#define JUDGE(what, ok, res) do { if (!(ok)) gradcheck_report(what, &(res)); \
    CHECK_MSG(ok, "%s", what); CHECK((res).n_kinks <= (res).n_checked / 4 + 1); } while (0)

/* gradcheck.h's defaults are calibrated for losses of order 1 from a float forward; the
 * float noise of a loss scales with its magnitude (here -log p of order 10: the logit's
 * log-determinant and z^2 over D), so the floor below which slopes are judged absolutely
 * is scaled by |L(x)| too. */
static void check_grad(const char *what, gradcheck_loss_fn f, void *ctx, float *x,
                       const float *g, size_t n, dgm_rng *r, double eps)
{
    gradcheck_opts o = gradcheck_default_opts();
    o.eps = eps;
    o.floor *= fmax(1.0, fabs(f(ctx)));
    gradcheck_result res;
    int ok = gradcheck_elementwise(&res, f, ctx, x, g, n, &o);
    JUDGE(what, ok, res);
    ok = gradcheck_direction(&res, f, ctx, x, g, n, r, 4, &o);
    JUDGE(what, ok, res);
}

// --------------------------------------------------------------------------- logit ---

typedef struct { size_t B, D; float *x, *y, *c; double ld[4], c2[4]; } logit_ctx;

static double logit_loss(void *q)
{
    logit_ctx *s = q;
    dgm__logit_forward(s->y, s->ld, s->x, s->B, s->D, 0.05);
    double l = dgm_dot(s->c, s->y, s->B * s->D);
    for (size_t b = 0; b < s->B; b++)
        l += s->c2[b] * s->ld[b];
    return l;
}

static void test_logit(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 1);
    logit_ctx s = {.B = 3, .D = 5};
    s.x = alloc_f(15), s.y = alloc_f(15), s.c = alloc_f(15);
    for (size_t i = 0; i < 15; i++)
        s.x[i] = 0.1f + 0.8f * dgm_rng_uniform(&r), s.c[i] = (float)dgm_rng_normal(&r);
    for (size_t b = 0; b < 3; b++)
        s.c2[b] = dgm_rng_normal(&r);
    logit_loss(&s);
    for (size_t i = 0; i < 15; i++) { /* y = logit(0.05 + 0.9 x) */
        double u = 0.05 + 0.9 * s.x[i];
        CHECK_NEAR(s.y[i], log(u / (1 - u)), 1e-6);
    }
    float *dx = alloc_f(15);
    dgm__logit_backward(dx, s.c, s.c2, s.x, 3, 5, 0.05);
    check_grad("logit transform and its log-det", logit_loss, &s, s.x, dx, 15, &r, 1.0 / 256);
    free(s.x), free(s.y), free(s.c), free(dx);
}

// -------------------------------------------------------------------------- models ---

static dgm_flow_kind g_kind; /* the flow under test */
static int g_C;              /* its classes: 0, or class-conditional */
static int32_t g_lab[256];   /* row i's label, (i + 2) mod g_C */

static const int32_t *labels_of_rows(void) { return g_C ? g_lab : NULL; }

static dgm_params *params_of(dgm_model *m)
{
    return g_kind == DGM_FLOW_MAF ? dgm__maf_params(m) : FLOW(m)->p;
}

static void fb(dgm_model *m, double *lp, const float *x, const float *dscale, float *dx, size_t B)
{
    if (g_kind == DGM_FLOW_MAF)
        dgm__maf_forward_backward((dgm__maf *)m->impl, lp, x, labels_of_rows(), dscale, dx, B);
    else
        dgm__flow_forward_backward(FLOW(m), lp, x, labels_of_rows(), dscale, dx, B);
}

static dgm_model *tiny(size_t D, int K, double alpha, uint64_t seed, float scale)
{
    dgm_flow_cfg c = dgm_flow_defaults();
    c.kind = g_kind;
    c.dim = D, c.n_couplings = K, c.hidden[0] = 7, c.n_hidden = 1, c.alpha = alpha;
    c.n_classes = g_C;
    for (int i = 0; g_C && i < 256; i++)
        g_lab[i] = (i + 2) % g_C;
    dgm_rng r;
    dgm_rng_init(&r, seed);
    dgm_model *m = NULL;
    dgm_err err = {0};
    CHECK_MSG(dgm_flow_create(&m, &r, &c, &err) == DGM_OK, "%s", err.msg);
    DGM_ASSERT(m);
    float *w = dgm_params_data(params_of(m));
    for (size_t i = 0; i < dgm_params_count(params_of(m)); i++)
        w[i] *= scale;
    if (g_kind == DGM_FLOW_MAF) { /* blocks of 2 rows: the tiny layers run as several */
        dgm__maf_set_block(m, 2);
        dgm__maf_updated(m);
    } else {
        dgm__flow_set_block(FLOW(m), 2);
        dgm__flow_updated(FLOW(m));
    }
    return m;
}

typedef struct { dgm_model *m; size_t B; const float *x; double lp[8]; } nll_ctx;

#ifndef SCALE
#define SCALE 2.0f
#endif
#ifndef MAF_SCALE
#define MAF_SCALE 1.0f
#endif
#ifndef EPS_P
#define EPS_P (1.0 / 64)
#endif
static double nll_loss(void *q)
{
    nll_ctx *s = q;
    if (g_kind == DGM_FLOW_MAF) /* the weights were perturbed: re-mask */
        dgm__maf_updated(s->m);
    else
        dgm__flow_updated(FLOW(s->m));
    fb(s->m, s->lp, s->x, NULL, NULL, s->B);
    double l = 0;
    for (size_t b = 0; b < s->B; b++)
        l -= s->lp[b] / (double)s->B;
    return l;
}

static void test_gradient(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 2);
    for (int logit = 0; logit < 2; logit++) {
        size_t D = 6, B = 4;
        dgm_model *m = tiny(D, 3, logit ? 0.05 : 0.0, 3, g_kind == DGM_FLOW_MAF ? MAF_SCALE : SCALE);
        dgm_params *pp = params_of(m);
        dgm_err err = {0};
        CHECK((g_kind == DGM_FLOW_MAF ? dgm__maf_reserve(m, B, &err)
                                      : dgm__flow_reserve(FLOW(m), B, &err)) == DGM_OK);
        float *x = alloc_f(B * D), *dx = alloc_f(B * D), dsc[4];
        for (size_t i = 0; i < B * D; i++)
            x[i] = logit ? 0.05f + 0.9f * dgm_rng_uniform(&r) : (float)dgm_rng_normal(&r);
        for (size_t b = 0; b < B; b++)
            dsc[b] = 1.0f / (float)B;
        nll_ctx s = {m, B, x, {0}};
        dgm_params_zero_grad(pp);
        fb(m, s.lp, x, dsc, dx, B);
        size_t P = dgm_params_count(pp);
        if (g_C) { /* the labels' weights are among the parameters checked, with gradients */
            int i0 = dgm_params_find(pp, g_kind == DGM_FLOW_MAF ? "layers.0.cond.weight"
                                                                 : "couplings.0.cond.weight");
            CHECK(i0 >= 0);
            const float *gc = dgm_params_grad(pp) + dgm_params_offset(pp, i0);
            double nz = 0;
            for (size_t i = 0; i < dgm_params_numel(pp, i0); i++)
                nz += fabs(gc[i]);
            CHECK(nz > 0);
        }
        float *g = alloc_f(P);
        memcpy(g, dgm_params_grad(pp), P * sizeof *g);
        check_grad(logit ? "flow -log p, parameters (logit)" : "flow -log p, parameters",
                   nll_loss, &s, dgm_params_data(pp), g, P, &r, EPS_P);
        check_grad(logit ? "flow -log p, input (logit)" : "flow -log p, input", nll_loss, &s,
                   x, dx, B * D, &r, 1.0 / 512);
        free(g), free(x), free(dx);
        dgm_model_free(m);
    }
}

/* log |det J| of a D x D matrix by Gaussian elimination with partial pivoting */
static double logabsdet(double *J, size_t D)
{
    double s = 0;
    for (size_t c = 0; c < D; c++) {
        size_t piv = c;
        for (size_t r = c + 1; r < D; r++)
            if (fabs(J[r * D + c]) > fabs(J[piv * D + c]))
                piv = r;
        for (size_t k = 0; k < D; k++) {
            double t = J[c * D + k];
            J[c * D + k] = J[piv * D + k];
            J[piv * D + k] = t;
        }
        s += log(fabs(J[c * D + c]));
        for (size_t r = c + 1; r < D; r++) {
            double f = J[r * D + c] / J[c * D + c];
            for (size_t k = c; k < D; k++)
                J[r * D + k] -= f * J[c * D + k];
        }
    }
    return s;
}

static void test_logdet_and_inverse(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 4);
    for (int logit = 0; logit < 2; logit++) {
        size_t D = 4, n = 50;
        dgm_model *m = tiny(D, 4, logit ? 0.05 : 0.0, 5, 2.0f);
        dgm_err err = {0};
        float x[4], xp[4], zp[4], zm[4], z[4];
        double ld, J[16], h = 1.0 / 1024;
        for (int rep = 0; rep < 5; rep++) {
            for (size_t d = 0; d < D; d++)
                x[d] = logit ? 0.1f + 0.8f * dgm_rng_uniform(&r) : (float)dgm_rng_normal(&r);
            CHECK(dgm_flow_forward(m, z, &ld, x, labels_of_rows(), 1, &err) == DGM_OK);
            for (size_t j = 0; j < D; j++) {
                memcpy(xp, x, sizeof x);
                xp[j] = (float)(x[j] + h);
                double up = xp[j] - x[j];
                dgm_flow_forward(m, zp, NULL, xp, labels_of_rows(), 1, &err);
                xp[j] = (float)(x[j] - h);
                double dn = x[j] - xp[j];
                dgm_flow_forward(m, zm, NULL, xp, labels_of_rows(), 1, &err);
                for (size_t i = 0; i < D; i++)
                    J[i * D + j] = ((double)zp[i] - zm[i]) / (up + dn);
            }
            double fd = logabsdet(J, D);
            CHECK_NEAR(ld, fd, 2e-3 * fmax(1.0, fabs(fd)));
        }
        /* round trip: f^-1(f(x)) = x within 1e-5 */
        float *xs = alloc_f(n * D), *zs = alloc_f(n * D), *xr = alloc_f(n * D);
        for (size_t i = 0; i < n * D; i++)
            xs[i] = logit ? dgm_rng_uniform(&r) * 0.999f : (float)dgm_rng_normal(&r);
        CHECK(dgm_flow_forward(m, zs, NULL, xs, labels_of_rows(), n, &err) == DGM_OK);
        CHECK(dgm_flow_inverse(m, xr, zs, labels_of_rows(), n, &err) == DGM_OK);
        double worst = 0;
        for (size_t i = 0; i < n * D; i++)
            worst = fmax(worst, fabs((double)xr[i] - xs[i]));
        CHECK_MSG(worst <= 1e-5, "round trip error %g", worst);
        /* samples: finite, and in [0, 1] for the logit flow */
        dgm_rng_init(&r, 9);
        CHECK(dgm_model_sample(m, &r, xr, labels_of_rows(), n, 0, &err) == DGM_OK);
        CHECK(dgm_all_finite(xr, n * D));
        if (g_C) { /* labels are required, and the label moves the map */
            CHECK(dgm_flow_forward(m, zs, NULL, xs, NULL, n, &err) == DGM_ERR_ARG);
            CHECK(dgm_flow_inverse(m, xr, zs, NULL, n, &err) == DGM_ERR_ARG);
            int32_t other[50];
            for (size_t i = 0; i < n; i++)
                other[i] = (g_lab[i] + 1) % g_C;
            float *z2 = alloc_f(n * D);
            CHECK(dgm_flow_forward(m, z2, NULL, xs, other, n, &err) == DGM_OK);
            double moved = 0;
            for (size_t i = 0; i < n * D; i++)
                moved = fmax(moved, fabs((double)z2[i] - zs[i]));
            CHECK(moved > 1e-3);
            free(z2);
        }
        for (size_t i = 0; logit && i < n * D; i++)
            CHECK(xr[i] >= 0.0f && xr[i] <= 1.0f);
        free(xs), free(zs), free(xr);
        dgm_model_free(m);
    }
}

static void test_file(void)
{
    char path[] = "/tmp/dgm_test_flow_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    dgm_model *m = tiny(6, 3, 0.05, 7, 1.0f), *m2 = NULL;
    dgm_err err = {0};
    CHECK(dgm_model_save(m, path, &err) == DGM_OK);
    CHECK_MSG(dgm_model_load(&m2, path, &err) == DGM_OK, "%s", err.msg);
    if (m2) {
        if (g_kind == DGM_FLOW_MAF) /* as tiny's: the same bits */
            dgm__maf_set_block(m2, 2);
        else
            dgm__flow_set_block(FLOW(m2), 2);
        CHECK(!strcmp(dgm_model_type(m2), g_kind == DGM_FLOW_MAF ? "maf" : "realnvp"));
        CHECK(dgm_model_exact(m2));
        CHECK(!strcmp(dgm_model_likelihood(m2), "dequantized"));
        float x[12];
        dgm_rng r;
        dgm_rng_init(&r, 1);
        for (int i = 0; i < 12; i++)
            x[i] = dgm_rng_uniform(&r);
        double a[2], b[2];
        CHECK(dgm_model_log_prob(m, NULL, a, x, labels_of_rows(), 2, 1, &err) == DGM_OK);
        CHECK(dgm_model_log_prob(m2, NULL, b, x, labels_of_rows(), 2, 1, &err) == DGM_OK);
        CHECK(!memcmp(a, b, sizeof a));
        CHECK_EQ_INT(dgm_model_n_classes(m2), g_C);
        dgm_st_file *f;
        CHECK(dgm_safetensors_read(&f, path, &err) == DGM_OK);
        const char *pre = g_kind == DGM_FLOW_MAF ? "layers" : "couplings";
        char n0[64], n1[64], n2[64];
        snprintf(n0, sizeof n0, "%s.0.net.0.weight", pre);
        snprintf(n1, sizeof n1, "%s.2.net.2.bias", pre);
        snprintf(n2, sizeof n2, "%s.1.net.2.weight", pre);
        CHECK(dgm_st_find(f, n0) && dgm_st_find(f, n1));
        const dgm_st_tensor *t = dgm_st_find(f, n2);
        CHECK(t && t->shape[0] == 12 && t->shape[1] == 7);
        if (g_C) { /* torch.nn.Linear(C, H1 or 2D, bias=False) per layer */
            snprintf(n0, sizeof n0, "%s.2.cond.weight", pre);
            t = dgm_st_find(f, n0);
            CHECK(t && t->shape[0] == 7 && t->shape[1] == (size_t)g_C);
            snprintf(n0, sizeof n0, "%s.2.cond_out.weight", pre);
            t = dgm_st_find(f, n0);
            CHECK(g_kind == DGM_FLOW_MAF ? t && t->shape[0] == 12 : t == NULL);
        }
        dgm_safetensors_free(f);
        dgm_model_free(m2);
    }
    dgm_model_free(m);
    unlink(path);
}

static dgm_status fit(dgm_model *m, const dgm_dataset *ds, dgm_err *err)
{
    dgm_fit_data d = {.data = ds, .data_spec = "synthetic"};
    dgm_fit_cfg c = dgm_fit_defaults();
    c.epochs = 1, c.batch = 10;
    return dgm_fit(m, &d, &c, NULL, err);
}

static void test_bad_data_and_nan(void)
{
    size_t n = 40, D = 6;
    dgm_dataset ds = {0};
    ds.kind = DGM_DATA_REAL, ds.n = n, ds.d = D, ds.x = alloc_f(n * D);
    snprintf(ds.source, sizeof ds.source, "synthetic");
    for (size_t i = 0; i < n * D; i++)
        ds.x[i] = (float)(i % 256) / 255.0f;
    dgm_err err = {0};
    dgm_model *m = tiny(D, 2, 0.05, 8, 1.0f);
    /* the logit flow wants 8-bit levels */
    CHECK(fit(m, &ds, &err) == DGM_ERR_ARG && strstr(err.msg, "8-bit"));
    ds.is_8bit = 1;
    CHECK_MSG(fit(m, &ds, &err) == DGM_OK, "%s", err.msg);
    /* a wrong dimension */
    ds.d = 5, ds.n = n * D / 5;
    CHECK(fit(m, &ds, &err) == DGM_ERR_SHAPE);
    ds.d = D, ds.n = n;
    dgm_model_free(m);
    /* NaN in continuous data */
    m = tiny(D, 2, 0.0, 8, 1.0f);
    ds.x[7] = NAN, ds.is_8bit = 0;
    CHECK(fit(m, &ds, &err) == DGM_ERR_NAN && strstr(err.msg, "finite"));
    ds.x[7] = 0.5f;
    /* the NaN guard: a non-finite weight stops the run with a message */
    dgm_params *pp = params_of(m);
    float *tb = dgm_params_tensor(pp, dgm_params_find(pp, g_kind == DGM_FLOW_MAF
                                                          ? "layers.0.net.2.bias"
                                                          : "couplings.0.net.2.bias"));
    for (size_t d = 0; d < 2 * D; d++)
        tb[d] = INFINITY; /* every shift t infinite: z and the loss are not finite */
    CHECK(fit(m, &ds, &err) == DGM_ERR_NAN && strstr(err.msg, "not finite"));
    dgm_model_free(m);
    free(ds.x);
}


/* A class-conditional flow fitted to two classes of 2-D points whose means differ: the
 * class prior from the labels (a quarter and three quarters), and Bayes' rule separates
 * them. */
static void test_conditional_fit(void)
{
    size_t n = 400, D = 2;
    dgm_dataset ds = {0};
    ds.kind = DGM_DATA_REAL, ds.n = n, ds.d = D, ds.x = alloc_f(n * D);
    ds.y = malloc(n * sizeof *ds.y), ds.n_classes = 2;
    snprintf(ds.source, sizeof ds.source, "synthetic");
    dgm_rng r;
    dgm_rng_init(&r, 12);
    for (size_t i = 0; i < n; i++) {
        ds.y[i] = i % 4 != 0;
        for (size_t d = 0; d < D; d++)
            ds.x[i * D + d] = (float)(dgm_rng_normal(&r) * 0.5 + (ds.y[i] ? 2.0 : -2.0));
    }
    int C0 = g_C;
    g_C = 2;
    dgm_model *m = tiny(D, 2, 0.0, 13, 1.0f);
    g_C = C0;
    dgm_fit_data d = {.data = &ds, .data_spec = "synthetic"};
    dgm_fit_cfg c = dgm_fit_defaults();
    c.epochs = 20, c.batch = 20, c.seed = 3, c.lr = 1e-2;
    dgm_err err = {0};
    CHECK_MSG(dgm_fit(m, &d, &c, NULL, &err) == DGM_OK, "%s", err.msg);
    CHECK_NEAR(exp(dgm_model_log_prior(m)[0]), 0.25, 0.02);
    double *post = malloc(n * 2 * sizeof *post);
    CHECK(dgm_classify(&r, post, m, ds.x, n, 1, &err) == DGM_OK);
    size_t right = 0;
    for (size_t i = 0; i < n; i++)
        right += (post[2 * i + 1] > post[2 * i]) == (ds.y[i] == 1);
    CHECK_MSG(right >= n - 2, "%zu of %zu classified right", right, n);
    /* samples given a class land on its side */
    float s[200 * 2];
    int32_t ys[200];
    for (int i = 0; i < 200; i++)
        ys[i] = i % 2;
    CHECK(dgm_model_sample(m, &r, s, ys, 200, 0, &err) == DGM_OK);
    double m0 = 0, m1 = 0;
    for (int i = 0; i < 200; i++)
        *(i % 2 ? &m1 : &m0) += (s[2 * i] + s[2 * i + 1]) / 200.0;
    CHECK_MSG(m0 < -1.0 && m1 > 1.0, "sample means %g and %g", m0, m1);
    free(post), free(ds.x), free(ds.y);
    dgm_model_free(m);
}

int main(void)
{
    TEST_RUN(test_logit);
    for (int k = 0; k < 2; k++) {
        g_kind = k ? DGM_FLOW_MAF : DGM_FLOW_REALNVP;
        for (g_C = 0; g_C <= 3; g_C += 3) { /* unconditional, then 3 classes */
            TEST_RUN(test_gradient);
            TEST_RUN(test_logdet_and_inverse);
            TEST_RUN(test_file);
        }
        g_C = 0;
        TEST_RUN(test_bad_data_and_nan);
        TEST_RUN(test_conditional_fit);
    }
    TEST_MAIN_END("test_flow");
}
