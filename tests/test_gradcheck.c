/* Gradient checks for every backward in src/nn: activations, Linear (dx, dW, db each on
 * its own) and the MLP (every parameter tensor through dgm_params_grad, and the input),
 * by central differences of a double-precision loss sum_i c_i y_i with random c, element
 * by element and along random directions (tests/gradcheck.h). Forwards are compared with
 * formulas evaluated in double, backwards with closed-form derivatives, and the "backward
 * ADDS" contract is checked by pre-filled gradients and by calling backward twice.
 * A self-test feeds the checker wrong gradients and a kink to show that it can fail.
 * References: torch.nn.Linear / torch.nn.functional activations for the semantics.
 * Set GRADCHECK_VERBOSE=1 to print every check's worst point and kink statistic.
 * Left out: the tolerances are gradcheck.h's defaults, calibrated on these networks
 * (docs/math.md, "Gradient checks"), not derived per case. */
#include "dgm_blocks.h"
#include "core/assert.h"
#include "gradcheck.h"

#include <stdint.h>
#include "test.h"

#define N_ACTS 7
#define EPS 0.015625 /* h = 2^-6: a power of 2 keeps x +- h and x +- h/2 exact */

static const dgm_act all_acts[N_ACTS] = {DGM_ACT_IDENTITY, DGM_ACT_RELU, DGM_ACT_LEAKY_RELU,
                                         DGM_ACT_TANH, DGM_ACT_SIGMOID, DGM_ACT_SOFTPLUS,
                                         DGM_ACT_ELU};

/* GRADCHECK_EPS overrides h, to recalibrate (docs/math.md, "Gradient checks") */
static gradcheck_opts opts(void)
{
    gradcheck_opts o = gradcheck_default_opts();
    const char *e = getenv("GRADCHECK_EPS");
    char *end;
    double h = e ? strtod(e, &end) : EPS;
    o.eps = e && (end == e || *end || !(h > 0 && h < 1)) ? EPS : h;
    return o;
}

/* Records a gradcheck outcome: prints the worst point on failure (or always with
 * GRADCHECK_VERBOSE set, to calibrate tolerances) and bounds the skipped kinks. */
#define JUDGE(what, ok, res, max_kinks) do { \
    if (!(ok) || getenv("GRADCHECK_VERBOSE")) { gradcheck_report(what, &(res)); \
        fprintf(stderr, "    max kink statistic %.3g\n", (res).max_kink); } \
    CHECK_MSG(ok, "%s", what); \
    CHECK_MSG((res).n_kinks <= (size_t)(max_kinks), "%s: %zu kinks", what, (res).n_kinks); \
    } while (0)

static void fill_normal(dgm_rng *r, float *x, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(scale * dgm_rng_normal(r));
}

static float *alloc_f(size_t n)
{
    float *p = dgm_calloc_array(n ? n : 1, sizeof(float));
    DGM_ASSERT(p);
    return p;
}

/* ------------------------------------------------------------ closed forms in double */

static double act_ref(dgm_act a, double x)
{
    switch (a) {
    case DGM_ACT_IDENTITY: return x;
    case DGM_ACT_RELU: return x > 0 ? x : 0;
    case DGM_ACT_LEAKY_RELU: return x > 0 ? x : 0.01 * x;
    case DGM_ACT_TANH: return tanh(x);
    case DGM_ACT_SIGMOID: return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
    case DGM_ACT_SOFTPLUS: return fmax(x, 0) + log1p(exp(-fabs(x)));
    case DGM_ACT_ELU: return x > 0 ? x : expm1(x);
    }
    return NAN;
}

static double act_deriv_ref(dgm_act a, double x)
{
    switch (a) {
    case DGM_ACT_IDENTITY: return 1;
    case DGM_ACT_RELU: return x > 0 ? 1 : 0;
    case DGM_ACT_LEAKY_RELU: return x > 0 ? 1 : 0.01;
    case DGM_ACT_TANH: return 1 - tanh(x) * tanh(x);
    case DGM_ACT_SIGMOID: { double s = act_ref(DGM_ACT_SIGMOID, x); return s * (1 - s); }
    case DGM_ACT_SOFTPLUS: return act_ref(DGM_ACT_SIGMOID, x);
    case DGM_ACT_ELU: return x > 0 ? 1 : exp(x);
    }
    return NAN;
}

