/* dgm_gemm against the double-precision triple loop for all four transpose combinations,
 * odd sizes, leading dimensions larger than the width, and alpha/beta; the elementwise
 * and row-wise helpers against direct formulas. */
#include "dgm_blocks.h"
#include "core/assert.h"
#include "test.h"

#include <float.h>

static void fill(dgm_rng *r, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 2 * dgm_rng_uniform(r) - 1;
}

static void test_gemm_all_transposes(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 1);
    const size_t sizes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 1, 33}, {64, 65, 63},
                               {128, 31, 200}, {5, 130, 2}, {4, 4, 0}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                /* padded leading dimensions */
                size_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 5;
                size_t ra = ta ? K : M, rb = tb ? N : K;
                float *A = malloc(sizeof(float) * (ra * lda + 1));
                float *B = malloc(sizeof(float) * (rb * ldb + 1));
                float *C = malloc(sizeof(float) * M * ldc), *C2 = malloc(sizeof(float) * M * ldc);
                fill(&r, A, ra * lda + 1);
                fill(&r, B, rb * ldb + 1);
                fill(&r, C, M * ldc);
                memcpy(C2, C, sizeof(float) * M * ldc);
                dgm_gemm(ta, tb, M, N, K, 0.7f, A, lda, B, ldb, 0.3f, C, ldc);
                dgm_gemm_ref(ta, tb, M, N, K, 0.7f, A, lda, B, ldb, 0.3f, C2, ldc);
                double maxerr = 0;
                for (size_t i = 0; i < M; i++)
                    for (size_t j = 0; j < N; j++) {
                        double e = fabs(C[i * ldc + j] - C2[i * ldc + j]);
                        if (e > maxerr) maxerr = e;
                    }
                CHECK_MSG(maxerr <= 1e-5 * (K + 1), "M=%zu N=%zu K=%zu ta=%d tb=%d err=%g",
                          M, N, K, ta, tb, maxerr);
                /* padding columns of C are untouched */
                int pad_ok = 1;
                for (size_t i = 0; i < M; i++)
                    for (size_t j = N; j < ldc; j++)
                        pad_ok &= C[i * ldc + j] == C2[i * ldc + j];
                CHECK(pad_ok);
                free(A); free(B); free(C); free(C2);
            }
    }
}

