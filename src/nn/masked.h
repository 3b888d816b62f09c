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


/* The staircase plan of a masked layer, for products that skip the mask's zeros.
 * Sorting the inputs and the outputs by degree (stably), the inputs output o keeps are a
 * prefix of the sorted inputs, and the prefix grows with o: W . M is a staircase. Rows of
 * the sorted outputs are taken in blocks of rb; block b's product only reads its longest
 * prefix, so the layer costs about half the dense one (docs/math.md, "MADE").
 * Activations of a plan live in the sorted order: hidden units keep it from layer to
 * layer (the next layer's inputs sort as this layer's outputs, the same degrees and the
 * same stable rule), and only the network's own inputs and outputs are permuted
 * (dgm__mlayer_gather / _scatter; the identity for natural orderings, then skipped).
 * Each block is one single-threaded product of a shape fixed by the degrees and rb, its
 * threads only deciding which blocks they take: the same bits at any thread count. */
typedef struct {
    size_t O, I, rb;
    int32_t *po, *pi;       /* sorted position -> output unit (O), input unit (I) */
    int32_t *pref;          /* O: sorted output o' keeps sorted inputs [0, pref[o']) */
    int in_identity, out_identity;
    int tails_zero;         /* Ws's masked-out tails are zero for this order: _weights
                             * then copies the prefixes alone */
    float *Ws, *bs;         /* O x I sorted masked weights, O sorted biases */
    uint64_t *key;          /* max(O, I): scratch of the sort */
} dgm__mlayer;

/* Space for an O x I layer with row blocks of rb (>= 1); _free releases (and zeroes). */
dgm_status dgm__mlayer_init(dgm__mlayer *L, size_t O, size_t I, size_t rb, dgm_err *err);
void dgm__mlayer_free(dgm__mlayer *L);
/* The plan of W (O x I) and b (O, may be NULL: zero) under these degrees: _order sorts
 * the units and finds the prefixes (once per mask), _weights copies the masked weights
 * into the sorted layout (again after every update), _set does both. */
void dgm__mlayer_order(dgm__mlayer *L, const int32_t *deg_out, const int32_t *deg_in,
                       int strict);
void dgm__mlayer_weights(dgm__mlayer *L, const float *W, const float *b);
void dgm__mlayer_set(dgm__mlayer *L, const float *W, const float *b, const int32_t *deg_out,
                     const int32_t *deg_in, int strict);
/* ys (B x O, sorted) = xs (B x I, sorted) Ws^T + bs. */
void dgm__mlayer_forward(const dgm__mlayer *L, float *ys, const float *xs, size_t B);
/* With dys (B x O, sorted), adds into dW and db (parameter layout, either may be NULL)
 * and writes dxs (B x I, sorted; may be NULL). scratch: O x I when dW is given. */
void dgm__mlayer_backward(const dgm__mlayer *L, float *dxs, float *dW, float *db,
                          float *scratch, const float *dys, const float *xs, size_t B);
/* xs[b][i'] = x[b][pi[i']]: rows in the parameter order into the plan's input order. */
void dgm__mlayer_gather_in(const dgm__mlayer *L, float *xs, const float *x, size_t B);
/* x[b][pi[i']] = xs[b][i']: an input gradient back into the parameter order. */
void dgm__mlayer_scatter_in(const dgm__mlayer *L, float *x, const float *xs, size_t B);
/* y[b][po[o']] = ys[b][o']: outputs back into the parameter order; _gather_out the other
 * way (a gradient with respect to the outputs into the sorted order). */
void dgm__mlayer_scatter_out(const dgm__mlayer *L, float *y, const float *ys, size_t B);
void dgm__mlayer_gather_out(const dgm__mlayer *L, float *ys, const float *y, size_t B);

#endif
