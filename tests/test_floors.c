/* The shared floors: the distribution kernels of src/distributions/ (Bernoulli from
 * logits, Gaussian with a log-variance, the categorical log-softmax, the reparameterised
 * Gaussian and its KL to N(0, I)) and the objectives of src/objectives/ (the ELBO's KL
 * term with free bits, the importance-weighted bound). Each value is checked against an
 * independent computation (dgm_dist_log_prob and dgm_kl_closed, which evaluate the same
 * densities from probabilities and variances in double), and each backward by central
 * finite differences (tests/gradcheck.h), element by element. */
#include "dgm_blocks.h"
#include "distributions/bernoulli.h"
#include "distributions/categorical.h"
#include "distributions/gaussian.h"
#include "gradcheck.h"
#include "objectives/elbo.h"
#include "objectives/iwae.h"

#include <stdint.h>
#include "test.h"

#define EPS 0.015625

static gradcheck_opts opts(void)
{
    gradcheck_opts o = gradcheck_default_opts();
    o.eps = EPS;
    return o;
}

static void fill_normal(dgm_rng *r, float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(scale * dgm_rng_normal(r));
}

#define JUDGE(what, ok, res) do { if (!(ok)) gradcheck_report(what, &(res)); CHECK(ok); \
    CHECK((res).n_kinks <= (res).n_checked / 10); } while (0)

// ---------------------------------------------------------------------- Bernoulli ---

#define BD 17
typedef struct { float x[BD], l[BD]; } bern_ctx;
static double bern_loss(void *c)
{
    bern_ctx *b = c;
    return -dgm__bernoulli_logits_loglik(b->x, b->l, NULL, BD);
}

static void test_bernoulli(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 1);
    bern_ctx b;
    fill_normal(&r, b.l, BD, 3.0f);
    b.l[0] = 40.0f, b.l[1] = -40.0f; /* saturated ends */
    for (int i = 0; i < BD; i++)
        b.x[i] = (float)dgm_rng_bernoulli(&r, 0.5);
    double p[BD], lp;
    for (int i = 0; i < BD; i++)
        p[i] = 1.0 / (1.0 + exp(-(double)b.l[i]));
    dgm_dist d = {.kind = DGM_DIST_BERNOULLI, .dim = BD, .p = p};
    CHECK(!dgm_dist_log_prob(&lp, &d, b.x, 1, NULL));
    float g[BD];
    double ll = dgm__bernoulli_logits_loglik(b.x, b.l, g, BD);
    CHECK_NEAR(ll, lp, 1e-5 * fabs(lp));
    CHECK_NEAR(dgm__bernoulli_logits_loglik(b.x, b.l, NULL, BD), ll, 1e-5 * fabs(lp));
    gradcheck_result res;
    gradcheck_opts o = opts();
    int ok = gradcheck_elementwise(&res, bern_loss, &b, b.l, g, BD, &o);
    JUDGE("bernoulli logits", ok, res);
}

// ----------------------------------------------------------------------- Gaussian ---

#define GD 9
typedef struct { float x[GD], m[GD], lv[GD]; } gauss_ctx;
static double gauss_loss(void *c)
{
    gauss_ctx *q = c;
    return -dgm__gauss_logvar_loglik(q->x, q->m, q->lv, NULL, NULL, GD);
}

static void test_gaussian_loglik(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 2);
    gauss_ctx q;
    fill_normal(&r, q.x, GD, 1.0f);
    fill_normal(&r, q.m, GD, 1.0f);
    fill_normal(&r, q.lv, GD, 0.5f);
    double mean[GD], var[GD], lp;
    for (int j = 0; j < GD; j++)
        mean[j] = q.m[j], var[j] = exp((double)q.lv[j]);
    dgm_dist d = {.kind = DGM_DIST_GAUSS_DIAG, .dim = GD, .mean = mean, .var = var};
    CHECK(!dgm_dist_log_prob(&lp, &d, q.x, 1, NULL));
    float gm[GD], glv[GD];
    double ll = dgm__gauss_logvar_loglik(q.x, q.m, q.lv, gm, glv, GD);
    CHECK_NEAR(ll, lp, 1e-5 * fabs(lp));
    gradcheck_result res;
    gradcheck_opts o = opts();
    int ok = gradcheck_elementwise(&res, gauss_loss, &q, q.m, gm, GD, &o);
    JUDGE("gaussian mean", ok, res);
    ok = gradcheck_elementwise(&res, gauss_loss, &q, q.lv, glv, GD, &o);
    JUDGE("gaussian log-variance", ok, res);
}

