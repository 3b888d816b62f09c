/* The Potts model through the training driver (a whole fit): dgm_potts_create makes the
 * unfitted model, and dgm_fit prepares the alignment as plmc's focus mode does (the columns
 * where the focus row has a residue), initialises h as plmc does (h_i(a) = log(Neff f_i(a) +
 * 1), centred over the letters; J = 0), and minimises dgm__plm_eval with libLBFGS (Debian's
 * liblbfgs, the library plmc bundles) under plmc's settings: default memory (m = 6) and
 * More-Thuente line search, epsilon 1e-3, max_iter iterations. Each iteration is reported
 * as DGM_FIT_ITER. libLBFGS's variables are double (Debian builds LBFGS_FLOAT = 64), so its
 * 2m + 5 vectors cost 8 bytes a parameter each; the objective's own scratch is float.
 * A line search that fails leaves libLBFGS's x at the last accepted point (lbfgs.c reverts
 * it), which the model keeps, with the reason in its status. Left out: plmc's SGD mode
 * and its -ee re-estimation of lambda_J. */
#include "models/potts/potts.h"
#include "par/par.h"

#include <lbfgs.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define Q POTTS_Q

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *lbfgs_reason(int ret)
{
    switch (ret) {
    case LBFGSERR_ROUNDING_ERROR: return "rounding errors prevent further progress";
    case LBFGSERR_MINIMUMSTEP: return "the line search step became smaller than min_step";
    case LBFGSERR_MAXIMUMSTEP: return "the line search step became larger than max_step";
    case LBFGSERR_MAXIMUMLINESEARCH: return "the line search reached its maximum number of trials";
    case LBFGSERR_WIDTHTOOSMALL: return "the line search interval became too small";
    case LBFGSERR_INCREASEGRADIENT: return "the search direction increases the objective";
    case LBFGSERR_OUTOFINTERVAL: return "the line search step went out of its interval";
    case LBFGSERR_INCORRECT_TMINMAX: return "the line search interval is inconsistent";
    case LBFGSERR_INVALIDPARAMETERS: return "a logic error (negative line-search step)";
    case LBFGSERR_CANCELED: return "stopped on request";
    default: return "libLBFGS failed";
    }
}

typedef struct run {
    dgm__plm plm;
    const dgm_fit_cfg *c;
    double t0, nll, last_f, last_nll;
    long iter;
    int nonfinite;
} run;

static lbfgsfloatval_t evaluate(void *inst, const lbfgsfloatval_t *x, lbfgsfloatval_t *g,
                                const int n, const lbfgsfloatval_t step)
{
    (void)n, (void)step;
    run *r = inst;
    double f = dgm__plm_eval(&r->plm, x, g, &r->nll);
    if (!isfinite(f))
        r->nonfinite = 1;
    return f;
}

static int on_iter(void *inst, const lbfgsfloatval_t *x, const lbfgsfloatval_t *g,
                   const lbfgsfloatval_t fx, const lbfgsfloatval_t xnorm,
                   const lbfgsfloatval_t gnorm, const lbfgsfloatval_t step, int n, int k, int ls)
{
    (void)x, (void)g, (void)xnorm, (void)step, (void)n, (void)ls;
    run *r = inst;
    r->iter = k;
    r->last_f = fx;
    r->last_nll = r->nll; /* the accepted point is the line search's last evaluation */
    dgm_fit_progress p = {.event = DGM_FIT_ITER, .cls = -1, .iter = k, .loglik = -r->nll,
                          .objective = fx, .grad_norm = gnorm, .seconds = now() - r->t0,
                          .val = NAN, .loss = fx};
    if (r->c->progress)
        r->c->progress(r->c->progress_ctx, &p);
    return dgm__par_any(r->c->stop && *r->c->stop); /* every rank stops at the same iteration */
}

/* The focus columns of a (those where row 0 has a residue) into p and seq (n x L). */
static dgm_status prepare(dgm__potts *p, uint8_t **seq, const dgm_alignment *a, dgm_err *err)
{
    size_t L = 0;
    for (size_t l = 0; l < a->L; l++)
        L += a->pos[l] >= 0;
    if (L < 2)
        return dgm_errf(err, DGM_ERR_ARG, "%s: the focus %s has %zu residues in the alignment's "
                        "columns: a Potts model needs at least 2", a->source, a->focus_name, L);
    p->L = L;
    snprintf(p->name, sizeof p->name, "%s", a->focus_name);
    p->start = a->focus_start;
    p->residues = strdup(a->focus_residues);
    p->pos = dgm_malloc_array(L, sizeof *p->pos);
    p->wt = dgm_malloc_array(L, 1);
    *seq = dgm_malloc_array(a->n, L);
    if (!p->residues || !p->pos || !p->wt || !*seq)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", a->source);
    for (size_t l = 0, k = 0; l < a->L; l++)
        if (a->pos[l] >= 0) {
            p->pos[k] = a->pos[l];
            p->wt[k] = a->seq[l];
            for (size_t s = 0; s < a->n; s++)
                (*seq)[s * L + k] = a->seq[s * a->L + l];
            k++;
        }
    return DGM_OK;
}

