/* The vectorizable exp/log1p/softplus/tanh kernels against libm in double, over a dense sweep
 * of their ranges including the ends. */
#include "dgm.h"
#include "core/fastmath.h"
#include "test.h"

static void test_exp_neg(void)
{
    double worst = 0;
    for (int i = 0; i <= 2000000; i++) {
        float x = -87.0f * (float)i / 2000000.0f;
        double ref = exp((double)x), got = dgm__exp_neg(x);
        double rel = fabs(got - ref) / ref;
        if (rel > worst) worst = rel;
    }
    CHECK_MSG(worst < 4e-7, "max relative error %g", worst);
    CHECK(dgm__exp_neg(0.0f) == 1.0f);
    CHECK(dgm__exp_neg(-1e30f) > 0 && dgm__exp_neg(-1e30f) < 1e-37f);
}

static void test_expf_positive(void)
{
    /* the whole clamped range, positive side included (log-sigmas of either sign) */
    double worst = 0;
    for (int i = 0; i <= 2000000; i++) {
        float x = -87.0f + 175.0f * (float)i / 2000000.0f;
        double ref = exp((double)x), got = dgm__expf(x);
        double rel = fabs(got - ref) / ref;
        if (rel > worst) worst = rel;
    }
    CHECK_MSG(worst < 4e-7, "max relative error %g", worst);
    CHECK(isfinite(dgm__expf(1e30f)));
}

static void test_log1p_unit(void)
{
    double worst = 0;
    for (int i = 1; i <= 2000000; i++) {
        float t = (float)i / 2000000.0f;
        double ref = log1p((double)t), got = dgm__log1p_unit(t);
        double rel = fabs(got - ref) / ref;
        if (rel > worst) worst = rel;
    }
    CHECK_MSG(worst < 4e-7, "max relative error %g", worst);
    CHECK(dgm__log1p_unit(0.0f) == 0.0f);
    float tiny = 1e-30f;
    CHECK_NEAR(dgm__log1p_unit(tiny) / tiny, 1.0, 1e-6);
}

static void test_softplus(void)
{
    double worst = 0;
    for (int i = -1000000; i <= 1000000; i++) {
        float l = (float)i * 1e-4f;
        double ref = l > 0 ? l + log1p(exp(-(double)l)) : log1p(exp((double)l));
        double got = dgm__softplus(l);
        double rel = fabs(got - ref) / fmax(ref, 1e-30);
        if (rel > worst) worst = rel;
    }
    CHECK_MSG(worst < 5e-7, "max relative error %g", worst);
    CHECK_NEAR(dgm__softplus(1000.0f), 1000.0, 0);
    CHECK(dgm__softplus(-1000.0f) >= 0 && dgm__softplus(-1000.0f) < 1e-37);
}

static void test_tanhf(void)
{
    double worst = 0;
    for (int i = -2000000; i <= 2000000; i++) {
        float x = (float)i * 5e-6f; /* [-10, 10], both branches and the switch at 0.25 */
        double ref = tanh((double)x), got = dgm__tanhf(x);
        double rel = x == 0 ? fabs(got) : fabs(got - ref) / fabs(ref);
        if (rel > worst) worst = rel;
    }
    CHECK_MSG(worst < 1e-6, "max relative error %g", worst);
    CHECK(dgm__tanhf(0.0f) == 0.0f);
    CHECK(dgm__tanhf(1e30f) == 1.0f && dgm__tanhf(-1e30f) == -1.0f);
    CHECK(isnan(dgm__tanhf(NAN)));
    float tiny = 1e-30f;
    CHECK_NEAR(dgm__tanhf(tiny) / tiny, 1.0, 1e-6);
}

int main(void)
{
    TEST_RUN(test_exp_neg);
    TEST_RUN(test_expf_positive);
    TEST_RUN(test_log1p_unit);
    TEST_RUN(test_softplus);
    TEST_RUN(test_tanhf);
    TEST_MAIN_END("test_fastmath");
}
