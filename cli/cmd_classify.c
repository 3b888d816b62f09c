/* dgm classify: the classifier Bayes' rule derives from a class-conditional model, scored
 * on labelled data (accuracy, per-class accuracy, confusion matrix, mean log p(y|x) and the
 * log-likelihood of the labels); --check-samples asks it which class a generator's
 * conditional samples look like. */
#include "model_io.h"
#include "progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int argmax(const double *v, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b])
            b = i;
    return b;
}

/* Fraction of n samples per class drawn from gen (conditional) that m assigns to it. */
static int check_samples(dgm_model *m, const char *gen_path, long n, int k, uint64_t seed,
                         double *frac, int C)
{
    dgm_err err = {0};
    dgm_model *g = NULL;
    if (gen_path && dgm_model_load(&g, gen_path, &err))
        return cli_fail_err("classify", &err);
    dgm_model *gm = g ? g : m;
    if (dgm_model_n_classes(gm) != C) {
        dgm_model_free(g);
        return cli_fail("classify", "%s: the generator has %d classes, the classifier %d",
                        gen_path ? gen_path : "model", dgm_model_n_classes(gm), C);
    }
    size_t total = (size_t)n * (size_t)C, D = dgm_model_dim(m);
    float *x = dgm_malloc_array(total, D * sizeof(float));
    int32_t *y = malloc(total * sizeof *y);
    double *lp = dgm_malloc_array(total, (size_t)C * sizeof(double));
    int rc = 1;
    if (!x || !y || !lp) { cli_fail("classify", "out of memory"); goto out; }
    for (size_t i = 0; i < total; i++)
        y[i] = (int32_t)(i / (size_t)n);
    dgm_rng rng;
    dgm_rng_init(&rng, seed);
    dgm_rng sr, cr;
    dgm_rng_fork(&sr, &rng, 100);
    dgm_rng_fork(&cr, &rng, 101);
    if (dgm_model_sample(gm, &sr, x, y, total, 0, &err) ||
        dgm_classify(&cr, lp, m, x, total, k, &err)) {
        cli_fail_err("classify", &err);
        goto out;
    }
    for (int c = 0; c < C; c++) {
        size_t hit = 0;
        for (size_t i = (size_t)c * (size_t)n; i < (size_t)(c + 1) * (size_t)n; i++)
            hit += argmax(lp + i * (size_t)C, C) == c;
        frac[c] = (double)hit / (double)n;
    }
    rc = 0;
out:
    dgm_free(x);
    free(y);
    dgm_free(lp);
    dgm_model_free(g);
    return rc;
}

