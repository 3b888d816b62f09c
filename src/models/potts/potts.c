/* The Potts model as a dgm_model ("potts"): energies, pseudo-log-likelihoods, the focus it
 * scores mutants against, its file (h and J as safetensors, the focus and the options in
 * dgm.config) and describe(). The fit is potts_fit.c, the sampler potts_gibbs.c, the
 * coupling scores potts_couplings.c. Reference: Hopf et al., Nat. Biotechnol. 2017 (the
 * model and E(mutant) - E(wild type)); docs/formats.md, "Potts model file". Left out: a
 * normalised log p(x) (the partition function is intractable; log_prob says so). */
#include "models/potts/potts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define Q POTTS_Q

#define POT(m) ((dgm__potts *)(m)->impl)

void dgm__potts_destroy(void *impl)
{
    dgm__potts *p = impl;
    if (!p)
        return;
    dgm_free(p->h);
    dgm_free(p->J);
    free(p->residues);
    free(p->pos);
    free(p->wt);
    free(p);
}

dgm_potts_cfg dgm_potts_defaults(void)
{
    dgm_potts_cfg c = {.lambda_h = 0.01, .lambda_j = 16.0, .max_iter = 100, .ignore_gaps = 1,
                       .epsilon = 1e-3, .bm_iter = 0, .bm_chains = 1000, .bm_sweeps = 10,
                       .bm_rate = 0.05};
    return c;
}

static dgm_status is_potts(const dgm_model *m, dgm_err *err)
{
    if (m->ops != &dgm__potts_ops)
        return dgm_errf(err, DGM_ERR_ARG, "a %s model is not a fitted Potts model",
                        m->ops->type);
    return DGM_OK;
}

static dgm_status check_seqs(const dgm__potts *p, const uint8_t *seq, size_t n, dgm_err *err)
{
    for (size_t k = 0; k < n * p->L; k++)
        if (seq[k] > POTTS_GAP)
            return dgm_errf(err, DGM_ERR_ARG, "potts: letter index %d in sequence %zu", seq[k],
                            k / p->L);
    return DGM_OK;
}

/* E(x) = sum_i h_i(x_i) + sum_{i<j} J_ij(x_i, x_j), in double. Gap parameters are zero in a
 * model fitted with ignore_gaps, so gaps add nothing there. */
static double energy1(const dgm__potts *p, const uint8_t *x)
{
    const size_t L = p->L;
    double e = 0.0;
    for (size_t i = 0; i < L; i++) {
        e += p->h[i * Q + x[i]];
        if (i + 1 == L)
            break;
        const float *Ji = p->J + dgm__potts_pair(i, i + 1, L) * Q * Q + (size_t)x[i] * Q;
        for (size_t j = i + 1; j < L; j++, Ji += Q * Q)
            e += Ji[x[j]];
    }
    return e;
}

/* out[k] = f(sequence k) for n checked sequences, threaded once n L^2 passes min_work. */
static dgm_status each_seq(double *out, const dgm_model *m, const uint8_t *seq, size_t n,
                           double (*f)(const dgm__potts *, const uint8_t *), size_t min_work,
                           dgm_err *err)
{
    dgm_status s = is_potts(m, err);
    if (s || (s = check_seqs(POT(m), seq, n, err)))
        return s;
    const dgm__potts *p = POT(m);
    long nl = (long)n;
#pragma omp parallel for schedule(static) if (n * p->L * p->L > min_work)
    for (long k = 0; k < nl; k++)
        out[k] = f(p, seq + (size_t)k * p->L);
    return DGM_OK;
}

dgm_status dgm_potts_energy(double *E, const dgm_model *m, const uint8_t *seq, size_t n,
                            dgm_err *err)
{
    return each_seq(E, m, seq, n, energy1, 1000000, err);
}

