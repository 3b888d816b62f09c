/* Sequence VAE (src/models/seqvae*.c): every gradient against central differences, the
 * forward pass against a plain double-precision reimplementation written here from the
 * formulas in docs/math.md, the lazy bag update, training progress, files, log_prob and
 * mutation effects. Tiny sizes so that the whole file runs in a second or two. */
#include "core/assert.h"
#include "gradcheck.h"
#include "models/seq/seqvae.h"
#include "par/par.h"
#include "test.h"

#include <unistd.h>

#define N 24
#define LL 6

/* A small family: letters drawn around a consensus, a few gaps, one column never 'W'. */
static void make_alignment(dgm_alignment *a, uint64_t seed)
{
    memset(a, 0, sizeof *a);
    dgm_rng r;
    dgm_rng_init(&r, seed);
    a->n = N;
    a->L = LL;
    a->seq = malloc(N * LL);
    a->names = calloc(N, sizeof(char *));
    a->pos = malloc(LL * sizeof(long));
    a->focus_residues = strdup("MKVLAT");
    snprintf(a->focus_name, sizeof a->focus_name, "TEST");
    a->focus_start = 10;
    static const uint8_t cons[LL] = {10, 8, 17, 9, 0, 16}; /* M K V L A T */
    for (size_t i = 0; i < N; i++) {
        a->names[i] = strdup("s");
        for (size_t l = 0; l < LL; l++) {
            uint8_t c = cons[l];
            double u = dgm_rng_uniform_d(&r);
            if (i > 0 && u < 0.3)
                c = (uint8_t)dgm_rng_below(&r, DGM_AA_N - 1); /* never 19 = 'Y' */
            else if (i > 0 && u < 0.38)
                c = DGM_AA_GAP;
            a->seq[i * LL + l] = c;
        }
    }
    for (size_t l = 0; l < LL; l++)
        a->pos[l] = 10 + (long)l;
}

static dgm_seqvae_cfg tiny_cfg(dgm_seqvae_variant var)
{
    dgm_seqvae_cfg c = dgm_seqvae_defaults(var);
    c.enc[0] = 7, c.enc[1] = 5;
    c.dec[0] = 4, c.dec[1] = 6;
    c.latent = 3;
    c.dict = 4;
    c.n_patterns = 2;
    c.batch = 5;
    c.l2 = 3.0;
    c.logit_sigma = 2.0;
    return c;
}

/* A tiny model on make_alignment(a, aln), created from rng and then moved off its
 * initialisation's special values (log-sigma -5, scale 0) by noise * N(0, 1) on every
 * trained value, drawn from the same rng, so that every term is of ordinary size. */
static dgm_model *noisy_model(dgm_alignment *a, int aln, dgm_rng *rng, dgm_seqvae_variant var,
                              float noise)
{
    make_alignment(a, aln);
    dgm_seqvae_cfg cfg = tiny_cfg(var);
    dgm_model *m = NULL;
    dgm_err err = {0};
    CHECK(dgm_seqvae_create(&m, rng, &cfg, a, 7.5, 0.2, &err) == DGM_OK);
    dgm__seqvae *v = SEQVAE(m);
    float *w = dgm_params_data(v->p);
    for (size_t i = 0; i < dgm_params_count(v->p); i++)
        w[i] += noise * (float)dgm_rng_normal(rng);
    return m;
}

typedef struct ctx {
    dgm__seqvae *v;
    const uint8_t *x;
    const float *eps;
    size_t B;
    dgm_rng draw;  /* fixed noise for the Bayesian draw */
} ctx;

static double loss_fn(void *p)
{
    ctx *c = p;
    if (c->v->cfg.variant == DGM_SEQVAE_BAYES)
        dgm__seqvae_draw(c->v, &c->draw);
    dgm_params_zero_grad(c->v->p);
    c->v->n_rows = 0;
    memset(c->v->touched, 0, c->v->D);
    return dgm__seqvae_objective(c->v, c->x, c->B, c->eps);
}