static void test_gemm_beta_zero_ignores_nan(void)
{
    float A[4] = {1, 2, 3, 4}, B[4] = {1, 0, 0, 1}, C[4] = {NAN, NAN, NAN, NAN};
    dgm_gemm(DGM_NOTRANS, DGM_NOTRANS, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(C[i], A[i], 0);
}

static void test_row_ops(void)
{
    float x[6] = {1, 2, 3, -1000, 0, 1000};
    float l[2], s[6];
    dgm_logsumexp_rows(l, x, 2, 3);
    CHECK_NEAR(l[0], log(exp(1) + exp(2) + exp(3)), 1e-5);
    CHECK_NEAR(l[1], 1000.0, 1e-3);
    dgm_softmax_rows(s, x, 2, 3);
    CHECK_NEAR(s[0] + s[1] + s[2], 1.0, 1e-6);
    CHECK_NEAR(s[2], exp(3) / (exp(1) + exp(2) + exp(3)), 1e-6);
    CHECK_NEAR(s[5], 1.0, 1e-6);
    CHECK_NEAR(s[3], 0.0, 1e-30);
    float ninf[2] = {-INFINITY, -INFINITY};
    dgm_logsumexp_rows(l, ninf, 1, 2);
    CHECK(isinf(l[0]) && l[0] < 0);
    double d[3] = {-INFINITY, log(2.0), log(3.0)};
    CHECK_NEAR(dgm_logsumexp_d(d, 3), log(5.0), 1e-12);
}

static void test_reductions(void)
{
    /* 1e7 copies of 0.1f: float accumulation drifts by ~1%, double stays exact-ish */
    size_t n = 10000000;
    float *x = malloc(n * sizeof(float));
    dgm_fill(x, 0.1f, n);
    CHECK_NEAR(dgm_sum(x, n), n * (double)0.1f, 1e-3);
    float y[3] = {1, 2, 3}, z[3] = {4, 5, 6};
    CHECK_NEAR(dgm_dot(y, z, 3), 32, 0);
    CHECK_NEAR(dgm_sumsq(y, 3), 14, 0);
    float dy[6] = {1, 2, 3, 4, 5, 6}, db[3] = {1, 1, 1};
    dgm_sum_rows(db, dy, 2, 3);
    CHECK_NEAR(db[0], 6, 0); CHECK_NEAR(db[1], 8, 0); CHECK_NEAR(db[2], 10, 0);
    float bias[3] = {1, -1, 0.5f};
    dgm_add_row_bias(dy, bias, 2, 3);
    CHECK_NEAR(dy[3], 5, 0); CHECK_NEAR(dy[4], 4, 0); CHECK_NEAR(dy[5], 6.5, 0);
    dgm_axpy(y, 2, z, 3);
    CHECK_NEAR(y[2], 15, 0);
    dgm_scale(y, 0.5f, 3);
    CHECK_NEAR(y[2], 7.5, 0);
    CHECK(dgm_all_finite(y, 3));
    y[1] = NAN;
    CHECK(!dgm_all_finite(y, 3));
    free(x);
    /* the check runs in blocks of 4096: a bad value in a later block and in the ragged
     * tail must be seen, and so must both infinities and the largest finite float */
    const size_t nb = 20 * 4096 + 17; /* above the size where the check is threaded */
    float *big = dgm_calloc_array(nb, sizeof(float));
    DGM_ASSERT(big);
    big[100] = FLT_MAX;
    big[101] = -FLT_MAX;
    CHECK(dgm_all_finite(big, nb));
    const size_t at[] = {0, 4095, 4096, 2 * 4096 + 5, 11 * 4096 + 3, nb - 1};
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        for (size_t b = 0; b < 3; b++) {
            big[at[i]] = bad[b];
            CHECK(!dgm_all_finite(big, nb));
            CHECK(dgm_all_finite(big, at[i]));
            big[at[i]] = 0.0f;
        }
    /* column sums and scaling at a size where they are threaded, against plain loops */
    const size_t R = 130, C = 777;
    float *m = dgm_malloc_array(R * C, sizeof(float)), *cs = dgm_calloc_array(C, sizeof(float));
    DGM_ASSERT(m && cs);
    dgm_rng r2;
    dgm_rng_init(&r2, 9);
    fill(&r2, m, R * C);
    dgm_sum_rows(cs, m, R, C);
    int ok = 1;
    for (size_t j = 0; j < C; j++) {
        double ref = 0;
        for (size_t i = 0; i < R; i++)
            ref += m[i * C + j];
        ok &= cs[j] == (float)ref;
    }
    CHECK(ok);
    float m0 = m[R * C - 1], m1 = m[12345];
    dgm_scale(m, 0.5f, R * C);
    CHECK(m[R * C - 1] == 0.5f * m0 && m[12345] == 0.5f * m1);
    free(m);
    free(cs);
    free(big);
}

static void test_alloc_overflow(void)
{
    CHECK(dgm_malloc_array(SIZE_MAX / 2, 4) == NULL);
    CHECK(dgm_calloc_array(SIZE_MAX / 2, 4) == NULL);
    size_t out;
    CHECK(!dgm_size_mul(&out, SIZE_MAX, 2));
    CHECK(dgm_size_mul(&out, 3, 5) && out == 15);
    dgm_err e = {0};
    CHECK(dgm_errf(&e, DGM_ERR_IO, "x.idx: %s", "truncated") == DGM_ERR_IO);
    CHECK(strcmp(e.msg, "x.idx: truncated") == 0);
}

int main(void)
{
    TEST_RUN(test_gemm_all_transposes);
    TEST_RUN(test_gemm_beta_zero_ignores_nan);
    TEST_RUN(test_row_ops);
    TEST_RUN(test_reductions);
    TEST_RUN(test_alloc_overflow);
    TEST_MAIN_END("test_tensor");
}
