/* MAF: the masked autoregressive flow (Papamakarios, Pavlakou, Murray, NeurIPS 2017,
 * section 3): K layers z_d = (u_d - m_d) exp(-a_d) with (m, a) = MADE_k(u) autoregressive
 * in u (nn/masked.h), a bounded as tanh, orderings alternating natural and reversed, after
 * the logit transform of realnvp.c; a standard normal base. Density: one pass per layer;
 * sampling: each layer inverted in D passes, batched over the samples. docs/math.md,
 * "MAF". A class-conditional MAF (the paper's conditional MAF) feeds the label into each
 * MADE as the class-conditional MADE does: the first hidden layer (layers.<k>.cond.weight)
 * and the outputs (layers.<k>.cond_out.weight). Left out: batch normalisation between
 * layers, the MoG-base variant, random hidden degrees (the degrees are j mod (D - 1), MADE's deterministic
 * assignment, so the file needs no mask tables). */
#include "models/flow/flow.h"
#include "core/fastmath.h"
#include "core/par.h"
#include "nn/label.h"
#include "nn/masked.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOG_2PI 1.8378770664093453
#define NL_MAX 5 /* 4 hidden layers and the output */
#define MAF_BLOCK 64 /* rows per block of the staircase products (nn/masked.h) */

typedef struct dgm__maf {
    dgm_flow_cfg cfg;
    size_t D, dims[NL_MAX + 1], max_w, max_oi;
    int K, nl;
    dgm_params *p;
    int iW[FLOW_MAX_COUPLINGS][NL_MAX], ib[FLOW_MAX_COUPLINGS][NL_MAX];
    int32_t *deg;                 /* K blocks of (D + hidden + 2D) unit degrees */
    size_t deg_off[NL_MAX + 1], deg_n;
    float *Wm;                    /* masked weights of every layer, parameter layout (the
                                   * inverse's); the density runs on the plans */
    size_t wm_off[FLOW_MAX_COUPLINGS][NL_MAX];
    dgm__mlayer ml[FLOW_MAX_COUPLINGS][NL_MAX]; /* staircase plans (nn/masked.h) */
    int stale, wm_stale;          /* the plans' weights, Wm: older than the parameters */
    size_t cap;
    float *u[FLOW_MAX_COUPLINGS + 1];          /* cap x D: layer inputs, u[K] = z */
    float *h[FLOW_MAX_COUPLINGS][NL_MAX];      /* cap x dims[l+1]: pre-activations; the last
                                                * is the output (m, r) */
    float *ha[FLOW_MAX_COUPLINGS][NL_MAX];     /* after ReLU (hidden layers) */
    float *a[FLOW_MAX_COUPLINGS];              /* cap x D: tanh(r) */
    float *g, *gn, *dz, *da, *dW;
    float *xs, *ys;               /* cap x D, cap x 2D: a layer's input and output in its
                                   * plan's order */
    double *ld;
    int C, iC[FLOW_MAX_COUPLINGS], iCo[FLOW_MAX_COUPLINGS]; /* classes (0: none); the
                                   * labels' weights into layer 1 (H1 x C), outputs (2D x C) */
    float *cols;                  /* K x C x H1: cond.weight's columns in layer 1's plan order */
} dgm__maf;

#define MAF(m) ((dgm__maf *)(m)->impl)

static void maf_destroy(void *impl)
{
    dgm__maf *p = impl;
    if (!p)
        return;
    for (int k = 0; k <= FLOW_MAX_COUPLINGS; k++)
        dgm_free(p->u[k]);
    for (int k = 0; k < FLOW_MAX_COUPLINGS; k++) {
        dgm_free(p->a[k]);
        for (int l = 0; l < NL_MAX; l++)
            dgm_free(p->h[k][l]), dgm_free(p->ha[k][l]);
    }
    dgm_free(p->g), dgm_free(p->gn), dgm_free(p->dz), dgm_free(p->da), dgm_free(p->dW);
    dgm_free(p->ld), dgm_free(p->xs), dgm_free(p->ys);
    for (int k = 0; k < FLOW_MAX_COUPLINGS; k++)
        for (int l = 0; l < NL_MAX; l++)
            dgm__mlayer_free(&p->ml[k][l]);
    dgm_params_free(p->p);
    free(p->deg);
    dgm_free(p->Wm);
    dgm_free(p->cols);
    free(p);
}

