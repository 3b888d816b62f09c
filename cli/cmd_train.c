/* dgm train: picks the trainer from --model (and, for --model vae, from the data: an
 * alignment goes to the protein-family VAE), or from the model file given to --resume.
 * Each trainer has its own option table and --help. Trainers living in other files are
 * weak so the tool links while one is absent. */
#include "cli.h"
#include "train.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cli_train_tractable(int argc, char **argv) __attribute__((weak));
int cli_train_protein(int argc, char **argv) __attribute__((weak));
int cli_train_potts(int argc, char **argv) __attribute__((weak));
int cli_train_made(int argc, char **argv) __attribute__((weak));
int cli_train_flow(int argc, char **argv) __attribute__((weak));

static const char *peek(int argc, char **argv, const char *opt)
{
    size_t n = strlen(opt);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], opt) && i + 1 < argc)
            return argv[i + 1];
        if (!strncmp(argv[i], opt, n) && argv[i][n] == '=')
            return argv[i] + n + 1;
    }
    return NULL;
}

/* 1 if --data names a file (not a data set name such as fashion-mnist:test). */
static int is_path(const char *data)
{
    size_t n = strlen("fashion-mnist");
    return strncmp(data, "fashion-mnist", n) || (data[n] && data[n] != ':');
}

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}

static int delegate(int (*fn)(int, char **), const char *what, int argc, char **argv)
{
    if (!fn)
        return cli_fail("train", "%s models are not built in this version", what);
    return fn(argc, argv);
}

int cmd_train(int argc, char **argv)
{
    const char *model = peek(argc, argv, "--model");
    const char *data = peek(argc, argv, "--data");
    const char *resume = peek(argc, argv, "--resume");
    if (resume && !model) {
        /* the file says what it is */
        dgm_model *m = NULL;
        dgm_err err = {0};
        if (dgm_model_load(&m, resume, &err))
            return cli_fail_err("train", &err);
        char type[32];
        snprintf(type, sizeof type, "%s", dgm_model_type(m));
        dgm_model_free(m);
        if (!strcmp(type, "vae") || !strcmp(type, "cvae"))
            return cli_train_vae(argc, argv);
        if (!strcmp(type, "made"))
            return delegate(cli_train_made, type, argc, argv);
        if (!strcmp(type, "realnvp") || !strcmp(type, "maf"))
            return delegate(cli_train_flow, type, argc, argv);
        if (!strcmp(type, "potts"))
            return cli_fail("train", "%s: a Potts fit cannot be resumed (refit it)", resume);
        return delegate(cli_train_protein, type, argc, argv);
    }
    if (!model || !strcmp(model, "vae") || !strcmp(model, "cvae")) {
        /* the data decides the trainer, so a file that is no data of any kind is reported
         * now, before a trainer's option table can object to options meant for another; a
         * file that cannot be read is left to the trainer, which reports usage errors first */
        dgm_data_format fmt = DGM_FORMAT_CSV;
        dgm_err err = {0};
        if (data && is_path(data) && !wants_help(argc, argv) && access(data, R_OK) == 0 &&
            dgm_data_detect(&fmt, data, &err))
            return cli_fail_err("train", &err);
        if (data && is_path(data) && fmt == DGM_FORMAT_ALIGNMENT)
            return delegate(cli_train_protein, "protein-family", argc, argv);
        return cli_train_vae(argc, argv);
    }
    if (!strcmp(model, "gaussian") || !strcmp(model, "gmm") || !strcmp(model, "bernoulli") ||
        !strcmp(model, "bernoulli-mixture"))
        return delegate(cli_train_tractable, model, argc, argv);
    if (!strcmp(model, "independent") || !strcmp(model, "seqvae"))
        return delegate(cli_train_protein, model, argc, argv);
    if (!strcmp(model, "potts"))
        return delegate(cli_train_potts, model, argc, argv);
    if (!strcmp(model, "made"))
        return delegate(cli_train_made, model, argc, argv);
    if (!strcmp(model, "realnvp") || !strcmp(model, "maf"))
        return delegate(cli_train_flow, model, argc, argv);
    return cli_usage("train", "--model: unknown model '%s' (vae, cvae, gaussian, gmm, bernoulli, "
                    "bernoulli-mixture, independent, potts, made, realnvp, maf)", model);
}
