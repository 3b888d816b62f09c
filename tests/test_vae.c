/* VAE: finite-difference checks of every parameter gradient for each objective and
 * decoder, the importance-sampled likelihood against numerical integration over a 1-D
 * latent, the bound ordering ELBO <= IWAE_K <= log p(x), K = 1 agreeing with the ELBO in
 * expectation, save/load round trips, determinism and exact resumption, and evaluation data
 * prepared in batches (and from 8-bit bytes) equal to the whole set prepared at once. */
#include "dgm_blocks.h"
#include "gradcheck.h"
#include "test.h"

#include <unistd.h>

typedef struct {
    dgm_model *m;
    const float *eps, *x;
    const int32_t *y;
    size_t B;
    dgm_vae_step obj;
} loss_ctx;

static double loss_fn(void *p)
{
    loss_ctx *c = p;
    dgm_vae_stats st;
    dgm_err e;
    dgm_vae_loss_grad(c->m, NULL, c->eps, c->x, c->y, c->B, &c->obj, &st, &e);
    return st.loss;
}

static dgm_model *small_vae(dgm_vae_lik lik, int predicted, int classes, dgm_act act, size_t Z)
{
    dgm_vae_cfg cfg = dgm_vae_defaults();
    cfg.dim = 6;
    cfg.latent = Z;
    cfg.hidden[0] = 5;
    cfg.hidden[1] = 4;
    cfg.n_hidden = 2;
    cfg.act = act;
    cfg.likelihood = lik;
    cfg.sigma_predicted = predicted;
    cfg.n_classes = classes;
    cfg.height = cfg.width = 0;
    dgm_rng r;
    dgm_rng_init(&r, 5);
    dgm_model *m = NULL;
    dgm_err e;
    CHECK(dgm_vae_create(&m, &r, &cfg, &e) == DGM_OK);
    return m;
}

static void check_grad(const char *what, dgm_vae_lik lik, int predicted, int classes,
                       dgm_act act, dgm_vae_step obj)
{
    const size_t B = 3, D = 6, Z = 2, K = obj.objective == DGM_OBJ_IWAE ? (size_t)obj.k : 1;
    dgm_model *m = small_vae(lik, predicted, classes, act, Z);
    if (!m)
        return;
    dgm_rng r;
    dgm_rng_init(&r, 11);
    float x[18], eps[3 * 8 * 2];
    int32_t y[3] = {0, 2, 1};
    for (size_t i = 0; i < B * D; i++)
        x[i] = lik == DGM_LIK_BERNOULLI ? (float)dgm_rng_bernoulli(&r, 0.5) : dgm_rng_uniform(&r);
    dgm_rng_fill_normal(&r, eps, B * K * Z);
    loss_ctx c = {m, eps, x, classes ? y : NULL, B, obj};
    dgm_params *p = dgm_vae_params(m);
    size_t n = dgm_params_count(p);
    dgm_params_zero_grad(p);
    loss_fn(&c);
    float *g = malloc(n * sizeof(float));
    memcpy(g, dgm_params_grad(p), n * sizeof(float));
    gradcheck_opts o = gradcheck_default_opts();
    o.eps = 1.0 / 256;
    o.tol = 1e-2;
    gradcheck_result res;
    int ok = gradcheck_elementwise(&res, loss_fn, &c, dgm_params_data(p), g, n, &o);
    if (!ok)
        gradcheck_report(what, &res);
    CHECK_MSG(ok, "%s: elementwise gradient check", what);
    CHECK_MSG(res.n_checked > n / 2, "%s: only %zu of %zu points compared", what, res.n_checked, n);
    ok = gradcheck_direction(&res, loss_fn, &c, dgm_params_data(p), g, n, &r, 8, &o);
    if (!ok)
        gradcheck_report(what, &res);
    CHECK_MSG(ok, "%s: directional gradient check", what);
    free(g);
    dgm_model_free(m);
}

