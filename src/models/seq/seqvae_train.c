/* Training of the sequence VAE: minibatches drawn with probability w_i / sum(w), as
 * DeepSequence's train.py does (np.random.choice with p = weights / Neff), the objective
 * mean over the batch of (-log p(x|z) + KL(q(z|x) || N(0, I))) plus the decoder's
 * regulariser (PLAIN: l2/(2 Neff) ||W||^2; BAYES: KL of the weights / Neff), and Adam.
 * The bag (first encoder layer) is updated lazily, like torch.optim.SparseAdam on an
 * EmbeddingBag(sparse=True): only rows of letters present in the batch move, which is
 * what a one-hot input makes cheap; every other tensor gets dense Adam. The gradient is
 * summed over micro-shards in a fixed tree (seqvae_shard.c) and every random draw is
 * taken from the step's streams whoever computes it (the batch, the decoder's weights,
 * the latent noise per row), so the weights are the same at any --threads and number
 * of MPI ranks.
 * Left out: KL warm-up and learning-rate schedules (DeepSequence uses neither). */
#include "models/seq/seqvae.h"
#include "distributions/gaussian.h"
#include "par/par.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double dgm__seqvae_data_term(dgm__seqvae *v, const uint8_t *x, size_t R, const float *eps,
                             size_t B)
{
    size_t Z = v->Z;
    const float *enc = dgm__seqvae_encode(v, x, R);
    double obj = 0;
    for (size_t b = 0; b < R; b++) {
        const float *mu = enc + b * 2 * Z, *lv = mu + Z;
        dgm__gauss_rsample(v->z + b * Z, mu, lv, eps + b * Z, Z);
        v->klz[b] = dgm__gauss_kl_std(mu, lv, Z);
    }
    dgm__seqvae_decode(v, v->z, R);
    float inv = 1.0f / (float)B;
    dgm__seqvae_loglik(v, v->ll, x, R, inv);
    memset(v->dz, 0, R * Z * sizeof(float));
    dgm__seqvae_decode_backward(v, v->dz, R);
    /* z = mu + e^(lv/2) eps: dmu = dz + mu/B, dlv = dz eps e^(lv/2) / 2 + (e^lv - 1) / 2B,
     * with e^lv taken as the square of e^(lv/2) */
    for (size_t b = 0; b < R; b++) {
        const float *mu = enc + b * 2 * Z, *lv = mu + Z;
        float *dmu = v->denc + b * 2 * Z, *dlv = dmu + Z;
        dgm__gauss_rsample_backward(dmu, dlv, v->dz + b * Z, lv, eps + b * Z, Z, 0);
        for (size_t j = 0; j < Z; j++) {
            float sd = expf(0.5f * lv[j]);
            dgm__gauss_kl_std_grad1(dmu + j, dlv + j, mu[j], sd * sd, inv);
        }
        obj += v->klz[b] - v->ll[b];
    }
    dgm__seqvae_encode_backward(v, v->denc, x, R);
    return obj;
}

double dgm__seqvae_objective(dgm__seqvae *v, const uint8_t *x, size_t B, const float *eps)
{
    if (v->cfg.variant == DGM_SEQVAE_BAYES)
        memset(dgm_params_grad(v->ps), 0, dgm_params_count(v->ps) * sizeof(float));
    double obj = dgm__seqvae_data_term(v, x, B, eps, B);
    return obj / (double)B + dgm__seqvae_regularise(v);
}

void dgm__seqvae_clear_grad(dgm__seqvae *v)
{
    size_t H = v->H1, off = v->D * H, total = dgm_params_count(v->p);
    float *g = dgm_params_grad(v->p);
    memset(g + off, 0, (total - off) * sizeof(float));
    for (size_t i = 0; i < v->n_rows; i++) {
        memset(g + v->rows[i] * H, 0, H * sizeof(float));
        v->touched[v->rows[i]] = 0;
    }
    v->n_rows = 0;
}

/* The batch's rows drawn with probability w_i / sum(w) (cum: the running sums) from
 * stream r, one stream for the batch, the same on every rank. */
static void draw_rows(dgm__seqvae *v, dgm_rng *r, const double *cum, size_t n,
                      const uint8_t *seq)
{
    size_t B = v->cfg.batch, L = v->L;
    for (size_t b = 0; b < B; b++) {
        double u = dgm_rng_uniform_d(r) * cum[n - 1];
        size_t lo = 0, hi = n - 1; /* first i with cum[i] > u */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (cum[mid] > u)
                hi = mid;
            else
                lo = mid + 1;
        }
        memcpy(v->xb + b * L, seq + lo * L, L);
    }
}

/* The latent noise: row b from stream b of rng, so that a row's draw does not depend on
 * which shard, thread or rank computes it. */
