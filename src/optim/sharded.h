/* The gradient of a minibatch over micro-shards, for models whose step is one
 * forward-backward over rows that adds into their parameter store (MADE, the flows): the
 * batch's b rows are cut into shards of S (par/par.h), this rank's shards run one after
 * another, each adding into a gradient buffer of its own (shard 0 into the store's), and
 * the fixed tree over shard indices sums them into the store's gradient on every rank. The
 * rows' own values (their log-likelihoods) of the other ranks' shards arrive too. So the
 * gradient, and the step after it, have the same bits at any rank count (and, the shards'
 * products being thread-count independent, at any thread count). A batch of one shard
 * costs nothing beyond the plain step. The VAEs have workers of their own (vae_shard.c,
 * seqvae_shard.c), which run their shards on separate threads. */
#ifndef DGM_OPTIM_SHARDED_H
#define DGM_OPTIM_SHARDED_H

#include "dgm.h"
#include "dgm_blocks.h"

typedef struct dgm__par_shm dgm__par_shm;

typedef struct {
    size_t S, P, cap;   /* rows per shard, gradient floats, buffers held */
    float **bufs;       /* cap: bufs[0] is the store's gradient while a step runs */
    dgm__par_shm *shm;  /* ranks on one machine: the store and the buffers live here */
    dgm_params *pp;     /* the store, moved into shm */
} dgm__sharded;

/* Rows [r0, r1) of the batch: their forward and backward, adding into the store's
 * gradient (wherever it points then) and writing their values. */
typedef void (*dgm__rows_fn)(void *ctx, size_t r0, size_t r1);

/* Shards of S rows for batches of up to B rows of the store pp: S is --micro-batch
 * when given (or a resumed run's), else B, one shard, which is the fastest on one process
 * (measured: shards of 64 of MADE's batch of 100 cost 27% at 2 threads, its products
 * being thread-parallel already). DGM_ERR_ARG when the ranks outnumber a full batch's
 * shards. Collective under mpirun (every rank calls it, after agreeing on what came
 * before): when the ranks share one machine, the store's values, gradients and moments
 * move into memory that they all map (par.h, "Shared memory"), and stay there until
 * dgm__sharded_free (also collective). */
dgm_status dgm__sharded_init(dgm__sharded *g, dgm_params *pp, size_t B, const char *what,
                             dgm_err *err);
/* One step's gradient, into pp's gradient (zeroed here first): fn over this rank's shards
 * of b rows, the tree's sum, and vals (b values of val_bytes each, written by fn for its
 * rows) shared with every rank. */
dgm_status dgm__sharded_grad(dgm__sharded *g, dgm_params *pp, size_t b, dgm__rows_fn fn,
                             void *ctx, void *vals, size_t val_bytes, dgm_err *err);
/* The optimizer's step t on pp after dgm__sharded_grad, once the gradient is checked
 * finite (DGM_ERR_NAN, and no step, on every rank otherwise): dgm_optim_step, or, when the
 * ranks share the store, each rank's check and step of its segment (with the whole
 * gradient's clipping factor), and a fence so that every rank reads the new values. */
dgm_status dgm__sharded_step(dgm__sharded *g, dgm_params *pp, const dgm_optim_cfg *opt,
                             long t, dgm_err *err);
void dgm__sharded_free(dgm__sharded *g);
/* The update of a store the ranks share (par.h, "Shared memory"), once each rank has summed
 * its segment [off, off + cnt) of the gradient in place and all agree that it is finite:
 * with clipping, the whole gradient's factor (read after a fence) and this rank's segment
 * scaled (after another); the optimizer's step t on the segment; a fence, after which every
 * rank reads the new values. Collective. Also the image VAE's (vae_shard.c). */
void dgm__shared_update(dgm__par_shm *shm, dgm_params *pp, const dgm_optim_cfg *opt, long t,
                        size_t off, size_t cnt);

#endif
