/* Matrix products with bfloat16 inputs and float32 products and sums, for inference
 * only (VAE evaluation and sampling, docs/math.md "bf16 evaluation"). bf16 is the top
 * half of a float32: 8 exponent bits and 8 significant bits, so rounding an input costs
 * a relative error of at most 2^-8 while the range stays that of float32. The products
 * run in oneDNN (dnnl_gemm_bf16bf16f32, AVX-512 BF16 where the CPU has it); oneDNN is
 * optional at build time (DGM_HAVE_DNNL, set by the Makefile when libdnnl-dev is
 * installed), and without it every product here returns DGM_ERR_UNSUPPORTED.
 * Why oneDNN: Debian's OpenBLAS 0.3.21 declares cblas_sbgemm but does not export it.
 * Not here: bf16 outputs, bf16 training (gradients need float32 sums of small terms). */
#include "dgm_blocks.h"

#include <omp.h>
#include <string.h>

#ifdef DGM_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
/* Exported by libdnnl 2.x (the row-major twin of dnnl_sgemm) but missing from its
 * public header in 2.6; the signature is that of src/cpu/gemm/gemm.cpp. */
dnnl_status_t dnnl_gemm_bf16bf16f32(char transa, char transb, dnnl_dim_t M, dnnl_dim_t N,
                                    dnnl_dim_t K, float alpha, const uint16_t *A,
                                    dnnl_dim_t lda, const uint16_t *B, dnnl_dim_t ldb,
                                    float beta, float *C, dnnl_dim_t ldc);
#endif

#define NO_DNNL_MSG "dgm was built without oneDNN (install libdnnl-dev and rebuild)"

/* Round to nearest, ties to even, on the bits: adding 0x7fff plus the lowest kept bit
 * carries into the kept half exactly when the dropped half is above one half, or equal
 * to it with an odd kept half. A NaN keeps its sign and stays a (quiet) NaN, which the
 * addition could otherwise carry into infinity. */
static inline uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : r);
}

static void convert(uint16_t *out, const float *in, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        out[i] = to_bf16(in[i]);
}

/* Small blocks, and calls from inside a parallel loop (a row at a time), go straight
 * through: even an if(0) parallel region costs a team set-up per call. */
#define PAR_MIN 200000

void dgm_f32_to_bf16(uint16_t *out, const float *in, size_t n)
{
    if (n <= PAR_MIN || omp_in_parallel()) {
        convert(out, in, n);
        return;
    }
    const size_t chunk = 16384;
    long nc = (long)((n + chunk - 1) / chunk);
#pragma omp parallel for schedule(static)
    for (long c = 0; c < nc; c++) {
        size_t i0 = (size_t)c * chunk;
        convert(out + i0, in + i0, n - i0 < chunk ? n - i0 : chunk);
    }
}

void dgm_bf16_to_f32(float *out, const uint16_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)in[i] << 16;
        memcpy(&out[i], &u, sizeof u);
    }
}

void dgm_f32_to_bf16_rows(uint16_t *out, size_t ldo, const float *in, size_t ldi,
                          size_t rows, size_t cols)
{
    if (rows * cols <= PAR_MIN || omp_in_parallel()) {
        for (size_t r = 0; r < rows; r++)
            convert(out + r * ldo, in + r * ldi, cols);
        return;
    }
    long rl = (long)rows;
#pragma omp parallel for schedule(static)
    for (long r = 0; r < rl; r++)
        convert(out + (size_t)r * ldo, in + (size_t)r * ldi, cols);
}

int dgm_bf16_available(void)
{
#ifdef DGM_HAVE_DNNL
    /* oneDNN refuses bf16 products on CPUs without AVX-512; a 1x1 product finds out. */
    uint16_t one = 0x3f80;
    float c = 0.0f;
    return dnnl_gemm_bf16bf16f32('N', 'N', 1, 1, 1, 1.0f, &one, 1, &one, 1, 0.0f, &c, 1) ==
               dnnl_success && c == 1.0f;
#else
    return 0;
#endif
}

