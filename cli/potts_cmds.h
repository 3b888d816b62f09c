/* The Potts model behind dgm loglik and dgm sample (cli/potts_cmds.c). */
#ifndef DGM_CLI_POTTS_CMDS_H
#define DGM_CLI_POTTS_CMDS_H

#include "dgm.h"

/* Energies and pseudo-log-likelihoods of the first `limit` (0: all) sequences of the
 * alignment `data`; out (may be NULL): a CSV of name, energy, pseudo_loglik. Returns the
 * exit code. */
int cli_potts_loglik(dgm_model *m, const char *model_path, const char *data, const char *out,
                     size_t limit, int json);
/* n Gibbs samples to the FASTA `out`; burn_in, thin, chains < 0 take the defaults. */
int cli_potts_sample(dgm_model *m, const char *out, size_t n, uint64_t seed, long burn_in,
                     long thin, long chains, int json);

#endif
