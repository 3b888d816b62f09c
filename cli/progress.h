/* Progress on stderr: a redrawn bar with ETA, rate and running loss on a terminal, or
 * nothing per step (callers print one plain line per epoch) when stderr is a file. */
#ifndef DGM_CLI_PROGRESS_H
#define DGM_CLI_PROGRESS_H

#include <stddef.h>

typedef struct cli_progress {
    int    tty;
    double t0, last;
    size_t total;
    char   label[48];
} cli_progress;

double cli_now(void); /* CLOCK_MONOTONIC seconds */
void   cli_progress_start(cli_progress *p, const char *label, size_t total);
/* done units so far, with a rate unit ("img/s") and an optional loss (NaN to omit). */
void   cli_progress_update(cli_progress *p, size_t done, const char *unit, double loss);
void   cli_progress_end(cli_progress *p);

#endif
