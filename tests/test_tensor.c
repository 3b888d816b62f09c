/* dgm_gemm against the double-precision triple loop for all four transpose combinations,
 * odd sizes (1, 0), leading dimensions larger than the width, and alpha/beta, on every
 * backend built in (plain, OpenBLAS, oneDNN); beta = 0 ignoring NaN in C; the same bits
 * from the same inputs and threads; the thread count reaching the backend; DGM_GEMM. The
 * elementwise and row-wise helpers against direct formulas. */
#include "dgm_blocks.h"
#include "core/assert.h"
#include "test.h"

#include <float.h>
#include <omp.h>
#include <signal.h>
#include <sys/time.h>

static const char *const backends[] = {"plain", "openblas", "dnnl"};
#define N_BACKENDS 3

/* Makes dgm_gemm run on backends[b]; 0 (and nothing changed) where it is not built in. */
static int use_backend(int b)
{
    dgm_err e = {0};
    dgm_status s = dgm_gemm_set_backend(backends[b], &e);
    if (s == DGM_ERR_UNSUPPORTED)
        return 0;
    CHECK_EQ_INT(s, DGM_OK);
    return s == DGM_OK;
}

static void fill(dgm_rng *r, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 2 * dgm_rng_uniform(r) - 1;
}

static void gemm_all_transposes(const char *backend)
{
    dgm_rng r;
    dgm_rng_init(&r, 1);
    const size_t sizes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 1, 33}, {64, 65, 63},
                               {128, 31, 200}, {5, 130, 2}, {4, 4, 0}, {1, 400, 20},
                               {20, 1, 400}, {1, 1, 300}, {0, 3, 3}, {3, 0, 3},
                               {128, 20, 400}, {33, 47, 129}};
    const float ab[][2] = {{0.7f, 0.3f}, {1.0f, 0.0f}, {-1.5f, 1.0f}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                float alpha = ab[(s + (size_t)ta + 2 * (size_t)tb) % 3][0];
                float beta = ab[(s + (size_t)ta + 2 * (size_t)tb) % 3][1];
                /* padded leading dimensions */
                size_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 5;
                size_t ra = ta ? K : M, rb = tb ? N : K;
                float *A = malloc(sizeof(float) * (ra * lda + 1));
                float *B = malloc(sizeof(float) * (rb * ldb + 1));
                float *C = malloc(sizeof(float) * (M * ldc + 1));
                float *C2 = malloc(sizeof(float) * (M * ldc + 1));
                fill(&r, A, ra * lda + 1);
                fill(&r, B, rb * ldb + 1);
                fill(&r, C, M * ldc + 1);
                if (beta == 0.0f) /* BLAS semantics: C is not read */
                    for (size_t i = 0; i < M; i++)
                        for (size_t j = 0; j < N; j++)
                            C[i * ldc + j] = NAN;
                memcpy(C2, C, sizeof(float) * (M * ldc + 1));
                dgm_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
                dgm_gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C2, ldc);
                double maxerr = 0;
                for (size_t i = 0; i < M; i++)
                    for (size_t j = 0; j < N; j++) {
                        double e = fabs(C[i * ldc + j] - C2[i * ldc + j]);
                        if (!(e <= maxerr)) maxerr = e; /* NaN sticks */
                    }
                CHECK_MSG(maxerr <= 1e-5 * (K + 1), "%s: M=%zu N=%zu K=%zu ta=%d tb=%d "
                          "alpha=%g beta=%g err=%g", backend, M, N, K, ta, tb, alpha, beta,
                          maxerr);
                /* padding columns of C are untouched */
                int pad_ok = 1;
                for (size_t i = 0; i < M; i++)
                    for (size_t j = N; j < ldc; j++)
                        pad_ok &= C[i * ldc + j] == C2[i * ldc + j];
                CHECK_MSG(pad_ok, "%s: M=%zu N=%zu K=%zu ta=%d tb=%d", backend, M, N, K, ta, tb);
                free(A); free(B); free(C); free(C2);
            }
    }
}

