/* The VAE's batched forward pass and the gradients of its two objectives
 * (docs/math.md, "VAE"): the ELBO with the analytic Gaussian KL, optionally with KL
 * warm-up and free bits, and the importance-weighted bound of Burda et al. (2015),
 * whose gradient weights each sample's gradient by its normalised importance weight.
 * Reparameterisation: z = mu + exp(logvar / 2) eps, eps ~ N(0, I). */
#include "models/vae/vae.h"
#include "core/fastmath.h"

#include <math.h>
#include <string.h>

#define LOG_2PI 1.8378770664093453

double dgm__vae_kl_row(const float *h, size_t Z)
{
    const float *mu = h, *lv = h + Z;
    double kl = 0;
    for (size_t j = 0; j < Z; j++)
        kl += 0.5 * ((double)mu[j] * mu[j] + exp(lv[j]) - 1.0 - lv[j]);
    return kl;
}

/* log p(x|out) for one row, and (if g) d(-log p)/d(out) into g. */
double dgm__vae_row_loglik(const dgm__vae *v, const float *out, const float *x, float *g)
{
    size_t D = v->cfg.dim;
    double ll = 0;
    if (v->cfg.likelihood == DGM_LIK_BERNOULLI) {
        /* log p = x l - softplus(l); softplus(l) = max(l, 0) + log1p(e^-|l|) and
         * sigmoid(l) share the one exponential. The SIMD kernels of fastmath.h keep this
         * loop vectorized: it runs once per pixel per importance sample. */
        if (g) {
#pragma omp simd reduction(+ : ll)
            for (size_t j = 0; j < D; j++) {
                float l = out[j], t = dgm__exp_neg(-fabsf(l));
                float sp = (l > 0 ? l : 0.0f) + dgm__log1p_unit(t);
                ll += (double)(x[j] * l - sp);
                float inv = 1.0f / (1.0f + t);
                g[j] = (l >= 0 ? inv : t * inv) - x[j];
            }
        } else {
#pragma omp simd reduction(+ : ll)
            for (size_t j = 0; j < D; j++) {
                float l = out[j];
                ll += (double)(x[j] * l - dgm__softplus(l));
            }
        }
    } else {
        const float *lv = v->cfg.sigma_predicted ? out + D
                                                 : dgm_params_tensor(v->p, v->dec_logvar);
        for (size_t j = 0; j < D; j++) {
            float d = x[j] - out[j], iv = expf(-lv[j]);
            ll += -0.5 * (LOG_2PI + lv[j] + (double)d * d * iv);
            if (g) {
                g[j] = -d * iv;
                g[D + j] = 0.5f * (1.0f - d * d * iv);
            }
        }
    }
    return ll;
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
            for (size_t j = 0; j < Z; j++)
                zin[j] = mu[j] + expf(0.5f * lv[j]) * e[k * Z + j];
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
 * gets its gradient here as the column sums of the second half of ddec. */
static void decoder_backward(dgm__vae *v, size_t rows)
{
    const size_t D = v->cfg.dim;
    if (v->cfg.likelihood == DGM_LIK_GAUSSIAN && !v->cfg.sigma_predicted) {
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

dgm_status dgm_vae_loss_grad(dgm_model *m, dgm_rng *rng, const float *eps, const float *x,
                             const int32_t *y, size_t B, const dgm_vae_step *obj,
                             dgm_vae_stats *stats, dgm_err *err)
{
    dgm__vae *v = VAE(m);
    const size_t Z = v->cfg.latent;
    const size_t K = obj->objective == DGM_OBJ_IWAE ? (size_t)(obj->k > 0 ? obj->k : 1) : 1;
    const size_t rows = B * K;
    dgm_status s = dgm__vae_reserve(v, B, rows, err);
    if (s)
        return s;
    const float *h = dgm__vae_forward(v, rng, 0, eps, x, y, B, K, 1);
    const double invB = 1.0 / (double)B;
    double loss = 0, recon = 0, kl = 0;

    if (obj->objective == DGM_OBJ_ELBO) {
        /* Free bits: a latent dimension whose batch-mean KL is below the floor is charged
         * the floor instead, with no gradient (Kingma et al. 2016, eq. 15). */
        double klbar[256];
        int active[256];
        DGM_ASSERT(Z <= 256);
        for (size_t j = 0; j < Z; j++)
            klbar[j] = 0;
        for (size_t i = 0; i < B; i++) {
            const float *mu = h + i * 2 * Z, *lv = mu + Z;
            for (size_t j = 0; j < Z; j++)
                klbar[j] += 0.5 * ((double)mu[j] * mu[j] + exp(lv[j]) - 1.0 - lv[j]) * invB;
        }
        double klpen = 0;
        for (size_t j = 0; j < Z; j++) {
            active[j] = !(obj->free_bits > 0 && klbar[j] < obj->free_bits);
            kl += klbar[j];
            klpen += active[j] ? klbar[j] : obj->free_bits;
        }
        for (size_t i = 0; i < B; i++)
            recon -= v->ll[i] * invB;
        loss = recon + obj->kl_weight * klpen;
        dgm_scale(v->ddec, (float)invB, rows * v->grad_w);
        decoder_backward(v, rows);
        const float beta = (float)(obj->kl_weight * invB);
        for (size_t i = 0; i < B; i++) {
            const float *mu = h + i * 2 * Z, *lv = mu + Z, *e = v->eps + i * Z;
            const float *dz = v->ddec_in + i * v->dec_in;
            float *dmu = v->denc + i * 2 * Z, *dlv = dmu + Z;
            for (size_t j = 0; j < Z; j++) {
                float sd = expf(0.5f * lv[j]);
                dmu[j] = dz[j] + (active[j] ? beta * mu[j] : 0.0f);
                dlv[j] = dz[j] * e[j] * 0.5f * sd +
                         (active[j] ? beta * 0.5f * (expf(lv[j]) - 1.0f) : 0.0f);
            }
        }
    } else {
        /* log w = log p(x|z) + log p(z) - log q(z|x); with z = mu + sd eps the Gaussian
         * constants cancel and log q = -0.5 sum(lv + eps^2). */
        for (size_t i = 0; i < B; i++) {
            const float *lv = h + i * 2 * Z + Z;
            double lw[K], lvsum = 0, mx = -INFINITY;
            for (size_t j = 0; j < Z; j++)
                lvsum += lv[j];
            for (size_t k = 0; k < K; k++) {
                size_t r = i * K + k;
                const float *z = v->dec_x + r * v->dec_in, *e = v->eps + r * Z;
                double zz = 0, ee = 0;
                for (size_t j = 0; j < Z; j++) {
                    zz += (double)z[j] * z[j];
                    ee += (double)e[j] * e[j];
                }
                lw[k] = v->ll[r] - 0.5 * zz + 0.5 * lvsum + 0.5 * ee;
                if (lw[k] > mx)
                    mx = lw[k];
                recon -= v->ll[r] * invB / (double)K;
            }
            double se = 0;
            for (size_t k = 0; k < K; k++)
                se += exp(lw[k] - mx);
            double lse = mx + log(se);
            loss -= (lse - log((double)K)) * invB;
            kl += dgm__vae_kl_row(h + i * 2 * Z, Z) * invB;
            for (size_t k = 0; k < K; k++) {
                float wt = (float)(exp(lw[k] - lse) * invB);
                v->ll[i * K + k] = wt; /* keep the weight for the encoder gradient */
                dgm_scale(v->ddec + (i * K + k) * v->grad_w, wt, v->grad_w);
            }
        }
        decoder_backward(v, rows);
        for (size_t i = 0; i < B; i++) {
            const float *lv = h + i * 2 * Z + Z;
            float *dmu = v->denc + i * 2 * Z, *dlv = dmu + Z;
            for (size_t j = 0; j < Z; j++)
                dmu[j] = 0, dlv[j] = (float)(-0.5 * invB);
            for (size_t k = 0; k < K; k++) {
                size_t r = i * K + k;
                float wt = (float)v->ll[r];
                const float *z = v->dec_x + r * v->dec_in, *e = v->eps + r * Z;
                const float *dz = v->ddec_in + r * v->dec_in;
                for (size_t j = 0; j < Z; j++) {
                    float G = dz[j] + wt * z[j];
                    dmu[j] += G;
                    dlv[j] += G * e[j] * 0.5f * expf(0.5f * lv[j]);
                }
            }
        }
    }
    dgm_mlp_backward(v->enc, NULL, v->denc, B);
    if (stats) {
        stats->loss = loss;
        stats->recon = recon;
        stats->kl = kl;
    }
    if (!isfinite(loss))
        return dgm_errf(err, DGM_ERR_NAN, "the loss is not finite (%g)", loss);
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
