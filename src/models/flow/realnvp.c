/* RealNVP with MLP conditioners (Dinh, Sohl-Dickstein, Bengio, "Density estimation using
 * Real NVP", ICLR 2017, section 3: affine coupling layers, alternating masks, the logit
 * preprocessing of section 4.1): the layout, the logit transform and its log-determinant,
 * the batched forward with every Jacobian term and its backward, the inverse, exact log p,
 * sampling and the files. docs/math.md, "RealNVP", derives it. A class-conditional flow
 * adds the label's column of couplings.<k>.cond.weight to each conditioner's first hidden
 * layer (every transformed coordinate's s and t read those units). Left out: the multi-scale
 * convolutional architecture, batch normalisation and the learned scale on tanh. */
#include "models/flow/flow.h"
#include "core/fastmath.h"
#include "core/assert.h"
#include "core/par.h"
#include "nn/label.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOG_2PI 1.8378770664093453

dgm_flow_cfg dgm_flow_defaults(void)
{
    dgm_flow_cfg c;
    memset(&c, 0, sizeof c);
    c.n_couplings = 8;
    c.hidden[0] = 1000;
    c.n_hidden = 1;
    c.alpha = 0.05;
    return c;
}

const dgm_flow_cfg *dgm_flow_config(const dgm_model *m)
{
    if (m && m->ops == &dgm__maf_ops)
        return dgm__maf_cfg(m);
    return m && m->ops == &dgm__flow_ops ? &FLOW(m)->cfg : NULL;
}

// --------------------------------------------------------------------------- layout ---

static void flow_destroy(void *impl)
{
    dgm__flow *p = impl;
    if (!p)
        return;
    for (int k = 0; k < FLOW_MAX_COUPLINGS; k++) {
        dgm_mlp_free(p->net[k]);
        dgm_free(p->xm[k]);
        dgm_free(p->s[k]);
    }
    for (int k = 0; k <= FLOW_MAX_COUPLINGS; k++)
        dgm_free(p->y[k]);
    for (int k = 0; k < FLOW_MAX_COUPLINGS; k++)
        for (int l = 0; l < FLOW_NL_MAX; l++) {
            dgm__mlayer_free(&p->ml[k][l]);
            dgm_free(p->h[k][l]), dgm_free(p->ha[k][l]);
        }
    dgm_free(p->ys), dgm_free(p->da), dgm_free(p->dz), dgm_free(p->dW);
    dgm_params_free(p->p);
    dgm_free(p->cols);
    free(p->mask);
    dgm_free(p->g), dgm_free(p->gn), dgm_free(p->gst), dgm_free(p->gx), dgm_free(p->ld);
    free(p);
}

static dgm_status plan_couplings(dgm__flow *p, const size_t *dims, dgm_err *err);

static dgm_status flow_new(dgm__flow **out, const dgm_flow_cfg *c, dgm_err *err)
{
    *out = NULL;
    if (c->dim < 2 || c->dim > (1u << 20))
        return dgm_errf(err, DGM_ERR_ARG, "realnvp: %zu dimensions; a coupling flow needs 2 to "
                        "2^20", c->dim);
    if (c->n_couplings < 1 || c->n_couplings > FLOW_MAX_COUPLINGS)
        return dgm_errf(err, DGM_ERR_ARG, "realnvp: %d coupling layers; 1 to %d are supported",
                        c->n_couplings, FLOW_MAX_COUPLINGS);
    if (c->n_hidden < 1 || c->n_hidden > 4)
        return dgm_errf(err, DGM_ERR_ARG, "realnvp: %d hidden layers; 1 to 4 are supported",
                        c->n_hidden);
    for (int l = 0; l < c->n_hidden; l++)
        if (c->hidden[l] < 1 || c->hidden[l] > 65536)
            return dgm_errf(err, DGM_ERR_ARG, "realnvp: hidden width %zu is outside 1..65536",
                            c->hidden[l]);
    if (!(c->alpha >= 0 && c->alpha < 0.5))
        return dgm_errf(err, DGM_ERR_ARG, "realnvp: alpha %g is outside [0, 0.5)", c->alpha);
    if (c->n_classes < 0 || c->n_classes > 65536)
        return dgm_errf(err, DGM_ERR_ARG, "realnvp: %d classes; 0 to 65536 are supported",
                        c->n_classes);
    dgm__flow *p = calloc(1, sizeof *p);
    if (!p)
        return dgm_errf(err, DGM_ERR_NOMEM, "realnvp: out of memory");
    p->cfg = *c;
    p->D = c->dim;
    p->p = dgm_params_create();
    size_t D = p->D, dims[6];
    dims[0] = D;
    for (int l = 0; l < c->n_hidden; l++)
        dims[l + 1] = c->hidden[l];
    dims[c->n_hidden + 1] = 2 * D;
    int ok = p->p != NULL;
    for (int k = 0; ok && k < c->n_couplings; k++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "couplings.%d.net", k);
        ok = (p->net[k] = dgm_mlp_create(p->p, prefix, dims, c->n_hidden + 1, DGM_ACT_RELU,
                                          DGM_ACT_IDENTITY)) != NULL;
    }
    p->C = c->n_classes;
    for (int k = 0; ok && p->C && k < c->n_couplings; k++) {
        char name[64];
        size_t sh[2] = {dims[1], (size_t)p->C};
        snprintf(name, sizeof name, "couplings.%d.cond.weight", k);
        ok = (p->iC[k] = dgm_params_add(p->p, name, sh, 2)) >= 0;
    }
    p->mask = ok ? malloc((size_t)c->n_couplings * D) : NULL;
    if (ok && p->C)
        ok = (p->cols = dgm_malloc_array((size_t)c->n_couplings * (size_t)p->C,
                                         dims[1] * sizeof(float))) != NULL;
    if (!ok || !p->mask || dgm_params_alloc(p->p, err)) {
        flow_destroy(p);
        return dgm_errf(err, DGM_ERR_NOMEM, "realnvp: out of memory for the layers");
    }
    /* alternating masks: a checkerboard on images, alternate coordinates otherwise */
    int img = c->height && c->width && c->height * c->width == D;
    for (int k = 0; k < c->n_couplings; k++)
        for (size_t d = 0; d < D; d++) {
            size_t par = img ? d / c->width + d % c->width : d;
            p->mask[(size_t)k * D + d] = (uint8_t)((par + (size_t)k) & 1);
        }
    dgm_status s = plan_couplings(p, dims, err);
    if (s) {
        flow_destroy(p);
        return s;
    }
    *out = p;
    return DGM_OK;
}

