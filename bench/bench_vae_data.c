/* Writes the data both sides of the VAE benchmark use, so that dgm and PyTorch see the
 * same bytes: the training images as floats in [0, 1] (train_x.npy) and as their 8-bit
 * levels (train_u8.npy, for PyTorch's memory figure with the data held as dgm holds them),
 * and the test set binarized exactly as `dgm eval` binarizes it (dgm_eval_prepare with the
 * evaluation seed).
 * usage: bench_vae_data OUT_DIR [TEST_LIMIT] */
#include "dgm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* NPY 1.0 of n x d unsigned bytes, the header padded to 64 bytes as numpy does. */
static int write_u8_npy(const char *path, const uint8_t *x, size_t n, size_t d)
{
    char h[128];
    int len = snprintf(h, sizeof h, "{'descr': '|u1', 'fortran_order': False, 'shape': "
                       "(%zu, %zu), }", n, d);
    size_t total = ((size_t)len + 11 + 63) / 64 * 64, hl = total - 10;
    memset(h + len, ' ', hl - (size_t)len - 1);
    h[hl - 1] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 255),
                             (unsigned char)(hl >> 8)};
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(pre, 1, 10, f) == 10 && fwrite(h, 1, hl, f) == hl &&
             fwrite(x, 1, n * d, f) == n * d;
    if (f && fclose(f))
        ok = 0;
    return ok;
}

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
    dgm_data_free(&train);
    if (dgm_data_load_8bit(&train, "fashion-mnist", NULL, &err)) {
        fprintf(stderr, "bench_vae_data: %s\n", err.msg);
        return 1;
    }
    snprintf(path, sizeof path, "%s/train_u8.npy", argv[1]);
    if (!train.x8 || !write_u8_npy(path, train.x8, train.n, train.d)) {
        fprintf(stderr, "bench_vae_data: %s: cannot write\n", path);
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
