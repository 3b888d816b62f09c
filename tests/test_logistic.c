/* The discretised logistic likelihood (src/distributions/logistic.h): its log-masses against
 * an independent long-double computation of sigma(a) - sigma(b) from the definition, over
 * locations and scales from the tails to the centre and every level; the 256 masses summing
 * to 1; the gradients in mu and log s against central differences of that reference; the
 * clamp of the log-scale; out-of-range data giving -inf; and the sampler's level
 * frequencies against the masses (a chi-square test), every draw inside its bin. */
#include "distributions/logistic.h"
#include "dgm.h"
#include "test.h"

/* log sigma(x), in long double, without overflow. */
static long double lsig(long double x)
{
    return x < 0 ? x - log1pl(expl(x)) : -log1pl(expl(-x));
}

/* log P(k) from the definition, in long double: the CDF difference sigma(a) - sigma(b) of
 * the bin's standardised edges, the end bins as tails. A bin right of mu (b > 0) is taken as
 * the difference of the upper tails, sigma(-b) - sigma(-a), so that both terms are small
 * rather than both near 1, each as log sigma(x0) + log(1 - e^(log sigma(x1) - log sigma(x0))). */
static long double ref_logmass(int k, long double mu, long double ls)
{
    long double s = expl(ls), lo = k / 256.0L, hi = (k + 1) / 256.0L;
    long double a = (hi - mu) / s, b = (lo - mu) / s;
    if (k == 0)
        return lsig(a);
    if (k == 255)
        return lsig(-b);
    if (b > 0)
        return lsig(-b) + log1pl(-expl(lsig(-a) - lsig(-b)));
    return lsig(a) + log1pl(-expl(lsig(b) - lsig(a)));
}

static double kernel_logmass(int k, float mu, float ls, float *gm, float *gls)
{
    float y = (k + 0.5f) / 256.0f;
    return dgm__dlogistic_loglik(&y, &mu, &ls, gm, gls, 1) - log(256.0);
}

static void test_masses(void)
{
    const float mus[] = {-3.0f, -0.2f, 0.0f, 0.001f, 0.3f, 0.5f, 0.77f, 0.999f, 1.0f, 1.4f, 4.0f};
    const float lss[] = {-9.0f, -7.5f, -5.5f, -4.0f, -2.5f, -1.0f, 0.5f, 2.0f};
    double worst = 0;
    for (size_t i = 0; i < sizeof mus / sizeof *mus; i++)
        for (size_t t = 0; t < sizeof lss / sizeof *lss; t++) {
            double total = 0;
            for (int k = 0; k < 256; k++) {
                double got = kernel_logmass(k, mus[i], lss[t], NULL, NULL);
                long double want = ref_logmass(k, mus[i], lss[t]);
                /* float kernels: relative error of order 1e-6 in the standardised edges,
                 * which are up to 3e4 scales from mu here */
                double tol = 2e-5 * (1 + fabsl(want));
                double d = fabs(got - (double)want) / (1 + fabsl(want));
                worst = d > worst ? d : worst;
                CHECK_MSG(fabs(got - (double)want) <= tol, "mu %g ls %g k %d: %.9g, want %.9Lg",
                          mus[i], lss[t], k, got, want);
                total += exp(got);
            }
            CHECK_MSG(fabs(total - 1) < 2e-5, "mu %g ls %g: masses sum to %.9g", mus[i],
                      lss[t], total);
        }
    CHECK(worst > 0); /* the comparison ran on float results, not a copy of the reference */
}

