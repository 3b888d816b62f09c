/* Figures through cairo's image surface (cairographics.org/manual): panels laid out in a
 * grid, a data-to-pixel map per panel, ticks at 1-2-5 steps (Heckbert, "Nice numbers for
 * graph labels", Graphics Gems 1990). The surface's ARGB32 pixels become RGB bytes written
 * by dgm_png_write_rgb, so the file appears atomically like every other output.
 * Left out: log axes, colour bars, vector output (SVG/PDF). */
#include "io/plot.h"

#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TITLE_H 34
#define M_LEFT 64
#define M_RIGHT 16
#define M_TOP 28
#define M_BOTTOM 46
#define FONT 12.0

struct dgm__fig {
    cairo_surface_t *surf;
    cairo_t *cr;
    int rows, cols, pw, ph, W, H;
    /* the selected panel: plot area in pixels and its data range */
    double px0, py0, pxw, pyh, x0, x1, y0, y1;
    int n_legend;
};

static const unsigned palette[] = {0x1f77b4, 0xd62728, 0x2ca02c, 0xff7f0e, 0x9467bd,
                                   0x8c564b, 0xe377c2, 0x17becf, 0xbcbd22, 0x7f7f7f};

unsigned dgm__fig_colour(size_t i) { return palette[i % (sizeof palette / sizeof *palette)]; }

static void set_rgb(cairo_t *cr, unsigned rgb, double alpha)
{
    cairo_set_source_rgba(cr, (rgb >> 16 & 255) / 255.0, (rgb >> 8 & 255) / 255.0,
                          (rgb & 255) / 255.0, alpha);
}

/* Text with its anchor at (x, y): ax, ay in {0, 0.5, 1} align left/centre/right,
 * top/middle/baseline-ish bottom. */
static void text_at(cairo_t *cr, double x, double y, const char *s, double size, double ax,
                    double ay, int bold)
{
    cairo_select_font_face(cr, "sans", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - ax * e.width - e.x_bearing, y - ay * e.height - e.y_bearing);
    cairo_show_text(cr, s);
}

dgm__fig *dgm__fig_new(int rows, int cols, int pw, int ph, const char *title)
{
    if (rows < 1 || cols < 1 || pw < 100 || ph < 100)
        return NULL;
    dgm__fig *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->rows = rows;
    f->cols = cols;
    f->pw = pw;
    f->ph = ph;
    f->W = cols * pw;
    f->H = rows * ph + TITLE_H;
    f->surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, f->W, f->H);
    if (cairo_surface_status(f->surf) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(f->surf);
        free(f);
        return NULL;
    }
    f->cr = cairo_create(f->surf);
    cairo_set_source_rgb(f->cr, 1, 1, 1);
    cairo_paint(f->cr);
    cairo_set_source_rgb(f->cr, 0, 0, 0);
    if (title)
        text_at(f->cr, f->W / 2.0, TITLE_H / 2.0, title, 16, 0.5, 0.5, 1);
    return f;
}

void dgm__fig_free(dgm__fig *f)
{
    if (!f)
        return;
    cairo_destroy(f->cr);
    cairo_surface_destroy(f->surf);
    free(f);
}

static double map_x(const dgm__fig *f, double x) { return f->px0 + (x - f->x0) / (f->x1 - f->x0) * f->pxw; }
static double map_y(const dgm__fig *f, double y) { return f->py0 + f->pyh - (y - f->y0) / (f->y1 - f->y0) * f->pyh; }

static double nice_step(double range, int target)
{
    double raw = range / target, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p;
}

static void tick_label(char *buf, size_t cap, double v, double step)
{
    if (fabs(v) < step * 1e-6)
        v = 0;
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (fabs(v) >= 1e5 || (v != 0 && fabs(v) < 1e-4))
        snprintf(buf, cap, "%.1e", v);
    else
        snprintf(buf, cap, "%.*f", dec, v);
}

static void widen(double *a, double *b)
{
    if (!(isfinite(*a) && isfinite(*b))) {
        *a = 0;
        *b = 1;
    }
    if (*a > *b) {
        double t = *a;
        *a = *b;
        *b = t;
    }
    if (*a == *b) {
        double d = *a == 0 ? 1 : fabs(*a) * 0.1;
        *a -= d;
        *b += d;
    }
}