static int32_t *layer_deg(const dgm__maf *p, int k, int l) /* unit degrees of layer l's inputs */
{
    return p->deg + (size_t)k * p->deg_n + p->deg_off[l];
}

dgm_status dgm__maf_new(dgm__maf **out, const dgm_flow_cfg *c, dgm_err *err)
{
    *out = NULL;
    if (c->dim < 2 || c->n_couplings < 1 || c->n_couplings > FLOW_MAX_COUPLINGS ||
        c->n_hidden < 1 || c->n_hidden > NL_MAX - 1)
        return dgm_errf(err, DGM_ERR_ARG, "maf: %zu dimensions, %d layers, %d hidden layers: "
                        "need D >= 2, 1 to %d layers and 1 to %d hidden layers", c->dim,
                        c->n_couplings, c->n_hidden, FLOW_MAX_COUPLINGS, NL_MAX - 1);
    for (int l = 0; l < c->n_hidden; l++)
        if (c->hidden[l] < 1 || c->hidden[l] > 65536)
            return dgm_errf(err, DGM_ERR_ARG, "maf: hidden width %zu is outside 1..65536",
                            c->hidden[l]);
    if (!(c->alpha >= 0 && c->alpha < 0.5))
        return dgm_errf(err, DGM_ERR_ARG, "maf: alpha %g is outside [0, 0.5)", c->alpha);
    if (c->n_classes < 0 || c->n_classes > 65536)
        return dgm_errf(err, DGM_ERR_ARG, "maf: %d classes; 0 to 65536 are supported",
                        c->n_classes);
    dgm__maf *p = calloc(1, sizeof *p);
    if (!p)
        return dgm_errf(err, DGM_ERR_NOMEM, "maf: out of memory");
    p->cfg = *c;
    p->D = c->dim, p->K = c->n_couplings, p->nl = c->n_hidden + 1;
    size_t D = p->D;
    p->dims[0] = D;
    for (int l = 0; l < c->n_hidden; l++)
        p->dims[l + 1] = c->hidden[l];
    p->dims[p->nl] = 2 * D;
    for (int l = 0; l <= p->nl; l++) {
        p->deg_off[l] = p->deg_n, p->deg_n += p->dims[l];
        p->max_w = p->dims[l] > p->max_w ? p->dims[l] : p->max_w;
        if (l < p->nl && p->dims[l] * p->dims[l + 1] > p->max_oi)
            p->max_oi = p->dims[l] * p->dims[l + 1];
    }
    p->p = dgm_params_create();
    size_t nW = 0;
    int ok = p->p != NULL;
    for (int k = 0; ok && k < p->K; k++)
        for (int l = 0; ok && l < p->nl; l++) {
            char name[96];
            size_t shW[2] = {p->dims[l + 1], p->dims[l]}, shb[1] = {p->dims[l + 1]};
            snprintf(name, sizeof name, "layers.%d.net.%d.weight", k, 2 * l);
            p->iW[k][l] = dgm_params_add(p->p, name, shW, 2);
            snprintf(name, sizeof name, "layers.%d.net.%d.bias", k, 2 * l);
            p->ib[k][l] = dgm_params_add(p->p, name, shb, 1);
            ok = p->iW[k][l] >= 0 && p->ib[k][l] >= 0;
            p->wm_off[k][l] = nW;
            nW += p->dims[l + 1] * p->dims[l];
        }
    p->C = c->n_classes;
    for (int k = 0; ok && p->C && k < p->K; k++) {
        char name[96];
        size_t sh[2] = {p->dims[1], (size_t)p->C}, sho[2] = {2 * D, (size_t)p->C};
        snprintf(name, sizeof name, "layers.%d.cond.weight", k);
        ok = (p->iC[k] = dgm_params_add(p->p, name, sh, 2)) >= 0;
        snprintf(name, sizeof name, "layers.%d.cond_out.weight", k);
        ok = ok && (p->iCo[k] = dgm_params_add(p->p, name, sho, 2)) >= 0;
    }
    if (!ok || dgm_params_alloc(p->p, err) ||
        !(p->deg = dgm_malloc_array((size_t)p->K, p->deg_n * sizeof(int32_t))) ||
        !(p->Wm = dgm_malloc_array(nW, sizeof(float))) ||
        (p->C && !(p->cols = dgm_malloc_array((size_t)p->K * (size_t)p->C,
                                              p->dims[1] * sizeof(float))))) {
        maf_destroy(p);
        return dgm_errf(err, DGM_ERR_NOMEM, "maf: out of memory for the layers");
    }
    /* degrees: inputs and outputs the rank (natural in even layers, reversed in odd ones),
     * hidden units j mod (D - 1) */
    for (int k = 0; k < p->K; k++) {
        for (size_t d = 0; d < D; d++) {
            int32_t r = (int32_t)(k % 2 ? D - 1 - d : d);
            layer_deg(p, k, 0)[d] = r;
            layer_deg(p, k, p->nl)[d] = r, layer_deg(p, k, p->nl)[D + d] = r;
        }
        for (int l = 1; l < p->nl; l++)
            for (size_t j = 0; j < p->dims[l]; j++)
                layer_deg(p, k, l)[j] = (int32_t)(j % (D - 1));
    }
    /* the degrees are fixed: each layer's orders and prefixes once */
    for (int k = 0; k < p->K; k++)
        for (int l = 0; l < p->nl; l++) {
            dgm_status s = dgm__mlayer_init(&p->ml[k][l], p->dims[l + 1], p->dims[l],
                                            MAF_BLOCK, err);
            if (s) {
                maf_destroy(p);
                return s;
            }
            dgm__mlayer_order(&p->ml[k][l], layer_deg(p, k, l + 1), layer_deg(p, k, l),
                              l == p->nl - 1);
        }
    p->stale = p->wm_stale = 1;
    *out = p;
    return DGM_OK;
}

