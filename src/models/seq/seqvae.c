/* Sequence VAE ("seqvae"): construction, parameter layout and initialisation, scratch,
 * model files. Reference: Riesselman, Ingraham & Marks, "Deep generative models of genetic
 * variation capture the effects of mutations", Nature Methods 15, 816 (2018), Methods and
 * the DeepSequence code (model.py, VariationalAutoencoder); docs/math.md, "Protein family
 * models". Tensor names follow a PyTorch module with the same layout (bench/seqvae_torch.py):
 * the first encoder layer is an EmbeddingBag(L*20, H1, mode="sum") plus a bias, because on
 * one-hot input Linear(L*20, H1) is exactly a sum of one weight column per position.
 * BAYES keeps "<name>_mu" and "<name>_log_sigma" for every decoder tensor.
 * Left out: saving Adam's moments (a saved model can be scored and sampled, not resumed
 * bit for bit), and the encoder-side variational weights DeepSequence does not use either. */
#include "models/seq/seqvae.h"
#include "nn/params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dgm_seqvae_cfg dgm_seqvae_defaults(dgm_seqvae_variant v)
{
    dgm_seqvae_cfg c = {0};
    c.variant = v;
    c.enc[0] = 1500, c.enc[1] = 1500, c.n_enc = 2;
    c.dec[0] = 100, c.dec[1] = 500, c.n_dec = 2;
    c.latent = 30;
    c.dict = 40;
    c.n_patterns = 4;
    c.l2 = 1.0;
    c.logit_p = 0.001;
    c.logit_sigma = 4.0;
    c.batch = 100;
    c.lr = 1e-3;
    return c;
}

static void seqvae_destroy(void *impl)
{
    dgm__seqvae *v = impl;
    if (!v)
        return;
    dgm__seqvae_pool_free(v->pool);
    if (v->worker) /* the model's draw, read by its workers */
        v->eps_w = v->weff = v->wun = v->sig = NULL;
    dgm__seqinfo_free(&v->si);
    dgm_mlp_free(v->enc);
    dgm_mlp_free(v->dec);
    dgm_params_free(v->p);
    dgm_params_free(v->ps);
    free(v->mu_idx);
    free(v->ls_idx);
    free(v->eps_w);
    free(v->weff);
    free(v->w16);
    free(v->h16);
    free(v->wun);
    free(v->gw);
    free(v->sig);
    free(v->sacc);
    free(v->csum);
    free(v->h1pre);
    free(v->h1);
    free(v->dh1);
    free(v->denc);
    free(v->eps);
    free(v->z);
    free(v->dz);
    free(v->logits);
    free(v->dh);
    free(v->ll);
    free(v->klz);
    free(v->xb);
    free(v->lse);
    free(v->touched);
    free(v->rows);
    free(v);
}

dgm_status dgm__seqvae_reserve(dgm__seqvae *v, size_t rows, dgm_err *err)
{
    if (rows <= v->cap)
        return DGM_OK;
    float **f[] = {&v->h1pre, &v->h1, &v->dh1, &v->denc, &v->eps, &v->z, &v->dz, &v->logits,
                   &v->dh};
    size_t w[] = {v->H1, v->H1, v->H1, 2 * v->Z, v->Z, v->Z, v->Z, v->D, v->Hl};
    int ok = 1;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        free(*f[i]);
        ok &= (*f[i] = dgm_malloc_array(rows, w[i] * sizeof(float))) != NULL;
    }
    free(v->ll);
    free(v->klz);
    free(v->xb);
    free(v->lse);
    ok &= (v->lse = dgm_malloc_array(rows, 2 * v->L * sizeof(float))) != NULL;
    ok &= (v->ll = dgm_malloc_array(rows, sizeof(double))) != NULL;
    ok &= (v->klz = dgm_malloc_array(rows, sizeof(double))) != NULL;
    ok &= (v->xb = dgm_malloc_array(rows, v->L)) != NULL;
    v->cap = ok ? rows : 0;
    if (!ok)
        return dgm_errf(err, DGM_ERR_NOMEM, "seqvae: out of memory for %zu rows of scratch", rows);
    dgm_status s = dgm_mlp_reserve(v->enc, rows, err);
    if (!s)
        s = dgm_mlp_reserve(v->dec, rows, err);
    if (s)
        v->cap = 0;
    return s;
}

