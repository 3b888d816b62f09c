/* dgm reconstruct: inputs (as the model sees them) above their reconstructions, the
 * decoder mean at the posterior mean of z. */
#include "model_io.h"

#include <stdlib.h>
#include <string.h>

int cmd_reconstruct(int argc, char **argv)
{
    const char *data = "fashion-mnist:test", *labels = NULL, *out = "reconstructions.png";
    long n = 16, first = 0;
    cli_common c;
    cli_common_defaults(&c);
    const cli_opt table[] = {
        {"--data", OPT_STR, &data, "SPEC", "images to reconstruct", 1, 0},
        {"--labels", OPT_STR, &labels, "PATH", "labels for conditional models", 1, 0},
        {"-n", OPT_LONG, &n, "N", "number of images", 1, 10000},
        {"--first", OPT_LONG, &first, "I", "index of the first image", 0, 1e12},
        {"-o", OPT_STR, &out, "PATH", "output: .png (pairs of rows), .csv or .npy (reconstructions)", 1, 0},
        CLI_COMMON_OPTS(&c),
    };
    const char *pos[1];
    int np;
    int r = cli_parse("reconstruct", "MODEL [options]", "Write inputs above their reconstructions.",
                      argc, argv, table, (int)(sizeof table / sizeof table[0]), pos, 1, &np);
    if (r)
        return r == 1 ? 0 : 2;
    if (np != 1)
        return cli_usage("reconstruct", "a model file is required (dgm reconstruct MODEL)");
    cli_common_apply(&c);
    dgm_err err = {0};
    dgm_model *m = NULL;
    if (dgm_model_load(&m, pos[0], &err))
        return cli_fail_err("reconstruct", &err);
    if (!dgm_model_is_vae(m)) {
        cli_fail("reconstruct", "%s: a %s model has no encoder", pos[0], dgm_model_type(m));
        dgm_model_free(m);
        return 1;
    }
    dgm_dataset ds;
    float *x = NULL, *mu = NULL, *rec = NULL, *grid = NULL;
    size_t total, D = dgm_model_dim(m), h, w;
    int rc = 1;
    if (cli_load_eval_data("reconstruct", m, data, labels, (size_t)(first + n), &ds, &x, &total)) {
        dgm_model_free(m);
        return 1;
    }
    if ((size_t)first >= total) {
        cli_fail("reconstruct", "%s: --first %ld is past the last example (%zu)", data, first, total);
        goto done;
    }
    size_t k = total - (size_t)first, Z = dgm_vae_config(m)->latent, cols = k < 16 ? k : 16;
    const float *xi = x + (size_t)first * D;
    const int32_t *y = dgm_model_n_classes(m) ? ds.y + first : NULL;
    mu = dgm_malloc_array(k, Z * sizeof(float));
    rec = dgm_malloc_array(k, D * sizeof(float));
    grid = dgm_malloc_array(2 * k + cols, D * sizeof(float));
    if (!mu || !rec || !grid) { cli_fail("reconstruct", "out of memory"); goto done; }
    if (dgm_vae_encode(m, mu, NULL, xi, y, k, &err) || dgm_vae_decode(m, rec, mu, y, k, &err)) {
        cli_fail_err("reconstruct", &err);
        goto done;
    }
    cli_geometry(m, &h, &w);
    const char *dot = strrchr(out, '.');
    if (dot && !strcmp(dot, ".png")) {
        /* rows of inputs, each followed by the row of their reconstructions */
        size_t rows = 0;
        for (size_t i0 = 0; i0 < k; i0 += cols) {
            for (size_t i = 0; i < cols; i++) {
                float *dst = grid + (rows * cols + i) * D;
                if (i0 + i < k) memcpy(dst, xi + (i0 + i) * D, D * sizeof(float));
                else memset(dst, 0, D * sizeof(float));
                dst = grid + ((rows + 1) * cols + i) * D;
                if (i0 + i < k) memcpy(dst, rec + (i0 + i) * D, D * sizeof(float));
                else memset(dst, 0, D * sizeof(float));
            }
            rows += 2;
        }
        if (cli_write_matrix("reconstruct", out, grid, rows * cols, D, h, w, cols))
            goto done;
    } else if (cli_write_matrix("reconstruct", out, rec, k, D, h, w, cols)) {
        goto done;
    }
    if (c.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "output", out);
        cJSON_AddNumberToObject(j, "n", (double)k);
        cli_print_json(j);
    } else {
        printf("wrote %zu inputs and reconstructions to %s\n", k, out);
    }
    rc = 0;
done:
    dgm_free(mu);
    dgm_free(rec);
    dgm_free(grid);
    dgm_free(x);
    dgm_data_free(&ds);
    dgm_model_free(m);
    return rc;
}