static void refresh(dgm__maf *p)
{
    if (!p->stale)
        return;
    for (int k = 0; k < p->K; k++)
        for (int l = 0; l < p->nl; l++)
            dgm__mlayer_weights(&p->ml[k][l], dgm_params_tensor(p->p, p->iW[k][l]),
                                dgm_params_tensor(p->p, p->ib[k][l]));
    for (int k = 0; p->C && k < p->K; k++)
        dgm__label_columns(p->cols + (size_t)k * (size_t)p->C * p->dims[1],
                           dgm_params_tensor(p->p, p->iC[k]), p->ml[k][0].po, p->dims[1],
                           (size_t)p->C);
    p->stale = 0;
}

static void refresh_dense(dgm__maf *p)
{
    if (!p->wm_stale)
        return;
    for (int k = 0; k < p->K; k++)
        for (int l = 0; l < p->nl; l++)
            dgm__masked_weights(p->Wm + p->wm_off[k][l], dgm_params_tensor(p->p, p->iW[k][l]),
                                layer_deg(p, k, l + 1), layer_deg(p, k, l), p->dims[l + 1],
                                p->dims[l], l == p->nl - 1);
    p->wm_stale = 0;
}

static dgm_status maf_reserve(dgm__maf *p, size_t B, dgm_err *err)
{
    if (B <= p->cap)
        return DGM_OK;
    int ok = 1;
    size_t D = p->D;
    for (int k = 0; k <= p->K; k++) {
        dgm_free(p->u[k]);
        ok = ok && (p->u[k] = dgm_malloc_array(B, D * sizeof(float)));
        if (k == p->K)
            continue;
        dgm_free(p->a[k]);
        ok = ok && (p->a[k] = dgm_malloc_array(B, D * sizeof(float)));
        for (int l = 0; l < p->nl; l++) {
            dgm_free(p->h[k][l]), dgm_free(p->ha[k][l]);
            ok = ok && (p->h[k][l] = dgm_malloc_array(B, p->dims[l + 1] * sizeof(float)));
            ok = ok && (p->ha[k][l] = dgm_malloc_array(B, p->dims[l + 1] * sizeof(float)));
        }
    }
    dgm_free(p->g), dgm_free(p->gn), dgm_free(p->dz), dgm_free(p->da), dgm_free(p->ld);
    dgm_free(p->xs), dgm_free(p->ys);
    p->xs = dgm_malloc_array(B, D * sizeof(float));
    p->ys = dgm_malloc_array(B, 2 * D * sizeof(float));
    p->g = dgm_malloc_array(B, D * sizeof(float));
    p->gn = dgm_malloc_array(B, D * sizeof(float));
    p->dz = dgm_malloc_array(B, p->max_w * sizeof(float));
    p->da = dgm_malloc_array(B, p->max_w * sizeof(float));
    p->ld = dgm_malloc_array(B, sizeof(double));
    if (!p->dW)
        p->dW = dgm_malloc_array(p->max_oi, sizeof(float));
    if (!ok || !p->g || !p->gn || !p->dz || !p->da || !p->ld || !p->dW || !p->xs || !p->ys) {
        p->cap = 0;
        return dgm_errf(err, DGM_ERR_NOMEM, "maf: out of memory for batches of %zu", B);
    }
    p->cap = B;
    return DGM_OK;
}

