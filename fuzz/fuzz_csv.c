/* Numeric CSV (src/data/csv.c): read as data; a success is a non-empty n x d table of
 * finite floats. The same file through dgm_data_load (format detection first) must agree
 * whenever detection calls it a CSV. */
#include "fuzz.h"
#include "data/readers.h"

#include <math.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    dgm_set_threads(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_path(0, "data.csv");
    fuzz_write(path, data, size);
    dgm_dataset a = {0};
    dgm_err err = {0};
    dgm_status s = dgm__csv_load(&a, path, &err);
    fuzz_check_err(s, &err, path);
    if (!s) {
        FUZZ_CHECK(a.kind == DGM_DATA_REAL && a.n > 0 && a.d > 0 && a.x, "n %zu d %zu", a.n, a.d);
        for (size_t i = 0; i < a.n * a.d; i++)
            FUZZ_CHECK(isfinite(a.x[i]), "x[%zu] = %g", i, (double)a.x[i]);
    }
    dgm_data_format fmt;
    dgm_err derr = {0};
    dgm_status ds = dgm_data_detect(&fmt, path, &derr);
    fuzz_check_err(ds, &derr, path);
    if (!ds && fmt == DGM_FORMAT_CSV) {
        dgm_dataset b;
        dgm_err berr = {0};
        dgm_status bs = dgm_data_load(&b, path, NULL, &berr);
        fuzz_check_err(bs, &berr, path);
        FUZZ_CHECK(bs == s, "dgm_data_load %d, the CSV reader %d", (int)bs, (int)s);
        FUZZ_CHECK(bs || (b.n == a.n && b.d == a.d && !memcmp(a.x, b.x, a.n * a.d * sizeof *a.x)),
                   "dgm_data_load read another table");
        dgm_data_free(&b);
    }
    dgm_data_free(&a);
    return 0;
}
