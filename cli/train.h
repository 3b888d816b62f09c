/* Trainers behind dgm train, and what the minibatch trainers (VAE, MADE, flows) share:
 * their optimisation options, with one meaning and one help text in every trainer, and
 * the start of a run, new from those options or resumed from a checkpoint. */
#ifndef DGM_CLI_TRAIN_H
#define DGM_CLI_TRAIN_H

#include "cli.h"

int cli_train_vae(int argc, char **argv);

typedef struct {
    long epochs, batch, val, limit; /* epochs -1: 10, or the resumed run's total */
    double lr;                      /* -1: 1e-3, or the resumed run's */
    double weight_decay, clip;
    const char *optimizer, *schedule;
} cli_fit_opts;

/* Defaults: adam, constant schedule, no decay or clipping; batch as given. */
void cli_fit_opts_defaults(cli_fit_opts *o, long batch);

/* The table entries; the trainer gives its own --val help (what it validates). */
#define CLI_FIT_OPTS(o, val_help) \
    {"--epochs", OPT_LONG, &(o)->epochs, "N", "epochs (default 10; with --resume, the new total)", 1, 1e7}, \
    {"--batch", OPT_LONG, &(o)->batch, "B", "minibatch size", 1, 1 << 20}, \
    {"--lr", OPT_DOUBLE, &(o)->lr, "LR", "learning rate (default 0.001; with --resume, overrides the saved one)", 1e-12, 10}, \
    {"--optimizer", OPT_STR, &(o)->optimizer, "OPT", "adam, adamw or sgd", 1, 0}, \
    {"--weight-decay", OPT_DOUBLE, &(o)->weight_decay, "W", "weight decay (L2; decoupled for adamw)", 0, 10}, \
    {"--clip", OPT_DOUBLE, &(o)->clip, "NORM", "clip the gradient norm (0: off)", 0, 1e9}, \
    {"--schedule", OPT_STR, &(o)->schedule, "S", "learning-rate schedule: constant or cosine", 1, 0}, \
    {"--val", OPT_LONG, &(o)->val, "N", val_help, 0, 1e9}, \
    {"--limit", OPT_LONG, &(o)->limit, "N", "use only the first N examples (0: all)", 0, 1e12}

/* Saved data and labels specs and the paths of a resumed run. */
typedef struct {
    char data[1024], labels[1024], model_path[4096], ckpt[4096];
} cli_resumed;

/* Starts the fit configuration *fc and the data description *fd (its data and labels
 * specs, and --limit). With resume (MODEL or MODEL.ckpt.safetensors), loads the checkpoint
 * into *m, which is_kind must accept, and takes the run's saved options, data and labels
 * (into *rs, which must outlive fd); else builds a new run's configuration from the options
 * (seed, 10 epochs, lr 1e-3 and the objective's defaults left to the caller). Either way
 * --epochs and --lr given on the command line override. Returns 0, or the exit code after
 * a one-line message (2 for an unknown optimizer or schedule). */
int cli_fit_start(const char *cmd, const cli_fit_opts *o, uint64_t seed, const char *resume,
                  int (*is_kind)(const dgm_model *), dgm_model **m, dgm_fit_cfg *fc,
                  dgm_fit_data *fd, cli_resumed *rs);

#endif