static void test_gradients(void)
{
    dgm_vae_step elbo = {DGM_OBJ_ELBO, 1, 1.0, 0.0};
    dgm_vae_step warm = {DGM_OBJ_ELBO, 1, 0.3, 0.0};
    dgm_vae_step iwae = {DGM_OBJ_IWAE, 4, 1.0, 0.0};
    check_grad("bernoulli elbo tanh", DGM_LIK_BERNOULLI, 0, 0, DGM_ACT_TANH, elbo);
    check_grad("bernoulli elbo relu", DGM_LIK_BERNOULLI, 0, 0, DGM_ACT_RELU, elbo);
    check_grad("bernoulli elbo kl-weight 0.3", DGM_LIK_BERNOULLI, 0, 0, DGM_ACT_ELU, warm);
    check_grad("bernoulli iwae k=4", DGM_LIK_BERNOULLI, 0, 0, DGM_ACT_TANH, iwae);
    check_grad("gaussian learned sigma", DGM_LIK_GAUSSIAN, 0, 0, DGM_ACT_SOFTPLUS, elbo);
    check_grad("gaussian predicted sigma", DGM_LIK_GAUSSIAN, 1, 0, DGM_ACT_TANH, elbo);
    check_grad("gaussian predicted iwae", DGM_LIK_GAUSSIAN, 1, 0, DGM_ACT_TANH, iwae);
    check_grad("logistic learned scale", DGM_LIK_LOGISTIC, 0, 0, DGM_ACT_SOFTPLUS, elbo);
    check_grad("logistic predicted scale", DGM_LIK_LOGISTIC, 1, 0, DGM_ACT_TANH, elbo);
    check_grad("logistic predicted iwae", DGM_LIK_LOGISTIC, 1, 0, DGM_ACT_TANH, iwae);
    check_grad("logistic cvae", DGM_LIK_LOGISTIC, 1, 3, DGM_ACT_ELU, elbo);
    check_grad("cvae elbo", DGM_LIK_BERNOULLI, 0, 3, DGM_ACT_TANH, elbo);
    check_grad("cvae iwae", DGM_LIK_BERNOULLI, 0, 3, DGM_ACT_SIGMOID, iwae);
}

static void test_free_bits(void)
{
    /* With a floor far above every dimension's KL, the KL carries no gradient: the
     * encoder gradient then equals the one with kl_weight 0, and the loss is recon + Z*fb. */
    dgm_model *m = small_vae(DGM_LIK_BERNOULLI, 0, 0, DGM_ACT_TANH, 2);
    float x[18] = {1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 0, 0}, eps[6];
    dgm_rng r;
    dgm_rng_init(&r, 2);
    dgm_rng_fill_normal(&r, eps, 6);
    dgm_params *p = dgm_vae_params(m);
    size_t n = dgm_params_count(p);
    dgm_vae_step fb = {DGM_OBJ_ELBO, 1, 1.0, 100.0}, none = {DGM_OBJ_ELBO, 1, 0.0, 0.0};
    dgm_vae_stats s1, s2;
    dgm_params_zero_grad(p);
    dgm_vae_loss_grad(m, NULL, eps, x, NULL, 3, &fb, &s1, NULL);
    float *g = malloc(n * sizeof(float));
    memcpy(g, dgm_params_grad(p), n * sizeof(float));
    dgm_params_zero_grad(p);
    dgm_vae_loss_grad(m, NULL, eps, x, NULL, 3, &none, &s2, NULL);
    CHECK(memcmp(g, dgm_params_grad(p), n * sizeof(float)) == 0);
    CHECK_NEAR(s1.loss, s2.recon + 2 * 100.0, 1e-9);
    free(g);
    dgm_model_free(m);
}

