/* Optimizers, clipping and learning-rate schedules (src/optim) against two references:
 * trajectories recorded from torch.optim.SGD / Adam / AdamW, clip_grad_norm_ and the
 * StepLR / CosineAnnealingLR / LambdaLR schedulers (tests/fixtures/optim_fixture.h, made by
 * make_optim_fixture.py), and a double-precision reimplementation of the same updates
 * written here from the torch documentation:
 *   SGD:   d = g + wd w; b = d (first step) or mu b + d; d = nesterov ? d + mu b : b;
 *          w -= lr d
 *   Adam:  g += wd w (L2) or w *= 1 - lr wd (AdamW); m = b1 m + (1 - b1) g;
 *          v = b2 v + (1 - b2) g^2; w -= lr m/(1 - b1^t) / (sqrt(v/(1 - b2^t)) + eps)
 * Tolerances: each step is ~10 float operations of relative error 2^-24, so five steps
 * stay below 1e-6 (|w| + 0.1); the schedules are one float rounding of a double formula.
 * Left out: dampening (dgm has none), amsgrad and maximize, which dgm does not offer. */
#include "dgm_blocks.h"
#include "core/assert.h"
#include "nn/params.h"
#include "optim/optim.h"
#include "test.h"

#if __has_include("fixtures/optim_fixture.h")
#include "fixtures/optim_fixture.h"
#define HAVE_FIXTURE 1
#else
#define HAVE_FIXTURE 0
#endif

/* float trajectories vs a reference: five steps of ~10 roundings each */
static double traj_tol(double w) { return 1e-6 * (fabs(w) + 0.1); }

/* ---------------------------------------------------------- double-precision reference */

static void sgd_ref(double *w, const double *g, double *buf, size_t n, double lr, double mu,
                    int nesterov, double wd, long t)
{
    for (size_t i = 0; i < n; i++) {
        double d = g[i] + wd * w[i];
        if (mu != 0) {
            buf[i] = t == 1 ? d : mu * buf[i] + d;
            d = nesterov ? d + mu * buf[i] : buf[i];
        }
        w[i] -= lr * d;
    }
}

static void adam_ref(double *w, const double *g, double *m, double *v, size_t n, double lr,
                     double b1, double b2, double eps, double wd, int decoupled, long t)
{
    for (size_t i = 0; i < n; i++) {
        double gi = g[i];
        if (decoupled)
            w[i] *= 1 - lr * wd;
        else
            gi += wd * w[i];
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        double mhat = m[i] / (1 - pow(b1, (double)t)), vhat = v[i] / (1 - pow(b2, (double)t));
        w[i] -= lr * mhat / (sqrt(vhat) + eps);
    }
}

/* the header's schedule formulas, in double */
static double lr_ref(const dgm_optim_cfg *c, long t)
{
    double lr = c->lr;
    if (c->sched == DGM_SCHED_STEP)
        lr *= pow(c->gamma, (double)(t / c->step_size));
    else if (c->sched == DGM_SCHED_COSINE) {
        double f = (double)(t < c->total_steps ? t : c->total_steps) / c->total_steps;
        lr = c->min_lr + ((double)c->lr - c->min_lr) * (1 + cos(M_PI * f)) / 2;
    }
    if (c->warmup_steps > 0)
        lr *= fmin(1.0, (double)(t + 1) / c->warmup_steps);
    return lr;
}

/* scales g to norm max_norm when above it; returns the norm before */
static double clip_ref(double *g, size_t n, double max_norm)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += g[i] * g[i];
    double norm = sqrt(s);
    if (max_norm > 0 && norm > max_norm)
        for (size_t i = 0; i < n; i++)
            g[i] *= max_norm / norm;
    return norm;
}

static int near_traj(const char *what, int step, const float *a, const double *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs(a[i] - e[i]) <= traj_tol(e[i]))) {
            fprintf(stderr, "%s step %d [%zu]: expected %.9g, actual %.9g\n", what, step, i,
                    e[i], a[i]);
            return 0;
        }
    return 1;
}

