/* MADE (src/models/made/, src/nn/masked.c): the masked linear layer's forward against the
 * dense product with an explicit mask in double and its backward (dx, dW, db) by central
 * differences, adding into gradients; the MADE loss's gradient for every parameter of a
 * binary and a categorical model, per mask; the autoregressive property (changing input
 * d leaves every output of rank <= rank(d) bit for bit unchanged); exact normalisation
 * (p sums to 1 over all 2^6 binary vectors and all 21^3 sequences, per mask and for the
 * ensemble); ancestral samples against the exact probabilities; the file (PyTorch names,
 * the mask tables, the same log p after a round trip, damaged tables refused); bad
 * configurations; and a minibatch fit resumed from its checkpoint repeating the
 * uninterrupted run bit for bit. */
#include "dgm_blocks.h"
#include "core/assert.h"
#include "gradcheck.h"
#include "models/made/made.h"
#include "nn/masked.h"

#include <stdint.h>
#include <unistd.h>
#include "test.h"

static float *alloc_f(size_t n)
{
    float *p = dgm_calloc_array(n ? n : 1, sizeof(float));
    DGM_ASSERT(p);
    return p;
}

static void fill_normal(dgm_rng *r, float *x, size_t n, double sd)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(sd * dgm_rng_normal(r));
}

#define JUDGE(what, ok, res) do { if (!(ok)) gradcheck_report(what, &(res)); \
    CHECK_MSG(ok, "%s", what); CHECK((res).n_kinks <= (res).n_checked / 4 + 1); } while (0)

static void check_grad(const char *what, gradcheck_loss_fn f, void *ctx, float *x,
                       const float *g, size_t n, dgm_rng *r)
{
    gradcheck_opts o = gradcheck_default_opts();
    gradcheck_result res;
    int ok = gradcheck_elementwise(&res, f, ctx, x, g, n, &o);
    JUDGE(what, ok, res);
    ok = gradcheck_direction(&res, f, ctx, x, g, n, r, 4, &o);
    JUDGE(what, ok, res);
}

// ---------------------------------------------------------------- masked linear ---

typedef struct {
    size_t B, I, O;
    int strict;
    float *x, *W, *Wm, *b, *y, *C;
    int32_t *dout, *din;
} lin_ctx;

static double lin_loss(void *q)
{
    lin_ctx *s = q;
    dgm__masked_weights(s->Wm, s->W, s->dout, s->din, s->O, s->I, s->strict);
    dgm__masked_forward(s->y, s->x, s->Wm, s->b, s->B, s->I, s->O);
    return dgm_dot(s->C, s->y, s->B * s->O);
}

/* dW and db were added into 1s: take the 1s away, and a cut weight got no gradient */
static void added_to_ones(float *dW, float *db, size_t O, size_t I, const int32_t *dout,
                          const int32_t *din, int strict)
{
    for (size_t i = 0; i < O * I; i++)
        dW[i] -= 1;
    for (size_t i = 0; i < O; i++)
        db[i] -= 1;
    for (size_t o = 0; o < O; o++)
        for (size_t i = 0; i < I; i++)
            if (strict ? dout[o] <= din[i] : dout[o] < din[i])
                CHECK(dW[o * I + i] == 0.0f);
}

static void test_masked_linear(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 3);
    for (int strict = 0; strict < 2; strict++) {
        lin_ctx s = {.B = 3, .I = 7, .O = 5, .strict = strict};
        size_t B = s.B, I = s.I, O = s.O;
        s.x = alloc_f(B * I), s.W = alloc_f(O * I), s.Wm = alloc_f(O * I), s.b = alloc_f(O);
        s.y = alloc_f(B * O), s.C = alloc_f(B * O);
        s.dout = malloc(O * sizeof(int32_t)), s.din = malloc(I * sizeof(int32_t));
        fill_normal(&r, s.x, B * I, 1), fill_normal(&r, s.W, O * I, 0.5);
        fill_normal(&r, s.b, O, 0.5), fill_normal(&r, s.C, B * O, 1);
        for (size_t i = 0; i < I; i++)
            s.din[i] = (int32_t)dgm_rng_below(&r, 4);
        for (size_t o = 0; o < O; o++)
            s.dout[o] = (int32_t)dgm_rng_below(&r, 4);
        /* forward: y = x (W . M)^T + b with the mask from the degrees, in double */
        lin_loss(&s);
        for (size_t b = 0; b < B; b++)
            for (size_t o = 0; o < O; o++) {
                double acc = s.b[o];
                for (size_t i = 0; i < I; i++) {
                    int keep = strict ? s.dout[o] > s.din[i] : s.dout[o] >= s.din[i];
                    acc += keep ? (double)s.x[b * I + i] * s.W[o * I + i] : 0.0;
                }
                CHECK_NEAR(s.y[b * O + o], acc, 1e-5);
            }
        /* backward, into gradients pre-filled with 1 (it adds) */
        float *dx = alloc_f(B * I), *dW = alloc_f(O * I), *db = alloc_f(O), *scr = alloc_f(O * I);
        for (size_t i = 0; i < B * I; i++)
            dx[i] = 1;
        for (size_t i = 0; i < O * I; i++)
            dW[i] = 1;
        for (size_t i = 0; i < O; i++)
            db[i] = 1;
        dgm__masked_backward(dx, dW, db, scr, s.C, s.x, s.Wm, s.dout, s.din, B, I, O, strict);
        for (size_t i = 0; i < B * I; i++)
            dx[i] -= 1;
        added_to_ones(dW, db, O, I, s.dout, s.din, strict);
        check_grad(strict ? "masked dW (strict)" : "masked dW", lin_loss, &s, s.W, dW, O * I, &r);
        check_grad("masked db", lin_loss, &s, s.b, db, O, &r);
        check_grad("masked dx", lin_loss, &s, s.x, dx, B * I, &r);
        free(s.x), free(s.W), free(s.Wm), free(s.b), free(s.y), free(s.C), free(s.dout);
        free(s.din), free(dx), free(dW), free(db), free(scr);
    }
}