static void check_gradients(dgm_seqvae_variant var)
{
    dgm_alignment a;
    dgm_rng rng;
    dgm_rng_init(&rng, 11);
    dgm_model *m = noisy_model(&a, 3, &rng, var, 0.3f);
    dgm__seqvae *v = SEQVAE(m);
    float *w = dgm_params_data(v->p);
    size_t n = dgm_params_count(v->p);
    if (var == DGM_SEQVAE_BAYES)
        for (int i = 0; i < dgm_params_n_tensors(v->ps); i++)
            dgm_fill(dgm_params_tensor(v->p, v->ls_idx[i]), -1.0f,
                     dgm_params_numel(v->p, v->ls_idx[i]));
    float eps[5 * 3];
    dgm_rng_fill_normal(&rng, eps, 15);
    ctx c = {v, a.seq + 2 * LL, eps, 5, {0}};
    dgm_rng_init(&c.draw, 99);
    loss_fn(&c);
    float *g = malloc(n * sizeof *g);
    memcpy(g, dgm_params_grad(v->p), n * sizeof *g);
    gradcheck_opts o = gradcheck_default_opts();
    o.eps = 2e-3;
    o.tol = 2e-2;
    o.floor = 1e-2;
    gradcheck_result r;
    int ok = gradcheck_elementwise(&r, loss_fn, &c, w, g, n, &o);
    if (!ok)
        gradcheck_report(var == DGM_SEQVAE_BAYES ? "bayes elementwise" : "plain elementwise", &r);
    CHECK(ok);
    CHECK_MSG(r.n_checked > n * 8 / 10, "%zu checked, %zu kinks of %zu", r.n_checked, r.n_kinks, n);
    ok = gradcheck_direction(&r, loss_fn, &c, w, g, n, &rng, 20, &o);
    if (!ok)
        gradcheck_report("direction", &r);
    CHECK(ok);
    free(g);
    dgm_model_free(m);
    dgm_alignment_free(&a);
}

static void test_grad_plain(void) { check_gradients(DGM_SEQVAE_PLAIN); }
static void test_grad_bayes(void) { check_gradients(DGM_SEQVAE_BAYES); }

// ----------------------------------------------------- forward vs a double reimplementation

static const float *T(dgm_params *p, const char *name)
{
    int i = dgm_params_find(p, name);
    DGM_ASSERT(i >= 0);
    return dgm_params_tensor(p, i);
}

/* y (O) = W (O x I) x + b, then act: 0 none, 1 relu, 2 sigmoid */
static void ref_linear(double *y, const double *x, const float *W, const float *b, size_t I,
                       size_t O, int act)
{
    for (size_t o = 0; o < O; o++) {
        double s = b[o];
        for (size_t i = 0; i < I; i++)
            s += (double)W[o * I + i] * x[i];
        y[o] = act == 1 ? (s > 0 ? s : 0) : act == 2 ? 1 / (1 + exp(-s)) : s;
    }
}

/* The objective written out plainly for one variant; Bayesian weights are the means
 * (the draw dgm__seqvae_draw(v, NULL) makes). */
