/* VAE inference: the importance-sampled log-likelihood (Burda et al. 2015, eq. 8 with
 * K samples from q(z|x): log p(x) ~ logsumexp_k log w_k - log K, a lower bound in
 * expectation that tightens as K grows), the ELBO with the analytic KL, encoding,
 * decoding and ancestral sampling. Work is chunked so that at most DGM_VAE_MAX_ROWS
 * decoder rows exist at once; noise is forked per example so results do not depend on
 * chunking; the log-likelihood and the ELBO run their fixed chunks on one thread each,
 * so they do not depend on the thread count either. With precision bf16 (dgm_vae_set_precision) the decoder's
 * products in the log-likelihood, sampling and decoding run on bf16 inputs with float32
 * sums (src/tensor/gemm_bf16.c, docs/math.md "bf16 evaluation"); the encoder, the noise
 * and the likelihood stay float32. */
#include "core/assert.h"
#include "models/vae/vae.h"
#include "distributions/gaussian.h"
#include "distributions/logistic.h"
#include "objectives/iwae.h"
#include "core/fastmath.h"
#include "core/par.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Decoder means from decoder outputs, in place-safe form (out may alias nothing). Rows
 * are split over the threads: a pass over B x D values that was otherwise one thread's
 * while the other waited. */
static void output_means(const dgm__vae *v, float *means, const float *out, size_t rows)
{
    size_t D = v->cfg.dim;
    long rl = (long)rows;
#pragma omp parallel for schedule(static) if (rows * D > DGM__PAR_MIN_MEANS)
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
        } else if (v->cfg.likelihood == DGM_LIK_LOGISTIC) {
            /* the logistic's location, in the data's range [0, 1] */
            for (size_t j = 0; j < D; j++)
                mrow[j] = o[j] < 0.0f ? 0.0f : o[j] > 1.0f ? 1.0f : o[j];
        } else
            memcpy(mrow, o, D * sizeof(float));
    }
}

// ---------------------------------------------------------------------- bf16 decoder ---

/* The decoder in bf16 for one inference call. Its weights are rounded once per call (the
 * reference model's 330k values, next to the 2000 x 1000 decoder rows of an evaluation),
 * not kept in the model, so that training, which moves the weights, never meets a stale
 * copy. Layer i reads its input from in16 (bf16) and writes its output to h (float32);
 * bias, activation and rounding for the next layer are one pass over each row while it
 * is in cache. */
typedef struct bf16_dec {
    int          L;
    size_t       dims[10];
    uint16_t    *W[9];        /* layer i: dims[i+1] x dims[i] */
    const float *b[9];        /* layer i: dims[i+1] */
    uint16_t    *in16;        /* rows x max dims[0..L-1] */
    float       *h;           /* rows x max dims[1..L] */
} bf16_dec;

static void bf16_dec_free(bf16_dec *d)
{
    for (int i = 0; i < d->L; i++)
        dgm_free(d->W[i]);
    dgm_free(d->in16);
    dgm_free(d->h);
    memset(d, 0, sizeof *d);
}

/* Prepares d for passes of up to rows decoder rows; d->L == 0 means float32 (nothing to do). */
static dgm_status bf16_dec_init(bf16_dec *d, dgm__vae *v, size_t rows, dgm_err *err)
{
    memset(d, 0, sizeof *d);
    if (v->prec != DGM_PREC_BF16)
        return DGM_OK;
    const int L = v->cfg.n_hidden + 1;
    size_t max_in = 0, max_out = 0;
    for (int i = 0; i < L; i++) {
        char name[64];
        size_t shape[4];
        snprintf(name, sizeof name, "decoder.%d.weight", 2 * i);
        int wi = dgm_params_find(v->p, name);
        snprintf(name, sizeof name, "decoder.%d.bias", 2 * i);
        int bi = dgm_params_find(v->p, name);
        DGM_ASSERT(wi >= 0 && bi >= 0 && dgm_params_shape(v->p, wi, shape) == 2);
        d->dims[i] = shape[1];
        d->dims[i + 1] = shape[0];
        d->L = i + 1;
        d->W[i] = dgm_malloc_array(shape[0], shape[1] * sizeof(uint16_t));
        if (!d->W[i])
            goto nomem;
        dgm_f32_to_bf16(d->W[i], dgm_params_tensor(v->p, wi), shape[0] * shape[1]);
        d->b[i] = dgm_params_tensor(v->p, bi);
        if (shape[1] > max_in) max_in = shape[1];
        if (shape[0] > max_out) max_out = shape[0];
    }
    d->in16 = dgm_malloc_array(rows, max_in * sizeof(uint16_t));
    d->h = dgm_malloc_array(rows, max_out * sizeof(float));
    if (d->in16 && d->h)
        return DGM_OK;
nomem:
    bf16_dec_free(d);
    return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for the bf16 decoder (%zu rows)", rows);
}