/* |a - e| <= rtol |e| + atol, elementwise; prints the first offender. */
static int near_all(const char *what, const float *a, const double *e, size_t n,
                    double rtol, double atol)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs(a[i] - e[i]) <= rtol * fabs(e[i]) + atol)) {
            fprintf(stderr, "%s[%zu]: expected %.9g, actual %.9g\n", what, i, e[i], a[i]);
            return 0;
        }
    return 1;
}

/* ---------------------------------------------------------------------- activations */

static void test_act_names(void)
{
    for (int k = 0; k < N_ACTS; k++) {
        const char *name = dgm_act_name(all_acts[k]);
        CHECK(name != NULL);
        if (name)
            CHECK_EQ_INT(dgm_act_from_name(name), all_acts[k]);
    }
    CHECK_EQ_INT(dgm_act_from_name("relu"), DGM_ACT_RELU);
    CHECK_EQ_INT(dgm_act_from_name("tanh"), DGM_ACT_TANH);
    CHECK_EQ_INT(dgm_act_from_name("no-such-activation"), -1);
    CHECK_EQ_INT(dgm_act_from_name(""), -1);
}

/* Forward and backward against closed forms, including saturated inputs where a naive
 * exp overflows; the backward must add into a pre-filled dx. */
static void test_act_closed_forms(void)
{
    const float xs[] = {-100.f, -30.f, -5.f, -1.5f, -0.25f, 0.125f, 0.75f, 3.f, 30.f, 100.f};
    const size_t n = sizeof xs / sizeof xs[0];
    float y[10], y2[10], dy[10], dx[10], x2[10];
    double ey[10], edx[10];
    dgm_rng r;
    dgm_rng_init(&r, 11);
    for (int k = 0; k < N_ACTS; k++) {
        dgm_act a = all_acts[k];
        dgm_act_forward(a, y, xs, n);
        for (size_t i = 0; i < n; i++)
            ey[i] = act_ref(a, xs[i]);
        CHECK_MSG(near_all(dgm_act_name(a), y, ey, n, 2e-6, 1e-30), "forward %s",
                  dgm_act_name(a));
        /* y may alias x */
        memcpy(x2, xs, sizeof xs);
        dgm_act_forward(a, x2, x2, n);
        CHECK_MSG(memcmp(x2, y, sizeof y) == 0, "aliased forward %s", dgm_act_name(a));
        fill_normal(&r, dy, n, 1.0);
        fill_normal(&r, dx, n, 1.0);
        for (size_t i = 0; i < n; i++)
            edx[i] = dx[i] + (double)dy[i] * act_deriv_ref(a, xs[i]);
        memcpy(y2, y, sizeof y);
        dgm_act_backward(a, dx, dy, xs, y2, n);
        CHECK_MSG(near_all(dgm_act_name(a), dx, edx, n, 2e-6, 1e-6), "backward %s",
                  dgm_act_name(a));
        CHECK(dgm_all_finite(dx, n));
    }
}

typedef struct {
    dgm_act a;
    const float *c;   /* loss weights */
    float *x, *y;
    size_t n;
} act_ctx;

static double act_loss(void *p)
{
    act_ctx *s = p;
    dgm_act_forward(s->a, s->y, s->x, s->n);
    return dgm_dot(s->c, s->y, s->n);
}

