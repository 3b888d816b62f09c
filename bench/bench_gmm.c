/* dgm's Gaussian mixture beside scikit-learn's on the same fit: Fashion-MNIST dequantised
 * as x = (pixel + u)/256, a 10-component diagonal GMM, tol 1e-3, max_iter 100, reg_covar
 * 1e-6. Both libraries read the very same matrices: this program dequantises the training
 * set as `dgm train --seed S` does, the test set as `dgm eval` does, writes them as NPY and
 * runs bench/gmm_sklearn.py on them.
 *
 * Two comparisons, at 1 and 2 threads:
 *   same start  EM from identical parameters: dgm's k-means labels (the run dgm_gmm_fit
 *               makes with the same seed) are handed to scikit-learn, whose first
 *               log-likelihood must equal dgm's (validated before timing is reported).
 *               Differences in test bits/dim then come from arithmetic, not local optima.
 *   own init    each library's own k-means initialisation, end to end: fit time includes
 *               k-means, and the optimum reached differs with the initialisation.
 * Targets (issue 5): test bits/dim within 0.5% of scikit-learn's, fit at least 3x faster.
 * Timings are single runs (a fit takes seconds to minutes); the load average is printed.
 * Where /usr/bin/python3 has no scikit-learn, its rows say so. */
#include "dgm.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

dgm_status dgm__kmeans(dgm_rng *rng, int32_t *labels, float *centers, const float *x,
                       size_t n, size_t D, size_t K, int max_iter, double tol, int *n_iter,
                       dgm_err *err);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

struct trace { int n; double first, last; };

static void on_iter(void *ctx, int cls, int init, int iter, double ll)
{
    (void)cls;
    (void)init;
    struct trace *t = ctx;
    if (iter == 1)
        t->first = ll;
    t->n = iter;
    t->last = ll;
}

struct run {
    int ok, n_iter, converged, threads;
    double fit, test_bpd, train_ll, init_ll;
    char note[160];
};

static struct run run_dgm(const float *x, size_t n, const float *t, size_t nt, size_t D,
                          int threads, long seed, const dgm_mixture_cfg *base, dgm_model **keep)
{
    struct run r = {0};
    struct trace tr = {0};
    dgm_set_threads(threads);
    r.threads = threads;
    dgm_mixture_cfg cfg = *base;
    cfg.progress = on_iter;
    cfg.progress_ctx = &tr;
    dgm_rng root, rf;
    dgm_rng_init(&root, (uint64_t)seed);
    dgm_rng_fork(&rf, &root, 1); /* as cli/train_tractable.c */
    dgm_model *m = NULL;
    dgm_err err = {0};
    double t0 = now();
    if (dgm_gmm_fit(&m, &rf, x, n, D, &cfg, &err)) {
        snprintf(r.note, sizeof r.note, "dgm_gmm_fit: %.140s", err.msg);
        return r;
    }
    r.fit = now() - t0;
    double *lp = malloc(nt * sizeof(double)), s = 0;
    if (lp && !dgm_model_log_prob(m, NULL, lp, t, NULL, nt, 1, &err)) {
        for (size_t i = 0; i < nt; i++)
            s += lp[i];
        r.test_bpd = dgm_bits_per_dim(-s / (double)nt, D, "dequantized");
        dgm_mixture_info info;
        dgm_mixture_fit_info(&info, m, 0, NULL);
        r.train_ll = info.log_likelihood;
        r.n_iter = info.n_iter;
        r.converged = info.converged;
        r.init_ll = tr.first;
        r.ok = 1;
    }
    free(lp);
    if (keep)
        *keep = m;
    else
        dgm_model_free(m);
    return r;
}