// ------------------------------------------------------------------------------- layout

/* Registers every tensor (in p and, for BAYES, ps) for the sizes in v->cfg and v->L and
 * allocates them, except for a worker (v->worker), whose values, gradients and draw are
 * another's (dgm__seqvae_worker_create). */
static dgm_status layout(dgm__seqvae *v, dgm_err *err)
{
    const dgm_seqvae_cfg *c = &v->cfg;
    v->D = v->L * DGM_AA_N;
    v->H1 = c->enc[0];
    v->Z = c->latent;
    v->Hl = c->dec[c->n_dec - 1];
    v->K = c->dict;
    v->Hp = c->variant == DGM_SEQVAE_BAYES ? v->Hl / c->n_patterns : 0;
    v->p = dgm_params_create();
    if (!v->p)
        goto nomem;
    size_t s2[2] = {v->D, v->H1};
    /* registered first, so the bag is the prefix [0, D*H1) of every buffer */
    v->i_bag = dgm_params_add(v->p, "encoder.embed.weight", s2, 2);
    v->i_bag_b = dgm_params_add(v->p, "encoder.embed.bias", &v->H1, 1);
    size_t ed[6], dd[6];
    for (int i = 0; i < c->n_enc; i++)
        ed[i] = c->enc[i];
    ed[c->n_enc] = 2 * v->Z;
    dd[0] = v->Z;
    for (int i = 0; i < c->n_dec; i++)
        dd[i + 1] = c->dec[i];
    v->enc = dgm_mlp_create(v->p, "encoder.mlp", ed, c->n_enc, DGM_ACT_RELU, DGM_ACT_IDENTITY);
    if (!v->enc || v->i_bag < 0 || v->i_bag_b < 0)
        goto nomem;
    char name[96];
    if (c->variant == DGM_SEQVAE_PLAIN) {
        v->dec = dgm_mlp_create(v->p, "decoder", dd, c->n_dec, DGM_ACT_RELU, DGM_ACT_SIGMOID);
        size_t ws[2] = {v->D, v->Hl};
        snprintf(name, sizeof name, "decoder.%d.weight", 2 * c->n_dec);
        v->i_out_w = dgm_params_add(v->p, name, ws, 2);
        snprintf(name, sizeof name, "decoder.%d.bias", 2 * c->n_dec);
        v->i_out_b = dgm_params_add(v->p, name, &v->D, 1);
        if (!v->dec || v->i_out_w < 0 || v->i_out_b < 0)
            goto nomem;
    } else {
        if (!(v->ps = dgm_params_create()))
            goto nomem;
        v->dec = dgm_mlp_create(v->ps, "decoder", dd, c->n_dec, DGM_ACT_RELU, DGM_ACT_SIGMOID);
        size_t wo[2] = {v->L * v->K, v->Hl}, wd[2] = {DGM_AA_N, v->K}, ws[2] = {v->Hp, v->L};
        size_t one = 1;
        v->i_out_w = dgm_params_add(v->ps, "decoder.out.weight", wo, 2);
        v->i_out_b = dgm_params_add(v->ps, "decoder.out.bias", &v->D, 1);
        v->i_dict = dgm_params_add(v->ps, "decoder.dict.weight", wd, 2);
        v->i_scale = dgm_params_add(v->ps, "decoder.scale", ws, 2);
        v->i_temp = dgm_params_add(v->ps, "decoder.temperature", &one, 1);
        if (!v->dec || v->i_out_w < 0 || v->i_out_b < 0 || v->i_dict < 0 || v->i_scale < 0 ||
            v->i_temp < 0)
            goto nomem;
        int nt = dgm_params_n_tensors(v->ps);
        v->mu_idx = malloc((size_t)nt * sizeof(int));
        v->ls_idx = malloc((size_t)nt * sizeof(int));
        if (!v->mu_idx || !v->ls_idx)
            goto nomem;
        for (int i = 0; i < nt; i++) {
            size_t shape[4];
            int nd = dgm_params_shape(v->ps, i, shape);
            snprintf(name, sizeof name, "%s_mu", dgm_params_name(v->ps, i));
            v->mu_idx[i] = dgm_params_add(v->p, name, shape, nd);
            snprintf(name, sizeof name, "%s_log_sigma", dgm_params_name(v->ps, i));
            v->ls_idx[i] = dgm_params_add(v->p, name, shape, nd);
            if (v->mu_idx[i] < 0 || v->ls_idx[i] < 0)
                goto nomem;
        }
        v->sacc = dgm_malloc_array(v->L, v->Hl * sizeof(float));
        if (!v->sacc)
            goto nomem;
        if (!v->worker) {
            dgm_status s = dgm_params_alloc(v->ps, err);
            if (s)
                return s;
            size_t nps = dgm_params_count(v->ps);
            v->eps_w = dgm_calloc_array(nps, sizeof(float));
            v->weff = dgm_malloc_array(v->D, v->Hl * sizeof(float));
            v->wun = dgm_malloc_array(v->D, v->Hl * sizeof(float));
            v->sig = dgm_malloc_array(v->L, v->Hl * sizeof(float));
            if (!v->eps_w || !v->weff || !v->wun || !v->sig)
                goto nomem;
        }
    }
    v->gw = dgm_malloc_array(v->D, v->Hl * sizeof(float));
    v->csum = dgm_malloc_array(v->D, sizeof(float));
    v->touched = calloc(v->D, 1);
    v->rows = dgm_malloc_array(v->D, sizeof(size_t));
    if (!v->gw || !v->csum || !v->touched || !v->rows)
        goto nomem;
    return v->worker ? DGM_OK : dgm_params_alloc(v->p, err);
nomem:
    return dgm_errf(err, DGM_ERR_NOMEM, "seqvae: out of memory building the model");
}

