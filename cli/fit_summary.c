/* What dgm train prints when a fit ends: the protein-family summary and the tractable
 * baselines' (train log-likelihood, bits/dim, BIC, AIC, per class), as text or JSON. */
#include "cli.h"
#include "fit_view.h"

#include <math.h>

void cli_print_protein_fit(const dgm_model *m, const dgm_fit_result *res,
                           const dgm_alignment *a, const char *data, const char *out,
                           const char *variant, const char *eval_csv, const char *eval_col,
                           size_t scan_n, double neff, double weights_seconds, int json)
{
    long st = variant ? dgm_seqvae_steps(m) : 0;
    double t = res->seconds, rate = t > 0 ? (double)st / t : 0;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", dgm_model_type(m));
        if (variant)
            cJSON_AddStringToObject(o, "variant", variant);
        cJSON_AddStringToObject(o, "data", data);
        cJSON_AddNumberToObject(o, "n", (double)a->n);
        cJSON_AddNumberToObject(o, "n_read", (double)a->n_read);
        cJSON_AddNumberToObject(o, "L", (double)a->L);
        cJSON_AddNumberToObject(o, "neff", neff);
        cJSON_AddNumberToObject(o, "weights_seconds", weights_seconds);
        cJSON_AddNumberToObject(o, "steps", (double)st);
        cJSON_AddNumberToObject(o, "train_seconds", t);
        if (variant) {
            cJSON_AddNumberToObject(o, "steps_per_second", rate);
            cJSON_AddNumberToObject(o, "loss", res->loss);
        }
        if (eval_csv)
            cJSON_AddNumberToObject(o, "spearman", res->val);
        cJSON_AddStringToObject(o, "out", out);
        cli_print_json(o);
        return;
    }
    printf("%s model on %s: %zu sequences x %zu columns, Neff %.1f\n",
           variant ? variant : "site-independent", data, a->n, a->L, neff);
    if (variant)
        printf("%ld steps in %.1fs (%.1f steps/s), final loss %.3f\n", st, t, rate, res->loss);
    if (eval_csv)
        printf("spearman %.4f on %zu mutants (%s, column %s)\n", res->val, scan_n, eval_csv,
               eval_col);
    printf("saved %s\n", out);
}

static cJSON *info_json(const dgm_mixture_info *f, size_t D, const char *lik, size_t n_params,
                        double *bic, double *aic)
{
    cJSON *o = cJSON_CreateObject();
    double total = f->log_likelihood * (double)f->n;
    *bic = -2 * total + (double)n_params * log((double)f->n);
    *aic = -2 * total + 2 * (double)n_params;
    cJSON_AddNumberToObject(o, "n", (double)f->n);
    cJSON_AddNumberToObject(o, "n_iter", f->n_iter);
    cJSON_AddBoolToObject(o, "converged", f->converged);
    cJSON_AddNumberToObject(o, "lower_bound", f->lower_bound);
    cJSON_AddNumberToObject(o, "log_likelihood", f->log_likelihood);
    cJSON_AddNumberToObject(o, "nll_nats", -f->log_likelihood);
    cJSON_AddNumberToObject(o, "bits_per_dim", dgm_bits_per_dim(-f->log_likelihood, D, lik));
    return o;
}

