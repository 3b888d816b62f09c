/* The Potts model's weighted negative pseudo-log-likelihood and its gradient, the objective
 * plmc minimises (Ekeberg et al., Phys. Rev. E 2013, eq. 14; Hopf et al. 2017, Methods; plmc
 * src/inference.c, PLMNegLogPosterior and its gap-ignoring variant). docs/math.md, "Potts
 * model", derives every term:
 *   f(h, J) = sum_s w_s sum_i [log Z_si - H_si(x_si)] + lambda_h |h|^2 + lambda_J |J|^2,
 *   H_si(a) = h_i(a) + sum_{j != i} J_ij(a, x_sj),   Z_si = sum_a exp H_si(a),
 *   df/dh_i(a)       = sum_s w_s (P_si(a) - [x_si = a]) + 2 lambda_h h_i(a),
 *   df/dJ_ij(a, b)   = sum_s w_s ((P_si(a) - [x_si = a]) [x_sj = b]
 *                               + (P_sj(b) - [x_sj = b]) [x_si = a]) + 2 lambda_J J_ij(a, b).
 * With ignore_gaps the softmax runs over the 20 amino acids, gapped sites and gapped
 * neighbours are skipped.
 *
 * Layout for the hot loop: the couplings of both triangles as one (L q) x (L q) float matrix
 * K[(j,b)][(i,a)] = J_ij(a, b), so that the potentials of every site of a sequence are the sum
 * of the L rows K[(j, x_sj)] (an embedding bag: one contiguous row per column), and the
 * coupling gradient is the same bag transposed: dK[(j, x_sj)] += w_s (P_s - onehot(x_s)). The
 * work is cut into blocks of BLOCK sites (columns of K): one thread does one block for every
 * sequence, in sequence order, so its share of K and dK (rows touched x 4 sites x 21 floats,
 * about 1 MB each on BLAT) stays in L2, and each block's sums have one order whatever the
 * thread count. The assembly of the gradient and the penalties are fixed-order loops too.
 * Under mpirun the blocks are split over the ranks the same way (each rank its contiguous
 * blocks, then their results go to every rank), so the fit has the same bits at any rank
 * count.
 * Precision: potentials, probabilities and dK in float (as plmc's 32-bit build), objective
 * sums in double. Left out: plmc's group-L1 penalty (-lg), its -ee estimate of lambda_J and
 * its SGD mode. */
#include "models/potts/potts.h"
#include "core/fastmath.h"
#include "core/par.h"
#include "par/par.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define Q POTTS_Q
#ifndef BLOCK
#define BLOCK 4            /* sites per block of K's columns */
#endif
#define W (BLOCK * Q)      /* floats per block row */

static size_t *chain_order(const uint8_t *seq, size_t n, size_t L);
static int change_lists(dgm__plm *p);

/* Zeroed memory for K and dK on 2 MB pages where the kernel gives them (transparent huge
 * pages in madvise mode, Debian's default): run_block reads rows scattered over a block's
 * share (1.8 MB on BLAT, some 440 pages of 4 KB, more than the L1 TLB holds). Free with free. */
static void *huge_zeros(size_t n, size_t size)
{
    size_t bytes, align = (size_t)2 << 20;
    void *p = NULL;
    if (!dgm_size_mul(&bytes, n, size))
        return NULL;
    bytes = (bytes + align - 1) / align * align;
    if (posix_memalign(&p, align, bytes))
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    memset(p, 0, bytes);
    return p;
}

size_t dgm__plm_nparams(size_t L) { return L * Q + L * (L - 1) / 2 * Q * Q; }

/* Columns of K and dK, padded to whole blocks (the padding stays zero). */
static size_t padded(size_t L) { return (L + BLOCK - 1) / BLOCK * W; }

