/* Labels as a layer's input: columns added forward, gradients into one column back
 * (label.h). */
#include "nn/label.h"

void dgm__label_columns(float *cols, const float *W, const int32_t *po, size_t H, size_t C)
{
    for (size_t o = 0; o < H; o++) {
        const float *w = W + (po ? (size_t)po[o] : o) * C;
        for (size_t c = 0; c < C; c++)
            cols[c * H + o] = w[c];
    }
}

void dgm__label_add(float *z, const float *cols, const int32_t *y, size_t B, size_t H)
{
    for (size_t b = 0; b < B; b++) {
        const float *c = cols + (size_t)y[b] * H;
        float *zb = z + b * H;
        for (size_t o = 0; o < H; o++)
            zb[o] += c[o];
    }
}

void dgm__label_add_w(float *z, const float *W, const int32_t *y, size_t B, size_t H, size_t C)
{
    for (size_t b = 0; b < B; b++) {
        const float *w = W + (size_t)y[b];
        float *zb = z + b * H;
        for (size_t j = 0; j < H; j++)
            zb[j] += w[j * C];
    }
}

void dgm__label_grad(float *dW, const float *dz, const int32_t *po, const int32_t *y, size_t B,
                     size_t H, size_t C)
{
    for (size_t b = 0; b < B; b++) {
        const float *g = dz + b * H;
        float *d = dW + (size_t)y[b];
        for (size_t o = 0; o < H; o++)
            d[(po ? (size_t)po[o] : o) * C] += g[o];
    }
}
