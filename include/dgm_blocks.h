/*
 * dgm_blocks.h — the building blocks of libdgm, for code that builds its own models or
 * training loops from dgm's pieces (and for dgm's models, CLI, tests and benchmarks):
 * matrix products (dgm_gemm, bf16 products), elementwise and row-wise tensor ops,
 * activations, linear layers, the parameter store, the MLP, the raw optimizer kernels, and
 * the safetensors reader and writer. It includes dgm.h, the model-level API, and follows
 * its conventions (row-major float32, shape letters, outputs before inputs, a dgm_status
 * and a caller-owned dgm_err from what can fail). Its functions are exported from
 * libdgm.so and versioned like dgm.h's.
 *
 * Every backward function ADDS into its gradient outputs; callers zero them first.
 */
#ifndef DGM_BLOCKS_H
#define DGM_BLOCKS_H

#include "dgm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ====================================================================== tensor === */

typedef enum { DGM_NOTRANS = 0, DGM_TRANS = 1 } dgm_trans;

/* C (M x N) = alpha * op(A) op(B) + beta * C, row-major, op(A) is M x K, op(B) is K x N;
 * beta = 0 ignores C's old contents (even NaN). The only caller of BLAS in dgm: oneDNN's
 * strict fp32 sgemm where built in (DGM_HAVE_DNNL), else OpenBLAS, else (BLAS=none) a
 * plain-C loop; DGM_GEMM=dnnl|openblas|plain in the environment, read at the first
 * product, or dgm_gemm_set_backend choose another. Threads: dgm_set_threads. */
DGM_API void dgm_gemm(dgm_trans ta, dgm_trans tb, size_t M, size_t N, size_t K,
                      float alpha, const float *A, size_t lda, const float *B, size_t ldb,
                      float beta, float *C, size_t ldc);
/* The textbook triple loop, in double accumulation: the reference the tests and
 * benchmarks compare dgm_gemm with. */
DGM_API void dgm_gemm_ref(dgm_trans ta, dgm_trans tb, size_t M, size_t N, size_t K,
                          float alpha, const float *A, size_t lda, const float *B, size_t ldb,
                          float beta, float *C, size_t ldc);
/* The matrix-product backend that runs, in words ("oneDNN 2.6.3 fp32 (avx512_core, strict)",
 * OpenBLAS's configuration line, "plain C"), with a note when DGM_GEMM was refused. */
DGM_API const char *dgm_gemm_backend(void);
/* Makes dgm_gemm run on "dnnl" (or "onednn"), "openblas" or "plain"; NULL or "default" for
 * the build's default. DGM_ERR_ARG for another name, DGM_ERR_UNSUPPORTED for a backend this
 * build lacks (the choice is then unchanged). Not to be called while products run. */
DGM_API dgm_status dgm_gemm_set_backend(const char *name, dgm_err *err);

/* ---- bf16 products (optional, oneDNN): dgm_precision in dgm.h gives the rounding and
 * its error bound. Without oneDNN they return DGM_ERR_UNSUPPORTED (dgm_bf16_require). */

/* out[i] = in[i] rounded to bf16 (nearest, ties to even; NaN stays NaN). */
DGM_API void dgm_f32_to_bf16(uint16_t *out, const float *in, size_t n);
/* The same on a rows x cols block with leading dimensions ldo (out) and ldi (in). */
DGM_API void dgm_f32_to_bf16_rows(uint16_t *out, size_t ldo, const float *in, size_t ldi,
                                  size_t rows, size_t cols);
/* out[i] = in[i] as float32 (exact). */
DGM_API void dgm_bf16_to_f32(float *out, const uint16_t *in, size_t n);
/* dgm_gemm with A and B rounded to bf16 (converted into scratch allocated per call). */
DGM_API dgm_status dgm_gemm_bf16(dgm_trans ta, dgm_trans tb, size_t M, size_t N, size_t K,
                                 float alpha, const float *A, size_t lda, const float *B,
                                 size_t ldb, float beta, float *C, size_t ldc, dgm_err *err);
/* The same with A and B already in bf16 (weights converted once, say). */
DGM_API dgm_status dgm_gemm_bf16_raw(dgm_trans ta, dgm_trans tb, size_t M, size_t N, size_t K,
                                     float alpha, const uint16_t *A, size_t lda, const uint16_t *B,
                                     size_t ldb, float beta, float *C, size_t ldc, dgm_err *err);