/* The conditioners' plans (flow.h): degrees from the masks, orders and prefixes once. */
static dgm_status plan_couplings(dgm__flow *p, const size_t *dims, dgm_err *err)
{
    size_t D = p->D, wmax = 0;
    p->nl = p->cfg.n_hidden + 1;
    for (int l = 0; l <= p->nl; l++)
        wmax = dims[l] > wmax ? dims[l] : wmax;
    int32_t *deg = malloc((D + wmax + 2 * D) * sizeof *deg);
    if (!deg)
        return dgm_errf(err, DGM_ERR_NOMEM, "realnvp: out of memory");
    int32_t *din = deg, *dh = deg + D, *dout = dh + wmax;
    for (size_t j = 0; j < wmax; j++)
        dh[j] = 0;
    dgm_status s = DGM_OK;
    for (int k = 0; !s && k < p->cfg.n_couplings; k++) {
        const uint8_t *bm = p->mask + (size_t)k * D;
        for (size_t d = 0; d < D; d++) {
            din[d] = bm[d] ? 0 : 1;
            dout[d] = dout[D + d] = bm[d] ? 0 : 1;
        }
        for (int l = 0; !s && l < p->nl; l++) {
            char name[96];
            snprintf(name, sizeof name, "couplings.%d.net.%d.weight", k, 2 * l);
            p->iW[k][l] = dgm_params_find(p->p, name);
            snprintf(name, sizeof name, "couplings.%d.net.%d.bias", k, 2 * l);
            p->ib[k][l] = dgm_params_find(p->p, name);
            DGM_ASSERT(p->iW[k][l] >= 0 && p->ib[k][l] >= 0);
            if ((s = dgm__mlayer_init(&p->ml[k][l], dims[l + 1], dims[l], FLOW_BLOCK, err)))
                break;
            dgm__mlayer_order(&p->ml[k][l], l == p->nl - 1 ? dout : dh, l ? dh : din,
                              l == p->nl - 1);
        }
    }
    free(deg);
    p->stale = 1;
    return s;
}

void dgm__flow_updated(dgm__flow *p) { p->stale = 1; }

void dgm__flow_set_block(dgm__flow *p, size_t rb)
{
    for (int k = 0; k < p->cfg.n_couplings; k++)
        for (int l = 0; l < p->nl; l++)
            p->ml[k][l].rb = rb;
}

static void refresh(dgm__flow *p)
{
    if (!p->stale)
        return;
    for (int k = 0; k < p->cfg.n_couplings; k++)
        for (int l = 0; l < p->nl; l++)
            dgm__mlayer_weights(&p->ml[k][l], dgm_params_tensor(p->p, p->iW[k][l]),
                                dgm_params_tensor(p->p, p->ib[k][l]));
    for (int k = 0; p->C && k < p->cfg.n_couplings; k++) {
        size_t H1 = p->ml[k][0].O;
        dgm__label_columns(p->cols + (size_t)k * (size_t)p->C * H1,
                           dgm_params_tensor(p->p, p->iC[k]), p->ml[k][0].po, H1, (size_t)p->C);
    }
    p->stale = 0;
}

