/* The flow's hooks for the training driver (dgm_fit's minibatch runs): the data checks
 * (finite values; 8-bit levels for a model over dequantised data), the batch (8-bit images
 * dequantised afresh, (k + u) / 256, one stream per example; continuous data as they are),
 * the step (mean -log p(x), its gradient, the NaN guard, the optimizer; a class-conditional
 * flow's labels along with its rows, its p(y) from the training rows) and the validation
 * figure, the exact -log p(x) of held-out rows prepared once. The step's gradient is summed
 * over micro-shards (optim/sharded.h), so it has the same bits at any rank count. */
#include "models/flow/flow.h"
#include "optim/sharded.h"
#include "par/par.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const dgm_dataset *ds;
    dgm_prep how;
    size_t B, n_val;
    float *x, *dscale, *val_x;
    int32_t *y, *val_y;     /* the rows' labels (class-conditional flows), else NULL */
    double *lp, *val_lp;
    dgm__sharded sh;
    dgm_model *m;           /* the run's model, for shard_rows */
} flow_run;

static void run_free(void *q)
{
    flow_run *r = q;
    if (!r)
        return;
    dgm_free(r->x), dgm_free(r->dscale), dgm_free(r->val_x), dgm_free(r->lp), dgm_free(r->val_lp);
    dgm_free(r->y), dgm_free(r->val_y);
    dgm__sharded_free(&r->sh);
    free(r);
}

static void make_batch(float *x, const dgm_dataset *ds, const size_t *idx, size_t b,
                       const dgm_rng *rng, dgm_prep how)
{
    long bl = (long)b;
#pragma omp parallel for schedule(static)
    for (long il = 0; il < bl; il++) {
        dgm_rng r;
        dgm_rng_fork(&r, rng, (uint64_t)il);
        dgm_data_example(&r, x + (size_t)il * ds->d, ds, idx[il], how);
    }
}

static dgm_status flow_begin(void **state, dgm_model *m, const dgm_fit_data *d,
                             const dgm_fit_cfg *c, const dgm__fit_rows *rows, dgm_err *err)
{
    const dgm_flow_cfg *cfg = dgm_flow_config(m);
    const dgm_dataset *ds = d->data;
    size_t D = cfg->dim;
    int deq = cfg->alpha > 0;
    if (ds->kind != DGM_DATA_REAL)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: a flow needs numeric data", ds->source);
    if (ds->d != D)
        return dgm_errf(err, DGM_ERR_SHAPE, "%s: examples have %zu values but the model expects "
                        "%zu", ds->source, ds->d, D);
    if (deq && !ds->is_8bit)
        return dgm_errf(err, DGM_ERR_ARG, "%s: the logit flow models dequantised 8-bit data; "
                        "these values are not 8-bit levels (use --alpha 0 for data on R^D)",
                        ds->source);
    size_t n = rows->n_train + rows->n_val;
    for (size_t i = 0; ds->x && i < n * ds->d; i++)
        if (!isfinite(ds->x[i]))
            return dgm_errf(err, DGM_ERR_NAN, "%s: value %zu of example %zu is not a finite "
                            "number", ds->source, i % ds->d + 1, i / ds->d + 1);
    int C = m->n_classes;
    dgm_status s = dgm__fit_check_labels(m, ds, "a conditional flow", err);
    if (!s && C && !rows->resumed)
        s = dgm__fit_class_prior(m, ds, rows, err);
    if (s)
        return s;
    flow_run *r = calloc(1, sizeof *r);
    if (!r)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    r->ds = ds, r->m = m, r->B = c->batch, r->n_val = rows->n_val;
    r->how = deq ? DGM_PREP_DEQUANTIZE : DGM_PREP_COPY;
    r->x = dgm_malloc_array(r->B, D * sizeof(float));
    r->dscale = dgm_malloc_array(r->B, sizeof(float));
    r->lp = dgm_malloc_array(r->B, sizeof(double));
    if (C)
        r->y = dgm_malloc_array(r->B, sizeof(int32_t));
    if (r->n_val) {
        r->val_x = dgm_malloc_array(r->n_val, D * sizeof(float));
        r->val_lp = dgm_malloc_array(r->n_val, sizeof(double));
        if (C && (r->val_y = dgm_malloc_array(r->n_val, sizeof(int32_t))))
            for (size_t i = 0; i < r->n_val; i++)
                r->val_y[i] = ds->y[rows->val[i]];
    }
    s = m->ops == &dgm__maf_ops ? dgm__maf_reserve(m, r->B, err)
                                : dgm__flow_reserve(FLOW(m), r->B, err);
    if (!s && (!r->x || !r->dscale || !r->lp || (C && !r->y) ||
               (r->n_val && (!r->val_x || !r->val_lp || (C && !r->val_y)))))
        s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory for batches of %zu", r->B);
    /* collective: every rank gets there, failed or not */
    if (!(s = dgm__par_agree(s, err)))
        s = dgm__sharded_init(&r->sh, m->ops == &dgm__maf_ops ? dgm__maf_params(m) : FLOW(m)->p,
                              r->B, "flow", err);
    if (s) {
        run_free(r);
        return s;
    }
    if (r->n_val) {
        dgm_rng vr;
        dgm_rng_init(&vr, DGM_EVAL_PREP_SEED);
        make_batch(r->val_x, ds, rows->val, r->n_val, &vr, r->how);
    }
    *state = r;
    return DGM_OK;
}

