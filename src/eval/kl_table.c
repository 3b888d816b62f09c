/* Reading probability tables and count histograms for the discrete KL, in double.
 * Text tables are parsed here rather than through dgm_data_load because counts above 2^24
 * and probabilities such as 0.1 lose digits in float32, which the exact discrete KL would
 * inherit; NPY files go through dgm_data_load (float32 or converted to it).
 * Format: one value per line, or several columns separated by commas (strictly), or by
 * tabs/spaces; an optional header line of non-numbers first; '#' comments and blank
 * lines skipped. Reference: numpy.loadtxt's conventions for the same layout.
 * Left out: quoted fields, gzip'ed text, missing values (all are errors). */
#include "dgm.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 4096

/* Splits line in place into fields (commas if there is one, else whitespace runs). */
static size_t split(char *line, char **f, size_t cap)
{
    size_t n = 0;
    char *s = line;
    if (strchr(line, ',')) {
        for (;;) {
            char *c = strchr(s, ',');
            if (c)
                *c = '\0';
            while (isspace((unsigned char)*s))
                s++;
            char *e = s + strlen(s);
            while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
            if (n < cap)
                f[n] = s;
            n++;
            if (!c)
                break;
            s = c + 1;
        }
        return n;
    }
    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        if (n < cap)
            f[n] = s;
        n++;
        while (*s && !isspace((unsigned char)*s))
            s++;
        if (*s)
            *s++ = '\0';
    }
    return n;
}

static int parse_num(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *s && end != s && *end == '\0';
}

static dgm_status load_npy(double **out, size_t *rows, size_t *cols, const char *path,
                           dgm_err *err)
{
    dgm_dataset ds;
    dgm_status s = dgm_data_load(&ds, path, NULL, err);
    if (s)
        return s;
    if (ds.kind != DGM_DATA_REAL) {
        dgm_data_free(&ds);
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: not a numeric table", path);
    }
    double *t = dgm_malloc_array(ds.n * ds.d, sizeof *t);
    if (!t) {
        dgm_data_free(&ds);
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < ds.n; i++)
        for (size_t j = 0; j < ds.d; j++) {
            double v = ds.x[i * ds.d + j];
            if (!isfinite(v) || v < 0) {
                dgm_data_free(&ds);
                free(t);
                return dgm_errf(err, isfinite(v) ? DGM_ERR_ARG : DGM_ERR_NAN, "%s: row %zu, column "
                                "%zu: %g is %s", path, i + 1, j + 1, v,
                                isfinite(v) ? "negative" : "not finite");
            }
            t[i * ds.d + j] = v;
        }
    *out = t;
    *rows = ds.n;
    *cols = ds.d;
    dgm_data_free(&ds);
    return DGM_OK;
}

dgm_status dgm_kl_table_load(double **out, size_t *rows, size_t *cols, const char *path,
                             dgm_err *err)
{
    *out = NULL;
    *rows = *cols = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return dgm_errf(err, DGM_ERR_IO, "%s: cannot open", path);
    char magic[6] = {0};
    size_t got = fread(magic, 1, 6, f);
    if (got == 6 && !memcmp(magic, "\x93NUMPY", 6)) {
        fclose(f);
        return load_npy(out, rows, cols, path, err);
    }
    rewind(f);
    char *line = NULL, *fields[MAX_FIELDS];
    size_t lcap = 0, lineno = 0, C = 0, R = 0, cap = 0, first_line = 0;
    double *t = NULL;
    dgm_status s = DGM_OK;
    ssize_t len;
    while (!s && (len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        if (memchr(line, '\0', (size_t)len)) {
            s = dgm_errf(err, DGM_ERR_FORMAT, "%s: line %zu: binary data, not a text table", path,
                         lineno);
            break;
        }
        char *c = strchr(line, '#');
        if (c)
            *c = '\0';
        size_t n = split(line, fields, MAX_FIELDS);
        if (n == 0 || (n == 1 && !*fields[0]))
            continue;
        if (n > MAX_FIELDS) {
            s = dgm_errf(err, DGM_ERR_FORMAT, "%s: line %zu: more than %d columns", path, lineno,
                         MAX_FIELDS);
            break;
        }
        double v;
        int any_number = 0;
        for (size_t j = 0; j < n && !any_number; j++)
            any_number = parse_num(fields[j], &v);
        if (!any_number && !first_line && !R) { /* a header line: names only */
            C = n;
            first_line = lineno;
            continue;
        }
        if (!C)
            C = n, first_line = lineno;
        if (n != C) {
            s = dgm_errf(err, DGM_ERR_FORMAT, "%s: line %zu: %zu values, but line %zu has %zu", path,
                         lineno, n, first_line, C);
            break;
        }
        if (R == cap) {
            size_t nc = cap ? 2 * cap : 256;
            double *nt = dgm_malloc_array(nc, C * sizeof *t);
            if (!nt) {
                s = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory at line %zu", path, lineno);
                break;
            }
            if (t)
                memcpy(nt, t, R * C * sizeof *t);
            free(t);
            t = nt;
            cap = nc;
        }
        for (size_t j = 0; j < C && !s; j++) {
            if (!parse_num(fields[j], &v))
                s = dgm_errf(err, DGM_ERR_FORMAT, "%s: line %zu, column %zu: '%s' is not a number",
                             path, lineno, j + 1, fields[j]);
            else if (!isfinite(v))
                s = dgm_errf(err, DGM_ERR_NAN, "%s: line %zu, column %zu: '%s' is not a finite "
                             "number", path, lineno, j + 1, fields[j]);
            else if (v < 0)
                s = dgm_errf(err, DGM_ERR_ARG, "%s: line %zu, column %zu: %s is negative "
                             "(probabilities and counts must be >= 0)", path, lineno, j + 1,
                             fields[j]);
            else
                t[R * C + j] = v;
        }
        R++;
    }
    if (!s && ferror(f))
        s = dgm_errf(err, DGM_ERR_IO, "%s: read error", path);
    if (!s && R == 0)
        s = dgm_errf(err, DGM_ERR_FORMAT, "%s: no numbers in the table", path);
    free(line);
    fclose(f);
    if (s) {
        free(t);
        return s;
    }
    *out = t;
    *rows = R;
    *cols = C;
    return DGM_OK;
}