void dgm__fig_axes(dgm__fig *f, int r, int c, double x0, double x1, double y0, double y1,
                   const char *title, const char *xlabel, const char *ylabel)
{
    cairo_t *cr = f->cr;
    widen(&x0, &x1);
    widen(&y0, &y1);
    f->x0 = x0; f->x1 = x1; f->y0 = y0; f->y1 = y1;
    f->px0 = c * f->pw + M_LEFT;
    f->py0 = TITLE_H + r * f->ph + M_TOP;
    f->pxw = f->pw - M_LEFT - M_RIGHT;
    f->pyh = f->ph - M_TOP - M_BOTTOM;
    f->n_legend = 0;
    cairo_set_line_width(cr, 1);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_rectangle(cr, f->px0 + 0.5, f->py0 + 0.5, f->pxw, f->pyh);
    cairo_stroke(cr);
    char buf[32];
    double sx = nice_step(x1 - x0, 5), sy = nice_step(y1 - y0, 5);
    for (double t = ceil(x0 / sx - 1e-9) * sx; t <= x1 + sx * 1e-9; t += sx) {
        double px = floor(map_x(f, t)) + 0.5;
        cairo_move_to(cr, px, f->py0 + f->pyh);
        cairo_line_to(cr, px, f->py0 + f->pyh + 5);
        cairo_stroke(cr);
        tick_label(buf, sizeof buf, t, sx);
        text_at(cr, px, f->py0 + f->pyh + 8, buf, FONT - 1, 0.5, 0, 0);
    }
    for (double t = ceil(y0 / sy - 1e-9) * sy; t <= y1 + sy * 1e-9; t += sy) {
        double py = floor(map_y(f, t)) + 0.5;
        cairo_move_to(cr, f->px0 - 5, py);
        cairo_line_to(cr, f->px0, py);
        cairo_stroke(cr);
        tick_label(buf, sizeof buf, t, sy);
        text_at(cr, f->px0 - 8, py, buf, FONT - 1, 1, 0.5, 0);
    }
    if (title)
        text_at(cr, f->px0 + f->pxw / 2, f->py0 - 8, title, FONT + 1, 0.5, 1, 1);
    if (xlabel)
        text_at(cr, f->px0 + f->pxw / 2, f->py0 + f->pyh + 26, xlabel, FONT, 0.5, 0, 0);
    if (ylabel) {
        cairo_save(cr);
        cairo_translate(cr, c * f->pw + 14, f->py0 + f->pyh / 2);
        cairo_rotate(cr, -M_PI / 2);
        text_at(cr, 0, 0, ylabel, FONT, 0.5, 0.5, 0);
        cairo_restore(cr);
    }
}

static void clip_panel(dgm__fig *f)
{
    cairo_save(f->cr);
    cairo_rectangle(f->cr, f->px0 + 1, f->py0 + 1, f->pxw - 1, f->pyh - 1);
    cairo_clip(f->cr);
}

void dgm__fig_scatter(dgm__fig *f, const float *xy, size_t n, double radius, unsigned rgb,
                      double alpha)
{
    clip_panel(f);
    set_rgb(f->cr, rgb, alpha);
    for (size_t i = 0; i < n; i++) {
        double x = map_x(f, xy[2 * i]), y = map_y(f, xy[2 * i + 1]);
        cairo_rectangle(f->cr, x - radius, y - radius, 2 * radius, 2 * radius);
        if (i % 4096 == 4095)
            cairo_fill(f->cr);
    }
    cairo_fill(f->cr);
    cairo_restore(f->cr);
}

void dgm__fig_diag(dgm__fig *f, unsigned rgb)
{
    double lo = fmax(f->x0, f->y0), hi = fmin(f->x1, f->y1);
    if (!(lo < hi))
        return;
    clip_panel(f);
    static const double dash[] = {5, 4};
    cairo_set_dash(f->cr, dash, 2, 0);
    cairo_set_line_width(f->cr, 1.2);
    set_rgb(f->cr, rgb, 1);
    cairo_move_to(f->cr, map_x(f, lo), map_y(f, lo));
    cairo_line_to(f->cr, map_x(f, hi), map_y(f, hi));
    cairo_stroke(f->cr);
    cairo_set_dash(f->cr, NULL, 0, 0);
    cairo_restore(f->cr);
}

