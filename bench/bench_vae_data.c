/* Writes the data both sides of the VAE benchmark use, so that dgm and PyTorch see the
 * same bytes: the training images as floats in [0, 1] and the test set binarized exactly
 * as `dgm eval` binarizes it (dgm_eval_prepare with the evaluation seed).
 * usage: bench_vae_data OUT_DIR [TEST_LIMIT] */
#include "dgm.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s OUT_DIR [TEST_LIMIT]\n", argv[0]);
        return 2;
    }
    size_t limit = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 0;
    dgm_err err = {0};
    dgm_dataset train = {0}, test = {0};
    char path[4096];
    if (dgm_data_load(&train, "fashion-mnist", NULL, &err) ||
        dgm_data_load(&test, "fashion-mnist:test", NULL, &err)) {
        fprintf(stderr, "bench_vae_data: %s\n", err.msg);
        return 1;
    }
    snprintf(path, sizeof path, "%s/train_x.npy", argv[1]);
    if (dgm_npy_write(path, train.x, train.n, train.d, &err)) {
        fprintf(stderr, "bench_vae_data: %s\n", err.msg);
        return 1;
    }
    /* a stand-in model only to say "binary" to the preparation step */
    dgm_vae_cfg cfg = dgm_vae_defaults();
    dgm_model *m;
    dgm_rng rng;
    dgm_rng_init(&rng, 1);
    float *x;
    size_t n;
    if (dgm_vae_create(&m, &rng, &cfg, &err) ||
        dgm_eval_prepare(&x, &n, m, &test, limit, DGM_EVAL_PREP_SEED, &err)) {
        fprintf(stderr, "bench_vae_data: %s\n", err.msg);
        return 1;
    }
    snprintf(path, sizeof path, "%s/test_bin.npy", argv[1]);
    if (dgm_npy_write(path, x, n, test.d, &err)) {
        fprintf(stderr, "bench_vae_data: %s\n", err.msg);
        return 1;
    }
    dgm_free(x);
    dgm_model_free(m);
    dgm_data_free(&train);
    dgm_data_free(&test);
    return 0;
}
