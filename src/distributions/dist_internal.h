/* Private helpers shared by the files of src/distributions only: the flattening of a
 * dgm_dist into its leaf families, and the leaves' log-densities and closed-form KL. */
#ifndef DGM_DIST_INTERNAL_H
#define DGM_DIST_INTERNAL_H

#include "dgm.h"
#include "distributions/categorical.h"
#include "tensor/linalg.h"

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
