/* The Potts model (src/models/potts/): the pseudo-likelihood objective against a direct
 * double-precision sum and its gradient against central finite differences on tiny
 * alignments (with and without ignore_gaps); the same bits at 1 and 2 threads; energies and
 * pseudo-log-likelihoods against direct sums; mutation effects against energy differences;
 * APC coupling scores against a direct computation; a fit through dgm_fit that lowers the
 * objective and survives a save/load round trip; bad options and damaged files; Gibbs
 * frequencies on a 4-column model against exact enumeration (chi-square); the
 * Boltzmann-machine refinement against the likelihood's stationarity by enumeration. */
#include "test.h"
#include "dgm.h"
#include "models/potts/potts.h"

#include <unistd.h>

#define Q DGM_POTTS_Q

static void random_seqs(dgm_rng *r, uint8_t *seq, size_t n, size_t L, int letters, double pgap)
{
    for (size_t k = 0; k < n * L; k++)
        seq[k] = dgm_rng_uniform_d(r) < pgap ? DGM_AA_GAP : (uint8_t)dgm_rng_below(r, (uint64_t)letters);
}

/* The objective written directly from docs/math.md, in double, pair by pair. */
static double direct_objective(const double *x, const uint8_t *seq, const double *w, size_t n,
                               size_t L, int ign, double lh, double lj)
{
    const double *h = x, *J = x + L * Q;
    int ns = ign ? 20 : Q;
    double f = 0.0;
    for (size_t s = 0; s < n; s++) {
        const uint8_t *xs = seq + s * L;
        for (size_t i = 0; i < L; i++) {
            if (ign && xs[i] == DGM_AA_GAP)
                continue;
            double H[Q], mx = -1e300, z = 0.0;
            for (int a = 0; a < ns; a++) {
                H[a] = h[i * Q + (size_t)a];
                for (size_t j = 0; j < L; j++) {
                    if (j == i || (ign && xs[j] == DGM_AA_GAP))
                        continue;
                    size_t p = i < j ? dgm__potts_pair(i, j, L) : dgm__potts_pair(j, i, L);
                    H[a] += i < j ? J[p * Q * Q + (size_t)a * Q + xs[j]]
                                  : J[p * Q * Q + (size_t)xs[j] * Q + (size_t)a];
                }
                mx = H[a] > mx ? H[a] : mx;
            }
            for (int a = 0; a < ns; a++)
                z += exp(H[a] - mx);
            f += (w ? w[s] : 1.0) * (mx + log(z) - H[xs[i]]);
        }
    }
    for (size_t k = 0; k < L * Q; k++)
        f += lh * x[k] * x[k];
    for (size_t k = L * Q; k < dgm__plm_nparams(L); k++)
        f += lj * x[k] * x[k];
    return f;
}

