/* dgm mutations: effects of the mutants of a deep mutational scan under one or several
 * protein-family models (an ensemble averages their effects), written per mutant, with
 * the Spearman rank correlation against a measurement column (Riesselman et al. 2018,
 * Fig. 2). Effects: E ELBO(mutant) - E ELBO(wild type) for VAEs, log p(mutant) - log p(wt)
 * for exact models. */
#include "cli.h"
#include "par/par.h"
#include "model_io.h"
#include "progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CMD "mutations"
#define MAX_MODELS 64

/* Every model must describe the same focus (columns, letters, numbering). */
static int same_focus(const dgm_seqfocus *a, const dgm_seqfocus *b)
{
    return a->L == b->L && a->start == b->start && !strcmp(a->residues, b->residues) &&
           !memcmp(a->wt, b->wt, a->L) && !memcmp(a->pos, b->pos, a->L * sizeof *a->pos);
}

static int write_scores(const char *path, const dgm_dms *d, const int *scorable,
                        const double *eff, const double *se, int with_value)
{
    dgm_err err = {0};
    char tmp[4096 + 64];
    if (strlen(path) + 40 > sizeof tmp)
        return cli_fail(CMD, "%s: path too long", path);
    FILE *f = dgm_atomic_open(path, tmp, sizeof tmp, &err);
    if (!f)
        return cli_fail_err(CMD, &err);
    fprintf(f, "mutant,effect,stderr%s\n", with_value ? ",measurement" : "");
    for (size_t i = 0, k = 0; i < d->n; i++) {
        fprintf(f, "%s,", d->mutant[i]);
        if (scorable[i]) {
            fprintf(f, "%.6f,%.6f", eff[k], se[k]);
            k++;
        } else {
            fprintf(f, ","); /* a residue without a model column: not scored */
        }
        if (with_value) {
            if (isnan(d->value[i]))
                fprintf(f, ",");
            else
                fprintf(f, ",%.9g", d->value[i]);
        }
        fprintf(f, "\n");
    }
    if (dgm_atomic_commit(f, tmp, path, &err))
        return cli_fail_err(CMD, &err);
    return 0;
}

/* the bar over ELBO samples (VAEs) or chunks of mutants (exact models) */
static void on_progress(void *ctx, size_t done, size_t total)
{
    cli_progress *bar = ctx;
    bar->total = total;
    cli_progress_update(bar, done, bar->label[0] == 's' ? "samples/s" : "mutants/s", NAN);
}

