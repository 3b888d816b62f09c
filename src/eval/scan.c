/* A mutational scan prepared for one model (dgm_scan): the rows of a DMS table whose
 * mutant applies to the model's focus and that have a measurement, applied to the wild
 * type once, so that scoring while training (dgm_fit's validation for the sequence VAE)
 * costs only the model's work. The Spearman is dgm_mutation_effects against the values. */
#include "dgm.h"

#include <math.h>
#include <stdlib.h>

struct dgm_scan {
    dgm_dms dms;
    uint8_t *seqs;   /* scorable mutants, n x L */
    double *value;   /* their measurements */
    size_t n, L;
};

void dgm_scan_free(dgm_scan *s)
{
    if (!s)
        return;
    dgm_dms_free(&s->dms);
    free(s->seqs);
    free(s->value);
    free(s);
}

size_t dgm_scan_count(const dgm_scan *s) { return s->n; }

dgm_status dgm_scan_load(dgm_scan **out, const char *path, const char *column,
                         const dgm_model *m, dgm_err *err)
{
    *out = NULL;
    dgm_seqfocus f;
    dgm_scan *s = calloc(1, sizeof *s);
    if (!s)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    dgm_status st = dgm_model_seqfocus(&f, m, err);
    if (!st)
        st = dgm_dms_read(&s->dms, path, column, err);
    size_t rows = s->dms.n ? s->dms.n : 1;
    if (!st && (!(s->seqs = dgm_malloc_array(rows, f.L)) ||
                !(s->value = dgm_malloc_array(rows, sizeof(double)))))
        st = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; !st && i < s->dms.n; i++) {
        dgm_mutant mu;
        st = dgm_mutant_parse(&mu, s->dms.mutant[i], &f, path, s->dms.line[i],
                              s->dms.mut_col[i], err);
        if (st || !mu.scorable || isnan(s->dms.value[i]))
            continue;
        dgm_mutant_apply(s->seqs + s->n * f.L, &mu, &f);
        s->value[s->n++] = s->dms.value[i];
    }
    s->L = f.L;
    if (st) {
        dgm_scan_free(s);
        return st;
    }
    *out = s;
    return DGM_OK;
}

dgm_status dgm_scan_spearman(double *rho, dgm_model *m, const dgm_scan *s, int samples,
                             uint64_t seed, dgm_err *err)
{
    *rho = NAN;
    double *d = dgm_malloc_array(s->n ? s->n : 1, sizeof *d);
    double *se = dgm_malloc_array(s->n ? s->n : 1, sizeof *se);
    dgm_rng r;
    dgm_rng_init(&r, seed);
    dgm_status st = d && se ? dgm_mutation_effects(m, &r, d, se, s->seqs, s->n, samples, err)
                            : dgm_errf(err, DGM_ERR_NOMEM, "scan: out of memory");
    if (!st)
        st = dgm_spearman(rho, d, s->value, s->n, err);
    free(d);
    free(se);
    return st;
}
