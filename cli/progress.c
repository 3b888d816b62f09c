/* A one-line progress bar, redrawn at most 8 times a second. */
#include "progress.h"
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_start(cli_progress *p, const char *label, size_t total)
{
    p->tty = cli_isatty_err();
    p->t0 = p->last = cli_now();
    p->total = total;
    snprintf(p->label, sizeof p->label, "%s", label);
}

void cli_progress_update(cli_progress *p, size_t done, const char *unit, double loss)
{
    if (!p->tty)
        return;
    if (done > p->total) /* a last partial batch must not run past 100% (size_t wraps) */
        done = p->total;
    double now = cli_now();
    if (now - p->last < 0.125 && done < p->total)
        return;
    p->last = now;
    double el = now - p->t0, rate = el > 0 ? (double)done / el : 0;
    double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
    int width = 24, fill = p->total ? (int)(width * (double)done / (double)p->total) : 0;
    char bar[32];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r%s [%s] %3.0f%% %.0f %s ETA %02d:%02d", p->label, bar,
            p->total ? 100.0 * (double)done / (double)p->total : 0.0, rate, unit,
            (int)(eta / 60), (int)fmod(eta, 60));
    if (!isnan(loss))
        fprintf(stderr, " loss %.2f", loss);
    fprintf(stderr, "\033[K");
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (p->tty)
        fprintf(stderr, "\r\033[K");
}
