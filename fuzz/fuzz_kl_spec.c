/* The JSON distribution specs of `dgm kl` (src/distributions/spec.c, dgm_dist_parse_json),
 * then what `dgm kl` does with a parsed spec: the check, and for a valid one of modest size
 * the entropy, D(p || p) (which must be 0 up to rounding, or +inf never), log p of a few
 * draws, all without NaN. */
#include "fuzz.h"

#include <math.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    dgm_set_threads(1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL, "malloc");
    memcpy(text, data, size);
    text[size] = 0;
    dgm_dist *d = NULL;
    dgm_err err = {0};
    dgm_status s = dgm_dist_parse_json(&d, text, "spec.json", &err);
    free(text);
    fuzz_check_err(s, &err, "spec.json");
    FUZZ_CHECK(!s == !!d, "status %d, dist %p", (int)s, (void *)d);
    if (s)
        return 0;
    FUZZ_CHECK(dgm_dist_name(d) != NULL, "no name");
    s = dgm_dist_check(d, &err);
    fuzz_check_err(s, &err, NULL);
    if (!s && d->dim > 0 && d->dim <= 64) {
        double h = 0, kl = 0;
        s = dgm_dist_entropy(&h, d, &err);
        fuzz_check_err(s, &err, NULL);
        FUZZ_CHECK(s || !isnan(h), "entropy NaN");
        s = dgm_kl_closed(&kl, d, d, &err);
        fuzz_check_err(s, &err, NULL);
        FUZZ_CHECK(s || (!isnan(kl) && kl < INFINITY), "D(p||p) = %g", kl);
        float x[4 * 64];
        double lp[4];
        dgm_rng rng;
        dgm_rng_init(&rng, 1);
        s = dgm_dist_sample(&rng, x, d, 4, &err);
        fuzz_check_err(s, &err, NULL);
        if (!s) {
            s = dgm_dist_log_prob(lp, d, x, 4, &err);
            fuzz_check_err(s, &err, NULL);
            for (int i = 0; !s && i < 4; i++)
                FUZZ_CHECK(!isnan(lp[i]), "log p of draw %d is NaN", i);
        }
    }
    dgm_dist_free(d);
    return 0;
}