dgm_status dgm__flow_reserve(dgm__flow *p, size_t B, dgm_err *err)
{
    if (B <= p->cap)
        return DGM_OK;
    int K = p->cfg.n_couplings, ok = 1;
    size_t D = p->D;
    for (int k = 0; k <= K; k++) {
        dgm_free(p->y[k]);
        ok = ok && (p->y[k] = dgm_malloc_array(B, D * sizeof(float)));
        if (k < K) {
            dgm_free(p->xm[k]);
            dgm_free(p->s[k]);
            ok = ok && (p->xm[k] = dgm_malloc_array(B, D * sizeof(float)));
            ok = ok && (p->s[k] = dgm_malloc_array(B, D * sizeof(float)));
            for (int l = 0; l < p->nl - 1; l++) {
                size_t W = p->ml[k][l].O;
                dgm_free(p->h[k][l]), dgm_free(p->ha[k][l]);
                ok = ok && (p->h[k][l] = dgm_malloc_array(B, W * sizeof(float)));
                ok = ok && (p->ha[k][l] = dgm_malloc_array(B, W * sizeof(float)));
            }
        }
    }
    size_t wmax = 2 * D, oi = 0;
    for (int l = 0; l < p->nl; l++) {
        const dgm__mlayer *L = &p->ml[0][l];
        wmax = L->O > wmax ? L->O : wmax;
        oi = L->O * L->I > oi ? L->O * L->I : oi;
    }
    dgm_free(p->ys), dgm_free(p->da), dgm_free(p->dz);
    ok = ok && (p->ys = dgm_malloc_array(B, 2 * D * sizeof(float)));
    ok = ok && (p->da = dgm_malloc_array(B, wmax * sizeof(float)));
    ok = ok && (p->dz = dgm_malloc_array(B, wmax * sizeof(float)));
    if (ok && !p->dW)
        ok = (p->dW = dgm_malloc_array(oi, sizeof(float))) != NULL;
    dgm_free(p->g), dgm_free(p->gn), dgm_free(p->gst), dgm_free(p->gx), dgm_free(p->ld);
    p->g = dgm_malloc_array(B, D * sizeof(float));
    p->gn = dgm_malloc_array(B, D * sizeof(float));
    p->gst = dgm_malloc_array(B, 2 * D * sizeof(float));
    p->gx = dgm_malloc_array(B, D * sizeof(float));
    p->ld = dgm_malloc_array(B, sizeof(double));
    if (!ok || !p->g || !p->gn || !p->gst || !p->gx || !p->ld) {
        p->cap = 0;
        return dgm_errf(err, DGM_ERR_NOMEM, "realnvp: out of memory for batches of %zu", B);
    }
    p->cap = B;
    return DGM_OK;
}

// ----------------------------------------------------------------- logit transform ---

void dgm__logit_forward(float *y, double *ld, const float *x, size_t B, size_t D, double alpha)
{
    double c = log(1 - 2 * alpha);
    /* rows in parallel: each row's sums in the one order, the same bits at any count */
#pragma omp parallel for schedule(static) if (B * D >= DGM__PAR_MIN)
    for (size_t b = 0; b < B; b++) {
        double s = 0;
        for (size_t d = 0; d < D; d++) {
            double u = alpha + (1 - 2 * alpha) * (double)x[b * D + d];
            double lu = log(u), l1u = log1p(-u);
            y[b * D + d] = (float)(lu - l1u);
            s += c - lu - l1u;
        }
        ld[b] = s;
    }
}

void dgm__logit_backward(float *dx, const float *dy, const double *dld, const float *x,
                         size_t B, size_t D, double alpha)
{
#pragma omp parallel for schedule(static) if (B * D >= DGM__PAR_MIN)
    for (size_t b = 0; b < B; b++)
        for (size_t d = 0; d < D; d++) {
            double u = alpha + (1 - 2 * alpha) * (double)x[b * D + d], q = u * (1 - u);
            dx[b * D + d] += (float)((1 - 2 * alpha) / q * ((double)dy[b * D + d] +
                                                            dld[b] * (2 * u - 1)));
        }
}

// ---------------------------------------------------------------- coupling layers ---

/* The conditioner of coupling k on its plans, for B rows of y (the parameter order; it
 * reads only the coordinates b_k passes through) and labels lab (NULL without classes):
 * y in the plan's order into xm[k] (the passed-through coordinates first: the only ones
 * its products read), then the layers, then (raw s, t) back in the parameter order into
 * gst (free until the backward), which it returns. The density and the inverse both run
 * it, so they are one function of the weights. */
