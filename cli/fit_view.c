/* The dgm train progress view (fit_view.h). */
#include "fit_view.h"

#include "par/par.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void cli_fit_view_init(cli_fit_view *v, const char *what)
{
    memset(v, 0, sizeof *v);
    v->what = what;
    v->last_t = cli_now();
    v->last_cls = -2;
    v->last_init = -1;
}

void cli_fit_view_init_vae(cli_fit_view *v, const dgm_model *m, const dgm_vae_cfg *cfg,
                           const char *source, size_t batch)
{
    char shape[160] = "";
    for (int i = 0; i < cfg->n_hidden; i++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%zu", i ? "-" : "",
                 cfg->hidden[i]);
    cli_fit_view_init(v, v->what_buf);
    snprintf(v->what_buf, sizeof v->what_buf, "%s %zu-%s-%zu on %s", m ? dgm_model_type(m) : "",
             cfg->dim, shape, cfg->latent, source);
    v->batch = batch;
    v->n_params = m ? dgm_model_n_params(m) : 0;
}

static void bar_end(cli_fit_view *v)
{
    if (v->bar_on)
        cli_progress_end(&v->bar);
    v->bar_on = 0;
}

void cli_fit_view_end(cli_fit_view *v)
{
    bar_end(v);
    cli_run_free(&v->run);
}

static void on_epoch(cli_fit_view *v, const dgm_fit_progress *p)
{
    bar_end(v);
    if (v->record) {
        cli_run_on_epoch(&v->run, p);
        if (v->grid_model)
            cli_run_add_grid(&v->run, v->grid_model, p->epoch);
    }
    fprintf(stderr, "epoch %ld/%ld  loss %.3f  recon %.3f  kl %.3f", p->epoch, p->epochs,
            p->loss, p->recon, p->kl);
    if (!isnan(p->val))
        fprintf(stderr, "  val -elbo %.3f", p->val);
    double rate = (double)p->n_train / p->seconds;
    fprintf(stderr, "  %.1f s  %.0f img/s\n", p->seconds, rate);
    if (v->log) {
        /* JSON has no NaN: without validation the field is null */
        char val[32] = "null";
        if (isfinite(p->val))
            snprintf(val, sizeof val, "%.6f", p->val);
        fprintf(v->log, "{\"epoch\":%ld,\"train_loss\":%.6f,\"train_recon\":%.6f,"
                "\"train_kl\":%.6f,\"val_neg_elbo\":%s,\"seconds\":%.3f,\"images_per_s\":%.1f,"
                "\"step\":%ld,\"lr\":%.6g,\"time\":%.3f}\n", p->epoch, p->loss, p->recon, p->kl,
                val, p->seconds, rate, p->step, p->lr, cli_wall_time());
        fflush(v->log);
    }
}

static void on_report(cli_fit_view *v, const dgm_fit_progress *p)
{
    if (v->log) {
        /* the same JSON lines as the epoch log: one object per report */
        fprintf(v->log, "{\"step\":%zu,\"seconds\":%.3f,\"train_loss\":%.6g", p->done,
                p->seconds, p->loss);
        if (v->scan)
            fprintf(v->log, ",\"spearman\":%.6f,\"scan_mutants\":%zu", p->val, v->scan_n);
        fprintf(v->log, ",\"lr\":%.6g}\n", p->lr);
        fflush(v->log);
    }
    double rate = p->seconds > 0 ? (double)p->done / p->seconds : 0;
    if (v->bar.tty) {
        cli_progress_update(&v->bar, p->done, "steps/s", p->loss);
        return;
    }
    fprintf(stderr, "step %zu  loss %.3f  %.1f steps/s", p->done, p->loss, rate);
    if (v->scan)
        fprintf(stderr, "  spearman %.4f", p->val);
    fprintf(stderr, "\n");
}

static void on_iter(cli_fit_view *v, const dgm_fit_progress *p)
{
    double now = cli_now();
    char cl[24] = "", change[48] = "";
    if (p->cls >= 0)
        snprintf(cl, sizeof cl, "class %d ", p->cls);
    if (p->iter > 1 && p->cls == v->last_cls && p->init == v->last_init)
        snprintf(change, sizeof change, " (%+.4g%s)", p->loglik - v->last_ll,
                 p->loglik < v->last_ll ? ", DECREASED" : "");
    fprintf(stderr, "%sinit %d iter %3d: log-likelihood %.6f nats/example%s  %.2f s\n", cl,
            p->init + 1, p->iter, p->loglik, change, now - v->last_t);
    v->last_t = now;
    v->last_ll = p->loglik;
    v->last_cls = p->cls;
    v->last_init = p->init;
}

/* "2 ranks x " under mpirun with more than one rank, else "" */
static const char *ranks_text(char *buf, size_t n)
{
    int R = dgm__par_size();
    if (R < 2)
        return "";
    snprintf(buf, n, "%d ranks x ", R);
    return buf;
}

void cli_fit_view_cb(void *ctx, const dgm_fit_progress *p)
{
    cli_fit_view *v = ctx;
    char label[32];
    switch (p->event) {
    case DGM_FIT_BEGIN:
        if (p->epochs > 0) {
            fprintf(stderr, "dgm train: %s (%zu train, %zu validation), %ld epochs, batch %zu, "
                    "%s%d threads, %zu parameters\n", v->what, p->n_train, p->n_val, p->epochs,
                    v->batch, ranks_text(label, sizeof label), dgm_get_threads(), v->n_params);
        } else {
            if (v->n_params)
                fprintf(stderr, "dgm train: %s, %zu steps of batch %zu, %s%d threads, %zu "
                        "parameters\n", v->what, p->total, v->batch,
                        ranks_text(label, sizeof label), dgm_get_threads(), v->n_params);
            if (v->note)
                fprintf(stderr, "dgm train: note: %s\n", v->note);
            cli_progress_start(&v->bar, "train", p->total);
            v->bar_on = 1;
        }
        break;
    case DGM_FIT_STEP:
        if (p->epochs == 0) {
            on_report(v, p);
            break;
        }
        if (!v->bar_on || strncmp(v->bar.label, "epoch", 5) || v->bar.total != p->total ||
            p->done <= v->batch) {
            bar_end(v);
            snprintf(label, sizeof label, "epoch %ld/%ld", p->epoch, p->epochs);
            cli_progress_start(&v->bar, label, p->total);
            v->bar_on = 1;
        }
        cli_progress_update(&v->bar, p->done, "img/s", p->loss);
        if (v->record) {
            size_t had = v->run.n_steps;
            cli_run_on_step(&v->run, p);
            if (v->log && v->run.n_steps > had) {
                const cli_run_step *s = &v->run.steps[v->run.n_steps - 1];
                fprintf(v->log, "{\"step\":%ld,\"epoch\":%ld,\"batch_loss\":%.6f,"
                        "\"lr\":%.6g,\"time\":%.3f}\n", s->step, p->epoch, s->loss, s->lr,
                        cli_wall_time());
            }
        }
        break;
    case DGM_FIT_EPOCH:
        on_epoch(v, p);
        break;
    case DGM_FIT_ITER:
        on_iter(v, p);
        break;
    case DGM_FIT_MOMENTS: /* only the Potts trainer, which draws its own lines */
        break;
    }
}
