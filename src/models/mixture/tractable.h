/* Internal layout of the tractable baselines (gaussian.c, gmm*.c, bernoulli*.c, kmeans.c,
 * tractable.c, tractable_em.c): Gaussian mixtures (a single Gaussian is the K = 1 case) and
 * Bernoulli mixtures (a product of Bernoullis is K = 1), each holding G groups of K
 * components — G = 1 for a model of p(x), G = C for a class-conditional model p(x | y).
 *
 * Parameters are float32, exactly as written to the model file, so that a model and its
 * reloaded copy give identical log-probabilities; everything derived from them (log
 * normalisers, double copies for the scoring kernels, the views handed out by as_dist)
 * is recomputed from the floats by one prepare function used by fitter and loader alike.
 * Tensor names and shapes follow scikit-learn's GaussianMixture attributes (weights_,
 * means_, covariances_, precisions_cholesky_), with a leading C axis when G > 1.
 *
 * Calls between these files go one way, each calling only files later in this list:
 * tractable.c (defaults, kind names, per-class fits, fit info) -> gaussian.c -> gmm_em.c,
 * bernoulli_em.c (EM fits) -> gmm.c, bernoulli.c (layout, prepare, files) -> gmm_score.c
 * (the log joint) -> tractable_em.c (the EM driver) -> kmeans.c -> mix_common.c (the
 * shared pieces, mix_common.h). */
#ifndef DGM_MODELS_TRACTABLE_H
#define DGM_MODELS_TRACTABLE_H

#include "core/par.h"
#include "models/mixture/mix_common.h"

/* ---- Gaussian mixture -------------------------------------------------------------- */

typedef struct dgm__gmm {
    dgm_cov_type cov;
    size_t G, K, D;
    size_t csize;         /* floats of covariances per group: K D D, D D, K D or K */
    float *weights;       /* G x K */
    float *means;         /* G x K x D */
    float *covariances;   /* G x csize, scikit-learn's covariances_ layout */
    float *prec_chol;     /* G x csize: U with U U^T = precision (upper triangular), or
                           * 1/sigma for diag/spherical: scikit-learn's precisions_cholesky_ */
    /* derived by dgm__gmm_prepare */
    double *log_norm;     /* G x K: log w + log det U - D/2 log 2 pi */
    double *wd;           /* G x K: weights as double, for drawing components */
    double *mu_u, *u_d;   /* G x K x D (diag, spherical): mu/sigma and 1/sigma in double,
                           * for the E-step kernel */
    double *dist_mean, *dist_var, *dist_cov; /* as_dist views when G = K = 1, from U */
    dgm__fit_info *fit;   /* G entries (zeros for a model loaded without fit info) */
    dgm__mix_opts opts;
} dgm__gmm;

/* Allocates the parameter arrays (zeroed) of a G x K x D mixture. */
dgm__gmm  *dgm__gmm_alloc(dgm_cov_type cov, size_t G, size_t K, size_t D);
void       dgm__gmm_free(void *impl);
/* Computes the derived arrays from the float parameters; fails with a message naming the
 * component when a weight, precision factor or covariance is unusable. */
dgm_status dgm__gmm_prepare(dgm__gmm *g, const char *where, dgm_err *err);
/* Number of free parameters of one group (scikit-learn's _n_parameters). */
size_t     dgm__gmm_n_params(dgm_cov_type cov, size_t K, size_t D);
/* out[i K + k] = log w_gk + log N(x_r | mu_gk, Sigma_gk) for rows r = rows[i] (or i when
 * rows is NULL), i < n, in nats. */
dgm_status dgm__gmm_log_joint(double *out, const dgm__gmm *g, size_t group, const float *x,
                              const size_t *rows, size_t n, dgm_err *err);
/* Wraps g (taking ownership) in a model of type "gaussian" (single) or "gmm". */
dgm_status dgm__gmm_model(dgm_model **out, dgm__gmm *g, int single,
                          const dgm_mixture_cfg *cfg, dgm_err *err);
/* Scratch of the M-step, sized once per fit. */
typedef struct dgm__gmm_work {
    double *nk;           /* K */
    double *mean;         /* K x D */
    double *cov;          /* csize */
    double *mu_abs;       /* D */
    double *L;            /* D x D (full, tied) */
    float  *blk;          /* BLOCK x D (full, tied) */
    float  *outer;        /* D x D (full, tied) */
    size_t *idx;          /* BLOCK (full, tied) */
} dgm__gmm_work;

dgm_status dgm__gmm_work_init(dgm__gmm_work *w, const dgm__gmm *g, dgm_err *err);
void       dgm__gmm_work_free(dgm__gmm_work *w);
/* M-step of a single group from responsibilities resp (n x K): weights, means and
 * covariances (+ reg_covar on the diagonal) as scikit-learn's _estimate_gaussian_parameters,
 * then precisions_cholesky and the derived arrays. Fails, naming the component, when a
 * covariance is not positive definite. */
dgm_status dgm__gmm_mstep(dgm__gmm *g, dgm__gmm_work *w, const double *resp, const float *x,
                          size_t n, double reg_covar, dgm_err *err);
/* One EM fit of a single group (G = 1) to x (n x D); fills g's parameters and g->fit[0]. */
dgm_status dgm__gmm_em(dgm__gmm *g, dgm_rng *rng, const float *x, size_t n,
                       const dgm_mixture_cfg *cfg, int cls, dgm_err *err);


