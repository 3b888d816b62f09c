/* dgm <command> [options]: dispatch to one file per subcommand. Commands are declared weak
 * so that the tool builds while a command's file is absent; an absent one says so. */
#include "cli.h"
#include "dgm_blocks.h"
#include "par/par.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COMMANDS(X) \
    X(train, "fit a model to data") \
    X(sample, "draw samples from a model") \
    X(eval, "negative ELBO, importance-sampled NLL and bits/dim of a model on data") \
    X(loglik, "empirical log-likelihood of data under a model") \
    X(kl, "KL divergence between tables, distributions, models or sample sets") \
    X(assess, "judge generated samples against real data: statistics, novelty, precision/recall") \
    X(classify, "Bayes-rule classifier from a class-conditional model") \
    X(mutations, "score mutations with a protein-family model") \
    X(couplings, "coupling scores of a Potts model (APC-corrected Frobenius norms)") \
    X(encode, "posterior means of the latent code") \
    X(reconstruct, "inputs above their reconstructions") \
    X(interpolate, "decode straight lines between latent codes") \
    X(info, "describe a model file") \
    X(report, "an HTML report of a training run: curves, samples, tables, latent codes")

#define DECLARE(name, help) int cmd_##name(int argc, char **argv) __attribute__((weak));
COMMANDS(DECLARE)

struct command { const char *name; int (*fn)(int, char **); const char *help; };
#define ENTRY(name, help) {#name, cmd_##name, help},
static const struct command commands[] = {COMMANDS(ENTRY)};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: dgm <command> [options]   (dgm <command> --help for its options)\n\n"
               "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-12s %s%s\n", commands[i].name, commands[i].help,
                commands[i].fn ? "" : " [not built]");
    fprintf(f, "\ndgm %s, matrix products: %s\n", DGM_VERSION, dgm_gemm_backend());
}

/* libgomp reads its wait policy once, when it is loaded, so it cannot be set from main.
 * Its default keeps idle workers spinning, which is fastest on an idle machine but
 * collapses when other processes compete for the cores: VAE training on 2 cores beside
 * one busy process ran at 2,181 images/s spinning, 6,471 with a short spin
 * (GOMP_SPINCOUNT=10000) and 16,928 with passive waiting. Unless the user chose a policy
 * (OMP_WAIT_POLICY=active is fastest on an otherwise idle machine), run again once with
 * passive waiting. */
static void choose_wait_policy(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
        return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) == 0)
        execv("/proc/self/exe", argv);
    /* exec failed: carry on with the default policy */
}

int main(int argc, char **argv)
{
    choose_wait_policy(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    /* dgm help CMD is dgm CMD --help */
    static char help_flag[] = "--help";
    char *help_argv[4] = {argv[0], NULL, help_flag, NULL};
    if (!strcmp(argv[1], "help") && argc > 2) {
        help_argv[1] = argv[2];
        argc = 3, argv = help_argv;
    } else if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("dgm %s\n", DGM_VERSION);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            if (!commands[i].fn)
                return cli_fail(argv[1], "this command is not built in this version");
            /* under mpirun (a build with MPI=1), rank 0 alone prints: the others' output
             * and messages would repeat it; errors reach rank 0 through the collectives */
            dgm_err err = {0};
            if (dgm__par_init(&argc, &argv, &err))
                return dgm__par_rank() > 0 ? 1 : cli_fail(argv[1], "%s", err.msg);
            if (dgm__par_rank() > 0 && (!freopen("/dev/null", "w", stdout) ||
                                        !freopen("/dev/null", "w", stderr)))
                dgm__par_abort(1);
            if (dgm__par_size() > 1 && strcmp(argv[1], "train") && strcmp(argv[1], "eval") &&
                strcmp(argv[1], "loglik") && strcmp(argv[1], "mutations") &&
                strcmp(argv[1], "assess")) {
                /* the message before MPI_Finalize, whose fence keeps the other ranks from
                 * exiting (and mpirun from killing rank 0) before it is written */
                if (dgm__par_rank() == 0)
                    cli_fail(argv[1], "under mpirun only dgm train, eval, loglik, mutations and assess "
                             "run data-parallel; run dgm %s as one process", argv[1]);
                dgm__par_finalize();
                return 1;
            }
            int rc = commands[i].fn(argc - 1, argv + 1);
            fflush(stdout);
            dgm__par_finalize();
            return rc;
        }
    const char *near = NULL;
    size_t best = 3; /* within 2 edits */
    for (size_t i = 0; i < N_COMMANDS; i++) {
        size_t d = cli_edit_distance(argv[1], strlen(argv[1]), commands[i].name);
        if (d < best)
            best = d, near = commands[i].name;
    }
    if (near) {
        fprintf(stderr, "dgm: unknown command '%s' (did you mean %s?)\n", argv[1], near);
        return 2;
    }
    fprintf(stderr, "dgm: unknown command '%s' (see dgm --help)\n", argv[1]);
    return 2;
}