size_t dgm__seqvae_grad_split(const dgm__seqvae *v)
{
    /* BAYES: p holds the encoder, then the decoder's _mu and _log_sigma, which a shard's
     * data term never touches (its decoder gradient is the draw's, in ps) */
    return v->cfg.variant == DGM_SEQVAE_BAYES ? dgm_params_offset(v->p, v->mu_idx[0])
                                              : dgm_params_count(v->p);
}

void dgm__seqvae_worker_free(dgm__seqvae *w) { seqvae_destroy(w); }

dgm_status dgm__seqvae_worker_create(dgm__seqvae **out, const dgm__seqvae *v, size_t rows,
                                     float *grad, dgm_err *err)
{
    *out = NULL;
    dgm__seqvae *w = calloc(1, sizeof *w);
    if (!w)
        return dgm_errf(err, DGM_ERR_NOMEM, "seqvae: out of memory");
    w->cfg = v->cfg;
    w->L = v->L;
    w->worker = 1;
    dgm_status s = layout(w, err);
    if (!s)
        s = dgm__seqvae_reserve(w, rows, err);
    if (s) {
        seqvae_destroy(w);
        return s;
    }
    /* p's gradient is only the prefix that grad holds: a worker writes the encoder's */
    dgm__params_share(w->p, dgm_params_data(v->p), grad);
    if (w->ps) {
        dgm__params_share(w->ps, dgm_params_data(v->ps), grad + dgm__seqvae_grad_split(v));
        w->eps_w = v->eps_w, w->weff = v->weff, w->wun = v->wun, w->sig = v->sig;
        w->tau = v->tau;
    }
    *out = w;
    return DGM_OK;
}

static dgm_status check_cfg(const dgm_seqvae_cfg *c, dgm_err *err)
{
    if (c->n_enc < 1 || c->n_enc > 4 || c->n_dec < 1 || c->n_dec > 4)
        return dgm_errf(err, DGM_ERR_ARG, "seqvae: 1 to 4 encoder and decoder layers");
    for (int i = 0; i < c->n_enc; i++)
        if (c->enc[i] < 1 || c->enc[i] > 100000)
            return dgm_errf(err, DGM_ERR_ARG, "seqvae: encoder layer %d has size %zu", i, c->enc[i]);
    for (int i = 0; i < c->n_dec; i++)
        if (c->dec[i] < 1 || c->dec[i] > 100000)
            return dgm_errf(err, DGM_ERR_ARG, "seqvae: decoder layer %d has size %zu", i, c->dec[i]);
    if (c->latent < 1 || c->latent > 10000 || c->batch < 1 || !(c->lr > 0) || !(c->l2 >= 0))
        return dgm_errf(err, DGM_ERR_ARG, "seqvae: latent, batch and lr must be positive, l2 >= 0");
    if (c->variant == DGM_SEQVAE_BAYES &&
        (c->dict < 1 || c->n_patterns < 1 || c->dec[c->n_dec - 1] % c->n_patterns ||
         !(c->logit_p > 0 && c->logit_p < 1) || !(c->logit_sigma > 0)))
        return dgm_errf(err, DGM_ERR_ARG, "seqvae: the Bayesian decoder needs dict >= 1, a last "
                        "hidden size divisible by n_patterns, 0 < logit_p < 1, logit_sigma > 0");
    return DGM_OK;
}

