/* dgm train for the VAE and CVAE: data loading and splitting, dynamic binarization (or
 * dequantisation for the Gaussian decoder), the epoch loop with KL warm-up, validation,
 * per-epoch checkpoints written atomically with the optimizer and position, --resume,
 * Ctrl-C that saves where it stopped, and a clean stop on a non-finite loss.
 * Randomness: epoch e uses stream fork(seed, e) for its permutation; step s of it uses
 * fork(fork(seed, e), s + 1), split into binarization and reparameterisation streams, so
 * a resumed run repeats exactly what an uninterrupted one would have done. */
#include "cli.h"
#include "progress.h"
#include "train.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) { (void)sig; interrupted = 1; }

typedef struct {
    const char *data, *labels, *out, *log, *resume, *hidden, *act, *decoder, *sigma;
    const char *objective, *optimizer, *schedule, *model;
    long latent, epochs, batch, k, limit, val;
    double lr, kl_warmup, free_bits, weight_decay, clip;
    cli_common c;
} opts;

static cJSON *state_json(const opts *o, long epoch, long step, long t, double loss)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "epoch", (double)epoch);
    cJSON_AddNumberToObject(s, "step", (double)step);
    cJSON_AddNumberToObject(s, "global_step", (double)t);
    cJSON_AddNumberToObject(s, "seed", (double)o->c.seed);
    cJSON_AddNumberToObject(s, "epochs", (double)o->epochs);
    cJSON_AddNumberToObject(s, "batch", (double)o->batch);
    cJSON_AddNumberToObject(s, "lr", o->lr);
    cJSON_AddStringToObject(s, "objective", o->objective);
    cJSON_AddNumberToObject(s, "k", (double)o->k);
    cJSON_AddNumberToObject(s, "kl_warmup", o->kl_warmup);
    cJSON_AddNumberToObject(s, "free_bits", o->free_bits);
    cJSON_AddStringToObject(s, "optimizer", o->optimizer);
    cJSON_AddStringToObject(s, "schedule", o->schedule);
    cJSON_AddNumberToObject(s, "weight_decay", o->weight_decay);
    cJSON_AddNumberToObject(s, "clip", o->clip);
    cJSON_AddStringToObject(s, "data", o->data);
    if (o->labels)
        cJSON_AddStringToObject(s, "labels", o->labels);
    cJSON_AddNumberToObject(s, "limit", (double)o->limit);
    cJSON_AddNumberToObject(s, "val", (double)o->val);
    cJSON_AddNumberToObject(s, "train_loss", loss);
    return s;
}

/* Restores options saved in a train state; strings point into st (kept alive). */
static int restore(opts *o, const cJSON *st, long *epoch, long *step, long *t, long epochs_cli)
{
#define NUM(key, dst) do { const cJSON *v_ = cJSON_GetObjectItemCaseSensitive(st, key); \
    if (!cJSON_IsNumber(v_)) { return 0; } dst = v_->valuedouble; } while (0)
#define STR(key, dst) do { const cJSON *v_ = cJSON_GetObjectItemCaseSensitive(st, key); \
    if (!cJSON_IsString(v_)) { return 0; } dst = v_->valuestring; } while (0)
    double d;
    NUM("epoch", d); *epoch = (long)d;
    NUM("step", d); *step = (long)d;
    NUM("global_step", d); *t = (long)d;
    NUM("seed", d); o->c.seed = (long)d;
    NUM("epochs", d); o->epochs = epochs_cli > 0 ? epochs_cli : (long)d;
    NUM("batch", d); o->batch = (long)d;
    NUM("lr", o->lr);
    NUM("k", d); o->k = (long)d;
    NUM("kl_warmup", o->kl_warmup);
    NUM("free_bits", o->free_bits);
    NUM("weight_decay", o->weight_decay);
    NUM("clip", o->clip);
    NUM("limit", d); o->limit = (long)d;
    NUM("val", d); o->val = (long)d;
    STR("objective", o->objective);
    STR("optimizer", o->optimizer);
    STR("schedule", o->schedule);
    STR("data", o->data);
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(st, "labels");
    o->labels = cJSON_IsString(l) ? l->valuestring : NULL;
    return 1;