static double ref_objective(dgm__seqvae *v, const uint8_t *x, size_t B, const float *eps)
{
    dgm_params *p = v->p;
    int bayes = v->cfg.variant == DGM_SEQVAE_BAYES;
    size_t L = v->L, A = DGM_AA_N, Z = v->Z, H1 = 7, H2 = 5, G1 = 4, G2 = 6, K = 4, P = 2;
    double total = 0;
    for (size_t b = 0; b < B; b++) {
        double h1[7], h2[5], out[6], z[3], d1[4], d2[6];
        const float *E = T(p, "encoder.embed.weight"), *eb = T(p, "encoder.embed.bias");
        for (size_t k = 0; k < H1; k++) {
            double s = eb[k];
            for (size_t l = 0; l < L; l++) /* one-hot times the dense weight, zeros included */
                for (size_t c = 0; c < A; c++)
                    s += (x[b * L + l] == c ? 1.0 : 0.0) * E[(l * A + c) * H1 + k];
            h1[k] = s > 0 ? s : 0;
        }
        ref_linear(h2, h1, T(p, "encoder.mlp.0.weight"), T(p, "encoder.mlp.0.bias"), H1, H2, 1);
        ref_linear(out, h2, T(p, "encoder.mlp.2.weight"), T(p, "encoder.mlp.2.bias"), H2, 2 * Z, 0);
        double kl = 0;
        for (size_t j = 0; j < Z; j++) {
            z[j] = out[j] + exp(0.5 * out[Z + j]) * eps[b * Z + j];
            kl += 0.5 * (out[j] * out[j] + exp(out[Z + j]) - 1 - out[Z + j]);
        }
        const char *s0 = bayes ? "decoder.0.weight_mu" : "decoder.0.weight";
        const char *s1 = bayes ? "decoder.0.bias_mu" : "decoder.0.bias";
        const char *s2 = bayes ? "decoder.2.weight_mu" : "decoder.2.weight";
        const char *s3 = bayes ? "decoder.2.bias_mu" : "decoder.2.bias";
        ref_linear(d1, z, T(p, s0), T(p, s1), Z, G1, 1);
        ref_linear(d2, d1, T(p, s2), T(p, s3), G1, G2, 2);
        double ll = 0;
        for (size_t l = 0; l < L; l++) {
            double lg[20], mx = -1e300, se = 0;
            for (size_t c = 0; c < A; c++) {
                double s;
                if (!bayes) {
                    const float *W = T(p, "decoder.4.weight"), *bo = T(p, "decoder.4.bias");
                    s = bo[l * A + c];
                    for (size_t h = 0; h < G2; h++)
                        s += (double)W[(l * A + c) * G2 + h] * d2[h];
                } else {
                    const float *Wo = T(p, "decoder.out.weight_mu"), *bo = T(p, "decoder.out.bias_mu");
                    const float *Dc = T(p, "decoder.dict.weight_mu"), *S = T(p, "decoder.scale_mu");
                    double tau = log1p(exp(T(p, "decoder.temperature_mu")[0]));
                    s = bo[l * A + c];
                    for (size_t h = 0; h < G2; h++) {
                        double u = 0;
                        for (size_t k = 0; k < K; k++)
                            u += (double)Dc[c * K + k] * Wo[(l * K + k) * G2 + h];
                        s += u / (1 + exp(-(double)S[(h % (G2 / P)) * L + l])) * d2[h];
                    }
                    s *= tau;
                }
                lg[c] = s;
                mx = s > mx ? s : mx;
            }
            for (size_t c = 0; c < A; c++)
                se += exp(lg[c] - mx);
            if (x[b * L + l] < A)
                ll += lg[x[b * L + l]] - mx - log(se);
        }
        total += kl - ll;
    }
    return total / (double)B;
}

static void check_forward(dgm_seqvae_variant var)
{
    dgm_alignment a;
    dgm_rng rng;
    dgm_rng_init(&rng, 12);
    dgm_model *m = noisy_model(&a, 5, &rng, var, 0.3f);
    dgm__seqvae *v = SEQVAE(m);
    const dgm_seqvae_cfg cfg = tiny_cfg(var);
    float eps[5 * 3];
    dgm_rng_fill_normal(&rng, eps, 15);
    if (var == DGM_SEQVAE_BAYES)
        dgm__seqvae_draw(v, NULL);
    dgm_params_zero_grad(v->p);
    double reg = 0;
    double got = dgm__seqvae_objective(v, a.seq + 7 * LL, 5, eps);
    /* the regulariser alone, from its definition */
    if (var == DGM_SEQVAE_PLAIN) {
        const char *names[] = {"decoder.0.weight", "decoder.2.weight", "decoder.4.weight"};
        for (int k = 0; k < 3; k++) {
            int i = dgm_params_find(v->p, names[k]);
            reg += 0.5 * cfg.l2 / 7.5 * dgm_sumsq(dgm_params_tensor(v->p, i), dgm_params_numel(v->p, i));
        }
    } else {
        /* at the posterior mean: sum over tensors of KL(N(mu, e^2ls) || prior) / Neff */
        double mp = sqrt(2.0) * cfg.logit_sigma * -2.185124219; /* erfinv(2 * 0.001 - 1) */
        for (int i = 0; i < dgm_params_n_tensors(v->ps); i++) {
            const float *mu = dgm_params_tensor(v->p, v->mu_idx[i]);
            const float *ls = dgm_params_tensor(v->p, v->ls_idx[i]);
            double m0 = i == v->i_scale ? mp : 0, s0 = i == v->i_scale ? cfg.logit_sigma : 1;
            for (size_t j = 0; j < dgm_params_numel(v->ps, i); j++)
                reg += (log(s0) - ls[j] + (exp(2.0 * ls[j]) + (mu[j] - m0) * (mu[j] - m0)) /
                        (2 * s0 * s0) - 0.5) / 7.5;
        }
    }
    double want = ref_objective(v, a.seq + 7 * LL, 5, eps) + reg;
    CHECK_NEAR(got, want, 1e-4 * fabs(want) + 1e-4);
    dgm_model_free(m);
    dgm_alignment_free(&a);
}