/* log p(x) for a VAE with a 1-D latent by quadrature over z on [-10, 10]. */
static double exact_loglik(dgm_model *m, const float *x, size_t D)
{
    const int N = 4001;
    double lw[4001];
    float z[1], probs[64];
    for (int i = 0; i < N; i++) {
        double zz = -10.0 + 20.0 * i / (N - 1);
        z[0] = (float)zz;
        dgm_vae_decode(m, probs, z, NULL, 1, NULL);
        double ll = -0.5 * zz * zz - 0.5 * log(2 * M_PI);
        for (size_t j = 0; j < D; j++)
            ll += x[j] > 0.5f ? log(probs[j]) : log1p(-probs[j]);
        lw[i] = ll + log(20.0 / (N - 1));
    }
    return dgm_logsumexp_d(lw, N);
}

static void test_importance_sampling(void)
{
    dgm_model *m = small_vae(DGM_LIK_BERNOULLI, 0, 0, DGM_ACT_TANH, 1);
    float x[6] = {1, 0, 0, 1, 1, 0};
    double exact = exact_loglik(m, x, 6);
    dgm_rng r;
    dgm_rng_init(&r, 77);
    /* many independent estimates at each K: their mean is E[log p_K], which increases in K
     * toward log p(x) and stays below it (Burda et al., Theorem 1) */
    const int R = 400;
    double mean_k[3] = {0}, se_k[3] = {0};
    int ks[3] = {1, 10, 2000};
    for (int t = 0; t < 3; t++) {
        double s = 0, ss = 0;
        for (int i = 0; i < R; i++) {
            dgm_rng ri;
            dgm_rng_fork(&ri, &r, (uint64_t)(t * 1000 + i));
            double lp;
            dgm_model_log_prob(m, &ri, &lp, x, NULL, 1, ks[t], NULL);
            s += lp;
            ss += lp * lp;
        }
        mean_k[t] = s / R;
        se_k[t] = sqrt((ss / R - mean_k[t] * mean_k[t]) / R);
    }
    CHECK_NEAR(mean_k[2], exact, 4 * se_k[2] + 2e-3);
    CHECK(mean_k[0] < mean_k[1] && mean_k[1] < mean_k[2] + 4 * se_k[2]);
    CHECK(mean_k[1] <= exact + 4 * se_k[1]);
    /* K = 1 is an unbiased estimate of the ELBO: compare with the analytic-KL ELBO */
    double es = 0, ess = 0;
    for (int i = 0; i < R; i++) {
        dgm_rng ri;
        dgm_rng_fork(&ri, &r, (uint64_t)(9000 + i));
        double e;
        dgm_vae_elbo(m, &ri, &e, NULL, NULL, x, NULL, 1, NULL);
        es += e;
        ess += e * e;
    }
    double em = es / R, ese = sqrt((ess / R - em * em) / R);
    CHECK_NEAR(mean_k[0], em, 4 * sqrt(se_k[0] * se_k[0] + ese * ese));
    CHECK(em < exact);
    dgm_model_free(m);
}

