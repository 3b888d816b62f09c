/* Elementwise activations and their derivatives, with the same definitions as torch.nn
 * (ReLU, LeakyReLU(0.01), Tanh, Sigmoid, Softplus(beta=1), ELU(alpha=1)).
 * Derivatives are taken from the output where that is cheaper and exact
 * (tanh' = 1 - y^2, sigmoid' = y (1 - y), elu'(x<0) = y + 1). */
#include "dgm_blocks.h"
#include "nn/nn.h"

#include <math.h>
#include <string.h>

static const char *const names[] = {"identity", "relu", "leaky_relu", "tanh",
                                    "sigmoid", "softplus", "elu"};

int dgm_act_from_name(const char *name)
{
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (!strcmp(name, names[i]))
            return i;
    if (!strcmp(name, "leaky-relu") || !strcmp(name, "leakyrelu"))
        return DGM_ACT_LEAKY_RELU;
    if (!strcmp(name, "none") || !strcmp(name, "linear"))
        return DGM_ACT_IDENTITY;
    return -1;
}

const char *dgm_act_name(dgm_act a)
{
    return (unsigned)a < sizeof names / sizeof names[0] ? names[a] : "unknown";
}

static inline float sigmoidf_stable(float x)
{
    if (x >= 0)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

void dgm_act_forward(dgm_act a, float *y, const float *x, size_t n)
{
    switch (a) {
    case DGM_ACT_IDENTITY:
        if (y != x)
            memmove(y, x, n * sizeof *y);
        break;
    case DGM_ACT_RELU:
        #pragma omp simd
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] > 0 ? x[i] : 0.0f;
        break;
    case DGM_ACT_LEAKY_RELU:
        #pragma omp simd
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] > 0 ? x[i] : 0.01f * x[i];
        break;
    case DGM_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            y[i] = tanhf(x[i]);
        break;
    case DGM_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            y[i] = sigmoidf_stable(x[i]);
        break;
    case DGM_ACT_SOFTPLUS: /* max(x, 0) + log1p(e^-|x|): no overflow for large |x| */
        for (size_t i = 0; i < n; i++)
            y[i] = (x[i] > 0 ? x[i] : 0.0f) + log1pf(expf(-fabsf(x[i])));
        break;
    case DGM_ACT_ELU:
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] > 0 ? x[i] : expm1f(x[i]);
        break;
    }
}

void dgm__act_grad_inplace(dgm_act a, float *g, const float *x, const float *y, size_t n)
{
    switch (a) {
    case DGM_ACT_IDENTITY:
        break;
    case DGM_ACT_RELU:
        #pragma omp simd
        for (size_t i = 0; i < n; i++)
            g[i] = x[i] > 0 ? g[i] : 0.0f;
        break;
    case DGM_ACT_LEAKY_RELU:
        #pragma omp simd
        for (size_t i = 0; i < n; i++)
            g[i] *= x[i] > 0 ? 1.0f : 0.01f;
        break;
    case DGM_ACT_TANH:
        #pragma omp simd
        for (size_t i = 0; i < n; i++)
            g[i] *= 1.0f - y[i] * y[i];
        break;
    case DGM_ACT_SIGMOID:
        #pragma omp simd
        for (size_t i = 0; i < n; i++)
            g[i] *= y[i] * (1.0f - y[i]);
        break;
    case DGM_ACT_SOFTPLUS: /* d/dx log(1 + e^x) = sigmoid(x) */
        for (size_t i = 0; i < n; i++)
            g[i] *= sigmoidf_stable(x[i]);
        break;
    case DGM_ACT_ELU:
        #pragma omp simd
        for (size_t i = 0; i < n; i++)
            g[i] *= x[i] > 0 ? 1.0f : y[i] + 1.0f;
        break;
    }
}

void dgm_act_backward(dgm_act a, float *dx, const float *dy, const float *x, const float *y,
                      size_t n)
{
    /* dx += dy * act'(x), element by element; the derivative is shared with the in-place
     * form by applying it to a one-element copy of dy. */
    for (size_t i = 0; i < n; i++) {
        float g = dy[i];
        dgm__act_grad_inplace(a, &g, x + i, y + i, 1);
        dx[i] += g;
    }
}
