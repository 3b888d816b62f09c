/* Gibbs sampling from a Potts model: systematic sweeps of single-site heat-bath updates,
 * x_i ~ P(x_i | x_rest) = softmax_a H_i(a), H_i(a) = h_i(a) + sum_{j != i} J_ij(a, x_j), the
 * sampler of bmDCA-style generators (Figliuzzi et al., Mol. Biol. Evol. 2018). The local
 * fields H (L x q) of the chain's state are kept and updated when a letter changes, by the
 * difference of two rows of the full coupling matrix K[(i,b)] (dgm__potts_full), so a sweep
 * costs L softmaxes plus 2 L q adds per change. Chain c draws from dgm_rng_fork(rng, c) and
 * starts from the focus sequence; chains run in parallel and write disjoint rows, so the
 * bits do not depend on the thread count. Mixing: the integrated autocorrelation time of
 * the energy over the kept samples with Sokal's automatic window (c = 5) and the Gelman-Rubin
 * R-hat across chains (Gelman et al., Bayesian Data Analysis, 3rd ed., 11.4). Left out:
 * random-scan and blocked updates, parallel tempering. */
#include "models/potts/potts.h"
#include "core/fastmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define Q POTTS_Q

dgm_gibbs_cfg dgm_gibbs_defaults(void)
{
    dgm_gibbs_cfg g = {.burn_in = 500, .thin = 10, .chains = 16};
    return g;
}

static double energy_of(const dgm__potts *p, const uint8_t *x)
{
    const size_t L = p->L;
    double e = 0.0;
    for (size_t i = 0; i < L; i++) {
        e += p->h[i * Q + x[i]];
        for (size_t j = i + 1; j < L; j++)
            e += p->J[dgm__potts_pair(i, j, L) * Q * Q + (size_t)x[i] * Q + x[j]];
    }
    return e;
}

/* Integrated autocorrelation time of e[0..n) (Sokal 1997): 1 + 2 sum_{t=1}^{M} rho(t) with
 * the smallest window M >= 5 tau(M). NaN for n < 4 or a constant series. */
static double autocorr_time(const double *e, size_t n)
{
    if (n < 4)
        return NAN;
    double mean = 0.0, var = 0.0;
    for (size_t k = 0; k < n; k++)
        mean += e[k] / (double)n;
    for (size_t k = 0; k < n; k++)
        var += (e[k] - mean) * (e[k] - mean) / (double)n;
    if (!(var > 0))
        return NAN;
    double tau = 1.0;
    for (size_t t = 1; t < n; t++) {
        double c = 0.0;
        for (size_t k = 0; k + t < n; k++)
            c += (e[k] - mean) * (e[k + t] - mean);
        tau += 2.0 * c / ((double)n * var);
        if ((double)t >= 5.0 * tau)
            break;
    }
    return tau;
}

/* One systematic sweep of heat-bath updates over the L sites of state x, whose local fields
 * H (L x q, H_i(a) = h_i(a) + sum_j K[(j, x_j)][(i, a)]) it keeps current; ns letters are
 * drawn (20 with ignore_gaps, else 21). Returns the number of letters changed. */
size_t dgm__potts_sweep(const float *K, float *H, uint8_t *x, size_t L, int ns, dgm_rng *r)
{
    const size_t LQ = L * Q;
    size_t changed = 0;
    for (size_t i = 0; i < L; i++) {
        const float *hi = H + i * Q;
        float mx = hi[0], pr[Q], z = 0.0f;
        for (int a = 1; a < ns; a++)
            mx = hi[a] > mx ? hi[a] : mx;
        for (int a = 0; a < ns; a++) {
            pr[a] = dgm__expf(hi[a] - mx);
            z += pr[a];
        }
        float u = dgm_rng_uniform(r) * z, cum = 0.0f;
        int a = ns - 1;
        for (int b = 0; b < ns; b++) {
            cum += pr[b];
            if (u < cum) {
                a = b;
                break;
            }
        }
        if (a == x[i])
            continue;
        const float *kn = K + (i * Q + (size_t)a) * LQ, *ko = K + (i * Q + x[i]) * LQ;
#pragma omp simd
        for (size_t t = 0; t < LQ; t++)
            H[t] += kn[t] - ko[t];
        x[i] = (uint8_t)a;
        changed++;
    }
    return changed;
}

/* One chain: burn_in sweeps, then `draws` kept states every thin sweeps into out rows
 * c, c + C, c + 2C, ...; energies of the kept states into e; *changes the letters changed. */
