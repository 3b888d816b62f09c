/* k-means for initialising mixtures: greedy k-means++ seeding and Lloyd's iterations,
 * with the conventions of sklearn.cluster.KMeans(n_init=1, algorithm="lloyd"): 2 + ln K
 * candidate seeds per step with the one that lowers the potential most kept, tolerance
 * relative to the mean per-dimension variance of the data, empty clusters moved to the
 * points farthest from their centres, and a last assignment so labels match centres.
 *
 * Reference: Arthur & Vassilvitskii, "k-means++: the advantages of careful seeding" (SODA
 * 2007); scikit-learn's _kmeans_plusplus and _kmeans_single_lloyd (sklearn/cluster/
 * _kmeans.py, _k_means_lloyd.pyx). Distances to the centres are |x|^2 - 2 x.c + |c|^2 with
 * x.c from dgm_gemm: the cancellation only matters between near-equal distances, where
 * either label is fine.
 *
 * Like scikit-learn's lloyd_iter_chunked_dense, each pass works through blocks of SUB rows:
 * one single-threaded product per block, then the labels, and (Lloyd) the rows summed by
 * label while the block is still in cache, so a pass reads the data from memory once
 * instead of once for the product and again for the sums. Rows are split into fixed
 * chunks, each summed by one thread into its own partial sums that are added in chunk
 * order: labels and centres do not depend on the thread count. A Lloyd iteration on
 * 60000 x 784 (K = 10) took 30 ms instead of 50 on one thread, 16 instead of 35 on two,
 * where one multithreaded product over all rows was followed by a pass summing them.
 * Left out: Elkan's algorithm, sample weights, n_init restarts (the mixture restarts). */
#include "models/mixture/tractable.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Rows per product: SUB x D floats (800 KB at D = 784) stay in a core's L2 cache until the
 * rows are summed. */
#define SUB 256
#define CHUNKS 64               /* at most this many chunks of rows (partial sums) */
#define PART_BYTES (64u << 20)  /* and at most this much memory for their partial sums */
#define MAX_TRIALS 16           /* seeding candidates per step */

/* What every pass over the rows shares. */
typedef struct km_work {
    const float *x;     /* n x D */
    const double *xsq;  /* n: |x_i|^2 */
    size_t n, D, K, trials;
    size_t ch, nch;     /* rows per chunk, chunks */
    size_t sw;          /* columns of a product block: max(K, trials) */
    double *part;       /* nch x max(K D, trials): per-chunk sums by label, or potentials */
    size_t *pcount;     /* nch x K: per-chunk row counts by label */
    float *S;           /* threads x SUB x sw: each thread's product block */
    double *csq;        /* sw: |c|^2 of the centres (or candidates) */
} km_work;

static double sqdist(const float *a, const float *b, size_t D)
{
    double s = 0;
#pragma omp simd reduction(+:s)
    for (size_t j = 0; j < D; j++) {
        double d = (double)a[j] - b[j];
        s += d * d;
    }
    return s;
}

static double sqnorm(const float *a, size_t D)
{
    double s = 0;
#pragma omp simd reduction(+:s)
    for (size_t j = 0; j < D; j++)
        s += (double)a[j] * a[j];
    return s;
}

/* Candidates per seeding step: scikit-learn's 2 + floor(ln K), at most 16. */
static size_t n_trials(size_t K)
{
    size_t t = 2 + (size_t)log((double)K);
    return t > MAX_TRIALS ? MAX_TRIALS : t;
}

/* First index whose cumulative sum exceeds u (numpy's searchsorted, clipped to n - 1). */
static size_t search(const double *cum, size_t n, double u)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] <= u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* S (nb x m) = x[b0 .. b0 + nb) C^T for the m rows of C, into the calling thread's block.
 * Inside a parallel region OpenBLAS's OpenMP build runs single-threaded. */
static float *block_dots(const km_work *w, size_t b0, size_t nb, const float *C, size_t m)
{
    float *S = w->S + (size_t)omp_get_thread_num() * SUB * w->sw;
    dgm__mix_gemm(DGM_NOTRANS, DGM_TRANS, nb, m, w->D, 1.0f, w->x + b0 * w->D, w->D, C, w->D, 0.0f,
                  S, m);
    return S;
}