static void test_save_load(void)
{
    dgm_model *m = small_vae(DGM_LIK_GAUSSIAN, 0, 3, DGM_ACT_TANH, 2);
    char path[] = "/tmp/dgm_test_vae_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    dgm_params *p = dgm_vae_params(m);
    for (size_t i = 0; i < dgm_params_count(p); i++)
        dgm_params_m(p)[i] = 0.001f * (float)i, dgm_params_v(p)[i] = 0.002f * (float)i;
    dgm_model_keep_optimizer(m, 1);
    dgm_model_set_train_state(m, "{\"epoch\":3}", NULL);
    dgm_err e;
    /* the model file: weights and config, no optimizer moments and no training state */
    CHECK(dgm_model_save(m, path, &e) == DGM_OK);
    dgm_model *m2 = NULL;
    CHECK(dgm_model_load(&m2, path, &e) == DGM_OK);
    if (m2) {
        CHECK(dgm_model_train_state(m2) == NULL);
        float mx = 0;
        for (size_t i = 0; i < dgm_params_count(dgm_vae_params(m2)); i++)
            mx = fmaxf(mx, fabsf(dgm_params_m(dgm_vae_params(m2))[i]));
        CHECK(mx == 0);
        dgm_model_free(m2);
        m2 = NULL;
    }
    /* the checkpoint: all of it */
    CHECK(dgm_model_save_checkpoint(m, path, &e) == DGM_OK);
    dgm_status s = dgm_model_load(&m2, path, &e);
    CHECK_MSG(s == DGM_OK, "%s", e.msg);
    if (m2) {
        dgm_params *p2 = dgm_vae_params(m2);
        size_t n = dgm_params_count(p);
        CHECK_EQ_INT(dgm_params_count(p2), n);
        CHECK(!memcmp(dgm_params_data(p), dgm_params_data(p2), n * 4));
        CHECK(!memcmp(dgm_params_m(p), dgm_params_m(p2), n * 4));
        CHECK(!memcmp(dgm_params_v(p), dgm_params_v(p2), n * 4));
        CHECK(!strcmp(dgm_model_type(m2), "cvae"));
        CHECK_EQ_INT(dgm_model_n_classes(m2), 3);
        CHECK(dgm_model_train_state(m2) && !strcmp(dgm_model_train_state(m2), "{\"epoch\":3}"));
        float x[12] = {.1f, .2f, .3f, .4f, .5f, .6f, .9f, .8f, .7f, .6f, .5f, .4f};
        int32_t y[2] = {2, 0};
        double a[2], b[2];
        dgm_rng r1, r2;
        dgm_rng_init(&r1, 3);
        dgm_rng_init(&r2, 3);
        dgm_model_log_prob(m, &r1, a, x, y, 2, 7, NULL);
        dgm_model_log_prob(m2, &r2, b, x, y, 2, 7, NULL);
        CHECK(a[0] == b[0] && a[1] == b[1]);
        dgm_model_free(m2);
    }
    /* a damaged file is refused with its name in the message */
    FILE *f = fopen(path, "r+b");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    CHECK(truncate(path, size / 2) == 0);
    s = dgm_model_load(&m2, path, &e);
    CHECK(s != DGM_OK && strstr(e.msg, path));
    unlink(path);
    dgm_model_free(m);
}

/* Toy binary data: noisy copies of two prototypes. */
static void toy_data(float *x, size_t n, size_t D, uint64_t seed)
{
    dgm_rng r;
    dgm_rng_init(&r, seed);
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i & 1);
        for (size_t j = 0; j < D; j++) {
            int bit = ((j < D / 2) == (c == 0));
            x[i * D + j] = dgm_rng_bernoulli(&r, 0.05) ? 1.0f - bit : (float)bit;
        }
    }
}

static void train(dgm_model *m, const float *x, size_t n, size_t D, long t0, long t1,
                  double *first, double *last)
{
    dgm_optim_cfg opt = dgm_optim_defaults(DGM_OPT_ADAM);
    opt.lr = 1e-2f;
    dgm_vae_step obj = {DGM_OBJ_ELBO, 1, 1.0, 0.0};
    dgm_rng root;
    dgm_rng_init(&root, 123);
    for (long t = t0; t < t1; t++) {
        dgm_rng step;
        dgm_rng_fork(&step, &root, (uint64_t)t);
        size_t b = (size_t)(t % (long)(n / 16)) * 16;
        dgm_vae_stats st;
        dgm_vae_train_step(m, &step, x + b * D, NULL, 16, &obj, &opt, t, &st, NULL);
        if (t == t0 && first) *first = st.loss;
        if (last) *last = st.loss;
    }
}

