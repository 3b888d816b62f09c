/*
 * dgm.h — the one public header of libdgm, deep generative models in C.
 *
 * Conventions (docs/design.md has the full vocabulary):
 *   - Row-major float32 everywhere. Shapes are written in comments with the letters
 *     B batch, D data, H hidden, Z latent, K importance samples, C classes,
 *     L sequence length, A alphabet.
 *   - Arguments: context/RNG first, then outputs, then inputs, then sizes.
 *   - Functions that can fail return dgm_status and fill a caller-owned dgm_err with a
 *     one-line message naming the file and the problem. The library never prints to
 *     stdout and never calls exit(). Programmer errors (NULL where a buffer is required,
 *     sizes that contradict each other) trip DGM_ASSERT, which prints file:line.
 *   - Every backward function ADDS into its gradient outputs; callers zero them first.
 *   - Randomness only through dgm_rng, a counter-based Philox-4x32-10 generator.
 */
#ifndef DGM_H
#define DGM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DGM_VERSION "0.1.0"

/* ======================================================================== core === */

typedef enum {
    DGM_OK = 0,
    DGM_ERR_IO,          /* a file could not be opened, read or written */
    DGM_ERR_FORMAT,      /* a file's contents are malformed or truncated */
    DGM_ERR_SHAPE,       /* dimensions that do not fit together */
    DGM_ERR_ARG,         /* an argument out of range */
    DGM_ERR_NOMEM,       /* allocation failed or a size overflowed */
    DGM_ERR_NAN,         /* a NaN or infinity where a finite number is required */
    DGM_ERR_UNSUPPORTED  /* a valid request that this build or model cannot do */
} dgm_status;

/* The last error of an operation, owned by the caller (no global error state). */
typedef struct dgm_err {
    dgm_status code;
    char msg[512];
} dgm_err;

