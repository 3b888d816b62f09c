/* The optimizer step over one range of the parameters, for a caller that updates only its
 * segment (src/par/par.h, the segmented sum): the updates are element by element, so a
 * range gets the bits the whole step gives it. No clipping: that needs the whole norm. */
#ifndef DGM_OPTIM_OPTIM_H
#define DGM_OPTIM_OPTIM_H

#include "dgm_blocks.h"

/* The step t on parameters [off, off + cnt) of p; returns the learning rate. */
float dgm__optim_step_range(const dgm_optim_cfg *c, dgm_params *p, long t, size_t off,
                            size_t cnt);

/* The factor dgm_clip_grad_norm would scale g[0..n) by, or 1 when it would leave g as it
 * is. It only reads g, so ranks that share g each compute it, and scale their own part,
 * once all of them have read it. */
float dgm__clip_factor(const float *g, size_t n, double max_norm);

#endif
