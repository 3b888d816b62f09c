/* Single-site frequencies and pair connected correlations of a weighted alignment, and
 * their agreement between two alignments, as bmDCA and adabmDCA judge generated sequences
 * (Figliuzzi et al., Mol. Biol. Evol. 2018; Muntoni et al., BMC Bioinformatics 2021):
 * f_i(a) = sum_n w_n [x_ni = a] / W, f_ij(a,b) likewise, C_ij(a,b) = f_ij(a,b) -
 * f_i(a) f_j(b) over i < j and all 21 x 21 letter pairs (the gap included).
 * The pair counts are the matrix product X^T diag(w) X of the one-hot matrix X (n x 21L):
 * rows are expanded from the letters in chunks and multiplied with dgm_gemm, only the
 * blocks on and above the diagonal (a position block against itself and every later
 * column), so about half the full product. docs/math.md, "Assessing samples".
 * Left out: pseudocounts (the statistics are those of the sets as they are). */
#include "eval/assess_internal.h"

#include "dgm_blocks.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define POS_BLOCK 16   /* positions per block: 336 rows of the product */
#define CHUNK 1024     /* sequences expanded to floats at a time */
#define BIG 0.01       /* scatter: |C| above this is kept preferentially */

void dgm__pairs_free(dgm__pairs *p)
{
    if (!p)
        return;
    if (p->F)
        for (size_t I = 0; I < p->nb; I++)
            free(p->F[I]);
    free(p->F);
    free(p->f);
    memset(p, 0, sizeof *p);
}

static size_t block_len(const dgm__pairs *p, size_t I)
{
    size_t lo = I * p->P, hi = lo + p->P < p->L ? lo + p->P : p->L;
    return hi - lo;
}

dgm_status dgm__pairs_count(dgm__pairs *out, const uint8_t *seq, const double *w, size_t n,
                            size_t L, dgm_err *err)
{
    memset(out, 0, sizeof *out);
    const size_t Q = DGM__Q, D = Q * L;
    out->L = L;
    out->P = POS_BLOCK;
    out->nb = (L + POS_BLOCK - 1) / POS_BLOCK;
    out->f = dgm_calloc_array(D, sizeof *out->f);
    out->F = dgm_calloc_array(out->nb, sizeof *out->F);
    size_t rows = n < CHUNK ? n : CHUNK;
    float *X = dgm_malloc_array(rows, D * sizeof(float));
    float *Xw = w ? dgm_malloc_array(rows, D * sizeof(float)) : X;
    int ok = out->f && out->F && X && Xw;
    for (size_t I = 0; ok && I < out->nb; I++)
        ok = (out->F[I] = dgm_malloc_array(Q * block_len(out, I), Q * (L - I * out->P) *
                                           sizeof(float))) != NULL;
    if (!ok) {
        free(X);
        if (w)
            free(Xw);
        dgm__pairs_free(out);
        return dgm_errf(err, DGM_ERR_NOMEM, "assess: out of memory for the pair counts of "
                        "%zu x %zu sequences", n, L);
    }
    double ws = 0;
    for (size_t s = 0; s < n; s++) {
        double ww = w ? w[s] : 1.0;
        ws += ww;
        for (size_t i = 0; i < L; i++)
            out->f[i * Q + seq[s * L + i]] += ww;
    }
    out->wsum = ws;
    for (size_t c = 0; c < D; c++)
        out->f[c] /= ws;
    for (size_t s0 = 0; s0 < n; s0 += CHUNK) {
        size_t r = n - s0 < CHUNK ? n - s0 : CHUNK;
        memset(X, 0, r * D * sizeof *X);
        if (w)
            memset(Xw, 0, r * D * sizeof *Xw);
        for (size_t s = 0; s < r; s++)
            for (size_t i = 0; i < L; i++) {
                size_t c = s * D + i * Q + seq[(s0 + s) * L + i];
                X[c] = 1.0f;
                if (w)
                    Xw[c] = (float)w[s0 + s];
            }
        for (size_t I = 0; I < out->nb; I++) {
            size_t c0 = I * out->P * Q, M = Q * block_len(out, I), N = D - c0;
            dgm_gemm(DGM_TRANS, DGM_NOTRANS, M, N, r, 1.0f, Xw + c0, D, X + c0, D,
                     s0 == 0 ? 0.0f : 1.0f, out->F[I], N);
        }
    }
    free(X);
    if (w)
        free(Xw);
    return DGM_OK;
}

