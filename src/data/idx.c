/* IDX reader (the MNIST / Fashion-MNIST file format), plain or gzip-compressed: zlib's
 * gzread passes plain files through unchanged, so one code path reads both.
 * Reference: http://yann.lecun.com/exdb/mnist/ ("THE IDX FILE FORMAT"): two zero bytes, a
 * type byte (0x08 = unsigned byte), a dimension count, then big-endian 32-bit sizes and the
 * data in row-major order.
 * Left out: element types other than unsigned byte (signed, short, int, float, double give
 * DGM_ERR_UNSUPPORTED naming the type) and more than 3 dimensions. */
#include "data/readers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* Headers claiming more bytes than this are damaged: the largest IDX sets are far smaller,
 * and the data is only allocated as it arrives anyway. */
#define IDX_MAX_BYTES ((size_t)1 << 40)

typedef struct {
    uint8_t *data;
    size_t   dims[3];
    int      ndim;
    size_t   count;   /* product of dims */
} idx_array;

static const char *type_name(int t)
{
    switch (t) {
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    }
    return NULL;
}

/* Reads exactly n bytes unless the stream ends; returns the count, or -1 on a zlib error
 * (message in err). */
static long long read_full(gzFile g, void *buf, size_t n, const char *path, dgm_err *err)
{
    size_t got = 0;
    while (got < n) {
        size_t want = n - got < (1u << 30) ? n - got : (1u << 30);
        int r = gzread(g, (char *)buf + got, (unsigned)want);
        int zerr = Z_OK;
        const char *zmsg = gzerror(g, &zerr);
        if (r < 0 || (zerr != Z_OK && zerr != Z_BUF_ERROR)) {
            dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged gzip data: %s", path, zmsg);
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long long)got;
}

static dgm_status read_header(idx_array *a, gzFile g, const char *path, dgm_err *err)
{
    unsigned char h[16];
    long long r = read_full(g, h, 4, path, err);
    if (r < 0)
        return DGM_ERR_FORMAT;
    if (r < 4 || h[0] != 0 || h[1] != 0)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: not an IDX file (it does not start with two "
                        "zero bytes)", path);
    if (h[2] != 0x08) {
        const char *t = type_name(h[2]);
        if (t)
            return dgm_errf(err, DGM_ERR_UNSUPPORTED, "%s: IDX element type 0x%02x (%s); dgm "
                            "reads unsigned bytes (0x08)", path, h[2], t);
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: not an IDX file (element type 0x%02x)", path,
                        h[2]);
    }
    a->ndim = h[3];
    if (a->ndim < 1 || a->ndim > 3)
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "%s: IDX file with %d dimensions; dgm reads "
                        "1 to 3", path, a->ndim);
    r = read_full(g, h + 4, 4 * (size_t)a->ndim, path, err);
    if (r < 0)
        return DGM_ERR_FORMAT;
    if (r < 4 * a->ndim)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: truncated IDX header", path);
    a->count = 1;
    for (int i = 0; i < a->ndim; i++) {
        const unsigned char *b = h + 4 + 4 * i;
        a->dims[i] = (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
        if (!dgm_size_mul(&a->count, a->count, a->dims[i]) || a->count > IDX_MAX_BYTES)
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: implausible IDX dimensions (over 2^40 "
                            "values)", path);
    }
    if (a->dims[0] == 0)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: the IDX file holds zero items", path);
    for (int i = 1; i < a->ndim; i++)
        if (a->dims[i] == 0) /* n items of nothing: a data set with d = 0 */
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: IDX dimension %d has size 0", path, i + 1);
    return DGM_OK;
}

/* The data, grown as it arrives so that a header that lies about its size costs no more
 * memory than the file really holds. */
static dgm_status read_data(idx_array *a, gzFile g, const char *path, dgm_err *err)
{
    size_t cap = a->count < ((size_t)64 << 20) ? a->count : ((size_t)64 << 20), got = 0;
    a->data = malloc(cap ? cap : 1);
    while (a->data) {
        long long r = read_full(g, a->data + got, cap - got, path, err);
        if (r < 0)
            return DGM_ERR_FORMAT;
        got += (size_t)r;
        if (got < cap || cap == a->count)
            break;
        cap = a->count - cap < cap ? a->count : 2 * cap;
        uint8_t *p = realloc(a->data, cap);
        if (!p) {
            free(a->data);
            a->data = NULL;
        } else {
            a->data = p;
        }
    }
    if (!a->data)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for %zu bytes", path, a->count);
    if (got < a->count)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: truncated: the header promises %zu data "
                        "bytes, the file holds %zu", path, a->count, got);
    unsigned char extra;
    long long r = read_full(g, &extra, 1, path, err);
    if (r < 0)
        return DGM_ERR_FORMAT;
    if (r > 0)
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: more data than the header's dimensions "
                        "describe (%zu bytes)", path, a->count);
    return DGM_OK;
}