// -------------------------------------------------------------------- categorical ---

#define CL 6
#define CA 20 /* the amino-acid case, with its fixed sum tree */
#define CA2 5 /* and a general alphabet */
typedef struct { float logits[CL * CA]; uint8_t x[CL]; size_t A; } cat_ctx;
static double cat_loss(void *c)
{
    cat_ctx *k = c;
    float tmp[CL * CA], scratch[2 * CL];
    memcpy(tmp, k->logits, sizeof tmp);
    return -dgm__categorical_loglik(tmp, scratch, k->x, CL, k->A, 0.0f);
}

static void categorical_case(size_t A)
{
    dgm_rng r;
    dgm_rng_init(&r, 3 + A);
    cat_ctx k = {.A = A};
    fill_normal(&r, k.logits, CL * A, 2.0f);
    for (int l = 0; l < CL; l++)
        k.x[l] = (uint8_t)dgm_rng_below(&r, A);
    k.x[2] = (uint8_t)A; /* a gap: no term, no gradient */
    /* independent: log p from softmax probabilities through dgm_dist_log_prob, one-hot x
     * over the non-gap positions (the gap's row is all zero, so it adds 0) */
    double p[CL * CA], lp;
    float onehot[CL * CA] = {0};
    for (int l = 0; l < CL; l++) {
        double m = -INFINITY, s = 0;
        for (size_t a = 0; a < A; a++)
            m = fmax(m, k.logits[l * A + a]);
        for (size_t a = 0; a < A; a++)
            s += exp(k.logits[l * A + a] - m);
        for (size_t a = 0; a < A; a++)
            p[l * A + a] = exp(k.logits[l * A + a] - m) / s;
        if (k.x[l] < A)
            onehot[l * A + k.x[l]] = 1.0f;
    }
    dgm_dist d = {.kind = DGM_DIST_CATEGORICAL, .dim = CL * A, .n_cat = A, .p = p};
    CHECK(!dgm_dist_log_prob(&lp, &d, onehot, 1, NULL));
    float g[CL * CA], scratch[2 * CL];
    memcpy(g, k.logits, sizeof g);
    double ll = dgm__categorical_loglik(g, scratch, k.x, CL, A, 1.0f);
    CHECK_NEAR(ll, lp, 1e-5 * fabs(lp));
    for (size_t a = 0; a < A; a++)
        CHECK(g[2 * A + a] == 0.0f);
    gradcheck_result res;
    gradcheck_opts o = opts();
    int ok = gradcheck_elementwise(&res, cat_loss, &k, k.logits, g, CL * A, &o);
    JUDGE("categorical logits", ok, res);
}

static void test_categorical(void)
{
    categorical_case(CA);
    categorical_case(CA2);
    CHECK(dgm__plogpq(0.0, 0.0) == 0.0);
    CHECK(isinf(dgm__plogpq(0.5, 0.0)));
    CHECK_NEAR(dgm__plogpq(0.5, 0.25), 0.5 * log(2.0), 1e-15);
}

// ---------------------------------------------- reparameterised Gaussian and its KL ---

#define Z 7
typedef struct { float mu[Z], lv[Z], eps[Z], c[Z]; float beta; } rs_ctx;
/* sum_j c_j z_j + beta KL(q || N(0, I)): the decoder's part and the weighted KL */
static double rs_loss(void *p)
{
    rs_ctx *k = p;
    float z[Z];
    dgm__gauss_rsample(z, k->mu, k->lv, k->eps, Z);
    double s = 0;
    for (int j = 0; j < Z; j++)
        s += (double)k->c[j] * z[j];
    return s + k->beta * dgm__gauss_kl_std(k->mu, k->lv, Z);
}

