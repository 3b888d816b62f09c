/* dgm train --model made: MADE on binarized images (Bernoulli outputs; the grey levels are
 * binarized afresh every step) or on an alignment (a softmax over the 20 amino acids and
 * the gap per column, the sequences weighted as the protein trainer weights them), through
 * dgm_fit's minibatch loop: progress, --log, a checkpoint after every epoch, Ctrl-C and
 * --resume bit for bit. */
#include "cli.h"
#include "model_io.h"
#include "train.h"
#include "fit_view.h"
#include "par/par.h"
#include "models/made/made.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "train"

static volatile int interrupted;
static void on_sigint(int sig) { (void)sig; interrupted = 1; }

static int is_alignment(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char buf[16] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    return n > 0 && (buf[0] == '>' || !strncmp(buf, "# STOCKHOLM", 11));
}


static int is_made(const dgm_model *m) { return dgm_made_config(m) != NULL; }

int cli_train_made(int argc, char **argv)
{
    const char *data = "fashion-mnist", *labels = NULL, *out = "made.safetensors", *log = NULL;
    const char *resume = NULL, *hidden = "500", *order = "natural";
    const char *model = "made", *binarize = "sample", *rule = "deepseq";
    long masks = 1, mask_seed = -1, micro = 0;
    int conditional = 0;
    double theta = 0.2;
    cli_common c;
    cli_common_defaults(&c);
    cli_fit_opts fo;
    cli_fit_opts_defaults(&fo, 100);
    const cli_opt table[] = {
        {"--model", OPT_STR, &model, "M", "made", 1, 0},
        {"--data", OPT_STR, &data, "SPEC", "fashion-mnist, a path (IDX, CSV, NPY: values in [0, 1]), "
         "or an alignment (A2M/FASTA, Stockholm: a categorical MADE)", 1, 0},
        {"--labels", OPT_STR, &labels, "PATH", "label file (default: beside IDX images)", 1, 0},
        {"-o", OPT_STR, &out, "PATH", "model file, rewritten each epoch; the training checkpoint goes beside it as NAME.ckpt.safetensors", 1, 0},
        {"--hidden", OPT_STR, &hidden, "W[,W...]", "hidden widths (1 to 8 layers, ReLU)", 1, 0},
        {"--masks", OPT_LONG, &masks, "N", "masks: connectivity-agnostic training cycles through them, evaluation averages the N models as a mixture", 1, 4096},
        {"--order", OPT_STR, &order, "O", "natural (variable d is the d-th) or random (one permutation per mask)", 1, 0},
        {"--mask-seed", OPT_LONG, &mask_seed, "S", "seed of the orderings and hidden degrees (default: --seed)", 0, 9.2e15},
        {"--conditional", OPT_FLAG, &conditional, NULL, "learn p(x | y) from the data's labels: a class-conditional MADE, which samples given a class and classifies by Bayes' rule (dgm classify)", 1, 0},
        {"--binarize", OPT_STR, &binarize, "HOW", "images: sample (fresh Bernoulli draws of the grey levels every step, as dgm eval draws them once)", 1, 0},
        {"--weights", OPT_STR, &rule, "RULE", "alignments: sequence weights deepseq, plmc or none", 1, 0},
        {"--theta", OPT_DOUBLE, &theta, "T", "alignments: weights count neighbours within identity 1 - T", 0, 1},
        CLI_FIT_OPTS(&fo, "examples held out for validation (exact NLL after each epoch)"),
        {"--log", OPT_STR, &log, "PATH", "append JSON lines, one per epoch (train_loss is the NLL in nats; val_neg_elbo the exact validation NLL)", 1, 0},
        {"--resume", OPT_STR, &resume, "MODEL", "continue the run of MODEL from its checkpoint (its options are kept)", 1, 0},
        {"--micro-batch", OPT_LONG, &micro, "S", "rows per micro-shard (default: the whole batch, one shard, the fastest in one process; with --resume, the saved one): the shards' gradients are summed in a fixed tree, so a run under mpirun -np R (which needs R shards) writes the file one process writes with the same S", 1, 1 << 20},
        CLI_COMMON_OPTS(&c),
    };
    const char *pos[1];
    int npos, r = cli_parse(CMD, "--model made [options]", "Train a MADE (masked autoencoder for "
                            "distribution estimation, Germain et al. 2015) by maximum likelihood: "
                            "exact log p(x) by the chain rule.\nImages: 784-500-784 ReLU, Bernoulli "
                            "outputs, Adam 1e-3, batch 100, 10 epochs on Fashion-MNIST binarized.",
                            argc, argv, table, (int)(sizeof table / sizeof table[0]), pos, 0, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    cli_common_apply(&c);
    if (micro > 0)
        dgm__par_set_micro((size_t)micro);
    if (strcmp(model, "made"))
        return cli_usage(CMD, "--model: '%s' is not made", model);
    if (strcmp(binarize, "sample"))
        return cli_usage(CMD, "--binarize: unknown method '%s' (sample)", binarize);
    if (strcmp(order, "natural") && strcmp(order, "random"))
        return cli_usage(CMD, "--order: unknown ordering '%s' (natural, random)", order);
    if (strcmp(rule, "plmc") && strcmp(rule, "deepseq") && strcmp(rule, "none"))
        return cli_usage(CMD, "--weights: '%s' is not deepseq, plmc or none", rule);
    dgm_err err = {0};
    dgm_model *m = NULL;
    dgm_fit_cfg fc;
    dgm_dataset ds = {0};
    dgm_fit_data fd = {.data = &ds, .data_spec = data, .labels_spec = labels};
    cli_resumed rs;
    int rr = cli_fit_start(CMD, &fo, (uint64_t)c.seed, resume, is_made, &m, &fc, &fd, &rs);
    if (rr)
        return rr;
    data = fd.data_spec, labels = fd.labels_spec;
    if (resume && MADE(m)->have_focus) /* the same weights as the run resumed */
        rule = MADE(m)->focus.weights, theta = MADE(m)->focus.theta;
    if (resume && !strcmp(out, "made.safetensors"))
        out = rs.model_path;
    /* the data: images as bytes, or an alignment seen as a sequence data set */
    int seq = is_alignment(data), rc = 0;
    dgm_alignment a = {0};
    double *w = NULL, neff = 0;
    if (seq) {
        if (dgm_alignment_read(&a, data, NULL, &err)) {
            dgm_model_free(m);
            return cli_fail_err(CMD, &err);
        }
        rc = cli_seq_weights(CMD, &a, rule, theta, &w, &neff);
        ds.kind = DGM_DATA_SEQ, ds.n = a.n, ds.d = a.L, ds.seq = a.seq, ds.weights = w;
        snprintf(ds.alphabet, sizeof ds.alphabet, "%s", DGM_AA_ALPHABET);
        ds.alphabet_size = DGM_AA_N + 1;
        snprintf(ds.source, sizeof ds.source, "%s", data);
        if (!rc)
            fprintf(stderr, "%s: %zu sequences, %zu columns, focus %s/%ld; Neff %.1f (%s, theta "
                    "%g)\n", data, a.n, a.L, a.focus_name, a.focus_start, neff, rule, theta);
    } else if (dgm_data_load_8bit(&ds, data, labels, &err)) {
        dgm_model_free(m);
        return cli_fail_err(CMD, &err);
    } else if (ds.kind != DGM_DATA_REAL) {
        rc = cli_fail(CMD, "%s: a binary MADE needs numeric data", ds.source);
    }
    dgm_made_cfg cfg = m ? *dgm_made_config(m) : dgm_made_defaults();
    if (!m && !rc) {
        cfg.kind = seq ? DGM_MADE_CATEGORICAL : DGM_MADE_BINARY;
        cfg.dim = ds.d, cfg.height = ds.height, cfg.width = ds.width;
        cfg.n_masks = (int)masks, cfg.order = strcmp(order, "random") ? DGM_MADE_NATURAL : DGM_MADE_RANDOM;
        cfg.mask_seed = (uint64_t)(mask_seed >= 0 ? mask_seed : c.seed);
        cfg.n_classes = conditional ? ds.n_classes : 0;
        if (conditional && (seq || !ds.y || ds.n_classes < 1))
            rc = cli_fail(CMD, "%s: --conditional needs labelled data (give --labels)", ds.source);
        else if ((cfg.n_hidden = cli_parse_sizes(cfg.hidden, 8, hidden, 65536)) < 1)
            rc = cli_usage(CMD, "--hidden: '%s' is not a list of 1 to 8 widths like 500 or 500,500", hidden);
        else {
            dgm_rng root, init;
            dgm_rng_init(&root, fc.seed);
            dgm_rng_fork(&init, &root, UINT64_MAX - 1);
            if (dgm_made_create(&m, &init, &cfg, seq ? &a : NULL, &err))
                rc = cli_fail_err(CMD, &err);
            else if (seq) {
                made_focus *f = &MADE(m)->focus;
                f->neff = neff, f->theta = theta;
                snprintf(f->weights, sizeof f->weights, "%s", rule);
            }
        }
    }
    cli_fit_view view;
    char what[1024];
    size_t w0 = 0;
    w0 += (size_t)snprintf(what + w0, sizeof what - w0, "made %s %zu", seq ? "categorical" : "binary",
                           cfg.dim);
    for (int l = 0; l < cfg.n_hidden && w0 < sizeof what; l++)
        w0 += (size_t)snprintf(what + w0, sizeof what - w0, "-%zu", cfg.hidden[l]);
    if (w0 < sizeof what)
        w0 += (size_t)snprintf(what + w0, sizeof what - w0, "-%zu", cfg.dim);
    if (w0 < sizeof what)
        snprintf(what + w0, sizeof what - w0, ", %d mask%s (%s)%s on %.400s", cfg.n_masks,
                 cfg.n_masks == 1 ? "" : "s", cfg.order == DGM_MADE_NATURAL ? "natural" : "random",
                 cfg.n_classes ? ", given the class" : "", ds.source);
    cli_fit_view_init(&view, what);
    view.batch = fc.batch, view.n_params = m ? dgm_model_n_params(m) : 0;
    view.record = log != NULL;
    view.run.skip_first = resume != NULL;
    if (!rc && log && !(view.log = fopen(log, "a")))
        rc = cli_fail(CMD, "%s: cannot open the log for appending", log);
    if (!rc) {
        fc.checkpoint = out, fc.stop = &interrupted, fc.progress = cli_fit_view_cb;
        fc.progress_ctx = &view;
        dgm_fit_result res;
        signal(SIGINT, on_sigint);
        dgm_status s = dgm_fit(m, &fd, &fc, &res, &err);
        signal(SIGINT, SIG_DFL);
        if (s)
            rc = cli_fail_err(CMD, &err);
        else
            cli_print_minibatch_fit(m, &res, out, fc.epochs, c.json, 1);
        if (!s && res.stopped)
            rc = 130;
    }
    cli_fit_view_end(&view);
    if (view.log)
        fclose(view.log);
    if (seq) {
        free(w);
        dgm_alignment_free(&a);
    } else {
        dgm_data_free(&ds);
    }
    dgm_model_free(m);
    return rc;
}