static void init_normal(dgm_rng *rng, float *w, size_t n, double sd)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(sd * dgm_rng_normal(rng));
}

static void init_params(dgm__seqvae *v, dgm_rng *rng)
{
    dgm_rng r;
    dgm_rng_fork(&r, rng, 0);
    /* PyTorch's Linear(D, H1) init for the bag, as the dense layer it replaces */
    dgm_linear_init(&r, dgm_params_tensor(v->p, v->i_bag), dgm_params_tensor(v->p, v->i_bag_b),
                    v->D, v->H1);
    dgm_rng_fork(&r, rng, 1);
    dgm_mlp_init(v->enc, &r);
    dgm_rng_fork(&r, rng, 2);
    if (v->cfg.variant == DGM_SEQVAE_PLAIN) {
        dgm_mlp_init(v->dec, &r);
        dgm_linear_init(&r, dgm_params_tensor(v->p, v->i_out_w),
                        dgm_params_tensor(v->p, v->i_out_b), v->Hl, v->D);
        return;
    }
    /* DeepSequence: Glorot-normal means for weights, 0.1 for biases, log-sigma -5; the
     * scale starts at sigmoid(0) = 1/2 and the temperature at softplus(1). */
    for (int i = 0; i < dgm_params_n_tensors(v->ps); i++) {
        float *mu = dgm_params_tensor(v->p, v->mu_idx[i]);
        float *ls = dgm_params_tensor(v->p, v->ls_idx[i]);
        size_t n = dgm_params_numel(v->ps, i), shape[4];
        int nd = dgm_params_shape(v->ps, i, shape);
        dgm_fill(ls, -5.0f, n);
        if (i == v->i_scale)
            dgm_fill(mu, 0.0f, n);
        else if (i == v->i_temp)
            dgm_fill(mu, 1.0f, n);
        else if (nd == 1)
            dgm_fill(mu, 0.1f, n);
        else /* Glorot normal: N(0, 2 / (fan_in + fan_out)) */
            init_normal(&r, mu, n, sqrt(2.0 / (double)(shape[0] + shape[1])));
    }
}

// ---------------------------------------------------------------------------- the model

static dgm_model *wrap(dgm__seqvae *v)
{
    dgm_model *m = dgm__model_new(&dgm__seqvae_ops, v);
    if (!m)
        return NULL;
    m->dim = v->D;
    m->exact = 0;
    snprintf(m->likelihood, sizeof m->likelihood, "sequence");
    m->n_params = dgm_params_count(v->p);
    return m;
}

dgm_status dgm_seqvae_create(dgm_model **out, dgm_rng *rng, const dgm_seqvae_cfg *cfg,
                             const dgm_alignment *a, double neff, double theta, dgm_err *err)
{
    *out = NULL;
    dgm_status s = check_cfg(cfg, err);
    if (s)
        return s;
    dgm__seqvae *v = calloc(1, sizeof *v);
    if (!v)
        return dgm_errf(err, DGM_ERR_NOMEM, "seqvae: out of memory");
    v->cfg = *cfg;
    v->L = a->L;
    if (!(s = dgm__seqinfo_init(&v->si, a, neff, theta, err)) && !(s = layout(v, err)))
        s = dgm__seqvae_reserve(v, cfg->batch, err);
    dgm_model *m = s ? NULL : wrap(v);
    if (!m) {
        seqvae_destroy(v);
        return s ? s : dgm_errf(err, DGM_ERR_NOMEM, "seqvae: out of memory");
    }
    init_params(v, rng);
    *out = m;
    return DGM_OK;
}