static void plm_case(int ign, size_t n, size_t L, int letters)
{
    dgm_rng r;
    dgm_rng_init(&r, 11 + (uint64_t)ign);
    size_t np = dgm__plm_nparams(L);
    uint8_t *seq = malloc(n * L);
    double *w = malloc(n * sizeof *w), *x = malloc(np * sizeof *x), *g = malloc(np * sizeof *g);
    random_seqs(&r, seq, n, L, letters, 0.2);
    for (size_t s = 0; s < n; s++)
        w[s] = 0.2 + dgm_rng_uniform_d(&r);
    for (size_t k = 0; k < np; k++)
        x[k] = 0.5 * dgm_rng_normal(&r);
    dgm__plm p;
    dgm_err err = {0};
    CHECK(dgm__plm_init(&p, seq, w, n, L, ign, 0.03, 0.7, &err) == DGM_OK);
    double nll, f = dgm__plm_eval(&p, x, g, &nll);
    double fd = direct_objective(x, seq, w, n, L, ign, 0.03, 0.7);
    CHECK_NEAR(f, fd, 1e-5 * fabs(fd));
    CHECK_NEAR(nll, direct_objective(x, seq, w, n, L, ign, 0, 0), 1e-5 * fabs(fd));
    CHECK_NEAR(dgm__plm_eval(&p, x, NULL, NULL), f, 0); /* the value alone is the same */
    /* central differences of the float objective, every parameter */
    const double eps = 1.0 / 64;
    size_t bad = 0;
    double worst = 0;
    for (size_t k = 0; k < np; k++) {
        double x0 = x[k];
        x[k] = x0 + eps;
        double fp = dgm__plm_eval(&p, x, NULL, NULL);
        x[k] = x0 - eps;
        double fm = dgm__plm_eval(&p, x, NULL, NULL);
        x[k] = x0;
        double num = (fp - fm) / (2 * eps), e = fabs(num - g[k]) / fmax(1.0, fabs(g[k]));
        worst = fmax(worst, e);
        if (e > 2e-3) {
            if (bad++ < 5)
                fprintf(stderr, "plm gradient (ignore_gaps %d) at %zu: analytic %.8g, numeric %.8g\n",
                        ign, k, g[k], num);
        }
    }
    CHECK_MSG(bad == 0, "%zu of %zu gradient entries off (worst %.3g)", bad, np, worst);
    if (ign) /* gap parameters do not enter the objective: only their penalty */
        CHECK_NEAR(g[0 * Q + DGM_AA_GAP], 2 * 0.03 * x[0 * Q + DGM_AA_GAP], 1e-12);
    dgm__plm_free(&p);
    free(seq), free(w), free(x), free(g);
}

static void test_plm_gradient(void)
{
    plm_case(0, 9, 4, Q);
    plm_case(1, 9, 4, 20);
    plm_case(0, 6, 5, 3); /* few letters: most states unseen */
    /* more sequences than two refresh periods of potts_plm.c's chain (32): the flushes of
     * the telescoped gradient, the change lists and their prefetch near the end */
    plm_case(0, 70, 5, 6);
    plm_case(1, 75, 4, 20);
}

static void test_plm_threads(void)
{
    size_t n = 60, L = 23, np = dgm__plm_nparams(L);
    dgm_rng r;
    dgm_rng_init(&r, 5);
    uint8_t *seq = malloc(n * L);
    double *x = malloc(np * sizeof *x), *g1 = malloc(np * sizeof *g1), *g2 = malloc(np * sizeof *g2);
    random_seqs(&r, seq, n, L, 20, 0.1);
    for (size_t k = 0; k < np; k++)
        x[k] = 0.1 * dgm_rng_normal(&r);
    dgm__plm p;
    dgm_err err = {0};
    CHECK(dgm__plm_init(&p, seq, NULL, n, L, 1, 0.01, 1.0, &err) == DGM_OK);
    int t0 = dgm_get_threads();
    dgm_set_threads(1);
    double f1 = dgm__plm_eval(&p, x, g1, NULL);
    dgm_set_threads(2);
    double f2 = dgm__plm_eval(&p, x, g2, NULL);
    dgm_set_threads(t0);
    CHECK(f1 == f2);
    CHECK(!memcmp(g1, g2, np * sizeof *g1));
    dgm__plm_free(&p);
    free(seq), free(x), free(g1), free(g2);
}

