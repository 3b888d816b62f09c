/* MADE: the masked autoencoder for distribution estimation (Germain, Gregor, Murray,
 * Larochelle, ICML 2015), with Bernoulli outputs for binary vectors and softmax outputs
 * (20 amino acids and the gap) for the columns of an alignment. This file: the layout
 * (dgm_params named as torch.nn.Sequential names a stack of MaskedLinear and ReLU), the
 * orderings and hidden degrees of each mask (the paper's section 4, as karpathy/
 * pytorch-made draws them), the batched forward and backward on masked weights
 * (nn/masked.h), the exact log p(x) of one mask and of the ensemble (log-mean-exp over
 * masks, a proper mixture), ancestral sampling batched over samples, and the files.
 * docs/math.md, "MADE", derives it. A class-conditional MADE adds a label's column of
 * cond.weight to the first hidden layer's pre-activations (the label is known before
 * every variable, so no mask cuts it), and a label's column of cond_out.weight to the
 * logits: the first variable of an ordering sees no hidden unit, so without that direct
 * path its conditional could not depend on the label. Left out: direct input-output connections and
 * resampling the masks during training beyond the fixed set. */
#include "models/made/made.h"
#include "distributions/bernoulli.h"
#include "distributions/categorical.h"
#include "nn/label.h"
#include "nn/masked.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

dgm_made_cfg dgm_made_defaults(void)
{
    dgm_made_cfg c;
    memset(&c, 0, sizeof c);
    c.kind = DGM_MADE_BINARY;
    c.hidden[0] = 500;
    c.n_hidden = 1;
    c.n_masks = 1;
    c.order = DGM_MADE_NATURAL;
    return c;
}

const dgm_made_cfg *dgm_made_config(const dgm_model *m)
{
    return m && m->ops == &dgm__made_ops ? &MADE(m)->cfg : NULL;
}

// --------------------------------------------------------------------------- layout ---

static void made_destroy(void *impl)
{
    dgm__made *p = impl;
    if (!p)
        return;
    dgm_params_free(p->p);
    free(p->order);
    free(p->hdeg);
    free(p->deg);
    dgm_free(p->Wm);
    dgm_free(p->condS);
    dgm_free(p->y);
    for (int l = 0; l < MADE_MAX_LAYERS; l++)
        dgm__mlayer_free(&p->ml[l]);
    dgm_free(p->xs), dgm_free(p->ys);
    for (int l = 0; l <= MADE_MAX_LAYERS; l++)
        dgm_free(p->act[l]);
    for (int l = 0; l < MADE_MAX_LAYERS; l++)
        dgm_free(p->pre[l]);
    dgm_free(p->da);
    dgm_free(p->dz);
    dgm_free(p->dW);
    dgm_free(p->cat);
    dgm_free(p->letters);
    dgm_free(p->ll);
    free(p->focus.residues);
    free(p->focus.pos);
    free(p->focus.wt);
    free(p);
}

static dgm_status check_cfg(const dgm_made_cfg *c, dgm_err *err)
{
    if (c->kind != DGM_MADE_BINARY && c->kind != DGM_MADE_CATEGORICAL)
        return dgm_errf(err, DGM_ERR_ARG, "made: unknown kind %d", (int)c->kind);
    if (c->dim < 2 || c->dim > (1u << 20))
        return dgm_errf(err, DGM_ERR_ARG, "made: %zu %s; a MADE needs 2 to 2^20", c->dim,
                        c->kind == DGM_MADE_BINARY ? "dimensions" : "columns");
    if (c->n_hidden < 1 || c->n_hidden > 8)
        return dgm_errf(err, DGM_ERR_ARG, "made: %d hidden layers; 1 to 8 are supported",
                        c->n_hidden);
    for (int l = 0; l < c->n_hidden; l++)
        if (c->hidden[l] < 1 || c->hidden[l] > 65536)
            return dgm_errf(err, DGM_ERR_ARG, "made: hidden width %zu is outside 1..65536",
                            c->hidden[l]);
    if (c->n_masks < 1 || c->n_masks > 4096)
        return dgm_errf(err, DGM_ERR_ARG, "made: %d masks; 1 to 4096 are supported",
                        c->n_masks);
    if (c->order != DGM_MADE_NATURAL && c->order != DGM_MADE_RANDOM)
        return dgm_errf(err, DGM_ERR_ARG, "made: unknown ordering %d", (int)c->order);
    if (c->n_classes < 0 || c->n_classes > 65536)
        return dgm_errf(err, DGM_ERR_ARG, "made: %d classes; 0 to 65536 are supported",
                        c->n_classes);
    return DGM_OK;
}

