/* Philox known answers, moments of each sampler, reproducibility, and independence of
 * forked streams from the way work is split. */
#include "dgm.h"
#include "core/assert.h"
#include "test.h"

void dgm__philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]);

static void test_philox_known_answers(void)
{
    /* Random123's kat_vectors for philox4x32_10. */
    uint32_t out[4];
    uint32_t c0[4] = {0, 0, 0, 0}, k0[2] = {0, 0};
    dgm__philox4x32_10(out, c0, k0);
    CHECK_EQ_INT(out[0], 0x6627e8d5u); CHECK_EQ_INT(out[1], 0xe169c58du);
    CHECK_EQ_INT(out[2], 0xbc57ac4cu); CHECK_EQ_INT(out[3], 0x9b00dbd8u);
    uint32_t c1[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    uint32_t k1[2] = {0xffffffffu, 0xffffffffu};
    dgm__philox4x32_10(out, c1, k1);
    CHECK_EQ_INT(out[0], 0x408f276du); CHECK_EQ_INT(out[1], 0x41c83b0eu);
    CHECK_EQ_INT(out[2], 0xa20bc7c6u); CHECK_EQ_INT(out[3], 0x6d5451fdu);
    uint32_t c2[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
    uint32_t k2[2] = {0xa4093822u, 0x299f31d0u};
    dgm__philox4x32_10(out, c2, k2);
    CHECK_EQ_INT(out[0], 0xd16cfe09u); CHECK_EQ_INT(out[1], 0x94fdccebu);
    CHECK_EQ_INT(out[2], 0x5001e420u); CHECK_EQ_INT(out[3], 0x24126ea1u);
}

static void test_moments(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 42);
    const int n = 400000;
    double su = 0, suu = 0, sn = 0, snn = 0, sn3 = 0, sn4 = 0, sb = 0;
    for (int i = 0; i < n; i++) {
        double u = dgm_rng_uniform(&r);
        CHECK(u >= 0 && u < 1);
        su += u; suu += u * u;
        double z = dgm_rng_normal(&r);
        sn += z; snn += z * z; sn3 += z * z * z; sn4 += z * z * z * z;
        sb += dgm_rng_bernoulli(&r, 0.3);
    }
    /* tolerances are ~5 standard errors of each mean at n = 4e5 */
    CHECK_NEAR(su / n, 0.5, 5 * sqrt(1.0 / 12 / n));
    CHECK_NEAR(suu / n - (su / n) * (su / n), 1.0 / 12, 5 * 0.0745 / sqrt(n));
    CHECK_NEAR(sn / n, 0.0, 5 / sqrt(n));
    CHECK_NEAR(snn / n, 1.0, 5 * sqrt(2.0 / n));
    CHECK_NEAR(sn3 / n, 0.0, 5 * sqrt(15.0 / n));
    CHECK_NEAR(sn4 / n, 3.0, 5 * sqrt(96.0 / n));
    CHECK_NEAR(sb / n, 0.3, 5 * sqrt(0.21 / n));
}

static void test_categorical(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 7);
    double p[4] = {0.1, 0.0, 0.6, 0.3};
    float logits[4];
    for (int i = 0; i < 4; i++)
        logits[i] = p[i] > 0 ? (float)log(p[i]) : -INFINITY;
    long c1[4] = {0}, c2[4] = {0};
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        c1[dgm_rng_categorical(&r, p, 4)]++;
        c2[dgm_rng_categorical_logits(&r, logits, 4)]++;
    }
    for (int i = 0; i < 4; i++) {
        double se = sqrt(p[i] * (1 - p[i]) / n) + 1e-12;
        CHECK_NEAR((double)c1[i] / n, p[i], 5 * se);
        CHECK_NEAR((double)c2[i] / n, p[i], 5 * se);
    }
    CHECK_EQ_INT(c1[1], 0);
    CHECK_EQ_INT(c2[1], 0);
    /* below: unbiased over a range that does not divide 2^64 */
    long cb[3] = {0};
    for (int i = 0; i < 90000; i++)
        cb[dgm_rng_below(&r, 3)]++;
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(cb[i] / 90000.0, 1.0 / 3, 5 * sqrt(2.0 / 9 / 90000));
}

static void test_reproducible(void)
{
    dgm_rng a, b;
    dgm_rng_init(&a, 123);
    dgm_rng_init(&b, 123);
    int same = 1;
    for (int i = 0; i < 1000; i++)
        same &= dgm_rng_u32(&a) == dgm_rng_u32(&b);
    CHECK(same);
    dgm_rng_init(&b, 124);
    int diff = 0;
    for (int i = 0; i < 100; i++)
        diff += dgm_rng_u32(&a) != dgm_rng_u32(&b);
    CHECK(diff > 90);
}

/* The bulk normals against Box-Muller computed in double from the same words of the
 * stream (so the word-to-normal mapping and the float polynomials are both checked), then
 * the standard normal's moments and CDF within four standard errors on a million draws. */