static void test_act_gradcheck(void)
{
    enum { N = 40 };
    float x[N], y[N], c[N], dx[N];
    dgm_rng r;
    dgm_rng_init(&r, 12);
    gradcheck_opts o = opts();
    for (int k = 0; k < N_ACTS; k++) {
        dgm_act a = all_acts[k];
        fill_normal(&r, x, N, 2.0);
        /* keep inputs at least 0.05 > EPS from the ReLU kink */
        for (size_t i = 0; i < N; i++)
            x[i] = x[i] < 0 ? x[i] - 0.05f : x[i] + 0.05f;
        fill_normal(&r, c, N, 1.0);
        act_ctx s = {a, c, x, y, N};
        dgm_act_forward(a, y, x, N);
        memset(dx, 0, sizeof dx);
        dgm_act_backward(a, dx, c, x, y, N);
        gradcheck_result res;
        int ok = gradcheck_elementwise(&res, act_loss, &s, x, dx, N, &o);
        JUDGE(dgm_act_name(a), ok, res, 0);
        ok = gradcheck_direction(&res, act_loss, &s, x, dx, N, &r, 4, &o);
        JUDGE(dgm_act_name(a), ok, res, 0);
    }
}

/* --------------------------------------------------------------------------- linear */

typedef struct {
    float *x, *W, *b, *y;
    const float *C;   /* B x O loss weights */
    size_t B, I, O;
} lin_ctx;

static double lin_loss(void *p)
{
    lin_ctx *s = p;
    dgm_linear_forward(s->y, s->x, s->W, s->b, s->B, s->I, s->O);
    return dgm_dot(s->C, s->y, s->B * s->O);
}

static void check_one(const char *what, gradcheck_loss_fn f, void *ctx, float *x,
                      const float *g, size_t n, dgm_rng *r)
{
    gradcheck_opts o = opts();
    gradcheck_result res;
    int ok = gradcheck_elementwise(&res, f, ctx, x, g, n, &o);
    JUDGE(what, ok, res, 0);
    ok = gradcheck_direction(&res, f, ctx, x, g, n, r, 4, &o);
    JUDGE(what, ok, res, 0);
}

static void test_linear(void)
{
    const size_t shapes[][3] = {{3, 5, 4}, {1, 7, 2}, {6, 3, 9}};
    dgm_rng r;
    dgm_rng_init(&r, 13);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t B = shapes[s][0], I = shapes[s][1], O = shapes[s][2];
        float *x = alloc_f(B * I), *W = alloc_f(O * I), *b = alloc_f(O), *y = alloc_f(B * O);
        float *C = alloc_f(B * O), *dx = alloc_f(B * I), *dW = alloc_f(O * I);
        float *db = alloc_f(O);
        double *e = dgm_calloc_array(B * I + O * I + B * O + O, sizeof(double));
        DGM_ASSERT(e);
        fill_normal(&r, x, B * I, 1.0);
        fill_normal(&r, W, O * I, 0.5);
        fill_normal(&r, b, O, 0.5);
        fill_normal(&r, C, B * O, 1.0);

        /* forward: y[i, o] = sum_k x[i, k] W[o, k] + b[o] */
        dgm_linear_forward(y, x, W, b, B, I, O);
        for (size_t i = 0; i < B; i++)
            for (size_t o = 0; o < O; o++) {
                double acc = b[o];
                for (size_t k = 0; k < I; k++)
                    acc += (double)x[i * I + k] * W[o * I + k];
                e[i * O + o] = acc;
            }
        CHECK_MSG(near_all("linear y", y, e, B * O, 1e-5, 1e-5), "B=%zu I=%zu O=%zu", B, I, O);

        /* backward adds into pre-filled buffers: dx = d0 + C W, dW = w0 + C^T x, db = ... */
        fill_normal(&r, dx, B * I, 1.0);
        fill_normal(&r, dW, O * I, 1.0);
        fill_normal(&r, db, O, 1.0);
        double *edx = e, *edW = e + B * I, *edb = edW + O * I;
        for (size_t i = 0; i < B; i++)
            for (size_t k = 0; k < I; k++) {
                double acc = dx[i * I + k];
                for (size_t o = 0; o < O; o++)
                    acc += (double)C[i * O + o] * W[o * I + k];
                edx[i * I + k] = acc;
            }
        for (size_t o = 0; o < O; o++) {
            for (size_t k = 0; k < I; k++) {
                double acc = dW[o * I + k];
                for (size_t i = 0; i < B; i++)
                    acc += (double)C[i * O + o] * x[i * I + k];
                edW[o * I + k] = acc;
            }
            double acc = db[o];
            for (size_t i = 0; i < B; i++)
                acc += C[i * O + o];
            edb[o] = acc;
        }
        dgm_linear_backward(dx, dW, db, C, x, W, B, I, O);
        CHECK(near_all("linear dx", dx, edx, B * I, 1e-5, 1e-5));
        CHECK(near_all("linear dW", dW, edW, O * I, 1e-5, 1e-5));
        CHECK(near_all("linear db", db, edb, O, 1e-5, 1e-5));

        /* each gradient on its own (the others NULL), from zero, by finite differences */
        lin_ctx ctx = {x, W, b, y, C, B, I, O};
        memset(dx, 0, sizeof(float) * B * I);
        dgm_linear_backward(dx, NULL, NULL, C, x, W, B, I, O);
        check_one("linear dx", lin_loss, &ctx, x, dx, B * I, &r);
        memset(dW, 0, sizeof(float) * O * I);
        dgm_linear_backward(NULL, dW, NULL, C, x, W, B, I, O);
        check_one("linear dW", lin_loss, &ctx, W, dW, O * I, &r);
        memset(db, 0, sizeof(float) * O);
        dgm_linear_backward(NULL, NULL, db, C, x, W, B, I, O);
        check_one("linear db", lin_loss, &ctx, b, db, O, &r);

        free(x); free(W); free(b); free(y); free(C); free(dx); free(dW); free(db); free(e);
    }
}