/* The MADE of layer k on B rows of in: the output (m, r) in h[k][nl-1]. The layers run
 * on their plans, the hidden units in the plans' order (h and ha hold them so); the input
 * is permuted in (reversed layers) and the output out. */
static const float *made_forward(dgm__maf *p, int k, const float *in, const int32_t *lab,
                                size_t B)
{
    const int nl = p->nl;
    if (!p->ml[k][0].in_identity) {
        dgm__mlayer_gather_in(&p->ml[k][0], p->xs, in, B);
        in = p->xs;
    }
    for (int l = 0; l < nl; l++) {
        float *y = l < nl - 1 || p->ml[k][l].out_identity ? p->h[k][l] : p->ys;
        dgm__mlayer_forward(&p->ml[k][l], y, in, B);
        if (l == 0 && lab) /* + cond.weight[:, y_b] */
            dgm__label_add(y, p->cols + (size_t)k * (size_t)p->C * p->dims[1], lab, B,
                           p->dims[1]);
        if (l < nl - 1) {
            dgm_act_forward(DGM_ACT_RELU, p->ha[k][l], p->h[k][l], B * p->dims[l + 1]);
            in = p->ha[k][l];
        }
    }
    if (!p->ml[k][nl - 1].out_identity)
        dgm__mlayer_scatter_out(&p->ml[k][nl - 1], p->h[k][nl - 1], p->ys, B);
    if (lab) /* + cond_out.weight[:, y_b]: the layer's first coordinate sees no hidden unit */
        dgm__label_add_w(p->h[k][nl - 1], dgm_params_tensor(p->p, p->iCo[k]), lab, B, 2 * p->D,
                         (size_t)p->C);
    return p->h[k][nl - 1];
}

/* Backward through layer k's MADE from dout (B x 2D, overwritten), adding its input
 * gradient into dx (B x D; NULL: not computed). */
