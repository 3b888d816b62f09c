/* GFLOP/s of dgm_gemm at the shapes a VAE's Linear layers use with batch 128 (784 -> 400,
 * 400 -> 20, 20 -> 400, 400 -> 784), each layer's three products:
 *   forward  y  = x W^T   (B x O) = (B x I)(O x I)^T   NOTRANS, TRANS
 *   backward dW += dy^T x (O x I) = (B x O)^T (B x I)  TRANS, NOTRANS
 *   backward dx += dy W   (B x I) = (B x O)(O x I)     NOTRANS, NOTRANS
 * next to the plain triple loop dgm_gemm_ref and the machine's square 1024^3 figure.
 * Every shape is validated against dgm_gemm_ref before it is timed; timings are medians of
 * CLOCK_MONOTONIC intervals after warm-up calls. Reference: llm.c dev/cpu/matmul_forward.c
 * (validate, warm up, time). Left out: batch sizes other than 128, and the reference loop
 * at 1024^3 is timed on its first 64 rows only (a full run would take seconds).
 * --backends prints instead the table of issue #18: the VAE's and the protein model's six
 * products on every backend built in (dgm_gemm_set_backend: openblas, dnnl, plain) at 1 and
 * 2 threads, GFLOP/s of the best of N calls, the backends and thread counts interleaved
 * call by call so that a drift in the machine's speed reaches all of them alike, and the
 * load average before and after.
 * Usage: bench_gemm [--threads N] [--budget SECONDS_PER_SHAPE] | --backends [--best N]. */
#include "dgm_blocks.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REPS 400

typedef struct {
    const char *layer, *what;
    dgm_trans ta, tb;
    size_t M, N, K;
} shape;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static float *random_matrix(dgm_rng *r, size_t n)
{
    float *p = dgm_malloc_array(n, sizeof(float));
    if (p)
        for (size_t i = 0; i < n; i++)
            p[i] = 2 * dgm_rng_uniform(r) - 1;
    return p;
}

/* Median seconds per call of gemm (dgm_gemm or dgm_gemm_ref) on rows [0, M) of C, after
 * `warm` untimed calls, repeating until `budget` seconds or MAX_REPS calls. */
static double time_gemm(int ref, const shape *s, size_t M, const float *A, const float *B,
                        float *C, int warm, double budget, int min_reps)
{
    size_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    double t[MAX_REPS];
    int n = 0;
    for (int i = 0; i < warm; i++)
        (ref ? dgm_gemm_ref : dgm_gemm)(s->ta, s->tb, M, s->N, s->K, 1.0f, A, lda, B, ldb,
                                        1.0f, C, s->N);
    double start = now_s();
    while (n < MAX_REPS && (n < min_reps || now_s() - start < budget)) {
        double t0 = now_s();
        (ref ? dgm_gemm_ref : dgm_gemm)(s->ta, s->tb, M, s->N, s->K, 1.0f, A, lda, B, ldb,
                                        1.0f, C, s->N);
        t[n++] = now_s() - t0;
    }
    return median(t, n);
}

/* Max |dgm_gemm - dgm_gemm_ref| over rows [0, M) from the same C; -1 on allocation failure. */
static double validate(const shape *s, size_t M, const float *A, const float *B,
                       const float *C0)
{
    size_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    float *c1 = dgm_malloc_array(M * s->N, sizeof(float));
    float *c2 = dgm_malloc_array(M * s->N, sizeof(float));
    if (!c1 || !c2) {
        dgm_free(c1);
        dgm_free(c2);
        return -1;
    }
    memcpy(c1, C0, M * s->N * sizeof(float));
    memcpy(c2, C0, M * s->N * sizeof(float));
    dgm_gemm(s->ta, s->tb, M, s->N, s->K, 0.5f, A, lda, B, ldb, 1.0f, c1, s->N);
    dgm_gemm_ref(s->ta, s->tb, M, s->N, s->K, 0.5f, A, lda, B, ldb, 1.0f, c2, s->N);
    double err = 0;
    for (size_t i = 0; i < M * s->N; i++) {
        double e = fabs((double)c1[i] - c2[i]);
        err = e > err || e != e ? e : err;
    }
    dgm_free(c1);
    dgm_free(c2);
    return err;
}