/* U(-1/sqrt(I), 1/sqrt(I)) has mean 0 and variance 1/(3I); the sample moments of
 * O*(I+1) draws must sit within 5 standard errors, and every draw within the bound. */
static void test_linear_init(void)
{
    const size_t I = 50, O = 80, n = O * I + O;
    float *W = alloc_f(O * I), *b = alloc_f(O);
    dgm_rng r;
    dgm_rng_init(&r, 14);
    dgm_linear_init(&r, W, b, I, O);
    double a = 1 / sqrt((double)I), s1 = 0, s2 = 0;
    int in_range = 1;
    for (size_t i = 0; i < n; i++) {
        double v = i < O * I ? W[i] : b[i - O * I];
        in_range &= fabs(v) <= a;
        s1 += v;
        s2 += v * v;
    }
    CHECK(in_range);
    double var = a * a / 3, m4 = a * a * a * a / 5;
    CHECK_NEAR(s1 / n, 0.0, 5 * sqrt(var / n));
    CHECK_NEAR(s2 / n, var, 5 * sqrt((m4 - var * var) / n));
    free(W); free(b);
}

/* ------------------------------------------------------------------------------ mlp */

typedef struct {
    dgm_mlp *m;
    float *x;
    const float *C;
    size_t B;
} mlp_ctx;

static double mlp_loss(void *p)
{
    mlp_ctx *s = p;
    const float *y = dgm_mlp_forward(s->m, s->x, s->B);
    return dgm_dot(s->C, y, s->B * dgm_mlp_out(s->m));
}

/* The MLP's output from its parameters, in double: Linear, act, ..., Linear, out_act. */
static void mlp_forward_ref(double *out, dgm_params *p, const size_t *dims, int L,
                            dgm_act act, dgm_act out_act, const float *x, size_t B)
{
    size_t wmax = 0;
    for (int l = 0; l <= L; l++)
        wmax = dims[l] > wmax ? dims[l] : wmax;
    double *h = dgm_calloc_array(wmax, sizeof(double));
    double *g = dgm_calloc_array(wmax, sizeof(double));
    DGM_ASSERT(h && g);
    for (size_t i = 0; i < B; i++) {
        for (size_t k = 0; k < dims[0]; k++)
            h[k] = x[i * dims[0] + k];
        for (int l = 0; l < L; l++) {
            const float *W = dgm_params_tensor(p, 2 * l), *b = dgm_params_tensor(p, 2 * l + 1);
            for (size_t o = 0; o < dims[l + 1]; o++) {
                double acc = b[o];
                for (size_t k = 0; k < dims[l]; k++)
                    acc += W[o * dims[l] + k] * h[k];
                g[o] = act_ref(l + 1 < L ? act : out_act, acc);
            }
            memcpy(h, g, sizeof(double) * dims[l + 1]);
        }
        memcpy(out + i * dims[L], h, sizeof(double) * dims[L]);
    }
    free(h); free(g);
}

