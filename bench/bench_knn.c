/* Seconds for exact k-nearest-neighbour search (dgm_knn_search) and the whole k-NN KL
 * estimate (dgm_kl_knn: two searches, the 10-split standard error and a 1000-replicate
 * bootstrap) at the target, d = 784 with 10^4 samples per side, plus smaller and
 * low-dimensional sizes. The data are Fashion-MNIST (test images against the first
 * training images) when installed, else Gaussian samples.
 * The search is validated first against a plain double-precision brute force on a subset
 * of queries (distances to 1e-9 relative, indices up to ties); the brute force is also
 * timed on that subset and its full-size time extrapolated linearly, for the ratio.
 * Timings are medians of --reps runs after one warm-up run of the smallest size.
 * Reference: llm.c's dev/cpu benchmarks (validate, warm up, time).
 * Usage: bench_knn [--threads N] [--reps R] [--synthetic]. */
#include "dgm_blocks.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REPS 9

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

/* P (n x d) and Q (m x d): Fashion-MNIST test vs train images, or Gaussians. */
static int load_sets(float **P, float **Q, size_t n, size_t m, size_t d, int synthetic,
                     const char **what)
{
    *P = dgm_malloc_array(n, d * sizeof(float));
    *Q = dgm_malloc_array(m, d * sizeof(float));
    if (!*P || !*Q)
        return 0;
    dgm_dataset te, tr;
    dgm_err err;
    if (!synthetic && d == 784 && dgm_data_load(&te, "fashion-mnist:test", NULL, &err) == DGM_OK) {
        if (dgm_data_load(&tr, "fashion-mnist:train", NULL, &err) == DGM_OK) {
            if (te.n >= n && tr.n >= m && te.d == d) {
                memcpy(*P, te.x, n * d * sizeof(float));
                memcpy(*Q, tr.x, m * d * sizeof(float));
                *what = "Fashion-MNIST test vs train images";
                dgm_data_free(&te);
                dgm_data_free(&tr);
                return 1;
            }
            dgm_data_free(&tr);
        }
        dgm_data_free(&te);
    }
    dgm_rng r;
    dgm_rng_init(&r, 1);
    dgm_rng_fill_normal(&r, *P, n * d);
    dgm_rng_fill_normal(&r, *Q, m * d);
    for (size_t i = 0; i < m; i++)
        (*Q)[i * d] += 1.0f;
    *what = "Gaussian N(0, I) vs N(e_1, I)";
    return 1;
}

/* Plain double brute force for queries [0, nq): k-th distance only. Returns seconds. */
static double brute(double *kth, const float *q, size_t nq, const float *ref, size_t m,
                    size_t d, size_t k, int self)
{
    double t0 = now_s(), *best = malloc((k + 1) * sizeof *best);
    for (size_t i = 0; i < nq; i++) {
        size_t cnt = 0;
        for (size_t j = 0; j < m; j++) {
            if (self && j == i)
                continue;
            double s = 0;
            for (size_t t = 0; t < d; t++) {
                double u = (double)q[i * d + t] - ref[j * d + t];
                s += u * u;
            }
            if (cnt == k && s >= best[k - 1])
                continue;
            size_t c = cnt < k ? cnt++ : k - 1; /* when full, the worst is dropped */
            while (c > 0 && best[c - 1] > s)
                best[c] = best[c - 1], c--;
            best[c] = s;
        }
        kth[i] = sqrt(best[k - 1]);
    }
    free(best);
    return now_s() - t0;
}

static int validate(const float *P, const float *Q, size_t n, size_t m, size_t d, size_t k,
                    size_t nq, double *brute_s)
{
    double *got = malloc(n * k * sizeof *got), *want = malloc(nq * sizeof *want);
    dgm_err err;
    int ok = 1;
    *brute_s = 0;
    for (int self = 1; self >= 0 && ok; self--) {
        const float *ref = self ? P : Q;
        size_t mm = self ? n : m;
        if (dgm_knn_search(got, NULL, P, n, ref, mm, d, k, self, &err)) {
            printf("validation: %s\n", err.msg);
            ok = 0;
            break;
        }
        *brute_s += brute(want, P, nq, ref, mm, d, k, self);
        for (size_t i = 0; i < nq && ok; i++)
            if (fabs(got[i * k + k - 1] - want[i]) > 1e-9 * (want[i] + 1e-300)) {
                printf("validation FAILED: query %zu (%s): k-th distance %.17g, brute force "
                       "%.17g\n", i, self ? "P-P" : "P-Q", got[i * k + k - 1], want[i]);
                ok = 0;
            }
    }
    free(got), free(want);
    return ok;
}

static double time_search(const float *P, const float *Q, size_t n, size_t m, size_t d,
                          size_t k, int reps)
{
    double *dist = malloc(n * k * sizeof *dist), t[MAX_REPS];
    dgm_err err;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        dgm_knn_search(dist, NULL, P, n, P, n, d, k, 1, &err);
        dgm_knn_search(dist, NULL, P, n, Q, m, d, k, 0, &err);
        t[r] = now_s() - t0;
    }
    free(dist);
    return median(t, reps);
}