long dgm_seqvae_steps(const dgm_model *m)
{
    return m->ops == &dgm__seqvae_ops ? SEQVAE(m)->step : -1;
}

static cJSON *size_array(const size_t *x, int n)
{
    double d[8];
    for (int i = 0; i < n; i++)
        d[i] = (double)x[i];
    return cJSON_CreateDoubleArray(d, n);
}

static dgm_status seqvae_save(const dgm_model *m, const char *path, dgm_err *err)
{
    const dgm__seqvae *v = SEQVAE(m);
    const dgm_seqvae_cfg *c = &v->cfg;
    cJSON *cfg = cJSON_CreateObject();
    int nt = dgm_params_n_tensors(v->p);
    dgm_st_tensor *t = dgm_malloc_array((size_t)nt, sizeof *t);
    if (!cfg || !t) {
        cJSON_Delete(cfg);
        free(t);
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    }
    cJSON_AddStringToObject(cfg, "variant", c->variant == DGM_SEQVAE_BAYES ? "bayesian" : "plain");
    cJSON_AddItemToObject(cfg, "encoder", size_array(c->enc, c->n_enc));
    cJSON_AddItemToObject(cfg, "decoder", size_array(c->dec, c->n_dec));
    cJSON_AddNumberToObject(cfg, "latent", (double)c->latent);
    cJSON_AddNumberToObject(cfg, "dict", (double)c->dict);
    cJSON_AddNumberToObject(cfg, "n_patterns", (double)c->n_patterns);
    cJSON_AddNumberToObject(cfg, "l2", c->l2);
    cJSON_AddNumberToObject(cfg, "logit_p", c->logit_p);
    cJSON_AddNumberToObject(cfg, "logit_sigma", c->logit_sigma);
    cJSON_AddNumberToObject(cfg, "batch", (double)c->batch);
    cJSON_AddNumberToObject(cfg, "lr", c->lr);
    cJSON_AddNumberToObject(cfg, "steps", (double)v->step);
    if (v->micro)
        cJSON_AddNumberToObject(cfg, "micro_batch", (double)v->micro);
    dgm__seqinfo_to_json(&v->si, cfg);
    for (int i = 0; i < nt; i++) {
        t[i].name = dgm_params_name(v->p, i);
        t[i].data = dgm_params_tensor(v->p, i);
        t[i].ndim = dgm_params_shape(v->p, i, t[i].shape);
    }
    dgm_status s = dgm__model_write(m, path, t, (size_t)nt, cfg, NULL, err);
    cJSON_Delete(cfg);
    free(t);
    return s;
}

static int json_sizes(const cJSON *c, const char *key, size_t *out, int max)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(c, key);
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
    if (n < 1 || n > max)
        return 0;
    for (int i = 0; i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(x) || x->valuedouble < 1 || x->valuedouble > 1e6)
            return 0;
        out[i] = (size_t)x->valuedouble;
    }
    return n;
}

/* A finite number: a file holding 1e999 (read as inf) would save as null and not load
 * back, since JSON writes no infinity. */
static int json_num(const cJSON *c, const char *key, double *out)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(c, key);
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
        return 0;
    *out = x->valuedouble;
    return 1;
}

