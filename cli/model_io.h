/* Helpers shared by the commands that read a model and data or write samples. */
#ifndef DGM_CLI_MODEL_IO_H
#define DGM_CLI_MODEL_IO_H

#include "cli.h"

/* Loads data and prepares the first `limit` rows in m's data space (binarized or
 * dequantized with the fixed evaluation seed). *y gets the labels (or NULL). x NULL: the
 * rows are only checked, *n counted, for a caller that prepares batches with
 * dgm_eval_prepare_rows. Returns 0 or prints the error and returns 1. */
int cli_load_eval_data(const char *cmd, const dgm_model *m, const char *spec,
                       const char *labels, size_t limit, dgm_dataset *ds, float **x,
                       size_t *n);
/* Writes rows x D values to path, the format from the extension: .png (a grid of
 * height x width images, cols per row), .csv, .npy, .idx, .fasta/.fa (one-hot sequences).
 * Returns 0 or prints the error and returns 1. */
int cli_write_matrix(const char *cmd, const char *path, const float *x, size_t rows, size_t D,
                     size_t height, size_t width, size_t cols);
/* Image geometry for a model: its own, else square if D is a square, else 1 x D. */
void cli_geometry(const dgm_model *m, size_t *h, size_t *w);
/* Parses a class given as a number or a Fashion-MNIST name; -1 if neither. */
int cli_parse_class(const char *s, int n_classes);
/* Name of class c for a model trained on Fashion-MNIST-like labels (or NULL). */
const char *cli_class_name(int c, int n_classes);

/* --resume MODEL: MODEL is the model file (its checkpoint NAME.ckpt.safetensors is beside it)
 * or the checkpoint itself; fills ckpt and model_path (cap bytes each) and loads the
 * checkpoint into *m. Returns 0, or prints the error and returns 1. */
int cli_resume_load(const char *cmd, const char *resume, dgm_model **m, char *ckpt,
                    char *model_path, size_t cap);

/* --precision: "fp32" (nothing to do) or "bf16" for a VAE's decoder products, or a
 * sequence VAE's output products in mutation effects (oneDNN).
 * Returns 0, or prints the error and returns 1. */
int cli_apply_precision(const char *cmd, dgm_model *m, const char *path, const char *prec);

#endif
