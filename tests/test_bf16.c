/* bf16 products (src/tensor/gemm_bf16.c) and the VAE's bf16 inference path: rounding to
 * nearest even on the bits, dgm_gemm_bf16 against the double-precision reference (within
 * the bf16 bound) and against the reference on bf16-rounded inputs (within float32
 * summation error only, which rounding in any other way would exceed), every transpose,
 * odd sizes and padded leading dimensions; a VAE's importance-sampled log-likelihood and
 * decoder means in bf16 against float32. Without oneDNN the products are skipped and the
 * VAE must refuse bf16 with the message the CLI shows. */
#include "dgm_blocks.h"
#include "test.h"

#include <stdint.h>

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void test_rounding(void)
{
    /* kept half 0x3f80 (even) and 0x3f81 (odd), dropped halves below, at, above 0x8000 */
    const struct { uint32_t in; uint16_t out; } c[] = {
        {0x3f800000u, 0x3f80}, {0x3f807fffu, 0x3f80}, {0x3f808000u, 0x3f80},
        {0x3f808001u, 0x3f81}, {0x3f818000u, 0x3f82}, {0x3f817fffu, 0x3f81},
        {0xbf808000u, 0xbf80}, {0xbf818000u, 0xbf82}, /* the sign does not matter */
        {0x80000000u, 0x8000}, {0x00000001u, 0x0000}, /* -0 stays; a tiny denormal to +0 */
        {0x7f800000u, 0x7f80}, {0xff800000u, 0xff80}, /* infinities */
        {0x7f7fffffu, 0x7f80}, /* FLT_MAX rounds up to infinity, as nearest-even says */
        {0x7f7f7fffu, 0x7f7f},
    };
    size_t n = sizeof c / sizeof c[0];
    for (size_t i = 0; i < n; i++) {
        float f = from_bits(c[i].in);
        uint16_t h;
        dgm_f32_to_bf16(&h, &f, 1);
        CHECK_MSG(h == c[i].out, "0x%08x -> 0x%04x, expected 0x%04x", c[i].in, h, c[i].out);
    }
    /* a NaN whose payload sits in the dropped half must not become infinity */
    float nan_lo = from_bits(0x7f800001u), back;
    uint16_t h;
    dgm_f32_to_bf16(&h, &nan_lo, 1);
    dgm_bf16_to_f32(&back, &h, 1);
    CHECK(isnan(back));
    /* the parallel path (long arrays) agrees with the one-at-a-time path */
    size_t N = 300001;
    float *x = malloc(N * sizeof(float));
    uint16_t *a = malloc(N * sizeof(uint16_t));
    dgm_rng r;
    dgm_rng_init(&r, 1);
    dgm_rng_fill_normal(&r, x, N);
    dgm_f32_to_bf16(a, x, N);
    int bad = 0;
    for (size_t i = 0; i < N; i += 997) {
        dgm_f32_to_bf16(&h, &x[i], 1);
        float rt;
        dgm_bf16_to_f32(&rt, &h, 1);
        bad += h != a[i] || fabsf(rt - x[i]) > ldexpf(fabsf(x[i]), -8);
    }
    CHECK_EQ_INT(bad, 0);
    free(x);
    free(a);
}

/* Fills a rows x cols block with leading dimension ld, the padding with NaN so a product
 * that read it would show. */
static float *block(dgm_rng *r, size_t rows, size_t cols, size_t ld)
{
    float *m = malloc(rows * ld * sizeof(float) + 1);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < ld; j++)
            m[i * ld + j] = j < cols ? 2.0f * dgm_rng_uniform(r) - 1.0f : NAN;
    return m;
}

static void round_block(float *m, size_t rows, size_t cols, size_t ld)
{
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            uint16_t h;
            dgm_f32_to_bf16(&h, &m[i * ld + j], 1);
            dgm_bf16_to_f32(&m[i * ld + j], &h, 1);
        }
}