dgm_status dgm__seqvae_load(dgm_model **out, const dgm_st_file *f, const cJSON *config,
                            const char *path, dgm_err *err)
{
    *out = NULL;
    dgm_seqvae_cfg c = dgm_seqvae_defaults(DGM_SEQVAE_PLAIN);
    const cJSON *var = cJSON_GetObjectItemCaseSensitive(config, "variant");
    double lat, dict, np, batch, steps;
    c.n_enc = json_sizes(config, "encoder", c.enc, 4);
    c.n_dec = json_sizes(config, "decoder", c.dec, 4);
    if (!cJSON_IsString(var) || !c.n_enc || !c.n_dec || !json_num(config, "latent", &lat) ||
        !json_num(config, "dict", &dict) || !json_num(config, "n_patterns", &np) ||
        !json_num(config, "l2", &c.l2) || !json_num(config, "logit_p", &c.logit_p) ||
        !json_num(config, "logit_sigma", &c.logit_sigma) || !json_num(config, "batch", &batch) ||
        !json_num(config, "lr", &c.lr) || !json_num(config, "steps", &steps) || lat < 1 ||
        dict < 1 || np < 1 || batch < 1 || steps < 0 || lat > 1e4 || dict > 1e4 || np > 1e4 ||
        batch > 1e7)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged seqvae config (variant, encoder, "
                        "decoder, latent, dict, n_patterns, l2, logit_p, logit_sigma, batch, lr "
                        "or steps missing or invalid)", path);
    if (!strcmp(var->valuestring, "bayesian"))
        c.variant = DGM_SEQVAE_BAYES;
    else if (strcmp(var->valuestring, "plain"))
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: unknown seqvae variant '%s'", path,
                        var->valuestring);
    c.latent = (size_t)lat;
    c.dict = (size_t)dict;
    c.n_patterns = (size_t)np;
    c.batch = (size_t)batch;
    dgm_status s = check_cfg(&c, err);
    if (s)
        return s;
    dgm__seqvae *v = calloc(1, sizeof *v);
    if (!v)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    v->cfg = c;
    v->step = (long)steps;
    /* optional (files before it, or never trained); outside 1..2^20 it counts as missing,
     * so the file writes back as it loaded */
    double micro;
    if (json_num(config, "micro_batch", &micro) && micro >= 1 && micro <= 1 << 20)
        v->micro = (size_t)micro;
    dgm_model *m = NULL;
    if (!(s = dgm__seqinfo_from_json(&v->si, config, path, err))) {
        v->L = v->si.L;
        if (!(s = layout(v, err)))
            s = dgm__seqvae_reserve(v, c.batch, err);
    }
    for (int i = 0; !s && i < dgm_params_n_tensors(v->p); i++) {
        size_t n = dgm_params_numel(v->p, i);
        const float *src = dgm__st_expect(f, dgm_params_name(v->p, i), n, path, err);
        if (!src)
            s = err ? err->code : DGM_ERR_FORMAT;
        else if (!dgm_all_finite(src, n))
            s = dgm_errf(err, DGM_ERR_NAN, "%s: tensor '%s' has non-finite values", path,
                         dgm_params_name(v->p, i));
        else
            memcpy(dgm_params_tensor(v->p, i), src, n * sizeof(float));
    }
    if (!s && !(m = wrap(v)))
        s = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    if (!s)
        s = dgm__model_read_common(m, config, path, err);
    if (!s && m->dim != v->D)
        s = dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged seqvae config: dim %zu is not L x 20 = %zu",
                     path, m->dim, v->D);
    if (s) {
        if (m)
            dgm_model_free(m);
        else
            seqvae_destroy(v);
        return s;
    }
    *out = m;
    return DGM_OK;
}

static void seqvae_describe(const dgm_model *m, cJSON *o)
{
    const dgm__seqvae *v = SEQVAE(m);
    cJSON_AddStringToObject(o, "variant", v->cfg.variant == DGM_SEQVAE_BAYES ? "bayesian" : "plain");
    cJSON_AddNumberToObject(o, "L", (double)v->L);
    cJSON_AddStringToObject(o, "focus", v->si.name);
    cJSON_AddNumberToObject(o, "latent", (double)v->Z);
    cJSON_AddItemToObject(o, "encoder", size_array(v->cfg.enc, v->cfg.n_enc));
    cJSON_AddItemToObject(o, "decoder", size_array(v->cfg.dec, v->cfg.n_dec));
    cJSON_AddNumberToObject(o, "steps", (double)v->step);
    if (v->micro)
        cJSON_AddNumberToObject(o, "micro_batch", (double)v->micro);
    cJSON_AddNumberToObject(o, "neff", v->si.neff);
}

dgm_status dgm__seqvae_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                                const int32_t *y, size_t n, int k, dgm_err *err);
dgm_status dgm__seqvae_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y,
                              size_t n, int mean, dgm_err *err);

const dgm__model_ops dgm__seqvae_ops = {
    .type = "seqvae", .log_prob = dgm__seqvae_log_prob, .sample = dgm__seqvae_sample,
    .save = seqvae_save, .destroy = seqvae_destroy, .describe = seqvae_describe,
    .fit = &dgm__seqvae_fit_ops};
