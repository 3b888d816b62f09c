/* Private pieces of the assess files (src/eval/assess_*.c): pair statistics through
 * matrix products (assess_pairs.c), bit-parallel Hamming neighbours (assess_hamming.c),
 * and the prepared reference they all read (assess_seq.c creates it for sequences,
 * assess_vec.c for vectors). */
#ifndef DGM_EVAL_ASSESS_INTERNAL_H
#define DGM_EVAL_ASSESS_INTERNAL_H

#include "dgm.h"

#define DGM__Q (DGM_AA_N + 1) /* letters with the gap */

/* Weighted single-site frequencies and pair counts of an alignment. The pair counts
 * F_ij(a,b) = sum_n w_n [x_ni = a][x_nj = b] are kept for j >= i in position blocks of
 * P columns: block I is a (Q len_I) x (Q (L - I P)) float matrix whose row (i - I P) Q + a
 * and column (j - I P) Q + b hold F_ij(a,b). */
typedef struct dgm__pairs {
    size_t L, P, nb;
    double wsum;   /* sum of the weights */
    double *f;     /* L x Q: f_i(a) */
    float **F;     /* nb blocks */
} dgm__pairs;

dgm_status dgm__pairs_count(dgm__pairs *out, const uint8_t *seq, const double *w, size_t n,
                            size_t L, dgm_err *err);
void       dgm__pairs_free(dgm__pairs *p);
/* Pearson r and slope of s against ref for f_i(a) and for C_ij(a,b) over i < j, and up to
 * max_scatter (ref, s) points of C kept in scatter (2 floats each). */
void       dgm__pairs_compare(double *site_r, double *site_slope, double *pair_r,
                              double *pair_slope, float *scatter, size_t *n_scatter,
                              size_t max_scatter, const dgm__pairs *ref, const dgm__pairs *s);

/* Letters as 5 bit planes of W = ceil(L / 64) words each: sequence i is bits[i*5W ...),
 * plane p word k holds bit p of the letters at columns 64k..64k+63 (as seqweights.c). */
#define DGM__PLANES 5
size_t     dgm__seqbits_words(size_t L);
uint64_t  *dgm__seqbits_pack(const uint8_t *seq, size_t n, size_t L);
/* Nearest reference (Hamming distance, smallest index at ties) of each of n queries. */
void       dgm__hamming_nearest(unsigned *dmin, size_t *imin, const uint64_t *q, size_t n,
                                const uint64_t *ref, size_t m, size_t W);

/* Two equal-sized sets' (m sequences each) neighbour statistics in Hamming distance:
 * improved precision and recall with k-NN balls, and the leave-one-out 1-NN accuracy (ties at the nearest distance count fractionally): nn1 = overall, on the
 * reference's points, on the samples'. */
dgm_status dgm__hamming_prnn(double *precision, double *recall, double nn1[3], const uint64_t *R,
                             const uint64_t *S, size_t m, size_t W, size_t k, dgm_err *err);

/* Quantile q of sorted v (n) with linear interpolation (numpy's default). */
double     dgm__quantile_sorted(const double *v, size_t n, double q);

struct dgm_assess_ref {
    dgm_assess_cfg cfg;
    int       is_seq;
    size_t    n;
    /* sequences */
    size_t    L, W;
    uint8_t  *seq;       /* n x L */
    uint64_t *bits;      /* n x 5W */
    double    neff;
    dgm__pairs pairs;
    double   *entropy;   /* L */
    /* vectors */
    size_t    d, z;
    float    *x;         /* n x d */
    float    *feat;      /* n x z or NULL */
};

#endif
