/* The parameter store's internal entry points for code outside src/nn: a worker's view
 * of another store's parameters, and a store's gradient moved to another buffer (the
 * micro-shards of the deterministic reduction, src/par/par.h). */
#ifndef DGM_NN_PARAMS_H
#define DGM_NN_PARAMS_H

#include "dgm_blocks.h"
#include "par/par.h"

/* Points p's values and gradients at buffers of another store with the same layout (count
 * floats each), freeing p's own buffers and optimizer moments: p then reads those values
 * and adds its gradients into grad. Called again, it moves the gradient to another buffer.
 * dgm_params_free frees neither borrowed buffer. */
void dgm__params_share(dgm_params *p, float *data, float *grad);
/* Points p's gradient at grad (count floats, kept by the caller) and returns the buffer it
 * pointed at: the micro-shards of one store (optim/sharded.c) add into buffers of their
 * own, and the caller puts the store's own buffer back before anything else reads it. */
float *dgm__params_set_grad(dgm_params *p, float *grad);

/* The values, gradients and optimizer moments of p moved into memory of the caller's
 * (the ranks' shared window, par.h): mem holds four runs of dgm__params_stride(p) floats,
 * data, grad, m and v in that order, kept by the caller until it moves them back. With
 * copy set, p's current buffers are copied there (one rank fills the shared memory for
 * all); either way p's own buffers are freed. With mem NULL they move back into buffers of
 * p's own, copied from where they were (DGM_ERR_NOMEM leaves them where they were). */
size_t dgm__params_stride(const dgm_params *p);
dgm_status dgm__params_place(dgm_params *p, float *mem, int copy, dgm_err *err);
/* Collective (par.h): where the ranks share one machine, *out is a window holding p (moved
 * there with rank 0's values, dgm__params_place) and after it n - 1 zeroed buffers of
 * dgm__params_stride(p) floats, which bufs[1..n) then point at (the micro-shards'
 * gradients); elsewhere *out is NULL and nothing moves. */
dgm_status dgm__params_enter_shm(dgm_params *p, float **bufs, size_t n, dgm__par_shm **out,
                                 dgm_err *err);
/* Collective (par.h): p, placed in the ranks' shared memory s, back into memory of its own
 * on every rank, then s freed. If any rank runs out of memory for that, s stays mapped and
 * that rank's store stays in it (memory lost, no values). */
void dgm__params_leave_shm(dgm_params *p, dgm__par_shm *s);

#endif