/* Greedy k-means++. Every step draws the candidates from the cumulative potential, then
 * one pass gives each candidate's distances min(d(x, cand), closest) (kept in cand_d, n per
 * candidate) and its potential, summed per chunk and then in chunk order. */
static void seed_plusplus(dgm_rng *rng, float *centers, const km_work *w, double *closest,
                          double *cum, double *cand_d)
{
    const float *x = w->x;
    const double *xsq = w->xsq;
    const size_t n = w->n, D = w->D, K = w->K, trials = w->trials;
    size_t first = (size_t)dgm_rng_below(rng, n);
    memcpy(centers, x + first * D, D * sizeof(float));
    long nl = (long)n;
#pragma omp parallel for schedule(static) if (n * D > DGM__PAR_MIN)
    for (long i = 0; i < nl; i++)
        closest[i] = sqdist(x + (size_t)i * D, centers, D);
    double pot = 0;
    for (size_t i = 0; i < n; i++)
        pot += closest[i];
    float *cand_x = centers + K * D; /* scratch rows after the K centres */
    const size_t per = K * D > trials ? K * D : trials;
    for (size_t c = 1; c < K; c++) {
        size_t cand[MAX_TRIALS];
        double acc = 0;
        for (size_t i = 0; i < n; i++)
            cum[i] = acc += closest[i];
        for (size_t t = 0; t < trials; t++) {
            cand[t] = pot > 0 ? search(cum, n, dgm_rng_uniform_d(rng) * pot)
                              : (size_t)dgm_rng_below(rng, n);
            memcpy(cand_x + t * D, x + cand[t] * D, D * sizeof(float));
            w->csq[t] = xsq[cand[t]];
        }
        long nchl = (long)w->nch;
#pragma omp parallel for schedule(dynamic, 1) if (n * D * trials > DGM__PAR_MIN)
        for (long cl = 0; cl < nchl; cl++) {
            double *ppot = w->part + (size_t)cl * per;
            memset(ppot, 0, trials * sizeof(double));
            size_t i0 = (size_t)cl * w->ch, i1 = i0 + w->ch < n ? i0 + w->ch : n;
            for (size_t b0 = i0; b0 < i1; b0 += SUB) {
                size_t nb = i1 - b0 < SUB ? i1 - b0 : SUB;
                const float *S = block_dots(w, b0, nb, cand_x, trials);
                for (size_t r = 0; r < nb; r++) {
                    size_t i = b0 + r;
                    for (size_t t = 0; t < trials; t++) {
                        double d = xsq[i] - 2.0 * S[r * trials + t] + w->csq[t];
                        d = d > 0 ? d : 0;
                        d = d < closest[i] ? d : closest[i];
                        cand_d[t * n + i] = d;
                        ppot[t] += d;
                    }
                }
            }
        }
        size_t best = 0;
        double best_pot = INFINITY;
        for (size_t t = 0; t < trials; t++) {
            double p = 0;
            for (size_t cl = 0; cl < w->nch; cl++)
                p += w->part[cl * per + t];
            if (p < best_pot) {
                best_pot = p;
                best = t;
            }
        }
        memcpy(closest, cand_d + best * n, n * sizeof(double));
        pot = best_pot;
        memcpy(centers + c * D, x + cand[best] * D, D * sizeof(float));
    }
}

/* Nearest centre of every row; dist gets the squared distance to it. With sum set, each
 * chunk also sums its rows by their new label (part, pcount) while the block of rows is in
 * cache. Returns how many labels changed. */
