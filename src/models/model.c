/* Common model plumbing: dispatch through the ops table, the loader registry keyed by the
 * config's "model" field, and the metadata every model file carries. */
#include "models/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One line per model type; a new model adds its loader here. */
static const struct { const char *type; dgm__model_loader load; } loaders[] = {
    {"vae", dgm__vae_load},
    {"cvae", dgm__vae_load},
    {"gaussian", dgm__gmm_load},
    {"gmm", dgm__gmm_load},
    {"bernoulli", dgm__bernoulli_load},
    {"bernoulli-mixture", dgm__bernoulli_load},
    {"independent", dgm__indep_load}, {"seqvae", dgm__seqvae_load},
    {"potts", dgm__potts_load},
    {"made", dgm__made_load},
    {"realnvp", dgm__flow_load},
    {"maf", dgm__flow_load},
};

dgm_model *dgm__model_new(const dgm__model_ops *ops, void *impl)
{
    dgm_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->ops = ops;
    m->impl = impl;
    return m;
}

dgm_status dgm__unfitted_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                                  const int32_t *y, size_t n, int k, dgm_err *err)
{
    (void)rng, (void)out, (void)x, (void)y, (void)n, (void)k;
    return dgm_errf(err, DGM_ERR_ARG, "the %s model is not fitted yet (dgm_fit)", m->ops->type);
}

dgm_status dgm__unfitted_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y,
                                size_t n, int mean, dgm_err *err)
{
    (void)rng, (void)out, (void)y, (void)n, (void)mean;
    return dgm_errf(err, DGM_ERR_ARG, "the %s model is not fitted yet (dgm_fit)", m->ops->type);
}

dgm_status dgm__unfitted_save(const dgm_model *m, const char *path, dgm_err *err)
{
    return dgm_errf(err, DGM_ERR_ARG, "%s: the %s model is not fitted yet (dgm_fit)", path,
                    m->ops->type);
}

void dgm__model_become(dgm_model *dst, dgm_model *src)
{
    if (dst->ops && dst->ops->destroy)
        dst->ops->destroy(dst->impl);
    free(dst->log_prior);
    free(dst->train_state);
    *dst = *src;
    free(src);
}

void dgm_model_free(dgm_model *m)
{
    if (!m)
        return;
    if (m->ops && m->ops->destroy)
        m->ops->destroy(m->impl);
    free(m->log_prior);
    free(m->train_state);
    free(m);
}

dgm_status dgm_model_set_train_state(dgm_model *m, const char *json, dgm_err *err)
{
    char *s = NULL;
    if (json && !(s = strdup(json)))
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    free(m->train_state);
    m->train_state = s;
    return DGM_OK;
}

const char *dgm_model_train_state(const dgm_model *m) { return m->train_state; }

/* A class prior must be a distribution: every log p(y) finite (JSON cannot hold an infinity,
 * so a model with one would save and not load back; fuzz_model found one read from 1e999)
 * and the probabilities summing to 1, else log p(x) = logsumexp_y log p(x|y) + log p(y) is
 * off by the missing mass. Writes what is wrong into why and returns 0 when invalid. */
static int prior_ok(const double *lp, int n, char *why, size_t cap)
{
    double mx = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (!isfinite(lp[i])) {
            snprintf(why, cap, "log_prior[%d] is not a finite number", i);
            return 0;
        }
        mx = lp[i] > mx ? lp[i] : mx;
    }
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += exp(lp[i] - mx);
    double lse = mx + log(sum);
    if (n > 0 && !(fabs(lse) <= 1e-6)) {
        snprintf(why, cap, "log_prior sums to probability %.9g, not 1", exp(lse));
        return 0;
    }
    return 1;
}

dgm_status dgm_model_set_log_prior(dgm_model *m, const double *log_prior, dgm_err *err)
{
    if (m->n_classes <= 0)
        return dgm_errf(err, DGM_ERR_ARG, "a %s model without classes has no class prior",
                        m->ops->type);
    char why[96];
    if (!prior_ok(log_prior, m->n_classes, why, sizeof why))
        return dgm_errf(err, DGM_ERR_ARG, "class prior: %s", why);
    double *lp = malloc((size_t)m->n_classes * sizeof(double));
    if (!lp)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    memcpy(lp, log_prior, (size_t)m->n_classes * sizeof(double));
    free(m->log_prior);
    m->log_prior = lp;
    return DGM_OK;
}