/* J_ij(a, b) for any i != j. */
static inline float coupling(const dgm__potts *p, size_t i, size_t j, int a, int b)
{
    return i < j ? p->J[dgm__potts_pair(i, j, p->L) * Q * Q + (size_t)a * Q + (size_t)b]
                 : p->J[dgm__potts_pair(j, i, p->L) * Q * Q + (size_t)b * Q + (size_t)a];
}

static double pll1(const dgm__potts *p, const uint8_t *x)
{
    const size_t L = p->L;
    const int ign = p->cfg.ignore_gaps, ns = ign ? DGM_AA_N : Q;
    double total = 0.0;
    for (size_t i = 0; i < L; i++) {
        if (ign && x[i] == POTTS_GAP)
            continue;
        double H[Q], mx = -INFINITY, z = 0.0;
        for (int a = 0; a < ns; a++) {
            double v = p->h[i * Q + (size_t)a];
            for (size_t j = 0; j < L; j++)
                if (j != i && !(ign && x[j] == POTTS_GAP))
                    v += coupling(p, i, j, a, x[j]);
            H[a] = v;
            mx = v > mx ? v : mx;
        }
        for (int a = 0; a < ns; a++)
            z += exp(H[a] - mx);
        total += H[x[i]] - mx - log(z);
    }
    return total;
}

dgm_status dgm_potts_pll(double *pll, const dgm_model *m, const uint8_t *seq, size_t n,
                         dgm_err *err)
{
    return each_seq(pll, m, seq, n, pll1, 100000, err);
}

dgm_status dgm_potts_params(const dgm_model *m, size_t *L, const float **h, const float **J,
                            dgm_err *err)
{
    dgm_status s = is_potts(m, err);
    if (s)
        return s;
    *L = POT(m)->L;
    *h = POT(m)->h;
    *J = POT(m)->J;
    return DGM_OK;
}

dgm_status dgm_potts_fit_status(const dgm_model *m, long *iterations, double *objective,
                                double *neg_pll, const char **message, dgm_err *err)
{
    dgm_status s = is_potts(m, err);
    if (s)
        return s;
    const dgm__potts *p = POT(m);
    if (iterations)
        *iterations = p->iterations;
    if (objective)
        *objective = p->objective;
    if (neg_pll)
        *neg_pll = p->neg_pll;
    if (message)
        *message = p->status;
    return DGM_OK;
}

// ------------------------------------------------------------------ the model's ops ---

static dgm_status potts_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                                 const int32_t *y, size_t n, int k, dgm_err *err)
{
    (void)m, (void)rng, (void)out, (void)x, (void)y, (void)n, (void)k;
    return dgm_errf(err, DGM_ERR_UNSUPPORTED, "a Potts model has no tractable log p(x) (its "
                    "partition function is intractable): use its energies and "
                    "pseudo-log-likelihoods (dgm loglik prints both)");
}

/* Gibbs draws with the default schedule, as one-hot rows (a gap as all zeros). */
static dgm_status potts_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y,
                               size_t n, int mean, dgm_err *err)
{
    (void)y;
    if (mean)
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "a Potts model has no decoder means");
    const size_t L = POT(m)->L;
    uint8_t *seq = dgm_malloc_array(n ? n : 1, L);
    if (!seq)
        return dgm_errf(err, DGM_ERR_NOMEM, "potts: out of memory for %zu samples", n);
    dgm_gibbs_cfg g = dgm_gibbs_defaults();
    dgm_status s = dgm_potts_sample(rng, seq, NULL, m, n, &g, err);
    if (!s)
        dgm_seq_onehot(out, seq, n, L);
    free(seq);
    return s;
}

static dgm_status potts_focus(const dgm_model *m, dgm_seqfocus *f)
{
    const dgm__potts *p = POT(m);
    f->name = p->name;
    f->residues = p->residues;
    f->start = p->start;
    f->L = p->L;
    f->pos = p->pos;
    f->wt = p->wt;
    return DGM_OK;
}