// ------------------------------------------------------------- the staircase plan ---

typedef struct {
    dgm__mlayer *L;
    size_t B;
    int strict;
    const int32_t *dout, *din;
    float *x, *W, *b, *xs, *ys, *y, *C;
} plan_ctx;

/* the plan's layer in the parameter orders: gather x in, run, scatter the outputs out */
static double plan_loss(void *q)
{
    plan_ctx *s = q;
    dgm__mlayer_set(s->L, s->W, s->b, s->dout, s->din, s->strict);
    dgm__mlayer_gather_in(s->L, s->xs, s->x, s->B);
    dgm__mlayer_forward(s->L, s->ys, s->xs, s->B);
    dgm__mlayer_scatter_out(s->L, s->y, s->ys, s->B);
    return dgm_dot(s->C, s->y, s->B * s->L->O);
}

/* Blocks of 1, 2, 3 and 64 rows: the forward against the explicit mask in double, the
 * backward by central differences (and cut weights get no gradient), and at a size that
 * opens a parallel region the same bits at 1 and 2 threads. */
static void test_staircase(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 4);
    const size_t rbs[4] = {1, 2, 3, 64};
    for (int strict = 0; strict < 2; strict++)
        for (int q = 0; q < 4; q++) {
            size_t B = 3, I = 9, O = 7;
            dgm__mlayer L;
            dgm_err err = {0};
            CHECK(dgm__mlayer_init(&L, O, I, rbs[q], &err) == DGM_OK);
            int32_t dout[7], din[9];
            for (size_t i = 0; i < I; i++)
                din[i] = (int32_t)dgm_rng_below(&r, 5);
            for (size_t o = 0; o < O; o++)
                dout[o] = (int32_t)dgm_rng_below(&r, 5);
            plan_ctx s = {&L, B, strict, dout, din, alloc_f(B * I), alloc_f(O * I), alloc_f(O),
                          alloc_f(B * I), alloc_f(B * O), alloc_f(B * O), alloc_f(B * O)};
            fill_normal(&r, s.x, B * I, 1), fill_normal(&r, s.W, O * I, 0.5);
            fill_normal(&r, s.b, O, 0.5), fill_normal(&r, s.C, B * O, 1);
            plan_loss(&s);
            for (size_t b = 0; b < B; b++)
                for (size_t o = 0; o < O; o++) {
                    double acc = s.b[o];
                    for (size_t i = 0; i < I; i++)
                        if (strict ? dout[o] > din[i] : dout[o] >= din[i])
                            acc += (double)s.x[b * I + i] * s.W[o * I + i];
                    CHECK_NEAR(s.y[b * O + o], acc, 1e-5);
                }
            /* dy = C in the sorted order; dW and db add into 1s */
            float *dys = alloc_f(B * O), *dxs = alloc_f(B * I), *dx = alloc_f(B * I);
            float *dW = alloc_f(O * I), *db = alloc_f(O), *scr = alloc_f(O * I);
            for (size_t i = 0; i < O * I; i++)
                dW[i] = 1;
            for (size_t i = 0; i < O; i++)
                db[i] = 1;
            dgm__mlayer_gather_out(&L, dys, s.C, B);
            dgm__mlayer_backward(&L, dxs, dW, db, scr, dys, s.xs, B);
            dgm__mlayer_scatter_in(&L, dx, dxs, B); /* back into the parameter order */
            added_to_ones(dW, db, O, I, dout, din, strict);
            check_grad("staircase dW", plan_loss, &s, s.W, dW, O * I, &r);
            check_grad("staircase db", plan_loss, &s, s.b, db, O, &r);
            check_grad("staircase dx", plan_loss, &s, s.x, dx, B * I, &r);
            free(s.x), free(s.W), free(s.b), free(s.xs), free(s.ys), free(s.y), free(s.C);
            free(dys), free(dxs), free(dx), free(dW), free(db), free(scr);
            dgm__mlayer_free(&L);
        }
    /* the same bits at 1 and 2 threads */
    size_t B = 64, I = 300, O = 200;
    int32_t *dout = malloc(O * sizeof *dout), *din = malloc(I * sizeof *din);
    float *x = alloc_f(B * I), *W = alloc_f(O * I), *b = alloc_f(O), *dy = alloc_f(B * O);
    fill_normal(&r, x, B * I, 1), fill_normal(&r, W, O * I, 0.1), fill_normal(&r, b, O, 0.1);
    fill_normal(&r, dy, B * O, 1);
    for (size_t i = 0; i < I; i++)
        din[i] = (int32_t)dgm_rng_below(&r, 50);
    for (size_t o = 0; o < O; o++)
        dout[o] = (int32_t)dgm_rng_below(&r, 50);
    float *res[2];
    for (int t = 0; t < 2; t++) {
        dgm_set_threads(t + 1);
        dgm__mlayer L;
        dgm_err err = {0};
        CHECK(dgm__mlayer_init(&L, O, I, 16, &err) == DGM_OK);
        dgm__mlayer_set(&L, W, b, dout, din, 0);
        res[t] = alloc_f(B * O + B * I + O * I + O);
        float *y = res[t], *dx = y + B * O, *dW = dx + B * I, *db = dW + O * I;
        float *scr = alloc_f(O * I);
        dgm__mlayer_forward(&L, y, x, B);
        dgm__mlayer_backward(&L, dx, dW, db, scr, dy, x, B);
        free(scr);
        dgm__mlayer_free(&L);
    }
    dgm_set_threads(0);
    CHECK(memcmp(res[0], res[1], (B * O + B * I + O * I + O) * sizeof(float)) == 0);
    free(res[0]), free(res[1]), free(dout), free(din), free(x), free(W), free(b), free(dy);
}