const double *dgm_model_log_prior(const dgm_model *m) { return m->log_prior; }
void dgm_model_keep_optimizer(dgm_model *m, int keep) { m->keep_optimizer = keep; }

const char *dgm_model_type(const dgm_model *m) { return m->ops->type; }
size_t dgm_model_dim(const dgm_model *m) { return m->dim; }
int dgm_model_n_classes(const dgm_model *m) { return m->n_classes; }
int dgm_model_exact(const dgm_model *m) { return m->exact; }
const char *dgm_model_likelihood(const dgm_model *m) { return m->likelihood; }
size_t dgm_model_n_params(const dgm_model *m) { return m->n_params; }

dgm_status dgm_model_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                              const int32_t *y, size_t n, int k, dgm_err *err)
{
    char what[48];
    snprintf(what, sizeof what, "a %s model", m->ops->type);
    dgm_status s = dgm__check_labels(m->n_classes, y, n, what, err);
    return s ? s : m->ops->log_prob(m, rng, out, x, y, n, k, err);
}

dgm_status dgm_model_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y,
                            size_t n, int mean, dgm_err *err)
{
    if (m->n_classes > 0) {
        if (!y)
            return dgm_errf(err, DGM_ERR_ARG, "a %s model is class-conditional: labels are needed",
                            m->ops->type);
        for (size_t i = 0; i < n; i++)
            if (y[i] < 0 || y[i] >= m->n_classes)
                return dgm_errf(err, DGM_ERR_ARG, "label %d is outside 0..%d", (int)y[i],
                                m->n_classes - 1);
    }
    dgm_status s = m->ops->sample(m, rng, out, y, n, mean, err);
    /* finite weights can still overflow (a damaged or diverged file with weights near
     * FLT_MAX gives inf - inf in a decoder): a caller gets an error, never NaN samples
     * (fuzz_model, reproducers in fuzz/corpus/model) */
    if (!s && !dgm_all_finite(out, n * m->dim))
        s = dgm_errf(err, DGM_ERR_NAN, "%s model: sampling gave non-finite values (weights "
                     "too large: a damaged or diverged model)", m->ops->type);
    return s;
}

dgm_status dgm_model_save(const dgm_model *m, const char *path, dgm_err *err)
{
    return m->ops->save(m, path, err);
}

dgm_status dgm_model_save_checkpoint(dgm_model *m, const char *path, dgm_err *err)
{
    m->saving_checkpoint = 1;
    dgm_status s = m->ops->save(m, path, err);
    m->saving_checkpoint = 0;
    return s;
}

int dgm_checkpoint_path(char *out, size_t cap, const char *model_path)
{
    const char *ext = ".safetensors";
    size_t n = strlen(model_path), e = strlen(ext);
    if (n > e && !strcmp(model_path + n - e, ext))
        n -= e;
    int w = snprintf(out, cap, "%.*s.ckpt%s", (int)n, model_path, ext);
    return w < 0 || (size_t)w >= cap ? -1 : 0;
}

char *dgm_model_describe(const dgm_model *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", m->ops->type);
    cJSON_AddNumberToObject(o, "dim", (double)m->dim);
    cJSON_AddNumberToObject(o, "n_params", (double)m->n_params);
    cJSON_AddStringToObject(o, "likelihood", m->likelihood);
    cJSON_AddBoolToObject(o, "exact_likelihood", m->exact);
    cJSON_AddNumberToObject(o, "n_classes", m->n_classes);
    if (m->height)
        cJSON_AddNumberToObject(o, "height", (double)m->height),
        cJSON_AddNumberToObject(o, "width", (double)m->width);
    if (m->ops->describe)
        m->ops->describe(m, o);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

dgm_status dgm__model_write(const dgm_model *m, const char *path, const dgm_st_tensor *t,
                            size_t n, cJSON *config, const cJSON *train_state, dgm_err *err)
{
    cJSON_DeleteItemFromObject(config, "model");
    cJSON_AddStringToObject(config, "model", m->ops->type);
    cJSON_AddNumberToObject(config, "dim", (double)m->dim);
    cJSON_AddNumberToObject(config, "n_classes", m->n_classes);
    cJSON_AddStringToObject(config, "likelihood", m->likelihood);
    cJSON_AddNumberToObject(config, "height", (double)m->height);
    cJSON_AddNumberToObject(config, "width", (double)m->width);
    if (m->n_classes > 0 && m->log_prior)
        cJSON_AddItemToObject(config, "log_prior",
                              cJSON_CreateDoubleArray(m->log_prior, m->n_classes));
    char *cfg = cJSON_PrintUnformatted(config);
    /* the training state goes in checkpoints only (dgm_model_save_checkpoint) */
    const char *own = m->saving_checkpoint ? m->train_state : NULL;
    char *st = train_state ? cJSON_PrintUnformatted(train_state) : own ? strdup(own) : NULL;
    if (!cfg || ((train_state || own) && !st)) {
        free(cfg);
        free(st);
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory serialising metadata", path);
    }
    const char *kv[8] = {"format", "pt", "dgm.version", DGM_VERSION, "dgm.config", cfg,
                         "dgm.train_state", st};
    dgm_status s = dgm_safetensors_write(path, t, n, kv, st ? 4 : 3, err);
    free(cfg);
    free(st);
    return s;
}

static int get_size(const cJSON *c, const char *key, size_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e12)
        return 0;
    *out = (size_t)v->valuedouble;
    return 1;
}

