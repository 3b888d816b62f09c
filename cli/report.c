/* The training report (report.h): the run's record, and the page drawn from it. */
#include "report.h"
#include "cli.h"
#include "io/html.h"
#include "io/plot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cli_run_free(cli_run *r)
{
    free(r->steps);
    free(r->epochs);
    free(r->grids);
    free(r->grid_epoch);
    memset(r, 0, sizeof *r);
}

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 1;
    size_t c = *cap ? 2 * *cap : 256;
    void *q = realloc(*p, c * size);
    if (!q)
        return 0;
    *p = q, *cap = c;
    return 1;
}

static void add_step(cli_run *r, long step, double loss, double lr)
{
    if (grow((void **)&r->steps, &r->cap_steps, r->n_steps, sizeof *r->steps))
        r->steps[r->n_steps++] = (cli_run_step){step, loss, lr};
}

static void add_epoch(cli_run *r, const cli_run_epoch *e)
{
    if (grow((void **)&r->epochs, &r->cap_epochs, r->n_epochs, sizeof *r->epochs))
        r->epochs[r->n_epochs++] = *e;
}

void cli_run_on_step(cli_run *r, const dgm_fit_progress *p)
{
    /* p->loss is the mean over the epoch's p->done examples: the batch's own loss is the
     * difference of the running sums; an epoch's first batch is its own mean. A resumed
     * run's first event carries the sums from before the stop (skip_first). */
    double sum = p->loss * (double)p->done;
    if (p->epoch == r->prev_epoch && p->done > r->prev_done)
        add_step(r, p->step, (sum - r->prev_sum) / (double)(p->done - r->prev_done), p->lr);
    else if (!r->skip_first)
        add_step(r, p->step, p->loss, p->lr);
    r->skip_first = 0;
    r->prev_sum = sum, r->prev_done = p->done, r->prev_epoch = p->epoch;
}

void cli_run_on_epoch(cli_run *r, const dgm_fit_progress *p)
{
    cli_run_epoch e = {p->epoch, p->step, p->loss, p->recon, p->kl, p->val, p->lr, p->seconds};
    add_epoch(r, &e);
}

void cli_run_add_grid(cli_run *r, dgm_model *m, long epoch)
{
    size_t D = dgm_model_dim(m), G = CLI_REPORT_GRID;
    if (r->D && r->D != D)
        return;
    float *g = realloc(r->grids, (r->n_grids + 1) * G * D * sizeof *g);
    if (!g)
        return;
    r->grids = g;
    long *ge = realloc(r->grid_epoch, (r->n_grids + 1) * sizeof *ge);
    if (!ge)
        return;
    r->grid_epoch = ge;
    int C = dgm_model_n_classes(m);
    int32_t y[CLI_REPORT_GRID];
    for (size_t i = 0; i < G; i++)
        y[i] = C > 0 ? (int32_t)(i % (size_t)C) : 0;
    dgm_rng rng;
    dgm_rng_init(&rng, 424242); /* the same latent draws every epoch */
    if (dgm_model_sample(m, &rng, g + r->n_grids * G * D, C > 0 ? y : NULL, G, 1, NULL))
        return;
    r->D = D;
    r->grid_epoch[r->n_grids++] = epoch;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

int cli_run_read_log(cli_run *r, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return cli_fail("report", "%s: cannot open the log", path);
    char line[4096];
    size_t ln = 0;
    int rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        ln++;
        if (line[strspn(line, " \t\r\n")] == 0)
            continue;
        cJSON *o = cJSON_Parse(line);
        if (!cJSON_IsObject(o)) {
            rc = cli_fail("report", "%s: line %zu is not a JSON object", path, ln);
        } else if (cJSON_GetObjectItem(o, "batch_loss")) {
            add_step(r, (long)num(o, "step"), num(o, "batch_loss"), num(o, "lr"));
        } else if (cJSON_GetObjectItem(o, "train_loss") && cJSON_GetObjectItem(o, "epoch")) {
            cli_run_epoch e = {(long)num(o, "epoch"), (long)num(o, "step"), num(o, "train_loss"),
                               num(o, "train_recon"), num(o, "train_kl"), num(o, "val_neg_elbo"),
                               num(o, "lr"), num(o, "seconds")};
            add_epoch(r, &e);
        }
        cJSON_Delete(o);
    }
    fclose(f);
    if (!rc && r->n_epochs == 0)
        rc = cli_fail("report", "%s: no epoch lines (a dgm train --log file)", path);
    return rc;
}

