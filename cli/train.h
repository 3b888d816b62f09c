/* Trainers behind dgm train. */
#ifndef DGM_CLI_TRAIN_H
#define DGM_CLI_TRAIN_H

int cli_train_vae(int argc, char **argv);

#endif