static void legend(dgm__fig *f, unsigned rgb, const char *name)
{
    if (!name)
        return;
    double y = f->py0 + 12 + 16 * f->n_legend++, x = f->px0 + f->pxw - 8;
    cairo_select_font_face(f->cr, "sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(f->cr, FONT - 1);
    cairo_text_extents_t e;
    cairo_text_extents(f->cr, name, &e);
    cairo_set_source_rgba(f->cr, 1, 1, 1, 0.8);
    cairo_rectangle(f->cr, x - e.width - 26, y - 7, e.width + 30, 14);
    cairo_fill(f->cr);
    set_rgb(f->cr, rgb, 1);
    cairo_rectangle(f->cr, x - e.width - 22, y - 4, 14, 8);
    cairo_fill(f->cr);
    cairo_set_source_rgb(f->cr, 0, 0, 0);
    text_at(f->cr, x, y, name, FONT - 1, 1, 0.5, 0);
}

void dgm__fig_line(dgm__fig *f, const double *x, const double *y, size_t n, unsigned rgb,
                   double width, const char *name)
{
    clip_panel(f);
    set_rgb(f->cr, rgb, 1);
    cairo_set_line_width(f->cr, width);
    cairo_set_line_join(f->cr, CAIRO_LINE_JOIN_ROUND);
    for (size_t i = 0; i < n; i++) {
        if (i == 0)
            cairo_move_to(f->cr, map_x(f, x[i]), map_y(f, y[i]));
        else
            cairo_line_to(f->cr, map_x(f, x[i]), map_y(f, y[i]));
    }
    cairo_stroke(f->cr);
    cairo_restore(f->cr);
    legend(f, rgb, name);
}

static size_t bin_of(double v, size_t bins, double lo, double hi)
{
    double t = (v - lo) / (hi - lo) * (double)bins;
    if (!(t > 0))
        return 0;
    return t >= (double)bins ? bins - 1 : (size_t)t;
}

double dgm__hist_peak(const double *v, size_t n, size_t bins, double lo, double hi)
{
    size_t *c = calloc(bins ? bins : 1, sizeof *c), best = 0;
    if (!c || !n || !(hi > lo)) {
        free(c);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        c[bin_of(v[i], bins, lo, hi)]++;
    for (size_t b = 0; b < bins; b++)
        best = c[b] > best ? c[b] : best;
    free(c);
    return (double)best / (double)n;
}

void dgm__fig_hist(dgm__fig *f, const double *v, size_t n, size_t bins, double lo, double hi,
                   unsigned rgb, double alpha, const char *name)
{
    size_t *c = calloc(bins ? bins : 1, sizeof *c);
    if (!c || !n || !(hi > lo)) {
        free(c);
        return;
    }
    for (size_t i = 0; i < n; i++)
        c[bin_of(v[i], bins, lo, hi)]++;
    clip_panel(f);
    set_rgb(f->cr, rgb, alpha);
    double w = (hi - lo) / (double)bins;
    for (size_t b = 0; b < bins; b++) {
        if (!c[b])
            continue;
        double xa = map_x(f, lo + (double)b * w), xb = map_x(f, lo + (double)(b + 1) * w);
        double ya = map_y(f, (double)c[b] / (double)n), yb = map_y(f, fmax(f->y0, 0));
        cairo_rectangle(f->cr, xa, ya, fmax(xb - xa - 0.5, 1), yb - ya);
    }
    cairo_fill(f->cr);
    cairo_restore(f->cr);
    free(c);
    legend(f, rgb, name);
}

void dgm__fig_text(dgm__fig *f, double fx, double fy, const char *s)
{
    cairo_set_source_rgb(f->cr, 0, 0, 0);
    text_at(f->cr, f->px0 + fx * f->pxw, f->py0 + fy * f->pyh, s, FONT, 0, 0.5, 0);
}

void dgm__fig_image(dgm__fig *f, int r, int c, const float *img, size_t h, size_t w,
                    const char *title)
{
    double ax = c * f->pw + 4, ay = TITLE_H + r * f->ph + 20;
    double aw = f->pw - 8, ah = f->ph - 24, s = fmin(aw / (double)w, ah / (double)h);
    double ox = ax + (aw - s * (double)w) / 2, oy = ay + (ah - s * (double)h) / 2;
    for (size_t i = 0; i < h; i++)
        for (size_t j = 0; j < w; j++) {
            double v = img[i * w + j];
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            cairo_set_source_rgb(f->cr, v, v, v);
            cairo_rectangle(f->cr, ox + (double)j * s, oy + (double)i * s, s + 0.5, s + 0.5);
            cairo_fill(f->cr);
        }
    if (title) {
        cairo_set_source_rgb(f->cr, 0, 0, 0);
        text_at(f->cr, c * f->pw + f->pw / 2.0, ay - 4, title, FONT - 1, 0.5, 1, 0);
    }
}

dgm_status dgm__fig_save(dgm__fig *f, const char *path, dgm_err *err)
{
    cairo_surface_flush(f->surf);
    const unsigned char *d = cairo_image_surface_get_data(f->surf);
    int stride = cairo_image_surface_get_stride(f->surf);
    uint8_t *rgb = dgm_malloc_array((size_t)f->W * (size_t)f->H, 3);
    if (!rgb)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for the figure", path);
    for (int y = 0; y < f->H; y++)
        for (int x = 0; x < f->W; x++) {
            uint32_t p;
            memcpy(&p, d + (size_t)y * (size_t)stride + 4 * (size_t)x, 4);
            uint8_t *o = rgb + 3 * ((size_t)y * (size_t)f->W + (size_t)x);
            o[0] = (uint8_t)(p >> 16);
            o[1] = (uint8_t)(p >> 8);
            o[2] = (uint8_t)p;
        }
    dgm_status s = dgm_png_write_rgb(path, rgb, (size_t)f->H, (size_t)f->W, err);
    free(rgb);
    return s;
}
