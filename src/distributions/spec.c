/* JSON specs of closed-form distributions, for `dgm kl a.json b.json`:
 *   {"family":"gaussian","mean":[..],"var":[..]}  or  "cov":[[..],..]
 *   {"family":"bernoulli","p":[..]}
 *   {"family":"categorical","p":[[..],..]}   (L rows of A; a flat list is one row)
 *   {"family":"product","factors":[spec, ..]}
 * The parsed dgm_dist owns every array it points to; dgm_dist_free releases them.
 * Reference: the format is dgm's own (docs/math.md, "Divergences and likelihood
 * estimators"); parsing is cJSON's. Left out: other parameterisations (std, logits). */
#include "distributions/dist_internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static void free_rec(dgm_dist *d)
{
    free((void *)d->mean);
    free((void *)d->var);
    free((void *)d->cov);
    free((void *)d->p);
    if (d->factors) {
        for (size_t f = 0; f < d->n_factors; f++)
            free_rec((dgm_dist *)&d->factors[f]);
        free((void *)d->factors);
    }
}

void dgm_dist_free(dgm_dist *d)
{
    if (!d)
        return;
    free_rec(d);
    free(d);
}

/* A JSON array of numbers into a new double array; *n gets its length. */
static dgm_status num_array(double **out, size_t *n, const cJSON *a, const char *src,
                            const char *at, const char *key, dgm_err *err)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: %s\"%s\" must be a non-empty array of numbers",
                        src, at, key);
    size_t len = (size_t)cJSON_GetArraySize(a), i = 0;
    double *v = dgm_malloc_array(len, sizeof *v);
    if (!v)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", src);
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
        if (!cJSON_IsNumber(e)) {
            free(v);
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: %s%s[%zu] is not a number", src, at, key, i);
        }
        v[i++] = e->valuedouble;
    }
    *out = v;
    *n = len;
    return DGM_OK;
}

/* An array of `rows` arrays of equal length into a row-major matrix. */
static dgm_status num_matrix(double **out, size_t *rows, size_t *cols, const cJSON *a,
                             const char *src, const char *at, const char *key, dgm_err *err)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: %s\"%s\" must be a non-empty array of arrays",
                        src, at, key);
    size_t R = (size_t)cJSON_GetArraySize(a), C = 0, r = 0;
    double *m = NULL;
    const cJSON *row;
    cJSON_ArrayForEach(row, a) {
        char name[64];
        snprintf(name, sizeof name, "%s[%zu]", key, r);
        double *v;
        size_t len;
        dgm_status s = num_array(&v, &len, row, src, at, name, err);
        if (s) {
            free(m);
            return s;
        }
        if (!m) {
            C = len;
            m = dgm_malloc_array(R * C, sizeof *m);
            if (!m) {
                free(v);
                return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", src);
            }
        }
        if (len != C) {
            free(v);
            free(m);
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: %s%s has %zu values but %s[0] has %zu",
                            src, at, name, len, key, C);
        }
        memcpy(m + r * C, v, C * sizeof *m);
        free(v);
        r++;
    }
    *out = m;
    *rows = R;
    *cols = C;
    return DGM_OK;
}

