/* Stockholm alignment text into rows (the first alignment of the file).
 * Format: https://sonnhammer.sbc.su.se/Stockholm.html and HMMER's user guide (section
 * "Stockholm, the recommended multiple sequence alignment format"): "# STOCKHOLM 1.0",
 * "name  aligned-text" lines in one or more blocks that continue each row, "#=GF/GS/GR/GC"
 * markup, "//" at the end; a file without that "//" line is refused as truncated (a cut-off
 * download would otherwise train on part of the family). Left out: the markup itself (#=GC RF included: the focus
 * columns come from the first sequence, as for A2M) and files holding several alignments
 * (only the first is read). */
#include "data/alignment_raw.h"

#include <string.h>

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

dgm_status dgm__stockholm_parse(dgm__aln_raw *raw, const char *text, const char *path,
                                dgm_err *err)
{
    raw->stockholm = 1;
    size_t line = 0, in_block = 0, last_line = 0, last_n = 0;
    int header = 0, closed = 0;
    const char *p = text, *last = "";
    while (*p) {
        line++;
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n > 0 && is_space(p[n - 1]))
            n--;
        const char *next = e ? e + 1 : p + strlen(p);
        if (!header) {
            if (n == 0) {
                p = next;
                continue;
            }
            if (strncmp(p, "# STOCKHOLM", 11))
                return dgm_errf(err, DGM_ERR_FORMAT, "%s:%zu:1: expected '# STOCKHOLM 1.0'",
                                path, line);
            header = 1;
            last = p, last_n = n, last_line = line;
            p = next;
            continue;
        }
        if (n >= 2 && p[0] == '/' && p[1] == '/') {
            closed = 1;
            break;
        }
        if (n > 0)
            last = p, last_n = n, last_line = line;
        if (n == 0) {
            in_block = 0;
            p = next;
            continue;
        }
        if (p[0] == '#') {
            p = next;
            continue;
        }
        size_t a = 0;
        while (a < n && !is_space(p[a]))
            a++;
        size_t b = a;
        while (b < n && is_space(p[b]))
            b++;
        if (b == n)
            return dgm_errf(err, DGM_ERR_FORMAT, "%s:%zu:%zu: a sequence line needs a name and "
                            "aligned text", path, line, a + 1);
        for (size_t i = b; i < n; i++)
            if (is_space(p[i]))
                return dgm_errf(err, DGM_ERR_FORMAT, "%s:%zu:%zu: space inside aligned text",
                                path, line, i + 1);
        /* Blocks usually repeat the first block's order: try the expected row first. */
        dgm__aln_row *r = NULL;
        if (in_block < raw->n && strlen(raw->row[in_block].name) == a &&
            !strncmp(raw->row[in_block].name, p, a))
            r = &raw->row[in_block];
        for (size_t i = 0; !r && i < raw->n; i++)
            if (strlen(raw->row[i].name) == a && !strncmp(raw->row[i].name, p, a))
                r = &raw->row[i];
        if (!r && !(r = dgm__aln_add_row(raw, p, a, line)))
            return dgm_errf(err, DGM_ERR_NOMEM, "%s:%zu: out of memory", path, line);
        dgm_status s = dgm__aln_append(r, p + b, n - b, line, b + 1, path, err);
        if (s)
            return s;
        in_block++;
        p = next;
    }
    if (!header)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s:1:1: empty file: no alignment", path);
    if (!closed)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s:%zu:1: truncated Stockholm alignment: no closing "
                        "'//' line; the last line read is '%.*s%s'", path, last_line,
                        (int)(last_n > 60 ? 60 : last_n), last, last_n > 60 ? "..." : "");
    raw->n_lines = line;
    return DGM_OK;
}