static void run_chain(const dgm__potts *p, const float *K, dgm_rng *r, uint8_t *out, double *e,
                      size_t c, size_t C, size_t draws, long burn_in, long thin, double *changes)
{
    const size_t L = p->L, LQ = L * Q;
    const int ns = p->cfg.ignore_gaps ? DGM_AA_N : Q;
    uint8_t *x = malloc(L);
    float *H = dgm_malloc_array(LQ, sizeof(float));
    if (!x || !H) {
        free(x);
        dgm_free(H);
        *changes = NAN;
        return;
    }
    memcpy(x, p->wt, L);
    memcpy(H, p->h, LQ * sizeof(float));
    for (size_t j = 0; j < L; j++) {
        const float *k = K + (j * Q + x[j]) * LQ;
        for (size_t t = 0; t < LQ; t++)
            H[t] += k[t];
    }
    double changed = 0.0;
    long total = burn_in + (long)draws * thin;
    for (long sweep = 1; sweep <= total; sweep++) {
        changed += (double)dgm__potts_sweep(K, H, x, L, ns, r);
        if (sweep > burn_in && (sweep - burn_in) % thin == 0) {
            size_t d = (size_t)((sweep - burn_in) / thin - 1);
            memcpy(out + (d * C + c) * L, x, L);
            e[d] = energy_of(p, x);
        }
    }
    *changes = changed;
    free(x);
    dgm_free(H);
}

dgm_status dgm_potts_sample(dgm_rng *rng, uint8_t *out, dgm_gibbs_stats *stats,
                            const dgm_model *m, size_t n, const dgm_gibbs_cfg *cfg, dgm_err *err)
{
    size_t L;
    const float *h, *J;
    dgm_status s = dgm_potts_params(m, &L, &h, &J, err);
    if (s)
        return s;
    if (cfg->burn_in < 0 || cfg->thin < 1 || cfg->chains < 1)
        return dgm_errf(err, DGM_ERR_ARG, "gibbs: burn-in must be >= 0, thin and chains >= 1 "
                        "(got %ld, %ld, %ld)", cfg->burn_in, cfg->thin, cfg->chains);
    if (n == 0)
        return dgm_errf(err, DGM_ERR_ARG, "gibbs: no samples asked for");
    const dgm__potts *p = m->impl;
    size_t C = (size_t)cfg->chains < n ? (size_t)cfg->chains : n, per = (n + C - 1) / C;
    float *K = dgm__potts_full(p);
    double *e = dgm_malloc_array(C, per * sizeof(double)), *chg = dgm_calloc_array(C, sizeof(double));
    if (!K || !e || !chg) {
        dgm_free(K);
        free(e);
        free(chg);
        return dgm_errf(err, DGM_ERR_NOMEM, "gibbs: out of memory for the couplings of %zu "
                        "columns", L);
    }
    long Cl = (long)C;
#pragma omp parallel for schedule(dynamic, 1)
    for (long cl = 0; cl < Cl; cl++) {
        size_t c = (size_t)cl, draws = (n - c + C - 1) / C;
        dgm_rng r;
        dgm_rng_fork(&r, rng, c);
        run_chain(p, K, &r, out, e + c * per, c, C, draws, cfg->burn_in, cfg->thin, &chg[c]);
    }
    dgm_free(K);
    double changed = 0.0;
    for (size_t c = 0; c < C; c++)
        changed += chg[c];
    if (isnan(changed)) {
        free(e);
        free(chg);
        return dgm_errf(err, DGM_ERR_NOMEM, "gibbs: out of memory for a chain");
    }
    if (stats) {
        size_t dmin = n / C; /* every chain has at least this many draws */
        double tau = 0.0, mean = 0.0, sd = 0.0, B = 0.0, Wv = 0.0;
        size_t ntau = 0;
        long sweeps = 0;
        for (size_t c = 0; c < C; c++) {
            size_t draws = (n - c + C - 1) / C;
            sweeps += cfg->burn_in + (long)draws * cfg->thin;
            double t = autocorr_time(e + c * per, draws);
            if (!isnan(t))
                tau += t, ntau++;
            for (size_t d = 0; d < draws; d++)
                mean += e[c * per + d] / (double)n;
        }
        for (size_t c = 0; c < C; c++)
            for (size_t d = 0, draws = (n - c + C - 1) / C; d < draws; d++)
                sd += (e[c * per + d] - mean) * (e[c * per + d] - mean) / (double)n;
        /* R-hat on the first dmin draws of each chain */
        double rh = NAN;
        if (C > 1 && dmin >= 4) {
            double gm = 0.0, *cm = dgm_malloc_array(C, sizeof *cm);
            if (cm) {
                for (size_t c = 0; c < C; c++) {
                    cm[c] = 0.0;
                    for (size_t d = 0; d < dmin; d++)
                        cm[c] += e[c * per + d] / (double)dmin;
                    gm += cm[c] / (double)C;
                }
                for (size_t c = 0; c < C; c++) {
                    B += (cm[c] - gm) * (cm[c] - gm) * (double)dmin / (double)(C - 1);
                    for (size_t d = 0; d < dmin; d++)
                        Wv += (e[c * per + d] - cm[c]) * (e[c * per + d] - cm[c]) /
                              ((double)(dmin - 1) * (double)C);
                }
                double var = (double)(dmin - 1) / (double)dmin * Wv + B / (double)dmin;
                rh = Wv > 0 ? sqrt(var / Wv) : NAN;
                free(cm);
            }
        }
        stats->tau = ntau ? tau / (double)ntau : NAN;
        stats->r_hat = rh;
        stats->mean_energy = mean;
        stats->energy_sd = sqrt(sd);
        stats->sweeps = sweeps;
        stats->accept = changed / ((double)sweeps * (double)L);
    }
    free(e);
    free(chg);
    return DGM_OK;
}
