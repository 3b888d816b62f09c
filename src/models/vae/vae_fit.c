/* The VAE's and CVAE's hooks for the training driver (dgm_fit, src/train/minibatch.c):
 * the data checks, p(y) from the training labels for the Bayes-rule classifier, the
 * model-space batch (fresh Bernoulli draws for dynamic binarization, or fresh
 * dequantisation noise, one stream per example), the step (over micro-shards, vae_shard.c:
 * the same bits at any thread and rank count) and the validation -ELBO on held-out rows
 * prepared once. A rank prepares only the rows of its shards.
 * The data stay in their loaded form (8-bit images as bytes); only a batch exists as
 * floats. */
#include "models/vae/vae_shard.h"
#include "par/par.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    const dgm_dataset *ds;
    const dgm_fit_cfg *c;
    int conditional, bernoulli;
    size_t B, n_val;
    float *x, *val_x;           /* B x D; n_val x D */
    int32_t *y, *val_y;
    double *val_elbo;
    dgm__vae_pool *pool;
} vae_run;

/* Rows idx[0..b) into out; row i draws from stream first + i of rng. */
static void make_batch(float *out, const dgm_dataset *ds, const size_t *idx, size_t b,
                       const dgm_rng *rng, int bernoulli, size_t first)
{
    const dgm_prep how = bernoulli ? DGM_PREP_BINARIZE
                         : ds->is_8bit ? DGM_PREP_DEQUANTIZE : DGM_PREP_COPY;
    long bl = (long)b;
#pragma omp parallel for schedule(static)
    for (long il = 0; il < bl; il++) {
        dgm_rng r;
        dgm_rng_fork(&r, rng, (uint64_t)(first + (size_t)il));
        dgm_data_example(&r, out + (size_t)il * ds->d, ds, idx[il], how);
    }
}

static void run_free(void *p)
{
    vae_run *r = p;
    if (!r)
        return;
    dgm_free(r->x);
    dgm_free(r->y);
    dgm_free(r->val_x);
    dgm_free(r->val_y);
    dgm_free(r->val_elbo);
    dgm__vae_pool_free(r->pool);
    free(r);
}

static dgm_status vae_begin(void **state, dgm_model *m, const dgm_fit_data *d,
                            const dgm_fit_cfg *c, const dgm__fit_rows *rows, dgm_err *err)
{
    const dgm_dataset *ds = d->data;
    const dgm_vae_cfg *cfg = dgm_vae_config(m);
    int conditional = cfg->n_classes > 0;
    if (ds->kind != DGM_DATA_REAL)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: the image VAE needs numeric data", ds->source);
    dgm_status s = dgm__fit_check_labels(m, ds, "a cvae", err);
    if (s)
        return s;
    if (cfg->dim != ds->d)
        return dgm_errf(err, DGM_ERR_SHAPE, "%s: examples have %zu values but the model "
                        "expects %zu", ds->source, ds->d, cfg->dim);
    int bern = cfg->likelihood == DGM_LIK_BERNOULLI;
    size_t n = rows->n_train + rows->n_val;
    for (size_t i = 0; bern && ds->x && i < n * ds->d; i++) /* 8-bit levels are in [0, 1] */
        if (!(ds->x[i] >= 0.0f && ds->x[i] <= 1.0f))
            return dgm_errf(err, DGM_ERR_ARG, "%s: value %g of example %zu is outside [0, 1], "
                            "which a Bernoulli decoder needs (scale the data, or use --decoder "
                            "gaussian)", ds->source, (double)ds->x[i], i / ds->d);
    if (cfg->likelihood == DGM_LIK_LOGISTIC && !ds->is_8bit)
        return dgm_errf(err, DGM_ERR_ARG, "%s: the discretised logistic decoder models 8-bit "
                        "pixels, and these values are not levels k/255 (use --decoder gaussian "
                        "for other data)", ds->source);
    s = conditional && !rows->resumed ? dgm__fit_class_prior(m, ds, rows, err) : DGM_OK;
    if (s)
        return s;
    vae_run *r = calloc(1, sizeof *r);
    if (!r)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    r->ds = ds;
    r->c = c;
    r->conditional = conditional;
    r->bernoulli = bern;
    r->B = c->batch;
    r->n_val = rows->n_val;
    r->x = dgm_malloc_array(r->B, ds->d * sizeof(float));
    r->y = dgm_malloc_array(r->B, sizeof(int32_t));
    if (r->n_val) {
        r->val_x = dgm_malloc_array(r->n_val, ds->d * sizeof(float));
        r->val_y = dgm_malloc_array(r->n_val, sizeof(int32_t));
        r->val_elbo = dgm_malloc_array(r->n_val, sizeof(double));
    }
    if (!r->x || !r->y || (r->n_val && (!r->val_x || !r->val_y || !r->val_elbo))) {
        size_t B = r->B;
        run_free(r);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for batches of %zu", B);
    }
    size_t S = dgm__par_micro();
    dgm_vae_step obj = {c->objective, c->k, 1.0, c->free_bits};
    if ((s = dgm__par_check_shards(r->B, S, err)) ||
        (s = dgm__vae_pool_create(&r->pool, m, r->B, S, &obj, err))) {
        run_free(r);
        return s;
    }
    if (r->n_val) { /* the held-out rows, prepared once with the evaluation stream */
        dgm_rng vr;
        dgm_rng_init(&vr, DGM_EVAL_PREP_SEED);
        make_batch(r->val_x, ds, rows->val, r->n_val, &vr, bern, 0);
        if (ds->y)
            for (size_t i = 0; i < r->n_val; i++)
                r->val_y[i] = ds->y[rows->val[i]];
    }
    *state = r;
    return DGM_OK;
}

