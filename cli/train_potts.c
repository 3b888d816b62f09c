/* dgm train --model potts: plmc's fit (Hopf et al. 2017; debbiemarkslab/plmc) through
 * dgm_fit: read the alignment, weight the sequences (plmc's rule by default), fit the Potts
 * model by L-BFGS on the weighted pseudo-likelihood, save. One progress line per iteration
 * on stderr (objective, gradient norm, seconds) and, with --log, one JSON line each.
 * plmc's options map as: -le --lambda-j, -lh --lambda-h, -m --max-iter, -t --theta,
 * -g --gaps ignore (the default here; --gaps state models the gap as a 21st letter, plmc
 * without -g), -f --focus (here the focus must be the alignment's first sequence). */
#include "cli.h"
#include "progress.h"
#include "par/par.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CMD "train"

typedef struct view { FILE *log; int quiet; } view;

static void on_progress(void *ctx, const dgm_fit_progress *p)
{
    view *v = ctx;
    if (p->event == DGM_FIT_MOMENTS) {
        if (!v->quiet)
            fprintf(stderr, "bm %4d  pair r %.4f  max site error %.4f  %.2f s\n", p->iter, p->val,
                    p->loss, p->seconds);
        if (v->log) {
            fprintf(v->log, "{\"bm_iter\":%d,\"pair_r\":%.17g,\"site_err\":%.17g,"
                    "\"seconds\":%.6f}\n", p->iter, p->val, p->loss, p->seconds);
            fflush(v->log);
        }
        return;
    }
    if (p->event != DGM_FIT_ITER)
        return;
    if (!v->quiet)
        fprintf(stderr, "iter %4d  objective %.6f  |g| %.6g  %.2f s\n", p->iter, p->objective,
                p->grad_norm, p->seconds);
    if (v->log) {
        fprintf(v->log, "{\"iter\":%d,\"objective\":%.17g,\"neg_pll\":%.17g,\"grad_norm\":%.17g,"
                "\"seconds\":%.6f}\n", p->iter, p->objective, -p->loglik, p->grad_norm, p->seconds);
        fflush(v->log);
    }
}

