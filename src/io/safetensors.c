/* safetensors writer and validating reader, F32 only.
 * Reference: https://huggingface.co/docs/safetensors and the reference implementation's
 * safetensors/src/tensor.rs (header padded with spaces to a multiple of 8 bytes; on read,
 * offsets must tile the data section exactly, without holes or overlap; headers over
 * 100,000,000 bytes are refused). Tensors are written in the order given, contiguously.
 * Left out: dtypes other than F32 (reading one is a clear DGM_ERR_UNSUPPORTED naming it),
 * memory mapping (the data section is copied into one malloc'd buffer, which also gives the
 * 4-byte alignment that float pointers need). */
#include "dgm_blocks.h"
#include "core/assert.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ST_MAX_HEADER 100000000ull
#define ST_MAX_EXACT  9007199254740992.0 /* 2^53: JSON numbers beyond it lose integers */

struct dgm_st_file {
    size_t n;
    dgm_st_tensor *t;    /* t[i].name and t[i].data point into names / data below */
    char **names;
    size_t n_meta;
    char **meta;         /* key0, value0, key1, value1, ... */
    float *data;
};

static int host_big_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 0;
}

static void bswap32(void *p, size_t n)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++, b += 4) {
        unsigned char t0 = b[0], t1 = b[1];
        b[0] = b[3]; b[1] = b[2]; b[2] = t1; b[3] = t0;
    }
}

/* Floats as little-endian bytes; big-endian hosts convert through a small buffer. */
static int write_f32_le(FILE *f, const float *x, size_t n)
{
    if (n == 0) /* x may be NULL for an empty tensor */
        return 1;
    if (!host_big_endian())
        return fwrite(x, 4, n, f) == n;
    float buf[1024];
    for (size_t i = 0; i < n; i += 1024) {
        size_t m = n - i < 1024 ? n - i : 1024;
        memcpy(buf, x + i, m * 4);
        bswap32(buf, m);
        if (fwrite(buf, 4, m, f) != m)
            return 0;
    }
    return 1;
}

static int tensor_numel(size_t *out, const size_t *shape, int ndim)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (!dgm_size_mul(&n, n, shape[i]))
            return 0;
    *out = n;
    return 1;
}

// ---------------------------------------------------------------------------- write

static dgm_status check_args(const dgm_st_tensor *t, size_t n, const char *const *meta_kv,
                             size_t n_meta, const char *path, dgm_err *err)
{
    for (size_t i = 0; i < n; i++) {
        size_t numel = 0;
        DGM_ASSERT(t[i].name);
        if (t[i].ndim < 0 || t[i].ndim > 4)
            return dgm_errf(err, DGM_ERR_ARG, "%s: tensor '%.64s' has %d dims (0..4 allowed)",
                            path, t[i].name, t[i].ndim);
        if (!tensor_numel(&numel, t[i].shape, t[i].ndim) || numel > (size_t)(ST_MAX_EXACT / 8))
            return dgm_errf(err, DGM_ERR_ARG, "%s: tensor '%.64s' is too large", path, t[i].name);
        if (numel > 0 && !t[i].data)
            return dgm_errf(err, DGM_ERR_ARG, "%s: tensor '%.64s' has no data", path, t[i].name);
        if (strcmp(t[i].name, "__metadata__") == 0)
            return dgm_errf(err, DGM_ERR_ARG, "%s: '__metadata__' is reserved, not a tensor name",
                            path);
        for (size_t j = 0; j < i; j++)
            if (strcmp(t[i].name, t[j].name) == 0)
                return dgm_errf(err, DGM_ERR_ARG, "%s: tensor name '%.64s' appears twice", path,
                                t[i].name);
    }
    for (size_t i = 0; i < n_meta; i++) {
        DGM_ASSERT(meta_kv[2 * i] && meta_kv[2 * i + 1]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(meta_kv[2 * i], meta_kv[2 * j]) == 0)
                return dgm_errf(err, DGM_ERR_ARG, "%s: metadata key '%.64s' appears twice", path,
                                meta_kv[2 * i]);
    }
    return DGM_OK;
}

