/* The sequence VAE's hooks for the training driver (dgm_fit, sampled runs): steps on
 * minibatches drawn in proportion to the sequence weights (dgm_seqvae_train, which forks
 * the run's stream per step, so chunks of steps give the same bits as one call), and the
 * Spearman of a mutational scan as the validation figure (from dgm_rng_init(seed + 7),
 * as DeepSequence-style runs log it). */
#include "models/seq/seqvae.h"

#include <math.h>
#include <stdlib.h>

typedef struct { const dgm_fit_data *d; const dgm_fit_cfg *c; } seq_run;

static dgm_status seq_begin(void **state, dgm_model *m, const dgm_fit_data *d,
                            const dgm_fit_cfg *c, const dgm__fit_rows *rows, dgm_err *err)
{
    (void)rows;
    if (!d->aln || d->aln->L != SEQVAE(m)->L)
        return dgm_errf(err, DGM_ERR_SHAPE, "fit: a seqvae of %zu columns needs an alignment "
                        "of as many", SEQVAE(m)->L);
    seq_run *r = malloc(sizeof *r);
    if (!r)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    r->d = d;
    r->c = c;
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

static dgm_status seq_validate(void *state, dgm_model *m, double *val, dgm_err *err)
{
    const seq_run *r = state;
    *val = NAN;
    if (!r->d->scan)
        return DGM_OK;
    return dgm_scan_spearman(val, m, r->d->scan, r->c->scan_samples, r->c->seed + 7, err);
}

static void seq_end(void *state) { free(state); }

const dgm__fit_ops dgm__seqvae_fit_ops = {
    .kind = DGM__FIT_SAMPLED, .begin = seq_begin, .run = seq_run_steps,
    .validate = seq_validate, .end = seq_end};
