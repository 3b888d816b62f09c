/* dgm sample: draws from any model; a PNG grid by default, raw values as CSV/NPY/IDX,
 * sequences as FASTA. Conditional models draw one row per class unless --label is given. */
#include "model_io.h"
#include "potts_cmds.h"
#include "progress.h"

#include <stdlib.h>
#include <string.h>

int cmd_sample(int argc, char **argv)
{
    long n = 64, cols = 0, burn_in = -1, thin = -1, chains = -1;
    int mean = 0;
    const char *out = "samples.png", *label = NULL, *prec = "fp32";
    cli_common c;
    cli_common_defaults(&c);
    const cli_opt table[] = {
        {"-n", OPT_LONG, &n, "N", "number of samples (with classes and no --label: per class)", 1, 1e8},
        {"-o", OPT_STR, &out, "PATH", "output: .png grid, .csv, .npy, .idx, or .fasta for sequences", 1, 0},
        {"--mean", OPT_FLAG, &mean, NULL, "decoder means instead of draws", 1, 0},
        {"--label", OPT_STR, &label, "C", "class to draw from (number or name), conditional models", 1, 0},
        {"--cols", OPT_LONG, &cols, "N", "images per row of the PNG grid (0: square)", 0, 10000},
        {"--precision", OPT_STR, &prec, "P", "VAE decoder products: fp32, or bf16 (oneDNN)", 1, 0},
        {"--burn-in", OPT_LONG, &burn_in, "N", "potts: Gibbs sweeps discarded per chain (-1: 500)", -1, 1e12},
        {"--thin", OPT_LONG, &thin, "N", "potts: keep every N-th sweep (-1: 10)", -1, 1e12},
        {"--chains", OPT_LONG, &chains, "N", "potts: independent chains (-1: 16)", -1, 1e9},
        CLI_COMMON_OPTS(&c),
    };
    const char *pos[1];
    int np;
    int r = cli_parse("sample", "MODEL [options]", "Draw samples from a model.", argc, argv, table,
                      (int)(sizeof table / sizeof table[0]), pos, 1, &np);
    if (r)
        return r == 1 ? 0 : 2;
    if (np != 1)
        return cli_usage("sample", "a model file is required (dgm sample MODEL)");
    cli_common_apply(&c);
    dgm_err err = {0};
    dgm_model *m = NULL;
    if (dgm_model_load(&m, pos[0], &err))
        return cli_fail_err("sample", &err);
    if (!strcmp(dgm_model_type(m), "potts")) { /* Gibbs chains (cli/potts_cmds.c) */
        int rc_p = thin == 0 || chains == 0
                      ? cli_usage("sample", "--thin and --chains must be at least 1")
                      : cli_potts_sample(m, out, (size_t)n, (uint64_t)c.seed, burn_in, thin,
                                         chains, c.json);
        dgm_model_free(m);
        return rc_p;
    }
    if (burn_in >= 0 || thin >= 0 || chains >= 0) {
        dgm_model_free(m);
        return cli_usage("sample", "--burn-in, --thin and --chains are for Potts models");
    }
    int prc = cli_apply_precision("sample", m, pos[0], prec);
    if (prc) {
        dgm_model_free(m);
        return prc;
    }
    int C = dgm_model_n_classes(m), rc = 1;
    size_t D = dgm_model_dim(m), total = (size_t)n, h, w;
    int32_t *y = NULL;
    float *x = NULL;
    if (label && C == 0) {
        cli_fail("sample", "%s: --label needs a class-conditional model", pos[0]);
        goto done;
    }
    int fixed = -1;
    if (label && (fixed = cli_parse_class(label, C)) < 0) {
        rc = cli_usage("sample", "--label: '%s' is not a class of %s (0..%d)", label, pos[0], C - 1);
        goto done;
    }
    if (C > 0) {
        if (fixed < 0)
            total = (size_t)n * (size_t)C;
        y = malloc(total * sizeof *y);
        if (!y) { cli_fail("sample", "out of memory"); goto done; }
        for (size_t i = 0; i < total; i++)
            y[i] = fixed >= 0 ? fixed : (int32_t)(i / (size_t)n);
        if (fixed < 0 && !cols)
            cols = n;
    }
    x = dgm_malloc_array(total, D * sizeof(float));
    if (!x) { cli_fail("sample", "out of memory for %zu samples", total); goto done; }
    dgm_rng rng;
    dgm_rng_init(&rng, (uint64_t)c.seed);
    double t0 = cli_now();
    if (dgm_model_sample(m, &rng, x, y, total, mean, &err)) {
        cli_fail_err("sample", &err);
        goto done;
    }
    double secs = cli_now() - t0;
    cli_geometry(m, &h, &w);
    const char *dot = strrchr(out, '.');
    if (C > 0 && fixed < 0 && dot && !strcmp(dot, ".png") && h * w == D) {
        /* one row per class, its name at the left */
        char (*names)[48] = calloc((size_t)C, sizeof *names);
        const char **lab = calloc((size_t)C, sizeof *lab);
        if (!names || !lab) {
            free(names);
            free(lab);
            cli_fail("sample", "out of memory");
            goto done;
        }
        for (int k = 0; k < C; k++) {
            const char *nm = cli_class_name(k, C);
            snprintf(names[k], sizeof names[k], "%d %s", k, nm ? nm : "");
            lab[k] = names[k];
        }
        dgm_status ws = dgm_png_write_grid_labeled(out, x, total, h, w, (size_t)cols, lab,
                                                   (size_t)C, &err);
        free(names);
        free(lab);
        if (ws) {
            cli_fail_err("sample", &err);
            goto done;
        }
    } else if (cli_write_matrix("sample", out, x, total, D, h, w, (size_t)cols)) {
        goto done;
    }
    if (c.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "output", out);
        cJSON_AddNumberToObject(j, "n", (double)total);
        cJSON_AddNumberToObject(j, "seconds", secs);
        cJSON_AddBoolToObject(j, "mean", mean);
        cJSON_AddStringToObject(j, "precision", prec);
        if (C > 0 && fixed < 0) {
            cJSON *names = cJSON_AddArrayToObject(j, "rows");
            for (int k = 0; k < C; k++) {
                const char *nm = cli_class_name(k, C);
                cJSON_AddItemToArray(names, nm ? cJSON_CreateString(nm) : cJSON_CreateNumber(k));
            }
        }
        cli_print_json(j);
    } else {
        printf("wrote %zu %s to %s (%.3f s)\n", total, mean ? "decoder means" : "samples", out, secs);
        if (C > 0 && fixed < 0)
            for (int k = 0; k < C; k++) {
                const char *nm = cli_class_name(k, C);
                printf("  row %d: class %d%s%s\n", k + 1, k, nm ? " " : "", nm ? nm : "");
            }
    }
    rc = 0;
done:
    free(y);
    dgm_free(x);
    dgm_model_free(m);
    return rc;
}
