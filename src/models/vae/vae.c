/* VAE/CVAE construction, scratch planning, and model files. Parameters are registered
 * in the order encoder, decoder[, decoder_logvar] under the names torch.nn.Sequential
 * gives, so a PyTorch module with the same layout loads the same tensors (bench/vae_torch.py).
 * A checkpoint (dgm_model_save_checkpoint, with keep_optimizer) also holds Adam's moments
 * as "optimizer.exp_avg.<name>" and "optimizer.exp_avg_sq.<name>" for an exact --resume;
 * the model file holds the weights alone. */
#include "models/vae/vae.h"
#include "nn/params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const dgm__model_ops vae_ops, cvae_ops;
dgm_status dgm__vae_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                             const int32_t *y, size_t n, int k, dgm_err *err);
dgm_status dgm__vae_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y, size_t n,
                           int mean, dgm_err *err);

dgm_vae_cfg dgm_vae_defaults(void)
{
    dgm_vae_cfg c = {0};
    c.dim = 784;
    c.latent = 20;
    c.hidden[0] = 400;
    c.n_hidden = 1;
    c.act = DGM_ACT_RELU;
    c.likelihood = DGM_LIK_BERNOULLI;
    c.height = c.width = 28;
    return c;
}

static void vae_destroy(void *impl)
{
    dgm__vae *v = impl;
    if (!v)
        return;
    dgm_mlp_free(v->enc);
    dgm_mlp_free(v->dec);
    dgm_params_free(v->p);
    free(v->enc_x);
    free(v->dec_x);
    free(v->eps);
    free(v->denc);
    free(v->ddec);
    free(v->ddec_in);
    free(v->ll);
    free(v);
}

dgm_status dgm__vae_reserve(dgm__vae *v, size_t B, size_t rows, dgm_err *err)
{
    if (B <= v->cap_B && rows <= v->cap_rows)
        return DGM_OK;
    if (B > v->cap_B) {
        free(v->enc_x);
        free(v->denc);
        v->enc_x = dgm_malloc_array(B, v->enc_in * sizeof(float));
        v->denc = dgm_malloc_array(B, 2 * v->cfg.latent * sizeof(float));
        if (!v->enc_x || !v->denc || dgm_mlp_reserve(v->enc, B, err))
            goto fail;
        v->cap_B = B;
    }
    if (rows > v->cap_rows) {
        free(v->dec_x);
        free(v->eps);
        free(v->ddec);
        free(v->ddec_in);
        free(v->ll);
        v->dec_x = dgm_malloc_array(rows, v->dec_in * sizeof(float));
        v->eps = dgm_malloc_array(rows, v->cfg.latent * sizeof(float));
        v->ddec = dgm_malloc_array(rows, v->grad_w * sizeof(float));
        v->ddec_in = dgm_malloc_array(rows, v->dec_in * sizeof(float));
        v->ll = dgm_malloc_array(rows, sizeof(double));
        if (!v->dec_x || !v->eps || !v->ddec || !v->ddec_in || !v->ll ||
            dgm_mlp_reserve(v->dec, rows, err))
            goto fail;
        v->cap_rows = rows;
    }
    return DGM_OK;
fail:
    v->cap_B = v->cap_rows = 0; /* force a fresh reservation next time */
    return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for a batch of %zu (%zu decoder rows)",
                    B, rows);
}