static dgm_status parse_node(dgm_dist *d, const cJSON *o, const char *src, const char *at,
                             int depth, dgm_err *err)
{
    memset(d, 0, sizeof *d);
    if (depth > 64)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: %sproducts nested more than 64 deep", src, at);
    const cJSON *fam = cJSON_GetObjectItemCaseSensitive(o, "family");
    if (!cJSON_IsObject(o) || !cJSON_IsString(fam))
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: %sexpected an object with a \"family\" string",
                        src, at);
    const char *f = fam->valuestring;
    dgm_status s;
    size_t n, r, c;
    if (!strcmp(f, "gaussian")) {
        double *mean, *v;
        if ((s = num_array(&mean, &n, cJSON_GetObjectItemCaseSensitive(o, "mean"), src, at,
                           "mean", err)))
            return s;
        d->mean = mean;
        d->dim = n;
        const cJSON *var = cJSON_GetObjectItemCaseSensitive(o, "var");
        const cJSON *cov = cJSON_GetObjectItemCaseSensitive(o, "cov");
        if (!var == !cov)
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: %sa gaussian needs exactly one of \"var\" "
                            "and \"cov\"", src, at);
        if (var) {
            d->kind = DGM_DIST_GAUSS_DIAG;
            if ((s = num_array(&v, &c, var, src, at, "var", err)))
                return s;
            d->var = v;
            r = c;
            c = 1;
        } else {
            d->kind = DGM_DIST_GAUSS_FULL;
            if ((s = num_matrix(&v, &r, &c, cov, src, at, "cov", err)))
                return s;
            d->cov = v;
            if (r != c)
                return dgm_errf(err, DGM_ERR_FORMAT, "%s: %scov is %zu x %zu, not square", src, at,
                                r, c);
        }
        if (r != n)
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: %smean has %zu values but %s has %zu %s",
                            src, at, n, var ? "var" : "cov", r, var ? "values" : "rows");
    } else if (!strcmp(f, "bernoulli")) {
        double *p;
        d->kind = DGM_DIST_BERNOULLI;
        if ((s = num_array(&p, &n, cJSON_GetObjectItemCaseSensitive(o, "p"), src, at, "p", err)))
            return s;
        d->p = p;
        d->dim = n;
    } else if (!strcmp(f, "categorical")) {
        const cJSON *pj = cJSON_GetObjectItemCaseSensitive(o, "p");
        double *p;
        d->kind = DGM_DIST_CATEGORICAL;
        if (cJSON_IsArray(pj) && cJSON_IsArray(cJSON_GetArrayItem(pj, 0)))
            s = num_matrix(&p, &r, &c, pj, src, at, "p", err);
        else
            s = num_array(&p, &c, pj, src, at, "p", err), r = 1;
        if (s)
            return s;
        d->p = p;
        d->n_cat = c;
        d->dim = r * c;
    } else if (!strcmp(f, "product")) {
        const cJSON *fs = cJSON_GetObjectItemCaseSensitive(o, "factors");
        if (!cJSON_IsArray(fs) || cJSON_GetArraySize(fs) == 0)
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: %s\"factors\" must be a non-empty array of "
                            "specs", src, at);
        d->kind = DGM_DIST_PRODUCT;
        n = (size_t)cJSON_GetArraySize(fs);
        dgm_dist *kids = dgm_calloc_array(n, sizeof *kids);
        if (!kids)
            return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", src);
        d->factors = kids;
        const cJSON *e;
        cJSON_ArrayForEach(e, fs) {
            char sub[256];
            snprintf(sub, sizeof sub, "%sfactors[%zu]: ", at, d->n_factors);
            s = parse_node(&kids[d->n_factors], e, src, sub, depth + 1, err);
            d->n_factors++; /* counted even on failure, so that free_rec sees it */
            if (s)
                return s;
            d->dim += kids[d->n_factors - 1].dim;
        }
    } else {
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: %sunknown family '%s' (gaussian, bernoulli, "
                        "categorical, product)", src, at, f);
    }
    return DGM_OK;
}

dgm_status dgm_dist_parse_json(dgm_dist **out, const char *text, const char *source,
                               dgm_err *err)
{
    *out = NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 0);
    if (!root) {
        size_t line = 1;
        for (const char *c = text; end && c < end && *c; c++)
            line += *c == '\n';
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: line %zu: not valid JSON", source, line);
    }
    dgm_dist *d = calloc(1, sizeof *d);
    dgm_status s = d ? parse_node(d, root, source, "", 0, err)
                     : dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", source);
    cJSON_Delete(root);
    if (!s && (s = dgm_dist_check(d, err))) {
        char m[sizeof err->msg];
        memcpy(m, err ? err->msg : "", err ? sizeof m : 1);
        dgm_errf(err, s, "%s: %s", source, m);
    }
    if (s) {
        if (d)
            dgm_dist_free(d);
        return s;
    }
    *out = d;
    return DGM_OK;
}

dgm_status dgm_dist_load_json(dgm_dist **out, const char *path, dgm_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return dgm_errf(err, DGM_ERR_IO, "%s: cannot open", path);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - 1 - len, f);
        if (len < cap - 1)
            break;
        char *nb = cap < ((size_t)1 << 30) ? realloc(buf, cap * 2) : NULL;
        if (!nb)
            free(buf);
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory (or larger than 1 GiB)", path);
    if (bad) {
        free(buf);
        return dgm_errf(err, DGM_ERR_IO, "%s: read error", path);
    }
    buf[len] = '\0';
    dgm_status s = dgm_dist_parse_json(out, buf, path, err);
    free(buf);
    return s;
}
