/* A one-line progress bar in tqdm's layout, redrawn in place at most 8 times a second:
 *   label:  45%|#########           | 27008/60000 [00:03<00:04, 8123 img/s, loss=285.12]
 * fitted to the terminal's width (TIOCGWINSZ, else $COLUMNS, else 80) so that it never
 * wraps: the bar shrinks first, then goes, and the line is cut at the last column. */
#include "progress.h"
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double cli_wall_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cli_term_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int n = c ? atoi(c) : 0;
    return n > 0 ? n : 80;
}

void cli_progress_start(cli_progress *p, const char *label, size_t total)
{
    p->tty = cli_isatty_err();
    p->t0 = p->last = cli_now();
    p->total = total;
    snprintf(p->label, sizeof p->label, "%s", label);
}

/* mm:ss, or h:mm:ss from an hour on; "?" while unknown */
static void fmt_time(char *s, size_t n, double t)
{
    if (!isfinite(t) || t < 0) {
        snprintf(s, n, "?");
        return;
    }
    long v = (long)(t + 0.5);
    if (v >= 3600)
        snprintf(s, n, "%ld:%02ld:%02ld", v / 3600, v / 60 % 60, v % 60);
    else
        snprintf(s, n, "%02ld:%02ld", v / 60, v % 60);
}

size_t cli_progress_format(char *out, size_t cap, int cols, const char *label, size_t done,
                           size_t total, double elapsed, const char *unit, double loss)
{
    if (done > total) /* a last partial batch must not run past 100% (size_t wraps) */
        done = total;
    double frac = total ? (double)done / (double)total : 0;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    double remain = rate > 0 ? (double)(total - done) / rate : NAN;
    char el[32], rem[32], head[80], nt[48], tm[72], rt[48], ls[40] = "";
    fmt_time(el, sizeof el, elapsed);
    fmt_time(rem, sizeof rem, remain);
    snprintf(head, sizeof head, "%s: %3d%%", label, (int)(100 * frac));
    snprintf(nt, sizeof nt, " %zu/%zu", done, total);
    snprintf(tm, sizeof tm, " [%s<%s", el, rem);
    snprintf(rt, sizeof rt, ", %.4g %s", rate, unit);
    if (!isnan(loss))
        snprintf(ls, sizeof ls, ", loss=%.2f", loss);
    /* Narrow terminals lose the bar first, then the rate, then n/total, then the times;
     * the last column stays empty, since a terminal may wrap on it. */
    const char *parts[4][4] = {{nt, tm, rt, ls}, {nt, tm, ls, ""}, {tm, ls, "", ""},
                               {ls, "", "", ""}};
    int max = cols > 1 ? cols - 1 : 1;
    char line[640], tail[256];
    for (int v = 0; v < 4; v++) {
        snprintf(tail, sizeof tail, "%s%s%s%s%s", parts[v][0], parts[v][1], parts[v][2],
                 parts[v][3], v < 3 ? "]" : "");
        if (v == 3) /* only the loss is left: no bracket to close */
            snprintf(tail, sizeof tail, "%s", ls[0] ? ls + 1 : "");
        int room = max - (int)strlen(head) - (int)strlen(tail) - 2;
        if (v == 0 && room >= 4) {
            int w = room > 200 ? 200 : room, fill = (int)(w * frac);
            char bar[201];
            for (int i = 0; i < w; i++)
                bar[i] = i < fill ? '#' : ' ';
            bar[w] = 0;
            snprintf(line, sizeof line, "%s|%s|%s", head, bar, tail);
            break;
        }
        snprintf(line, sizeof line, "%s%s", head, tail);
        if ((int)strlen(line) <= max)
            break;
    }
    size_t n = strlen(line);
    if (n > (size_t)max)
        n = (size_t)max;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, line, n);
    out[n] = 0;
    return n;
}

void cli_progress_update(cli_progress *p, size_t done, const char *unit, double loss)
{
    if (!p->tty)
        return;
    if (done > p->total)
        done = p->total;
    double now = cli_now();
    if (now - p->last < 0.125 && done < p->total)
        return;
    p->last = now;
    char line[512];
    cli_progress_format(line, sizeof line, cli_term_width(), p->label, done, p->total,
                        now - p->t0, unit, loss);
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (p->tty)
        fprintf(stderr, "\r\033[K");
}
