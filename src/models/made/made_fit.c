/* MADE's hooks for the training driver (dgm_fit's minibatch runs, src/train/minibatch.c):
 * the data checks, the batch (binary data binarized afresh with one stream per example, as
 * the image VAE does; sequences as their letters and one-hot rows, with the data set's
 * per-example weights), the step (mask t mod n_masks, the mean weighted negative
 * log-likelihood, its gradient, the NaN guard, the optimizer) and the validation figure,
 * the exact -log p(x) of the ensemble on held-out rows prepared once. A class-conditional
 * MADE takes the rows' labels along and its class prior from the training rows. The step's gradient
 * is summed over micro-shards (optim/sharded.h), so it has the same bits at any rank count. */
#include "models/made/made.h"
#include "optim/sharded.h"
#include "par/par.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const dgm_dataset *ds;
    size_t B, n_val;
    double wscale;          /* 1 / the mean training weight (1 without weights) */
    float *x, *dscale;      /* B x Din; B */
    float *val_x;           /* n_val x Din */
    int32_t *val_y;         /* n_val labels (class-conditional models) */
    double *val_ll;
    dgm__sharded sh;
    dgm__made *p;           /* the run's model, for shard_rows */
} made_run;

static void run_free(void *q)
{
    made_run *r = q;
    if (!r)
        return;
    dgm_free(r->x);
    dgm_free(r->dscale);
    dgm_free(r->val_x);
    dgm_free(r->val_y);
    dgm_free(r->val_ll);
    dgm__sharded_free(&r->sh);
    free(r);
}

/* Rows idx[0..b) in the model's form: binarized from rng (example i from fork(rng, i)) or
 * one-hot letters, which also go to letters when it is not NULL. */
static void make_batch(float *x, uint8_t *letters, const dgm_dataset *ds, const size_t *idx,
                       size_t b, const dgm_rng *rng)
{
    if (ds->kind == DGM_DATA_SEQ) {
        for (size_t i = 0; i < b; i++) {
            const uint8_t *s = ds->seq + idx[i] * ds->d;
            dgm_seq_onehot(x + i * ds->d * DGM_AA_N, s, 1, ds->d);
            if (letters)
                memcpy(letters + i * ds->d, s, ds->d);
        }
        return;
    }
    long bl = (long)b;
#pragma omp parallel for schedule(static)
    for (long il = 0; il < bl; il++) {
        dgm_rng r;
        dgm_rng_fork(&r, rng, (uint64_t)il);
        dgm_data_example(&r, x + (size_t)il * ds->d, ds, idx[il], DGM_PREP_BINARIZE);
    }
}

static dgm_status made_begin(void **state, dgm_model *m, const dgm_fit_data *d,
                             const dgm_fit_cfg *c, const dgm__fit_rows *rows, dgm_err *err)
{
    dgm__made *p = MADE(m);
    const dgm_dataset *ds = d->data;
    int cat = p->cfg.kind == DGM_MADE_CATEGORICAL;
    if (cat && ds->kind != DGM_DATA_SEQ)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: a categorical MADE trains on an alignment",
                        ds->source);
    if (!cat && ds->kind != DGM_DATA_REAL)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: a binary MADE needs numeric data in [0, 1]",
                        ds->source);
    if (ds->d != p->V)
        return dgm_errf(err, DGM_ERR_SHAPE, "%s: examples have %zu %s but the model expects %zu",
                        ds->source, ds->d, cat ? "columns" : "values", p->V);
    size_t n = rows->n_train + rows->n_val;
    for (size_t i = 0; !cat && ds->x && i < n * ds->d; i++)
        if (!(ds->x[i] >= 0.0f && ds->x[i] <= 1.0f))
            return dgm_errf(err, DGM_ERR_ARG, "%s: value %g of example %zu is outside [0, 1], "
                            "which a binary MADE needs (scale the data)", ds->source,
                            (double)ds->x[i], i / ds->d + 1);
    for (size_t i = 0; cat && i < n * ds->d; i++)
        if (ds->seq[i] > DGM_AA_GAP)
            return dgm_errf(err, DGM_ERR_ARG, "%s: sequence %zu has letter index %d", ds->source,
                            i / ds->d + 1, ds->seq[i]);
    dgm_status s = dgm__fit_check_labels(m, ds, "a conditional MADE", err);
    if (!s && p->C && !rows->resumed)
        s = dgm__fit_class_prior(m, ds, rows, err);
    if (s)
        return s;
    made_run *r = calloc(1, sizeof *r);
    if (!r)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    r->ds = ds;
    r->p = p;
    r->B = c->batch;
    r->n_val = rows->n_val;
    r->wscale = 1.0;
    if (ds->weights && rows->n_train) {
        double sw = 0;
        for (size_t i = 0; i < rows->n_train; i++)
            sw += ds->weights[rows->train[i]];
        r->wscale = sw > 0 ? (double)rows->n_train / sw : 1.0;
    }
    r->x = dgm_malloc_array(r->B, p->Din * sizeof(float));
    r->dscale = dgm_malloc_array(r->B, sizeof(float));
    if (r->n_val) {
        r->val_x = dgm_malloc_array(r->n_val, p->Din * sizeof(float));
        r->val_ll = dgm_malloc_array(r->n_val, sizeof(double));
        if (p->C && (r->val_y = dgm_malloc_array(r->n_val, sizeof(int32_t))))
            for (size_t i = 0; i < r->n_val; i++)
                r->val_y[i] = ds->y[rows->val[i]];
    }
    s = dgm__made_reserve(p, r->B, err);
    if (!s && (!r->x || !r->dscale ||
               (r->n_val && (!r->val_x || !r->val_ll || (p->C && !r->val_y)))))
        s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory for batches of %zu", r->B);
    /* collective: every rank gets there, failed or not */
    if (!(s = dgm__par_agree(s, err)))
        s = dgm__sharded_init(&r->sh, p->p, r->B, "MADE", err);
    if (s) {
        run_free(r);
        return s;
    }
    if (r->n_val) { /* the held-out rows, prepared once with the evaluation stream */
        dgm_rng vr;
        dgm_rng_init(&vr, DGM_EVAL_PREP_SEED);
        make_batch(r->val_x, NULL, ds, rows->val, r->n_val, &vr);
    }
    *state = r;
    return DGM_OK;
}

