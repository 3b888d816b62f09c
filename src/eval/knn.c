/* Exact k-nearest-neighbour search by brute force through the matrix product.
 * Squared distances |a - b|^2 = |a|^2 + |b|^2 - 2 a.b come from dgm_gemm on blocks of
 * query rows against all reference rows (BLAS threads), then each query row keeps its
 * k + MARGIN smallest in a sorted buffer (OpenMP over rows). Both sets are first centred
 * on the reference mean, which removes the cancellation that a large common offset would
 * cause in float32; the kept candidates' distances are then recomputed exactly in double
 * and re-sorted, so the returned distances do not carry the float32 shortcut's error and
 * rank errors of up to MARGIN places are repaired.
 * Reference: sklearn.neighbors.NearestNeighbors(algorithm="brute") and
 * sklearn.metrics.pairwise.euclidean_distances, which use the same expansion.
 * Left out: k-d / ball trees for small d (brute force is fast enough for the sizes dgm
 * compares: 10^4 x 10^4 in 1-D takes well under a second), and non-Euclidean metrics. */
#include "dgm_blocks.h"
#include "core/par.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define MARGIN 4
#define BLOCK_BYTES ((size_t)32 << 20) /* distance block: query rows x m floats */

/* Inserts (v, j) into the ascending buffer (d, ix) of *cnt <= cap entries. */
static void push(float *d, size_t *ix, size_t *cnt, size_t cap, float v, size_t j)
{
    size_t c = *cnt;
    if (c == cap) {
        if (!(v < d[c - 1]))
            return;
        c--;
    }
    while (c > 0 && d[c - 1] > v) {
        d[c] = d[c - 1];
        ix[c] = ix[c - 1];
        c--;
    }
    d[c] = v;
    ix[c] = j;
    if (*cnt < cap)
        ++*cnt;
}

/* Exact distances of the candidates, sorted by (distance, index). */
static void refine(double *ed, size_t *ix, size_t cnt, const float *q, const float *ref,
                   size_t d)
{
    for (size_t c = 0; c < cnt; c++) {
        const float *b = ref + ix[c] * d;
        double s = 0.0;
        for (size_t t = 0; t < d; t++) {
            double u = (double)q[t] - (double)b[t];
            s += u * u;
        }
        ed[c] = sqrt(s);
    }
    for (size_t c = 1; c < cnt; c++) {
        double v = ed[c];
        size_t j = ix[c], e = c;
        while (e > 0 && (ed[e - 1] > v || (ed[e - 1] == v && ix[e - 1] > j))) {
            ed[e] = ed[e - 1];
            ix[e] = ix[e - 1];
            e--;
        }
        ed[e] = v;
        ix[e] = j;
    }
}

/* Centred float copy of x (rows x d) and its squared row norms. */
static void centre(float *xc, float *nrm, const float *x, const double *mu, size_t rows,
                   size_t d)
{
    long R = (long)rows;
#pragma omp parallel for schedule(static) if (rows * d > DGM__PAR_MIN_ROWS)
    for (long i = 0; i < R; i++) {
        double s = 0.0;
        for (size_t t = 0; t < d; t++) {
            float v = (float)((double)x[(size_t)i * d + t] - mu[t]);
            xc[(size_t)i * d + t] = v;
            s += (double)v * v;
        }
        nrm[i] = (float)s;
    }
}

