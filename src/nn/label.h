/* A one-hot label y in 0..C-1 as an input of a layer: e_y W^T is the column W[:, y] of W
 * (H x C, torch.nn.Linear(C, H, bias=False).weight), so the forward adds a column and the
 * backward adds a row's gradient into one column, never a product with the one-hot. The
 * class-conditional MADE and flows feed their labels through these (docs/math.md,
 * "Class-conditional MADE"). po, where given, is a plan's output order (nn/masked.h):
 * position o' holds unit po[o']; NULL is the identity. */
#ifndef DGM_NN_LABEL_H
#define DGM_NN_LABEL_H

#include <stddef.h>
#include <stdint.h>

/* cols[c][o'] = W[po[o']][c] (C x H): W's columns in a plan's order, once per update. */
void dgm__label_columns(float *cols, const float *W, const int32_t *po, size_t H, size_t C);
/* z[b] += cols[y[b]] for B rows of H. */
void dgm__label_add(float *z, const float *cols, const int32_t *y, size_t B, size_t H);
/* z[b][j] += W[j][y[b]] for B rows of H, straight from W (H x C). */
void dgm__label_add_w(float *z, const float *W, const int32_t *y, size_t B, size_t H, size_t C);
/* dW[po[o']][y[b]] += dz[b][o'] for B rows of H. */
void dgm__label_grad(float *dW, const float *dz, const int32_t *po, const int32_t *y, size_t B,
                     size_t H, size_t C);

#endif
