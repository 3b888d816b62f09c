/* Sequence reweighting: w_i = 1 / #{j : j is within identity 1 - theta of i}, Neff = sum w.
 * References: DeepSequence helper.py (Riesselman et al. 2018, Methods "Sequence
 * reweighting"), identity over sequence i's non-gap positions, strictly above 1 - theta;
 * plmc (Hopf et al., Nat. Biotechnol. 2017; plmc src/inference.c MSAReweightSeqs), matching
 * letters over all columns with gap = gap counted, at least (1 - theta) L. docs/math.md,
 * "Protein family models", says why both exist.
 *
 * Bit-parallel: a sequence is stored as five bit planes over its L positions (its 5-bit
 * letter codes) plus a non-gap mask, so "x_il == x_jl" for 64 positions at once is the NOR
 * of five XORs, and the match count is a popcount. The pair count is symmetric, so each
 * unordered pair is visited once and both ends are judged with their own threshold. Under
 * mpirun rank r visits the rows i = r, r + R, r + 2R, ... (about an equal share of the
 * pairs) and the integer counts are summed over the ranks: the weights are the one-process
 * weights, bit for bit; every rank calls this alike.
 * Left out: weights from a similarity other than identity. */
#include "dgm.h"
#include "par/par.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define PLANES 5 /* 21 letters < 2^5 */

/* Identity counts are integers; a tolerance keeps a ratio that equals 1 - theta exactly
 * (e.g. 200/250 at theta 0.2) from being counted through rounding of 1 - theta. */
#define TIE_TOL 1e-9

dgm_status dgm_seq_weights(double *w, double *neff, const uint8_t *seq, size_t n, size_t L,
                           double theta, dgm_seqw_rule rule, dgm_err *err)
{
    if (!(theta >= 0 && theta <= 1))
        return dgm_errf(err, DGM_ERR_ARG, "sequence weights: theta %g is outside [0, 1]", theta);
    if (n == 0 || L == 0)
        return dgm_errf(err, DGM_ERR_ARG, "sequence weights: empty alignment (%zu x %zu)", n, L);
    for (size_t i = 0; i < n * L; i++)
        if (seq[i] > DGM_AA_GAP)
            return dgm_errf(err, DGM_ERR_ARG, "sequence weights: letter index %d in sequence %zu "
                            "is outside 0..%d", seq[i], i / L, DGM_AA_GAP);
    size_t W = (L + 63) / 64, S = (PLANES + 1) * W; /* words per plane, per sequence */
    int nt = omp_get_max_threads();
    uint64_t *bits = dgm_calloc_array(n, S * sizeof(uint64_t));
    double *thr = dgm_malloc_array(n, sizeof *thr);
    uint32_t *cnt = dgm_calloc_array((size_t)nt, n * sizeof *cnt);
    if (!bits || !thr || !cnt) {
        free(bits);
        free(thr);
        free(cnt);
        return dgm_errf(err, DGM_ERR_NOMEM, "sequence weights: out of memory for %zu sequences", n);
    }
    /* Planes 0..4: letter bits; plane 5: the positions that count (non-gap for DEEPSEQ,
     * all L for PLMC, which matches gap against gap). */
    for (size_t i = 0; i < n; i++) {
        uint64_t *b = bits + i * S;
        size_t counted = 0;
        for (size_t l = 0; l < L; l++) {
            uint64_t bit = (uint64_t)1 << (l % 64);
            unsigned a = seq[i * L + l];
            for (int p = 0; p < PLANES; p++)
                if (a >> p & 1)
                    b[p * W + l / 64] |= bit;
            if (rule == DGM_SEQW_PLMC || a != DGM_AA_GAP) {
                b[PLANES * W + l / 64] |= bit;
                counted++;
            }
        }
        thr[i] = rule == DGM_SEQW_PLMC ? (1.0 - theta) * (double)L - TIE_TOL
                                       : (1.0 - theta) * (double)counted + TIE_TOL;
    }
    const size_t R = (size_t)dgm__par_size(), r = (size_t)dgm__par_rank();
    #pragma omp parallel num_threads(nt)
    {
        uint32_t *c = cnt + (size_t)omp_get_thread_num() * n;
        #pragma omp for schedule(dynamic, 16)
        for (size_t i = r; i < n; i += R) {
            const uint64_t *bi = bits + i * S;
            for (size_t j = i + 1; j < n; j++) {
                const uint64_t *bj = bits + j * S;
                unsigned m = 0;
                for (size_t k = 0; k < W; k++) {
                    uint64_t d = 0;
                    for (int p = 0; p < PLANES; p++)
                        d |= bi[p * W + k] ^ bj[p * W + k];
                    /* Equal letters at a position that counts for i; for DEEPSEQ an equal
                     * letter that is not a gap for i is not a gap for j either. */
                    m += (unsigned)__builtin_popcountll(~d & bi[PLANES * W + k]);
                }
                int ij, ji;
                if (rule == DGM_SEQW_PLMC)
                    ij = ji = (double)m >= thr[i];
                else {
                    ij = (double)m > thr[i];
                    ji = (double)m > thr[j];
                }
                c[i] += (uint32_t)ij;
                c[j] += (uint32_t)ji;
            }
        }
    }
    for (int t = 1; t < nt; t++) /* the threads' counts, then the ranks' */
        for (size_t i = 0; i < n; i++)
            cnt[i] += cnt[(size_t)t * n + i];
    dgm__par_sum_u32(cnt, n);
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t k = 1; /* the sequence itself, whatever theta (and even if all gaps) */
        k += cnt[i];
        w[i] = 1.0 / (double)k;
        total += w[i];
    }
    *neff = total;
    free(bits);
    free(thr);
    free(cnt);
    return DGM_OK;
}

/* plmc counts identity over the columns where the focus has a residue, not over focus
 * gaps; with that rule, weigh on those columns so that the weights are plmc's own (checked
 * against plmc's DHFR_weights_raw.txt in tests/cli.sh). The model still sees all columns. */
dgm_status dgm_alignment_weights(double *w, double *neff, const dgm_alignment *a, double theta,
                                 dgm_seqw_rule rule, dgm_err *err)
{
    size_t Lr = 0;
    for (size_t l = 0; l < a->L; l++)
        Lr += a->pos[l] >= 0;
    if (rule != DGM_SEQW_PLMC || Lr == a->L || Lr == 0)
        return dgm_seq_weights(w, neff, a->seq, a->n, a->L, theta, rule, err);
    uint8_t *x = dgm_malloc_array(a->n, Lr);
    if (!x)
        return dgm_errf(err, DGM_ERR_NOMEM, "sequence weights: out of memory");
    for (size_t i = 0; i < a->n; i++)
        for (size_t l = 0, k = 0; l < a->L; l++)
            if (a->pos[l] >= 0)
                x[i * Lr + k++] = a->seq[i * a->L + l];
    dgm_status st = dgm_seq_weights(w, neff, x, a->n, Lr, theta, rule, err);
    free(x);
    return st;
}
