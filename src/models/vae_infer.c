/* VAE inference: the importance-sampled log-likelihood (Burda et al. 2015, eq. 8 with
 * K samples from q(z|x): log p(x) ~ logsumexp_k log w_k - log K, a lower bound in
 * expectation that tightens as K grows), the ELBO with the analytic KL, encoding,
 * decoding and ancestral sampling. Work is chunked so that at most DGM_VAE_MAX_ROWS
 * decoder rows exist at once; noise is forked per example so results do not depend on
 * chunking or thread count. */
#include "models/vae.h"
#include "tensor/fastmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Decoder means from decoder outputs, in place-safe form (out may alias nothing). Rows
 * are split over the threads: a pass over B x D values that was otherwise one thread's
 * while the other waited. */
static void output_means(const dgm__vae *v, float *means, const float *out, size_t rows)
{
    size_t D = v->cfg.dim;
    long rl = (long)rows;
#pragma omp parallel for schedule(static) if (rows * D > 50000)
    for (long ri = 0; ri < rl; ri++) {
        size_t r = (size_t)ri;
        const float *o = out + r * v->dec_out;
        float *mrow = means + r * D;
        if (v->cfg.likelihood == DGM_LIK_BERNOULLI) {
            /* sigmoid through the vectorizable exp of fastmath.h */
#pragma omp simd
            for (size_t j = 0; j < D; j++) {
                float t = dgm__exp_neg(-fabsf(o[j])), inv = 1.0f / (1.0f + t);
                mrow[j] = o[j] >= 0 ? inv : t * inv;
            }
        } else
            memcpy(mrow, o, D * sizeof(float));
    }
}

dgm_status dgm__vae_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                             const int32_t *y, size_t n, int k, dgm_err *err)
{
    dgm__vae *v = VAE(m);
    const size_t Z = v->cfg.latent, D = v->cfg.dim;
    if (k < 1)
        return dgm_errf(err, DGM_ERR_ARG, "the number of importance samples must be >= 1 (got %d)", k);
    size_t K = (size_t)k;
    /* images per chunk, and samples per pass for each of them */
    size_t nb = K >= DGM_VAE_MAX_ROWS ? 1 : DGM_VAE_MAX_ROWS / K;
    size_t kb = K < DGM_VAE_MAX_ROWS ? K : DGM_VAE_MAX_ROWS;
    dgm_status s = dgm__vae_reserve(v, nb, nb * kb, err);
    if (s)
        return s;
    double *acc_m = malloc(nb * sizeof(double)), *acc_s = malloc(nb * sizeof(double));
    float *eps = malloc(nb * kb * Z * sizeof(float));
    dgm_rng *streams = malloc(nb * sizeof(dgm_rng));
    if (!acc_m || !acc_s || !eps || !streams) {
        free(acc_m); free(acc_s); free(eps); free(streams);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    }
    for (size_t i0 = 0; i0 < n; i0 += nb) {
        size_t b = n - i0 < nb ? n - i0 : nb;
        for (size_t i = 0; i < b; i++) {
            dgm_rng_fork(&streams[i], rng, i0 + i);
            acc_m[i] = -INFINITY;
            acc_s[i] = 0;
        }
        for (size_t k0 = 0; k0 < K; k0 += kb) {
            size_t kk = K - k0 < kb ? K - k0 : kb;
            long bl = (long)b;
            /* one stream per image, so the draws are the same however the threads share
             * them; drawn by one thread they were ~6% of the CPU time at K = 1000 (perf),
             * with the other thread waiting */
#pragma omp parallel for schedule(static)
            for (long il = 0; il < bl; il++)
                dgm_rng_fill_normal(&streams[il], eps + (size_t)il * kk * Z, kk * Z);
            const float *h = dgm__vae_forward(v, rng, 0, eps, x + i0 * D, y ? y + i0 : NULL, b,
                                              kk, 0);
#pragma omp parallel for schedule(static)
            for (long il = 0; il < bl; il++) {
                size_t i = (size_t)il;
                const float *lv = h + i * 2 * Z + Z;
                double lvsum = 0;
                for (size_t j = 0; j < Z; j++)
                    lvsum += lv[j];
                /* running log-sum-exp over sample blocks */
                for (size_t q = 0; q < kk; q++) {
                    size_t r = i * kk + q;
                    const float *z = v->dec_x + r * v->dec_in, *e = v->eps + r * Z;
                    double zz = 0, ee = 0;
                    for (size_t j = 0; j < Z; j++) {
                        zz += (double)z[j] * z[j];
                        ee += (double)e[j] * e[j];
                    }
                    double lw = v->ll[r] - 0.5 * zz + 0.5 * lvsum + 0.5 * ee;
                    if (lw > acc_m[i]) {
                        acc_s[i] = acc_s[i] * exp(acc_m[i] - lw) + 1.0;
                        acc_m[i] = lw;
                    } else {
                        acc_s[i] += exp(lw - acc_m[i]);
                    }
                }
            }
        }
        for (size_t i = 0; i < b; i++)
            out[i0 + i] = acc_m[i] + log(acc_s[i]) - log((double)K);
    }
    free(acc_m); free(acc_s); free(eps); free(streams);
    return DGM_OK;
}

