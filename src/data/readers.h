/* Private interface between the format readers (idx.c, csv.c, npy.c) and dgm_data_load
 * (load.c). Each reader fills a REAL data set (x, n, d, and image geometry where the format
 * has one) or reads a label vector; load.c does detection, label pairing and cleanup.
 * Calls go one way: load.c -> the readers -> read_file.c; no reader calls load.c. */
#ifndef DGM_DATA_READERS_H
#define DGM_DATA_READERS_H

#include "dgm.h"

/* IDX (LeCun's MNIST format), plain or gzip-compressed. Images: 3-D u8 (n, h, w) -> x =
 * pixel/255 with height/width set and is_8bit = 1; 2-D u8 (n, d) -> the same without
 * geometry. keep8: the pixels stay bytes in x8 instead (x NULL). */
dgm_status dgm__idx_load(dgm_dataset *out, const char *path, int keep8, dgm_err *err);
/* 1-D u8 IDX label file (magic 0x00000801). *y is malloc'd, n entries. */
dgm_status dgm__idx_load_labels(int32_t **y, size_t *n, const char *path, dgm_err *err);

/* Numeric CSV, optional header row, `#` comment lines. */
dgm_status dgm__csv_load(dgm_dataset *out, const char *path, dgm_err *err);

/* NPY v1/v2/v3 with dtype <f4, <f8, |u1, <i4, <i8; 1-D, 2-D or 3-D. |u1 data is read as
 * 8-bit pixels (x = k/255, is_8bit = 1), like IDX; with keep8, as bytes in x8 (x NULL). */
dgm_status dgm__npy_load(dgm_dataset *out, const char *path, int keep8, dgm_err *err);
/* A 1-D or (n, 1) NPY of integer values (any supported dtype) as labels. */
dgm_status dgm__npy_load_labels(int32_t **y, size_t *n, const char *path, dgm_err *err);

/* The whole file, NUL-terminated (one byte past *len), malloc'd; NULL on error
 * (read_file.c, for csv.c and npy.c). */
char *dgm__read_file(const char *path, size_t *len, dgm_err *err);

#endif
