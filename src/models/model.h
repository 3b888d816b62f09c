/* The model interface behind the opaque dgm_model: a table of operations per model type,
 * and the loader registry that turns a safetensors file into a model. Each model file
 * (vae.c, gmm.c, ...) fills a dgm__model_ops and registers its loader in model.c. */
#ifndef DGM_MODELS_MODEL_H
#define DGM_MODELS_MODEL_H

#include "dgm_blocks.h"

#include <cjson/cJSON.h>

struct dgm_dist; /* defined in dgm.h's dist section */
struct dgm_seqfocus;

typedef struct dgm__model_ops {
    const char *type; /* "vae", "gmm", ... as in the config's "model" field */
    dgm_status (*log_prob)(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                           const int32_t *y, size_t n, int k, dgm_err *err);
    dgm_status (*sample)(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y, size_t n,
                         int mean, dgm_err *err);
    dgm_status (*save)(const dgm_model *m, const char *path, dgm_err *err);
    void (*destroy)(void *impl);
    /* Adds model-specific fields to the describe() object (optional). */
    void (*describe)(const dgm_model *m, cJSON *obj);
    /* Optional: the model as a closed-form distribution (struct dgm_dist, defined in the
     * header's dist section) for closed-form KL. Pointers in *out stay owned by the model.
     * NULL, or DGM_ERR_UNSUPPORTED, when the model is not such a distribution. */
    dgm_status (*as_dist)(const dgm_model *m, struct dgm_dist *out, dgm_err *err);
    /* Optional: how dgm_fit trains the model (NULL: it is not trainable). */
    const struct dgm__fit_ops *fit;
    /* Optional: the focus of a protein-family model outside seq/ (dgm_model_seqfocus). */
    dgm_status (*seqfocus)(const dgm_model *m, struct dgm_seqfocus *f);
} dgm__model_ops;

/* ---- Training hooks: what a family gives the driver of src/train/ (dgm_fit). The
 * driver owns the loop (epochs, shuffling, streams, schedule, checkpoints, resume, the
 * stop flag, progress); the family owns its data preparation, step and validation. */
typedef enum { DGM__FIT_MINIBATCH = 1, DGM__FIT_SAMPLED, DGM__FIT_WHOLE } dgm__fit_kind;

typedef struct dgm__fit_stats { double loss, recon, kl; } dgm__fit_stats;

/* The rows a minibatch run trains and validates on (indices into data->data). */
typedef struct dgm__fit_rows {
    const size_t *train, *val;
    size_t n_train, n_val;
    int resumed;            /* continuing a saved run: the model's state is kept */
} dgm__fit_rows;

typedef struct dgm__fit_ops {
    dgm__fit_kind kind;
    /* MINIBATCH and SAMPLED: check the data against the model and make the run's scratch
     * (*state, released by end). rows is NULL for SAMPLED. */
    dgm_status (*begin)(void **state, dgm_model *m, const dgm_fit_data *d,
                        const dgm_fit_cfg *c, const dgm__fit_rows *rows, dgm_err *err);
    /* MINIBATCH: one optimizer step on rows idx[0..b) with the step's stream. */
    dgm_status (*step)(void *state, dgm_model *m, const size_t *idx, size_t b,
                       const dgm_rng *step_rng, const dgm_optim_cfg *opt, double kl_weight,
                       long t, dgm__fit_stats *st, dgm_err *err);
    /* SAMPLED: `steps` steps drawing from rng; *loss their mean loss. */
    dgm_status (*run)(void *state, dgm_model *m, dgm_rng *rng, long steps, double *loss,
                      dgm_err *err);
    /* Optional: the validation figure (NaN when there is nothing to validate on). */
    dgm_status (*validate)(void *state, dgm_model *m, double *val, dgm_err *err);
    void (*end)(void *state);
    /* Optional, MINIBATCH: makes m's training state whole on every rank before it is saved
     * (a step that updates each rank's segment leaves the optimizer moments in pieces).
     * Collective: every rank calls it alike. */
    void (*sync)(void *state, dgm_model *m);
    /* WHOLE: the fit itself, from the streams prep (data preparation) and fit; reports
     * EM iterations through c's callback as DGM_FIT_ITER. m becomes the fitted model. */
    dgm_status (*fit)(dgm_model *m, const dgm_fit_data *d, const dgm_fit_cfg *c,
                      dgm_rng *prep, dgm_rng *fit, dgm_err *err);
    /* 1: the family runs under MPI ranks with the one-process result (src/par/par.h);
     * dgm_fit refuses more than one rank otherwise. */
    int mpi;
} dgm__fit_ops;

/* A class-conditional model's shell: n_classes = C and a uniform log p(y) until a fit sets
 * the training frequencies or a file its own; DGM_ERR_NOMEM (m unchanged) when out of
 * memory. C = 0 does nothing. */
dgm_status dgm__model_set_classes(dgm_model *m, int C);
/* For a family's own entry points (dgm_made_log_prob_masks, dgm_flow_forward): a model of
 * C > 0 classes needs n labels y in 0..C-1 (what names it: "a conditional MADE"). */