/* The shell: sizes, the parameter store (allocated, zero) and the mask tables (unset). */
static dgm_status made_new(dgm__made **out, const dgm_made_cfg *c, dgm_err *err)
{
    *out = NULL;
    dgm_status s = check_cfg(c, err);
    if (s)
        return s;
    dgm__made *p = calloc(1, sizeof *p);
    if (!p)
        return dgm_errf(err, DGM_ERR_NOMEM, "made: out of memory");
    p->cfg = *c;
    p->V = c->dim;
    p->Ain = c->kind == DGM_MADE_CATEGORICAL ? DGM_AA_N : 1;
    p->Aout = c->kind == DGM_MADE_CATEGORICAL ? DGM_AA_N + 1 : 1;
    p->Din = p->V * p->Ain;
    p->Dout = p->V * p->Aout;
    p->n_layers = c->n_hidden + 1;
    p->dims[0] = p->Din;
    for (int l = 0; l < c->n_hidden; l++)
        p->dims[l + 1] = c->hidden[l], p->sumH += c->hidden[l];
    p->dims[p->n_layers] = p->Dout;
    p->cur_mask = p->wm_mask = p->plan_mask = -1;
    p->p = dgm_params_create();
    size_t nW = 0, nd = 0;
    int ok = p->p != NULL;
    for (int l = 0; ok && l < p->n_layers; l++) {
        char name[64];
        size_t shW[2] = {p->dims[l + 1], p->dims[l]}, shb[1] = {p->dims[l + 1]};
        snprintf(name, sizeof name, "net.%d.weight", 2 * l);
        p->iW[l] = dgm_params_add(p->p, name, shW, 2);
        snprintf(name, sizeof name, "net.%d.bias", 2 * l);
        p->ib[l] = dgm_params_add(p->p, name, shb, 1);
        ok = p->iW[l] >= 0 && p->ib[l] >= 0;
        p->wm_off[l] = nW;
        nW += p->dims[l + 1] * p->dims[l];
    }
    p->C = c->n_classes, p->iC = p->iCo = -1;
    if (ok && p->C) {
        size_t shC[2] = {p->dims[1], (size_t)p->C}, shO[2] = {p->Dout, (size_t)p->C};
        ok = (p->iC = dgm_params_add(p->p, "cond.weight", shC, 2)) >= 0 &&
             (p->iCo = dgm_params_add(p->p, "cond_out.weight", shO, 2)) >= 0;
    }
    for (int l = 0; l <= p->n_layers; l++)
        p->deg_off[l] = nd, nd += p->dims[l];
    size_t M = (size_t)c->n_masks;
    if (!ok || dgm_params_alloc(p->p, err) ||
        !(p->order = dgm_malloc_array(M, p->V * sizeof(int32_t))) ||
        !(p->hdeg = dgm_malloc_array(M, p->sumH * sizeof(int32_t))) ||
        !(p->deg = dgm_malloc_array(nd, sizeof(int32_t))) ||
        !(p->Wm = dgm_malloc_array(nW, sizeof(float))) ||
        (p->C && !(p->condS = dgm_malloc_array((size_t)p->C, p->dims[1] * sizeof(float))))) {
        made_destroy(p);
        return dgm_errf(err, DGM_ERR_NOMEM, "made: out of memory for the layers");
    }
    for (int l = 0; l < p->n_layers; l++)
        if ((s = dgm__mlayer_init(&p->ml[l], p->dims[l + 1], p->dims[l], MADE_BLOCK, err))) {
            made_destroy(p);
            return s;
        }
    *out = p;
    return DGM_OK;
}

dgm_status dgm__made_reserve(dgm__made *p, size_t B, dgm_err *err)
{
    if (B <= p->cap)
        return DGM_OK;
    size_t wmax = 0, wo = 0;
    for (int l = 0; l <= p->n_layers; l++)
        wmax = p->dims[l] > wmax ? p->dims[l] : wmax;
    for (int l = 0; l < p->n_layers; l++)
        wo = p->dims[l] * p->dims[l + 1] > wo ? p->dims[l] * p->dims[l + 1] : wo;
    for (int l = 1; l <= p->n_layers; l++) {
        dgm_free(p->act[l]);
        p->act[l] = dgm_malloc_array(B, p->dims[l] * sizeof(float));
        if (l < p->n_layers) {
            dgm_free(p->pre[l - 1]);
            p->pre[l - 1] = dgm_malloc_array(B, p->dims[l] * sizeof(float));
        }
    }
    dgm_free(p->da), dgm_free(p->dz), dgm_free(p->letters), dgm_free(p->ll), dgm_free(p->y);
    dgm_free(p->xs), dgm_free(p->ys);
    p->y = dgm_malloc_array(B, sizeof(int32_t));
    p->xs = dgm_malloc_array(B, p->Din * sizeof(float));
    p->ys = dgm_malloc_array(B, p->Dout * sizeof(float));
    p->da = dgm_malloc_array(B, wmax * sizeof(float));
    p->dz = dgm_malloc_array(B, wmax * sizeof(float));
    p->letters = dgm_malloc_array(B, p->V);
    p->ll = dgm_malloc_array(B, sizeof(double));
    if (!p->dW)
        p->dW = dgm_malloc_array(wo, sizeof(float));
    if (!p->cat)
        p->cat = dgm_malloc_array((size_t)omp_get_max_threads(), 2 * p->V * sizeof(float));
    int ok = p->da && p->dz && p->xs && p->ys && p->letters && p->ll && p->dW && p->cat && p->y;
    for (int l = 1; l <= p->n_layers; l++)
        ok = ok && p->act[l] && (l == p->n_layers || p->pre[l - 1]);
    if (!ok) {
        p->cap = 0;
        return dgm_errf(err, DGM_ERR_NOMEM, "made: out of memory for batches of %zu", B);
    }
    p->cap = B;
    return DGM_OK;
}

// ----------------------------------------------------------------------------- masks ---

/* Mask k from fork(seed, k): the ordering (natural, or a uniform permutation used as the
 * ranks), then each hidden layer's degrees uniform on [lowest degree below, V - 2], so that
 * every unit has an input (karpathy/pytorch-made's update_masks). */
static dgm_status draw_masks(dgm__made *p, dgm_err *err)
{
    dgm_rng root;
    dgm_rng_init(&root, p->cfg.mask_seed);
    size_t V = p->V, *perm = malloc(V * sizeof *perm);
    if (!perm)
        return dgm_errf(err, DGM_ERR_NOMEM, "made: out of memory");
    for (int k = 0; k < p->cfg.n_masks; k++) {
        dgm_rng r;
        dgm_rng_fork(&r, &root, (uint64_t)k);
        int32_t *ord = p->order + (size_t)k * V;
        if (p->cfg.order == DGM_MADE_RANDOM) {
            dgm_rng_permutation(&r, perm, V);
            for (size_t v = 0; v < V; v++)
                ord[v] = (int32_t)perm[v];
        } else {
            for (size_t v = 0; v < V; v++)
                ord[v] = (int32_t)v;
        }
        int32_t lo = 0, *h = p->hdeg + (size_t)k * p->sumH;
        for (int l = 0; l < p->cfg.n_hidden; l++) {
            size_t H = p->cfg.hidden[l];
            int32_t next = (int32_t)V;
            for (size_t u = 0; u < H; u++) {
                h[u] = lo + (int32_t)dgm_rng_below(&r, (uint64_t)((int32_t)V - 1 - lo));
                next = h[u] < next ? h[u] : next;
            }
            lo = next;
            h += H;
        }
    }
    free(perm);
    return DGM_OK;
}

