/* Elementwise operations, row-wise log-sum-exp and softmax, and reductions accumulated in
 * double (STYLE.md: double accumulators for sums over data sets). */
#include "dgm_blocks.h"
#include "core/par.h"

#include <math.h>

void dgm_fill(float *x, float v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = v;
}

/* Elementwise loops of DGM__PAR_MIN elements and more are split over threads: the VAE
 * step's gradient scaling and checks touch 100k to 650k floats, and a serial loop there
 * leaves the other core idle between the threaded matrix products. */

void dgm_scale(float *x, float a, size_t n)
{
    long nl = (long)n;
#pragma omp parallel for simd schedule(static) if (n >= DGM__PAR_MIN)
    for (long i = 0; i < nl; i++)
        x[i] *= a;
}

void dgm_axpy(float *y, float a, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

void dgm_add_row_bias(float *y, const float *bias, size_t B, size_t N)
{
    for (size_t b = 0; b < B; b++) {
        float *r = y + b * N;
        for (size_t j = 0; j < N; j++)
            r[j] += bias[j];
    }
}

void dgm_sum_rows(float *db, const float *dy, size_t B, size_t N)
{
    /* Column sums: walk rows for contiguous reads, accumulate in double per column in
     * chunks so that the accumulator array stays on the stack. */
    enum { CHUNK = 256 };
    long nc = (long)((N + CHUNK - 1) / CHUNK);
    /* column chunks are independent: threads change no sum's order */
#pragma omp parallel for schedule(static) if (B * N >= DGM__PAR_MIN && nc > 1)
    for (long c = 0; c < nc; c++) {
        double acc[CHUNK];
        size_t j0 = (size_t)c * CHUNK, w = N - j0 < CHUNK ? N - j0 : CHUNK;
        for (size_t j = 0; j < w; j++)
            acc[j] = 0;
        for (size_t b = 0; b < B; b++) {
            const float *r = dy + b * N + j0;
            for (size_t j = 0; j < w; j++)
                acc[j] += r[j];
        }
        for (size_t j = 0; j < w; j++)
            db[j0 + j] += (float)acc[j];
    }
}

double dgm_sum(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s;
}

double dgm_dot(const float *x, const float *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * y[i];
    return s;
}

double dgm_sumsq(const float *x, size_t n) { return dgm_dot(x, x, n); }

void dgm_logsumexp_rows(float *out, const float *x, size_t B, size_t N)
{
    for (size_t b = 0; b < B; b++) {
        const float *r = x + b * N;
        float m = -INFINITY;
        for (size_t j = 0; j < N; j++)
            if (r[j] > m)
                m = r[j];
        if (m == -INFINITY || m == INFINITY) { /* all -inf (empty mass) or an +inf entry */
            out[b] = m;
            continue;
        }
        double s = 0;
        for (size_t j = 0; j < N; j++)
            s += exp((double)(r[j] - m));
        out[b] = (float)(m + log(s));
    }
}

double dgm_logsumexp_d(const double *x, size_t n)
{
    double m = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (x[i] > m)
            m = x[i];
    if (m == -INFINITY || m == INFINITY)
        return m;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += exp(x[i] - m);
    return m + log(s);
}

void dgm_softmax_rows(float *y, const float *x, size_t B, size_t N)
{
    for (size_t b = 0; b < B; b++) {
        const float *r = x + b * N;
        float *o = y + b * N;
        float m = -INFINITY;
        for (size_t j = 0; j < N; j++)
            if (r[j] > m)
                m = r[j];
        double s = 0;
        for (size_t j = 0; j < N; j++) {
            o[j] = expf(r[j] - m);
            s += o[j];
        }
        float inv = (float)(1.0 / s);
        for (size_t j = 0; j < N; j++)
            o[j] *= inv;
    }
}

int dgm_all_finite(const float *x, size_t n)
{
    /* x * 0 is 0 for finite x and NaN for infinities and NaN, so one vectorised sum
     * answers for a block; the VAE checks its whole gradient every step. */
    long nb = (long)((n + 4095) / 4096);
    int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) if (n >= DGM__PAR_MIN)
    for (long b = 0; b < nb; b++) {
        size_t i0 = (size_t)b * 4096, i1 = n - i0 < 4096 ? n : i0 + 4096;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (size_t i = i0; i < i1; i++)
            acc += x[i] * 0.0f;
        bad |= acc != 0.0f;
    }
    return !bad;
}
