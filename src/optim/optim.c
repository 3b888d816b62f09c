/* Optimizers as flat loops over the parameter buffer (llm.c's gpt2_update), with the same
 * updates as torch.optim.SGD, Adam and AdamW (docs/math.md, "Optimizers"), global
 * gradient-norm clipping (torch.nn.utils.clip_grad_norm_) and learning-rate schedules. */
#include "dgm_blocks.h"
#include "optim/optim.h"

#include <math.h>
#include <omp.h>

dgm_optim_cfg dgm_optim_defaults(dgm_opt_kind kind)
{
    dgm_optim_cfg c = {0};
    c.kind = kind;
    c.lr = kind == DGM_OPT_SGD ? 0.01f : 1e-3f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.weight_decay = kind == DGM_OPT_ADAMW ? 0.01f : 0.0f;
    c.sched = DGM_SCHED_CONSTANT;
    c.gamma = 0.1f;
    return c;
}

float dgm_optim_lr_at(const dgm_optim_cfg *c, long t)
{
    double lr = c->lr;
    switch (c->sched) {
    case DGM_SCHED_CONSTANT:
        break;
    case DGM_SCHED_STEP:
        if (c->step_size > 0)
            lr *= pow(c->gamma, (double)(t / c->step_size));
        break;
    case DGM_SCHED_COSINE:
        if (c->total_steps > 0) {
            double f = (double)(t < c->total_steps ? t : c->total_steps) / c->total_steps;
            lr = c->min_lr + (c->lr - c->min_lr) * 0.5 * (1.0 + cos(M_PI * f));
        }
        break;
    }
    if (c->warmup_steps > 0 && t + 1 < c->warmup_steps)
        lr *= (double)(t + 1) / c->warmup_steps;
    return (float)lr;
}

static float factor_of(double norm, double max_norm)
{
    /* torch adds 1e-6 to the norm in the denominator; do the same so results match */
    return max_norm > 0 && norm > max_norm ? (float)(max_norm / (norm + 1e-6)) : 1.0f;
}

float dgm__clip_factor(const float *g, size_t n, double max_norm)
{
    return factor_of(sqrt(dgm_sumsq(g, n)), max_norm);
}

double dgm_clip_grad_norm(float *g, size_t n, double max_norm)
{
    double norm = sqrt(dgm_sumsq(g, n));
    float f = factor_of(norm, max_norm);
    if (f != 1.0f)
        dgm_scale(g, f, n);
    return norm;
}

void dgm_sgd_step(float *w, const float *g, float *m, size_t n, float lr, float momentum,
                  int nesterov, float weight_decay, long t)
{
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + weight_decay * w[i];
        if (momentum != 0.0f) {
            /* torch: the first step initialises the buffer with the gradient itself */
            m[i] = t <= 1 ? d : momentum * m[i] + d;
            d = nesterov ? d + momentum * m[i] : m[i];
        }
        w[i] -= lr * d;
    }
}

typedef struct {
    float beta1, beta2, step, inv_sqrt_bc2, eps, wd_l2, shrink;
} adam_coef;

/* One contiguous slice. The kernel is its own function with restrict pointers: written
 * inline under `omp parallel for simd`, GCC 12 vectorised the outlined loop but ran it
 * about ten times slower (2.2 ns per parameter against 0.19 here, one thread). */
static void adam_slice(float *restrict w, const float *restrict g, float *restrict m,
                       float *restrict v, size_t n, const adam_coef *c)
{
    const float b1 = c->beta1, b2 = c->beta2, step = c->step, isb = c->inv_sqrt_bc2;
    const float eps = c->eps, wd = c->wd_l2, shrink = c->shrink;
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i] * shrink - step * mi / (sqrtf(vi) * isb + eps);
    }
}

void dgm_adam_step(float *w, const float *g, float *m, float *v, size_t n, float lr,
                   float beta1, float beta2, float eps, float weight_decay, int decoupled,
                   long t)
{
    double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
    adam_coef c = {beta1, beta2, (float)(lr / bc1), (float)(1.0 / sqrt(bc2)), eps,
                   decoupled ? 0.0f : weight_decay,
                   decoupled ? 1.0f - lr * weight_decay : 1.0f};
    if (n <= 262144) {
        adam_slice(w, g, m, v, n, &c);
        return;
    }
#pragma omp parallel
    {
        /* static slices rounded to 16 floats, so each starts on a cache line */
        size_t nt = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
        size_t per = ((n + nt - 1) / nt + 15) & ~(size_t)15;
        size_t a = id * per < n ? id * per : n, b = a + per < n ? a + per : n;
        adam_slice(w + a, g + a, m + a, v + a, b - a, &c);
    }
}

float dgm__optim_step_range(const dgm_optim_cfg *c, dgm_params *p, long t, size_t off,
                            size_t cnt)
{
    float lr = dgm_optim_lr_at(c, t);
    float *w = dgm_params_data(p) + off, *g = dgm_params_grad(p) + off;
    switch (c->kind) {
    case DGM_OPT_SGD:
        dgm_sgd_step(w, g, dgm_params_m(p) + off, cnt, lr, c->momentum, c->nesterov,
                     c->weight_decay, t + 1);
        break;
    case DGM_OPT_ADAM:
    case DGM_OPT_ADAMW:
        dgm_adam_step(w, g, dgm_params_m(p) + off, dgm_params_v(p) + off, cnt, lr, c->beta1,
                      c->beta2, c->eps, c->weight_decay, c->kind == DGM_OPT_ADAMW, t + 1);
        break;
    }
    return lr;
}

float dgm_optim_step(const dgm_optim_cfg *c, dgm_params *p, long t)
{
    size_t n = dgm_params_count(p);
    if (c->clip_norm > 0)
        dgm_clip_grad_norm(dgm_params_grad(p), n, c->clip_norm);
    return dgm__optim_step_range(c, p, t, 0, n);
}