/* --------------------------------------------------------------------- torch fixture */
#if HAVE_FIXTURE

static dgm_optim_cfg cfg_of(const optfix_case *c)
{
    dgm_optim_cfg cfg = dgm_optim_defaults(c->kind);
    cfg.lr = c->lr;
    cfg.momentum = c->momentum;
    cfg.nesterov = c->nesterov;
    cfg.beta1 = c->beta1;
    cfg.beta2 = c->beta2;
    cfg.eps = c->eps;
    cfg.weight_decay = c->weight_decay;
    cfg.clip_norm = c->clip_norm;
    cfg.sched = c->step_size > 0 ? DGM_SCHED_STEP : DGM_SCHED_CONSTANT;
    cfg.step_size = c->step_size;
    cfg.gamma = c->gamma;
    cfg.warmup_steps = c->warmup_steps;
    return cfg;
}

/* The flat loops dgm_sgd_step / dgm_adam_step against torch and against the double
 * reference, which is itself checked against torch so that it is a trustworthy second
 * reference for the tests below. */
static void test_flat_loops_vs_torch(void)
{
    enum { N = OPTFIX_N };
    for (size_t k = 0; k < sizeof optfix_cases / sizeof optfix_cases[0]; k++) {
        const optfix_case *c = &optfix_cases[k];
        if (c->clip_norm > 0 || c->step_size > 0)
            continue; /* these go through dgm_optim_step below */
        float w[N], m[N] = {0}, v[N] = {0};
        double wr[N], mr[N] = {0}, vr[N] = {0}, gr[N], torch[N];
        memcpy(w, optfix_w0, sizeof w);
        for (size_t i = 0; i < N; i++)
            wr[i] = optfix_w0[i];
        for (int t = 1; t <= OPTFIX_STEPS; t++) {
            const float *g = optfix_grads[t - 1];
            for (size_t i = 0; i < N; i++)
                gr[i] = g[i];
            if (c->kind == DGM_OPT_SGD) {
                dgm_sgd_step(w, g, m, N, c->lr, c->momentum, c->nesterov, c->weight_decay, t);
                sgd_ref(wr, gr, mr, N, c->lr, c->momentum, c->nesterov, c->weight_decay, t);
            } else {
                int dec = c->kind == DGM_OPT_ADAMW;
                dgm_adam_step(w, g, m, v, N, c->lr, c->beta1, c->beta2, c->eps,
                              c->weight_decay, dec, t);
                adam_ref(wr, gr, mr, vr, N, c->lr, c->beta1, c->beta2, c->eps,
                         c->weight_decay, dec, t);
            }
            for (size_t i = 0; i < N; i++)
                torch[i] = c->expect[t - 1][i];
            CHECK_MSG(near_traj(c->name, t, w, torch, N), "%s vs torch", c->name);
            CHECK_MSG(near_traj(c->name, t, w, wr, N), "%s vs double reference", c->name);
            float wrf[N];
            for (size_t i = 0; i < N; i++)
                wrf[i] = (float)wr[i];
            CHECK_MSG(near_traj(c->name, t, wrf, torch, N), "double reference %s vs torch",
                      c->name);
        }
    }
}

/* dgm_optim_step on a two-tensor parameter store: clipping, schedule, warm-up and the
 * update together, against torch, and against the flat loops run by hand. */