/* d(-log P)/dmu and d(-log P)/dls against central differences of the long-double reference. */
static void test_gradients(void)
{
    const float mus[] = {-0.5f, 0.0f, 0.1f, 0.5f, 0.93f, 1.2f};
    const float lss[] = {-6.0f, -4.5f, -3.0f, -1.0f, 1.0f};
    const int ks[] = {0, 1, 30, 127, 200, 254, 255};
    const long double h = 1e-6L;
    for (size_t i = 0; i < sizeof mus / sizeof *mus; i++)
        for (size_t t = 0; t < sizeof lss / sizeof *lss; t++)
            for (size_t q = 0; q < sizeof ks / sizeof *ks; q++) {
                int k = ks[q];
                float gm, gls;
                kernel_logmass(k, mus[i], lss[t], &gm, &gls);
                long double dmu = -(ref_logmass(k, mus[i] + h, lss[t]) -
                                    ref_logmass(k, mus[i] - h, lss[t])) / (2 * h);
                long double dls = -(ref_logmass(k, mus[i], lss[t] + h) -
                                    ref_logmass(k, mus[i], lss[t] - h)) / (2 * h);
                CHECK_MSG(fabsl(gm - dmu) <= 1e-4L * (1 + fabsl(dmu)),
                          "d/dmu at mu %g ls %g k %d: %.7g, want %.7Lg", mus[i], lss[t], k, gm, dmu);
                CHECK_MSG(fabsl(gls - dls) <= 1e-4L * (1 + fabsl(dls)),
                          "d/dls at mu %g ls %g k %d: %.7g, want %.7Lg", mus[i], lss[t], k, gls, dls);
            }
    /* below the clamp the log-scale has no gradient and the mass is the clamp's */
    float gm, gls, gm9, gls9;
    double lc = kernel_logmass(100, 0.39f, -12.0f, &gm, &gls);
    double l9 = kernel_logmass(100, 0.39f, (float)DGM__DLOGISTIC_LS_MIN, &gm9, &gls9);
    CHECK(lc == l9 && gm == gm9 && gls == 0.0f && gls9 != 0.0f);
}

/* Data outside [0, 1] (or NaN) have density 0; y = 1 exactly is in the last bin. */
static void test_range(void)
{
    float mu[2] = {0.5f, 0.5f}, ls[2] = {-3.0f, -3.0f};
    float bad[3][2] = {{0.5f, -0.001f}, {1.001f, 0.5f}, {0.5f, NAN}};
    for (int i = 0; i < 3; i++)
        CHECK(dgm__dlogistic_loglik(bad[i], mu, ls, NULL, NULL, 2) == -INFINITY);
    float top = 1.0f, last = 255.5f / 256;
    CHECK(dgm__dlogistic_loglik(&top, mu, ls, NULL, NULL, 1) ==
          dgm__dlogistic_loglik(&last, mu, ls, NULL, NULL, 1));
}

/* Level frequencies of N draws against N P(k), pooled over levels with expected count >= 5;
 * chi-square with df = cells - 1 against its 99.9% point (normal approximation). */
static void test_sampler(void)
{
    const float cases[][2] = {{0.4f, -3.5f}, {0.02f, -4.0f}, {0.97f, -2.0f}, {0.5f, -6.5f}};
    const size_t N = 200000;
    dgm_rng r;
    dgm_rng_init(&r, 17);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        static double count[256];
        memset(count, 0, sizeof count);
        int inside = 1;
        for (size_t n = 0; n < N; n++) {
            double u = dgm_rng_uniform_d(&r), u2 = dgm_rng_uniform_d(&r);
            float y = dgm__dlogistic_draw(cases[c][0], cases[c][1], u, u2);
            int k = (int)(y * 256.0f);
            inside &= y >= 0.0f && y < 1.0f && k >= 0 && k < 256;
            if (k >= 0 && k < 256)
                count[k]++;
        }
        CHECK(inside);
        double chi = 0, obs = 0, exp_pool = 0;
        int cells = 0;
        for (int k = 0; k < 256; k++) {
            double e = N * exp(kernel_logmass(k, cases[c][0], cases[c][1], NULL, NULL));
            obs += count[k], exp_pool += e;
            if (exp_pool >= 5) {
                chi += (obs - exp_pool) * (obs - exp_pool) / exp_pool;
                cells++;
                obs = exp_pool = 0;
            }
        }
        if (exp_pool > 0) /* the remainder joins the last cell's test as its own term */
            chi += (obs - exp_pool) * (obs - exp_pool) / (exp_pool + 1);
        double df = cells - 1, limit = df + 3.09 * sqrt(2 * df) + 5;
        CHECK_MSG(cells >= 2 && chi < limit, "case %zu: chi-square %.1f over %d cells (limit %.1f)",
                  c, chi, cells, limit);
    }
}

int main(void)
{
    TEST_RUN(test_masses);
    TEST_RUN(test_gradients);
    TEST_RUN(test_range);
    TEST_RUN(test_sampler);
    TEST_MAIN_END("test_logistic");
}