/* Decoder on rows inputs x (rows x dims[0]); *out = rows x dims[L]. */
static dgm_status bf16_dec_forward(bf16_dec *d, const float **out, const float *x, size_t rows,
                                   dgm_act act, dgm_err *err)
{
    dgm_f32_to_bf16(d->in16, x, rows * d->dims[0]);
    for (int i = 0; i < d->L; i++) {
        const size_t I = d->dims[i], O = d->dims[i + 1];
        dgm_status s = dgm_gemm_bf16_raw(DGM_NOTRANS, DGM_TRANS, rows, O, I, 1.0f, d->in16, I,
                                         d->W[i], I, 0.0f, d->h, O, err);
        if (s)
            return s;
        /* bias, and for a hidden layer its activation and rounding for the next product,
         * in one pass over each row */
        const float *b = d->b[i];
        const int last = i == d->L - 1;
        long rl = (long)rows;
#pragma omp parallel for schedule(static)
        for (long r = 0; r < rl; r++) {
            float *hr = d->h + (size_t)r * O;
#pragma omp simd
            for (size_t j = 0; j < O; j++)
                hr[j] += b[j];
            if (!last) {
                dgm_act_forward(act, hr, hr, O);
                dgm_f32_to_bf16_rows(d->in16 + (size_t)r * O, O, hr, O, 1, O);
            }
        }
    }
    *out = d->h;
    return DGM_OK;
}

/* dgm__vae_forward's inference half (eps_in given, no gradient) with the decoder in bf16:
 * the same encoder, latents and log p(x|z) per row into v->ll. */
static dgm_status forward_bf16(dgm__vae *v, bf16_dec *d, const float **h_out,
                               const float *eps_in, const float *x, const int32_t *y,
                               size_t B, size_t K, dgm_err *err)
{
    const size_t D = v->cfg.dim, rows = B * K;
    const float *h = dgm__vae_encode_z(v, NULL, 0, eps_in, x, y, B, K);
    const float *out;
    dgm_status s = bf16_dec_forward(d, &out, v->dec_x, rows, v->cfg.act, err);
    if (s)
        return s;
    long Rl = (long)rows;
#pragma omp parallel for schedule(static)
    for (long rl = 0; rl < Rl; rl++) {
        size_t r = (size_t)rl;
        v->ll[r] = dgm__vae_row_loglik(v, out + r * v->dec_out, x + (r / K) * D, NULL);
    }
    *h_out = h;
    return DGM_OK;
}

dgm_status dgm_vae_set_precision(dgm_model *m, dgm_precision p, dgm_err *err)
{
    if (!dgm_model_is_vae(m))
        return dgm_errf(err, DGM_ERR_ARG, "precision applies to VAE models only");
    if (p != DGM_PREC_FP32 && p != DGM_PREC_BF16)
        return dgm_errf(err, DGM_ERR_ARG, "unknown precision %d", (int)p);
    dgm_status s = p == DGM_PREC_BF16 ? dgm_bf16_require(err) : DGM_OK;
    if (s)
        return s;
    VAE(m)->prec = p;
    return DGM_OK;
}

// ------------------------------------------------------------------------- inference ---

// ------------------------------------------------------- fixed chunks, one thread each ---

/* The importance-sampled log-likelihood and the ELBO run over chunks of examples whose
 * boundaries depend on n and K alone, each chunk on one worker (the model's layout over
 * the model's own values, with scratch of its own, as training's micro-shards in
 * vae_shard.c) on one thread: the nested parallel loops and the matrix products inside a
 * chunk run on that thread, so an example's value has the same bits at any --threads
 * (a product split over threads may sum in another order). */
#define CHUNK_ROWS 1024 /* decoder rows of one chunk */