static double time_kl(const float *P, const float *Q, size_t n, size_t m, size_t d, size_t k,
                      int reps, dgm_kl_result *res)
{
    double t[MAX_REPS];
    dgm_knn_cfg cfg = dgm_knn_defaults();
    cfg.k = k;
    dgm_err err;
    for (int r = 0; r < reps; r++) {
        dgm_rng rng;
        dgm_rng_init(&rng, 1);
        double t0 = now_s();
        if (dgm_kl_knn(&rng, res, P, n, Q, m, d, &cfg, &err)) {
            printf("dgm_kl_knn: %s\n", err.msg);
            return NAN;
        }
        t[r] = now_s() - t0;
    }
    return median(t, reps);
}

int main(int argc, char **argv)
{
    long threads = 0, reps = 3;
    int synthetic = 0;
    for (int i = 1; i < argc; i++) {
        char *end;
        errno = 0;
        if (!strcmp(argv[i], "--synthetic")) {
            synthetic = 1;
        } else if ((!strcmp(argv[i], "--threads") || !strcmp(argv[i], "--reps")) && i + 1 < argc) {
            long v = strtol(argv[i + 1], &end, 10);
            if (errno || *end || v < 0 || v > (argv[i][2] == 't' ? 1024 : MAX_REPS) ||
                (argv[i][2] == 'r' && v < 1)) {
                fprintf(stderr, "bench_knn: %s: bad value '%s'\n", argv[i], argv[i + 1]);
                return 2;
            }
            *(argv[i][2] == 't' ? &threads : &reps) = v;
            i++;
        } else {
            printf("usage: bench_knn [--threads N] [--reps R] [--synthetic]\n"
                   "  --threads N  threads for OpenMP and OpenBLAS (default 0 = all cores)\n"
                   "  --reps R     timed runs per size, median reported (default 3, max %d)\n"
                   "  --synthetic  Gaussian data even when Fashion-MNIST is installed\n",
                   MAX_REPS);
            return strcmp(argv[i], "--help") && strcmp(argv[i], "-h") ? 2 : 0;
        }
    }
    dgm_set_threads((int)threads);
    const size_t N = 10000, D = 784;
    float *P, *Q;
    const char *what;
    if (!load_sets(&P, &Q, N, N, D, synthetic, &what)) {
        fprintf(stderr, "bench_knn: out of memory\n");
        return 1;
    }
    printf("k-NN search and k-NN KL, %s; threads %d, matrix products: %s\n", what,
           dgm_get_threads(), dgm_gemm_backend());
    double brute_s;
    if (!validate(P, Q, 2000, 2000, D, 3, 50, &brute_s))
        return 1;
    printf("validated: 2000 x 2000 in 784-D, k = 3, 50 queries vs double brute force: ok\n\n");
    time_search(P, Q, 1000, 1000, D, 1, 1); /* warm-up */
    printf("%7s %7s %5s %3s %12s %12s %14s %9s %10s\n", "n", "m", "d", "k", "search s",
           "kl_knn s", "brute est. s", "speed-up", "KL nats");
    const size_t sizes[][3] = {{1000, 1000, 784}, {10000, 10000, 784}, {10000, 10000, 10},
                               {10000, 10000, 1}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s][0], m = sizes[s][1], d = sizes[s][2], k = 1;
        float *p = P, *q = Q;
        if (d != D) { /* low-dimensional Gaussians */
            p = malloc(n * d * sizeof *p), q = malloc(m * d * sizeof *q);
            dgm_rng r;
            dgm_rng_init(&r, 2);
            dgm_rng_fill_normal(&r, p, n * d);
            dgm_rng_fill_normal(&r, q, m * d);
        } else {
            float *pp = malloc(n * d * sizeof *p), *qq = malloc(m * d * sizeof *q);
            memcpy(pp, P, n * d * sizeof *p);
            memcpy(qq, Q, m * d * sizeof *q);
            p = pp, q = qq;
        }
        double *kth = malloc(20 * sizeof *kth);
        double tb = brute(kth, p, 20, p, n, d, k, 1) + brute(kth, p, 20, q, m, d, k, 0);
        free(kth);
        tb *= (double)n / 20.0;
        dgm_kl_result res;
        double ts = time_search(p, q, n, m, d, k, (int)reps);
        double tk = time_kl(p, q, n, m, d, k, (int)reps, &res);
        printf("%7zu %7zu %5zu %3zu %12.3f %12.3f %14.1f %8.0fx %10.4g\n", n, m, d, k, ts, tk, tb,
               tb / ts, res.kl);
        free(p), free(q);
    }
    printf("\nsearch: both searches of one estimate (P-P excluding self, P-Q); kl_knn adds the "
           "10-split standard error and 1000 bootstrap replicates. brute est.: the double "
           "triple loop timed on 20 queries, scaled to n.\n");
    free(P), free(Q);
    return 0;
}
