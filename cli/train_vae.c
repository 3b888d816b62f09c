/* dgm train for the VAE and CVAE: the options, the data, the model (new, or the one given
 * to --resume with its saved options), then dgm_fit, which runs the epochs, validation,
 * checkpoints and resume (src/train/). Ctrl-C sets the driver's stop flag: the position
 * is saved and `dgm train --resume` continues bit for bit. */
#include "cli.h"
#include "model_io.h"
#include "fit_view.h"
#include "train.h"
#include "par/par.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile int interrupted;
static void on_sigint(int sig) { (void)sig; interrupted = 1; }

int cli_train_vae(int argc, char **argv)
{
    const char *data = "fashion-mnist", *labels = NULL, *out = "vae.safetensors", *log = NULL;
    const char *resume = NULL, *hidden = "400", *act = "relu", *decoder = "bernoulli";
    const char *sigma = NULL, *objective = "elbo", *model = "vae", *report = NULL;
    long latent = 20, k = 5, micro = 0;
    double kl_warmup = 0, free_bits = 0;
    cli_common c;
    cli_common_defaults(&c);
    cli_fit_opts fo;
    cli_fit_opts_defaults(&fo, 128);
    const cli_opt table[] = {
        {"--model", OPT_STR, &model, "M", "vae, or cvae (conditional on the labels); "
         "gaussian|gmm|bernoulli|bernoulli-mixture|independent have their own --help", 1, 0},
        {"--data", OPT_STR, &data, "SPEC", "training data: fashion-mnist, or a path (IDX, CSV, NPY)", 1, 0},
        {"--labels", OPT_STR, &labels, "PATH", "label file (default: beside IDX images)", 1, 0},
        {"-o", OPT_STR, &out, "PATH", "model file (safetensors: weights and config), rewritten each epoch; the training checkpoint goes beside it as NAME.ckpt.safetensors", 1, 0},
        {"--hidden", OPT_STR, &hidden, "W[,W...]", "hidden widths of the encoder; the decoder mirrors them", 1, 0},
        {"--latent", OPT_LONG, &latent, "Z", "latent dimensions", 1, 256},
        {"--activation", OPT_STR, &act, "A", "relu, leaky_relu, tanh, sigmoid, softplus, elu", 1, 0},
        {"--decoder", OPT_STR, &decoder, "D", "bernoulli (binarized data), gaussian (dequantized), or logistic (discretised logistic over the 256 grey levels; 8-bit data)", 1, 0},
        {"--sigma", OPT_STR, &sigma, "S", "gaussian decoder variance, or logistic scale: learned (per dimension) or predicted (per pixel by the decoder); default learned for gaussian, predicted for logistic", 1, 0},
        {"--objective", OPT_STR, &objective, "O", "elbo, or iwae (importance-weighted bound)", 1, 0},
        {"--importance-samples", OPT_LONG, &k, "K", "importance samples for --objective iwae", 1, 5000},
        {"--kl-warmup", OPT_DOUBLE, &kl_warmup, "EPOCHS", "anneal the KL weight from 0 to 1 over this many epochs", 0, 1e6},
        {"--free-bits", OPT_DOUBLE, &free_bits, "NATS", "free bits per latent dimension (0: off)", 0, 1e3},
        {"--micro-batch", OPT_LONG, &micro, "S", "rows per micro-shard (default 64; with --resume, the saved one): each shard's gradient is computed on one thread and the shards are summed in a fixed tree, so the weights are the same at any --threads and number of MPI ranks; the last shard of a batch holds the remainder", 1, 1 << 20},
        CLI_FIT_OPTS(&fo, "examples held out for validation (the negative ELBO after each epoch)"),
        {"--log", OPT_STR, &log, "PATH", "append JSON lines: one per step (batch_loss, lr, time) and one per epoch (train and validation metrics)", 1, 0},
        {"--report", OPT_STR, &report, "PATH", "at the end, write an HTML report: loss and learning-rate curves, samples after every epoch, the epoch and evaluation tables, the latent codes by class (dgm report makes one from a finished run)", 1, 0},
        {"--resume", OPT_STR, &resume, "MODEL", "continue the run of MODEL from its checkpoint (MODEL or MODEL.ckpt.safetensors; its options are kept)", 1, 0},
        CLI_COMMON_OPTS(&c),
        CLI_ALIAS("--k", "--importance-samples"),
    };
    const char *pos[1];
    int npos, r = cli_parse("train", "[options]", "Train a VAE (or CVAE) by maximising the ELBO "
                            "or the importance-weighted bound.\nThe reference model (no options): "
                            "784-400-20 ReLU, Bernoulli decoder, Adam 1e-3, batch 128, 10 epochs on "
                            "Fashion-MNIST.", argc, argv, table, (int)(sizeof table / sizeof table[0]),
                            pos, 0, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    cli_common_apply(&c);
    dgm_err err = {0};
    dgm_model *m = NULL; /* a new model, or the one resumed */
    dgm_fit_cfg fc;
    dgm_dataset ds = {0}; /* 8-bit images stay bytes: 47 MB instead of 188 MB as floats */
    dgm_fit_data fd = {.data = &ds, .data_spec = data, .labels_spec = labels};
    int obj = dgm_objective_from_name(objective), a = dgm_act_from_name(act);
    if (!resume && obj < 0)
        return cli_usage("train", "--objective: unknown objective '%s' (elbo, iwae)", objective);
    cli_resumed rs;
    int rr = cli_fit_start("train", &fo, (uint64_t)c.seed, resume, dgm_model_is_vae, &m, &fc,
                           &fd, &rs);
    if (rr)
        return rr;
    data = fd.data_spec, labels = fd.labels_spec;
    if (resume && !strcmp(out, "vae.safetensors"))
        out = rs.model_path;
    if (!resume)
        fc.objective = obj, fc.k = (int)k, fc.kl_warmup = kl_warmup, fc.free_bits = free_bits;
    if (micro > 0)
        dgm__par_set_micro((size_t)micro);
    if (dgm__par_rank() > 0) /* rank 0 writes the log and the report */
        log = report = NULL;
    /* every rank reads the data; a failure anywhere stops all with the first one's message */
    if (dgm__par_agree(dgm_data_load_8bit(&ds, data, labels, &err), &err)) {
        dgm_model_free(m);
        return cli_fail_err("train", &err);
    }
    int rc = 1, cond = !strcmp(model, "cvae");
    dgm_vae_cfg cfg = m ? *dgm_vae_config(m) : dgm_vae_defaults();
    if (!m) {
        cfg.dim = ds.d, cfg.height = ds.height, cfg.width = ds.width, cfg.latent = (size_t)latent;
        int lik = dgm_vae_lik_from_name(decoder);
        cfg.likelihood = lik < 0 ? DGM_LIK_BERNOULLI : (dgm_vae_lik)lik;
        if (!sigma) /* PixelCNN++ and IAF predict each pixel's scale */
            sigma = lik == DGM_LIK_LOGISTIC ? "predicted" : "learned";
        cfg.sigma_predicted = !strcmp(sigma, "predicted");
        cfg.n_classes = cond ? ds.n_classes : 0, cfg.act = (dgm_act)(a < 0 ? 0 : a);
        if (strcmp(model, "vae") && !cond)
            rc = cli_usage("train", "--model: unknown model '%s'", model);
        else if (a < 0 || (cfg.n_hidden = strcmp(hidden, "none") ? cli_parse_sizes(cfg.hidden, 8, hidden, 65536) : 0) < 0)
            rc = cli_usage("train", a < 0 ? "--activation: unknown activation '%s'" : "--hidden: '%s' "
                     "is not a list of widths like 512,256", a < 0 ? act : hidden);
        else if (lik < 0 || (strcmp(sigma, "learned") && strcmp(sigma, "predicted")))
            rc = cli_usage("train", lik >= 0 ? "--sigma: unknown value '%s' (learned, predicted)"
                     : "--decoder: unknown decoder '%s' (bernoulli, gaussian, logistic)",
                     lik >= 0 ? sigma : decoder);
        else if (ds.kind == DGM_DATA_REAL && cond && (!ds.y || ds.n_classes < 1))
            cli_fail("train", "%s: a cvae needs labels (give --labels)", ds.source);
        else if (ds.kind != DGM_DATA_REAL)
            cli_fail("train", "%s: the image VAE needs numeric data", ds.source);
        else {
            dgm_rng root, init;
            dgm_rng_init(&root, fc.seed);
            dgm_rng_fork(&init, &root, UINT64_MAX - 1);
            if (dgm_vae_create(&m, &init, &cfg, &err))
                cli_fail_err("train", &err);
        }
    }
    cli_fit_view view;
    cli_fit_view_init_vae(&view, m, &cfg, ds.source, fc.batch);
    view.record = log || report;
    view.run.skip_first = resume != NULL;
    view.grid_model = report ? m : NULL;
    if (m && log && !(view.log = fopen(log, "a")))
        cli_fail("train", "%s: cannot open the log for appending", log);
    else if (m) {
        fc.checkpoint = out, fc.stop = &interrupted, fc.progress = cli_fit_view_cb, fc.progress_ctx = &view;
        dgm_fit_result res;
        signal(SIGINT, on_sigint);
        dgm_status s = dgm_fit(m, &fd, &fc, &res, &err);
        signal(SIGINT, SIG_DFL);
        if (s)
            cli_fail_err("train", &err);
        else
            cli_print_vae_fit(m, &res, out, fc.epochs, c.json);
        rc = s ? 1 : res.stopped ? 130 : 0;
        /* the report of what this run did (also of a stopped one); the held-out data are
         * Fashion-MNIST's test set, or the training data itself for other sources */
        if (report && !s) {
            const char *ev = !strcmp(data, "fashion-mnist") ? "fashion-mnist:test" : data;
            if (cli_report_write(report, &view.run, m, out, ev, !strcmp(data, "fashion-mnist")
                                 ? NULL : labels, fc.seed))
                rc = 1;
            else
                fprintf(stderr, "dgm train: report written to %s\n", report);
        }
        cli_fit_view_end(&view);
    }
    if (view.log)
        fclose(view.log);
    dgm_data_free(&ds);
    dgm_model_free(m);
    return rc;
}
