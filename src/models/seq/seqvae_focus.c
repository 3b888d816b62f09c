/* The focus sequence a protein-family model keeps so that mutants written as "H24A" can be
 * placed (DeepSequence helper.py: focus_start_loc and uniprot_focus_cols_list), and its
 * round trip through the model file's JSON config. */
#include "models/seq/seqfamily.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dgm_status dgm__seqinfo_init(dgm__seqinfo *si, const dgm_alignment *a, double neff,
                             double theta, dgm_err *err)
{
    memset(si, 0, sizeof *si);
    si->L = a->L;
    snprintf(si->name, sizeof si->name, "%s", a->focus_name);
    si->start = a->focus_start;
    si->residues = strdup(a->focus_residues);
    si->pos = dgm_malloc_array(a->L, sizeof *si->pos);
    si->wt = dgm_malloc_array(a->L, 1);
    if (!si->residues || !si->pos || !si->wt) {
        dgm__seqinfo_free(si);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory");
    }
    memcpy(si->pos, a->pos, a->L * sizeof *si->pos);
    memcpy(si->wt, a->seq, a->L);
    si->neff = neff;
    si->theta = theta;
    return DGM_OK;
}

void dgm__seqinfo_free(dgm__seqinfo *si)
{
    free(si->residues);
    free(si->pos);
    free(si->wt);
    memset(si, 0, sizeof *si);
}

void dgm__seqinfo_to_json(const dgm__seqinfo *si, cJSON *c)
{
    char *row = malloc(si->L + 1);
    double *pos = dgm_malloc_array(si->L, sizeof *pos);
    if (row && pos) {
        for (size_t j = 0; j < si->L; j++) {
            row[j] = DGM_AA_ALPHABET[si->wt[j]];
            pos[j] = (double)si->pos[j];
        }
        row[si->L] = '\0';
        cJSON_AddNumberToObject(c, "L", (double)si->L);
        cJSON_AddStringToObject(c, "focus_name", si->name);
        cJSON_AddNumberToObject(c, "focus_start", (double)si->start);
        cJSON_AddStringToObject(c, "focus_residues", si->residues);
        cJSON_AddStringToObject(c, "focus_row", row);
        cJSON_AddItemToObject(c, "positions", cJSON_CreateDoubleArray(pos, (int)si->L));
        cJSON_AddNumberToObject(c, "neff", si->neff);
        cJSON_AddNumberToObject(c, "theta", si->theta);
    }
    free(row);
    free(pos);
}

dgm_status dgm__seqinfo_from_json(dgm__seqinfo *si, const cJSON *c, const char *path,
                                  dgm_err *err)
{
    memset(si, 0, sizeof *si);
    const cJSON *L = cJSON_GetObjectItemCaseSensitive(c, "L");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "focus_name");
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(c, "focus_start");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(c, "focus_residues");
    const cJSON *row = cJSON_GetObjectItemCaseSensitive(c, "focus_row");
    const cJSON *pos = cJSON_GetObjectItemCaseSensitive(c, "positions");
    const cJSON *neff = cJSON_GetObjectItemCaseSensitive(c, "neff");
    const cJSON *theta = cJSON_GetObjectItemCaseSensitive(c, "theta");
    if (!cJSON_IsNumber(L) || L->valuedouble < 1 || L->valuedouble > 1e6 ||
        !cJSON_IsString(name) || !cJSON_IsNumber(start) || !cJSON_IsString(res) ||
        !cJSON_IsString(row) || !cJSON_IsArray(pos) || !cJSON_IsNumber(neff) ||
        !cJSON_IsNumber(theta) || strlen(row->valuestring) != (size_t)L->valuedouble ||
        cJSON_GetArraySize(pos) != (int)L->valuedouble ||
        /* JSON has no infinity: a neff or theta read as one (1e999) would save as null
         * and not load back (fuzz_model) */
        !(fabs(start->valuedouble) <= 1e9) || !(neff->valuedouble >= 0) ||
        !isfinite(neff->valuedouble) || !isfinite(theta->valuedouble))
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged protein-family model: focus fields "
                        "(L, focus_name, focus_start, focus_residues, focus_row, positions, "
                        "neff, theta) missing, inconsistent or not finite", path);
    si->L = (size_t)L->valuedouble;
    snprintf(si->name, sizeof si->name, "%s", name->valuestring);
    si->start = (long)start->valuedouble;
    si->neff = neff->valuedouble;
    si->theta = theta->valuedouble;
    si->residues = strdup(res->valuestring);
    si->pos = dgm_malloc_array(si->L, sizeof *si->pos);
    si->wt = dgm_malloc_array(si->L, 1);
    if (!si->residues || !si->pos || !si->wt) {
        dgm__seqinfo_free(si);
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    }
    long nres = (long)strlen(si->residues);
    for (size_t j = 0; j < si->L; j++) {
        int a = dgm_aa_index(row->valuestring[j]);
        const cJSON *p = cJSON_GetArrayItem(pos, (int)j);
        /* range-checked as a double: a cast of 1e999 to long is undefined */
        double pv = cJSON_IsNumber(p) ? p->valuedouble : -2;
        long v = pv >= -1 && pv < 1e12 ? (long)pv : -2;
        if (a < 0 || v < -1 || (v >= 0 && (v < si->start || v >= si->start + nres))) {
            dgm__seqinfo_free(si);
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged protein-family model: column %zu "
                            "of the focus row or its position is invalid", path, j);
        }
        si->wt[j] = (uint8_t)a;
        si->pos[j] = v;
    }
    return DGM_OK;
}

const dgm__seqinfo *dgm__seqinfo_of(const dgm_model *m)
{
    if (m->ops == &dgm__indep_ops || m->ops == &dgm__seqvae_ops)
        return (const dgm__seqinfo *)m->impl; /* the first member of both impl structs */
    return NULL;
}

dgm_status dgm_model_seqfocus(dgm_seqfocus *f, const dgm_model *m, dgm_err *err)
{
    const dgm__seqinfo *si = dgm__seqinfo_of(m);
    if (!si && m->ops->seqfocus) /* a family of its own folder (potts, made) */
        return m->ops->seqfocus(m, f) ? dgm_errf(err, DGM_ERR_UNSUPPORTED, "a %s model "
                                               "without a focus sequence is not a "
                                               "protein-family model", dgm_model_type(m))
                                      : DGM_OK;
    if (!si)
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "a %s model is not a protein-family model "
                        "(independent, seqvae or potts)", dgm_model_type(m));
    f->name = si->name;
    f->residues = si->residues;
    f->start = si->start;
    f->L = si->L;
    f->pos = si->pos;
    f->wt = si->wt;
    return DGM_OK;
}