/* The JSON header, without padding; NULL when cJSON runs out of memory. */
static char *build_header(const dgm_st_tensor *t, size_t n, const char *const *meta_kv,
                          size_t n_meta)
{
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && n_meta > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        ok = meta != NULL;
        for (size_t i = 0; ok && i < n_meta; i++)
            ok = cJSON_AddStringToObject(meta, meta_kv[2 * i], meta_kv[2 * i + 1]) != NULL;
    }
    double offset = 0;
    for (size_t i = 0; ok && i < n; i++) {
        size_t numel = 0;
        tensor_numel(&numel, t[i].shape, t[i].ndim);
        cJSON *o = cJSON_AddObjectToObject(root, t[i].name);
        cJSON *shape = o ? cJSON_AddArrayToObject(o, "shape") : NULL;
        cJSON *offs = o ? cJSON_AddArrayToObject(o, "data_offsets") : NULL;
        ok = shape && offs && cJSON_AddStringToObject(o, "dtype", "F32");
        for (int k = 0; ok && k < t[i].ndim; k++)
            ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t[i].shape[k]));
        double end = offset + 4.0 * (double)numel;
        ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber(offset)) &&
             cJSON_AddItemToArray(offs, cJSON_CreateNumber(end));
        offset = end;
    }
    char *s = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return s;
}

dgm_status dgm_safetensors_write(const char *path, const dgm_st_tensor *t, size_t n,
                                 const char *const *meta_kv, size_t n_meta, dgm_err *err)
{
    dgm_status s = check_args(t, n, meta_kv, n_meta, path, err);
    if (s)
        return s;
    char *hdr = build_header(t, n, meta_kv, n_meta);
    if (!hdr)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory building the header", path);
    size_t len = strlen(hdr), padded = (len + 7) / 8 * 8;
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)((uint64_t)padded >> (8 * i));

    char tmp[4096];
    FILE *f = dgm_atomic_open(path, tmp, sizeof tmp, err);
    if (!f) {
        free(hdr);
        return err ? err->code : DGM_ERR_IO;
    }
    int ok = fwrite(le, 1, 8, f) == 8 && fwrite(hdr, 1, len, f) == len;
    for (size_t i = len; ok && i < padded; i++)
        ok = fputc(' ', f) != EOF;
    free(hdr);
    for (size_t i = 0; ok && i < n; i++) {
        size_t numel = 0;
        tensor_numel(&numel, t[i].shape, t[i].ndim);
        ok = write_f32_le(f, t[i].data, numel);
    }
    if (!ok) {
        int e = errno;
        dgm_atomic_abort(f, tmp);
        return dgm_errf(err, DGM_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return dgm_atomic_commit(f, tmp, path, err);
}

// ----------------------------------------------------------------------------- read

void dgm_safetensors_free(dgm_st_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        free(f->names[i]);
    for (size_t i = 0; i < 2 * f->n_meta; i++)
        free(f->meta[i]);
    free(f->names);
    free(f->meta);
    free(f->t);
    free(f->data);
    free(f);
}

/* A JSON number that is an exact non-negative integer below 2^53. */
static int json_size(const cJSON *v, size_t *out)
{
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d < ST_MAX_EXACT) || d != (double)(uint64_t)d)
        return 0;
    *out = (size_t)d;
    return 1;
}

static dgm_status unsupported_dtype(const char *dtype, const char *name, const char *path,
                                    dgm_err *err)
{
    static const char *const known[] = {"F64", "F16", "BF16", "I64", "I32", "I16", "I8", "U64",
                                        "U32", "U16", "U8", "BOOL", "F8_E4M3", "F8_E5M2", "C64"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(dtype, known[i]) == 0)
            return dgm_errf(err, DGM_ERR_UNSUPPORTED,
                            "%s: tensor '%.64s' has dtype %s; dgm reads only F32", path, name,
                            dtype);
    return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged safetensors file: tensor '%.64s' has "
                    "unknown dtype '%.32s'", path, name, dtype);
}

static dgm_status parse_meta(dgm_st_file *f, const cJSON *m, const char *path, dgm_err *err)
{
    if (cJSON_IsNull(m))
        return DGM_OK;
    if (!cJSON_IsObject(m))
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged safetensors file: __metadata__ is not "
                        "an object", path);
    size_t k = (size_t)cJSON_GetArraySize(m);
    f->meta = dgm_calloc_array(2 * k, sizeof(char *));
    if (!f->meta)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    const cJSON *v;
    cJSON_ArrayForEach(v, m) {
        if (!cJSON_IsString(v))
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged safetensors file: metadata "
                            "'%.64s' is not a string", path, v->string);
        /* JSON leaves a repeated key to the reader; which value wins would be ours to
         * invent, and the file could not be written back (fuzz_safetensors) */
        for (size_t j = 0; j < f->n_meta; j++)
            if (strcmp(f->meta[2 * j], v->string) == 0)
                return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged safetensors file: metadata "
                                "key '%.64s' appears twice", path, v->string);
        char **kv = f->meta + 2 * f->n_meta;
        kv[0] = strdup(v->string);
        kv[1] = strdup(v->valuestring);
        f->n_meta++;
        if (!kv[0] || !kv[1])
            return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    }
    return DGM_OK;
}