/* A fitted-looking model with random parameters, focus "TOY/10-(10+L-1)". */
static dgm_model *toy_model(size_t L, int ign, double scale, uint64_t seed)
{
    dgm_rng r;
    dgm_rng_init(&r, seed);
    dgm__potts *p = calloc(1, sizeof *p);
    size_t P = L * (L - 1) / 2;
    p->L = L;
    p->h = malloc(L * Q * sizeof(float));
    p->J = malloc(P * Q * Q * sizeof(float));
    for (size_t k = 0; k < L * Q; k++)
        p->h[k] = (float)(scale * dgm_rng_normal(&r));
    for (size_t k = 0; k < P * Q * Q; k++)
        p->J[k] = (float)(scale * 0.5 * dgm_rng_normal(&r));
    snprintf(p->name, sizeof p->name, "TOY");
    p->start = 10;
    p->residues = malloc(L + 1);
    p->pos = malloc(L * sizeof(long));
    p->wt = malloc(L);
    for (size_t i = 0; i < L; i++) {
        p->wt[i] = (uint8_t)((i * 7) % 20);
        p->residues[i] = DGM_AA_ALPHABET[p->wt[i]];
        p->pos[i] = 10 + (long)i;
    }
    p->residues[L] = '\0';
    p->cfg = dgm_potts_defaults();
    p->cfg.ignore_gaps = ign;
    snprintf(p->weights, sizeof p->weights, "none");
    return dgm__potts_model(p);
}

static double direct_energy(const float *h, const float *J, const uint8_t *x, size_t L)
{
    double e = 0;
    for (size_t i = 0; i < L; i++)
        e += h[i * Q + x[i]];
    for (size_t i = 0; i < L; i++)
        for (size_t j = i + 1; j < L; j++)
            e += J[dgm__potts_pair(i, j, L) * Q * Q + (size_t)x[i] * Q + x[j]];
    return e;
}

static void test_energy_pll(void)
{
    size_t L = 7, n = 5;
    dgm_model *m = toy_model(L, 0, 1.0, 3);
    size_t L2;
    const float *h, *J;
    dgm_err err = {0};
    CHECK(dgm_potts_params(m, &L2, &h, &J, &err) == DGM_OK && L2 == L);
    dgm_rng r;
    dgm_rng_init(&r, 9);
    uint8_t seq[35];
    random_seqs(&r, seq, n, L, Q, 0);
    double E[5], pll[5];
    CHECK(dgm_potts_energy(E, m, seq, n, &err) == DGM_OK);
    CHECK(dgm_potts_pll(pll, m, seq, n, &err) == DGM_OK);
    for (size_t k = 0; k < n; k++) {
        CHECK_NEAR(E[k], direct_energy(h, J, seq + k * L, L), 1e-9);
        /* pll: log P(x_i | rest) = E(x) - log sum_a exp E(x with x_i = a) */
        double want = 0;
        for (size_t i = 0; i < L; i++) {
            uint8_t y[7];
            memcpy(y, seq + k * L, L);
            double z = 0, e0 = direct_energy(h, J, y, L);
            for (int a = 0; a < Q; a++) {
                y[i] = (uint8_t)a;
                z += exp(direct_energy(h, J, y, L) - e0);
            }
            want -= log(z);
        }
        CHECK_NEAR(pll[k], want, 1e-6);
    }
    uint8_t badseq[7] = {0, 1, 2, 30, 0, 0, 0};
    CHECK(dgm_potts_energy(E, m, badseq, 1, &err) == DGM_ERR_ARG);
    /* mutation effects: E(mutant) - E(wt) */
    dgm_seqfocus f;
    CHECK(dgm_model_seqfocus(&f, m, &err) == DGM_OK && f.L == L && f.start == 10);
    const char *muts[3] = {"A10C", "A10D:R12W", "wt"};
    uint8_t ms[21];
    for (int k = 0; k < 3; k++) {
        dgm_mutant mu;
        CHECK(dgm_mutant_parse(&mu, muts[k], &f, "t", 1, 1, &err) == DGM_OK);
        dgm_mutant_apply(ms + k * L, &mu, &f);
    }
    double d[3], se[3];
    dgm_rng_init(&r, 1);
    CHECK(dgm_mutation_effects(m, &r, d, se, ms, 3, 1, &err) == DGM_OK);
    double ewt = direct_energy(h, J, f.wt, L);
    for (int k = 0; k < 3; k++) {
        CHECK_NEAR(d[k], direct_energy(h, J, ms + k * L, L) - ewt, 1e-9);
        CHECK(se[k] == 0);
    }
    CHECK(ms[0] == 1 && ms[L + 0] == 2 && ms[L + 2] == 18); /* C, D and W in their columns */
    CHECK(d[2] == 0);
    double lp;
    float oh[7 * 20];
    dgm_seq_onehot(oh, seq, 1, L);
    CHECK(dgm_model_log_prob(m, &r, &lp, oh, NULL, 1, 1, &err) == DGM_ERR_UNSUPPORTED);
    dgm_model_free(m);
}