static void test_forward_plain(void) { check_forward(DGM_SEQVAE_PLAIN); }
static void test_forward_bayes(void) { check_forward(DGM_SEQVAE_BAYES); }

// -------------------------------------------------------------------------------- training

/* The model's gradient (and touched bag rows) after a clean start and one evaluation:
 * the whole batch at once (pool NULL) or over micro-shards. */
static double batch_grad(ctx *c, dgm__seqvae_pool *pool, float *g, size_t *n_rows)
{
    dgm__seqvae *v = c->v;
    double obj;
    if (!pool)
        obj = loss_fn(c);
    else {
        if (v->cfg.variant == DGM_SEQVAE_BAYES)
            dgm__seqvae_draw(v, &c->draw);
        dgm_params_zero_grad(v->p);
        dgm__seqvae_untouch(v);
        dgm_err err = {0};
        CHECK(dgm__seqvae_pool_grad(pool, v, c->x, c->B, c->eps, &obj, &err) == DGM_OK);
    }
    memcpy(g, dgm_params_grad(v->p), dgm_params_count(v->p) * sizeof *g);
    *n_rows = v->n_rows;
    return obj;
}

/* The sharded gradient (seqvae_shard.c: shards of 4 rows of a batch of 13, the last one
 * short, summed in the fixed tree, the regulariser added once) is the whole batch's up to
 * float rounding, and the same bits at 1, 2 and 3 threads; training over shards gives the
 * same weights at 1 and 2 threads. */
static void check_sharded(dgm_seqvae_variant var)
{
    enum { B = 13, S = 4 };
    dgm_alignment a;
    dgm_rng rng;
    dgm_rng_init(&rng, 13);
    dgm_model *m = noisy_model(&a, 5, &rng, var, 0.3f);
    dgm__seqvae *v = SEQVAE(m);
    dgm_err err = {0};
    CHECK(dgm__seqvae_reserve(v, B, &err) == DGM_OK);
    size_t n = dgm_params_count(v->p), rows_full, rows_sh;
    float eps[B * 3];
    dgm_rng_fill_normal(&rng, eps, B * 3);
    ctx c = {v, a.seq + 4 * LL, eps, B, {0}};
    dgm_rng_init(&c.draw, 77);
    float *full = malloc(n * sizeof *full), *g[4];
    double want = batch_grad(&c, NULL, full, &rows_full);
    for (int t = 1; t <= 3; t++) {
        dgm_set_threads(t);
        dgm__seqvae_pool *pool = NULL;
        CHECK(dgm__seqvae_pool_create(&pool, v, B, S, &err) == DGM_OK);
        g[t] = malloc(n * sizeof *g[t]);
        double got = batch_grad(&c, pool, g[t], &rows_sh);
        CHECK_NEAR(got, want, 1e-6 * fabs(want));
        CHECK_EQ_INT(rows_sh, rows_full);
        dgm__seqvae_pool_free(pool);
    }
    dgm_set_threads(2);
    size_t bad = 0, nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        nonzero += full[i] != 0.0f;
        if (!(fabsf(g[1][i] - full[i]) <= 1e-5f + 1e-4f * fabsf(full[i])) && bad++ < 5)
            fprintf(stderr, "variant %d: gradient %zu: sharded %g, whole batch %g\n", var, i,
                    (double)g[1][i], (double)full[i]);
    }
    CHECK_MSG(bad == 0, "%zu of %zu gradients differ", bad, n);
    CHECK(nonzero > n / 2);
    CHECK(!memcmp(g[1], g[2], n * sizeof(float)));
    CHECK(!memcmp(g[1], g[3], n * sizeof(float)));
    for (int t = 1; t <= 3; t++)
        free(g[t]);
    free(full);
    dgm_model_free(m);

    /* training: the same weights at 1 and 2 threads */
    double w[N], neff, loss;
    CHECK(dgm_seq_weights(w, &neff, a.seq, N, LL, 0.2, DGM_SEQW_DEEPSEQ, &err) == DGM_OK);
    dgm_seqvae_cfg cfg = tiny_cfg(var);
    cfg.batch = 11;
    dgm__par_set_micro(3);
    float *wt[3];
    for (int t = 1; t <= 2; t++) {
        dgm_set_threads(t);
        dgm_rng_init(&rng, 31);
        CHECK(dgm_seqvae_create(&m, &rng, &cfg, &a, neff, 0.2, &err) == DGM_OK);
        CHECK(dgm_seqvae_train(m, &rng, a.seq, w, N, 25, &loss, &err) == DGM_OK);
        wt[t] = malloc(dgm_params_count(SEQVAE(m)->p) * sizeof(float));
        memcpy(wt[t], dgm_params_data(SEQVAE(m)->p), dgm_params_count(SEQVAE(m)->p) * sizeof(float));
        n = dgm_params_count(SEQVAE(m)->p);
        dgm_model_free(m);
    }
    CHECK(!memcmp(wt[1], wt[2], n * sizeof(float)));
    free(wt[1]);
    free(wt[2]);
    dgm__par_set_micro(0);
    dgm_set_threads(2);
    dgm_alignment_free(&a);
}

