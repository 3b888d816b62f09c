/* Figures as PNG through cairo (src/io/plot.c): a grid of panels, each with axes, ticks,
 * a title and axis labels, holding scatter points, lines, histograms, text and grayscale
 * images. Meant for any command's figures (dgm assess, dgm report).
 *
 *   dgm__fig *f = dgm__fig_new(1, 2, 420, 360, "Pair correlations");
 *   dgm__fig_axes(f, 0, 0, -0.1, 0.1, -0.1, 0.1, "heldout", "reference C", "sample C");
 *   dgm__fig_diag(f, 0x888888);
 *   dgm__fig_scatter(f, xy, n, 1.5, 0x1f77b4, 0.5);   // xy: n interleaved (x, y) floats
 *   dgm__fig_text(f, 0.05, 0.08, "r = 0.94");         // fractions of the panel, from top left
 *   dgm__fig_save(f, "pairs.png", &err); dgm__fig_free(f);
 *
 * Drawing calls go to the panel selected last by dgm__fig_axes (or dgm__fig_image).
 * Colours are 0xRRGGBB; dgm__fig_colour(i) is a fixed palette of 10 distinct ones.
 * Lines and histograms with a legend name add it to the panel's legend (top right).
 * The PNG is written atomically (dgm_png_write_rgb). Text uses cairo's "sans" face. */
#ifndef DGM_IO_PLOT_H
#define DGM_IO_PLOT_H

#include "dgm.h"

typedef struct dgm__fig dgm__fig;

/* rows x cols panels of pw x ph pixels under a title line; NULL when out of memory. */
dgm__fig *dgm__fig_new(int rows, int cols, int pw, int ph, const char *title);
void      dgm__fig_free(dgm__fig *f);
/* Selects panel (r, c), draws its frame, ticks (1-2-5 steps), title and labels for the
 * data range [x0, x1] x [y0, y1] (swapped or equal bounds are widened). */
void dgm__fig_axes(dgm__fig *f, int r, int c, double x0, double x1, double y0, double y1,
                   const char *title, const char *xlabel, const char *ylabel);
/* n points xy[2i], xy[2i+1] as squares of half-width `radius` pixels. */
void dgm__fig_scatter(dgm__fig *f, const float *xy, size_t n, double radius, unsigned rgb,
                      double alpha);
/* The line y = x across the panel, dashed. */
void dgm__fig_diag(dgm__fig *f, unsigned rgb);
/* A polyline through (x[i], y[i]); legend may be NULL. */
void dgm__fig_line(dgm__fig *f, const double *x, const double *y, size_t n, unsigned rgb,
                   double width, const char *legend);
/* Histogram of v (n) in `bins` equal bins over [lo, hi] (values outside are clamped into
 * the end bins), as filled bars of height count / n (a fraction); legend may be NULL. */
void dgm__fig_hist(dgm__fig *f, const double *v, size_t n, size_t bins, double lo, double hi,
                   unsigned rgb, double alpha, const char *legend);
/* The largest fraction any bin of that histogram reaches: for choosing y ranges. */
double dgm__hist_peak(const double *v, size_t n, size_t bins, double lo, double hi);
/* Text at (fx, fy), fractions of the panel's plot area from its top left. */
void dgm__fig_text(dgm__fig *f, double fx, double fy, const char *text);
/* A grayscale image (h x w values in [0, 1]) filling panel (r, c), with a title. */
void dgm__fig_image(dgm__fig *f, int r, int c, const float *img, size_t h, size_t w,
                    const char *title);
/* Writes the figure as an RGB PNG. */
dgm_status dgm__fig_save(dgm__fig *f, const char *path, dgm_err *err);
unsigned   dgm__fig_colour(size_t i);

#endif