/* ---- the page */

static void range(const double *v, size_t n, double *lo, double *hi)
{
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            if (v[i] < *lo) *lo = v[i];
            if (v[i] > *hi) *hi = v[i];
        }
}

static int loss_figure(const char *png, const cli_run *r)
{
    size_t ns = r->n_steps, ne = r->n_epochs;
    double *sx = malloc((ns + 1) * sizeof *sx), *sy = malloc((ns + 1) * sizeof *sy);
    double *lr = malloc((ns + 1) * sizeof *lr), *ex = malloc((ne + 1) * sizeof *ex);
    double *et = malloc((ne + 1) * sizeof *et), *ev = malloc((ne + 1) * sizeof *ev);
    double *elr = malloc((ne + 1) * sizeof *elr);
    dgm__fig *f = dgm__fig_new(1, 2, 560, 380, "Training curves");
    int rc = 1;
    if (!sx || !sy || !lr || !ex || !et || !ev || !elr || !f)
        goto out;
    for (size_t i = 0; i < ns; i++)
        sx[i] = (double)r->steps[i].step, sy[i] = r->steps[i].loss, lr[i] = r->steps[i].lr;
    size_t nv = 0;
    for (size_t i = 0; i < ne; i++) {
        ex[i] = (double)r->epochs[i].step, et[i] = r->epochs[i].loss, elr[i] = r->epochs[i].lr;
        if (isfinite(r->epochs[i].val))
            ev[nv++] = r->epochs[i].val;
    }
    double x0 = 0, x1 = ne ? ex[ne - 1] : 1, y0 = INFINITY, y1 = -INFINITY;
    range(et, ne, &y0, &y1);
    range(ev, nv, &y0, &y1);
    /* batch losses spread wide early on: the axis follows the epochs, with some room */
    double lo = y0, hi = y1;
    range(sy, ns, &lo, &hi);
    y1 = fmin(hi, y1 + 1.5 * (y1 - y0) + 1), y0 = fmax(lo, y0 - 0.5 * (y1 - y0) - 1);
    dgm__fig_axes(f, 0, 0, x0, x1, y0, y1, "loss per example (nats)", "optimizer step", "nats");
    if (ns)
        dgm__fig_line(f, sx, sy, ns, 0xbbbbbb, 1.0, "batch");
    dgm__fig_line(f, ex, et, ne, dgm__fig_colour(0), 2.5, "train (epoch mean)");
    if (nv == ne && nv)
        dgm__fig_line(f, ex, ev, nv, dgm__fig_colour(1), 2.5, "validation -ELBO");
    double l0 = INFINITY, l1 = -INFINITY;
    range(ns ? lr : elr, ns ? ns : ne, &l0, &l1);
    dgm__fig_axes(f, 0, 1, x0, x1, 0, l1 > 0 ? 1.1 * l1 : 1, "learning rate", "optimizer step", "lr");
    dgm__fig_line(f, ns ? sx : ex, ns ? lr : elr, ns ? ns : ne, dgm__fig_colour(2), 2.0, NULL);
    rc = dgm__fig_save(f, png, NULL) != DGM_OK;
out:
    dgm__fig_free(f);
    free(sx), free(sy), free(lr), free(ex), free(et), free(ev), free(elr);
    return rc;
}

/* Rows of CLI_REPORT_GRID samples: at most 10 recorded epochs, evenly spread */
static int samples_figure(const char *png, const cli_run *r, size_t h, size_t w)
{
    size_t G = CLI_REPORT_GRID, rows = r->n_grids < 10 ? r->n_grids : 10;
    dgm__fig *f = dgm__fig_new((int)rows, (int)G, 110, 124, "Samples (decoder means, the same "
                               "latent draws each epoch)");
    if (!f)
        return 1;
    for (size_t i = 0; i < rows; i++) {
        size_t g = rows > 1 ? i * (r->n_grids - 1) / (rows - 1) : 0;
        for (size_t k = 0; k < G; k++) {
            char t[32] = "";
            if (k == 0)
                snprintf(t, sizeof t, r->grid_epoch[g] > 0 ? "epoch %ld" : "final",
                         r->grid_epoch[g]);
            dgm__fig_image(f, (int)i, (int)k, r->grids + (g * G + k) * r->D, h, w, t);
        }
    }
    int rc = dgm__fig_save(f, png, NULL) != DGM_OK;
    dgm__fig_free(f);
    return rc;
}