static void test_gemm(void)
{
    const size_t sizes[][3] = {{1, 1, 1}, {37, 29, 53}, {64, 17, 130}, {5, 300, 7}, {3, 2, 0}};
    dgm_rng r;
    dgm_rng_init(&r, 7);
    int worst_ok = 1;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int bi = 0; bi < 2; bi++) {
                    size_t M = sizes[si][0], N = sizes[si][1], K = sizes[si][2];
                    float alpha = 0.75f, beta = bi ? 0.5f : 0.0f;
                    size_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
                    size_t lda = ac + 3, ldb = bc + 1, ldc = N + 2;
                    float *A = block(&r, ar, ac, lda), *B = block(&r, br, bc, ldb);
                    float *C = block(&r, M, N, ldc);
                    if (!bi) /* beta = 0 ignores C, NaN included */
                        for (size_t i = 0; i < M * ldc; i++)
                            C[i] = NAN;
                    float *Cref = malloc(M * ldc * sizeof(float)), *Crr = malloc(M * ldc * sizeof(float));
                    memcpy(Cref, C, M * ldc * sizeof(float));
                    memcpy(Crr, C, M * ldc * sizeof(float));
                    dgm_gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, Cref, ldc);
                    float *Ar = malloc(ar * lda * sizeof(float) + 1), *Br = malloc(br * ldb * sizeof(float) + 1);
                    memcpy(Ar, A, ar * lda * sizeof(float));
                    memcpy(Br, B, br * ldb * sizeof(float));
                    round_block(Ar, ar, ac, lda);
                    round_block(Br, br, bc, ldb);
                    dgm_gemm_ref(ta, tb, M, N, K, alpha, Ar, lda, Br, ldb, beta, Crr, ldc);
                    dgm_err e = {0};
                    CHECK(dgm_gemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, &e) == DGM_OK);
                    for (size_t i = 0; i < M; i++)
                        for (size_t j = 0; j < N; j++) {
                            double S = 0; /* sum_k |a_ik b_kj|, the scale of the error */
                            for (size_t k = 0; k < K; k++) {
                                double a = ta ? Ar[k * lda + i] : Ar[i * lda + k];
                                double b = tb ? Br[j * ldb + k] : Br[k * ldb + j];
                                S += fabs(a * b);
                            }
                            S *= alpha;
                            double c = C[i * ldc + j], old = bi ? fabs(beta * Cref[i * ldc + j]) : 0;
                            double sum_err = (double)(K + 2) * ldexp(S, -24) + ldexp(old, -23) + 1e-30;
                            double bf_err = ldexp(S, -7) * 1.01 + sum_err;
                            int ok = fabs(c - Crr[i * ldc + j]) <= sum_err &&
                                     fabs(c - Cref[i * ldc + j]) <= bf_err;
                            if (!ok && worst_ok) {
                                CHECK_MSG(ok, "M%zu N%zu K%zu ta%d tb%d beta%g (%zu,%zu): %.9g vs "
                                          "rounded-input ref %.9g (tol %.3g), fp32 ref %.9g (tol %.3g)",
                                          M, N, K, ta, tb, beta, i, j, c, Crr[i * ldc + j], sum_err,
                                          Cref[i * ldc + j], bf_err);
                                worst_ok = 0; /* one message, not thousands */
                            }
                        }
                    /* C's padding is untouched */
                    for (size_t i = 0; i < M; i++)
                        for (size_t j = N; j < ldc; j++)
                            CHECK(isnan(C[i * ldc + j]) || C[i * ldc + j] == Cref[i * ldc + j]);
                    free(A); free(B); free(C); free(Cref); free(Crr); free(Ar); free(Br);
                }
}

/* The raw entry point on inputs converted once gives the same bits as dgm_gemm_bf16. */
static void test_gemm_raw(void)
{
    const size_t M = 33, N = 21, K = 45;
    dgm_rng r;
    dgm_rng_init(&r, 3);
    float *A = block(&r, M, K, K), *W = block(&r, N, K, K);
    float *C1 = calloc(M * N, sizeof(float)), *C2 = calloc(M * N, sizeof(float));
    uint16_t *A16 = malloc(M * K * 2), *W16 = malloc(N * K * 2);
    dgm_f32_to_bf16(A16, A, M * K);
    dgm_f32_to_bf16(W16, W, N * K);
    dgm_err e = {0};
    CHECK(dgm_gemm_bf16(DGM_NOTRANS, DGM_TRANS, M, N, K, 1.0f, A, K, W, K, 0.0f, C1, N, &e) == 0);
    CHECK(dgm_gemm_bf16_raw(DGM_NOTRANS, DGM_TRANS, M, N, K, 1.0f, A16, K, W16, K, 0.0f, C2, N,
                            &e) == 0);
    CHECK(!memcmp(C1, C2, M * N * sizeof(float)));
    free(A); free(W); free(C1); free(C2); free(A16); free(W16);
}

