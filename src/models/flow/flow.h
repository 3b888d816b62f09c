/* Private pieces of the flow family shared by realnvp.c (layout, the transforms, log p,
 * sampling, files) and flow_fit.c (the training hooks). */
#ifndef DGM_MODELS_FLOW_H
#define DGM_MODELS_FLOW_H

#include "models/model.h"

#define FLOW_MAX_COUPLINGS 64

typedef struct dgm__flow {
    dgm_flow_cfg cfg;
    size_t D;
    dgm_params *p;
    dgm_mlp *net[FLOW_MAX_COUPLINGS];  /* conditioner k: D -> hidden -> 2D (raw s, t) */
    uint8_t *mask;                     /* K x D: b_k, 1 where coupling k passes y through */
    size_t cap;                        /* scratch rows */
    float *y[FLOW_MAX_COUPLINGS + 1];  /* cap x D: input of coupling k (y[K] = z) */
    float *xm[FLOW_MAX_COUPLINGS];     /* cap x D: b_k . y_k, the conditioner's input */
    float *s[FLOW_MAX_COUPLINGS];      /* cap x D: the log-scales, 0 where b_k = 1 */
    float *g, *gn, *gst, *gx;          /* cap x D, cap x D, cap x 2D, cap x D */
    double *ld;                        /* cap */
} dgm__flow;

#define FLOW(m) ((dgm__flow *)(m)->impl)

extern const dgm__model_ops dgm__flow_ops;
extern const dgm__fit_ops dgm__flow_fit_ops;

dgm_status dgm__flow_reserve(dgm__flow *p, size_t B, dgm_err *err);
/* The logit transform y = logit(u), u = alpha + (1 - 2 alpha) x, elementwise on B rows of
 * D, and ld[b] = sum_d log |dy/dx| = sum_d log(1 - 2 alpha) - log u - log(1 - u). */
void dgm__logit_forward(float *y, double *ld, const float *x, size_t B, size_t D, double alpha);
/* dx += dy dy/dx + dld[b] d ld/dx: dy/dx = (1 - 2a) / (u (1 - u)),
 * d ld / dx = (1 - 2a) (2u - 1) / (u (1 - u)). */
void dgm__logit_backward(float *dx, const float *dy, const double *dld, const float *x,
                         size_t B, size_t D, double alpha);
/* log p(x_b) into lp (B rows, x in the data space); with dscale != NULL the gradient of
 * sum_b dscale[b] (-log p(x_b)) added into the parameter gradients and, when dx is not
 * NULL, into dx (B x D). */
void dgm__flow_forward_backward(dgm__flow *p, double *lp, const float *x, const float *dscale,
                                float *dx, size_t B);

#endif