/* plmc's start: h_i(a) = log(Neff f_i(a) + 1) centred over the modelled letters, with f_i
 * the weighted frequencies (over non-gap letters with ignore_gaps, flat for an empty
 * column); J = 0. */
static void init_fields(double *x, const uint8_t *seq, const double *w, size_t n, size_t L,
                        double neff, int ign)
{
    int ns = ign ? DGM_AA_N : Q;
    memset(x, 0, dgm__plm_nparams(L) * sizeof *x);
    for (size_t i = 0; i < L; i++) {
        double f[Q] = {0}, tot = 0.0, mean = 0.0;
        for (size_t s = 0; s < n; s++) {
            int a = seq[s * L + i];
            if (a < ns) {
                f[a] += w ? w[s] : 1.0;
                tot += w ? w[s] : 1.0;
            }
        }
        if (ign)
            tot = tot > 0 ? tot : 0.0;
        else
            tot = neff;
        for (int a = 0; a < ns; a++) {
            double fa = tot > 0 ? f[a] / tot : 1.0 / ns;
            x[i * Q + (size_t)a] = log(fa * neff + 1.0);
            mean += x[i * Q + (size_t)a] / ns;
        }
        for (int a = 0; a < ns; a++)
            x[i * Q + (size_t)a] -= mean;
    }
}

typedef struct { dgm_potts_cfg cfg; char weights[16]; } potts_spec;

static dgm_status potts_whole_fit(dgm_model *m, const dgm_fit_data *d, const dgm_fit_cfg *c,
                                  dgm_rng *prep, dgm_rng *fitr, dgm_err *err)
{
    (void)prep, (void)fitr;
    const potts_spec *sp = m->impl;
    if (!d->aln)
        return dgm_errf(err, DGM_ERR_ARG, "fit: the Potts model needs an alignment");
    const dgm_alignment *a = d->aln;
    dgm__potts *p = calloc(1, sizeof *p);
    uint8_t *seq = NULL;
    lbfgsfloatval_t *x = NULL;
    run r = {.c = c};
    if (!p)
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    p->cfg = sp->cfg;
    p->cfg.weights = NULL;
    const dgm_model *init = p->cfg.init; /* the fit's only: the model keeps no pointer to it */
    p->cfg.init = NULL;
    snprintf(p->weights, sizeof p->weights, "%s", sp->weights);
    p->neff = d->weights ? d->neff : (double)a->n;
    p->theta = d->theta;
    dgm_status s = prepare(p, &seq, a, err);
    size_t L = p->L, np = s ? 0 : dgm__plm_nparams(L);
    if (!s && np > (size_t)0x7fffffff)
        s = dgm_errf(err, DGM_ERR_ARG, "%s: %zu parameters: more than libLBFGS's int can count",
                     a->source, np);
    if (!s)
        s = dgm__plm_init(&r.plm, seq, d->weights, a->n, L, p->cfg.ignore_gaps,
                          p->cfg.lambda_h, p->cfg.lambda_j, err);
    if (!s && !(x = lbfgs_malloc((int)np)))
        s = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for %zu L-BFGS variables",
                     a->source, np);
    if (!s) {
        init_fields(x, seq, d->weights, a->n, L, p->neff, p->cfg.ignore_gaps);
        if (init) { /* a saved fit of the same columns continues from its parameters */
            size_t L0;
            const float *h0, *J0;
            s = dgm_potts_params(init, &L0, &h0, &J0, err);
            if (!s && L0 != L)
                s = dgm_errf(err, DGM_ERR_ARG, "%s: the initial Potts model has %zu columns, "
                             "this alignment's focus %zu", a->source, L0, L);
            for (size_t k = 0; !s && k < np; k++)
                x[k] = k < L * Q ? h0[k] : J0[k - L * Q];
        }
    }
    s = dgm__par_agree(s, err); /* under mpirun every rank evaluates, so all go on or none */
    if (!s) {
        lbfgs_parameter_t lp;
        lbfgs_parameter_init(&lp);
        lp.epsilon = p->cfg.epsilon;
        lp.max_iterations = (int)p->cfg.max_iter;
        lbfgsfloatval_t fx = 0;
        r.t0 = now();
        r.last_f = dgm__plm_eval(&r.plm, x, NULL, &r.last_nll); /* iteration 0's objective */
        int ret = isfinite(r.last_f) ? lbfgs((int)np, x, &fx, evaluate, on_iter, &r, &lp)
                                     : LBFGSERR_INCREASEGRADIENT;
        p->seconds = now() - r.t0;
        p->iterations = r.iter;
        p->objective = r.last_f;
        p->neg_pll = r.last_nll;
        if (ret == LBFGSERR_OUTOFMEMORY)
            s = dgm_errf(err, DGM_ERR_NOMEM, "%s: libLBFGS ran out of memory for %zu variables",
                         a->source, np);
        else if (!isfinite(r.last_f))
            s = dgm_errf(err, DGM_ERR_NAN, "%s: the Potts objective is not finite at iteration "
                         "%ld", a->source, r.iter);
        else if (ret == LBFGSERR_CANCELED)
            snprintf(p->status, sizeof p->status, "stopped on request after iteration %ld "
                     "(objective %.6f)", r.iter, r.last_f);
        else if (ret < 0 && ret != LBFGSERR_MAXIMUMITERATION)
            snprintf(p->status, sizeof p->status, "L-BFGS failed in iteration %ld: %s%s; kept "
                     "the parameters of iteration %ld (objective %.6f)", r.iter + 1,
                     lbfgs_reason(ret), r.nonfinite ? " (a non-finite objective was met)" : "",
                     r.iter, r.last_f);
    }
    if (!s && (!(p->h = dgm_malloc_array(L, Q * sizeof(float))) ||
               !(p->J = dgm_malloc_array(np - L * Q, sizeof(float)))))
        s = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", a->source);
    if (!s) {
        for (size_t k = 0; k < L * Q; k++)
            p->h[k] = (float)x[k];
        for (size_t k = L * Q; k < np; k++)
            p->J[k - L * Q] = (float)x[k];
    }
    dgm__plm_free(&r.plm);
    lbfgs_free(x);
    x = NULL;
    if (!s && p->cfg.bm_iter > 0)
        s = dgm__potts_bm(p, seq, d->weights, a->n, c, fitr, err);
    free(seq);
    dgm_model *fitted = s ? NULL : dgm__potts_model(p);
    if (!s && !fitted)
        s = dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    if (s) {
        dgm__potts_destroy(p);
        return s;
    }
    dgm__model_become(m, fitted);
    return DGM_OK;
}

