/* dgm encode: the posterior means of z (and optionally log-variances) for each example. */
#include "model_io.h"

#include <stdlib.h>
#include <string.h>

int cmd_encode(int argc, char **argv)
{
    const char *data = "fashion-mnist:test", *labels = NULL, *out = "latents.csv";
    long limit = 0;
    int with_logvar = 0;
    cli_common c;
    cli_common_defaults(&c);
    const cli_opt table[] = {
        {"--data", OPT_STR, &data, "SPEC", "data to encode", 1, 0},
        {"--labels", OPT_STR, &labels, "PATH", "labels for conditional models", 1, 0},
        {"-o", OPT_STR, &out, "PATH", "output: .csv or .npy, one row per example", 1, 0},
        {"--limit", OPT_LONG, &limit, "N", "encode the first N examples (0: all)", 0, 1e12},
        {"--logvar", OPT_FLAG, &with_logvar, NULL, "append the posterior log-variances as Z more columns", 1, 0},
        CLI_COMMON_OPTS(&c),
    };
    const char *pos[1];
    int np;
    int r = cli_parse("encode", "MODEL [options]", "Write the posterior means of the latent code "
                      "(VAEs).", argc, argv, table, (int)(sizeof table / sizeof table[0]), pos, 1, &np);
    if (r)
        return r == 1 ? 0 : 2;
    if (np != 1)
        return cli_usage("encode", "a model file is required (dgm encode MODEL)");
    cli_common_apply(&c);
    dgm_err err = {0};
    dgm_model *m = NULL;
    if (dgm_model_load(&m, pos[0], &err))
        return cli_fail_err("encode", &err);
    if (!dgm_model_is_vae(m)) {
        cli_fail("encode", "%s: a %s model has no encoder", pos[0], dgm_model_type(m));
        dgm_model_free(m);
        return 1;
    }
    dgm_dataset ds;
    float *x = NULL, *mu = NULL, *lv = NULL, *z = NULL;
    size_t n;
    int rc = 1;
    if (cli_load_eval_data("encode", m, data, labels, (size_t)limit, &ds, &x, &n)) {
        dgm_model_free(m);
        return 1;
    }
    size_t Z = dgm_vae_config(m)->latent, W = with_logvar ? 2 * Z : Z;
    mu = dgm_malloc_array(n, Z * sizeof(float));
    lv = dgm_malloc_array(n, Z * sizeof(float));
    z = dgm_malloc_array(n, W * sizeof(float));
    if (!mu || !lv || !z) { cli_fail("encode", "out of memory"); goto done; }
    if (dgm_vae_encode(m, mu, lv, x, dgm_model_n_classes(m) ? ds.y : NULL, n, &err)) {
        cli_fail_err("encode", &err);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(z + i * W, mu + i * Z, Z * sizeof(float));
        if (with_logvar)
            memcpy(z + i * W + Z, lv + i * Z, Z * sizeof(float));
    }
    if (cli_write_matrix("encode", out, z, n, W, 1, W, 1))
        goto done;
    if (c.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "output", out);
        cJSON_AddNumberToObject(j, "n", (double)n);
        cJSON_AddNumberToObject(j, "latent", (double)Z);
        cli_print_json(j);
    } else {
        printf("wrote %zu x %zu latent %s to %s\n", n, W, with_logvar ? "means and log-variances" : "means", out);
    }
    rc = 0;
done:
    dgm_free(mu);
    dgm_free(lv);
    dgm_free(z);
    dgm_free(x);
    dgm_data_free(&ds);
    dgm_model_free(m);
    return rc;
}