static void test_optim_step_vs_torch(void)
{
    enum { N = OPTFIX_N };
    dgm_err err = {0};
    for (size_t k = 0; k < sizeof optfix_cases / sizeof optfix_cases[0]; k++) {
        const optfix_case *c = &optfix_cases[k];
        dgm_optim_cfg cfg = cfg_of(c);
        dgm_params *p = dgm_params_create();
        const size_t sw[2] = {2, 3}, sb[1] = {1};
        CHECK(dgm_params_add(p, "layer.weight", sw, 2) == 0);
        CHECK(dgm_params_add(p, "layer.bias", sb, 1) == 1);
        CHECK(dgm_params_alloc(p, &err) == DGM_OK);
        CHECK_EQ_INT(dgm_params_count(p), N);
        if (t_fail_here) { dgm_params_free(p); return; }
        memcpy(dgm_params_data(p), optfix_w0, sizeof optfix_w0);
        float w[N], g[N], m[N] = {0}, v[N] = {0};
        double torch[N], wd_[N], wr[N], gr[N], mr[N] = {0}, vr[N] = {0};
        memcpy(w, optfix_w0, sizeof w);
        for (size_t i = 0; i < N; i++)
            wr[i] = optfix_w0[i];
        for (long t = 0; t < OPTFIX_STEPS; t++) {
            memcpy(dgm_params_grad(p), optfix_grads[t], sizeof g);
            float lr = dgm_optim_step(&cfg, p, t);
            CHECK_NEAR(lr, lr_ref(&cfg, t), 1e-6 * lr_ref(&cfg, t));
            /* by hand: clip, schedule, flat loop with the 1-based step t + 1 */
            memcpy(g, optfix_grads[t], sizeof g);
            if (cfg.clip_norm > 0)
                dgm_clip_grad_norm(g, N, cfg.clip_norm);
            float lr2 = dgm_optim_lr_at(&cfg, t);
            CHECK(lr2 == lr);
            if (c->kind == DGM_OPT_SGD)
                dgm_sgd_step(w, g, m, N, lr2, cfg.momentum, cfg.nesterov, cfg.weight_decay,
                             t + 1);
            else
                dgm_adam_step(w, g, m, v, N, lr2, cfg.beta1, cfg.beta2, cfg.eps,
                              cfg.weight_decay, c->kind == DGM_OPT_ADAMW, t + 1);
            /* the double reference: clip, schedule, update */
            for (size_t i = 0; i < N; i++)
                gr[i] = optfix_grads[t][i];
            clip_ref(gr, N, cfg.clip_norm);
            if (c->kind == DGM_OPT_SGD)
                sgd_ref(wr, gr, mr, N, lr_ref(&cfg, t), cfg.momentum, cfg.nesterov,
                        cfg.weight_decay, t + 1);
            else
                adam_ref(wr, gr, mr, vr, N, lr_ref(&cfg, t), cfg.beta1, cfg.beta2, cfg.eps,
                         cfg.weight_decay, c->kind == DGM_OPT_ADAMW, t + 1);
            for (size_t i = 0; i < N; i++) {
                torch[i] = c->expect[t][i];
                wd_[i] = w[i];
            }
            CHECK_MSG(near_traj(c->name, (int)t + 1, dgm_params_data(p), torch, N),
                      "dgm_optim_step %s vs torch", c->name);
            CHECK_MSG(near_traj(c->name, (int)t + 1, dgm_params_data(p), wr, N),
                      "dgm_optim_step %s vs double reference", c->name);
            /* same float operations in the same order: equal up to the clip scale's
             * last bit */
            for (size_t i = 0; i < N; i++)
                CHECK_NEAR(dgm_params_data(p)[i], wd_[i], 1e-7 * (fabs(wd_[i]) + 1e-3));
        }
        dgm_params_free(p);
    }
}

static void test_schedules_vs_torch(void)
{
    for (size_t k = 0; k < sizeof optfix_scheds / sizeof optfix_scheds[0]; k++) {
        const optfix_sched_case *s = &optfix_scheds[k];
        dgm_optim_cfg cfg = dgm_optim_defaults(DGM_OPT_SGD);
        cfg.lr = s->lr;
        cfg.sched = s->sched;
        cfg.step_size = s->step_size;
        cfg.gamma = s->gamma;
        cfg.total_steps = s->total_steps;
        cfg.min_lr = s->min_lr;
        cfg.warmup_steps = s->warmup_steps;
        for (long t = 0; t < OPTFIX_SCHED_STEPS; t++) {
            double e = s->lr_at[t];
            float a = dgm_optim_lr_at(&cfg, t);
            CHECK_MSG(fabs(a - e) <= 2e-6 * fabs(e) + 1e-9, "%s t=%ld: torch %.9g, dgm %.9g",
                      s->name, t, e, a);
        }
    }
}
#endif

