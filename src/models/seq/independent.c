/* Site-independent protein-family model ("independent"): one categorical distribution
 * over the 20 amino acids per column, fitted to the weighted alignment with a pseudocount,
 * the baseline of Hopf et al. (Nat. Biotechnol. 2017, "independent model") and
 * Riesselman et al. (2018, Fig. 2). log p(x) = sum over non-gap columns l of
 * log f_l(x_l), f_l(a) = (c_la + pc) / (sum_b c_lb + 20 pc), c_la = sum_i w_i [x_il = a].
 * Gaps contribute nothing, the convention the sequence VAE uses too (docs/math.md), so
 * both score the same sequences on the same footing. Left out: a gap letter of its own and
 * any pseudocount scheme other than a flat one. */
#include "models/seq/seqfamily.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct indep {
    dgm__seqinfo si;   /* first member: dgm__seqinfo_of relies on it */
    double pseudocount;
    float *logf;       /* L x 20: log f_l(a) */
} indep;

#define IND(m) ((indep *)(m)->impl)

static void indep_destroy(void *impl)
{
    indep *p = impl;
    if (!p)
        return;
    dgm__seqinfo_free(&p->si);
    free(p->logf);
    free(p);
}

static dgm_status indep_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                                 const int32_t *y, size_t n, int k, dgm_err *err)
{
    (void)rng, (void)y, (void)k, (void)err;
    const indep *p = IND(m);
    size_t D = m->dim;
    for (size_t i = 0; i < n; i++) {
        /* <x, log f> is the sum over non-gap columns for one-hot x, and the expected
         * log-likelihood for a soft x */
        double s = 0;
        for (size_t d = 0; d < D; d++)
            s += (double)x[i * D + d] * (double)p->logf[d];
        out[i] = s;
    }
    return DGM_OK;
}

static dgm_status indep_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y,
                               size_t n, int mean, dgm_err *err)
{
    (void)y, (void)err;
    const indep *p = IND(m);
    size_t L = p->si.L;
    for (size_t i = 0; i < n; i++) {
        dgm_rng r;
        dgm_rng_fork(&r, rng, i);
        float *o = out + i * L * DGM_AA_N;
        for (size_t l = 0; l < L; l++) {
            const float *lf = p->logf + l * DGM_AA_N;
            if (mean) {
                for (int a = 0; a < DGM_AA_N; a++)
                    o[l * DGM_AA_N + a] = expf(lf[a]);
                continue;
            }
            memset(o + l * DGM_AA_N, 0, DGM_AA_N * sizeof *o);
            o[l * DGM_AA_N + dgm_rng_categorical_logits(&r, lf, DGM_AA_N)] = 1.0f;
        }
    }
    return DGM_OK;
}

static dgm_status indep_save(const dgm_model *m, const char *path, dgm_err *err)
{
    const indep *p = IND(m);
    cJSON *cfg = cJSON_CreateObject();
    if (!cfg)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    cJSON_AddNumberToObject(cfg, "pseudocount", p->pseudocount);
    dgm__seqinfo_to_json(&p->si, cfg);
    dgm_st_tensor t = {"log_freq", p->logf, {p->si.L, DGM_AA_N}, 2};
    dgm_status s = dgm__model_write(m, path, &t, 1, cfg, NULL, err);
    cJSON_Delete(cfg);
    return s;
}

static void indep_describe(const dgm_model *m, cJSON *o)
{
    const indep *p = IND(m);
    cJSON_AddNumberToObject(o, "L", (double)p->si.L);
    cJSON_AddStringToObject(o, "focus", p->si.name);
    cJSON_AddNumberToObject(o, "pseudocount", p->pseudocount);
    cJSON_AddNumberToObject(o, "neff", p->si.neff);
}

const dgm__model_ops dgm__indep_ops = {
    .type = "independent", .log_prob = indep_log_prob, .sample = indep_sample,
    .save = indep_save, .destroy = indep_destroy, .describe = indep_describe};

static dgm_model *indep_new(indep *p)
{
    dgm_model *m = dgm__model_new(&dgm__indep_ops, p);
    if (!m)
        return NULL;
    m->dim = p->si.L * DGM_AA_N;
    m->exact = 1;
    snprintf(m->likelihood, sizeof m->likelihood, "sequence");
    m->n_params = p->si.L * (DGM_AA_N - 1);
    return m;
}