static const float *conditioner(dgm__flow *p, int k, const float *y, const int32_t *lab,
                                size_t B)
{
    const int nl = p->nl;
    dgm__mlayer_gather_in(&p->ml[k][0], p->xm[k], y, B);
    const float *in = p->xm[k];
    for (int l = 0; l < nl; l++) {
        float *z = l < nl - 1 ? p->h[k][l] : p->ys;
        dgm__mlayer_forward(&p->ml[k][l], z, in, B);
        if (l == 0 && lab) /* + cond.weight[:, y_b] */
            dgm__label_add(z, p->cols + (size_t)k * (size_t)p->C * p->ml[k][0].O, lab, B,
                           p->ml[k][0].O);
        if (l < nl - 1) {
            dgm_act_forward(DGM_ACT_RELU, p->ha[k][l], z, B * p->ml[k][l].O);
            in = p->ha[k][l];
        }
    }
    dgm__mlayer_scatter_out(&p->ml[k][nl - 1], p->gst, p->ys, B);
    return p->gst;
}

/* Coupling k on B rows: y[k+1] = b.y + (1-b).(y exp(s) + t), s = (1-b).tanh(raw), with
 * (raw, t) = net_k(b.y, label); ld[b] += sum_d s. */
static void coupling_forward(dgm__flow *p, int k, const int32_t *lab, size_t B)
{
    size_t D = p->D;
    const uint8_t *bm = p->mask + (size_t)k * D;
    const float *y = p->y[k];
    float *s = p->s[k], *out = p->y[k + 1];
    const float *st = conditioner(p, k, y, lab, B);
#pragma omp parallel for schedule(static) if (B * D >= DGM__PAR_MIN)
    for (size_t b = 0; b < B; b++) {
        double l = 0;
        const float *raw = st + b * 2 * D, *t = raw + D;
        const float *yb = y + b * D;
        float *sb = s + b * D, *ob = out + b * D;
#pragma omp simd reduction(+ : l)
        for (size_t d = 0; d < D; d++) { /* both branches, one kept: the loop vectorises */
            float sv = bm[d] ? 0.0f : dgm__tanhf(raw[d]);
            sb[d] = sv;
            ob[d] = bm[d] ? yb[d] : yb[d] * dgm__expf(sv) + t[d];
            l += sv;
        }
        p->ld[b] += l;
    }
}

/* Given g = dL/dy[k+1] (B x D) and dL/d ld_b = gl[b], adds the parameter gradients and
 * writes dL/dy[k] into gn unless gn is NULL (docs/math.md, "RealNVP"):
 *   dL/dt = (1-b) g,  dL/ds = (1-b) (g y e^s + gl),  dL/draw = dL/ds (1 - s^2),
 *   dL/dy = (1-b) g e^s + b (g + net_k^T [dL/draw, dL/dt]). */
static void coupling_backward(dgm__flow *p, int k, const float *g, const float *gl, float *gn,
                              const int32_t *lab, size_t B)
{
    size_t D = p->D;
    const uint8_t *bm = p->mask + (size_t)k * D;
    const float *y = p->y[k], *s = p->s[k];
#pragma omp parallel for schedule(static) if (B * D >= DGM__PAR_MIN)
    for (size_t b = 0; b < B; b++) {
        float *gr = p->gst + b * 2 * D, *gt = gr + D;
        for (size_t d = 0; d < D; d++) {
            size_t i = b * D + d;
            if (bm[d]) {
                gr[d] = gt[d] = 0.0f;
            } else {
                float es = dgm__expf(s[i]);
                gt[d] = g[i];
                gr[d] = (g[i] * y[i] * es + gl[b]) * (1.0f - s[i] * s[i]);
            }
        }
    }
    /* the conditioner backward on its plans, from (dL/draw, dL/dt) in the plan's order; its
     * input gradient back into the parameter order in gx */
    const int nl = p->nl;
    dgm__mlayer_gather_out(&p->ml[k][nl - 1], p->ys, p->gst, B);
    float *dz = p->ys;
    for (int l = nl - 1; l >= 0; l--) {
        const dgm__mlayer *L = &p->ml[k][l];
        dgm__mlayer_backward(L, l || gn ? p->da : NULL,
                             dgm_params_tensor_grad(p->p, p->iW[k][l]),
                             dgm_params_tensor_grad(p->p, p->ib[k][l]), p->dW, dz,
                             l ? p->ha[k][l - 1] : p->xm[k], B);
        if (l == 0 && lab) /* d cond.weight[po[o'], y_b] += dz[b][o'] */
            dgm__label_grad(dgm_params_tensor_grad(p->p, p->iC[k]), dz, L->po, lab, B, L->O,
                            (size_t)p->C);
        if (l) {
            memset(p->dz, 0, B * L->I * sizeof *p->dz);
            dgm_act_backward(DGM_ACT_RELU, p->dz, p->da, p->h[k][l - 1], p->ha[k][l - 1],
                             B * L->I);
            dz = p->dz;
        }
    }
    if (!gn)
        return;
    dgm__mlayer_scatter_in(&p->ml[k][0], p->gx, p->da, B);
#pragma omp parallel for schedule(static) if (B * D >= DGM__PAR_MIN)
    for (size_t b = 0; b < B; b++)
        for (size_t d = 0; d < D; d++) {
            size_t i = b * D + d;
            gn[i] = bm[d] ? g[i] + p->gx[i] : g[i] * dgm__expf(s[i]);
        }
}

