/* k-means (src/models/mixture/kmeans.c), the initialisation of the Gaussian and Bernoulli mixtures:
 * the seeding is scikit-learn's greedy k-means++ draw for draw (against a reference written
 * here in double), Lloyd's iterations never increase the inertia and end at a fixed point
 * (labels nearest, centres the means of their rows), the result is bit for bit the same
 * for a seed whatever the thread count, and duplicated points (empty clusters) are
 * handled. Data on a small integer grid make every distance exact in float32, so the
 * reference and the GEMM-based distances agree exactly. */
#include "dgm_blocks.h"
#include "test.h"

#include <stdint.h>

dgm_status dgm__kmeans(dgm_rng *rng, int32_t *labels, float *centers, const float *x,
                       size_t n, size_t D, size_t K, int max_iter, double tol, int *n_iter,
                       dgm_err *err);

static double sq(const float *a, const float *b, size_t D)
{
    double s = 0;
    for (size_t j = 0; j < D; j++)
        s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
    return s;
}

/* Sum over rows of the squared distance to the nearest centre. */
static double potential(const float *x, const float *c, size_t n, size_t D, size_t K)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double best = INFINITY;
        for (size_t k = 0; k < K; k++) {
            double d = sq(x + i * D, c + k * D, D);
            best = d < best ? d : best;
        }
        s += best;
    }
    return s;
}

/* Rows in G overlapping clusters on the integer grid [0, 16)^D. */
static float *grid_data(uint64_t seed, size_t n, size_t D, size_t G)
{
    dgm_rng r;
    dgm_rng_init(&r, seed);
    float *x = malloc(n * D * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        size_t g = (size_t)dgm_rng_below(&r, G);
        for (size_t j = 0; j < D; j++) {
            double v = floor(2.0 + 11.0 * (double)((g * 7 + j * 3) % G) / (double)G +
                             2.0 * dgm_rng_normal(&r));
            x[i * D + j] = (float)(v < 0 ? 0 : v > 15 ? 15 : v);
        }
    }
    return x;
}

/* scikit-learn's _kmeans_plusplus with dgm's generator: the first centre uniform, then
 * 2 + floor(ln K) candidates per step drawn with probability proportional to the squared
 * distance to the nearest centre (numpy's searchsorted on the cumulative sum), the one
 * that leaves the smallest potential kept. max_iter 0 returns exactly these seeds. */
static void test_seeding_greedy(void)
{
    enum { N = 400, D = 4, K = 9 }; /* ln 9 = 2.2: 4 candidates per step */
    const size_t trials = 4;
    float *x = grid_data(5, N, D, 6);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        float got[K * D], want[K * D];
        int32_t lab[N];
        int it = -1;
        dgm_err err = {0};
        dgm_rng r;
        dgm_rng_init(&r, seed);
        CHECK(dgm__kmeans(&r, lab, got, x, N, D, K, 0, 1e-4, &it, &err) == DGM_OK);
        CHECK_EQ_INT(it, 0);

        dgm_rng_init(&r, seed);
        double closest[N], cum[N], cand_pot[16];
        size_t first = (size_t)dgm_rng_below(&r, N);
        memcpy(want, x + first * D, D * sizeof(float));
        double pot = 0;
        for (size_t i = 0; i < N; i++)
            pot += closest[i] = sq(x + i * D, want, D);
        for (size_t c = 1; c < K; c++) {
            double acc = 0;
            for (size_t i = 0; i < N; i++)
                cum[i] = acc += closest[i];
            size_t cand[16], best = 0;
            for (size_t t = 0; t < trials; t++) {
                double u = dgm_rng_uniform_d(&r) * pot;
                size_t idx = 0;
                while (idx < N - 1 && cum[idx] <= u)
                    idx++;
                cand[t] = idx;
                cand_pot[t] = 0;
                for (size_t i = 0; i < N; i++) {
                    double d = sq(x + i * D, x + idx * D, D);
                    cand_pot[t] += d < closest[i] ? d : closest[i];
                }
                if (cand_pot[t] < cand_pot[best])
                    best = t;
            }
            for (size_t i = 0; i < N; i++) {
                double d = sq(x + i * D, x + cand[best] * D, D);
                closest[i] = d < closest[i] ? d : closest[i];
            }
            pot = cand_pot[best];
            memcpy(want + c * D, x + cand[best] * D, D * sizeof(float));
        }
        CHECK_MSG(!memcmp(got, want, sizeof got), "seed %llu: seeds differ from greedy "
                  "k-means++", (unsigned long long)seed);
        CHECK_NEAR(potential(x, got, N, D, K), pot, 1e-9 * pot);
    }
    free(x);
}

/* Lloyd from the same seeds, stopped after t = 0, 1, 2, ... iterations (each run ends with
 * an assignment to its centres): the inertia never increases, and the last run ends at a
 * fixed point. */
