/* The pieces every file of the tractable baselines shares (mix_common.c): fit options
 * and fit info, their config JSON, names of covariance types and initialisations, log p(x)
 * from a per-component log joint, and the checks on data and weights. The lowest file of
 * src/models/mixture: it calls none of the others (tractable.h gives the order). */
#ifndef DGM_MODELS_MIX_COMMON_H
#define DGM_MODELS_MIX_COMMON_H

#include "models/model.h"

/* What one EM run (the kept restart) ended with, per group. */
typedef struct dgm__fit_info {
    int    n_iter;         /* EM iterations run */
    int    converged;      /* |change of the mean log-likelihood| < tol was reached */
    int    best_init;      /* which of the n_init restarts was kept (0-based) */
    double lower_bound;    /* scikit-learn's lower_bound_: mean log-likelihood per example
                            * of the parameters entering the last iteration */
    double log_likelihood; /* mean log-likelihood per example of the final parameters */
    size_t n;              /* training examples */
} dgm__fit_info;

/* Shared by every tractable fit; a copy is kept in the model for its config JSON. */
typedef struct dgm__mix_opts {
    double reg_covar, min_prob, tol;
    int    max_iter, n_init;
    dgm_mixture_init init;
} dgm__mix_opts;

/* Adds the options that apply (reg_covar for Gaussians, else min_prob; EM's options when em)
 * and a "fit" array (one object per group) to config c; returns c. */
cJSON *dgm__mix_fit_json(cJSON *c, const dgm__fit_info *f, const dgm__mix_opts *o, size_t G,
                         int gaussian, int em);
/* Reads them back; both are informative, so missing fields are left zero (NaN for the
 * log-likelihoods). */
void   dgm__mix_read_fit(dgm__fit_info *f, dgm__mix_opts *o, size_t G, const cJSON *config);
/* n_components from a mixture file's config: an integer in [1, 1e6], or a FORMAT error
 * naming path. */
dgm_status dgm__mix_read_K(size_t *K, const cJSON *config, const char *path, dgm_err *err);
/* Checks shared by every fit: d, n > 0, 1 <= K <= n, x finite; messages start with what. */
dgm_status dgm__mix_check(const float *x, size_t n, size_t d, size_t K, const char *what,
                          dgm_err *err);
/* Weights w[0..K) of group g of a loaded model: each a finite probability, not all 0;
 * *wsum gets their sum (for normalising); messages start with where. */
dgm_status dgm__mix_check_weights(double *wsum, const float *w, size_t K, size_t g,
                                  const char *where, dgm_err *err);
/* Per-component log joint of rows of x for one group (dgm__gmm_log_joint's contract). */
typedef dgm_status (*dgm__joint_fn)(double *out, const void *model, size_t group,
                                    const float *x, const size_t *rows, size_t n, dgm_err *err);
/* out[i] = log sum_k exp(joint) for the group y[i] (group 0 when G = 1), rows bucketed by
 * group and scored in chunks. y must be in range when G > 1. */
dgm_status dgm__mix_log_prob(double *out, const void *model, dgm__joint_fn joint, size_t G,
                             size_t K, const float *x, const int32_t *y, size_t n, dgm_err *err);
/* The options of cfg as stored in a model. */
dgm__mix_opts dgm__mix_opts_of(const dgm_mixture_cfg *cfg);

/* dgm_gemm with the same bits at any thread count: C's rows in fixed blocks of 64, each
 * block's product on one thread (OpenBLAS, and oneDNN, run one thread inside a parallel
 * region), the blocks spread over the threads. A's rows are op(A)'s: with ta = DGM_TRANS,
 * block i0 starts at column i0 of A. */
void dgm__mix_gemm(dgm_trans ta, dgm_trans tb, size_t M, size_t N, size_t K, float alpha,
                   const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                   size_t ldc);

/* Index of s in names[0..n), or -1 (also for s NULL). */
int    dgm__mix_find_name(const char *const *names, int n, const char *s);

#endif