// ------------------------------------------------------------------------ models ---

/* blocks of 2 and 3 rows, so that the tiny layers' products run as several blocks (the
 * block size is part of what fixes the bits: a loaded copy gets the same) */
static void small_blocks(dgm_model *m)
{
    for (int l = 0; l < MADE(m)->n_layers; l++)
        MADE(m)->ml[l].rb = 2 + (size_t)(l % 2);
    dgm__made_touched(MADE(m));
}

/* C > 0: class-conditional */
static dgm_model *tiny_c(dgm_made_kind kind, size_t V, int n_masks, dgm_made_order order,
                         int n_hidden, uint64_t seed, int C)
{
    dgm_made_cfg c = dgm_made_defaults();
    c.kind = kind, c.dim = V, c.n_masks = n_masks, c.order = order, c.mask_seed = seed;
    c.n_classes = C;
    c.n_hidden = n_hidden;
    for (int l = 0; l < n_hidden; l++)
        c.hidden[l] = 9 + (size_t)l;
    dgm_rng r;
    dgm_rng_init(&r, seed + 100);
    dgm_model *m = NULL;
    dgm_err err = {0};
    dgm_status s = dgm_made_create(&m, &r, &c, NULL, &err);
    CHECK_MSG(s == DGM_OK, "%s", err.msg);
    DGM_ASSERT(m);
    /* larger weights than the default init, so that the conditionals are far from flat */
    float *w = dgm_params_data(MADE(m)->p);
    for (size_t i = 0; i < dgm_params_count(MADE(m)->p); i++)
        w[i] *= 3.0f;
    small_blocks(m);
    return m;
}

static dgm_model *tiny(dgm_made_kind kind, size_t V, int n_masks, dgm_made_order order,
                       int n_hidden, uint64_t seed)
{
    return tiny_c(kind, V, n_masks, order, n_hidden, seed, 0);
}

/* one-hot rows of random letters (gaps included) and their letters */
static void random_seqs(dgm_rng *r, float *x, uint8_t *let, size_t B, size_t L)
{
    memset(x, 0, B * L * DGM_AA_N * sizeof *x);
    for (size_t i = 0; i < B * L; i++) {
        let[i] = (uint8_t)dgm_rng_below(r, DGM_AA_N + 1);
        if (let[i] < DGM_AA_N)
            x[i * DGM_AA_N + let[i]] = 1.0f;
    }
}

typedef struct {
    dgm_model *m;
    int k;
    size_t B;
    const float *x;
    const uint8_t *let;
    const int32_t *y;
    double ll[8];
} loss_ctx;

static double made_loss(void *q)
{
    loss_ctx *s = q;
    dgm__made *p = MADE(s->m);
    dgm__made_touched(p); /* the weights were perturbed */
    dgm__made_use_mask(p, s->k);
    dgm__made_forward_backward(p, s->ll, s->x, s->let, s->y, NULL, s->B);
    double l = 0;
    for (size_t b = 0; b < s->B; b++)
        l -= s->ll[b] / (double)s->B;
    return l;
}

static void test_made_gradient(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 5);
    /* cond: class-conditional (3 classes), so cond.weight is checked too */
    for (int cond = 0; cond < 2; cond++)
    for (int cat = 0; cat < 2; cat++)
        for (int k = 0; k < 2; k++) {
            size_t V = cat ? 4 : 6, B = 5;
            dgm_model *m = tiny_c(cat ? DGM_MADE_CATEGORICAL : DGM_MADE_BINARY, V, 2,
                                  DGM_MADE_RANDOM, 2, 7, cond ? 3 : 0);
            dgm__made *p = MADE(m);
            dgm_err err = {0};
            CHECK(dgm__made_reserve(p, B, &err) == DGM_OK);
            float *x = alloc_f(B * p->Din), dsc[8];
            uint8_t let[64];
            if (cat)
                random_seqs(&r, x, let, B, V);
            else
                for (size_t i = 0; i < B * V; i++)
                    x[i] = (float)dgm_rng_below(&r, 2);
            int32_t y[5] = {0, 2, 1, 2, 0};
            loss_ctx s = {m, k, B, x, let, cond ? y : NULL, {0}};
            for (size_t b = 0; b < B; b++)
                dsc[b] = 1.0f / (float)B;
            dgm_params_zero_grad(p->p);
            dgm__made_touched(p);
            dgm__made_use_mask(p, k);
            dgm__made_forward_backward(p, s.ll, x, let, s.y, dsc, B);
            size_t P = dgm_params_count(p->p);
            float *g = alloc_f(P);
            memcpy(g, dgm_params_grad(p->p), P * sizeof *g);
            if (cond) { /* the label's weights get a gradient, and only the labels' columns */
                int idx = dgm_params_find(p->p, "cond.weight");
                CHECK(idx >= 0);
                const float *gc = dgm_params_grad(p->p) + dgm_params_offset(p->p, idx);
                double col[3] = {0};
                for (size_t h = 0; h < p->dims[1]; h++)
                    for (size_t c = 0; c < 3; c++)
                        col[c] += fabs(gc[h * 3 + c]);
                CHECK(col[0] > 0 && col[1] > 0 && col[2] > 0);
            }
            check_grad(cat ? "categorical MADE loss" : "binary MADE loss", made_loss, &s,
                       dgm_params_data(p->p), g, P, &r);
            free(g);
            free(x);
            dgm_model_free(m);
        }
}