typedef struct {
    size_t W;
    dgm_model **w;
    bf16_dec *d; /* each worker's bf16 decoder (L == 0: float32) */
} team;

static void team_free(team *t)
{
    for (size_t i = 0; t->w && i < t->W; i++) {
        if (t->d)
            bf16_dec_free(&t->d[i]);
        dgm_model_free(t->w[i]);
    }
    free(t->w);
    free(t->d);
    memset(t, 0, sizeof *t);
}

/* min(threads, chunks) workers for chunks of up to B examples and rows decoder rows; with
 * bf16, each with a bf16 decoder when the model's precision is bf16. */
static dgm_status team_create(team *t, dgm__vae *v, size_t chunks, size_t B, size_t rows,
                              int bf16, dgm_err *err)
{
    size_t W = (size_t)omp_get_max_threads();
    W = W < chunks ? W : chunks;
    t->W = W ? W : 1;
    t->w = calloc(t->W, sizeof *t->w);
    t->d = calloc(t->W, sizeof *t->d);
    dgm_status s = t->w && t->d ? DGM_OK : dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !s && i < t->W; i++) {
        if ((s = dgm__vae_worker(&t->w[i], v, B, rows, err)))
            break;
        dgm__vae *wv = VAE(t->w[i]);
        wv->prec = bf16 ? v->prec : DGM_PREC_FP32;
        s = bf16_dec_init(&t->d[i], wv, rows, err);
    }
    if (s)
        team_free(t);
    return s;
}

/* Runs fn(worker, its bf16 decoder, chunk index, ctx, its error) for every chunk, the
 * workers taking chunks in turn; after a failure the remaining chunks are skipped and the
 * first failure reported is returned. */
typedef dgm_status (*chunk_fn)(dgm__vae *w, bf16_dec *d, size_t c, void *ctx, dgm_err *err);
static dgm_status team_run(team *t, size_t chunks, chunk_fn fn, void *ctx, dgm_err *err)
{
    dgm_status first = DGM_OK;
    int failed = 0;
    long nc = (long)chunks;
#pragma omp parallel num_threads((int)t->W)
    {
        int me = omp_get_thread_num();
        omp_set_num_threads(1); /* nested regions and products inside a chunk: one thread */
        dgm_err e = {0};
#pragma omp for schedule(dynamic, 1)
        for (long c = 0; c < nc; c++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (stop)
                continue;
            dgm_status s = fn(VAE(t->w[me]), &t->d[me], (size_t)c, ctx, &e);
            if (s) {
#pragma omp critical
                if (!first) {
                    first = s;
#pragma omp atomic write
                    failed = 1;
                    if (err)
                        *err = e;
                }
            }
        }
    }
    return first;
}

struct lp_ctx {
    dgm_rng *rng;
    double *out;
    const float *x;
    const int32_t *y;
    size_t n, nb, K, kb;
};

/* log p(x) of the examples [c nb, c nb + nb) of one chunk, K samples in passes of kb */
static dgm_status lp_chunk(dgm__vae *v, bf16_dec *d, size_t c, void *ctx, dgm_err *err)
{
    const struct lp_ctx *q = ctx;
    const size_t Z = v->cfg.latent, D = v->cfg.dim, K = q->K, i0 = c * q->nb;
    const size_t b = q->n - i0 < q->nb ? q->n - i0 : q->nb;
    const int32_t *y = q->y ? q->y + i0 : NULL;
    double *acc_m = malloc(2 * b * sizeof(double));
    dgm_rng *streams = malloc(b * sizeof *streams);
    float *eps = dgm_malloc_array(b * q->kb, Z * sizeof(float));
    if (!acc_m || !streams || !eps) {
        free(acc_m);
        free(streams);
        dgm_free(eps);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    }
    double *acc_s = acc_m + b;
    dgm_status s = DGM_OK;
    for (size_t i = 0; i < b; i++) {
        /* one stream per example, so the draws do not depend on the chunks */
        dgm_rng_fork(&streams[i], q->rng, i0 + i);
        acc_m[i] = -INFINITY;
        acc_s[i] = 0;
    }
    for (size_t k0 = 0; k0 < K && !s; k0 += q->kb) {
        size_t kk = K - k0 < q->kb ? K - k0 : q->kb;
        for (size_t i = 0; i < b; i++)
            dgm_rng_fill_normal(&streams[i], eps + i * kk * Z, kk * Z);
        const float *h;
        if (d->L) {
            if ((s = forward_bf16(v, d, &h, eps, q->x + i0 * D, y, b, kk, err)))
                break;
        } else {
            h = dgm__vae_forward(v, NULL, 0, eps, q->x + i0 * D, y, b, kk, 0);
        }
        for (size_t i = 0; i < b; i++) {
            double lvsum = dgm__iwae_lvsum(h + i * 2 * Z + Z, Z);
            /* running log-sum-exp over sample blocks */
            for (size_t t = 0; t < kk; t++) {
                size_t r = i * kk + t;
                dgm__lse_push(&acc_m[i], &acc_s[i],
                              dgm__iwae_log_weight(v->ll[r], v->dec_x + r * v->dec_in,
                                                   v->eps + r * Z, lvsum, Z));
            }
        }
    }
    for (size_t i = 0; !s && i < b; i++)
        q->out[i0 + i] = acc_m[i] + log(acc_s[i]) - log((double)K);
    free(acc_m);
    free(streams);
    dgm_free(eps);
    return s;
}

