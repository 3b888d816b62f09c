/* Multilayer perceptron: Linear, act, ..., Linear[, out_act], as torch.nn.Sequential.
 * Forward keeps each layer's pre-activation z_i and output a_i in scratch reserved once for
 * the largest batch; backward walks the layers in reverse, turning the gradient with
 * respect to a_i into one with respect to z_i in place (g *= act'(z_i)), then through the
 * linear layer (docs/math.md, "MLP backward"). Two ping-pong buffers hold the running
 * gradient, so backward never allocates. */
#include "dgm_blocks.h"
#include "core/assert.h"
#include "nn/nn.h"

#include <stdlib.h>
#include <string.h>

struct dgm_mlp {
    dgm_params *p;
    int      n_layers;
    size_t  *dims;       /* n_layers + 1 */
    int     *w_idx, *b_idx;
    dgm_act  act, out_act;
    size_t   max_B, max_dim;
    float  **z, **a;     /* per layer, max_B x dims[i+1]; a[i] == z[i] if identity */
    float   *g0, *g1;    /* gradient ping-pong, max_B x max_dim */
    const float *x;      /* input of the last forward (caller keeps it alive) */
    size_t   B;
};

static dgm_act layer_act(const dgm_mlp *m, int i)
{
    return i == m->n_layers - 1 ? m->out_act : m->act;
}

dgm_mlp *dgm_mlp_create(dgm_params *p, const char *prefix, const size_t *dims, int n_layers,
                        dgm_act act, dgm_act out_act)
{
    DGM_ASSERT(n_layers >= 1);
    dgm_mlp *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->p = p;
    m->n_layers = n_layers;
    m->act = act;
    m->out_act = out_act;
    m->dims = malloc((size_t)(n_layers + 1) * sizeof *m->dims);
    m->w_idx = malloc((size_t)n_layers * sizeof(int));
    m->b_idx = malloc((size_t)n_layers * sizeof(int));
    m->z = calloc((size_t)n_layers, sizeof(float *));
    m->a = calloc((size_t)n_layers, sizeof(float *));
    if (!m->dims || !m->w_idx || !m->b_idx || !m->z || !m->a) {
        dgm_mlp_free(m);
        return NULL;
    }
    memcpy(m->dims, dims, (size_t)(n_layers + 1) * sizeof *dims);
    for (int i = 0; i <= n_layers; i++)
        if (dims[i] > m->max_dim)
            m->max_dim = dims[i];
    for (int i = 0; i < n_layers; i++) {
        char name[96];
        size_t ws[2] = {dims[i + 1], dims[i]};
        /* torch.nn.Sequential numbering: Linear at 0, act at 1, Linear at 2, ... */
        snprintf(name, sizeof name, "%s.%d.weight", prefix, 2 * i);
        m->w_idx[i] = dgm_params_add(p, name, ws, 2);
        snprintf(name, sizeof name, "%s.%d.bias", prefix, 2 * i);
        m->b_idx[i] = dgm_params_add(p, name, &ws[0], 1);
        if (m->w_idx[i] < 0 || m->b_idx[i] < 0) {
            dgm_mlp_free(m);
            return NULL;
        }
    }
    return m;
}

static void free_scratch(dgm_mlp *m)
{
    for (int i = 0; i < m->n_layers; i++) {
        if (m->a[i] != m->z[i])
            free(m->a[i]);
        free(m->z[i]);
        m->a[i] = m->z[i] = NULL;
    }
    free(m->g0);
    free(m->g1);
    m->g0 = m->g1 = NULL;
    m->max_B = 0;
}

void dgm_mlp_free(dgm_mlp *m)
{
    if (!m)
        return;
    if (m->z && m->a)
        free_scratch(m);
    free(m->dims);
    free(m->w_idx);
    free(m->b_idx);
    free(m->z);
    free(m->a);
    free(m);
}

void dgm_mlp_init(dgm_mlp *m, dgm_rng *rng)
{
    for (int i = 0; i < m->n_layers; i++)
        dgm_linear_init(rng, dgm_params_tensor(m->p, m->w_idx[i]),
                        dgm_params_tensor(m->p, m->b_idx[i]), m->dims[i], m->dims[i + 1]);
}

dgm_status dgm_mlp_reserve(dgm_mlp *m, size_t max_B, dgm_err *err)
{
    if (max_B <= m->max_B)
        return DGM_OK;
    free_scratch(m);
    for (int i = 0; i < m->n_layers; i++) {
        m->z[i] = dgm_malloc_array(max_B, m->dims[i + 1] * sizeof(float));
        m->a[i] = layer_act(m, i) == DGM_ACT_IDENTITY
                      ? m->z[i] : dgm_malloc_array(max_B, m->dims[i + 1] * sizeof(float));
        if (!m->z[i] || !m->a[i])
            goto fail;
    }
    m->g0 = dgm_malloc_array(max_B, m->max_dim * sizeof(float));
    m->g1 = dgm_malloc_array(max_B, m->max_dim * sizeof(float));
    if (!m->g0 || !m->g1)
        goto fail;
    m->max_B = max_B;
    return DGM_OK;
fail:
    free_scratch(m);
    return dgm_errf(err, DGM_ERR_NOMEM, "out of memory reserving MLP scratch for batch %zu", max_B);
}

const float *dgm_mlp_forward(dgm_mlp *m, const float *x, size_t B)
{
    DGM_ASSERT(B <= m->max_B);
    m->x = x;
    m->B = B;
    const float *in = x;
    for (int i = 0; i < m->n_layers; i++) {
        size_t O = m->dims[i + 1];
        dgm_linear_forward(m->z[i], in, dgm_params_tensor(m->p, m->w_idx[i]),
                           dgm_params_tensor(m->p, m->b_idx[i]), B, m->dims[i], O);
        if (m->a[i] != m->z[i])
            dgm_act_forward(layer_act(m, i), m->a[i], m->z[i], B * O);
        in = m->a[i];
    }
    return in;
}

void dgm_mlp_backward(dgm_mlp *m, float *dx, float *dy, size_t B)
{
    DGM_ASSERT(B == m->B);
    float *g = dy;
    for (int i = m->n_layers - 1; i >= 0; i--) {
        size_t I = m->dims[i], O = m->dims[i + 1];
        dgm__act_grad_inplace(layer_act(m, i), g, m->z[i], m->a[i], B * O);
        const float *in = i ? m->a[i - 1] : m->x;
        const float *W = dgm_params_tensor(m->p, m->w_idx[i]);
        dgm_linear_backward(NULL, dgm_params_tensor_grad(m->p, m->w_idx[i]),
                            dgm_params_tensor_grad(m->p, m->b_idx[i]), g, in, W, B, I, O);
        if (i > 0) {
            /* the next gradient goes to whichever scratch buffer g is not */
            float *next = g == m->g0 ? m->g1 : m->g0;
            dgm_gemm(DGM_NOTRANS, DGM_NOTRANS, B, I, O, 1.0f, g, O, W, I, 0.0f, next, I);
            g = next;
        } else if (dx) {
            dgm_gemm(DGM_NOTRANS, DGM_NOTRANS, B, I, O, 1.0f, g, O, W, I, 1.0f, dx, I);
        }
    }
}

size_t dgm_mlp_in(const dgm_mlp *m) { return m->dims[0]; }
size_t dgm_mlp_out(const dgm_mlp *m) { return m->dims[m->n_layers]; }