static void made_backward(dgm__maf *p, int k, float *dout, float *dx, const int32_t *lab,
                          size_t B)
{
    const dgm__mlayer *L0 = &p->ml[k][0], *Ll = &p->ml[k][p->nl - 1];
    if (lab)
        dgm__label_grad(dgm_params_tensor_grad(p->p, p->iCo[k]), dout, NULL, lab, B, 2 * p->D,
                        (size_t)p->C);
    float *dz = dout;
    if (!Ll->out_identity) {
        dgm__mlayer_gather_out(Ll, p->ys, dout, B);
        dz = p->ys;
    }
    for (int l = p->nl - 1; l >= 0; l--) {
        size_t I = p->dims[l];
        const float *in = l ? p->ha[k][l - 1] : p->u[k];
        if (l == 0 && !L0->in_identity) { /* the layer's input, in the plan's order again */
            dgm__mlayer_gather_in(L0, p->xs, p->u[k], B);
            in = p->xs;
        }
        dgm__mlayer_backward(&p->ml[k][l], l || dx ? p->da : NULL,
                             dgm_params_tensor_grad(p->p, p->iW[k][l]),
                             dgm_params_tensor_grad(p->p, p->ib[k][l]), p->dW, dz, in, B);
        if (l == 0 && lab) /* d cond.weight[po[o'], y_b] += dz[b][o'] */
            dgm__label_grad(dgm_params_tensor_grad(p->p, p->iC[k]), dz, L0->po, lab, B,
                            p->dims[1], (size_t)p->C);
        if (l == 0) { /* added into dx, in the parameter order */
            for (size_t b = 0; dx && b < B; b++)
                for (size_t i = 0; i < I; i++)
                    dx[b * I + (size_t)L0->pi[i]] += p->da[b * I + i];
        } else {
            memset(p->dz, 0, B * I * sizeof *p->dz);
            dgm_act_backward(DGM_ACT_RELU, p->dz, p->da, p->h[k][l - 1], p->ha[k][l - 1], B * I);
            dz = p->dz;
        }
    }
}

void dgm__maf_forward_backward(dgm__maf *p, double *lp, const float *x, const int32_t *y,
                               const float *dscale, float *dx, size_t B)
{
    size_t D = p->D;
    const int32_t *lab = p->C ? y : NULL;
    refresh(p);
    if (p->cfg.alpha > 0) {
        dgm__logit_forward(p->u[0], lp, x, B, D, p->cfg.alpha);
    } else {
        memcpy(p->u[0], x, B * D * sizeof *x);
        for (size_t b = 0; b < B; b++)
            lp[b] = 0;
    }
    for (size_t b = 0; b < B; b++)
        p->ld[b] = 0;
    for (int k = 0; k < p->K; k++) {
        const float *mr = made_forward(p, k, p->u[k], lab, B);
        const float *u = p->u[k];
        float *z = p->u[k + 1], *a = p->a[k];
        /* rows in parallel, each in one order: the same bits at any thread count */
#pragma omp parallel for schedule(static) if (B * D >= DGM__PAR_MIN)
        for (size_t b = 0; b < B; b++) {
            double l = 0;
#pragma omp simd reduction(+ : l)
            for (size_t d = 0; d < D; d++) {
                size_t i = b * D + d;
                a[i] = dgm__tanhf(mr[b * 2 * D + D + d]);
                z[i] = (u[i] - mr[b * 2 * D + d]) * dgm__expf(-a[i]);
                l += a[i];
            }
            p->ld[b] -= l;
        }
    }
    const float *z = p->u[p->K];
#pragma omp parallel for schedule(static) if (B * D >= DGM__PAR_MIN)
    for (size_t b = 0; b < B; b++) {
        double q = 0;
        for (size_t d = 0; d < D; d++)
            q += (double)z[b * D + d] * z[b * D + d];
        lp[b] += -0.5 * q - 0.5 * (double)D * LOG_2PI + p->ld[b];
    }
    if (!dscale)
        return;
    /* L = sum_b dscale_b (-log p_b); layer k backward (docs/math.md, "MAF"):
     * dL/dm = -g e^-a, dL/da = -g (u - m) e^-a + dscale (from -log det = sum a),
     * dL/dr = dL/da (1 - a^2), dL/du = g e^-a + MADE_k^T [dL/dm, dL/dr] */
    float *g = p->g, *gn = p->gn;
    for (size_t b = 0; b < B; b++)
        for (size_t d = 0; d < D; d++)
            g[b * D + d] = dscale[b] * z[b * D + d];
    for (int k = p->K - 1; k >= 0; k--) {
        float *mr = p->h[k][p->nl - 1]; /* overwritten with its gradient */
        const float *u = p->u[k], *a = p->a[k];
#pragma omp parallel for schedule(static) if (B * D >= DGM__PAR_MIN)
        for (size_t b = 0; b < B; b++)
#pragma omp simd
            for (size_t d = 0; d < D; d++) {
                size_t i = b * D + d;
                float e = dgm__expf(-a[i]), m = mr[b * 2 * D + d];
                float dm = -g[i] * e, dal = -g[i] * (u[i] - m) * e + dscale[b];
                gn[i] = g[i] * e;
                mr[b * 2 * D + d] = dm;
                mr[b * 2 * D + D + d] = dal * (1.0f - a[i] * a[i]);
            }
        /* the first layer's input gradient only when the data's is asked for: training
         * skips that product */
        made_backward(p, k, mr, k > 0 || dx ? gn : NULL, lab, B);
        float *t = g;
        g = gn, gn = t;
    }
    if (dx) {
        if (p->cfg.alpha > 0) {
            double *dl = dgm_malloc_array(B, sizeof *dl);
            if (dl) {
                for (size_t b = 0; b < B; b++)
                    dl[b] = -(double)dscale[b];
                dgm__logit_backward(dx, g, dl, x, B, D, p->cfg.alpha);
                dgm_free(dl);
            }
        } else {
            for (size_t i = 0; i < B * D; i++)
                dx[i] += g[i];
        }
    }
}