void dgm__flow_forward_backward(dgm__flow *p, double *lp, const float *x, const int32_t *y,
                                const float *dscale, float *dx, size_t B)
{
    const int32_t *lab = p->C ? y : NULL;
    size_t D = p->D;
    int K = p->cfg.n_couplings;
    double alpha = p->cfg.alpha;
    double *ld0 = lp; /* the logit's log-determinant, held in lp until the end */
    refresh(p);
    if (alpha > 0) {
        dgm__logit_forward(p->y[0], ld0, x, B, D, alpha);
    } else {
        memcpy(p->y[0], x, B * D * sizeof *x);
        for (size_t b = 0; b < B; b++)
            ld0[b] = 0;
    }
    for (size_t b = 0; b < B; b++)
        p->ld[b] = 0;
    for (int k = 0; k < K; k++)
        coupling_forward(p, k, lab, B);
    const float *z = p->y[K];
#pragma omp parallel for schedule(static) if (B * D >= DGM__PAR_MIN)
    for (size_t b = 0; b < B; b++) {
        double q = 0;
        for (size_t d = 0; d < D; d++)
            q += (double)z[b * D + d] * z[b * D + d];
        lp[b] = -0.5 * q - 0.5 * (double)D * LOG_2PI + p->ld[b] + ld0[b];
    }
    if (!dscale)
        return;
    /* L = sum_b dscale_b (-log p_b): dL/dz = dscale z, dL/d ld = -dscale */
    float gl[4096], *g = p->g, *gn = p->gn;
    float *glp = B <= 4096 ? gl : dgm_malloc_array(B, sizeof *glp);
    if (!glp)
        return;
    for (size_t b = 0; b < B; b++) {
        glp[b] = -dscale[b];
        for (size_t d = 0; d < D; d++)
            g[b * D + d] = dscale[b] * z[b * D + d];
    }
    for (int k = K - 1; k >= 0; k--) {
        /* the data's gradient only when asked for: the first coupling's input gradient
         * (a product of its first layer) is skipped in training */
        coupling_backward(p, k, g, glp, k > 0 || dx ? gn : NULL, lab, B);
        float *t = g;
        g = gn, gn = t;
    }
    if (dx) {
        if (alpha > 0) {
            double *dl = dgm_malloc_array(B, sizeof *dl);
            if (dl) {
                for (size_t b = 0; b < B; b++)
                    dl[b] = -(double)dscale[b];
                dgm__logit_backward(dx, g, dl, x, B, D, alpha);
                dgm_free(dl);
            }
        } else {
            for (size_t i = 0; i < B * D; i++)
                dx[i] += g[i];
        }
    }
    if (glp != gl)
        dgm_free(glp);
}

// --------------------------------------------------------------------- public ops ---

#define FLOW_CHUNK 256

dgm_status dgm_flow_forward(dgm_model *m, float *z, double *logdet, const float *x,
                            const int32_t *y, size_t n, dgm_err *err)
{
    if (m->ops != &dgm__flow_ops && m->ops != &dgm__maf_ops)
        return dgm_errf(err, DGM_ERR_ARG, "a %s model is not a flow", m->ops->type);
    dgm_status s = dgm__check_labels(m->n_classes, y, n, "this flow", err);
    if (s || m->ops == &dgm__maf_ops)
        return s ? s : dgm__maf_forward(m, z, logdet, x, y, n, err);
    dgm__flow *p = FLOW(m);
    size_t D = p->D, chunk = n < FLOW_CHUNK ? n : FLOW_CHUNK;
    s = dgm__flow_reserve(p, chunk ? chunk : 1, err);
    double lp[FLOW_CHUNK];
    for (size_t a = 0; !s && a < n; a += chunk) {
        size_t b = a + chunk < n ? a + chunk : n;
        dgm__flow_forward_backward(p, lp, x + a * D, y ? y + a : NULL, NULL, NULL, b - a);
        memcpy(z + a * D, p->y[p->cfg.n_couplings], (b - a) * D * sizeof *z);
        for (size_t i = a; logdet && i < b; i++) {
            const float *zi = z + i * D;
            double q = 0;
            for (size_t d = 0; d < D; d++)
                q += (double)zi[d] * zi[d];
            logdet[i] = lp[i - a] + 0.5 * q + 0.5 * (double)D * LOG_2PI;
        }
    }
    return s;
}

