/* Internals of the sequence VAE ("seqvae") shared by seqvae.c (construction, files),
 * seqvae_net.c (forward and backward pieces), seqvae_train.c and seqvae_score.c. */
#ifndef DGM_MODELS_SEQVAE_H
#define DGM_MODELS_SEQVAE_H

#include "models/seq/seqfamily.h"
#include "core/fastmath.h"

#include <math.h>
#include <string.h>

typedef struct dgm__seqvae_pool dgm__seqvae_pool;

typedef struct dgm__seqvae {
    dgm__seqinfo   si;       /* first member: dgm__seqinfo_of relies on it */
    dgm_seqvae_cfg cfg;
    size_t L, D, H1, Z, Hl, K, Hp; /* Hl: last decoder hidden size; Hp = Hl / P */
    dgm_params *p;           /* trained tensors, their gradients and Adam moments */
    int   i_bag, i_bag_b;    /* encoder.embed.weight (D x H1, row per (l, a)), .bias */
    dgm_mlp *enc;            /* in p: H1 -> ... -> 2Z (mu, log-variance) */
    dgm_mlp *dec;            /* Z -> ... -> Hl; in p (PLAIN) or in ps (BAYES) */
    int   i_out_w, i_out_b;  /* PLAIN: decoder.<2n>.weight (D x Hl) / bias; BAYES: W_out
                                (L*K x Hl) and the bias (D), in ps */
    /* BAYES */
    dgm_params *ps;          /* one draw of every decoder tensor */
    int   i_dict, i_scale, i_temp; /* in ps: dictionary (20 x K), S (Hp x L), T (1) */
    int  *mu_idx, *ls_idx;   /* per ps tensor: its _mu and _log_sigma in p */
    float *eps_w;            /* noise of the current draw, ps layout */
    float *weff, *wun;       /* D x Hl: output weights with and without the scale */
    float *gw;               /* D x Hl: dlogits^T h, the output weights' raw gradient */
    float *sig;              /* BAYES: L x Hl, sigmoid(S[h mod Hp, l]) of the current draw */
    float *sacc;             /* BAYES: L x Hl scratch of the scale's gradient */
    float *csum;             /* D: column sums of dlogits */
    float *lse;              /* cap x 2L: per-position max and log-sum-exp of the logits */
    const float *hdec;       /* R x Hl: the decoder MLP's output of the last decode */
    float  tau;              /* softplus(T) of the current draw */
    long   step;
    size_t micro;            /* rows per micro-shard of the last training (0: not trained
                              * here, or an older file); saved as the config's micro_batch */
    /* scratch for up to cap rows */
    size_t cap;
    float *h1pre, *h1, *dh1, *denc, *eps, *z, *dz, *logits, *dh;
    double *ll, *klz;
    uint8_t *xb;             /* cap x L letters of the current rows */
    unsigned char *touched;  /* D flags: bag rows with a gradient this step */
    size_t *rows;            /* their list */
    size_t n_rows;
    /* mutation effects with bf16 output products (dgm_seqvae_set_precision): the output
     * weights (D x Hl) and one pass's decoder activations (cap x Hl) in bf16 */
    dgm_precision prec;
    uint16_t *w16, *h16;
    /* training over micro-shards (seqvae_shard.c), built by the first step that needs it */
    dgm__seqvae_pool *pool;
    int worker;              /* a pool's worker: p, ps, weff, wun, sig belong to the model */
} dgm__seqvae;

#define SEQVAE(m) ((dgm__seqvae *)(m)->impl)

dgm_status dgm__seqvae_reserve(dgm__seqvae *v, size_t rows, dgm_err *err);
/* A worker of model v for shards of up to rows rows: v's layout with scratch of its own,
 * reading v's values (and, BAYES, v's current draw); its gradients go to grad, laid out as
 * p's encoder prefix [0, dgm__seqvae_grad_split(v)) and then (BAYES) ps's gradient; for
 * PLAIN the prefix is all of p. dgm__seqvae_worker_free frees what is its own. */
dgm_status dgm__seqvae_worker_create(dgm__seqvae **out, const dgm__seqvae *v, size_t rows,
                                     float *grad, dgm_err *err);
void dgm__seqvae_worker_free(dgm__seqvae *w);
size_t dgm__seqvae_grad_split(const dgm__seqvae *v);