// --------------------------------------------------------------------------- ops ---

#define MAF_CHUNK 256

dgm_status dgm__maf_forward(dgm_model *m, float *z, double *logdet, const float *x,
                            const int32_t *y, size_t n, dgm_err *err)
{
    dgm__maf *p = MAF(m);
    size_t D = p->D, chunk = n < MAF_CHUNK ? n : MAF_CHUNK;
    dgm_status s = maf_reserve(p, chunk ? chunk : 1, err);
    double lp[MAF_CHUNK];
    for (size_t a = 0; !s && a < n; a += chunk) {
        size_t b = a + chunk < n ? a + chunk : n;
        dgm__maf_forward_backward(p, lp, x + a * D, p->C && y ? y + a : NULL, NULL, NULL, b - a);
        memcpy(z + a * D, p->u[p->K], (b - a) * D * sizeof *z);
        for (size_t i = a; logdet && i < b; i++) {
            double q = 0;
            for (size_t d = 0; d < D; d++)
                q += (double)z[i * D + d] * z[i * D + d];
            logdet[i] = lp[i - a] + 0.5 * q + 0.5 * (double)D * LOG_2PI;
        }
    }
    return s;
}

/* The inverse of each layer in D steps, all rows at once: u_v = z_v e^{a_v} + m_v in the
 * layer's order. The MADE's first layer is linear in u and a step sets one coordinate, so
 * its pre-activations are updated by that column of the masked weights (kept transposed,
 * D x H1) times the new value instead of recomputed; the later layers run in full. */