dgm_status dgm_flow_inverse(dgm_model *m, float *x, const float *z, const int32_t *lab,
                            size_t n, dgm_err *err)
{
    if (m->ops != &dgm__flow_ops && m->ops != &dgm__maf_ops)
        return dgm_errf(err, DGM_ERR_ARG, "a %s model is not a flow", m->ops->type);
    dgm_status s = dgm__check_labels(m->n_classes, lab, n, "this flow", err);
    if (s || m->ops == &dgm__maf_ops)
        return s ? s : dgm__maf_inverse(m, x, z, lab, n, err);
    dgm__flow *p = FLOW(m);
    size_t D = p->D, chunk = n < FLOW_CHUNK ? n : FLOW_CHUNK;
    s = dgm__flow_reserve(p, chunk ? chunk : 1, err);
    int K = p->cfg.n_couplings;
    refresh(p);
    for (size_t a = 0; !s && a < n; a += chunk) {
        size_t B = (a + chunk < n ? a + chunk : n) - a;
        const int32_t *la = p->C && lab ? lab + a : NULL;
        float *y = p->y[K];
        memcpy(y, z + a * D, B * D * sizeof *y);
        /* y_k = b.y' + (1-b).(y' - t) e^-s, (s, t) from b.y' = b.y_k: the conditioner reads
         * only the coordinates b passes through, which y' and y_k share */
        for (int k = K - 1; k >= 0; k--) {
            const uint8_t *bm = p->mask + (size_t)k * D;
            float *prev = p->y[k];
            const float *st = conditioner(p, k, y, la, B);
            for (size_t b = 0; b < B; b++)
                for (size_t d = 0; d < D; d++) {
                    size_t i = b * D + d;
                    prev[i] = bm[d] ? y[i]
                                    : (y[i] - st[b * 2 * D + D + d]) * dgm__expf(-dgm__tanhf(st[b * 2 * D + d]));
                }
            y = prev;
        }
        float *xo = x + a * D;
        double al = p->cfg.alpha;
        for (size_t i = 0; i < B * D; i++)
            xo[i] = al > 0 ? (float)((1.0 / (1.0 + exp(-(double)y[i])) - al) / (1 - 2 * al)) : y[i];
    }
    return s;
}

static dgm_status flow_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                                const int32_t *y, size_t n, int k, dgm_err *err)
{
    (void)rng, (void)k;
    dgm__flow *p = FLOW(m);
    size_t chunk = n < FLOW_CHUNK ? n : FLOW_CHUNK;
    dgm_status s = dgm__flow_reserve(p, chunk ? chunk : 1, err);
    for (size_t a = 0; !s && a < n; a += chunk) {
        size_t b = a + chunk < n ? a + chunk : n;
        dgm__flow_forward_backward(p, out + a, x + a * p->D, p->C ? y + a : NULL, NULL, NULL,
                                   b - a);
    }
    return s;
}

static dgm_status flow_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y,
                              size_t n, int mean, dgm_err *err)
{
    size_t D = m->dim;
    float *z = dgm_malloc_array(n ? n : 1, D * sizeof *z);
    if (!z)
        return dgm_errf(err, DGM_ERR_NOMEM, "realnvp: out of memory for %zu samples", n);
    for (size_t i = 0; i < n; i++) {
        dgm_rng r;
        dgm_rng_fork(&r, rng, (uint64_t)i);
        if (mean) /* the image of the base's mode */
            memset(z + i * D, 0, D * sizeof *z);
        else
            dgm_rng_fill_normal(&r, z + i * D, D);
    }
    dgm_status s = dgm_flow_inverse(m, out, z, m->n_classes ? y : NULL, n, err);
    /* the logit's inverse reaches [-a/(1-2a), 1 + a/(1-2a)]: images are clamped to [0, 1] */
    for (size_t i = 0; !s && FLOW(m)->cfg.alpha > 0 && i < n * D; i++)
        out[i] = out[i] < 0.0f ? 0.0f : out[i] > 1.0f ? 1.0f : out[i];
    dgm_free(z);
    return s;
}

// ---------------------------------------------------------------------------- files ---

