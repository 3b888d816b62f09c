/* Numeric CSV reader: comma-separated rows of numbers, one example per row.
 * Reference: RFC 4180 for the record layout; numbers as C's strtod reads them (the same
 * text numpy.loadtxt(delimiter=",") and pandas.read_csv accept for plain numbers).
 * Rules: blank lines and lines whose first non-blank character is `#` are skipped; the
 * first remaining row is a header (and skipped) when any of its fields is not a number;
 * spaces/tabs around fields and a pair of double quotes around a field are ignored; every
 * row must have as many fields as the first. NaN and infinity are errors, as is a value
 * outside float range. Every message names the file and the 1-based line (and column).
 * pandas' default DataFrame.to_csv() writes an index column with an empty header field
 * (",a,b" then "0,1.5,2.5"): a header whose first field is empty marks that column, which
 * is dropped from every row, as pandas.read_csv(index_col=0) would.
 * Left out: quoted fields that contain commas, other delimiters, missing values. */
#include "data/readers.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Trims blanks and one pair of quotes from [*s, *e) in place and NUL-terminates it. */
static void trim_field(char **s, char **e)
{
    while (*s < *e && is_blank(**s))
        (*s)++;
    while (*e > *s && is_blank((*e)[-1]))
        (*e)--;
    if (*e - *s >= 2 && **s == '"' && (*e)[-1] == '"') {
        (*s)++;
        (*e)--;
    }
    **e = 0;
}

typedef enum {
    FIELD_OK = 0, FIELD_EMPTY, FIELD_TEXT, FIELD_NAN, FIELD_INF, FIELD_RANGE
} field_kind;

static field_kind parse_field(const char *s, const char *e, float *out)
{
    if (s == e)
        return FIELD_EMPTY;
    char *end;
    double v = strtod(s, &end);
    if (end != e)
        return FIELD_TEXT;
    if (isnan(v))
        return FIELD_NAN;
    if (isinf(v)) /* "inf" written out, or a number too large even for a double */
        return strpbrk(s, "iI") ? FIELD_INF : FIELD_RANGE;
    if (fabs(v) > 3.4028234663852886e38)
        return FIELD_RANGE;
    *out = (float)v;
    return FIELD_OK;
}

static dgm_status field_error(field_kind k, const char *tok, const char *path, size_t line,
                              size_t col, dgm_err *err)
{
    switch (k) {
    case FIELD_EMPTY:
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: line %zu, column %zu: empty field", path, line,
                        col);
    case FIELD_NAN:
        return dgm_errf(err, DGM_ERR_NAN, "%s: line %zu, column %zu: NaN", path, line, col);
    case FIELD_INF:
        return dgm_errf(err, DGM_ERR_NAN, "%s: line %zu, column %zu: infinite value", path,
                        line, col);
    case FIELD_RANGE:
        return dgm_errf(err, DGM_ERR_NAN, "%s: line %zu, column %zu: %.40s is outside float "
                        "range", path, line, col, tok);
    default:
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: line %zu, column %zu: '%.40s' is not a "
                        "number", path, line, col, tok);
    }
}

typedef struct {
    float *x;
    size_t n, cap;   /* values stored, capacity */
} float_buf;

static int fb_reserve(float_buf *b, size_t extra)
{
    if (b->cap - b->n >= extra)
        return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->n < extra)
        if (!dgm_size_mul(&cap, cap, 2))
            return 0;
    float *p = dgm_malloc_array(cap, sizeof *p);
    if (!p)
        return 0;
    if (b->n)
        memcpy(p, b->x, b->n * sizeof *p);
    free(b->x);
    b->x = p;
    b->cap = cap;
    return 1;
}

static size_t count_fields(const char *s, const char *e)
{
    size_t k = 1;
    for (const char *p = s; (p = memchr(p, ',', (size_t)(e - p))) != NULL; p++)
        k++;
    return k;
}

/* 1 if the line [s, e) starts with an empty field followed by others: pandas' index
 * column header. */
static int index_header(const char *s, const char *e)
{
    const char *comma = memchr(s, ',', (size_t)(e - s));
    if (!comma)
        return 0;
    for (const char *q = s; q < comma; q++)
        if (!is_blank(*q) && *q != '"')
            return 0;
    return 1;
}

/* Parses one content line [s, e) of k fields into b. Returns DGM_OK, or for the first row
 * (header_ok) DGM_ERR_ARG to say "this is a header"; errors otherwise. */
static dgm_status parse_row(float_buf *b, char *s, char *e, size_t k, int header_ok,
                            const char *path, size_t line, dgm_err *err)
{
    if (!fb_reserve(b, k))
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory at line %zu", path, line);
    float *row = b->x + b->n;
    for (size_t c = 0; c < k; c++) {
        char *fe = c + 1 < k ? memchr(s, ',', (size_t)(e - s)) : e, *next = fe + 1;
        trim_field(&s, &fe);
        field_kind fk = parse_field(s, fe, &row[c]);
        if (fk == FIELD_TEXT && header_ok)
            return DGM_ERR_ARG;
        if (fk)
            return field_error(fk, s, path, line, c + 1, err);
        s = next;
    }
    b->n += k;
    return DGM_OK;
}

dgm_status dgm__csv_load(dgm_dataset *out, const char *path, dgm_err *err)
{
    size_t len;
    char *text = dgm__read_file(path, &len, err);
    if (!text)
        return err ? err->code : DGM_ERR_IO;
    float_buf b = {0};
    size_t d = 0, rows = 0, line = 0;
    int seen_first = 0, index_col = 0;
    dgm_status s = DGM_OK;
    for (char *p = text, *end = text + len; p < end && !s;) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        char *ls = p;
        p = eol + 1;
        line++;
        while (ls < eol && is_blank(*ls))
            ls++;
        if (ls == eol || *ls == '#')
            continue;
        size_t k = count_fields(ls, eol);
        if (seen_first && k != d) {
            s = dgm_errf(err, DGM_ERR_FORMAT, "%s: line %zu has %zu fields, expected %zu", path,
                         line, k, d);
            break;
        }
        if (!seen_first && k >= 2 && index_header(ls, eol)) {
            seen_first = index_col = 1, d = k; /* the header of a pandas frame */
            continue;
        }
        if (index_col) { /* the row's first field is its index label */
            ls = memchr(ls, ',', (size_t)(eol - ls)) + 1;
            k--;
        }
        s = parse_row(&b, ls, eol, k, !seen_first, path, line, err);
        if (!seen_first) {
            seen_first = 1;
            d = k;
            if (s == DGM_ERR_ARG) { /* a header row */
                s = DGM_OK;
                continue;
            }
        }
        if (!s)
            rows++;
    }
    free(text);
    if (!s && rows == 0)
        s = dgm_errf(err, DGM_ERR_FORMAT, "%s: no data rows", path);
    if (s) {
        free(b.x);
        return s;
    }
    out->kind = DGM_DATA_REAL;
    out->x = b.x;
    out->n = rows;
    out->d = d - (size_t)index_col;
    return DGM_OK;
}
