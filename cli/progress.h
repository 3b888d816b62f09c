/* Progress on stderr: a redrawn bar (tqdm's fields: percent, n/total, elapsed<remaining,
 * rate, loss) fitted to the terminal on a terminal, or
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
double cli_wall_time(void); /* seconds since the Unix epoch, for log timestamps */
void   cli_progress_start(cli_progress *p, const char *label, size_t total);
/* done units so far, with a rate unit ("img/s") and an optional loss (NaN to omit). */
void   cli_progress_update(cli_progress *p, size_t done, const char *unit, double loss);
void   cli_progress_end(cli_progress *p);
/* The terminal's width in columns (stderr's, else $COLUMNS, else 80). */
int    cli_term_width(void);
/* The bar's text for a terminal of cols columns, at most cols - 1 characters (never
 * wraps); returns its length. Separate from the drawing so that it can be tested. */
size_t cli_progress_format(char *out, size_t cap, int cols, const char *label, size_t done,
                           size_t total, double elapsed, const char *unit, double loss);

#endif