/* ---- Bernoulli mixture ------------------------------------------------------------- */

typedef struct dgm__bmm {
    size_t G, K, D;
    float *weights;       /* G x K */
    float *probs;         /* G x K x D: p(x_j = 1 | component) */
    /* derived by dgm__bmm_prepare */
    double *logit;        /* G x K x D: log p - log(1 - p) */
    double *log_norm;     /* G x K: log w + sum_j log(1 - p_j) */
    double *wd;           /* G x K */
    double *dist_p;       /* as_dist view when G = K = 1 */
    dgm__fit_info *fit;
    dgm__mix_opts opts;
} dgm__bmm;

dgm__bmm  *dgm__bmm_alloc(size_t G, size_t K, size_t D);
void       dgm__bmm_free(void *impl);
dgm_status dgm__bmm_prepare(dgm__bmm *b, const char *where, dgm_err *err);
/* out[i K + k] = log w_gk + log prod_j Bernoulli(x_rj; p_gkj), rows as for the GMM. */
void       dgm__bmm_log_joint(double *out, const dgm__bmm *b, size_t group, const float *x,
                              const size_t *rows, size_t n);
/* Wraps b in a model of type "bernoulli" (single) or "bernoulli-mixture". */
dgm_status dgm__bmm_model(dgm_model **out, dgm__bmm *b, int single,
                          const dgm_mixture_cfg *cfg, dgm_err *err);
dgm_status dgm__bmm_em(dgm__bmm *b, dgm_rng *rng, const float *x, size_t n,
                       const dgm_mixture_cfg *cfg, int cls, dgm_err *err);
/* dgm__mix_check plus min_prob in (0, 0.5) and x binary. */
dgm_status dgm__bmm_check(const float *x, size_t n, size_t d, size_t K, double min_prob,
                          const char *what, dgm_err *err);
/* p clamped to [lo, 1 - lo] and rounded to a float strictly inside (0, 1). */
float      dgm__clamp_prob(double p, double lo);
/* First (row, column) of x (n x D) that is not 0 or 1; returns 0 if all are binary. */
int        dgm__find_nonbinary(const float *x, size_t n, size_t D, size_t *row, size_t *col);

/* In place, for each row of the n x K log joint: resp = exp(l - logsumexp(l)), and the
 * row's log-likelihood into ll[i]. Returns the mean of ll (sum in row order, so the result
 * does not depend on the thread count). */
double dgm__em_normalize(double *logjoint, double *ll, size_t n, size_t K);
/* Sums over examples for an M-step: nk[k] = sum_i r_ik, s1 = sum_i r_ik (x_i - c_k) and,
 * when s2 is non-NULL, s2 = sum_i r_ik (x_i - c_k)^2 elementwise (K x D each; c is K x D,
 * or NULL for no shift with s2 NULL). Rows are split into at most 64 fixed chunks summed in
 * parallel and added in chunk order in double, so x is read once and the result does not
 * depend on the thread count; pairs with r_ik = 0 are skipped. */
dgm_status dgm__em_moments(double *nk, double *s1, double *s2, const double *resp,
                           const float *x, const float *c, size_t n, size_t K, size_t D,
                           dgm_err *err);
/* Initial responsibilities (n x K): one-hot from k-means (lloyd = 1) or k-means++ seeding
 * alone (lloyd = 0), or uniform random rows. */
dgm_status dgm__em_init_resp(double *resp, dgm_rng *rng, const float *x, size_t n, size_t D,
                             size_t K, dgm_mixture_init init, dgm_err *err);

/* What the EM driver needs of one mixture: mstep leaves the model ready to score (its
 * parameters from resp, n x K, then whatever scoring precomputes); joint writes log p(x_i,
 * k) (n x K); keep copies the current parameters aside as the best so far, and restore
 * brings them back ready to score. */
typedef struct dgm__em_ops {
    dgm_status (*mstep)(void *ctx, const double *resp, const float *x, size_t n, dgm_err *err);
    dgm_status (*joint)(void *ctx, double *out, const float *x, size_t n, dgm_err *err);
    void       (*keep)(void *ctx);
    dgm_status (*restore)(void *ctx, dgm_err *err);
} dgm__em_ops;
/* EM with cfg's n_init restarts (stream init of rng each), initialisation, tol and
 * max_iter; progress through cfg; the restart with the highest lower bound is restored and
 * a last E-step gives its log-likelihood. *fit gets the outcome. */
dgm_status dgm__em_run(const dgm__em_ops *ops, void *ctx, dgm_rng *rng, const float *x,
                       size_t n, size_t D, size_t K, const dgm_mixture_cfg *cfg, int cls,
                       dgm__fit_info *fit, dgm_err *err);

/* k-means (Lloyd's algorithm from k-means++ seeding, as sklearn.cluster.KMeans with
 * n_init=1): labels (n) and centers (K x D). max_iter 0 stops after the seeding. tol is
 * relative to the mean per-dimension variance of x, as in scikit-learn. */
dgm_status dgm__kmeans(dgm_rng *rng, int32_t *labels, float *centers, const float *x,
                       size_t n, size_t D, size_t K, int max_iter, double tol, int *n_iter,
                       dgm_err *err);

#endif
