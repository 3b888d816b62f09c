/* dgm train --model realnvp|maf: a RealNVP flow (affine couplings with MLP conditioners) or
 * a MAF (MADE-based autoregressive affine layers) on
 * dequantised 8-bit images through the logit transform, or on continuous data with
 * --alpha 0, through dgm_fit's minibatch loop: progress, --log, a checkpoint after every
 * epoch, the NaN guard keeping the last good checkpoint, Ctrl-C and --resume bit for bit. */
#include "cli.h"
#include "model_io.h"
#include "train.h"
#include "fit_view.h"
#include "par/par.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "train"

static volatile int interrupted;
static void on_sigint(int sig) { (void)sig; interrupted = 1; }


static int is_flow(const dgm_model *m) { return dgm_flow_config(m) != NULL; }

int cli_train_flow(int argc, char **argv)
{
    const char *data = "fashion-mnist", *labels = NULL, *out = "realnvp.safetensors", *log = NULL;
    const char *resume = NULL, *hidden = "1000";
    const char *model = "realnvp";
    long couplings = 8, layers = 5, micro = 0;
    double alpha = 0.05;
    int conditional = 0;
    cli_common c;
    cli_common_defaults(&c);
    cli_fit_opts fo;
    cli_fit_opts_defaults(&fo, 100);
    const cli_opt table[] = {
        {"--model", OPT_STR, &model, "M", "realnvp (affine couplings) or maf (masked autoregressive flow)", 1, 0},
        {"--data", OPT_STR, &data, "SPEC", "fashion-mnist, or a path (IDX, CSV, NPY)", 1, 0},
        {"--labels", OPT_STR, &labels, "PATH", "label file (default: beside IDX images)", 1, 0},
        {"-o", OPT_STR, &out, "PATH", "model file, rewritten each epoch; the training checkpoint goes beside it as NAME.ckpt.safetensors", 1, 0},
        {"--couplings", OPT_LONG, &couplings, "K", "realnvp: affine coupling layers (alternating masks)", 1, 64},
        {"--layers", OPT_LONG, &layers, "K", "maf: autoregressive layers (orderings alternate)", 1, 64},
        {"--hidden", OPT_STR, &hidden, "W[,W...]", "conditioner (realnvp) or MADE (maf) hidden widths (1 to 4 layers, ReLU)", 1, 0},
        {"--conditional", OPT_FLAG, &conditional, NULL, "learn p(x | y) from the data's labels: a class-conditional flow, which samples given a class and classifies by Bayes' rule (dgm classify)", 1, 0},
        {"--alpha", OPT_DOUBLE, &alpha, "A", "logit transform logit(A + (1 - 2A) x) for dequantised 8-bit data; 0: data on R^D, no transform", 0, 0.49},
        CLI_FIT_OPTS(&fo, "examples held out for validation (exact NLL after each epoch)"),
        {"--log", OPT_STR, &log, "PATH", "append JSON lines, one per step and one per epoch (train_loss is -log p in nats; val_neg_elbo the exact validation NLL)", 1, 0},
        {"--resume", OPT_STR, &resume, "MODEL", "continue the run of MODEL from its checkpoint (its options are kept)", 1, 0},
        {"--micro-batch", OPT_LONG, &micro, "S", "rows per micro-shard (default: the whole batch, one shard, the fastest in one process; with --resume, the saved one): the shards' gradients are summed in a fixed tree, so a run under mpirun -np R (which needs R shards) writes the file one process writes with the same S", 1, 1 << 20},
        CLI_COMMON_OPTS(&c),
    };
    const char *pos[1];
    int npos, r = cli_parse(CMD, "--model realnvp|maf [options]", "Train a normalising flow, "
                            "RealNVP (affine couplings, Dinh et al. 2017) or MAF (Papamakarios et "
                            "al. 2017), by maximum likelihood: exact log p(x) through the change of "
                            "variables.\nImages: uniform dequantisation, the logit transform, 8 "
                            "couplings (or 5 MAF layers) with 784-1000-1568 ReLU networks, Adam 1e-3, "
                            "batch 100, 10 epochs on Fashion-MNIST.",
                            argc, argv, table, (int)(sizeof table / sizeof table[0]), pos, 0, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    cli_common_apply(&c);
    if (micro > 0)
        dgm__par_set_micro((size_t)micro);
    int maf = !strcmp(model, "maf");
    if (strcmp(model, "realnvp") && !maf)
        return cli_usage(CMD, "--model: '%s' is not realnvp or maf", model);
    if (maf && !strcmp(out, "realnvp.safetensors"))
        out = "maf.safetensors";
    dgm_err err = {0};
    dgm_model *m = NULL;
    dgm_fit_cfg fc;
    dgm_dataset ds = {0};
    dgm_fit_data fd = {.data = &ds, .data_spec = data, .labels_spec = labels};
    cli_resumed rs;
    int rr = cli_fit_start(CMD, &fo, (uint64_t)c.seed, resume, is_flow, &m, &fc, &fd, &rs);
    if (rr)
        return rr;
    data = fd.data_spec, labels = fd.labels_spec;
    if (resume && (!strcmp(out, "realnvp.safetensors") || !strcmp(out, "maf.safetensors")))
        out = rs.model_path;
    int rc = 0;
    if (dgm_data_load_8bit(&ds, data, labels, &err)) {
        dgm_model_free(m);
        return cli_fail_err(CMD, &err);
    }
    if (ds.kind != DGM_DATA_REAL)
        rc = cli_fail(CMD, "%s: a flow needs numeric data", ds.source);
    dgm_flow_cfg cfg = m ? *dgm_flow_config(m) : dgm_flow_defaults();
    if (!m && !rc) {
        cfg.dim = ds.d, cfg.height = ds.height, cfg.width = ds.width;
        cfg.kind = maf ? DGM_FLOW_MAF : DGM_FLOW_REALNVP;
        cfg.n_couplings = (int)(maf ? layers : couplings), cfg.alpha = alpha;
        cfg.n_classes = conditional ? ds.n_classes : 0;
        if (conditional && (!ds.y || ds.n_classes < 1))
            rc = cli_fail(CMD, "%s: --conditional needs labelled data (give --labels)", ds.source);
        else if ((cfg.n_hidden = cli_parse_sizes(cfg.hidden, 4, hidden, 65536)) < 1)
            rc = cli_usage(CMD, "--hidden: '%s' is not a list of 1 to 4 widths like 1000", hidden);
        else {
            dgm_rng root, init;
            dgm_rng_init(&root, fc.seed);
            dgm_rng_fork(&init, &root, UINT64_MAX - 1);
            if (dgm_flow_create(&m, &init, &cfg, &err))
                rc = cli_fail_err(CMD, &err);
        }
    }
    cli_fit_view view;
    char what[1024];
    size_t w0 = (size_t)snprintf(what, sizeof what, cfg.kind == DGM_FLOW_MAF
                                 ? "maf %d layers, MADEs %zu" : "realnvp %d couplings, "
                                 "conditioners %zu", cfg.n_couplings, cfg.dim);
    for (int l = 0; l < cfg.n_hidden && w0 < sizeof what; l++)
        w0 += (size_t)snprintf(what + w0, sizeof what - w0, "-%zu", cfg.hidden[l]);
    if (w0 < sizeof what)
        snprintf(what + w0, sizeof what - w0, "-%zu, %s%s on %.400s", 2 * cfg.dim,
                 cfg.alpha > 0 ? "logit of dequantised data" : "continuous",
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
    dgm_data_free(&ds);
    dgm_model_free(m);
    return rc;
}