/* One tensor entry: dtype F32, shape of <= 4 sizes, data_offsets [begin, end] whose span
 * is 4 * numel. Its byte range is returned in off[2]. */
static dgm_status parse_tensor(dgm_st_tensor *t, size_t off[2], const cJSON *o,
                               const char *path, dgm_err *err)
{
    const char *name = o->string;
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(o, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(o, "data_offsets");
    if (!cJSON_IsObject(o) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape) ||
        !cJSON_IsArray(offs))
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged safetensors file: tensor '%.64s' "
                        "lacks dtype, shape or data_offsets", path, name);
    if (strcmp(dtype->valuestring, "F32") != 0)
        return unsupported_dtype(dtype->valuestring, name, path, err);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > 4)
        return dgm_errf(err, DGM_ERR_UNSUPPORTED, "%s: tensor '%.64s' has %d dims; dgm reads "
                        "at most 4", path, name, ndim);
    t->ndim = ndim;
    for (int k = 0; k < ndim; k++)
        if (!json_size(cJSON_GetArrayItem(shape, k), &t->shape[k]))
            return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged safetensors file: tensor '%.64s' "
                            "has a bad shape", path, name);
    if (cJSON_GetArraySize(offs) != 2 || !json_size(cJSON_GetArrayItem(offs, 0), &off[0]) ||
        !json_size(cJSON_GetArrayItem(offs, 1), &off[1]) || off[1] < off[0])
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged safetensors file: tensor '%.64s' "
                        "has bad data_offsets", path, name);
    size_t numel = 0, bytes = 0;
    if (!tensor_numel(&numel, t->shape, ndim) || !dgm_size_mul(&bytes, numel, 4) ||
        bytes != off[1] - off[0])
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged safetensors file: tensor '%.64s' "
                        "spans %zu bytes but its shape needs %zu floats", path, name,
                        off[1] - off[0], numel);
    return DGM_OK;
}

typedef struct { size_t begin, end, i; } st_range;

static int by_offset(const void *a, const void *b)
{
    const st_range *p = a, *q = b;
    if (p->begin != q->begin)
        return p->begin < q->begin ? -1 : 1;
    return (p->end > q->end) - (p->end < q->end);
}

/* Offsets must tile [0, data_len) exactly, as the reference reader requires. */
static dgm_status check_tiling(const size_t *off, size_t n, size_t data_len,
                               const dgm_st_tensor *t, const char *path, dgm_err *err)
{
    st_range *r = dgm_malloc_array(n, sizeof *r);
    if (!r)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++)
        r[i] = (st_range){off[2 * i], off[2 * i + 1], i};
    qsort(r, n, sizeof *r, by_offset);
    size_t at = 0;
    dgm_status s = DGM_OK;
    for (size_t k = 0; k < n && !s; k++) {
        if (r[k].begin != at)
            s = dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged safetensors file: tensor '%.64s' "
                         "starts at byte %zu, expected %zu (%s)", path, t[r[k].i].name,
                         r[k].begin, at, r[k].begin < at ? "overlap" : "hole");
        at = r[k].end;
    }
    free(r);
    if (!s && at != data_len)
        s = dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged safetensors file: the tensors need %zu "
                     "data bytes, the file holds %zu%s", path, at, data_len,
                     at > data_len ? " (truncated)" : "");
    return s;
}

