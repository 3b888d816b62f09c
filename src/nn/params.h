/* The parameter store's internal entry points for code outside src/nn: a worker's view
 * of another store's parameters, and a store's gradient moved to another buffer (the
 * micro-shards of the deterministic reduction, src/par/par.h). */
#ifndef DGM_NN_PARAMS_H
#define DGM_NN_PARAMS_H

#include "dgm_blocks.h"

/* Points p's values and gradients at buffers of another store with the same layout (count
 * floats each), freeing p's own buffers and optimizer moments: p then reads those values
 * and adds its gradients into grad. Called again, it moves the gradient to another buffer.
 * dgm_params_free frees neither borrowed buffer. */
void dgm__params_share(dgm_params *p, float *data, float *grad);
/* Points p's gradient at grad (count floats, kept by the caller) and returns the buffer it
 * pointed at: the micro-shards of one store (optim/sharded.c) add into buffers of their
 * own, and the caller puts the store's own buffer back before anything else reads it. */
float *dgm__params_set_grad(dgm_params *p, float *grad);

#endif