static void print_loadavg(const char *when)
{
    char buf[64] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = 0;
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = 0;
    printf("load average %s: %s\n", when, buf[0] ? buf : "unknown");
}

/* The table of issue #18 (see the top of this file). Returns non-zero when a backend's
 * product differs from dgm_gemm_ref. */
static int backends_table(int best)
{
    static const struct { const char *what; dgm_trans ta, tb; size_t M, N, K; } sh[] = {
        {"encoder        128x784 . 784x400", DGM_NOTRANS, DGM_TRANS, 128, 400, 784},
        {"decoder        128x400 . 400x784", DGM_NOTRANS, DGM_TRANS, 128, 784, 400},
        {"latent         128x400 . 400x20", DGM_NOTRANS, DGM_TRANS, 128, 20, 400},
        {"weight grad    784x128 . 128x400", DGM_TRANS, DGM_NOTRANS, 784, 400, 128},
        {"evaluation    4000x400 . 400x784", DGM_NOTRANS, DGM_TRANS, 4000, 784, 400},
        {"protein out    100x500 . 500x5060", DGM_NOTRANS, DGM_NOTRANS, 100, 5060, 500},
    };
    const char *names[] = {"openblas", "dnnl", "plain"};
    int have[3], nb = 0, status = 0;
    for (int b = 0; b < 3; b++) {
        have[b] = dgm_gemm_set_backend(names[b], NULL) == DGM_OK;
        if (have[b]) {
            printf("backend %-8s %s\n", names[b], dgm_gemm_backend());
            nb++;
        }
    }
    printf("GFLOP/s (2MNK / seconds) of the best of %d calls after 2 warm-up calls, C = A B "
           "(alpha 1, beta 0); row-major, the products as the models call them (B given as "
           "its transpose where the model holds W)\n", best);
    print_loadavg("before");
    printf("\n%-34s", "product (M x K . K x N)");
    for (int t = 1; t <= 2; t++)
        for (int b = 0; b < 3; b++)
            if (have[b])
                printf(" %8.8s/%d", names[b], t);
    printf("   max err\n");
    dgm_rng r;
    dgm_rng_init(&r, 11);
    for (size_t k = 0; k < sizeof sh / sizeof sh[0]; k++) {
        shape s = {"", "", sh[k].ta, sh[k].tb, sh[k].M, sh[k].N, sh[k].K};
        size_t ra = s.ta ? s.K : s.M, ca = s.ta ? s.M : s.K;
        size_t rb = s.tb ? s.N : s.K, cb = s.tb ? s.K : s.N;
        size_t lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
        float *A = random_matrix(&r, ra * ca), *B = random_matrix(&r, rb * cb);
        float *C = random_matrix(&r, s.M * s.N);
        if (!A || !B || !C) {
            fprintf(stderr, "bench_gemm: out of memory at %zux%zux%zu\n", s.M, s.N, s.K);
            return 1;
        }
        /* validate each backend on the first rows (at most 64: the reference is slow) */
        double maxerr = 0;
        size_t Mref = s.M < 64 ? s.M : 64;
        for (int b = 0; b < 3; b++) {
            if (!have[b])
                continue;
            dgm_gemm_set_backend(names[b], NULL);
            double err = validate(&s, Mref, A, B, C);
            if (err < 0 || !(err <= 1e-5 * (double)(s.K + 1))) {
                fprintf(stderr, "bench_gemm: %s: %s differs from dgm_gemm_ref by %g\n",
                        sh[k].what, names[b], err);
                status = 1;
            }
            maxerr = err > maxerr ? err : maxerr;
        }
        /* the plain loop gets fewer calls where one takes long */
        double best_t[2][3];
        for (int t = 0; t < 2; t++)
            for (int b = 0; b < 3; b++)
                best_t[t][b] = INFINITY;
        for (int rep = -2; rep < best; rep++)
            for (int t = 0; t < 2; t++)
                for (int b = 0; b < 3; b++) {
                    if (!have[b] || (b == 2 && rep >= 1 && best_t[t][b] > 0.2))
                        continue;
                    dgm_gemm_set_backend(names[b], NULL);
                    dgm_set_threads(t + 1);
                    double t0 = now_s();
                    dgm_gemm(s.ta, s.tb, s.M, s.N, s.K, 1.0f, A, lda, B, ldb, 0.0f, C, s.N);
                    double dt = now_s() - t0;
                    if (rep >= 0 && dt < best_t[t][b])
                        best_t[t][b] = dt;
                }
        double flop = 2.0 * (double)s.M * s.N * s.K;
        printf("%-34s", sh[k].what);
        for (int t = 0; t < 2; t++)
            for (int b = 0; b < 3; b++)
                if (have[b])
                    printf(" %10.1f", flop / best_t[t][b] * 1e-9);
        printf("   %7.2g\n", maxerr);
        fflush(stdout);
        dgm_free(A);
        dgm_free(B);
        dgm_free(C);
    }
    print_loadavg("after");
    dgm_gemm_set_backend(NULL, NULL);
    (void)nb;
    return status;
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return 0;
    *out = v;
    return 1;
}

