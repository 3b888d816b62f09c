/* Boltzmann-machine refinement of a Potts model: gradient ascent on the penalised
 * log-likelihood itself, the learning of bmDCA (Figliuzzi, Barrat-Charlaix, Weigt, Mol. Biol.
 * Evol. 2018) and adabmDCA (Muntoni et al., BMC Bioinformatics 2021), started from the
 * pseudo-likelihood fit. Pseudo-likelihood parameters sampled by Gibbs reproduce the
 * alignment's statistics poorly (the papers above; on BLAT, dgm assess measured a pair r of
 * 0.18); the likelihood's gradient is exactly the mismatch of those statistics. Per unit of
 * the weight W = sum_s w_s (docs/math.md, "Boltzmann-machine refinement"):
 *   dl/dh_i(a)    = f_i(a)    - <[x_i = a]>             - 2 lambda_h h_i(a) / W,
 *   dl/dJ_ij(a,b) = f_ij(a,b) - <[x_i = a][x_j = b]>    - 2 lambda_J J_ij(a,b) / W,
 * f the weighted frequencies of the data, <.> the model's averages, which M persistent
 * chains estimate (persistent contrastive divergence, Tieleman 2008): each step advances
 * every chain S Gibbs sweeps under the current parameters, then takes one step along the
 * estimated gradient, of size rate for h and rate / (L - 1) for J. Chains start from training sequences drawn by weight.
 * Chain c of step t draws from dgm_rng_fork(dgm_rng_fork(rng, t), c), chains and pairs
 * are split over threads with every sum in a fixed order, so the bits do not depend on the
 * thread count. Gaps must be a state: with ignore_gaps the pseudo-likelihood treats gaps as
 * missing, which no equilibrium distribution does. Left out: adabmDCA's adaptive sweeps and
 * decimation, and any stopping rule but the step count. */
#include "models/potts/potts.h"
#include "par/par.h"

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

/* Site (L x q) and pair (P x q x q) frequencies of n states x (n x L) with weights w (NULL:
 * 1 each), divided by their sum. Parallel over the first site of a pair: each pair is one
 * thread's, summed in state order. */
static void moments(double *fi, float *fij, const uint8_t *x, const double *w, size_t n,
                    size_t L)
{
    double W = 0.0;
    for (size_t s = 0; s < n; s++)
        W += w ? w[s] : 1.0;
    long Ll = (long)L;
#pragma omp parallel for schedule(dynamic, 1)
    for (long il = 0; il < Ll; il++) {
        size_t i = (size_t)il;
        double f[Q] = {0};
        double *acc = calloc((L - i) * Q * Q, sizeof(double));
        for (size_t s = 0; s < n; s++) {
            double ws = (w ? w[s] : 1.0) / W;
            const uint8_t *xs = x + s * L;
            f[xs[i]] += ws;
            if (acc)
                for (size_t j = i + 1; j < L; j++)
                    acc[(j - i - 1) * Q * Q + (size_t)xs[i] * Q + xs[j]] += ws;
        }
        for (int a = 0; a < Q; a++)
            fi[i * Q + (size_t)a] = f[a];
        if (i + 1 < L) {
            float *out = fij + dgm__potts_pair(i, i + 1, L) * Q * Q;
            for (size_t k = 0; k < (L - i - 1) * Q * Q; k++)
                out[k] = acc ? (float)acc[k] : NAN;
        }
        free(acc);
    }
}

/* Pearson r between the connected correlations f_ij(a,b) - f_i(a) f_j(b) of the data (d) and
 * of the chains (m), over every pair i < j and letter pair, as dgm assess computes it. */
static double pair_r(const double *dfi, const float *dfij, const double *mfi, const float *mfij,
                     size_t L)
{
    long Ll = (long)L;
    double *part = calloc(L * 5, sizeof(double));
    if (!part)
        return NAN;
#pragma omp parallel for schedule(dynamic, 1)
    for (long il = 0; il < Ll; il++) {
        size_t i = (size_t)il;
        double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
        for (size_t j = i + 1; j < L; j++) {
            size_t p = dgm__potts_pair(i, j, L) * Q * Q;
            for (int a = 0; a < Q; a++)
                for (int b = 0; b < Q; b++) {
                    double cx = dfij[p + (size_t)a * Q + b] - dfi[i * Q + a] * dfi[j * Q + b];
                    double cy = mfij[p + (size_t)a * Q + b] - mfi[i * Q + a] * mfi[j * Q + b];
                    sx += cx, sy += cy, sxx += cx * cx, syy += cy * cy, sxy += cx * cy;
                }
        }
        double *o = part + i * 5;
        o[0] = sx, o[1] = sy, o[2] = sxx, o[3] = syy, o[4] = sxy;
    }
    double t[5] = {0};
    for (size_t i = 0; i < L; i++)
        for (int k = 0; k < 5; k++)
            t[k] += part[i * 5 + k];
    free(part);
    double N = (double)(L * (L - 1) / 2 * Q * Q);
    double vx = t[2] - t[0] * t[0] / N, vy = t[3] - t[1] * t[1] / N;
    double cxy = t[4] - t[0] * t[1] / N;
    return vx > 0 && vy > 0 ? cxy / sqrt(vx * vy) : NAN;
}