static void add_options(const dgm__potts *p, cJSON *c)
{
    cJSON_AddNumberToObject(c, "q", Q);
    cJSON_AddNumberToObject(c, "lambda_h", p->cfg.lambda_h);
    cJSON_AddNumberToObject(c, "lambda_j", p->cfg.lambda_j);
    cJSON_AddNumberToObject(c, "max_iter", (double)p->cfg.max_iter);
    cJSON_AddBoolToObject(c, "ignore_gaps", p->cfg.ignore_gaps);
    cJSON_AddNumberToObject(c, "epsilon", p->cfg.epsilon);
    cJSON_AddStringToObject(c, "weights", p->weights);
    cJSON_AddNumberToObject(c, "iterations", (double)p->iterations);
    cJSON_AddNumberToObject(c, "objective", p->objective);
    cJSON_AddNumberToObject(c, "neg_pll", p->neg_pll);
    cJSON_AddNumberToObject(c, "fit_seconds", p->seconds);
    if (p->cfg.bm_iter > 0) {
        cJSON_AddNumberToObject(c, "bm_iter", (double)p->cfg.bm_iter);
        cJSON_AddNumberToObject(c, "bm_chains", (double)p->cfg.bm_chains);
        cJSON_AddNumberToObject(c, "bm_sweeps", (double)p->cfg.bm_sweeps);
        cJSON_AddNumberToObject(c, "bm_rate", p->cfg.bm_rate);
        cJSON_AddNumberToObject(c, "bm_pair_r", p->bm_pair_r);
        cJSON_AddNumberToObject(c, "bm_site_err", p->bm_site_err);
    }
    cJSON_AddStringToObject(c, "lbfgs_status", p->status);
}

static void add_focus(const dgm__potts *p, cJSON *c)
{
    char *row = malloc(p->L + 1);
    double *pos = dgm_malloc_array(p->L, sizeof *pos);
    if (row && pos) {
        for (size_t j = 0; j < p->L; j++) {
            row[j] = DGM_AA_ALPHABET[p->wt[j]];
            pos[j] = (double)p->pos[j];
        }
        row[p->L] = '\0';
        cJSON_AddNumberToObject(c, "L", (double)p->L);
        cJSON_AddStringToObject(c, "focus_name", p->name);
        cJSON_AddNumberToObject(c, "focus_start", (double)p->start);
        cJSON_AddStringToObject(c, "focus_residues", p->residues);
        cJSON_AddStringToObject(c, "focus_row", row);
        cJSON_AddItemToObject(c, "positions", cJSON_CreateDoubleArray(pos, (int)p->L));
        cJSON_AddNumberToObject(c, "neff", p->neff);
        cJSON_AddNumberToObject(c, "theta", p->theta);
    }
    free(row);
    free(pos);
}

static dgm_status potts_save(const dgm_model *m, const char *path, dgm_err *err)
{
    const dgm__potts *p = POT(m);
    cJSON *cfg = cJSON_CreateObject();
    if (!cfg)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    add_focus(p, cfg);
    add_options(p, cfg);
    size_t P = p->L * (p->L - 1) / 2;
    dgm_st_tensor t[2] = {{"h", p->h, {p->L, Q}, 2}, {"J", p->J, {P, Q, Q}, 3}};
    dgm_status s = dgm__model_write(m, path, t, 2, cfg, NULL, err);
    cJSON_Delete(cfg);
    return s;
}

static void potts_describe(const dgm_model *m, cJSON *o)
{
    const dgm__potts *p = POT(m);
    cJSON_AddStringToObject(o, "focus", p->name);
    cJSON_AddNumberToObject(o, "focus_start", (double)p->start);
    cJSON_AddNumberToObject(o, "L", (double)p->L);
    cJSON_AddNumberToObject(o, "neff", p->neff);
    cJSON_AddNumberToObject(o, "theta", p->theta);
    add_options(p, o);
}

const dgm__model_ops dgm__potts_ops = {
    .type = "potts", .log_prob = potts_log_prob, .sample = potts_sample, .save = potts_save,
    .destroy = dgm__potts_destroy, .describe = potts_describe, .seqfocus = potts_focus};