static cJSON *config_json(const dgm_flow_cfg *c)
{
    cJSON *o = cJSON_CreateObject();
    if (c->kind == DGM_FLOW_MAF) {
        double h[4];
        for (int l = 0; l < c->n_hidden; l++)
            h[l] = (double)c->hidden[l];
        cJSON_AddNumberToObject(o, "n_layers", c->n_couplings);
        cJSON_AddItemToObject(o, "hidden", cJSON_CreateDoubleArray(h, c->n_hidden));
        cJSON_AddNumberToObject(o, "alpha", c->alpha);
        cJSON_AddStringToObject(o, "log_scale", "tanh");
        cJSON_AddStringToObject(o, "hidden_degrees", "j mod (D - 1)");
        return o;
    }
    double h[4];
    for (int l = 0; l < c->n_hidden; l++)
        h[l] = (double)c->hidden[l];
    cJSON_AddNumberToObject(o, "n_couplings", c->n_couplings);
    cJSON_AddItemToObject(o, "hidden", cJSON_CreateDoubleArray(h, c->n_hidden));
    cJSON_AddNumberToObject(o, "alpha", c->alpha);
    cJSON_AddStringToObject(o, "log_scale", "tanh");
    return o;
}

dgm_status dgm__flow_save_params(const dgm_model *m, dgm_params *pp, const dgm_flow_cfg *c,
                                 const char *path, dgm_err *err)
{
    int nt = dgm_params_n_tensors(pp), with_opt = m->keep_optimizer && m->saving_checkpoint;
    size_t n = (size_t)nt * (with_opt ? 3 : 1);
    dgm_st_tensor *t = calloc(n, sizeof *t);
    char (*names)[128] = calloc(n, sizeof *names);
    if (!t || !names) {
        free(t);
        free(names);
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    }
    const float *bufs[3] = {dgm_params_data(pp), dgm_params_m(pp), dgm_params_v(pp)};
    const char *prefix[3] = {"", "optimizer.exp_avg.", "optimizer.exp_avg_sq."};
    for (size_t k = 0, j = 0; k < (with_opt ? 3u : 1u); k++)
        for (int i = 0; i < nt; i++, j++) {
            snprintf(names[j], sizeof names[j], "%s%s", prefix[k], dgm_params_name(pp, i));
            t[j].name = names[j];
            t[j].data = bufs[k] + dgm_params_offset(pp, i);
            t[j].ndim = dgm_params_shape(pp, i, t[j].shape);
        }
    cJSON *cfg = config_json(c);
    dgm_status s = dgm__model_write(m, path, t, n, cfg, NULL, err);
    cJSON_Delete(cfg);
    free(t);
    free(names);
    return s;
}

static dgm_status flow_save(const dgm_model *m, const char *path, dgm_err *err)
{
    return dgm__flow_save_params(m, FLOW(m)->p, &FLOW(m)->cfg, path, err);
}

void dgm__flow_describe_cfg(const dgm_flow_cfg *c, cJSON *o)
{
    cJSON *j = config_json(c);
    cJSON *it;
    cJSON_ArrayForEach(it, j) cJSON_AddItemToObject(o, it->string, cJSON_Duplicate(it, 1));
    cJSON_Delete(j);
}

static void flow_describe(const dgm_model *m, cJSON *o) { dgm__flow_describe_cfg(&FLOW(m)->cfg, o); }

const dgm__model_ops dgm__flow_ops = {
    .type = "realnvp", .log_prob = flow_log_prob, .sample = flow_sample, .save = flow_save,
    .destroy = flow_destroy, .describe = flow_describe, .fit = &dgm__flow_fit_ops};

static dgm_model *flow_model(dgm__flow *p)
{
    dgm_model *m = dgm__model_new(&dgm__flow_ops, p);
    if (!m)
        return NULL;
    m->dim = p->D;
    m->exact = 1;
    snprintf(m->likelihood, sizeof m->likelihood, "%s", p->cfg.alpha > 0 ? "dequantized" : "continuous");
    m->n_params = dgm_params_count(p->p);
    m->height = p->cfg.height;
    m->width = p->cfg.width;
    if (m->height * m->width != m->dim)
        m->height = m->width = 0;
    if (dgm__model_set_classes(m, p->C)) {
        m->impl = NULL; /* the caller still owns p */
        dgm_model_free(m);
        return NULL;
    }
    return m;
}

dgm_status dgm_flow_create(dgm_model **out, dgm_rng *rng, const dgm_flow_cfg *cfg, dgm_err *err)
{
    *out = NULL;
    if (cfg->kind == DGM_FLOW_MAF) {
        dgm__maf *q;
        dgm_status s = dgm__maf_new(&q, cfg, err);
        if (s)
            return s;
        if (!(*out = dgm__maf_model(q, rng))) {
            dgm__maf_free(q);
            return dgm_errf(err, DGM_ERR_NOMEM, "maf: out of memory");
        }
        return DGM_OK;
    }
    dgm__flow *p;
    dgm_status s = flow_new(&p, cfg, err);
    if (s)
        return s;
    for (int k = 0; k < cfg->n_couplings; k++)
        dgm_mlp_init(p->net[k], rng);
    for (int k = 0; p->C && k < cfg->n_couplings; k++)
        dgm_linear_init(rng, dgm_params_tensor(p->p, p->iC[k]), NULL, (size_t)p->C,
                        p->ml[k][0].O);
    dgm_model *m = flow_model(p);
    if (!m) {
        flow_destroy(p);
        return dgm_errf(err, DGM_ERR_NOMEM, "realnvp: out of memory");
    }
    *out = m;
    return DGM_OK;
}