/* the current mask's unit degrees into p->deg */
static void set_degrees(dgm__made *p, int k)
{
    const int32_t *ord = p->order + (size_t)k * p->V, *h = p->hdeg + (size_t)k * p->sumH;
    int32_t *din = p->deg, *dout = p->deg + p->deg_off[p->n_layers];
    for (size_t j = 0; j < p->Din; j++)
        din[j] = ord[j / p->Ain];
    memcpy(p->deg + p->deg_off[1], h, p->sumH * sizeof *h);
    for (size_t j = 0; j < p->Dout; j++)
        dout[j] = ord[j / p->Aout];
}

void dgm__made_use_mask(dgm__made *p, int k)
{
    if (p->cur_mask == k)
        return;
    if (p->plan_mask != k) { /* the orders of a new mask; an update only moves weights */
        set_degrees(p, k);
        for (int l = 0; l < p->n_layers; l++)
            dgm__mlayer_order(&p->ml[l], p->deg + p->deg_off[l + 1], p->deg + p->deg_off[l],
                              l == p->n_layers - 1);
        p->plan_mask = k;
    }
    for (int l = 0; l < p->n_layers; l++)
        dgm__mlayer_weights(&p->ml[l], dgm_params_tensor(p->p, p->iW[l]),
                            dgm_params_tensor(p->p, p->ib[l]));
    if (p->C) /* cond.weight's columns in layer 1's sorted order */
        dgm__label_columns(p->condS, dgm_params_tensor(p->p, p->iC), p->ml[0].po, p->dims[1],
                           (size_t)p->C);
    p->cur_mask = k;
}

/* Wm (the parameter layout) of mask k, for the samplers */
static void use_dense_mask(dgm__made *p, int k)
{
    if (p->wm_mask == k)
        return;
    set_degrees(p, k); /* the plans keep their own orders: p->deg is scratch */
    for (int l = 0; l < p->n_layers; l++)
        dgm__masked_weights(p->Wm + p->wm_off[l], dgm_params_tensor(p->p, p->iW[l]),
                            p->deg + p->deg_off[l + 1], p->deg + p->deg_off[l], p->dims[l + 1],
                            p->dims[l], l == p->n_layers - 1);
    p->wm_mask = k;
}

void dgm__made_touched(dgm__made *p)
{
    p->cur_mask = p->wm_mask = -1;
}

// -------------------------------------------------------------------- forward/backward ---

dgm_status dgm__made_letters(uint8_t *out, const float *x, size_t B, size_t L, dgm_err *err)
{
    for (size_t b = 0; b < B; b++)
        for (size_t l = 0; l < L; l++) {
            const float *q = x + (b * L + l) * DGM_AA_N;
            int a = DGM_AA_GAP;
            for (int c = 0; c < DGM_AA_N; c++) {
                if (q[c] == 0.0f)
                    continue;
                if (q[c] != 1.0f || a != DGM_AA_GAP)
                    return dgm_errf(err, DGM_ERR_ARG, "row %zu, column %zu: not a one-hot "
                                    "letter (a MADE scores sequences, not letter "
                                    "probabilities)", b + 1, l + 1);
                a = c;
            }
            out[b * L + l] = (uint8_t)a;
        }
    return DGM_OK;
}

void dgm__made_forward_backward(dgm__made *p, double *ll, const float *x, const uint8_t *letters,
                                const int32_t *y, const float *dscale, size_t B)
{
    const size_t H1 = p->dims[1];
    const int nl = p->n_layers;
    const dgm__mlayer *last = &p->ml[nl - 1];
    /* the layers run in the plans' sorted orders (nn/masked.h): the inputs are permuted in
     * and the logits out, unless their orders are the identity */
    const float *xin = x;
    if (!p->ml[0].in_identity) {
        dgm__mlayer_gather_in(&p->ml[0], p->xs, x, B);
        xin = p->xs;
    }
    const float *in = xin;
    for (int l = 0; l < nl; l++) {
        size_t O = p->dims[l + 1];
        float *z = l < nl - 1 ? p->pre[l] : last->out_identity ? p->act[nl] : p->ys;
        dgm__mlayer_forward(&p->ml[l], z, in, B);
        if (l == 0 && y) /* + cond.weight[:, y_b] */
            dgm__label_add(z, p->condS, y, B, H1);
        if (l < nl - 1) {
            dgm_act_forward(DGM_ACT_RELU, p->act[l + 1], z, B * O);
            in = p->act[l + 1];
        }
    }
    if (!last->out_identity)
        dgm__mlayer_scatter_out(last, p->act[nl], p->ys, B);
    if (y) /* + cond_out.weight[:, y_b]: the label reaches even the first variable */
        dgm__label_add_w(p->act[nl], dgm_params_tensor(p->p, p->iCo), y, B, p->Dout,
                         (size_t)p->C);
    /* per row: log p_k(x_b) and, with dscale, dscale_b d(-log p)/dlogits in place */
    float *lg = p->act[nl];
    const size_t V = p->V, Dout = p->Dout;
    const int cat = p->cfg.kind == DGM_MADE_CATEGORICAL;
    long Bl = (long)B;
#pragma omp parallel for schedule(static) if (B * Dout >= 65536)
    for (long bl = 0; bl < Bl; bl++) {
        size_t b = (size_t)bl;
        float *q = lg + b * Dout, w = dscale ? dscale[b] : 0.0f;
        if (cat) {
            float *scr = p->cat + (size_t)omp_get_thread_num() * 2 * V;
            ll[b] = dgm__categorical_loglik(q, scr, letters + b * V, V, p->Aout, w);
            if (dscale && w == 0.0f)
                memset(q, 0, Dout * sizeof *q);
        } else {
            ll[b] = dgm__bernoulli_logits_loglik(x + b * V, q, dscale ? q : NULL, V);
            for (size_t j = 0; dscale && j < V; j++)
                q[j] *= w;
        }
    }
    if (!dscale)
        return;
    /* backward through the layers, adding into the parameter gradients */
    if (y)
        dgm__label_grad(dgm_params_tensor_grad(p->p, p->iCo), lg, NULL, y, B, Dout, (size_t)p->C);
    float *dz = lg;
    if (!last->out_identity) {
        dgm__mlayer_gather_out(last, p->ys, lg, B);
        dz = p->ys;
    }
    for (int l = nl - 1; l >= 0; l--) {
        size_t I = p->dims[l];
        const float *a_in = l == 0 ? xin : p->act[l];
        float *dx = l > 0 ? p->da : NULL;
        dgm__mlayer_backward(&p->ml[l], dx, dgm_params_tensor_grad(p->p, p->iW[l]),
                             dgm_params_tensor_grad(p->p, p->ib[l]), p->dW, dz, a_in, B);
        if (l == 0 && y) /* d cond.weight[po[o'], y_b] += dz[b][o'] */
            dgm__label_grad(dgm_params_tensor_grad(p->p, p->iC), dz, p->ml[0].po, y, B, H1,
                            (size_t)p->C);
        if (l > 0) {
            memset(p->dz, 0, B * I * sizeof *p->dz);
            dgm_act_backward(DGM_ACT_RELU, p->dz, p->da, p->pre[l - 1], p->act[l], B * I);
            dz = p->dz;
        }
    }
}