dgm_status dgm__check_labels(int C, const int32_t *y, size_t n, const char *what,
                             dgm_err *err);
/* For a family's begin: a class-conditional m (what: "a cvae", "a conditional MADE")
 * needs labels in ds, none above its classes; a model without classes takes any data. */
dgm_status dgm__fit_check_labels(const dgm_model *m, const dgm_dataset *ds, const char *what,
                                 dgm_err *err);
/* m's log p(y) from the training rows' label frequencies; every class must occur. */
dgm_status dgm__fit_class_prior(dgm_model *m, const dgm_dataset *ds, const dgm__fit_rows *rows,
                                dgm_err *err);

/* The operations of a model made by a *_create for a whole fit, before dgm_fit: it has no
 * parameters to evaluate, sample or save yet, and says so. */
dgm_status dgm__unfitted_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                                  const int32_t *y, size_t n, int k, dgm_err *err);
dgm_status dgm__unfitted_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y,
                                size_t n, int mean, dgm_err *err);
dgm_status dgm__unfitted_save(const dgm_model *m, const char *path, dgm_err *err);

/* Moves the fitted model src into the shell dst (whose impl is destroyed) and frees src's
 * husk: a whole fit's way of becoming its result. */
void dgm__model_become(dgm_model *dst, dgm_model *src);

struct dgm_model {
    const dgm__model_ops *ops;
    void   *impl;
    size_t  dim;          /* D */
    int     n_classes;    /* > 0 for class-conditional models */
    int     exact;        /* log_prob is exact */
    char    likelihood[16];
    size_t  n_params;
    size_t  height, width; /* image geometry of the training data, 0 if none */
    double *log_prior;    /* n_classes entries: log p(y) from training label frequencies */
    char   *train_state;  /* JSON text kept in the file's "dgm.train_state", or NULL */
    int     keep_optimizer; /* checkpoints hold the optimizer moments too (for --resume) */
    int     saving_checkpoint; /* set during dgm_model_save_checkpoint: save the state */
};

/* Allocates the shell of a model; the caller fills impl and the fields. */
dgm_model *dgm__model_new(const dgm__model_ops *ops, void *impl);

/* Builds a model from an opened safetensors file and its parsed "dgm.config". */
typedef dgm_status (*dgm__model_loader)(dgm_model **out, const dgm_st_file *f,
                                        const cJSON *config, const char *path, dgm_err *err);

/* Writes tensors plus the common metadata: "format": "pt", "dgm.version", "dgm.config"
 * (config serialised, with the common fields dim/n_classes/likelihood/height/width/
 * log_prior added), and "dgm.train_state": train_state if non-NULL, else m->train_state
 * if set. */
dgm_status dgm__model_write(const dgm_model *m, const char *path, const dgm_st_tensor *t,
                            size_t n, cJSON *config, const cJSON *train_state, dgm_err *err);
/* Reads the common fields written by dgm__model_write back into m. */
dgm_status dgm__model_read_common(dgm_model *m, const cJSON *config, const char *path,
                                  dgm_err *err);
/* For a loader sizing its parts: the common fields into the scratch tmp (zeroed first),
 * keeping nothing allocated (tmp->log_prior stays NULL). */
dgm_status dgm__model_peek_common(dgm_model *tmp, const cJSON *config, const char *path,
                                  dgm_err *err);
/* A loader's last step: m's common fields from config, then *out = m; m is freed on error. */
dgm_status dgm__model_finish_load(dgm_model **out, dgm_model *m, const cJSON *config,
                                  const char *path, dgm_err *err);

/* Convenience for loaders: tensor `name` must exist with exactly `numel` floats. */
/* Values in all of f's tensors: what a config's parameter count can be checked against
 * before anything of that size is allocated. */
size_t dgm__st_total(const dgm_st_file *f);
const float *dgm__st_expect(const dgm_st_file *f, const char *name, size_t numel,
                            const char *path, dgm_err *err);

/* Loaders, one per model file. */
dgm_status dgm__vae_load(dgm_model **out, const dgm_st_file *f, const cJSON *config,
                         const char *path, dgm_err *err);
dgm_status dgm__gmm_load(dgm_model **out, const dgm_st_file *f, const cJSON *config,
                         const char *path, dgm_err *err);  /* gaussian, gmm */
dgm_status dgm__bernoulli_load(dgm_model **out, const dgm_st_file *f, const cJSON *config,
                               const char *path, dgm_err *err); /* bernoulli, bernoulli-mixture */
dgm_status dgm__indep_load(dgm_model **, const dgm_st_file *, const cJSON *, const char *, dgm_err *), dgm__seqvae_load(dgm_model **, const dgm_st_file *, const cJSON *, const char *, dgm_err *);
dgm_status dgm__potts_load(dgm_model **, const dgm_st_file *, const cJSON *, const char *, dgm_err *);
dgm_status dgm__made_load(dgm_model **, const dgm_st_file *, const cJSON *, const char *, dgm_err *);
dgm_status dgm__flow_load(dgm_model **, const dgm_st_file *, const cJSON *, const char *, dgm_err *);

#endif
