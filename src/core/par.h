/* The thresholds for opening an OpenMP parallel region: DGM__PAR_MIN, and the older values
 * that some loops still use, named here so that every such decision is in this file. */
#ifndef DGM_CORE_PAR_H
#define DGM_CORE_PAR_H

/* Smallest amount of work (elements or multiply-adds) worth an OpenMP parallel region:
 * below it a loop runs on one thread. Tests and small data make many short regions, and on
 * a busy machine each one can wait a scheduler time slice at its barrier. */
#define DGM__PAR_MIN 65536
/* The Potts model's O(L^2 q^2) passes over its couplings (models/potts/). */
#define DGM__PAR_MIN_K 65536

/* The loops below kept the literals they were written with before DGM__PAR_MIN existed.
 * No measurement chose these values over DGM__PAR_MIN; they keep their values so that
 * which loops run threaded, and so speed, stays as it was (results do not depend on the
 * thread count). Folding them into DGM__PAR_MIN is a change to time with bench/, not a
 * renaming. */

/* Row-by-row passes over n x D values: dgm_dist log-densities and draws
 * (distributions/dist.c), the data pass of eval/loglik.c, kNN centring (eval/knn.c). */
#define DGM__PAR_MIN_ROWS 100000
/* The VAE's decoder means, one sigmoid or copy a value over rows x D
 * (models/vae/vae_infer.c). */
#define DGM__PAR_MIN_MEANS 50000
/* The plain GEMM of BLAS=none builds (tensor/gemm.c): M N K multiply-adds. */
#define DGM__PAR_MIN_GEMM 32768

#endif