static void test_sharded_plain(void) { check_sharded(DGM_SEQVAE_PLAIN); }
static void test_sharded_bayes(void) { check_sharded(DGM_SEQVAE_BAYES); }

static void test_train(void)
{
    for (int var = 0; var < 2; var++) {
        dgm_alignment a;
        make_alignment(&a, 7);
        double w[N], neff;
        dgm_err err = {0};
        CHECK(dgm_seq_weights(w, &neff, a.seq, N, LL, 0.2, DGM_SEQW_DEEPSEQ, &err) == DGM_OK);
        dgm_rng rng;
        dgm_rng_init(&rng, 21);
        dgm_seqvae_cfg cfg = tiny_cfg((dgm_seqvae_variant)var);
        cfg.lr = 1e-2;
        dgm_model *m;
        CHECK(dgm_seqvae_create(&m, &rng, &cfg, &a, neff, 0.2, &err) == DGM_OK);
        dgm__seqvae *v = SEQVAE(m);
        /* 'Y' (19) never occurs: its bag rows must not move under the lazy update */
        size_t H = v->H1;
        float *E = dgm_params_tensor(v->p, v->i_bag);
        float yrow[7];
        memcpy(yrow, E + (2 * DGM_AA_N + 19) * H, H * sizeof(float));
        double first, last;
        CHECK(dgm_seqvae_train(m, &rng, a.seq, w, N, 20, &first, &err) == DGM_OK);
        CHECK(dgm_seqvae_train(m, &rng, a.seq, w, N, 400, &last, &err) == DGM_OK);
        CHECK(dgm_seqvae_train(m, &rng, a.seq, w, N, 100, &last, &err) == DGM_OK);
        CHECK_EQ_INT(dgm_seqvae_steps(m), 520);
        CHECK_MSG(last < first - 1.0, "variant %d: objective %g -> %g", var, first, last);
        CHECK(!memcmp(yrow, E + (2 * DGM_AA_N + 19) * H, H * sizeof(float)));
        /* the same seed split differently gives the same bits */
        dgm_model *m2;
        dgm_rng r2;
        dgm_rng_init(&r2, 21);
        CHECK(dgm_seqvae_create(&m2, &r2, &cfg, &a, neff, 0.2, &err) == DGM_OK);
        CHECK(dgm_seqvae_train(m2, &r2, a.seq, w, N, 520, &last, &err) == DGM_OK);
        CHECK(!memcmp(dgm_params_data(SEQVAE(m2)->p), dgm_params_data(v->p),
                      dgm_params_count(v->p) * sizeof(float)));

        /* file round trip: the same log_prob with the same seed */
        char path[] = "/tmp/dgm_test_seqvaeXXXXXX";
        int fd = mkstemp(path);
        close(fd);
        CHECK(dgm_model_save(m, path, &err) == DGM_OK);
        dgm_model *m3 = NULL;
        CHECK(dgm_model_load(&m3, path, &err) == DGM_OK);
        unlink(path);
        if (m3) {
            float x[2 * LL * DGM_AA_N];
            dgm_seq_onehot(x, a.seq, 2, LL);
            double l1[2], l2[2];
            dgm_rng_init(&r2, 5);
            CHECK(dgm_model_log_prob(m, &r2, l1, x, NULL, 2, 8, &err) == DGM_OK);
            dgm_rng_init(&r2, 5);
            CHECK(dgm_model_log_prob(m3, &r2, l2, x, NULL, 2, 8, &err) == DGM_OK);
            CHECK(l1[0] == l2[0] && l1[1] == l2[1]);
            CHECK(!strcmp(dgm_model_type(m3), "seqvae"));
            CHECK_EQ_INT(dgm_seqvae_steps(m3), 520);
            /* the file records the micro-shard size that decided its bits */
            char *d = dgm_model_describe(m3);
            char want[48];
            snprintf(want, sizeof want, "\"micro_batch\":%zu", dgm__par_micro());
            CHECK_MSG(d && strstr(d, want), "%s lacks %s", d ? d : "(null)", want);
            free(d);
            dgm_model_free(m3);
        }
        dgm_model_free(m);
        dgm_model_free(m2);
        dgm_alignment_free(&a);
    }
}

