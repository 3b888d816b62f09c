/* Micro-shards for a model's one-store step (sharded.h). */
#include "optim/sharded.h"
#include "nn/params.h"
#include "optim/optim.h"
#include "par/par.h"

#include <stdlib.h>
#include <string.h>

dgm_status dgm__sharded_init(dgm__sharded *g, dgm_params *pp, size_t B, const char *what,
                             dgm_err *err)
{
    memset(g, 0, sizeof *g);
    g->S = dgm__par_micro_given() ? dgm__par_micro() : B ? B : 1;
    g->P = dgm_params_count(pp);
    size_t n = dgm__shard_count(B, g->S), R = (size_t)dgm__par_size(), P = g->P;
    if (R > n && !dgm__par_micro_given())
        return dgm_errf(err, DGM_ERR_ARG, "%zu ranks: a %s step is one shard of the whole batch "
                        "unless --micro-batch S cuts it (then one process gives the same file "
                        "with the same S): give --micro-batch %zu or less", R, what,
                        B / R ? B / R : 1);
    dgm_status s = dgm__par_check_shards(B, g->S, err);
    if (s)
        return s;
    g->bufs = calloc(n, sizeof *g->bufs);
    s = g->bufs ? DGM_OK : dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", what);
    if ((s = dgm__par_agree(s, err)) ||
        (s = dgm__params_enter_shm(pp, g->bufs, n, &g->shm, err))) {
        dgm__sharded_free(g);
        return s;
    }
    g->cap = n;
    g->pp = pp;
    for (size_t i = 1; !g->shm && i < n; i++) /* zero, and left zero by every tree sum */
        if (!(g->bufs[i] = dgm_calloc_array(P, sizeof(float)))) {
            dgm__sharded_free(g);
            return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for %zu gradient buffers "
                            "of %zu floats", what, n, P);
        }
    return DGM_OK;
}

dgm_status dgm__sharded_grad(dgm__sharded *g, dgm_params *pp, size_t b, dgm__rows_fn fn,
                             void *ctx, void *vals, size_t val_bytes, dgm_err *err)
{
    size_t n = dgm__shard_count(b, g->S), lo, hi;
    if (n > g->cap)
        return dgm_errf(err, DGM_ERR_ARG, "a batch of %zu rows: more than the run's %zu",
                        b, g->cap * g->S);
    dgm__shard_mine(&lo, &hi, n);
    /* shared, the store's gradient is zeroed by the rank of shard 0 alone (a rank can have
     * no shards, and then lo is 0 on the first ranks too) */
    if (!g->shm || (lo == 0 && hi > 0))
        dgm_params_zero_grad(pp);
    if (n == 1 && dgm__par_size() == 1) { /* nothing to sum */
        fn(ctx, 0, b);
        return DGM_OK;
    }
    float *own = dgm_params_grad(pp);
    g->bufs[0] = own;
    for (size_t i = lo; i < hi; i++) {
        size_t r0, r1;
        dgm__shard_rows(&r0, &r1, i, b, g->S);
        dgm__params_set_grad(pp, g->bufs[i]);
        fn(ctx, r0, r1);
    }
    dgm__params_set_grad(pp, own);
    dgm_status s = DGM_OK;
    if (g->shm) {
        size_t off, cnt;
        dgm__par_tree_sum_shm_f(g->bufs, n, g->P, &off, &cnt, g->shm);
    } else {
        s = dgm__par_tree_sum_f(g->bufs, n, g->P, err);
    }
    g->bufs[0] = NULL;
    if (!s && vals)
        dgm__par_share_rows(vals, b, g->S, val_bytes);
    return s;
}

dgm_status dgm__sharded_step(dgm__sharded *g, dgm_params *pp, const dgm_optim_cfg *opt,
                             long t, dgm_err *err)
{
    size_t off = 0, cnt = g->P;
    if (g->shm)
        dgm__par_segment(&off, &cnt, g->P, dgm__par_rank());
    float *grad = dgm_params_grad(pp);
    dgm_status s = dgm_all_finite(grad + off, cnt)
        ? DGM_OK : dgm_errf(err, DGM_ERR_NAN, "a gradient is not finite at step %ld", t);
    if (!g->shm) {
        if (!s)
            dgm_optim_step(opt, pp, t);
        return s;
    }
    if ((s = dgm__par_agree(s, err))) /* each rank checked its segment */
        return s;
    dgm__shared_update(g->shm, pp, opt, t, off, cnt);
    return DGM_OK;
}

void dgm__shared_update(dgm__par_shm *shm, dgm_params *pp, const dgm_optim_cfg *opt, long t,
                        size_t off, size_t cnt)
{
    if (opt->clip_norm > 0) {
        float *grad = dgm_params_grad(pp);
        dgm__par_shm_fence(shm); /* every segment summed: the whole sum for every rank */
        float f = dgm__clip_factor(grad, dgm_params_count(pp), opt->clip_norm);
        dgm__par_shm_fence(shm); /* every rank has read it */
        if (f != 1.0f)
            dgm_scale(grad + off, f, cnt);
    }
    dgm__optim_step_range(opt, pp, t, off, cnt);
    dgm__par_shm_fence(shm); /* the new values for every rank */
}

void dgm__sharded_free(dgm__sharded *g)
{
    for (size_t i = 1; !g->shm && g->bufs && i < g->cap; i++)
        dgm_free(g->bufs[i]);
    free(g->bufs);
    if (g->shm) /* the store back into memory of its own, on every rank */
        dgm__params_leave_shm(g->pp, g->shm);
    memset(g, 0, sizeof *g);
}