int main(int argc, char **argv)
{
    double threads = 0, budget = 0.25, best = 5;
    int table = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: bench_gemm [--threads N] [--budget S] | --backends [--best N]\n"
                   "  --threads N  threads for OpenMP and OpenBLAS (default 0 = all cores)\n"
                   "  --budget S   seconds of timing per shape (default 0.25)\n"
                   "  --backends   the six products of issue #18 on every backend built in,\n"
                   "               at 1 and 2 threads\n"
                   "  --best N     --backends: best of N calls (default 5)\n");
            return 0;
        } else if (!strcmp(argv[i], "--backends")) {
            table = 1;
        } else if (!strcmp(argv[i], "--best") && i + 1 < argc) {
            if (!parse_num(argv[++i], 1, 1000, &best) || best != (int)best) {
                fprintf(stderr, "bench_gemm: --best: not an integer in [1, 1000]: %s\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (!parse_num(argv[++i], 0, 1024, &threads) || threads != (int)threads) {
                fprintf(stderr, "bench_gemm: --threads: not an integer in [0, 1024]: %s\n",
                        argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--budget") && i + 1 < argc) {
            if (!parse_num(argv[++i], 0.001, 10, &budget)) {
                fprintf(stderr, "bench_gemm: --budget: not a number in [0.001, 10]: %s\n",
                        argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "bench_gemm: unknown or incomplete option: %s\n", argv[i]);
            return 2;
        }
    }
    if (table)
        return backends_table((int)best);
    dgm_set_threads((int)threads);

    const size_t Bt = 128;
    const size_t layers[][2] = {{784, 400}, {400, 20}, {20, 400}, {400, 784}};
    const char *names[] = {"784->400", "400->20", "20->400", "400->784"};
    shape sh[13];
    int ns = 0;
    for (int l = 0; l < 4; l++) {
        size_t I = layers[l][0], O = layers[l][1];
        sh[ns++] = (shape){names[l], "fwd  y=x W^T", DGM_NOTRANS, DGM_TRANS, Bt, O, I};
        sh[ns++] = (shape){names[l], "bwd dW=dy^T x", DGM_TRANS, DGM_NOTRANS, O, I, Bt};
        sh[ns++] = (shape){names[l], "bwd dx=dy W", DGM_NOTRANS, DGM_NOTRANS, Bt, I, O};
    }
    sh[ns++] = (shape){"square", "1024^3", DGM_NOTRANS, DGM_NOTRANS, 1024, 1024, 1024};

    printf("dgm_gemm benchmark: batch %zu, VAE layer products and a square product\n", Bt);
    printf("backend: %s\n", dgm_gemm_backend());
    printf("threads: %d\n", dgm_get_threads());
    /* other processes on the cores make multi-threaded medians meaningless: say so */
    FILE *la = fopen("/proc/loadavg", "r");
    double load1 = -1;
    if (la) {
        if (fscanf(la, "%lf", &load1) != 1)
            load1 = -1;
        fclose(la);
    }
    if (load1 >= 0)
        printf("load average (1 min) at start: %.2f%s\n", load1,
               load1 > 0.5 ? " (busy: multi-threaded timings are unreliable)" : "");
#ifdef __VERSION__
    printf("compiler: %s, optimize %s, AVX2 %s, AVX-512F %s, FMA %s (Makefile default "
           "-O2 -march=native)\n", __VERSION__,
#ifdef __OPTIMIZE__
           "on",
#else
           "off",
#endif
#ifdef __AVX2__
           "yes",
#else
           "no",
#endif
#ifdef __AVX512F__
           "yes",
#else
           "no",
#endif
#ifdef __FMA__
           "yes");
#else
           "no");
#endif
#endif
    printf("timing: median of CLOCK_MONOTONIC per call, %.2f s per shape after 3 warm-up "
           "calls; ref timed once (3 calls below 20 MFLOP)\n\n", budget);
    printf("%-9s %-14s %5s %5s %5s %3s  %9s %9s %9s %8s %9s\n", "layer", "product", "M", "N",
           "K", "op", "dgm ms", "GFLOP/s", "ref GF/s", "speedup", "max err");

    dgm_rng r;
    dgm_rng_init(&r, 7);
    double vae_ms = 0, vae_flop = 0;
    int status = 0;
    for (int k = 0; k < ns; k++) {
        const shape *s = &sh[k];
        size_t ra = s->ta ? s->K : s->M, ca = s->ta ? s->M : s->K;
        size_t rb = s->tb ? s->N : s->K, cb = s->tb ? s->K : s->N;
        float *A = random_matrix(&r, ra * ca), *B = random_matrix(&r, rb * cb);
        float *C = random_matrix(&r, s->M * s->N);
        if (!A || !B || !C) {
            fprintf(stderr, "bench_gemm: out of memory at %zux%zux%zu\n", s->M, s->N, s->K);
            return 1;
        }
        int square = !strcmp(s->layer, "square");
        /* the reference loop on the first 64 rows only for the square product (NOTRANS A,
         * so those rows of A and C are a contiguous prefix) */
        size_t Mref = square ? 64 : s->M;
        double err = validate(s, Mref, A, B, C);
        double flop = 2.0 * (double)s->M * s->N * s->K;
        if (err < 0 || !(err <= 1e-5 * (double)(s->K + 1))) {
            fprintf(stderr, "bench_gemm: %s %s: dgm_gemm differs from dgm_gemm_ref by %g\n",
                    s->layer, s->what, err);
            status = 1;
        }
        double t = time_gemm(0, s, s->M, A, B, C, 3, budget, 5);
        double ref_flop = 2.0 * (double)Mref * s->N * s->K;
        double tr = time_gemm(1, s, Mref, A, B, C, 0, 0, ref_flop < 2e7 ? 3 : 1);
        double gf = flop / t * 1e-9, gf_ref = ref_flop / tr * 1e-9;
        printf("%-9s %-14s %5zu %5zu %5zu  %c%c  %9.3f %9.1f %9.2f %7.1fx %9.2g%s\n",
               s->layer, s->what, s->M, s->N, s->K, s->ta ? 'T' : 'N', s->tb ? 'T' : 'N',
               1e3 * t, gf, gf_ref, gf / gf_ref, err, square ? "  (ref: 64 rows)" : "");
        if (!square) {
            vae_ms += 1e3 * t;
            vae_flop += flop;
        }
        dgm_free(A);
        dgm_free(B);
        dgm_free(C);
    }
    printf("\nall %d VAE products: %.3f ms per training step of batch %zu (%.1f GFLOP/s "
           "overall)\n", ns - 1, vae_ms, Bt, vae_flop / vae_ms * 1e-6);
    return status;
}
