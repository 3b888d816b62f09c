/* IDX images and labels, plain and gzip-compressed (src/data/idx.c). The first byte picks
 * the container: odd -> the rest is gzip-compressed before it is written, so the fuzzer
 * explores IDX headers behind a valid gzip stream; even -> the rest as it is (damaged gzip
 * streams come from inputs that start with 1f 8b themselves). Each file is read as images,
 * as 8-bit images (x8) and as labels. */
#include "fuzz.h"
#include "data/readers.h"

#include <math.h>
#include <zlib.h>

static void check_images(const dgm_dataset *d, int keep8)
{
    FUZZ_CHECK(d->kind == DGM_DATA_REAL && d->n > 0 && d->d > 0, "n %zu d %zu", d->n, d->d);
    FUZZ_CHECK(keep8 ? d->x8 && !d->x : d->x && !d->x8, "keep8 %d: x %p x8 %p", keep8,
               (void *)d->x, (void *)d->x8);
    FUZZ_CHECK(d->is_8bit, "IDX data is 8-bit");
    FUZZ_CHECK(!d->height == !d->width && (!d->height || d->height * d->width == d->d),
               "geometry %zu x %zu for d %zu", d->height, d->width, d->d);
    float v = 0;
    for (size_t i = 0; i < d->n * d->d; i++)
        v += keep8 ? d->x8[i] : d->x[i]; /* every value readable (ASan) */
    FUZZ_CHECK(isfinite(v), "sum %g", (double)v);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    dgm_set_threads(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *path = fuzz_path(0, "images-idx3-ubyte");
    if (data[0] & 1) {
        gzFile g = gzopen(path, "wb");
        FUZZ_CHECK(g && (size == 1 || gzwrite(g, data + 1, (unsigned)(size - 1)) > 0) &&
                   gzclose(g) == Z_OK, "gzip write");
    } else {
        fuzz_write(path, data + 1, size - 1);
    }
    dgm_dataset a = {0}, b = {0};
    dgm_err err = {0};
    dgm_status s = dgm__idx_load(&a, path, 0, &err);
    fuzz_check_err(s, &err, path);
    if (!s)
        check_images(&a, 0);
    dgm_err err8 = {0};
    dgm_status s8 = dgm__idx_load(&b, path, 1, &err8);
    fuzz_check_err(s8, &err8, path);
    FUZZ_CHECK(s == s8, "images %d, 8-bit images %d (%s / %s)", (int)s, (int)s8, err.msg, err8.msg);
    if (!s) {
        check_images(&b, 1);
        FUZZ_CHECK(a.n == b.n && a.d == b.d && a.height == b.height, "two forms differ");
        for (size_t i = 0; i < a.n * a.d; i++)
            FUZZ_CHECK(a.x[i] == (float)b.x8[i] / 255.0f, "value %zu", i);
    }
    dgm_data_free(&a);
    dgm_data_free(&b);
    int32_t *y = NULL;
    size_t n = 0;
    s = dgm__idx_load_labels(&y, &n, path, &err);
    fuzz_check_err(s, &err, path);
    FUZZ_CHECK(s ? !y && n == 0 : y && n > 0, "labels: status %d, %zu", (int)s, n);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(y[i] >= 0 && y[i] < 256, "label %zu = %d", i, (int)y[i]);
    free(y);
    return 0;
}
