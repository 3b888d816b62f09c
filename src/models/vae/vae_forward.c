/* The VAE's batched forward pass and the gradients of its two objectives
 * (docs/math.md, "VAE"): the ELBO with the analytic Gaussian KL, optionally with KL
 * warm-up and free bits (src/objectives/elbo.c), and the importance-weighted bound of
 * Burda et al. (2015), whose gradient weights each sample's gradient by its normalised
 * importance weight (src/objectives/iwae.c). The encoder's Gaussian and the decoder's
 * likelihoods are the kernels of src/distributions/. */
#include "models/vae/vae.h"
#include "distributions/bernoulli.h"
#include "distributions/gaussian.h"
#include "distributions/logistic.h"
#include "objectives/elbo.h"
#include "objectives/iwae.h"

#include <math.h>
#include <string.h>

double dgm__vae_row_loglik(const dgm__vae *v, const float *out, const float *x, float *g)
{
    size_t D = v->cfg.dim;
    if (v->cfg.likelihood == DGM_LIK_BERNOULLI)
        return dgm__bernoulli_logits_loglik(x, out, g, D);
    const float *lv = v->cfg.sigma_predicted ? out + D : dgm_params_tensor(v->p, v->dec_logvar);
    if (v->cfg.likelihood == DGM_LIK_LOGISTIC)
        return dgm__dlogistic_loglik(x, out, lv, g, g ? g + D : NULL, D);
    return dgm__gauss_logvar_loglik(x, out, lv, g, g ? g + D : NULL, D);
}

const float *dgm__vae_encode_z(dgm__vae *v, dgm_rng *rng, uint64_t first, const float *eps_in,
                               const float *x, const int32_t *y, size_t B, size_t K)
{
    const size_t D = v->cfg.dim, Z = v->cfg.latent, C = (size_t)v->cfg.n_classes;
    const float *ein = x;
    if (C) {
        memset(v->enc_x, 0, B * v->enc_in * sizeof(float));
        for (size_t i = 0; i < B; i++) {
            memcpy(v->enc_x + i * v->enc_in, x + i * D, D * sizeof(float));
            v->enc_x[i * v->enc_in + D + (size_t)y[i]] = 1.0f;
        }
        ein = v->enc_x;
    }
    const float *h = dgm_mlp_forward(v->enc, ein, B);

    long Bl = (long)B;
#pragma omp parallel for schedule(static)
    for (long il = 0; il < Bl; il++) {
        size_t i = (size_t)il;
        float *e = v->eps + i * K * Z;
        if (eps_in) {
            memcpy(e, eps_in + i * K * Z, K * Z * sizeof(float));
        } else {
            dgm_rng r;
            dgm_rng_fork(&r, rng, first + i);
            dgm_rng_fill_normal(&r, e, K * Z);
        }
        const float *mu = h + i * 2 * Z, *lv = mu + Z;
        for (size_t k = 0; k < K; k++) {
            float *zin = v->dec_x + (i * K + k) * v->dec_in;
            dgm__gauss_rsample(zin, mu, lv, e + k * Z, Z);
            if (C) {
                memset(zin + Z, 0, C * sizeof(float));
                zin[Z + (size_t)y[i]] = 1.0f;
            }
        }
    }

    return h;
}

const float *dgm__vae_forward(dgm__vae *v, dgm_rng *rng, uint64_t first, const float *eps_in,
                              const float *x, const int32_t *y, size_t B, size_t K,
                              int want_grad)
{
    const float *h = dgm__vae_encode_z(v, rng, first, eps_in, x, y, B, K);
    const size_t D = v->cfg.dim, rows = B * K;
    const float *out = dgm_mlp_forward(v->dec, v->dec_x, rows);
    long Rl = (long)rows;
#pragma omp parallel for schedule(static)
    for (long rl = 0; rl < Rl; rl++) {
        size_t r = (size_t)rl;
        v->ll[r] = dgm__vae_row_loglik(v, out + r * v->dec_out, x + (r / K) * D,
                              want_grad ? v->ddec + r * v->grad_w : NULL);
    }
    return h;
}

/* Backward from v->ddec (already scaled per row) through the decoder; returns
 * d(loss)/d(decoder input) rows in v->ddec_in. The learned per-dimension log-variance
 * (or log-scale) gets its gradient here as the column sums of the second half of ddec. */