/* ---- elementwise and row-wise ops on float arrays */
DGM_API void   dgm_fill(float *x, float v, size_t n);              /* x[i] = v */
DGM_API void   dgm_scale(float *x, float a, size_t n);             /* x *= a */
DGM_API void   dgm_axpy(float *y, float a, const float *x, size_t n); /* y += a x */
/* y[b, :] += bias[:] for each of B rows of width N. */
DGM_API void   dgm_add_row_bias(float *y, const float *bias, size_t B, size_t N);
/* db[:] += sum over rows of dy (B x N), double accumulation. */
DGM_API void   dgm_sum_rows(float *db, const float *dy, size_t B, size_t N);
DGM_API double dgm_sum(const float *x, size_t n);                  /* double accumulator */
DGM_API double dgm_dot(const float *x, const float *y, size_t n);  /* double accumulator */
DGM_API double dgm_sumsq(const float *x, size_t n);                /* dgm_dot(x, x) */
/* out[b] = log sum_j exp(x[b, j]) for B rows of width N, max subtracted. */
DGM_API void   dgm_logsumexp_rows(float *out, const float *x, size_t B, size_t N);
/* log sum_i exp(x[i]) in double, max subtracted (-inf for n = 0 or all -inf). */
DGM_API double dgm_logsumexp_d(const double *x, size_t n);
/* y = softmax(x) row-wise (y may alias x). */
DGM_API void   dgm_softmax_rows(float *y, const float *x, size_t B, size_t N);
/* 1 if every element is finite. */
DGM_API int    dgm_all_finite(const float *x, size_t n);

/* ========================================================================== nn === */

/* y = act(x), n elements (y may alias x). */
DGM_API void dgm_act_forward(dgm_act a, float *y, const float *x, size_t n);
/* dx += dy * act'(x); y = act(x) is passed too since some derivatives are cheaper
 * from the output. */
DGM_API void dgm_act_backward(dgm_act a, float *dx, const float *dy, const float *x,
                              const float *y, size_t n);

/* Linear layer as torch.nn.Linear: y (B x O) = x (B x I) W^T + b, W is (O x I). */
DGM_API void dgm_linear_forward(float *y, const float *x, const float *W, const float *b,
                                size_t B, size_t I, size_t O);
/* dW += dy^T x, db += sum_rows dy, dx += dy W. dx, dW or db may be NULL to skip. */
DGM_API void dgm_linear_backward(float *dx, float *dW, float *db, const float *dy,
                                 const float *x, const float *W, size_t B, size_t I, size_t O);
/* torch.nn.Linear's default init: W, b ~ U(-1/sqrt(I), 1/sqrt(I)). */
DGM_API void dgm_linear_init(dgm_rng *rng, float *W, float *b, size_t I, size_t O);

/* ---- Parameter store (dgm_params, declared in dgm.h): one contiguous buffer for
 * parameters, one for gradients, and the optimizer's moments in the same layout. Tensors
 * are registered by PyTorch-style name before dgm_params_alloc; afterwards their offsets
 * are stable views. */
DGM_API dgm_params *dgm_params_create(void);
DGM_API void        dgm_params_free(dgm_params *p);
/* Registers a tensor of ndim <= 4 dims; returns its index, or -1 on allocation failure.
 * Must be called before dgm_params_alloc. */
DGM_API int         dgm_params_add(dgm_params *p, const char *name, const size_t *shape, int ndim);
/* Allocates data, grad, and the two optimizer moment buffers, all zeroed. */
DGM_API dgm_status  dgm_params_alloc(dgm_params *p, dgm_err *err);
DGM_API size_t      dgm_params_count(const dgm_params *p);      /* total floats */
DGM_API int         dgm_params_n_tensors(const dgm_params *p);
DGM_API float      *dgm_params_data(dgm_params *p);
DGM_API float      *dgm_params_grad(dgm_params *p);
DGM_API float      *dgm_params_m(dgm_params *p);
DGM_API float      *dgm_params_v(dgm_params *p);
/* View of tensor i into data (or grad); info about tensor i. */
DGM_API float      *dgm_params_tensor(dgm_params *p, int i);
DGM_API float      *dgm_params_tensor_grad(dgm_params *p, int i);
DGM_API const char *dgm_params_name(const dgm_params *p, int i);
/* Fills shape with tensor i's dims; returns ndim. */
DGM_API int         dgm_params_shape(const dgm_params *p, int i, size_t shape[4]);
DGM_API size_t      dgm_params_offset(const dgm_params *p, int i);
DGM_API size_t      dgm_params_numel(const dgm_params *p, int i);
DGM_API int         dgm_params_find(const dgm_params *p, const char *name); /* -1 if absent */
DGM_API void        dgm_params_zero_grad(dgm_params *p);