dgm_status dgm__model_read_common(dgm_model *m, const cJSON *config, const char *path,
                                  dgm_err *err)
{
    size_t nc = 0, shaped = m->dim;
    const cJSON *lik = cJSON_GetObjectItemCaseSensitive(config, "likelihood");
    if (!get_size(config, "dim", &m->dim) || m->dim == 0 || !get_size(config, "n_classes", &nc) ||
        nc > 100000 || !cJSON_IsString(lik))
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged model: dim, n_classes or likelihood missing",
                        path);
    /* a family that sized itself from its tensors has set dim already; callers size their
     * buffers by dgm_model_dim, so a config that says otherwise is damage, not a choice
     * (fuzz_model: an independent model with dim 3 sampled L x 20 values into 3) */
    if (shaped && m->dim != shaped)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged model: config dim %zu, but its tensors "
                        "describe dim %zu", path, m->dim, shaped);
    m->n_classes = (int)nc;
    snprintf(m->likelihood, sizeof m->likelihood, "%s", lik->valuestring);
    get_size(config, "height", &m->height);
    get_size(config, "width", &m->width);
    if (m->height * m->width != m->dim)
        m->height = m->width = 0;
    if (nc > 0) {
        const cJSON *lp = cJSON_GetObjectItemCaseSensitive(config, "log_prior");
        if (!cJSON_IsArray(lp) || cJSON_GetArraySize(lp) != (int)nc)
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged model: log_prior missing", path);
        free(m->log_prior); /* a family's placeholder (a uniform prior) gives way to the file's */
        m->log_prior = malloc(nc * sizeof(double));
        if (!m->log_prior)
            return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
        for (size_t i = 0; i < nc; i++) {
            const cJSON *v = cJSON_GetArrayItem(lp, (int)i);
            if (!cJSON_IsNumber(v))
                return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged model: log_prior[%zu]", path, i);
            m->log_prior[i] = v->valuedouble;
        }
        char why[96];
        if (!prior_ok(m->log_prior, (int)nc, why, sizeof why))
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged model: %s", path, why);
    }
    return DGM_OK;
}

dgm_status dgm__model_peek_common(dgm_model *tmp, const cJSON *config, const char *path,
                                  dgm_err *err)
{
    memset(tmp, 0, sizeof *tmp);
    dgm_status s = dgm__model_read_common(tmp, config, path, err);
    free(tmp->log_prior);
    tmp->log_prior = NULL;
    return s;
}

dgm_status dgm__model_finish_load(dgm_model **out, dgm_model *m, const cJSON *config,
                                  const char *path, dgm_err *err)
{
    dgm_status s = dgm__model_read_common(m, config, path, err);
    if (s) {
        dgm_model_free(m);
        return s;
    }
    *out = m;
    return DGM_OK;
}

size_t dgm__st_total(const dgm_st_file *f)
{
    size_t total = 0;
    for (size_t i = 0; i < dgm_st_count(f); i++) {
        const dgm_st_tensor *t = dgm_st_get(f, i);
        size_t n = 1;
        for (int k = 0; k < t->ndim; k++)
            n *= t->shape[k]; /* the reader checked that every tensor fits in the file */
        total += n;
    }
    return total;
}

