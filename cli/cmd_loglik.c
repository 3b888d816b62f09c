/* dgm loglik MODEL --data SPEC: the empirical log-likelihood of a data set under a model:
 * mean log p(x) per example, the total (the data set's joint log-likelihood), the standard
 * error, and bits per dimension (docs/math.md for the 8-bit convention). Latent-variable
 * models give importance-sampled estimates with --importance-samples samples, biased low. */
#include "cli.h"
#include "potts_cmds.h"
#include "par/par.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int cmd_loglik(int argc, char **argv)
{
    const char *data = "fashion-mnist:test", *labels = NULL, *out = NULL;
    long k = 1000, limit = 0;
    cli_common c;
    cli_common_defaults(&c);
    const cli_opt table[] = {
        {"--data", OPT_STR, &data, "SPEC", "data: a name (fashion-mnist:test) or a file (CSV, NPY, IDX)", 1, 0},
        {"--labels", OPT_STR, &labels, "PATH", "labels for class-conditional models", 1, 0},
        {"--importance-samples", OPT_LONG, &k, "K", "importance samples per example (latent-variable models)", 1, 1e7},
        {"--limit", OPT_LONG, &limit, "N", "use the first N examples (0: all)", 0, 1e12},
        {"-o", OPT_STR, &out, "PATH", "potts: CSV of name, energy, pseudo_loglik per sequence", 1, 0},
        CLI_COMMON_OPTS(&c),
        CLI_ALIAS("--k", "--importance-samples"),
    };
    const char *pos[1];
    int np;
    int r = cli_parse("loglik", "MODEL [options]", "Empirical log-likelihood of data under a model: "
                      "mean and total log p(x) in nats, standard error, bits/dim.", argc, argv,
                      table, (int)(sizeof table / sizeof table[0]), pos, 1, &np);
    if (r)
        return r == 1 ? 0 : 2;
    if (np != 1)
        return cli_usage("loglik", "a model file is required (dgm loglik MODEL --data SPEC)");
    cli_common_apply(&c);
    dgm_err err = {0};
    dgm_model *m = NULL;
    if (dgm__par_agree(dgm_model_load(&m, pos[0], &err), &err)) { /* every rank stops */
        dgm_model_free(m);
        return cli_fail_err("loglik", &err);
    }
    if (!strcmp(dgm_model_type(m), "potts")) { /* energies, not log p (cli/potts_cmds.c) */
        int rc = cli_potts_loglik(m, pos[0], data, out, (size_t)limit, c.json);
        dgm_model_free(m);
        return rc;
    }
    if (out) {
        dgm_model_free(m);
        return cli_fail("loglik", "-o: per-sequence output is for Potts models");
    }
    dgm_dataset ds = {0};
    if (dgm__par_agree(dgm_data_load(&ds, data, labels, &err), &err)) {
        dgm_data_free(&ds); /* loaded here, failed on another rank */
        dgm_model_free(m);
        return cli_fail_err("loglik", &err);
    }
    if (dgm_model_n_classes(m) > 0 && !ds.y) {
        dgm_data_free(&ds);
        dgm_model_free(m);
        return cli_fail("loglik", "%s: the model is class-conditional, and the data has no labels "
                        "(give --labels)", data);
    }
    int exact = dgm_model_exact(m);
    size_t n = limit && (size_t)limit < ds.n ? (size_t)limit : ds.n;
    if (cli_isatty_err()) /* scripts get clean stderr: only errors */
        fprintf(stderr, "dgm loglik: %zu examples of %s under %s (%s)%s\n", n, ds.source, pos[0],
            dgm_model_type(m), exact ? "" : ", importance-sampled");
    dgm_rng rng;
    dgm_rng_init(&rng, (uint64_t)c.seed);
    dgm_loglik_result res;
    int rc = 0;
    if (dgm_loglik(&rng, &res, NULL, m, &ds, (size_t)limit, (int)k, &err)) {
        rc = cli_fail_err("loglik", &err);
    } else if (c.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "loglik_mean_nats", res.mean);
        cJSON_AddNumberToObject(j, "loglik_total_nats", res.total);
        cJSON_AddNumberToObject(j, "stderr", res.se);
        cJSON_AddNumberToObject(j, "stderr_total", res.se * (double)res.n);
        cJSON_AddNumberToObject(j, "bits_per_dim", res.bits_per_dim);
        cJSON_AddNumberToObject(j, "n", (double)res.n);
        cJSON_AddNumberToObject(j, "dims", (double)res.dims);
        cJSON_AddBoolToObject(j, "exact", res.exact);
        cJSON_AddNumberToObject(j, "k", exact ? 0 : (double)k);
        cJSON_AddStringToObject(j, "likelihood", dgm_model_likelihood(m));
        cJSON_AddStringToObject(j, "model", pos[0]);
        cJSON_AddStringToObject(j, "data", ds.source);
        cli_print_json(j);
    } else {
        printf("%s (%s) on %s: %zu examples, %s likelihood\n", pos[0], dgm_model_type(m),
               ds.source, res.n, dgm_model_likelihood(m));
        printf("  mean log p(x)   %.6f nats  +- %.3g (stderr)\n", res.mean, res.se);
        printf("  total log p(x)  %.6f nats  +- %.3g\n", res.total, res.se * (double)res.n);
        printf("  bits/dim        %.6f  (%zu dims)\n", res.bits_per_dim, res.dims);
        if (!res.exact)
            printf("  note: importance-sampled with k = %ld: log p(x) is biased low (an ELBO-like "
                   "lower bound in expectation)\n", k);
    }
    dgm_data_free(&ds);
    dgm_model_free(m);
    return rc;
}