/* One shard's rows: log p and the gradient of their share of the loss. */
static void shard_rows(void *ctx, size_t r0, size_t r1)
{
    flow_run *r = ctx;
    size_t D = r->ds->d;
    const int32_t *y = r->y ? r->y + r0 : NULL;
    if (r->m->ops == &dgm__maf_ops)
        dgm__maf_step(r->m, r->lp + r0, r->x + r0 * D, y, r->dscale + r0, r1 - r0);
    else
        dgm__flow_forward_backward(FLOW(r->m), r->lp + r0, r->x + r0 * D, y, r->dscale + r0,
                                   NULL, r1 - r0);
}

static dgm_status flow_step(void *state, dgm_model *m, const size_t *idx, size_t b,
                            const dgm_rng *step_rng, const dgm_optim_cfg *opt, double kl_weight,
                            long t, dgm__fit_stats *st, dgm_err *err)
{
    (void)kl_weight;
    flow_run *r = state;
    int maf = m->ops == &dgm__maf_ops;
    dgm_params *pp = maf ? dgm__maf_params(m) : FLOW(m)->p;
    dgm_rng dq;
    dgm_rng_fork(&dq, step_rng, 0);
    make_batch(r->x, r->ds, idx, b, &dq, r->how);
    for (size_t i = 0; i < b; i++) {
        r->dscale[i] = 1.0f / (float)b;
        if (r->y)
            r->y[i] = r->ds->y[idx[i]];
    }
    dgm_status s = dgm__sharded_grad(&r->sh, pp, b, shard_rows, r, r->lp, sizeof *r->lp, err);
    if (s)
        return s;
    double loss = 0;
    for (size_t i = 0; i < b; i++)
        loss -= r->lp[i] / (double)b;
    st->loss = st->recon = loss;
    st->kl = 0;
    if (!isfinite(loss))
        return dgm_errf(err, DGM_ERR_NAN, "the loss is not finite at step %ld", t);
    if ((s = dgm__sharded_step(&r->sh, pp, opt, t, err)))
        return s;
    if (maf)
        dgm__maf_updated(m);
    else
        dgm__flow_updated(FLOW(m));
    return DGM_OK;
}

static dgm_status flow_validate(void *state, dgm_model *m, double *val, dgm_err *err)
{
    flow_run *r = state;
    *val = NAN;
    if (!r->n_val)
        return DGM_OK;
    dgm_status s = dgm_model_log_prob(m, NULL, r->val_lp, r->val_x, r->val_y, r->n_val, 1, err);
    if (s)
        return s;
    double sv = 0;
    for (size_t i = 0; i < r->n_val; i++)
        sv -= r->val_lp[i];
    *val = sv / (double)r->n_val;
    return DGM_OK;
}

const dgm__fit_ops dgm__flow_fit_ops = {
    .kind = DGM__FIT_MINIBATCH, .begin = flow_begin, .step = flow_step,
    .validate = flow_validate, .end = run_free, .mpi = 1};