static struct run run_sklearn(const char *py, const char *script, const char *dir, int threads,
                              const char *labels, const dgm_mixture_cfg *cfg)
{
    struct run r = {0};
    r.threads = threads;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=%d OPENBLAS_NUM_THREADS=%d MKL_NUM_THREADS=%d "
             "%s %s --train %s/train.npy --test %s/test.npy --threads %d --components %zu "
             "--covariance diag --tol %g --max-iter %d --reg-covar %g%s%s 2>&1",
             threads, threads, threads, py, script, dir, dir, threads, cfg->n_components,
             cfg->tol, cfg->max_iter, cfg->reg_covar, labels ? " --labels " : "",
             labels ? labels : "");
    FILE *p = popen(cmd, "r");
    char line[4096] = "", last[4096] = "";
    while (p && fgets(line, sizeof line, p))
        if (line[0] == '{')
            memcpy(last, line, sizeof line);
    int rc = p ? pclose(p) : -1;
    cJSON *o = cJSON_Parse(last);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    if (!o || cJSON_IsString(e)) {
        snprintf(r.note, sizeof r.note, "%.150s", cJSON_IsString(e) ? e->valuestring
                 : rc ? "scikit-learn run failed (is /usr/bin/python3 with python3-sklearn "
                        "installed?)" : "no result");
        cJSON_Delete(o);
        return r;
    }
#define NUM(k) cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, k))
    r.fit = NUM("fit_seconds");
    r.n_iter = (int)NUM("n_iter");
    r.converged = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "converged"));
    r.test_bpd = NUM("test_bits_per_dim");
    r.train_ll = NUM("train_loglik");
    r.init_ll = cJSON_GetObjectItemCaseSensitive(o, "init_loglik") ? NUM("init_loglik") : NAN;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "sklearn");
    snprintf(r.note, sizeof r.note, "scikit-learn %s", cJSON_IsString(v) ? v->valuestring : "?");
#undef NUM
    r.ok = 1;
    cJSON_Delete(o);
    return r;
}

static void row(const char *who, const struct run *r)
{
    if (!r->ok) {
        printf("%-22s %7d  %s\n", who, r->threads, r->note);
        return;
    }
    printf("%-22s %7d %9.2f %6d%s %9.3f %12.4f %14.4f\n", who, r->threads, r->fit, r->n_iter,
           r->converged ? " " : "*", r->fit / r->n_iter, r->train_ll, r->test_bpd);
}