dgm_status dgm_knn_search(double *dist, size_t *idx, const float *query, size_t n,
                          const float *ref, size_t m, size_t d, size_t k, int exclude_self,
                          dgm_err *err)
{
    if (k == 0 || d == 0)
        return dgm_errf(err, DGM_ERR_ARG, "k-NN search needs k >= 1 and d >= 1 (got k = %zu, "
                        "d = %zu)", k, d);
    if (exclude_self && (query != ref || n != m))
        return dgm_errf(err, DGM_ERR_ARG, "exclude_self needs the query set to be the reference set");
    size_t avail = m - (exclude_self && m ? 1 : 0);
    if (avail < k)
        return dgm_errf(err, DGM_ERR_ARG, "k = %zu neighbours asked for but only %zu reference "
                        "points are available", k, avail);
    if (n == 0)
        return DGM_OK;
    if (!dgm_all_finite(ref, m * d) || !dgm_all_finite(query, n * d))
        return dgm_errf(err, DGM_ERR_NAN, "k-NN search: the points must be finite");
    size_t kk = k + MARGIN < avail ? k + MARGIN : avail;
    size_t Bq = BLOCK_BYTES / (m * sizeof(float));
    Bq = Bq < 1 ? 1 : Bq > 1024 ? 1024 : Bq;
    if (Bq > n)
        Bq = n;
    int T = omp_get_max_threads();
    size_t nd, md;
    double *mu = dgm_calloc_array(d, sizeof *mu);
    int same = query == ref;
    float *rc = dgm_size_mul(&md, m, d) ? dgm_malloc_array(md, sizeof *rc) : NULL;
    float *qc = same ? rc : dgm_size_mul(&nd, n, d) ? dgm_malloc_array(nd, sizeof *qc) : NULL;
    float *rn = dgm_malloc_array(m, sizeof *rn);
    float *qn = same ? rn : dgm_malloc_array(n, sizeof *qn);
    float *G = dgm_malloc_array(Bq * m, sizeof *G);
    float *cd = dgm_malloc_array((size_t)T * kk, sizeof *cd);
    size_t *ci = dgm_malloc_array((size_t)T * kk, sizeof *ci);
    double *ed = dgm_malloc_array((size_t)T * kk, sizeof *ed);
    dgm_status s = DGM_OK;
    if (!mu || !rc || !qc || !rn || !qn || !G || !cd || !ci || !ed) {
        s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory for a k-NN search of %zu x %zu points "
                     "in %zu dimensions", n, m, d);
        goto done;
    }
    for (size_t j = 0; j < m; j++)
        for (size_t t = 0; t < d; t++)
            mu[t] += ref[j * d + t];
    for (size_t t = 0; t < d; t++)
        mu[t] /= (double)m;
    centre(rc, rn, ref, mu, m, d);
    if (!same)
        centre(qc, qn, query, mu, n, d);

    for (size_t i0 = 0; i0 < n; i0 += Bq) {
        size_t nb = n - i0 < Bq ? n - i0 : Bq;
        dgm_gemm(DGM_NOTRANS, DGM_TRANS, nb, m, d, -2.0f, qc + i0 * d, d, rc, d, 0.0f, G, m);
        long NB = (long)nb;
#pragma omp parallel for schedule(static)
        for (long r = 0; r < NB; r++) {
            size_t i = i0 + (size_t)r, tid = (size_t)omp_get_thread_num(), cnt = 0;
            float *bd = cd + tid * kk;
            size_t *bi = ci + tid * kk;
            const float *g = G + (size_t)r * m;
            float qi = qn[i], worst = INFINITY;
            for (size_t j = 0; j < m; j++) {
                float v = g[j] + qi + rn[j];
                if (v >= worst || (exclude_self && j == i)) /* the common case: rejected */
                    continue;
                push(bd, bi, &cnt, kk, v < 0 ? 0.0f : v, j);
                if (cnt == kk)
                    worst = bd[kk - 1];
            }
            double *e = ed + tid * kk;
            refine(e, bi, cnt, query + i * d, ref, d);
            for (size_t c = 0; c < k; c++) {
                dist[i * k + c] = e[c];
                if (idx)
                    idx[i * k + c] = bi[c];
            }
        }
    }
done:
    free(mu);
    if (!same) {
        free(qc);
        free(qn);
    }
    free(rc), free(rn), free(G), free(cd), free(ci), free(ed);
    return s;
}
