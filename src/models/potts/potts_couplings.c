/* Coupling scores as plmc writes them (plmc src/plm.c, OutputCouplingScores; Ekeberg et al.
 * 2013 and Dunn et al., Bioinformatics 2008, for the correction): F_ij = ||J_ij||_F over
 * every letter pair of the parameters as fitted (no change of gauge: plmc scores the L2-
 * regularised parameters directly), then the average product correction
 * APC_ij = F_ij - F_i. F_.j / F_.., with F_i. the mean of F_ij over j != i and F_.. the mean
 * over all pairs. Also the full symmetric coupling matrix the sampler uses. */
#include "models/potts/potts.h"

#include <math.h>
#include <stdlib.h>

#define Q POTTS_Q

dgm_status dgm_potts_couplings(double *score, const dgm_model *m, dgm_err *err)
{
    size_t L;
    const float *h, *J;
    dgm_status s = dgm_potts_params(m, &L, &h, &J, err);
    if (s)
        return s;
    size_t P = L * (L - 1) / 2;
    double *row = dgm_calloc_array(L, sizeof *row);
    if (!row)
        return dgm_errf(err, DGM_ERR_NOMEM, "potts: out of memory");
    for (size_t p = 0; p < P; p++) {
        double f = 0.0;
        for (size_t k = 0; k < Q * Q; k++)
            f += (double)J[p * Q * Q + k] * (double)J[p * Q * Q + k];
        score[p] = sqrt(f);
    }
    double all = 0.0;
    for (size_t i = 0; i < L; i++)
        for (size_t j = i + 1; j < L; j++) {
            double f = score[dgm__potts_pair(i, j, L)];
            row[i] += f / (double)(L - 1);
            row[j] += f / (double)(L - 1);
            all += f / (double)P;
        }
    for (size_t i = 0; i < L; i++)
        for (size_t j = i + 1; j < L; j++)
            score[dgm__potts_pair(i, j, L)] -= all > 0 ? row[i] * row[j] / all : 0.0;
    free(row);
    return DGM_OK;
}

void dgm__potts_fill_full(float *K, const dgm__potts *p)
{
    const size_t L = p->L, LQ = L * Q;
    long Ll = (long)L;
#pragma omp parallel for schedule(dynamic, 4)
    for (long il = 0; il < Ll; il++) {
        size_t i = (size_t)il;
        for (size_t j = i + 1; j < L; j++) {
            const float *b = p->J + dgm__potts_pair(i, j, L) * Q * Q;
            for (size_t a = 0; a < Q; a++)
                for (size_t c = 0; c < Q; c++) {
                    K[(j * Q + c) * LQ + i * Q + a] = b[a * Q + c];
                    K[(i * Q + a) * LQ + j * Q + c] = b[a * Q + c];
                }
        }
    }
}

float *dgm__potts_full(const dgm__potts *p)
{
    float *K = dgm_calloc_array(p->L * Q, p->L * Q * sizeof(float));
    if (K)
        dgm__potts_fill_full(K, p);
    return K;
}