/* kinky: the hidden activation has a kink, so a hidden unit near 0 makes every weight
 * into it a kink point; up to a quarter of a tensor's points (at least 1) may then be
 * skipped. */
static void mlp_case(const size_t *dims, int L, dgm_act act, dgm_act out_act, size_t B,
                     uint64_t seed, int kinky)
{
    char what[96];
    dgm_err err = {0};
    dgm_rng r;
    dgm_rng_init(&r, seed);
    dgm_params *p = dgm_params_create();
    DGM_ASSERT(p);
    dgm_mlp *m = dgm_mlp_create(p, "net", dims, L, act, out_act);
    CHECK(m != NULL);
    if (!m) { dgm_params_free(p); return; }
    CHECK(dgm_params_alloc(p, &err) == DGM_OK);
    dgm_mlp_init(m, &r);
    CHECK(dgm_mlp_reserve(m, B + 2, &err) == DGM_OK); /* B below the reserved maximum */
    CHECK_EQ_INT(dgm_mlp_in(m), dims[0]);
    CHECK_EQ_INT(dgm_mlp_out(m), dims[L]);

    /* torch.nn.Sequential names: net.0.weight (H x D), net.0.bias, net.2.weight, ... */
    CHECK_EQ_INT(dgm_params_n_tensors(p), 2 * L);
    size_t total = 0;
    for (int l = 0; l < L; l++) {
        size_t shape[4];
        snprintf(what, sizeof what, "net.%d.weight", 2 * l);
        int iw = dgm_params_find(p, what);
        CHECK_EQ_INT(iw, 2 * l);
        if (iw >= 0) {
            CHECK_EQ_INT(dgm_params_shape(p, iw, shape), 2);
            CHECK_EQ_INT(shape[0], dims[l + 1]);
            CHECK_EQ_INT(shape[1], dims[l]);
        }
        snprintf(what, sizeof what, "net.%d.bias", 2 * l);
        int ib = dgm_params_find(p, what);
        CHECK_EQ_INT(ib, 2 * l + 1);
        if (ib >= 0) {
            CHECK_EQ_INT(dgm_params_shape(p, ib, shape), 1);
            CHECK_EQ_INT(shape[0], dims[l + 1]);
        }
        total += dims[l + 1] * (dims[l] + 1);
    }
    CHECK_EQ_INT(dgm_params_count(p), total);
    if (t_fail_here) { dgm_mlp_free(m); dgm_params_free(p); return; }

    size_t D = dims[0], O = dims[L], P = total;
    float *x = alloc_f(B * D), *C = alloc_f(B * O), *dy = alloc_f(B * O);
    float *dx = alloc_f(B * D), *dx1 = alloc_f(B * D), *g1 = alloc_f(P);
    double *ey = dgm_calloc_array(B * O, sizeof(double));
    DGM_ASSERT(ey);
    fill_normal(&r, x, B * D, 1.0);
    fill_normal(&r, C, B * O, 1.0);
    /* biases start nonzero so that their gradients are not trivially tested at 0 */
    for (int l = 0; l < L; l++)
        fill_normal(&r, dgm_params_tensor(p, 2 * l + 1), dims[l + 1], 0.3);

    const float *y = dgm_mlp_forward(m, x, B);
    mlp_forward_ref(ey, p, dims, L, act, out_act, x, B);
    CHECK_MSG(near_all("mlp y", y, ey, B * O, 1e-5, 1e-5), "%s/%s",
              dgm_act_name(act), dgm_act_name(out_act));

    /* analytic gradients from zero */
    dgm_params_zero_grad(p);
    memcpy(dy, C, sizeof(float) * B * O);
    dgm_mlp_backward(m, dx1, dy, B);
    memcpy(g1, dgm_params_grad(p), sizeof(float) * P);

    gradcheck_opts o = opts();
    mlp_ctx ctx = {m, x, C, B};
    for (int i = 0; i < dgm_params_n_tensors(p); i++) {
        gradcheck_result res;
        size_t off = dgm_params_offset(p, i), n = dgm_params_numel(p, i);
        CHECK(dgm_params_tensor_grad(p, i) == dgm_params_grad(p) + off);
        snprintf(what, sizeof what, "%s/%s %s", dgm_act_name(act), dgm_act_name(out_act),
                 dgm_params_name(p, i));
        int ok = gradcheck_elementwise(&res, mlp_loss, &ctx, dgm_params_tensor(p, i),
                                       g1 + off, n, &o);
        JUDGE(what, ok, res, kinky ? (n + 3) / 4 : 0);
    }
    gradcheck_result res;
    snprintf(what, sizeof what, "%s/%s all params", dgm_act_name(act), dgm_act_name(out_act));
    int ok = gradcheck_direction(&res, mlp_loss, &ctx, dgm_params_data(p), g1, P, &r, 6, &o);
    JUDGE(what, ok, res, kinky ? 1 : 0);
    snprintf(what, sizeof what, "%s/%s input", dgm_act_name(act), dgm_act_name(out_act));
    ok = gradcheck_elementwise(&res, mlp_loss, &ctx, x, dx1, B * D, &o);
    JUDGE(what, ok, res, kinky ? B * D / 4 : 0);
    ok = gradcheck_direction(&res, mlp_loss, &ctx, x, dx1, B * D, &r, 6, &o);
    JUDGE(what, ok, res, kinky ? 1 : 0);

    /* backward adds: a second backward of the same forward doubles parameter and input
     * gradients (the header's "backward of the last forward" may be repeated) */
    dgm_params_zero_grad(p);
    memset(dx, 0, sizeof(float) * B * D);
    dgm_mlp_forward(m, x, B);
    for (int rep = 0; rep < 2; rep++) {
        memcpy(dy, C, sizeof(float) * B * O);
        dgm_mlp_backward(m, dx, dy, B);
    }
    double *e2 = dgm_calloc_array(P > B * D ? P : B * D, sizeof(double));
    DGM_ASSERT(e2);
    for (size_t i = 0; i < P; i++)
        e2[i] = 2.0 * g1[i];
    CHECK_MSG(near_all("2 x param grad", dgm_params_grad(p), e2, P, 1e-6, 1e-7), "%s/%s",
              dgm_act_name(act), dgm_act_name(out_act));
    for (size_t i = 0; i < B * D; i++)
        e2[i] = 2.0 * dx1[i];
    CHECK(near_all("2 x input grad", dx, e2, B * D, 1e-6, 1e-7));

    /* dx NULL skips the input gradient but leaves the parameter gradients the same */
    dgm_params_zero_grad(p);
    dgm_mlp_forward(m, x, B);
    memcpy(dy, C, sizeof(float) * B * O);
    dgm_mlp_backward(m, NULL, dy, B);
    for (size_t i = 0; i < P; i++)
        e2[i] = g1[i];
    CHECK(near_all("param grad, dx NULL", dgm_params_grad(p), e2, P, 1e-6, 1e-7));

    free(x); free(C); free(dy); free(dx); free(dx1); free(g1); free(ey); free(e2);
    dgm_mlp_free(m);
    dgm_params_free(p);
}

