/* dgm kl P Q: KL divergence D(P || Q) between probability tables or count histograms
 * (discrete), closed-form distributions given as JSON specs or model files (closed), two
 * models (Monte Carlo), or two sample sets (k-nearest neighbours). The method is inferred
 * where the inputs leave no doubt (docs/cli.md); a one-column file may be a table or 1-D
 * samples, so --method is then required. Formulas and biases: docs/math.md. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CMD "kl"

typedef enum { IN_DATA = 0, IN_SPEC, IN_MODEL } in_kind;

/* Model files are safetensors (8-byte little-endian header size, then '{'); JSON specs
 * start with '{'; everything else (CSV, NPY, IDX, data set names) is data. */
static in_kind classify(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return IN_DATA;
    unsigned char b[9];
    size_t got = fread(b, 1, 9, f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    in_kind k = IN_DATA;
    if (got == 9 && b[8] == '{') {
        uint64_t h = 0;
        for (int i = 7; i >= 0; i--)
            h = h << 8 | b[i];
        if (size > 8 && h <= (uint64_t)size - 8)
            k = IN_MODEL;
    }
    if (k == IN_DATA) {
        int c;
        while ((c = fgetc(f)) == ' ' || c == '\t' || c == '\n' || c == '\r')
            ;
        if (c == '{')
            k = IN_SPEC;
    }
    fclose(f);
    return k;
}

/* Prints the result line or JSON object; extra (may be NULL) is merged into the JSON. */
static int report(const cli_common *c, int bits, const char *method, const dgm_kl_result *r,
                  double level, const char *note, cJSON *extra)
{
    double u = bits ? 1.0 / log(2.0) : 1.0;
    const char *unit = bits ? "bits" : "nats";
    int has_ci = isfinite(r->ci_low) && isfinite(r->ci_high);
    if (c->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "kl_nats", r->kl); /* cJSON writes +inf as null */
        cJSON_AddNumberToObject(j, "kl_bits", r->kl / log(2.0));
        if (isinf(r->kl))
            cJSON_AddBoolToObject(j, "kl_infinite", 1);
        cJSON_AddNumberToObject(j, "stderr", r->se);
        cJSON_AddNumberToObject(j, "n", (double)r->n);
        cJSON_AddStringToObject(j, "method", method);
        if (has_ci) {
            cJSON_AddNumberToObject(j, "ci_low", r->ci_low);
            cJSON_AddNumberToObject(j, "ci_high", r->ci_high);
            cJSON_AddNumberToObject(j, "ci_level", level);
        }
        if (note)
            cJSON_AddStringToObject(j, "note", note);
        cJSON *e;
        while (extra && (e = cJSON_DetachItemViaPointer(extra, extra->child)))
            cJSON_AddItemToObject(j, e->string, e);
        cJSON_Delete(extra);
        return cli_print_json(j);
    }
    printf("KL(P || Q) = %.10g %s", r->kl * u, unit);
    if (r->se > 0)
        printf("  +- %.3g (stderr)", r->se * u);
    if (has_ci)
        printf("  %g%% CI [%.6g, %.6g]", 100 * level, r->ci_low * u, r->ci_high * u);
    printf("  [%s", method);
    if (r->n)
        printf(", n = %zu", r->n);
    printf("]\n");
    for (cJSON *e = extra ? extra->child : NULL; e; e = e->next) {
        if (cJSON_IsNumber(e))
            printf("  %s: %.10g\n", e->string, e->valuedouble);
        else if (cJSON_IsString(e))
            printf("  %s: %s\n", e->string, e->valuestring);
    }
    if (note)
        printf("  note: %s\n", note);
    cJSON_Delete(extra);
    return 0;
}

// ---- discrete

