/* The minibatch training loop of dgm_fit: a seeded split into training and validation
 * rows, epochs over a fresh shuffle each, the optimizer with its schedule and KL warm-up,
 * validation after every epoch, and the checkpoint: after every epoch and when the
 * caller's stop flag is seen, the training checkpoint (dgm_model_save_checkpoint: weights,
 * optimizer moments, the training state in its metadata) is written atomically beside the
 * model file (dgm_checkpoint_path), then the model file itself (weights and config only).
 * A kill between the two leaves the model one epoch behind a checkpoint that resumes. A resumed run reads that state back and repeats what the
 * uninterrupted run would have done, bit for bit (same threads).
 * Streams: the split is fork(seed, 2^64 - 1); epoch e shuffles with fork(seed, e); step s
 * of it gets fork(fork(seed, e), s + 1), which the model splits further (the VAE: 0 for
 * binarization, 1 for the reparameterisation). */
#include "train/fit.h"
#include "par/par.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The running sums of an epoch, saved with a stopped run so that the resumed epoch
 * reports the mean over all its steps, not only those after the resume. */
typedef struct { double loss, recon, kl; size_t seen; } sums;

/* The training state kept in the model file ("dgm.train_state"): the position and every
 * option needed to continue. The field order is part of the file's bytes. */
static char *state_text(const dgm_fit_cfg *c, const dgm_fit_data *d, long epoch, long step,
                        long t, double loss, const sums *partial)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "epoch", (double)epoch);
    cJSON_AddNumberToObject(s, "step", (double)step);
    cJSON_AddNumberToObject(s, "global_step", (double)t);
    cJSON_AddNumberToObject(s, "seed", (double)c->seed);
    cJSON_AddNumberToObject(s, "epochs", (double)c->epochs);
    cJSON_AddNumberToObject(s, "batch", (double)c->batch);
    cJSON_AddNumberToObject(s, "lr", c->lr);
    cJSON_AddStringToObject(s, "objective", dgm_objective_name(c->objective));
    cJSON_AddNumberToObject(s, "k", (double)c->k);
    cJSON_AddNumberToObject(s, "kl_warmup", c->kl_warmup);
    cJSON_AddNumberToObject(s, "free_bits", c->free_bits);
    cJSON_AddStringToObject(s, "optimizer", dgm_opt_kind_name(c->optimizer));
    cJSON_AddStringToObject(s, "schedule", dgm_sched_kind_name(c->schedule));
    cJSON_AddNumberToObject(s, "weight_decay", c->weight_decay);
    cJSON_AddNumberToObject(s, "clip", c->clip);
    /* 0: not given, the model's default (64 rows for the VAEs, the whole batch for MADE and
     * the flows), which a resumed run keeps */
    cJSON_AddNumberToObject(s, "micro_batch", dgm__par_micro_given() ? (double)dgm__par_micro() : 0.0);
    cJSON_AddStringToObject(s, "data", d->data_spec ? d->data_spec : d->data->source);
    if (d->labels_spec)
        cJSON_AddStringToObject(s, "labels", d->labels_spec);
    cJSON_AddNumberToObject(s, "limit", (double)d->limit);
    cJSON_AddNumberToObject(s, "val", (double)c->n_val);
    cJSON_AddNumberToObject(s, "train_loss", loss);
    if (partial) {
        cJSON_AddNumberToObject(s, "epoch_loss_sum", partial->loss);
        cJSON_AddNumberToObject(s, "epoch_recon_sum", partial->recon);
        cJSON_AddNumberToObject(s, "epoch_kl_sum", partial->kl);
        cJSON_AddNumberToObject(s, "epoch_seen", (double)partial->seen);
    }
    char *txt = cJSON_PrintUnformatted(s);
    cJSON_Delete(s);
    return txt;
}

static dgm_status checkpoint(const dgm__fit_ops *ops, void *state, dgm_model *m,
                             const dgm_fit_cfg *c, const dgm_fit_data *d, long epoch, long step,
                             long t, double loss, const sums *partial, dgm_err *err)
{
    if (!c->checkpoint)
        return DGM_OK;
    if (ops->sync) /* the optimizer moments, on every rank (collective) */
        ops->sync(state, m);
    if (dgm__par_rank() > 0) /* rank 0 writes; the others learn whether it managed */
        return dgm__par_agree(DGM_OK, err);
    char ckpt[4096];
    if (dgm_checkpoint_path(ckpt, sizeof ckpt, c->checkpoint))
        return dgm_errf(err, DGM_ERR_ARG, "%s: path too long", c->checkpoint);
    char *txt = state_text(c, d, epoch, step, t, loss, partial);
    dgm_status s = txt ? dgm_model_set_train_state(m, txt, err)
                       : dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    free(txt);
    if (!s)
        s = dgm_model_save_checkpoint(m, ckpt, err);
    if (!s)
        s = dgm_model_save(m, c->checkpoint, err);
    return dgm__par_agree(s, err);
}

