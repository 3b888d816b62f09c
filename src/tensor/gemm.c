/* The single matrix-product entry point (STYLE.md: src/tensor is the only caller of BLAS).
 * Row-major C = alpha op(A) op(B) + beta C over one of three fp32 backends:
 *   dnnl      oneDNN's dnnl_sgemm (built in with DGM_HAVE_DNNL): its own AVX-512 kernels,
 *             chosen from the CPU, whatever OPENBLAS_CORETYPE says; strict fp32 (the
 *             default fpmath mode, set again at first use: no bf16 or tf32 shortcuts);
 *   openblas  cblas_sgemm (the OpenMP build, sharing dgm's thread pool);
 *   plain     a loop ordered so the innermost index walks contiguous memory, parallel over
 *             rows of C (BLAS=none builds, and the reference the other two are tested by).
 * The default is the first of dnnl, openblas present, or plain with BLAS=none;
 * DGM_GEMM=dnnl|openblas|plain in the environment (read once, at the first product) or
 * dgm_gemm_set_backend picks another, and dgm_gemm_backend says which one runs.
 * Threads: OpenBLAS runs on the OpenMP pool (dgm_set_threads sets its count). oneDNN's
 * products are split here, into tiles of C fixed by the shape alone (tile_plan), each
 * one a single-threaded dnnl_sgemm inside dgm's own OpenMP loop: the same bits at any
 * thread count (OpenBLAS's last bits can change with it), and every thread that runs
 * oneDNN code is one of ours, with signals blocked while it does (below). A product
 * called from inside a parallel region (of any team size) runs on its calling thread.
 * Signals: oneDNN 2.x's fp32 kernels point the stack pointer into a heap buffer while
 * they run, so a signal handler's frame (dgm train's SIGINT, a profiler's timer) lands
 * in the heap and corrupts it ("corrupted size vs. prev_size"; oneDNN issue #4845, fixed
 * in 3.11.2; reproduced here with 2.6.3 and a 100 us SIGALRM). The threads in a oneDNN
 * product block every signal for its length (two rt_sigprocmask calls each, well under
 * a microsecond); a signal that arrives meanwhile waits and runs just after.
 * Reference semantics: torch.addmm / BLAS sgemm (beta = 0 ignores C, even NaN). */
#include "dgm_blocks.h"
#include "core/assert.h"
#include "core/par.h"

#include <omp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef DGM_NO_BLAS
#include <cblas.h>
#endif
#ifdef DGM_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#define AT(M, ld, r, c) ((M)[(size_t)(r) * (ld) + (c)])

static void scale_c(float *C, size_t ldc, size_t M, size_t N, float beta)
{
    for (size_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f) /* BLAS semantics: C's old contents (even NaN) are ignored */
            for (size_t j = 0; j < N; j++)
                c[j] = 0.0f;
        else if (beta != 1.0f)
            for (size_t j = 0; j < N; j++)
                c[j] *= beta;
    }
}

static void gemm_plain(dgm_trans ta, dgm_trans tb, size_t M, size_t N, size_t K,
                       float alpha, const float *A, size_t lda, const float *B, size_t ldb,
                       float beta, float *C, size_t ldc)
{
    scale_c(C, ldc, M, N, beta);
    if (alpha == 0.0f || K == 0)
        return;
    long Ml = (long)M;
#pragma omp parallel for schedule(static) if (M * N * K > DGM__PAR_MIN_GEMM)
    for (long il = 0; il < Ml; il++) {
        size_t i = (size_t)il;
        float *c = C + i * ldc;
        if (tb == DGM_NOTRANS) {
            /* c[:] += a(i,k) * B[k, :], contiguous in j */
            for (size_t k = 0; k < K; k++) {
                float a = alpha * (ta == DGM_NOTRANS ? AT(A, lda, i, k) : AT(A, lda, k, i));
                if (a == 0.0f)
                    continue;
                const float *b = B + k * ldb;
                for (size_t j = 0; j < N; j++)
                    c[j] += a * b[j];
            }
        } else {
            /* c[j] += dot(a(i,:), B[j, :]), contiguous in k when A is not transposed */
            for (size_t j = 0; j < N; j++) {
                const float *b = B + j * ldb;
                float s = 0.0f;
                if (ta == DGM_NOTRANS) {
                    const float *a = A + i * lda;
                    for (size_t k = 0; k < K; k++)
                        s += a[k] * b[k];
                } else {
                    for (size_t k = 0; k < K; k++)
                        s += AT(A, lda, k, i) * b[k];
                }
                c[j] += alpha * s;
            }
        }
    }
}

// ---------------------------------------------------------------- backend choice

typedef enum { GEMM_PLAIN, GEMM_OPENBLAS, GEMM_DNNL } gemm_kind;
static const char *const kind_names[] = {"plain", "openblas", "dnnl"};

static int kind_built(gemm_kind k)
{
    switch (k) {
    case GEMM_PLAIN: return 1;
#ifndef DGM_NO_BLAS
    case GEMM_OPENBLAS: return 1;
#endif
#ifdef DGM_HAVE_DNNL
    case GEMM_DNNL: return 1;
#endif
    default: return 0;
    }
}