static void test_mlp(void)
{
    const size_t d3[] = {5, 7, 6, 3}, d2[] = {4, 9, 2}, d3b[] = {6, 8, 8, 5};
    mlp_case(d3, 3, DGM_ACT_TANH, DGM_ACT_IDENTITY, 3, 21, 0);
    mlp_case(d2, 2, DGM_ACT_SIGMOID, DGM_ACT_SOFTPLUS, 4, 22, 0);
    mlp_case(d3b, 3, DGM_ACT_ELU, DGM_ACT_SIGMOID, 3, 23, 0);
    mlp_case(d3, 3, DGM_ACT_LEAKY_RELU, DGM_ACT_TANH, 3, 24, 1);
    mlp_case(d2, 2, DGM_ACT_RELU, DGM_ACT_IDENTITY, 5, 25, 1);
    mlp_case(d3b, 3, DGM_ACT_SOFTPLUS, DGM_ACT_ELU, 1, 26, 0);
}

/* A batch whose scratch size overflows size_t is refused with DGM_ERR_NOMEM (not wrapped
 * into a tiny buffer), and the MLP stays usable. max_B = 2^63 times any even width wraps to
 * 0, so a correct implementation must check the product before allocating; nothing huge is
 * ever passed to malloc, which keeps the test safe under ASan. */