/* Builds the layout (tensors registered, not yet allocated). */
dgm_status dgm__vae_build(dgm_model **out, const dgm_vae_cfg *cfg, dgm_err *err)
{
    *out = NULL;
    if (cfg->dim == 0 || cfg->latent == 0 || cfg->latent > 256 || cfg->n_hidden < 0 ||
        cfg->n_hidden > 8 || cfg->n_classes < 0 || cfg->n_classes > 100000)
        return dgm_errf(err, DGM_ERR_ARG, "invalid VAE shape (D=%zu, Z=%zu, %d hidden layers; "
                        "Z must be 1..256, at most 8 hidden layers)", cfg->dim, cfg->latent,
                        cfg->n_hidden);
    for (int i = 0; i < cfg->n_hidden; i++)
        if (cfg->hidden[i] == 0 || cfg->hidden[i] > 65536)
            return dgm_errf(err, DGM_ERR_ARG, "hidden width %zu is out of range 1..65536",
                            cfg->hidden[i]);
    dgm__vae *v = calloc(1, sizeof *v);
    if (!v)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    v->cfg = *cfg;
    size_t C = (size_t)cfg->n_classes, D = cfg->dim, Z = cfg->latent;
    v->enc_in = D + C;
    v->dec_in = Z + C;
    /* the Gaussian and the discretised logistic have a second parameter per pixel (a
     * log-variance, a log-scale): predicted by the decoder as D more outputs, or learned
     * per dimension */
    int scaled = cfg->likelihood != DGM_LIK_BERNOULLI;
    v->dec_out = scaled && cfg->sigma_predicted ? 2 * D : D;
    v->grad_w = scaled ? 2 * D : D;
    v->dec_logvar = -1;
    size_t ed[10], dd[10];
    int L = cfg->n_hidden;
    ed[0] = v->enc_in;
    dd[0] = v->dec_in;
    for (int i = 0; i < L; i++) {
        ed[i + 1] = cfg->hidden[i];
        dd[i + 1] = cfg->hidden[L - 1 - i];
    }
    ed[L + 1] = 2 * Z;
    dd[L + 1] = v->dec_out;
    v->p = dgm_params_create();
    if (v->p) {
        v->enc = dgm_mlp_create(v->p, "encoder", ed, L + 1, cfg->act, DGM_ACT_IDENTITY);
        v->dec = dgm_mlp_create(v->p, "decoder", dd, L + 1, cfg->act, DGM_ACT_IDENTITY);
        if (scaled && !cfg->sigma_predicted)
            v->dec_logvar = dgm_params_add(v->p, cfg->likelihood == DGM_LIK_LOGISTIC
                                           ? "decoder_logscale" : "decoder_logvar", &D, 1);
    }
    dgm_model *m = v->p && v->enc && v->dec && (!scaled || cfg->sigma_predicted || v->dec_logvar >= 0)
                       ? dgm__model_new(C ? &cvae_ops : &vae_ops, v) : NULL;
    if (!m || dgm_params_alloc(v->p, err)) {
        vae_destroy(v);
        free(m);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory building the VAE");
    }
    m->dim = D;
    m->exact = 0;
    snprintf(m->likelihood, sizeof m->likelihood, "%s", scaled ? "dequantized" : "binary");
    m->n_params = dgm_params_count(v->p);
    m->height = cfg->height;
    m->width = cfg->width;
    if (dgm__model_set_classes(m, cfg->n_classes)) {
        dgm_model_free(m);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    }
    *out = m;
    return DGM_OK;
}

dgm_status dgm__vae_worker(dgm_model **out, const dgm__vae *v, size_t B, size_t rows,
                           dgm_err *err)
{
    dgm_status s = dgm__vae_build(out, &v->cfg, err);
    if (s)
        return s;
    dgm__vae *wv = VAE(*out);
    dgm__params_share(wv->p, dgm_params_data(v->p), dgm_params_grad(v->p));
    if ((s = dgm__vae_reserve(wv, B, rows, err))) {
        dgm_model_free(*out);
        *out = NULL;
    }
    return s;
}

dgm_status dgm_vae_create(dgm_model **out, dgm_rng *rng, const dgm_vae_cfg *cfg, dgm_err *err)
{
    dgm_status s = dgm__vae_build(out, cfg, err);
    if (s)
        return s;
    dgm__vae *v = VAE(*out);
    dgm_mlp_init(v->enc, rng);
    dgm_mlp_init(v->dec, rng);
    /* a learned log-variance starts at 0 (unit variance), as a zero-initialised Parameter */
    return DGM_OK;
}

const char *dgm_vae_lik_name(dgm_vae_lik l)
{
    return l == DGM_LIK_GAUSSIAN ? "gaussian" : l == DGM_LIK_LOGISTIC ? "logistic" : "bernoulli";
}

int dgm_vae_lik_from_name(const char *name)
{
    static const char *names[] = {"bernoulli", "gaussian", "logistic"};
    for (int i = 0; i < 3; i++)
        if (name && !strcmp(name, names[i]))
            return i;
    return -1;
}

