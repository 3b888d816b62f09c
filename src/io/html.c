/* Self-contained HTML: inline CSS, escaped text, images as data: URIs (RFC 2397) in
 * base64 (RFC 4648, section 4), through the atomic output of atomic.c.
 * Left out: scripts, external assets, templates. */
#include "io/html.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct dgm__html {
    FILE *f;
    char *path;
    char tmp[4096 + 32];
};

static const char css[] =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}"
    "h1{font-size:22px}h2{font-size:18px;margin-top:28px}"
    "table{border-collapse:collapse;font-size:13px;margin:8px 0;display:block;overflow-x:auto}"
    "th,td{border:1px solid #bbb;padding:3px 8px}th{background:#eee}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "figure{margin:16px 0}figure img{max-width:100%;border:1px solid #ddd}"
    "figcaption{font-size:13px;color:#555}";

void dgm__html_escape(FILE *f, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
}

dgm__html *dgm__html_open(const char *path, const char *title, dgm_err *err)
{
    dgm__html *h = calloc(1, sizeof *h);
    if (!h || strlen(path) + 32 > sizeof h->tmp || !(h->path = strdup(path))) {
        dgm_errf(err, DGM_ERR_ARG, "%s: path too long or out of memory", path);
        free(h);
        return NULL;
    }
    if (!(h->f = dgm_atomic_open(path, h->tmp, sizeof h->tmp, err))) {
        free(h->path);
        free(h);
        return NULL;
    }
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", h->f);
    dgm__html_escape(h->f, title);
    fprintf(h->f, "</title><style>%s</style></head><body>\n<h1>", css);
    dgm__html_escape(h->f, title);
    fputs("</h1>\n", h->f);
    return h;
}

void dgm__html_heading(dgm__html *h, int level, const char *text)
{
    level = level < 1 ? 1 : level > 6 ? 6 : level;
    fprintf(h->f, "<h%d>", level);
    dgm__html_escape(h->f, text);
    fprintf(h->f, "</h%d>\n", level);
}

void dgm__html_para(dgm__html *h, const char *text)
{
    fputs("<p>", h->f);
    dgm__html_escape(h->f, text);
    fputs("</p>\n", h->f);
}

static int is_number(const char *s)
{
    char *end;
    if (!*s)
        return 0;
    strtod(s, &end);
    return *end == '\0' || !strcmp(s, "-");
}

void dgm__html_table(dgm__html *h, const char *const *head, size_t cols,
                     const char *const *cells, size_t rows)
{
    fputs("<table>\n", h->f);
    if (head) {
        fputs("<tr>", h->f);
        for (size_t c = 0; c < cols; c++) {
            fputs("<th>", h->f);
            dgm__html_escape(h->f, head[c]);
            fputs("</th>", h->f);
        }
        fputs("</tr>\n", h->f);
    }
    for (size_t r = 0; r < rows; r++) {
        fputs("<tr>", h->f);
        for (size_t c = 0; c < cols; c++) {
            const char *s = cells[r * cols + c] ? cells[r * cols + c] : "";
            fputs(is_number(s) ? "<td class=\"num\">" : "<td>", h->f);
            dgm__html_escape(h->f, s);
            fputs("</td>", h->f);
        }
        fputs("</tr>\n", h->f);
    }
    fputs("</table>\n", h->f);
}

dgm_status dgm__html_image(dgm__html *h, const char *png_path, const char *caption,
                           dgm_err *err)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    FILE *in = fopen(png_path, "rb");
    if (!in)
        return dgm_errf(err, DGM_ERR_IO, "%s: %s", png_path, strerror(errno));
    unsigned char sig[8];
    if (fread(sig, 1, 8, in) != 8 || memcmp(sig, "\x89PNG\r\n\x1a\n", 8)) {
        fclose(in);
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: not a PNG file", png_path);
    }
    rewind(in);
    fputs("<figure><img alt=\"", h->f);
    dgm__html_escape(h->f, caption ? caption : "figure");
    fputs("\" src=\"data:image/png;base64,", h->f);
    unsigned char b[3];
    size_t n;
    while ((n = fread(b, 1, 3, in)) > 0) {
        unsigned v = (unsigned)b[0] << 16 | (n > 1 ? (unsigned)b[1] << 8 : 0) | (n > 2 ? b[2] : 0);
        char o[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63], n > 1 ? b64[v >> 6 & 63] : '=',
                     n > 2 ? b64[v & 63] : '='};
        fwrite(o, 1, 4, h->f);
        if (n < 3)
            break;
    }
    int bad = ferror(in);
    fclose(in);
    if (bad)
        return dgm_errf(err, DGM_ERR_IO, "%s: read error", png_path);
    fputs("\">", h->f);
    if (caption) {
        fputs("<figcaption>", h->f);
        dgm__html_escape(h->f, caption);
        fputs("</figcaption>", h->f);
    }
    fputs("</figure>\n", h->f);
    return DGM_OK;
}

dgm_status dgm__html_close(dgm__html *h, dgm_err *err)
{
    fputs("</body></html>\n", h->f);
    dgm_status s = dgm_atomic_commit(h->f, h->tmp, h->path, err);
    free(h->path);
    free(h);
    return s;
}

void dgm__html_abort(dgm__html *h)
{
    if (!h)
        return;
    dgm_atomic_abort(h->f, h->tmp);
    free(h->path);
    free(h);
}