static dgm_status vae_fit_step(void *state, dgm_model *m, const size_t *idx, size_t b,
                               const dgm_rng *step_rng, const dgm_optim_cfg *opt,
                               double kl_weight, long t, dgm__fit_stats *st, dgm_err *err)
{
    vae_run *r = state;
    dgm_rng bin_r, eps_r;
    dgm_rng_fork(&bin_r, step_rng, 0);
    dgm_rng_fork(&eps_r, step_rng, 1);
    size_t r0, r1; /* this rank's rows; example i keeps stream i of the step */
    dgm__vae_pool_rows(r->pool, b, &r0, &r1);
    make_batch(r->x + r0 * r->ds->d, r->ds, idx + r0, r1 - r0, &bin_r, r->bernoulli, r0);
    if (r->conditional)
        for (size_t i = r0; i < r1; i++)
            r->y[i] = r->ds->y[idx[i]];
    dgm_vae_step obj = {r->c->objective, r->c->k, kl_weight, r->c->free_bits};
    dgm_vae_stats vs;
    dgm_status s = dgm__vae_pool_step(r->pool, m, &eps_r, r->x, r->conditional ? r->y : NULL,
                                      b, &obj, opt, t, &vs, err);
    st->loss = vs.loss;
    st->recon = vs.recon;
    st->kl = vs.kl;
    return s;
}

static dgm_status vae_validate(void *state, dgm_model *m, double *val, dgm_err *err)
{
    vae_run *r = state;
    *val = NAN;
    if (!r->n_val)
        return DGM_OK;
    dgm_rng vr;
    dgm_rng_init(&vr, DGM_EVAL_PREP_SEED + 1);
    dgm_status s = dgm_vae_elbo(m, &vr, r->val_elbo, NULL, NULL, r->val_x,
                                r->conditional ? r->val_y : NULL, r->n_val, err);
    if (s)
        return s;
    double sv = 0;
    for (size_t i = 0; i < r->n_val; i++)
        sv -= r->val_elbo[i];
    *val = sv / (double)r->n_val;
    return DGM_OK;
}

static void vae_sync(void *state, dgm_model *m)
{
    vae_run *r = state;
    dgm__vae_pool_sync(r->pool, m);
}

const dgm__fit_ops dgm__vae_fit_ops = {
    .kind = DGM__FIT_MINIBATCH, .begin = vae_begin, .step = vae_fit_step,
    .validate = vae_validate, .end = run_free, .sync = vae_sync, .mpi = 1};