// ---------------------------------------------------------------------------- log p ---

#define MADE_CHUNK 1024

dgm_status dgm_made_log_prob_masks(dgm_model *m, double *out, const float *x,
                                   const int32_t *y, size_t n, dgm_err *err)
{
    if (m->ops != &dgm__made_ops)
        return dgm_errf(err, DGM_ERR_ARG, "a %s model is not a MADE", m->ops->type);
    dgm__made *p = MADE(m);
    dgm_status s = dgm__check_labels(p->C, y, n, "a conditional MADE", err);
    if (s)
        return s;
    size_t M = (size_t)p->cfg.n_masks, chunk = n < MADE_CHUNK ? n : MADE_CHUNK;
    s = dgm__made_reserve(p, chunk ? chunk : 1, err);
    for (size_t k = 0; !s && k < M; k++) {
        dgm__made_use_mask(p, (int)k);
        for (size_t a = 0; !s && a < n; a += chunk) {
            size_t b = a + chunk < n ? a + chunk : n;
            const float *xa = x + a * p->Din;
            if (p->cfg.kind == DGM_MADE_CATEGORICAL &&
                (s = dgm__made_letters(p->letters, xa, b - a, p->V, err)))
                break;
            dgm__made_forward_backward(p, p->ll, xa, p->letters, p->C ? y + a : NULL, NULL,
                                       b - a);
            for (size_t i = a; i < b; i++)
                out[i * M + k] = p->ll[i - a];
        }
    }
    return s;
}

static dgm_status made_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                                const int32_t *y, size_t n, int k, dgm_err *err)
{
    (void)rng, (void)k;
    size_t M = (size_t)MADE(m)->cfg.n_masks;
    double *lk = M > 1 ? dgm_malloc_array(n ? n : 1, M * sizeof *lk) : out;
    if (!lk)
        return dgm_errf(err, DGM_ERR_NOMEM, "made: out of memory for %zu rows", n);
    dgm_status s = dgm_made_log_prob_masks(m, lk, x, MADE(m)->C ? y : NULL, n, err);
    /* the ensemble as a mixture: log (1/M) sum_k p_k(x), max subtracted */
    for (size_t i = 0; !s && M > 1 && i < n; i++)
        out[i] = dgm_logsumexp_d(lk + i * M, M) - log((double)M);
    if (M > 1)
        dgm_free(lk);
    return s;
}

// --------------------------------------------------------------------------- sampling ---

/* Ancestral sampling of n rows under mask k into x (n x Din, zeroed), one stream each in
 * r: V steps, each drawing the variable of rank t for all rows at once. The first layer's
 * pre-activations are updated, not recomputed: a draw sets one input (or one letter's),
 * so it adds that column of the masked weights (kept transposed in WT, Din x H1) to each
 * row; the later layers run in full and the last only for the drawn variable's outputs
 * (1 or 21 rows). y: the rows' labels (class-conditional models, else NULL), whose
 * columns of cond.weight start the first layer beside the bias. var (V) is scratch. */