/* ---- seqvae_net.c */
/* Encoder on R rows of letters x: fills v->h1pre/h1 and returns the MLP output (R x 2Z). */
const float *dgm__seqvae_encode(dgm__seqvae *v, const uint8_t *x, size_t R);
/* BAYES: draws every decoder tensor (mean only if rng is NULL) and builds weff/wun/tau. */
void dgm__seqvae_draw(dgm__seqvae *v, dgm_rng *rng);
/* Decoder on z (R x Z): v->logits (R x D) from the current decoder weights. */
void dgm__seqvae_decode(dgm__seqvae *v, const float *z, size_t R);
/* ll[r] = log p(x_r | z_r) from v->logits; with dscale != 0 the logits are overwritten by
 * dscale * d(-ll)/dlogits (softmax minus one-hot, zero at gaps). */
void dgm__seqvae_loglik(dgm__seqvae *v, double *ll, const uint8_t *x, size_t R, float dscale);
/* Backward of the decoder from dlogits (in v->logits) into dz (R x Z, added). */
void dgm__seqvae_decode_backward(dgm__seqvae *v, float *dz, size_t R);
/* Marks the bag rows of the letters of rows x (R x L) in v->touched / v->rows; untouch
 * clears the list. */
void dgm__seqvae_touch(dgm__seqvae *v, const uint8_t *x, size_t R);
void dgm__seqvae_untouch(dgm__seqvae *v);
/* Backward of the encoder from denc (R x 2Z, overwritten) for rows x. */
void dgm__seqvae_encode_backward(dgm__seqvae *v, float *denc, const uint8_t *x, size_t R);
/* Regulariser of the decoder: its value (per sequence, i.e. divided by Neff) with its
 * gradient added into p's gradient (BAYES: also the draw's gradient chained to mu and
 * log-sigma). */
double dgm__seqvae_regularise(dgm__seqvae *v);

/* ---- seqvae_train.c */
/* The minibatch objective for rows x (B x L) with latent noise eps (B x Z) and, for BAYES,
 * the current draw, on the whole batch at once; its gradient is added into p's gradient,
 * which must be zero on entry (dgm__seqvae_clear_grad). Used by the gradient checks, and
 * as the reference of the sharded step (dgm__seqvae_pool_grad). */
double dgm__seqvae_objective(dgm__seqvae *v, const uint8_t *x, size_t B, const float *eps);
/* The data term of R rows of a batch of B: returns the sum over the rows of
 * KL(q(z|x) || p(z)) - log p(x|z) and adds the gradient of that sum / B into p's gradient
 * (and, BAYES, ps's: the caller zeroes it). */
double dgm__seqvae_data_term(dgm__seqvae *v, const uint8_t *x, size_t R, const float *eps,
                             size_t B);
void   dgm__seqvae_clear_grad(dgm__seqvae *v);
/* The scratch and micro-shard pool for training at the batch size and micro-shard size
 * (par.h) of now, built again when either changed; refused with more ranks than shards.
 * Collective: every rank calls it alike, and a failure on any stops all. */
dgm_status dgm__seqvae_prepare(dgm__seqvae *v, dgm_err *err);

/* ---- seqvae_shard.c: the objective's gradient over micro-shards (src/par/par.h), the
 * same bits at any thread and rank count */
/* Workers and buffers for batches of up to B rows in shards of S rows. */
dgm_status dgm__seqvae_pool_create(dgm__seqvae_pool **out, dgm__seqvae *v, size_t B, size_t S,
                                   dgm_err *err);
void dgm__seqvae_pool_free(dgm__seqvae_pool *p);
/* 1 when p was built for batches of B in shards of S. */
int dgm__seqvae_pool_fits(const dgm__seqvae_pool *p, size_t B, size_t S);
/* dgm__seqvae_objective's value and gradient, the data term summed over shards in the
 * fixed tree and the regulariser added once; this rank computes its shards, every rank
 * ends with the whole gradient and the touched bag rows of all of x. Same preconditions
 * (p's gradient zero, no touched rows). */
dgm_status dgm__seqvae_pool_grad(dgm__seqvae_pool *p, dgm__seqvae *v, const uint8_t *x,
                                 size_t B, const float *eps, double *obj, dgm_err *err);

/* The driver hooks of seqvae_fit.c (sampled steps). */
extern const dgm__fit_ops dgm__seqvae_fit_ops;

#endif