/* Local fields of state x: H = h + sum_j K[(j, x_j)]. */
static void fields(float *H, const float *h, const float *K, const uint8_t *x, size_t L)
{
    const size_t LQ = L * Q;
    memcpy(H, h, LQ * sizeof(float));
    for (size_t j = 0; j < L; j++) {
        const float *k = K + (j * Q + x[j]) * LQ;
#pragma omp simd
        for (size_t t = 0; t < LQ; t++)
            H[t] += k[t];
    }
}

dgm_status dgm__potts_bm(dgm__potts *p, const uint8_t *seq, const double *w, size_t n,
                         const dgm_fit_cfg *c, const dgm_rng *rng, dgm_err *err)
{
    const dgm_potts_cfg *cfg = &p->cfg;
    const size_t L = p->L, LQ = L * Q, P = L * (L - 1) / 2, M = (size_t)cfg->bm_chains;
    double W = 0.0;
    for (size_t s = 0; s < n; s++)
        W += w ? w[s] : 1.0;
    double *dfi = malloc(LQ * sizeof *dfi), *mfi = malloc(LQ * sizeof *mfi);
    double *cum = malloc(n * sizeof *cum);
    float *dfij = dgm_malloc_array(P, Q * Q * sizeof(float));
    float *mfij = dgm_malloc_array(P, Q * Q * sizeof(float));
    float *K = dgm_calloc_array(LQ, LQ * sizeof(float));
    float *H = dgm_malloc_array(M, LQ * sizeof(float));
    uint8_t *x = dgm_malloc_array(M, L);
    dgm_status s = DGM_OK;
    if (!dfi || !mfi || !cum || !dfij || !mfij || !K || !H || !x) {
        s = dgm_errf(err, DGM_ERR_NOMEM, "potts: out of memory for the Boltzmann-machine "
                     "refinement (%zu chains of %zu columns)", M, L);
        goto done;
    }
    moments(dfi, dfij, seq, w, n, L);
    /* chains start from training sequences drawn by weight */
    double acc = 0.0;
    for (size_t k = 0; k < n; k++)
        cum[k] = (acc += (w ? w[k] : 1.0) / W);
    dgm_rng r0;
    dgm_rng_fork(&r0, rng, (uint64_t)-1);
    for (size_t m = 0; m < M; m++) {
        double u = dgm_rng_uniform(&r0);
        size_t lo = 0, hi = n - 1;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (cum[mid] > u)
                hi = mid;
            else
                lo = mid + 1;
        }
        memcpy(x + m * L, seq + lo * L, L);
    }
    /* a field H_i(a) sums L - 1 couplings, so a step of J the size of h's moves it L - 1
     * times as far: J's step is rate / (L - 1) (on BLAT, one rate for both diverged from
     * the pseudo-likelihood start within 3 steps) */
    const float rate = (float)cfg->bm_rate, rate_j = rate / (float)(L - 1);
    const float dh_pen = (float)(2.0 * cfg->lambda_h / W), dj_pen = (float)(2.0 * cfg->lambda_j / W);
    double t0 = now();
    for (long t = 1; t <= cfg->bm_iter; t++) {
        dgm__potts_fill_full(K, p);
        dgm_rng rt;
        dgm_rng_fork(&rt, rng, (uint64_t)t);
        long Ml = (long)M;
#pragma omp parallel for schedule(dynamic, 4)
        for (long ml = 0; ml < Ml; ml++) {
            size_t m = (size_t)ml;
            dgm_rng r;
            dgm_rng_fork(&r, &rt, m);
            float *Hm = H + m * LQ;
            fields(Hm, p->h, K, x + m * L, L);
            for (long k = 0; k < cfg->bm_sweeps; k++)
                dgm__potts_sweep(K, Hm, x + m * L, L, Q, &r);
        }
        moments(mfi, mfij, x, NULL, M, L);
        double site_err = 0.0;
        for (size_t k = 0; k < LQ; k++) {
            double e = fabs(dfi[k] - mfi[k]);
            site_err = e > site_err ? e : site_err;
        }
        double r_pair = pair_r(dfi, dfij, mfi, mfij, L);
        for (size_t k = 0; k < LQ; k++)
            p->h[k] += rate * ((float)(dfi[k] - mfi[k]) - dh_pen * p->h[k]);
        long Pl = (long)(P * Q * Q);
#pragma omp parallel for schedule(static)
        for (long kl = 0; kl < Pl; kl++) {
            size_t k = (size_t)kl;
            p->J[k] += rate_j * (dfij[k] - mfij[k] - dj_pen * p->J[k]);
        }
        if (!dgm_all_finite(p->h, LQ)) {
            s = dgm_errf(err, DGM_ERR_NAN, "potts: the Boltzmann-machine refinement diverged "
                         "at step %ld (fields not finite): lower bm_rate (%g)", t, cfg->bm_rate);
            goto done;
        }
        p->bm_pair_r = r_pair, p->bm_site_err = site_err;
        dgm_fit_progress pr = {.event = DGM_FIT_MOMENTS, .cls = -1, .iter = (int)t,
                               .val = r_pair, .loss = site_err, .seconds = now() - t0,
                               .loglik = NAN, .objective = NAN, .grad_norm = NAN};
        if (c && c->progress)
            c->progress(c->progress_ctx, &pr);
        if (dgm__par_any(c && c->stop && *c->stop))
            break;
    }
done:
    free(dfi), free(mfi), free(cum);
    dgm_free(dfij), dgm_free(mfij), dgm_free(K), dgm_free(H), dgm_free(x);
    return s;
}
