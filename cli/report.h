/* The training report (dgm train --report, dgm report): what a run recorded (per-step
 * batch losses and learning rates, per-epoch metrics, sample grids after each epoch) and
 * the self-contained HTML page drawn from it with the model and held-out data: loss and
 * learning-rate curves, the samples over epochs, the per-epoch and evaluation tables, and
 * for latent models the held-out codes in 2-D coloured by class. */
#ifndef DGM_CLI_REPORT_H
#define DGM_CLI_REPORT_H

#include "dgm.h"

#define CLI_REPORT_GRID 8 /* samples per epoch row */

typedef struct cli_run_step { long step; double loss, lr; } cli_run_step;
typedef struct cli_run_epoch {
    long   epoch, step;
    double loss, recon, kl, val, lr, seconds;
} cli_run_epoch;

typedef struct cli_run {
    cli_run_step  *steps;
    size_t         n_steps, cap_steps;
    cli_run_epoch *epochs;
    size_t         n_epochs, cap_epochs;
    float         *grids;       /* per recorded epoch: CLI_REPORT_GRID x D samples */
    long          *grid_epoch;
    size_t         n_grids, D;
    /* within-epoch running sums, to turn the driver's epoch means into batch losses */
    double         prev_sum;
    size_t         prev_done;
    long           prev_epoch;
    int            skip_first;  /* a resumed run: its first step event is not one batch */
} cli_run;

void cli_run_free(cli_run *r);
/* From a STEP event (the running epoch mean over p->done examples): the batch's own loss. */
void cli_run_on_step(cli_run *r, const dgm_fit_progress *p);
void cli_run_on_epoch(cli_run *r, const dgm_fit_progress *p);
/* CLI_REPORT_GRID decoder means from m with a fixed seed, so that epochs compare. */
void cli_run_add_grid(cli_run *r, dgm_model *m, long epoch);
/* Reads a dgm train --log file (JSON lines: epoch and step lines) into r; 0 or 1. */
int  cli_run_read_log(cli_run *r, const char *path);

/* Writes the page. eval_spec: held-out data for the evaluation table and the latent
 * picture (NULL: none). Returns 0, or prints the error and returns 1. */
int  cli_report_write(const char *path, const cli_run *r, dgm_model *m, const char *model_path,
                      const char *eval_spec, const char *eval_labels, uint64_t seed);

#endif
