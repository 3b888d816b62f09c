/* Alignment readers (FASTA/A2M, Stockholm) behind dgm_data_load's format detection.
 * The implementation lives in src/data/alignment*.c. */
#ifndef DGM_DATA_ALIGNMENT_H
#define DGM_DATA_ALIGNMENT_H

#include "dgm.h"

/* Fills out with a DGM_DATA_SEQ data set read from the alignment at path. */
dgm_status dgm__alignment_load(dgm_dataset *out, const char *path, dgm_err *err);

#endif
