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

typedef struct {
    size_t S, P, cap;   /* rows per shard, gradient floats, buffers held */
    float **bufs;       /* cap: bufs[0] is the store's gradient while a step runs */
} dgm__sharded;

/* Rows [r0, r1) of the batch: their forward and backward, adding into the store's
 * gradient (wherever it points then) and writing their values. */
typedef void (*dgm__rows_fn)(void *ctx, size_t r0, size_t r1);

/* Shards of S rows for batches of up to B rows of a store of P floats: S is --micro-batch
 * when given (or a resumed run's), else B, one shard, which is the fastest on one process
 * (measured: shards of 64 of MADE's batch of 100 cost 27% at 2 threads, its products
 * being thread-parallel already). DGM_ERR_ARG when the ranks outnumber a full batch's
 * shards. */
dgm_status dgm__sharded_init(dgm__sharded *g, size_t B, size_t P, const char *what,
                             dgm_err *err);
/* One step's gradient, into pp's gradient (which the caller zeroed): fn over this rank's
 * shards of b rows, the tree's sum, and vals (b values of val_bytes each, written by fn for
 * its rows) shared with every rank. */
dgm_status dgm__sharded_grad(dgm__sharded *g, dgm_params *pp, size_t b, dgm__rows_fn fn,
                             void *ctx, void *vals, size_t val_bytes, dgm_err *err);
void dgm__sharded_free(dgm__sharded *g);

#endif