/* One shard's rows: log p and the gradient of their share of the loss. */
static void shard_rows(void *ctx, size_t r0, size_t r1)
{
    made_run *r = ctx;
    dgm__made *p = r->p;
    dgm__made_forward_backward(p, p->ll + r0, r->x + r0 * p->Din,
                               p->letters ? p->letters + r0 * p->V : NULL,
                               p->C ? p->y + r0 : NULL, r->dscale + r0, r1 - r0);
}

static dgm_status made_step(void *state, dgm_model *m, const size_t *idx, size_t b,
                            const dgm_rng *step_rng, const dgm_optim_cfg *opt, double kl_weight,
                            long t, dgm__fit_stats *st, dgm_err *err)
{
    (void)kl_weight;
    made_run *r = state;
    dgm__made *p = MADE(m);
    dgm_rng bin_r;
    dgm_rng_fork(&bin_r, step_rng, 0);
    make_batch(r->x, p->letters, r->ds, idx, b, &bin_r);
    for (size_t i = 0; p->C && i < b; i++)
        p->y[i] = r->ds->y[idx[i]];
    /* the loss: (1/b) sum_i w_i (-log p_k(x_i)), w_i the weight over the training mean */
    for (size_t i = 0; i < b; i++) {
        double w = r->ds->weights ? r->ds->weights[idx[i]] * r->wscale : 1.0;
        r->dscale[i] = (float)(w / (double)b);
    }
    dgm__made_use_mask(p, (int)(t % p->cfg.n_masks));
    dgm_status s = dgm__sharded_grad(&r->sh, p->p, b, shard_rows, r, p->ll, sizeof *p->ll, err);
    if (s)
        return s;
    double loss = 0;
    for (size_t i = 0; i < b; i++)
        loss -= (double)r->dscale[i] * p->ll[i];
    st->loss = st->recon = loss;
    st->kl = 0;
    if (!isfinite(loss))
        return dgm_errf(err, DGM_ERR_NAN, "the loss is not finite at step %ld", t);
    if ((s = dgm__sharded_step(&r->sh, p->p, opt, t, err)))
        return s;
    dgm__made_touched(p); /* the weights moved: the plans are stale */
    return DGM_OK;
}

static dgm_status made_validate(void *state, dgm_model *m, double *val, dgm_err *err)
{
    made_run *r = state;
    *val = NAN;
    if (!r->n_val)
        return DGM_OK;
    dgm_status s = dgm_model_log_prob(m, NULL, r->val_ll, r->val_x, r->val_y, r->n_val, 1, err);
    if (s)
        return s;
    double sv = 0;
    for (size_t i = 0; i < r->n_val; i++)
        sv -= r->val_ll[i];
    *val = sv / (double)r->n_val;
    return DGM_OK;
}

const dgm__fit_ops dgm__made_fit_ops = {
    .kind = DGM__FIT_MINIBATCH, .begin = made_begin, .step = made_step,
    .validate = made_validate, .end = run_free, .mpi = 1};