/* Walks C_ij(a,b) for i < j of both sets in a fixed order. */
#define FOR_PAIRS(ref, s, ...)                                                           \
    for (size_t I = 0; I < (ref)->nb; I++) {                                             \
        size_t i0 = I * (ref)->P, N = DGM__Q * ((ref)->L - i0);                          \
        const float *Fr = (ref)->F[I], *Fs = (s)->F[I];                                  \
        for (size_t i = i0; i < i0 + block_len(ref, I); i++)                             \
            for (size_t a = 0; a < DGM__Q; a++) {                                        \
                size_t row = ((i - i0) * DGM__Q + a) * N;                                \
                double fra = (ref)->f[i * DGM__Q + a], fsa = (s)->f[i * DGM__Q + a];     \
                for (size_t j = i + 1; j < (ref)->L; j++)                                \
                    for (size_t b = 0; b < DGM__Q; b++) {                                \
                        size_t col = (j - i0) * DGM__Q + b;                              \
                        double x = Fr[row + col] / (ref)->wsum -                         \
                                   fra * (ref)->f[j * DGM__Q + b];                       \
                        double y = Fs[row + col] / (s)->wsum - fsa * (s)->f[j * DGM__Q + b]; \
                        __VA_ARGS__                                                      \
                    }                                                                    \
            }                                                                            \
    }

static void fit(double *r, double *slope, double sxx, double sxy, double syy)
{
    *r = sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
    *slope = sxx > 0 ? sxy / sxx : NAN;
}

void dgm__pairs_compare(double *site_r, double *site_slope, double *pair_r, double *pair_slope,
                        float *scatter, size_t *n_scatter, size_t max_scatter,
                        const dgm__pairs *ref, const dgm__pairs *s)
{
    const size_t D = DGM__Q * ref->L;
    double mx = 0, my = 0, sxx = 0, sxy = 0, syy = 0;
    for (size_t c = 0; c < D; c++) {
        mx += ref->f[c];
        my += s->f[c];
    }
    mx /= (double)D;
    my /= (double)D;
    for (size_t c = 0; c < D; c++) {
        double u = ref->f[c] - mx, v = s->f[c] - my;
        sxx += u * u;
        sxy += u * v;
        syy += v * v;
    }
    fit(site_r, site_slope, sxx, sxy, syy);

    /* two passes: means and the count of large entries, then centred sums and scatter */
    double tx = 0, ty = 0;
    size_t total = 0, nbig = 0;
    FOR_PAIRS(ref, s, {
        tx += x;
        ty += y;
        total++;
        nbig += fabs(x) >= BIG || fabs(y) >= BIG;
    })
    mx = total ? tx / (double)total : 0;
    my = total ? ty / (double)total : 0;
    size_t half = max_scatter / 2;
    size_t stride_all = half ? (total + half - 1) / half : 0;
    size_t stride_big = half ? (nbig + half - 1) / half : 0;
    size_t e = 0, eb = 0, k = 0;
    sxx = sxy = syy = 0;
    FOR_PAIRS(ref, s, {
        double u = x - mx, v = y - my;
        sxx += u * u;
        sxy += u * v;
        syy += v * v;
        int big = fabs(x) >= BIG || fabs(y) >= BIG;
        int keep = stride_all && e % stride_all == 0;
        if (big) {
            keep |= stride_big && eb % stride_big == 0;
            eb++;
        }
        if (keep && k < max_scatter) {
            scatter[2 * k] = (float)x;
            scatter[2 * k + 1] = (float)y;
            k++;
        }
        e++;
    })
    fit(pair_r, pair_slope, sxx, sxy, syy);
    *n_scatter = k;
}