/* log_prob with k = 1 is one draw of log p(x|z) + log p(z) - log q(z|x), whose mean is the
 * ELBO; the mean over many draws must match the ELBO from the objective (posterior-mean
 * weights, many latent draws) within a few standard errors. With k = 64 the estimate may
 * only be higher on average (IWAE bound, Burda et al. 2016, Theorem 1). */
static void test_log_prob(void)
{
    dgm_alignment a;
    dgm_rng rng;
    dgm_rng_init(&rng, 31);
    dgm_model *m = noisy_model(&a, 9, &rng, DGM_SEQVAE_BAYES, 0.2f);
    dgm__seqvae *v = SEQVAE(m);
    dgm_err err = {0};
    enum { M = 4000 };
    float *x = malloc(M * LL * DGM_AA_N * sizeof(float));
    uint8_t *xs = malloc(M * LL);
    for (int i = 0; i < M; i++)
        memcpy(xs + i * LL, a.seq + 4 * LL, LL);
    dgm_seq_onehot(x, xs, M, LL);
    double *lp = malloc(M * sizeof(double)), s = 0, s2 = 0;
    CHECK(dgm_model_log_prob(m, &rng, lp, x, NULL, M, 1, &err) == DGM_OK);
    for (int i = 0; i < M; i++)
        s += lp[i], s2 += lp[i] * lp[i];
    double mean = s / M, se = sqrt((s2 / M - mean * mean) / M);
    /* the ELBO: minus the objective without its regulariser, averaged over latent draws */
    dgm__seqvae_draw(v, NULL);
    double elbo = 0, e2 = 0;
    float eps[3];
    for (int i = 0; i < M; i++) {
        dgm_rng_fill_normal(&rng, eps, 3);
        dgm__seqvae_clear_grad(v);
        double o = dgm__seqvae_objective(v, xs, 1, eps) - dgm__seqvae_regularise(v) * 0;
        elbo += o, e2 += o * o;
    }
    dgm__seqvae_clear_grad(v);
    (void)e2;
    /* objective included the regulariser once: take it out */
    double reg = dgm__seqvae_regularise(v);
    elbo = -(elbo / M - reg);
    CHECK_MSG(fabs(mean - elbo) < 5 * se + 1e-3, "k=1 mean %g vs ELBO %g (se %g)", mean, elbo, se);
    double *lk = malloc(200 * sizeof(double)), sk = 0;
    CHECK(dgm_model_log_prob(m, &rng, lk, x, NULL, 200, 64, &err) == DGM_OK);
    for (int i = 0; i < 200; i++)
        sk += lk[i];
    CHECK_MSG(sk / 200 > mean - 3 * se, "IWAE k=64 %g below k=1 %g", sk / 200, mean);
    free(lk);
    free(x);
    free(xs);
    free(lp);
    dgm_model_free(m);
    dgm_alignment_free(&a);
}

