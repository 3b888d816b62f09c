/* dgm train --model gaussian|gmm|bernoulli|bernoulli-mixture: the tractable baselines.
 * Reads the same data specs as the VAE; dgm_fit prepares the rows (8-bit images
 * dequantised for the Gaussians, grey levels binarized for the Bernoullis) and fits by EM
 * or in closed form, --per-class one model per label into a class-conditional file. One
 * progress line per EM iteration goes to stderr; the summary (train log-likelihood,
 * bits/dim, BIC, AIC) to stdout, as text or, with --json, one JSON object. cmd_train.c
 * calls it with argv unchanged (argv[0] = "train"). */
#include "cli.h"
#include "fit_view.h"
#include "par/par.h"

#include <string.h>

int cli_train_tractable(int argc, char **argv);

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
        return cli_usage("train", "--model: unknown model '%s' (gaussian, gmm, bernoulli, "
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
        return cli_usage("train", "--covariance: unknown type '%s' (full, tied, diag, spherical)", cov);
    if (it < 0)
        return cli_usage("train", "--init: unknown method '%s' (kmeans, k-means++, random)", init);
    if (strcmp(binarize, "sample") && strcmp(binarize, "threshold"))
        return cli_usage("train", "--binarize: unknown method '%s' (sample, threshold)", binarize);
    cfg.n_components = (size_t)K, cfg.covariance = (dgm_cov_type)ct, cfg.init = (dgm_mixture_init)it;
    cfg.n_init = n_init, cfg.max_iter = max_iter, cfg.tol = tol, cfg.reg_covar = reg;
    cfg.min_prob = min_prob, cfg.per_class = per_class, cfg.no_dequantize = no_deq;
    cfg.binarize_threshold = !strcmp(binarize, "threshold"), cfg.save_data = save_data;
    dgm_err err = {0};
    dgm_dataset ds = {0};
    /* every rank reads the data; a failure anywhere stops all with the first one's message */
    if (dgm__par_agree(dgm_data_load(&ds, data, labels, &err), &err))
        return cli_fail_err("train", &err);
    dgm_model *m = NULL;
    dgm_fit_data fd = {.data = &ds, .limit = (size_t)limit};
    dgm_fit_cfg fc = dgm_fit_defaults();
    cli_fit_view view;
    cli_fit_view_init(&view, model);
    fc.seed = (uint64_t)c.seed, fc.progress = cli_fit_view_cb, fc.progress_ctx = &view;
    size_t n = limit > 0 && (size_t)limit < ds.n ? (size_t)limit : ds.n;
    const char *lik = !gaussian ? "binary" : !no_deq && ds.is_8bit ? "dequantized" : "continuous";
    int rc = dgm_mixture_create(&m, (dgm_tractable_kind)kind, &cfg, &err);
    if (!rc && ds.kind == DGM_DATA_REAL)
        fprintf(stderr, "%s on %s: %zu examples x %zu dimensions (%s)%s\n", model, ds.source, n,
                ds.d, lik, per_class ? ", one fit per class" : "");
    dgm_fit_result res;
    if (!rc && !(rc = dgm_fit(m, &fd, &fc, &res, &err)) &&
        !(rc = dgm__par_agree(dgm__par_rank() ? DGM_OK : dgm_model_save(m, out, &err), &err)))
        cli_print_mixture_fit(m, &ds, lik, n, per_class, mixture, gaussian, K, cov, res.seconds,
                              out, c.json);
    if (rc)
        cli_fail_err("train", &err);
    dgm_model_free(m);
    dgm_data_free(&ds);
    return rc ? 1 : 0;
}