/* Changing input variable d leaves the logits of every variable of rank <= rank(d) bit for
 * bit unchanged, and changes some logit of a later rank for some d. */
static void test_autoregressive(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 9);
    for (int cat = 0; cat < 2; cat++) {
        size_t V = cat ? 5 : 8;
        /* class-conditional, so the label path is inside the property too */
        dgm_model *m = tiny_c(cat ? DGM_MADE_CATEGORICAL : DGM_MADE_BINARY, V, 3, DGM_MADE_RANDOM,
                              2, 11, 2);
        dgm__made *p = MADE(m);
        dgm_err err = {0};
        CHECK(dgm__made_reserve(p, 2, &err) == DGM_OK);
        int32_t y1 = 1, y0 = 0;
        int label_moved_first = 0;
        float *x = alloc_f(2 * p->Din), *l0 = alloc_f(p->Dout);
        uint8_t let[32];
        double ll[2];
        int changed_later = 0;
        for (int k = 0; k < 3; k++) {
            dgm__made_use_mask(p, k);
            const int32_t *ord = p->order + (size_t)k * V;
            for (size_t d = 0; d < V; d++) {
                if (cat)
                    random_seqs(&r, x, let, 1, V);
                else
                    for (size_t i = 0; i < V; i++)
                        x[i] = (float)dgm_rng_below(&r, 2);
                dgm__made_forward_backward(p, ll, x, let, &y0, NULL, 1);
                memcpy(l0, p->act[p->n_layers], p->Dout * sizeof *l0);
                /* the label reaches even the first variable's outputs */
                dgm__made_forward_backward(p, ll, x, let, &y1, NULL, 1);
                for (size_t j = 0; j < p->Dout; j++)
                    if (ord[j / p->Aout] == 0 && p->act[p->n_layers][j] != l0[j])
                        label_moved_first = 1;
                /* change variable d */
                if (cat) {
                    memset(x + d * DGM_AA_N, 0, DGM_AA_N * sizeof *x);
                    let[d] = (uint8_t)((let[d] + 1 + dgm_rng_below(&r, DGM_AA_N)) % (DGM_AA_N + 1));
                    if (let[d] < DGM_AA_N)
                        x[d * DGM_AA_N + let[d]] = 1.0f;
                } else {
                    x[d] = 1.0f - x[d];
                }
                dgm__made_forward_backward(p, ll, x, let, &y0, NULL, 1);
                const float *l1 = p->act[p->n_layers];
                for (size_t j = 0; j < p->Dout; j++) {
                    size_t v = j / p->Aout;
                    if (ord[v] <= ord[d])
                        CHECK_MSG(l1[j] == l0[j], "mask %d: output %zu (rank %d) moved when "
                                  "input %zu (rank %d) changed", k, j, ord[v], d, ord[d]);
                    else if (l1[j] != l0[j])
                        changed_later = 1;
                }
            }
        }
        CHECK(changed_later);
        CHECK(label_moved_first);
        free(x), free(l0);
        dgm_model_free(m);
    }
}

/* p sums to 1 over every input, per mask and for the ensemble */
static void test_normalised(void)
{
    /* binary: all 2^6 vectors */
    dgm_model *m = tiny(DGM_MADE_BINARY, 6, 3, DGM_MADE_RANDOM, 2, 21);
    size_t N = 64, D = 6, M = 3;
    float *x = alloc_f(N * D);
    for (size_t i = 0; i < N; i++)
        for (size_t d = 0; d < D; d++)
            x[i * D + d] = (float)((i >> d) & 1);
    double *lp = malloc(N * sizeof *lp), *lk = malloc(N * M * sizeof *lk), *col = malloc(N * sizeof *col);
    dgm_err err = {0};
    CHECK(dgm_model_log_prob(m, NULL, lp, x, NULL, N, 1, &err) == DGM_OK);
    CHECK_NEAR(dgm_logsumexp_d(lp, N), 0.0, 1e-5);
    CHECK(dgm_made_log_prob_masks(m, lk, x, NULL, N, &err) == DGM_OK);
    for (size_t k = 0; k < M; k++) {
        for (size_t i = 0; i < N; i++)
            col[i] = lk[i * M + k];
        CHECK_NEAR(dgm_logsumexp_d(col, N), 0.0, 1e-5);
    }
    /* the ensemble is the mixture, not averaged logits */
    for (size_t i = 0; i < N; i++)
        CHECK_NEAR(lp[i], dgm_logsumexp_d(lk + i * M, M) - log(3.0), 1e-9);
    dgm_model_free(m);
    /* class-conditional: p(. | y) sums to 1 for each y, and the classes differ */
    m = tiny_c(DGM_MADE_BINARY, 6, 2, DGM_MADE_RANDOM, 2, 22, 3);
    int32_t yy[64];
    double first[64] = {0};
    for (int c = 0; c < 3; c++) {
        for (size_t i = 0; i < N; i++)
            yy[i] = c;
        CHECK(dgm_model_log_prob(m, NULL, lp, x, yy, N, 1, &err) == DGM_OK);
        CHECK_NEAR(dgm_logsumexp_d(lp, N), 0.0, 1e-5);
        if (c == 0)
            memcpy(first, lp, sizeof first);
        else
            CHECK(fabs(lp[5] - first[5]) > 1e-4);
    }
    CHECK(dgm_model_log_prob(m, NULL, lp, x, NULL, N, 1, &err) == DGM_ERR_ARG);
    yy[3] = 3;
    CHECK(dgm_model_log_prob(m, NULL, lp, x, yy, N, 1, &err) == DGM_ERR_ARG);
    free(x), free(lp), free(lk), free(col);
    dgm_model_free(m);
    /* categorical: all 21^3 sequences of 3 columns, gaps included */
    m = tiny(DGM_MADE_CATEGORICAL, 3, 2, DGM_MADE_RANDOM, 1, 23);
    size_t L = 3, A = DGM_AA_N + 1;
    N = A * A * A;
    x = alloc_f(N * L * DGM_AA_N);
    for (size_t i = 0; i < N; i++) {
        size_t c = i;
        for (size_t l = 0; l < L; l++, c /= A)
            if (c % A < DGM_AA_N)
                x[(i * L + l) * DGM_AA_N + c % A] = 1.0f;
    }
    lp = malloc(N * sizeof *lp);
    CHECK(dgm_model_log_prob(m, NULL, lp, x, NULL, N, 1, &err) == DGM_OK);
    CHECK_NEAR(dgm_logsumexp_d(lp, N), 0.0, 1e-5);
    /* a soft (non one-hot) row is refused with a message */
    x[0] = 0.5f;
    CHECK(dgm_model_log_prob(m, NULL, lp, x, NULL, 1, 1, &err) == DGM_ERR_ARG);
    CHECK(strstr(err.msg, "one-hot") != NULL);
    free(x), free(lp);
    dgm_model_free(m);
}