/* The two directions of largest variance of the n x Z codes (power iteration with
 * deflation on their covariance), or the codes themselves when Z <= 2. */
static void project2(float *xy, const float *z, size_t n, size_t Z)
{
    if (Z <= 2) {
        for (size_t i = 0; i < n; i++)
            xy[2 * i] = z[i * Z], xy[2 * i + 1] = Z > 1 ? z[i * Z + 1] : 0;
        return;
    }
    double *mean = calloc(Z, sizeof *mean), *cov = calloc(Z * Z, sizeof *cov);
    double *v = malloc(2 * Z * sizeof *v), *t = malloc(Z * sizeof *t);
    if (!mean || !cov || !v || !t)
        goto out;
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < Z; a++)
            mean[a] += z[i * Z + a] / (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < Z; a++)
            for (size_t b = 0; b < Z; b++)
                cov[a * Z + b] += (z[i * Z + a] - mean[a]) * (z[i * Z + b] - mean[b]);
    for (int k = 0; k < 2; k++) {
        double *u = v + (size_t)k * Z;
        for (size_t a = 0; a < Z; a++)
            u[a] = 1.0 + (double)a * (k ? -0.37 : 0.29);
        for (int it = 0; it < 300; it++) {
            for (size_t a = 0; a < Z; a++) {
                t[a] = 0;
                for (size_t b = 0; b < Z; b++)
                    t[a] += cov[a * Z + b] * u[b];
            }
            if (k) { /* deflate: stay orthogonal to the first direction */
                double d = 0;
                for (size_t a = 0; a < Z; a++) d += t[a] * v[a];
                for (size_t a = 0; a < Z; a++) t[a] -= d * v[a];
            }
            double nn = 0;
            for (size_t a = 0; a < Z; a++) nn += t[a] * t[a];
            nn = sqrt(nn) + 1e-300;
            for (size_t a = 0; a < Z; a++) u[a] = t[a] / nn;
        }
    }
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            double s = 0;
            for (size_t a = 0; a < Z; a++)
                s += (z[i * Z + a] - mean[a]) * v[(size_t)k * Z + a];
            xy[2 * i + (size_t)k] = (float)s;
        }
out:
    free(mean), free(cov), free(v), free(t);
}

static int latent_figure(const char *png, dgm_model *m, const float *x, const int32_t *y,
                         size_t n, int C, const char *const *names, const char *src)
{
    size_t Z = dgm_vae_config(m)->latent;
    float *mu = malloc(n * Z * sizeof *mu), *xy = malloc(2 * n * sizeof *xy);
    float *pts = malloc(2 * n * sizeof *pts);
    int rc = 1;
    if (!mu || !xy || !pts || dgm_vae_encode(m, mu, NULL, x, dgm_model_n_classes(m) ? y : NULL, n, NULL))
        goto out;
    project2(xy, mu, n, Z);
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        x0 = fmin(x0, xy[2 * i]), x1 = fmax(x1, xy[2 * i]);
        y0 = fmin(y0, xy[2 * i + 1]), y1 = fmax(y1, xy[2 * i + 1]);
    }
    char title[600];
    snprintf(title, sizeof title, "Posterior means of %zu held-out images (%s), by class", n, src);
    dgm__fig *f = dgm__fig_new(1, 1, 760, 620, title);
    if (!f)
        goto out;
    dgm__fig_axes(f, 0, 0, x0, x1, y0, y1, Z <= 2 ? "latent space" : "latent space, first two "
                  "principal directions", Z <= 2 ? "z1" : "PC 1", Z <= 2 ? "z2" : "PC 2");
    for (int c = 0; c < (C > 0 ? C : 1); c++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (C <= 0 || y[i] == c)
                pts[2 * k] = xy[2 * i], pts[2 * k + 1] = xy[2 * i + 1], k++;
        dgm__fig_scatter(f, pts, k, 2.2, dgm__fig_colour((size_t)c), 0.85);
    }
    /* the legend: a swatch in each class's colour beside its name, top left */
    for (int c = 0; c < C && c < 10; c++) {
        float sw[2] = {(float)(x0 + 0.02 * (x1 - x0)), (float)(y1 - (0.068 + 0.05 * c) * (y1 - y0))};
        dgm__fig_scatter(f, sw, 1, 5.0, dgm__fig_colour((size_t)c), 1.0);
        char t[64];
        if (names && names[c])
            snprintf(t, sizeof t, "%s", names[c]);
        else
            snprintf(t, sizeof t, "class %d", c);
        dgm__fig_text(f, 0.04, 0.04 + 0.05 * c, t);
    }
    rc = dgm__fig_save(f, png, NULL) != DGM_OK;
    dgm__fig_free(f);