static size_t assign(const km_work *w, int32_t *labels, double *dist, const float *centers,
                     int sum)
{
    const float *x = w->x;
    const double *xsq = w->xsq;
    const size_t n = w->n, D = w->D, K = w->K;
    for (size_t k = 0; k < K; k++)
        w->csq[k] = sqnorm(centers + k * D, D);
    size_t changed = 0;
    long nchl = (long)w->nch;
#pragma omp parallel for schedule(dynamic, 1) reduction(+:changed) if (n * D * K > DGM__PAR_MIN)
    for (long cl = 0; cl < nchl; cl++) {
        double *ps = w->part + (size_t)cl * K * D;
        size_t *pc = w->pcount + (size_t)cl * K;
        if (sum) {
            memset(ps, 0, K * D * sizeof(double));
            memset(pc, 0, K * sizeof(size_t));
        }
        size_t i0 = (size_t)cl * w->ch, i1 = i0 + w->ch < n ? i0 + w->ch : n;
        for (size_t b0 = i0; b0 < i1; b0 += SUB) {
            size_t nb = i1 - b0 < SUB ? i1 - b0 : SUB;
            const float *S = block_dots(w, b0, nb, centers, K);
            for (size_t r = 0; r < nb; r++) {
                size_t i = b0 + r, arg = 0;
                double best = INFINITY;
                for (size_t k = 0; k < K; k++) {
                    double d = xsq[i] - 2.0 * S[r * K + k] + w->csq[k];
                    if (d < best) {
                        best = d;
                        arg = k;
                    }
                }
                changed += labels[i] != (int32_t)arg;
                labels[i] = (int32_t)arg;
                dist[i] = best > 0 ? best : 0;
                if (!sum)
                    continue;
                const float *xi = x + i * D;
                double *a = ps + arg * D;
                pc[arg]++;
#pragma omp simd
                for (size_t j = 0; j < D; j++)
                    a[j] += xi[j];
            }
        }
    }
    return changed;
}

/* sums (K x D) and count (K): the chunks' partial sums added in chunk order. */
static void reduce_sums(double *sums, size_t *count, const km_work *w)
{
    const size_t K = w->K, D = w->D;
    long Kl = (long)K;
#pragma omp parallel for schedule(static) if (w->nch * K * D > DGM__PAR_MIN)
    for (long kl = 0; kl < Kl; kl++) {
        size_t k = (size_t)kl;
        double *s = sums + k * D;
        memset(s, 0, D * sizeof(double));
        count[k] = 0;
        for (size_t cl = 0; cl < w->nch; cl++) {
            const double *p = w->part + (cl * K + k) * D;
            count[k] += w->pcount[cl * K + k];
#pragma omp simd
            for (size_t j = 0; j < D; j++)
                s[j] += p[j];
        }
    }
}

/* scikit-learn's _tolerance: tol times the mean over features of their variance. One pass
 * of per-chunk sums of x - s and (x - s)^2, shifted by the first row s so that the
 * subtraction in var = E[(x - s)^2] - E[x - s]^2 does not cancel, added in chunk order.
 * Uses w->part (2 D per chunk: K >= 2 here) as scratch. */
static double tolerance(const km_work *w, double tol)
{
    const float *x = w->x;
    const size_t n = w->n, D = w->D, K = w->K;
    if (tol == 0 || K == 1)
        return 0;
    long nchl = (long)w->nch;
#pragma omp parallel for schedule(dynamic, 1) if (n * D > DGM__PAR_MIN)
    for (long cl = 0; cl < nchl; cl++) {
        double *s1 = w->part + (size_t)cl * K * D, *s2 = s1 + D;
        memset(s1, 0, 2 * D * sizeof(double));
        size_t i0 = (size_t)cl * w->ch, i1 = i0 + w->ch < n ? i0 + w->ch : n;
        for (size_t i = i0; i < i1; i++) {
            const float *xi = x + i * D;
#pragma omp simd
            for (size_t j = 0; j < D; j++) {
                double d = (double)xi[j] - x[j];
                s1[j] += d;
                s2[j] += d * d;
            }
        }
    }
    double mean_var = 0;
    for (size_t j = 0; j < D; j++) {
        double a = 0, b = 0;
        for (size_t cl = 0; cl < w->nch; cl++) {
            a += w->part[cl * K * D + j];
            b += w->part[cl * K * D + D + j];
        }
        a /= (double)n;
        double v = b / (double)n - a * a;
        mean_var += v > 0 ? v : 0;
    }
    return mean_var / (double)D * tol;
}