int dgm_model_is_vae(const dgm_model *m) { return m->ops == &vae_ops || m->ops == &cvae_ops; }
const dgm_vae_cfg *dgm_vae_config(const dgm_model *m) { return &VAE(m)->cfg; }
dgm_params *dgm_vae_params(dgm_model *m) { return VAE(m)->p; }

static cJSON *vae_config_json(const dgm_vae_cfg *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "latent", (double)c->latent);
    cJSON *h = cJSON_AddArrayToObject(o, "hidden");
    for (int i = 0; i < c->n_hidden; i++)
        cJSON_AddItemToArray(h, cJSON_CreateNumber((double)c->hidden[i]));
    cJSON_AddStringToObject(o, "activation", dgm_act_name(c->act));
    cJSON_AddStringToObject(o, "decoder", dgm_vae_lik_name(c->likelihood));
    if (c->likelihood != DGM_LIK_BERNOULLI)
        cJSON_AddStringToObject(o, "sigma", c->sigma_predicted ? "predicted" : "learned");
    return o;
}

static dgm_status vae_save(const dgm_model *m, const char *path, dgm_err *err)
{
    dgm__vae *v = VAE(m);
    int nt = dgm_params_n_tensors(v->p);
    const int with_opt = m->keep_optimizer && m->saving_checkpoint;
    size_t n = (size_t)nt * (with_opt ? 3 : 1);
    dgm_st_tensor *t = calloc(n, sizeof *t);
    char (*names)[128] = calloc(n, sizeof *names);
    if (!t || !names) {
        free(t);
        free(names);
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    }
    const float *bufs[3] = {dgm_params_data(v->p), dgm_params_m(v->p), dgm_params_v(v->p)};
    const char *prefix[3] = {"", "optimizer.exp_avg.", "optimizer.exp_avg_sq."};
    for (size_t k = 0, j = 0; k < (with_opt ? 3u : 1u); k++)
        for (int i = 0; i < nt; i++, j++) {
            snprintf(names[j], sizeof names[j], "%s%s", prefix[k], dgm_params_name(v->p, i));
            t[j].name = names[j];
            t[j].data = bufs[k] + dgm_params_offset(v->p, i);
            t[j].ndim = dgm_params_shape(v->p, i, t[j].shape);
        }
    cJSON *cfg = vae_config_json(&v->cfg);
    dgm_status s = dgm__model_write(m, path, t, n, cfg, NULL, err);
    cJSON_Delete(cfg);
    free(t);
    free(names);
    return s;
}

static int json_size(const cJSON *c, const char *key, size_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e9 ||
        v->valuedouble != floor(v->valuedouble))
        return 0;
    *out = (size_t)v->valuedouble;
    return 1;
}

/* *need += the weights and biases of an MLP of widths w[0..n]; 0 on overflow. */
static int add_layers(size_t *need, const size_t *w, int n)
{
    for (int i = 0; i < n; i++) {
        size_t p;
        if (!dgm_size_mul(&p, w[i], w[i + 1]) || p > SIZE_MAX - *need - w[i + 1])
            return 0;
        *need += p + w[i + 1];
    }
    return 1;
}