static void draw_noise(dgm__seqvae *v, const dgm_rng *rng)
{
    size_t Z = v->Z;
    long Bl = (long)v->cfg.batch;
    #pragma omp parallel for schedule(static)
    for (long b = 0; b < Bl; b++) {
        dgm_rng r;
        dgm_rng_fork(&r, rng, (uint64_t)b);
        dgm_rng_fill_normal(&r, v->eps + (size_t)b * Z, Z);
    }
}

/* Adam: dense over everything after the bag, lazily over the bag rows in the batch; then
 * the gradient is cleared for the next step. */
static void update(dgm__seqvae *v)
{
    float *w = dgm_params_data(v->p), *g = dgm_params_grad(v->p);
    float *m1 = dgm_params_m(v->p), *m2 = dgm_params_v(v->p);
    size_t H = v->H1, off = v->D * H, total = dgm_params_count(v->p);
    long t = ++v->step;
    float lr = (float)v->cfg.lr;
    dgm_adam_step(w + off, g + off, m1 + off, m2 + off, total - off, lr, 0.9f, 0.999f, 1e-8f,
                  0.0f, 0, t);
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < v->n_rows; i++) {
        size_t o = v->rows[i] * H;
        dgm_adam_step(w + o, g + o, m1 + o, m2 + o, H, lr, 0.9f, 0.999f, 1e-8f, 0.0f, 0, t);
    }
    dgm__seqvae_clear_grad(v);
}

/* One update (the gradient over micro-shards, seqvae_shard.c); *obj: the minibatch
 * objective. */
static dgm_status step(dgm__seqvae *v, const dgm_rng *rng_t, const double *cum, size_t n,
                       const uint8_t *seq, double *obj, dgm_err *err)
{
    dgm_rng r;
    dgm_rng_fork(&r, rng_t, 0);
    draw_rows(v, &r, cum, n, seq);
    if (v->cfg.variant == DGM_SEQVAE_BAYES) {
        dgm_rng_fork(&r, rng_t, 1);
        dgm__seqvae_draw(v, &r);
    }
    dgm_rng_fork(&r, rng_t, 2);
    draw_noise(v, &r);
    dgm_status s = dgm__seqvae_pool_grad(v->pool, v, v->xb, v->cfg.batch, v->eps, obj, err);
    if (s)
        return s;
    update(v);
    return DGM_OK;
}

dgm_status dgm__seqvae_prepare(dgm__seqvae *v, dgm_err *err)
{
    size_t B = v->cfg.batch, S = dgm__par_micro();
    dgm_status s = dgm__seqvae_reserve(v, B, err);
    if (!s && !dgm__seqvae_pool_fits(v->pool, B, S)) {
        dgm__seqvae_pool_free(v->pool);
        v->pool = NULL;
        if (!(s = dgm__par_check_shards(B, S, err)))
            s = dgm__seqvae_pool_create(&v->pool, v, B, S, err);
    }
    if (!s)
        v->micro = S; /* the file records the shard size, which decides its bits */
    return dgm__par_agree(s, err); /* every time: all ranks call it alike */
}

dgm_status dgm_seqvae_train(dgm_model *m, dgm_rng *rng, const uint8_t *seq, const double *w,
                            size_t n, long steps, double *loss, dgm_err *err)
{
    if (m->ops != &dgm__seqvae_ops)
        return dgm_errf(err, DGM_ERR_ARG, "seqvae_train: a %s model is not a seqvae",
                        dgm_model_type(m));
    dgm__seqvae *v = SEQVAE(m);
    if (n == 0)
        return dgm_errf(err, DGM_ERR_ARG, "seqvae_train: no sequences");
    for (size_t i = 0; i < n * v->L; i++)
        if (seq[i] > DGM_AA_GAP)
            return dgm_errf(err, DGM_ERR_ARG, "seqvae_train: sequence %zu has letter index %d",
                            i / v->L, seq[i]);
    double *cum = dgm_malloc_array(n, sizeof *cum), acc = 0;
    if (!cum)
        return dgm_errf(err, DGM_ERR_NOMEM, "seqvae_train: out of memory");
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        if (!(wi >= 0) || !isfinite(wi)) {
            free(cum);
            return dgm_errf(err, DGM_ERR_ARG, "seqvae_train: weight %zu is %g", i, wi);
        }
        cum[i] = acc += wi;
    }
    dgm_status s = acc > 0 ? dgm__seqvae_prepare(v, err)
                           : dgm_errf(err, DGM_ERR_ARG, "seqvae_train: all weights are 0");
    double sum = 0;
    for (long k = 0; !s && k < steps; k++) {
        dgm_rng rt;
        dgm_rng_fork(&rt, rng, (uint64_t)v->step);
        double o = NAN;
        if ((s = step(v, &rt, cum, n, seq, &o, err)))
            break;
        if (!isfinite(o))
            s = dgm_errf(err, DGM_ERR_NAN, "seqvae_train: the objective became %g at step %ld "
                         "(lower the learning rate)", o, v->step);
        sum += o;
    }
    free(cum);
    if (loss)
        *loss = steps > 0 ? sum / (double)steps : NAN;
    return s;
}