dgm_status dgm__plm_init(dgm__plm *p, const uint8_t *seq, const double *w, size_t n, size_t L,
                         int ignore_gaps, double lambda_h, double lambda_j, dgm_err *err)
{
    memset(p, 0, sizeof *p);
    if (n == 0 || L < 2)
        return dgm_errf(err, DGM_ERR_ARG, "potts: %zu sequences of %zu columns: need at least "
                        "one sequence and two columns", n, L);
    for (size_t k = 0; k < n * L; k++)
        if (seq[k] > POTTS_GAP)
            return dgm_errf(err, DGM_ERR_ARG, "potts: letter index %d in sequence %zu",
                            seq[k], k / L);
    p->n = n, p->L = L, p->ignore_gaps = ignore_gaps;
    p->lambda_h = lambda_h, p->lambda_j = lambda_j;
    size_t rows = L * Q, cols = padded(L);
    p->K = huge_zeros(rows, cols * sizeof(float));
    p->dK = huge_zeros(rows, cols * sizeof(float));
    p->site_f = dgm_calloc_array(L, sizeof(double));
    p->dh = dgm_calloc_array(L * Q, sizeof(double));
    size_t *order = chain_order(seq, n, L);
    p->cseq = dgm_malloc_array(n, L);
    p->cw = dgm_malloc_array(n, sizeof(float));
    int ok = order && p->cseq && p->cw; /* the copies in chain order are all the loop reads */
    for (size_t k = 0; ok && k < n; k++) {
        memcpy(p->cseq + k * L, seq + order[k] * L, L);
        p->cw[k] = w ? (float)w[order[k]] : 1.0f;
    }
    free(order);
    if (!p->K || !p->dK || !p->site_f || !p->dh || !ok || change_lists(p)) {
        dgm__plm_free(p);
        return dgm_errf(err, DGM_ERR_NOMEM, "potts: out of memory for 2 x %zu x %zu couplings",
                        rows, cols);
    }
    return DGM_OK;
}

void dgm__plm_free(dgm__plm *p)
{
    free(p->K);
    free(p->dK);
    free(p->site_f);
    free(p->dh);
    free(p->chg);
    free(p->chg_at);
    free(p->cseq);
    free(p->cw);
    memset(p, 0, sizeof *p);
}

/* Where K[(j,b)][(i,a)] lives: the block of site i holds its rows contiguously, W floats
 * each, so one block's share of K is one stretch of memory (L q W floats) rather than L q
 * pieces a row of K apart (a page each, which thrashed the TLB: 3x slower). */
static inline size_t kidx(size_t row, size_t i, int a, size_t L)
{
    return ((i / BLOCK) * L * Q + row) * W + (i % BLOCK) * Q + (size_t)a;
}

/* K from the pair blocks of x (double) in float; the diagonal blocks stay zero. */
static void fill_K(float *K, const double *xJ, size_t L, int ign)
{
    long Ll = (long)L;
#pragma omp parallel for schedule(dynamic, 4) if (L * L * Q * Q > DGM__PAR_MIN_K)
    for (long il = 0; il < Ll; il++) {
        size_t i = (size_t)il;
        for (size_t j = i + 1; j < L; j++) {
            const double *b = xJ + dgm__potts_pair(i, j, L) * Q * Q;
            for (int a = 0; a < Q; a++)
                for (int c = 0; c < Q; c++) {
                    float v = (float)b[a * Q + c];
                    /* with ignore_gaps a gapped neighbour adds nothing: its rows stay 0 */
                    if (!(ign && c == POTTS_GAP))
                        K[kidx(j * Q + (size_t)c, i, a, L)] = v;
                    if (!(ign && a == POTTS_GAP))
                        K[kidx(i * Q + (size_t)a, j, c, L)] = v;
                }
        }
    }
}

/* The sequences in a chain of nearest neighbours (greedy: from the focus, always the
 * closest unvisited sequence by Hamming distance, the lowest index on ties), so that
 * consecutive sequences differ in few columns (BLAT: 39 of 253 on average, against 155 in
 * file order). Five bit planes of the letter codes make a distance a few XORs and
 * popcounts; the search is parallel over candidates with a fixed tie rule, so the order
 * does not depend on the thread count. */
