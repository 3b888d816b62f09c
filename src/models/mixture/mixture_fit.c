/* The tractable baselines through the training driver: dgm_mixture_create makes an
 * unfitted model of a kind and configuration, and dgm_fit (a whole fit) prepares the rows
 * and fits it by EM or in closed form with dgm_tractable_fit, then becomes the result.
 * Preparation: 8-bit images are dequantised for the Gaussian models (x = (pixel + u)/256,
 * u ~ U[0,1), example i from its own stream of the preparation stream) unless
 * no_dequantize; grey levels are binarized for the Bernoulli models (one seeded draw per
 * pixel, or a threshold at 1/2); binary data pass as they are. Each EM iteration is
 * reported through the fit's callback (DGM_FIT_ITER). */
#include "models/mixture/tractable.h"
#include "par/par.h"

#include <stdlib.h>
#include <string.h>

typedef struct { dgm_tractable_kind kind; dgm_mixture_cfg cfg; } mix_spec;

static int is_binary(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] != 0.0f && x[i] != 1.0f)
            return 0;
    return 1;
}

/* The model-space copy of the first n rows: dequantised, binarized or copied. */
static float *prepare(const dgm_dataset *ds, size_t n, int bernoulli, int dequantize,
                      int threshold, const dgm_rng *rng)
{
    const size_t D = ds->d;
    float *x = dgm_malloc_array(n, D * sizeof(float));
    if (!x)
        return NULL;
    int binary = is_binary(ds->x, n * D);
    long nl = (long)n;
#pragma omp parallel for schedule(static)
    for (long il = 0; il < nl; il++) {
        dgm_rng er;
        dgm_rng_fork(&er, rng, (uint64_t)il);
        const float *src = ds->x + (size_t)il * D;
        float *dst = x + (size_t)il * D;
        if (bernoulli && !binary && threshold)
            for (size_t j = 0; j < D; j++)
                dst[j] = src[j] > 0.5f ? 1.0f : 0.0f;
        else if (bernoulli && !binary)
            dgm_data_binarize(&er, dst, src, D);
        else if (!bernoulli && dequantize && ds->is_8bit)
            dgm_data_dequantize(&er, dst, src, D);
        else
            memcpy(dst, src, D * sizeof(float));
    }
    return x;
}

static void on_em(void *ctx, int cls, int init, int iter, double ll)
{
    const dgm_fit_cfg *c = ctx;
    dgm_fit_progress p = {.event = DGM_FIT_ITER, .cls = cls, .init = init, .iter = iter,
                          .loglik = ll};
    if (c->progress)
        c->progress(c->progress_ctx, &p);
}

static dgm_status mix_whole_fit(dgm_model *m, const dgm_fit_data *d, const dgm_fit_cfg *c,
                                dgm_rng *prep, dgm_rng *fit, dgm_err *err)
{
    const mix_spec *sp = m->impl;
    const dgm_dataset *ds = d->data;
    const char *name = dgm_tractable_kind_name(sp->kind);
    int gaussian = sp->kind == DGM_TRACTABLE_GAUSSIAN || sp->kind == DGM_TRACTABLE_GMM;
    if (!ds || ds->kind != DGM_DATA_REAL || !ds->x)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: a %s model needs numeric data",
                        ds ? ds->source : "fit", name);
    size_t n = d->limit > 0 && d->limit < ds->n ? d->limit : ds->n, D = ds->d;
    if (sp->cfg.per_class && (!ds->y || ds->n_classes < 1))
        return dgm_errf(err, DGM_ERR_ARG, "%s: --per-class needs labels (give --labels)",
                        ds->source);
    for (size_t i = 0; !gaussian && i < n * D; i++) /* binarized as probabilities */
        if (!(ds->x[i] >= 0 && ds->x[i] <= 1))
            return dgm_errf(err, DGM_ERR_ARG, "%s: example %zu, dimension %zu is %g: a %s model "
                            "binarizes values in [0, 1]", ds->source, i / D, i % D,
                            (double)ds->x[i], name);
    float *x = prepare(ds, n, !gaussian, !sp->cfg.no_dequantize, sp->cfg.binarize_threshold,
                       prep);
    if (!x)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for %zu x %zu data", n, D);
    dgm_mixture_cfg cfg = sp->cfg;
    cfg.likelihood = !gaussian ? "binary"
                     : !cfg.no_dequantize && ds->is_8bit ? "dequantized" : "continuous";
    cfg.height = ds->height;
    cfg.width = ds->width;
    cfg.progress = on_em;
    cfg.progress_ctx = (void *)c;
    /* rank 0 writes (par.h) */
    dgm_status s = cfg.save_data && dgm__par_rank() == 0 ? dgm_npy_write(cfg.save_data, x, n, D, err)
                                                         : DGM_OK;
    s = dgm__par_agree(s, err);
    dgm_model *fitted = NULL;
    if (!s && (s = dgm_tractable_fit(&fitted, fit, sp->kind, x, cfg.per_class ? ds->y : NULL,
                                     n, D, cfg.per_class ? ds->n_classes : 0, &cfg, err))) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
        dgm_errf(err, s, "%s: %s", ds->source, msg);
    }
    dgm_free(x);
    if (!s)
        dgm__model_become(m, fitted);
    return s;
}

/* under MPI ranks, EM's E-steps are split over the ranks (tractable_em.c) */
static const dgm__fit_ops mix_fit_ops = {.kind = DGM__FIT_WHOLE, .fit = mix_whole_fit, .mpi = 1};
static const dgm__model_ops unfitted_ops[4] = {
#define UNFITTED(name) {.type = name, .log_prob = dgm__unfitted_log_prob, \
    .sample = dgm__unfitted_sample, .save = dgm__unfitted_save, .destroy = free, \
    .fit = &mix_fit_ops}
    UNFITTED("gaussian"), UNFITTED("gmm"), UNFITTED("bernoulli"), UNFITTED("bernoulli-mixture")
#undef UNFITTED
};

dgm_status dgm_mixture_create(dgm_model **out, dgm_tractable_kind kind,
                              const dgm_mixture_cfg *cfg, dgm_err *err)
{
    *out = NULL;
    if ((unsigned)kind > DGM_TRACTABLE_BERNOULLI_MIXTURE)
        return dgm_errf(err, DGM_ERR_ARG, "unknown tractable model kind %d", (int)kind);
    mix_spec *sp = malloc(sizeof *sp);
    if (!sp || !(*out = dgm__model_new(&unfitted_ops[kind], sp))) {
        free(sp);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    }
    sp->kind = kind;
    sp->cfg = *cfg;
    return DGM_OK;
}
