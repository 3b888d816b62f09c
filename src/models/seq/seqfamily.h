/* Private pieces shared by the protein-family models (independent.c, seqvae*.c) and the
 * mutation scorer (eval/mutations.c): the focus information each such model carries as
 * the first member of its implementation struct, and the VAE's paired-sample scorer. */
#ifndef DGM_MODELS_SEQFAMILY_H
#define DGM_MODELS_SEQFAMILY_H

#include "models/model.h"

typedef struct dgm__seqinfo {
    size_t   L;            /* model columns */
    char     name[128];    /* focus name */
    char    *residues;     /* every focus residue from number `start` */
    long     start;
    long    *pos;          /* L residue numbers, -1 where the focus row has a gap */
    uint8_t *wt;           /* L letters of the focus row */
    double   neff, theta;  /* of the training alignment */
} dgm__seqinfo;

/* Copies the focus of a (and its Neff/theta) into si. */
dgm_status dgm__seqinfo_init(dgm__seqinfo *si, const dgm_alignment *a, double neff,
                             double theta, dgm_err *err);
void       dgm__seqinfo_free(dgm__seqinfo *si);
/* Adds "L", "focus_name", "focus_start", "focus_residues", "focus_row", "positions",
 * "neff", "theta" to a model config; reads them back (with checks) from a loaded one. */
void       dgm__seqinfo_to_json(const dgm__seqinfo *si, cJSON *config);
dgm_status dgm__seqinfo_from_json(dgm__seqinfo *si, const cJSON *config, const char *path,
                                  dgm_err *err);
/* The seqinfo of a protein-family model, or NULL for any other model. */
const dgm__seqinfo *dgm__seqinfo_of(const dgm_model *m);

/* "seqvae": delta and se as dgm_mutation_effects documents, with the latent noise and
 * the decoder-weight draw shared by each mutant and the wild type within a sample. */
dgm_status dgm__seqvae_effects(dgm_model *m, dgm_rng *rng, double *delta, double *se,
                               const uint8_t *seqs, size_t n, int samples,
                               dgm_progress_fn progress, void *ctx, dgm_err *err);

extern const dgm__model_ops dgm__indep_ops, dgm__seqvae_ops;

#endif