/* Toy binary data: noisy copies of two prototypes (as test_vae.c). */
static void toy_data(float *x, size_t n, size_t D, uint64_t seed)
{
    dgm_rng r;
    dgm_rng_init(&r, seed);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < D; j++) {
            int bit = ((j < D / 2) == ((i & 1) == 0)) ^ (j % 5 == (i / 2) % 5);
            x[i * D + j] = dgm_rng_bernoulli(&r, 0.05) ? 1.0f - bit : (float)bit;
        }
}

static dgm_model *trained_vae(const float *x, size_t n, size_t D)
{
    dgm_vae_cfg cfg = dgm_vae_defaults();
    cfg.dim = D;
    cfg.latent = 4;
    cfg.hidden[0] = 48;
    cfg.hidden[1] = 32;
    cfg.n_hidden = 2;
    cfg.height = cfg.width = 0;
    dgm_rng r;
    dgm_rng_init(&r, 5);
    dgm_model *m = NULL;
    dgm_err e;
    if (dgm_vae_create(&m, &r, &cfg, &e))
        return NULL;
    dgm_optim_cfg opt = dgm_optim_defaults(DGM_OPT_ADAM);
    opt.lr = 1e-2f;
    dgm_vae_step obj = {DGM_OBJ_ELBO, 1, 1.0, 0.0};
    for (long t = 0; t < 400; t++) {
        dgm_rng step;
        dgm_rng_fork(&step, &r, (uint64_t)t);
        size_t b = (size_t)(t % (long)(n / 16)) * 16;
        dgm_vae_train_step(m, &step, x + b * D, NULL, 16, &obj, &opt, t, NULL, NULL);
    }
    return m;
}

/* -log p(x) with K = 200 in fp32 and bf16 from the same noise: the decoder's logits move by
 * about 2^-8 of their scale, so each example's estimate by far less than its Monte Carlo
 * error; measured 0.0005 nats mean, 0.053 the worst example, on this model. Also the bf16 path must really run:
 * its answers are not the fp32 bits. */
static void test_vae_nll(void)
{
    const size_t n = 256, D = 64, ne = 64;
    float *x = malloc(n * D * sizeof(float));
    toy_data(x, n, D, 9);
    dgm_model *m = trained_vae(x, n, D);
    CHECK(m != NULL);
    if (!m) {
        free(x);
        return;
    }
    double a[64], b[64];
    dgm_err e = {0};
    dgm_rng r;
    dgm_rng_init(&r, 11);
    CHECK(dgm_model_log_prob(m, &r, a, x, NULL, ne, 200, &e) == DGM_OK);
    CHECK(dgm_vae_set_precision(m, DGM_PREC_BF16, &e) == DGM_OK);
    dgm_rng_init(&r, 11);
    CHECK(dgm_model_log_prob(m, &r, b, x, NULL, ne, 200, &e) == DGM_OK);
    double ma = 0, md = 0, worst = 0;
    int same = 1;
    for (size_t i = 0; i < ne; i++) {
        ma += -a[i] / ne;
        md += (b[i] - a[i]) / ne;
        worst = fmax(worst, fabs(b[i] - a[i]));
        same &= a[i] == b[i];
    }
    fprintf(stderr, "vae nll fp32 %.4f, bf16 - fp32 mean %.5f, worst %.5f nats\n", ma, md, worst);
    CHECK(ma > 5 && ma < 40); /* trained: well below 64 log 2 = 44 nats */
    CHECK_NEAR(md, 0.0, 0.05);
    CHECK(worst < 0.25);
    CHECK(!same);
    /* and back to fp32 gives the fp32 bits again */
    CHECK(dgm_vae_set_precision(m, DGM_PREC_FP32, &e) == DGM_OK);
    dgm_rng_init(&r, 11);
    CHECK(dgm_model_log_prob(m, &r, b, x, NULL, ne, 200, &e) == DGM_OK);
    CHECK(!memcmp(a, b, sizeof a));
    dgm_model_free(m);
    free(x);
}

/* Decoder means (and so samples) of a Gaussian VAE with predicted variance and of a CVAE,
 * the branches the Bernoulli model above does not take: bf16 within 0.02 of fp32. */