dgm_status dgm__vae_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                             const int32_t *y, size_t n, int k, dgm_err *err)
{
    dgm__vae *v = VAE(m);
    if (k < 1)
        return dgm_errf(err, DGM_ERR_ARG, "the number of importance samples must be >= 1 (got %d)", k);
    if (n == 0)
        return DGM_OK;
    size_t K = (size_t)k;
    /* examples per chunk, and samples per pass for each of them */
    struct lp_ctx q = {rng, out, x, y, n, K >= CHUNK_ROWS ? 1 : CHUNK_ROWS / K, K,
                       K < CHUNK_ROWS ? K : CHUNK_ROWS};
    size_t chunks = (n + q.nb - 1) / q.nb, B = n < q.nb ? n : q.nb;
    team t;
    dgm_status s = team_create(&t, v, chunks, B, B * q.kb, 1, err);
    if (!s)
        s = team_run(&t, chunks, lp_chunk, &q, err);
    team_free(&t);
    return s;
}

static dgm_status elbo_rows(dgm_model *m, dgm_rng *rng, const float *eps, double *elbo,
                            double *recon, double *kl, const float *x, const int32_t *y,
                            size_t n, dgm_err *err);

dgm_status dgm_vae_elbo(dgm_model *m, dgm_rng *rng, double *elbo, double *recon, double *kl,
                        const float *x, const int32_t *y, size_t n, dgm_err *err)
{
    return elbo_rows(m, rng, NULL, elbo, recon, kl, x, y, n, err);
}

dgm_status dgm_vae_elbo_noise(dgm_model *m, const float *eps, double *elbo, double *recon,
                              double *kl, const float *x, const int32_t *y, size_t n,
                              dgm_err *err)
{
    if (!eps)
        return dgm_errf(err, DGM_ERR_ARG, "dgm_vae_elbo_noise: no noise given");
    return elbo_rows(m, NULL, eps, elbo, recon, kl, x, y, n, err);
}

struct elbo_ctx {
    dgm_rng *rng;
    const float *eps, *x;
    const int32_t *y;
    double *elbo, *recon, *kl;
    size_t n;
};

static dgm_status elbo_chunk(dgm__vae *v, bf16_dec *d, size_t c, void *ctx, dgm_err *err)
{
    (void)d, (void)err;
    const struct elbo_ctx *q = ctx;
    const size_t Z = v->cfg.latent, D = v->cfg.dim, i0 = c * CHUNK_ROWS;
    const size_t b = q->n - i0 < CHUNK_ROWS ? q->n - i0 : CHUNK_ROWS;
    const float *h = dgm__vae_forward(v, q->rng, i0, q->eps ? q->eps + i0 * Z : NULL,
                                      q->x + i0 * D, q->y ? q->y + i0 : NULL, b, 1, 0);
    for (size_t i = 0; i < b; i++) {
        double k = dgm__gauss_kl_std(h + i * 2 * Z, h + i * 2 * Z + Z, Z);
        if (q->recon) q->recon[i0 + i] = -v->ll[i];
        if (q->kl) q->kl[i0 + i] = k;
        if (q->elbo) q->elbo[i0 + i] = v->ll[i] - k;
    }
    return DGM_OK;
}