static void sample_group(dgm__made *p, int k, float *x, dgm_rng *r, const int32_t *y, size_t n,
                         int32_t *var, float *WT)
{
    use_dense_mask(p, k);
    const int nl = p->n_layers;
    const int32_t *ord = p->order + (size_t)k * p->V;
    size_t V = p->V, A = p->Aout, Hl = p->dims[nl - 1], H1 = p->dims[1], Din = p->Din;
    float lg[DGM_AA_N + 1];
    for (size_t v = 0; v < V; v++)
        var[ord[v]] = (int32_t)v; /* the variable of rank t */
    const float *W0 = p->Wm + p->wm_off[0], *b0 = dgm_params_tensor(p->p, p->ib[0]);
    for (size_t h = 0; h < H1; h++)
        for (size_t j = 0; j < Din; j++)
            WT[j * H1 + h] = W0[h * Din + j];
    float *pre0 = p->pre[0];
    for (size_t i = 0; i < n; i++) /* x = 0: the bias alone, and the label's column */
        memcpy(pre0 + i * H1, b0, H1 * sizeof *pre0);
    if (y)
        dgm__label_add_w(pre0, dgm_params_tensor(p->p, p->iC), y, n, H1, (size_t)p->C);
    const float *Wl = p->Wm + p->wm_off[nl - 1], *bl = dgm_params_tensor(p->p, p->ib[nl - 1]);
    float *out = p->act[nl];
    const float *Wo = y ? dgm_params_tensor(p->p, p->iCo) : NULL;
    for (size_t t = 0; t < V; t++) {
        dgm_act_forward(DGM_ACT_RELU, p->act[1], pre0, n * H1);
        const float *in = p->act[1];
        for (int l = 1; l < nl - 1; l++) {
            dgm__masked_forward(p->pre[l], in, p->Wm + p->wm_off[l],
                                dgm_params_tensor(p->p, p->ib[l]), n, p->dims[l], p->dims[l + 1]);
            dgm_act_forward(DGM_ACT_RELU, p->act[l + 1], p->pre[l], n * p->dims[l + 1]);
            in = p->act[l + 1];
        }
        size_t v = (size_t)var[t];
        /* the logits of variable v only: A output rows of the last layer */
        dgm_linear_forward(out, in, Wl + v * A * Hl, bl + v * A, n, Hl, A);
        for (size_t i = 0; i < n; i++) {
            float *q = out + i * A;
            for (size_t a = 0; y && a < A; a++)
                q[a] += Wo[(v * A + a) * (size_t)p->C + (size_t)y[i]];
            size_t j = Din; /* the input unit switched on, if any */
            if (p->cfg.kind == DGM_MADE_BINARY) {
                double pr = 1.0 / (1.0 + exp(-(double)q[0]));
                if (dgm_rng_uniform_d(&r[i]) < pr)
                    j = v;
            } else {
                memcpy(lg, q, A * sizeof *lg);
                size_t a = dgm_rng_categorical_logits(&r[i], lg, A);
                if (a < DGM_AA_N)
                    j = v * DGM_AA_N + a;
            }
            if (j < Din) {
                x[i * Din + j] = 1.0f;
                const float *c = WT + j * H1;
                float *pr0 = pre0 + i * H1;
                for (size_t h = 0; h < H1; h++)
                    pr0[h] += c[h];
            }
        }
    }
}

static dgm_status made_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y,
                              size_t n, int mean, dgm_err *err)
{
    if (mean)
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "a MADE has no decoder means: its "
                        "conditionals depend on the draws before them");
    dgm__made *p = MADE(m);
    size_t M = (size_t)p->cfg.n_masks, chunk = n < 256 ? n : 256;
    dgm_rng *r = dgm_malloc_array(n ? n : 1, sizeof *r);
    size_t *idx = dgm_malloc_array(n ? n : 1, sizeof *idx);
    int *mk = dgm_malloc_array(n ? n : 1, sizeof *mk);
    float *xb = dgm_malloc_array(chunk ? chunk : 1, p->Din * sizeof *xb);
    dgm_rng *rb = dgm_malloc_array(chunk ? chunk : 1, sizeof *rb);
    int32_t *var = dgm_malloc_array(p->V, sizeof *var);
    float *WT = dgm_malloc_array(p->Din, p->dims[1] * sizeof *WT);
    dgm_status s = !r || !idx || !mk || !xb || !rb || !var || !WT
        ? dgm_errf(err, DGM_ERR_NOMEM, "made: out of memory for %zu samples", n)
        : dgm__made_reserve(p, chunk ? chunk : 1, err);
    /* sample i: its stream fork(rng, i), its mask (uniform over the M of the mixture) first */
    for (size_t i = 0; !s && i < n; i++) {
        dgm_rng_fork(&r[i], rng, (uint64_t)i);
        mk[i] = M > 1 ? (int)dgm_rng_below(&r[i], M) : 0;
    }
    for (size_t k = 0; !s && k < M; k++) {
        size_t g = 0;
        for (size_t i = 0; i < n; i++)
            if (mk[i] == (int)k)
                idx[g++] = i;
        for (size_t a = 0; a < g; a += chunk) {
            size_t b = a + chunk < g ? a + chunk : g;
            memset(xb, 0, (b - a) * p->Din * sizeof *xb);
            for (size_t i = a; i < b; i++) {
                rb[i - a] = r[idx[i]];
                if (p->C)
                    p->y[i - a] = y[idx[i]];
            }
            sample_group(p, (int)k, xb, rb, p->C ? p->y : NULL, b - a, var, WT);
            for (size_t i = a; i < b; i++)
                memcpy(out + idx[i] * p->Din, xb + (i - a) * p->Din, p->Din * sizeof *out);
        }
    }
    dgm_free(r);
    dgm_free(idx);
    dgm_free(mk);
    dgm_free(xb);
    dgm_free(rb);
    dgm_free(var);
    dgm_free(WT);
    return s;
}

// ---------------------------------------------------------------------------- files ---

static const char *kind_name(dgm_made_kind k) { return k == DGM_MADE_BINARY ? "binary" : "categorical"; }
static const char *order_name(dgm_made_order o) { return o == DGM_MADE_NATURAL ? "natural" : "random"; }

static void focus_json(const made_focus *f, size_t L, cJSON *c)
{
    char *row = malloc(L + 1);
    double *pos = dgm_malloc_array(L, sizeof *pos);
    if (row && pos) {
        for (size_t j = 0; j < L; j++) {
            row[j] = DGM_AA_ALPHABET[f->wt[j]];
            pos[j] = (double)f->pos[j];
        }
        row[L] = '\0';
        cJSON_AddStringToObject(c, "focus_name", f->name);
        cJSON_AddNumberToObject(c, "focus_start", (double)f->start);
        cJSON_AddStringToObject(c, "focus_residues", f->residues);
        cJSON_AddStringToObject(c, "focus_row", row);
        cJSON_AddItemToObject(c, "positions", cJSON_CreateDoubleArray(pos, (int)L));
        cJSON_AddNumberToObject(c, "neff", f->neff);
        cJSON_AddNumberToObject(c, "theta", f->theta);
        cJSON_AddStringToObject(c, "weights", f->weights);
    }
    free(row);
    free(pos);
}