static void test_couplings(void)
{
    size_t L = 6, P = 15;
    dgm_model *m = toy_model(L, 1, 1.0, 4);
    size_t L2;
    const float *h, *J;
    dgm_err err = {0};
    dgm_potts_params(m, &L2, &h, &J, &err);
    double sc[15], F[6][6] = {{0}};
    CHECK(dgm_potts_couplings(sc, m, &err) == DGM_OK);
    for (size_t i = 0; i < L; i++)
        for (size_t j = i + 1; j < L; j++) {
            double s = 0;
            for (int a = 0; a < Q; a++)
                for (int b = 0; b < Q; b++) {
                    double v = J[dgm__potts_pair(i, j, L) * Q * Q + (size_t)a * Q + (size_t)b];
                    s += v * v;
                }
            F[i][j] = F[j][i] = sqrt(s);
        }
    double all = 0, row[6] = {0};
    for (size_t i = 0; i < L; i++)
        for (size_t j = 0; j < L; j++)
            if (i != j) {
                row[i] += F[i][j] / (double)(L - 1);
                all += F[i][j] / (double)(2 * P);
            }
    for (size_t i = 0; i < L; i++)
        for (size_t j = i + 1; j < L; j++)
            CHECK_NEAR(sc[dgm__potts_pair(i, j, L)], F[i][j] - row[i] * row[j] / all, 1e-9);
    dgm_model_free(m);
}

/* An alignment file: focus "TOY/5-..." and n - 1 sequences drawn near it. */
static void write_alignment(const char *path, size_t n, size_t L, uint64_t seed)
{
    FILE *fp = fopen(path, "w");
    dgm_rng r;
    dgm_rng_init(&r, seed);
    char *focus = malloc(L + 1);
    for (size_t i = 0; i < L; i++)
        focus[i] = DGM_AA_ALPHABET[(i * 3) % 20];
    focus[L] = '\0';
    fprintf(fp, ">TOY/5-%zu\n%s\n", 4 + L, focus);
    for (size_t s = 1; s < n; s++) {
        fprintf(fp, ">s%zu\n", s);
        int flip = dgm_rng_uniform_d(&r) < 0.5; /* two correlated columns, 1 and 3 */
        for (size_t i = 0; i < L; i++) {
            char c = focus[i];
            if (i == 1 || i == 3)
                c = flip ? 'W' : focus[i];
            else if (dgm_rng_uniform_d(&r) < 0.3)
                c = DGM_AA_ALPHABET[dgm_rng_below(&r, 21)];
            fputc(c, fp);
        }
        fputc('\n', fp);
    }
    fclose(fp);
    free(focus);
}

static void iter_cb(void *ctx, const dgm_fit_progress *p)
{
    double *last = ctx;
    if (p->event == DGM_FIT_ITER) {
        CHECK(p->objective <= last[0] + 1e-9); /* L-BFGS accepts only decreases */
        last[0] = p->objective;
        last[1] = p->iter;
    }
}

