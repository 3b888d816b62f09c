/* Hamming-space neighbours of aligned sequences, bit-parallel as in the sequence weights
 * (src/data/seqweights.c): five bit planes per sequence, so the columns where two
 * sequences differ, 64 at a time, are the OR of five XORs and the distance is a popcount
 * (gap against gap counts as equal; padding bits are 0 in both and never differ).
 * On these distances: the nearest reference of each query; the improved precision and
 * recall of Kynkaanniemi et al. (NeurIPS 2019, eq. 1-2): a sample is "real-like" if it
 * lies in the k-NN ball of some real point, recall swaps the roles; and the leave-one-out
 * 1-nearest-neighbour two-sample accuracy (Lopez-Paz and Oquab, ICLR 2017; Xu et al.
 * 2018). Distances are integers, so every result is exact and independent of the thread
 * count: per-thread minima and flags merge by min and OR. Under mpirun the outer loops'
 * rows (queries, the points of a set, the samples) are split over the ranks in blocks, each
 * rank's rows go to every rank, and the per-reference minima, tie counts and flags merge
 * over the ranks as over the threads (integer minima and sums), so every rank holds the
 * one-process numbers; every rank calls these alike.
 * Left out: approximate search (the sizes here are brute-forced in a second or two). */
#include "eval/assess_internal.h"
#include "par/par.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

size_t dgm__seqbits_words(size_t L) { return (L + 63) / 64; }

uint64_t *dgm__seqbits_pack(const uint8_t *seq, size_t n, size_t L)
{
    size_t W = dgm__seqbits_words(L), S = DGM__PLANES * W;
    uint64_t *bits = dgm_calloc_array(n ? n : 1, S * sizeof *bits);
    if (!bits)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        uint64_t *b = bits + i * S;
        for (size_t l = 0; l < L; l++) {
            unsigned a = seq[i * L + l];
            for (int p = 0; p < DGM__PLANES; p++)
                if (a >> p & 1)
                    b[p * W + l / 64] |= (uint64_t)1 << (l % 64);
        }
    }
    return bits;
}

/* rows per block of the split over MPI ranks */
#define ROWS 64

static inline unsigned hamming(const uint64_t *a, const uint64_t *b, size_t W)
{
    unsigned h = 0;
    for (size_t k = 0; k < W; k++) {
        uint64_t d = 0;
        for (int p = 0; p < DGM__PLANES; p++)
            d |= a[p * W + k] ^ b[p * W + k];
        h += (unsigned)__builtin_popcountll(d);
    }
    return h;
}

void dgm__hamming_nearest(unsigned *dmin, size_t *imin, const uint64_t *q, size_t n,
                          const uint64_t *ref, size_t m, size_t W)
{
    size_t S = DGM__PLANES * W, i0, i1;
    dgm__par_rows_mine(&i0, &i1, n, ROWS);
    #pragma omp parallel for schedule(dynamic, 16)
    for (long il = (long)i0; il < (long)i1; il++) {
        size_t i = (size_t)il;
        unsigned best = ~0u;
        size_t bj = 0;
        for (size_t j = 0; j < m; j++) {
            unsigned h = hamming(q + i * S, ref + j * S, W);
            if (h < best) {
                best = h;
                bj = j;
            }
        }
        dmin[i] = best;
        imin[i] = bj;
    }
    dgm__par_share_rows(dmin, n, ROWS, sizeof *dmin);
    dgm__par_share_rows(imin, n, ROWS, sizeof *imin);
}

#define K_MAX 64

/* Within one set: each point's k-th smallest distance to the others (with multiplicity,
 * duplicates included), its nearest distance and how many others lie at it. */
static void within(unsigned *radius, unsigned *dmin, unsigned *cmin, const uint64_t *X,
                   size_t m, size_t W, size_t k)
{
    size_t S = DGM__PLANES * W, i0, i1;
    dgm__par_rows_mine(&i0, &i1, m, ROWS);
    #pragma omp parallel for schedule(dynamic, 16)
    for (long il = (long)i0; il < (long)i1; il++) {
        size_t i = (size_t)il, cnt = 0;
        unsigned best[K_MAX], d0 = ~0u, c0 = 0; /* k smallest, ascending */
        for (size_t j = 0; j < m; j++) {
            if (j == i)
                continue;
            unsigned h = hamming(X + i * S, X + j * S, W);
            if (h < d0) {
                d0 = h;
                c0 = 1;
            } else if (h == d0) {
                c0++;
            }
            if (cnt < k || h < best[k - 1]) {
                size_t e = cnt < k ? cnt++ : k - 1;
                while (e > 0 && best[e - 1] > h) {
                    best[e] = best[e - 1];
                    e--;
                }
                best[e] = h;
            }
        }
        radius[i] = best[k - 1];
        dmin[i] = d0;
        cmin[i] = c0;
    }
    dgm__par_share_rows(radius, m, ROWS, sizeof *radius);
    dgm__par_share_rows(dmin, m, ROWS, sizeof *dmin);
    dgm__par_share_rows(cmin, m, ROWS, sizeof *cmin);
}

/* The 1-NN rule's credit for a point whose own set's nearest is (dO, cO of them) and the
 * other set's (dX, cX): 1 if its own set is nearer, 0 if the other, the share of its own
 * set among the tied nearest otherwise. */
static double credit(unsigned dO, unsigned cO, unsigned dX, unsigned cX)
{
    if (dO != dX)
        return dO < dX;
    return (double)cO / (double)(cO + cX);
}