/* frequencies of ancestral samples against the exact probabilities (5 sigma) */
static void test_sampling(void)
{
    dgm_model *m = tiny(DGM_MADE_BINARY, 3, 2, DGM_MADE_RANDOM, 1, 31);
    size_t n = 20000, D = 3;
    float *s = alloc_f(n * D), x[24];
    dgm_rng r;
    dgm_rng_init(&r, 77);
    dgm_err err = {0};
    CHECK(dgm_model_sample(m, &r, s, NULL, n, 0, &err) == DGM_OK);
    double cnt[8] = {0}, lp[8];
    for (size_t i = 0; i < n; i++) {
        int c = 0;
        for (size_t d = 0; d < D; d++) {
            CHECK(s[i * D + d] == 0.0f || s[i * D + d] == 1.0f);
            c |= (s[i * D + d] == 1.0f) << d;
        }
        cnt[c]++;
    }
    for (int c = 0; c < 8; c++)
        for (size_t d = 0; d < D; d++)
            x[c * D + d] = (float)((c >> d) & 1);
    CHECK(dgm_model_log_prob(m, NULL, lp, x, NULL, 8, 1, &err) == DGM_OK);
    for (int c = 0; c < 8; c++) {
        double pr = exp(lp[c]), f = cnt[c] / (double)n;
        CHECK_NEAR(f, pr, 5 * sqrt(pr * (1 - pr) / (double)n) + 1e-4);
    }
    /* the same stream gives the same samples */
    float *s2 = alloc_f(n * D);
    dgm_rng_init(&r, 77);
    CHECK(dgm_model_sample(m, &r, s2, NULL, n, 0, &err) == DGM_OK);
    CHECK(!memcmp(s, s2, n * D * sizeof *s));
    CHECK(dgm_model_sample(m, &r, s2, NULL, 4, 1, &err) == DGM_ERR_UNSUPPORTED);
    free(s), free(s2);
    dgm_model_free(m);
    /* categorical: two columns, every one of 441 pairs */
    m = tiny(DGM_MADE_CATEGORICAL, 2, 1, DGM_MADE_RANDOM, 1, 33);
    size_t A = DGM_AA_N + 1, L = 2;
    n = 40000;
    s = alloc_f(n * L * DGM_AA_N);
    dgm_rng_init(&r, 78);
    CHECK(dgm_model_sample(m, &r, s, NULL, n, 0, &err) == DGM_OK);
    uint8_t *let = malloc(n * L);
    CHECK(dgm__made_letters(let, s, n, L, &err) == DGM_OK);
    double *c2 = calloc(A * A, sizeof *c2), *lp2 = malloc(A * A * sizeof *lp2);
    for (size_t i = 0; i < n; i++)
        c2[let[2 * i] * A + let[2 * i + 1]]++;
    float *xx = alloc_f(A * A * L * DGM_AA_N);
    for (size_t a = 0; a < A; a++)
        for (size_t b = 0; b < A; b++) {
            if (a < DGM_AA_N)
                xx[(a * A + b) * L * DGM_AA_N + a] = 1;
            if (b < DGM_AA_N)
                xx[(a * A + b) * L * DGM_AA_N + DGM_AA_N + b] = 1;
        }
    CHECK(dgm_model_log_prob(m, NULL, lp2, xx, NULL, A * A, 1, &err) == DGM_OK);
    int bad = 0;
    for (size_t j = 0; j < A * A; j++) {
        double pr = exp(lp2[j]), f = c2[j] / (double)n;
        bad += !(fabs(f - pr) <= 5 * sqrt(pr * (1 - pr) / (double)n) + 2e-4);
    }
    CHECK_EQ_INT(bad, 0);
    free(s), free(let), free(c2), free(lp2), free(xx);
    dgm_model_free(m);
}


