/* The parameter store's one internal entry point for code outside src/nn: a worker's view
 * of another store's parameters (the micro-shard workers of the deterministic reduction,
 * src/par/par.h). */
#ifndef DGM_NN_PARAMS_H
#define DGM_NN_PARAMS_H

#include "dgm_blocks.h"

/* Points p's values and gradients at buffers of another store with the same layout (count
 * floats each), freeing p's own buffers and optimizer moments: p then reads those values
 * and adds its gradients into grad. Called again, it moves the gradient to another buffer.
 * dgm_params_free frees neither borrowed buffer. */
void dgm__params_share(dgm_params *p, float *data, float *grad);

#endif
