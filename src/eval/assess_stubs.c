#include "eval/assess_internal.h"
dgm_status dgm_assess_ref_vec(dgm_assess_ref **out, const float *x, size_t n, size_t d,
                              const float *feat, size_t z, const dgm_assess_cfg *cfg, dgm_err *err)
{ (void)x; (void)n; (void)d; (void)feat; (void)z; (void)cfg; *out = NULL;
  return dgm_errf(err, DGM_ERR_UNSUPPORTED, "assess: vectors are not built yet"); }
dgm_status dgm_assess_vec(dgm_assess_row *out, const dgm_assess_ref *ref, const float *x,
                          size_t n, const float *feat, dgm_err *err)
{ (void)out; (void)ref; (void)x; (void)n; (void)feat;
  return dgm_errf(err, DGM_ERR_UNSUPPORTED, "assess: vectors are not built yet"); }
dgm_status dgm_assess_figures(char (*paths)[4096], size_t max_paths, size_t *n_paths,
                              const char *dir, const dgm_assess_ref *ref,
                              const dgm_assess_row *rows, size_t n_rows,
                              const float *ref_x, const float *const *sample_x,
                              size_t h, size_t w, dgm_err *err)
{ (void)paths; (void)max_paths; (void)dir; (void)ref; (void)rows; (void)n_rows; (void)ref_x; (void)sample_x; (void)h; (void)w; *n_paths = 0;
  return dgm_errf(err, DGM_ERR_UNSUPPORTED, "assess: figures are not built yet"); }
dgm_status dgm_assess_report(const char *path, const char *title,
                             const dgm_assess_row *rows, size_t n_rows,
                             char (*figures)[4096], size_t n_figures, dgm_err *err)
{ (void)path; (void)title; (void)rows; (void)n_rows; (void)figures; (void)n_figures;
  return dgm_errf(err, DGM_ERR_UNSUPPORTED, "assess: reports are not built yet"); }