dgm_status dgm__maf_inverse(dgm_model *m, float *x, const float *z, const int32_t *lab,
                            size_t n, dgm_err *err)
{
    dgm__maf *p = MAF(m);
    size_t D = p->D, chunk = n < MAF_CHUNK ? n : MAF_CHUNK, H1 = p->dims[1];
    dgm_status s = maf_reserve(p, chunk ? chunk : 1, err);
    float *WT = s ? NULL : dgm_malloc_array(D, H1 * sizeof *WT);
    if (!s && !WT)
        s = dgm_errf(err, DGM_ERR_NOMEM, "maf: out of memory");
    refresh_dense(p);
    for (size_t a = 0; !s && a < n; a += chunk) {
        size_t B = (a + chunk < n ? a + chunk : n) - a;
        memcpy(p->u[p->K], z + a * D, B * D * sizeof *z);
        for (int k = p->K - 1; k >= 0; k--) {
            float *u = p->u[k], *pre0 = p->h[k][0];
            const float *zk = p->u[k + 1], *W0 = p->Wm + p->wm_off[k][0];
            const float *b0 = dgm_params_tensor(p->p, p->ib[k][0]);
            for (size_t h = 0; h < H1; h++)
                for (size_t j = 0; j < D; j++)
                    WT[j * H1 + h] = W0[h * D + j];
            memset(u, 0, B * D * sizeof *u);
            const int32_t *la = p->C && lab ? lab + a : NULL;
            const float *Wco = la ? dgm_params_tensor(p->p, p->iCo[k]) : NULL;
            for (size_t b = 0; b < B; b++)
                memcpy(pre0 + b * H1, b0, H1 * sizeof *pre0);
            if (la) /* the label's column of cond.weight beside the bias */
                dgm__label_add_w(pre0, dgm_params_tensor(p->p, p->iC[k]), la, B, H1,
                                 (size_t)p->C);
            for (size_t t = 0; t < D; t++) {
                size_t v = k % 2 ? D - 1 - t : t;
                dgm_act_forward(DGM_ACT_RELU, p->ha[k][0], pre0, B * H1);
                const float *in = p->ha[k][0];
                for (int l = 1; l < p->nl - 1; l++) {
                    dgm__masked_forward(p->h[k][l], in, p->Wm + p->wm_off[k][l],
                                        dgm_params_tensor(p->p, p->ib[k][l]), B, p->dims[l],
                                        p->dims[l + 1]);
                    dgm_act_forward(DGM_ACT_RELU, p->ha[k][l], p->h[k][l], B * p->dims[l + 1]);
                    in = p->ha[k][l];
                }
                /* the output layer for variable v only: its rows v (shift) and D + v */
                size_t Hl = p->dims[p->nl - 1];
                const float *Wl = p->Wm + p->wm_off[k][p->nl - 1];
                const float *bl = dgm_params_tensor(p->p, p->ib[k][p->nl - 1]);
                const float *c = WT + v * H1;
                for (size_t b = 0; b < B; b++) {
                    double mv = bl[v], rv = bl[D + v];
                    if (la) {
                        mv += Wco[v * (size_t)p->C + (size_t)la[b]];
                        rv += Wco[(D + v) * (size_t)p->C + (size_t)la[b]];
                    }
                    for (size_t h = 0; h < Hl; h++) {
                        mv += (double)in[b * Hl + h] * Wl[v * Hl + h];
                        rv += (double)in[b * Hl + h] * Wl[(D + v) * Hl + h];
                    }
                    float val = zk[b * D + v] * dgm__expf(dgm__tanhf((float)rv)) + (float)mv;
                    u[b * D + v] = val;
                    float *pr = pre0 + b * H1;
                    for (size_t h = 0; h < H1; h++)
                        pr[h] += c[h] * val;
                }
            }
        }
        double al = p->cfg.alpha;
        for (size_t i = 0; i < B * D; i++)
            x[a * D + i] = al > 0 ? (float)((1.0 / (1.0 + exp(-(double)p->u[0][i])) - al) /
                                             (1 - 2 * al))
                                  : p->u[0][i];
    }
    dgm_free(WT);
    return s;
}

static dgm_status maf_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                               const int32_t *y, size_t n, int k, dgm_err *err)
{
    (void)rng, (void)k;
    dgm__maf *p = MAF(m);
    size_t chunk = n < MAF_CHUNK ? n : MAF_CHUNK;
    dgm_status s = maf_reserve(p, chunk ? chunk : 1, err);
    for (size_t a = 0; !s && a < n; a += chunk) {
        size_t b = a + chunk < n ? a + chunk : n;
        dgm__maf_forward_backward(p, out + a, x + a * p->D, p->C ? y + a : NULL, NULL, NULL,
                                  b - a);
    }
    return s;
}