static dgm_status parse_header(dgm_st_file *f, const char *hdr, size_t len, size_t data_len,
                               const char *path, dgm_err *err)
{
    cJSON *root = cJSON_ParseWithLength(hdr, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged safetensors file: the header is not "
                        "a JSON object", path);
    }
    size_t cap = (size_t)cJSON_GetArraySize(root);
    size_t *off = dgm_malloc_array(2 * cap, sizeof *off);
    f->t = dgm_calloc_array(cap, sizeof *f->t);
    f->names = dgm_calloc_array(cap, sizeof *f->names);
    dgm_status s = (off && f->t && f->names) ? DGM_OK
                   : dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (s)
            break;
        if (strcmp(e->string, "__metadata__") == 0) {
            s = f->meta ? dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged safetensors file: two "
                                   "__metadata__ entries", path)
                        : parse_meta(f, e, path, err);
            continue;
        }
        for (size_t j = 0; j < f->n && !s; j++)
            if (strcmp(f->names[j], e->string) == 0)
                s = dgm_errf(err, DGM_ERR_FORMAT, "%s: damaged safetensors file: tensor "
                             "'%.64s' appears twice", path, e->string);
        if (!s)
            s = parse_tensor(&f->t[f->n], off + 2 * f->n, e, path, err);
        if (!s && !(f->names[f->n] = strdup(e->string)))
            s = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
        if (!s) {
            f->t[f->n].name = f->names[f->n];
            f->n++;
        }
    }
    cJSON_Delete(root);
    if (!s)
        s = check_tiling(off, f->n, data_len, f->t, path, err);
    for (size_t i = 0; i < f->n && !s; i++)
        f->t[i].data = f->data + off[2 * i] / 4;
    free(off);
    return s;
}

/* Reads the file: 8-byte length, header (NUL-terminated copy), data section. */
static dgm_status read_file(char **hdr, size_t *hdr_len, dgm_st_file *f, size_t *data_len,
                            const char *path, dgm_err *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return dgm_errf(err, DGM_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    unsigned char le[8];
    dgm_status s = DGM_OK;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode))
        s = dgm_errf(err, DGM_ERR_IO, "%s: not a regular file", path);
    else if (st.st_size < 8 || fread(le, 1, 8, fp) != 8)
        s = dgm_errf(err, DGM_ERR_FORMAT, "%s: not a safetensors file (%lld bytes, too short "
                     "for the header length)", path, (long long)st.st_size);
    uint64_t n = 0;
    for (int i = 0; !s && i < 8; i++)
        n |= (uint64_t)le[i] << (8 * i);
    if (!s && (n < 2 || n > ST_MAX_HEADER || n > (uint64_t)st.st_size - 8))
        s = dgm_errf(err, DGM_ERR_FORMAT, "%s: not a safetensors file or truncated: header "
                     "length %llu, file size %lld", path, (unsigned long long)n,
                     (long long)st.st_size);
    if (!s) {
        *hdr_len = (size_t)n;
        *data_len = (size_t)((uint64_t)st.st_size - 8 - n);
        *hdr = malloc(*hdr_len + 1);
        f->data = malloc(*data_len ? *data_len : 4);
        if (!*hdr || !f->data)
            s = dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory for %zu bytes", path, *data_len);
    }
    if (!s && (fread(*hdr, 1, *hdr_len, fp) != *hdr_len ||
               fread(f->data, 1, *data_len, fp) != *data_len))
        s = dgm_errf(err, DGM_ERR_IO, "%s: read failed", path);
    if (!s)
        (*hdr)[*hdr_len] = 0;
    fclose(fp);
    return s;
}

dgm_status dgm_safetensors_read(dgm_st_file **out, const char *path, dgm_err *err)
{
    *out = NULL;
    dgm_st_file *f = calloc(1, sizeof *f);
    if (!f)
        return dgm_errf(err, DGM_ERR_NOMEM, "%s: out of memory", path);
    char *hdr = NULL;
    size_t hdr_len = 0, data_len = 0;
    dgm_status s = read_file(&hdr, &hdr_len, f, &data_len, path, err);
    if (!s)
        s = parse_header(f, hdr, hdr_len, data_len, path, err);
    free(hdr);
    if (s) {
        dgm_safetensors_free(f);
        return s;
    }
    if (host_big_endian())
        bswap32(f->data, data_len / 4);
    *out = f;
    return DGM_OK;
}

size_t dgm_st_count(const dgm_st_file *f) { return f->n; }

const dgm_st_tensor *dgm_st_get(const dgm_st_file *f, size_t i)
{
    return i < f->n ? &f->t[i] : NULL;
}

const dgm_st_tensor *dgm_st_find(const dgm_st_file *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0)
            return &f->t[i];
    return NULL;
}

const char *dgm_st_meta(const dgm_st_file *f, const char *key)
{
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[2 * i], key) == 0)
            return f->meta[2 * i + 1];
    return NULL;
}

size_t dgm_st_meta_count(const dgm_st_file *f) { return f->n_meta; }

const char *dgm_st_meta_key(const dgm_st_file *f, size_t i)
{
    return i < f->n_meta ? f->meta[2 * i] : NULL;
}
