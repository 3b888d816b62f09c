/* dgm assess's figures and report. Sequences: sample against reference pair correlations
 * C_ij(a,b), one panel per set with r and slope; histograms of the identity to the nearest
 * reference sequence; per-column entropy profiles of f_i. Vectors with images: each set's
 * first samples above their nearest reference rows. The report is one HTML page with the
 * table and the figures embedded. Drawing is io/plot.h's, the page io/html.h's. */
#include "eval/assess_internal.h"
#include "io/html.h"
#include "io/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PANEL_W 420
#define PANEL_H 380

static int grid_cols(size_t n) { return n < 3 ? (int)n : 3; }
static int grid_rows(size_t n) { return (int)((n + 2) / 3); }

static const char *kind_name(const dgm_assess_row *r)
{
    return r->kind == DGM_ASSESS_HELDOUT ? "held-out" : "samples";
}

static dgm_status fig_pairs(const char *path, const dgm_assess_row *rows, size_t n, dgm_err *err)
{
    dgm__fig *f = dgm__fig_new(grid_rows(n), grid_cols(n), PANEL_W, PANEL_H,
                               "Pair correlations C_ij(a,b): sample set against reference");
    if (!f)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for the figure", path);
    double lim = 0;
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < 2 * rows[r].n_scatter; i++)
            lim = fmax(lim, fabs(rows[r].scatter[i]));
    lim = lim > 0 ? lim * 1.05 : 0.1;
    for (size_t r = 0; r < n; r++) {
        char title[300], note[96];
        snprintf(title, sizeof title, "%.40s (%s)", rows[r].name, kind_name(&rows[r]));
        dgm__fig_axes(f, (int)r / 3, (int)r % 3, -lim, lim, -lim, lim, title,
                      "reference C_ij(a,b)", "sample C_ij(a,b)");
        dgm__fig_diag(f, 0x999999);
        dgm__fig_scatter(f, rows[r].scatter, rows[r].n_scatter, 1.2, dgm__fig_colour(r), 0.45);
        snprintf(note, sizeof note, "r = %.3f   slope = %.3f", rows[r].pair_r, rows[r].pair_slope);
        dgm__fig_text(f, 0.04, 0.06, note);
    }
    dgm_status s = dgm__fig_save(f, path, err);
    dgm__fig_free(f);
    return s;
}

static dgm_status fig_identity(const char *path, const dgm_assess_row *rows, size_t n,
                               dgm_err *err)
{
    dgm__fig *f = dgm__fig_new(grid_rows(n), grid_cols(n), PANEL_W, PANEL_H,
                               "Identity of each sequence to its nearest reference sequence");
    if (!f)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for the figure", path);
    for (size_t r = 0; r < n; r++) {
        char title[300], note[96];
        double peak = dgm__hist_peak(rows[r].nearest_identity, rows[r].n, 50, 0, 1);
        snprintf(title, sizeof title, "%.40s (%s)", rows[r].name, kind_name(&rows[r]));
        dgm__fig_axes(f, (int)r / 3, (int)r % 3, 0, 1, 0, peak * 1.15, title,
                      "identity to nearest reference", "fraction of sequences");
        dgm__fig_hist(f, rows[r].nearest_identity, rows[r].n, 50, 0, 1, dgm__fig_colour(r), 0.85,
                      NULL);
        snprintf(note, sizeof note, "mean %.3f   copies %.1f%%", rows[r].nearest_identity_mean,
                 100 * rows[r].copy_fraction);
        dgm__fig_text(f, 0.04, 0.06, note);
    }
    dgm_status s = dgm__fig_save(f, path, err);
    dgm__fig_free(f);
    return s;
}

static dgm_status fig_entropy(const char *path, const dgm_assess_ref *ref,
                              const dgm_assess_row *rows, size_t n, dgm_err *err)
{
    dgm__fig *f = dgm__fig_new(1, 1, 1200, 420, "Per-column entropy of the site frequencies");
    double *x = dgm_malloc_array(ref->L, sizeof *x);
    if (!f || !x) {
        dgm__fig_free(f);
        free(x);
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for the figure", path);
    }
    for (size_t i = 0; i < ref->L; i++)
        x[i] = (double)(i + 1);
    dgm__fig_axes(f, 0, 0, 1, (double)ref->L, 0, log(DGM__Q), NULL, "column",
                  "entropy (nats)");
    dgm__fig_line(f, x, ref->entropy, ref->L, 0x000000, 2.0, "reference");
    for (size_t r = 0; r < n; r++)
        dgm__fig_line(f, x, rows[r].entropy, ref->L, dgm__fig_colour(r), 1.2, rows[r].name);
    dgm_status s = dgm__fig_save(f, path, err);
    dgm__fig_free(f);
    free(x);
    return s;
}

/* Vectors: up to 8 samples of each set (top) above their nearest reference rows. */
static dgm_status fig_neighbours(const char *path, const dgm_assess_ref *ref,
                                 const dgm_assess_row *rows, size_t n, const float *ref_x,
                                 const float *const *sx, size_t h, size_t w, dgm_err *err)
{
    const int per = 8;
    dgm__fig *f = dgm__fig_new((int)(2 * n), per, 110, 120,
                               "Samples (upper row of each pair) above their nearest reference rows");
    if (!f)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for the figure", path);
    for (size_t r = 0; r < n; r++)
        for (int i = 0; i < per && (size_t)i < rows[r].n; i++) {
            char t[64];
            snprintf(t, sizeof t, "%.14s %d", rows[r].name, i + 1);
            dgm__fig_image(f, (int)(2 * r), i, sx[r] + (size_t)i * ref->d, h, w, t);
            dgm__fig_image(f, (int)(2 * r + 1), i, ref_x + rows[r].nearest[i] * ref->d, h, w,
                           "nearest real");
        }
    dgm_status s = dgm__fig_save(f, path, err);
    dgm__fig_free(f);
    return s;
}

