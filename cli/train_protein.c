/* dgm train for protein families: --model independent (site-independent baseline) or a
 * sequence VAE (--model vae / seqvae, or any --data that is an alignment), DeepSequence's
 * pipeline: read the alignment (A2M or Stockholm), weight the sequences, fit, save.
 * With --eval-csv the VAE is scored on a mutational scan every --eval-every steps, so that
 * Spearman against training time can be logged (--log). */
#include "cli.h"
#include "progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CMD "train"

/* "1500,1500" -> sizes; returns the count, 0 on a malformed list. */

/* plmc counts identity over the columns where the focus has a residue, not over focus
 * gaps; with that rule, weigh on those columns so that the weights are plmc's own (checked
 * against plmc's DHFR_weights_raw.txt in tests/cli.sh). The model still sees all columns. */
static dgm_status family_weights(double *w, double *neff, const dgm_alignment *a, double theta,
                                 dgm_seqw_rule rule, dgm_err *err)
{
    size_t Lr = 0;
    for (size_t l = 0; l < a->L; l++)
        Lr += a->pos[l] >= 0;
    if (rule != DGM_SEQW_PLMC || Lr == a->L || Lr == 0)
        return dgm_seq_weights(w, neff, a->seq, a->n, a->L, theta, rule, err);
    uint8_t *x = dgm_malloc_array(a->n, Lr);
    if (!x)
        return dgm_errf(err, DGM_ERR_NOMEM, "sequence weights: out of memory");
    for (size_t i = 0; i < a->n; i++)
        for (size_t l = 0, k = 0; l < a->L; l++)
            if (a->pos[l] >= 0)
                x[i * Lr + k++] = a->seq[i * a->L + l];
    dgm_status st = dgm_seq_weights(w, neff, x, a->n, Lr, theta, rule, err);
    free(x);
    return st;
}

static int parse_sizes(size_t *out, int max, const char *s)
{
    int n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 100000 || n == max)
            return 0;
        out[n++] = (size_t)v;
        s = end;
        if (*s == ',')
            s++;
        else if (*s)
            return 0;
    }
    return n;
}

typedef struct evalset {
    dgm_dms dms;
    uint8_t *seqs;   /* scorable mutants, n x L */
    double *value;   /* their measurements */
    size_t n, n_rows;
} evalset;

/* The scorable mutants of a scan that have a measurement. */
static int eval_load(evalset *e, const char *path, const char *column, const dgm_model *m)
{
    dgm_err err = {0};
    memset(e, 0, sizeof *e);
    dgm_seqfocus f;
    if (dgm_model_seqfocus(&f, m, &err) || dgm_dms_read(&e->dms, path, column, &err))
        return cli_fail_err(CMD, &err);
    e->seqs = dgm_malloc_array(e->dms.n ? e->dms.n : 1, f.L);
    e->value = dgm_malloc_array(e->dms.n ? e->dms.n : 1, sizeof(double));
    if (!e->seqs || !e->value)
        return cli_fail(CMD, "%s: out of memory", path);
    for (size_t i = 0; i < e->dms.n; i++) {
        dgm_mutant mu;
        if (dgm_mutant_parse(&mu, e->dms.mutant[i], &f, path, e->dms.line[i], e->dms.mut_col[i],
                             &err))
            return cli_fail_err(CMD, &err);
        if (!mu.scorable || isnan(e->dms.value[i]))
            continue;
        dgm_mutant_apply(e->seqs + e->n * f.L, &mu, &f);
        e->value[e->n++] = e->dms.value[i];
    }
    e->n_rows = e->dms.n;
    return 0;
}

static void eval_free(evalset *e)
{
    dgm_dms_free(&e->dms);
    free(e->seqs);
    free(e->value);
}

