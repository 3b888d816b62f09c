/* dgm train for protein families: --model independent (site-independent baseline) or a
 * sequence VAE (--model vae / seqvae, or any --data that is an alignment), DeepSequence's
 * pipeline: read the alignment (A2M or Stockholm), weight the sequences, fit with dgm_fit,
 * save. With --eval-csv the VAE is scored on a mutational scan every --eval-every steps,
 * so that Spearman against training time can be logged (--log). The VAE's steps run over
 * micro-shards (--micro-batch), so its file is the same at any --threads and, under
 * mpirun, any number of ranks; rank 0 writes the log and the model. */
#include "cli.h"
#include "fit_view.h"
#include "par/par.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CMD "train"

int cli_train_protein(int argc, char **argv)
{
    const char *model = "vae", *data = NULL, *out = "model.safetensors", *variant = "bayesian";
    const char *hidden = "1500,1500", *decoder = "100,500", *rule = "deepseq", *log = NULL;
    const char *eval_csv = NULL, *eval_col = "2500";
    double theta = 0.2, pc = 0.5, lr = 1e-3, l2 = 1.0, max_seq_gap = 1.0, max_col_gap = 1.0;
    double time_limit = 0;
    int latent = 30, batch = 100, dict = 40, patterns = 4, eval_samples = 20;
    long steps = -1, eval_every = 1000, micro = 0; /* -1: DeepSequence's 10000, with a note */
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
        {"--encoder-hidden", OPT_STR, &hidden, "LIST", "vae encoder hidden sizes", 1, 0},
        {"--decoder-hidden", OPT_STR, &decoder, "LIST", "vae decoder hidden sizes", 1, 0},
        {"--latent", OPT_INT, &latent, "Z", "vae latent dimension", 1, 10000},
        {"--dict", OPT_INT, &dict, "K", "bayesian: dictionary width", 1, 10000},
        {"--patterns", OPT_INT, &patterns, "P", "bayesian: sparsity tiling over hidden units", 1, 10000},
        {"--l2", OPT_DOUBLE, &l2, "LAMBDA", "plain: (LAMBDA / 2 Neff) |W_decoder|^2", 0, 1e12},
        {"--steps", OPT_LONG, &steps, "N", "vae: Adam updates (default 10000, DeepSequence's)", 0, 1e12},
        {"--time-limit", OPT_DOUBLE, &time_limit, "S", "vae: stop after S seconds of training (0: none)", 0, 1e9},
        {"--batch", OPT_INT, &batch, "B", "vae: minibatch size", 1, 1000000},
        {"--lr", OPT_DOUBLE, &lr, "LR", "vae: Adam learning rate", 1e-12, 10},
        {"--micro-batch", OPT_LONG, &micro, "S", "vae: rows per micro-shard (default 64): each shard's gradient is computed on one thread and the shards are summed in a fixed tree, so the weights are the same at any --threads and number of MPI ranks; the last shard of a batch holds the remainder", 1, 1 << 20},
        {"--log", OPT_STR, &log, "PATH", "vae: JSON lines of step, seconds, train_loss, lr (and spearman)", 1, 0},
        {"--eval-csv", OPT_STR, &eval_csv, "PATH", "vae: mutational scan scored while training", 1, 0},
        {"--eval-column", OPT_STR, &eval_col, "NAME", "measurement column of --eval-csv", 1, 0},
        {"--eval-every", OPT_LONG, &eval_every, "N", "steps between log lines and evaluations", 1, 1e12},
        {"--eval-samples", OPT_INT, &eval_samples, "S", "ELBO samples per mutant in evaluations", 1, 1000000},
        CLI_COMMON_OPTS(&c),
        CLI_ALIAS("--hidden", "--encoder-hidden"),
        CLI_ALIAS("--decoder", "--decoder-hidden"),
    };
    const char *pos[1];
    int n_pos, r = cli_parse(CMD, "--data ALIGNMENT [--model vae|independent] [options]", "Fit a "
                             "protein-family model (DeepSequence's VAE or the site-independent model) "
                             "to a weighted multiple sequence alignment.", argc, argv, opts,
                             (int)(sizeof opts / sizeof opts[0]), pos, 0, &n_pos);
    if (r)
        return r == 1 ? 0 : 2;
    cli_common_apply(&c);
    if (micro > 0)
        dgm__par_set_micro((size_t)micro);
    if (dgm__par_rank() > 0) /* rank 0 writes the log and the model */
        log = NULL;
    int indep = !strcmp(model, "independent");
    dgm_seqvae_cfg cfg = dgm_seqvae_defaults(strcmp(variant, "plain") ? DGM_SEQVAE_BAYES : DGM_SEQVAE_PLAIN);
    if (!indep && strcmp(model, "vae") && strcmp(model, "seqvae"))
        return cli_usage(CMD, "--model: '%s' is not a protein-family model (vae, independent)", model);
    if (!data)
        return cli_usage(CMD, "--data: an alignment is required");
    if (strcmp(rule, "plmc") && strcmp(rule, "deepseq") && strcmp(rule, "none"))
        return cli_usage(CMD, "--weights: '%s' is not deepseq, plmc or none", rule);
    if (strcmp(variant, "plain") && strcmp(variant, "bayesian"))
        return cli_usage(CMD, "--variant: '%s' is not plain or bayesian", variant);
    if ((cfg.n_enc = cli_parse_sizes(cfg.enc, 4, hidden, 100000)) < 1 ||
        (cfg.n_dec = cli_parse_sizes(cfg.dec, 4, decoder, 100000)) < 1)
        return cli_usage(CMD, cfg.n_enc > 0 ? "--decoder-hidden: '%s' is not a list of 1 to 4 sizes like 100,500"
                        : "--encoder-hidden: '%s' is not a list of 1 to 4 sizes like 1500,1500", cfg.n_enc > 0 ? decoder : hidden);
    cfg.latent = (size_t)latent, cfg.dict = (size_t)dict, cfg.n_patterns = (size_t)patterns;
    cfg.l2 = l2, cfg.batch = (size_t)batch, cfg.lr = lr;
    dgm_err err = {0};
    dgm_align_cfg acfg = {max_seq_gap, max_col_gap};
    dgm_alignment a;
    double t0 = cli_now();
    /* every rank reads the alignment; a failure anywhere stops all with the first one's
     * message */
    if (dgm__par_agree(dgm_alignment_read(&a, data, &acfg, &err), &err))
        return cli_fail_err(CMD, &err);
    double *w, neff;
    int rc = cli_seq_weights(CMD, &a, rule, theta, &w, &neff);
    double t_w = cli_now() - t0;
    if (!rc)
        fprintf(stderr, "%s: %zu of %zu sequences kept (%zu with letters outside the alphabet, %zu "
                "too gappy), %zu columns, focus %s/%ld; Neff %.1f (theta %g) in %.2fs\n", data, a.n,
                a.n_read, a.n_bad_letter, a.n_gappy, a.L, a.focus_name, a.focus_start, neff, theta, t_w);
    dgm_model *m = NULL;
    dgm_rng rng, init;
    dgm_rng_init(&rng, (uint64_t)c.seed);
    dgm_rng_fork(&init, &rng, 0);
    dgm_fit_data fd = {.aln = &a, .weights = w, .neff = neff, .theta = theta};
    dgm_fit_cfg fc = dgm_fit_defaults();
    fc.seed = (uint64_t)c.seed, fc.steps = steps < 0 ? 10000 : steps, fc.report_every = eval_every;
    fc.time_limit = time_limit, fc.scan_samples = eval_samples, fc.lr = lr;
    cli_fit_view view;
    cli_fit_view_init(&view, data);
    if (!rc && (indep ? dgm_indep_create(&m, pc, &err) : dgm_seqvae_create(&m, &init, &cfg, &a, neff, theta, &err)))
        rc = cli_fail_err(CMD, &err);
    if (!rc && eval_csv && dgm_scan_load(&fd.scan, eval_csv, eval_col, m, &err))
        rc = cli_fail_err(CMD, &err);
    if (!rc && log && !(view.log = fopen(log, "w")))
        rc = cli_fail(CMD, "%s: cannot open the log for writing", log);
    if (!rc && !indep) {
        snprintf(view.what_buf, sizeof view.what_buf, "seqvae (%s) on %s", variant, data);
        view.what = view.what_buf;
        view.batch = (size_t)batch, view.n_params = dgm_model_n_params(m);
        if (steps < 0 && time_limit <= 0)
            view.note = "the default run (DeepSequence's 10000 steps at this size) takes "
                        "minutes; --steps or --time-limit shorten it";
    }
    view.scan = fd.scan != NULL;
    view.scan_n = fd.scan ? dgm_scan_count(fd.scan) : 0;
    fc.progress = cli_fit_view_cb, fc.progress_ctx = &view;
    dgm_fit_result res;
    if (!rc && dgm_fit(m, &fd, &fc, &res, &err))
        rc = cli_fail_err(CMD, &err);
    cli_fit_view_end(&view);
    if (!rc && dgm__par_agree(dgm__par_rank() ? DGM_OK : dgm_model_save(m, out, &err), &err))
        rc = cli_fail_err(CMD, &err);
    if (!rc)
        cli_print_protein_fit(m, &res, &a, data, out, indep ? NULL : variant, eval_csv, eval_col,
                              view.scan_n, neff, t_w, c.json);
    if (view.log)
        fclose(view.log);
    dgm_scan_free(fd.scan);
    dgm_model_free(m);
    free(w);
    dgm_alignment_free(&a);
    return rc;
}