int cmd_classify(int argc, char **argv)
{
    const char *data = "fashion-mnist:test", *labels = NULL, *csv = NULL, *gen = NULL;
    long k = 100, limit = 0, check = 0;
    cli_common c;
    cli_common_defaults(&c);
    const cli_opt table[] = {
        {"--data", OPT_STR, &data, "SPEC", "labelled data to classify", 1, 0},
        {"--labels", OPT_STR, &labels, "PATH", "label file (default: beside IDX images)", 1, 0},
        {"--importance-samples", OPT_LONG, &k, "K", "importance samples for log p(x|y) of latent-variable models", 1, 1e6},
        {"--limit", OPT_LONG, &limit, "N", "classify the first N examples (0: all)", 0, 1e12},
        {"-o", OPT_STR, &csv, "PATH", "write per-example log p(y|x) as CSV (one column per class)", 1, 0},
        {"--check-samples", OPT_LONG, &check, "N", "also draw N samples per class and report the "
         "fraction classified as their class", 0, 1e6},
        {"--generator", OPT_STR, &gen, "MODEL", "conditional model whose samples --check-samples draws "
         "(default: MODEL itself)", 1, 0},
        CLI_COMMON_OPTS(&c),
        CLI_ALIAS("--k", "--importance-samples"),
        CLI_ALIAS("--csv", "-o"),
    };
    const char *pos[1];
    int np;
    int r = cli_parse("classify", "MODEL [options]", "Classify with Bayes' rule: p(y|x) = p(x|y) p(y) "
                      "/ sum_y' p(x|y') p(y'), from a class-conditional model.", argc, argv, table,
                      (int)(sizeof table / sizeof table[0]), pos, 1, &np);
    if (r)
        return r == 1 ? 0 : 2;
    if (np != 1)
        return cli_usage("classify", "a model file is required (dgm classify MODEL)");
    cli_common_apply(&c);
    dgm_err err = {0};
    dgm_model *m = NULL;
    if (dgm_model_load(&m, pos[0], &err))
        return cli_fail_err("classify", &err);
    int C = dgm_model_n_classes(m);
    if (C < 1) {
        cli_fail("classify", "%s: a %s model is not class-conditional (train with --model cvae "
                 "or --per-class)", pos[0], dgm_model_type(m));
        dgm_model_free(m);
        return 1;
    }
    dgm_dataset ds;
    float *x = NULL;
    size_t n = 0;
    if (cli_load_eval_data("classify", m, data, labels, (size_t)limit, &ds, &x, &n)) {
        dgm_model_free(m);
        return 1;
    }
    int rc = 1;
    double *lp = dgm_malloc_array(n, (size_t)C * sizeof(double));
    long *conf = calloc((size_t)C * (size_t)C, sizeof(long));
    double *frac = calloc((size_t)C, sizeof(double));
    if (!lp || !conf || !frac) { cli_fail("classify", "out of memory"); goto done; }
    dgm_rng rng;
    dgm_rng_init(&rng, (uint64_t)c.seed);
    double t0 = cli_now();
    if (dgm_classify(&rng, lp, m, x, n, (int)k, &err)) {
        cli_fail_err("classify", &err);
        goto done;
    }
    double secs = cli_now() - t0, sum_lp = 0;
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        int t = ds.y[i], p = argmax(lp + i * (size_t)C, C);
        conf[(size_t)t * (size_t)C + (size_t)p]++;
        correct += t == p;
        sum_lp += lp[i * (size_t)C + (size_t)t];
    }
    if (csv) {
        float *f = dgm_malloc_array(n, (size_t)C * sizeof(float));
        if (!f) { cli_fail("classify", "out of memory"); goto done; }
        for (size_t i = 0; i < n * (size_t)C; i++)
            f[i] = (float)lp[i];
        int w = cli_write_matrix("classify", csv, f, n, (size_t)C, 1, (size_t)C, 1);
        dgm_free(f);
        if (w)
            goto done;
    }
    if (check && check_samples(m, gen, check, (int)k, (uint64_t)c.seed, frac, C))
        goto done;
    double acc = (double)correct / (double)n;
    if (c.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", pos[0]);
        cJSON_AddStringToObject(j, "data", ds.source);
        cJSON_AddNumberToObject(j, "n", (double)n);
        cJSON_AddNumberToObject(j, "k", dgm_model_exact(m) ? 0 : (double)k);
        cJSON_AddNumberToObject(j, "accuracy", acc);
        cJSON *pc = cJSON_AddArrayToObject(j, "per_class_accuracy");
        cJSON *cm = cJSON_AddArrayToObject(j, "confusion");
        for (int a = 0; a < C; a++) {
            long row = 0;
            cJSON *cr = cJSON_CreateArray();
            for (int b = 0; b < C; b++) {
                row += conf[a * C + b];
                cJSON_AddItemToArray(cr, cJSON_CreateNumber((double)conf[a * C + b]));
            }
            cJSON_AddItemToArray(cm, cr);
            cJSON_AddItemToArray(pc, row ? cJSON_CreateNumber((double)conf[a * C + a] / (double)row)
                                         : cJSON_CreateNull());
        }
        cJSON_AddNumberToObject(j, "mean_log_p_y_given_x", sum_lp / (double)n);
        cJSON_AddNumberToObject(j, "log_likelihood_labels", sum_lp);
        if (check) {
            cJSON *fr = cJSON_AddArrayToObject(j, "samples_recognised");
            for (int a = 0; a < C; a++)
                cJSON_AddItemToArray(fr, cJSON_CreateNumber(frac[a]));
            cJSON_AddNumberToObject(j, "samples_per_class", (double)check);
        }
        cJSON_AddNumberToObject(j, "seconds", secs);
        cli_print_json(j);
    } else {
        printf("%s on %s: %zu examples, %d classes%s\n", pos[0], ds.source, n, C,
               dgm_model_exact(m) ? "" : " (log p(x|y) importance-sampled)");
        printf("  accuracy %.4f   mean log p(y|x) %.4f nats   log-likelihood of the labels %.2f nats\n",
               acc, sum_lp / (double)n, sum_lp);
        printf("  per class:\n");
        for (int a = 0; a < C; a++) {
            long row = 0;
            for (int b = 0; b < C; b++)
                row += conf[a * C + b];
            const char *nm = cli_class_name(a, C);
            printf("    %2d %-12s %6.4f (%ld)", a, nm ? nm : "", row ? (double)conf[a * C + a] / (double)row : 0.0, row);
            if (check)
                printf("   samples recognised %.3f", frac[a]);
            printf("\n");
        }
        printf("  confusion (rows: true class, columns: predicted):\n");
        for (int a = 0; a < C; a++) {
            printf("    ");
            for (int b = 0; b < C; b++)
                printf("%6ld", conf[a * C + b]);
            printf("\n");
        }
        printf("  time: %.2f s\n", secs);
    }
    rc = 0;
done:
    dgm_free(lp);
    free(conf);
    free(frac);
    dgm_free(x);
    dgm_data_free(&ds);
    dgm_model_free(m);
    return rc;
}
