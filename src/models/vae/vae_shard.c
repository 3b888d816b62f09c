/* The VAE's training step over micro-shards (src/par/par.h): the batch is cut into shards
 * of S rows, each shard's gradient is computed on one thread by a worker (the model's
 * layout over the model's own values, with scratch of its own) into a gradient buffer of
 * its own, and the buffers are summed in the fixed tree over shard indices into the
 * model's gradient, on every MPI rank; then the optimizer step. The weights therefore do
 * not depend on --threads or on the number of ranks. Each shard's matrix products run on
 * one thread (nested OpenMP regions inside the shard loop run on one, and so does
 * OpenBLAS's OpenMP build inside a parallel region), so a product's bits do not depend on
 * how its library splits a sum. Free bits need the whole batch's KL per dimension before
 * any gradient: one encoder pass per shard sums it first (an extra pass only with free
 * bits). */
#include "models/vae/vae_shard.h"
#include "nn/params.h"
#include "optim/optim.h"
#include "optim/sharded.h"
#include "par/par.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

struct dgm__vae_pool {
    size_t S, n, W, P, Z, nsums; /* shard rows, shards of a full batch, workers, params */
    dgm_model **w;
    float **grad;               /* n buffers of P; grad[0] is the model's own gradient */
    double **sums;              /* n x nsums */
    double *sums_mem;
    int partial;                /* the optimizer moments are whole only on this rank's segment */
    dgm__par_shm *shm;          /* ranks on one machine: the parameters and buffers live here */
    dgm_params *owner;          /* the model's store, moved into shm */
};

void dgm__vae_pool_free(dgm__vae_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->w && i < p->W; i++)
        dgm_model_free(p->w[i]);
    for (size_t i = 1; !p->shm && p->grad && i < p->n; i++)
        free(p->grad[i]);
    if (p->shm) /* the store back into memory of its own, on every rank */
        dgm__params_leave_shm(p->owner, p->shm);
    free(p->w);
    free(p->grad);
    free(p->sums);
    free(p->sums_mem);
    free(p);
}

dgm_status dgm__vae_pool_create(dgm__vae_pool **out, dgm_model *m, size_t B, size_t S,
                                const dgm_vae_step *obj, dgm_err *err)
{
    *out = NULL;
    dgm__vae *v = VAE(m);
    const size_t K = obj->objective == DGM_OBJ_IWAE ? (size_t)(obj->k > 0 ? obj->k : 1) : 1;
    dgm__vae_pool *p = calloc(1, sizeof *p);
    if (!p)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    p->S = S;
    p->n = dgm__shard_count(B, S);
    p->P = dgm_params_count(v->p);
    p->Z = v->cfg.latent;
    p->nsums = DGM__VAE_SUMS(p->Z);
    size_t lo, hi, threads = (size_t)omp_get_max_threads();
    dgm__shard_mine(&lo, &hi, p->n);
    p->W = hi - lo < threads ? hi - lo : threads;
    if (p->W < 1)
        p->W = 1;
    p->w = calloc(p->W, sizeof *p->w);
    p->grad = calloc(p->n, sizeof *p->grad);
    p->sums = calloc(p->n, sizeof *p->sums);
    p->sums_mem = dgm_malloc_array(p->n, p->nsums * sizeof(double));
    dgm_status s = p->w && p->grad && p->sums && p->sums_mem ? DGM_OK
                   : dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    /* every rank gets here alike (the same data and model), and the window is collective */
    if (!(s = dgm__par_agree(s, err)))
        s = dgm__params_enter_shm(v->p, p->grad, p->n, &p->shm, err);
    p->owner = v->p;
    for (size_t i = 0; !s && i < p->n; i++) {
        p->sums[i] = p->sums_mem + i * p->nsums;
        /* zero now, and zeroed by each tree sum that reads them (par.h) */
        if (i == 0 || !p->shm)
            p->grad[i] = i ? dgm_calloc_array(p->P, sizeof(float)) : dgm_params_grad(v->p);
        if (!p->grad[i])
            s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory for %zu micro-shard gradients of "
                         "%zu parameters", p->n, p->P);
    }
    /* the workers read the values where they now lie */
    for (size_t i = 0; !s && i < p->W; i++)
        s = dgm__vae_worker(&p->w[i], v, S, S * K, err);
    if (p->shm) /* a failure after the window: every rank frees it alike */
        s = dgm__par_agree(s, err);
    if (s) {
        dgm__vae_pool_free(p);
        return s;
    }
    *out = p;
    return DGM_OK;
}

void dgm__vae_pool_rows(const dgm__vae_pool *p, size_t B, size_t *r0, size_t *r1)
{
    size_t n = dgm__shard_count(B, p->S), lo, hi, e;
    dgm__shard_mine(&lo, &hi, n);
    if (lo >= hi) {
        *r0 = *r1 = 0;
        return;
    }
    dgm__shard_rows(r0, &e, lo, B, p->S);
    dgm__shard_rows(&e, r1, hi - 1, B, p->S);
}

