/* Finite-difference gradient checks for any backward pass, header-only for tests.
 *
 * A loss is a callback `double loss(void *ctx)` that reads its float inputs through ctx and
 * returns a scalar computed in double (e.g. sum_i c_i y_i with y from the float forward).
 * The checker perturbs one of those inputs, `x`, in place and restores it bit for bit.
 *
 *   gradcheck_elementwise: for every i, L(x + h e_i) - L(x - h e_i) vs grad_i (xp - xm)
 *   gradcheck_direction:   for random unit v, L(x + h v) - L(x - h v) vs <grad, xp - xm>
 *
 * Both compare the analytic change a with the numeric change d through ggml's
 * asymmetry-style metric err = |a - d| / max(|a|, |d|, floor * 2h): relative for slopes
 * above floor, absolute (in units of floor) below. xp and xm are the float values actually
 * stored, so a is the exact linear change grad predicts for the displacement really made
 * and the rounding of x +- h cancels.
 *
 * With kink detection on (kink > 0, the default) the loss is also evaluated at x and
 * x +- h/2. The changes over h and h/2 are combined by Richardson extrapolation,
 * d = (8 (L(x + h/2) - L(x - h/2)) - (L(x + h) - L(x - h))) / 3 (a likewise), which cancels
 * the curvature term, so the check is limited by the float noise of the forward. And the
 * slopes s0..s3 of the four half-step sub-intervals give the kink statistic
 * max(|s0 - 2 s1 + s2|, |s1 - 2 s2 + s3|): O(h^2) for a smooth loss, at least J/3 for a
 * kink of jump J within h/2 of x (ReLU at 0, a hidden unit changing sign). Points where it
 * exceeds kink * max(|central slope|, floor) are skipped and counted, not judged. It looks
 * at the loss only, never at the gradient under test, so it cannot hide a wrong backward;
 * callers should still bound n_kinks. docs/math.md, "Gradient checks", has the derivation
 * and the calibration of the defaults (h = 2^-6, tol 2e-3, floor 0.05, kink 0.01 for
 * losses of order 1 from a float forward).
 *
 * References: ggml tests/test-backend-ops.cpp (the error metric, skipping kinks);
 * kann kautodiff.c kad_check_grad (the directional check).
 * Left out: any automatic choice of h or of the tolerances, which the caller fixes.
 */
#ifndef DGM_GRADCHECK_H
#define DGM_GRADCHECK_H

#include "dgm.h"
#include "core/assert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef double (*gradcheck_loss_fn)(void *ctx);

typedef struct gradcheck_opts {
    double eps;    /* step h, fixed by the caller (a power of 2 keeps x +- h exact) */
    double tol;    /* largest accepted err */
    double floor;  /* slope magnitude below which errors are judged absolutely */
    double kink;   /* kink threshold (see above); <= 0 turns kink detection and
                    * Richardson off: 2 loss evaluations a point instead of 5 */
} gradcheck_opts;

typedef struct gradcheck_result {
    size_t n_checked;   /* points compared */
    size_t n_kinks;     /* points skipped as kinks */
    size_t n_bad;       /* points with err > tol */
    double max_err;     /* largest err over compared points */
    double max_kink;    /* largest kink statistic over compared points (for calibration) */
    size_t worst;       /* index of the worst point (the direction number for directions) */
    double worst_analytic, worst_numeric; /* the slopes at the worst point */
} gradcheck_result;

static inline gradcheck_opts gradcheck_default_opts(void)
{
    gradcheck_opts o = {0.015625, 2e-3, 5e-2, 0.01};
    return o;
}

static inline double gradcheck__err(double a, double d, double floor)
{
    double s = fmax(fmax(fabs(a), fabs(d)), floor);
    return s > 0 ? fabs(a - d) / s : 0.0;
}

/* Judges one point from the positions t[0..4] along the direction (t[2] = 0 is x, t[0] and
 * t[4] the ends, t[1] and t[3] the half steps) and the losses l[] there; a_full and a_half
 * are the analytic changes from t[0] to t[4] and from t[1] to t[3]. Only the ends are used
 * when kink detection is off. */