int cmd_mutations(int argc, char **argv)
{
    const char *csv = NULL, *column = NULL, *out = NULL, *ensemble = NULL, *prec = "fp32";
    int samples = 2000;
    cli_common c;
    cli_common_defaults(&c);
    cli_opt opts[] = {
        {"--csv", OPT_STR, &csv, "PATH", "mutational scan: a 'mutant' column like H24A or H24A:G25C (required)", 1, 0},
        {"--column", OPT_STR, &column, "NAME", "measurement column for the Spearman correlation", 1, 0},
        {"--elbo-samples", OPT_INT, &samples, "S", "ELBO samples per mutant (VAEs)", 1, 100000000},
        {"--ensemble", OPT_STR, &ensemble, "LIST", "more model files, comma-separated, averaged with MODEL", 1, 0},
        {"-o", OPT_STR, &out, "PATH", "per-mutant CSV: mutant, effect, stderr[, measurement]", 1, 0},
        {"--precision", OPT_STR, &prec, "P", "sequence VAE output products: fp32, or bf16 (oneDNN)", 1, 0},
        CLI_COMMON_OPTS(&c),
        CLI_ALIAS("--samples", "--elbo-samples"),
    };
    const char *pos[MAX_MODELS];
    int n_pos;
    int r = cli_parse(CMD, "MODEL [MODEL...] --csv SCAN.csv [--column NAME] [options]",
                      "Score the mutants of a deep mutational scan with protein-family models "
                      "and correlate the scores with the measurements.",
                      argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, MAX_MODELS, &n_pos);
    if (r)
        return r == 1 ? 0 : 2;
    cli_common_apply(&c);
    /* the model list: positionals, then --ensemble's entries */
    char *ens = ensemble ? strdup(ensemble) : NULL;
    const char *paths[MAX_MODELS];
    int n_models = 0;
    for (int i = 0; i < n_pos; i++)
        paths[n_models++] = pos[i];
    for (char *t = ens ? strtok(ens, ",") : NULL; t; t = strtok(NULL, ",")) {
        if (n_models == MAX_MODELS) {
            free(ens);
            return cli_fail(CMD, "more than %d models", MAX_MODELS);
        }
        paths[n_models++] = t;
    }
    if (n_models == 0 || !csv) {
        free(ens);
        return cli_usage(CMD, "a model file and --csv are required (see dgm mutations --help)");
    }
    dgm_err err = {0};
    dgm_model *models[MAX_MODELS] = {0};
    dgm_seqfocus f0, f;
    dgm_dms d = {0};
    int rc = 0;
    for (int k = 0; !rc && k < n_models; k++) {
        if (dgm_model_load(&models[k], paths[k], &err) ||
            dgm_model_seqfocus(k ? &f : &f0, models[k], &err))
            rc = cli_fail_err(CMD, &err);
        else if (!(rc = cli_apply_precision(CMD, models[k], paths[k], prec)) && k &&
                 !same_focus(&f0, &f))
            rc = cli_fail(CMD, "%s: its focus sequence or columns differ from %s's: an ensemble "
                          "needs models of one alignment", paths[k], paths[0]);
    }
    if (!rc && dgm_dms_read(&d, csv, column, &err))
        rc = cli_fail_err(CMD, &err);
    size_t n = d.n, ns = 0, L = rc ? 0 : f0.L;
    int *scorable = calloc(n ? n : 1, sizeof *scorable);
    uint8_t *seqs = dgm_malloc_array(n ? n : 1, L ? L : 1);
    double *eff = dgm_calloc_array(n ? n : 1, sizeof *eff), *var = dgm_calloc_array(n ? n : 1, sizeof *var);
    double *e1 = dgm_malloc_array(n ? n : 1, sizeof *e1), *s1 = dgm_malloc_array(n ? n : 1, sizeof *s1);
    if (!rc && (!scorable || !seqs || !eff || !var || !e1 || !s1))
        rc = cli_fail(CMD, "out of memory for %zu mutants", n);
    for (size_t i = 0; !rc && i < n; i++) {
        dgm_mutant mu;
        if (dgm_mutant_parse(&mu, d.mutant[i], &f0, csv, d.line[i], d.mut_col[i], &err)) {
            rc = cli_fail_err(CMD, &err);
            break;
        }
        if ((scorable[i] = mu.scorable))
            dgm_mutant_apply(seqs + ns++ * L, &mu, &f0);
    }
    /* under mpirun: every rank stops if any could not read its inputs (the scoring below
     * is collective) */
    if (dgm__par_agree(rc ? DGM_ERR_IO : DGM_OK, &err) && !rc)
        rc = cli_fail(CMD, "another MPI rank stopped: %s", err.msg);
    double t0 = cli_now();
    for (int k = 0; !rc && k < n_models; k++) {
        dgm_rng rng;
        dgm_rng_init(&rng, (uint64_t)c.seed + (uint64_t)k);
        fprintf(stderr, "scoring %zu mutants with %s (%s)...\n", ns, paths[k],
                dgm_model_type(models[k]));
        cli_progress bar;
        cli_progress_start(&bar, dgm_model_exact(models[k]) ? "mutants" : "samples",
                           dgm_model_exact(models[k]) ? ns : (size_t)samples);
        dgm_status st = dgm_mutation_effects_progress(models[k], &rng, e1, s1, seqs, ns, samples,
                                                      on_progress, &bar, &err);
        cli_progress_end(&bar);
        if (st) {
            rc = cli_fail_err(CMD, &err);
            break;
        }
        /* the ensemble's effect is the mean of the models' effects; its standard error
         * combines theirs (independent draws): sqrt(sum se_k^2) / K */
        for (size_t i = 0; i < ns; i++) {
            eff[i] += e1[i] / n_models;
            var[i] += (isnan(s1[i]) ? 0 : s1[i] * s1[i]) / ((double)n_models * n_models);
        }
    }
    double seconds = cli_now() - t0, rho = NAN;
    size_t n_corr = 0;
    if (!rc) {
        for (size_t i = 0; i < ns; i++)
            var[i] = sqrt(var[i]);
        if (column) {
            /* pairs with a measurement */
            for (size_t i = 0, k = 0; i < n; i++) {
                if (!scorable[i])
                    continue;
                if (!isnan(d.value[i])) {
                    e1[n_corr] = eff[k];
                    s1[n_corr++] = d.value[i];
                }
                k++;
            }
            if (dgm_spearman(&rho, e1, s1, n_corr, &err))
                rc = cli_fail_err(CMD, &err);
        }
    }
    if (!rc && out && dgm__par_rank() == 0 && /* every rank holds the scores: one writes */
        write_scores(out, &d, scorable, eff, var, column != NULL))
        rc = 1;
    if (!rc) {
        if (c.json) {
            cJSON *o = cJSON_CreateObject();
            cJSON *ms = cJSON_AddArrayToObject(o, "models");
            for (int k = 0; k < n_models; k++)
                cJSON_AddItemToArray(ms, cJSON_CreateString(paths[k]));
            cJSON_AddStringToObject(o, "csv", csv);
            if (column) {
                cJSON_AddStringToObject(o, "column", column);
                if (isnan(rho))
                    cJSON_AddNullToObject(o, "spearman");
                else
                    cJSON_AddNumberToObject(o, "spearman", rho);
            }
            cJSON_AddNumberToObject(o, "n", (double)(column ? n_corr : ns));
            cJSON_AddNumberToObject(o, "n_rows", (double)n);
            cJSON_AddNumberToObject(o, "n_scored", (double)ns);
            cJSON_AddNumberToObject(o, "n_unscorable", (double)(n - ns));
            cJSON_AddNumberToObject(o, "samples", samples);
            cJSON_AddStringToObject(o, "precision", prec);
            cJSON_AddNumberToObject(o, "seconds", seconds);
            if (out)
                cJSON_AddStringToObject(o, "out", out);
            cli_print_json(o);
        } else {
            printf("%zu of %zu mutants scored (%zu at residues without a model column), %d "
                   "model%s, %.1fs\n", ns, n, n - ns, n_models, n_models > 1 ? "s" : "", seconds);
            if (column)
                printf("spearman %.4f over %zu mutants with a measurement in column %s\n", rho,
                       n_corr, column);
            if (out)
                printf("wrote %s\n", out);
        }
    }
    for (int k = 0; k < n_models; k++)
        dgm_model_free(models[k]);
    dgm_dms_free(&d);
    free(scorable);
    free(seqs);
    free(eff);
    free(var);
    free(e1);
    free(s1);
    free(ens);
    return rc;
}
