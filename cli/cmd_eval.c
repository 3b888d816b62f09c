/* dgm eval: how well a model explains data. For a VAE: the negative ELBO with its
 * reconstruction and KL terms, and the importance-sampled -log p(x) with K samples
 * (an estimate that is biased upward for finite K; Burda et al. 2015). For exact models:
 * the exact NLL with BIC and AIC. Both in nats per example and bits per dimension.
 * Memory: the data stay in their loaded form (8-bit images as bytes) and each batch of
 * --batch examples is prepared (binarized with the evaluation seed) when it is used, so
 * only one batch exists as floats. Batch i0 forks its ELBO noise from stream 0 and its
 * importance samples from stream 1 of --seed, each with index i0. The time reported is
 * that of the model's computations, without loading or preparing the data. Under mpirun
 * the batches are split over the ranks (the same numbers as one process) and the time is
 * rank 0's. */
#include "model_io.h"
#include "progress.h"
#include "par/par.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void mean_se(const double *v, size_t n, double *mean, double *se)
{
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - *mean) * (v[i] - *mean);
    *se = n > 1 ? sqrt(ss / (double)(n - 1) / (double)n) : 0.0;
}

int cmd_eval(int argc, char **argv)
{
    const char *data = "fashion-mnist:test", *labels = NULL, *prec = "fp32", *noise = NULL;
    long k = 1000, limit = 0, batch = 100;
    cli_common c;
    cli_common_defaults(&c);
    const cli_opt table[] = {
        {"--data", OPT_STR, &data, "SPEC", "evaluation data", 1, 0},
        {"--labels", OPT_STR, &labels, "PATH", "labels for conditional models", 1, 0},
        {"--importance-samples", OPT_LONG, &k, "K", "importance samples per example (latent-variable models)", 1, 1e7},
        {"--limit", OPT_LONG, &limit, "N", "evaluate the first N examples (0: all)", 0, 1e12},
        {"--batch", OPT_LONG, &batch, "N", "examples per pass", 1, 1e6},
        {"--precision", OPT_STR, &prec, "P", "VAE decoder products for -log p(x): fp32, or bf16 "
         "(oneDNN; the ELBO stays fp32)", 1, 0},
        {"--noise", OPT_STR, &noise, "PATH", "VAEs: the ELBO's noise, n x Z standard-normal draws "
         "(NPY or CSV), instead of the seeded ones (to compare with another implementation)", 1, 0},
        CLI_COMMON_OPTS(&c),
        CLI_ALIAS("--k", "--importance-samples"),
    };
    const char *pos[1];
    int np;
    int r = cli_parse("eval", "MODEL [options]", "Negative ELBO, importance-sampled NLL and bits/dim "
                      "(VAEs), or exact NLL with BIC/AIC (tractable models).", argc, argv, table,
                      (int)(sizeof table / sizeof table[0]), pos, 1, &np);
    if (r)
        return r == 1 ? 0 : 2;
    if (np != 1)
        return cli_usage("eval", "a model file is required (dgm eval MODEL)");
    cli_common_apply(&c);
    dgm_err err = {0};
    dgm_model *m = NULL;
    if (dgm__par_agree(dgm_model_load(&m, pos[0], &err), &err)) { /* every rank stops */
        dgm_model_free(m);
        return cli_fail_err("eval", &err);
    }
    int prc = cli_apply_precision("eval", m, pos[0], prec);
    if (prc) {
        dgm_model_free(m);
        return prc;
    }
    dgm_dataset ds;
    size_t n = 0, D = dgm_model_dim(m);
    if (cli_load_eval_data("eval", m, data, labels, (size_t)limit, &ds, NULL, &n)) {
        dgm_model_free(m);
        return 1;
    }
    int rc = 1, vae = dgm_model_is_vae(m), exact = dgm_model_exact(m);
    dgm_dataset eps = {0};
    const int32_t *y = dgm_model_n_classes(m) > 0 ? ds.y : NULL;
    size_t B = n < (size_t)batch ? n : (size_t)batch;
    float *x = dgm_malloc_array(B, D * sizeof(float)); /* B x D: the batch being evaluated */
    double *ll = malloc(n * sizeof(double)), *elbo = malloc(n * sizeof(double));
    double *rec = malloc(n * sizeof(double)), *kl = malloc(n * sizeof(double));
    if (!x || !ll || !elbo || !rec || !kl) { cli_fail("eval", "out of memory"); goto done; }
    if (noise) {
        size_t Z = vae ? dgm_vae_config(m)->latent : 0;
        if (!vae) {
            cli_usage("eval", "--noise: %s is a %s model; the noise is a VAE's", pos[0],
                      dgm_model_type(m));
            rc = 2;
            goto done;
        }
        if (dgm_data_load(&eps, noise, NULL, &err)) {
            cli_fail_err("eval", &err);
            goto done;
        }
        if (eps.n < n || eps.d != Z || !eps.x) {
            cli_fail("eval", "%s: %zu x %zu noise, but %zu examples need %zu x %zu", noise,
                     eps.n, eps.d, n, n, Z);
            goto done;
        }
    }
    dgm_rng rng, er, lr;
    dgm_rng_init(&rng, (uint64_t)c.seed);
    dgm_rng_fork(&er, &rng, 0);
    dgm_rng_fork(&lr, &rng, 1);
    double t_elbo = 0, t_ll = 0;
    /* each batch is prepared once, then gets its ELBO (VAEs) and its log p(x) */
    cli_progress pr;
    /* under mpirun each rank takes its batches (whole batches, so each draws what it would
     * in one process), and the per-example values are then shared with every rank */
    size_t r0, r1;
    dgm__par_rows_mine(&r0, &r1, n, B);
    cli_progress_start(&pr, exact ? "log p(x)" : "log p(x), IS", r1 - r0);
    dgm_status s = DGM_OK;
    for (size_t i0 = r0; i0 < r1 && !s; i0 += B) {
        size_t b = n - i0 < B ? n - i0 : B;
        const int32_t *yb = y ? y + i0 : NULL;
        dgm_rng be, bl;
        dgm_rng_fork(&be, &er, i0);
        dgm_rng_fork(&bl, &lr, i0);
        s = dgm_eval_prepare_rows(x, m, &ds, i0, b, DGM_EVAL_PREP_SEED, &err);
        double t0 = cli_now();
        if (!s && vae && noise)
            s = dgm_vae_elbo_noise(m, eps.x + i0 * eps.d, elbo + i0, rec + i0, kl + i0, x, yb, b,
                                   &err);
        else if (!s && vae)
            s = dgm_vae_elbo(m, &be, elbo + i0, rec + i0, kl + i0, x, yb, b, &err);
        double t1 = cli_now();
        if (!s)
            s = dgm_model_log_prob(m, &bl, ll + i0, x, yb, b, (int)k, &err);
        t_elbo += t1 - t0;
        t_ll += cli_now() - t1;
        if (!s)
            cli_progress_update(&pr, i0 + b - r0, "ex/s", NAN);
    }
    cli_progress_end(&pr);
    if (dgm__par_agree(s, &err)) {
        cli_fail_err("eval", &err);
        goto done;
    }
    dgm__par_share_rows(ll, n, B, sizeof *ll);
    if (vae) {
        dgm__par_share_rows(elbo, n, B, sizeof *elbo);
        dgm__par_share_rows(rec, n, B, sizeof *rec);
        dgm__par_share_rows(kl, n, B, sizeof *kl);
    }
    for (size_t i = 0; i < n; i++)
        ll[i] = -ll[i]; /* now the NLL */
    double nll, nll_se, ne = 0, ne_se = 0, rm = 0, rse = 0, km = 0, kse = 0;
    mean_se(ll, n, &nll, &nll_se);
    if (vae) {
        for (size_t i = 0; i < n; i++)
            elbo[i] = -elbo[i];
        mean_se(elbo, n, &ne, &ne_se);
        mean_se(rec, n, &rm, &rse);
        mean_se(kl, n, &km, &kse);
    }
    const char *lik = dgm_model_likelihood(m);
    double bpd = dgm_bits_per_dim(nll, D, lik);
    double total = -nll * (double)n, np_ = (double)dgm_model_n_params(m);
    double bic = -2 * total + np_ * log((double)n), aic = -2 * total + 2 * np_;
    if (c.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", pos[0]);
        cJSON_AddStringToObject(j, "type", dgm_model_type(m));
        cJSON_AddStringToObject(j, "data", ds.source);
        cJSON_AddStringToObject(j, "likelihood", lik);
        cJSON_AddNumberToObject(j, "n", (double)n);
        cJSON_AddNumberToObject(j, "k", exact ? 0 : (double)k);
        cJSON_AddBoolToObject(j, "exact", exact);
        cJSON_AddNumberToObject(j, "nll_nats", nll);
        cJSON_AddNumberToObject(j, "nll_stderr", nll_se);
        cJSON_AddNumberToObject(j, "bits_per_dim", bpd);
        cJSON_AddNumberToObject(j, "elbo_nats", vae ? -ne : -nll);
        if (vae) {
            cJSON_AddNumberToObject(j, "neg_elbo_nats", ne);
            cJSON_AddNumberToObject(j, "neg_elbo_stderr", ne_se);
            cJSON_AddNumberToObject(j, "elbo_bits_per_dim", dgm_bits_per_dim(ne, D, lik));
            cJSON_AddNumberToObject(j, "recon_nats", rm);
            cJSON_AddNumberToObject(j, "kl_nats", km);
        }
        cJSON_AddNumberToObject(j, "bic", bic);
        cJSON_AddNumberToObject(j, "aic", aic);
        cJSON_AddNumberToObject(j, "n_params", np_);
        cJSON_AddNumberToObject(j, "seconds_elbo", t_elbo);
        cJSON_AddNumberToObject(j, "seconds_nll", t_ll);
        cJSON_AddStringToObject(j, "precision", prec);
        cli_print_json(j);
    } else {
        printf("%s (%s) on %s, %zu examples, %s likelihood\n", pos[0], dgm_model_type(m),
               ds.source, n, lik);
        if (vae) {
            printf("  negative ELBO     %10.3f +- %.3f nats  (%.4f bits/dim)\n", ne, ne_se,
                   dgm_bits_per_dim(ne, D, lik));
            printf("    reconstruction  %10.3f nats\n    KL              %10.3f nats\n", rm, km);
            printf("  -log p(x), K=%-5ld %9.3f +- %.3f nats  (%.4f bits/dim)  [importance-sampled, "
                   "an upper bound in expectation]\n", k, nll, nll_se, bpd);
        } else {
            printf("  -log p(x)         %10.3f +- %.3f nats  (%.4f bits/dim)  [exact]\n", nll,
                   nll_se, bpd);
            printf("  BIC %.1f  AIC %.1f  (%.0f parameters)\n", bic, aic, np_);
        }
        printf("  time: %.2f s%s\n", t_elbo + t_ll,
               strcmp(prec, "bf16") ? "" : "  (bf16 decoder products for -log p(x))");
    }
    rc = 0;
done:
    free(ll);
    free(elbo);
    free(rec);
    free(kl);
    dgm_free(x);
    dgm_data_free(&ds);
    dgm_data_free(&eps);
    dgm_model_free(m);
    return rc;
}
