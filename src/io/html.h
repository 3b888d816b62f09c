/* Self-contained HTML pages (src/io/html.c): one file with inline CSS, tables whose cells
 * are escaped, and PNG images embedded as base64 data: URIs, so the page opens anywhere
 * with nothing beside it. Written atomically: nothing appears at `path` until
 * dgm__html_close succeeds. Meant for any command's report (dgm assess, dgm report).
 *
 *   dgm__html *h = dgm__html_open(path, "dgm assess", &err);
 *   dgm__html_heading(h, 2, "Metrics");
 *   dgm__html_table(h, head, 3, cells, 2);       // cells: rows x cols strings, row-major
 *   dgm__html_image(h, "pairs.png", "Pair correlations", &err);
 *   dgm__html_close(h, &err);                     // or dgm__html_abort(h)
 */
#ifndef DGM_IO_HTML_H
#define DGM_IO_HTML_H

#include "dgm.h"

typedef struct dgm__html dgm__html;

/* Starts a page titled `title` (escaped) with the stylesheet; NULL with err set. */
dgm__html *dgm__html_open(const char *path, const char *title, dgm_err *err);
/* <hN> heading and a paragraph of plain text (both escaped). */
void dgm__html_heading(dgm__html *h, int level, const char *text);
void dgm__html_para(dgm__html *h, const char *text);
/* A table: head (cols strings, may be NULL) and rows x cols cells, row-major, escaped;
 * cells that parse as numbers are right-aligned. */
void dgm__html_table(dgm__html *h, const char *const *head, size_t cols,
                     const char *const *cells, size_t rows);
/* A <figure> with the PNG at png_path embedded (base64) and a caption. */
dgm_status dgm__html_image(dgm__html *h, const char *png_path, const char *caption,
                           dgm_err *err);
/* Ends the page and renames it into place; frees h either way. */
dgm_status dgm__html_close(dgm__html *h, dgm_err *err);
/* Drops the page (nothing written at path); frees h. */
void dgm__html_abort(dgm__html *h);
/* Writes s to f with & < > " ' escaped. */
void dgm__html_escape(FILE *f, const char *s);

#endif