static void test_fill_normal(void)
{
    dgm_rng p, a, b;
    dgm_rng_init(&p, 5);
    dgm_rng_fork(&a, &p, 3);
    b = a;
    enum { m = 1001 }; /* odd, and more than one chunk of 256 */
    static float x[m];
    dgm_rng_fill_normal(&a, x, m);
    double worst = 0;
    for (int i = 0; i < m; i += 2) {
        uint32_t w1 = dgm_rng_u32(&b), w2 = dgm_rng_u32(&b);
        double u1 = ((double)(w1 >> 8) + 1.0) / 16777216.0, u2 = (double)(w2 >> 8) / 16777216.0;
        double r = sqrt(-2.0 * log(u1)), t = 6.283185307179586 * (u2 - 0.5);
        worst = fmax(worst, fabs(x[i] - r * cos(t)));
        if (i + 1 < m)
            worst = fmax(worst, fabs(x[i + 1] - r * sin(t)));
    }
    CHECK_MSG(worst < 2e-5, "bulk normals differ from double Box-Muller by %g", worst);
    /* 1001 normals use 1002 words: 251 blocks (1004 words); a continues at block 251 */
    dgm_rng_u32(&b);
    dgm_rng_u32(&b);
    CHECK(dgm_rng_u32(&a) == dgm_rng_u32(&b));
    enum { n = 1000000 };
    float *y = malloc(n * sizeof *y);
    DGM_ASSERT(y);
    dgm_rng_fill_normal(&a, y, n);
    double s1 = 0, s2 = 0, s4 = 0, below[5] = {0};
    const double q[5] = {-2, -1, 0, 0.5, 1.5};
    for (int i = 0; i < n; i++) {
        double v = y[i];
        s1 += v, s2 += v * v, s4 += v * v * v * v;
        for (int k = 0; k < 5; k++)
            below[k] += v < q[k];
    }
    /* se of the mean 1/sqrt(n), of E x^2 sqrt(2/n), of E x^4 sqrt(96/n) */
    CHECK_NEAR(s1 / n, 0.0, 4 / sqrt((double)n));
    CHECK_NEAR(s2 / n, 1.0, 4 * sqrt(2.0 / n));
    CHECK_NEAR(s4 / n, 3.0, 4 * sqrt(96.0 / n));
    for (int k = 0; k < 5; k++) {
        double P = 0.5 * erfc(-q[k] / sqrt(2.0));
        CHECK_NEAR(below[k] / n, P, 4 * sqrt(P * (1 - P) / n));
    }
    free(y);
}

static void test_fork_split_invariant(void)
{
    /* Draw 8 normals per example for 1000 examples, once in order and once with the
     * examples handled in reverse in two halves: forked streams give the same numbers. */
    dgm_rng root;
    dgm_rng_init(&root, 99);
    static float a[1000][8], b[1000][8];
    for (int i = 0; i < 1000; i++) {
        dgm_rng c;
        dgm_rng_fork(&c, &root, (uint64_t)i);
        dgm_rng_fill_normal(&c, a[i], 8);
    }
#pragma omp parallel for schedule(dynamic, 7)
    for (int i = 999; i >= 0; i--) {
        dgm_rng c;
        dgm_rng_fork(&c, &root, (uint64_t)i);
        dgm_rng_fill_normal(&c, b[i], 8);
    }
    CHECK(memcmp(a, b, sizeof a) == 0);
    /* different children differ; a child differs from its parent */
    dgm_rng c0, c1, p = root;
    dgm_rng_fork(&c0, &root, 0);
    dgm_rng_fork(&c1, &root, 1);
    uint32_t x0 = dgm_rng_u32(&c0), x1 = dgm_rng_u32(&c1), xp = dgm_rng_u32(&p);
    CHECK(x0 != x1 && x0 != xp && x1 != xp);
    /* fork does not advance the parent */
    dgm_rng q = root, q2 = root;
    dgm_rng_fork(&c0, &q, 5);
    CHECK_EQ_INT(dgm_rng_u32(&q), dgm_rng_u32(&q2));
}

static void test_permutation(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 3);
    size_t p[257];
    dgm_rng_permutation(&r, p, 257);
    int seen[257] = {0};
    for (int i = 0; i < 257; i++) {
        CHECK(p[i] < 257);
        if (p[i] < 257)
            seen[p[i]]++;
    }
    int ok = 1;
    for (int i = 0; i < 257; i++)
        ok &= seen[i] == 1;
    CHECK(ok);
}

static void test_bulk_equals_scalar(void)
{
    /* bulk fills give the same numbers as one draw at a time, from any starting offset,
     * and leave the generator in the same state */
    for (size_t skip = 0; skip < 6; skip++)
        for (size_t n = 0; n < 700; n += 37) {
            dgm_rng a, b;
            dgm_rng_init(&a, 55);
            dgm_rng_fork(&a, &a, 3);
            b = a;
            for (size_t i = 0; i < skip; i++)
                dgm_rng_u32(&a), dgm_rng_u32(&b);
            float fa[700], fb[700];
            dgm_rng_fill_uniform(&a, fa, n);
            for (size_t i = 0; i < n; i++)
                fb[i] = dgm_rng_uniform(&b);
            CHECK(memcmp(fa, fb, n * sizeof(float)) == 0);
            CHECK_EQ_INT(dgm_rng_u32(&a), dgm_rng_u32(&b));
        }
}

int main(void)
{
    TEST_RUN(test_bulk_equals_scalar);
    TEST_RUN(test_philox_known_answers);
    TEST_RUN(test_moments);
    TEST_RUN(test_categorical);
    TEST_RUN(test_reproducible);
    TEST_RUN(test_fill_normal);
    TEST_RUN(test_fork_split_invariant);
    TEST_RUN(test_permutation);
    TEST_MAIN_END("test_rng");
}
