/* Private pieces of the MADE family shared by made.c (layout, masks, forward/backward,
 * log p, sampling, files) and made_fit.c (the training hooks). */
#ifndef DGM_MODELS_MADE_H
#define DGM_MODELS_MADE_H

#include "models/model.h"
#include "nn/masked.h"

#define MADE_MAX_LAYERS 9 /* 8 hidden layers and the output layer */
#define MADE_BLOCK 64     /* rows per block of the staircase products (nn/masked.h) */

/* The focus of a categorical model, for mutation effects (a copy of the alignment's). */
typedef struct {
    char     name[128];
    char    *residues;
    long     start;
    long    *pos;          /* L */
    uint8_t *wt;           /* L */
    double   neff, theta;  /* of the training alignment's weights */
    char     weights[16];  /* their rule: deepseq, plmc or none */
} made_focus;

typedef struct dgm__made {
    dgm_made_cfg cfg;
    size_t V;              /* variables: D (binary) or L (categorical) */
    size_t Ain, Aout;      /* input and output units per variable: 1, 1 or 20, 21 */
    size_t Din, Dout;      /* V Ain, V Aout */
    int    n_layers;       /* n_hidden + 1 */
    size_t dims[MADE_MAX_LAYERS + 1]; /* Din, hidden..., Dout */
    dgm_params *p;
    int    iW[MADE_MAX_LAYERS], ib[MADE_MAX_LAYERS];
    int    C, iC, iCo;     /* classes (0: none), "cond.weight" (H1 x C) into the first
                            * hidden layer and "cond_out.weight" (Dout x C) into the logits */
    float *condS;          /* C x H1: cond.weight's columns in ml[0]'s sorted output order */
    int32_t *order;        /* n_masks x V: the rank of variable v under mask k */
    int32_t *hdeg;         /* n_masks x sum(hidden): hidden-unit degrees, layer after layer */
    size_t sumH;
    /* the current mask's unit degrees (Din, hidden..., Dout, concatenated) and the masked
     * weights W . M of every layer, one buffer in the parameter layout of the weights */
    int32_t *deg;
    size_t   deg_off[MADE_MAX_LAYERS + 1];
    float   *Wm;
    size_t   wm_off[MADE_MAX_LAYERS];
    int      wm_mask;      /* the mask Wm holds, -1 when stale (after an update) */
    /* the staircase plans of the current mask (nn/masked.h), which the forward and
     * backward run on; the samplers read Wm */
    dgm__mlayer ml[MADE_MAX_LAYERS];
    int      plan_mask;    /* the mask ml's orders and prefixes are of, -1: none */
    int      cur_mask;     /* the mask whose weights ml holds, -1 when stale */
    /* scratch for batches up to cap rows */
    size_t   cap;
    float   *act[MADE_MAX_LAYERS + 1]; /* act[l] (cap x dims[l]) for l >= 1: after ReLU;
                                        * act[n_layers] the logits */
    float   *pre[MADE_MAX_LAYERS];    /* hidden pre-activations */
    float   *da, *dz;     /* cap x max width */
    float   *xs, *ys;     /* cap x Din, cap x Dout: inputs and logits in the plans' order */
    float   *dW;          /* max O x I */
    float   *cat;         /* threads x 2 V (categorical log-softmax scratch) */
    uint8_t *letters;     /* cap x V */
    int32_t *y;           /* cap labels (class-conditional models) */
    double  *ll;          /* cap */
    int      have_focus;
    made_focus focus;
} dgm__made;

#define MADE(m) ((dgm__made *)(m)->impl)

extern const dgm__model_ops dgm__made_ops;
extern const dgm__fit_ops dgm__made_fit_ops;

/* Scratch for batches of up to B rows (kept if already as large). */
dgm_status dgm__made_reserve(dgm__made *p, size_t B, dgm_err *err);
/* Makes ml the plans of mask k (recomputed when stale). */
void dgm__made_use_mask(dgm__made *p, int k);
/* The model's parameters moved (an optimizer step, a load): the plans and Wm are stale. */
void dgm__made_touched(dgm__made *p);
/* The letters (B x V) of one-hot rows x (B x 20 L; an all-zero row is the gap, 20).
 * DGM_ERR_ARG naming the row and column for a value other than 0 and 1 or two letters. */
dgm_status dgm__made_letters(uint8_t *out, const float *x, size_t B, size_t L, dgm_err *err);
/* log p_k(x_b | y_b) for the current mask into ll (B); with dscale != NULL also the
 * gradient of sum_b dscale[b] (-log p_k(x_b | y_b)) added into the parameter gradients.
 * x: B x Din in the data form (letters: B x V for categorical models, else NULL); y: B
 * labels of a class-conditional model, else NULL. */
void dgm__made_forward_backward(dgm__made *p, double *ll, const float *x, const uint8_t *letters,
                                const int32_t *y, const float *dscale, size_t B);

#endif