static const dgm__fit_ops potts_fit_ops = {.kind = DGM__FIT_WHOLE, .fit = potts_whole_fit,
                                           .mpi = 1};
static const dgm__model_ops potts_unfitted_ops = {
    .type = "potts", .log_prob = dgm__unfitted_log_prob, .sample = dgm__unfitted_sample,
    .save = dgm__unfitted_save, .destroy = free, .fit = &potts_fit_ops};

dgm_status dgm_potts_create(dgm_model **out, const dgm_potts_cfg *cfg, dgm_err *err)
{
    *out = NULL;
    if (!(cfg->lambda_h >= 0) || !isfinite(cfg->lambda_h))
        return dgm_errf(err, DGM_ERR_ARG, "potts: lambda_h must be finite and >= 0 (got %g)",
                        cfg->lambda_h);
    if (!(cfg->lambda_j >= 0) || !isfinite(cfg->lambda_j))
        return dgm_errf(err, DGM_ERR_ARG, "potts: lambda_J must be finite and >= 0 (got %g)",
                        cfg->lambda_j);
    if (cfg->max_iter < 1 || cfg->max_iter > 0x7fffffff)
        return dgm_errf(err, DGM_ERR_ARG, "potts: max_iter must be at least 1 (got %ld)",
                        cfg->max_iter);
    if (!(cfg->epsilon > 0) || !isfinite(cfg->epsilon))
        return dgm_errf(err, DGM_ERR_ARG, "potts: epsilon must be finite and > 0 (got %g)",
                        cfg->epsilon);
    if (cfg->bm_iter < 0 || (cfg->bm_iter > 0 &&
        (cfg->bm_chains < 1 || cfg->bm_chains > 10000000 || cfg->bm_sweeps < 1 ||
         !(cfg->bm_rate > 0) || !isfinite(cfg->bm_rate))))
        return dgm_errf(err, DGM_ERR_ARG, "potts: the Boltzmann-machine refinement needs "
                        "bm_iter >= 0, bm_chains in 1..10^7, bm_sweeps >= 1 and a finite "
                        "bm_rate > 0 (got %ld, %ld, %ld, %g)", cfg->bm_iter, cfg->bm_chains,
                        cfg->bm_sweeps, cfg->bm_rate);
    if (cfg->bm_iter > 0 && cfg->ignore_gaps)
        return dgm_errf(err, DGM_ERR_ARG, "potts: the Boltzmann-machine refinement needs gaps "
                        "as a state (ignore_gaps = 0, --gaps state): with gaps ignored the fit "
                        "treats them as missing, which no equilibrium distribution does");
    potts_spec *sp = calloc(1, sizeof *sp);
    if (!sp || !(*out = dgm__model_new(&potts_unfitted_ops, sp))) {
        free(sp);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    }
    sp->cfg = *cfg;
    snprintf(sp->weights, sizeof sp->weights, "%s", cfg->weights ? cfg->weights : "given");
    return DGM_OK;
}
