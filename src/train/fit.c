/* The training driver's entry point (dgm_fit): defaults, the names of the optimizer,
 * schedule and objective kinds, and the two simpler runs: sampled steps with periodic
 * reports (the sequence VAE) and whole-data fits (EM and closed forms). The epoch loop is
 * minibatch.c. docs/design.md, "Training", describes the streams and the state saved. */
#include "train/fit.h"
#include "par/par.h"

#include <math.h>
#include <string.h>
#include <time.h>

dgm_fit_cfg dgm_fit_defaults(void)
{
    dgm_fit_cfg c;
    memset(&c, 0, sizeof c);
    c.seed = 1;
    c.epochs = 10;
    c.batch = 128;
    c.optimizer = DGM_OPT_ADAM;
    c.lr = 1e-3;
    c.schedule = DGM_SCHED_CONSTANT;
    c.objective = DGM_OBJ_ELBO;
    c.k = 5;
    c.steps = 10000;
    c.report_every = 1000;
    c.scan_samples = 20;
    return c;
}

double dgm__fit_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void dgm__fit_report(const dgm_fit_cfg *c, const dgm_fit_progress *p)
{
    if (c->progress)
        c->progress(c->progress_ctx, p);
}

dgm_optim_cfg dgm__fit_optim(const dgm_fit_cfg *c)
{
    dgm_optim_cfg o = dgm_optim_defaults(c->optimizer);
    o.lr = (float)c->lr;
    o.weight_decay = (float)c->weight_decay;
    o.clip_norm = (float)c->clip;
    return o;
}

// ---------------------------------------------------------------------------- names ---

static const char *const opt_names[] = {"sgd", "adam", "adamw"};
static const char *const sched_names[] = {"constant", "step", "cosine"};
static const char *const obj_names[] = {"elbo", "iwae"};

static int index_of(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

const char *dgm_opt_kind_name(dgm_opt_kind k) { return (unsigned)k < 3 ? opt_names[k] : "?"; }
int dgm_opt_kind_from_name(const char *s) { return index_of(opt_names, 3, s); }
const char *dgm_sched_kind_name(dgm_sched_kind k) { return (unsigned)k < 3 ? sched_names[k] : "?"; }
int dgm_sched_kind_from_name(const char *s) { return index_of(sched_names, 3, s); }
const char *dgm_objective_name(dgm_objective o) { return (unsigned)o < 2 ? obj_names[o] : "?"; }
int dgm_objective_from_name(const char *s) { return index_of(obj_names, 2, s); }

// -------------------------------------------------------------------- sampled steps ---

/* Steps in chunks of report_every, each followed by the validation (the Spearman of the
 * data's mutational scan, or the model's own) and a report; a time limit ends the run after the chunk that crosses it. The stream is
 * fork(seed, 1); the model forks it per step, so the chunking does not change the bits. */
static dgm_status fit_sampled(dgm_model *m, const dgm__fit_ops *ops, const dgm_fit_data *d,
                              const dgm_fit_cfg *c, dgm_fit_result *res, dgm_err *err)
{
    if (c->steps < 0 || c->report_every < 1)
        return dgm_errf(err, DGM_ERR_ARG, "fit: steps must be >= 0 and report_every >= 1");
    void *state = NULL;
    dgm_status s = ops->begin(&state, m, d, c, NULL, err);
    if (s)
        return s;
    dgm_rng root, rng;
    dgm_rng_init(&root, c->seed);
    dgm_rng_fork(&rng, &root, 1);
    dgm_fit_progress p = {.event = DGM_FIT_BEGIN, .total = (size_t)c->steps,
                          .n_train = d->aln ? d->aln->n : 0, .val = NAN, .loss = NAN};
    dgm__fit_report(c, &p);
    double t_train = 0, loss = NAN, val = NAN;
    long done = 0;
    int stopped = 0;
    while (!s && done < c->steps && !(stopped = dgm__par_any(c->stop && *c->stop))) {
        long k = c->steps - done < c->report_every ? c->steps - done : c->report_every;
        double t0 = dgm__fit_now();
        if ((s = ops->run(state, m, &rng, k, &loss, err)))
            break;
        t_train += dgm__fit_now() - t0;
        done += k;
        /* the scan's Spearman, from dgm_rng_init(seed + 7) as DeepSequence-style runs log it */
        if (d->scan && (s = dgm_scan_spearman(&val, m, d->scan, c->scan_samples, c->seed + 7, err)))
            break;
        if (!d->scan && ops->validate && (s = ops->validate(state, m, &val, err)))
            break;
        p = (dgm_fit_progress){.event = DGM_FIT_STEP, .done = (size_t)done,
                               .total = (size_t)c->steps, .loss = loss, .val = val,
                               .seconds = t_train, .lr = c->lr, .cls = -1};
        p.step = done;
        dgm__fit_report(c, &p);
        if (dgm__par_any(c->time_limit > 0 && t_train >= c->time_limit))
            break;
    }
    ops->end(state);
    if (res) {
        res->steps = done;
        res->loss = loss;
        res->val = val;
        res->seconds = t_train;
        res->n_train = p.n_train;
        res->stopped = stopped;
    }
    return s;
}

// --------------------------------------------------------------------- whole fits ---

static dgm_status fit_whole(dgm_model *m, const dgm__fit_ops *ops, const dgm_fit_data *d,
                            const dgm_fit_cfg *c, dgm_fit_result *res, dgm_err *err)
{
    dgm_rng root, prep, fit;
    dgm_rng_init(&root, c->seed);
    dgm_rng_fork(&prep, &root, 0);
    dgm_rng_fork(&fit, &root, 1);
    double t0 = dgm__fit_now();
    dgm_status s = ops->fit(m, d, c, &prep, &fit, err);
    if (res)
        res->seconds = dgm__fit_now() - t0;
    return s;
}

dgm_status dgm_fit(dgm_model *m, const dgm_fit_data *d, const dgm_fit_cfg *c,
                   dgm_fit_result *res, dgm_err *err)
{
    if (res) {
        memset(res, 0, sizeof *res);
        res->loss = res->val = NAN;
    }
    const dgm__fit_ops *ops = m->ops->fit;
    if (!ops)
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "a %s model cannot be trained by dgm_fit",
                        m->ops->type);
    if (!ops->mpi && dgm__par_size() > 1)
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "a %s model does not train over MPI ranks yet "
                        "(the VAEs, MADE, flows, mixtures and Potts models do): run one process", m->ops->type);
    switch (ops->kind) {
    case DGM__FIT_MINIBATCH: return dgm__fit_minibatch(m, ops, d, c, res, err);
    case DGM__FIT_SAMPLED: return fit_sampled(m, ops, d, c, res, err);
    case DGM__FIT_WHOLE: return fit_whole(m, ops, d, c, res, err);
    }
    return dgm_errf(err, DGM_ERR_ARG, "fit: unknown kind of fit");
}