static void test_mlp_reserve_overflow(void)
{
    const size_t dims[] = {4, 6, 2};
    dgm_err err = {0};
    dgm_rng r;
    dgm_rng_init(&r, 27);
    dgm_params *p = dgm_params_create();
    dgm_mlp *m = p ? dgm_mlp_create(p, "net", dims, 2, DGM_ACT_TANH, DGM_ACT_IDENTITY) : NULL;
    CHECK(m != NULL);
    if (!m) { dgm_params_free(p); return; }
    CHECK(dgm_params_alloc(p, &err) == DGM_OK);
    dgm_mlp_init(m, &r);
    dgm_status st = dgm_mlp_reserve(m, (SIZE_MAX >> 1) + 1, &err);
    CHECK_EQ_INT(st, DGM_ERR_NOMEM);
    CHECK_MSG(st == DGM_OK || err.msg[0] != 0, "no error message");
    if (st == DGM_OK) { /* the scratch is wrapped-around garbage: do not touch it */
        dgm_mlp_free(m);
        dgm_params_free(p);
        return;
    }
    CHECK(dgm_mlp_reserve(m, 3, &err) == DGM_OK);
    float x[3 * 4] = {0.5f, -1, 2, 0, 1, 1, -1, 0.25f, 0, 0, 3, -2};
    const float *y = dgm_mlp_forward(m, x, 3);
    CHECK(dgm_all_finite(y, 3 * 2));
    dgm_mlp_free(m);
    dgm_params_free(p);
}

/* ------------------------------------------------------- the checker has teeth */

typedef struct { float *x; const double *c; size_t n; } smooth_ctx;

/* L = sum_i c_i sin(x_i) + (sum_i x_i)^2 / 2, in double: dL/dx_i = c_i cos(x_i) + sum x */
static double smooth_loss(void *p)
{
    smooth_ctx *s = p;
    double a = 0, t = 0;
    for (size_t i = 0; i < s->n; i++) {
        a += s->c[i] * sin(s->x[i]);
        t += s->x[i];
    }
    return a + 0.5 * t * t;
}

static double abs_loss(void *p)
{
    smooth_ctx *s = p;
    double a = 0;
    for (size_t i = 0; i < s->n; i++)
        a += s->c[i] * fabs(s->x[i]);
    return a;
}

