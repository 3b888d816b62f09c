/* The Potts objective's hot loop (dgm__plm_eval, src/models/potts/potts_plm.c): one value
 * and gradient of the weighted pseudo-likelihood over an alignment, the work of one L-BFGS
 * evaluation. Validates first (value alone == value with gradient, the same bits at 1 and
 * 2 threads... at the thread count given, the value is checked against the gradient run),
 * then reports the median of --reps timed evaluations.
 * With --model FILE (a Potts model of the same alignment, e.g. plmc's parameters converted
 * by bench/plmc_to_dgm.py) it prints the objective at that model's parameters instead, with
 * --lambda-h and --lambda-j (0.01, 16) and --theta (0.2), and exits.
 * usage: bench_potts ALIGNMENT [--threads N] [--reps R] [--gaps state] [--model FILE] */
#include "dgm.h"
#include "models/potts/potts.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    const char *model = NULL;
    int threads = 1, reps = 5, ign = 1;
    double lh = 0.01, lj = 16.0, theta = 0.2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--gaps") && i + 1 < argc) ign = strcmp(argv[++i], "state") != 0;
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--lambda-h") && i + 1 < argc) lh = atof(argv[++i]);
        else if (!strcmp(argv[i], "--lambda-j") && i + 1 < argc) lj = atof(argv[++i]);
        else if (!strcmp(argv[i], "--theta") && i + 1 < argc) theta = atof(argv[++i]);
        else path = argv[i];
    }
    if (!path || reps < 1 || reps > 1000) {
        fprintf(stderr, "usage: bench_potts ALIGNMENT [--threads N] [--reps R] [--gaps state]\n");
        return 2;
    }
    dgm_set_threads(threads);
    dgm_err err = {0};
    dgm_alignment a;
    if (dgm_alignment_read(&a, path, NULL, &err)) {
        fprintf(stderr, "bench_potts: %s\n", err.msg);
        return 1;
    }
    /* the focus columns with a residue, as the fit uses them */
    size_t L = 0;
    for (size_t l = 0; l < a.L; l++)
        L += a.pos[l] >= 0;
    uint8_t *seq = malloc(a.n * L);
    double *w = malloc(a.n * sizeof *w), neff;
    for (size_t s = 0; s < a.n; s++)
        for (size_t l = 0, k = 0; l < a.L; l++)
            if (a.pos[l] >= 0)
                seq[s * L + k++] = a.seq[s * a.L + l];
    dgm_alignment_weights(w, &neff, &a, theta, DGM_SEQW_PLMC, &err);
    size_t np = dgm__plm_nparams(L);
    double *x = malloc(np * sizeof *x), *g = malloc(np * sizeof *g);
    dgm_rng r;
    dgm_rng_init(&r, 1);
    for (size_t k = 0; k < np; k++)
        x[k] = 0.01 * dgm_rng_normal(&r);
    dgm__plm p;
    if (model) { /* the objective at a model's parameters */
        dgm_model *m = NULL;
        size_t Lm;
        const float *h, *J;
        if (dgm_model_load(&m, model, &err) || dgm_potts_params(m, &Lm, &h, &J, &err) ||
            (Lm != L && dgm_errf(&err, DGM_ERR_SHAPE, "%s: %zu columns, the alignment %zu",
                                 model, Lm, L))) {
            fprintf(stderr, "bench_potts: %s\n", err.msg);
            return 1;
        }
        for (size_t k = 0; k < L * DGM_POTTS_Q; k++)
            x[k] = h[k];
        for (size_t k = L * DGM_POTTS_Q; k < np; k++)
            x[k] = J[k - L * DGM_POTTS_Q];
        dgm__plm pm;
        double nll;
        if (dgm__plm_init(&pm, seq, w, a.n, L, ign, lh, lj, &err)) {
            fprintf(stderr, "bench_potts: %s\n", err.msg);
            return 1;
        }
        double f = dgm__plm_eval(&pm, x, NULL, &nll);
        printf("objective at %s: %.6f (negative pseudo-log-likelihood %.6f; n %zu, L %zu, "
               "Neff %.2f, lambda_h %g, lambda_J %g, gaps %s)\n", model, f, nll, a.n, L, neff,
               lh, lj, ign ? "ignored" : "a state");
        dgm__plm_free(&pm);
        dgm_model_free(m);
        return 0;
    }
    if (dgm__plm_init(&p, seq, w, a.n, L, ign, 0.01, 16.0, &err)) {
        fprintf(stderr, "bench_potts: %s\n", err.msg);
        return 1;
    }
    double f0 = dgm__plm_eval(&p, x, NULL, NULL), f1 = dgm__plm_eval(&p, x, g, NULL);
    if (f0 != f1) {
        fprintf(stderr, "bench_potts: the value alone %.17g differs from the value with the "
                "gradient %.17g\n", f0, f1);
        return 1;
    }
    double *t = malloc((size_t)reps * sizeof *t);
    for (int k = 0; k < reps; k++) {
        double t0 = now();
        dgm__plm_eval(&p, x, g, NULL);
        t[k] = now() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp);
    /* FNV-1a of the gradient's bytes: a change of layout or loop order that keeps the bits
     * keeps this number */
    uint64_t hash = 1469598103934665603ull;
    const unsigned char *gb = (const unsigned char *)g;
    for (size_t k = 0; k < np * sizeof *g; k++)
        hash = (hash ^ gb[k]) * 1099511628211ull;
    printf("potts objective + gradient: %s, n %zu, L %zu, %zu parameters, gaps %s, %d threads: "
           "median %.3f s (min %.3f, max %.3f) over %d; objective %.6f, gradient hash %016llx\n",
           path, a.n, L, np, ign ? "ignored" : "a state", threads, t[reps / 2], t[0],
           t[reps - 1], reps, f1, (unsigned long long)hash);
    dgm__plm_free(&p);
    free(t), free(x), free(g), free(seq), free(w);
    dgm_alignment_free(&a);
    return 0;
}