/* --------------------------------------------------------- formulas and invariants */

static void test_lr_formulas(void)
{
    dgm_optim_cfg c = dgm_optim_defaults(DGM_OPT_ADAM);
    c.lr = 0.3f;
    for (long t = 0; t < 200; t += 7)
        CHECK(dgm_optim_lr_at(&c, t) == c.lr);

    const long step_sizes[] = {1, 3, 10};
    const float gammas[] = {0.5f, 0.9f, 1.0f};
    c.sched = DGM_SCHED_STEP;
    for (int a = 0; a < 3; a++)
        for (long t = 0; t < 40; t++) {
            c.step_size = step_sizes[a];
            c.gamma = gammas[a];
            double e = lr_ref(&c, t);
            CHECK_NEAR(dgm_optim_lr_at(&c, t), e, 2e-6 * e);
        }

    c.sched = DGM_SCHED_COSINE;
    c.total_steps = 100;
    c.min_lr = 0.01f;
    for (long t = 0; t <= 130; t += 3) {
        double e = lr_ref(&c, t);
        CHECK_NEAR(dgm_optim_lr_at(&c, t), e, 2e-6 * e);
    }
    /* landmarks: the start, the midpoint (mean of the two), the end and beyond it */
    CHECK_NEAR(dgm_optim_lr_at(&c, 0), c.lr, 2e-7);
    CHECK_NEAR(dgm_optim_lr_at(&c, 50), (c.lr + c.min_lr) / 2, 2e-7);
    CHECK_NEAR(dgm_optim_lr_at(&c, 100), c.min_lr, 2e-8);
    CHECK_NEAR(dgm_optim_lr_at(&c, 1000), c.min_lr, 2e-8);

    /* warm-up on top of every schedule: lr(t) = sched(t) min(1, (t + 1) / W) */
    const dgm_sched_kind kinds[] = {DGM_SCHED_CONSTANT, DGM_SCHED_STEP, DGM_SCHED_COSINE};
    c.step_size = 4;
    c.gamma = 0.5f;
    for (int a = 0; a < 3; a++) {
        c.sched = kinds[a];
        c.warmup_steps = 10;
        for (long t = 0; t < 30; t++) {
            double e = lr_ref(&c, t);
            CHECK_NEAR(dgm_optim_lr_at(&c, t), e, 2e-6 * e);
        }
        c.warmup_steps = 0;
        double base0 = dgm_optim_lr_at(&c, 0);
        c.warmup_steps = 10;
        CHECK_NEAR(dgm_optim_lr_at(&c, 0), base0 / 10, 2e-6 * base0);
    }
    c.sched = DGM_SCHED_CONSTANT;
    c.warmup_steps = 1; /* a one-step warm-up is no warm-up */
    CHECK(dgm_optim_lr_at(&c, 0) == c.lr);
    c.warmup_steps = 5;
    for (long t = 0; t + 1 < 5; t++)
        CHECK(dgm_optim_lr_at(&c, t) < dgm_optim_lr_at(&c, t + 1));
    CHECK(dgm_optim_lr_at(&c, 4) == c.lr);
}