dgm_status dgm_vae_elbo(dgm_model *m, dgm_rng *rng, double *elbo, double *recon, double *kl,
                        const float *x, const int32_t *y, size_t n, dgm_err *err)
{
    dgm__vae *v = VAE(m);
    const size_t Z = v->cfg.latent, D = v->cfg.dim, nb = DGM_VAE_MAX_ROWS;
    dgm_status s = dgm__vae_reserve(v, n < nb ? n : nb, n < nb ? n : nb, err);
    if (s)
        return s;
    for (size_t i0 = 0; i0 < n; i0 += nb) {
        size_t b = n - i0 < nb ? n - i0 : nb;
        const float *h = dgm__vae_forward(v, rng, i0, NULL, x + i0 * D, y ? y + i0 : NULL, b, 1, 0);
        for (size_t i = 0; i < b; i++) {
            double k = dgm__vae_kl_row(h + i * 2 * Z, Z);
            if (recon) recon[i0 + i] = -v->ll[i];
            if (kl) kl[i0 + i] = k;
            if (elbo) elbo[i0 + i] = v->ll[i] - k;
        }
    }
    return DGM_OK;
}

dgm_status dgm_vae_encode(dgm_model *m, float *mu, float *logvar, const float *x,
                          const int32_t *y, size_t n, dgm_err *err)
{
    dgm__vae *v = VAE(m);
    const size_t Z = v->cfg.latent, D = v->cfg.dim, C = (size_t)v->cfg.n_classes;
    const size_t nb = DGM_VAE_MAX_ROWS;
    dgm_status s = dgm__vae_reserve(v, n < nb ? n : nb, 1, err);
    if (s)
        return s;
    for (size_t i0 = 0; i0 < n; i0 += nb) {
        size_t b = n - i0 < nb ? n - i0 : nb;
        const float *in = x + i0 * D;
        if (C) {
            memset(v->enc_x, 0, b * v->enc_in * sizeof(float));
            for (size_t i = 0; i < b; i++) {
                memcpy(v->enc_x + i * v->enc_in, x + (i0 + i) * D, D * sizeof(float));
                v->enc_x[i * v->enc_in + D + (size_t)y[i0 + i]] = 1.0f;
            }
            in = v->enc_x;
        }
        const float *h = dgm_mlp_forward(v->enc, in, b);
        for (size_t i = 0; i < b; i++) {
            if (mu) memcpy(mu + (i0 + i) * Z, h + i * 2 * Z, Z * sizeof(float));
            if (logvar) memcpy(logvar + (i0 + i) * Z, h + i * 2 * Z + Z, Z * sizeof(float));
        }
    }
    return DGM_OK;
}

/* Decodes b <= DGM_VAE_MAX_ROWS codes: means into out (b x D); returns the raw decoder
 * output (b x dec_out), valid until the next decoder pass. */
static const float *decode_chunk(dgm__vae *v, float *out, const float *z, const int32_t *y,
                                 size_t b)
{
    const size_t Z = v->cfg.latent, C = (size_t)v->cfg.n_classes;
    for (size_t i = 0; i < b; i++) {
        float *row = v->dec_x + i * v->dec_in;
        memcpy(row, z + i * Z, Z * sizeof(float));
        if (C) {
            memset(row + Z, 0, C * sizeof(float));
            row[Z + (size_t)y[i]] = 1.0f;
        }
    }
    const float *o = dgm_mlp_forward(v->dec, v->dec_x, b);
    output_means(v, out, o, b);
    return o;
}

dgm_status dgm_vae_decode(dgm_model *m, float *out, const float *z, const int32_t *y, size_t n,
                          dgm_err *err)
{
    dgm__vae *v = VAE(m);
    const size_t Z = v->cfg.latent, D = v->cfg.dim, nb = DGM_VAE_MAX_ROWS;
    dgm_status s = dgm__vae_reserve(v, 1, n < nb ? n : nb, err);
    if (s)
        return s;
    for (size_t i0 = 0; i0 < n; i0 += nb) {
        size_t b = n - i0 < nb ? n - i0 : nb;
        decode_chunk(v, out + i0 * D, z + i0 * Z, y ? y + i0 : NULL, b);
    }
    return DGM_OK;
}

dgm_status dgm__vae_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y, size_t n,
                           int mean, dgm_err *err)
{
    dgm__vae *v = VAE(m);
    const size_t Z = v->cfg.latent, D = v->cfg.dim, nb = DGM_VAE_MAX_ROWS;
    dgm_status s = dgm__vae_reserve(v, 1, n < nb ? n : nb, err);
    if (s)
        return s;
    float *z = dgm_malloc_array(n < nb ? n : nb, Z * sizeof(float));
    if (!z)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    const int bern = v->cfg.likelihood == DGM_LIK_BERNOULLI;
    for (size_t i0 = 0; i0 < n; i0 += nb) {
        size_t b = n - i0 < nb ? n - i0 : nb;
        long bl = (long)b;
        /* sample i uses stream i: its latent first, then its observation noise */
        dgm_rng *st = malloc(b * sizeof(dgm_rng));
        if (!st) {
            free(z);
            return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
        }
#pragma omp parallel for schedule(static)
        for (long il = 0; il < bl; il++) {
            dgm_rng_fork(&st[il], rng, i0 + (size_t)il);
            dgm_rng_fill_normal(&st[il], z + (size_t)il * Z, Z);
        }
        const float *o = decode_chunk(v, out + i0 * D, z, y ? y + i0 : NULL, b);
        if (!mean) {
            const float *lv_learned = !bern && !v->cfg.sigma_predicted
                                          ? dgm_params_tensor(v->p, v->dec_logvar) : NULL;
#pragma omp parallel for schedule(static)
            for (long il = 0; il < bl; il++) {
                float *row = out + (i0 + (size_t)il) * D;
                dgm_rng *r = &st[il];
                if (bern) {
                    dgm_data_binarize(r, row, row, D); /* bulk uniforms, u < p */
                } else {
                    const float *lv = lv_learned ? lv_learned : o + (size_t)il * v->dec_out + D;
                    for (size_t j = 0; j < D; j++)
                        row[j] += expf(0.5f * lv[j]) * (float)dgm_rng_normal(r);
                }
            }
        }
        free(st);
    }
    free(z);
    return DGM_OK;
}