dgm_status dgm__vae_pool_step(dgm__vae_pool *p, dgm_model *m, const dgm_rng *rng,
                              const float *x, const int32_t *y, size_t B,
                              const dgm_vae_step *obj, const dgm_optim_cfg *opt, long t,
                              dgm_vae_stats *stats, dgm_err *err)
{
    dgm__vae *v = VAE(m);
    const size_t D = v->cfg.dim, n = dgm__shard_count(B, p->S);
    if (n > p->n)
        return dgm_errf(err, DGM_ERR_ARG, "a batch of %zu is larger than the %zu the run "
                        "planned for", B, p->n * p->S);
    size_t lo, hi;
    dgm__shard_mine(&lo, &hi, n);
    const double invB = 1.0 / (double)B;
    long lol = (long)lo, hil = (long)hi;
    int W = (int)p->W;
    int active[256], *act = NULL;
    dgm_status s;
    if (obj->objective == DGM_OBJ_ELBO && obj->free_bits > 0) {
        /* the whole batch's KL per dimension first: the mask needs it */
#pragma omp parallel num_threads(W)
        {
            omp_set_num_threads(1);
            dgm__vae *wv = VAE(p->w[omp_get_thread_num()]);
#pragma omp for schedule(dynamic, 1)
            for (long sl = lol; sl < hil; sl++) {
                size_t r0, r1;
                dgm__shard_rows(&r0, &r1, (size_t)sl, B, p->S);
                dgm__vae_shard_klbar(wv, x + r0 * D, y ? y + r0 : NULL, r1 - r0, invB,
                                     p->sums[sl]);
            }
        }
        if ((s = dgm__par_tree_sum_d(p->sums, n, p->nsums, err)))
            return s;
        dgm_vae_stats pre;
        dgm__vae_totals(&pre, active, p->sums[0], p->Z, obj);
        act = active;
    }
    float *data = dgm_params_data(v->p);
#pragma omp parallel num_threads(W)
    {
        /* nested regions and OpenBLAS run on this thread alone (ICVs are per task) */
        omp_set_num_threads(1);
        dgm__vae *wv = VAE(p->w[omp_get_thread_num()]);
#pragma omp for schedule(dynamic, 1)
        for (long sl = lol; sl < hil; sl++) {
            size_t r0, r1, i = (size_t)sl;
            dgm__shard_rows(&r0, &r1, i, B, p->S);
            if (i == 0) /* the model's own gradient; the others are zero (par.h) */
                memset(p->grad[0], 0, p->P * sizeof(float));
            dgm__params_share(wv->p, data, p->grad[i]);
            dgm_rng r = *rng;
            dgm__vae_shard_grad(wv, &r, r0, NULL, x + r0 * D, y ? y + r0 : NULL, r1 - r0, invB,
                                obj, act, p->sums[i]);
        }
    }
    /* under ranks, each adds and updates its segment (par.h): with messages, clipping
     * needs the whole sum on every rank */
    int seg = p->shm || (dgm__par_segmented(p->P) && !(opt->clip_norm > 0));
    size_t off = 0, cnt = p->P;
    if (p->shm)
        dgm__par_tree_sum_shm_f(p->grad, n, p->P, &off, &cnt, p->shm);
    else if ((s = seg ? dgm__par_tree_sum_seg_f(p->grad, n, p->P, &off, &cnt, err)
                      : dgm__par_tree_sum_f(p->grad, n, p->P, err)))
        return s;
    if ((s = dgm__par_tree_sum_d(p->sums, n, p->nsums, err)))
        return s;
    dgm_vae_stats st;
    dgm__vae_totals(&st, NULL, p->sums[0], p->Z, obj);
    if (stats)
        *stats = st;
    if (!isfinite(st.loss))
        return dgm_errf(err, DGM_ERR_NAN, "the loss is not finite (%g)", st.loss);
    s = dgm_all_finite(dgm_params_grad(v->p) + off, cnt)
        ? DGM_OK : dgm_errf(err, DGM_ERR_NAN, "a gradient is not finite at step %ld", t);
    if (seg) /* each rank checked its segment only */
        s = dgm__par_agree(s, err);
    if (s)
        return s;
    if (!seg) {
        dgm_optim_step(opt, v->p, t);
        return DGM_OK;
    }
    if (p->shm) {
        dgm__shared_update(p->shm, v->p, opt, t, off, cnt);
        return DGM_OK;
    }
    dgm__optim_step_range(opt, v->p, t, off, cnt);
    dgm__par_allgather_segments(data, p->P, sizeof(float));
    p->partial = 1;
    return DGM_OK;
}

void dgm__vae_pool_sync(dgm__vae_pool *p, dgm_model *m)
{
    if (!p->partial)
        return;
    dgm__vae *v = VAE(m);
    dgm__par_allgather_segments(dgm_params_m(v->p), p->P, sizeof(float));
    dgm__par_allgather_segments(dgm_params_v(v->p), p->P, sizeof(float));
    p->partial = 0;
}