static gemm_kind kind_default(void)
{
#ifdef DGM_NO_BLAS
    return GEMM_PLAIN; /* BLAS=none asks for the plain loop, oneDNN or not */
#elif defined(DGM_HAVE_DNNL)
    return GEMM_DNNL;
#else
    return GEMM_OPENBLAS;
#endif
}

/* -1 until the first product or choice; then a gemm_kind. Racing first calls compute the
 * same value from the same environment, so a plain atomic store is enough. */
static atomic_int chosen = -1;
/* 1 when DGM_GEMM named no backend, 2 when it named one this build lacks: the default
 * runs, and dgm_gemm_backend says why (a library does not print). */
static atomic_int env_refused = 0;

static int kind_parse(const char *name)
{
    for (int k = 0; k < 3; k++)
        if (!strcmp(name, kind_names[k]))
            return k;
    return !strcmp(name, "onednn") ? GEMM_DNNL : -1;
}

static void kind_set(gemm_kind k)
{
#ifdef DGM_HAVE_DNNL
    /* dgm's fp32 products are fp32: undo ONEDNN_DEFAULT_FPMATH_MODE=bf16 and the like */
    if (k == GEMM_DNNL)
        dnnl_set_default_fpmath_mode(dnnl_fpmath_mode_strict);
#endif
    atomic_store(&chosen, (int)k);
}

static gemm_kind kind_now(void)
{
    int k = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (k >= 0)
        return (gemm_kind)k;
    const char *env = getenv("DGM_GEMM");
    gemm_kind pick = kind_default();
    if (env && *env) {
        int e = kind_parse(env);
        if (e < 0)
            atomic_store(&env_refused, 1);
        else if (!kind_built((gemm_kind)e))
            atomic_store(&env_refused, 2);
        else
            pick = (gemm_kind)e;
    }
    kind_set(pick);
    return pick;
}

dgm_status dgm_gemm_set_backend(const char *name, dgm_err *err)
{
    if (!name || !*name || !strcmp(name, "default")) {
        kind_set(kind_default());
        atomic_store(&env_refused, 0);
        return DGM_OK;
    }
    int k = kind_parse(name);
    if (k < 0)
        return dgm_errf(err, DGM_ERR_ARG, "matrix-product backend '%s': not one of dnnl, "
                        "openblas, plain, default", name);
    if (!kind_built((gemm_kind)k))
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "matrix-product backend '%s': not built "
                        "into this dgm (%s)", name, k == GEMM_DNNL ? "install libdnnl-dev "
                        "and rebuild" : "built with BLAS=none");
    kind_set((gemm_kind)k);
    atomic_store(&env_refused, 0); /* a choice made here overrides DGM_GEMM */
    return DGM_OK;
}

// ---------------------------------------------------------------- oneDNN, tiled
#ifdef DGM_HAVE_DNNL

/* A product is cut along the longer of M and N into 2^j tiles of at least TILE_MIN_MACS
 * multiply-adds and TILE_MIN_EXTENT rows or columns, at most TILE_MAX: small ones stay
 * whole (a parallel region costs more than they do), and each tile re-packs the operand
 * it shares with the others, so tiles stay wide. Powers of two share out evenly over 1,
 * 2, 4, ... threads. Rows go in multiples of 8 and columns of 16 (oneDNN's AVX-512 kernel
 * blocks). */
#define TILE_MIN_MACS   (1u << 19)
#define TILE_MIN_EXTENT 128
#define TILE_MAX        16

typedef struct {
    int by_cols;    /* tiles split N (else M) */
    size_t step;    /* rows or columns per tile (the last one may have fewer) */
    int n;          /* tiles */
} tile_plan;

static tile_plan plan_tiles(size_t M, size_t N, size_t K)
{
    tile_plan p = {N >= M, 0, 1};
    size_t D = p.by_cols ? N : M, align = p.by_cols ? 16 : 8;
    double macs = (double)M * (double)N * (double)K;
    while (p.n < TILE_MAX && macs / (2.0 * p.n) >= TILE_MIN_MACS &&
           D / (2 * (size_t)p.n) >= TILE_MIN_EXTENT)
        p.n *= 2;
    p.step = (D + (size_t)p.n - 1) / (size_t)p.n;
    p.step = (p.step + align - 1) / align * align;
    p.n = (int)((D + p.step - 1) / p.step);
    return p;
}

static void dnnl_tile(dgm_trans ta, dgm_trans tb, size_t M, size_t N, size_t K, float alpha,
                      const float *A, size_t lda, const float *B, size_t ldb, float beta,
                      float *C, size_t ldc)
{
    dnnl_status_t s = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', (dnnl_dim_t)M, (dnnl_dim_t)N,
                                 (dnnl_dim_t)K, alpha, A, (dnnl_dim_t)lda, B, (dnnl_dim_t)ldb,
                                 beta, C, (dnnl_dim_t)ldc);
    /* It fails on invalid arguments (a leading dimension below the width: the caller's
     * bug) or when its packing buffers (a few MB) cannot be allocated, after other tiles
     * may have been written: no answer can be saved either way. */
    DGM_ASSERT(s == dnnl_success);
}