static void test_rsample_kl(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 4);
    rs_ctx k = {.beta = 0.7f};
    fill_normal(&r, k.mu, Z, 1.0f);
    fill_normal(&r, k.lv, Z, 0.7f);
    fill_normal(&r, k.eps, Z, 1.0f);
    fill_normal(&r, k.c, Z, 1.0f);
    /* the KL against the closed form of src/distributions (variances in double) */
    double mean[Z], var[Z], zero[Z], one[Z], kl;
    for (int j = 0; j < Z; j++)
        mean[j] = k.mu[j], var[j] = exp((double)k.lv[j]), zero[j] = 0, one[j] = 1;
    dgm_dist q = {.kind = DGM_DIST_GAUSS_DIAG, .dim = Z, .mean = mean, .var = var};
    dgm_dist p0 = {.kind = DGM_DIST_GAUSS_DIAG, .dim = Z, .mean = zero, .var = one};
    CHECK(!dgm_kl_closed(&kl, &q, &p0, NULL));
    CHECK_NEAR(dgm__gauss_kl_std(k.mu, k.lv, Z), kl, 1e-6 * kl);
    float dmu[Z], dlv[Z];
    dgm__gauss_rsample_backward(dmu, dlv, k.c, k.lv, k.eps, Z, 0);
    for (int j = 0; j < Z; j++)
        dgm__gauss_kl_std_grad1(dmu + j, dlv + j, k.mu[j], expf(k.lv[j]), k.beta);
    gradcheck_result res;
    gradcheck_opts o = opts();
    int ok = gradcheck_elementwise(&res, rs_loss, &k, k.mu, dmu, Z, &o);
    JUDGE("rsample+kl mu", ok, res);
    ok = gradcheck_elementwise(&res, rs_loss, &k, k.lv, dlv, Z, &o);
    JUDGE("rsample+kl logvar", ok, res);
    /* add = 1 accumulates */
    float amu[Z], alv[Z];
    for (int j = 0; j < Z; j++)
        amu[j] = 1.0f, alv[j] = -2.0f;
    dgm__gauss_rsample_backward(amu, alv, k.c, k.lv, k.eps, Z, 1);
    float bmu[Z], blv[Z];
    dgm__gauss_rsample_backward(bmu, blv, k.c, k.lv, k.eps, Z, 0);
    for (int j = 0; j < Z; j++) {
        CHECK(amu[j] == 1.0f + bmu[j]);
        CHECK(alv[j] == -2.0f + blv[j]);
    }
}

// ------------------------------------------------------------ ELBO with free bits ---

#define EB 3
typedef struct { float h[EB * 2 * Z], eps[EB * Z], c[EB * Z]; double fb, kw; } elbo_ctx;
/* (1/B) sum_i c_i . z_i + kw * penalty: the penalty charges inactive dimensions the
 * constant free_bits, so they carry no gradient */
static double elbo_loss(void *p)
{
    elbo_ctx *k = p;
    double s = 0, kl, pen;
    int active[Z];
    for (int i = 0; i < EB; i++) {
        float z[Z];
        dgm__gauss_rsample(z, k->h + i * 2 * Z, k->h + i * 2 * Z + Z, k->eps + i * Z, Z);
        for (int j = 0; j < Z; j++)
            s += (double)k->c[i * Z + j] * z[j] / EB;
    }
    dgm__elbo_kl(&kl, &pen, active, k->h, EB, Z, k->fb);
    return s + k->kw * pen;
}

static void test_elbo(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 5);
    elbo_ctx k = {.kw = 0.6};
    fill_normal(&r, k.h, EB * 2 * Z, 1.0f);
    fill_normal(&r, k.eps, EB * Z, 1.0f);
    fill_normal(&r, k.c, EB * Z, 1.0f);
    for (int pass = 0; pass < 2; pass++) {
        double kl, pen;
        int active[Z], n_active = 0;
        /* pass 1: free bits at the median per-dimension KL, so some dimensions are off */
        k.fb = 0;
        dgm__elbo_kl(&kl, &pen, active, k.h, EB, Z, 0);
        double direct = 0;
        for (int i = 0; i < EB; i++)
            direct += dgm__gauss_kl_std(k.h + i * 2 * Z, k.h + i * 2 * Z + Z, Z) / EB;
        CHECK_NEAR(kl, direct, 1e-12 * direct);
        CHECK_NEAR(pen, kl, 1e-12 * kl);
        if (pass == 1)
            k.fb = kl / Z;
        dgm__elbo_kl(&kl, &pen, active, k.h, EB, Z, k.fb);
        for (int j = 0; j < Z; j++)
            n_active += active[j];
        if (pass == 1)
            CHECK(n_active > 0 && n_active < Z);
        else
            CHECK(n_active == Z);
        float dz[EB * Z], denc[EB * 2 * Z];
        for (int i = 0; i < EB * Z; i++)
            dz[i] = k.c[i] / EB;
        dgm__elbo_encoder_backward(denc, k.h, dz, Z, k.eps, active, (float)(k.kw / EB), EB, Z);
        gradcheck_result res;
        gradcheck_opts o = opts();
        o.kink = 0; /* the free-bits threshold is a kink by design, far from these points */
        int ok = gradcheck_elementwise(&res, elbo_loss, &k, k.h, denc, EB * 2 * Z, &o);
        JUDGE(pass ? "elbo encoder, free bits" : "elbo encoder", ok, res);
    }
}

