/* Fully connected layer with torch.nn.Linear's layout and initialisation:
 * y = x W^T + b, W (O x I), b (O). Backward (docs/math.md, "Linear layer"):
 *   dW += dy^T x      (O x B)(B x I)
 *   db += sum_b dy    column sums
 *   dx += dy W        (B x O)(O x I)
 * All three are products through dgm_gemm, the only BLAS caller. */
#include "dgm_blocks.h"
#include "core/par.h"

#include <math.h>
#include <string.h>

void dgm_linear_forward(float *y, const float *x, const float *W, const float *b,
                        size_t B, size_t I, size_t O)
{
    /* Start from the bias rows so the product accumulates onto them (beta = 1). */
    if (b) {
        /* threaded when large: evaluation runs 4,000-row batches through 784 outputs */
        long Bl = (long)B;
#pragma omp parallel for schedule(static) if (B * O >= DGM__PAR_MIN)
        for (long r = 0; r < Bl; r++)
            memcpy(y + (size_t)r * O, b, O * sizeof *y);
    }
    dgm_gemm(DGM_NOTRANS, DGM_TRANS, B, O, I, 1.0f, x, I, W, I, b ? 1.0f : 0.0f, y, O);
}

void dgm_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                         const float *W, size_t B, size_t I, size_t O)
{
    if (dW)
        dgm_gemm(DGM_TRANS, DGM_NOTRANS, O, I, B, 1.0f, dy, O, x, I, 1.0f, dW, I);
    if (db)
        dgm_sum_rows(db, dy, B, O);
    if (dx)
        dgm_gemm(DGM_NOTRANS, DGM_NOTRANS, B, I, O, 1.0f, dy, O, W, I, 1.0f, dx, I);
}

void dgm_linear_init(dgm_rng *rng, float *W, float *b, size_t I, size_t O)
{
    /* kaiming_uniform_(a = sqrt(5)) gives bound sqrt(6 / ((1 + 5) I)) = 1 / sqrt(I); the
     * bias uses the same bound. */
    float bound = I ? 1.0f / sqrtf((float)I) : 0.0f;
    for (size_t i = 0; i < O * I; i++)
        W[i] = bound * (2.0f * dgm_rng_uniform(rng) - 1.0f);
    if (b)
        for (size_t i = 0; i < O; i++)
            b[i] = bound * (2.0f * dgm_rng_uniform(rng) - 1.0f);
}
