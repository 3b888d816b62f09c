/* FASTA / A2M text parsing into rows, and the row bookkeeping shared with stockholm.c.
 * Format: https://en.wikipedia.org/wiki/FASTA_format; A2M as in the SAM/HMMER docs
 * (upper case and '-' are match states, lower case and '.' inserts). This file only splits
 * the text into named rows and remembers where each character came from; which columns
 * count and what letters mean is decided in alignment.c.
 * Left out: ';' comment lines beyond skipping them, and multi-line headers. */
#include "data/alignment_raw.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

dgm_status dgm__read_text(char **out, size_t *len, const char *path, dgm_err *err)
{
    *out = NULL;
    *len = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return dgm_errf(err, DGM_ERR_IO, "%s: cannot open", path);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            gzclose(f);
            return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory reading the file", path);
        }
        if (cap - n < 2) {
            char *nb = cap > ((size_t)-1) / 2 ? NULL : realloc(buf, cap * 2);
            if (!nb)
                free(buf);
            buf = nb;
            cap *= 2;
            continue;
        }
        unsigned want = (cap - n - 1) > (1u << 30) ? (1u << 30) : (unsigned)(cap - n - 1);
        int got = gzread(f, buf + n, want);
        if (got < 0) {
            free(buf);
            gzclose(f);
            return dgm_errf(err, DGM_ERR_IO, "%s: read error (damaged gzip stream?)", path);
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    gzclose(f);
    buf[n] = '\0';
    if (strlen(buf) != n) {
        free(buf);
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: contains a NUL byte: not an alignment text file",
                        path);
    }
    *out = buf;
    *len = n;
    return DGM_OK;
}

int dgm__is_stockholm(const char *text)
{
    while (*text == ' ' || *text == '\t' || *text == '\r' || *text == '\n')
        text++;
    return !strncmp(text, "# STOCKHOLM", 11);
}

dgm__aln_row *dgm__aln_add_row(dgm__aln_raw *raw, const char *name, size_t name_len,
                               size_t line)
{
    if (raw->n == raw->cap) {
        size_t cap = raw->cap ? raw->cap * 2 : 256;
        dgm__aln_row *r = dgm_malloc_array(cap, sizeof *r);
        if (!r)
            return NULL;
        if (raw->n)
            memcpy(r, raw->row, raw->n * sizeof *r);
        free(raw->row);
        raw->row = r;
        raw->cap = cap;
    }
    dgm__aln_row *r = &raw->row[raw->n];
    memset(r, 0, sizeof *r);
    r->name = malloc(name_len + 1);
    r->text = malloc(1);
    if (!r->name || !r->text) {
        free(r->name);
        free(r->text);
        return NULL;
    }
    memcpy(r->name, name, name_len);
    r->name[name_len] = '\0';
    r->text[0] = '\0';
    r->cap = 1;
    r->line = line;
    raw->n++;
    return r;
}

dgm_status dgm__aln_append(dgm__aln_row *r, const char *s, size_t n, size_t line, size_t col,
                           const char *path, dgm_err *err)
{
    if (n == 0)
        return DGM_OK;
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap;
        while (cap < r->len + n + 1)
            cap = cap < 64 ? 64 : cap * 2;
        char *t = realloc(r->text, cap);
        if (!t)
            return dgm_errf(err, DGM_ERR_NOMEM, "%s:%zu: out of memory", path, line);
        r->text = t;
        r->cap = cap;
    }
    if (r->n_seg == r->cap_seg) {
        size_t cap = r->cap_seg ? r->cap_seg * 2 : 8;
        dgm__aln_seg *g = dgm_malloc_array(cap, sizeof *g);
        if (!g)
            return dgm_errf(err, DGM_ERR_NOMEM, "%s:%zu: out of memory", path, line);
        if (r->n_seg)
            memcpy(g, r->seg, r->n_seg * sizeof *g);
        free(r->seg);
        r->seg = g;
        r->cap_seg = cap;
    }
    memcpy(r->text + r->len, s, n);
    r->len += n;
    r->text[r->len] = '\0';
    r->seg[r->n_seg++] = (dgm__aln_seg){line, col, n};
    return DGM_OK;
}

void dgm__aln_locate(const dgm__aln_row *r, size_t k, size_t *line, size_t *col)
{
    *line = r->line;
    *col = 1;
    for (size_t i = 0; i < r->n_seg; i++) {
        if (k < r->seg[i].n) {
            *line = r->seg[i].line;
            *col = r->seg[i].col + k;
            return;
        }
        k -= r->seg[i].n;
        *line = r->seg[i].line;
        *col = r->seg[i].col + r->seg[i].n; /* just past this run, if k runs off the end */
    }
}

void dgm__aln_raw_free(dgm__aln_raw *raw)
{
    for (size_t i = 0; i < raw->n; i++) {
        free(raw->row[i].name);
        free(raw->row[i].text);
        free(raw->row[i].seg);
    }
    free(raw->row);
    memset(raw, 0, sizeof *raw);
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

dgm_status dgm__fasta_parse(dgm__aln_raw *raw, const char *text, const char *path,
                            dgm_err *err)
{
    dgm__aln_row *cur = NULL;
    size_t line = 0;
    const char *p = text;
    while (*p) {
        line++;
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n > 0 && is_space(p[n - 1]))
            n--;
        if (n > 0 && p[0] == '>') {
            size_t a = 1;
            while (a < n && is_space(p[a]))
                a++;
            cur = dgm__aln_add_row(raw, p + a, n - a, line);
            if (!cur)
                return dgm_errf(err, DGM_ERR_NOMEM, "%s:%zu: out of memory", path, line);
        } else if (n > 0 && p[0] != ';') {
            /* Runs of non-space characters; spaces inside a sequence line are allowed. */
            size_t i = 0;
            while (i < n) {
                while (i < n && is_space(p[i]))
                    i++;
                size_t j = i;
                while (j < n && !is_space(p[j]))
                    j++;
                if (j > i) {
                    if (!cur)
                        return dgm_errf(err, DGM_ERR_FORMAT,
                                        "%s:%zu:%zu: sequence text before the first '>' header: "
                                        "not FASTA/A2M", path, line, i + 1);
                    dgm_status s = dgm__aln_append(cur, p + i, j - i, line, i + 1, path, err);
                    if (s)
                        return s;
                }
                i = j;
            }
        }
        p = e ? e + 1 : p + strlen(p);
    }
    raw->n_lines = line;
    return DGM_OK;
}
