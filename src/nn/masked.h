/* Masked linear layer (MADE, Germain et al. 2015, eq. 8-10): y = x (W . M)^T + b with the
 * 0/1 mask M given by unit degrees, M[o][i] = [deg_out[o] >= deg_in[i]] between hidden
 * layers and [deg_out[o] > deg_in[i]] into the outputs (strict). The mask is applied once
 * to the weights (dgm__masked_weights), so the forward and the input gradient are the
 * dense products of dgm_linear_* on W . M and cost what the dense layer costs; only dW
 * needs the mask again. Backward (docs/math.md, "MADE"):
 *   dW += (dy^T x) . M      dgm_gemm into scratch (O x I), then masked accumulation
 *   db += sum_b dy
 *   dx += dy (W . M)
 * Shapes: W, Wm, scratch (O x I), deg_out (O), deg_in (I), x (B x I), dy (B x O). */
#ifndef DGM_NN_MASKED_H
#define DGM_NN_MASKED_H

#include "dgm_blocks.h"

/* Wm = W . M for the mask of these degrees (strict: output layer). */
void dgm__masked_weights(float *Wm, const float *W, const int32_t *deg_out,
                         const int32_t *deg_in, size_t O, size_t I, int strict);
/* y = x Wm^T + b (b may be NULL): the dense forward on the masked weights. */
void dgm__masked_forward(float *y, const float *x, const float *Wm, const float *b,
                         size_t B, size_t I, size_t O);
/* Adds the gradients as above; any of dx, dW, db may be NULL; scratch (O x I) is needed
 * with dW. */
void dgm__masked_backward(float *dx, float *dW, float *db, float *scratch, const float *dy,
                          const float *x, const float *Wm, const int32_t *deg_out,
                          const int32_t *deg_in, size_t B, size_t I, size_t O, int strict);

#endif