/* Effects: the wild type against itself is exactly 0 (paired draws); a mutant's effect is
 * the mean of ELBO(mut) - ELBO(wt) over draws computed here from the objective. */
static void count_progress(void *ctx, size_t done, size_t total)
{
    size_t *c = ctx;
    if (total == 300 && done == c[1] + 1)
        c[0]++;
    c[1] = done;
}

static void test_effects(void)
{
    dgm_alignment a;
    dgm_rng rng;
    dgm_rng_init(&rng, 41);
    dgm_model *m = noisy_model(&a, 13, &rng, DGM_SEQVAE_PLAIN, 0.3f);
    dgm__seqvae *v = SEQVAE(m);
    dgm_err err = {0};
    uint8_t s2[2 * LL];
    memcpy(s2, a.seq, LL);
    memcpy(s2 + LL, a.seq, LL);
    s2[LL + 2] = 4;
    double d[2], se[2];
    dgm_rng r0;
    dgm_rng_init(&r0, 3);
    CHECK(dgm_mutation_effects(m, &r0, d, se, s2, 2, 300, &err) == DGM_OK);
    CHECK(d[0] == 0.0 && se[0] == 0.0);
    CHECK(se[1] > 0);
    /* with progress: the same numbers, one call per sample, in order, ending at the total */
    double dp[2], sep[2];
    size_t calls[2] = {0, 0}; /* count, last done */
    CHECK(dgm_mutation_effects_progress(m, &r0, dp, sep, s2, 2, 300, count_progress, calls,
                                        &err) == DGM_OK);
    CHECK(dp[1] == d[1] && sep[1] == se[1] && calls[0] == 300 && calls[1] == 300);
    /* the same draws by hand: sample t uses fork(rng, t) -> fork(., 1) for z's noise */
    double ref = 0, reg = dgm__seqvae_regularise(v);
    dgm__seqvae_clear_grad(v);
    for (int t = 0; t < 300; t++) {
        dgm_rng rs, r;
        dgm_rng_fork(&rs, &r0, (uint64_t)t);
        dgm_rng_fork(&r, &rs, 1);
        float eps[3];
        dgm_rng_fill_normal(&r, eps, 3);
        double e[2];
        for (int k = 0; k < 2; k++) {
            e[k] = -(dgm__seqvae_objective(v, s2 + k * LL, 1, eps) - reg);
            dgm__seqvae_clear_grad(v);
        }
        ref += e[1] - e[0];
    }
    dgm_rng_init(&r0, 3);
    CHECK(dgm_mutation_effects(m, &r0, d, se, s2 + LL, 1, 300, &err) == DGM_OK);
    CHECK_NEAR(d[0], ref / 300, 1e-4 * fabs(ref / 300) + 1e-5);
    CHECK(dgm_mutation_effects(m, &r0, d, se, s2, 1, 0, &err) == DGM_ERR_ARG);
    dgm_model_free(m);
    dgm_alignment_free(&a);
}

/* bf16 output products in mutation effects (both variants): each effect within 0.01 nats
 * of the float32 one from the same draws, and different from it (the bf16 path really
 * ran); back in float32 the same bits again; without oneDNN, DGM_ERR_UNSUPPORTED. */
