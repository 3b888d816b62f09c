/* Internal layout of the VAE/CVAE shared by vae.c (construction, files), vae_forward.c
 * (the batched forward pass and the training gradient) and vae_infer.c (evaluation,
 * encoding, decoding, sampling). */
#ifndef DGM_MODELS_VAE_H
#define DGM_MODELS_VAE_H

#include "dgm_blocks.h"
#include "models/model.h"

typedef struct dgm__vae {
    dgm_vae_cfg cfg;
    dgm_params *p;
    dgm_mlp    *enc, *dec;
    int         dec_logvar;   /* tensor index of the learned per-dim log-variance (Gaussian)
                               * or log-scale (discretised logistic), or -1 */
    size_t      enc_in;       /* D + C */
    size_t      dec_in;       /* Z + C */
    size_t      dec_out;      /* D, or 2D when the decoder predicts a log-variance or log-scale */
    size_t      grad_w;       /* width of the output-gradient rows: D or 2D */
    /* scratch reserved for cap_B examples and cap_rows decoder rows (examples x samples) */
    size_t      cap_B, cap_rows;
    float      *enc_x;        /* cap_B x enc_in: [x, onehot(y)] for a CVAE */
    float      *dec_x;        /* cap_rows x dec_in: [z, onehot(y)] */
    float      *eps;          /* cap_rows x Z */
    float      *denc;         /* cap_B x 2Z */
    float      *ddec;         /* cap_rows x grad_w */
    float      *ddec_in;      /* cap_rows x dec_in */
    double     *ll;           /* cap_rows: log p(x|z) per row */
    /* precision of the decoder's products in inference (vae_infer.c); training, the
     * ELBO and the encoder always run in float32 */
    dgm_precision prec;
} dgm__vae;

#define VAE(m) ((dgm__vae *)(m)->impl)

/* Rows at most per decoder pass in inference: bounds memory whatever n and K are. */
#define DGM_VAE_MAX_ROWS 4096

dgm_status dgm__vae_reserve(dgm__vae *v, size_t B, size_t rows, dgm_err *err);

/* The batched forward pass: encoder on B examples, K reparameterised samples each
 * (noise from eps_in (B x K x Z) if given, else forked per example from rng, example i
 * using stream first + i), decoder on B*K rows, and log p(x|z) per row into v->ll.
 * With want_grad, v->ddec holds d(-log p(x|z))/d(decoder output) per row. Returns the
 * encoder output (B x 2Z: mu, logvar). */
/* The encoder on x (B rows) and K reparameterised latents per row into v->dec_x (noise
 * eps_in, or forked per example from rng at index first + i); returns the encoder output
 * (B x 2Z: mu, logvar). The first half of dgm__vae_forward. */
const float *dgm__vae_encode_z(dgm__vae *v, dgm_rng *rng, uint64_t first, const float *eps_in,
                               const float *x, const int32_t *y, size_t B, size_t K);
/* log p(x | decoder output row out) and, if g, d(-log p)/d(out) into g. */
double dgm__vae_row_loglik(const dgm__vae *v, const float *out, const float *x, float *g);
const float *dgm__vae_forward(dgm__vae *v, dgm_rng *rng, uint64_t first, const float *eps_in,
                              const float *x, const int32_t *y, size_t B, size_t K,
                              int want_grad);

/* The layout of cfg with its scratch and parameters (not initialised): dgm_vae_create
 * without the initialisation, and the micro-shard workers' model (vae_shard.c). */
dgm_status dgm__vae_build(dgm_model **out, const dgm_vae_cfg *cfg, dgm_err *err);
/* A worker of v: v's layout over v's own values and gradient, with scratch of its own for
 * B examples and rows decoder rows (training's micro-shards, vae_shard.c; inference's
 * chunks, vae_infer.c). Freed with dgm_model_free; v must outlive it. */
dgm_status dgm__vae_worker(dgm_model **out, const dgm__vae *v, size_t B, size_t rows,
                           dgm_err *err);

/* Per-shard sums of the training loss (vae_forward.c): [0] the reconstruction term, [1]
 * the IWAE loss, [2] the IWAE's KL, [3, 3 + Z) the ELBO's per-dimension KL, each already
 * divided by the whole batch's size. */
#define DGM__VAE_SUMS(Z) (3 + (Z))
/* One micro-shard's loss and gradient, added into v's parameter gradients: rows x[0..B)
 * (y for a CVAE) of a batch of 1/invB rows, noise eps (B x K x Z) or forked from rng for
 * row i at first + i; the ELBO's free-bits mask active (Z; NULL: from these rows alone);
 * the sums into sums (DGM__VAE_SUMS(Z)). Scratch reserved for B rows (B K decoder rows). */
void dgm__vae_shard_grad(dgm__vae *v, dgm_rng *rng, uint64_t first, const float *eps,
                         const float *x, const int32_t *y, size_t B, double invB,
                         const dgm_vae_step *obj, const int *active, double *sums);
/* The encoder alone on B rows: the per-dimension KL sums [3, 3 + Z) of sums (the rest 0),
 * for the free-bits mask of a sharded batch. */
void dgm__vae_shard_klbar(dgm__vae *v, const float *x, const int32_t *y, size_t B, double invB,
                          double *sums);
/* The loss, reconstruction and KL of the batch from its summed sums, and the free-bits
 * mask (active, Z entries, if not NULL). */
void dgm__vae_totals(dgm_vae_stats *st, int *active, const double *sums, size_t Z,
                     const dgm_vae_step *obj);

/* The driver hooks of vae_fit.c (minibatch training). */
extern const dgm__fit_ops dgm__vae_fit_ops;

#endif
