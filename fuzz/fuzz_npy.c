/* NPY arrays (src/data/npy.c), read as data, as 8-bit data (x8) and as labels. Successes
 * are shaped n x d with finite values, and the two data forms agree. */
#include "fuzz.h"
#include "data/readers.h"

#include <math.h>

static void check(const dgm_dataset *d, int keep8)
{
    FUZZ_CHECK(d->kind == DGM_DATA_REAL && d->n > 0 && d->d > 0, "n %zu d %zu", d->n, d->d);
    FUZZ_CHECK(d->x8 ? keep8 && d->is_8bit && !d->x : d->x != NULL, "forms x %p x8 %p",
               (void *)d->x, (void *)d->x8);
    FUZZ_CHECK(!d->height == !d->width && (!d->height || d->height * d->width == d->d),
               "geometry %zu x %zu for d %zu", d->height, d->width, d->d);
    for (size_t i = 0; d->x && i < d->n * d->d; i++)
        FUZZ_CHECK(isfinite(d->x[i]), "x[%zu] = %g", i, (double)d->x[i]);
    unsigned v = 0;
    for (size_t i = 0; d->x8 && i < d->n * d->d; i++)
        v += d->x8[i];
    (void)v;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    dgm_set_threads(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_path(0, "data.npy");
    fuzz_write(path, data, size);
    dgm_dataset a = {0}, b = {0};
    dgm_err err = {0}, err8 = {0};
    dgm_status s = dgm__npy_load(&a, path, 0, &err);
    fuzz_check_err(s, &err, path);
    dgm_status s8 = dgm__npy_load(&b, path, 1, &err8);
    fuzz_check_err(s8, &err8, path);
    FUZZ_CHECK(s == s8, "data %d, 8-bit data %d (%s / %s)", (int)s, (int)s8, err.msg, err8.msg);
    if (!s) {
        check(&a, 0);
        check(&b, 1);
        FUZZ_CHECK(a.n == b.n && a.d == b.d && a.height == b.height && a.is_8bit == b.is_8bit,
                   "the two forms differ in shape");
        for (size_t i = 0; b.x8 && i < a.n * a.d; i++)
            FUZZ_CHECK(a.x[i] == (float)b.x8[i] / 255.0f, "value %zu: %g vs %u", i,
                       (double)a.x[i], b.x8[i]);
        for (size_t i = 0; b.x && i < a.n * a.d; i++)
            FUZZ_CHECK(a.x[i] == b.x[i], "value %zu", i);
    }
    dgm_data_free(&a);
    dgm_data_free(&b);
    int32_t *y = NULL;
    size_t n = 0;
    s = dgm__npy_load_labels(&y, &n, path, &err);
    fuzz_check_err(s, &err, path);
    FUZZ_CHECK(s ? !y && n == 0 : y && n > 0, "labels: status %d, %zu", (int)s, n);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(y[i] >= 0, "label %zu = %d", i, (int)y[i]);
    free(y);
    return 0;
}