static void test_effects_bf16(void)
{
    for (int var = 0; var < 2; var++) {
        dgm_alignment a;
        dgm_rng rng;
        dgm_rng_init(&rng, 43);
        dgm_model *m = noisy_model(&a, 13, &rng, var ? DGM_SEQVAE_BAYES : DGM_SEQVAE_PLAIN, 0.3f);
        dgm_err err = {0};
        enum { NM = 6 };
        uint8_t s[NM * LL];
        for (int k = 0; k < NM; k++) {
            memcpy(s + k * LL, a.seq, LL);
            s[k * LL + (size_t)k % LL] = (uint8_t)((a.seq[(size_t)k % LL] + 3 + k) % 20);
        }
        double d32[NM], se32[NM], d16[NM], se16[NM];
        dgm_rng r0;
        dgm_rng_init(&r0, 5);
        CHECK(dgm_mutation_effects(m, &r0, d32, se32, s, NM, 200, &err) == DGM_OK);
        dgm_status st = dgm_seqvae_set_precision(m, DGM_PREC_BF16, &err);
        if (!dgm_bf16_available()) {
            CHECK(st == DGM_ERR_UNSUPPORTED && strstr(err.msg, "oneDNN"));
        } else {
            CHECK(st == DGM_OK);
            CHECK(dgm_mutation_effects(m, &r0, d16, se16, s, NM, 200, &err) == DGM_OK);
            /* effects here are 0.01 to 2 nats; bf16 moved them by at most 0.0017 (0.0035 on
             * BLAT's 4,807 mutants); a lost bias or temperature moves them by tenths */
            double moved = 0;
            for (int k = 0; k < NM; k++)
                moved = fmax(moved, fabs(d16[k] - d32[k]));
            CHECK_MSG(moved < 0.01, "bf16 effects differ from float32 ones by %g nats", moved);
            CHECK(moved > 0);
            CHECK(dgm_seqvae_set_precision(m, DGM_PREC_FP32, &err) == DGM_OK);
            CHECK(dgm_mutation_effects(m, &r0, d16, se16, s, NM, 200, &err) == DGM_OK);
            CHECK(memcmp(d16, d32, sizeof d32) == 0);
        }
        dgm_model_free(m);
        dgm_alignment_free(&a);
    }
}

// ----------------------------------------------------------- the fast kernels of seqvae

static void test_exp_log(void)
{
    double we = 0, wl = 0;
    for (int i = 0; i <= 200000; i++) {
        float x = -87.0f + 175.0f * (float)i / 200000.0f;
        double r = exp((double)x);
        we = fmax(we, fabs(dgm__expf(x) - r) / r);
        float y = ldexpf(1.0f + (float)i / 200000.0f, i % 200 - 100); /* normal floats */
        wl = fmax(wl, fabs(dgm__logf(y) - log((double)y)) / fmax(1.0, fabs(log((double)y))));
    }
    CHECK_MSG(we < 4e-7, "exp: max relative error %g", we);
    CHECK_MSG(wl < 4e-7, "log: max error %g", wl);
    CHECK(dgm__expf(-1e30f) > 0 && dgm__expf(1e30f) < INFINITY && dgm__logf(1.0f) == 0.0f);
}

static void test_bad_config(void)
{
    dgm_alignment a;
    make_alignment(&a, 1);
    dgm_rng rng;
    dgm_rng_init(&rng, 1);
    dgm_seqvae_cfg c = tiny_cfg(DGM_SEQVAE_BAYES);
    c.n_patterns = 4; /* 6 hidden units cannot be tiled 4 times */
    dgm_model *m;
    dgm_err err = {0};
    CHECK(dgm_seqvae_create(&m, &rng, &c, &a, 7.5, 0.2, &err) == DGM_ERR_ARG);
    CHECK(strstr(err.msg, "n_patterns") != NULL);
    dgm_alignment_free(&a);
}

int main(void)
{
    dgm_set_threads(2);
    TEST_RUN(test_grad_plain);
    TEST_RUN(test_grad_bayes);
    TEST_RUN(test_forward_plain);
    TEST_RUN(test_forward_bayes);
    TEST_RUN(test_sharded_plain);
    TEST_RUN(test_sharded_bayes);
    TEST_RUN(test_train);
    TEST_RUN(test_log_prob);
    TEST_RUN(test_effects);
    TEST_RUN(test_effects_bf16);
    TEST_RUN(test_exp_log);
    TEST_RUN(test_bad_config);
    TEST_MAIN_END("test_protein_vae");
}
