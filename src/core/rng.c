/* Philox-4x32-10 counter-based generator (Salmon, Moraes, Dror, Shaw: "Parallel random
 * numbers: as easy as 1, 2, 3", SC'11), with the round constants of Random123.
 * Block i of stream s under seed k is philox({i_lo, i_hi, s_lo, s_hi}, {k_lo, k_hi}), so any
 * block can be computed without the ones before it; dgm_rng_fork derives new stream ids.
 * Left out: skip-ahead by arbitrary word counts (not needed: fork per unit of work). */
#include "dgm.h"
#include "core/assert.h"
#include "core/fastmath.h"

#include <math.h>
#include <string.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void dgm__philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

static void refill(dgm_rng *r)
{
    uint32_t ctr[4] = {(uint32_t)r->counter, (uint32_t)(r->counter >> 32),
                       (uint32_t)r->stream, (uint32_t)(r->stream >> 32)};
    uint32_t key[2] = {(uint32_t)r->key, (uint32_t)(r->key >> 32)};
    dgm__philox4x32_10(r->buf, ctr, key);
    r->counter++;
    r->pos = 0;
}

void dgm_rng_init(dgm_rng *rng, uint64_t seed)
{
    rng->key = seed;
    rng->stream = 0;
    rng->counter = 0;
    rng->pos = 4;
    rng->has_spare = 0;
    rng->spare = 0;
}

void dgm_rng_fork(dgm_rng *child, const dgm_rng *parent, uint64_t index)
{
    /* The child stream id is a Philox block of (index, parent stream) under a key that
     * differs from the data key, so fork ids and ordinary output never coincide. */
    uint32_t ctr[4] = {(uint32_t)index, (uint32_t)(index >> 32),
                       (uint32_t)parent->stream, (uint32_t)(parent->stream >> 32)};
    uint32_t key[2] = {(uint32_t)parent->key ^ 0x5bd1e995u,
                       (uint32_t)(parent->key >> 32) ^ 0x1b873593u};
    uint32_t out[4];
    dgm__philox4x32_10(out, ctr, key);
    dgm_rng_init(child, parent->key);
    child->stream = (uint64_t)out[0] | ((uint64_t)out[1] << 32);
}

uint32_t dgm_rng_u32(dgm_rng *rng)
{
    if (rng->pos >= 4)
        refill(rng);
    return rng->buf[rng->pos++];
}

uint64_t dgm_rng_u64(dgm_rng *rng)
{
    uint64_t lo = dgm_rng_u32(rng);
    return lo | ((uint64_t)dgm_rng_u32(rng) << 32);
}

float dgm_rng_uniform(dgm_rng *rng)
{
    return (float)(dgm_rng_u32(rng) >> 8) * (1.0f / 16777216.0f);
}

double dgm_rng_uniform_d(dgm_rng *rng)
{
    return (double)(dgm_rng_u64(rng) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t dgm_rng_below(dgm_rng *rng, uint64_t n)
{
    DGM_ASSERT(n > 0);
    /* Reject the top partial range so every residue is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = dgm_rng_u64(rng);
    while (x >= limit);
    return x % n;
}

double dgm_rng_normal(dgm_rng *rng)
{
    if (rng->has_spare) {
        rng->has_spare = 0;
        return rng->spare;
    }
    double u1 = 1.0 - dgm_rng_uniform_d(rng); /* (0, 1]: log stays finite */
    double u2 = dgm_rng_uniform_d(rng);
    double r = sqrt(-2.0 * log(u1));
    double t = 6.283185307179586 * u2;
    rng->spare = r * sin(t);
    rng->has_spare = 1;
    return r * cos(t);
}

int dgm_rng_bernoulli(dgm_rng *rng, double p)
{
    return dgm_rng_uniform_d(rng) < p;
}

size_t dgm_rng_categorical(dgm_rng *rng, const double *p, size_t n)
{
    DGM_ASSERT(n > 0);
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += p[i];
    double u = dgm_rng_uniform_d(rng) * total, acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc += p[i];
        if (u < acc && p[i] > 0)
            return i;
    }
    /* Rounding can leave u just above the last partial sum: take the last nonzero. */
    for (size_t i = n; i-- > 0;)
        if (p[i] > 0)
            return i;
    return n - 1;
}

size_t dgm_rng_categorical_logits(dgm_rng *rng, const float *logits, size_t n)
{
    DGM_ASSERT(n > 0);
    size_t best = 0;
    double best_v = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double u = ((double)(dgm_rng_u32(rng) >> 8) + 0.5) * (1.0 / 16777216.0);
        double g = (double)logits[i] - log(-log(u));
        if (g > best_v) {
            best_v = g;
            best = i;
        }
    }
    return best;
}

/* nb consecutive blocks (counters ctr0, ctr0+1, ...) of one stream, laid out as the
 * scalar generator would produce them. Lanes of LANES blocks are computed together in
 * plain loops that the compiler turns into SIMD code (32x32->64 multiplies). */