static void gemm_beta_zero_ignores_nan(const char *backend)
{
    float A[4] = {1, 2, 3, 4}, B[4] = {1, 0, 0, 1}, C[4] = {NAN, NAN, NAN, NAN};
    dgm_gemm(DGM_NOTRANS, DGM_NOTRANS, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
    for (int i = 0; i < 4; i++)
        CHECK_MSG(C[i] == A[i], "%s: C[%d] = %g", backend, i, C[i]);
    /* K = 0: C = beta C, so 0 for beta = 0 even where C held NaN */
    float D[4] = {NAN, NAN, 5, 5};
    dgm_gemm(DGM_NOTRANS, DGM_NOTRANS, 2, 2, 0, 1.0f, A, 1, B, 2, 0.0f, D, 2);
    for (int i = 0; i < 4; i++)
        CHECK_MSG(D[i] == 0.0f, "%s: K=0: D[%d] = %g", backend, i, D[i]);
    /* alpha = 0 reads neither A nor B (NaN there does not reach C) */
    float An[4] = {NAN, NAN, NAN, NAN}, E[4] = {1, 2, 3, 4};
    dgm_gemm(DGM_NOTRANS, DGM_TRANS, 2, 2, 2, 0.0f, An, 2, B, 2, 0.5f, E, 2);
    for (int i = 0; i < 4; i++)
        CHECK_MSG(E[i] == 0.5f * (float)(i + 1), "%s: alpha=0: E[%d] = %g", backend, i, E[i]);
}

/* The same inputs at the same thread count give the same bits, call after call, at the
 * VAE's and the protein model's shapes. */
static void gemm_same_bits(const char *backend)
{
    const size_t sh[][5] = {{128, 400, 784, 0, 1}, {128, 784, 400, 0, 0}, {128, 20, 400, 0, 1},
                            {784, 400, 128, 1, 0}, {100, 5060, 50, 0, 0}};
    dgm_rng r;
    dgm_rng_init(&r, 3);
    int threads0 = dgm_get_threads();
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++) {
        size_t M = sh[s][0], N = sh[s][1], K = sh[s][2];
        dgm_trans ta = (dgm_trans)sh[s][3], tb = (dgm_trans)sh[s][4];
        float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
        float *C1 = malloc(sizeof(float) * M * N), *C2 = malloc(sizeof(float) * M * N);
        fill(&r, A, M * K);
        fill(&r, B, K * N);
        float *C0 = malloc(sizeof(float) * M * N);
        for (int t = 1; t <= 2; t++) {
            dgm_set_threads(t);
            dgm_gemm(ta, tb, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, C1, N);
            dgm_gemm(ta, tb, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, C2, N);
            CHECK_MSG(!memcmp(C1, C2, sizeof(float) * M * N), "%s: %zux%zux%zu, %d threads",
                      backend, M, N, K, t);
            if (t == 1)
                memcpy(C0, C1, sizeof(float) * M * N);
        }
        /* oneDNN's products are tiled by shape alone (src/tensor/gemm.c), and the plain
         * loop sums each element in one order: the same bits at 1 and 2 threads */
        if (strcmp(backend, "openblas"))
            CHECK_MSG(!memcmp(C0, C1, sizeof(float) * M * N), "%s: %zux%zux%zu, 1 vs 2 "
                      "threads", backend, M, N, K);
        free(A); free(B); free(C0); free(C1); free(C2);
    }
    dgm_set_threads(threads0);
}

static void test_gemm_backends(void)
{
    int ran = 0;
    for (int b = 0; b < N_BACKENDS; b++) {
        if (!use_backend(b))
            continue;
        ran++;
        gemm_all_transposes(backends[b]);
        gemm_beta_zero_ignores_nan(backends[b]);
        gemm_same_bits(backends[b]);
    }
    CHECK(ran >= 1);
    CHECK(dgm_gemm_set_backend(NULL, NULL) == DGM_OK);
}