static int run_discrete(const cli_common *c, const char *const *paths, int np, double alpha,
                        int bits)
{
    dgm_err err = {0};
    double *t[2] = {NULL, NULL};
    size_t R[2] = {0, 0}, C[2] = {0, 0};
    int rc = 1;
    for (int i = 0; i < np; i++)
        if (dgm_kl_table_load(&t[i], &R[i], &C[i], paths[i], &err)) {
            rc = cli_fail_err(CMD, &err);
            goto done;
        }
    /* a one-row file is one table written across (0.2,0.3,0.5), not that many tables of
     * one outcome each, whose divergences would all be 0; in memory the two layouts agree */
    for (int i = 0; np == 2 && i < 2; i++)
        if (R[i] == 1 && C[i] > 1)
            R[i] = C[i], C[i] = 1;
    size_t rows = R[0], cols = C[0];
    const double *pt = t[0], *qt = t[1];
    size_t pstride = cols, qstride = C[1], poff = 0, qoff = 0;
    if (np == 1) { /* one file: P and Q are its two columns */
        if (cols != 2) {
            rc = cli_fail(CMD, "%s: %zu columns: a single table file needs two (P and Q)", paths[0],
                          cols);
            goto done;
        }
        qt = t[0], qstride = 2, qoff = 1, cols = 1;
    } else if (R[1] != rows || C[1] != cols) {
        rc = cli_fail(CMD, "%s is %zu x %zu but %s is %zu x %zu: the tables must have the same "
                      "shape", paths[0], rows, cols, paths[1], R[1], C[1]);
        goto done;
    }
    /* several columns: independent tables compared column by column; KL and entropy of
     * the product add up, the JS divergence does not (it is given per column) */
    double *p = malloc(rows * sizeof *p), *q = malloc(rows * sizeof *q);
    double kl = 0, hp = 0, hq = 0, js = 0;
    cJSON *per = cJSON_CreateArray();
    for (size_t j = 0; j < cols && p && q; j++) {
        for (size_t i = 0; i < rows; i++)
            p[i] = pt[i * pstride + poff + j], q[i] = qt[i * qstride + qoff + j];
        double k1, j1, h1, h2;
        if (dgm_kl_discrete(&k1, p, q, rows, alpha, &err) ||
            dgm_js_discrete(&j1, p, q, rows, alpha, &err) ||
            dgm_entropy_discrete(&h1, p, rows, alpha, &err) ||
            dgm_entropy_discrete(&h2, q, rows, alpha, &err)) {
            /* err says "p: entry 3 ...": name the file and column */
            cli_fail(CMD, "%s, column %zu: %s", np == 1 ? paths[0] : err.msg[0] == 'q' ?
                     paths[1] : paths[0], j + 1, err.msg);
            free(p), free(q), cJSON_Delete(per);
            goto done;
        }
        kl += k1, js = j1, hp += h1, hq += h2;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "kl_nats", k1);
        cJSON_AddNumberToObject(o, "js_nats", j1);
        cJSON_AddNumberToObject(o, "entropy_p_nats", h1);
        cJSON_AddNumberToObject(o, "entropy_q_nats", h2);
        cJSON_AddItemToArray(per, o);
    }
    if (!p || !q) {
        free(p), free(q), cJSON_Delete(per);
        rc = cli_fail(CMD, "out of memory");
        goto done;
    }
    free(p), free(q);
    double u = bits ? 1 / log(2.0) : 1;
    cJSON *x = cJSON_CreateObject();
    const char *sfx = c->json || !bits ? "_nats" : "_bits";
    char key[32];
    if (cols == 1) {
        snprintf(key, sizeof key, "js%s", sfx);
        cJSON_AddNumberToObject(x, key, js * (c->json ? 1 : u));
    }
    snprintf(key, sizeof key, "entropy_p%s", sfx);
    cJSON_AddNumberToObject(x, key, hp * (c->json ? 1 : u));
    snprintf(key, sizeof key, "entropy_q%s", sfx);
    cJSON_AddNumberToObject(x, key, hq * (c->json ? 1 : u));
    cJSON_AddNumberToObject(x, "categories", (double)rows);
    cJSON_AddNumberToObject(x, "columns", (double)cols);
    if (alpha > 0)
        cJSON_AddNumberToObject(x, "smoothing", alpha);
    if (cols > 1 && c->json)
        cJSON_AddItemToObject(x, "per_column", per);
    else
        cJSON_Delete(per);
    dgm_kl_result r = {.kl = kl, .se = 0, .n = 0, .ci_low = NAN, .ci_high = NAN, .exact = 1};
    rc = report(c, bits, "discrete", &r, 0, isinf(kl) ? "Q gives probability 0 to an outcome "
                "that P gives positive probability (try --smoothing)" : NULL, x);
