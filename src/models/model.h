/* The model interface behind the opaque dgm_model: a table of operations per model type,
 * and the loader registry that turns a safetensors file into a model. Each model file
 * (vae.c, gmm.c, ...) fills a dgm__model_ops and registers its loader in model.c. */
#ifndef DGM_MODELS_MODEL_H
#define DGM_MODELS_MODEL_H

#include "dgm_blocks.h"

#include <cjson/cJSON.h>

struct dgm_dist; /* defined in dgm.h's dist section */

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
} dgm__model_ops;

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
    int     keep_optimizer; /* save optimizer moments too (for --resume) */
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

#endif