static void decoder_backward(dgm__vae *v, size_t rows)
{
    const size_t D = v->cfg.dim;
    if (v->cfg.likelihood != DGM_LIK_BERNOULLI && !v->cfg.sigma_predicted) {
        float *g = dgm_params_tensor_grad(v->p, v->dec_logvar);
        for (size_t j = 0; j < D; j++) {
            double s = 0;
            for (size_t r = 0; r < rows; r++)
                s += v->ddec[r * v->grad_w + D + j];
            g[j] += (float)s;
        }
        /* the decoder's own output is D wide: pack the mean gradients contiguously */
        for (size_t r = 1; r < rows; r++)
            memmove(v->ddec + r * D, v->ddec + r * v->grad_w, D * sizeof(float));
    }
    memset(v->ddec_in, 0, rows * v->dec_in * sizeof(float));
    dgm_mlp_backward(v->dec, v->ddec_in, v->ddec, rows);
}

void dgm__vae_shard_grad(dgm__vae *v, dgm_rng *rng, uint64_t first, const float *eps,
                         const float *x, const int32_t *y, size_t B, double invB,
                         const dgm_vae_step *obj, const int *active_in, double *sums)
{
    const size_t Z = v->cfg.latent;
    const size_t K = obj->objective == DGM_OBJ_IWAE ? (size_t)(obj->k > 0 ? obj->k : 1) : 1;
    const size_t rows = B * K;
    const float *h = dgm__vae_forward(v, rng, first, eps, x, y, B, K, 1);
    double recon = 0, loss = 0, kl = 0;
    memset(sums, 0, DGM__VAE_SUMS(Z) * sizeof *sums);

    if (obj->objective == DGM_OBJ_ELBO) {
        /* Free bits: a latent dimension whose batch-mean KL is below the floor is charged
         * the floor instead, with no gradient (Kingma et al. 2016, eq. 15). The batch is
         * the whole minibatch: the mask comes from the caller when these rows are a shard. */
        int active[DGM__ELBO_MAX_Z];
        double *klbar = sums + 3;
        for (size_t i = 0; i < B; i++) {
            const float *mu = h + i * 2 * Z, *lv = mu + Z;
            for (size_t j = 0; j < Z; j++)
                klbar[j] += dgm__gauss_kl_std1(mu[j], lv[j]) * invB;
        }
        for (size_t j = 0; j < Z; j++)
            active[j] = active_in ? active_in[j] : !(obj->free_bits > 0 && klbar[j] < obj->free_bits);
        for (size_t i = 0; i < B; i++)
            recon -= v->ll[i] * invB;
        dgm_scale(v->ddec, (float)invB, rows * v->grad_w);
        decoder_backward(v, rows);
        dgm__elbo_encoder_backward(v->denc, h, v->ddec_in, v->dec_in, v->eps, active,
                                   (float)(obj->kl_weight * invB), B, Z);
    } else {
        for (size_t i = 0; i < B; i++) {
            double lw[K], lvsum = dgm__iwae_lvsum(h + i * 2 * Z + Z, Z);
            for (size_t k = 0; k < K; k++) {
                size_t r = i * K + k;
                lw[k] = dgm__iwae_log_weight(v->ll[r], v->dec_x + r * v->dec_in,
                                             v->eps + r * Z, lvsum, Z);
                recon -= v->ll[r] * invB / (double)K;
            }
            double lse = dgm_logsumexp_d(lw, K);
            loss -= (lse - log((double)K)) * invB;
            kl += dgm__gauss_kl_std(h + i * 2 * Z, h + i * 2 * Z + Z, Z) * invB;
            for (size_t k = 0; k < K; k++) {
                float wt = (float)(exp(lw[k] - lse) * invB);
                v->ll[i * K + k] = wt; /* keep the weight for the encoder gradient */
                dgm_scale(v->ddec + (i * K + k) * v->grad_w, wt, v->grad_w);
            }
        }
        decoder_backward(v, rows);
        float wt[K];
        for (size_t i = 0; i < B; i++) {
            for (size_t k = 0; k < K; k++)
                wt[k] = (float)v->ll[i * K + k];
            dgm__iwae_encoder_backward(v->denc + i * 2 * Z, v->denc + i * 2 * Z + Z,
                                       h + i * 2 * Z + Z, wt, v->ddec_in + i * K * v->dec_in,
                                       v->dec_x + i * K * v->dec_in, v->dec_in,
                                       v->eps + i * K * Z, invB, K, Z);
        }
    }
    dgm_mlp_backward(v->enc, NULL, v->denc, B);
    sums[0] = recon;
    sums[1] = loss;
    sums[2] = kl;
}