static cJSON *config_json(const dgm__made *p)
{
    cJSON *c = cJSON_CreateObject();
    double h[8];
    for (int l = 0; l < p->cfg.n_hidden; l++)
        h[l] = (double)p->cfg.hidden[l];
    cJSON_AddStringToObject(c, "kind", kind_name(p->cfg.kind));
    cJSON_AddNumberToObject(c, "variables", (double)p->V);
    cJSON_AddItemToObject(c, "hidden", cJSON_CreateDoubleArray(h, p->cfg.n_hidden));
    cJSON_AddNumberToObject(c, "n_masks", p->cfg.n_masks);
    cJSON_AddStringToObject(c, "order", order_name(p->cfg.order));
    cJSON_AddNumberToObject(c, "mask_seed", (double)p->cfg.mask_seed);
    if (p->have_focus) {
        cJSON_AddNumberToObject(c, "L", (double)p->V);
        focus_json(&p->focus, p->V, c);
    }
    return c;
}

static dgm_status made_save(const dgm_model *m, const char *path, dgm_err *err)
{
    const dgm__made *p = MADE(m);
    int nt = dgm_params_n_tensors(p->p), with_opt = m->keep_optimizer && m->saving_checkpoint;
    size_t nh = (size_t)p->cfg.n_hidden, M = (size_t)p->cfg.n_masks;
    size_t n = (size_t)nt * (with_opt ? 3 : 1) + 1 + nh;
    dgm_st_tensor *t = calloc(n, sizeof *t);
    char (*names)[128] = calloc(n, sizeof *names);
    float *tab = dgm_malloc_array(M, (p->V + p->sumH) * sizeof *tab);
    if (!t || !names || !tab) {
        free(t);
        free(names);
        dgm_free(tab);
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    }
    dgm_params *pp = p->p;
    const float *bufs[3] = {dgm_params_data(pp), dgm_params_m(pp), dgm_params_v(pp)};
    const char *prefix[3] = {"", "optimizer.exp_avg.", "optimizer.exp_avg_sq."};
    size_t j = 0;
    for (size_t k = 0; k < (with_opt ? 3u : 1u); k++)
        for (int i = 0; i < nt; i++, j++) {
            snprintf(names[j], sizeof names[j], "%s%s", prefix[k], dgm_params_name(pp, i));
            t[j].name = names[j];
            t[j].data = bufs[k] + dgm_params_offset(pp, i);
            t[j].ndim = dgm_params_shape(pp, i, t[j].shape);
        }
    /* the masks as buffers: order (M x V), degrees_l (M x H_l), small integers as floats */
    float *o = tab, *h = tab + M * p->V;
    for (size_t i = 0; i < M * p->V; i++)
        o[i] = (float)p->order[i];
    t[j++] = (dgm_st_tensor){"order", o, {M, p->V}, 2};
    size_t off = 0;
    for (size_t l = 0; l < nh; l++) {
        size_t H = p->cfg.hidden[l];
        float *hl = h + M * off;
        for (size_t k = 0; k < M; k++)
            for (size_t u = 0; u < H; u++)
                hl[k * H + u] = (float)p->hdeg[k * p->sumH + off + u];
        snprintf(names[j], sizeof names[j], "degrees_%zu", l);
        t[j] = (dgm_st_tensor){names[j], hl, {M, H}, 2};
        j++;
        off += H;
    }
    cJSON *cfg = config_json(p);
    dgm_status s = cfg ? dgm__model_write(m, path, t, j, cfg, NULL, err)
                       : dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    cJSON_Delete(cfg);
    free(t);
    free(names);
    dgm_free(tab);
    return s;
}

static void made_describe(const dgm_model *m, cJSON *o)
{
    const dgm__made *p = MADE(m);
    double h[8];
    for (int l = 0; l < p->cfg.n_hidden; l++)
        h[l] = (double)p->cfg.hidden[l];
    cJSON_AddStringToObject(o, "kind", kind_name(p->cfg.kind));
    cJSON_AddItemToObject(o, "hidden", cJSON_CreateDoubleArray(h, p->cfg.n_hidden));
    cJSON_AddNumberToObject(o, "n_masks", p->cfg.n_masks);
    cJSON_AddStringToObject(o, "order", order_name(p->cfg.order));
    if (p->have_focus) {
        cJSON_AddStringToObject(o, "focus", p->focus.name);
        cJSON_AddNumberToObject(o, "L", (double)p->V);
        cJSON_AddNumberToObject(o, "neff", p->focus.neff);
        cJSON_AddNumberToObject(o, "theta", p->focus.theta);
        cJSON_AddStringToObject(o, "weights", p->focus.weights);
    }
}

static dgm_status made_focus_of(const dgm_model *m, dgm_seqfocus *f)
{
    const dgm__made *p = MADE(m);
    if (!p->have_focus)
        return DGM_ERR_UNSUPPORTED;
    f->name = p->focus.name;
    f->residues = p->focus.residues;
    f->start = p->focus.start;
    f->L = p->V;
    f->pos = p->focus.pos;
    f->wt = p->focus.wt;
    return DGM_OK;
}

const dgm__model_ops dgm__made_ops = {
    .type = "made", .log_prob = made_log_prob, .sample = made_sample, .save = made_save,
    .destroy = made_destroy, .describe = made_describe, .fit = &dgm__made_fit_ops,
    .seqfocus = made_focus_of};

static dgm_model *made_model(dgm__made *p)
{
    dgm_model *m = dgm__model_new(&dgm__made_ops, p);
    if (!m)
        return NULL;
    m->dim = p->Din;
    m->exact = 1;
    snprintf(m->likelihood, sizeof m->likelihood, "%s",
             p->cfg.kind == DGM_MADE_BINARY ? "binary" : "sequence");
    m->n_params = dgm_params_count(p->p);
    if (dgm__model_set_classes(m, p->C)) {
        m->impl = NULL; /* the caller still owns p */
        dgm_model_free(m);
        return NULL;
    }
    m->height = p->cfg.height;
    m->width = p->cfg.width;
    if (m->height * m->width != m->dim)
        m->height = m->width = 0;
    return m;
}

