/* Private pieces of the Potts family (src/models/potts/): the model's implementation
 * struct, the parameter layout shared by the file, the pseudo-likelihood objective and the
 * sampler, and the objective itself (potts_plm.c) for the fit and the tests.
 *
 * Layout of a parameter vector (the L-BFGS variables, in double, and the model's h and J in
 * float): h (L x q), then J for the P = L(L-1)/2 pairs i < j in row order (0,1), (0,2), ...,
 * (0,L-1), (1,2), ..., each a q x q block with J[p][a][b] = J_ij(a, b). q = DGM_POTTS_Q. */
#ifndef DGM_MODELS_POTTS_H
#define DGM_MODELS_POTTS_H

#include "models/model.h"

#define POTTS_Q DGM_POTTS_Q
#define POTTS_GAP DGM_AA_GAP

/* Index of pair (i, j), i < j, among L columns. */
static inline size_t dgm__potts_pair(size_t i, size_t j, size_t L)
{
    return i * L - i * (i + 1) / 2 + (j - i - 1);
}

typedef struct dgm__potts {
    size_t   L;
    float   *h;             /* L x q */
    float   *J;             /* P x q x q */
    /* the focus: what mutants are parsed against */
    char     name[128];
    char    *residues;      /* every focus residue from number `start` */
    long     start;
    long    *pos;           /* L residue numbers */
    uint8_t *wt;            /* L letters of the focus row */
    double   neff, theta;
    char     weights[16];   /* "plmc", "deepseq" or "none" */
    dgm_potts_cfg cfg;
    /* how the fit ended */
    long     iterations;
    double   objective, neg_pll, seconds;
    double   bm_pair_r, bm_site_err; /* after a Boltzmann-machine refinement */
    char     status[256];
} dgm__potts;

/* ---- the objective (potts_plm.c) */
typedef struct dgm__plm {
    size_t n, L;
    int    ignore_gaps;
    double lambda_h, lambda_j;
    float *K, *dK;          /* (L q) x (L q): K[(j,b)][(i,a)] = J_ij(a, b), both triangles */
    double *site_f;         /* L: weighted negative conditional log-likelihood of site i */
    double *dh;             /* L x q */
    uint32_t *chg;          /* per chain step, the columns that differ from the previous
                             * sequence as pairs of K rows (j q + new letter, j q + old) */
    size_t *chg_at;         /* n + 1: where step k's pairs start in chg */
    uint8_t *cseq;          /* n x L: the sequences in nearest-neighbour chain order */
    float *cw;              /* n: their weights (1 without weights), in that order */
} dgm__plm;

/* Sizes the scratch for n sequences of L columns (weights w, may be NULL). */
dgm_status dgm__plm_init(dgm__plm *p, const uint8_t *seq, const double *w, size_t n, size_t L,
                         int ignore_gaps, double lambda_h, double lambda_j, dgm_err *err);
void       dgm__plm_free(dgm__plm *p);
/* Parameters in a vector as above. */
size_t     dgm__plm_nparams(size_t L);
/* The objective f(x) = sum_s w_s sum_i -log P(x_si | x_s,-i) + lambda_h |h|^2 + lambda_j |J|^2
 * and, if g is not NULL, its gradient (overwritten); *neg_pll (may be NULL) gets the first
 * term alone. The same bits at any thread count. */
double     dgm__plm_eval(dgm__plm *p, const double *x, double *g, double *neg_pll);

/* ---- shared with the sampler: the full symmetric coupling matrix of a model,
 * K[(j,b)][(i,a)] = J_ij(a,b), zero on the diagonal blocks ((L q)^2 floats). */
float *dgm__potts_full(const dgm__potts *p);
/* The same into K ((L q)^2 floats whose diagonal blocks are zero already). */
void   dgm__potts_fill_full(float *K, const dgm__potts *p);
/* One Gibbs sweep over state x with its local fields H kept current (potts_gibbs.c); the
 * number of letters changed. */
size_t dgm__potts_sweep(const float *K, float *H, uint8_t *x, size_t L, int ns, dgm_rng *r);
/* Boltzmann-machine refinement of p's h and J (potts_bm.c) on n sequences (n x L) with
 * weights w (NULL: all 1), cfg->bm_* settings; progress as DGM_FIT_MOMENTS through c. */
dgm_status dgm__potts_bm(dgm__potts *p, const uint8_t *seq, const double *w, size_t n,
                         const dgm_fit_cfg *c, const dgm_rng *rng, dgm_err *err);

extern const dgm__model_ops dgm__potts_ops;
/* A new fitted model's shell around p (which it owns). */
dgm_model *dgm__potts_model(dgm__potts *p);
void       dgm__potts_destroy(void *impl);

#endif