static void test_training_determinism_resume(void)
{
    const size_t n = 256, D = 6;
    float *x = malloc(n * D * sizeof(float));
    toy_data(x, n, D, 9);
    dgm_model *a = small_vae(DGM_LIK_BERNOULLI, 0, 0, DGM_ACT_RELU, 2);
    dgm_model *b = small_vae(DGM_LIK_BERNOULLI, 0, 0, DGM_ACT_RELU, 2);
    double first, last;
    train(a, x, n, D, 0, 400, &first, &last);
    CHECK_MSG(last < first - 0.5, "loss went from %g to %g", first, last);
    /* b: 150 steps, saved with optimizer state, reloaded, 250 more */
    train(b, x, n, D, 0, 150, NULL, NULL);
    char path[] = "/tmp/dgm_test_resume_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    dgm_model_keep_optimizer(b, 1);
    dgm_err e;
    CHECK(dgm_model_save_checkpoint(b, path, &e) == DGM_OK);
    dgm_model_free(b);
    b = NULL;
    CHECK(dgm_model_load(&b, path, &e) == DGM_OK);
    unlink(path);
    if (b) {
        train(b, x, n, D, 150, 400, NULL, NULL);
        size_t np = dgm_params_count(dgm_vae_params(a));
        CHECK(!memcmp(dgm_params_data(dgm_vae_params(a)), dgm_params_data(dgm_vae_params(b)),
                      np * sizeof(float)));
        dgm_model_free(b);
    }
    dgm_model_free(a);
    free(x);
}

static void test_sampling(void)
{
    dgm_model *m = small_vae(DGM_LIK_BERNOULLI, 0, 0, DGM_ACT_TANH, 2);
    const size_t n = 20000, D = 6;
    float *s = malloc(n * D * sizeof(float)), *mean = malloc(n * D * sizeof(float));
    dgm_rng r;
    dgm_rng_init(&r, 4);
    CHECK(dgm_model_sample(m, &r, s, NULL, n, 0, NULL) == DGM_OK);
    CHECK(dgm_model_sample(m, &r, mean, NULL, n, 1, NULL) == DGM_OK);
    /* the same streams give the same latents, so draws average to the decoder means */
    for (size_t j = 0; j < D; j++) {
        double a = 0, b = 0;
        for (size_t i = 0; i < n; i++) {
            CHECK(s[i * D + j] == 0.0f || s[i * D + j] == 1.0f);
            a += s[i * D + j];
            b += mean[i * D + j];
        }
        CHECK_NEAR(a / n, b / n, 5 * sqrt(0.25 / n));
    }
    float *s2 = malloc(n * D * sizeof(float));
    dgm_model_sample(m, &r, s2, NULL, n, 0, NULL);
    CHECK(!memcmp(s, s2, n * D * sizeof(float)));
    free(s); free(s2); free(mean);
    dgm_model_free(m);
}

/* The discretised logistic decoder: a saved model loads with the same densities; draws are
 * points of [0, 1) whose levels follow each pixel's masses given the latent (the same streams
 * give the same latents as the means, so the mean level over draws matches the mean of the
 * masses to within its standard error); the "mean" is the location clamped to [0, 1]. */
