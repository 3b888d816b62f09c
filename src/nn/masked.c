/* Masked linear layer for MADE (masked.h). Reference: Germain, Gregor, Murray, Larochelle,
 * "MADE: Masked Autoencoder for Distribution Estimation", ICML 2015, section 4 (masks from
 * unit degrees); karpathy/pytorch-made's MaskedLinear (the same layer as a module with the
 * mask as a buffer). The mask is never stored: it is recomputed from the degrees, O x I
 * comparisons, when the weights are masked and when the weight gradient is. Left out:
 * the direct input-to-output connections of the paper's section 4.3. */
#include "nn/masked.h"
#include "core/par.h"

static inline int keep(int32_t dout, int32_t din, int strict)
{
    return strict ? dout > din : dout >= din;
}

void dgm__masked_weights(float *Wm, const float *W, const int32_t *deg_out,
                         const int32_t *deg_in, size_t O, size_t I, int strict)
{
    long Ol = (long)O;
#pragma omp parallel for schedule(static) if (O * I >= DGM__PAR_MIN)
    for (long o = 0; o < Ol; o++) {
        const float *w = W + (size_t)o * I;
        float *wm = Wm + (size_t)o * I;
        int32_t d = deg_out[o];
        for (size_t i = 0; i < I; i++)
            wm[i] = keep(d, deg_in[i], strict) ? w[i] : 0.0f;
    }
}

void dgm__masked_forward(float *y, const float *x, const float *Wm, const float *b,
                         size_t B, size_t I, size_t O)
{
    dgm_linear_forward(y, x, Wm, b, B, I, O);
}

void dgm__masked_backward(float *dx, float *dW, float *db, float *scratch, const float *dy,
                          const float *x, const float *Wm, const int32_t *deg_out,
                          const int32_t *deg_in, size_t B, size_t I, size_t O, int strict)
{
    if (dW) {
        /* scratch = dy^T x, the dense gradient; only the kept entries reach dW */
        dgm_gemm(DGM_TRANS, DGM_NOTRANS, O, I, B, 1.0f, dy, O, x, I, 0.0f, scratch, I);
        long Ol = (long)O;
#pragma omp parallel for schedule(static) if (O * I >= DGM__PAR_MIN)
        for (long o = 0; o < Ol; o++) {
            const float *g = scratch + (size_t)o * I;
            float *w = dW + (size_t)o * I;
            int32_t d = deg_out[o];
            for (size_t i = 0; i < I; i++)
                if (keep(d, deg_in[i], strict))
                    w[i] += g[i];
        }
    }
    dgm_linear_backward(dx, NULL, db, dy, x, Wm, B, I, O);
}
