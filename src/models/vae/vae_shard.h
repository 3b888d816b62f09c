/* The VAE's deterministic training step over micro-shards (vae_shard.c), for the driver
 * hooks of vae_fit.c. */
#ifndef DGM_MODELS_VAE_SHARD_H
#define DGM_MODELS_VAE_SHARD_H

#include "models/vae/vae.h"

typedef struct dgm__vae_pool dgm__vae_pool;

/* Workers and gradient buffers for batches of up to B rows in shards of S rows, for
 * objective obj (its K sizes the scratch); the workers are as many as this rank's shards
 * of a full batch, at most the threads. */
dgm_status dgm__vae_pool_create(dgm__vae_pool **out, dgm_model *m, size_t B, size_t S,
                                const dgm_vae_step *obj, dgm_err *err);
void dgm__vae_pool_free(dgm__vae_pool *p);
/* The rows [*r0, *r1) of a batch of B that this rank's shards cover (the rows whose
 * inputs it needs). */
void dgm__vae_pool_rows(const dgm__vae_pool *p, size_t B, size_t *r0, size_t *r1);
/* dgm_vae_train_step over shards: the gradient of the batch's loss summed over shards in
 * the fixed tree, the finite checks, then opt's step. Only this rank's rows of x (and y)
 * are read. rng is the step's reparameterisation stream; row i forks it at i. Under more
 * than one rank (without clipping) each rank sums and updates its segment of the
 * parameters and the weights are then shared, so the optimizer's moments are whole only
 * on the rank's segment until dgm__vae_pool_sync. */
dgm_status dgm__vae_pool_step(dgm__vae_pool *p, dgm_model *m, const dgm_rng *rng,
                              const float *x, const int32_t *y, size_t B,
                              const dgm_vae_step *obj, const dgm_optim_cfg *opt, long t,
                              dgm_vae_stats *stats, dgm_err *err);
/* Makes every rank's optimizer moments whole (before a checkpoint saves them). Collective. */
void dgm__vae_pool_sync(dgm__vae_pool *p, dgm_model *m);

#endif