/* Sets err (if non-NULL) to code and a printf-style message; returns code. */
dgm_status dgm_errf(dgm_err *err, dgm_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A short constant name for a status ("io error", "format error", ...). */
const char *dgm_status_str(dgm_status s);

/* Size-checked allocation: returns NULL (never aborts) if n*size overflows or malloc
 * fails. dgm_calloc_array zero-fills. Free with dgm_free (plain free). */
void *dgm_malloc_array(size_t n, size_t size);
void *dgm_calloc_array(size_t n, size_t size);
void  dgm_free(void *p);
/* out = a*b, returning 0 on overflow. */
int   dgm_size_mul(size_t *out, size_t a, size_t b);

/* Programmer-error check, active in every build: prints file:line and aborts. */
void dgm__assert_fail(const char *expr, const char *file, int line);
#define DGM_ASSERT(c) ((c) ? (void)0 : dgm__assert_fail(#c, __FILE__, __LINE__))

/* Threads used by OpenMP regions and by OpenBLAS. n <= 0 means all cores. */
void dgm_set_threads(int n);
int  dgm_get_threads(void);

/* ========================================================================= rng === */

/* Philox-4x32-10 (Salmon et al., SC'11). The state is a 64-bit key (the seed), a 64-bit
 * stream id and a 64-bit block counter: output block i of stream s is
 * philox(key, {i, s}). Streams are independent, so work split by example or batch uses
 * dgm_rng_fork(child, parent, index) and gives the same bits whatever the thread count. */
typedef struct dgm_rng {
    uint64_t key;
    uint64_t stream;
    uint64_t counter;     /* next block to generate */
    uint32_t buf[4];      /* current block */
    int      pos;         /* next unused word of buf; 4 means empty */
    int      has_spare;   /* Box-Muller's second output, kept for the next call */
    double   spare;
} dgm_rng;

void     dgm_rng_init(dgm_rng *rng, uint64_t seed);
/* Child stream number `index` of parent's stream; the parent is not advanced. */
void     dgm_rng_fork(dgm_rng *child, const dgm_rng *parent, uint64_t index);
uint32_t dgm_rng_u32(dgm_rng *rng);
uint64_t dgm_rng_u64(dgm_rng *rng);
/* Uniform on [0, 1) with 24 (float) or 53 (double) random bits. */
float    dgm_rng_uniform(dgm_rng *rng);
double   dgm_rng_uniform_d(dgm_rng *rng);
/* Uniform integer in [0, n), unbiased (rejection). n > 0. */
uint64_t dgm_rng_below(dgm_rng *rng, uint64_t n);
/* Standard normal (Box-Muller on two 53-bit uniforms; both outputs are used). */
double   dgm_rng_normal(dgm_rng *rng);
int      dgm_rng_bernoulli(dgm_rng *rng, double p);
/* Index drawn with probability p[i] / sum(p); p >= 0, n > 0. */
size_t   dgm_rng_categorical(dgm_rng *rng, const double *p, size_t n);
/* Index drawn from softmax(logits) via the Gumbel-max trick. */
size_t   dgm_rng_categorical_logits(dgm_rng *rng, const float *logits, size_t n);
void     dgm_rng_fill_uniform(dgm_rng *rng, float *out, size_t n);
void     dgm_rng_fill_normal(dgm_rng *rng, float *out, size_t n);
/* Fisher-Yates permutation of 0..n-1. */
void     dgm_rng_permutation(dgm_rng *rng, size_t *out, size_t n);

/* ====================================================================== tensor === */

typedef enum { DGM_NOTRANS = 0, DGM_TRANS = 1 } dgm_trans;

/* C (M x N) = alpha * op(A) op(B) + beta * C, row-major, op(A) is M x K, op(B) is K x N.
 * The only caller of BLAS in dgm; BLAS=none builds a blocked plain-C fallback. */
void dgm_gemm(dgm_trans ta, dgm_trans tb, size_t M, size_t N, size_t K,
              float alpha, const float *A, size_t lda, const float *B, size_t ldb,
              float beta, float *C, size_t ldc);
/* The textbook triple loop, in double accumulation: the reference the tests and
 * benchmarks compare dgm_gemm with. */
void dgm_gemm_ref(dgm_trans ta, dgm_trans tb, size_t M, size_t N, size_t K,
                  float alpha, const float *A, size_t lda, const float *B, size_t ldb,
                  float beta, float *C, size_t ldc);
/* Name of the matrix-product backend ("openblas 0.3.21 ..." or "plain C"). */
const char *dgm_gemm_backend(void);

void   dgm_fill(float *x, float v, size_t n);
void   dgm_scale(float *x, float a, size_t n);             /* x *= a */
void   dgm_axpy(float *y, float a, const float *x, size_t n); /* y += a x */
/* y[b, :] += bias[:] for each of B rows of width N. */
void   dgm_add_row_bias(float *y, const float *bias, size_t B, size_t N);
/* db[:] += sum over rows of dy (B x N), double accumulation. */
void   dgm_sum_rows(float *db, const float *dy, size_t B, size_t N);
double dgm_sum(const float *x, size_t n);                  /* double accumulator */
double dgm_dot(const float *x, const float *y, size_t n);  /* double accumulator */
double dgm_sumsq(const float *x, size_t n);
/* out[b] = log sum_j exp(x[b, j]) for B rows of width N, max subtracted. */
void   dgm_logsumexp_rows(float *out, const float *x, size_t B, size_t N);
double dgm_logsumexp_d(const double *x, size_t n);
/* y = softmax(x) row-wise (y may alias x). */
void   dgm_softmax_rows(float *y, const float *x, size_t B, size_t N);
/* 1 if every element is finite. */
int    dgm_all_finite(const float *x, size_t n);

/* ========================================================================== nn === */

typedef enum {
    DGM_ACT_IDENTITY = 0,
    DGM_ACT_RELU,
    DGM_ACT_LEAKY_RELU,   /* slope 0.01, as torch.nn.LeakyReLU() */
    DGM_ACT_TANH,
    DGM_ACT_SIGMOID,
    DGM_ACT_SOFTPLUS,     /* log(1 + e^x), beta 1 */
    DGM_ACT_ELU           /* alpha 1 */
} dgm_act;

/* "relu" -> DGM_ACT_RELU etc.; returns -1 for an unknown name. */
int         dgm_act_from_name(const char *name);
const char *dgm_act_name(dgm_act a);

/* y = act(x), n elements (y may alias x). */
void dgm_act_forward(dgm_act a, float *y, const float *x, size_t n);
/* dx += dy * act'(x); y = act(x) is passed too since some derivatives are cheaper
 * from the output. */
void dgm_act_backward(dgm_act a, float *dx, const float *dy, const float *x,
                      const float *y, size_t n);

/* Linear layer as torch.nn.Linear: y (B x O) = x (B x I) W^T + b, W is (O x I). */
void dgm_linear_forward(float *y, const float *x, const float *W, const float *b,
                        size_t B, size_t I, size_t O);
/* dW += dy^T x, db += sum_rows dy, dx += dy W. dx, dW or db may be NULL to skip. */
void dgm_linear_backward(float *dx, float *dW, float *db, const float *dy,
                         const float *x, const float *W, size_t B, size_t I, size_t O);
/* torch.nn.Linear's default init: W, b ~ U(-1/sqrt(I), 1/sqrt(I)). */
void dgm_linear_init(dgm_rng *rng, float *W, float *b, size_t I, size_t O);

/* ---- Parameter store: one contiguous buffer for parameters, one for gradients, and the
 * optimizer's moments in the same layout. Tensors are registered by PyTorch-style name
 * before dgm_params_alloc; afterwards their offsets are stable views. */
typedef struct dgm_params dgm_params;

dgm_params *dgm_params_create(void);
void        dgm_params_free(dgm_params *p);
/* Registers a tensor of ndim <= 4 dims; returns its index, or -1 on allocation failure.
 * Must be called before dgm_params_alloc. */
int         dgm_params_add(dgm_params *p, const char *name, const size_t *shape, int ndim);
/* Allocates data, grad, and the two optimizer moment buffers, all zeroed. */
dgm_status  dgm_params_alloc(dgm_params *p, dgm_err *err);
size_t      dgm_params_count(const dgm_params *p);      /* total floats */
int         dgm_params_n_tensors(const dgm_params *p);
float      *dgm_params_data(dgm_params *p);
float      *dgm_params_grad(dgm_params *p);
float      *dgm_params_m(dgm_params *p);
float      *dgm_params_v(dgm_params *p);
/* View of tensor i into data (or grad); info about tensor i. */
float      *dgm_params_tensor(dgm_params *p, int i);
float      *dgm_params_tensor_grad(dgm_params *p, int i);
const char *dgm_params_name(const dgm_params *p, int i);
int         dgm_params_shape(const dgm_params *p, int i, size_t shape[4]); /* returns ndim */
size_t      dgm_params_offset(const dgm_params *p, int i);
size_t      dgm_params_numel(const dgm_params *p, int i);
int         dgm_params_find(const dgm_params *p, const char *name); /* -1 if absent */
void        dgm_params_zero_grad(dgm_params *p);

/* ---- MLP: Linear, act, Linear, act, ..., Linear (no activation on the output unless
 * out_act is set). Layer sizes dims[0..n_layers]. Weights live in a dgm_params under
 * "<prefix>.<2i>.weight" / ".bias" — the names torch.nn.Sequential(Linear, Act, ...)
 * gives. Scratch for activations is reserved for a maximum batch once. */
typedef struct dgm_mlp dgm_mlp;

/* Registers the MLP's tensors in p (before dgm_params_alloc). */
dgm_mlp    *dgm_mlp_create(dgm_params *p, const char *prefix, const size_t *dims,
                           int n_layers, dgm_act act, dgm_act out_act);
void        dgm_mlp_free(dgm_mlp *m);
/* After dgm_params_alloc: PyTorch default init for every layer. */
void        dgm_mlp_init(dgm_mlp *m, dgm_rng *rng);
/* Reserves activation scratch for batches up to max_B (no-op if already large enough). */
dgm_status  dgm_mlp_reserve(dgm_mlp *m, size_t max_B, dgm_err *err);
/* Forward on B <= max_B rows; returns a pointer to the output (B x dims[n_layers]) inside
 * the MLP's scratch, valid until the next forward. Keeps what backward needs. */
const float *dgm_mlp_forward(dgm_mlp *m, const float *x, size_t B);
/* Backward of the last forward: accumulates parameter gradients into p's grad buffer and
 * adds the input gradient into dx (B x dims[0]) unless dx is NULL. Overwrites dy. */
void        dgm_mlp_backward(dgm_mlp *m, float *dx, float *dy, size_t B);
size_t      dgm_mlp_in(const dgm_mlp *m);
size_t      dgm_mlp_out(const dgm_mlp *m);

/* ======================================================================= optim === */

typedef enum { DGM_OPT_SGD = 0, DGM_OPT_ADAM, DGM_OPT_ADAMW } dgm_opt_kind;
typedef enum { DGM_SCHED_CONSTANT = 0, DGM_SCHED_STEP, DGM_SCHED_COSINE } dgm_sched_kind;

typedef struct dgm_optim_cfg {
    dgm_opt_kind kind;
    float lr;              /* base learning rate */
    float momentum;        /* SGD */
    int   nesterov;        /* SGD */
    float beta1, beta2, eps;
    float weight_decay;    /* L2 added to the gradient (SGD, Adam) or decoupled (AdamW) */
    float clip_norm;       /* clip the global gradient norm to this; <= 0 disables */
    dgm_sched_kind sched;
    long  step_size;       /* STEP: multiply by gamma every step_size steps */
    float gamma;
    long  total_steps;     /* COSINE: anneal to min_lr over total_steps */
    float min_lr;
    long  warmup_steps;    /* linear warm-up over this many steps, on top of any schedule:
                            * lr(t) = sched(t) * min(1, (t + 1) / warmup_steps) */
} dgm_optim_cfg;

/* PyTorch's defaults: Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8, no decay/clipping. */
dgm_optim_cfg dgm_optim_defaults(dgm_opt_kind kind);
/* Learning rate at step t (0-based) under cfg's schedule and warm-up:
 * CONSTANT lr; STEP lr * gamma^floor(t / step_size) (torch StepLR);
 * COSINE min_lr + (lr - min_lr) (1 + cos(pi min(t, total_steps) / total_steps)) / 2
 * (torch CosineAnnealingLR with eta_min = min_lr, T_max = total_steps). */
float dgm_optim_lr_at(const dgm_optim_cfg *cfg, long t);
/* Scales g so that its L2 norm is at most max_norm; returns the norm before clipping. */
double dgm_clip_grad_norm(float *g, size_t n, double max_norm);

/* Flat update loops over n parameters. t is the 1-based step count used for Adam's bias
 * correction. m (and v) are the moment buffers in the parameters' layout. */
void dgm_sgd_step(float *w, const float *g, float *m, size_t n, float lr,
                  float momentum, int nesterov, float weight_decay, long t);
void dgm_adam_step(float *w, const float *g, float *m, float *v, size_t n, float lr,
                   float beta1, float beta2, float eps, float weight_decay,
                   int decoupled, long t);
/* One optimizer step on a parameter store: clipping, schedule and update. t is the
 * number of steps already taken (0 on the first call); returns the lr used. */
float dgm_optim_step(const dgm_optim_cfg *cfg, dgm_params *p, long t);

/* ========================================================== sections (others) === */
/* @@dist@@ */
/* ======================================================================== data === */

typedef enum { DGM_DATA_REAL = 0, DGM_DATA_SEQ } dgm_data_kind;

/* A data set in memory. REAL: x is n x d floats (images: pixel/255 in [0, 1], with
 * is_8bit set so that dequantisation and bits/dim know the 1/256 grid). SEQ: seq is n x L
 * alphabet indices (d = L), for alignments. Labels y (0..n_classes-1) are optional. */
typedef struct dgm_dataset {
    dgm_data_kind kind;
    size_t   n, d;
    float   *x;           /* REAL: n x d */
    int32_t *y;           /* n labels, or NULL */
    int      n_classes;   /* 0 without labels */
    size_t   height, width; /* image geometry, 0 if not an image */
    int      is_8bit;     /* values are k/255 from 8-bit pixels */
    uint8_t *seq;         /* SEQ: n x L letter indices into alphabet */
    char     alphabet[32];/* SEQ: the letters, e.g. "ACDEFGHIKLMNPQRSTVWY-" */
    size_t   alphabet_size;
    double  *weights;     /* optional per-example weights, NULL means all 1 */
    char   **names;       /* optional per-example names (sequence headers), or NULL */
    char     source[512]; /* the path or name it came from, for messages */
} dgm_dataset;

/* Loads `spec`: a name (`fashion-mnist`, `fashion-mnist:test`) or a path whose format is
 * detected from its contents (IDX plain or gzip, CSV, NPY, FASTA/A2M, Stockholm).
 * labels: a label file path, or NULL to look beside IDX images by the usual naming.
 * On error, err names the file and the problem; out is left empty. */
dgm_status dgm_data_load(dgm_dataset *out, const char *spec, const char *labels, dgm_err *err);
void       dgm_data_free(dgm_dataset *d);
/* Copies rows idx[0..n) of src into out (a new data set owning its memory). */
dgm_status dgm_data_subset(dgm_dataset *out, const dgm_dataset *src, const size_t *idx,
                           size_t n, dgm_err *err);
/* out[i] = 1 with probability x[i] (fresh Bernoulli draws: dynamic binarization). */
void       dgm_data_binarize(dgm_rng *rng, float *out, const float *x, size_t n);
/* Uniform dequantisation of 8-bit data stored as k/255: out = (k + u) / 256, u ~ U[0,1). */
void       dgm_data_dequantize(dgm_rng *rng, float *out, const float *x, size_t n);

/* @@data@@ */
/* ========================================================================== io === */

/* Atomic output: write to a temporary file beside `path`, then rename it into place, so
 * that an error never leaves a half-written file. tmp must hold at least strlen(path)+32. */
FILE      *dgm_atomic_open(const char *path, char *tmp, size_t tmp_cap, dgm_err *err);
dgm_status dgm_atomic_commit(FILE *f, const char *tmp, const char *path, dgm_err *err);
void       dgm_atomic_abort(FILE *f, const char *tmp);

/* Grid of n grayscale images (h x w, values in [0,1], row-major) with `cols` per row and a
 * 1-pixel separator, written as PNG. */
dgm_status dgm_png_write_grid(const char *path, const float *img, size_t n, size_t h,
                              size_t w, size_t cols, dgm_err *err);
/* rows x cols float32 matrix as NPY (v1.0, '<f4'), CSV (%.9g), or IDX (unsigned bytes of
 * round(255 x), 3-D when h*w == cols else 2-D). */
dgm_status dgm_npy_write(const char *path, const float *x, size_t rows, size_t cols, dgm_err *err);
dgm_status dgm_csv_write(const char *path, const float *x, size_t rows, size_t cols, dgm_err *err);
dgm_status dgm_idx_write(const char *path, const float *x, size_t rows, size_t h, size_t w,
                         dgm_err *err);

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
dgm_status dgm_safetensors_write(const char *path, const dgm_st_tensor *t, size_t n,
                                 const char *const *meta_kv, size_t n_meta, dgm_err *err);

typedef struct dgm_st_file dgm_st_file;
/* Reads and validates a whole file (offsets, sizes, dtypes, overlapping ranges). */
dgm_status  dgm_safetensors_read(dgm_st_file **out, const char *path, dgm_err *err);
void        dgm_safetensors_free(dgm_st_file *f);
size_t      dgm_st_count(const dgm_st_file *f);
/* Tensor i's description (data points into the file's buffer), or by name (NULL if absent). */
const dgm_st_tensor *dgm_st_get(const dgm_st_file *f, size_t i);
const dgm_st_tensor *dgm_st_find(const dgm_st_file *f, const char *name);
/* Metadata value for key, or NULL. */
const char *dgm_st_meta(const dgm_st_file *f, const char *key);
size_t      dgm_st_meta_count(const dgm_st_file *f);
const char *dgm_st_meta_key(const dgm_st_file *f, size_t i);

/* @@io@@ */
/* ====================================================================== models === */

/* Every model dgm fits is a dgm_model: an opaque handle with a common interface, so that
 * sample, eval, loglik, kl and classify work on any of them. Model files are safetensors
 * with weights named as PyTorch would name them; metadata key "dgm.config" holds the
 * model's configuration as a JSON string (its "model" field selects the loader), and
 * "dgm.train_state" the training state. */
typedef struct dgm_model dgm_model;

dgm_status  dgm_model_load(dgm_model **out, const char *path, dgm_err *err);
/* Writes the model atomically (training state included where the model has one). */
dgm_status  dgm_model_save(const dgm_model *m, const char *path, dgm_err *err);
void        dgm_model_free(dgm_model *m);
/* "vae", "cvae", "gaussian", "gmm", "bernoulli-mixture", ... */
const char *dgm_model_type(const dgm_model *m);
/* Data dimension D (for sequences, L x A of the one-hot input). */
size_t      dgm_model_dim(const dgm_model *m);
/* Number of classes of a class-conditional model, 0 otherwise. */
int         dgm_model_n_classes(const dgm_model *m);
/* 1 if log_prob is exact, 0 if it is an importance-sampled estimate. */
int         dgm_model_exact(const dgm_model *m);
/* What the model's density is over: "binary" (binarized pixels), "dequantized" (8-bit data
 * as (k+u)/256), "continuous", "sequence". */
const char *dgm_model_likelihood(const dgm_model *m);
/* Number of free parameters (for BIC/AIC). */
size_t      dgm_model_n_params(const dgm_model *m);
/* log p(x_i) (or log p(x_i | y_i) when y is given to a conditional model), i < n, in nats,
 * for x in the model's data space. Latent-variable models use k importance samples
 * (k ignored by exact models). Randomness is forked per example from rng. */
dgm_status  dgm_model_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                               const int32_t *y, size_t n, int k, dgm_err *err);
/* n samples (n x D) into out; y (n labels) for conditional models, else NULL. mean != 0
 * asks for the decoder/component mean instead of a draw where the model has one. */
dgm_status  dgm_model_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y,
                             size_t n, int mean, dgm_err *err);
/* A JSON text describing the model (type, config, parameter count, training state);
 * caller frees with dgm_free. */
char       *dgm_model_describe(const dgm_model *m);

/* @@models@@ */
/* @@eval@@ */
/* @@protein@@ */

#ifdef __cplusplus
}
#endif
#endif /* DGM_H */
