/* Model files through dgm_model_load (src/models/model.c and every family's loader: vae,
 * cvae, gaussian, gmm, bernoulli, bernoulli-mixture, independent, seqvae, potts, made,
 * realnvp, maf). A model that loads has a known type, D > 0, a JSON description; saved and
 * loaded again it describes itself the same; and a small one draws two samples without NaN
 * where it is fitted. */
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
    const char *path = fuzz_path(0, "in.safetensors"), *out = fuzz_path(1, "out.safetensors");
    fuzz_write(path, data, size);
    dgm_model *m = NULL;
    dgm_err err = {0};
    dgm_status s = dgm_model_load(&m, path, &err);
    fuzz_check_err(s, &err, path);
    FUZZ_CHECK(!s == !!m, "status %d, model %p", (int)s, (void *)m);
    if (s)
        return 0;
    static const char *const types[] = {"vae", "cvae", "gaussian", "gmm", "bernoulli",
                                        "bernoulli-mixture", "independent", "seqvae", "potts",
                                        "made", "realnvp", "maf", NULL};
    const char *type = dgm_model_type(m);
    int known = 0;
    for (int i = 0; types[i]; i++)
        known |= type && !strcmp(type, types[i]);
    FUZZ_CHECK(known, "type '%s'", type ? type : "(null)");
    FUZZ_CHECK(dgm_model_dim(m) > 0 && dgm_model_n_classes(m) >= 0 && dgm_model_likelihood(m),
               "dim %zu, classes %d", dgm_model_dim(m), dgm_model_n_classes(m));
    char *desc = dgm_model_describe(m);
    FUZZ_CHECK(desc && desc[0] == '{', "describe: %s", desc ? desc : "(null)");
    s = dgm_model_save(m, out, &err);
    fuzz_check_err(s, &err, out);
    if (!s) {
        dgm_model *m2 = NULL;
        s = dgm_model_load(&m2, out, &err);
        FUZZ_CHECK(!s, "a saved model does not load: %s", err.msg);
        char *desc2 = dgm_model_describe(m2);
        FUZZ_CHECK(desc2 && !strcmp(desc, desc2), "saved and loaded, it describes itself as\n%s\n"
                   "instead of\n%s", desc2 ? desc2 : "(null)", desc);
        free(desc2);
        dgm_model_free(m2);
    }
    size_t D = dgm_model_dim(m);
    if (D <= 4096 && dgm_model_n_params(m) <= 100000) {
        float *x = malloc(2 * D * sizeof *x);
        int32_t y[2] = {0, dgm_model_n_classes(m) > 1 ? 1 : 0};
        FUZZ_CHECK(x != NULL, "malloc");
        dgm_rng rng;
        dgm_rng_init(&rng, 1);
        s = dgm_model_sample(m, &rng, x, dgm_model_n_classes(m) ? y : NULL, 2, 0, &err);
        fuzz_check_err(s, &err, NULL);
        for (size_t i = 0; !s && i < 2 * D; i++)
            FUZZ_CHECK(!isnan(x[i]), "sample value %zu is NaN", i);
        free(x);
    }
    free(desc);
    dgm_model_free(m);
    return 0;
}