static void test_defaults(void)
{
    dgm_optim_cfg a = dgm_optim_defaults(DGM_OPT_ADAM), w = dgm_optim_defaults(DGM_OPT_ADAMW);
    CHECK_EQ_INT(a.kind, DGM_OPT_ADAM);
    CHECK_EQ_INT(w.kind, DGM_OPT_ADAMW);
    CHECK(a.lr == 1e-3f && a.beta1 == 0.9f && a.beta2 == 0.999f && a.eps == 1e-8f);
    CHECK(a.weight_decay == 0 && a.clip_norm <= 0 && a.warmup_steps == 0);
    CHECK_EQ_INT(a.sched, DGM_SCHED_CONSTANT);
    CHECK(w.lr == 1e-3f && w.weight_decay == 0.01f); /* torch.optim.AdamW's default */
    dgm_optim_cfg s = dgm_optim_defaults(DGM_OPT_SGD);
    CHECK(s.momentum == 0 && !s.nesterov && s.weight_decay == 0 && s.lr > 0);
}

static void test_clip_grad_norm(void)
{
    enum { N = 101 };
    float g[N], g0[N];
    dgm_rng r;
    dgm_rng_init(&r, 41);
    for (size_t i = 0; i < N; i++)
        g0[i] = (float)dgm_rng_normal(&r);
    double gd[N];
    for (size_t i = 0; i < N; i++)
        gd[i] = g0[i];
    double norm = clip_ref(gd, N, 0); /* norm only */

    /* above the limit: returns the old norm, leaves norm max_norm, keeps the direction */
    memcpy(g, g0, sizeof g);
    double ret = dgm_clip_grad_norm(g, N, 2.5);
    CHECK_NEAR(ret, norm, 1e-6 * norm);
    double after = sqrt(dgm_sumsq(g, N));
    CHECK_NEAR(after, 2.5, 2.5 * 2e-6); /* torch divides by norm + 1e-6 */
    clip_ref(gd, N, 2.5);
    int same_dir = 1;
    for (size_t i = 0; i < N; i++)
        same_dir &= fabs(g[i] - gd[i]) <= 1e-6 * (fabs(gd[i]) + 1e-3);
    CHECK(same_dir);

    /* below the limit, or disabled: untouched */
    memcpy(g, g0, sizeof g);
    CHECK_NEAR(dgm_clip_grad_norm(g, N, 2 * norm), norm, 1e-6 * norm);
    CHECK(memcmp(g, g0, sizeof g) == 0);
    CHECK_NEAR(dgm_clip_grad_norm(g, N, 0), norm, 1e-6 * norm);
    CHECK(memcmp(g, g0, sizeof g) == 0);

    /* zero gradient and empty vector: norm 0, no NaN */
    float z[4] = {0};
    CHECK(dgm_clip_grad_norm(z, 4, 1.0) == 0.0);
    CHECK(dgm_all_finite(z, 4) && z[0] == 0 && z[3] == 0);
    CHECK(dgm_clip_grad_norm(z, 0, 1.0) == 0.0);

    /* entries whose squares overflow float: the norm is still finite and right */
    float big[N];
    for (size_t i = 0; i < N; i++)
        big[i] = 1e20f;
    ret = dgm_clip_grad_norm(big, N, 1.0);
    CHECK_NEAR(ret, 1e20 * sqrt((double)N), 1e-6 * 1e20 * sqrt((double)N));
    CHECK(dgm_all_finite(big, N));
    CHECK_NEAR(sqrt(dgm_sumsq(big, N)), 1.0, 2e-6);
}

/* Adam's first step moves every weight by lr against the sign of its gradient (bias
 * correction makes m/sqrt(v) = g/|g|), whatever the gradient's scale. */
static void test_adam_first_step(void)
{
    const float g[5] = {1e-3f, -2.f, 50.f, -1e-2f, 0.f};
    float w[5] = {1, 1, 1, 1, 1}, m[5] = {0}, v[5] = {0};
    dgm_adam_step(w, g, m, v, 5, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 0, 1);
    for (int i = 0; i < 5; i++) {
        double e = 1 - 0.1 * g[i] / (fabs(g[i]) + 1e-8);
        CHECK_NEAR(w[i], e, 1e-6);
    }
}

/* torch's SGD creates the momentum buffer as a copy of the first step's (decayed)
 * gradient, so at t = 1 whatever the buffer held before must not leak in. */