/* With eps (n x Z), the one sample of example i is mu + sigma * eps[i]; else it is drawn
 * from fork(rng, i). The decoder stays float32 (bf16 is for log p(x)). */
static dgm_status elbo_rows(dgm_model *m, dgm_rng *rng, const float *eps, double *elbo,
                            double *recon, double *kl, const float *x, const int32_t *y,
                            size_t n, dgm_err *err)
{
    dgm__vae *v = VAE(m);
    if (n == 0)
        return DGM_OK;
    struct elbo_ctx q = {rng, eps, x, y, elbo, recon, kl, n};
    size_t chunks = (n + CHUNK_ROWS - 1) / CHUNK_ROWS, B = n < CHUNK_ROWS ? n : CHUNK_ROWS;
    team t;
    dgm_status s = team_create(&t, v, chunks, B, B, 0, err); /* the ELBO stays float32 */
    if (!s)
        s = team_run(&t, chunks, elbo_chunk, &q, err);
    team_free(&t);
    return s;
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

/* Decodes b <= DGM_VAE_MAX_ROWS codes: means into out (b x D); *raw = the decoder output
 * (b x dec_out), valid until the next decoder pass. In bf16 when d->L > 0. */
static dgm_status decode_chunk(dgm__vae *v, bf16_dec *d, const float **raw, float *out,
                               const float *z, const int32_t *y, size_t b, dgm_err *err)
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
    const float *o;
    if (d->L) {
        dgm_status s = bf16_dec_forward(d, &o, v->dec_x, b, v->cfg.act, err);
        if (s)
            return s;
    } else {
        o = dgm_mlp_forward(v->dec, v->dec_x, b);
    }
    output_means(v, out, o, b);
    if (raw)
        *raw = o;
    return DGM_OK;
}

dgm_status dgm_vae_decode(dgm_model *m, float *out, const float *z, const int32_t *y, size_t n,
                          dgm_err *err)
{
    dgm__vae *v = VAE(m);
    const size_t Z = v->cfg.latent, D = v->cfg.dim, nb = DGM_VAE_MAX_ROWS;
    bf16_dec d;
    dgm_status s = dgm__vae_reserve(v, 1, n < nb ? n : nb, err);
    if (s || (s = bf16_dec_init(&d, v, n < nb ? n : nb, err)))
        return s;
    for (size_t i0 = 0; i0 < n && !s; i0 += nb) {
        size_t b = n - i0 < nb ? n - i0 : nb;
        s = decode_chunk(v, &d, NULL, out + i0 * D, z + i0 * Z, y ? y + i0 : NULL, b, err);
    }
    bf16_dec_free(&d);
    return s;
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
    bf16_dec d;
    if ((s = bf16_dec_init(&d, v, n < nb ? n : nb, err))) {
        free(z);
        return s;
    }
    const int bern = v->cfg.likelihood == DGM_LIK_BERNOULLI;
    for (size_t i0 = 0; i0 < n; i0 += nb) {
        size_t b = n - i0 < nb ? n - i0 : nb;
        long bl = (long)b;
        /* sample i uses stream i: its latent first, then its observation noise */
        dgm_rng *st = malloc(b * sizeof(dgm_rng));
        if (!st) {
            s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
            break;
        }
#pragma omp parallel for schedule(static)
        for (long il = 0; il < bl; il++) {
            dgm_rng_fork(&st[il], rng, i0 + (size_t)il);
            dgm_rng_fill_normal(&st[il], z + (size_t)il * Z, Z);
        }
        const float *o;
        if ((s = decode_chunk(v, &d, &o, out + i0 * D, z, y ? y + i0 : NULL, b, err))) {
            free(st);
            break;
        }
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
                    if (v->cfg.likelihood == DGM_LIK_LOGISTIC) {
                        /* from the location itself, not the clamped mean in row */
                        const float *loc = o + (size_t)il * v->dec_out;
                        for (size_t j = 0; j < D; j++) {
                            double u = dgm_rng_uniform_d(r), u2 = dgm_rng_uniform_d(r);
                            row[j] = dgm__dlogistic_draw(loc[j], lv[j], u, u2);
                        }
                    } else
                        for (size_t j = 0; j < D; j++)
                            row[j] += expf(0.5f * lv[j]) * (float)dgm_rng_normal(r);
                }
            }
        }
        free(st);
    }
    bf16_dec_free(&d);
    free(z);
    return s;
}
