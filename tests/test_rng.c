/* Philox known answers, moments of each sampler, reproducibility, and independence of
 * forked streams from the way work is split. */
#include "dgm.h"
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
    TEST_RUN(test_fork_split_invariant);
    TEST_RUN(test_permutation);
    TEST_MAIN_END("test_rng");
}