static void test_fit(void)
{
    char path[] = "/tmp/dgm_test_pottsXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    write_alignment(path, 40, 6, 2);
    dgm_err err = {0};
    dgm_alignment a;
    CHECK(dgm_alignment_read(&a, path, NULL, &err) == DGM_OK);
    double *w = malloc(a.n * sizeof *w), neff;
    CHECK(dgm_alignment_weights(w, &neff, &a, 0.2, DGM_SEQW_PLMC, &err) == DGM_OK);
    dgm_potts_cfg cfg = dgm_potts_defaults();
    cfg.lambda_j = 0.5;
    cfg.max_iter = 50;
    cfg.weights = "plmc";
    dgm_model *m = NULL;
    CHECK(dgm_potts_create(&m, &cfg, &err) == DGM_OK);
    dgm_fit_data d = {.aln = &a, .weights = w, .neff = neff, .theta = 0.2};
    dgm_fit_cfg c = dgm_fit_defaults();
    double last[2] = {1e300, 0};
    c.progress = iter_cb, c.progress_ctx = last;
    CHECK(dgm_fit(m, &d, &c, NULL, &err) == DGM_OK);
    long it;
    double obj, nll;
    const char *msg;
    CHECK(dgm_potts_fit_status(m, &it, &obj, &nll, &msg, &err) == DGM_OK);
    CHECK(it >= 1 && it == (long)last[1]);
    CHECK_NEAR(obj, last[0], 0);
    /* the final parameters give that objective, and their gradient is small */
    size_t L, np;
    const float *h, *J;
    dgm_potts_params(m, &L, &h, &J, &err);
    CHECK_EQ_INT(L, 6);
    np = dgm__plm_nparams(L);
    double *x = malloc(np * sizeof *x), *g = malloc(np * sizeof *g);
    for (size_t k = 0; k < L * Q; k++)
        x[k] = h[k];
    for (size_t k = L * Q; k < np; k++)
        x[k] = J[k - L * Q];
    dgm__plm p;
    CHECK(dgm__plm_init(&p, a.seq, w, a.n, L, 1, cfg.lambda_h, cfg.lambda_j, &err) == DGM_OK);
    double f = dgm__plm_eval(&p, x, g, NULL), gn = 0, xn = 0;
    for (size_t k = 0; k < np; k++)
        gn += g[k] * g[k], xn += x[k] * x[k];
    CHECK_NEAR(f, obj, 1e-4 * fabs(obj));
    CHECK_MSG(sqrt(gn) < 1e-2 * fmax(1, sqrt(xn)), "|g| %g |x| %g", sqrt(gn), sqrt(xn));
    for (size_t k = 0; k < L; k++) /* ignore_gaps keeps every gap parameter at 0 */
        CHECK(h[k * Q + DGM_AA_GAP] == 0);
    /* the correlated pair (1, 3) scores highest */
    double sc[15];
    CHECK(dgm_potts_couplings(sc, m, &err) == DGM_OK);
    size_t best = 0;
    for (size_t k = 1; k < 15; k++)
        best = sc[k] > sc[best] ? k : best;
    CHECK_EQ_INT(best, dgm__potts_pair(1, 3, 6));
    /* save and load: the same parameters and focus */
    char mp[64];
    snprintf(mp, sizeof mp, "%s.safetensors", path);
    CHECK(dgm_model_save(m, mp, &err) == DGM_OK);
    dgm_model *m2 = NULL;
    CHECK(dgm_model_load(&m2, mp, &err) == DGM_OK);
    size_t L3;
    const float *h2, *J2;
    CHECK(dgm_potts_params(m2, &L3, &h2, &J2, &err) == DGM_OK && L3 == L);
    CHECK(!memcmp(h, h2, L * Q * sizeof(float)) && !memcmp(J, J2, (np - L * Q) * sizeof(float)));
    dgm_seqfocus f1, f2;
    dgm_model_seqfocus(&f1, m, &err);
    dgm_model_seqfocus(&f2, m2, &err);
    CHECK(f2.start == 5 && !memcmp(f1.wt, f2.wt, L) && !strcmp(f1.residues, f2.residues));
    /* a file whose J does not fit L and q */
    dgm_st_tensor t[2] = {{"h", h, {L, Q}, 2}, {"J", J, {14, Q, Q}, 3}};
    dgm_st_file *sf;
    CHECK(dgm_safetensors_read(&sf, mp, &err) == DGM_OK);
    const char *kv[4] = {"format", "pt", "dgm.config", dgm_st_meta(sf, "dgm.config")};
    char bad[80];
    snprintf(bad, sizeof bad, "%s.bad.safetensors", path);
    CHECK(dgm_safetensors_write(bad, t, 2, kv, 2, &err) == DGM_OK);
    dgm_safetensors_free(sf);
    dgm_model *m3 = NULL;
    CHECK(dgm_model_load(&m3, bad, &err) == DGM_ERR_SHAPE && m3 == NULL);
    CHECK(strstr(err.msg, "J is 14 x 21 x 21") != NULL);
    /* bad options */
    dgm_potts_cfg b = cfg;
    b.lambda_j = -1;
    CHECK(dgm_potts_create(&m3, &b, &err) == DGM_ERR_ARG);
    b = cfg, b.lambda_h = NAN;
    CHECK(dgm_potts_create(&m3, &b, &err) == DGM_ERR_ARG);
    b = cfg, b.max_iter = 0;
    CHECK(dgm_potts_create(&m3, &b, &err) == DGM_ERR_ARG);
    dgm__plm_free(&p);
    free(x), free(g), free(w);
    dgm_model_free(m);
    dgm_model_free(m2);
    dgm_alignment_free(&a);
    remove(path), remove(mp), remove(bad);
}

