/* NPY reader. Reference: numpy.lib.format (NEP 1): "\x93NUMPY", major/minor version,
 * header length (2 bytes little-endian in v1.0, 4 in v2.0 and v3.0), then a Python dict
 * literal with 'descr', 'fortran_order' and 'shape', then the raw array.
 * dtypes <f4, <f8, |u1, <i4, <i8 are converted to float; 1-D arrays become n x 1, 2-D
 * n x d, 3-D (n, h, w) n x (h*w) with the image geometry set. |u1 arrays are taken as 8-bit
 * pixels (x = k/255, is_8bit) like IDX. Fortran-order arrays are transposed on reading.
 * Left out: big-endian and other dtypes (a clear DGM_ERR_UNSUPPORTED naming the dtype),
 * structured arrays, pickled objects, more than 3 dimensions. */
#include "data/readers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const unsigned char *data;
    size_t shape[3];
    int ndim;
    int fortran;
    char descr[16];
    size_t itemsize;
    size_t count;
} npy_array;

static const struct { const char *descr; size_t size; } dtypes[] = {
    {"<f4", 4}, {"<f8", 8}, {"|u1", 1}, {"<i4", 4}, {"<i8", 8},
};

/* Position just after `'key':` (or "key":) in the header, or NULL. */
static const char *find_key(const char *h, const char *key)
{
    char pat[32];
    for (int q = 0; q < 2; q++) {
        snprintf(pat, sizeof pat, q ? "\"%s\"" : "'%s'", key);
        const char *p = strstr(h, pat);
        if (!p)
            continue;
        p += strlen(pat);
        while (*p == ' ')
            p++;
        if (*p == ':')
            return p + 1;
    }
    return NULL;
}

static dgm_status parse_dict(npy_array *a, const char *h, const char *path, dgm_err *err)
{
    const char *p = find_key(h, "descr"), *f = find_key(h, "fortran_order");
    const char *s = find_key(h, "shape");
    if (!p || !f || !s)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged NPY header (descr, fortran_order or "
                        "shape missing)", path);
    while (*p == ' ')
        p++;
    char q = *p;
    const char *e = (q == '\'' || q == '"') ? strchr(p + 1, q) : NULL;
    if (!e || e - p - 1 >= (long)sizeof a->descr)
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "%s: NPY dtype is not a simple type string "
                        "(structured arrays are not read)", path);
    memcpy(a->descr, p + 1, (size_t)(e - p - 1));
    a->descr[e - p - 1] = 0;
    while (*f == ' ')
        f++;
    if (strncmp(f, "True", 4) != 0 && strncmp(f, "False", 5) != 0)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged NPY header (fortran_order)", path);
    a->fortran = f[0] == 'T';
    while (*s == ' ')
        s++;
    if (*s++ != '(')
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged NPY header (shape)", path);
    a->ndim = 0;
    a->count = 1;
    for (;;) {
        while (*s == ' ' || *s == ',')
            s++;
        if (*s == ')')
            break;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s || *s == '-')
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged NPY header (shape)", path);
        if (a->ndim == 3)
            return dgm_errf(err, DGM_ERR_UNSUPPORTED, "%s: NPY array with more than 3 "
                            "dimensions", path);
        a->shape[a->ndim++] = (size_t)v;
        if (v > SIZE_MAX || !dgm_size_mul(&a->count, a->count, (size_t)v))
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: NPY shape overflows", path);
        s = end + (*end == 'L'); /* Python 2 long literals */
    }
    if (a->ndim == 0)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: a 0-d NPY array (a scalar), not data", path);
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(a->descr, dtypes[i].descr) == 0)
            a->itemsize = dtypes[i].size;
    if (!a->itemsize)
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "%s: NPY dtype '%s'; dgm reads <f4, <f8, |u1, "
                        "<i4, <i8", path, a->descr);
    return DGM_OK;
}

static dgm_status parse_npy(npy_array *a, const unsigned char *buf, size_t len,
                            const char *path, dgm_err *err)
{
    memset(a, 0, sizeof *a);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: not an NPY file", path);
    int major = buf[6];
    size_t hlen, start;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        start = 10;
    } else if ((major == 2 || major == 3) && len >= 12) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
               (size_t)buf[11] << 24;
        start = 12;
    } else {
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "%s: NPY format version %d.%d", path, major,
                        buf[7]);
    }
    if (hlen > len - start)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: truncated NPY header", path);
    char *h = malloc(hlen + 1);
    if (!h)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    memcpy(h, buf + start, hlen);
    h[hlen] = 0;
    dgm_status s = parse_dict(a, h, path, err);
    free(h);
    if (s)
        return s;
    size_t need, have = len - start - hlen;
    if (!dgm_size_mul(&need, a->count, a->itemsize))
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: NPY shape overflows", path);
    if (have != need)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: %s: the header's shape needs %zu data bytes, "
                        "the file holds %zu", path, have < need ? "truncated" : "damaged",
                        need, have);
    a->data = buf + start + hlen;
    return DGM_OK;
}