static void test_sgd_first_step_buffer(void)
{
    const float g[3] = {0.5f, -1.f, 2.f};
    float w[3] = {1, 2, 3}, m[3] = {7, -7, 100};
    dgm_sgd_step(w, g, m, 3, 0.1f, 0.9f, 0, 0.1f, 1);
    const double w0[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        double d = g[i] + 0.1 * w0[i];
        CHECK_NEAR(m[i], d, 1e-6);
        CHECK_NEAR(w[i], w0[i] - 0.1 * d, 1e-6);
    }
}

/* Long vectors take the OpenMP path: 1 and 2 threads give bit-identical results, and a
 * sample of elements matches the double reference. */
static void test_large_threads(void)
{
    const size_t n = 300007;
    float *w1 = dgm_malloc_array(n, sizeof(float)), *w2 = dgm_malloc_array(n, sizeof(float));
    float *g = dgm_malloc_array(n, sizeof(float)), *w0 = dgm_malloc_array(n, sizeof(float));
    float *m1 = dgm_calloc_array(n, sizeof(float)), *v1 = dgm_calloc_array(n, sizeof(float));
    float *m2 = dgm_calloc_array(n, sizeof(float)), *v2 = dgm_calloc_array(n, sizeof(float));
    DGM_ASSERT(w1 && w2 && g && w0 && m1 && v1 && m2 && v2);
    dgm_rng r;
    dgm_rng_init(&r, 42);
    dgm_rng_fill_normal(&r, w0, n);
    memcpy(w1, w0, n * sizeof(float));
    memcpy(w2, w0, n * sizeof(float));
    int threads = dgm_get_threads();
    for (long t = 1; t <= 3; t++) {
        dgm_rng_fill_normal(&r, g, n);
        dgm_set_threads(1);
        dgm_adam_step(w1, g, m1, v1, n, 0.01f, 0.9f, 0.999f, 1e-8f, 0.05f, 1, t);
        dgm_sgd_step(w1, g, m1, n, 0.01f, 0.9f, 1, 0.01f, t);
        dgm_set_threads(2);
        dgm_adam_step(w2, g, m2, v2, n, 0.01f, 0.9f, 0.999f, 1e-8f, 0.05f, 1, t);
        dgm_sgd_step(w2, g, m2, n, 0.01f, 0.9f, 1, 0.01f, t);
    }
    dgm_set_threads(threads);
    CHECK(memcmp(w1, w2, n * sizeof(float)) == 0);
    CHECK(memcmp(m1, m2, n * sizeof(float)) == 0);
    /* the first Adam step alone, on every 1000th element, against the reference */
    memcpy(w1, w0, n * sizeof(float));
    memset(m1, 0, n * sizeof(float));
    memset(v1, 0, n * sizeof(float));
    dgm_adam_step(w1, g, m1, v1, n, 0.01f, 0.9f, 0.999f, 1e-8f, 0.05f, 1, 1);
    int ok = 1;
    for (size_t i = 0; i < n; i += 1000) {
        double w = w0[i], gd = g[i], mm = 0, vv = 0;
        adam_ref(&w, &gd, &mm, &vv, 1, 0.01, 0.9, 0.999, 1e-8, 0.05, 1, 1);
        ok &= fabs(w1[i] - w) <= traj_tol(w);
    }
    CHECK(ok);
    free(w1); free(w2); free(g); free(w0); free(m1); free(v1); free(m2); free(v2);
}

/* What ranks sharing one store do (par.h, "Shared memory"; vae_shard.c, sharded.c): the
 * store moved into memory of the caller's, the whole gradient's clipping factor, each
 * segment scaled and stepped on its own, the store moved back: the bits of one
 * dgm_optim_step with clipping, and the values where they were. */