void cli_print_mixture_fit(const dgm_model *m, const dgm_dataset *ds, const char *lik, size_t n,
                           int per_class, int mixture, int gaussian, long K, const char *cov,
                           double secs, const char *out, int json)
{
    size_t D = ds->d;
    /* summary: per class for conditional models, with the total train log-likelihood */
    int G = per_class ? ds->n_classes : 1;
    size_t per_params = dgm_model_n_params(m) / (size_t)G;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", dgm_model_type(m));
    cJSON_AddStringToObject(j, "data", ds->source);
    cJSON_AddStringToObject(j, "likelihood", lik);
    cJSON_AddNumberToObject(j, "dim", (double)D);
    if (mixture)
        cJSON_AddNumberToObject(j, "n_components", (double)K);
    if (gaussian)
        cJSON_AddStringToObject(j, "covariance_type", cov);
    cJSON_AddNumberToObject(j, "n_classes", per_class ? ds->n_classes : 0);
    cJSON *classes = per_class ? cJSON_AddArrayToObject(j, "classes") : NULL;
    double total = 0, bic, aic;
    for (int g = 0; g < G; g++) {
        dgm_mixture_info f;
        dgm_mixture_fit_info(&f, m, g, NULL);
        total += f.log_likelihood * (double)f.n;
        cJSON *o = info_json(&f, D, lik, per_params, &bic, &aic);
        if (classes) {
            cJSON_AddNumberToObject(o, "class", g);
            cJSON_AddItemToArray(classes, o);
        } else {
            for (cJSON *e = o->child; e; e = e->next)
                cJSON_AddItemToObject(j, e->string, cJSON_Duplicate(e, 1));
            cJSON_Delete(o);
        }
    }
    double mean = total / (double)n, npar = (double)dgm_model_n_params(m);
    bic = -2 * total + npar * log((double)n);
    aic = -2 * total + 2 * npar;
    if (per_class) { /* log p(x | y) summed over the training set */
        cJSON_AddNumberToObject(j, "n", (double)n);
        cJSON_AddNumberToObject(j, "log_likelihood", mean);
        cJSON_AddNumberToObject(j, "nll_nats", -mean);
        cJSON_AddNumberToObject(j, "bits_per_dim", dgm_bits_per_dim(-mean, D, lik));
    }
    cJSON_AddNumberToObject(j, "bic", bic);
    cJSON_AddNumberToObject(j, "aic", aic);
    cJSON_AddNumberToObject(j, "n_params", npar);
    cJSON_AddNumberToObject(j, "fit_seconds", secs);
    cJSON_AddNumberToObject(j, "threads", dgm_get_threads());
    cJSON_AddStringToObject(j, "output", out);
    if (json) {
        cli_print_json(j);
        return;
    }
    {
        printf("%s%s on %s: %zu examples x %zu dimensions, %s data\n", dgm_model_type(m),
               per_class ? " per class" : "", ds->source, n, D, lik);
        for (int g = 0; g < G; g++) {
            dgm_mixture_info f;
            dgm_mixture_fit_info(&f, m, g, NULL);
            char cl[24] = "";
            if (per_class)
                snprintf(cl, sizeof cl, "class %d: ", g);
            printf("  %s%d iteration%s%s, train log-likelihood %.4f nats/example (%.4f bits/dim)\n",
                   cl, f.n_iter, f.n_iter == 1 ? "" : "s",
                   !mixture ? " (closed form)" : f.converged ? ", converged" : ", NOT converged",
                   f.log_likelihood, dgm_bits_per_dim(-f.log_likelihood, D, lik));
        }
        printf("  train NLL %.4f nats/example, %.4f bits/dim; BIC %.1f, AIC %.1f, %.0f parameters\n",
               -mean, dgm_bits_per_dim(-mean, D, lik), bic, aic, npar);
        printf("  fitted in %.2f s with %d thread%s; saved %s\n", secs, dgm_get_threads(),
               dgm_get_threads() == 1 ? "" : "s", out);
    }
    cJSON_Delete(j);
}

void cli_print_minibatch_fit(const dgm_model *m, const dgm_fit_result *res, const char *out,
                             long epochs, int json, int exact)
{
    if (res->stopped) {
        fprintf(stderr, "dgm train: interrupted in epoch %ld after step %ld; saved %s (continue "
                "with: dgm train --resume %s)\n", res->stop_epoch, res->stop_step, out, out);
        return;
    }
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "model", out);
        cJSON_AddStringToObject(j, "type", dgm_model_type(m));
        cJSON_AddNumberToObject(j, "epochs", (double)epochs);
        cJSON_AddNumberToObject(j, "steps", (double)res->steps);
        cJSON_AddNumberToObject(j, exact ? "train_nll" : "train_loss", res->loss);
        if (res->n_val)
            cJSON_AddNumberToObject(j, exact ? "val_nll" : "val_neg_elbo", res->val);
        cJSON_AddNumberToObject(j, "seconds", res->seconds);
        cJSON_AddNumberToObject(j, "n_train", (double)res->n_train);
        if (exact)
            cJSON_AddNumberToObject(j, "n_params", (double)dgm_model_n_params(m));
        cli_print_json(j);
        return;
    }
    printf("trained %s: %ld epochs, final train %s %.3f nats", out, epochs,
           exact ? "NLL" : "loss", res->loss);
    if (res->n_val)
        printf(exact ? ", validation NLL %.3f nats (exact)" : ", validation -ELBO %.3f nats",
               res->val);
    printf(" (%.1f s)\n", res->seconds);
}

void cli_print_vae_fit(const dgm_model *m, const dgm_fit_result *res, const char *out,
                       long epochs, int json)
{
    cli_print_minibatch_fit(m, res, out, epochs, json, 0);
}