/* Gibbs on 4 columns against the exact distribution: a model with 3 live letters a column
 * (the others' fields at -30), all 21^4 states enumerated; chi-square over the states with
 * at least 5 expected counts plus one bin for the rest. */
static void test_gibbs(void)
{
    size_t L = 4;
    dgm_model *m = toy_model(L, 0, 0.8, 21);
    dgm__potts *p = m->impl;
    for (size_t i = 0; i < L; i++)
        for (int a = 3; a < Q; a++)
            p->h[i * Q + (size_t)a] = -30.0f;
    for (size_t i = 0; i < L; i++)
        p->wt[i] = 0;
    size_t S = 21 * 21 * 21 * 21;
    double *pe = malloc(S * sizeof *pe), z = 0;
    for (size_t k = 0; k < S; k++) {
        uint8_t x[4] = {(uint8_t)(k % 21), (uint8_t)(k / 21 % 21), (uint8_t)(k / 441 % 21),
                        (uint8_t)(k / 9261)};
        pe[k] = exp(direct_energy(p->h, p->J, x, L));
        z += pe[k];
    }
    size_t n = 20000;
    uint8_t *out = malloc(n * L);
    dgm_gibbs_cfg g = {.burn_in = 20, .thin = 3, .chains = 50};
    dgm_gibbs_stats st;
    dgm_rng r;
    dgm_rng_init(&r, 77);
    dgm_err err = {0};
    CHECK(dgm_potts_sample(&r, out, &st, m, n, &g, &err) == DGM_OK);
    double *cnt = calloc(S, sizeof *cnt);
    for (size_t k = 0; k < n; k++) {
        const uint8_t *x = out + k * L;
        cnt[x[0] + 21 * x[1] + 441 * x[2] + 9261 * (size_t)x[3]] += 1;
    }
    double chi = 0, rest_e = 0, rest_o = 0;
    int bins = 0;
    for (size_t k = 0; k < S; k++) {
        double e = (double)n * pe[k] / z;
        if (e >= 5) {
            chi += (cnt[k] - e) * (cnt[k] - e) / e;
            bins++;
        } else {
            rest_e += e;
            rest_o += cnt[k];
        }
    }
    if (rest_e > 0) {
        chi += (rest_o - rest_e) * (rest_o - rest_e) / fmax(rest_e, 1e-9);
        bins++;
    }
    double df = bins - 1, crit = df + 4.5 * sqrt(2 * df); /* about p = 1e-5 */
    CHECK_MSG(bins >= 20 && chi < crit, "chi-square %.1f over %d bins (critical %.1f)", chi, bins, crit);
    CHECK(st.tau >= 0.5 && st.tau < 5 && st.r_hat < 1.1 && st.accept > 0);
    CHECK_EQ_INT(st.sweeps, 50 * 20 + (long)n * 3);
    /* the same bits at another thread count */
    uint8_t *out2 = malloc(n * L);
    int t0 = dgm_get_threads();
    dgm_set_threads(t0 == 1 ? 2 : 1);
    dgm_rng_init(&r, 77);
    CHECK(dgm_potts_sample(&r, out2, NULL, m, n, &g, &err) == DGM_OK);
    dgm_set_threads(t0);
    CHECK(!memcmp(out, out2, n * L));
    g.thin = 0;
    CHECK(dgm_potts_sample(&r, out2, NULL, m, n, &g, &err) == DGM_ERR_ARG);
    free(pe), free(out), free(out2), free(cnt);
    dgm_model_free(m);
}

