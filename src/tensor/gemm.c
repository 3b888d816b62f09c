/* The single matrix-product entry point (STYLE.md: src/tensor is the only caller of BLAS).
 * Row-major C = alpha op(A) op(B) + beta C over cblas_sgemm, or, with BLAS=none, a plain
 * loop ordered so the innermost index walks contiguous memory, parallel over rows of C.
 * Reference semantics: torch.addmm / BLAS sgemm. */
#include "dgm_blocks.h"
#include "core/par.h"

#include <omp.h>
#ifndef DGM_NO_BLAS
#include <cblas.h>
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

#ifdef DGM_NO_BLAS
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
#endif

void dgm_gemm(dgm_trans ta, dgm_trans tb, size_t M, size_t N, size_t K,
              float alpha, const float *A, size_t lda, const float *B, size_t ldb,
              float beta, float *C, size_t ldc)
{
    if (M == 0 || N == 0)
        return;
#ifdef DGM_NO_BLAS
    gemm_plain(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    if (K == 0) { /* some BLAS builds reject k == 0; the answer is just beta C */
        scale_c(C, ldc, M, N, beta);
        return;
    }
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

const char *dgm_gemm_backend(void)
{
#ifdef DGM_NO_BLAS
    return "plain C (BLAS=none)";
#else
    static char buf[160];
    snprintf(buf, sizeof buf, "%s", openblas_get_config());
    return buf;
#endif
}