static int num(const cJSON *st, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(st, key);
    if (!cJSON_IsNumber(v))
        return 0;
    *out = v->valuedouble;
    return 1;
}

static const char *str(const cJSON *st, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(st, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The saved position of m's run: epoch, step within it and global step; the stopped
 * epoch's sums when it has them. 0 without a usable state. */
static int position(const dgm_model *m, long *epoch, long *step, long *t, sums *partial)
{
    const char *txt = dgm_model_train_state(m);
    cJSON *st = txt ? cJSON_Parse(txt) : NULL;
    double e, s, g, seen = 0;
    int ok = st && num(st, "epoch", &e) && num(st, "step", &s) && num(st, "global_step", &g);
    memset(partial, 0, sizeof *partial);
    if (ok && num(st, "epoch_seen", &seen) && num(st, "epoch_loss_sum", &partial->loss) &&
        num(st, "epoch_recon_sum", &partial->recon) && num(st, "epoch_kl_sum", &partial->kl))
        partial->seen = (size_t)seen;
    else
        memset(partial, 0, sizeof *partial);
    if (ok)
        *epoch = (long)e, *step = (long)s, *t = (long)g;
    cJSON_Delete(st);
    return ok;
}

dgm_status dgm_fit_resume_cfg(dgm_fit_cfg *c, char *data_spec, char *labels_spec, size_t cap,
                              size_t *limit, const dgm_model *m, dgm_err *err)
{
    const char *txt = dgm_model_train_state(m);
    cJSON *st = txt ? cJSON_Parse(txt) : NULL;
    double v[12];
    static const char *const keys[] = {"epoch", "step", "global_step", "seed", "epochs",
                                       "batch", "lr", "k", "kl_warmup", "free_bits",
                                       "weight_decay", "clip"};
    int ok = st != NULL;
    for (int i = 0; ok && i < 12; i++)
        ok = num(st, keys[i], &v[i]);
    double lim = 0, val = 0;
    ok = ok && num(st, "limit", &lim) && num(st, "val", &val);
    int obj = ok ? dgm_objective_from_name(str(st, "objective")) : -1;
    int opt = ok ? dgm_opt_kind_from_name(str(st, "optimizer")) : -1;
    int sch = ok ? dgm_sched_kind_from_name(str(st, "schedule")) : -1;
    const char *data = ok ? str(st, "data") : NULL;
    if (!ok || obj < 0 || opt < 0 || sch < 0 || !data) {
        cJSON_Delete(st);
        return dgm_errf(err, DGM_ERR_FORMAT, "no usable training state to resume from");
    }
    c->seed = (uint64_t)v[3];
    c->epochs = (long)v[4];
    c->batch = (size_t)v[5];
    c->lr = v[6];
    c->k = (int)v[7];
    c->kl_warmup = v[8];
    c->free_bits = v[9];
    c->weight_decay = v[10];
    c->clip = v[11];
    double micro;
    if (num(st, "micro_batch", &micro) && micro >= 0) /* older states: the default */
        dgm__par_set_micro((size_t)micro);
    c->objective = (dgm_objective)obj;
    c->optimizer = (dgm_opt_kind)opt;
    c->schedule = (dgm_sched_kind)sch;
    c->n_val = (size_t)val;
    *limit = (size_t)lim;
    const char *lab = str(st, "labels");
    int fits = strlen(data) < cap && (!lab || strlen(lab) < cap);
    if (fits) {
        snprintf(data_spec, cap, "%s", data);
        snprintf(labels_spec, cap, "%s", lab ? lab : "");
    }
    cJSON_Delete(st);
    return fits ? DGM_OK : dgm_errf(err, DGM_ERR_FORMAT, "the saved data path is longer than "
                                    "%zu bytes", cap - 1);
}

// --------------------------------------------------------------------------- loop ---

/* One run's fixed parts and its moving position. */
typedef struct {
    dgm_model *m;
    const dgm__fit_ops *ops;
    const dgm_fit_data *d;
    const dgm_fit_cfg *c;
    void *state;               /* the family's */
    dgm_optim_cfg opt;
    dgm_rng root;
    const size_t *train_idx;   /* n_train rows after the held-out ones */
    size_t *order, *perm, *shuffle;
    size_t n_train, B, steps_per_epoch;
    long t;                    /* global step */
    int saved, stopped;        /* a checkpoint exists; the stop flag was seen */
    long stop_epoch, stop_step;
    double last_loss, val;
} mb_run;

/* The NaN guard's message: where it stopped, and what is kept. */
static void say_where(const mb_run *r, dgm_status s, long epoch, size_t st, dgm_err *err)
{
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
    if (r->saved)
        dgm_errf(err, s, "epoch %ld, step %zu: %s; stopped, the last good checkpoint %s is "
                 "kept", epoch + 1, st + 1, msg, r->c->checkpoint);
    else
        dgm_errf(err, s, "epoch %ld, step %zu: %s; stopped before any checkpoint was written",
                 epoch + 1, st + 1, msg);
}

/* Epoch `epoch` from step st0 with the sums carried in sm: its steps, then (unless
 * stopped) its validation, report and checkpoint. */
static dgm_status run_epoch(mb_run *r, long epoch, size_t st0, sums sm, dgm_err *err)
{
    const dgm_fit_cfg *c = r->c;
    dgm_rng er;
    dgm_rng_fork(&er, &r->root, (uint64_t)epoch);
    dgm_rng_permutation(&er, r->shuffle, r->n_train);
    for (size_t i = 0; i < r->n_train; i++)
        r->perm[i] = r->train_idx[r->shuffle[i]];
    double t_epoch = dgm__fit_now();
    dgm_status s;
    for (size_t st = st0; st < r->steps_per_epoch; st++) {
        size_t b0 = st * r->B, b = r->n_train - b0 < r->B ? r->n_train - b0 : r->B;
        dgm_rng sr;
        dgm_rng_fork(&sr, &er, (uint64_t)st + 1);
        double klw = c->kl_warmup > 0
            ? fmin(1.0, ((double)epoch + (double)st / (double)r->steps_per_epoch) / c->kl_warmup)
            : 1.0;
        dgm__fit_stats fs;
        if ((s = r->ops->step(r->state, r->m, r->perm + b0, b, &sr, &r->opt, klw, r->t, &fs,
                              err))) {
            say_where(r, s, epoch, st, err);
            return s;
        }
        r->t++;
        sm.loss += fs.loss * (double)b;
        sm.recon += fs.recon * (double)b;
        sm.kl += fs.kl * (double)b;
        sm.seen += b;
        dgm_fit_progress p = {.event = DGM_FIT_STEP, .epoch = epoch + 1, .epochs = c->epochs,
                              .done = b0 + b, .total = r->n_train, .step = r->t,
                              .loss = sm.loss / (double)sm.seen, .val = NAN, .cls = -1,
                              .lr = dgm_optim_lr_at(&r->opt, r->t - 1),
                              .seconds = dgm__fit_now() - t_epoch};
        dgm__fit_report(c, &p);
        if (dgm__par_any(c->stop && *c->stop)) {
            r->stopped = 1;
            r->stop_epoch = epoch + 1;
            r->stop_step = (long)st + 1;
            return checkpoint(r->ops, r->state, r->m, c, r->d, epoch, (long)st + 1, r->t,
                              sm.loss / (double)sm.seen, &sm, err);
        }
    }
    double secs = dgm__fit_now() - t_epoch, seen = (double)(sm.seen ? sm.seen : 1);
    r->last_loss = sm.seen ? sm.loss / (double)sm.seen : NAN;
    if (r->ops->validate && (s = r->ops->validate(r->state, r->m, &r->val, err)))
        return s;
    dgm_fit_progress p = {.event = DGM_FIT_EPOCH, .epoch = epoch + 1, .epochs = c->epochs,
                          .done = r->n_train, .total = r->n_train, .step = r->t,
                          .loss = r->last_loss, .recon = sm.recon / seen, .kl = sm.kl / seen,
                          .val = r->val, .seconds = secs, .n_train = sm.seen, .cls = -1,
                          .lr = dgm_optim_lr_at(&r->opt, r->t - 1)};
    dgm__fit_report(c, &p);
    if ((s = checkpoint(r->ops, r->state, r->m, c, r->d, epoch + 1, 0, r->t, r->last_loss,
                        NULL, err)))
        return s;
    r->saved = c->checkpoint != NULL;
    return DGM_OK;
}

static void run_free(mb_run *r)
{
    dgm_free(r->order);
    dgm_free(r->perm);
    dgm_free(r->shuffle);
}

dgm_status dgm__fit_minibatch(dgm_model *m, const dgm__fit_ops *ops, const dgm_fit_data *d,
                              const dgm_fit_cfg *c, dgm_fit_result *res, dgm_err *err)
{
    if (!d->data)
        return dgm_errf(err, DGM_ERR_ARG, "fit: a %s model trains on rows of data",
                        dgm_model_type(m));
    if (c->batch < 1 || c->epochs < 1)
        return dgm_errf(err, DGM_ERR_ARG, "fit: batch and epochs must be >= 1");
    const dgm_dataset *ds = d->data;
    size_t n = d->limit > 0 && d->limit < ds->n ? d->limit : ds->n;
    if (c->n_val >= n)
        return dgm_errf(err, DGM_ERR_ARG, "--val %zu leaves no training data (%zu examples)",
                        c->n_val, n);
    mb_run r = {.m = m, .ops = ops, .d = d, .c = c, .B = c->batch, .n_train = n - c->n_val,
                .last_loss = NAN, .val = NAN};
    long epoch0 = 0, step0 = 0;
    sums carried;
    int resumed = position(m, &epoch0, &step0, &r.t, &carried);
    dgm_rng_init(&r.root, c->seed);
    r.order = dgm_malloc_array(n, sizeof(size_t));
    r.perm = dgm_malloc_array(r.n_train, sizeof(size_t));
    r.shuffle = dgm_malloc_array(r.n_train, sizeof(size_t));
    if (!r.order || !r.perm || !r.shuffle) {
        run_free(&r);
        return dgm_errf(err, DGM_ERR_NOMEM, "fit: out of memory for %zu examples", n);
    }
    dgm_rng split;
    dgm_rng_fork(&split, &r.root, UINT64_MAX);
    dgm_rng_permutation(&split, r.order, n);
    r.train_idx = r.order + c->n_val;
    dgm__fit_rows rows = {r.train_idx, r.order, r.n_train, c->n_val, resumed};
    dgm_status s = dgm__par_agree(ops->begin(&r.state, m, d, c, &rows, err), err);
    if (s) {
        if (r.state)
            ops->end(r.state);
        run_free(&r);
        return s;
    }
    r.opt = dgm__fit_optim(c);
    r.steps_per_epoch = (r.n_train + r.B - 1) / r.B;
    if (c->schedule == DGM_SCHED_COSINE) {
        r.opt.sched = DGM_SCHED_COSINE;
        r.opt.total_steps = (long)r.steps_per_epoch * c->epochs;
    }
    dgm_model_keep_optimizer(m, 1);
    r.saved = resumed && c->checkpoint;
    dgm_fit_progress p = {.event = DGM_FIT_BEGIN, .epochs = c->epochs, .n_train = r.n_train,
                          .n_val = c->n_val, .step = r.t, .loss = NAN, .val = NAN, .cls = -1};
    dgm__fit_report(c, &p);
    double t_start = dgm__fit_now();
    long epoch = epoch0; /* epochs completed */
    while (!s && !r.stopped && epoch < c->epochs) {
        int mid = epoch == epoch0 && step0 > 0; /* a stopped epoch carries its sums */
        sums none = {0};
        s = run_epoch(&r, epoch, epoch == epoch0 ? (size_t)step0 : 0, mid ? carried : none, err);
        epoch += !s && !r.stopped;
    }
    /* A run killed while its last epoch's model file was being written resumes with every
     * epoch done: the checkpoint holds that epoch, the model file still the one before. The
     * model file is written again from the checkpoint's state (the bytes the uninterrupted
     * run wrote), so the run ends as if never killed (tests/kill.sh caught it). */
    if (!s && resumed && epoch0 >= c->epochs && c->checkpoint) {
        if (dgm__par_rank() == 0)
            s = dgm_model_save(m, c->checkpoint, err);
        s = dgm__par_agree(s, err);
    }
    if (!s && ops->sync) /* a caller may save a checkpoint of m itself */
        ops->sync(r.state, m);
    ops->end(r.state);
    run_free(&r);
    if (res) {
        res->epochs = epoch;
        res->steps = r.t;
        res->loss = r.last_loss;
        res->val = r.val;
        res->seconds = dgm__fit_now() - t_start;
        res->n_train = r.n_train;
        res->n_val = c->n_val;
        res->stopped = r.stopped;
        res->stop_epoch = r.stop_epoch;
        res->stop_step = r.stop_step;
        res->checkpointed = r.saved;
    }
    return s;
}
