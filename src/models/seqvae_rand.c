/* Bulk standard normals for the Bayesian decoder's weight draws (five million a step),
 * from the same Philox-4x32-10 stream as dgm_rng (Salmon et al., SC'11; src/core/rng.c)
 * but generated a block array at a time so that the compiler vectorises the rounds, and
 * turned into normals by Box-Muller with float polynomial log and sin/cos (relative error
 * below 1e-6, far under the float rounding of the weights they perturb): glibc's logf and
 * sincosf are scalar calls, ten times slower here.
 * Left out: the general dgm_rng API (partial blocks, spares); a stream used here starts
 * on a block boundary, as a freshly forked one does. */
#include "models/seqvae.h"

#include <math.h>
#include <string.h>

#define BLK 64 /* Philox blocks per batch: 256 words */

void dgm__seqvae_philox_words(dgm_rng *r, uint32_t *w, size_t nblocks)
{
    const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
    uint32_t s0 = (uint32_t)r->stream, s1 = (uint32_t)(r->stream >> 32);
    uint32_t k0i = (uint32_t)r->key, k1i = (uint32_t)(r->key >> 32);
    uint64_t base = r->counter;
    #pragma omp simd
    for (size_t b = 0; b < nblocks; b++) {
        uint64_t ctr = base + b;
        uint32_t c0 = (uint32_t)ctr, c1 = (uint32_t)(ctr >> 32), c2 = s0, c3 = s1;
        uint32_t k0 = k0i, k1 = k1i;
        for (int i = 0; i < 10; i++) {
            uint64_t p0 = (uint64_t)M0 * c0, p1 = (uint64_t)M1 * c2;
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
            uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
            c1 = (uint32_t)p1;
            c3 = (uint32_t)p0;
            c0 = n0;
            c2 = n2;
            k0 += W0;
            k1 += W1;
        }
        w[4 * b] = c0, w[4 * b + 1] = c1, w[4 * b + 2] = c2, w[4 * b + 3] = c3;
    }
    r->counter = base + nblocks;
    r->pos = 4;
    r->has_spare = 0;
}

void dgm__seqvae_normals(dgm_rng *r, float *out, size_t n)
{
    uint32_t w[4 * BLK];
    for (size_t a = 0; a < n; a += 4 * BLK) {
        size_t m = n - a < 4 * BLK ? n - a : 4 * BLK, pairs = (m + 1) / 2;
        dgm__seqvae_philox_words(r, w, (2 * pairs + 3) / 4);
        float tmp[4 * BLK];
        #pragma omp simd
        for (size_t i = 0; i < pairs; i++) {
            float u1 = ((float)(w[2 * i] >> 8) + 1.0f) * 5.9604645e-8f; /* (0, 1] */
            float u2 = (float)(w[2 * i + 1] >> 8) * 5.9604645e-8f - 0.5f; /* [-1/2, 1/2) */
            float rad = sqrtf(-2.0f * dgm__logf(u1)); /* vectorised: -fno-math-errno */
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