static void test_vae_decode(void)
{
    for (int kind = 0; kind < 2; kind++) {
        dgm_vae_cfg cfg = dgm_vae_defaults();
        cfg.dim = 30;
        cfg.latent = 3;
        cfg.hidden[0] = 40;
        cfg.n_hidden = 1;
        cfg.height = cfg.width = 0;
        cfg.act = kind ? DGM_ACT_TANH : DGM_ACT_RELU;
        if (kind == 0) {
            cfg.likelihood = DGM_LIK_GAUSSIAN;
            cfg.sigma_predicted = 1;
        } else {
            cfg.n_classes = 3;
        }
        dgm_rng r;
        dgm_rng_init(&r, 21 + (uint64_t)kind);
        dgm_model *m = NULL;
        dgm_err e = {0};
        CHECK(dgm_vae_create(&m, &r, &cfg, &e) == DGM_OK);
        if (!m)
            continue;
        const size_t n = 50;
        float z[50 * 3], a[50 * 30], b[50 * 30];
        int32_t y[50];
        dgm_rng_fill_normal(&r, z, n * 3);
        for (size_t i = 0; i < n; i++)
            y[i] = (int32_t)(i % 3);
        const int32_t *yy = kind ? y : NULL;
        CHECK(dgm_vae_decode(m, a, z, yy, n, &e) == DGM_OK);
        CHECK(dgm_vae_set_precision(m, DGM_PREC_BF16, &e) == DGM_OK);
        CHECK(dgm_vae_decode(m, b, z, yy, n, &e) == DGM_OK);
        double worst = 0;
        for (size_t i = 0; i < n * 30; i++)
            worst = fmax(worst, fabs(a[i] - b[i]));
        CHECK_MSG(worst < 0.02 && worst > 0, "kind %d: worst |bf16 - fp32| %g", kind, worst);
        /* drawn samples through the same decoder, same seed: means close as well */
        float *sa = malloc(n * 30 * sizeof(float)), *sb = malloc(n * 30 * sizeof(float));
        dgm_rng_init(&r, 4);
        CHECK(dgm_model_sample(m, &r, sb, yy, n, 1, &e) == DGM_OK);
        CHECK(dgm_vae_set_precision(m, DGM_PREC_FP32, &e) == DGM_OK);
        dgm_rng_init(&r, 4);
        CHECK(dgm_model_sample(m, &r, sa, yy, n, 1, &e) == DGM_OK);
        worst = 0;
        for (size_t i = 0; i < n * 30; i++)
            worst = fmax(worst, fabs(sa[i] - sb[i]));
        CHECK_MSG(worst < 0.02 && worst > 0, "kind %d: sample means differ by %g", kind, worst);
        free(sa);
        free(sb);
        dgm_model_free(m);
    }
}

#ifndef DGM_HAVE_DNNL
/* Without oneDNN: no products, and the VAE refuses bf16 saying how to get it. */
static void test_unavailable(void)
{
    dgm_vae_cfg cfg = dgm_vae_defaults();
    cfg.dim = 8;
    cfg.hidden[0] = 4;
    dgm_rng r;
    dgm_rng_init(&r, 1);
    dgm_model *m = NULL;
    dgm_err e = {0};
    CHECK(dgm_vae_create(&m, &r, &cfg, &e) == DGM_OK);
    CHECK(dgm_vae_set_precision(m, DGM_PREC_BF16, &e) == DGM_ERR_UNSUPPORTED);
    CHECK(strstr(e.msg, "install libdnnl-dev") != NULL);
    CHECK(dgm_vae_set_precision(m, DGM_PREC_FP32, &e) == DGM_OK);
    float a = 1, c = 0;
    CHECK(dgm_gemm_bf16(DGM_NOTRANS, DGM_NOTRANS, 1, 1, 1, 1, &a, 1, &a, 1, 0, &c, 1, &e) ==
          DGM_ERR_UNSUPPORTED);
    dgm_model_free(m);
}
#endif

int main(void)
{
    TEST_RUN(test_rounding);
    if (dgm_bf16_available()) {
        TEST_RUN(test_gemm);
        TEST_RUN(test_gemm_raw);
        TEST_RUN(test_vae_nll);
        TEST_RUN(test_vae_decode);
    } else {
        const char *why = "no bf16 products in this build or on this CPU (libdnnl-dev, AVX-512)";
        TEST_SKIP(test_gemm, why);
        TEST_SKIP(test_gemm_raw, why);
        TEST_SKIP(test_vae_nll, why);
        TEST_SKIP(test_vae_decode, why);
#ifndef DGM_HAVE_DNNL
        TEST_RUN(test_unavailable);
#endif
    }
    TEST_MAIN_END("test_bf16");
}
