/* Mutation tables (deep mutational scans: src/eval/mutations.c dgm_dms_read and
 * dgm_mutant_parse, src/eval/scan.c), as `dgm mutations --csv` and `dgm train --eval-csv`
 * read them: against a site-independent model fitted once, at start-up, to a small family
 * whose focus is F/24-43; column "score" holds the measurements. A loaded scan is scored
 * (Spearman), which must be a correlation or NaN. */
#include "fuzz.h"

#include <math.h>

static dgm_model *model;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    dgm_set_threads(1);
    const char *fa = ">F/24-43 focus\nMSIQHFRVALIPFFAAFCLP\n>r1\nMSIQHFRVALIPFFAAFCLP\n"
                     ">r2\nMKIQHFRVALVPFFAAFCLP\n>r3\nMSIQHW-VALIPFFAAYCLP\n";
    const char *path = fuzz_path(1, "family.a2m");
    fuzz_write(path, (const uint8_t *)fa, strlen(fa));
    dgm_alignment a;
    dgm_err err = {0};
    if (dgm_alignment_read(&a, path, NULL, &err) || dgm_indep_fit(&model, &a, NULL, 0.2, 0.5, &err)) {
        fprintf(stderr, "fuzz_mutations: %s\n", err.msg);
        abort();
    }
    dgm_alignment_free(&a);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_path(0, "dms.csv");
    fuzz_write(path, data, size);
    dgm_scan *scan = NULL;
    dgm_err err = {0};
    dgm_status s = dgm_scan_load(&scan, path, "score", model, &err);
    fuzz_check_err(s, &err, path);
    FUZZ_CHECK(!s == !!scan, "status %d, scan %p", (int)s, (void *)scan);
    if (s)
        return 0;
    size_t n = dgm_scan_count(scan);
    FUZZ_CHECK(n <= size, "%zu mutants from %zu bytes", n, size);
    double rho = 0;
    s = dgm_scan_spearman(&rho, model, scan, 1, 1, &err);
    fuzz_check_err(s, &err, NULL);
    FUZZ_CHECK(s || isnan(rho) || (rho >= -1 - 1e-12 && rho <= 1 + 1e-12), "rho %g", rho);
    dgm_scan_free(scan);
    return 0;
}