// ------------------------------------------------------ importance-weighted bound ---

#define IK 4
typedef struct { float mu[Z], lv[Z], eps[IK * Z], a[Z]; float s; } iw_ctx;
/* a toy decoder log p(x|z) = -s |z - a|^2 / 2 */
static double toy_ll(const iw_ctx *k, const float *z)
{
    double q = 0;
    for (int j = 0; j < Z; j++)
        q += ((double)z[j] - k->a[j]) * (z[j] - k->a[j]);
    return -0.5 * k->s * q;
}

static double iw_loss(void *p)
{
    iw_ctx *k = p;
    double lw[IK], lvsum = dgm__iwae_lvsum(k->lv, Z);
    for (int q = 0; q < IK; q++) {
        float z[Z];
        dgm__gauss_rsample(z, k->mu, k->lv, k->eps + q * Z, Z);
        lw[q] = dgm__iwae_log_weight(toy_ll(k, z), z, k->eps + q * Z, lvsum, Z);
    }
    return -dgm__iwae_bound(lw, IK);
}

static void test_iwae(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 6);
    iw_ctx k = {.s = 0.8f};
    fill_normal(&r, k.mu, Z, 1.0f);
    fill_normal(&r, k.lv, Z, 0.5f);
    fill_normal(&r, k.eps, IK * Z, 1.0f);
    fill_normal(&r, k.a, Z, 1.0f);
    /* the log-weight against log p(x|z) + log N(z; 0, I) - log N(z; mu, e^lv) in full */
    float z[IK * Z];
    double lw[IK], lvsum = dgm__iwae_lvsum(k.lv, Z);
    for (int q = 0; q < IK; q++) {
        dgm__gauss_rsample(z + q * Z, k.mu, k.lv, k.eps + q * Z, Z);
        double lp = 0, lq = 0;
        for (int j = 0; j < Z; j++) {
            double zj = z[q * Z + j], v = exp((double)k.lv[j]);
            lp += -0.5 * (log(2 * M_PI) + zj * zj);
            lq += -0.5 * (log(2 * M_PI * v) + (zj - k.mu[j]) * (zj - k.mu[j]) / v);
        }
        double ll = toy_ll(&k, z + q * Z);
        lw[q] = dgm__iwae_log_weight(ll, z + q * Z, k.eps + q * Z, lvsum, Z);
        CHECK_NEAR(lw[q], ll + lp - lq, 1e-5);
    }
    /* K = 1 is the single-sample ELBO; the running form agrees with the direct one */
    CHECK(dgm__iwae_bound(lw, 1) == lw[0]);
    double m = -INFINITY, s = 0;
    for (int q = 0; q < IK; q++)
        dgm__lse_push(&m, &s, lw[q]);
    CHECK_NEAR(m + log(s) - log((double)IK), dgm__iwae_bound(lw, IK), 1e-12);
    /* the encoder gradient: weights, and dz_k = wt_k d(-log p(x|z))/dz_k */
    double lse = dgm_logsumexp_d(lw, IK);
    float wt[IK], dz[IK * Z], dmu[Z], dlv[Z];
    for (int q = 0; q < IK; q++) {
        wt[q] = (float)exp(lw[q] - lse);
        for (int j = 0; j < Z; j++)
            dz[q * Z + j] = wt[q] * k.s * (z[q * Z + j] - k.a[j]);
    }
    dgm__iwae_encoder_backward(dmu, dlv, k.lv, wt, dz, z, Z, k.eps, 1.0, IK, Z);
    gradcheck_result res;
    gradcheck_opts o = opts();
    int ok = gradcheck_elementwise(&res, iw_loss, &k, k.mu, dmu, Z, &o);
    JUDGE("iwae mu", ok, res);
    ok = gradcheck_elementwise(&res, iw_loss, &k, k.lv, dlv, Z, &o);
    JUDGE("iwae logvar", ok, res);
}

int main(void)
{
    TEST_RUN(test_bernoulli);
    TEST_RUN(test_gaussian_loglik);
    TEST_RUN(test_categorical);
    TEST_RUN(test_rsample_kl);
    TEST_RUN(test_elbo);
    TEST_RUN(test_iwae);
    TEST_MAIN_END("test_floors");
}
