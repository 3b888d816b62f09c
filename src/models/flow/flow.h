/* Private pieces of the flow family shared by realnvp.c (layout, the transforms, log p,
 * sampling, files) and flow_fit.c (the training hooks). */
#ifndef DGM_MODELS_FLOW_H
#define DGM_MODELS_FLOW_H

#include "models/model.h"
#include "nn/masked.h"

#define FLOW_MAX_COUPLINGS 64
#define FLOW_NL_MAX 5     /* 4 hidden layers and the output */
#define FLOW_BLOCK 64     /* rows per block of the conditioners' products (nn/masked.h) */

typedef struct dgm__flow {
    dgm_flow_cfg cfg;
    size_t D;
    dgm_params *p;
    dgm_mlp *net[FLOW_MAX_COUPLINGS];  /* conditioner k: D -> hidden -> 2D (raw s, t) */
    uint8_t *mask;                     /* K x D: b_k, 1 where coupling k passes y through */
    size_t cap;                        /* scratch rows */
    float *y[FLOW_MAX_COUPLINGS + 1];  /* cap x D: input of coupling k (y[K] = z) */
    float *xm[FLOW_MAX_COUPLINGS];     /* cap x D: y_k in conditioner k's plan order */
    float *s[FLOW_MAX_COUPLINGS];      /* cap x D: the log-scales, 0 where b_k = 1 */
    float *g, *gn, *gst, *gx;          /* cap x D, cap x D, cap x 2D, cap x D */
    double *ld;                        /* cap */
    /* The density and its gradient run the conditioners as masked layers (nn/masked.h):
     * inputs of degree 0 where b_k passes y through and 1 elsewhere, hidden units 0,
     * outputs (raw s, t) 1 where coupling k transforms and 0 where it ignores them, the
     * output layer strict. The plans then skip the zeros of b_k . y and the outputs the
     * coupling never reads: about half of each conditioner's products. The inverse runs
     * the same plans (the conditioner reads only what the coupling passes through). The
     * dgm_mlp nets hold the parameters' names and initialisation. */
    dgm__mlayer ml[FLOW_MAX_COUPLINGS][FLOW_NL_MAX];
    int iW[FLOW_MAX_COUPLINGS][FLOW_NL_MAX], ib[FLOW_MAX_COUPLINGS][FLOW_NL_MAX], nl;
    float *h[FLOW_MAX_COUPLINGS][FLOW_NL_MAX];  /* cap x width: pre-activations (hidden) */
    float *ha[FLOW_MAX_COUPLINGS][FLOW_NL_MAX]; /* after ReLU */
    float *ys, *da, *dz, *dW;          /* cap x 2D, cap x max width (2), max O x I */
    int stale;                         /* the plans' weights are older than the parameters */
    int C, iC[FLOW_MAX_COUPLINGS];     /* classes (0: none), "couplings.<k>.cond.weight" */
    float *cols;                       /* K x C x H1: those weights' columns in the plans'
                                        * order of the first hidden layer (nn/label.h) */
} dgm__flow;

#define FLOW(m) ((dgm__flow *)(m)->impl)

extern const dgm__model_ops dgm__flow_ops, dgm__maf_ops;
extern const dgm__fit_ops dgm__flow_fit_ops;

/* MAF (maf.c): the shell, the model around it (initialised from rng unless NULL), and
 * what flow_fit.c and realnvp.c's public functions need of it. */
typedef struct dgm__maf dgm__maf;
dgm_status   dgm__maf_new(dgm__maf **out, const dgm_flow_cfg *c, dgm_err *err);
dgm_model   *dgm__maf_model(dgm__maf *p, dgm_rng *rng);
void         dgm__maf_free(dgm__maf *p);
dgm_params  *dgm__maf_store(dgm__maf *p);
dgm_params  *dgm__maf_params(dgm_model *m);
const dgm_flow_cfg *dgm__maf_cfg(const dgm_model *m);
dgm_status   dgm__maf_reserve(dgm_model *m, size_t B, dgm_err *err);
void         dgm__maf_step(dgm_model *m, double *lp, const float *x, const int32_t *y,
                           const float *dscale, size_t B);
void         dgm__maf_updated(dgm_model *m); /* the weights moved: re-mask them */
/* rows per block of the staircase products (the bits depend on it; tests use small ones) */
void         dgm__maf_set_block(dgm_model *m, size_t rb);
void         dgm__maf_forward_backward(dgm__maf *p, double *lp, const float *x,
                                       const int32_t *y, const float *dscale, float *dx,
                                       size_t B);
dgm_status   dgm__maf_forward(dgm_model *m, float *z, double *logdet, const float *x,
                              const int32_t *y, size_t n, dgm_err *err);
dgm_status   dgm__maf_inverse(dgm_model *m, float *x, const float *z, const int32_t *y,
                              size_t n, dgm_err *err);
/* Shared by both flows' files: the parameters (with the optimizer moments in a checkpoint)
 * and the config fields. */
dgm_status   dgm__flow_save_params(const dgm_model *m, dgm_params *pp, const dgm_flow_cfg *c,
                                   const char *path, dgm_err *err);
void         dgm__flow_describe_cfg(const dgm_flow_cfg *c, cJSON *o);

dgm_status dgm__flow_reserve(dgm__flow *p, size_t B, dgm_err *err);
/* The parameters moved (an optimizer step, a test's perturbation): re-plan the weights. */
void dgm__flow_updated(dgm__flow *p);
/* rows per block of the conditioners' products (tests use small ones) */
void dgm__flow_set_block(dgm__flow *p, size_t rb);
/* The logit transform y = logit(u), u = alpha + (1 - 2 alpha) x, elementwise on B rows of
 * D, and ld[b] = sum_d log |dy/dx| = sum_d log(1 - 2 alpha) - log u - log(1 - u). */
void dgm__logit_forward(float *y, double *ld, const float *x, size_t B, size_t D, double alpha);
/* dx += dy dy/dx + dld[b] d ld/dx: dy/dx = (1 - 2a) / (u (1 - u)),
 * d ld / dx = (1 - 2a) (2u - 1) / (u (1 - u)). */
void dgm__logit_backward(float *dx, const float *dy, const double *dld, const float *x,
                         size_t B, size_t D, double alpha);
/* log p(x_b | y_b) into lp (B rows, x in the data space; y NULL without classes); with
 * dscale != NULL the gradient of sum_b dscale[b] (-log p(x_b | y_b)) added into the
 * parameter gradients and, when dx is not NULL, into dx (B x D). */
void dgm__flow_forward_backward(dgm__flow *p, double *lp, const float *x, const int32_t *y,
                                const float *dscale, float *dx, size_t B);

#endif