static void test_gemm_set_backend(void)
{
    dgm_err e = {0};
    CHECK_EQ_INT(dgm_gemm_set_backend("cublas", &e), DGM_ERR_ARG);
    CHECK(strstr(e.msg, "cublas") != NULL);
    CHECK_EQ_INT(dgm_gemm_set_backend("plain", &e), DGM_OK);
    CHECK(strstr(dgm_gemm_backend(), "plain C") != NULL);
#ifdef DGM_HAVE_DNNL
    CHECK_EQ_INT(dgm_gemm_set_backend("onednn", &e), DGM_OK);
    CHECK(strstr(dgm_gemm_backend(), "oneDNN") != NULL);
    CHECK(strstr(dgm_gemm_backend(), "strict") != NULL);
#else
    CHECK_EQ_INT(dgm_gemm_set_backend("dnnl", &e), DGM_ERR_UNSUPPORTED);
#endif
#ifdef DGM_NO_BLAS
    CHECK_EQ_INT(dgm_gemm_set_backend("openblas", &e), DGM_ERR_UNSUPPORTED);
#else
    CHECK_EQ_INT(dgm_gemm_set_backend("openblas", &e), DGM_OK);
    CHECK(strstr(dgm_gemm_backend(), "OpenBLAS") != NULL);
#endif
    CHECK_EQ_INT(dgm_gemm_set_backend("default", &e), DGM_OK);
#if defined(DGM_NO_BLAS)
    CHECK(strstr(dgm_gemm_backend(), "BLAS=none") != NULL);
#elif defined(DGM_HAVE_DNNL)
    CHECK(strstr(dgm_gemm_backend(), "oneDNN") != NULL);
#else
    CHECK(strstr(dgm_gemm_backend(), "OpenBLAS") != NULL);
#endif
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

/* A signal handler running in the middle of a product must not hurt it: oneDNN 2.x's fp32
 * kernels move the stack pointer into the heap (oneDNN #4845), where a handler's frame
 * would corrupt memory (without dgm_gemm's signal blocking this aborted within a few
 * hundred signals). A 100 us timer fires through products on every backend, at 1 and 2
 * threads, and every result must equal the one computed without signals. */
static void test_gemm_under_signals(void)
{
    const size_t sh[][5] = {{128, 64, 784, 0, 1}, {128, 784, 400, 0, 0}, {128, 20, 400, 0, 1},
                            {400, 784, 128, 1, 0}, {1, 400, 784, 0, 1}};
    dgm_rng r;
    dgm_rng_init(&r, 5);
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGALRM, &sa, &old_sa) == 0);
    int threads0 = dgm_get_threads();
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++) {
        size_t M = sh[s][0], N = sh[s][1], K = sh[s][2];
        dgm_trans ta = (dgm_trans)sh[s][3], tb = (dgm_trans)sh[s][4];
        size_t lda = ta ? M : K, ldb = tb ? K : N;
        float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
        float *C = malloc(sizeof(float) * M * N), *R = malloc(sizeof(float) * M * N);
        fill(&r, A, M * K);
        fill(&r, B, K * N);
        /* about 0.15 s of products per shape, backend and thread count (unguarded, one
         * run in four or five of this test crashed) */
        int reps = (int)(1.5e7 / ((double)M * N * K) * 50) + 1;
        for (int b = 0; b < N_BACKENDS; b++) {
            if (b == 0 || !use_backend(b)) /* the plain loop has no kernels to hurt */
                continue;
            for (int t = 1; t <= 2; t++) {
                dgm_set_threads(t);
                dgm_gemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, R, N);
                struct itimerval it = {{0, 100}, {0, 100}}, off = {{0, 0}, {0, 0}};
                setitimer(ITIMER_REAL, &it, NULL);
                int wrong = 0;
                for (int i = 0; i < reps; i++) {
                    dgm_gemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N);
                    wrong += memcmp(C, R, sizeof(float) * M * N) != 0;
                }
                setitimer(ITIMER_REAL, &off, NULL);
                CHECK_MSG(wrong == 0, "%s: %zux%zux%zu at %d threads: %d of %d wrong",
                          backends[b], M, N, K, t, wrong, reps);
            }
        }
        free(A); free(B); free(C); free(R);
    }
    CHECK(alarms > 0);
    sigaction(SIGALRM, &old_sa, NULL);
    dgm_set_threads(threads0);
    CHECK(dgm_gemm_set_backend(NULL, NULL) == DGM_OK);
}

/* The threads of this process (Linux: /proc/self/status); -1 where it cannot be read. */
static int os_threads(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

/* dgm_set_threads reaches every backend: OpenMP starts its workers only for a parallel
 * region wider than one thread, so a product at 1 thread leaves the process with its
 * threads as they were, and one at 2 threads adds one worker. Runs first in main, before
 * anything else opened a parallel region. */
static void test_gemm_threads_reach_backend(void)
{
    int t0 = os_threads();
    if (t0 < 0) {
        TEST_SKIP(test_gemm_threads_reach_backend, "no /proc/self/status");
        return;
    }
    const size_t n = 512;
    float *A = calloc(n * n, sizeof(float)), *C = malloc(sizeof(float) * n * n);
    dgm_set_threads(1);
    for (int b = 0; b < N_BACKENDS; b++)
        if (use_backend(b)) {
            dgm_gemm(DGM_NOTRANS, DGM_NOTRANS, n, n, n, 1.0f, A, n, A, n, 0.0f, C, n);
            CHECK_MSG(os_threads() == t0, "%s at 1 thread: %d threads, %d before", backends[b],
                      os_threads(), t0);
        }
    dgm_set_threads(2);
    for (int b = N_BACKENDS - 1; b >= 0; b--) /* the default backend first */
        if (use_backend(b)) {
            dgm_gemm(DGM_NOTRANS, DGM_NOTRANS, n, n, n, 1.0f, A, n, A, n, 0.0f, C, n);
            CHECK_MSG(os_threads() == t0 + 1, "%s at 2 threads: %d threads, %d before",
                      backends[b], os_threads(), t0);
        }
    CHECK(dgm_gemm_set_backend(NULL, NULL) == DGM_OK);
    dgm_set_threads(0);
    free(A);
    free(C);
}

/* DGM_GEMM is read at the first product: a name dgm does not know leaves the default and
 * says so in dgm_gemm_backend; runs before any product in this process. */
static void test_gemm_env(void)
{
    setenv("DGM_GEMM", "mkl", 1);
    const char *b = dgm_gemm_backend();
    CHECK(strstr(b, "DGM_GEMM=mkl ignored") != NULL);
    unsetenv("DGM_GEMM");
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
    TEST_RUN(test_gemm_env);
    TEST_RUN(test_gemm_threads_reach_backend);
    TEST_RUN(test_gemm_backends);
    TEST_RUN(test_gemm_set_backend);
    TEST_RUN(test_gemm_under_signals);
    TEST_RUN(test_row_ops);
    TEST_RUN(test_reductions);
    TEST_RUN(test_alloc_overflow);
    TEST_MAIN_END("test_tensor");
}
