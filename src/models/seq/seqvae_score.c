/* Scoring with the sequence VAE: mutation effects as DeepSequence computes them
 * (model.py / helper.py get_pattern_activations and delta_elbo: the ELBO of each mutant
 * minus the wild type's, averaged over many draws of z and, for the Bayesian decoder, of the
 * decoder weights), an importance-sampled log p(x) for the generic interface (Burda et al.,
 * "Importance weighted autoencoders", 2016, eq. 8), and sampling.
 * In the effects each draw is shared by a mutant and the wild type (common random
 * numbers): the average of the paired differences has the same mean as DeepSequence's
 * difference of averages, and a much smaller standard error because both ELBOs move
 * together with the draw. The encoder is deterministic, so it runs once per sequence.
 * Left out: the Bayesian decoder's weight uncertainty in log_prob and sample, which use
 * the posterior means (a draw per example would make log_prob a bound of another model). */
#include "models/seq/seqvae.h"
#include "distributions/gaussian.h"
#include "objectives/iwae.h"
#include "par/par.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 512 /* rows per decoder pass when scoring */

/* Encodes rows [0, N) of x into mu and lv (N x Z each). */
static void encode_all(dgm__seqvae *v, float *mu, float *lv, const uint8_t *x, size_t N)
{
    size_t Z = v->Z;
    for (size_t a = 0; a < N; a += ROWS) {
        size_t R = a + ROWS < N ? ROWS : N - a;
        const float *o = dgm__seqvae_encode(v, x + a * v->L, R);
        for (size_t r = 0; r < R; r++) {
            memcpy(mu + (a + r) * Z, o + r * 2 * Z, Z * sizeof(float));
            memcpy(lv + (a + r) * Z, o + r * 2 * Z + Z, Z * sizeof(float));
        }
    }
}

/* The output weights of the current draw (BAYES: tau already applied in decode_bf16) in
 * bf16, once per draw: D x Hl values against ROWS x Hl x D products per pass. */
static void weights_bf16(dgm__seqvae *v)
{
    const float *W = v->cfg.variant == DGM_SEQVAE_PLAIN ? dgm_params_tensor(v->p, v->i_out_w)
                                                         : v->weff;
    dgm_f32_to_bf16(v->w16, W, v->D * v->Hl);
}

/* dgm__seqvae_decode with the output product in bf16 (float32 sums) on v->z (R rows). */
static dgm_status decode_bf16(dgm__seqvae *v, size_t R, dgm_err *err)
{
    const float *h = dgm_mlp_forward(v->dec, v->z, R);
    size_t D = v->D, Hl = v->Hl;
    dgm_f32_to_bf16(v->h16, h, R * Hl);
    int plain = v->cfg.variant == DGM_SEQVAE_PLAIN;
    float alpha = plain ? 1.0f : v->tau;
    dgm_status s = dgm_gemm_bf16_raw(DGM_NOTRANS, DGM_TRANS, R, D, Hl, alpha, v->h16, Hl, v->w16,
                                     Hl, 0.0f, v->logits, D, err);
    if (s)
        return s;
    const float *b = plain ? dgm_params_tensor(v->p, v->i_out_b)
                           : dgm_params_tensor(v->ps, v->i_out_b);
    long Rl = (long)R;
    #pragma omp parallel for schedule(static)
    for (long r = 0; r < Rl; r++)
        dgm_axpy(v->logits + (size_t)r * D, alpha, b, D);
    return DGM_OK;
}

dgm_status dgm_seqvae_set_precision(dgm_model *m, dgm_precision p, dgm_err *err)
{
    if (m->ops != &dgm__seqvae_ops)
        return dgm_errf(err, DGM_ERR_ARG, "precision: a %s model is not a seqvae",
                        dgm_model_type(m));
    if (p != DGM_PREC_FP32 && p != DGM_PREC_BF16)
        return dgm_errf(err, DGM_ERR_ARG, "unknown precision %d", (int)p);
    dgm__seqvae *v = SEQVAE(m);
    if (p == DGM_PREC_BF16) {
        dgm_status s = dgm_bf16_require(err);
        if (s)
            return s;
        if (!v->w16)
            v->w16 = dgm_malloc_array(v->D, v->Hl * sizeof(uint16_t));
        if (!v->h16)
            v->h16 = dgm_malloc_array(ROWS, v->Hl * sizeof(uint16_t));
        if (!v->w16 || !v->h16)
            return dgm_errf(err, DGM_ERR_NOMEM, "precision: out of memory");
    }
    v->prec = p;
    return DGM_OK;
}

