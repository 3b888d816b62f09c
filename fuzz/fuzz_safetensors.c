/* safetensors (src/io/safetensors.c, dgm_safetensors_read). A file that reads has tensors
 * of 0..4 dimensions whose data lies inside the file, names findable by dgm_st_find, and
 * metadata strings; written back with dgm_safetensors_write and read again, it gives the
 * same names, shapes, bytes and metadata. */
#include "fuzz.h"

static size_t numel(const dgm_st_tensor *t)
{
    size_t n = 1;
    for (int k = 0; k < t->ndim; k++)
        FUZZ_CHECK(dgm_size_mul(&n, n, t->shape[k]), "shape overflows");
    return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    dgm_set_threads(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_path(0, "in.safetensors"), *out = fuzz_path(1, "out.safetensors");
    fuzz_write(path, data, size);
    dgm_st_file *f = NULL;
    dgm_err err = {0};
    dgm_status s = dgm_safetensors_read(&f, path, &err);
    fuzz_check_err(s, &err, path);
    FUZZ_CHECK(!s == !!f, "status %d, file %p", (int)s, (void *)f);
    if (s)
        return 0;
    size_t n = dgm_st_count(f), total = 0, nm = dgm_st_meta_count(f);
    dgm_st_tensor *t = calloc(n ? n : 1, sizeof *t);
    const char **kv = calloc(2 * nm + 1, sizeof *kv);
    FUZZ_CHECK(t && kv, "calloc");
    for (size_t i = 0; i < n; i++) {
        t[i] = *dgm_st_get(f, i);
        FUZZ_CHECK(t[i].name && t[i].ndim >= 0 && t[i].ndim <= 4, "tensor %zu", i);
        FUZZ_CHECK(dgm_st_find(f, t[i].name) == dgm_st_get(f, i), "find '%s'", t[i].name);
        size_t e = numel(&t[i]);
        FUZZ_CHECK(e <= size / 4 && (total += e) <= size / 4, "%zu values in %zu bytes", total, size);
        volatile float sink = 0;
        for (size_t j = 0; j < e; j++)
            sink += t[i].data[j]; /* inside the buffer (ASan) */
        (void)sink;
    }
    FUZZ_CHECK(dgm_st_get(f, n) == NULL, "tensor past the count");
    for (size_t i = 0; i < nm; i++) {
        kv[2 * i] = dgm_st_meta_key(f, i);
        kv[2 * i + 1] = kv[2 * i] ? dgm_st_meta(f, kv[2 * i]) : NULL;
        FUZZ_CHECK(kv[2 * i] && kv[2 * i + 1], "metadata %zu", i);
    }
    s = dgm_safetensors_write(out, t, n, kv, nm, &err);
    fuzz_check_err(s, &err, out);
    FUZZ_CHECK(!s, "a file that reads does not write back: %s", err.msg);
    dgm_st_file *g = NULL;
    s = dgm_safetensors_read(&g, out, &err);
    FUZZ_CHECK(!s, "the file written back does not read: %s", err.msg);
    FUZZ_CHECK(dgm_st_count(g) == n && dgm_st_meta_count(g) == nm, "counts differ");
    for (size_t i = 0; i < n; i++) {
        const dgm_st_tensor *u = dgm_st_find(g, t[i].name);
        FUZZ_CHECK(u && u->ndim == t[i].ndim &&
                   !memcmp(u->shape, t[i].shape, (size_t)u->ndim * sizeof u->shape[0]),
                   "tensor '%s' differs", t[i].name);
        FUZZ_CHECK(!numel(u) || !memcmp(u->data, t[i].data, numel(u) * 4), "'%s' data differs",
                   t[i].name);
    }
    for (size_t i = 0; i < nm; i++) {
        const char *v = dgm_st_meta(g, kv[2 * i]);
        FUZZ_CHECK(v && !strcmp(v, kv[2 * i + 1]), "metadata '%s' differs", kv[2 * i]);
    }
    dgm_safetensors_free(g);
    free(t);
    free(kv);
    dgm_safetensors_free(f);
    return 0;
}
