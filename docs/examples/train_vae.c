/* Training a VAE from C through the library's driver, with the installed headers only.
 *
 *   cc -std=c11 train_vae.c -o train_vae $(pkg-config --cflags --libs dgm)
 *   ./train_vae /tmp          # writes /tmp/example_vae.safetensors
 *
 * The data: 2,000 binary 8x8 images of two kinds (a bar across the top half or down the
 * left half, each pixel flipped with probability 0.05), made here so that the example
 * needs no data set. dgm_fit trains a 64-32-4 VAE on them for a few epochs, writing the
 * model file after every epoch; the program then loads that file back, checks that the
 * held-out -ELBO fell, and draws samples. It exits non-zero if anything fails, so
 * `make test` runs it (tests/api.sh). */
#include <dgm.h>

#include <stdio.h>
#include <stdlib.h>

#define N 2000
#define D 64

static void on_progress(void *ctx, const dgm_fit_progress *p)
{
    double *first_val = ctx;
    if (p->event != DGM_FIT_EPOCH)
        return;
    if (p->epoch == 1)
        *first_val = p->val;
    printf("epoch %ld/%ld: train loss %.2f, validation -ELBO %.2f nats\n", p->epoch, p->epochs,
           p->loss, p->val);
}

int main(int argc, char **argv)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/example_vae.safetensors", argc > 1 ? argv[1] : ".");
    dgm_err err;
    dgm_set_threads(1);

    /* the data: a dgm_dataset of n x d floats in [0, 1] */
    float *x = malloc(N * D * sizeof *x);
    if (!x)
        return 1;
    dgm_rng rng;
    dgm_rng_init(&rng, 7);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) {
            int on = i % 2 ? (j / 8) < 4 : (j % 8) < 4;
            x[i * D + j] = (float)(on ^ dgm_rng_bernoulli(&rng, 0.05));
        }
    dgm_dataset data = {.kind = DGM_DATA_REAL, .n = N, .d = D, .x = x, .source = "two bars"};

    /* the model: 64-32-4, ReLU, Bernoulli decoder, initialised from its own stream */
    dgm_vae_cfg cfg = dgm_vae_defaults();
    cfg.dim = D;
    cfg.n_hidden = 1;
    cfg.hidden[0] = 32;
    cfg.latent = 4;
    dgm_model *m = NULL;
    dgm_rng init;
    dgm_rng_init(&init, 1);
    if (dgm_vae_create(&m, &init, &cfg, &err)) {
        fprintf(stderr, "create: %s\n", err.msg);
        return 1;
    }

    /* the run: 5 epochs of Adam on batches of 64, 200 rows held out, a checkpoint each epoch */
    double first_val = 0;
    dgm_fit_cfg fc = dgm_fit_defaults();
    fc.epochs = 5;
    fc.batch = 64;
    fc.n_val = 200;
    fc.checkpoint = path;
    fc.progress = on_progress;
    fc.progress_ctx = &first_val;
    dgm_fit_data fd = {.data = &data};
    dgm_fit_result res;
    if (dgm_fit(m, &fd, &fc, &res, &err)) {
        fprintf(stderr, "fit: %s\n", err.msg);
        return 1;
    }
    dgm_model_free(m);

    /* the file written by the driver: load it and sample */
    if (dgm_model_load(&m, path, &err)) {
        fprintf(stderr, "load: %s\n", err.msg);
        return 1;
    }
    float s[4 * D];
    dgm_rng draw;
    dgm_rng_init(&draw, 2);
    if (dgm_model_sample(m, &draw, s, NULL, 4, 1, &err)) {
        fprintf(stderr, "sample: %s\n", err.msg);
        return 1;
    }
    printf("%ld steps; validation -ELBO %.2f -> %.2f nats; 4 sample means:\n", res.steps,
           first_val, res.val);
    for (int i = 0; i < 4; i++) {
        for (int r = 0; r < 8; r++) {
            for (int c = 0; c < 8; c++)
                putchar(s[i * D + r * 8 + c] > 0.5f ? '#' : '.');
            putchar(r == 7 ? '\n' : ' ');
        }
    }
    int ok = res.epochs == 5 && res.val < first_val && dgm_model_dim(m) == D;
    dgm_model_free(m);
    free(x);
    if (!ok)
        fprintf(stderr, "the validation -ELBO did not fall (%.2f -> %.2f)\n", first_val, res.val);
    return ok ? 0 : 1;
}