/* A class-conditional MADE: samples given y against p(x | y) (5 sigma), the file round
 * trip (cond.weight and the class prior kept), and a short fit on two classes whose
 * patterns differ, after which Bayes' rule tells them apart. */
static void test_conditional(void)
{
    dgm_model *m = tiny_c(DGM_MADE_BINARY, 3, 2, DGM_MADE_RANDOM, 1, 35, 2);
    size_t n = 20000, D = 3;
    float *s = alloc_f(2 * n * D), x[24];
    int32_t *y = malloc(2 * n * sizeof *y);
    for (size_t i = 0; i < 2 * n; i++)
        y[i] = (int32_t)(i / n);
    dgm_rng r;
    dgm_rng_init(&r, 79);
    dgm_err err = {0};
    CHECK(dgm_model_sample(m, &r, s, y, 2 * n, 0, &err) == DGM_OK);
    CHECK(dgm_model_sample(m, &r, s, NULL, 2, 0, &err) == DGM_ERR_ARG);
    for (int c = 0; c < 8; c++)
        for (size_t d = 0; d < D; d++)
            x[c * D + d] = (float)((c >> d) & 1);
    for (int cl = 0; cl < 2; cl++) {
        double cnt[8] = {0}, lp[8];
        int32_t yc[8];
        for (size_t i = (size_t)cl * n; i < (size_t)(cl + 1) * n; i++) {
            int c = 0;
            for (size_t d = 0; d < D; d++)
                c |= (s[i * D + d] == 1.0f) << d;
            cnt[c]++;
        }
        for (int c = 0; c < 8; c++)
            yc[c] = cl;
        CHECK(dgm_model_log_prob(m, NULL, lp, x, yc, 8, 1, &err) == DGM_OK);
        for (int c = 0; c < 8; c++) {
            double pr = exp(lp[c]), f = cnt[c] / (double)n;
            CHECK_NEAR(f, pr, 5 * sqrt(pr * (1 - pr) / (double)n) + 1e-4);
        }
    }
    /* the file */
    char path[] = "/tmp/dgm_test_made_cXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    double prior[2] = {log(0.25), log(0.75)};
    CHECK(dgm_model_set_log_prior(m, prior, &err) == DGM_OK);
    dgm_model *m2 = NULL;
    CHECK(dgm_model_save(m, path, &err) == DGM_OK);
    CHECK_MSG(dgm_model_load(&m2, path, &err) == DGM_OK, "%s", err.msg);
    if (m2) {
        small_blocks(m2);
        CHECK_EQ_INT(dgm_model_n_classes(m2), 2);
        CHECK_NEAR(dgm_model_log_prior(m2)[1], log(0.75), 1e-12);
        double a[8], b[8];
        int32_t yc[8] = {0, 1, 0, 1, 1, 0, 1, 0};
        CHECK(dgm_model_log_prob(m, NULL, a, x, yc, 8, 1, &err) == DGM_OK);
        CHECK(dgm_model_log_prob(m2, NULL, b, x, yc, 8, 1, &err) == DGM_OK);
        CHECK(!memcmp(a, b, sizeof a));
        dgm_st_file *f;
        CHECK(dgm_safetensors_read(&f, path, &err) == DGM_OK);
        const dgm_st_tensor *t = dgm_st_find(f, "cond.weight");
        CHECK(t && t->ndim == 2 && t->shape[0] == 9 && t->shape[1] == 2);
        dgm_safetensors_free(f);
        dgm_model_free(m2);
    }
    unlink(path);
    dgm_model_free(m);
    free(s), free(y);
    /* the fit: class 0 has the first half of the pixels on, class 1 the second half */
    size_t N = 300, V = 8;
    dgm_dataset ds = {0};
    ds.kind = DGM_DATA_REAL, ds.n = N, ds.d = V, ds.x = alloc_f(N * V);
    ds.y = malloc(N * sizeof *ds.y), ds.n_classes = 2;
    snprintf(ds.source, sizeof ds.source, "synthetic");
    for (size_t i = 0; i < N; i++) {
        ds.y[i] = (int32_t)(i % 2);
        for (size_t d = 0; d < V; d++)
            ds.x[i * V + d] = (d < V / 2) == (ds.y[i] == 0) ? 0.9f : 0.1f;
    }
    m = tiny_c(DGM_MADE_BINARY, V, 1, DGM_MADE_NATURAL, 1, 53, 2);
    dgm_fit_data fdat = {.data = &ds, .data_spec = "synthetic"};
    dgm_fit_cfg fc = dgm_fit_defaults();
    fc.epochs = 30, fc.batch = 16, fc.n_val = 20, fc.seed = 5;
    dgm_fit_result res;
    CHECK_MSG(dgm_fit(m, &fdat, &fc, &res, &err) == DGM_OK, "%s", err.msg);
    /* the class prior from the training rows: about half each */
    CHECK(fabs(exp(dgm_model_log_prior(m)[0]) - 0.5) < 0.05);
    float *xb = alloc_f(N * V);
    for (size_t i = 0; i < N * V; i++) /* the noiseless patterns */
        xb[i] = ds.x[i] > 0.5f ? 1.0f : 0.0f;
    double *post = malloc(N * 2 * sizeof *post);
    dgm_rng_init(&r, 1);
    CHECK(dgm_classify(&r, post, m, xb, N, 1, &err) == DGM_OK);
    size_t right = 0;
    for (size_t i = 0; i < N; i++)
        right += (post[2 * i + 1] > post[2 * i]) == (ds.y[i] == 1);
    CHECK_EQ_INT((int)right, (int)N);
    /* an unlabelled data set is refused */
    int32_t *yk = ds.y;
    ds.y = NULL;
    CHECK(dgm_fit(m, &fdat, &fc, &res, &err) == DGM_ERR_ARG);
    CHECK(strstr(err.msg, "labels") != NULL);
    ds.y = yk;
    free(post), free(xb), free(ds.x), free(ds.y);
    dgm_model_free(m);
}