int cli_train_potts(int argc, char **argv)
{
    const char *model = "potts", *data = NULL, *out = "model.safetensors", *rule = "plmc";
    const char *gaps = "ignore", *focus = NULL, *log = NULL, *init = NULL;
    dgm_potts_cfg cfg = dgm_potts_defaults();
    double theta = 0.2, max_seq_gap = 1.0, max_col_gap = 1.0;
    int quiet = 0;
    cli_common c;
    cli_common_defaults(&c);
    cli_opt opts[] = {
        {"--model", OPT_STR, &model, "NAME", "potts", 1, 0},
        {"--data", OPT_STR, &data, "PATH", "alignment: A2M/aligned FASTA or Stockholm, focus first (required)", 1, 0},
        {"-o", OPT_STR, &out, "PATH", "output model file", 1, 0},
        {"--lambda-h", OPT_DOUBLE, &cfg.lambda_h, "L", "L2 weight on the fields h (plmc -lh)", 1, 0},
        {"--lambda-j", OPT_DOUBLE, &cfg.lambda_j, "L", "L2 weight on the couplings J (plmc -le)", 1, 0},
        {"--max-iter", OPT_LONG, &cfg.max_iter, "N", "L-BFGS iterations (plmc -m)", 1, 0},
        {"--gaps", OPT_STR, &gaps, "MODE", "ignore (plmc -g: gaps are not a state) or state (21 letters)", 1, 0},
        {"--theta", OPT_DOUBLE, &theta, "T", "weights: neighbours within identity 1 - T (plmc -t)", 0, 1},
        {"--weights", OPT_STR, &rule, "RULE", "plmc, deepseq or none (all 1)", 1, 0},
        {"--focus", OPT_STR, &focus, "NAME", "check that the first sequence is this focus (plmc -f)", 1, 0},
        {"--max-seq-gap", OPT_DOUBLE, &max_seq_gap, "F", "drop sequences with more gaps than this fraction", 0, 1},
        {"--max-col-gap", OPT_DOUBLE, &max_col_gap, "F", "drop columns with more gaps than this fraction", 0, 1},
        {"--init", OPT_STR, &init, "MODEL", "start from this Potts model's parameters (same focus columns)", 1, 0},
        {"--bm-iter", OPT_LONG, &cfg.bm_iter, "N", "Boltzmann-machine steps after the fit (bmDCA; needs --gaps state)", 1, 0},
        {"--bm-chains", OPT_LONG, &cfg.bm_chains, "M", "persistent Gibbs chains of those steps", 1, 0},
        {"--bm-sweeps", OPT_LONG, &cfg.bm_sweeps, "S", "Gibbs sweeps per chain per step", 1, 0},
        {"--bm-rate", OPT_DOUBLE, &cfg.bm_rate, "R", "step size on the moment mismatch", 1, 0},
        {"--log", OPT_STR, &log, "FILE", "JSON lines: iter, objective, neg_pll, grad_norm, seconds (bm steps: bm_iter, pair_r, site_err, seconds)", 1, 0},
        {"--quiet", OPT_FLAG, &quiet, NULL, "no progress lines", 1, 0},
        CLI_COMMON_OPTS(&c),
    };
    const char *pos[1];
    int n_pos, r = cli_parse(CMD, "--model potts --data ALIGNMENT [options]", "Fit a Potts model "
                             "(pairwise maximum entropy, as plmc) by L-BFGS on the weighted "
                             "pseudo-log-likelihood with L2 penalties.", argc, argv, opts,
                             (int)(sizeof opts / sizeof opts[0]), pos, 0, &n_pos);
    if (r)
        return r == 1 ? 0 : 2;
    cli_common_apply(&c);
    if (strcmp(model, "potts"))
        return cli_usage(CMD, "--model: '%s' is not potts", model);
    if (!data)
        return cli_usage(CMD, "--data: an alignment is required");
    if (!(cfg.lambda_h >= 0) || !isfinite(cfg.lambda_h))
        return cli_usage(CMD, "--lambda-h: %g must be finite and >= 0", cfg.lambda_h);
    if (!(cfg.lambda_j >= 0) || !isfinite(cfg.lambda_j))
        return cli_usage(CMD, "--lambda-j: %g must be finite and >= 0", cfg.lambda_j);
    if (cfg.max_iter < 1 || cfg.max_iter > 2147483647L)
        return cli_usage(CMD, "--max-iter: %ld must be at least 1", cfg.max_iter);
    if (strcmp(gaps, "ignore") && strcmp(gaps, "state"))
        return cli_usage(CMD, "--gaps: '%s' is not ignore or state", gaps);
    if (strcmp(rule, "plmc") && strcmp(rule, "deepseq") && strcmp(rule, "none"))
        return cli_usage(CMD, "--weights: '%s' is not plmc, deepseq or none", rule);
    if (cfg.bm_iter < 0)
        return cli_usage(CMD, "--bm-iter: %ld must be >= 0", cfg.bm_iter);
    if (cfg.bm_iter > 0 && !strcmp(gaps, "ignore"))
        return cli_usage(CMD, "--bm-iter needs --gaps state: with gaps ignored they are "
                         "missing data, which no sampled sequence has");
    if (cfg.bm_chains < 1 || cfg.bm_chains > 10000000)
        return cli_usage(CMD, "--bm-chains: %ld must be in 1..10000000", cfg.bm_chains);
    if (cfg.bm_sweeps < 1)
        return cli_usage(CMD, "--bm-sweeps: %ld must be >= 1", cfg.bm_sweeps);
    if (!(cfg.bm_rate > 0) || !isfinite(cfg.bm_rate))
        return cli_usage(CMD, "--bm-rate: %g must be finite and > 0", cfg.bm_rate);
    cfg.ignore_gaps = !strcmp(gaps, "ignore");
    cfg.weights = rule;
    dgm_err err = {0};
    dgm_model *m0 = NULL; /* --init, checked before any work */
    if (dgm__par_rank() > 0) /* under mpirun rank 0 writes the log and the model */
        log = NULL;
    if (init && dgm__par_agree(dgm_model_load(&m0, init, &err), &err))
        return cli_fail_err(CMD, &err);
    if (m0 && strcmp(dgm_model_type(m0), "potts")) {
        int rc0 = cli_fail(CMD, "%s: --init: not a Potts model (its type is %s)", init,
                           dgm_model_type(m0));
        dgm_model_free(m0);
        return rc0;
    }
    dgm_align_cfg acfg = {max_seq_gap, max_col_gap};
    dgm_alignment a;
    double t0 = cli_now();
    if (dgm__par_agree(dgm_alignment_read(&a, data, &acfg, &err), &err)) {
        dgm_model_free(m0);
        return cli_fail_err(CMD, &err);
    }
    if (focus && strncmp(a.focus_name, focus, strlen(focus))) {
        int rc = cli_fail(CMD, "%s: --focus %s: the first sequence is %s; put the focus first",
                          data, focus, a.focus_name);
        dgm_alignment_free(&a);
        dgm_model_free(m0);
        return rc;
    }
    double *w, neff;
    int rc = dgm__par_any(cli_seq_weights(CMD, &a, rule, theta, &w, &neff));
    size_t Lr = 0;
    for (size_t l = 0; l < a.L; l++)
        Lr += a.pos[l] >= 0;
    if (!rc && !quiet)
        fprintf(stderr, "%s: %zu of %zu sequences kept (%zu with letters outside the alphabet, "
                "%zu too gappy), %zu focus columns with a residue, focus %s/%ld; Neff %.2f "
                "(%s weights, theta %g) in %.2fs\n", data, a.n, a.n_read, a.n_bad_letter,
                a.n_gappy, Lr, a.focus_name, a.focus_start, neff, rule, theta, cli_now() - t0);
    view v = {.quiet = quiet};
    if (!rc && log && !(v.log = fopen(log, "w")))
        rc = cli_fail(CMD, "%s: cannot open the log for writing", log);
    dgm_model *m = NULL;
    cfg.init = m0;
    if (!rc && dgm_potts_create(&m, &cfg, &err))
        rc = cli_fail_err(CMD, &err);
    dgm_fit_data fd = {.aln = &a, .weights = w, .neff = neff, .theta = theta};
    dgm_fit_cfg fc = dgm_fit_defaults();
    fc.seed = (uint64_t)c.seed;
    fc.progress = on_progress, fc.progress_ctx = &v;
    dgm_fit_result res;
    if (!rc && dgm_fit(m, &fd, &fc, &res, &err))
        rc = cli_fail_err(CMD, &err);
    long iters = 0;
    double obj = NAN, nll = NAN;
    const char *msg = "";
    if (!rc && dgm_potts_fit_status(m, &iters, &obj, &nll, &msg, &err))
        rc = cli_fail_err(CMD, &err);
    if (!rc && msg[0])
        fprintf(stderr, "dgm train: %s: %s\n", data, msg);
    if (!rc && dgm__par_agree(dgm__par_rank() ? DGM_OK : dgm_model_save(m, out, &err), &err))
        rc = cli_fail_err(CMD, &err);
    if (!rc) {
        if (c.json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "model", "potts");
            cJSON_AddStringToObject(o, "data", data);
            cJSON_AddStringToObject(o, "out", out);
            cJSON_AddNumberToObject(o, "n", (double)a.n);
            cJSON_AddNumberToObject(o, "L", (double)Lr);
            cJSON_AddNumberToObject(o, "neff", neff);
            cJSON_AddNumberToObject(o, "iterations", (double)iters);
            cJSON_AddNumberToObject(o, "objective", obj);
            cJSON_AddNumberToObject(o, "neg_pll", nll);
            cJSON_AddNumberToObject(o, "seconds", res.seconds);
            cJSON_AddStringToObject(o, "lbfgs_status", msg);
            cli_print_json(o);
        } else {
            printf("potts model of %s: %zu columns, %zu sequences (Neff %.2f), %ld iterations "
                   "in %.1fs; objective %.6f (negative weighted pseudo-log-likelihood %.6f); "
                   "wrote %s\n", data, Lr, a.n, neff, iters, res.seconds, obj, nll, out);
        }
    }
    if (v.log)
        fclose(v.log);
    dgm_model_free(m);
    dgm_model_free(m0);
    free(w);
    dgm_alignment_free(&a);
    return rc;
}