#undef NUM
#undef STR
}

static int parse_hidden(const char *s, dgm_vae_cfg *cfg)
{
    cfg->n_hidden = 0;
    if (!*s || !strcmp(s, "none"))
        return 1;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 65536 || cfg->n_hidden == 8)
            return 0;
        cfg->hidden[cfg->n_hidden++] = (size_t)v;
        if (*end == ',')
            end++;
        else if (*end)
            return 0;
        s = end;
    }
    return 1;
}

/* Model-space copy of example rows idx[0..b): fresh Bernoulli draws (dynamic
 * binarization) or fresh dequantisation noise, one stream per example. The data stay in
 * their loaded form (8-bit images as bytes); only the batch exists as floats. */
static void make_batch(float *out, const dgm_dataset *ds, const size_t *idx, size_t b,
                       const dgm_rng *rng, int bernoulli)
{
    const dgm_prep how = bernoulli ? DGM_PREP_BINARIZE
                         : ds->is_8bit ? DGM_PREP_DEQUANTIZE : DGM_PREP_COPY;
    long bl = (long)b;
#pragma omp parallel for schedule(static)
    for (long il = 0; il < bl; il++) {
        dgm_rng r;
        dgm_rng_fork(&r, rng, (uint64_t)il);
        dgm_data_example(&r, out + (size_t)il * ds->d, ds, idx[il], how);
    }
}

static dgm_opt_kind opt_kind(const char *s)
{
    return !strcmp(s, "sgd") ? DGM_OPT_SGD : !strcmp(s, "adamw") ? DGM_OPT_ADAMW : DGM_OPT_ADAM;
}