dgm_status dgm__seqvae_effects(dgm_model *m, dgm_rng *rng, double *delta, double *se,
                               const uint8_t *seqs, size_t n, int samples,
                               dgm_progress_fn progress, void *ctx, dgm_err *err)
{
    dgm__seqvae *v = SEQVAE(m);
    if (samples < 1)
        return dgm_errf(err, DGM_ERR_ARG, "mutation effects: samples must be >= 1 (got %d)",
                        samples);
    size_t N = n + 1, L = v->L, Z = v->Z;
    uint8_t *x = dgm_malloc_array(N, L);
    float *mu = dgm_malloc_array(N, Z * sizeof(float)), *lv = dgm_malloc_array(N, Z * sizeof(float));
    double *kl = dgm_malloc_array(N, sizeof(double)), *elbo = dgm_malloc_array(N, sizeof(double));
    double *mean = dgm_calloc_array(N, sizeof(double)), *m2 = dgm_calloc_array(N, sizeof(double));
    dgm_status s = dgm__seqvae_reserve(v, ROWS, err);
    if (!s && (!x || !mu || !lv || !kl || !elbo || !mean || !m2))
        s = dgm_errf(err, DGM_ERR_NOMEM, "mutation effects: out of memory for %zu sequences", N);
    if (!s) {
        memcpy(x, v->si.wt, L);
        memcpy(x + L, seqs, n * L);
        encode_all(v, mu, lv, x, N);
        for (size_t i = 0; i < N; i++)
            kl[i] = dgm__gauss_kl_std(mu + i * Z, lv + i * Z, Z);
    }
    float eps[1024];
    if (!s && Z > 1024)
        s = dgm_errf(err, DGM_ERR_ARG, "mutation effects: latent size above 1024");
    /* Under mpirun each rank decodes its blocks of ROWS rows [c0, c1) of the N (the blocks
     * of one process, so each row gets the bits it gets there) and block 0 as well, for
     * the wild type's ELBO (row 0) that every difference needs; the draws are the same on
     * every rank. Its rows [r0, r1) of the averages then go to every rank. */
    size_t c0, c1, r0, r1;
    dgm__shard_mine(&c0, &c1, dgm__shard_count(N, ROWS));
    dgm__par_rows_mine(&r0, &r1, N, ROWS);
    for (int t = 0; !s && t < samples; t++) {
        dgm_rng rs, r;
        dgm_rng_fork(&rs, rng, (uint64_t)t);
        if (v->cfg.variant == DGM_SEQVAE_BAYES) {
            dgm_rng_fork(&r, &rs, 0);
            dgm__seqvae_draw(v, &r);
        }
        if (v->prec == DGM_PREC_BF16)
            weights_bf16(v);
        dgm_rng_fork(&r, &rs, 1);
        dgm_rng_fill_normal(&r, eps, Z);
        for (size_t c = 0; c < c1; c++) {
            if (c0 == c1 || (c > 0 && c < c0))
                continue; /* no block of this rank's, or another rank's block */
            size_t a = c * ROWS, R = a + ROWS < N ? ROWS : N - a;
            for (size_t r2 = 0; r2 < R; r2++)
                dgm__gauss_rsample(v->z + r2 * Z, mu + (a + r2) * Z, lv + (a + r2) * Z, eps, Z);
            if (v->prec == DGM_PREC_BF16) {
                if ((s = decode_bf16(v, R, err)))
                    break;
            } else {
                dgm__seqvae_decode(v, v->z, R);
            }
            dgm__seqvae_loglik(v, v->ll, x + a * L, R, 0.0f);
            for (size_t r2 = 0; r2 < R; r2++)
                elbo[a + r2] = v->ll[r2] - kl[a + r2];
        }
        /* Welford on the paired differences */
        for (size_t i = r0 > 1 ? r0 : 1; i < r1; i++) {
            double d = elbo[i] - elbo[0], dm = d - mean[i];
            mean[i] += dm / (double)(t + 1);
            m2[i] += dm * (d - mean[i]);
        }
        if (progress && !s)
            progress(ctx, (size_t)t + 1, (size_t)samples);
    }
    if (!(s = dgm__par_agree(s, err))) {
        dgm__par_share_rows(mean, N, ROWS, sizeof *mean);
        dgm__par_share_rows(m2, N, ROWS, sizeof *m2);
    }
    if (!s)
        for (size_t i = 0; i < n; i++) {
            delta[i] = mean[i + 1];
            se[i] = samples > 1 ? sqrt(m2[i + 1] / (double)(samples - 1) / (double)samples) : NAN;
        }
    free(x);
    free(mu);
    free(lv);
    free(kl);
    free(elbo);
    free(mean);
    free(m2);
    return s;
}