const float *dgm__st_expect(const dgm_st_file *f, const char *name, size_t numel,
                            const char *path, dgm_err *err)
{
    const dgm_st_tensor *t = dgm_st_find(f, name);
    if (!t) {
        dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged model: tensor '%s' is missing", path, name);
        return NULL;
    }
    size_t got = 1;
    for (int i = 0; i < t->ndim; i++)
        got *= t->shape[i];
    if (got != numel) {
        dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged model: tensor '%s' has %zu values, expected %zu",
                 path, name, got, numel);
        return NULL;
    }
    return t->data;
}

dgm_status dgm_model_load(dgm_model **out, const char *path, dgm_err *err)
{
    *out = NULL;
    dgm_st_file *f;
    dgm_status s = dgm_safetensors_read(&f, path, err);
    if (s)
        return s;
    const char *cfg = dgm_st_meta(f, "dgm.config");
    if (!cfg) {
        dgm_safetensors_free(f);
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: not a dgm model (no dgm.config metadata)", path);
    }
    cJSON *config = cJSON_Parse(cfg);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(config, "model");
    if (!config || !cJSON_IsString(type)) {
        cJSON_Delete(config);
        dgm_safetensors_free(f);
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged model: dgm.config is not valid JSON "
                        "with a \"model\" field", path);
    }
    s = dgm_errf(err, DGM_ERR_UNSUPPORTED, "%s: unknown model type '%s'", path, type->valuestring);
    for (size_t i = 0; i < sizeof loaders / sizeof loaders[0]; i++)
        if (!strcmp(loaders[i].type, type->valuestring)) {
            s = loaders[i].load(out, f, config, path, err);
            if (s && err && !strstr(err->msg, path)) { /* a shape check deep in a family */
                char why[sizeof err->msg];
                snprintf(why, sizeof why, "%s", err->msg);
                dgm_errf(err, s, "%s: damaged model: %s", path, why);
            }
            const char *st = dgm_st_meta(f, "dgm.train_state");
            if (!s && st)
                s = dgm_model_set_train_state(*out, st, err);
            if (s) {
                dgm_model_free(*out);
                *out = NULL;
            }
            break;
        }
    cJSON_Delete(config);
    dgm_safetensors_free(f);
    return s;
}

// ------------------------------------------------------------ labels of a fit ---

dgm_status dgm__model_set_classes(dgm_model *m, int C)
{
    if (C <= 0)
        return DGM_OK;
    double *lp = malloc((size_t)C * sizeof *lp);
    if (!lp)
        return DGM_ERR_NOMEM;
    for (int c = 0; c < C; c++)
        lp[c] = -log((double)C);
    free(m->log_prior);
    m->log_prior = lp;
    m->n_classes = C;
    return DGM_OK;
}

dgm_status dgm__check_labels(int C, const int32_t *y, size_t n, const char *what,
                             dgm_err *err)
{
    if (C <= 0)
        return DGM_OK;
    if (!y)
        return dgm_errf(err, DGM_ERR_ARG, "%s is class-conditional: labels are needed", what);
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= C)
            return dgm_errf(err, DGM_ERR_ARG, "label %d of example %zu is outside 0..%d",
                            (int)y[i], i + 1, C - 1);
    return DGM_OK;
}

dgm_status dgm__fit_check_labels(const dgm_model *m, const dgm_dataset *ds, const char *what,
                                 dgm_err *err)
{
    if (m->n_classes <= 0)
        return DGM_OK;
    if (!ds->y || ds->n_classes < 1)
        return dgm_errf(err, DGM_ERR_ARG, "%s: %s needs labels (give --labels)", ds->source,
                        what);
    if (ds->n_classes > m->n_classes)
        return dgm_errf(err, DGM_ERR_ARG, "%s: labels go up to %d but the model has %d classes",
                        ds->source, ds->n_classes - 1, m->n_classes);
    return DGM_OK;
}

dgm_status dgm__fit_class_prior(dgm_model *m, const dgm_dataset *ds, const dgm__fit_rows *rows,
                                dgm_err *err)
{
    int C = m->n_classes;
    double *lp = calloc((size_t)C, sizeof(double));
    if (!lp)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < rows->n_train; i++)
        lp[ds->y[rows->train[i]]] += 1.0;
    for (int k = 0; k < C; k++) {
        if (lp[k] == 0) {
            free(lp);
            return dgm_errf(err, DGM_ERR_ARG, "%s: class %d has no training examples",
                            ds->source, k);
        }
        lp[k] = log(lp[k] / (double)rows->n_train);
    }
    dgm_status s = dgm_model_set_log_prior(m, lp, err);
    free(lp);
    return s;
}
