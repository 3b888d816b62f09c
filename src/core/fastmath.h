/* Vectorizable float kernels for the likelihood hot loops: exp on [-87, 88] and
 * log1p on [0, 1], written branch-free so that `#pragma omp simd` loops compile to SIMD
 * code (glibc's expf/log1pf are scalar calls; they were half of the VAE evaluation time).
 * Accuracy, checked against libm in tests/test_fastmath.c: relative error below 4e-7 on
 * the whole range. Reference: Cody & Waite range reduction; log1p(t) = 2 atanh(t/(2+t)).
 * In core, not tensor, because core/rng.c's bulk normals use dgm__logf and core includes
 * nothing above itself; the models include it from here. */
#ifndef DGM_CORE_FASTMATH_H
#define DGM_CORE_FASTMATH_H

#include <stdint.h>

/* e^x in float, written so that `omp simd` loops, reductions included, vectorise it with
 * GCC 12: rounding by the 1.5 * 2^23 trick rather than roundf, the exponent bits through a
 * union rather than memcpy. x = n ln 2 + r, |r| <= ln2/2, e^r by its Taylor polynomial to
 * r^6 (relative error below 2e-7). x is clamped to [-87, 88] (never a denormal or an
 * overflow); NaN is clamped like a very negative x, so the integer conversion stays
 * defined, and callers keep NaN visible through their other terms. */
static inline float dgm__expf(float x)
{
    x = x > -87.0f ? x : -87.0f;
    x = x < 88.0f ? x : 88.0f;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693145751953125f - n * 1.428606765330187045e-06f; /* ln 2 in two parts */
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666667f + r * (4.16666667e-2f +
              r * (8.33333333e-3f + r * 1.38888889e-3f)))));
    union { uint32_t i; float f; } u;
    u.i = (uint32_t)((int32_t)n + 127) << 23;
    return p * u.f;
}

/* e^x for x <= 0, the case of the likelihood loops. */
static inline float dgm__exp_neg(float x) { return dgm__expf(x); }

/* log(1 + t) for t in [0, 1]: s = t / (2 + t) <= 1/3, log1p(t) = 2 atanh(s). */
static inline float dgm__log1p_unit(float t)
{
    float s = t / (2.0f + t), s2 = s * s;
    float p = 1.0f / 15.0f;
    p = p * s2 + 1.0f / 13.0f;
    p = p * s2 + 1.0f / 11.0f;
    p = p * s2 + 1.0f / 9.0f;
    p = p * s2 + 1.0f / 7.0f;
    p = p * s2 + 1.0f / 5.0f;
    p = p * s2 + 1.0f / 3.0f;
    p = p * s2 + 1.0f;
    return 2.0f * s * p;
}

/* softplus(l) = log(1 + e^l) = max(l, 0) + log1p(e^-|l|). */
static inline float dgm__softplus(float l)
{
    float a = l < 0 ? -l : l;
    return (l > 0 ? l : 0.0f) + dgm__log1p_unit(dgm__exp_neg(-a));
}

/* ln x for a positive normal float: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m =
 * 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172, odd series to s^9 (error < 2e-8); bits
 * through a union, as in dgm__expf, so that simd loops vectorise it. */
static inline float dgm__logf(float x)
{
    union { uint32_t i; float f; } u;
    u.f = x;
    int e = (int)(u.i >> 23) - 127;
    u.i = (u.i & 0x007FFFFFu) | 0x3F800000u; /* m in [1, 2) */
    float m = u.f, big = (float)(m > 1.41421356f);
    m *= 1.0f - 0.5f * big;
    float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
    float p = s * (2.0f + s2 * (0.666666667f + s2 * (0.4f + s2 * (0.285714286f + s2 * 0.222222222f))));
    return ((float)e + big) * 0.693147181f + p;
}

/* tanh x in float: for |x| < 0.25 its odd Taylor series to x^11 (truncation below 1e-9
 * relative), otherwise sign(x) (1 - t) / (1 + t) with t = e^-2|x| (1 - t >= 0.39 there, so
 * dgm__expf's error stays below 1e-6 relative). Both are computed and one is selected, so
 * that simd loops vectorise it; NaN stays NaN. The flows' bounded log-scales use it. */
static inline float dgm__tanhf(float x)
{
    float a = x < 0 ? -x : x, t = dgm__expf(-2.0f * a);
    float big = (1.0f - t) / (1.0f + t), x2 = x * x;
    float p = x * (1.0f + x2 * (-0.333333333f + x2 * (0.133333333f + x2 * (-0.0539682540f +
              x2 * (0.0218694885f + x2 * -0.00886323552f)))));
    float r = x < 0 ? -big : big;
    return a < 0.25f ? p : a == a ? r : x;
}

#endif