static void gemm_dnnl(dgm_trans ta, dgm_trans tb, size_t M, size_t N, size_t K, float alpha,
                      const float *A, size_t lda, const float *B, size_t ldb, float beta,
                      float *C, size_t ldc)
{
    sigset_t all, old;
    sigfillset(&all);
    tile_plan p = plan_tiles(M, N, K);
    /* inside any parallel region, also a team of one (omp_in_parallel() is 0 there): a
     * shard loop run at --threads 1 must make the one call that it makes at 2, since
     * oneDNN's bits for a tile can differ from its bits for the whole product */
    if (p.n == 1 || omp_get_level() > 0) {
        /* one thread: oneDNN would open its own parallel region on the pool's workers,
         * whose signals are not blocked, were the thread count above 1 */
        int nt = omp_get_max_threads();
        if (nt > 1)
            omp_set_num_threads(1);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        dnnl_tile(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (nt > 1)
            omp_set_num_threads(nt);
        return;
    }
    size_t D = p.by_cols ? N : M;
    #pragma omp parallel
    {
        sigset_t mine;
        pthread_sigmask(SIG_BLOCK, &all, &mine);
        #pragma omp for schedule(static)
        for (int t = 0; t < p.n; t++) {
            size_t d0 = (size_t)t * p.step, d = D - d0 < p.step ? D - d0 : p.step;
            /* inside a parallel region oneDNN runs on the calling thread */
            if (p.by_cols)
                dnnl_tile(ta, tb, M, d, K, alpha, A, lda, tb ? B + d0 * ldb : B + d0, ldb,
                          beta, C + d0, ldc);
            else
                dnnl_tile(ta, tb, d, N, K, alpha, ta ? A + d0 : A + d0 * lda, lda, B, ldb,
                          beta, C + d0 * ldc, ldc);
        }
        pthread_sigmask(SIG_SETMASK, &mine, NULL);
    }
}
#endif

// ---------------------------------------------------------------- the product

void dgm_gemm(dgm_trans ta, dgm_trans tb, size_t M, size_t N, size_t K,
              float alpha, const float *A, size_t lda, const float *B, size_t ldb,
              float beta, float *C, size_t ldc)
{
    if (M == 0 || N == 0)
        return;
    gemm_kind k = kind_now();
    if (k == GEMM_PLAIN) {
        gemm_plain(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* Some BLAS builds reject k == 0, and oneDNN leaves C as it was for k == 0 even with
     * beta = 0; with alpha = 0 BLAS reads neither A nor B. The answer is just beta C. */
    if (K == 0 || alpha == 0.0f) {
        scale_c(C, ldc, M, N, beta);
        return;
    }
#ifdef DGM_HAVE_DNNL
    if (k == GEMM_DNNL) {
        gemm_dnnl(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#endif
#ifndef DGM_NO_BLAS
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
#endif
}

void dgm_gemm_ref(dgm_trans ta, dgm_trans tb, size_t M, size_t N, size_t K,
                  float alpha, const float *A, size_t lda, const float *B, size_t ldb,
                  float beta, float *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double s = 0;
            for (size_t k = 0; k < K; k++) {
                double a = ta == DGM_NOTRANS ? AT(A, lda, i, k) : AT(A, lda, k, i);
                double b = tb == DGM_NOTRANS ? AT(B, ldb, k, j) : AT(B, ldb, j, k);
                s += a * b;
            }
            double c = beta == 0.0f ? 0.0 : (double)beta * AT(C, ldc, i, j);
            AT(C, ldc, i, j) = (float)(alpha * s + c);
        }
}

#ifdef DGM_HAVE_DNNL
static const char *dnnl_isa_name(void)
{
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}
#endif

const char *dgm_gemm_backend(void)
{
    static char buf[256];
    gemm_kind k = kind_now();
    int n = 0;
    switch (k) {
    case GEMM_PLAIN:
#ifdef DGM_NO_BLAS
        n = snprintf(buf, sizeof buf, "plain C (BLAS=none)");
#else
        n = snprintf(buf, sizeof buf, "plain C");
#endif
        break;
    case GEMM_OPENBLAS:
#ifndef DGM_NO_BLAS
        n = snprintf(buf, sizeof buf, "%s", openblas_get_config());
#endif
        break;
    case GEMM_DNNL: {
#ifdef DGM_HAVE_DNNL
        const dnnl_version_t *v = dnnl_version();
        n = snprintf(buf, sizeof buf, "oneDNN %d.%d.%d fp32 (%s, strict)", v->major, v->minor,
                     v->patch, dnnl_isa_name());
#endif
        break;
    }
    }
    int refused = atomic_load(&env_refused);
    const char *env = getenv("DGM_GEMM");
    if (refused && env && n >= 0 && (size_t)n < sizeof buf)
        snprintf(buf + n, sizeof buf - (size_t)n, " [DGM_GEMM=%.40s ignored: %s]", env,
                 refused == 1 ? "not dnnl, openblas or plain" : "not built in");
    return buf;
}
