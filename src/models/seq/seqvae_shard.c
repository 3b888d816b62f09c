/* The sequence VAE's gradient over micro-shards (src/par/par.h), as the image VAE's
 * (vae/vae_shard.c): the batch is cut into shards of S rows, each shard's data term is
 * computed on one thread by a worker (the model's layout over the model's values and
 * current draw, with scratch of its own) into a gradient buffer of its own, and the
 * buffers are summed in the fixed tree over shard indices, on every MPI rank. The
 * regulariser depends on the parameters alone and is added once, after the sum. So the
 * weights do not depend on --threads or on the number of ranks.
 *
 * A buffer holds what a shard's data term writes: p's gradient (BAYES: only its encoder
 * prefix; the decoder's _mu and _log_sigma get theirs from the regulariser) and, BAYES,
 * the gradient of the draw (ps). The bag's gradient is sparse (the rows of the letters in
 * the batch); the buffers carry all of it, so the tree is the image VAE's, and only the
 * touched rows are copied out and zeroed. Every buffer is zero between steps: the tree
 * sum zeroes all but the first (par.h), and the copy out zeroes the first. */
#include "models/seq/seqvae.h"
#include "nn/params.h"
#include "par/par.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

struct dgm__seqvae_pool {
    size_t B, S, n, W;          /* batch, shard rows, shards of a full batch, workers */
    size_t G, Pg;               /* floats per buffer; of them, p's prefix (the rest: ps) */
    dgm__seqvae **w;
    float **grad;               /* n buffers of G */
    double **obj, *obj_mem;     /* n sums of the data term */
};

void dgm__seqvae_pool_free(dgm__seqvae_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->w && i < p->W; i++)
        dgm__seqvae_worker_free(p->w[i]);
    for (size_t i = 0; p->grad && i < p->n; i++)
        free(p->grad[i]);
    free(p->w);
    free(p->grad);
    free(p->obj);
    free(p->obj_mem);
    free(p);
}

int dgm__seqvae_pool_fits(const dgm__seqvae_pool *p, size_t B, size_t S)
{
    return p && p->B == B && p->S == S;
}

/* Worker w writes its gradients into buf. */
static void point_at(dgm__seqvae *w, const dgm__seqvae *v, float *buf, size_t Pg)
{
    dgm__params_share(w->p, dgm_params_data(v->p), buf);
    if (w->ps)
        dgm__params_share(w->ps, dgm_params_data(v->ps), buf + Pg);
}

dgm_status dgm__seqvae_pool_create(dgm__seqvae_pool **out, dgm__seqvae *v, size_t B, size_t S,
                                   dgm_err *err)
{
    *out = NULL;
    dgm__seqvae_pool *p = calloc(1, sizeof *p);
    if (!p)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    p->B = B;
    p->S = S;
    p->n = dgm__shard_count(B, S);
    p->Pg = dgm__seqvae_grad_split(v);
    p->G = p->Pg + (v->ps ? dgm_params_count(v->ps) : 0);
    size_t lo, hi, threads = (size_t)omp_get_max_threads();
    dgm__shard_mine(&lo, &hi, p->n);
    p->W = hi - lo < threads ? hi - lo : threads;
    if (p->W < 1)
        p->W = 1;
    p->w = calloc(p->W, sizeof *p->w);
    p->grad = calloc(p->n, sizeof *p->grad);
    p->obj = calloc(p->n, sizeof *p->obj);
    p->obj_mem = dgm_calloc_array(p->n, sizeof(double));
    dgm_status s = p->w && p->grad && p->obj && p->obj_mem ? DGM_OK
                   : dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !s && i < p->n; i++) {
        p->obj[i] = p->obj_mem + i;
        /* zero now, and zero again after each step (see the top of this file) */
        if (!(p->grad[i] = dgm_calloc_array(p->G, sizeof(float))))
            s = dgm_errf(err, DGM_ERR_NOMEM, "seqvae: out of memory for %zu micro-shard "
                         "gradients of %zu values", p->n, p->G);
    }
    size_t rows = S < B ? S : B;
    for (size_t i = 0; !s && i < p->W; i++)
        s = dgm__seqvae_worker_create(&p->w[i], v, rows, p->grad[0], err);
    if (s) {
        dgm__seqvae_pool_free(p);
        return s;
    }
    *out = p;
    return DGM_OK;
}

/* This rank's shards of the batch: each worker adds its shard's data term into the shard's
 * buffer and keeps the sum of the term. */
static void shards(dgm__seqvae_pool *p, const dgm__seqvae *v, const uint8_t *x, size_t B,
                   const float *eps, size_t n)
{
    size_t lo, hi, L = v->L, Z = v->Z;
    dgm__shard_mine(&lo, &hi, n);
    long lol = (long)lo, hil = (long)hi;
    for (size_t i = 0; i < p->W; i++)
        p->w[i]->tau = v->tau; /* the step's draw */
#pragma omp parallel num_threads((int)p->W)
    {
        /* nested regions and BLAS run on this thread alone (ICVs are per task) */
        omp_set_num_threads(1);
        dgm__seqvae *w = p->w[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
        for (long sl = lol; sl < hil; sl++) {
            size_t r0, r1, i = (size_t)sl;
            dgm__shard_rows(&r0, &r1, i, B, p->S);
            point_at(w, v, p->grad[i], p->Pg);
            p->obj[i][0] = dgm__seqvae_data_term(w, x + r0 * L, r1 - r0, eps + r0 * Z, B);
            dgm__seqvae_untouch(w);
        }
    }
}

/* The summed buffer into the model's gradients (zero on entry), leaving the buffer zero:
 * the bag rows of every letter of the batch, the rest of p's prefix, and ps. */
static void copy_out(dgm__seqvae_pool *p, dgm__seqvae *v, const uint8_t *x, size_t B)
{
    float *src = p->grad[0], *g = dgm_params_grad(v->p);
    size_t H = v->H1, off = v->D * H;
    dgm__seqvae_touch(v, x, B);
    long nr = (long)v->n_rows;
    #pragma omp parallel for schedule(static)
    for (long i = 0; i < nr; i++) {
        size_t o = v->rows[i] * H;
        memcpy(g + o, src + o, H * sizeof(float));
        memset(src + o, 0, H * sizeof(float));
    }
    memcpy(g + off, src + off, (p->Pg - off) * sizeof(float));
    memset(src + off, 0, (p->Pg - off) * sizeof(float));
    if (v->ps) {
        memcpy(dgm_params_grad(v->ps), src + p->Pg, (p->G - p->Pg) * sizeof(float));
        memset(src + p->Pg, 0, (p->G - p->Pg) * sizeof(float));
    }
}

dgm_status dgm__seqvae_pool_grad(dgm__seqvae_pool *p, dgm__seqvae *v, const uint8_t *x,
                                 size_t B, const float *eps, double *obj, dgm_err *err)
{
    size_t n = dgm__shard_count(B, p->S);
    if (n > p->n || B > p->B)
        return dgm_errf(err, DGM_ERR_ARG, "a batch of %zu is larger than the %zu the run "
                        "planned for", B, p->B);
    shards(p, v, x, B, eps, n);
    dgm_status s;
    if ((s = dgm__par_tree_sum_f(p->grad, n, p->G, err)) ||
        (s = dgm__par_tree_sum_d(p->obj, n, 1, err)))
        return s;
    copy_out(p, v, x, B);
    *obj = p->obj[0][0] / (double)B + dgm__seqvae_regularise(v);
    return DGM_OK;
}
