/* Private pieces of the training driver shared by fit.c (dispatch, names, the sampled and
 * whole-data runs) and minibatch.c (the epoch loop with checkpoints and resume). */
#ifndef DGM_TRAIN_FIT_H
#define DGM_TRAIN_FIT_H

#include "dgm.h"
#include "models/model.h"

/* Reports p through the caller's callback, if any. */
void dgm__fit_report(const dgm_fit_cfg *c, const dgm_fit_progress *p);
/* Seconds on CLOCK_MONOTONIC. */
double dgm__fit_now(void);
/* The optimizer configuration of a run. */
dgm_optim_cfg dgm__fit_optim(const dgm_fit_cfg *c);

dgm_status dgm__fit_minibatch(dgm_model *m, const dgm__fit_ops *ops, const dgm_fit_data *d,
                              const dgm_fit_cfg *c, dgm_fit_result *res, dgm_err *err);

#endif