void dgm__vae_shard_klbar(dgm__vae *v, const float *x, const int32_t *y, size_t B, double invB,
                          double *sums)
{
    const size_t D = v->cfg.dim, Z = v->cfg.latent, C = (size_t)v->cfg.n_classes;
    const float *ein = x;
    if (C) {
        memset(v->enc_x, 0, B * v->enc_in * sizeof(float));
        for (size_t i = 0; i < B; i++) {
            memcpy(v->enc_x + i * v->enc_in, x + i * D, D * sizeof(float));
            v->enc_x[i * v->enc_in + D + (size_t)y[i]] = 1.0f;
        }
        ein = v->enc_x;
    }
    const float *h = dgm_mlp_forward(v->enc, ein, B);
    memset(sums, 0, DGM__VAE_SUMS(Z) * sizeof *sums);
    for (size_t i = 0; i < B; i++) {
        const float *mu = h + i * 2 * Z, *lv = mu + Z;
        for (size_t j = 0; j < Z; j++)
            sums[3 + j] += dgm__gauss_kl_std1(mu[j], lv[j]) * invB;
    }
}

void dgm__vae_totals(dgm_vae_stats *st, int *active, const double *sums, size_t Z,
                     const dgm_vae_step *obj)
{
    st->recon = sums[0];
    if (obj->objective != DGM_OBJ_ELBO) {
        st->loss = sums[1];
        st->kl = sums[2];
        return;
    }
    double k = 0, pen = 0;
    for (size_t j = 0; j < Z; j++) {
        int a = !(obj->free_bits > 0 && sums[3 + j] < obj->free_bits);
        if (active)
            active[j] = a;
        k += sums[3 + j];
        pen += a ? sums[3 + j] : obj->free_bits;
    }
    st->kl = k;
    st->loss = sums[0] + obj->kl_weight * pen;
}

dgm_status dgm_vae_loss_grad(dgm_model *m, dgm_rng *rng, const float *eps, const float *x,
                             const int32_t *y, size_t B, const dgm_vae_step *obj,
                             dgm_vae_stats *stats, dgm_err *err)
{
    dgm__vae *v = VAE(m);
    const size_t Z = v->cfg.latent;
    const size_t K = obj->objective == DGM_OBJ_IWAE ? (size_t)(obj->k > 0 ? obj->k : 1) : 1;
    dgm_status s = dgm__vae_reserve(v, B, B * K, err);
    if (s)
        return s;
    double sums[DGM__VAE_SUMS(DGM__ELBO_MAX_Z)];
    dgm__vae_shard_grad(v, rng, 0, eps, x, y, B, 1.0 / (double)B, obj, NULL, sums);
    dgm_vae_stats st;
    dgm__vae_totals(&st, NULL, sums, Z, obj);
    if (stats)
        *stats = st;
    if (!isfinite(st.loss))
        return dgm_errf(err, DGM_ERR_NAN, "the loss is not finite (%g)", st.loss);
    return DGM_OK;
}

dgm_status dgm_vae_train_step(dgm_model *m, dgm_rng *rng, const float *x, const int32_t *y,
                              size_t B, const dgm_vae_step *obj, const dgm_optim_cfg *opt,
                              long t, dgm_vae_stats *stats, dgm_err *err)
{
    dgm__vae *v = VAE(m);
    dgm_params_zero_grad(v->p);
    dgm_status s = dgm_vae_loss_grad(m, rng, NULL, x, y, B, obj, stats, err);
    if (s)
        return s;
    if (!dgm_all_finite(dgm_params_grad(v->p), dgm_params_count(v->p)))
        return dgm_errf(err, DGM_ERR_NAN, "a gradient is not finite at step %ld", t);
    dgm_optim_step(opt, v->p, t);
    return DGM_OK;
}
