/* Small dense linear algebra in double (src/tensor/linalg.c). */
#ifndef DGM_TENSOR_LINALG_H
#define DGM_TENSOR_LINALG_H

#include <stddef.h>

/* In place lower Cholesky factor of the D x D matrix a (upper triangle zeroed). Returns 0
 * if a is not positive definite (a pivot <= 0 or non-finite). */
int    dgm__cholesky(double *a, size_t D);
/* Solves L y = b in place (L lower triangular D x D). */
void   dgm__trsv_lower(const double *L, double *b, size_t D);
/* 2 sum log L_jj. */
double dgm__chol_logdet(const double *L, size_t D);

#endif