done:
    free(t[0]), free(t[1]);
    return rc;
}

// ---- closed form and Monte Carlo

typedef struct { in_kind kind; dgm_model *m; dgm_dist *spec; dgm_dist d; int has_dist; } input;

static int open_input(input *in, const char *path, in_kind kind, dgm_err *err)
{
    memset(in, 0, sizeof *in);
    in->kind = kind;
    if (kind == IN_SPEC) {
        if (dgm_dist_load_json(&in->spec, path, err))
            return 1;
        in->d = *in->spec;
        in->has_dist = 1;
        return 0;
    }
    if (dgm_model_load(&in->m, path, err))
        return 1;
    dgm_err e2;
    in->has_dist = dgm_model_as_dist(in->m, &in->d, &e2) == DGM_OK;
    return 0;
}

static void close_input(input *in)
{
    dgm_dist_free(in->spec);
    dgm_model_free(in->m);
}

static int run_models(const cli_common *c, const char *const *paths, const in_kind *kinds,
                      const char *method, long n, long k, int bits)
{
    dgm_err err = {0};
    input in[2];
    memset(in, 0, sizeof in);
    int rc = 1;
    for (int i = 0; i < 2; i++)
        if (open_input(&in[i], paths[i], kinds[i], &err)) {
            rc = cli_fail_err(CMD, &err);
            goto done;
        }
    int closed = in[0].has_dist && in[1].has_dist;
    if (!method)
        method = closed ? "closed" : "mc";
    if (!strcmp(method, "closed")) {
        if (!closed) {
            int i = in[0].has_dist ? 1 : 0;
            rc = cli_fail(CMD, "%s: a %s model has no closed form%s", paths[i],
                          dgm_model_type(in[i].m), kinds[0] == IN_MODEL && kinds[1] == IN_MODEL
                          ? " (use --method mc)" : "");
            goto done;
        }
        dgm_kl_result r = {.ci_low = NAN, .ci_high = NAN, .exact = 1};
        if (dgm_kl_closed(&r.kl, &in[0].d, &in[1].d, &err)) {
            rc = cli_fail(CMD, "%s vs %s: %s", paths[0], paths[1], err.msg);
            goto done;
        }
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "p", dgm_dist_name(&in[0].d));
        cJSON_AddStringToObject(x, "q", dgm_dist_name(&in[1].d));
        cJSON_AddNumberToObject(x, "dim", (double)in[0].d.dim);
        rc = report(c, bits, "closed", &r, 0, isinf(r.kl) ? "Q gives zero probability to "
                    "outcomes P can produce" : NULL, x);
        goto done;
    }
    if (kinds[0] != IN_MODEL || kinds[1] != IN_MODEL) {
        rc = cli_usage(CMD, "--method %s needs two model files (JSON specs take --method closed)",
                      method);
        goto done;
    }
    dgm_rng rng;
    dgm_rng_init(&rng, (uint64_t)c->seed);
    dgm_kl_result r;
    if (cli_isatty_err())
        fprintf(stderr, "dgm kl: Monte Carlo over %ld samples from %s\n", n, paths[0]);
    if (dgm_kl_mc(&rng, &r, in[0].m, in[1].m, (size_t)n, (int)k, &err)) {
        rc = cli_fail(CMD, "%s vs %s: %s", paths[0], paths[1], err.msg);
        goto done;
    }
    cJSON *x = cJSON_CreateObject();
    cJSON_AddBoolToObject(x, "exact_log_densities", r.exact);
    int cp = dgm_model_n_classes(in[0].m), cq = dgm_model_n_classes(in[1].m);
    cJSON_AddStringToObject(x, "over", r.joint ? "joint of (x, y): y ~ P's class prior, then x | y"
                            : cp || cq ? "x: a class-conditional model's marginal sum_y p(y) p(x|y)"
                            : "x");
    if (!r.exact)
        cJSON_AddNumberToObject(x, "k", (double)k);
    rc = report(c, bits, "mc", &r, 0, r.exact ? NULL : "log-densities of latent-variable models "
                "are importance-sampled estimates, biased low: the KL estimate carries that bias "
                "(low when P is such a model, high when Q is); raise --importance-samples to reduce it", x);
