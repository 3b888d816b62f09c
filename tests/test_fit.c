/* The training driver (dgm_fit, src/train/): a run stopped by the caller's flag and
 * resumed from its checkpoint ends with the same bytes as an uninterrupted one, and
 * reports the same epoch loss; a non-finite loss stops with DGM_ERR_NAN and keeps the
 * last checkpoint; progress events arrive in order with the counts they promise; a whole
 * fit of an unfitted mixture gives the model dgm_tractable_fit gives; a model without
 * hooks is refused. */
#include "dgm.h"

#include <stdint.h>
#include <unistd.h>
#include "test.h"

#define N 300
#define D 16

static float xs[N * D];
static dgm_dataset data;

static void make_data(void)
{
    dgm_rng r;
    dgm_rng_init(&r, 3);
    for (int i = 0; i < N * D; i++)
        xs[i] = (float)dgm_rng_bernoulli(&r, (i / D) % 2 ? 0.8 : 0.2);
    data = (dgm_dataset){.kind = DGM_DATA_REAL, .n = N, .d = D, .x = xs};
    snprintf(data.source, sizeof data.source, "test rows");
}

static dgm_model *new_vae(void)
{
    dgm_vae_cfg cfg = dgm_vae_defaults();
    cfg.dim = D, cfg.n_hidden = 1, cfg.hidden[0] = 8, cfg.latent = 2;
    cfg.height = cfg.width = 0; /* not images (the defaults say 28 x 28) */
    dgm_model *m = NULL;
    dgm_rng init;
    dgm_rng_init(&init, 9);
    CHECK(!dgm_vae_create(&m, &init, &cfg, NULL));
    return m;
}

static long read_file(const char *path, unsigned char **out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc((size_t)n);
    if (fread(*out, 1, (size_t)n, f) != (size_t)n)
        n = -1;
    fclose(f);
    return n;
}

typedef struct {
    volatile int *stop;
    long stop_after;  /* steps */
    long steps, epochs, begins;
    double epoch_loss[8];
    int order_ok;
    dgm_fit_event last;
} watch;

static void on_progress(void *ctx, const dgm_fit_progress *p)
{
    watch *w = ctx;
    if (p->event == DGM_FIT_BEGIN)
        w->begins++, w->order_ok &= w->last == DGM_FIT_BEGIN && w->steps == 0;
    if (p->event == DGM_FIT_STEP) {
        w->steps++;
        w->order_ok &= p->done <= p->total && p->step >= 1;
        if (w->stop && p->step == w->stop_after)
            *w->stop = 1;
    }
    if (p->event == DGM_FIT_EPOCH && p->epoch >= 1 && p->epoch <= 8) {
        w->epochs++;
        w->epoch_loss[p->epoch - 1] = p->loss;
        w->order_ok &= p->done == p->total && !isnan(p->val);
    }
    w->last = p->event;
}

static dgm_fit_cfg run_cfg(const char *ckpt, watch *w)
{
    dgm_fit_cfg c = dgm_fit_defaults();
    c.epochs = 3, c.batch = 32, c.n_val = 40, c.checkpoint = ckpt;
    c.progress = on_progress, c.progress_ctx = w;
    return c;
}