static dgm_status focus_copy(made_focus *f, const dgm_alignment *a, size_t L, dgm_err *err)
{
    if (a->L != L)
        return dgm_errf(err, DGM_ERR_SHAPE, "made: the focus alignment has %zu columns, the "
                        "model %zu", a->L, L);
    snprintf(f->name, sizeof f->name, "%s", a->focus_name);
    f->start = a->focus_start;
    f->residues = strdup(a->focus_residues ? a->focus_residues : "");
    f->pos = dgm_malloc_array(L, sizeof *f->pos);
    f->wt = malloc(L);
    if (!f->residues || !f->pos || !f->wt)
        return dgm_errf(err, DGM_ERR_NOMEM, "made: out of memory");
    memcpy(f->pos, a->pos, L * sizeof *f->pos);
    memcpy(f->wt, a->seq, L);
    snprintf(f->weights, sizeof f->weights, "none");
    return DGM_OK;
}

dgm_status dgm_made_create(dgm_model **out, dgm_rng *rng, const dgm_made_cfg *cfg,
                           const dgm_alignment *focus, dgm_err *err)
{
    *out = NULL;
    dgm__made *p;
    dgm_status s = made_new(&p, cfg, err);
    if (s)
        return s;
    if (focus && cfg->kind == DGM_MADE_CATEGORICAL) {
        p->have_focus = 1;
        if ((s = focus_copy(&p->focus, focus, p->V, err))) {
            made_destroy(p);
            return s;
        }
    }
    for (int l = 0; l < p->n_layers; l++)
        dgm_linear_init(rng, dgm_params_tensor(p->p, p->iW[l]), dgm_params_tensor(p->p, p->ib[l]),
                        p->dims[l], p->dims[l + 1]);
    if (p->C) {
        dgm_linear_init(rng, dgm_params_tensor(p->p, p->iC), NULL, (size_t)p->C, p->dims[1]);
        dgm_linear_init(rng, dgm_params_tensor(p->p, p->iCo), NULL, (size_t)p->C, p->Dout);
    }
    dgm_model *m = (s = draw_masks(p, err)) ? NULL : made_model(p);
    if (!m) {
        made_destroy(p);
        return s ? s : dgm_errf(err, DGM_ERR_NOMEM, "made: out of memory");
    }
    *out = m;
    return DGM_OK;
}

// ---------------------------------------------------------------------------- load ---

static int json_count(const cJSON *c, const char *key, double lo, double hi, double *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(c, key);
    if (!cJSON_IsNumber(x) || x->valuedouble < lo || x->valuedouble > hi ||
        x->valuedouble != floor(x->valuedouble))
        return 0;
    *v = x->valuedouble;
    return 1;
}

static dgm_status focus_from_json(made_focus *f, const cJSON *c, size_t L, const char *path,
                                  dgm_err *err)
{
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(c, "focus_name");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(c, "focus_residues");
    const cJSON *row = cJSON_GetObjectItemCaseSensitive(c, "focus_row");
    const cJSON *pos = cJSON_GetObjectItemCaseSensitive(c, "positions");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "focus_start");
    if (!cJSON_IsString(nm) || !cJSON_IsString(res) || !cJSON_IsString(row) ||
        !cJSON_IsArray(pos) || !cJSON_IsNumber(st) || !(fabs(st->valuedouble) <= 1e9) ||
        strlen(row->valuestring) != L ||
        cJSON_GetArraySize(pos) != (int)L)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged MADE: the focus fields are missing "
                        "or of the wrong length", path);
    snprintf(f->name, sizeof f->name, "%s", nm->valuestring);
    f->start = (long)st->valuedouble;
    const cJSON *ne = cJSON_GetObjectItemCaseSensitive(c, "neff");
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(c, "theta");
    /* provenance only; a non-finite value (1e999) counts as missing, so that the file
     * writes back as it loaded (JSON has no inf) */
    f->neff = cJSON_IsNumber(ne) && isfinite(ne->valuedouble) ? ne->valuedouble : 0;
    f->theta = cJSON_IsNumber(th) && isfinite(th->valuedouble) ? th->valuedouble : 0;
    const cJSON *wr = cJSON_GetObjectItemCaseSensitive(c, "weights");
    snprintf(f->weights, sizeof f->weights, "%s", cJSON_IsString(wr) ? wr->valuestring : "none");
    f->residues = strdup(res->valuestring);
    f->pos = dgm_malloc_array(L, sizeof *f->pos);
    f->wt = malloc(L);
    if (!f->residues || !f->pos || !f->wt)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    long nres = (long)strlen(f->residues);
    for (size_t j = 0; j < L; j++) {
        int a = dgm_aa_index(row->valuestring[j]);
        const cJSON *q = cJSON_GetArrayItem(pos, (int)j);
        /* range-checked as a double: casting 1e300 to long is undefined */
        long v = cJSON_IsNumber(q) && fabs(q->valuedouble) <= 1e12 ? (long)q->valuedouble : -2;
        if (a < 0 || v < -1 || (v >= 0 && (v < f->start || v >= f->start + nres)))
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged MADE: column %zu of the focus row "
                            "or its position is invalid", path, j);
        f->wt[j] = (uint8_t)a;
        f->pos[j] = v;
    }
    return DGM_OK;
}

/* A mask table from the file: M x n integers in [lo, hi]; an ordering (perm) is a
 * permutation of 0..n-1 in each row. */
