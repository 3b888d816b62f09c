/* Private helpers shared by the files of src/distributions (and the discrete KL in src/eval):
 * Cholesky factorisation, the flattening of a dgm_dist into its leaf families, and the
 * p log(p/q) kernel with the conventions 0 log 0 = 0 and p log(p/0) = +inf. */
#ifndef DGM_DIST_INTERNAL_H
#define DGM_DIST_INTERNAL_H

#include "dgm.h"

/* A leaf family (not PRODUCT) placed at offset off of x; chol is the lower Cholesky
 * factor (D x D, owned) for GAUSS_FULL leaves when requested, with logdet = log|cov|. */
typedef struct dgm__leaf {
    const dgm_dist *d;
    size_t off;
    double *chol;
    double logdet;
} dgm__leaf;

/* Flattens d (already checked) into its leaves in order of x; with_chol factors the full
 * Gaussians. Free with dgm__leaves_free. */
dgm_status dgm__dist_leaves(dgm__leaf **out, size_t *n_out, const dgm_dist *d, int with_chol,
                            dgm_err *err);
void       dgm__leaves_free(dgm__leaf *l, size_t n);

/* In place lower Cholesky factor of the D x D matrix a (upper triangle zeroed). Returns 0
 * if a is not positive definite (a pivot <= 0 or non-finite). */
int    dgm__cholesky(double *a, size_t D);
/* Solves L y = b in place (L lower triangular D x D). */
void   dgm__trsv_lower(const double *L, double *b, size_t D);
/* 2 sum log L_jj. */
double dgm__chol_logdet(const double *L, size_t D);

/* p log(p / q) for p, q >= 0: 0 when p = 0, +inf when q = 0 < p. */
double dgm__plogpq(double p, double q);

/* Leaf log-densities of one row x (the leaf's slice of it). */
double dgm__gauss_diag_logpdf(const double *mean, const double *var, const float *x, size_t D);
double dgm__gauss_full_logpdf(const double *mean, const double *L, double logdet,
                              const float *x, double *work, size_t D);
/* Closed-form KL between Gaussians. The full form takes Cholesky factors. */
double dgm__kl_gauss_diag(const double *mp, const double *vp, const double *mq,
                          const double *vq, size_t D);
double dgm__kl_gauss_full(const double *mp, const double *Lp, double logdet_p,
                          const double *mq, const double *Lq, double logdet_q, double *work,
                          size_t D);

#endif
