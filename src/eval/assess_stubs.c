#include "eval/assess_internal.h"
dgm_status dgm_assess_ref_vec(dgm_assess_ref **out, const float *x, size_t n, size_t d,
                              const float *feat, size_t z, const dgm_assess_cfg *cfg, dgm_err *err)
{ (void)x; (void)n; (void)d; (void)feat; (void)z; (void)cfg; *out = NULL;
  return dgm_errf(err, DGM_ERR_UNSUPPORTED, "assess: vectors are not built yet"); }
dgm_status dgm_assess_vec(dgm_assess_row *out, const dgm_assess_ref *ref, const float *x,
                          size_t n, const float *feat, dgm_err *err)
{ (void)out; (void)ref; (void)x; (void)n; (void)feat;
  return dgm_errf(err, DGM_ERR_UNSUPPORTED, "assess: vectors are not built yet"); }