static void test_stop_and_resume(void)
{
    char a[64], b[64];
    snprintf(a, sizeof a, "/tmp/dgm_test_fit_a_%d.safetensors", (int)getpid());
    snprintf(b, sizeof b, "/tmp/dgm_test_fit_b_%d.safetensors", (int)getpid());
    dgm_fit_data fd = {.data = &data, .data_spec = "test"};
    /* straight through */
    watch w1 = {.order_ok = 1};
    dgm_fit_cfg c1 = run_cfg(a, &w1);
    dgm_model *m = new_vae();
    dgm_fit_result r1;
    CHECK(!dgm_fit(m, &fd, &c1, &r1, NULL));
    CHECK(w1.order_ok && w1.begins == 1 && w1.epochs == 3);
    CHECK_EQ_INT(r1.steps, 3 * ((N - 40 + 31) / 32));
    CHECK_EQ_INT(w1.steps, r1.steps);
    CHECK(!r1.stopped && r1.epochs == 3 && r1.n_train == N - 40);
    dgm_model_free(m);
    /* stopped in the middle of epoch 2, then resumed from the file */
    volatile int stop = 0;
    watch w2 = {.order_ok = 1, .stop = &stop, .stop_after = 12};
    dgm_fit_cfg c2 = run_cfg(b, &w2);
    c2.stop = &stop;
    m = new_vae();
    dgm_fit_result r2;
    CHECK(!dgm_fit(m, &fd, &c2, &r2, NULL));
    CHECK(r2.stopped && r2.stop_epoch == 2 && r2.stop_step == 12 - 9 && r2.steps == 12);
    dgm_model_free(m);
    /* the model file holds the weights alone; the checkpoint beside it the state */
    char ca[96], cb[96];
    CHECK(!dgm_checkpoint_path(ca, sizeof ca, a) && !dgm_checkpoint_path(cb, sizeof cb, b));
    char small[8];
    CHECK(strstr(cb, ".ckpt.safetensors") && dgm_checkpoint_path(small, sizeof small, a) == -1);
    CHECK(!dgm_model_load(&m, b, NULL));
    CHECK(dgm_model_train_state(m) == NULL);
    dgm_model_free(m);
    unsigned char *bytes = NULL;
    long nbytes = read_file(b, &bytes);
    CHECK(nbytes > 0 && !memmem(bytes, (size_t)nbytes, "optimizer.", 10) &&
          !memmem(bytes, (size_t)nbytes, "train_state", 11));
    free(bytes);
    CHECK(!dgm_model_load(&m, cb, NULL));
    dgm_fit_cfg c3 = dgm_fit_defaults();
    char spec[64], labels[64];
    size_t limit;
    CHECK(!dgm_fit_resume_cfg(&c3, spec, labels, sizeof spec, &limit, m, NULL));
    CHECK(!strcmp(spec, "test") && !*labels && c3.epochs == 3 && c3.batch == 32 && c3.n_val == 40);
    watch w3 = {.order_ok = 1};
    c3.checkpoint = b, c3.progress = on_progress, c3.progress_ctx = &w3;
    dgm_fit_result r3;
    CHECK(!dgm_fit(m, &fd, &c3, &r3, NULL));
    CHECK(r3.steps == r1.steps && r3.epochs == 3);
    /* the resumed epoch reports the mean over all its steps, as the straight run did */
    CHECK(w3.epoch_loss[1] == w1.epoch_loss[1] && w3.epoch_loss[2] == w1.epoch_loss[2]);
    dgm_model_free(m);
    unsigned char *ba = NULL, *bb = NULL;
    long na = read_file(a, &ba), nb = read_file(b, &bb);
    CHECK(na > 0 && na == nb && !memcmp(ba, bb, (size_t)na));
    free(ba);
    free(bb);
    ba = bb = NULL;
    na = read_file(ca, &ba), nb = read_file(cb, &bb);
    CHECK(na > 0 && na == nb && !memcmp(ba, bb, (size_t)na));
    free(ba);
    free(bb);
    /* a learning rate that blows up: DGM_ERR_NAN naming the step, the checkpoint kept */
    CHECK(!dgm_model_load(&m, ca, NULL));
    dgm_fit_cfg c4 = dgm_fit_defaults();
    CHECK(!dgm_fit_resume_cfg(&c4, spec, labels, sizeof spec, &limit, m, NULL));
    c4.epochs = 6, c4.lr = 1e4, c4.checkpoint = a;
    dgm_err err = {0};
    dgm_status s = dgm_fit(m, &fd, &c4, NULL, &err);
    CHECK_MSG(s == DGM_ERR_NAN && strstr(err.msg, "epoch 4") && strstr(err.msg, "is kept"),
              "%d: %s", (int)s, err.msg);
    dgm_model_free(m);
    CHECK(!dgm_model_load(&m, ca, NULL));
    CHECK(strstr(dgm_model_train_state(m), "\"epoch\":3") != NULL);
    dgm_model_free(m);
    if (!t_fail_here) {
        remove(a);
        remove(b);
        remove(ca);
        remove(cb);
    }
}

static void test_whole_fit(void)
{
    dgm_mixture_cfg mc = dgm_mixture_defaults();
    mc.n_components = 2;
    mc.covariance = DGM_COV_DIAG;
    dgm_model *shell = NULL, *direct = NULL;
    CHECK(!dgm_mixture_create(&shell, DGM_TRACTABLE_GMM, &mc, NULL));
    double lp[1];
    dgm_err err = {0};
    CHECK(dgm_model_log_prob(shell, NULL, lp, xs, NULL, 1, 1, &err) != DGM_OK &&
          strstr(err.msg, "not fitted"));
    dgm_fit_data fd = {.data = &data};
    dgm_fit_cfg c = dgm_fit_defaults();
    c.seed = 5;
    CHECK(!dgm_fit(shell, &fd, &c, NULL, NULL));
    /* the same fit by hand: continuous data (not 8-bit) pass as they are; fit stream
     * fork(seed, 1) */
    dgm_rng root, fit;
    dgm_rng_init(&root, 5);
    dgm_rng_fork(&fit, &root, 1);
    mc.likelihood = "continuous";
    CHECK(!dgm_tractable_fit(&direct, &fit, DGM_TRACTABLE_GMM, xs, NULL, N, D, 0, &mc, NULL));
    double a[N], b[N];
    CHECK(!dgm_model_log_prob(shell, NULL, a, xs, NULL, N, 1, NULL));
    CHECK(!dgm_model_log_prob(direct, NULL, b, xs, NULL, N, 1, NULL));
    CHECK(!memcmp(a, b, sizeof a));
    CHECK(!strcmp(dgm_model_type(shell), "gmm") && dgm_model_dim(shell) == D);
    /* a fitted GMM has no training hooks */
    CHECK(dgm_fit(direct, &fd, &c, NULL, &err) == DGM_ERR_UNSUPPORTED);
    dgm_model_free(shell);
    dgm_model_free(direct);
}

static void test_bad_runs(void)
{
    dgm_model *m = new_vae();
    dgm_fit_data fd = {.data = &data};
    dgm_fit_cfg c = dgm_fit_defaults();
    dgm_err err = {0};
    c.n_val = N;
    CHECK(dgm_fit(m, &fd, &c, NULL, &err) == DGM_ERR_ARG && strstr(err.msg, "no training data"));
    c.n_val = 0, c.batch = 0;
    CHECK(dgm_fit(m, &fd, &c, NULL, &err) == DGM_ERR_ARG);
    dgm_dataset wrong = data;
    wrong.d = D / 2, wrong.n = N * 2;
    fd.data = &wrong;
    c.batch = 32;
    CHECK(dgm_fit(m, &fd, &c, NULL, &err) == DGM_ERR_SHAPE && strstr(err.msg, "test rows"));
    dgm_model_free(m);
}

int main(void)
{
    dgm_set_threads(1);
    make_data();
    TEST_RUN(test_stop_and_resume);
    TEST_RUN(test_whole_fit);
    TEST_RUN(test_bad_runs);
    TEST_MAIN_END("test_fit");
}