int cli_train_vae(int argc, char **argv)
{
    opts o = {0};
    o.model = "vae";
    o.data = "fashion-mnist";
    o.out = "vae.safetensors";
    o.hidden = "400";
    o.act = "relu";
    o.decoder = "bernoulli";
    o.sigma = "learned";
    o.objective = "elbo";
    o.optimizer = "adam";
    o.schedule = "constant";
    o.latent = 20;
    o.epochs = 10;
    o.batch = 128;
    o.k = 5;
    o.lr = 1e-3;
    o.val = 0;
    cli_common_defaults(&o.c);
    long epochs_cli = -1;
    double lr_cli = -1;
    int saved = 0; /* a checkpoint of this run (or the one resumed) exists on disk */
    const cli_opt table[] = {
        {"--model", OPT_STR, &o.model, "M", "vae, or cvae (conditional on the labels); "
         "gaussian|gmm|bernoulli|bernoulli-mixture|independent have their own --help", 1, 0},
        {"--data", OPT_STR, &o.data, "SPEC", "training data: fashion-mnist, or a path (IDX, CSV, NPY)", 1, 0},
        {"--labels", OPT_STR, &o.labels, "PATH", "label file (default: beside IDX images)", 1, 0},
        {"-o", OPT_STR, &o.out, "PATH", "model file (safetensors), rewritten each epoch", 1, 0},
        {"--hidden", OPT_STR, &o.hidden, "W[,W...]", "hidden widths of the encoder; the decoder mirrors them", 1, 0},
        {"--latent", OPT_LONG, &o.latent, "Z", "latent dimensions", 1, 256},
        {"--activation", OPT_STR, &o.act, "A", "relu, leaky_relu, tanh, sigmoid, softplus, elu", 1, 0},
        {"--decoder", OPT_STR, &o.decoder, "D", "bernoulli (binarized data) or gaussian (dequantized)", 1, 0},
        {"--sigma", OPT_STR, &o.sigma, "S", "gaussian decoder variance: learned (per dimension) or predicted", 1, 0},
        {"--objective", OPT_STR, &o.objective, "O", "elbo, or iwae (importance-weighted bound)", 1, 0},
        {"--k", OPT_LONG, &o.k, "K", "importance samples for --objective iwae", 1, 5000},
        {"--kl-warmup", OPT_DOUBLE, &o.kl_warmup, "EPOCHS", "anneal the KL weight from 0 to 1 over this many epochs", 0, 1e6},
        {"--free-bits", OPT_DOUBLE, &o.free_bits, "NATS", "free bits per latent dimension (0: off)", 0, 1e3},
        {"--epochs", OPT_LONG, &epochs_cli, "N", "epochs (default 10; with --resume, the new total)", 1, 1e7},
        {"--batch", OPT_LONG, &o.batch, "B", "minibatch size", 1, 1 << 20},
        {"--lr", OPT_DOUBLE, &lr_cli, "LR", "learning rate (default 0.001; with --resume, "
         "overrides the saved one)", 1e-12, 10},
        {"--optimizer", OPT_STR, &o.optimizer, "OPT", "adam, adamw or sgd", 1, 0},
        {"--weight-decay", OPT_DOUBLE, &o.weight_decay, "W", "weight decay (L2; decoupled for adamw)", 0, 10},
        {"--clip", OPT_DOUBLE, &o.clip, "NORM", "clip the gradient norm (0: off)", 0, 1e9},
        {"--schedule", OPT_STR, &o.schedule, "S", "learning-rate schedule: constant or cosine", 1, 0},
        {"--val", OPT_LONG, &o.val, "N", "examples held out for validation", 0, 1e9},
        {"--limit", OPT_LONG, &o.limit, "N", "use only the first N examples (0: all)", 0, 1e12},
        {"--log", OPT_STR, &o.log, "PATH", "append per-epoch metrics as JSON lines", 1, 0},
        {"--resume", OPT_STR, &o.resume, "MODEL", "continue the run saved in MODEL (its options are kept)", 1, 0},
        CLI_COMMON_OPTS(&o.c),
    };
    const char *pos[1];
    int npos;
    int r = cli_parse("train", "[options]", "Train a VAE (or CVAE) by maximising the ELBO or the "
                      "importance-weighted bound.\nThe reference model (no options): 784-400-20 "
                      "ReLU, Bernoulli decoder, Adam 1e-3, batch 128, 10 epochs on Fashion-MNIST.",
                      argc, argv, table, (int)(sizeof table / sizeof table[0]), pos, 0, &npos);
    if (r)
        return r == 1 ? 0 : 2;
    cli_common_apply(&o.c);
    dgm_err err = {0};
    dgm_model *m = NULL;
    cJSON *state = NULL;
    long epoch0 = 0, step0 = 0, t = 0;
    if (epochs_cli > 0)
        o.epochs = epochs_cli;
    if (lr_cli > 0)
        o.lr = lr_cli;
    if (o.resume) {
        if (dgm_model_load(&m, o.resume, &err))
            return cli_fail_err("train", &err);
        if (!dgm_model_is_vae(m) || !dgm_model_train_state(m) ||
            !(state = cJSON_Parse(dgm_model_train_state(m))) ||
            !restore(&o, state, &epoch0, &step0, &t, epochs_cli)) {
            dgm_model_free(m);
            cJSON_Delete(state);
            return cli_fail("train", "%s: no usable training state to resume from", o.resume);
        }
        if (lr_cli > 0)
            o.lr = lr_cli;
        if (!strcmp(o.out, "vae.safetensors"))
            o.out = o.resume;
        saved = !strcmp(o.out, o.resume);
    }
    int iwae = !strcmp(o.objective, "iwae");
    if (!iwae && strcmp(o.objective, "elbo"))
        return cli_fail("train", "--objective: unknown objective '%s' (elbo, iwae)", o.objective);
    if (strcmp(o.optimizer, "adam") && strcmp(o.optimizer, "adamw") && strcmp(o.optimizer, "sgd"))
        return cli_fail("train", "--optimizer: unknown optimizer '%s' (adam, adamw, sgd)", o.optimizer);
    if (strcmp(o.schedule, "constant") && strcmp(o.schedule, "cosine"))
        return cli_fail("train", "--schedule: unknown schedule '%s' (constant, cosine)", o.schedule);

    /* 8-bit images stay bytes: the training set is 47 MB instead of 188 MB as floats */
    dgm_dataset ds = {0};
    if (dgm_data_load_8bit(&ds, o.data, o.labels, &err)) {
        dgm_model_free(m);
        cJSON_Delete(state);
        return cli_fail_err("train", &err);
    }
    int rc = 1;
    float *batch_x = NULL, *val_x = NULL;
    int32_t *batch_y = NULL, *val_y = NULL;
    size_t *perm = NULL, *order = NULL;
    double *val_elbo = NULL;
    FILE *logf = NULL;
    if (ds.kind != DGM_DATA_REAL) {
        cli_fail("train", "%s: the image VAE needs numeric data", ds.source);
        goto done;
    }
    size_t n = o.limit > 0 && (size_t)o.limit < ds.n ? (size_t)o.limit : ds.n;
    if ((size_t)o.val >= n) {
        cli_fail("train", "--val %ld leaves no training data (%zu examples)", o.val, n);
        goto done;
    }
    int conditional = m ? dgm_model_n_classes(m) > 0 : !strcmp(o.model, "cvae");
    if (!m && strcmp(o.model, "vae") && strcmp(o.model, "cvae")) {
        cli_fail("train", "--model: unknown model '%s'", o.model);
        goto done;
    }
    if (conditional && (!ds.y || ds.n_classes < 1)) {
        cli_fail("train", "%s: a cvae needs labels (give --labels)", ds.source);
        goto done;
    }
    dgm_vae_cfg cfg = dgm_vae_defaults();
    if (m) {
        cfg = *dgm_vae_config(m);
    } else {
        cfg.dim = ds.d;
        cfg.height = ds.height;
        cfg.width = ds.width;
        cfg.latent = (size_t)o.latent;
        int a = dgm_act_from_name(o.act);
        if (a < 0 || !parse_hidden(o.hidden, &cfg)) {
            cli_fail("train", a < 0 ? "--activation: unknown activation '%s'"
                              : "--hidden: '%s' is not a list of widths like 512,256", a < 0 ? o.act : o.hidden);
            goto done;
        }
        cfg.act = (dgm_act)a;
        if (!strcmp(o.decoder, "gaussian"))
            cfg.likelihood = DGM_LIK_GAUSSIAN;
        else if (strcmp(o.decoder, "bernoulli")) {
            cli_fail("train", "--decoder: unknown decoder '%s' (bernoulli, gaussian)", o.decoder);
            goto done;
        }
        if (strcmp(o.sigma, "learned") && strcmp(o.sigma, "predicted")) {
            cli_fail("train", "--sigma: unknown value '%s' (learned, predicted)", o.sigma);
            goto done;
        }
        cfg.sigma_predicted = !strcmp(o.sigma, "predicted");
        cfg.n_classes = conditional ? ds.n_classes : 0;
    }
    if (cfg.dim != ds.d) {
        cli_fail("train", "%s: examples have %zu values but the model expects %zu", ds.source,
                 ds.d, cfg.dim);
        goto done;
    }
    if (conditional && ds.n_classes > cfg.n_classes) {
        cli_fail("train", "%s: labels go up to %d but the model has %d classes", ds.source,
                 ds.n_classes - 1, cfg.n_classes);
        goto done;
    }
    int bern = cfg.likelihood == DGM_LIK_BERNOULLI;
    for (size_t i = 0; bern && ds.x && i < n * ds.d; i++) /* 8-bit levels are in [0, 1] */
        if (!(ds.x[i] >= 0.0f && ds.x[i] <= 1.0f)) {
            cli_fail("train", "%s: value %g of example %zu is outside [0, 1], which a Bernoulli "
                     "decoder needs (scale the data, or use --decoder gaussian)", ds.source,
                     (double)ds.x[i], i / ds.d);
            goto done;
        }

    /* split: a seeded shuffle, the first --val examples held out */
    dgm_rng root;
    dgm_rng_init(&root, (uint64_t)o.c.seed);
    order = dgm_malloc_array(n, sizeof(size_t));
    if (!order) { cli_fail("train", "out of memory"); goto done; }
    {
        dgm_rng split;
        dgm_rng_fork(&split, &root, UINT64_MAX);
        dgm_rng_permutation(&split, order, n);
    }
    size_t n_val = (size_t)o.val, n_train = n - n_val;
    const size_t *train_idx = order + n_val;
    if (!m) {
        dgm_rng init;
        dgm_rng_fork(&init, &root, UINT64_MAX - 1);
        if (dgm_vae_create(&m, &init, &cfg, &err)) {
            cli_fail_err("train", &err);
            goto done;
        }
    }
    if (conditional && !o.resume) {
        /* p(y) from the training label frequencies, for the Bayes-rule classifier */
        int C = dgm_model_n_classes(m);
        double *lp = calloc((size_t)C, sizeof(double));
        if (!lp) { cli_fail("train", "out of memory"); goto done; }
        for (size_t i = 0; i < n_train; i++)
            lp[ds.y[train_idx[i]]] += 1.0;
        for (int c = 0; c < C; c++) {
            if (lp[c] == 0) {
                free(lp);
                cli_fail("train", "%s: class %d has no training examples", ds.source, c);
                goto done;
            }
            lp[c] = log(lp[c] / (double)n_train);
        }
        dgm_model_set_log_prior(m, lp, NULL);
        free(lp);
    }
    size_t B = (size_t)o.batch;
    batch_x = dgm_malloc_array(B, ds.d * sizeof(float));
    batch_y = dgm_malloc_array(B, sizeof(int32_t));
    perm = dgm_malloc_array(n_train, sizeof(size_t));
    if (n_val) {
        val_x = dgm_malloc_array(n_val, ds.d * sizeof(float));
        val_y = dgm_malloc_array(n_val, sizeof(int32_t));
        val_elbo = dgm_malloc_array(n_val, sizeof(double));
    }
    if (!batch_x || !batch_y || !perm || (n_val && (!val_x || !val_y || !val_elbo))) {
        cli_fail("train", "out of memory");
        goto done;
    }
    if (n_val) {
        dgm_rng vr;
        dgm_rng_init(&vr, DGM_EVAL_PREP_SEED);
        make_batch(val_x, &ds, order, n_val, &vr, bern);
        if (ds.y)
            for (size_t i = 0; i < n_val; i++)
                val_y[i] = ds.y[order[i]];
    }
    if (o.log && !(logf = fopen(o.log, "a"))) {
        cli_fail("train", "%s: cannot open the log for appending", o.log);
        goto done;
    }
    dgm_optim_cfg opt = dgm_optim_defaults(opt_kind(o.optimizer));
    opt.lr = (float)o.lr;
    opt.weight_decay = (float)o.weight_decay;
    opt.clip_norm = (float)o.clip;
    size_t steps_per_epoch = (n_train + B - 1) / B;
    if (!strcmp(o.schedule, "cosine")) {
        opt.sched = DGM_SCHED_COSINE;
        opt.total_steps = (long)steps_per_epoch * o.epochs;
    }
    dgm_vae_step obj = {iwae ? DGM_OBJ_IWAE : DGM_OBJ_ELBO, (int)o.k, 1.0, o.free_bits};
    dgm_model_keep_optimizer(m, 1);
    signal(SIGINT, on_sigint);
    char shape[160] = "";
    for (int i = 0; i < cfg.n_hidden; i++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%zu", i ? "-" : "",
                 cfg.hidden[i]);
    fprintf(stderr, "dgm train: %s %zu-%s-%zu on %s (%zu train, %zu validation), %ld epochs, "
            "batch %zu, %d threads, %zu parameters\n", dgm_model_type(m), cfg.dim, shape,
            cfg.latent, ds.source, n_train, n_val, o.epochs, B, dgm_get_threads(),
            dgm_model_n_params(m));
    double last_loss = NAN, t_start = cli_now(), val_neg = NAN;
    long epoch = epoch0;
    for (; epoch < o.epochs; epoch++) {
        dgm_rng er;
        dgm_rng_fork(&er, &root, (uint64_t)epoch);
        for (size_t i = 0; i < n_train; i++)
            perm[i] = train_idx[i];
        {
            size_t *p = dgm_malloc_array(n_train, sizeof(size_t));
            if (!p) { cli_fail("train", "out of memory"); goto done; }
            dgm_rng_permutation(&er, p, n_train);
            for (size_t i = 0; i < n_train; i++)
                perm[i] = train_idx[p[i]];
            dgm_free(p);
        }
        cli_progress pr;
        char label[32];
        snprintf(label, sizeof label, "epoch %ld/%ld", epoch + 1, o.epochs);
        cli_progress_start(&pr, label, n_train);
        double sum_loss = 0, sum_recon = 0, sum_kl = 0, t_epoch = cli_now();
        size_t seen = 0;
        size_t s = epoch == epoch0 ? (size_t)step0 : 0;
        size_t resumed_from = s;
        for (; s < steps_per_epoch; s++) {
            size_t b0 = s * B, b = n_train - b0 < B ? n_train - b0 : B;
            dgm_rng sr, bin_r, eps_r;
            dgm_rng_fork(&sr, &er, (uint64_t)s + 1);
            dgm_rng_fork(&bin_r, &sr, 0);
            dgm_rng_fork(&eps_r, &sr, 1);
            make_batch(batch_x, &ds, perm + b0, b, &bin_r, bern);
            if (conditional)
                for (size_t i = 0; i < b; i++)
                    batch_y[i] = ds.y[perm[b0 + i]];
            obj.kl_weight = o.kl_warmup > 0
                ? fmin(1.0, ((double)epoch + (double)s / (double)steps_per_epoch) / o.kl_warmup) : 1.0;
            dgm_vae_stats st;
            if (dgm_vae_train_step(m, &eps_r, batch_x, conditional ? batch_y : NULL, b, &obj,
                                   &opt, t, &st, &err)) {
                cli_progress_end(&pr);
                if (saved)
                    cli_fail("train", "epoch %ld, step %zu: %s; stopped, the last good checkpoint "
                             "%s is kept", epoch + 1, s + 1, err.msg, o.out);
                else
                    cli_fail("train", "epoch %ld, step %zu: %s; stopped before any checkpoint was "
                             "written", epoch + 1, s + 1, err.msg);
                goto done;
            }
            t++;
            sum_loss += st.loss * (double)b;
            sum_recon += st.recon * (double)b;
            sum_kl += st.kl * (double)b;
            seen += b;
            cli_progress_update(&pr, (s + 1 - resumed_from) * B, "img/s", sum_loss / (double)seen);
            if (interrupted) {
                cli_progress_end(&pr);
                cJSON *stj = state_json(&o, epoch, (long)s + 1, t, sum_loss / (double)seen);
                char *txt = cJSON_PrintUnformatted(stj);
                cJSON_Delete(stj);
                dgm_model_set_train_state(m, txt, NULL);
                free(txt);
                if (dgm_model_save(m, o.out, &err)) {
                    cli_fail_err("train", &err);
                    goto done;
                }
                fprintf(stderr, "dgm train: interrupted in epoch %ld after step %zu; saved %s "
                        "(continue with: dgm train --resume %s)\n", epoch + 1, s + 1, o.out, o.out);
                rc = 130;
                goto done;
            }
        }
        cli_progress_end(&pr);
        double secs = cli_now() - t_epoch;
        last_loss = seen ? sum_loss / (double)seen : NAN;
        if (n_val) {
            dgm_rng vr;
            dgm_rng_init(&vr, DGM_EVAL_PREP_SEED + 1);
            if (dgm_vae_elbo(m, &vr, val_elbo, NULL, NULL, val_x, conditional ? val_y : NULL,
                             n_val, &err)) {
                cli_fail_err("train", &err);
                goto done;
            }
            double sv = 0;
            for (size_t i = 0; i < n_val; i++)
                sv -= val_elbo[i];
            val_neg = sv / (double)n_val;
        }
        fprintf(stderr, "epoch %ld/%ld  loss %.3f  recon %.3f  kl %.3f", epoch + 1, o.epochs,
                last_loss, sum_recon / (double)(seen ? seen : 1), sum_kl / (double)(seen ? seen : 1));
        if (n_val)
            fprintf(stderr, "  val -elbo %.3f", val_neg);
        fprintf(stderr, "  %.1f s  %.0f img/s\n", secs, (double)seen / secs);
        if (logf) {
            /* JSON has no NaN: without validation the field is null */
            char val[32] = "null";
            if (n_val && isfinite(val_neg))
                snprintf(val, sizeof val, "%.6f", val_neg);
            fprintf(logf, "{\"epoch\":%ld,\"train_loss\":%.6f,\"train_recon\":%.6f,\"train_kl\":%.6f,"
                    "\"val_neg_elbo\":%s,\"seconds\":%.3f,\"images_per_s\":%.1f}\n", epoch + 1,
                    last_loss, sum_recon / (double)(seen ? seen : 1),
                    sum_kl / (double)(seen ? seen : 1), val, secs, (double)seen / secs);
            fflush(logf);
        }
        cJSON *stj = state_json(&o, epoch + 1, 0, t, last_loss);
        char *txt = cJSON_PrintUnformatted(stj);
        cJSON_Delete(stj);
        dgm_model_set_train_state(m, txt, NULL);
        free(txt);
        if (dgm_model_save(m, o.out, &err)) {
            cli_fail_err("train", &err);
            goto done;
        }
        saved = 1;
    }
    double total = cli_now() - t_start;
    if (o.c.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", o.out);
        cJSON_AddStringToObject(j, "type", dgm_model_type(m));
        cJSON_AddNumberToObject(j, "epochs", (double)o.epochs);
        cJSON_AddNumberToObject(j, "steps", (double)t);
        cJSON_AddNumberToObject(j, "train_loss", last_loss);
        if (n_val)
            cJSON_AddNumberToObject(j, "val_neg_elbo", val_neg);
        cJSON_AddNumberToObject(j, "seconds", total);
        cJSON_AddNumberToObject(j, "n_train", (double)n_train);
        cli_print_json(j);
    } else {
        printf("trained %s: %ld epochs, final train loss %.3f nats", o.out, o.epochs, last_loss);
        if (n_val)
            printf(", validation -ELBO %.3f nats", val_neg);
        printf(" (%.1f s)\n", total);
    }
    rc = 0;
done:
    signal(SIGINT, SIG_DFL);
    if (logf)
        fclose(logf);
    dgm_free(batch_x);
    dgm_free(batch_y);
    dgm_free(val_x);
    dgm_free(val_y);
    dgm_free(val_elbo);
    dgm_free(perm);
    dgm_free(order);
    dgm_data_free(&ds);
    dgm_model_free(m);
    cJSON_Delete(state);
    return rc;
}