dgm_status dgm_assess_figures(char (*paths)[4096], size_t max_paths, size_t *n_paths,
                              const char *dir, const dgm_assess_ref *ref,
                              const dgm_assess_row *rows, size_t n_rows,
                              const float *ref_x, const float *const *sample_x,
                              size_t h, size_t w, dgm_err *err)
{
    *n_paths = 0;
    if (n_rows == 0)
        return DGM_OK;
    static const char *const seq_names[] = {"pairs.png", "identity.png", "entropy.png"};
    size_t want = ref->is_seq ? 3 : (h * w == ref->d && h > 0 && ref_x && sample_x ? 1 : 0);
    if (want > max_paths)
        return dgm_errf(err, DGM_ERR_ARG, "assess: room for %zu figure paths, %zu needed",
                        max_paths, want);
    for (size_t i = 0; i < want; i++)
        if (snprintf(paths[i], 4096, "%s/%s", dir, ref->is_seq ? seq_names[i] : "neighbours.png")
            >= 4096)
            return dgm_errf(err, DGM_ERR_ARG, "%s: path too long", dir);
    dgm_status s = DGM_OK;
    if (ref->is_seq) {
        s = fig_pairs(paths[0], rows, n_rows, err);
        if (!s)
            s = fig_identity(paths[1], rows, n_rows, err);
        if (!s)
            s = fig_entropy(paths[2], ref, rows, n_rows, err);
    } else if (want) {
        s = fig_neighbours(paths[0], ref, rows, n_rows, ref_x, sample_x, h, w, err);
    }
    if (!s)
        *n_paths = want;
    return s;
}

static const char *const captions[][2] = {
    {"pairs.png", "Pair connected correlations C_ij(a,b) of each set against the reference's "
                  "(i < j, all letter pairs; a subsample of the points), with the line y = x."},
    {"identity.png", "Identity of each sequence to its nearest reference sequence (gap = gap "
                     "counts as equal); 1.0 is a copy."},
    {"entropy.png", "Entropy of the single-site frequencies f_i at each column."},
    {"neighbours.png", "Samples above their nearest reference rows (Euclidean)."},
};

dgm_status dgm_assess_report(const char *path, const char *title, const dgm_assess_row *rows,
                             size_t n_rows, char (*figures)[4096], size_t n_figures, dgm_err *err)
{
    size_t nm;
    const dgm_assess_metric *m = dgm_assess_metric_list(&nm);
    int kinds = n_rows && rows[0].L ? 1 : 2;
    size_t cols = 3;
    for (size_t i = 0; i < nm; i++)
        cols += (m[i].kinds & kinds) != 0;
    const char **head = calloc(cols, sizeof *head);
    const char **cells = calloc(cols * (n_rows ? n_rows : 1), sizeof *cells);
    char *buf = calloc(cols * (n_rows ? n_rows : 1), 32);
    if (!head || !cells || !buf) {
        free(head);
        free(cells);
        free(buf);
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    }
    head[0] = "name";
    head[1] = "kind";
    head[2] = "n";
    for (size_t i = 0, c = 3; i < nm; i++)
        if (m[i].kinds & kinds)
            head[c++] = m[i].key;
    for (size_t r = 0; r < n_rows; r++) {
        char *b = buf + r * cols * 32;
        cells[r * cols] = rows[r].name;
        cells[r * cols + 1] = rows[r].kind == DGM_ASSESS_HELDOUT ? "heldout" : "samples";
        snprintf(b, 32, "%zu", rows[r].n);
        cells[r * cols + 2] = b;
        for (size_t i = 0, c = 3; i < nm; i++) {
            if (!(m[i].kinds & kinds))
                continue;
            double v = dgm_assess_value(&rows[r], &m[i]);
            char *o = b + c * 32;
            if (isfinite(v))
                snprintf(o, 32, "%.4f", v);
            else
                snprintf(o, 32, "-");
            cells[r * cols + c++] = o;
        }
    }
    char t[600];
    snprintf(t, sizeof t, "dgm assess: %.500s", title);
    dgm_status s = DGM_OK;
    dgm__html *h = dgm__html_open(path, t, err);
    if (!h)
        s = err ? err->code : DGM_ERR_IO;
    if (!s) {
        dgm__html_para(h, "One row per sample set; held-out rows are real data scored as if "
                          "they were a generator, the ceiling the others are read against. "
                          "docs/formats.md defines every column.");
        dgm__html_heading(h, 2, "Metrics");
        dgm__html_table(h, head, cols, cells, n_rows);
        dgm__html_heading(h, 2, "Figures");
        for (size_t i = 0; !s && i < n_figures; i++) {
            const char *base = strrchr(figures[i], '/');
            base = base ? base + 1 : figures[i];
            const char *cap = base;
            for (size_t c = 0; c < sizeof captions / sizeof *captions; c++)
                if (!strcmp(base, captions[c][0]))
                    cap = captions[c][1];
            s = dgm__html_image(h, figures[i], cap, err);
        }
        if (s)
            dgm__html_abort(h);
        else
            s = dgm__html_close(h, err);
    }
    free(head);
    free(cells);
    free(buf);
    return s;
}