dgm_status dgm_bf16_require(dgm_err *err)
{
    if (dgm_bf16_available())
        return DGM_OK;
#ifdef DGM_HAVE_DNNL
    return dgm_errf(err, DGM_ERR_UNSUPPORTED, "this CPU cannot run oneDNN's bf16 products "
                    "(they need AVX-512)");
#else
    return dgm_errf(err, DGM_ERR_UNSUPPORTED, NO_DNNL_MSG);
#endif
}

dgm_status dgm_gemm_bf16_raw(dgm_trans ta, dgm_trans tb, size_t M, size_t N, size_t K,
                             float alpha, const uint16_t *A, size_t lda, const uint16_t *B,
                             size_t ldb, float beta, float *C, size_t ldc, dgm_err *err)
{
#ifdef DGM_HAVE_DNNL
    if (M == 0 || N == 0)
        return DGM_OK;
    if (K == 0 || alpha == 0.0f) { /* the answer is just beta C, with BLAS's beta = 0 */
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++)
                C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return DGM_OK;
    }
    dnnl_status_t s = dnnl_gemm_bf16bf16f32(ta ? 'T' : 'N', tb ? 'T' : 'N', (dnnl_dim_t)M,
                                            (dnnl_dim_t)N, (dnnl_dim_t)K, alpha, A,
                                            (dnnl_dim_t)lda, B, (dnnl_dim_t)ldb, beta, C,
                                            (dnnl_dim_t)ldc);
    if (s != dnnl_success)
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "oneDNN's bf16 product failed (status %d; "
                        "it needs a CPU with AVX-512)", (int)s);
    return DGM_OK;
#else
    (void)ta; (void)tb; (void)M; (void)N; (void)K; (void)alpha; (void)A; (void)lda;
    (void)B; (void)ldb; (void)beta; (void)C; (void)ldc;
    return dgm_errf(err, DGM_ERR_UNSUPPORTED, NO_DNNL_MSG);
#endif
}

dgm_status dgm_gemm_bf16(dgm_trans ta, dgm_trans tb, size_t M, size_t N, size_t K,
                         float alpha, const float *A, size_t lda, const float *B, size_t ldb,
                         float beta, float *C, size_t ldc, dgm_err *err)
{
#ifndef DGM_HAVE_DNNL
    (void)ta; (void)tb; (void)M; (void)N; (void)K; (void)alpha; (void)A; (void)lda;
    (void)B; (void)ldb; (void)beta; (void)C; (void)ldc;
    return dgm_errf(err, DGM_ERR_UNSUPPORTED, NO_DNNL_MSG);
#else
    if (M == 0 || N == 0 || K == 0)
        return dgm_gemm_bf16_raw(ta, tb, M, N, K, alpha, NULL, 1, NULL, 1, beta, C, ldc, err);
    /* stored shapes: A is M x K (K x M transposed), B is K x N (N x K transposed); the
     * copies are packed, their leading dimension their row length */
    size_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    uint16_t *A16 = dgm_malloc_array(ar, ac * sizeof(uint16_t));
    uint16_t *B16 = dgm_malloc_array(br, bc * sizeof(uint16_t));
    if (!A16 || !B16) {
        dgm_free(A16);
        dgm_free(B16);
        return dgm_errf(err, DGM_ERR_NOMEM, "out of memory for a %zu x %zu x %zu bf16 product",
                        M, N, K);
    }
    dgm_f32_to_bf16_rows(A16, ac, A, lda, ar, ac);
    dgm_f32_to_bf16_rows(B16, bc, B, ldb, br, bc);
    dgm_status s = dgm_gemm_bf16_raw(ta, tb, M, N, K, alpha, A16, ac, B16, bc, beta, C, ldc, err);
    dgm_free(A16);
    dgm_free(B16);
    return s;
#endif
}