/* The Boltzmann-machine refinement (potts_bm.c) ends near the stationary point of the
 * penalised likelihood: on a 4-column toy, the exact model marginals by enumeration of all
 * 21^4 states satisfy f_i - p_i = 2 lambda_h h_i / W and f_ij - p_ij = 2 lambda_J J_ij / W to
 * within the chains' noise, from a start far from it (one L-BFGS iteration; on so small a
 * toy the converged pseudo-likelihood fit is near the likelihood's optimum already); the
 * same bits at 1 and 2 threads. */
static double bm_fit(dgm_model **out, const dgm_alignment *a, const double *w, double neff,
                     long max_iter, long bm_iter, double *site_dev, double *pair_dev)
{
    dgm_potts_cfg cfg = dgm_potts_defaults();
    cfg.lambda_h = 0.01, cfg.lambda_j = 0.05, cfg.max_iter = max_iter, cfg.ignore_gaps = 0;
    cfg.bm_iter = bm_iter, cfg.bm_chains = 3000, cfg.bm_sweeps = 2, cfg.bm_rate = 0.6;
    cfg.weights = "plmc";
    dgm_err err = {0};
    dgm_model *m = NULL;
    CHECK(dgm_potts_create(&m, &cfg, &err) == DGM_OK);
    dgm_fit_data d = {.aln = a, .weights = w, .neff = neff, .theta = 0.2};
    dgm_fit_cfg c = dgm_fit_defaults();
    CHECK_MSG(dgm_fit(m, &d, &c, NULL, &err) == DGM_OK, "%s", err.msg);
    const dgm__potts *p = m->impl;
    const size_t L = p->L, S = 21 * 21 * 21 * 21;
    double *fi = calloc(L * Q, sizeof *fi), *fij = calloc(L * L * Q * Q, sizeof *fij);
    double *pi = calloc(L * Q, sizeof *pi), *pij = calloc(L * L * Q * Q, sizeof *pij), W = 0;
    for (size_t s = 0; s < a->n; s++) {
        const uint8_t *x = a->seq + s * a->L;
        W += w[s];
        for (size_t i = 0; i < L; i++) {
            fi[i * Q + x[i]] += w[s];
            for (size_t j = i + 1; j < L; j++)
                fij[((i * L + j) * Q + x[i]) * Q + x[j]] += w[s];
        }
    }
    double z = 0;
    for (size_t k = 0; k < S; k++) {
        uint8_t x[4] = {(uint8_t)(k % 21), (uint8_t)(k / 21 % 21), (uint8_t)(k / 441 % 21),
                        (uint8_t)(k / 9261)};
        double e = exp(direct_energy(p->h, p->J, x, L));
        z += e;
        for (size_t i = 0; i < L; i++) {
            pi[i * Q + x[i]] += e;
            for (size_t j = i + 1; j < L; j++)
                pij[((i * L + j) * Q + x[i]) * Q + x[j]] += e;
        }
    }
    *site_dev = *pair_dev = 0;
    for (size_t i = 0; i < L; i++)
        for (int u = 0; u < Q; u++) {
            double g = fi[i * Q + u] / W - pi[i * Q + u] / z -
                       2 * cfg.lambda_h * p->h[i * Q + u] / W;
            *site_dev = fmax(*site_dev, fabs(g));
            for (size_t j = i + 1; j < L; j++)
                for (int v = 0; v < Q; v++) {
                    size_t k = ((i * L + j) * Q + u) * Q + v;
                    double gj = fij[k] / W - pij[k] / z - 2 * cfg.lambda_j *
                                p->J[dgm__potts_pair(i, j, L) * Q * Q + u * Q + v] / W;
                    *pair_dev = fmax(*pair_dev, fabs(gj));
                }
        }
    free(fi), free(fij), free(pi), free(pij);
    *out = m;
    return W;
}