static size_t *chain_order(const uint8_t *seq, size_t n, size_t L)
{
    size_t Wd = (L + 63) / 64, S = 5 * Wd;
    uint64_t *bits = dgm_calloc_array(n, S * sizeof(uint64_t));
    size_t *order = dgm_malloc_array(n, sizeof *order);
    unsigned char *seen = calloc(n, 1);
    if (dgm__par_any(!bits || !order || !seen)) { /* every rank, or none, searches below */
        free(bits), free(order), free(seen);
        return NULL;
    }
    for (size_t s = 0; s < n; s++)
        for (size_t l = 0; l < L; l++)
            for (int b = 0; b < 5; b++)
                if (seq[s * L + l] >> b & 1)
                    bits[s * S + (size_t)b * Wd + l / 64] |= (uint64_t)1 << (l % 64);
    size_t cur = 0;
    seen[0] = 1;
    order[0] = 0;
    /* under mpirun each rank searches its contiguous share of the sequences, and the least
     * key of all ranks (a minimum: any order gives it) is the next link on every rank */
    size_t t0, t1;
    dgm__par_rows_mine(&t0, &t1, n, 1);
    for (size_t k = 1; k < n; k++) {
        const uint64_t *bc = bits + cur * S;
        uint64_t best = UINT64_MAX; /* distance << 32 | index */
#pragma omp parallel if ((t1 - t0) * Wd > DGM__PAR_MIN)
        {
            uint64_t mine = UINT64_MAX;
#pragma omp for schedule(static) nowait
            for (long tl = (long)t0; tl < (long)t1; tl++) {
                size_t t = (size_t)tl;
                if (seen[t])
                    continue;
                const uint64_t *bt = bits + t * S;
                unsigned d = 0;
                for (size_t w = 0; w < Wd; w++) {
                    uint64_t x = 0;
                    for (int b = 0; b < 5; b++)
                        x |= bc[(size_t)b * Wd + w] ^ bt[(size_t)b * Wd + w];
                    d += (unsigned)__builtin_popcountll(x);
                }
                uint64_t key = (uint64_t)d << 32 | (uint64_t)t;
                mine = key < mine ? key : mine;
            }
#pragma omp critical
            best = mine < best ? mine : best;
        }
        best = dgm__par_min_u64(best);
        cur = (size_t)(best & 0xffffffffu);
        seen[cur] = 1;
        order[k] = cur;
    }
    free(bits);
    free(seen);
    return order;
}

#define REFRESH 32 /* chain steps between full recomputations (run_block) */

/* For every chain step that is not a refresh, the K rows of the columns that differ from the
 * previous sequence, in column order: run_block's inner loop then walks a list (no compare
 * and branch per column, and the rows of the next changes are known early enough to
 * prefetch). BLAT: 39 pairs a step on average, 2.6 MB. */
static int change_lists(dgm__plm *p)
{
    const size_t n = p->n, L = p->L;
    p->chg_at = malloc((n + 1) * sizeof *p->chg_at);
    if (!p->chg_at)
        return 1;
    size_t total = 0;
    for (size_t k = 0; k < n; k++) {
        p->chg_at[k] = total;
        if (k % REFRESH == 0)
            continue;
        const uint8_t *xs = p->cseq + k * L, *xp = xs - L;
        for (size_t j = 0; j < L; j++)
            total += xs[j] != xp[j];
    }
    p->chg_at[n] = total;
    p->chg = malloc((2 * total + 1) * sizeof *p->chg);
    if (!p->chg)
        return 1;
    for (size_t k = 0; k < n; k++) {
        if (k % REFRESH == 0)
            continue;
        const uint8_t *xs = p->cseq + k * L, *xp = xs - L;
        uint32_t *c = p->chg + 2 * p->chg_at[k];
        for (size_t j = 0; j < L; j++)
            if (xs[j] != xp[j]) {
                *c++ = (uint32_t)(j * Q + xs[j]);
                *c++ = (uint32_t)(j * Q + xp[j]);
            }
    }
    return 0;
}

/* Asks for the W floats of row r of a block's share (K or dK) to be brought to the cache. */
static inline void prefetch_row(const float *base, uint32_t r)
{
    const char *a = (const char *)(base + (size_t)r * W);
    for (size_t o = 0; o < W * sizeof(float); o += 64)
        __builtin_prefetch(a + o);
    __builtin_prefetch(a + W * sizeof(float) - 1);
}

/* Adds v (W floats) to row d. */
static inline void add_row(float *restrict d, const float *restrict v)
{
#pragma omp simd
    for (int c = 0; c < W; c++)
        d[c] += v[c];
}