static inline void gradcheck__point(gradcheck_result *res, size_t idx,
                                    const gradcheck_opts *o, double a_full, double a_half,
                                    const double t[5], const double l[5])
{
    double step = t[4] - t[0], d = l[4] - l[0], a = a_full;
    if (!(step > 0)) /* x too large for h to move it: nothing to compare */
        return;
    if (o->kink > 0) {
        d = (8 * (l[3] - l[1]) - (l[4] - l[0])) / 3;
        a = (8 * a_half - a_full) / 3;
        double s[4], ratio;
        for (int k = 0; k < 4; k++)
            s[k] = (l[k + 1] - l[k]) / (t[k + 1] - t[k]);
        double c = fmax(fabs(s[0] - 2 * s[1] + s[2]), fabs(s[1] - 2 * s[2] + s[3]));
        ratio = c / fmax(fabs((l[4] - l[0]) / step), o->floor);
        if (!(ratio <= o->kink)) {
            res->n_kinks++;
            return;
        }
        if (ratio > res->max_kink)
            res->max_kink = ratio;
    }
    double err = gradcheck__err(a, d, o->floor * step);
    res->n_checked++;
    if (!(err <= o->tol))
        res->n_bad++;
    if (!(err <= res->max_err) || res->n_checked == 1) {
        res->max_err = err;
        res->worst = idx;
        res->worst_analytic = a / step;
        res->worst_numeric = d / step;
    }
}

/* Checks grad (n) against central differences of loss in each element of x (n), which the
 * loss reads through ctx. Returns 1 if every compared point is within tol. */
static inline int gradcheck_elementwise(gradcheck_result *res, gradcheck_loss_fn loss,
                                        void *ctx, float *x, const float *grad, size_t n,
                                        const gradcheck_opts *o)
{
    static const double frac[5] = {-1, -0.5, 0, 0.5, 1};
    gradcheck_result r = {0};
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i];
        double t[5] = {0}, l[5] = {0};
        for (int k = 0; k < 5; k++) {
            if (o->kink <= 0 && (k == 1 || k == 2 || k == 3))
                continue;
            x[i] = (float)(x0 + frac[k] * o->eps);
            t[k] = (double)x[i] - x0;
            l[k] = loss(ctx);
        }
        x[i] = x0;
        gradcheck__point(&r, i, o, (double)grad[i] * (t[4] - t[0]),
                         (double)grad[i] * (t[3] - t[1]), t, l);
    }
    if (res)
        *res = r;
    return r.n_bad == 0 && r.n_checked + r.n_kinks > 0;
}

/* n_dirs random directions v with N(0, 1) entries drawn from rng: compares
 * L(x + h v) - L(x - h v) with <grad, xp - xm>, positions measured along v / |v| with the
 * float values actually stored. Returns 1 if every direction is within tol. */
static inline int gradcheck_direction(gradcheck_result *res, gradcheck_loss_fn loss,
                                      void *ctx, float *x, const float *grad, size_t n,
                                      dgm_rng *rng, int n_dirs, const gradcheck_opts *o)
{
    static const double frac[5] = {-1, -0.5, 0, 0.5, 1};
    gradcheck_result r = {0};
    float *x0 = dgm_malloc_array(n, sizeof *x0);
    double *v = dgm_malloc_array(n, sizeof *v);
    DGM_ASSERT(n > 0 && x0 && v);
    for (size_t i = 0; i < n; i++)
        x0[i] = x[i];
    for (int dir = 0; dir < n_dirs; dir++) {
        double nv = 0, a[5] = {0}, t[5] = {0}, l[5] = {0};
        for (size_t i = 0; i < n; i++) {
            v[i] = dgm_rng_normal(rng);
            nv += v[i] * v[i];
        }
        nv = sqrt(nv);
        for (size_t i = 0; i < n; i++)
            v[i] = nv > 0 ? v[i] / nv : 0;
        for (int k = 0; k < 5; k++) {
            if (o->kink <= 0 && (k == 1 || k == 2 || k == 3))
                continue;
            double proj = 0, lin = 0;
            for (size_t i = 0; i < n; i++) {
                x[i] = (float)(x0[i] + frac[k] * o->eps * v[i]);
                proj += v[i] * ((double)x[i] - x0[i]);
                lin += (double)grad[i] * ((double)x[i] - x0[i]);
            }
            t[k] = proj;
            a[k] = lin;
            l[k] = loss(ctx);
        }
        for (size_t i = 0; i < n; i++)
            x[i] = x0[i];
        gradcheck__point(&r, (size_t)dir, o, a[4] - a[0], a[3] - a[1], t, l);
    }
    dgm_free(x0);
    dgm_free(v);
    if (res)
        *res = r;
    return r.n_bad == 0 && r.n_checked + r.n_kinks > 0;
}

/* One line for a failed check (stderr): what, the worst point, and the counts. */
static inline void gradcheck_report(const char *what, const gradcheck_result *r)
{
    fprintf(stderr, "gradcheck %s: %zu bad of %zu (%zu kinks skipped); worst at %zu: "
            "analytic %.8g numeric %.8g err %.3g\n", what, r->n_bad, r->n_checked,
            r->n_kinks, r->worst, r->worst_analytic, r->worst_numeric, r->max_err);
}

#endif
