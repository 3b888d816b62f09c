/* The sequence VAE's hooks for the training driver (dgm_fit, sampled runs): steps on
 * minibatches drawn in proportion to the sequence weights (dgm_seqvae_train, which forks
 * the run's stream per step, so chunks of steps give the same bits as one call). The
 * driver scores the run's mutational scan, if any, as its validation. */
#include "models/seq/seqvae.h"

#include <stdlib.h>

typedef struct { const dgm_fit_data *d; } seq_run;

static dgm_status seq_begin(void **state, dgm_model *m, const dgm_fit_data *d,
                            const dgm_fit_cfg *c, const dgm__fit_rows *rows, dgm_err *err)
{
    (void)rows, (void)c;
    if (!d->aln || d->aln->L != SEQVAE(m)->L)
        return dgm_errf(err, DGM_ERR_SHAPE, "fit: a seqvae of %zu columns needs an alignment "
                        "of as many", SEQVAE(m)->L);
    /* the pool now, so that a refusal (more ranks than micro-shards) or a failure comes
     * before the run's first report */
    dgm_status s = dgm__seqvae_prepare(SEQVAE(m), err);
    if (s)
        return s;
    seq_run *r = malloc(sizeof *r);
    if (!r)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    r->d = d;
    *state = r;
    return DGM_OK;
}

static dgm_status seq_run_steps(void *state, dgm_model *m, dgm_rng *rng, long steps,
                                double *loss, dgm_err *err)
{
    const seq_run *r = state;
    return dgm_seqvae_train(m, rng, r->d->aln->seq, r->d->weights, r->d->aln->n, steps, loss,
                            err);
}

static void seq_end(void *state) { free(state); }

const dgm__fit_ops dgm__seqvae_fit_ops = {
    .kind = DGM__FIT_SAMPLED, .begin = seq_begin, .run = seq_run_steps, .end = seq_end,
    .mpi = 1};