/* Monte Carlo KL with class-conditional MADEs against the exact sums over all 2^6 inputs
 * and 3 classes: the joint of two conditional models, and a conditional model's marginal
 * against an unconditional one (within 5 standard errors). */
static void test_kl_conditional(void)
{
    size_t N = 64, D = 6, C = 3;
    dgm_model *p = tiny_c(DGM_MADE_BINARY, D, 2, DGM_MADE_RANDOM, 1, 61, (int)C);
    dgm_model *q = tiny_c(DGM_MADE_BINARY, D, 1, DGM_MADE_RANDOM, 1, 62, (int)C);
    dgm_model *u = tiny(DGM_MADE_BINARY, D, 1, DGM_MADE_NATURAL, 1, 63);
    double pp[3] = {log(0.05), log(0.8), log(0.15)}, pq[3] = {log(0.4), log(0.4), log(0.2)};
    dgm_err err = {0};
    CHECK(dgm_model_set_log_prior(p, pp, &err) == DGM_OK);
    CHECK(dgm_model_set_log_prior(q, pq, &err) == DGM_OK);
    float *x = alloc_f(N * D);
    for (size_t i = 0; i < N; i++)
        for (size_t d = 0; d < D; d++)
            x[i * D + d] = (float)((i >> d) & 1);
    double lp[3][64], lq[3][64], lu[64], joint = 0, marg = 0;
    int32_t y[64];
    for (size_t c = 0; c < C; c++) {
        for (size_t i = 0; i < N; i++)
            y[i] = (int32_t)c;
        CHECK(dgm_model_log_prob(p, NULL, lp[c], x, y, N, 1, &err) == DGM_OK);
        CHECK(dgm_model_log_prob(q, NULL, lq[c], x, y, N, 1, &err) == DGM_OK);
    }
    CHECK(dgm_model_log_prob(u, NULL, lu, x, NULL, N, 1, &err) == DGM_OK);
    for (size_t i = 0; i < N; i++) {
        double m[3];
        for (size_t c = 0; c < C; c++) {
            double a = pp[c] + lp[c][i];
            joint += exp(a) * (a - pq[c] - lq[c][i]);
            m[c] = a;
        }
        double lm = dgm_logsumexp_d(m, C);
        marg += exp(lm) * (lm - lu[i]);
    }
    dgm_rng r;
    dgm_rng_init(&r, 5);
    dgm_kl_result res;
    CHECK_MSG(dgm_kl_mc(&r, &res, p, q, 20000, 1, &err) == DGM_OK, "%s", err.msg);
    CHECK(res.joint == 1);
    CHECK_MSG(fabs(res.kl - joint) <= 5 * res.se, "joint KL %g +- %g, exact %g", res.kl, res.se,
              joint);
    CHECK_MSG(dgm_kl_mc(&r, &res, p, u, 20000, 1, &err) == DGM_OK, "%s", err.msg);
    CHECK(res.joint == 0);
    CHECK_MSG(fabs(res.kl - marg) <= 5 * res.se, "marginal KL %g +- %g, exact %g", res.kl, res.se,
              marg);
    CHECK(joint > 0.05 && marg > 0.05); /* the checks compare something */
    dgm_model *q2 = tiny_c(DGM_MADE_BINARY, D, 1, DGM_MADE_RANDOM, 1, 64, 2);
    CHECK(dgm_kl_mc(&r, &res, p, q2, 100, 1, &err) == DGM_ERR_ARG);
    CHECK(strstr(err.msg, "classes") != NULL);
    free(x);
    dgm_model_free(p), dgm_model_free(q), dgm_model_free(u), dgm_model_free(q2);
}

// ------------------------------------------------------------------------- files ---