/* ---- MLP: Linear, act, Linear, act, ..., Linear (no activation on the output unless
 * out_act is set). Layer sizes dims[0..n_layers]. Weights live in a dgm_params under
 * "<prefix>.<2i>.weight" / ".bias" — the names torch.nn.Sequential(Linear, Act, ...)
 * gives. Scratch for activations is reserved for a maximum batch once. */
typedef struct dgm_mlp dgm_mlp;

/* Registers the MLP's tensors in p (before dgm_params_alloc). */
DGM_API dgm_mlp    *dgm_mlp_create(dgm_params *p, const char *prefix, const size_t *dims,
                                   int n_layers, dgm_act act, dgm_act out_act);
DGM_API void        dgm_mlp_free(dgm_mlp *m);
/* After dgm_params_alloc: PyTorch default init for every layer. */
DGM_API void        dgm_mlp_init(dgm_mlp *m, dgm_rng *rng);
/* Reserves activation scratch for batches up to max_B (no-op if already large enough). */
DGM_API dgm_status  dgm_mlp_reserve(dgm_mlp *m, size_t max_B, dgm_err *err);
/* Forward on B <= max_B rows; returns a pointer to the output (B x dims[n_layers]) inside
 * the MLP's scratch, valid until the next forward. Keeps what backward needs. */
DGM_API const float *dgm_mlp_forward(dgm_mlp *m, const float *x, size_t B);
/* Backward of the last forward: accumulates parameter gradients into p's grad buffer and
 * adds the input gradient into dx (B x dims[0]) unless dx is NULL. Overwrites dy. */
DGM_API void        dgm_mlp_backward(dgm_mlp *m, float *dx, float *dy, size_t B);
DGM_API size_t      dgm_mlp_in(const dgm_mlp *m);
DGM_API size_t      dgm_mlp_out(const dgm_mlp *m);

/* ======================================================================= optim === */

/* Scales g so that its L2 norm is at most max_norm; returns the norm before clipping. */
DGM_API double dgm_clip_grad_norm(float *g, size_t n, double max_norm);

/* Flat update loops over n parameters. t is the 1-based step count used for Adam's bias
 * correction. m (and v) are the moment buffers in the parameters' layout. */
DGM_API void dgm_sgd_step(float *w, const float *g, float *m, size_t n, float lr,
                          float momentum, int nesterov, float weight_decay, long t);
DGM_API void dgm_adam_step(float *w, const float *g, float *m, float *v, size_t n, float lr,
                           float beta1, float beta2, float eps, float weight_decay,
                           int decoupled, long t);

/* ========================================================================== io === */

/* ---- safetensors (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__":
 * {str: str}}, then the raw little-endian data. dgm writes F32 only and reads F32. */
typedef struct dgm_st_tensor {
    const char *name;
    const float *data;
    size_t shape[4];
    int ndim;
} dgm_st_tensor;

/* Writes atomically. meta_kv holds n_meta (key, value) string pairs: 2*n_meta strings. */
DGM_API dgm_status dgm_safetensors_write(const char *path, const dgm_st_tensor *t, size_t n,
                                         const char *const *meta_kv, size_t n_meta, dgm_err *err);

typedef struct dgm_st_file dgm_st_file;
/* Reads and validates a whole file (offsets, sizes, dtypes, overlapping ranges). */
DGM_API dgm_status  dgm_safetensors_read(dgm_st_file **out, const char *path, dgm_err *err);
DGM_API void        dgm_safetensors_free(dgm_st_file *f);
DGM_API size_t      dgm_st_count(const dgm_st_file *f);
/* Tensor i's description (data points into the file's buffer), or by name (NULL if absent). */
DGM_API const dgm_st_tensor *dgm_st_get(const dgm_st_file *f, size_t i);
DGM_API const dgm_st_tensor *dgm_st_find(const dgm_st_file *f, const char *name);
/* Metadata value for key, or NULL. */
DGM_API const char *dgm_st_meta(const dgm_st_file *f, const char *key);
DGM_API size_t      dgm_st_meta_count(const dgm_st_file *f);
DGM_API const char *dgm_st_meta_key(const dgm_st_file *f, size_t i);

#ifdef __cplusplus
}
#endif
#endif /* DGM_BLOCKS_H */