out:
    free(mu), free(xy), free(pts);
    return rc;
}

static void fmt(char *s, size_t n, double v) { snprintf(s, n, isfinite(v) ? "%.3f" : "-", v); }

int cli_report_write(const char *path, const cli_run *r, dgm_model *m, const char *model_path,
                     const char *eval_spec, const char *eval_labels, uint64_t seed)
{
    if (!dgm_model_is_vae(m))
        return cli_fail("report", "%s: a %s model: reports are for the VAE family", model_path,
                        dgm_model_type(m));
    const dgm_vae_cfg *cfg = dgm_vae_config(m);
    char dir[] = "/tmp/dgm-report-XXXXXX", png[3][600];
    if (!mkdtemp(dir))
        return cli_fail("report", "cannot make a temporary folder");
    snprintf(png[0], sizeof png[0], "%s/loss.png", dir);
    snprintf(png[1], sizeof png[1], "%s/samples.png", dir);
    snprintf(png[2], sizeof png[2], "%s/latent.png", dir);
    dgm_err err = {0};
    int rc = 1, have_latent = 0;
    char **cells = NULL, (*buf)[40] = NULL;
    dgm_dataset ds = {0};
    float *x = NULL;
    dgm__html *h = NULL;
    cli_run fin = {0}; /* final samples when the run recorded none */
    if (loss_figure(png[0], r)) {
        cli_fail("report", "%s: cannot draw the training curves", path);
        goto out;
    }
    const cli_run *g = r;
    if (!r->n_grids) {
        cli_run_add_grid(&fin, m, 0);
        g = &fin;
    }
    if (!g->n_grids || samples_figure(png[1], g, cfg->height ? cfg->height : 1,
                                      cfg->height ? cfg->width : cfg->dim)) {
        cli_fail("report", "%s: cannot draw the samples", path);
        goto out;
    }
    /* the evaluation table and the latent picture, on held-out data */
    size_t n = 0;
    double ne = NAN, nll = NAN, se_e = NAN, se_l = NAN;
    int K = 100;
    if (eval_spec) {
        if (dgm_data_load(&ds, eval_spec, eval_labels, &err) ||
            dgm_eval_prepare(&x, &n, m, &ds, 1000, DGM_EVAL_PREP_SEED, &err)) {
            cli_fail_err("report", &err);
            goto out;
        }
        double *el = malloc(n * sizeof *el), *ll = malloc(n * sizeof *ll);
        const int32_t *y = dgm_model_n_classes(m) > 0 ? ds.y : NULL;
        dgm_rng rng;
        dgm_rng_init(&rng, seed);
        int ok = el && ll && !(dgm_model_n_classes(m) > 0 && !ds.y) &&
                 !dgm_vae_elbo(m, &rng, el, NULL, NULL, x, y, n, &err) &&
                 !dgm_model_log_prob(m, &rng, ll, x, y, n, K, &err);
        if (ok) {
            double s1 = 0, s2 = 0, t1 = 0, t2 = 0;
            for (size_t i = 0; i < n; i++)
                s1 -= el[i], s2 += el[i] * el[i], t1 -= ll[i], t2 += ll[i] * ll[i];
            ne = s1 / (double)n, nll = t1 / (double)n;
            se_e = sqrt(fmax(0, s2 / (double)n - ne * ne) / (double)n);
            se_l = sqrt(fmax(0, t2 / (double)n - nll * nll) / (double)n);
        }
        free(el);
        free(ll);
        if (!ok) {
            cli_fail("report", "%s: cannot evaluate on %s%s%s", model_path, eval_spec,
                     err.msg[0] ? ": " : "", err.msg);
            goto out;
        }
        if (ds.y && ds.n_classes > 0) {
            if (latent_figure(png[2], m, x, ds.y, n, ds.n_classes, ds.class_names, ds.source)) {
                cli_fail("report", "%s: cannot draw the latent codes", path);
                goto out;
            }
            have_latent = 1;
        }
    }
    if (!(h = dgm__html_open(path, "dgm training report", &err))) {
        cli_fail_err("report", &err);
        goto out;
    }
    char line[1024], shape[256] = "";
    for (int i = 0; i < cfg->n_hidden; i++)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "-%zu", cfg->hidden[i]);
    snprintf(line, sizeof line, "%s: %s %zu%s-%zu, %s decoder, %zu parameters; %zu epochs, "
             "%ld optimizer steps.", model_path, dgm_model_type(m), cfg->dim, shape, cfg->latent,
             dgm_model_likelihood(m), dgm_model_n_params(m), r->n_epochs,
             r->n_epochs ? r->epochs[r->n_epochs - 1].step : 0);
    dgm__html_para(h, line);
    dgm__html_heading(h, 2, "Training curves");
    if (dgm__html_image(h, png[0], "Loss per example: every batch (grey), the epoch means, and "
                        "the validation -ELBO; the learning rate of every step.", &err))
        goto html_err;
    if (have_latent) {
        dgm__html_heading(h, 2, "Latent space");
        if (dgm__html_image(h, png[2], "Posterior means of held-out images, coloured by class.",
                            &err))
            goto html_err;
    }
    dgm__html_heading(h, 2, "Samples");
    if (dgm__html_image(h, png[1], r->n_grids ? "Decoder means from the same latent draws "
                        "after each epoch." : "Decoder means of the final model (the run "
                        "recorded no samples per epoch: use dgm train --report).", &err))
        goto html_err;
    dgm__html_heading(h, 2, "Epochs");
    const char *head[7] = {"epoch", "train loss", "reconstruction", "KL", "validation -ELBO",
                           "learning rate", "seconds"};
    size_t ne_rows = r->n_epochs;
    cells = calloc(ne_rows * 7 + 8, sizeof *cells);
    buf = calloc(ne_rows * 7 + 8, sizeof *buf);
    if (!cells || !buf) {
        free(buf);
        cli_fail("report", "out of memory");
        dgm__html_abort(h);
        h = NULL;
        goto out;
    }
    for (size_t i = 0; i < ne_rows; i++) {
        const cli_run_epoch *e = &r->epochs[i];
        double v[7] = {(double)e->epoch, e->loss, e->recon, e->kl, e->val, e->lr, e->seconds};
        for (int k = 0; k < 7; k++) {
            if (k == 0) snprintf(buf[i * 7], 40, "%ld", e->epoch);
            else if (k == 5) snprintf(buf[i * 7 + 5], 40, "%.3g", e->lr);
            else fmt(buf[i * 7 + (size_t)k], 40, v[k]);
            cells[i * 7 + (size_t)k] = buf[i * 7 + (size_t)k];
        }
    }
    dgm__html_table(h, head, 7, (const char *const *)cells, ne_rows);
    if (eval_spec) {
        dgm__html_heading(h, 2, "Evaluation");
        const char *eh[4] = {"measure", "nats per example", "standard error", "bits/dim"};
        char b[3][3][40];
        const char *ec[8];
        fmt(b[0][0], 40, ne), fmt(b[0][1], 40, se_e);
        snprintf(b[0][2], 40, "%.4f", dgm_bits_per_dim(ne, cfg->dim, dgm_model_likelihood(m)));
        fmt(b[1][0], 40, nll), fmt(b[1][1], 40, se_l);
        snprintf(b[1][2], 40, "%.4f", dgm_bits_per_dim(nll, cfg->dim, dgm_model_likelihood(m)));
        char kname[64];
        snprintf(kname, sizeof kname, "-log p(x), %d importance samples", K);
        ec[0] = "negative ELBO", ec[1] = b[0][0], ec[2] = b[0][1], ec[3] = b[0][2];
        ec[4] = kname, ec[5] = b[1][0], ec[6] = b[1][1], ec[7] = b[1][2];
        dgm__html_table(h, eh, 4, ec, 2);
        snprintf(line, sizeof line, "On the first %zu examples of %s (dgm eval's preparation).",
                 n, ds.source);
        dgm__html_para(h, line);
    }
    free(buf);
    buf = NULL;
    rc = dgm__html_close(h, &err) ? cli_fail_err("report", &err) : 0;
    h = NULL;
    goto out;
html_err:
    free(buf);
    dgm__html_abort(h);
    h = NULL;
    cli_fail_err("report", &err);
out:
    free(cells);
    cli_run_free(&fin);
    dgm_free(x);
    dgm_data_free(&ds);
    for (int i = 0; i < 3; i++)
        unlink(png[i]);
    rmdir(dir);
    return rc;
}