done:
    close_input(&in[0]);
    close_input(&in[1]);
    return rc;
}

// ---- k-nearest neighbours

static int run_knn(const cli_common *c, const char *const *paths, dgm_dataset *ds, long k,
                   long n_boot, double level, int bits)
{
    dgm_err err = {0};
    for (int i = 0; i < 2; i++) {
        if (ds[i].kind != DGM_DATA_REAL)
            return cli_fail(CMD, "%s: sequence data: k-NN needs real vectors", paths[i]);
    }
    if (ds[0].d != ds[1].d)
        return cli_fail(CMD, "%s has %zu columns but %s has %zu: the samples must have the same "
                        "dimension", paths[0], ds[0].d, paths[1], ds[1].d);
    dgm_knn_cfg cfg = dgm_knn_defaults();
    cfg.k = (size_t)k;
    cfg.n_boot = (size_t)n_boot;
    cfg.level = level;
    cfg.p_name = paths[0];
    cfg.q_name = paths[1];
    dgm_rng rng;
    dgm_rng_init(&rng, (uint64_t)c->seed);
    dgm_kl_result r;
    if (dgm_kl_knn(&rng, &r, ds[0].x, ds[0].n, ds[1].x, ds[1].n, ds[0].d, &cfg, &err))
        return cli_fail_err(CMD, &err);
    cJSON *x = cJSON_CreateObject();
    cJSON_AddNumberToObject(x, "k", (double)k);
    cJSON_AddNumberToObject(x, "m", (double)ds[1].n);
    cJSON_AddNumberToObject(x, "d", (double)ds[0].d);
    if (r.n_tied)
        cJSON_AddNumberToObject(x, "tied_points", (double)r.n_tied);
    return report(c, bits, "knn", &r, level, ds[0].d > 10 ? "the k-NN estimator is biased in "
                  "high dimension (docs/math.md); compare estimates at equal n, d and k" : NULL, x);
}