#define LANES 16
static void philox_blocks(uint32_t *out, uint64_t key, uint64_t stream, uint64_t ctr0,
                          size_t nb)
{
    for (size_t b0 = 0; b0 < nb; b0 += LANES) {
        size_t w = nb - b0 < LANES ? nb - b0 : LANES;
        uint32_t c0[LANES], c1[LANES], c2[LANES], c3[LANES];
        for (size_t l = 0; l < LANES; l++) {
            uint64_t c = ctr0 + b0 + l;
            c0[l] = (uint32_t)c;
            c1[l] = (uint32_t)(c >> 32);
            c2[l] = (uint32_t)stream;
            c3[l] = (uint32_t)(stream >> 32);
        }
        uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
        for (int r = 0; r < 10; r++) {
            for (size_t l = 0; l < LANES; l++) {
                uint64_t p0 = (uint64_t)PHILOX_M0 * c0[l];
                uint64_t p1 = (uint64_t)PHILOX_M1 * c2[l];
                uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[l] ^ k0;
                uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[l] ^ k1;
                c1[l] = (uint32_t)p1;
                c3[l] = (uint32_t)p0;
                c0[l] = n0;
                c2[l] = n2;
            }
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        for (size_t l = 0; l < w; l++) {
            uint32_t *o = out + 4 * (b0 + l);
            o[0] = c0[l]; o[1] = c1[l]; o[2] = c2[l]; o[3] = c3[l];
        }
    }
}

void dgm_rng_fill_uniform(dgm_rng *rng, float *out, size_t n)
{
    size_t i = 0;
    while (i < n && rng->pos < 4) /* finish the current block first */
        out[i++] = dgm_rng_uniform(rng);
    /* whole blocks in bulk: the same words, in the same order, as one at a time */
    uint32_t buf[4 * 64];
    while (n - i >= 4) {
        size_t nb = (n - i) / 4 < 64 ? (n - i) / 4 : 64;
        philox_blocks(buf, rng->key, rng->stream, rng->counter, nb);
        rng->counter += nb;
        for (size_t j = 0; j < 4 * nb; j++)
            out[i + j] = (float)(buf[j] >> 8) * (1.0f / 16777216.0f);
        i += 4 * nb;
    }
    while (i < n)
        out[i++] = dgm_rng_uniform(rng);
}

/* Bulk normals: Box-Muller on 24-bit uniforms with the float polynomial log of
 * core/fastmath.h and a polynomial sin/cos (relative error below 1e-6), so that the loop
 * vectorises; glibc's logf and sincosf are scalar calls, ten times slower here. They start
 * on a fresh block (the rest of a partly used one and a spare are dropped), so a freshly
 * forked stream gives the same numbers however its draws are split into whole blocks. */
#define NORMAL_CHUNK (4 * 64)
void dgm_rng_fill_normal(dgm_rng *rng, float *out, size_t n)
{
    uint32_t w[NORMAL_CHUNK];
    float tmp[NORMAL_CHUNK];
    rng->pos = 4;
    rng->has_spare = 0;
    for (size_t a = 0; a < n; a += NORMAL_CHUNK) {
        size_t m = n - a < NORMAL_CHUNK ? n - a : NORMAL_CHUNK, pairs = (m + 1) / 2;
        size_t nb = (2 * pairs + 3) / 4;
        philox_blocks(w, rng->key, rng->stream, rng->counter, nb);
        rng->counter += nb;
#pragma omp simd
        for (size_t i = 0; i < pairs; i++) {
            float u1 = ((float)(w[2 * i] >> 8) + 1.0f) * 5.9604645e-8f; /* (0, 1] */
            float u2 = (float)(w[2 * i + 1] >> 8) * 5.9604645e-8f - 0.5f; /* [-1/2, 1/2) */
            float rad = sqrtf(-2.0f * dgm__logf(u1));
            /* angle 2 pi u2 in [-pi, pi): quadrant q, remainder x in [-pi/4, pi/4] */
            float q = (float)(int)(4.0f * u2 + 2.5f) - 2.0f; /* nearest integer, -2..2 */
            float x = (4.0f * u2 - q) * 1.57079633f, x2 = x * x;
            float sn = x * (1.0f + x2 * (-0.166666667f + x2 * (8.33333333e-3f + x2 *
                       (-1.98412698e-4f + x2 * 2.75573192e-6f))));
            float cs = 1.0f + x2 * (-0.5f + x2 * (4.16666667e-2f + x2 * (-1.38888889e-3f +
                       x2 * 2.48015873e-5f)));
            /* rotate by k quarter turns, branch-free: odd k swaps sin and cos, k in {1, 2}
             * negates the cosine, k in {2, 3} the sine */
            int k = ((int)q + 4) & 3;
            float sw = (float)(k & 1), nc = (float)(((k + 1) >> 1) & 1), ns = (float)(k >> 1);
            float c = (cs * (1.0f - sw) + sn * sw) * (1.0f - 2.0f * nc);
            float s = (sn * (1.0f - sw) + cs * sw) * (1.0f - 2.0f * ns);
            tmp[2 * i] = rad * c;
            tmp[2 * i + 1] = rad * s;
        }
        memcpy(out + a, tmp, m * sizeof(float));
    }
}

void dgm_rng_permutation(dgm_rng *rng, size_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)dgm_rng_below(rng, i);
        size_t t = out[i - 1];
        out[i - 1] = out[j];
        out[j] = t;
    }
}
