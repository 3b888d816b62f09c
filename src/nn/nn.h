/* Private helpers shared inside src/nn. */
#ifndef DGM_NN_NN_H
#define DGM_NN_NN_H

#include "dgm.h"

/* g *= act'(x) in place, with y = act(x). */
void dgm__act_grad_inplace(dgm_act a, float *g, const float *x, const float *y, size_t n);

#endif