dgm_model *dgm__potts_model(dgm__potts *p)
{
    dgm_model *m = dgm__model_new(&dgm__potts_ops, p);
    if (!m)
        return NULL;
    m->dim = p->L * DGM_AA_N;
    m->exact = 0;
    snprintf(m->likelihood, sizeof m->likelihood, "sequence");
    m->n_params = dgm__plm_nparams(p->L);
    return m;
}

// ---------------------------------------------------------------------------- loading ---

/* A finite number: JSON writes no inf or NaN, so a file holding one (cJSON reads 1e999 as
 * inf) could not be written back (fuzz_model). */
static int get_num(const cJSON *c, const char *key, double *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(c, key);
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
        return 0;
    *v = x->valuedouble;
    return 1;
}

static dgm_status read_focus(dgm__potts *p, const cJSON *c, const char *path, dgm_err *err)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "focus_name");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(c, "focus_residues");
    const cJSON *row = cJSON_GetObjectItemCaseSensitive(c, "focus_row");
    const cJSON *pos = cJSON_GetObjectItemCaseSensitive(c, "positions");
    double L, start;
    if (!get_num(c, "L", &L) || !(L >= 2 && L <= 100000) || L != floor(L) ||
        !get_num(c, "focus_start", &start) || !(fabs(start) <= 1e9) ||
        !get_num(c, "neff", &p->neff) ||
        !get_num(c, "theta", &p->theta) || !cJSON_IsString(name) || !cJSON_IsString(res) ||
        !cJSON_IsString(row) || !cJSON_IsArray(pos) || strlen(row->valuestring) != (size_t)L ||
        cJSON_GetArraySize(pos) != (int)L)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged Potts model: focus fields (L >= 2, "
                        "focus_name, focus_start, focus_residues, focus_row, positions, neff, "
                        "theta) missing or inconsistent", path);
    p->L = (size_t)L;
    p->start = (long)start;
    snprintf(p->name, sizeof p->name, "%s", name->valuestring);
    p->residues = strdup(res->valuestring);
    p->pos = dgm_malloc_array(p->L, sizeof *p->pos);
    p->wt = dgm_malloc_array(p->L, 1);
    if (!p->residues || !p->pos || !p->wt)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    long nres = (long)strlen(p->residues);
    for (size_t j = 0; j < p->L; j++) {
        int a = dgm_aa_index(row->valuestring[j]);
        const cJSON *v = cJSON_GetArrayItem(pos, (int)j);
        /* range-checked as a double: casting 1e300 to long is undefined */
        long r = cJSON_IsNumber(v) && fabs(v->valuedouble) <= 1e12 ? (long)v->valuedouble : -2;
        if (a < 0 || r < p->start || r >= p->start + nres)
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged Potts model: column %zu of the "
                            "focus row or its residue number is invalid", path, j);
        p->wt[j] = (uint8_t)a;
        p->pos[j] = r;
    }
    return DGM_OK;
}