/* One block of sites [i0, i0 + BLOCK) over every sequence, in chain order: site_f, dh and
 * the block's rows of dK (if grad). Potentials are updated from the previous sequence
 * through the columns that differ (acc += K[(j, new)] - K[(j, old)]) and recomputed in full
 * every REFRESH sequences. The gradient's bag is telescoped the same way: with S the running
 * sum of the residuals r = w (P - onehot) since the last flush, a run of sequences sharing
 * letter b at column j adds S(end) - S(before start) to dK[(j, b)], which costs two row
 * updates per changed column; every REFRESH sequences S is flushed into the rows of the
 * current letters and reset, so that it stays a sum of at most REFRESH residuals (float
 * rows then lose nothing to cancellation). The rows of the changes PREFETCH ahead are
 * requested early: the rows are scattered over the block's share and would otherwise be
 * waited for one by one (measured: one evaluation on BLAT 0.65 of the time without the
 * change lists and prefetch). */
#ifndef PREFETCH
#define PREFETCH 4 /* changes ahead */
#endif
static void run_block(dgm__plm *p, const double *xh, size_t i0, int grad)
{
    const size_t L = p->L, n = p->n;
    const int ign = p->ignore_gaps, ns = ign ? DGM_AA_N : Q;
    const float *K = p->K + (i0 / BLOCK) * L * Q * W;  /* this block's rows */
    float *dK = p->dK + (i0 / BLOCK) * L * Q * W;
    float h[W], acc[W], r[W], Sf[W], negS[W];
    double f[BLOCK] = {0}, dh[W], S[W];
    for (int c = 0; c < W; c++) {
        size_t k = i0 * Q + (size_t)c;
        h[c] = k < L * Q ? (float)xh[k] : 0.0f;
        dh[c] = S[c] = 0.0;
        Sf[c] = negS[c] = 0.0f;
    }
    if (grad)
        memset(dK, 0, L * Q * W * sizeof(float));
    size_t nsite = L - i0 < BLOCK ? L - i0 : BLOCK;
    const uint8_t *prev = NULL;
    const uint32_t *cend = p->chg + 2 * p->chg_at[n];
    for (size_t k = 0; k < n; k++) {
        const uint8_t *xs = p->cseq + k * L; /* in chain order: the loop streams them */
        const float ws = p->cw[k];
        if (k % REFRESH == 0) {
            if (grad && prev)
                for (size_t j = 0; j < L; j++) {
                    if (PREFETCH && j + PREFETCH < L)
                        prefetch_row(dK, (uint32_t)((j + PREFETCH) * Q + prev[j + PREFETCH]));
                    add_row(dK + (j * Q + prev[j]) * W, Sf);
                }
            for (int c = 0; c < W; c++)
                S[c] = 0.0, Sf[c] = negS[c] = 0.0f;
            memcpy(acc, h, sizeof acc);
            for (size_t j = 0; j < L; j++) {
                if (PREFETCH && j + PREFETCH < L)
                    prefetch_row(K, (uint32_t)((j + PREFETCH) * Q + xs[j + PREFETCH]));
                add_row(acc, K + (j * Q + xs[j]) * W);
            }
        } else {
            const uint32_t *ch = p->chg + 2 * p->chg_at[k], *ce = p->chg + 2 * p->chg_at[k + 1];
            for (; ch < ce; ch += 2) {
                if (PREFETCH && ch + 2 * PREFETCH + 1 < cend) {
                    prefetch_row(K, ch[2 * PREFETCH]), prefetch_row(K, ch[2 * PREFETCH + 1]);
                    if (grad)
                        prefetch_row(dK, ch[2 * PREFETCH]), prefetch_row(dK, ch[2 * PREFETCH + 1]);
                }
                const float *kn = K + (size_t)ch[0] * W, *ko = K + (size_t)ch[1] * W;
#pragma omp simd
                for (int c = 0; c < W; c++)
                    acc[c] += kn[c] - ko[c];
                if (grad) {
                    add_row(dK + (size_t)ch[1] * W, Sf);
                    add_row(dK + (size_t)ch[0] * W, negS);
                }
            }
        }
        memset(r, 0, sizeof r);
        for (size_t t = 0; t < nsite; t++) {
            int xi = xs[i0 + t];
            if (ign && xi == POTTS_GAP)
                continue;
            const float *a = acc + t * Q;
            float mx = a[0];
            for (int b = 1; b < ns; b++)
                mx = a[b] > mx ? a[b] : mx;
            float e[Q], z = 0.0f;
#pragma omp simd reduction(+ : z)
            for (int b = 0; b < ns; b++) {
                e[b] = dgm__expf(a[b] - mx);
                z += e[b];
            }
            /* -log P(x_si) = log Z - H(x_si), with the max taken out */
            f[t] += (double)ws * ((double)mx + log((double)z) - (double)a[xi]);
            float sc = ws / z;
            for (int b = 0; b < ns; b++)
                r[t * Q + b] = sc * e[b];
            r[t * Q + xi] -= ws;
        }
        if (grad)
            for (int c = 0; c < W; c++) {
                dh[c] += (double)r[c];
                S[c] += (double)r[c];
                Sf[c] = (float)S[c];
                negS[c] = -Sf[c];
            }
        prev = xs;
    }
    if (grad)
        for (size_t j = 0; j < L; j++)
            add_row(dK + (j * Q + prev[j]) * W, Sf);
    for (size_t t = 0; t < nsite; t++) {
        p->site_f[i0 + t] = f[t];
        memcpy(p->dh + (i0 + t) * Q, dh + t * Q, Q * sizeof(double));
    }
}