int main(int argc, char **argv)
{
    const char *py = "/usr/bin/python3", *script = "bench/gmm_sklearn.py";
    const char *dir = "/tmp/dgm_bench_gmm";
    long limit = 0, seed = 1;
    int max_threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--limit")) limit = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed")) seed = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) max_threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--python")) py = argv[i + 1];
        else if (!strcmp(argv[i], "--script")) script = argv[i + 1];
        else if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
        else {
            fprintf(stderr, "usage: bench_gmm [--threads MAX] [--limit N] [--seed S] "
                    "[--python PATH] [--script gmm_sklearn.py] [--dir TMPDIR]\n");
            return 2;
        }
    }
    dgm_err err = {0};
    dgm_dataset tr = {0}, te = {0};
    if (dgm_data_load(&tr, "fashion-mnist", NULL, &err) ||
        dgm_data_load(&te, "fashion-mnist:test", NULL, &err)) {
        fprintf(stderr, "bench_gmm: %s\n", err.msg);
        return 1;
    }
    size_t n = limit > 0 && (size_t)limit < tr.n ? (size_t)limit : tr.n, D = tr.d, K = 10;
    float *x = malloc(n * D * sizeof(float));
    dgm_rng root, rd;
    dgm_rng_init(&root, (uint64_t)seed);
    dgm_rng_fork(&rd, &root, 0); /* cli/train_tractable.c: data stream 0, example i fork i */
    for (size_t i = 0; i < n; i++) {
        dgm_rng er;
        dgm_rng_fork(&er, &rd, i);
        dgm_data_dequantize(&er, x + i * D, tr.x + i * D, D);
    }
    dgm_mixture_cfg cfg = dgm_mixture_defaults();
    cfg.n_components = K;
    cfg.covariance = DGM_COV_DIAG;
    cfg.likelihood = "dequantized";
    /* the test set as dgm eval prepares it (needs a dequantized model: fit a tiny one) */
    dgm_model *probe = NULL;
    float *t = NULL;
    size_t nt = 0;
    dgm_mixture_cfg pc = cfg;
    pc.n_components = 1;
    if (dgm_gaussian_fit(&probe, x, n < 100 ? n : 100, D, &pc, &err) ||
        dgm_eval_prepare(&t, &nt, probe, &te, 0, DGM_EVAL_PREP_SEED, &err)) {
        fprintf(stderr, "bench_gmm: %s\n", err.msg);
        return 1;
    }
    dgm_model_free(probe);
    mkdir(dir, 0755);
    char path[1024], labels_path[1024];
    snprintf(path, sizeof path, "%s/train.npy", dir);
    if (dgm_npy_write(path, x, n, D, &err)) {
        fprintf(stderr, "bench_gmm: %s\n", err.msg);
        return 1;
    }
    snprintf(path, sizeof path, "%s/test.npy", dir);
    if (dgm_npy_write(path, t, nt, D, &err)) {
        fprintf(stderr, "bench_gmm: %s\n", err.msg);
        return 1;
    }
    /* dgm_gmm_fit's k-means: restart 0 uses dgm_rng_fork(fit stream, 0) */
    dgm_rng rf, r0;
    dgm_rng_fork(&rf, &root, 1);
    dgm_rng_fork(&r0, &rf, 0);
    int32_t *lab = malloc(n * sizeof(int32_t));
    float *cent = malloc(K * D * sizeof(float)), *labf = malloc(n * sizeof(float));
    int km_iter = 0;
    dgm_set_threads(max_threads);
    double t0 = now();
    dgm__kmeans(&r0, lab, cent, x, n, D, K, 300, 1e-4, &km_iter, &err);
    double km_time = now() - t0;
    for (size_t i = 0; i < n; i++)
        labf[i] = (float)lab[i];
    snprintf(labels_path, sizeof labels_path, "%s/labels.npy", dir);
    dgm_npy_write(labels_path, labf, n, 1, &err);

    printf("Fashion-MNIST train %zu x %zu dequantised (seed %ld), test %zu; GMM K=%zu diag, "
           "tol %g, max_iter %d, reg_covar %g\n", n, D, seed, nt, K, cfg.tol, cfg.max_iter,
           cfg.reg_covar);
    printf("dgm %s, matrix products: %.60s\n", DGM_VERSION, dgm_gemm_backend());
    printf("dgm k-means init: %d Lloyd iterations, %.2f s at %d threads\n", km_iter, km_time,
           max_threads);
    printf("\n%-22s %7s %9s %7s %9s %12s %14s\n", "run", "threads", "fit s", "iters",
           "s/iter", "train ll", "test bits/dim");
    int fails = 0;
    for (int pass = 0; pass < 2; pass++) {
        printf("%s\n", pass == 0 ? "-- same start (dgm's k-means labels; sklearn times EM only, "
                                   "dgm's fit s minus its k-means)"
                                 : "-- own init (each library's k-means, end to end)");
        for (int th = 1; th <= max_threads; th++) {
            struct run d = run_dgm(x, n, t, nt, D, th, seed, &cfg, NULL);
            struct run s = run_sklearn(py, script, dir, th, pass == 0 ? labels_path : NULL, &cfg);
            if (pass == 0 && d.ok) {
                dgm_set_threads(th);
                dgm_rng a;
                dgm_rng_fork(&a, &rf, 0);
                double k0 = now();
                dgm__kmeans(&a, lab, cent, x, n, D, K, 300, 1e-4, &km_iter, &err);
                d.fit -= now() - k0; /* EM only, like the sklearn side */
            }
            row("dgm", &d);
            row("scikit-learn", &s);
            if (!d.ok)
                fails++;
            if (d.ok && s.ok) {
                double rel = fabs(d.test_bpd - s.test_bpd) / s.test_bpd;
                printf("%-22s %7s %8.2fx %7s %9s %12s %13.3f%%", "  sklearn / dgm", "",
                       s.fit / d.fit, "", "", "", 100 * rel);
                if (pass == 0) {
                    double v = fabs(d.init_ll - s.init_ll) / fabs(s.init_ll);
                    printf("  (start ll: dgm %.6f, sklearn %.6f: %s)", d.init_ll, s.init_ll,
                           v < 1e-6 ? "same start" : "DIFFERENT START");
                    fails += v >= 1e-6;
                }
                printf("\n");
            }
        }
    }
    printf("(* = not converged within max_iter; bits/dim = -ll/(D ln 2) + 8; train ll in nats "
           "per example; one run each)\n");
    free(x);
    free(lab);
    free(labf);
    free(cent);
    dgm_free(t);
    dgm_data_free(&tr);
    dgm_data_free(&te);
    return fails ? 1 : 0;
}