static double eval_spearman(dgm_model *m, const evalset *e, int samples, uint64_t seed)
{
    double *d = dgm_malloc_array(e->n, sizeof *d), *se = dgm_malloc_array(e->n, sizeof *se);
    double rho = NAN;
    dgm_err err = {0};
    dgm_rng r;
    dgm_rng_init(&r, seed);
    if (d && se && !dgm_mutation_effects(m, &r, d, se, e->seqs, e->n, samples, &err))
        dgm_spearman(&rho, d, e->value, e->n, &err);
    free(d);
    free(se);
    return rho;
}

int cli_train_protein(int argc, char **argv)
{
    const char *model = "vae", *data = NULL, *out = "model.safetensors", *variant = "bayesian";
    const char *hidden = "1500,1500", *decoder = "100,500", *rule = "deepseq", *log = NULL;
    const char *eval_csv = NULL, *eval_col = "2500";
    double theta = 0.2, pc = 0.5, lr = 1e-3, l2 = 1.0, max_seq_gap = 1.0, max_col_gap = 1.0;
    double time_limit = 0;
    int latent = 30, batch = 100, dict = 40, patterns = 4, eval_samples = 20;
    long steps = 10000, eval_every = 1000;
    cli_common c;
    cli_common_defaults(&c);
    cli_opt opts[] = {
        {"--model", OPT_STR, &model, "NAME", "vae (= seqvae) or independent", 1, 0},
        {"--data", OPT_STR, &data, "PATH", "alignment: A2M/aligned FASTA or Stockholm (required)", 1, 0},
        {"-o", OPT_STR, &out, "PATH", "output model file", 1, 0},
        {"--theta", OPT_DOUBLE, &theta, "T", "weights: neighbours within identity 1 - T", 0, 1},
        {"--weights", OPT_STR, &rule, "RULE", "deepseq, plmc or none (all 1)", 1, 0},
        {"--max-seq-gap", OPT_DOUBLE, &max_seq_gap, "F", "drop sequences with more gaps than this fraction", 0, 1},
        {"--max-col-gap", OPT_DOUBLE, &max_col_gap, "F", "drop columns with more gaps than this fraction", 0, 1},
        {"--pseudocount", OPT_DOUBLE, &pc, "C", "independent: pseudocount per letter", 1e-12, 1e12},
        {"--variant", OPT_STR, &variant, "V", "vae decoder: plain (L2) or bayesian (DeepSequence)", 1, 0},
        {"--hidden", OPT_STR, &hidden, "LIST", "vae encoder hidden sizes", 1, 0},
        {"--decoder", OPT_STR, &decoder, "LIST", "vae decoder hidden sizes", 1, 0},
        {"--latent", OPT_INT, &latent, "Z", "vae latent dimension", 1, 10000},
        {"--dict", OPT_INT, &dict, "K", "bayesian: dictionary width", 1, 10000},
        {"--patterns", OPT_INT, &patterns, "P", "bayesian: sparsity tiling over hidden units", 1, 10000},
        {"--l2", OPT_DOUBLE, &l2, "LAMBDA", "plain: (LAMBDA / 2 Neff) |W_decoder|^2", 0, 1e12},
        {"--steps", OPT_LONG, &steps, "N", "vae: Adam updates", 0, 1e12},
        {"--time-limit", OPT_DOUBLE, &time_limit, "S", "vae: stop after S seconds of training (0: none)", 0, 1e9},
        {"--batch", OPT_INT, &batch, "B", "vae: minibatch size", 1, 1000000},
        {"--lr", OPT_DOUBLE, &lr, "LR", "vae: Adam learning rate", 1e-12, 10},
        {"--log", OPT_STR, &log, "PATH", "vae: CSV of step, seconds, loss (and spearman)", 1, 0},
        {"--eval-csv", OPT_STR, &eval_csv, "PATH", "vae: mutational scan scored while training", 1, 0},
        {"--eval-column", OPT_STR, &eval_col, "NAME", "measurement column of --eval-csv", 1, 0},
        {"--eval-every", OPT_LONG, &eval_every, "N", "steps between log lines and evaluations", 1, 1e12},
        {"--eval-samples", OPT_INT, &eval_samples, "S", "ELBO samples per mutant in evaluations", 1, 1000000},
        CLI_COMMON_OPTS(&c),
    };
    const char *pos[1];
    int n_pos;
    int r = cli_parse(CMD, "--data ALIGNMENT [--model vae|independent] [options]",
                      "Fit a protein-family model (DeepSequence's VAE or the site-independent "
                      "model) to a weighted multiple sequence alignment.",
                      argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), pos, 0, &n_pos);
    if (r)
        return r == 1 ? 0 : 2;
    cli_common_apply(&c);
    int indep = !strcmp(model, "independent");
    if (!indep && strcmp(model, "vae") && strcmp(model, "seqvae"))
        return cli_fail(CMD, "--model: '%s' is not a protein-family model (vae, independent)", model);
    if (!data)
        return cli_fail(CMD, "--data: an alignment is required");
    dgm_seqw_rule wr = DGM_SEQW_DEEPSEQ;
    if (!strcmp(rule, "plmc"))
        wr = DGM_SEQW_PLMC;
    else if (strcmp(rule, "deepseq") && strcmp(rule, "none"))
        return cli_fail(CMD, "--weights: '%s' is not deepseq, plmc or none", rule);
    dgm_seqvae_cfg cfg = dgm_seqvae_defaults(strcmp(variant, "plain") ? DGM_SEQVAE_BAYES
                                                                      : DGM_SEQVAE_PLAIN);
    if (strcmp(variant, "plain") && strcmp(variant, "bayesian"))
        return cli_fail(CMD, "--variant: '%s' is not plain or bayesian", variant);
    if (!(cfg.n_enc = parse_sizes(cfg.enc, 4, hidden)))
        return cli_fail(CMD, "--hidden: '%s' is not a list of 1 to 4 sizes like 1500,1500", hidden);
    if (!(cfg.n_dec = parse_sizes(cfg.dec, 4, decoder)))
        return cli_fail(CMD, "--decoder: '%s' is not a list of 1 to 4 sizes like 100,500", decoder);
    cfg.latent = (size_t)latent;
    cfg.dict = (size_t)dict;
    cfg.n_patterns = (size_t)patterns;
    cfg.l2 = l2;
    cfg.batch = (size_t)batch;
    cfg.lr = lr;

    dgm_err err = {0};
    dgm_align_cfg acfg = {max_seq_gap, max_col_gap};
    dgm_alignment a;
    double t0 = cli_now();
    if (dgm_alignment_read(&a, data, &acfg, &err))
        return cli_fail_err(CMD, &err);
    double *w = dgm_malloc_array(a.n, sizeof *w), neff = (double)a.n;
    if (!w) {
        dgm_alignment_free(&a);
        return cli_fail(CMD, "out of memory");
    }
    if (!strcmp(rule, "none"))
        for (size_t i = 0; i < a.n; i++)
            w[i] = 1.0;
    else if (family_weights(w, &neff, &a, theta, wr, &err)) {
        free(w);
        dgm_alignment_free(&a);
        return cli_fail_err(CMD, &err);
    }
    double t_weights = cli_now() - t0;
    fprintf(stderr, "%s: %zu of %zu sequences kept (%zu with letters outside the alphabet, %zu "
            "too gappy), %zu columns, focus %s/%ld; Neff %.1f (theta %g) in %.2fs\n", data, a.n,
            a.n_read, a.n_bad_letter, a.n_gappy, a.L, a.focus_name, a.focus_start, neff, theta,
            t_weights);
    dgm_model *m = NULL;
    dgm_rng rng;
    dgm_rng_init(&rng, (uint64_t)c.seed);
    int rc = 0;
    double loss = NAN, rho = NAN, t_train = 0;
    FILE *lf = NULL;
    evalset ev = {0};
    if (indep) {
        if (dgm_indep_fit(&m, &a, w, theta, pc, &err))
            rc = cli_fail_err(CMD, &err);
    } else {
        dgm_rng init;
        dgm_rng_fork(&init, &rng, 0);
        if (dgm_seqvae_create(&m, &init, &cfg, &a, neff, theta, &err))
            rc = cli_fail_err(CMD, &err);
        if (!rc && eval_csv && eval_load(&ev, eval_csv, eval_col, m))
            rc = 1;
        if (!rc && log && !(lf = fopen(log, "w")))
            rc = cli_fail(CMD, "%s: cannot open the log for writing", log);
        if (lf)
            fprintf(lf, "step,seconds,loss%s\n", eval_csv ? ",spearman,n" : "");
        dgm_rng train;
        dgm_rng_fork(&train, &rng, 1);
        cli_progress pr;
        cli_progress_start(&pr, "train", (size_t)steps);
        for (long done = 0; !rc && done < steps;) {
            long k = steps - done < eval_every ? steps - done : eval_every;
            double ts = cli_now();
            if (dgm_seqvae_train(m, &train, a.seq, w, a.n, k, &loss, &err)) {
                rc = cli_fail_err(CMD, &err);
                break;
            }
            t_train += cli_now() - ts;
            done += k;
            if (eval_csv)
                rho = eval_spearman(m, &ev, eval_samples, (uint64_t)c.seed + 7);
            if (lf) {
                fprintf(lf, "%ld,%.3f,%.6g", done, t_train, loss);
                if (eval_csv)
                    fprintf(lf, ",%.6f,%zu", rho, ev.n);
                fprintf(lf, "\n");
                fflush(lf);
            }
            if (pr.tty)
                cli_progress_update(&pr, (size_t)done, "steps", loss);
            else
                fprintf(stderr, "step %ld  loss %.3f  %.1f steps/s%s%.4f\n", done, loss,
                        (double)done / t_train, eval_csv ? "  spearman " : "",
                        eval_csv ? rho : 0.0);
            if (time_limit > 0 && t_train >= time_limit)
                break;
        }
        cli_progress_end(&pr);
    }
    if (lf)
        fclose(lf);
    if (!rc && dgm_model_save(m, out, &err))
        rc = cli_fail_err(CMD, &err);
    if (!rc) {
        long st = indep ? 0 : dgm_seqvae_steps(m);
        if (c.json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "model", dgm_model_type(m));
            if (!indep)
                cJSON_AddStringToObject(o, "variant", variant);
            cJSON_AddStringToObject(o, "data", data);
            cJSON_AddNumberToObject(o, "n", (double)a.n);
            cJSON_AddNumberToObject(o, "n_read", (double)a.n_read);
            cJSON_AddNumberToObject(o, "L", (double)a.L);
            cJSON_AddNumberToObject(o, "neff", neff);
            cJSON_AddNumberToObject(o, "weights_seconds", t_weights);
            cJSON_AddNumberToObject(o, "steps", (double)st);
            cJSON_AddNumberToObject(o, "train_seconds", t_train);
            if (!indep) {
                cJSON_AddNumberToObject(o, "steps_per_second", t_train > 0 ? (double)st / t_train : 0);
                cJSON_AddNumberToObject(o, "loss", loss);
            }
            if (eval_csv)
                cJSON_AddNumberToObject(o, "spearman", rho);
            cJSON_AddStringToObject(o, "out", out);
            cli_print_json(o);
        } else {
            printf("%s model on %s: %zu sequences x %zu columns, Neff %.1f\n",
                   indep ? "site-independent" : variant, data, a.n, a.L, neff);
            if (!indep)
                printf("%ld steps in %.1fs (%.1f steps/s), final loss %.3f\n", st, t_train,
                       t_train > 0 ? (double)st / t_train : 0.0, loss);
            if (eval_csv)
                printf("spearman %.4f on %zu mutants (%s, column %s)\n", rho, ev.n, eval_csv, eval_col);
            printf("saved %s\n", out);
        }
    }
    eval_free(&ev);
    dgm_model_free(m);
    free(w);
    dgm_alignment_free(&a);
    return rc;
}
