/* Work spread over threads and MPI ranks with results that do not depend on the spread
 * (docs/design.md, "Deterministic reductions"). A batch of B rows is cut into micro-shards
 * of S rows (the last one holds the remainder, B - S floor((B-1)/S) rows); each shard's
 * contribution (a gradient, sufficient statistics, a sum of log-likelihoods) is computed
 * on its own, on one thread, into a buffer of its own, and the buffers are summed in one
 * fixed binary tree over the shard indices. Threads and ranks only decide who computes
 * which shard, so the sum has the same bits at any --threads and any number of ranks.
 *
 * The process-wide context is the MPI communicator (MPI_COMM_WORLD in a build with
 * MPI=1; one process otherwise) and the micro-shard size. Rank r of R computes the
 * contiguous shards [n r / R, n (r + 1) / R). */
#ifndef DGM_PAR_PAR_H
#define DGM_PAR_PAR_H

#include "dgm.h"

/* The default micro-shard size: 2 shards of the reference VAE's batch of 128, one per core of a
 * 2-core machine (32, 4 shards, cost 15-30% more time there: docs/scaling.md). */
#define DGM__MICRO_DEFAULT 64

/* MPI_Init_thread when built with MPI (funneled: only the main thread calls MPI), else
 * nothing. A binary without MPI started by mpirun with more than one process fails here
 * with a message saying so, rather than running N copies that each write the outputs. */
dgm_status dgm__par_init(int *argc, char ***argv, dgm_err *err);
void dgm__par_finalize(void);
/* Stops every rank at once (MPI_Abort; exit otherwise), for failures outside the
 * collective error path. */
void dgm__par_abort(int code);
int dgm__par_rank(void);
int dgm__par_size(void);
/* 1 when built with MPI. */
int dgm__par_mpi(void);

/* The micro-shard size S (rows), DGM__MICRO_DEFAULT until set; 0 restores the default.
 * dgm__par_micro_given: whether it was set (by --micro-batch or a resumed state): MADE and
 * the flows take the whole batch as one shard unless it was (optim/sharded.h). */
size_t dgm__par_micro(void);
int dgm__par_micro_given(void);
void dgm__par_set_micro(size_t S);

/* Shards of a batch of B rows: ceil(B / S); shard i has rows [*r0, *r1). */
size_t dgm__shard_count(size_t B, size_t S);
void dgm__shard_rows(size_t *r0, size_t *r1, size_t i, size_t B, size_t S);
/* DGM_ERR_ARG (saying what to change) when the ranks outnumber the shards of S rows of a
 * full batch of B, each rank needing at least one; DGM_OK otherwise. */
dgm_status dgm__par_check_shards(size_t B, size_t S, dgm_err *err);
/* The shards [*lo, *hi) of n that this rank computes. */
void dgm__shard_mine(size_t *lo, size_t *hi, size_t n);

/* Rows scored on their own (a log-likelihood per example, an E-step's responsibilities):
 * n rows cut into blocks of `block` rows, each rank taking its contiguous blocks.
 * dgm__par_rows_mine gives this rank's rows [*r0, *r1) (possibly none); once every rank
 * has filled its rows of out (row_bytes each), dgm__par_share_rows sends each rank's rows
 * to every rank (MPI_Bcast from their owner), so all ranks hold the one-process result
 * bit for bit when a row's value does not depend on the rows computed with it. Collective:
 * every rank calls it alike, after dgm__par_agree on its status. */
void dgm__par_rows_mine(size_t *r0, size_t *r1, size_t n, size_t block);
void dgm__par_share_rows(void *out, size_t n, size_t block, size_t row_bytes);

/* The fixed-tree sum over shards: bufs[i] holds shard i's len values (this rank's shards
 * filled, the others' buffers present); on return bufs[0] holds the sum on every rank.
 * Every buffer that an add reads as its right operand is left zero, which is every buffer
 * but bufs[0] that held a value (this rank's shards, and the nodes other ranks sent): a
 * caller whose buffers start zero (calloc) can add its next shards into them unzeroed. Node [lo, hi) of the tree has the
 * children [lo, m) and [m, hi), m = lo + ceil((hi - lo) / 2), and is computed as
 * left + right in the buffer of lo; a rank adds the nodes inside its shards, then the
 * largest such nodes go to every rank (MPI_Bcast from their owner) and every rank adds
 * the rest of the tree. Elements are independent, so the adds run over threads. */
dgm_status dgm__par_tree_sum_f(float *const *bufs, size_t n, size_t len, dgm_err *err);
dgm_status dgm__par_tree_sum_d(double *const *bufs, size_t n, size_t len, dgm_err *err);