static void test_file(void)
{
    char path[] = "/tmp/dgm_test_made_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    dgm_model *m = tiny(DGM_MADE_BINARY, 6, 4, DGM_MADE_RANDOM, 2, 41), *m2 = NULL;
    dgm_err err = {0};
    CHECK(dgm_model_save(m, path, &err) == DGM_OK);
    CHECK_MSG(dgm_model_load(&m2, path, &err) == DGM_OK, "%s", err.msg);
    if (!m2) {
        dgm_model_free(m);
        unlink(path);
        return;
    }
    small_blocks(m2);
    CHECK(!strcmp(dgm_model_type(m2), "made") && dgm_model_exact(m2));
    CHECK(!strcmp(dgm_model_likelihood(m2), "binary"));
    CHECK_EQ_INT(dgm_made_config(m2)->n_masks, 4);
    float x[5 * 6];
    dgm_rng r;
    dgm_rng_init(&r, 1);
    for (size_t i = 0; i < 30; i++)
        x[i] = (float)dgm_rng_below(&r, 2);
    double a[5], b[5];
    CHECK(dgm_model_log_prob(m, NULL, a, x, NULL, 5, 1, &err) == DGM_OK);
    CHECK(dgm_model_log_prob(m2, NULL, b, x, NULL, 5, 1, &err) == DGM_OK);
    CHECK(!memcmp(a, b, sizeof a));
    /* names as torch.nn.Sequential(MaskedLinear, ReLU, MaskedLinear, ReLU, MaskedLinear) */
    dgm_st_file *f;
    CHECK(dgm_safetensors_read(&f, path, &err) == DGM_OK);
    const char *names[] = {"net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias",
                           "net.4.weight", "net.4.bias", "order", "degrees_0", "degrees_1"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        CHECK_MSG(dgm_st_find(f, names[i]) != NULL, "%s", names[i]);
    const dgm_st_tensor *w0 = dgm_st_find(f, "net.0.weight");
    CHECK(w0 && w0->ndim == 2 && w0->shape[0] == 9 && w0->shape[1] == 6);
    const dgm_st_tensor *o = dgm_st_find(f, "order");
    CHECK(o && o->shape[0] == 4 && o->shape[1] == 6);
    dgm_safetensors_free(f);
    dgm_model_free(m2);
    /* a damaged mask table: an ordering that is not a permutation */
    dgm__made *p = MADE(m);
    p->order[1] = p->order[0];
    CHECK(dgm_model_save(m, path, &err) == DGM_OK);
    m2 = NULL;
    CHECK(dgm_model_load(&m2, path, &err) == DGM_ERR_FORMAT && !m2);
    CHECK(strstr(err.msg, "damaged MADE") && strstr(err.msg, path));
    dgm_model_free(m);
    unlink(path);
}

static void test_bad_config(void)
{
    dgm_made_cfg c = dgm_made_defaults();
    dgm_model *m = NULL;
    dgm_err err = {0};
    dgm_rng r;
    dgm_rng_init(&r, 1);
    c.dim = 1;
    CHECK(dgm_made_create(&m, &r, &c, NULL, &err) == DGM_ERR_ARG && !m);
    c.dim = 10, c.n_masks = 0;
    CHECK(dgm_made_create(&m, &r, &c, NULL, &err) == DGM_ERR_ARG && !m);
    c.n_masks = 1, c.hidden[0] = 0;
    CHECK(dgm_made_create(&m, &r, &c, NULL, &err) == DGM_ERR_ARG && !m);
}

// --------------------------------------------------------------------------- fit ---

static dgm_status fit(dgm_model *m, const dgm_dataset *ds, long epochs, const char *ckpt,
                      dgm_err *err)
{
    dgm_fit_data d = {.data = ds, .data_spec = "synthetic"};
    dgm_fit_cfg c = dgm_fit_defaults();
    c.epochs = epochs, c.batch = 16, c.n_val = 20, c.checkpoint = ckpt, c.seed = 5;
    dgm_fit_result res;
    return dgm_fit(m, &d, &c, &res, err);
}

/* two epochs straight, or one and a resume from the checkpoint: the same weights */
static void test_fit_resume(void)
{
    size_t n = 200, D = 10;
    dgm_dataset ds = {0};
    ds.kind = DGM_DATA_REAL, ds.n = n, ds.d = D, ds.x = alloc_f(n * D);
    snprintf(ds.source, sizeof ds.source, "synthetic");
    dgm_rng r;
    dgm_rng_init(&r, 3);
    for (size_t i = 0; i < n; i++) /* correlated grey levels */
        for (size_t d = 0; d < D; d++)
            ds.x[i * D + d] = d == 0 ? dgm_rng_uniform(&r) : 0.8f * ds.x[i * D + d - 1] + 0.2f * dgm_rng_uniform(&r);
    char p1[] = "/tmp/dgm_test_made_fitXXXXXX";
    int fd = mkstemp(p1);
    close(fd);
    char path[64], path2[64], ck[128];
    snprintf(path, sizeof path, "%s.safetensors", p1);
    snprintf(path2, sizeof path2, "%s_b.safetensors", p1);
    dgm_err err = {0};
    dgm_model *a = tiny(DGM_MADE_BINARY, D, 2, DGM_MADE_RANDOM, 1, 51);
    dgm_model *b = tiny(DGM_MADE_BINARY, D, 2, DGM_MADE_RANDOM, 1, 51), *c = NULL;
    CHECK_MSG(fit(a, &ds, 2, path, &err) == DGM_OK, "%s", err.msg);
    CHECK_MSG(fit(b, &ds, 1, path2, &err) == DGM_OK, "%s", err.msg);
    dgm_checkpoint_path(ck, sizeof ck, path2);
    CHECK_MSG(dgm_model_load(&c, ck, &err) == DGM_OK, "%s", err.msg);
    if (c) {
        small_blocks(c);
        CHECK_MSG(fit(c, &ds, 2, path2, &err) == DGM_OK, "%s", err.msg);
        dgm_params *pa = MADE(a)->p, *pc = MADE(c)->p;
        CHECK(!memcmp(dgm_params_data(pa), dgm_params_data(pc),
                      dgm_params_count(pa) * sizeof(float)));
        dgm_model_free(c);
    }
    /* a NaN in the data is refused before training */
    ds.x[5] = NAN;
    CHECK(fit(b, &ds, 3, NULL, &err) == DGM_ERR_ARG);
    dgm_model_free(a);
    dgm_model_free(b);
    free(ds.x);
    unlink(p1), unlink(path), unlink(path2), unlink(ck);
    dgm_checkpoint_path(ck, sizeof ck, path);
    unlink(ck);
}

int main(void)
{
    TEST_RUN(test_masked_linear);
    TEST_RUN(test_staircase);
    TEST_RUN(test_made_gradient);
    TEST_RUN(test_autoregressive);
    TEST_RUN(test_normalised);
    TEST_RUN(test_sampling);
    TEST_RUN(test_conditional);
    TEST_RUN(test_kl_conditional);
    TEST_RUN(test_file);
    TEST_RUN(test_bad_config);
    TEST_RUN(test_fit_resume);
    TEST_MAIN_END("test_made");
}