static dgm_status read_table(int32_t *out, const dgm_st_file *f, const char *name, size_t M,
                             size_t n, int32_t lo, int32_t hi, int perm, const char *path,
                             dgm_err *err)
{
    const float *t = dgm__st_expect(f, name, M * n, path, err);
    if (!t)
        return err ? err->code : DGM_ERR_FORMAT;
    unsigned char *seen = perm ? calloc(n, 1) : NULL;
    if (perm && !seen)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    dgm_status s = DGM_OK;
    for (size_t k = 0; !s && k < M; k++) {
        if (perm)
            memset(seen, 0, n);
        for (size_t i = 0; !s && i < n; i++) {
            float v = t[k * n + i];
            if (!(v >= (float)lo && v <= (float)hi) || v != floorf(v) || (perm && seen[(size_t)v]))
                s = dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged MADE: %s[%zu, %zu] = %g is not a "
                             "valid %s", path, name, k, i, (double)v, perm ? "ordering rank" : "degree");
            else {
                out[k * n + i] = (int32_t)v;
                if (perm)
                    seen[(size_t)v] = 1;
            }
        }
    }
    free(seen);
    return s;
}

dgm_status dgm__made_load(dgm_model **out, const dgm_st_file *f, const cJSON *config,
                          const char *path, dgm_err *err)
{
    *out = NULL;
    dgm_model tmp;
    dgm_status s = dgm__model_peek_common(&tmp, config, path, err);
    if (s)
        return s;
    dgm_made_cfg c = dgm_made_defaults();
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(config, "kind");
    const cJSON *ord = cJSON_GetObjectItemCaseSensitive(config, "order");
    const cJSON *hid = cJSON_GetObjectItemCaseSensitive(config, "hidden");
    double V = 0, M = 0, seed = 0;
    if (!cJSON_IsString(kind) || !cJSON_IsString(ord) || !cJSON_IsArray(hid) ||
        cJSON_GetArraySize(hid) < 1 || cJSON_GetArraySize(hid) > 8 ||
        !json_count(config, "variables", 2, 1 << 20, &V) ||
        !json_count(config, "n_masks", 1, 4096, &M) ||
        !json_count(config, "mask_seed", 0, 9007199254740992.0, &seed))
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged MADE: kind, variables, hidden, "
                        "n_masks, order or mask_seed missing or out of range", path);
    c.kind = !strcmp(kind->valuestring, "binary") ? DGM_MADE_BINARY : DGM_MADE_CATEGORICAL;
    c.order = !strcmp(ord->valuestring, "natural") ? DGM_MADE_NATURAL : DGM_MADE_RANDOM;
    if ((strcmp(kind->valuestring, "binary") && strcmp(kind->valuestring, "categorical")) ||
        (strcmp(ord->valuestring, "natural") && strcmp(ord->valuestring, "random")))
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged MADE: unknown kind '%s' or order '%s'",
                        path, kind->valuestring, ord->valuestring);
    c.dim = (size_t)V, c.n_masks = (int)M, c.mask_seed = (uint64_t)seed;
    c.n_hidden = cJSON_GetArraySize(hid);
    for (int l = 0; l < c.n_hidden; l++) {
        const cJSON *h = cJSON_GetArrayItem(hid, l);
        if (!cJSON_IsNumber(h) || h->valuedouble < 1 || h->valuedouble > 65536)
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged MADE: hidden width %d", path, l);
        c.hidden[l] = (size_t)h->valuedouble;
    }
    c.height = tmp.height, c.width = tmp.width;
    c.n_classes = tmp.n_classes;
    size_t din = c.dim * (c.kind == DGM_MADE_CATEGORICAL ? DGM_AA_N : 1);
    if (tmp.dim != din)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged MADE: dim %zu does not fit %zu "
                        "variables", path, tmp.dim, c.dim);
    dgm__made *p;
    if ((s = made_new(&p, &c, err)))
        return s;
    if (c.kind == DGM_MADE_CATEGORICAL && cJSON_GetObjectItemCaseSensitive(config, "focus_row")) {
        p->have_focus = 1;
        s = focus_from_json(&p->focus, config, p->V, path, err);
    }
    /* weights, and the optimizer's moments when the file is a checkpoint */
    dgm_params *pp = p->p;
    int nt = dgm_params_n_tensors(pp);
    int have_opt = dgm_st_find(f, "optimizer.exp_avg.net.0.weight") != NULL;
    float *bufs[3] = {dgm_params_data(pp), dgm_params_m(pp), dgm_params_v(pp)};
    const char *prefix[3] = {"", "optimizer.exp_avg.", "optimizer.exp_avg_sq."};
    for (int k = 0; !s && k < (have_opt ? 3 : 1); k++)
        for (int i = 0; !s && i < nt; i++) {
            char name[160];
            snprintf(name, sizeof name, "%s%s", prefix[k], dgm_params_name(pp, i));
            size_t ne = dgm_params_numel(pp, i);
            const float *src = dgm__st_expect(f, name, ne, path, err);
            if (!src)
                s = err ? err->code : DGM_ERR_FORMAT;
            else
                memcpy(bufs[k] + dgm_params_offset(pp, i), src, ne * sizeof *src);
        }
    if (!s && !dgm_all_finite(dgm_params_data(pp), dgm_params_count(pp)))
        s = dgm_errf(err, DGM_ERR_NAN, "%s: damaged MADE: a weight is not finite", path);
    if (!s)
        s = read_table(p->order, f, "order", (size_t)c.n_masks, p->V, 0, (int32_t)p->V - 1, 1,
                       path, err);
    size_t off = 0;
    for (int l = 0; !s && l < c.n_hidden; l++) {
        size_t H = c.hidden[l], Mm = (size_t)c.n_masks;
        int32_t *tab = dgm_malloc_array(Mm, H * sizeof *tab);
        char name[32];
        snprintf(name, sizeof name, "degrees_%d", l);
        s = tab ? read_table(tab, f, name, Mm, H, 0, (int32_t)p->V - 2, 0, path, err)
                : dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
        for (size_t k = 0; !s && k < Mm; k++)
            memcpy(p->hdeg + k * p->sumH + off, tab + k * H, H * sizeof *tab);
        dgm_free(tab);
        off += H;
    }
    dgm_model *m = s ? NULL : made_model(p);
    if (!s && !m)
        s = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    if (s) {
        made_destroy(p);
        return s;
    }
    m->keep_optimizer = have_opt;
    return dgm__model_finish_load(out, m, config, path, err);
}