/* Element k of the raw little-endian data as a double. */
static double get(const npy_array *a, size_t k)
{
    const unsigned char *b = a->data + k * a->itemsize;
    uint64_t u = 0;
    for (size_t i = 0; i < a->itemsize; i++)
        u |= (uint64_t)b[i] << (8 * i);
    switch (a->descr[1]) {
    case 'f':
        if (a->itemsize == 4) {
            uint32_t u32 = (uint32_t)u;
            float f;
            memcpy(&f, &u32, 4);
            return f;
        } else {
            double d;
            memcpy(&d, &u, 8);
            return d;
        }
    case 'u':
        return (double)u;
    default:
        return a->itemsize == 4 ? (double)(int32_t)(uint32_t)u : (double)(int64_t)u;
    }
}

/* Where the k-th element in C order lives in the file (differs for Fortran order). */
static size_t src_index(const npy_array *a, size_t k)
{
    if (!a->fortran || a->ndim == 1)
        return k;
    if (a->ndim == 2) {
        size_t i = k / a->shape[1], j = k % a->shape[1];
        return i + a->shape[0] * j;
    }
    size_t hw = a->shape[1] * a->shape[2], i = k / hw, j = k % hw / a->shape[2],
           l = k % a->shape[2];
    return i + a->shape[0] * (j + a->shape[1] * l);
}

static dgm_status read_npy(npy_array *a, unsigned char **buf, const char *path, dgm_err *err)
{
    size_t len;
    *buf = (unsigned char *)dgm__read_file(path, &len, err);
    if (!*buf)
        return err ? err->code : DGM_ERR_IO;
    dgm_status s = parse_npy(a, *buf, len, path, err);
    if (!s && a->count == 0)
        s = dgm_errf(err, DGM_ERR_FORMAT, "%s: the NPY array holds no values", path);
    if (s) {
        free(*buf);
        *buf = NULL;
    }
    return s;
}

static void set_shape(dgm_dataset *out, const npy_array *a, int is_8bit)
{
    out->kind = DGM_DATA_REAL;
    out->n = a->shape[0];
    out->d = a->count / a->shape[0];
    out->is_8bit = is_8bit;
    if (a->ndim == 3) {
        out->height = a->shape[1];
        out->width = a->shape[2];
    }
}

dgm_status dgm__npy_load(dgm_dataset *out, const char *path, int keep8, dgm_err *err)
{
    npy_array a;
    unsigned char *buf;
    dgm_status s = read_npy(&a, &buf, path, err);
    if (s)
        return s;
    size_t d = a.count / a.shape[0];
    int u8 = strcmp(a.descr, "|u1") == 0;
    if (u8 && keep8 && (!a.fortran || a.ndim == 1)) {
        /* the bytes are already x8: moved to the front of the file's buffer, which is then
         * trimmed, so no second copy of the data set exists even for a moment */
        memmove(buf, a.data, a.count);
        uint8_t *x8 = realloc(buf, a.count);
        out->x8 = x8 ? x8 : buf;
        set_shape(out, &a, 1);
        return DGM_OK;
    }
    if (u8 && keep8) {
        uint8_t *x8 = malloc(a.count);
        if (!x8) {
            free(buf);
            return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for %zu values", path,
                            a.count);
        }
        for (size_t k = 0; k < a.count; k++)
            x8[k] = a.data[src_index(&a, k)];
        free(buf);
        out->x8 = x8;
        set_shape(out, &a, 1);
        return DGM_OK;
    }
    float *x = dgm_malloc_array(a.count, sizeof *x);
    if (!x) {
        free(buf);
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for %zu values", path, a.count);
    }
    for (size_t k = 0; k < a.count && !s; k++) {
        double v = get(&a, src_index(&a, k));
        if (!isfinite(v) || fabs(v) > 3.4028234663852886e38)
            s = dgm_errf(err, DGM_ERR_NAN, "%s: element %zu (row %zu, column %zu) is %s", path,
                         k, k / d, k % d, isnan(v) ? "NaN" : isinf(v) ? "infinite"
                         : "outside float range");
        x[k] = u8 ? (float)v / 255.0f : (float)v;
    }
    free(buf);
    if (s) {
        free(x);
        return s;
    }
    out->x = x;
    set_shape(out, &a, u8);
    return DGM_OK;
}

dgm_status dgm__npy_load_labels(int32_t **y, size_t *n, const char *path, dgm_err *err)
{
    *y = NULL;
    *n = 0;
    npy_array a;
    unsigned char *buf;
    dgm_status s = read_npy(&a, &buf, path, err);
    if (s)
        return s;
    if (a.count != a.shape[0]) {
        free(buf);
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: labels must be a 1-D or (n, 1) array", path);
    }
    int32_t *lab = dgm_malloc_array(a.count, sizeof *lab);
    if (!lab) {
        free(buf);
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    }
    for (size_t k = 0; k < a.count && !s; k++) {
        double v = get(&a, k);
        if (!(v >= 0 && v < 2147483647.0 && v == floor(v)))
            s = dgm_errf(err, DGM_ERR_FORMAT, "%s: element %zu: %g is not a class label (a "
                         "non-negative integer)", path, k, v);
        else
            lab[k] = (int32_t)v;
    }
    free(buf);
    if (s) {
        free(lab);
        return s;
    }
    *y = lab;
    *n = a.count;
    return DGM_OK;
}