static dgm_status read_options(dgm__potts *p, const cJSON *c, const char *path, dgm_err *err)
{
    double q, it, mi;
    const cJSON *ig = cJSON_GetObjectItemCaseSensitive(c, "ignore_gaps");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(c, "weights");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "lbfgs_status");
    if (!get_num(c, "q", &q) || !get_num(c, "lambda_h", &p->cfg.lambda_h) ||
        !get_num(c, "lambda_j", &p->cfg.lambda_j) || !get_num(c, "max_iter", &mi) ||
        !get_num(c, "epsilon", &p->cfg.epsilon) || !get_num(c, "iterations", &it) ||
        !get_num(c, "objective", &p->objective) || !get_num(c, "neg_pll", &p->neg_pll) ||
        !get_num(c, "fit_seconds", &p->seconds) || !cJSON_IsBool(ig) || !cJSON_IsString(w) ||
        !cJSON_IsString(st))
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged Potts model: an option (q, lambda_h, "
                        "lambda_j, max_iter, ignore_gaps, epsilon, weights, iterations, "
                        "objective, lbfgs_status) is missing", path);
    if (q != Q)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: a Potts model with q = %g letters: this "
                        "version reads q = %d (DGM_AA_ALPHABET)", path, q, Q);
    p->cfg.max_iter = (long)mi;
    p->cfg.ignore_gaps = cJSON_IsTrue(ig);
    double bi = 0, bc = 0, bs = 0; /* a refinement's record, when there was one */
    if (get_num(c, "bm_iter", &bi) && (!get_num(c, "bm_chains", &bc) ||
        !get_num(c, "bm_sweeps", &bs) || !get_num(c, "bm_rate", &p->cfg.bm_rate)))
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged Potts model: bm_iter without "
                        "bm_chains, bm_sweeps or bm_rate", path);
    p->bm_pair_r = p->bm_site_err = NAN; /* JSON has no NaN: a missing figure reads as one */
    get_num(c, "bm_pair_r", &p->bm_pair_r);
    get_num(c, "bm_site_err", &p->bm_site_err);
    p->cfg.bm_iter = (long)bi, p->cfg.bm_chains = (long)bc, p->cfg.bm_sweeps = (long)bs;
    p->iterations = (long)it;
    snprintf(p->weights, sizeof p->weights, "%s", w->valuestring);
    snprintf(p->status, sizeof p->status, "%s", st->valuestring);
    return DGM_OK;
}

dgm_status dgm__potts_load(dgm_model **out, const dgm_st_file *f, const cJSON *config,
                           const char *path, dgm_err *err)
{
    *out = NULL;
    dgm__potts *p = calloc(1, sizeof *p);
    if (!p)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    dgm_status s = read_focus(p, config, path, err);
    if (!s)
        s = read_options(p, config, path, err);
    const dgm_st_tensor *th = s ? NULL : dgm_st_find(f, "h"), *tj = s ? NULL : dgm_st_find(f, "J");
    size_t L = p->L, P = L * (L - 1) / 2;
    if (!s && (!th || !tj))
        s = dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged Potts model: tensor '%s' is missing", path,
                     th ? "J" : "h");
    if (!s && (th->ndim != 2 || th->shape[0] != L || th->shape[1] != Q))
        s = dgm_errf(err, DGM_ERR_SHAPE, "%s: damaged Potts model: h should be %zu x %d (L x q)",
                     path, L, Q);
    if (!s && (tj->ndim != 3 || tj->shape[0] != P || tj->shape[1] != Q || tj->shape[2] != Q))
        s = dgm_errf(err, DGM_ERR_SHAPE, "%s: damaged Potts model: J is %zu x %zu x %zu, but L = "
                     "%zu and q = %d need %zu x %d x %d (the pairs i < j)", path, tj->shape[0],
                     tj->ndim > 1 ? tj->shape[1] : 0, tj->ndim > 2 ? tj->shape[2] : 0, L, Q, P, Q, Q);
    if (!s && (!(p->h = dgm_malloc_array(L, Q * sizeof(float))) ||
               !(p->J = dgm_malloc_array(P, Q * Q * sizeof(float)))))
        s = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for %zu couplings", path, P * Q * Q);
    if (!s) {
        memcpy(p->h, th->data, L * Q * sizeof(float));
        memcpy(p->J, tj->data, P * Q * Q * sizeof(float));
        if (!dgm_all_finite(p->h, L * Q) || !dgm_all_finite(p->J, P * Q * Q))
            s = dgm_errf(err, DGM_ERR_NAN, "%s: damaged Potts model: non-finite parameters", path);
    }
    dgm_model *m = s ? NULL : dgm__potts_model(p);
    if (!s && !m)
        s = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    if (s) {
        dgm__potts_destroy(p);
        return s;
    }
    return dgm__model_finish_load(out, m, config, path, err);
}