dgm_status dgm__hamming_prnn(double *precision, double *recall, double nn1[3], const uint64_t *R,
                             const uint64_t *S_, size_t m, size_t W, size_t k, dgm_err *err)
{
    if (k < 1 || k > K_MAX || m < k + 1)
        return dgm_errf(err, DGM_ERR_ARG, "assess: precision and recall with k = %zu need "
                        "more than k sequences in each set and k <= %d (have %zu)", k, K_MAX, m);
    size_t S = DGM__PLANES * W;
    int nt = omp_get_max_threads();
    unsigned *u = dgm_malloc_array(6 * m, sizeof *u);
    unsigned *tmin = dgm_malloc_array((size_t)nt * m, 2 * sizeof *tmin);
    uint8_t *trec = dgm_calloc_array((size_t)nt, m);
    uint8_t *prec = dgm_calloc_array(m, 1);
    unsigned *sx = dgm_malloc_array(m, 2 * sizeof *sx);
    uint32_t *mine = dgm_malloc_array(m, 2 * sizeof *mine);
    if (dgm__par_any(!u || !tmin || !trec || !prec || !sx || !mine)) { /* all ranks, or none */
        free(mine);
        free(u);
        free(tmin);
        free(trec);
        free(prec);
        free(sx);
        return dgm_errf(err, DGM_ERR_NOMEM, "assess: out of memory for neighbours of %zu", m);
    }
    unsigned *radR = u, *dR = u + m, *cR = u + 2 * m, *radS = u + 3 * m, *dS = u + 4 * m,
             *cS = u + 5 * m;
    unsigned *tcnt = tmin + (size_t)nt * m;
    within(radR, dR, cR, R, m, W, k);
    within(radS, dS, cS, S_, m, W, k);
    for (size_t t = 0; t < (size_t)nt * m; t++) {
        tmin[t] = ~0u;
        tcnt[t] = 0;
    }
    size_t s0, s1;
    dgm__par_rows_mine(&s0, &s1, m, ROWS);
    #pragma omp parallel num_threads(nt)
    {
        size_t t = (size_t)omp_get_thread_num();
        unsigned *rmin = tmin + t * m, *rcnt = tcnt + t * m;
        uint8_t *rrec = trec + t * m;
        #pragma omp for schedule(dynamic, 16)
        for (long sl = (long)s0; sl < (long)s1; sl++) {
            size_t s = (size_t)sl;
            unsigned d0 = ~0u, c0 = 0;
            int p = 0;
            for (size_t r = 0; r < m; r++) {
                unsigned h = hamming(S_ + s * S, R + r * S, W);
                p |= h <= radR[r];
                rrec[r] |= h <= radS[s];
                if (h < d0) {
                    d0 = h;
                    c0 = 1;
                } else if (h == d0) {
                    c0++;
                }
                if (h < rmin[r]) {
                    rmin[r] = h;
                    rcnt[r] = 1;
                } else if (h == rmin[r]) {
                    rcnt[r]++;
                }
            }
            prec[s] = (uint8_t)p;
            sx[2 * s] = d0;
            sx[2 * s + 1] = c0;
        }
    }
    dgm__par_share_rows(prec, m, ROWS, 1);
    dgm__par_share_rows(sx, m, ROWS, 2 * sizeof *sx);
    /* each reference's nearest sample, its tie count and its recall flag: merged over the
     * threads into row 0 of tmin, tcnt and trec, then over the ranks */
    for (size_t r = 0; r < m; r++) {
        unsigned d0 = ~0u, c0 = 0;
        int rec = 0;
        for (int t = 0; t < nt; t++) {
            size_t e = (size_t)t * m + r;
            rec |= trec[e];
            if (tmin[e] < d0) {
                d0 = tmin[e];
                c0 = tcnt[e];
            } else if (tmin[e] == d0) {
                c0 += tcnt[e];
            }
        }
        tmin[r] = d0, tcnt[r] = c0, trec[r] = (uint8_t)rec;
    }
    if (dgm__par_size() > 1) { /* mine: this rank's minima, then its flags */
        for (size_t r = 0; r < m; r++)
            mine[r] = tmin[r], mine[m + r] = trec[r];
        dgm__par_min_u32(tmin, m);
        for (size_t r = 0; r < m; r++) /* ties are counted by the ranks at the minimum */
            tcnt[r] = mine[r] == tmin[r] ? tcnt[r] : 0;
        dgm__par_sum_u32(tcnt, m);
        dgm__par_sum_u32(mine + m, m);
        for (size_t r = 0; r < m; r++)
            trec[r] = mine[m + r] != 0;
    }
    size_t np = 0, nr = 0;
    double acc = 0, acc_r;
    for (size_t r = 0; r < m; r++) {
        nr += (size_t)(trec[r] != 0);
        acc += credit(dR[r], cR[r], tmin[r], tcnt[r]);
    }
    acc_r = acc;
    for (size_t s = 0; s < m; s++) {
        np += prec[s];
        acc += credit(dS[s], cS[s], sx[2 * s], sx[2 * s + 1]);
    }
    *precision = (double)np / (double)m;
    *recall = (double)nr / (double)m;
    nn1[0] = acc / (double)(2 * m);
    nn1[1] = acc_r / (double)m;
    nn1[2] = (acc - acc_r) / (double)m;
    free(u);
    free(tmin);
    free(trec);
    free(prec);
    free(sx);
    free(mine);
    return DGM_OK;
}