dgm_status dgm__vae_load(dgm_model **out, const dgm_st_file *f, const cJSON *config,
                         const char *path, dgm_err *err)
{
    dgm_model tmp;
    dgm_status s = dgm__model_peek_common(&tmp, config, path, err);
    if (s)
        return s;
    dgm_vae_cfg c = {0};
    c.dim = tmp.dim;
    c.n_classes = tmp.n_classes;
    c.height = tmp.height;
    c.width = tmp.width;
    const cJSON *hid = cJSON_GetObjectItemCaseSensitive(config, "hidden");
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(config, "activation");
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(config, "decoder");
    const cJSON *sig = cJSON_GetObjectItemCaseSensitive(config, "sigma");
    if (!json_size(config, "latent", &c.latent) || !cJSON_IsArray(hid) ||
        cJSON_GetArraySize(hid) > 8 || !cJSON_IsString(act) || !cJSON_IsString(dec) ||
        dgm_act_from_name(act->valuestring) < 0)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged VAE config (latent, hidden, activation "
                        "or decoder missing or invalid)", path);
    c.n_hidden = cJSON_GetArraySize(hid);
    for (int i = 0; i < c.n_hidden; i++) {
        const cJSON *it = cJSON_GetArrayItem(hid, i);
        if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 65536)
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged VAE config (hidden[%d])", path, i);
        c.hidden[i] = (size_t)it->valuedouble;
    }
    c.act = (dgm_act)dgm_act_from_name(act->valuestring);
    int lik = dgm_vae_lik_from_name(dec->valuestring);
    if (lik >= 0)
        c.likelihood = (dgm_vae_lik)lik;
    else
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: unknown decoder '%s'", path, dec->valuestring);
    c.sigma_predicted = cJSON_IsString(sig) && !strcmp(sig->valuestring, "predicted");
    /* the parameters the config describes must be in the file before they are allocated:
     * a damaged config (D = 10^9) would otherwise reserve gigabytes for a small file */
    size_t need, C = (size_t)c.n_classes, D = c.dim;
    int scaled = c.likelihood != DGM_LIK_BERNOULLI;
    size_t ed[10] = {D + C}, dd[10] = {c.latent + C};
    for (int i = 0; i < c.n_hidden; i++)
        ed[i + 1] = c.hidden[i], dd[i + 1] = c.hidden[c.n_hidden - 1 - i];
    ed[c.n_hidden + 1] = 2 * c.latent;
    dd[c.n_hidden + 1] = scaled && c.sigma_predicted ? 2 * D : D;
    need = scaled && !c.sigma_predicted ? D : 0; /* decoder_logvar or decoder_logscale */
    int ok = add_layers(&need, ed, c.n_hidden + 1) && add_layers(&need, dd, c.n_hidden + 1);
    if (!ok || need > dgm__st_total(f))
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged model: the VAE config describes more "
                        "parameters than the file holds (%zu values)", path, dgm__st_total(f));
    dgm_model *m;
    if ((s = dgm__vae_build(&m, &c, err)))
        return s; /* dgm_model_load puts the path in front */
    if ((s = dgm__model_read_common(m, config, path, err))) {
        dgm_model_free(m);
        return s;
    }
    dgm__vae *v = VAE(m);
    const char *prefix[3] = {"", "optimizer.exp_avg.", "optimizer.exp_avg_sq."};
    float *bufs[3] = {dgm_params_data(v->p), dgm_params_m(v->p), dgm_params_v(v->p)};
    int have_opt = dgm_st_find(f, "optimizer.exp_avg.encoder.0.weight") != NULL;
    for (int k = 0; k < (have_opt ? 3 : 1); k++)
        for (int i = 0; i < dgm_params_n_tensors(v->p); i++) {
            char name[160];
            snprintf(name, sizeof name, "%s%s", prefix[k], dgm_params_name(v->p, i));
            size_t numel = dgm_params_numel(v->p, i);
            const float *src = dgm__st_expect(f, name, numel, path, err);
            if (!src) {
                dgm_model_free(m);
                return err ? err->code : DGM_ERR_FORMAT;
            }
            if (k == 0 && !dgm_all_finite(src, numel)) {
                dgm_model_free(m);
                return dgm_errf(err, DGM_ERR_NAN, "%s: damaged model: tensor '%s' holds NaN or "
                                "infinity", path, name);
            }
            memcpy(bufs[k] + dgm_params_offset(v->p, i), src, numel * sizeof(float));
        }
    m->keep_optimizer = have_opt;
    *out = m;
    return DGM_OK;
}

static void vae_describe(const dgm_model *m, cJSON *o)
{
    const dgm_vae_cfg *c = &VAE(m)->cfg;
    cJSON_AddItemToObject(o, "config", vae_config_json(c));
}

static const dgm__model_ops vae_ops = {
    .type = "vae", .log_prob = dgm__vae_log_prob, .sample = dgm__vae_sample,
    .save = vae_save, .destroy = vae_destroy, .describe = vae_describe,
    .fit = &dgm__vae_fit_ops};
static const dgm__model_ops cvae_ops = {
    .type = "cvae", .log_prob = dgm__vae_log_prob, .sample = dgm__vae_sample,
    .save = vae_save, .destroy = vae_destroy, .describe = vae_describe,
    .fit = &dgm__vae_fit_ops};