double dgm__plm_eval(dgm__plm *p, const double *x, double *g, double *neg_pll)
{
    const size_t L = p->L, nb = (L + BLOCK - 1) / BLOCK;
    const double *xh = x, *xJ = x + L * Q;
    fill_K(p->K, xJ, L, p->ignore_gaps);
    /* Under mpirun each rank runs its contiguous blocks; a block's sums do not depend on who
     * runs it, and its dK rows, site terms and dh are then sent to every rank, so that all
     * ranks assemble the same gradient and take the same L-BFGS step (the one-process bits). */
    size_t b0, b1;
    dgm__par_rows_mine(&b0, &b1, nb, 1);
    long b0l = (long)b0, b1l = (long)b1;
#pragma omp parallel for schedule(dynamic, 1) if (p->n * L * L * Q > DGM__PAR_MIN)
    for (long b = b0l; b < b1l; b++)
        run_block(p, xh, (size_t)b * BLOCK, g != NULL);
    dgm__par_share_rows(p->site_f, L, BLOCK, sizeof(double));
    if (g) {
        dgm__par_share_rows(p->dh, L, BLOCK, Q * sizeof(double));
        dgm__par_share_rows(p->dK, nb, 1, L * Q * W * sizeof(float));
    }
    double nll = 0.0, pen_h = 0.0, pen_j = 0.0;
    for (size_t i = 0; i < L; i++)
        nll += p->site_f[i];
    for (size_t k = 0; k < L * Q; k++) {
        pen_h += xh[k] * xh[k];
        if (g)
            g[k] = p->dh[k] + 2.0 * p->lambda_h * xh[k];
    }
    /* penalty on J and the gradient's assembly: one partial sum per row i, added in order */
    double *part = p->site_f; /* reused: the sites' terms are summed already */
    long Ll = (long)L;
    const float *dK = p->dK;
    double lj = p->lambda_j;
    const int ign = p->ignore_gaps;
#pragma omp parallel for schedule(dynamic, 4) if (L * L * Q * Q > DGM__PAR_MIN_K)
    for (long il = 0; il < Ll; il++) {
        size_t i = (size_t)il;
        double s = 0.0;
        for (size_t j = i + 1; j < L; j++) {
            size_t off = dgm__potts_pair(i, j, L) * Q * Q;
            const double *xb = xJ + off;
            double *gb = g ? g + L * Q + off : NULL;
            for (int a = 0; a < Q; a++)
                for (int c = 0; c < Q; c++) {
                    double v = xb[a * Q + c];
                    s += v * v;
                    if (gb) /* with ignore_gaps the gap rows of dK are no gradient */
                        gb[a * Q + c] = (ign && c == POTTS_GAP ? 0.0
                                         : (double)dK[kidx(j * Q + (size_t)c, i, a, L)]) +
                                        (ign && a == POTTS_GAP ? 0.0
                                         : (double)dK[kidx(i * Q + (size_t)a, j, c, L)]) +
                                        2.0 * lj * v;
                }
        }
        part[i] = s;
    }
    for (size_t i = 0; i < L; i++)
        pen_j += part[i];
    if (neg_pll)
        *neg_pll = nll;
    return nll + p->lambda_h * pen_h + p->lambda_j * pen_j;
}