int cmd_kl(int argc, char **argv)
{
    const char *method = NULL;
    long k = 1, n = 10000, imp = 1000, n_boot = 1000;
    double alpha = 0, level = 0.95;
    int bits = 0;
    cli_common c;
    cli_common_defaults(&c);
    const cli_opt table[] = {
        {"--method", OPT_STR, &method, "M", "discrete, closed, mc or knn (inferred when unambiguous)", 1, 0},
        {"--bits", OPT_FLAG, &bits, NULL, "print bits instead of nats (JSON keeps kl_nats)", 1, 0},
        {"--smoothing", OPT_DOUBLE, &alpha, "A", "discrete: add A to every count before normalising", 0, 1e300},
        {"--neighbours", OPT_LONG, &k, "K", "knn: neighbours", 1, 1e6},
        {"--bootstrap", OPT_LONG, &n_boot, "B", "knn: bootstrap replicates for the interval (0: none)", 0, 1e7},
        {"--level", OPT_DOUBLE, &level, "L", "knn: interval coverage", 0.5, 0.999},
        {"-n", OPT_LONG, &n, "N", "mc: samples drawn from P", 2, 1e10},
        {"--importance-samples", OPT_LONG, &imp, "K", "mc: importance samples per log-density (latent models)", 1, 1e7},
        CLI_COMMON_OPTS(&c),
        CLI_ALIAS("--k", "--neighbours"),
        CLI_ALIAS("--n", "-n"),
        CLI_ALIAS("--importance", "--importance-samples"),
    };
    const char *pos[2];
    int np;
    int r = cli_parse(CMD, "P [Q] [options]", "KL divergence D(P || Q) in nats: between two "
                      "probability tables or count histograms (one value per line, or one table per "
                      "column; one file with two columns holds P and Q), two closed-form "
                      "distributions (JSON specs or model files), two models (Monte Carlo), or two "
                      "sample sets (k-nearest neighbours, CSV/NPY, one sample per row).", argc, argv,
                      table, (int)(sizeof table / sizeof table[0]), pos, 2, &np);
    if (r)
        return r == 1 ? 0 : 2;
    if (np == 0)
        return cli_usage(CMD, "two inputs are needed: dgm kl P Q (see dgm kl --help)");
    if (method && strcmp(method, "discrete") && strcmp(method, "closed") && strcmp(method, "mc") &&
        strcmp(method, "knn"))
        return cli_usage(CMD, "--method: '%s' is not one of discrete, closed, mc, knn", method);
    cli_common_apply(&c);
    if (np == 1) {
        if (method && strcmp(method, "discrete"))
            return cli_usage(CMD, "--method %s needs two inputs, P and Q", method);
        return run_discrete(&c, pos, 1, alpha, bits);
    }
    in_kind kinds[2] = {classify(pos[0]), classify(pos[1])};
    if (kinds[0] != IN_DATA && kinds[1] != IN_DATA) {
        if (method && (!strcmp(method, "discrete") || !strcmp(method, "knn")))
            return cli_usage(CMD, "--method %s compares tables or samples, but %s and %s are "
                            "distributions", method, pos[0], pos[1]);
        return run_models(&c, pos, kinds, method, n, imp, bits);
    }
    if (kinds[0] != kinds[1]) {
        int i = kinds[0] == IN_DATA ? 1 : 0;
        return cli_fail(CMD, "%s is a %s but %s is data: compare two of a kind (dgm loglik scores "
                        "data under a model)", pos[i], kinds[i] == IN_MODEL ? "model" : "JSON spec",
                        pos[1 - i]);
    }
    if (method && (!strcmp(method, "closed") || !strcmp(method, "mc")))
        return cli_usage(CMD, "--method %s needs JSON specs or model files, but %s and %s are "
                        "data", method, pos[0], pos[1]);
    if (method && !strcmp(method, "discrete"))
        return run_discrete(&c, pos, 2, alpha, bits);
    dgm_dataset ds[2];
    memset(ds, 0, sizeof ds);
    dgm_err err = {0};
    int rc = 1;
    for (int i = 0; i < 2; i++)
        if (dgm_data_load(&ds[i], pos[i], NULL, &err)) {
            rc = cli_fail_err(CMD, &err);
            goto done;
        }
    if (!method && (ds[0].d == 1 || ds[1].d == 1)) {
        rc = cli_fail(CMD, "%s has one column: it could be a probability table or 1-D samples; say "
                      "which with --method discrete or --method knn", pos[ds[0].d == 1 ? 0 : 1]);
        goto done;
    }
    rc = run_knn(&c, pos, ds, k, n_boot, level, bits);
done:
    dgm_data_free(&ds[0]);
    dgm_data_free(&ds[1]);
    return rc;
}
