/* Micro-shards for a model's one-store step (sharded.h). */
#include "optim/sharded.h"
#include "nn/params.h"
#include "par/par.h"

#include <stdlib.h>
#include <string.h>

dgm_status dgm__sharded_init(dgm__sharded *g, size_t B, size_t P, const char *what,
                             dgm_err *err)
{
    memset(g, 0, sizeof *g);
    g->S = dgm__par_micro_given() ? dgm__par_micro() : B ? B : 1;
    g->P = P;
    size_t n = dgm__shard_count(B, g->S), R = (size_t)dgm__par_size();
    if (R > n && !dgm__par_micro_given())
        return dgm_errf(err, DGM_ERR_ARG, "%zu ranks: a %s step is one shard of the whole batch "
                        "unless --micro-batch S cuts it (then one process gives the same file "
                        "with the same S): give --micro-batch %zu or less", R, what,
                        B / R ? B / R : 1);
    dgm_status s = dgm__par_check_shards(B, g->S, err);
    if (s)
        return s;
    g->bufs = calloc(n, sizeof *g->bufs);
    for (size_t i = 1; g->bufs && i < n; i++) /* zero, and left zero by every tree sum */
        if (!(g->bufs[i] = dgm_calloc_array(P, sizeof(float)))) {
            g->cap = i;
            dgm__sharded_free(g);
            return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for %zu gradient buffers "
                            "of %zu floats", what, n, P);
        }
    if (!g->bufs)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", what);
    g->cap = n;
    return DGM_OK;
}

dgm_status dgm__sharded_grad(dgm__sharded *g, dgm_params *pp, size_t b, dgm__rows_fn fn,
                             void *ctx, void *vals, size_t val_bytes, dgm_err *err)
{
    size_t n = dgm__shard_count(b, g->S), lo, hi;
    if (n > g->cap)
        return dgm_errf(err, DGM_ERR_ARG, "a batch of %zu rows: more than the run's %zu",
                        b, g->cap * g->S);
    if (n == 1 && dgm__par_size() == 1) { /* nothing to sum */
        fn(ctx, 0, b);
        return DGM_OK;
    }
    float *own = dgm_params_grad(pp);
    g->bufs[0] = own;
    dgm__shard_mine(&lo, &hi, n);
    for (size_t i = lo; i < hi; i++) {
        size_t r0, r1;
        dgm__shard_rows(&r0, &r1, i, b, g->S);
        dgm__params_set_grad(pp, g->bufs[i]);
        fn(ctx, r0, r1);
    }
    dgm__params_set_grad(pp, own);
    dgm_status s = dgm__par_tree_sum_f(g->bufs, n, g->P, err);
    g->bufs[0] = NULL;
    if (!s && vals)
        dgm__par_share_rows(vals, b, g->S, val_bytes);
    return s;
}

void dgm__sharded_free(dgm__sharded *g)
{
    for (size_t i = 1; g->bufs && i < g->cap; i++)
        dgm_free(g->bufs[i]);
    free(g->bufs);
    memset(g, 0, sizeof *g);
}
