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

// ------------------------------------------------------------------ the staircase plan ---

#include <stdlib.h>
#include <string.h>

dgm_status dgm__mlayer_init(dgm__mlayer *L, size_t O, size_t I, size_t rb, dgm_err *err)
{
    memset(L, 0, sizeof *L);
    L->O = O, L->I = I, L->rb = rb ? rb : 1;
    L->po = malloc((O ? O : 1) * sizeof *L->po);
    L->pi = malloc((I ? I : 1) * sizeof *L->pi);
    L->pref = malloc((O ? O : 1) * sizeof *L->pref);
    L->Ws = dgm_malloc_array(O ? O : 1, (I ? I : 1) * sizeof(float));
    L->bs = dgm_malloc_array(O ? O : 1, sizeof(float));
    L->key = malloc((O > I ? O : I ? I : 1) * sizeof *L->key);
    if (!L->po || !L->pi || !L->pref || !L->Ws || !L->bs || !L->key) {
        dgm__mlayer_free(L);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for a %zu x %zu masked layer", O, I);
    }
    return DGM_OK;
}

void dgm__mlayer_free(dgm__mlayer *L)
{
    free(L->po), free(L->pi), free(L->pref), free(L->key);
    dgm_free(L->Ws), dgm_free(L->bs);
    memset(L, 0, sizeof *L);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* perm = the units sorted by (degree, index); returns whether that is the identity. The
 * key packs both, so the sort is stable without asking qsort to be. */
static int sort_units(int32_t *perm, const int32_t *deg, size_t n, uint64_t *key)
{
    for (size_t i = 0; i < n; i++)
        key[i] = (uint64_t)(uint32_t)deg[i] << 32 | (uint64_t)i;
    qsort(key, n, sizeof *key, cmp_u64);
    int id = 1;
    for (size_t i = 0; i < n; i++) {
        perm[i] = (int32_t)(key[i] & 0xffffffffu);
        id = id && perm[i] == (int32_t)i;
    }
    return id;
}

void dgm__mlayer_order(dgm__mlayer *L, const int32_t *deg_out, const int32_t *deg_in,
                       int strict)
{
    size_t O = L->O, I = L->I;
    L->out_identity = sort_units(L->po, deg_out, O, L->key);
    L->in_identity = sort_units(L->pi, deg_in, I, L->key);
    size_t k = 0;
    for (size_t o = 0; o < O; o++) { /* degrees ascend with o: the prefix only grows */
        int32_t d = deg_out[L->po[o]];
        while (k < I && keep(d, deg_in[L->pi[k]], strict))
            k++;
        L->pref[o] = (int32_t)k;
    }
    L->tails_zero = 0;
}

void dgm__mlayer_weights(dgm__mlayer *L, const float *W, const float *b)
{
    size_t O = L->O, I = L->I;
    long Ol = (long)O;
#pragma omp parallel for schedule(static) if (O * I >= DGM__PAR_MIN)
    for (long ol = 0; ol < Ol; ol++) {
        size_t o = (size_t)ol, K = (size_t)L->pref[o];
        const float *w = W + (size_t)L->po[o] * I;
        float *ws = L->Ws + o * I;
        if (L->in_identity)
            memcpy(ws, w, K * sizeof *ws);
        else
            for (size_t i = 0; i < K; i++)
                ws[i] = w[L->pi[i]];
        /* the tails keep their zeros from one order to the next: writing them after every
         * update was half of what a RealNVP conditioner's refresh wrote, for nothing */
        if (!L->tails_zero)
            memset(ws + K, 0, (I - K) * sizeof *ws);
        L->bs[o] = b ? b[L->po[o]] : 0.0f;
    }
    L->tails_zero = 1;
}

void dgm__mlayer_set(dgm__mlayer *L, const float *W, const float *b, const int32_t *deg_out,
                     const int32_t *deg_in, int strict)
{
    dgm__mlayer_order(L, deg_out, deg_in, strict);
    dgm__mlayer_weights(L, W, b);
}

/* the rows [o0, o1) of block t and the prefix they read */
static size_t block_rows(const dgm__mlayer *L, size_t t, size_t *o1, size_t *K)
{
    size_t o0 = t * L->rb;
    *o1 = o0 + L->rb < L->O ? o0 + L->rb : L->O;
    *K = (size_t)L->pref[*o1 - 1];
    return o0;
}

/* Every product below runs inside a parallel region, also a team of one, so that dgm_gemm
 * makes the one single-threaded call per block that it makes at any thread count. */
#define MLAYER_PAR(B, L) ((B) * (L)->O * (L)->I >= 4 * DGM__PAR_MIN)

void dgm__mlayer_forward(const dgm__mlayer *L, float *ys, const float *xs, size_t B)
{
    size_t O = L->O, I = L->I, nb = (O + L->rb - 1) / L->rb;
    long nbl = (long)nb;
#pragma omp parallel if (MLAYER_PAR(B, L))
#pragma omp for schedule(dynamic, 1)
    for (long t = 0; t < nbl; t++) { /* the longest prefixes first: a balanced finish */
        size_t o1, K, o0 = block_rows(L, (size_t)(nbl - 1 - t), &o1, &K);
        /* the biases first, the product onto them (beta 1): one pass over ys fewer */
        for (size_t b = 0; b < B; b++)
            memcpy(ys + b * O + o0, L->bs + o0, (o1 - o0) * sizeof *ys);
        dgm_gemm(DGM_NOTRANS, DGM_TRANS, B, o1 - o0, K, 1.0f, xs, I, L->Ws + o0 * I, I, 1.0f,
                 ys + o0, O);
    }
}

void dgm__mlayer_backward(const dgm__mlayer *L, float *dxs, float *dW, float *db,
                          float *scratch, const float *dys, const float *xs, size_t B)
{
    size_t O = L->O, I = L->I, rb = L->rb, nb = (O + rb - 1) / rb, nc = (I + rb - 1) / rb;
    long nbl = (long)nb, ncl = (long)nc;
#pragma omp parallel if (MLAYER_PAR(B, L))
    {
        /* dxs[:, c0:c1) = dys[:, r0:) Ws[r0:, c0:c1): the rows before r0 keep no input
         * from c0 on */
#pragma omp for schedule(dynamic, 1) nowait
        for (long t = 0; t < (dxs ? ncl : 0); t++) {
            size_t c0 = (size_t)t * rb, c1 = c0 + rb < I ? c0 + rb : I, r0 = 0;
            while (r0 < O && (size_t)L->pref[r0] <= c0)
                r0++;
            dgm_gemm(DGM_NOTRANS, DGM_NOTRANS, B, c1 - c0, O - r0, 1.0f, dys + r0, O,
                     L->Ws + r0 * I + c0, I, 0.0f, dxs + c0, I);
        }
        /* dW over a row block's prefix, added at the parameter positions it came from */
#pragma omp for schedule(dynamic, 1)
        for (long t = 0; t < nbl; t++) {
            size_t o1, K, o0 = block_rows(L, (size_t)(nbl - 1 - t), &o1, &K);
            if (dW) {
                dgm_gemm(DGM_TRANS, DGM_NOTRANS, o1 - o0, K, B, 1.0f, dys + o0, O, xs, I, 0.0f,
                         scratch + o0 * I, I);
                for (size_t o = o0; o < o1; o++) {
                    const float *g = scratch + o * I;
                    float *w = dW + (size_t)L->po[o] * I;
                    size_t k = (size_t)L->pref[o];
                    if (L->in_identity)
                        for (size_t i = 0; i < k; i++)
                            w[i] += g[i];
                    else
                        for (size_t i = 0; i < k; i++)
                            w[L->pi[i]] += g[i];
                }
            }
            for (size_t o = o0; db && o < o1; o++) {
                float s = 0.0f;
                for (size_t b = 0; b < B; b++)
                    s += dys[b * O + o];
                db[L->po[o]] += s;
            }
        }
    }
}

/* dst[b][k] = src[b][perm[k]] and its inverse, dst[b][perm[k]] = src[b][k], on B rows of n */
static void permute_rows(float *dst, const float *src, const int32_t *perm, size_t B, size_t n,
                         int scatter)
{
#pragma omp parallel for schedule(static) if (B * n >= DGM__PAR_MIN)
    for (size_t b = 0; b < B; b++) {
        float *d = dst + b * n;
        const float *q = src + b * n;
        if (scatter)
            for (size_t k = 0; k < n; k++)
                d[perm[k]] = q[k];
        else
            for (size_t k = 0; k < n; k++)
                d[k] = q[perm[k]];
    }
}

void dgm__mlayer_gather_in(const dgm__mlayer *L, float *xs, const float *x, size_t B)
{
    permute_rows(xs, x, L->pi, B, L->I, 0);
}

void dgm__mlayer_scatter_in(const dgm__mlayer *L, float *x, const float *xs, size_t B)
{
    permute_rows(x, xs, L->pi, B, L->I, 1);
}

void dgm__mlayer_scatter_out(const dgm__mlayer *L, float *y, const float *ys, size_t B)
{
    permute_rows(y, ys, L->po, B, L->O, 1);
}

void dgm__mlayer_gather_out(const dgm__mlayer *L, float *ys, const float *y, size_t B)
{
    permute_rows(ys, y, L->po, B, L->O, 0);
}