static dgm_status maf_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y,
                             size_t n, int mean, dgm_err *err)
{
    size_t D = m->dim;
    float *z = dgm_malloc_array(n ? n : 1, D * sizeof *z);
    if (!z)
        return dgm_errf(err, DGM_ERR_NOMEM, "maf: out of memory for %zu samples", n);
    for (size_t i = 0; i < n; i++) {
        dgm_rng r;
        dgm_rng_fork(&r, rng, (uint64_t)i);
        if (mean)
            memset(z + i * D, 0, D * sizeof *z);
        else
            dgm_rng_fill_normal(&r, z + i * D, D);
    }
    dgm_status s = dgm__maf_inverse(m, out, z, m->n_classes ? y : NULL, n, err);
    for (size_t i = 0; !s && MAF(m)->cfg.alpha > 0 && i < n * D; i++)
        out[i] = out[i] < 0.0f ? 0.0f : out[i] > 1.0f ? 1.0f : out[i];
    dgm_free(z);
    return s;
}

static dgm_status maf_save(const dgm_model *m, const char *path, dgm_err *err)
{
    return dgm__flow_save_params(m, MAF(m)->p, &MAF(m)->cfg, path, err);
}

static void maf_describe(const dgm_model *m, cJSON *o) { dgm__flow_describe_cfg(&MAF(m)->cfg, o); }

void dgm__maf_set_block(dgm_model *m, size_t rb)
{
    for (int k = 0; k < MAF(m)->K; k++)
        for (int l = 0; l < MAF(m)->nl; l++)
            MAF(m)->ml[k][l].rb = rb;
}

static void maf_mark(dgm_model *m) { MAF(m)->stale = MAF(m)->wm_stale = 1; }

const dgm__model_ops dgm__maf_ops = {
    .type = "maf", .log_prob = maf_log_prob, .sample = maf_sample, .save = maf_save,
    .destroy = maf_destroy, .describe = maf_describe, .fit = &dgm__flow_fit_ops};

/* For flow_fit.c: the parameter store, the step's forward/backward and the update hook. */
dgm_params *dgm__maf_params(dgm_model *m) { return MAF(m)->p; }
dgm_status dgm__maf_reserve(dgm_model *m, size_t B, dgm_err *err) { return maf_reserve(MAF(m), B, err); }
void dgm__maf_step(dgm_model *m, double *lp, const float *x, const int32_t *y,
                   const float *dscale, size_t B)
{
    dgm__maf_forward_backward(MAF(m), lp, x, y, dscale, NULL, B);
}
void dgm__maf_updated(dgm_model *m) { maf_mark(m); }
const dgm_flow_cfg *dgm__maf_cfg(const dgm_model *m) { return &MAF(m)->cfg; }

dgm_model *dgm__maf_model(dgm__maf *p, dgm_rng *rng)
{
    if (rng)
        for (int k = 0; k < p->K; k++)
            for (int l = 0; l < p->nl; l++)
                dgm_linear_init(rng, dgm_params_tensor(p->p, p->iW[k][l]),
                                dgm_params_tensor(p->p, p->ib[k][l]), p->dims[l], p->dims[l + 1]);
    for (int k = 0; rng && p->C && k < p->K; k++) {
        dgm_linear_init(rng, dgm_params_tensor(p->p, p->iC[k]), NULL, (size_t)p->C, p->dims[1]);
        dgm_linear_init(rng, dgm_params_tensor(p->p, p->iCo[k]), NULL, (size_t)p->C, 2 * p->D);
    }
    dgm_model *m = dgm__model_new(&dgm__maf_ops, p);
    if (!m)
        return NULL;
    m->dim = p->D;
    m->exact = 1;
    snprintf(m->likelihood, sizeof m->likelihood, "%s", p->cfg.alpha > 0 ? "dequantized" : "continuous");
    m->n_params = dgm_params_count(p->p);
    m->height = p->cfg.height, m->width = p->cfg.width;
    if (m->height * m->width != m->dim)
        m->height = m->width = 0;
    if (dgm__model_set_classes(m, p->C)) {
        m->impl = NULL; /* the caller still owns p */
        dgm_model_free(m);
        return NULL;
    }
    return m;
}

void dgm__maf_free(dgm__maf *p) { maf_destroy(p); }
dgm_params *dgm__maf_store(dgm__maf *p) { return p->p; }