/* The segmented sum, for R > 1 ranks (a reduce-scatter in the tree's order): each rank's
 * segment of len elements is [*off, *off + *cnt) (dgm__par_segment); the largest nodes
 * inside one rank's shards are sent segment by segment to the segments' ranks, and each
 * rank adds the rest of the tree over its own segment only. On return bufs[0] holds the
 * sum on this rank's segment (the bits of dgm__par_tree_sum_f there; elsewhere bufs[0]
 * holds partial sums), and the buffers are left as dgm__par_tree_sum_f leaves them, zero
 * but bufs[0]. A caller whose update is element by element (Adam, SGD) updates its segment
 * and shares it with dgm__par_allgather_segments: each rank then adds and updates 1/R of
 * the buffer rather than all of it (docs/scaling.md). On one rank it is the plain sum. */
dgm_status dgm__par_tree_sum_seg_f(float *const *bufs, size_t n, size_t len, size_t *off,
                                   size_t *cnt, dgm_err *err);
/* Rank `rank`'s segment of a buffer of len elements: an equal share, its start rounded up
 * to 16 elements. */
void dgm__par_segment(size_t *off, size_t *cnt, size_t len, int rank);
/* 1 when a buffer of len elements is summed by segments: more than one rank, and
 * segments whose counts fit MPI's ints. */
int dgm__par_segmented(size_t len);
/* Every rank's segment of buf (len elements of elem bytes, 4 or 8) sent to every rank
 * (MPI_Allgatherv in place). Collective. */
void dgm__par_allgather_segments(void *buf, size_t len, size_t elem);
/* A nonblocking send (send = 1) or receive of n elements of elem bytes with rank peer,
 * completed with the others posted by dgm__par_wait. */
dgm_status dgm__par_post(void *buf, size_t n, size_t elem, int peer, int send, dgm_err *err);
dgm_status dgm__par_wait(dgm_err *err);

/* Shared memory: when every rank runs on one machine, buffers that the ranks would send
 * each other can instead live in one window that every rank maps (par/shm.c), so that the
 * tree sum reads the other ranks' shards where they lie and the parameters are one copy.
 * dgm__par_shm_create (collective) sets *out to bytes of such memory (a different address
 * on each rank, the same bytes), or to NULL with DGM_OK when there is one rank, no MPI,
 * ranks on more than one machine, or DGM_MPI_SHM=0 in the environment: the caller then
 * keeps buffers of its own and sends messages (DGM_MPI_SHM=1 makes those cases but the
 * first an error). Its contents start undefined. */
typedef struct dgm__par_shm dgm__par_shm;
dgm_status dgm__par_shm_create(dgm__par_shm **out, size_t bytes, dgm_err *err);
void *dgm__par_shm_base(const dgm__par_shm *s);
/* Collective: every rank's stores before it are seen by every rank's loads after it
 * (MPI_Win_sync, MPI_Barrier, MPI_Win_sync). */
void dgm__par_shm_fence(dgm__par_shm *s);
/* Collective (a fence first); NULL is nothing. */
void dgm__par_shm_free(dgm__par_shm *s);
/* The segmented sum of dgm__par_tree_sum_seg_f over buffers in s that every rank sees:
 * after a fence (every rank's shards are in place), this rank adds the whole tree over
 * its segment [*off, *off + *cnt) in place, with no messages. On return bufs[0] holds
 * the sum on this rank's segment, and the buffers are zeroed as dgm__par_tree_sum_f
 * leaves them once every rank has returned; a caller fences before reading other
 * segments. */
void dgm__par_tree_sum_shm_f(float *const *bufs, size_t n, size_t len, size_t *off,
                             size_t *cnt, dgm__par_shm *s);

/* Every rank learns the first failure: s and the message of the lowest rank whose s is
 * not DGM_OK are returned (and copied into err) on every rank; DGM_OK if none failed. */
dgm_status dgm__par_agree(dgm_status s, dgm_err *err);
/* Whether flag is set on any rank, on every rank: for decisions a rank makes from its own
 * state (a stop signal, its clock against a time limit), which all ranks must take alike or
 * the next collective waits forever. Collective. */
int dgm__par_any(int flag);
/* v[0..n) summed over the ranks in place, on every rank: integer counts, so that the order
 * of the sum does not matter. Collective. */
void dgm__par_sum_u32(uint32_t *v, size_t n);
/* v[0..n) replaced by the elementwise least over the ranks, on every rank. Collective. */
void dgm__par_min_u32(uint32_t *v, size_t n);
/* The least of every rank's x, on every rank. Collective. */
uint64_t dgm__par_min_u64(uint64_t x);
/* Broadcasts n bytes from rank 0, or from root. */
void dgm__par_bcast(void *buf, size_t n);
void dgm__par_bcast_from(void *buf, size_t n, int root);

#endif