static void test_bm(void)
{
    char path[] = "/tmp/dgm_test_pottsbmXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    write_alignment(path, 80, 4, 9);
    dgm_err err = {0};
    dgm_alignment a;
    CHECK(dgm_alignment_read(&a, path, NULL, &err) == DGM_OK);
    CHECK_EQ_INT(a.L, 4);
    double *w = malloc(a.n * sizeof *w), neff;
    CHECK(dgm_alignment_weights(w, &neff, &a, 0.2, DGM_SEQW_PLMC, &err) == DGM_OK);
    dgm_model *m0, *m1, *m2;
    double s0, p0, s1, p1, s2, p2;
    bm_fit(&m0, &a, w, neff, 1, 0, &s0, &p0);
    bm_fit(&m1, &a, w, neff, 1, 500, &s1, &p1);
    printf("test_bm: largest likelihood-gradient entry: one L-BFGS iteration %.4f (sites), "
           "%.4f (pairs); refined %.4f, %.4f\n", s0, p0, s1, p1);
    CHECK_MSG(s1 < 0.02 && p1 < 0.02, "refined: sites %.4f pairs %.4f", s1, p1);
    CHECK_MSG(s0 > 5 * s1 && p0 > 5 * p1, "start %.4f %.4f, refined %.4f %.4f", s0,
              p0, s1, p1);
    int t0 = dgm_get_threads();
    dgm_set_threads(t0 == 1 ? 2 : 1);
    bm_fit(&m2, &a, w, neff, 1, 500, &s2, &p2);
    dgm_set_threads(t0);
    size_t L;
    const float *h1, *J1, *h2, *J2;
    CHECK(dgm_potts_params(m1, &L, &h1, &J1, &err) == DGM_OK);
    CHECK(dgm_potts_params(m2, &L, &h2, &J2, &err) == DGM_OK);
    CHECK(!memcmp(h1, h2, L * Q * sizeof *h1) &&
          !memcmp(J1, J2, L * (L - 1) / 2 * Q * Q * sizeof *J1));
    /* bad settings */
    dgm_potts_cfg b = dgm_potts_defaults();
    dgm_model *bad = NULL;
    b.bm_iter = 5; /* with ignore_gaps (the default) */
    CHECK(dgm_potts_create(&bad, &b, &err) == DGM_ERR_ARG && strstr(err.msg, "gaps"));
    b.ignore_gaps = 0, b.bm_rate = NAN;
    CHECK(dgm_potts_create(&bad, &b, &err) == DGM_ERR_ARG);
    b.bm_rate = 0.1, b.bm_chains = 0;
    CHECK(dgm_potts_create(&bad, &b, &err) == DGM_ERR_ARG);
    dgm_model_free(m0), dgm_model_free(m1), dgm_model_free(m2);
    dgm_alignment_free(&a);
    free(w);
    unlink(path);
}

int main(void)
{
    TEST_RUN(test_plm_gradient);
    TEST_RUN(test_plm_threads);
    TEST_RUN(test_energy_pll);
    TEST_RUN(test_couplings);
    TEST_RUN(test_fit);
    TEST_RUN(test_gibbs);
    TEST_RUN(test_bm);
    TEST_MAIN_END("test_potts");
}