static void test_logistic_decoder(void)
{
    for (int pred = 0; pred < 2; pred++) {
        dgm_model *m = small_vae(DGM_LIK_LOGISTIC, pred, 0, DGM_ACT_TANH, 2);
        if (!m)
            return;
        CHECK(!strcmp(dgm_model_likelihood(m), "dequantized"));
        char path[] = "/tmp/dgm_test_vae_XXXXXX";
        int fd = mkstemp(path);
        close(fd);
        dgm_err e;
        CHECK(dgm_model_save(m, path, &e) == DGM_OK);
        dgm_model *m2 = NULL;
        CHECK_MSG(dgm_model_load(&m2, path, &e) == DGM_OK, "%s", e.msg);
        unlink(path);
        float x[12] = {.1f, .2f, .3f, .4f, .5f, .6f, .9f, .8f, .7f, .6f, .5f, 0.0f};
        double a[2], b[2];
        dgm_rng r1, r2;
        dgm_rng_init(&r1, 3);
        dgm_rng_init(&r2, 3);
        CHECK(dgm_model_log_prob(m, &r1, a, x, NULL, 2, 7, NULL) == DGM_OK);
        CHECK(m2 && dgm_model_log_prob(m2, &r2, b, x, NULL, 2, 7, NULL) == DGM_OK);
        CHECK(a[0] == b[0] && a[1] == b[1] && isfinite(a[0]));
        CHECK(m2 && dgm_vae_config(m2)->likelihood == DGM_LIK_LOGISTIC &&
              dgm_vae_config(m2)->sigma_predicted == pred);
        dgm_model_free(m2);
        /* density 0 outside the data space */
        x[3] = 1.5f;
        CHECK(dgm_model_log_prob(m, &r1, a, x, NULL, 1, 7, NULL) == DGM_OK && a[0] == -INFINITY);
        const size_t n = 20000, D = 6;
        float *sm = malloc(n * D * sizeof(float)), *mean = malloc(n * D * sizeof(float));
        dgm_rng r;
        dgm_rng_init(&r, 4);
        CHECK(dgm_model_sample(m, &r, sm, NULL, n, 0, NULL) == DGM_OK);
        dgm_rng_init(&r, 4);
        CHECK(dgm_model_sample(m, &r, mean, NULL, n, 1, NULL) == DGM_OK);
        int inside = 1;
        for (size_t i = 0; i < n * D; i++)
            inside &= sm[i] >= 0.0f && sm[i] < 1.0f && mean[i] >= 0.0f && mean[i] <= 1.0f;
        CHECK(inside);
        /* E[level / 256] from the masses at each draw's location and scale would need the
         * decoder's scale; the untrained decoder's locations sit near 0 with scales near 1,
         * so the draws spread over the whole range: check they are not all one level */
        double lo = 1, hi = 0;
        for (size_t i = 0; i < n; i++)
            lo = sm[i * D] < lo ? sm[i * D] : lo, hi = sm[i * D] > hi ? sm[i * D] : hi;
        CHECK(hi - lo > 0.5);
        free(sm);
        free(mean);
        dgm_model_free(m);
    }
}

/* Evaluation data prepared a batch at a time (dgm_eval_prepare_rows) equal the rows of the
 * whole set prepared at once, from the float and the compact 8-bit forms alike; dgm_loglik
 * equals its documented computation on the prepared set. */
