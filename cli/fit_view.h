/* What dgm train shows while dgm_fit runs: the progress bar on a terminal (or one plain line
 * per epoch or report when stderr is a file), the per-epoch lines, the EM iteration lines,
 * and the --log file (JSON lines: one per epoch, or per report of a sampled run). The
 * library reports through dgm_fit_progress; this is the callback. */
#ifndef DGM_CLI_FIT_VIEW_H
#define DGM_CLI_FIT_VIEW_H

#include "dgm.h"
#include "progress.h"
#include "report.h"

#include <stdio.h>

typedef struct cli_fit_view {
    const char *what;       /* BEGIN line: "vae 784-400-20 on fashion-mnist" */
    size_t batch, n_params;
    FILE  *log;             /* JSON lines (one per epoch or sampled report), or NULL */
    int    scan;            /* sampled: a scan is scored */
    size_t scan_n;          /* its scorable mutants */
    const char *note;       /* sampled: a line printed under the BEGIN line, or NULL */
    cli_progress bar;
    int    bar_on;
    double last_t, last_ll; /* EM lines */
    int    last_cls, last_init;
    char   what_buf[1024];
    int    record;          /* minibatch: keep run (for --log step lines and --report) */
    cli_run run;            /* the batch losses, epochs and (with grid_model) samples */
    dgm_model *grid_model;  /* --report: sample it after every epoch, or NULL */
} cli_fit_view;

void cli_fit_view_init(cli_fit_view *v, const char *what);
/* The view of a VAE run: what = "vae 784-400-20 on SOURCE", the batch and the size. */
void cli_fit_view_init_vae(cli_fit_view *v, const dgm_model *m, const dgm_vae_cfg *cfg,
                           const char *source, size_t batch);
/* The dgm_fit_callback; ctx is a cli_fit_view. */
void cli_fit_view_cb(void *ctx, const dgm_fit_progress *p);
/* Clears a bar left on the terminal (and frees the record). */
void cli_fit_view_end(cli_fit_view *v);

/* The summary of a protein-family fit on stdout (text, or one JSON object). variant is
 * NULL for the site-independent model; eval_csv NULL without a scan. */
void cli_print_protein_fit(const dgm_model *m, const dgm_fit_result *res,
                           const dgm_alignment *a, const char *data, const char *out,
                           const char *variant, const char *eval_csv, const char *eval_col,
                           size_t scan_n, double neff, double weights_seconds, int json);
/* The summary of a tractable baseline's fit on stdout (text, or one JSON object). */
void cli_print_mixture_fit(const dgm_model *m, const dgm_dataset *ds, const char *lik, size_t n,
                           int per_class, int mixture, int gaussian, long K, const char *cov,
                           double secs, const char *out, int json);
/* The summary of a VAE or CVAE training run on stdout (text, or one JSON object), or, for
 * a stopped run, where it stopped and how to resume, on stderr. */
/* The end of a minibatch fit: the interrupt note, one JSON object, or one line; exact: the
 * loss is an exact NLL (MADE, flows: train_nll, val_nll, n_params), else the VAE's bound. */
void cli_print_minibatch_fit(const dgm_model *m, const dgm_fit_result *res, const char *out,
                             long epochs, int json, int exact);
void cli_print_vae_fit(const dgm_model *m, const dgm_fit_result *res, const char *out,
                       long epochs, int json);

#endif