dgm_status dgm_indep_fit(dgm_model **out, const dgm_alignment *a, const double *w,
                         double theta, double pseudocount, dgm_err *err)
{
    *out = NULL;
    if (!(pseudocount > 0) || !isfinite(pseudocount))
        return dgm_errf(err, DGM_ERR_ARG, "independent model: the pseudocount must be > 0 "
                        "(got %g)", pseudocount);
    size_t L = a->L;
    indep *p = calloc(1, sizeof *p);
    double *c = dgm_calloc_array(L, DGM_AA_N * sizeof *c);
    if (!p || !c || !(p->logf = dgm_malloc_array(L, DGM_AA_N * sizeof *p->logf))) {
        free(c);
        indep_destroy(p);
        return dgm_errf(err, DGM_ERR_NOMEM, "independent model: out of memory");
    }
    double neff = 0;
    for (size_t i = 0; i < a->n; i++) {
        double wi = w ? w[i] : 1.0;
        neff += wi;
        for (size_t l = 0; l < L; l++)
            if (a->seq[i * L + l] < DGM_AA_N)
                c[l * DGM_AA_N + a->seq[i * L + l]] += wi;
    }
    for (size_t l = 0; l < L; l++) {
        double tot = DGM_AA_N * pseudocount;
        for (int k = 0; k < DGM_AA_N; k++)
            tot += c[l * DGM_AA_N + k];
        for (int k = 0; k < DGM_AA_N; k++)
            p->logf[l * DGM_AA_N + k] = (float)log((c[l * DGM_AA_N + k] + pseudocount) / tot);
    }
    free(c);
    p->pseudocount = pseudocount;
    dgm_status s = dgm__seqinfo_init(&p->si, a, neff, w ? theta : 0.0, err);
    dgm_model *m = s ? NULL : indep_new(p);
    if (!m) {
        indep_destroy(p);
        return s ? s : dgm_errf(err, DGM_ERR_NOMEM, "independent model: out of memory");
    }
    *out = m;
    return DGM_OK;
}

dgm_status dgm__indep_load(dgm_model **out, const dgm_st_file *f, const cJSON *config,
                           const char *path, dgm_err *err)
{
    *out = NULL;
    indep *p = calloc(1, sizeof *p);
    if (!p)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(config, "pseudocount");
    dgm_status s = dgm__seqinfo_from_json(&p->si, config, path, err);
    if (!s && !(cJSON_IsNumber(pc) && isfinite(pc->valuedouble))) /* JSON writes no inf */
        s = dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged independent model: no finite "
                     "pseudocount", path);
    const float *lf = NULL;
    if (!s && !(lf = dgm__st_expect(f, "log_freq", p->si.L * DGM_AA_N, path, err)))
        s = err ? err->code : DGM_ERR_FORMAT;
    if (!s && !(p->logf = dgm_malloc_array(p->si.L, DGM_AA_N * sizeof *p->logf)))
        s = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    if (!s) {
        p->pseudocount = pc->valuedouble;
        memcpy(p->logf, lf, p->si.L * DGM_AA_N * sizeof *lf);
        if (!dgm_all_finite(p->logf, p->si.L * DGM_AA_N))
            s = dgm_errf(err, DGM_ERR_NAN, "%s: damaged independent model: non-finite log_freq",
                         path);
    }
    dgm_model *m = s ? NULL : indep_new(p);
    if (!s && !m)
        s = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    if (!s)
        s = dgm__model_read_common(m, config, path, err);
    if (s) {
        if (m)
            dgm_model_free(m);
        else
            indep_destroy(p);
        return s;
    }
    *out = m;
    return DGM_OK;
}

// ------------------------------------------------------------------- unfitted, for dgm_fit ---

typedef struct { double pseudocount; } indep_spec;

static dgm_status indep_whole_fit(dgm_model *m, const dgm_fit_data *d, const dgm_fit_cfg *c,
                                  dgm_rng *prep, dgm_rng *fit, dgm_err *err)
{
    (void)c, (void)prep, (void)fit;
    if (!d->aln)
        return dgm_errf(err, DGM_ERR_ARG, "fit: the independent model needs an alignment");
    dgm_model *fitted;
    dgm_status s = dgm_indep_fit(&fitted, d->aln, d->weights, d->theta,
                                 ((indep_spec *)m->impl)->pseudocount, err);
    if (!s)
        dgm__model_become(m, fitted);
    return s;
}

static const dgm__fit_ops indep_fit_ops = {.kind = DGM__FIT_WHOLE, .fit = indep_whole_fit};
static const dgm__model_ops indep_unfitted_ops = {
    .type = "independent", .log_prob = dgm__unfitted_log_prob, .sample = dgm__unfitted_sample,
    .save = dgm__unfitted_save, .destroy = free, .fit = &indep_fit_ops};

dgm_status dgm_indep_create(dgm_model **out, double pseudocount, dgm_err *err)
{
    *out = NULL;
    if (!(pseudocount > 0) || !isfinite(pseudocount))
        return dgm_errf(err, DGM_ERR_ARG, "independent model: the pseudocount must be > 0 "
                        "(got %g)", pseudocount);
    indep_spec *p = malloc(sizeof *p);
    if (!p || !(*out = dgm__model_new(&indep_unfitted_ops, p))) {
        free(p);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    }
    p->pseudocount = pseudocount;
    return DGM_OK;
}