/* Refuses, before anything is allocated, a header that promises more data than the file
 * can hold: a plain file holds its size less the header; a gzip stream at most 1032 bytes
 * for each compressed byte (deflate's largest ratio, zlib's FAQ and RFC 1951's length-258
 * copies), so a damaged or hostile header costs no memory. */
static dgm_status check_size(const idx_array *a, gzFile g, const char *path, dgm_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return DGM_OK; /* a pipe or device: read_data's growth still bounds the memory */
    size_t file = (size_t)st.st_size, header = 4 + 4 * (size_t)a->ndim, cap;
    if (gzdirect(g)) {
        if (file - header >= a->count)
            return DGM_OK;
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: truncated: the header promises %zu data "
                        "bytes, the file holds %zu", path, a->count, file - header);
    }
    if (!dgm_size_mul(&cap, file, 1032) || cap >= a->count)
        return DGM_OK;
    return dgm_errf(err, DGM_ERR_FORMAT, "%s: truncated: the header promises %zu data bytes, "
                    "more than %zu compressed bytes can hold", path, a->count, file);
}

static dgm_status idx_read(idx_array *a, const char *path, dgm_err *err)
{
    memset(a, 0, sizeof *a);
    errno = 0;
    gzFile g = gzopen(path, "rb");
    if (!g)
        return dgm_errf(err, errno == ENOMEM || errno == 0 ? DGM_ERR_NOMEM : DGM_ERR_IO,
                        "%s: %s", path, errno ? strerror(errno) : "out of memory");
    gzbuffer(g, 1u << 18);
    dgm_status s = read_header(a, g, path, err);
    if (!s)
        s = check_size(a, g, path, err);
    if (!s)
        s = read_data(a, g, path, err);
    gzclose(g);
    if (s) {
        free(a->data);
        a->data = NULL;
    }
    return s;
}

dgm_status dgm__idx_load(dgm_dataset *out, const char *path, int keep8, dgm_err *err)
{
    idx_array a;
    dgm_status s = idx_read(&a, path, err);
    if (s)
        return s;
    if (a.ndim == 1) {
        free(a.data);
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: a 1-D IDX file (labels), not data", path);
    }
    if (keep8) {
        out->x8 = a.data; /* the bytes as read: no float copy ever exists */
    } else {
        float *x = dgm_malloc_array(a.count, sizeof *x);
        if (!x) {
            free(a.data);
            return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for %zu values", path,
                            a.count);
        }
        /* the same division as dgm_data_example's from x8, so both forms agree bit for bit */
        float lut[256];
        for (int k = 0; k < 256; k++)
            lut[k] = (float)k / 255.0f;
        for (size_t i = 0; i < a.count; i++)
            x[i] = lut[a.data[i]];
        free(a.data);
        out->x = x;
    }
    out->kind = DGM_DATA_REAL;
    out->n = a.dims[0];
    out->d = a.count / a.dims[0];
    out->is_8bit = 1;
    if (a.ndim == 3) {
        out->height = a.dims[1];
        out->width = a.dims[2];
    }
    return DGM_OK;
}

dgm_status dgm__idx_load_labels(int32_t **y, size_t *n, const char *path, dgm_err *err)
{
    idx_array a;
    *y = NULL;
    *n = 0;
    dgm_status s = idx_read(&a, path, err);
    if (s)
        return s;
    if (a.ndim != 1) {
        free(a.data);
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: not an IDX label file (%d dimensions, "
                        "labels have 1)", path, a.ndim);
    }
    *y = dgm_malloc_array(a.count, sizeof **y);
    if (!*y) {
        free(a.data);
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < a.count; i++)
        (*y)[i] = a.data[i];
    *n = a.count;
    free(a.data);
    return DGM_OK;
}