dgm_status dgm__kmeans(dgm_rng *rng, int32_t *labels, float *centers, const float *x,
                       size_t n, size_t D, size_t K, int max_iter, double tol, int *n_iter,
                       dgm_err *err)
{
    km_work w = {.x = x, .n = n, .D = D, .K = K, .trials = n_trials(K)};
    w.sw = K > w.trials ? K : w.trials;
    const size_t per = K * D > w.trials ? K * D : w.trials;
    size_t cap = PART_BYTES / (per * sizeof(double) + K * sizeof(size_t));
    w.nch = (n + SUB - 1) / SUB;
    w.nch = w.nch < CHUNKS ? w.nch : CHUNKS;
    w.nch = w.nch < cap ? w.nch : cap > 0 ? cap : 1;
    w.ch = (n + w.nch - 1) / w.nch;
    w.nch = (n + w.ch - 1) / w.ch;
    double *xsq = dgm_malloc_array(n, sizeof(double));
    double *dist = dgm_malloc_array(n, sizeof(double));
    double *cum = dgm_malloc_array(n, sizeof(double));
    double *cand_d = dgm_malloc_array(n, w.trials * sizeof(double));
    double *sums = dgm_malloc_array(K, D * sizeof(double));
    size_t *count = dgm_malloc_array(K, sizeof(size_t));
    float *cseed = dgm_malloc_array(K + MAX_TRIALS, D * sizeof(float)); /* + candidates */
    w.part = dgm_malloc_array(w.nch, per * sizeof(double));
    w.pcount = dgm_malloc_array(w.nch, K * sizeof(size_t));
    w.S = dgm_malloc_array((size_t)omp_get_max_threads() * SUB, w.sw * sizeof(float));
    w.csq = dgm_malloc_array(w.sw, sizeof(double));
    w.xsq = xsq;
    dgm_status s = DGM_OK;
    *n_iter = 0;
    if (!xsq || !dist || !cum || !cand_d || !sums || !count || !cseed || !w.part ||
        !w.pcount || !w.S || !w.csq) {
        s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory for k-means on %zu examples", n);
        goto done;
    }
    long nl = (long)n;
#pragma omp parallel for schedule(static) if (n * D > DGM__PAR_MIN)
    for (long i = 0; i < nl; i++) {
        xsq[i] = sqnorm(x + (size_t)i * D, D);
        labels[i] = -1;
    }
    seed_plusplus(rng, cseed, &w, dist, cum, cand_d);
    memcpy(centers, cseed, K * D * sizeof(float));
    const double tol_abs = tolerance(&w, tol);
    int strict = 0;
    for (int it = 1; it <= max_iter; it++) {
        size_t changed = assign(&w, labels, dist, centers, 1);
        *n_iter = it;
        if (changed == 0 && it > 1) { /* the centres are already the means of these labels */
            strict = 1;
            break;
        }
        reduce_sums(sums, count, &w);
        /* an empty cluster takes the point farthest from its centre, which leaves its own */
        for (size_t k = 0; k < K; k++) {
            if (count[k])
                continue;
            size_t far = 0;
            for (size_t i = 1; i < n; i++)
                if (dist[i] > dist[far])
                    far = i;
            size_t old = (size_t)labels[far];
            if (count[old] > 1) {
                count[old]--;
                for (size_t j = 0; j < D; j++)
                    sums[old * D + j] -= x[far * D + j];
            }
            count[k] = 1;
            for (size_t j = 0; j < D; j++)
                sums[k * D + j] = x[far * D + j];
            dist[far] = -1; /* not picked twice */
        }
        double shift = 0;
        for (size_t k = 0; k < K; k++)
            for (size_t j = 0; j < D; j++) {
                float c = (float)(sums[k * D + j] / (double)count[k]);
                double d = (double)c - centers[k * D + j];
                shift += d * d;
                centers[k * D + j] = c;
            }
        if (shift <= tol_abs)
            break;
    }
    if (!strict)
        assign(&w, labels, dist, centers, 0);
done:
    free(xsq);
    free(dist);
    free(cum);
    free(cand_d);
    free(sums);
    free(count);
    free(cseed);
    free(w.part);
    free(w.pcount);
    free(w.S);
    free(w.csq);
    return s;
}
