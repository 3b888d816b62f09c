/* dgm interpolate: decodes points on straight lines between the posterior means of pairs
 * of examples, one row per pair: z(t) = (1 - t) mu_a + t mu_b, t = 0 .. 1. */
#include "model_io.h"

#include <stdlib.h>
#include <string.h>

int cmd_interpolate(int argc, char **argv)
{
    const char *data = "fashion-mnist:test", *labels = NULL, *out = "interpolation.png";
    long steps = 10, pairs = 8, from = -1, to = -1;
    cli_common c;
    cli_common_defaults(&c);
    const cli_opt table[] = {
        {"--data", OPT_STR, &data, "SPEC", "images whose codes are the end points", 1, 0},
        {"--labels", OPT_STR, &labels, "PATH", "labels for conditional models (the start's label is used)", 1, 0},
        {"--from", OPT_LONG, &from, "I", "index of the start image (default: pairs 0-1, 2-3, ...)", -1, 1e12},
        {"--to", OPT_LONG, &to, "J", "index of the end image", -1, 1e12},
        {"--pairs", OPT_LONG, &pairs, "N", "rows of consecutive pairs when --from/--to are not given", 1, 1000},
        {"--steps", OPT_LONG, &steps, "S", "points per line, end points included", 2, 1000},
        {"-o", OPT_STR, &out, "PATH", "output: .png (one row per pair), .csv or .npy", 1, 0},
        CLI_COMMON_OPTS(&c),
    };
    const char *pos[1];
    int np;
    int r = cli_parse("interpolate", "MODEL [options]", "Decode straight lines between latent codes.",
                      argc, argv, table, (int)(sizeof table / sizeof table[0]), pos, 1, &np);
    if (r)
        return r == 1 ? 0 : 2;
    if (np != 1)
        return cli_usage("interpolate", "a model file is required (dgm interpolate MODEL)");
    if ((from < 0) != (to < 0))
        return cli_usage("interpolate", "--from and --to go together");
    cli_common_apply(&c);
    dgm_err err = {0};
    dgm_model *m = NULL;
    if (dgm_model_load(&m, pos[0], &err))
        return cli_fail_err("interpolate", &err);
    if (!dgm_model_is_vae(m)) {
        cli_fail("interpolate", "%s: a %s model has no latent space", pos[0], dgm_model_type(m));
        dgm_model_free(m);
        return 1;
    }
    size_t P = from >= 0 ? 1 : (size_t)pairs, S = (size_t)steps;
    size_t need = from >= 0 ? (size_t)(from > to ? from : to) + 1 : 2 * P;
    dgm_dataset ds;
    float *x = NULL, *mu = NULL, *z = NULL, *img = NULL;
    int32_t *y = NULL;
    size_t n, D = dgm_model_dim(m), Z = dgm_vae_config(m)->latent, h, w;
    int rc = 1, cond = dgm_model_n_classes(m) > 0;
    if (cli_load_eval_data("interpolate", m, data, labels, need, &ds, &x, &n)) {
        dgm_model_free(m);
        return 1;
    }
    if (n < need) {
        cli_fail("interpolate", "%s: needs %zu examples, has %zu", data, need, n);
        goto done;
    }
    mu = dgm_malloc_array(n, Z * sizeof(float));
    z = dgm_malloc_array(P * S, Z * sizeof(float));
    img = dgm_malloc_array(P * S, D * sizeof(float));
    y = malloc(P * S * sizeof(int32_t));
    if (!mu || !z || !img || !y) { cli_fail("interpolate", "out of memory"); goto done; }
    if (dgm_vae_encode(m, mu, NULL, x, cond ? ds.y : NULL, n, &err)) {
        cli_fail_err("interpolate", &err);
        goto done;
    }
    for (size_t p = 0; p < P; p++) {
        size_t a = from >= 0 ? (size_t)from : 2 * p, b = from >= 0 ? (size_t)to : 2 * p + 1;
        for (size_t s = 0; s < S; s++) {
            float t = (float)s / (float)(S - 1);
            for (size_t j = 0; j < Z; j++)
                z[(p * S + s) * Z + j] = (1 - t) * mu[a * Z + j] + t * mu[b * Z + j];
            y[p * S + s] = cond ? ds.y[a] : 0;
        }
    }
    if (dgm_vae_decode(m, img, z, cond ? y : NULL, P * S, &err)) {
        cli_fail_err("interpolate", &err);
        goto done;
    }
    cli_geometry(m, &h, &w);
    if (cli_write_matrix("interpolate", out, img, P * S, D, h, w, S))
        goto done;
    if (c.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "output", out);
        cJSON_AddNumberToObject(j, "pairs", (double)P);
        cJSON_AddNumberToObject(j, "steps", (double)S);
        cli_print_json(j);
    } else {
        printf("wrote %zu interpolation%s of %zu steps to %s\n", P, P > 1 ? "s" : "", S, out);
    }
    rc = 0;
done:
    dgm_free(mu);
    dgm_free(z);
    dgm_free(img);
    free(y);
    dgm_free(x);
    dgm_data_free(&ds);
    dgm_model_free(m);
    return rc;
}
