/* dgm train --model gaussian|gmm|bernoulli|bernoulli-mixture: the tractable baselines.
 * Reads the same data specs as the VAE; 8-bit images are dequantised for the Gaussian
 * models (x = (pixel + u)/256, u ~ U[0,1), seeded, example i from its own stream) and
 * binarized for the Bernoulli models (one seeded draw per pixel, or a threshold at 1/2);
 * --per-class fits one model per label into a class-conditional model file. One progress
 * line per EM iteration goes to stderr; the summary (train log-likelihood, bits/dim, BIC,
 * AIC) to stdout, as text or, with --json, one JSON object. cmd_train.c calls it with argv
 * unchanged (argv[0] = "train"). */
#include "cli.h"
#include "progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int cli_train_tractable(int argc, char **argv);

struct prog { double last_t, last_ll; int last_cls, last_init; };

static void on_iter(void *ctx, int cls, int init, int iter, double ll)
{
    struct prog *p = ctx;
    double now = cli_now();
    char cl[24] = "", change[48] = "";
    if (cls >= 0)
        snprintf(cl, sizeof cl, "class %d ", cls);
    if (iter > 1 && cls == p->last_cls && init == p->last_init)
        snprintf(change, sizeof change, " (%+.4g%s)", ll - p->last_ll,
                 ll < p->last_ll ? ", DECREASED" : "");
    fprintf(stderr, "%sinit %d iter %3d: log-likelihood %.6f nats/example%s  %.2f s\n", cl,
            init + 1, iter, ll, change, now - p->last_t);
    p->last_t = now;
    p->last_ll = ll;
    p->last_cls = cls;
    p->last_init = init;
}

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

static cJSON *info_json(const dgm_mixture_info *f, size_t D, const char *lik, size_t n_params,
                        double *bic, double *aic)
{
    cJSON *o = cJSON_CreateObject();
    double total = f->log_likelihood * (double)f->n;
    *bic = -2 * total + (double)n_params * log((double)f->n);
    *aic = -2 * total + 2 * (double)n_params;
    cJSON_AddNumberToObject(o, "n", (double)f->n);
    cJSON_AddNumberToObject(o, "n_iter", f->n_iter);
    cJSON_AddBoolToObject(o, "converged", f->converged);
    cJSON_AddNumberToObject(o, "lower_bound", f->lower_bound);
    cJSON_AddNumberToObject(o, "log_likelihood", f->log_likelihood);
    cJSON_AddNumberToObject(o, "nll_nats", -f->log_likelihood);
    cJSON_AddNumberToObject(o, "bits_per_dim", dgm_bits_per_dim(-f->log_likelihood, D, lik));
    return o;
}