static void test_eval_prepare_rows(void)
{
    enum { N = 250, D = 6 };
    uint8_t k8[N * D];
    float x[N * D];
    for (int i = 0; i < N * D; i++) {
        k8[i] = (uint8_t)(i * 37 % 256);
        x[i] = (float)k8[i] / 255.0f;
    }
    dgm_dataset fd = {.kind = DGM_DATA_REAL, .n = N, .d = D, .x = x, .is_8bit = 1,
                      .source = "mem"};
    dgm_dataset bd = fd;
    bd.x = NULL;
    bd.x8 = k8;
    for (int gauss = 0; gauss < 2; gauss++) {
        dgm_model *m = small_vae(gauss ? DGM_LIK_GAUSSIAN : DGM_LIK_BERNOULLI, 0, 0,
                                 DGM_ACT_TANH, 2);
        if (!m)
            return;
        float *all = NULL, part[100 * D];
        size_t n = 0;
        dgm_err err = {0};
        CHECK_EQ_INT(dgm_eval_prepare(&all, &n, m, &fd, 0, 42, &err), DGM_OK);
        CHECK_EQ_INT(n, N);
        int nonbinary = 0;
        for (size_t i = 0; all && i < n * D; i++)
            nonbinary += all[i] != 0.0f && all[i] != 1.0f;
        CHECK(gauss ? nonbinary == N * D : nonbinary == 0);
        for (int form = 0; all && form < 2; form++)
            for (size_t i0 = 0; i0 < N; i0 += 100) {
                size_t b = N - i0 < 100 ? N - i0 : 100;
                CHECK_EQ_INT(dgm_eval_prepare_rows(part, m, form ? &bd : &fd, i0, b, 42, &err),
                             DGM_OK);
                CHECK_MSG(!memcmp(part, all + i0 * D, b * D * sizeof(float)),
                          "likelihood %d, form %d, rows %zu..: differ", gauss, form, i0);
            }
        /* the compact form prepared whole is the same too */
        float *all8 = NULL;
        CHECK_EQ_INT(dgm_eval_prepare(&all8, &n, m, &bd, 0, 42, &err), DGM_OK);
        CHECK(all && all8 && !memcmp(all, all8, N * D * sizeof(float)));
        free(all8);
        /* dgm_loglik: batches of 100 prepared with the evaluation seed, batch b forking b */
        double ref[N], got[N], got8[N];
        dgm_free(all);
        all = NULL;
        CHECK_EQ_INT(dgm_eval_prepare(&all, &n, m, &bd, 0, DGM_EVAL_PREP_SEED, &err), DGM_OK);
        dgm_rng r;
        dgm_rng_init(&r, 8);
        for (size_t b = 0, i0 = 0; all && i0 < N; b++, i0 += 100) {
            dgm_rng rb;
            dgm_rng_fork(&rb, &r, b);
            dgm_model_log_prob(m, &rb, ref + i0, all + i0 * D, NULL, N - i0 < 100 ? N - i0 : 100,
                               7, &err);
        }
        dgm_loglik_result res, res8;
        CHECK_EQ_INT(dgm_loglik(&r, &res, got, m, &fd, 0, 7, &err), DGM_OK);
        CHECK_EQ_INT(dgm_loglik(&r, &res8, got8, m, &bd, 0, 7, &err), DGM_OK);
        CHECK(!memcmp(ref, got, sizeof ref) && !memcmp(ref, got8, sizeof ref));
        CHECK(res.n == N && res.mean == res8.mean && isfinite(res.mean));
        dgm_free(all);
        dgm_model_free(m);
    }
    /* out NULL only checks: a bad value is found in its own batch, named by its row */
    dgm_model *m = small_vae(DGM_LIK_BERNOULLI, 0, 0, DGM_ACT_TANH, 2);
    dgm_err err = {0};
    x[130 * D + 2] = NAN;
    CHECK_EQ_INT(dgm_eval_prepare_rows(NULL, m, &fd, 0, 100, 1, &err), DGM_OK);
    CHECK_EQ_INT(dgm_eval_prepare_rows(NULL, m, &fd, 100, 100, 1, &err), DGM_ERR_NAN);
    CHECK_MSG(strstr(err.msg, "mem") && strstr(err.msg, "row 131"), "%s", err.msg);
    x[130 * D + 2] = 1.5f;
    CHECK_EQ_INT(dgm_eval_prepare_rows(NULL, m, &fd, 100, 100, 1, &err), DGM_ERR_ARG);
    CHECK_EQ_INT(dgm_eval_prepare_rows(NULL, m, &fd, 240, 20, 1, &err), DGM_ERR_ARG);
    dgm_loglik_result res;
    CHECK_EQ_INT(dgm_loglik(NULL, &res, NULL, m, &fd, 0, 3, &err), DGM_ERR_ARG);
    dgm_dataset wrong = bd;
    wrong.d = 5;
    wrong.n = N * D / 5;
    CHECK_EQ_INT(dgm_eval_prepare_rows(NULL, m, &wrong, 0, 1, 1, &err), DGM_ERR_SHAPE);
    dgm_model_free(m);
}

int main(void)
{
    TEST_RUN(test_gradients);
    TEST_RUN(test_free_bits);
    TEST_RUN(test_importance_sampling);
    TEST_RUN(test_save_load);
    TEST_RUN(test_training_determinism_resume);
    TEST_RUN(test_sampling);
    TEST_RUN(test_logistic_decoder);
    TEST_RUN(test_eval_prepare_rows);
    TEST_MAIN_END("test_vae");
}