static void test_checker_can_fail(void)
{
    enum { N = 12 };
    float x[N], g[N], bad[N];
    double c[N];
    dgm_rng r;
    dgm_rng_init(&r, 31);
    for (size_t i = 0; i < N; i++) {
        x[i] = (float)dgm_rng_normal(&r);
        c[i] = 1 + dgm_rng_uniform_d(&r);
    }
    double t = 0;
    for (size_t i = 0; i < N; i++)
        t += x[i];
    for (size_t i = 0; i < N; i++)
        g[i] = (float)(c[i] * cos(x[i]) + t);
    smooth_ctx s = {x, c, N};
    gradcheck_opts o = opts();
    gradcheck_result res;

    /* the right gradient passes both checks */
    CHECK(gradcheck_elementwise(&res, smooth_loss, &s, x, g, N, &o));
    CHECK_EQ_INT(res.n_checked, N);
    CHECK(gradcheck_direction(&res, smooth_loss, &s, x, g, N, &r, 4, &o));

    /* 1% too large everywhere: every element whose slope is above the floor (where the
     * metric is relative, 0.01/1.01 > tol) fails, and so do the directions */
    size_t n_above = 0;
    for (size_t i = 0; i < N; i++) {
        bad[i] = 1.01f * g[i];
        n_above += fabs(g[i]) > 1.1 * o.floor;
    }
    CHECK(n_above >= N / 2);
    CHECK(!gradcheck_elementwise(&res, smooth_loss, &s, x, bad, N, &o));
    CHECK(res.n_bad >= n_above);
    CHECK(!gradcheck_direction(&res, smooth_loss, &s, x, bad, N, &r, 4, &o));
    CHECK(res.n_bad >= 1);

    /* one element off by 1%: exactly that element fails */
    memcpy(bad, g, sizeof g);
    bad[5] *= 1.01f;
    CHECK(!gradcheck_elementwise(&res, smooth_loss, &s, x, bad, N, &o));
    CHECK_EQ_INT(res.n_bad, 1);
    CHECK_EQ_INT(res.worst, 5);
    /* one element with the wrong sign is visible along random directions */
    memcpy(bad, g, sizeof g);
    bad[7] = -bad[7];
    CHECK(!gradcheck_direction(&res, smooth_loss, &s, x, bad, N, &r, 4, &o));

    /* the inputs are restored bit for bit */
    float x_before[N];
    memcpy(x_before, x, sizeof x);
    gradcheck_elementwise(&res, smooth_loss, &s, x, g, N, &o);
    gradcheck_direction(&res, smooth_loss, &s, x, g, N, &r, 2, &o);
    CHECK(memcmp(x_before, x, sizeof x) == 0);

    /* sum c_i |x_i|: the points within h of the kink at 0 (x[3] and any drawn there) are
     * skipped, not judged, and only those */
    size_t n_near = 0;
    x[3] = 0;
    for (size_t i = 0; i < N; i++) {
        g[i] = (float)(x[i] > 0 ? c[i] : -c[i]);
        n_near += fabs(x[i]) < o.eps;
    }
    g[3] = 123; /* any value: the point must not be compared */
    CHECK(gradcheck_elementwise(&res, abs_loss, &s, x, g, N, &o));
    CHECK_EQ_INT(res.n_kinks, n_near);
    CHECK_EQ_INT(res.n_checked, N - n_near);
    /* with kink detection off the same point is judged and fails */
    o.kink = 0;
    CHECK(!gradcheck_elementwise(&res, abs_loss, &s, x, g, N, &o));

    /* a library backward made wrong by 1% is caught too */
    enum { B = 3, I = 5, O = 4 };
    float lx[B * I], W[O * I], b[O], y[B * O], C[B * O], dW[O * I];
    fill_normal(&r, lx, B * I, 1.0);
    fill_normal(&r, W, O * I, 0.5);
    fill_normal(&r, b, O, 0.5);
    fill_normal(&r, C, B * O, 1.0);
    memset(dW, 0, sizeof dW);
    dgm_linear_backward(NULL, dW, NULL, C, lx, W, B, I, O);
    dgm_scale(dW, 1.01f, O * I);
    lin_ctx ctx = {lx, W, b, y, C, B, I, O};
    o = opts();
    CHECK(!gradcheck_elementwise(&res, lin_loss, &ctx, W, dW, O * I, &o));
    CHECK(!gradcheck_direction(&res, lin_loss, &ctx, W, dW, O * I, &r, 4, &o));
}

int main(void)
{
    TEST_RUN(test_checker_can_fail);
    TEST_RUN(test_act_names);
    TEST_RUN(test_act_closed_forms);
    TEST_RUN(test_act_gradcheck);
    TEST_RUN(test_linear);
    TEST_RUN(test_linear_init);
    TEST_RUN(test_mlp);
    TEST_RUN(test_mlp_reserve_overflow);
    TEST_MAIN_END("test_gradcheck");
}