static void test_lloyd_monotone(void)
{
    enum { N = 900, D = 6, K = 7 };
    float *x = grid_data(11, N, D, 5);
    float c[K * D];
    int32_t lab[N];
    dgm_err err = {0};
    double prev = INFINITY;
    int last_it = 0, t;
    for (t = 0; t <= 300; t++) {
        dgm_rng r;
        dgm_rng_init(&r, 4);
        int it = 0;
        CHECK(dgm__kmeans(&r, lab, c, x, N, D, K, t, 0.0, &it, &err) == DGM_OK);
        double in = 0;
        for (size_t i = 0; i < N; i++)
            in += sq(x + i * D, c + (size_t)lab[i] * D, D);
        CHECK_MSG(in <= prev * (1 + 1e-12), "inertia rose from %.10g to %.10g at %d", prev,
                  in, t);
        prev = in;
        if (it < t) { /* converged before the cap: a fixed point */
            last_it = it;
            break;
        }
    }
    CHECK(last_it >= 2 && t <= 300);
    /* every label is a nearest centre, every centre the mean of its rows */
    for (size_t i = 0; i < N; i++) {
        double own = sq(x + i * D, c + (size_t)lab[i] * D, D);
        for (size_t k = 0; k < K; k++)
            CHECK(own <= sq(x + i * D, c + k * D, D) + 1e-9);
    }
    for (size_t k = 0; k < K; k++) {
        double s[D] = {0};
        size_t cnt = 0;
        for (size_t i = 0; i < N; i++)
            if (lab[i] == (int32_t)k) {
                cnt++;
                for (size_t j = 0; j < D; j++)
                    s[j] += x[i * D + j];
            }
        CHECK(cnt > 0);
        for (size_t j = 0; cnt && j < D; j++)
            CHECK_NEAR(c[k * D + j], s[j] / (double)cnt, 1e-5);
    }
    free(x);
}

/* Same seed, 1 or 2 threads: identical labels, centres and iteration count (fixed chunks of
 * rows, summed in chunk order; a race or a per-thread random stream would show here). Big
 * enough for the parallel regions and several chunks, and off the grid. */
static void test_threads_identical(void)
{
    enum { N = 5000, D = 24, K = 12 };
    float *x = grid_data(21, N, D, 9);
    dgm_rng nr;
    dgm_rng_init(&nr, 22);
    for (size_t i = 0; i < N * D; i++)
        x[i] += (float)(0.37 * dgm_rng_normal(&nr));
    float c1[K * D], c2[K * D], c3[K * D];
    int32_t *l1 = malloc(N * sizeof(int32_t)), *l2 = malloc(N * sizeof(int32_t));
    int32_t *l3 = malloc(N * sizeof(int32_t));
    int i1 = 0, i2 = 0, i3 = 0;
    dgm_err err = {0};
    int saved = dgm_get_threads();
    dgm_rng r;
    dgm_set_threads(1);
    dgm_rng_init(&r, 8);
    CHECK(dgm__kmeans(&r, l1, c1, x, N, D, K, 300, 1e-4, &i1, &err) == DGM_OK);
    dgm_set_threads(2);
    dgm_rng_init(&r, 8);
    CHECK(dgm__kmeans(&r, l2, c2, x, N, D, K, 300, 1e-4, &i2, &err) == DGM_OK);
    dgm_rng_init(&r, 9);
    CHECK(dgm__kmeans(&r, l3, c3, x, N, D, K, 300, 1e-4, &i3, &err) == DGM_OK);
    dgm_set_threads(saved);
    CHECK_EQ_INT(i1, i2);
    CHECK(!memcmp(l1, l2, N * sizeof(int32_t)));
    CHECK(!memcmp(c1, c2, sizeof c1));
    CHECK(memcmp(c1, c3, sizeof c1)); /* and the seed matters */
    free(x);
    free(l1);
    free(l2);
    free(l3);
}

/* Two distinct points and K = 4: seeding runs out of potential, Lloyd empties clusters.
 * Labels stay in range, centres finite and on the points, inertia 0. */
static void test_duplicates(void)
{
    enum { N = 50, D = 3, K = 4 };
    float x[N * D], c[K * D];
    int32_t lab[N];
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < D; j++)
            x[i * D + j] = (float)(i % 2 ? 1.0 + (double)j : -2.0);
    dgm_rng r;
    dgm_rng_init(&r, 2);
    dgm_err err = {0};
    int it = 0;
    CHECK(dgm__kmeans(&r, lab, c, x, N, D, K, 300, 1e-4, &it, &err) == DGM_OK);
    double in = 0;
    for (size_t i = 0; i < N; i++) {
        CHECK(lab[i] >= 0 && lab[i] < K);
        if (lab[i] >= 0 && lab[i] < K)
            in += sq(x + i * D, c + (size_t)lab[i] * D, D);
    }
    CHECK(dgm_all_finite(c, K * D));
    CHECK_NEAR(in, 0, 0);
}

int main(void)
{
    TEST_RUN(test_seeding_greedy);
    TEST_RUN(test_lloyd_monotone);
    TEST_RUN(test_threads_identical);
    TEST_RUN(test_duplicates);
    TEST_MAIN_END("test_gmm_kmeans");
}