/* The parameters (and, in a checkpoint, the optimizer's moments) named as pp names them. */
static dgm_status load_params(dgm_params *pp, const dgm_st_file *f, const char *path,
                              int *have_opt, dgm_err *err)
{
    char first[160];
    snprintf(first, sizeof first, "optimizer.exp_avg.%s", dgm_params_name(pp, 0));
    *have_opt = dgm_st_find(f, first) != NULL;
    int nt = dgm_params_n_tensors(pp);
    float *bufs[3] = {dgm_params_data(pp), dgm_params_m(pp), dgm_params_v(pp)};
    const char *prefix[3] = {"", "optimizer.exp_avg.", "optimizer.exp_avg_sq."};
    for (int k = 0; k < (*have_opt ? 3 : 1); k++)
        for (int i = 0; i < nt; i++) {
            char name[160];
            snprintf(name, sizeof name, "%s%s", prefix[k], dgm_params_name(pp, i));
            size_t ne = dgm_params_numel(pp, i);
            const float *src = dgm__st_expect(f, name, ne, path, err);
            if (!src)
                return err ? err->code : DGM_ERR_FORMAT;
            memcpy(bufs[k] + dgm_params_offset(pp, i), src, ne * sizeof *src);
        }
    if (!dgm_all_finite(dgm_params_data(pp), dgm_params_count(pp)))
        return dgm_errf(err, DGM_ERR_NAN, "%s: damaged flow: a weight is not finite", path);
    return DGM_OK;
}

dgm_status dgm__flow_load(dgm_model **out, const dgm_st_file *f, const cJSON *config,
                          const char *path, dgm_err *err)
{
    *out = NULL;
    dgm_model tmp;
    dgm_status s = dgm__model_peek_common(&tmp, config, path, err);
    if (s)
        return s;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(config, "model");
    int maf = cJSON_IsString(type) && !strcmp(type->valuestring, "maf");
    dgm_flow_cfg c = dgm_flow_defaults();
    c.kind = maf ? DGM_FLOW_MAF : DGM_FLOW_REALNVP;
    const cJSON *K = cJSON_GetObjectItemCaseSensitive(config, maf ? "n_layers" : "n_couplings");
    const cJSON *hid = cJSON_GetObjectItemCaseSensitive(config, "hidden");
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(config, "alpha");
    if (!cJSON_IsNumber(K) || !cJSON_IsArray(hid) || !cJSON_IsNumber(al) ||
        cJSON_GetArraySize(hid) < 1 || cJSON_GetArraySize(hid) > 4 || K->valuedouble < 1 ||
        K->valuedouble > FLOW_MAX_COUPLINGS)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged %s model: %s, hidden or alpha missing "
                        "or out of range", path, maf ? "maf" : "realnvp",
                        maf ? "n_layers" : "n_couplings");
    c.n_couplings = (int)K->valuedouble;
    c.n_hidden = cJSON_GetArraySize(hid);
    for (int l = 0; l < c.n_hidden; l++) {
        const cJSON *h = cJSON_GetArrayItem(hid, l);
        if (!cJSON_IsNumber(h) || h->valuedouble < 1 || h->valuedouble > 65536)
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged flow: hidden width %d", path, l);
        c.hidden[l] = (size_t)h->valuedouble;
    }
    c.alpha = al->valuedouble, c.dim = tmp.dim, c.height = tmp.height, c.width = tmp.width;
    c.n_classes = tmp.n_classes;
    int have_opt = 0;
    dgm_model *m = NULL;
    if (maf) {
        dgm__maf *q;
        if ((s = dgm__maf_new(&q, &c, err)))
            return s;
        s = load_params(dgm__maf_store(q), f, path, &have_opt, err);
        if (!s && !(m = dgm__maf_model(q, NULL)))
            s = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
        if (s) {
            dgm__maf_free(q);
            return s;
        }
    } else {
        dgm__flow *p;
        if ((s = flow_new(&p, &c, err)))
            return s;
        s = load_params(p->p, f, path, &have_opt, err);
        if (!s && !(m = flow_model(p)))
            s = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
        if (s) {
            flow_destroy(p);
            return s;
        }
    }
    m->keep_optimizer = have_opt;
    return dgm__model_finish_load(out, m, config, path, err);
}