dgm_status dgm__seqvae_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *xf,
                                const int32_t *y, size_t n, int k, dgm_err *err)
{
    (void)y;
    dgm__seqvae *v = SEQVAE(m);
    size_t L = v->L, Z = v->Z;
    if (k < 1)
        k = 1;
    size_t C = ROWS / (size_t)k ? ROWS / (size_t)k : 1; /* sequences per pass */
    dgm_status s = dgm__seqvae_reserve(v, C * (size_t)k, err);
    uint8_t *x = dgm_malloc_array(C * (size_t)k, L);
    float *mu = dgm_malloc_array(C, Z * sizeof(float)), *lv = dgm_malloc_array(C, Z * sizeof(float));
    double *lw = dgm_malloc_array(C * (size_t)k, sizeof(double));
    if (!s && (!x || !mu || !lv || !lw))
        s = dgm_errf(err, DGM_ERR_NOMEM, "seqvae log_prob: out of memory");
    if (!s && v->cfg.variant == DGM_SEQVAE_BAYES)
        dgm__seqvae_draw(v, NULL);
    for (size_t a = 0; !s && a < n; a += C) {
        size_t R = a + C < n ? C : n - a, RK = R * (size_t)k;
        dgm_seq_from_onehot(x, xf + a * v->D, R, L);
        encode_all(v, mu, lv, x, R);
        for (size_t i = 0; i < R; i++) {
            dgm_rng r;
            dgm_rng_fork(&r, rng, a + i);
            dgm_rng_fill_normal(&r, v->eps + i * (size_t)k * Z, (size_t)k * Z);
        }
        /* rows i*k + j: example i, importance sample j */
        for (size_t i = R; i-- > 0;) /* backwards, so no row is overwritten before it is copied */
            for (int j = k; j-- > 0;)
                memmove(x + (i * (size_t)k + (size_t)j) * L, x + i * L, L);
        for (size_t q = 0; q < RK; q++) {
            size_t i = q / (size_t)k;
            dgm__gauss_rsample(v->z + q * Z, mu + i * Z, lv + i * Z, v->eps + q * Z, Z);
        }
        dgm__seqvae_decode(v, v->z, RK);
        dgm__seqvae_loglik(v, v->ll, x, RK, 0.0f);
        for (size_t i = 0; i < R; i++) {
            double lvsum = dgm__iwae_lvsum(lv + i * Z, Z);
            for (size_t j = 0; j < (size_t)k; j++) {
                size_t q = i * (size_t)k + j;
                lw[q] = dgm__iwae_log_weight(v->ll[q], v->z + q * Z, v->eps + q * Z, lvsum, Z);
            }
            out[a + i] = dgm__iwae_bound(lw + i * (size_t)k, (size_t)k);
        }
    }
    free(x);
    free(mu);
    free(lv);
    free(lw);
    return s;
}

dgm_status dgm__seqvae_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y,
                              size_t n, int mean, dgm_err *err)
{
    (void)y;
    dgm__seqvae *v = SEQVAE(m);
    size_t D = v->D, Z = v->Z, L = v->L;
    dgm_status s = dgm__seqvae_reserve(v, ROWS, err);
    if (s)
        return s;
    if (v->cfg.variant == DGM_SEQVAE_BAYES)
        dgm__seqvae_draw(v, NULL);
    for (size_t a = 0; a < n; a += ROWS) {
        size_t R = a + ROWS < n ? ROWS : n - a;
        for (size_t i = 0; i < R; i++) {
            dgm_rng ri, r;
            dgm_rng_fork(&ri, rng, a + i);
            dgm_rng_fork(&r, &ri, 0);
            dgm_rng_fill_normal(&r, v->z + i * Z, Z);
        }
        dgm__seqvae_decode(v, v->z, R);
        for (size_t i = 0; i < R; i++) {
            dgm_rng ri, r;
            dgm_rng_fork(&ri, rng, a + i);
            dgm_rng_fork(&r, &ri, 1); /* the letters: a stream apart from the z draw */
            float *o = out + (a + i) * D;
            const float *lg = v->logits + i * D;
            for (size_t l = 0; l < L; l++) {
                if (mean) {
                    dgm_softmax_rows(o + l * DGM_AA_N, lg + l * DGM_AA_N, 1, DGM_AA_N);
                    continue;
                }
                memset(o + l * DGM_AA_N, 0, DGM_AA_N * sizeof(float));
                o[l * DGM_AA_N + dgm_rng_categorical_logits(&r, lg + l * DGM_AA_N, DGM_AA_N)] = 1.0f;
            }
        }
    }
    return DGM_OK;
}