int cli_train_tractable(int argc, char **argv)
{
    const char *model = "gmm";
    for (int i = 1; i + 1 < argc; i++) /* defaults below depend on the model */
        if (!strcmp(argv[i], "--model"))
            model = argv[i + 1];
        else if (!strncmp(argv[i], "--model=", 8))
            model = argv[i] + 8;
    int kind = dgm_tractable_kind_from_name(model);
    if (kind < 0)
        return cli_fail("train", "--model: unknown model '%s' (gaussian, gmm, bernoulli, "
                        "bernoulli-mixture)", model);
    int gaussian = kind == DGM_TRACTABLE_GAUSSIAN || kind == DGM_TRACTABLE_GMM;
    int mixture = kind == DGM_TRACTABLE_GMM || kind == DGM_TRACTABLE_BERNOULLI_MIXTURE;
    char out_default[64];
    snprintf(out_default, sizeof out_default, "%s.safetensors", dgm_tractable_kind_name(kind));
    const char *data = "fashion-mnist", *labels = NULL, *out = out_default, *save_data = NULL;
    const char *cov = kind == DGM_TRACTABLE_GMM ? "diag" : "full", *init = "kmeans";
    const char *binarize = "sample";
    long K = mixture ? 10 : 1, limit = 0;
    int n_init = 1, max_iter = 100, per_class = 0, no_deq = 0;
    dgm_mixture_cfg cfg = dgm_mixture_defaults();
    double tol = cfg.tol, reg = cfg.reg_covar, min_prob = cfg.min_prob;
    cli_common c;
    cli_common_defaults(&c);
    const cli_opt table[] = {
        {"--model", OPT_STR, &model, "M", "gaussian, gmm, bernoulli (product) or bernoulli-mixture", 1, 0},
        {"--data", OPT_STR, &data, "SPEC", "training data: fashion-mnist, or a path (IDX, CSV, NPY)", 1, 0},
        {"--labels", OPT_STR, &labels, "PATH", "label file (none: looked up beside IDX images)", 1, 0},
        {"-o", OPT_STR, &out, "PATH", "model file (safetensors)", 1, 0},
        {"--components", OPT_LONG, &K, "K", "mixture components (gmm, bernoulli-mixture)", 1, 1e6},
        {"--covariance", OPT_STR, &cov, "C", "full, tied, diag or spherical (Gaussian models)", 1, 0},
        {"--n-init", OPT_INT, &n_init, "N", "EM restarts; the best lower bound is kept", 1, 1e6},
        {"--max-iter", OPT_INT, &max_iter, "N", "EM iterations per restart", 1, 1e9},
        {"--tol", OPT_DOUBLE, &tol, "T", "stop when the mean log-likelihood per example changes by less", 0, 1e300},
        {"--reg-covar", OPT_DOUBLE, &reg, "R", "added to the diagonal of each covariance", 0, 1e300},
        {"--min-prob", OPT_DOUBLE, &min_prob, "P", "Bernoulli probabilities kept in [P, 1-P]", 1e-300, 0.499},
        {"--init", OPT_STR, &init, "I", "kmeans, k-means++ (seeds only) or random responsibilities", 1, 0},
        {"--no-dequantize", OPT_FLAG, &no_deq, NULL, "fit 8-bit data as given (k/255) instead of (k+u)/256", 1, 0},
        {"--binarize", OPT_STR, &binarize, "HOW", "Bernoulli models on grey levels: sample or threshold (> 1/2)", 1, 0},
        {"--per-class", OPT_FLAG, &per_class, NULL, "fit one model per label: a class-conditional model", 1, 0},
        {"--limit", OPT_LONG, &limit, "N", "use only the first N examples (0: all)", 0, 1e12},
        {"--save-data", OPT_STR, &save_data, "PATH", "also write the training matrix as fitted (NPY), for comparisons", 1, 0},
        CLI_COMMON_OPTS(&c),
    };
    const char *pos[1];
    int np;
    int r = cli_parse("train", "--model gaussian|gmm|bernoulli|bernoulli-mixture [options]",
                      "Fit a tractable baseline with an exact likelihood: a Gaussian, a Gaussian "
                      "mixture (EM, as scikit-learn's GaussianMixture), a product of Bernoullis or "
                      "a Bernoulli mixture (EM).", argc, argv, table,
                      (int)(sizeof table / sizeof table[0]), pos, 0, &np);
    if (r)
        return r == 1 ? 0 : 2;
    cli_common_apply(&c);
    int ct = dgm_cov_type_from_name(cov), it = dgm_mixture_init_from_name(init);
    if (ct < 0)
        return cli_fail("train", "--covariance: unknown type '%s' (full, tied, diag, spherical)", cov);
    if (it < 0)
        return cli_fail("train", "--init: unknown method '%s' (kmeans, k-means++, random)", init);
    if (strcmp(binarize, "sample") && strcmp(binarize, "threshold"))
        return cli_fail("train", "--binarize: unknown method '%s' (sample, threshold)", binarize);
    cfg.n_components = (size_t)K;
    cfg.covariance = (dgm_cov_type)ct;
    cfg.init = (dgm_mixture_init)it;
    cfg.n_init = n_init;
    cfg.max_iter = max_iter;
    cfg.tol = tol;
    cfg.reg_covar = reg;
    cfg.min_prob = min_prob;

    dgm_err err = {0};
    dgm_dataset ds = {0};
    if (dgm_data_load(&ds, data, labels, &err))
        return cli_fail_err("train", &err);
    int rc = 1;
    float *x = NULL;
    dgm_model *m = NULL;
    cJSON *j = NULL;
    if (ds.kind != DGM_DATA_REAL || !ds.x) {
        cli_fail("train", "%s: a %s model needs numeric data", ds.source, model);
        goto done;
    }
    size_t n = limit > 0 && (size_t)limit < ds.n ? (size_t)limit : ds.n, D = ds.d;
    if (per_class && (!ds.y || ds.n_classes < 1)) {
        cli_fail("train", "%s: --per-class needs labels (give --labels)", ds.source);
        goto done;
    }
    if (!gaussian) { /* grey levels are binarized as probabilities: they must be in [0, 1] */
        for (size_t i = 0; i < n * D; i++)
            if (!(ds.x[i] >= 0 && ds.x[i] <= 1)) {
                cli_fail("train", "%s: example %zu, dimension %zu is %g: a %s model binarizes "
                         "values in [0, 1]", ds.source, i / D, i % D, (double)ds.x[i], model);
                goto done;
            }
    }
    dgm_rng root, rd, rf;
    dgm_rng_init(&root, (uint64_t)c.seed);
    dgm_rng_fork(&rd, &root, 0);
    dgm_rng_fork(&rf, &root, 1);
    x = prepare(&ds, n, !gaussian, !no_deq, !strcmp(binarize, "threshold"), &rd);
    if (!x) {
        cli_fail("train", "out of memory for %zu x %zu data", n, D);
        goto done;
    }
    cfg.likelihood = !gaussian ? "binary" : !no_deq && ds.is_8bit ? "dequantized" : "continuous";
    cfg.height = ds.height;
    cfg.width = ds.width;
    if (save_data && dgm_npy_write(save_data, x, n, D, &err)) {
        cli_fail_err("train", &err);
        goto done;
    }
    struct prog pr = {cli_now(), 0, -2, -1};
    cfg.progress = on_iter;
    cfg.progress_ctx = &pr;
    fprintf(stderr, "%s on %s: %zu examples x %zu dimensions (%s)%s\n", model, ds.source, n, D,
            cfg.likelihood, per_class ? ", one fit per class" : "");
    double t0 = cli_now();
    if (dgm_tractable_fit(&m, &rf, (dgm_tractable_kind)kind, x, per_class ? ds.y : NULL, n, D,
                          per_class ? ds.n_classes : 0, &cfg, &err)) {
        cli_fail("train", "%s: %s", ds.source, err.msg);
        goto done;
    }
    double secs = cli_now() - t0;
    if (dgm_model_save(m, out, &err)) {
        cli_fail_err("train", &err);
        goto done;
    }
    /* summary: per class for conditional models, with the total train log-likelihood */
    int G = per_class ? ds.n_classes : 1;
    size_t per_params = dgm_model_n_params(m) / (size_t)G;
    j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", dgm_model_type(m));
    cJSON_AddStringToObject(j, "data", ds.source);
    cJSON_AddStringToObject(j, "likelihood", cfg.likelihood);
    cJSON_AddNumberToObject(j, "dim", (double)D);
    if (mixture)
        cJSON_AddNumberToObject(j, "n_components", (double)K);
    if (gaussian)
        cJSON_AddStringToObject(j, "covariance_type", cov);
    cJSON_AddNumberToObject(j, "n_classes", per_class ? ds.n_classes : 0);
    cJSON *classes = per_class ? cJSON_AddArrayToObject(j, "classes") : NULL;
    double total = 0, bic, aic;
    for (int g = 0; g < G; g++) {
        dgm_mixture_info f;
        dgm_mixture_fit_info(&f, m, g, NULL);
        total += f.log_likelihood * (double)f.n;
        cJSON *o = info_json(&f, D, cfg.likelihood, per_params, &bic, &aic);
        if (classes) {
            cJSON_AddNumberToObject(o, "class", g);
            cJSON_AddItemToArray(classes, o);
        } else {
            for (cJSON *e = o->child; e; e = e->next)
                cJSON_AddItemToObject(j, e->string, cJSON_Duplicate(e, 1));
            cJSON_Delete(o);
        }
    }
    double mean = total / (double)n, npar = (double)dgm_model_n_params(m);
    bic = -2 * total + npar * log((double)n);
    aic = -2 * total + 2 * npar;
    if (per_class) { /* log p(x | y) summed over the training set */
        cJSON_AddNumberToObject(j, "n", (double)n);
        cJSON_AddNumberToObject(j, "log_likelihood", mean);
        cJSON_AddNumberToObject(j, "nll_nats", -mean);
        cJSON_AddNumberToObject(j, "bits_per_dim", dgm_bits_per_dim(-mean, D, cfg.likelihood));
    }
    cJSON_AddNumberToObject(j, "bic", bic);
    cJSON_AddNumberToObject(j, "aic", aic);
    cJSON_AddNumberToObject(j, "n_params", npar);
    cJSON_AddNumberToObject(j, "fit_seconds", secs);
    cJSON_AddNumberToObject(j, "threads", dgm_get_threads());
    cJSON_AddStringToObject(j, "output", out);
    if (c.json) {
        cli_print_json(j);
        j = NULL;
    } else {
        printf("%s%s on %s: %zu examples x %zu dimensions, %s data\n", dgm_model_type(m),
               per_class ? " per class" : "", ds.source, n, D, cfg.likelihood);
        for (int g = 0; g < G; g++) {
            dgm_mixture_info f;
            dgm_mixture_fit_info(&f, m, g, NULL);
            char cl[24] = "";
            if (per_class)
                snprintf(cl, sizeof cl, "class %d: ", g);
            printf("  %s%d iteration%s%s, train log-likelihood %.4f nats/example (%.4f bits/dim)\n",
                   cl, f.n_iter, f.n_iter == 1 ? "" : "s",
                   !mixture ? " (closed form)" : f.converged ? ", converged" : ", NOT converged",
                   f.log_likelihood, dgm_bits_per_dim(-f.log_likelihood, D, cfg.likelihood));
        }
        printf("  train NLL %.4f nats/example, %.4f bits/dim; BIC %.1f, AIC %.1f, %.0f parameters\n",
               -mean, dgm_bits_per_dim(-mean, D, cfg.likelihood), bic, aic, npar);
        printf("  fitted in %.2f s with %d thread%s; saved %s\n", secs, dgm_get_threads(),
               dgm_get_threads() == 1 ? "" : "s", out);
    }
    rc = 0;
done:
    cJSON_Delete(j);
    dgm_model_free(m);
    dgm_free(x);
    dgm_data_free(&ds);
    return rc;
}