static void test_segments_of_a_placed_store(void)
{
    dgm_err err = {0};
    dgm_params *a = dgm_params_create(), *b = dgm_params_create();
    const size_t sw[2] = {40, 25}, sb[1] = {37};
    for (int k = 0; k < 2; k++) {
        dgm_params *p = k ? b : a;
        CHECK(dgm_params_add(p, "layer.weight", sw, 2) == 0);
        CHECK(dgm_params_add(p, "layer.bias", sb, 1) == 1);
        CHECK(dgm_params_alloc(p, &err) == DGM_OK);
    }
    size_t n = dgm_params_count(a), st = dgm__params_stride(a);
    CHECK(n == 1037 && st == 1040);
    dgm_rng r;
    dgm_rng_init(&r, 7);
    dgm_rng_fill_normal(&r, dgm_params_data(a), n);
    dgm_rng_fill_normal(&r, dgm_params_grad(a), n);
    memcpy(dgm_params_data(b), dgm_params_data(a), n * sizeof(float));
    memcpy(dgm_params_grad(b), dgm_params_grad(a), n * sizeof(float));
    dgm_optim_cfg c = dgm_optim_defaults(DGM_OPT_ADAM);
    c.clip_norm = 0.5; /* the norm is about sqrt(1037) */
    for (long t = 0; t < 2; t++)
        dgm_optim_step(&c, a, t);

    float *mem = dgm_malloc_array(4 * st, sizeof(float));
    DGM_ASSERT(mem);
    CHECK(dgm__params_place(b, mem, 1, &err) == DGM_OK);
    CHECK(dgm_params_data(b) == mem && dgm_params_grad(b) == mem + st &&
          dgm_params_m(b) == mem + 2 * st && dgm_params_v(b) == mem + 3 * st);
    const size_t cut = 512; /* two segments */
    for (long t = 0; t < 2; t++) {
        float *g = dgm_params_grad(b);
        float f = dgm__clip_factor(g, n, c.clip_norm);
        CHECK(t > 0 || f < 1.0f); /* the first step clips; the second sees the clipped */
        for (int k = 0; k < 2; k++) {
            size_t off = k ? cut : 0, cnt = k ? n - cut : cut;
            dgm_scale(g + off, f, cnt);
            dgm__optim_step_range(&c, b, t, off, cnt);
        }
    }
    CHECK(dgm__params_place(b, NULL, 0, &err) == DGM_OK);
    CHECK(dgm_params_data(b) != mem);
    free(mem); /* b no longer reads it: ASan would say so */
    CHECK(memcmp(dgm_params_data(a), dgm_params_data(b), n * sizeof(float)) == 0);
    CHECK(memcmp(dgm_params_m(a), dgm_params_m(b), n * sizeof(float)) == 0);
    CHECK(memcmp(dgm_params_v(a), dgm_params_v(b), n * sizeof(float)) == 0);
    CHECK(memcmp(dgm_params_grad(a), dgm_params_grad(b), n * sizeof(float)) == 0);
    dgm_params_free(a);
    dgm_params_free(b);
}

int main(void)
{
#if HAVE_FIXTURE
    TEST_RUN(test_flat_loops_vs_torch);
    TEST_RUN(test_optim_step_vs_torch);
    TEST_RUN(test_schedules_vs_torch);
#else
    TEST_SKIP(test_flat_loops_vs_torch, "tests/fixtures/optim_fixture.h missing "
              "(run /usr/bin/python3 tests/fixtures/make_optim_fixture.py)");
    TEST_SKIP(test_optim_step_vs_torch, "tests/fixtures/optim_fixture.h missing");
    TEST_SKIP(test_schedules_vs_torch, "tests/fixtures/optim_fixture.h missing");
#endif
    TEST_RUN(test_lr_formulas);
    TEST_RUN(test_defaults);
    TEST_RUN(test_clip_grad_norm);
    TEST_RUN(test_adam_first_step);
    TEST_RUN(test_sgd_first_step_buffer);
    TEST_RUN(test_large_threads);
    TEST_RUN(test_segments_of_a_placed_store);
    TEST_MAIN_END("test_optim");
}
