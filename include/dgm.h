/*
 * dgm.h — the public header of libdgm, deep generative models in C, for programs that use
 * its models: status and errors, allocation, threads, the RNG, data sets, models (the VAE
 * and CVAE, tractable baselines, protein-family models), training, evaluation, sampling,
 * closed-form distributions and divergences, and the image and matrix writers. What the
 * models are built from (matrix products, tensor ops, layers, the parameter store's
 * functions, the MLP, optimizer kernels, safetensors) is in dgm_blocks.h, which includes
 * this header. Both are installed; libdgm.so exports what they declare and nothing else.
 *
 * Conventions (docs/design.md has the full vocabulary):
 *   - Row-major float32 everywhere. Shapes are written in comments with the letters
 *     B batch, D data, H hidden, Z latent, K importance samples, C classes,
 *     L sequence length, A alphabet.
 *   - Arguments: context/RNG first, then outputs, then inputs, then sizes.
 *   - Functions that can fail return dgm_status and fill a caller-owned dgm_err with a
 *     one-line message naming the file and the problem. The library never prints to
 *     stdout and never calls exit(). Programmer errors (NULL where a buffer is required,
 *     sizes that contradict each other) trip an assertion that prints file:line.
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

/* The library's version, VERSION in the Makefile: the shared library is libdgm.so.VERSION
 * with the SONAME libdgm.so.MAJOR (docs/design.md, "Public API"). */
#define DGM_VERSION "1.0.0"

/* DGM_API marks each function libdgm.so exports. The library is compiled with
 * -fvisibility=hidden, so nothing else leaves it: not its static helpers, not the dgm__
 * functions its files share. */
#if defined(__GNUC__) || defined(__clang__)
#define DGM_API __attribute__((visibility("default")))
#else
#define DGM_API
#endif

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
DGM_API dgm_status dgm_errf(dgm_err *err, dgm_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A short constant name for a status ("io error", "format error", ...). */
DGM_API const char *dgm_status_str(dgm_status s);

/* Size-checked allocation: returns NULL (never aborts) if n*size overflows or malloc
 * fails. dgm_calloc_array zero-fills. Free with dgm_free (plain free). */
DGM_API void *dgm_malloc_array(size_t n, size_t size);
DGM_API void *dgm_calloc_array(size_t n, size_t size);
DGM_API void  dgm_free(void *p);
/* out = a*b, returning 0 on overflow. */
DGM_API int   dgm_size_mul(size_t *out, size_t a, size_t b);

/* Threads used by OpenMP regions and by OpenBLAS. n <= 0 means all cores. */
DGM_API void dgm_set_threads(int n);
DGM_API int  dgm_get_threads(void);

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

DGM_API void     dgm_rng_init(dgm_rng *rng, uint64_t seed);
/* Child stream number `index` of parent's stream; the parent is not advanced. */
DGM_API void     dgm_rng_fork(dgm_rng *child, const dgm_rng *parent, uint64_t index);
DGM_API uint32_t dgm_rng_u32(dgm_rng *rng);
DGM_API uint64_t dgm_rng_u64(dgm_rng *rng);
/* Uniform on [0, 1) with 24 (float) or 53 (double) random bits. */
DGM_API float    dgm_rng_uniform(dgm_rng *rng);
DGM_API double   dgm_rng_uniform_d(dgm_rng *rng);
/* Uniform integer in [0, n), unbiased (rejection). n > 0. */
DGM_API uint64_t dgm_rng_below(dgm_rng *rng, uint64_t n);
/* Standard normal (Box-Muller on two 53-bit uniforms; both outputs are used). */
DGM_API double   dgm_rng_normal(dgm_rng *rng);
DGM_API int      dgm_rng_bernoulli(dgm_rng *rng, double p);
/* Index drawn with probability p[i] / sum(p); p >= 0, n > 0. */
DGM_API size_t   dgm_rng_categorical(dgm_rng *rng, const double *p, size_t n);
/* Index drawn from softmax(logits) via the Gumbel-max trick. */
DGM_API size_t   dgm_rng_categorical_logits(dgm_rng *rng, const float *logits, size_t n);
DGM_API void     dgm_rng_fill_uniform(dgm_rng *rng, float *out, size_t n);
/* n standard normals in bulk (vectorised Box-Muller in float, from fresh blocks: not the
 * numbers repeated dgm_rng_normal calls would give). */
DGM_API void     dgm_rng_fill_normal(dgm_rng *rng, float *out, size_t n);
/* Fisher-Yates permutation of 0..n-1. */
DGM_API void     dgm_rng_permutation(dgm_rng *rng, size_t *out, size_t n);

/* ====================================================================== tensor === */

/* ---- bf16 products (optional, oneDNN): inputs rounded to bfloat16 (the top half of a
 * float32, 8 significant bits), products and sums in float32, C in float32. For
 * inference; each rounded input is off by at most 2^-8 relative, so an entry of C is
 * within about 2^-7 |alpha| sum_k |a_ik||b_kj| of the float32 product. Built only when
 * libdnnl-dev is installed (make DNNL=0 leaves it out); otherwise the products return
 * DGM_ERR_UNSUPPORTED with a message that says so. The models take a precision
 * (dgm_vae_set_precision, dgm_seqvae_set_precision); the products and the conversions
 * are building blocks, in dgm_blocks.h. */
typedef enum { DGM_PREC_FP32 = 0, DGM_PREC_BF16 } dgm_precision;

/* 1 if this build has oneDNN and it can run bf16 products on this CPU. */
DGM_API int  dgm_bf16_available(void);
/* DGM_OK where dgm_bf16_available(), else DGM_ERR_UNSUPPORTED saying why: no oneDNN in
 * this build, or a CPU it will not run bf16 products on. */
DGM_API dgm_status dgm_bf16_require(dgm_err *err);

/* ========================================================================== nn === */

/* Activations, as model configurations name them (dgm_vae_cfg); the layers that apply
 * them are building blocks, in dgm_blocks.h. */
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
DGM_API int         dgm_act_from_name(const char *name);
DGM_API const char *dgm_act_name(dgm_act a);

/* A model's parameter store (dgm_vae_params): parameters, gradients and the optimizer's
 * moments, one buffer each in the same layout; dgm_optim_step updates it. Its functions
 * (dgm_params_*) are building blocks, in dgm_blocks.h. */
typedef struct dgm_params dgm_params;

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
DGM_API dgm_optim_cfg dgm_optim_defaults(dgm_opt_kind kind);
/* Learning rate at step t (0-based) under cfg's schedule and warm-up:
 * CONSTANT lr; STEP lr * gamma^floor(t / step_size) (torch StepLR);
 * COSINE min_lr + (lr - min_lr) (1 + cos(pi min(t, total_steps) / total_steps)) / 2
 * (torch CosineAnnealingLR with eta_min = min_lr, T_max = total_steps). */
DGM_API float dgm_optim_lr_at(const dgm_optim_cfg *cfg, long t);
/* One optimizer step on a parameter store: clipping, schedule and update. t is the
 * number of steps already taken (0 on the first call); returns the lr used. The raw
 * kernels it runs (dgm_clip_grad_norm, dgm_sgd_step, dgm_adam_step) are in dgm_blocks.h. */
DGM_API float dgm_optim_step(const dgm_optim_cfg *cfg, dgm_params *p, long t);

/* ======================================================================== dist === */

/* A closed-form distribution over a vector x of `dim` floats. The struct only describes:
 * its parameter arrays are borrowed (from a model through dgm_model_as_dist, from the
 * caller, or from dgm_dist_parse_json, which owns what it allocates) and must outlive it.
 * Parameters are double; x is float, in the data space of dgm's models. */
typedef enum {
    DGM_DIST_GAUSS_DIAG = 0, /* N(mean, diag(var)): mean[D], var[D] > 0 */
    DGM_DIST_GAUSS_FULL,     /* N(mean, cov): mean[D], cov[D x D] symmetric positive definite */
    DGM_DIST_BERNOULLI,      /* prod_j Bernoulli(x_j; p[j]), x_j in {0, 1}: p[D] in [0, 1] */
    DGM_DIST_CATEGORICAL,    /* prod_l Categorical(x_l; p[l, :]) over A = n_cat letters, x
                              * one-hot L x A (dim = L*A): p[L x A], each row sums to 1 */
    DGM_DIST_PRODUCT         /* independent blocks x = (x_1, ..., x_F) laid end to end:
                              * factors[F], their dims add up to dim */
} dgm_dist_kind;

typedef struct dgm_dist dgm_dist;
struct dgm_dist {
    dgm_dist_kind kind;
    size_t dim;                /* length of x: D, or L*A for categorical */
    size_t n_cat;              /* A (categorical only) */
    const double *mean;        /* Gaussians: D */
    const double *var;         /* GAUSS_DIAG: D */
    const double *cov;         /* GAUSS_FULL: D x D row-major */
    const double *p;           /* BERNOULLI: D; CATEGORICAL: L x A */
    const dgm_dist *factors;   /* PRODUCT: n_factors children */
    size_t n_factors;
};

/* "gaussian-diag", "gaussian-full", "bernoulli", "categorical", "product". */
DGM_API const char *dgm_dist_name(const dgm_dist *d);
/* Validates parameters (positive variances, SPD covariance, probabilities in [0, 1],
 * categorical rows summing to 1 within 1e-6, factor dims adding up); the message names
 * the offending entry, e.g. "factors[1]: var[3] = -1 is not > 0". */
DGM_API dgm_status dgm_dist_check(const dgm_dist *d, dgm_err *err);
/* out[i] = log p(x_i) in nats for n rows x (n x dim). Bernoulli uses x log p +
 * (1-x) log(1-p) (0 log 0 = 0); categorical sums x[l,a] log p[l,a] over a one-hot x. */
DGM_API dgm_status dgm_dist_log_prob(double *out, const dgm_dist *d, const float *x, size_t n,
                                     dgm_err *err);
/* n draws (n x dim); example i uses dgm_rng_fork(rng, i), so results do not depend on
 * the thread count. */
DGM_API dgm_status dgm_dist_sample(dgm_rng *rng, float *out, const dgm_dist *d, size_t n,
                                   dgm_err *err);
/* Entropy in nats (differential for Gaussians). */
DGM_API dgm_status dgm_dist_entropy(double *out, const dgm_dist *d, dgm_err *err);
/* D(p || q) in nats, in closed form, for every pair that has one: Gaussians (diagonal or
 * full, in any mix), Bernoulli products, categorical products with the same A, and
 * products of these whose blocks line up after splitting factorised families at the
 * other side's boundaries (all-Gaussian products are combined into one block-diagonal
 * Gaussian). +inf where q gives zero mass to an outcome p can produce. Other pairs
 * (different supports such as Gaussian vs Bernoulli, different dims) give
 * DGM_ERR_UNSUPPORTED with a plain message. */
DGM_API dgm_status dgm_kl_closed(double *out, const dgm_dist *p, const dgm_dist *q, dgm_err *err);
/* Parses a JSON spec (docs/math.md, "Divergences and likelihood estimators"):
 *   {"family":"gaussian","mean":[..],"var":[..]}   or  "cov":[[..],..]
 *   {"family":"bernoulli","p":[..]}
 *   {"family":"categorical","p":[[..],..]}         L rows of A probabilities
 *   {"family":"product","factors":[spec, ..]}
 * `source` names the text in messages. The result owns all its memory: free it with
 * dgm_dist_free (and only dists from these two functions). */
DGM_API dgm_status dgm_dist_parse_json(dgm_dist **out, const char *text, const char *source,
                                       dgm_err *err);
DGM_API dgm_status dgm_dist_load_json(dgm_dist **out, const char *path, dgm_err *err);
DGM_API void       dgm_dist_free(dgm_dist *d);

/* ======================================================================== data === */

typedef enum { DGM_DATA_REAL = 0, DGM_DATA_SEQ } dgm_data_kind;

/* A data set in memory. REAL: x is n x d floats (images: pixel/255 in [0, 1], with
 * is_8bit set so that dequantisation and bits/dim know the 1/256 grid), or, loaded with
 * dgm_data_load_8bit, x8 holds the pixel levels k themselves (a quarter of the memory)
 * and x is NULL. SEQ: seq is n x L alphabet indices (d = L), for alignments. Labels y
 * (0..n_classes-1) are optional. */
typedef struct dgm_dataset {
    dgm_data_kind kind;
    size_t   n, d;
    float   *x;           /* REAL: n x d, or NULL when x8 holds the values */
    uint8_t *x8;          /* REAL, compact 8-bit form: n x d levels k for values k/255 */
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
    const char *const *class_names; /* NULL-terminated static names (Fashion-MNIST), or
                                       NULL; never freed */
} dgm_dataset;

/* Loads `spec`: a name (`fashion-mnist`, `fashion-mnist:test`) or a path whose format is
 * detected from its contents (IDX plain or gzip, CSV, NPY, FASTA/A2M, Stockholm).
 * labels: a label file path, or NULL to look beside IDX images by the usual naming.
 * On error, err names the file and the problem; out is left empty. */
DGM_API dgm_status dgm_data_load(dgm_dataset *out, const char *spec, const char *labels,
                                 dgm_err *err);
/* As dgm_data_load, but 8-bit images (IDX, NPY |u1) stay bytes in x8 with x NULL: 1 byte
 * a value instead of 4. Other formats load into x as usual. Read rows of either form with
 * dgm_data_example; dgm_data_subset, dgm_eval_prepare and dgm_loglik take both. */
DGM_API dgm_status dgm_data_load_8bit(dgm_dataset *out, const char *spec, const char *labels,
                                      dgm_err *err);
DGM_API void       dgm_data_free(dgm_dataset *d);
/* The format dgm_data_load reads the file at path as, from its first bytes (looked at
 * inside gzip for a gzip file): '>' or "# STOCKHOLM" (after blanks) -> ALIGNMENT; other
 * gzip or two zero bytes -> IDX; "\x93NUMPY" -> NPY; other text -> CSV (docs/formats.md,
 * "Format detection"). Errors name the file: unreadable (DGM_ERR_IO), empty, binary of no
 * known format, or named as an alignment (.a2m, .fasta, .sto, ... with or without .gz) but
 * empty or without a '>' / "# STOCKHOLM" header (DGM_ERR_FORMAT). The name never selects a
 * format otherwise. */
typedef enum {
    DGM_FORMAT_IDX = 0,
    DGM_FORMAT_NPY,
    DGM_FORMAT_CSV,
    DGM_FORMAT_ALIGNMENT   /* FASTA/A2M or Stockholm */
} dgm_data_format;
DGM_API dgm_status dgm_data_detect(dgm_data_format *fmt, const char *path, dgm_err *err);
/* Copies rows idx[0..n) of src into out (a new data set owning its memory, in src's form). */
DGM_API dgm_status dgm_data_subset(dgm_dataset *out, const dgm_dataset *src, const size_t *idx,
                                   size_t n, dgm_err *err);
/* out[i] = 1 with probability x[i] (fresh Bernoulli draws: dynamic binarization). */
DGM_API void       dgm_data_binarize(dgm_rng *rng, float *out, const float *x, size_t n);
/* Uniform dequantisation of 8-bit data stored as k/255: out = (k + u) / 256, u ~ U[0,1). */
DGM_API void       dgm_data_dequantize(dgm_rng *rng, float *out, const float *x, size_t n);

/* How dgm_data_example maps an example into a model's data space. */
typedef enum {
    DGM_PREP_COPY = 0,   /* the values as they are */
    DGM_PREP_BINARIZE,   /* dgm_data_binarize */
    DGM_PREP_DEQUANTIZE  /* dgm_data_dequantize (the values must be 8-bit levels k/255) */
} dgm_prep;
/* Example i of a REAL data set (x or x8) as d floats into out, mapped by `how`; rng is
 * used only to binarize or dequantise. From x8 it gives the same bits, and draws the same
 * numbers from rng, as from the float form k/255. */
DGM_API void       dgm_data_example(dgm_rng *rng, float *out, const dgm_dataset *d, size_t i,
                                    dgm_prep how);

/* Name of class c ("T-shirt/top", ... for Fashion-MNIST), or NULL when the data set has
 * no class names or c is out of range. */
DGM_API const char *dgm_data_class_name(const dgm_dataset *d, int c);

/* ========================================================================== io === */

/* Atomic output: write to a temporary file beside `path`, then rename it into place, so
 * that an error never leaves a half-written file. tmp must hold at least strlen(path)+32. */
DGM_API FILE      *dgm_atomic_open(const char *path, char *tmp, size_t tmp_cap, dgm_err *err);
DGM_API dgm_status dgm_atomic_commit(FILE *f, const char *tmp, const char *path, dgm_err *err);
DGM_API void       dgm_atomic_abort(FILE *f, const char *tmp);

/* Grid of n grayscale images (h x w, values in [0,1], row-major) with `cols` per row and a
 * 1-pixel separator, written as PNG. */
DGM_API dgm_status dgm_png_write_grid(const char *path, const float *img, size_t n, size_t h,
                                      size_t w, size_t cols, dgm_err *err);
/* rows x cols float32 matrix as NPY (v1.0, '<f4'), CSV (%.9g), or IDX (unsigned bytes of
 * round(255 x) clamped to 0..255: x is rows x (h*w), written 3-D (rows, h, w), or 2-D
 * (rows, w) when h == 0; NaN is DGM_ERR_NAN). */
DGM_API dgm_status dgm_npy_write(const char *path, const float *x, size_t rows, size_t cols,
                                 dgm_err *err);
DGM_API dgm_status dgm_csv_write(const char *path, const float *x, size_t rows, size_t cols,
                                 dgm_err *err);
DGM_API dgm_status dgm_idx_write(const char *path, const float *x, size_t rows, size_t h, size_t w,
                                 dgm_err *err);

/* An h x w RGB image (rgb holds h*w*3 bytes, row-major, R G B per pixel) as 8-bit PNG,
 * written atomically: for figures drawn by callers. */
DGM_API dgm_status dgm_png_write_rgb(const char *path, const uint8_t *rgb, size_t h, size_t w,
                                     dgm_err *err);

/* A grid as dgm_png_write_grid, with labels[r] written at the left of row r (class
 * names beside a conditional sample grid). */
DGM_API dgm_status dgm_png_write_grid_labeled(const char *path, const float *img, size_t n,
                                              size_t h, size_t w, size_t cols,
                                              const char *const *labels, size_t n_labels,
                                              dgm_err *err);

/* ====================================================================== models === */

/* Every model dgm fits is a dgm_model: an opaque handle with a common interface, so that
 * sample, eval, loglik, kl and classify work on any of them. Model files are safetensors
 * with weights named as PyTorch would name them; metadata key "dgm.config" holds the
 * model's configuration as a JSON string (its "model" field selects the loader), and
 * "dgm.train_state" the training state. */
typedef struct dgm_model dgm_model;

DGM_API dgm_status  dgm_model_load(dgm_model **out, const char *path, dgm_err *err);
/* Writes the model atomically: its weights and "dgm.config" only, so that PyTorch's
 * load_state_dict(load_file(path), strict=True) takes it (docs/formats.md). */
DGM_API dgm_status  dgm_model_save(const dgm_model *m, const char *path, dgm_err *err);
/* Writes a training checkpoint atomically: the weights and config as dgm_model_save does,
 * plus the optimizer moments ("optimizer.exp_avg.<name>", "optimizer.exp_avg_sq.<name>",
 * see dgm_model_keep_optimizer) and "dgm.train_state". dgm_model_load reads either file;
 * --resume needs the checkpoint. */
DGM_API dgm_status  dgm_model_save_checkpoint(dgm_model *m, const char *path, dgm_err *err);
/* Where the checkpoint of the model file model_path lives: "x.safetensors" has
 * "x.ckpt.safetensors", any other name gets ".ckpt.safetensors" appended. Returns 0, or
 * -1 when it does not fit in cap bytes. */
DGM_API int         dgm_checkpoint_path(char *out, size_t cap, const char *model_path);
DGM_API void        dgm_model_free(dgm_model *m);
/* "vae", "cvae", "gaussian", "gmm", "bernoulli-mixture", ... */
DGM_API const char *dgm_model_type(const dgm_model *m);
/* Data dimension D (for sequences, L x A of the one-hot input). */
DGM_API size_t      dgm_model_dim(const dgm_model *m);
/* Number of classes of a class-conditional model, 0 otherwise. */
DGM_API int         dgm_model_n_classes(const dgm_model *m);
/* 1 if log_prob is exact, 0 if it is an importance-sampled estimate. */
DGM_API int         dgm_model_exact(const dgm_model *m);
/* What the model's density is over: "binary" (binarized pixels), "dequantized" (8-bit data
 * as (k+u)/256), "continuous", "sequence". */
DGM_API const char *dgm_model_likelihood(const dgm_model *m);
/* Number of free parameters (for BIC/AIC). */
DGM_API size_t      dgm_model_n_params(const dgm_model *m);
/* log p(x_i) (or log p(x_i | y_i) when y is given to a conditional model), i < n, in nats,
 * for x in the model's data space. Latent-variable models use k importance samples
 * (k ignored by exact models). Randomness is forked per example from rng. */
DGM_API dgm_status  dgm_model_log_prob(dgm_model *m, dgm_rng *rng, double *out, const float *x,
                                       const int32_t *y, size_t n, int k, dgm_err *err);
/* n samples (n x D) into out; y (n labels) for conditional models, else NULL. mean != 0
 * asks for the decoder/component mean instead of a draw where the model has one. */
DGM_API dgm_status  dgm_model_sample(dgm_model *m, dgm_rng *rng, float *out, const int32_t *y,
                                     size_t n, int mean, dgm_err *err);
/* A JSON text describing the model (type, config, parameter count, training state);
 * caller frees with dgm_free. */
DGM_API char       *dgm_model_describe(const dgm_model *m);

/* ---- Variational autoencoder (Kingma & Welling 2014), optionally class-conditional
 * (CVAE, Sohn et al. 2015): z ~ N(0, I); q(z|x[,y]) = N(mu, diag exp(logvar)) from the
 * encoder MLP "encoder" (D[+C] -> hidden... -> 2Z, mu and logvar as its two halves);
 * p(x|z[,y]) from the decoder MLP "decoder" (Z[+C] -> ...hidden -> D logits, or 2D
 * (mean, logvar) for a Gaussian with predicted variance, or D means plus a learned
 * per-dimension "decoder_logvar"). The discretised logistic decoder (for 8-bit pixels,
 * PixelCNN++'s likelihood with one component) has the same two layouts: D locations plus D
 * predicted log-scales, or D locations and a learned "decoder_logscale". Names match
 * torch.nn.Sequential modules. */
typedef enum { DGM_LIK_BERNOULLI = 0, DGM_LIK_GAUSSIAN, DGM_LIK_LOGISTIC } dgm_vae_lik;
/* "bernoulli", "gaussian", "logistic"; from_name returns -1 for an unknown name. */
DGM_API const char *dgm_vae_lik_name(dgm_vae_lik l);
DGM_API int         dgm_vae_lik_from_name(const char *name);

typedef struct dgm_vae_cfg {
    size_t dim;          /* D */
    size_t latent;       /* Z */
    size_t hidden[8];    /* encoder widths; the decoder mirrors them */
    int    n_hidden;
    dgm_act act;
    dgm_vae_lik likelihood;
    int    sigma_predicted; /* Gaussian, logistic: 1 = the decoder predicts the log-variance
                             * (log-scale), 0 = learned per dimension */
    int    n_classes;    /* > 0: conditional on a one-hot label (CVAE) */
    size_t height, width;/* image geometry, for pictures (0 if none) */
} dgm_vae_cfg;

/* The reference model: 784-400-20, ReLU, Bernoulli. */
DGM_API dgm_vae_cfg dgm_vae_defaults(void);
/* Creates a VAE with PyTorch's default initialisation. */
DGM_API dgm_status  dgm_vae_create(dgm_model **out, dgm_rng *rng, const dgm_vae_cfg *cfg,
                                   dgm_err *err);
/* 1 if m is a VAE or CVAE (the functions below require it). */
DGM_API int         dgm_model_is_vae(const dgm_model *m);
DGM_API const dgm_vae_cfg *dgm_vae_config(const dgm_model *m);
/* The model's parameter store (weights, gradients, Adam moments). */
DGM_API dgm_params *dgm_vae_params(dgm_model *m);

typedef enum { DGM_OBJ_ELBO = 0, DGM_OBJ_IWAE } dgm_objective;

typedef struct dgm_vae_step {
    dgm_objective objective;
    int    k;          /* IWAE samples (>= 1) */
    double kl_weight;  /* beta in recon + beta KL (KL warm-up); 1 for the true ELBO */
    double free_bits;  /* nats per latent dimension (Kingma et al. 2016); 0 disables */
} dgm_vae_step;

typedef struct dgm_vae_stats {
    double loss;       /* mean objective over the batch (negative bound, nats) */
    double recon;      /* mean -log p(x|z) */
    double kl;         /* mean KL(q || p) (analytic; ELBO objective only) */
} dgm_vae_stats;

/* One training step on B examples (x: B x D in the likelihood's space, y: B labels for a
 * CVAE): forward, backward into the parameter gradients (zeroed first), optimizer update
 * as step number t (0-based). Reparameterisation noise is forked per example from rng.
 * Returns DGM_ERR_NAN, leaving the weights untouched, if the loss is not finite. */
DGM_API dgm_status dgm_vae_train_step(dgm_model *m, dgm_rng *rng, const float *x, const int32_t *y,
                                      size_t B, const dgm_vae_step *obj, const dgm_optim_cfg *opt,
                                      long t, dgm_vae_stats *stats, dgm_err *err);
/* Loss and gradients only (no update): for gradient checks and custom loops. eps, if not
 * NULL, supplies the noise (B x K x Z) instead of rng. */
DGM_API dgm_status dgm_vae_loss_grad(dgm_model *m, dgm_rng *rng, const float *eps, const float *x,
                                     const int32_t *y, size_t B, const dgm_vae_step *obj,
                                     dgm_vae_stats *stats, dgm_err *err);

/* Per-example ELBO with the analytic KL: elbo = -recon - kl (nats); any output may be NULL. */
DGM_API dgm_status dgm_vae_elbo(dgm_model *m, dgm_rng *rng, double *elbo, double *recon,
                                double *kl, const float *x, const int32_t *y, size_t n,
                                dgm_err *err);
/* The same with the reparameterisation's noise given: eps (n x Z) standard-normal draws,
 * z_i = mu_i + exp(logvar_i / 2) * eps_i, for comparisons with other implementations
 * (dgm eval --noise). */
DGM_API dgm_status dgm_vae_elbo_noise(dgm_model *m, const float *eps, double *elbo,
                                      double *recon, double *kl, const float *x,
                                      const int32_t *y, size_t n, dgm_err *err);
/* Posterior means (n x Z) and, optionally, log-variances. */
DGM_API dgm_status dgm_vae_encode(dgm_model *m, float *mu, float *logvar, const float *x,
                                  const int32_t *y, size_t n, dgm_err *err);
/* Decoder means (n x D: Bernoulli probabilities or Gaussian means) for codes z (n x Z). */
DGM_API dgm_status dgm_vae_decode(dgm_model *m, float *out, const float *z, const int32_t *y,
                                  size_t n, dgm_err *err);
/* Precision of the decoder's matrix products in the importance-sampled log-likelihood
 * (dgm_model_log_prob), sampling and dgm_vae_decode: DGM_PREC_BF16 rounds the decoder's
 * weights and activations to bf16 (float32 sums; the likelihood stays float32). Training,
 * the ELBO and the encoder stay float32. DGM_ERR_UNSUPPORTED without oneDNN. */
DGM_API dgm_status dgm_vae_set_precision(dgm_model *m, dgm_precision p, dgm_err *err);

/* Training state kept with a model file (optional JSON text; the CLI owns its schema). */
DGM_API dgm_status  dgm_model_set_train_state(dgm_model *m, const char *json, dgm_err *err);
DGM_API const char *dgm_model_train_state(const dgm_model *m);
/* Class prior log p(y) of a conditional model (n_classes entries), e.g. from the training
 * label frequencies; used by the Bayes-rule classifier. */
DGM_API dgm_status  dgm_model_set_log_prior(dgm_model *m, const double *log_prior, dgm_err *err);
DGM_API const double *dgm_model_log_prior(const dgm_model *m);
/* Whether dgm_model_save_checkpoint also writes the optimizer moments (for --resume). */
DGM_API void        dgm_model_keep_optimizer(dgm_model *m, int keep);

/* ---- Tractable baselines with exact likelihoods (docs/math.md, "Tractable baselines"):
 * a Gaussian (closed-form maximum likelihood), Gaussian mixtures fitted by EM with the
 * options and meanings of sklearn.mixture.GaussianMixture, a product of Bernoullis, and
 * Bernoulli mixtures by EM. The fitted models are dgm_models of type "gaussian", "gmm",
 * "bernoulli" and "bernoulli-mixture" with exact log_prob and ancestral sampling; fitted
 * per class they become class-conditional models p(x | y) with log_prior set. */
typedef enum { DGM_COV_FULL = 0, DGM_COV_TIED, DGM_COV_DIAG, DGM_COV_SPHERICAL } dgm_cov_type;
/* Initial responsibilities: one-hot from k-means (Lloyd from k-means++ seeding, as
 * scikit-learn's init_params="kmeans"), from the k-means++ seeds alone ("k-means++"), or
 * uniform random rows ("random"). */
typedef enum { DGM_INIT_KMEANS = 0, DGM_INIT_KMEANSPP, DGM_INIT_RANDOM } dgm_mixture_init;
typedef enum {
    DGM_TRACTABLE_GAUSSIAN = 0, DGM_TRACTABLE_GMM, DGM_TRACTABLE_BERNOULLI,
    DGM_TRACTABLE_BERNOULLI_MIXTURE
} dgm_tractable_kind;

/* Called after each EM iteration: cls is the class being fitted (-1 for a model of p(x)),
 * init the restart (0-based), iter the iteration (1-based) and loglik the mean
 * log-likelihood per example, in nats, of the parameters that entered the iteration
 * (scikit-learn's lower bound). */
typedef void (*dgm_em_progress)(void *ctx, int cls, int init, int iter, double loglik);

typedef struct dgm_mixture_cfg {
    size_t n_components;      /* K; ignored (1) by the single Gaussian and Bernoulli product */
    dgm_cov_type covariance;  /* Gaussians */
    double reg_covar;         /* added to the diagonal of each covariance (>= 0) */
    double min_prob;          /* Bernoulli: probabilities kept in [min_prob, 1 - min_prob] */
    double tol;               /* stop when the mean log-likelihood changes by less than tol */
    int    max_iter;          /* EM iterations per restart (>= 1) */
    int    n_init;            /* restarts; the one with the highest lower bound is kept */
    dgm_mixture_init init;
    const char *likelihood;   /* recorded in the model ("dequantized", "continuous",
                               * "binary"); NULL: continuous for Gaussians, binary otherwise */
    size_t height, width;     /* image geometry to record, 0 if none */
    dgm_em_progress progress; /* optional */
    void  *progress_ctx;
    /* for dgm_fit on a model from dgm_mixture_create: */
    int    per_class;         /* one fit per label: a class-conditional model */
    int    no_dequantize;     /* Gaussians: fit 8-bit data as k/255 */
    int    binarize_threshold;/* Bernoullis: grey levels to 1 above 1/2 (else a draw) */
    const char *save_data;    /* also write the matrix as fitted to this NPY file */
} dgm_mixture_cfg;

/* scikit-learn's defaults: K 1, full covariance, reg_covar 1e-6, tol 1e-3, max_iter 100,
 * n_init 1, k-means init; min_prob 1e-6. */
DGM_API dgm_mixture_cfg dgm_mixture_defaults(void);
/* Names as in scikit-learn ("full", "tied", "diag", "spherical"; "kmeans", "k-means++",
 * also "kmeans++", "random"; and the model types); -1 for an unknown name. */
DGM_API int         dgm_cov_type_from_name(const char *name);
DGM_API const char *dgm_cov_type_name(dgm_cov_type c);
DGM_API int         dgm_mixture_init_from_name(const char *name);
DGM_API const char *dgm_mixture_init_name(dgm_mixture_init i);
DGM_API int         dgm_tractable_kind_from_name(const char *name);
DGM_API const char *dgm_tractable_kind_name(dgm_tractable_kind k);

/* Fits to x (n x d). Gaussian: mean and covariance of the data (+ reg_covar), diag, full
 * or spherical (tied is full for one component). GMM: EM from cfg->init, n_init restarts
 * forked from rng. Bernoulli: x must be 0/1; the product's p is the clamped mean, the
 * mixture is fitted by EM. Errors: n < K, x not finite (or not binary), a covariance that
 * is not positive definite (a collapsed component or constant feature with reg_covar 0). */
DGM_API dgm_status dgm_gaussian_fit(dgm_model **out, const float *x, size_t n, size_t d,
                                    const dgm_mixture_cfg *cfg, dgm_err *err);
DGM_API dgm_status dgm_gmm_fit(dgm_model **out, dgm_rng *rng, const float *x, size_t n, size_t d,
                               const dgm_mixture_cfg *cfg, dgm_err *err);
DGM_API dgm_status dgm_bernoulli_fit(dgm_model **out, const float *x, size_t n, size_t d,
                                     const dgm_mixture_cfg *cfg, dgm_err *err);
DGM_API dgm_status dgm_bernoulli_mixture_fit(dgm_model **out, dgm_rng *rng, const float *x,
                                             size_t n, size_t d, const dgm_mixture_cfg *cfg,
                                             dgm_err *err);
/* Any of the four, of p(x) when y is NULL, or per class when y (n labels in
 * 0..n_classes-1) is given: one model p(x | y) with one fit per class (class c uses
 * dgm_rng_fork(rng, c)) and log_prior = log of the label frequencies. Errors when a class
 * has no examples (or fewer than K). */
DGM_API dgm_status dgm_tractable_fit(dgm_model **out, dgm_rng *rng, dgm_tractable_kind kind,
                                     const float *x, const int32_t *y, size_t n, size_t d,
                                     int n_classes, const dgm_mixture_cfg *cfg, dgm_err *err);

/* How the fit of class cls (0 for a model of p(x)) ended. */
typedef struct dgm_mixture_info {
    int    n_iter;          /* EM iterations of the kept restart (1 for closed forms) */
    int    converged;
    double lower_bound;     /* mean log-likelihood of the parameters entering the last
                             * iteration (scikit-learn's lower_bound_) */
    double log_likelihood;  /* mean log-likelihood per example of the final parameters */
    size_t n;               /* training examples */
} dgm_mixture_info;
/* DGM_ERR_ARG if m is not one of these models or cls is out of range. */
DGM_API dgm_status dgm_mixture_fit_info(dgm_mixture_info *out, const dgm_model *m, int cls,
                                        dgm_err *err);

/* ======================================================================= train === */

/* ---- The training driver: one loop for every trainable model (src/train/fit.c).
 * dgm_fit runs what the model's family needs:
 *   - minibatch models (vae, cvae): epochs over a seeded shuffle of the training rows,
 *     the optimizer and its schedule, validation on held-out rows, a checkpoint written
 *     atomically after every epoch, and resume bit for bit from the training state a
 *     checkpoint holds;
 *   - sampled models (seqvae): Adam steps on minibatches drawn with probability
 *     proportional to the sequence weights, reported every `report_every` steps, with a
 *     mutational scan scored as validation;
 *   - whole-data fits (gaussian, gmm, bernoulli, bernoulli-mixture by EM or closed form;
 *     the site-independent sequence model): one fit of a model made unfitted by
 *     dgm_mixture_create or dgm_indep_create, reporting each EM iteration.
 * The library never prints: progress goes to the caller's callback. The caller stops a
 * run by setting *stop (from a signal handler, say): a minibatch run then finishes its
 * step, writes the checkpoint with its position and returns DGM_OK with res->stopped.
 * A non-finite loss or gradient stops with DGM_ERR_NAN and keeps the last checkpoint.
 * Randomness (docs/design.md): minibatch runs split the rows with fork(seed, 2^64 - 1),
 * shuffle epoch e with fork(seed, e), and give step s of it fork(fork(seed, e), s + 1);
 * sampled runs draw from fork(seed, 1); whole fits prepare the data with fork(seed, 0)
 * and fit with fork(seed, 1). The initialisation stream is the caller's choice when it
 * creates the model (the CLI: fork(seed, 2^64 - 2) for VAEs, fork(seed, 0) for the
 * sequence VAE). */
typedef enum {
    DGM_FIT_BEGIN = 0, /* once, before the first step: sizes in n_train, n_val */
    DGM_FIT_STEP,      /* after each step (minibatch) or each report (sampled) */
    DGM_FIT_EPOCH,     /* after each epoch, with its means and the validation figure */
    DGM_FIT_ITER,      /* after each EM iteration (whole fits) */
    DGM_FIT_MOMENTS    /* after each Boltzmann-machine step (potts): iter, seconds, val = the
                        * Pearson r of the connected pair correlations of the chains against
                        * the data's, loss = the largest site-frequency error |f_i - <x_i>| */
} dgm_fit_event;

typedef struct dgm_fit_progress {
    dgm_fit_event event;
    long   epoch, epochs;   /* 1-based epoch and the total (minibatch) */
    size_t done, total;     /* examples done in this epoch and its size (minibatch); steps
                             * done and the total (sampled) */
    long   step;            /* optimizer steps taken over the model's life */
    double loss;            /* mean loss per example over the epoch so far (minibatch) or
                             * over the steps since the last report (sampled) */
    double recon, kl;       /* the loss's two parts, epoch means (VAE family) */
    double val;             /* EPOCH: validation -ELBO per example; sampled: the scan's
                             * Spearman; NaN when there is none */
    double seconds;         /* of this epoch (EPOCH), or of training so far (sampled) */
    double lr;              /* the learning rate of the last step */
    size_t n_train, n_val;  /* BEGIN */
    int    cls, init, iter; /* ITER: class (-1 for p(x)), restart and iteration */
    double loglik;          /* ITER: mean log-likelihood per example */
    double objective, grad_norm; /* ITER of an L-BFGS fit (potts): the objective and |g| */
} dgm_fit_progress;

typedef void (*dgm_fit_callback)(void *ctx, const dgm_fit_progress *p);

typedef struct dgm_fit_data {
    const dgm_dataset   *data;  /* rows (and labels) for the image/vector models */
    size_t limit;               /* use only the first `limit` rows (0: all) */
    const char *data_spec;      /* how the data were named (recorded for --resume) */
    const char *labels_spec;    /* and the label file, or NULL */
    const struct dgm_alignment *aln; /* sequences for the protein models */
    const double *weights;      /* per sequence, NULL for all 1 */
    double neff, theta;         /* their sum and the identity threshold they used */
    struct dgm_scan *scan;      /* optional validation for sequence VAEs: a mutational scan
                                 * (dgm_scan_load), scored every report */
} dgm_fit_data;

typedef struct dgm_fit_cfg {
    uint64_t seed;              /* 1 */
    long   epochs;              /* minibatch: the total, counting epochs already run (10) */
    size_t batch;               /* minibatch size (128) */
    dgm_opt_kind optimizer;     /* adam */
    double lr;                  /* 1e-3 */
    double weight_decay, clip;  /* 0, 0 (off) */
    dgm_sched_kind schedule;    /* constant, or cosine over the whole run */
    dgm_objective objective;    /* VAE family: ELBO or IWAE with k samples (5) */
    int    k;
    double kl_warmup;           /* epochs over which the KL weight rises to 1 (0: off) */
    double free_bits;           /* per latent dimension (0: off) */
    size_t n_val;               /* rows held out for validation (0) */
    long   steps;               /* sampled: total steps (10000) */
    long   report_every;        /* sampled: steps between reports and validations (1000) */
    double time_limit;          /* sampled: stop after this many seconds of steps (0: none) */
    int    scan_samples;        /* sampled: ELBO samples per mutant when scoring (20) */
    const char *checkpoint;     /* minibatch: the model file rewritten after every epoch and
                                 * at a stop, with its training checkpoint beside it
                                 * (dgm_checkpoint_path; NULL: none) */
    volatile int *stop;         /* set non-zero to stop after the current step */
    dgm_fit_callback progress;  /* optional */
    void  *progress_ctx;
} dgm_fit_cfg;

typedef struct dgm_fit_result {
    long   epochs, steps;       /* epochs completed and optimizer steps over the model's life */
    double loss, val;           /* last epoch's (or report's) mean loss; validation (NaN) */
    double seconds;             /* of training */
    size_t n_train, n_val;
    int    stopped;             /* stopped by *stop; the checkpoint holds the position */
    long   stop_epoch, stop_step; /* 1-based epoch and step it stopped after */
    int    checkpointed;        /* a checkpoint of this run (or of the one resumed) exists */
} dgm_fit_result;

/* The defaults above. */
DGM_API dgm_fit_cfg dgm_fit_defaults(void);
/* Trains m on data; see above. res may be NULL. */
DGM_API dgm_status dgm_fit(dgm_model *m, const dgm_fit_data *data, const dgm_fit_cfg *cfg,
                           dgm_fit_result *res, dgm_err *err);
/* For --resume: the options of the run saved in m's training state into cfg (seed,
 * epochs, batch, optimizer, lr, schedule, weight decay, clip, objective, k, warm-up, free
 * bits, n_val), the data and label specs it trained on into data_spec and labels_spec ("" if
 * none; cap bytes each) and its row limit. DGM_ERR_FORMAT without a usable state. A
 * dgm_fit on a model with a saved state continues from the saved epoch and step. */
DGM_API dgm_status dgm_fit_resume_cfg(dgm_fit_cfg *cfg, char *data_spec, char *labels_spec,
                                      size_t cap, size_t *limit, const dgm_model *m,
                                      dgm_err *err);
/* Names of the optimizer, schedule and objective kinds ("adam", "adamw", "sgd";
 * "constant", "step", "cosine"; "elbo", "iwae"), and back (-1 if unknown). */
DGM_API const char *dgm_opt_kind_name(dgm_opt_kind k);
DGM_API int         dgm_opt_kind_from_name(const char *s);
DGM_API const char *dgm_sched_kind_name(dgm_sched_kind k);
DGM_API int         dgm_sched_kind_from_name(const char *s);
DGM_API const char *dgm_objective_name(dgm_objective o);
DGM_API int         dgm_objective_from_name(const char *s);

/* An unfitted tractable model of this kind and configuration, for dgm_fit: it prepares
 * the rows (8-bit images dequantised as (k + u)/256 for the Gaussians unless
 * cfg->no_dequantize, grey levels binarized by a seeded draw or at 1/2 for the
 * Bernoullis), fits by EM or in closed form (per class with cfg->per_class) and becomes
 * the fitted model. Until then it cannot be evaluated or saved. */
DGM_API dgm_status dgm_mixture_create(dgm_model **out, dgm_tractable_kind kind,
                                      const dgm_mixture_cfg *cfg, dgm_err *err);

/* ======================================================================== eval === */

/* ---- Divergences. docs/math.md, "Divergences and likelihood estimators", gives every
 * formula, its assumptions and its bias. All results are in nats. */

/* One KL estimate. se and n are 0 for exact computations; ci_low/ci_high are NaN where
 * there is no interval. */
typedef struct dgm_kl_result {
    double kl;               /* D(P || Q) in nats; +inf where Q misses mass of P */
    double se;               /* standard error of kl */
    size_t n;                /* samples averaged */
    double ci_low, ci_high;  /* bootstrap percentile interval */
    int    exact;            /* MC: 1 if both log-densities are exact, 0 if estimated */
    size_t n_tied;           /* k-NN: points whose k was raised past exact duplicates */
    int    joint;            /* MC: 1 for the joint over (x, y) of two class-conditional
                              * models, 0 for densities over x */
} dgm_kl_result;

/* Discrete tables of n entries: probabilities or counts, normalised after adding alpha
 * (additive smoothing, >= 0) to every entry. Entries must be finite and >= 0 with a
 * positive total; the message names the entry. 0 log 0 = 0; KL is +inf (never NaN) where
 * q = 0 < p. */
DGM_API dgm_status dgm_kl_discrete(double *out, const double *p, const double *q, size_t n,
                                   double alpha, dgm_err *err);
/* Jensen-Shannon divergence: (KL(p||m) + KL(q||m)) / 2, m = (p+q)/2; in [0, log 2]. */
DGM_API dgm_status dgm_js_discrete(double *out, const double *p, const double *q, size_t n,
                                   double alpha, dgm_err *err);
/* Shannon entropy -sum p log p of the normalised table. */
DGM_API dgm_status dgm_entropy_discrete(double *out, const double *p, size_t n, double alpha,
                                        dgm_err *err);
/* Reads a numeric table in double precision: CSV/TSV text (one value per line, or several
 * columns, comma, tab or space separated; an optional non-numeric header line; '#'
 * comments and blank lines skipped) or NPY (through dgm_data_load). out is rows x cols,
 * row-major, freed with dgm_free. Ragged rows, non-numbers, NaN/inf and negative values
 * are errors naming the file and line. */
DGM_API dgm_status dgm_kl_table_load(double **out, size_t *rows, size_t *cols, const char *path,
                                     dgm_err *err);

/* The model as a closed-form distribution (pointers borrowed from the model, valid while
 * it lives); DGM_ERR_UNSUPPORTED when its type has none. */
DGM_API dgm_status dgm_model_as_dist(const dgm_model *m, dgm_dist *out, dgm_err *err);
/* Monte Carlo D(p || q) = E_p[log p(x) - log q(x)] over n samples x ~ p, in batches;
 * log-densities use k importance samples where a model is a latent-variable model (then
 * the estimate carries the bias of that log-likelihood estimator). Both models must share
 * dim and likelihood space. Two class-conditional models of the same classes: the KL of
 * the joints, D(p(y) p(x|y) || q(y) q(x|y)), with y ~ p(y) drawn first (out->joint = 1).
 * One class-conditional model beside an unconditional one: its marginal
 * p(x) = sum_y p(y) p(x|y) stands for it (one evaluation per class). */
DGM_API dgm_status dgm_kl_mc(dgm_rng *rng, dgm_kl_result *out, dgm_model *p, dgm_model *q,
                             size_t n, int k, dgm_err *err);

/* Exact k-nearest-neighbour search in R^d (Euclidean): for each of the n query rows, the
 * distances (ascending, double) to its k nearest of the m reference rows, and their
 * indices (idx may be NULL). With exclude_self the query set is the reference set (same
 * pointer, n == m) and row i is not its own neighbour (its duplicates are). Candidates are
 * found through blocked matrix products (|a|^2 + |b|^2 - 2 a.b on centred data) and their
 * distances recomputed exactly in double. dist, idx: n x k. */
DGM_API dgm_status dgm_knn_search(double *dist, size_t *idx, const float *query, size_t n,
                                  const float *ref, size_t m, size_t d, size_t k, int exclude_self,
                                  dgm_err *err);

typedef struct dgm_knn_cfg {
    size_t k;             /* neighbours (default 1) */
    size_t n_boot;        /* bootstrap replicates for the interval, 0 for none (1000) */
    double level;         /* interval coverage (0.95) */
    const char *p_name;   /* names of the two sample sets in messages ("P", "Q") */
    const char *q_name;
} dgm_knn_cfg;
DGM_API dgm_knn_cfg dgm_knn_defaults(void);
/* k-NN estimate of D(P || Q) from samples x ~ P (n x d) and y ~ Q (m x d) (Wang, Kulkarni
 * and Verdu 2009): (d/n) sum_i log(nu_k(i) / rho_k(i)) + log(m / (n-1)). Needs n >= k+1,
 * m >= k and finite values (messages name the set and row). Exact duplicates: a point
 * whose k-th distance to P or to Q is 0 uses the smallest k_i = l_i > k for which both are
 * positive (their paper's per-point k_i, l_i; equal, they need no digamma correction), up
 * to k + 16, beyond which it is an error naming the rows. se is the naive standard error
 * of the mean of the per-point terms (they are weakly dependent; docs/math.md). */
DGM_API dgm_status dgm_kl_knn(dgm_rng *rng, dgm_kl_result *out, const float *x, size_t n,
                              const float *y, size_t m, size_t d, const dgm_knn_cfg *cfg,
                              dgm_err *err);
/* Percentile bootstrap interval of the mean of t[0..n) with n_boot replicates (replicate
 * b resamples with dgm_rng_fork(rng, b)); level in (0, 1). */
DGM_API dgm_status dgm_bootstrap_mean_ci(dgm_rng *rng, double *lo, double *hi, const double *t,
                                         size_t n, size_t n_boot, double level, dgm_err *err);

/* ---- Empirical log-likelihood. */

/* Seed with which dgm's commands binarize or dequantise evaluation data, so that
 * `dgm eval` and `dgm loglik` see the same data whatever --seed says. */
#define DGM_EVAL_PREP_SEED 20240611u

/* The rows of data (at most limit of them; 0 means all) in the model's data space, as a
 * new n x D buffer (free with dgm_free): "binary" binarizes [0,1] values once (Bernoulli
 * draws, example i from dgm_rng_fork of seed's stream, i); "dequantized" maps 8-bit k/255
 * to (k+u)/256; "continuous" copies. Sequence data are not supported yet. *n_out gets the
 * row count. */
DGM_API dgm_status dgm_eval_prepare(float **out, size_t *n_out, const dgm_model *m,
                                    const dgm_dataset *data, size_t limit, uint64_t seed,
                                    dgm_err *err);
/* Rows [first, first + n) of data in m's data space into out (n x D): the same values as
 * those rows of dgm_eval_prepare with the same seed, so that evaluation can prepare one
 * batch at a time instead of holding the whole set. out NULL only checks the rows (shape,
 * finite values, [0, 1] or 8-bit levels as the likelihood needs), drawing nothing. */
DGM_API dgm_status dgm_eval_prepare_rows(float *out, const dgm_model *m, const dgm_dataset *data,
                                         size_t first, size_t n, uint64_t seed, dgm_err *err);
/* Bits per dimension of a mean negative log-likelihood nll (nats) over D dimensions of
 * data: nll / (D log 2), plus log2(256) = 8 for "dequantized" likelihoods (the density is
 * over [0,1)^D, reported per 8-bit dimension). */
DGM_API double dgm_bits_per_dim(double nll, size_t D, const char *likelihood);

typedef struct dgm_loglik_result {
    double mean;          /* mean log p(x) in nats */
    double total;         /* sum of log p(x): the data set's joint log-likelihood */
    double se;            /* standard error of mean (of total: n * se) */
    double bits_per_dim;  /* of -mean */
    size_t n, dims;       /* examples, dimensions per example used for bits/dim */
    int    exact;         /* 0: an importance-sampled estimate (biased low) */
} dgm_loglik_result;
/* log p(x) of data under m: prepares the data (dgm_eval_prepare with DGM_EVAL_PREP_SEED),
 * evaluates in batches with k importance samples where needed (batch b forks rng, b), and
 * summarises. per_example (limit or data->n entries) may be NULL. Labels of data are
 * passed to conditional models. In a `dgm` run under mpirun (MPI=1) the batches are split
 * over the ranks, every rank calls it alike and gets the one-process result. */
DGM_API dgm_status dgm_loglik(dgm_rng *rng, dgm_loglik_result *out, double *per_example,
                              dgm_model *m, const dgm_dataset *data, size_t limit, int k,
                              dgm_err *err);

/* ---- Bayes-rule classifier from a class-conditional model:
 * log p(y|x) = log p(x|y) + log p(y) - log sum_y' p(x|y') p(y'), all in log space, with
 * p(y) the model's class prior (training label frequencies). log_post is n x C. For
 * latent-variable models log p(x|y) is the importance-sampled estimate with k samples
 * (the same noise for every class of an example, which lowers the variance of the
 * differences). */
DGM_API dgm_status dgm_classify(dgm_rng *rng, double *log_post, dgm_model *m, const float *x,
                                size_t n, int k, dgm_err *err);

/* ===================================================================== protein === */
/* Protein-family models as in DeepSequence (Riesselman et al., Nature Methods 2018):
 * alignment readers, sequence weights, a site-independent model, a sequence VAE, and
 * mutation effects. Letters are indices into DGM_AA_ALPHABET; DGM_AA_GAP is the gap. A
 * sequence's one-hot form is L x DGM_AA_N floats with a gap as an all-zero row, so D =
 * L * 20 for the generic model interface. docs/math.md, "Protein family models". */
#define DGM_AA_ALPHABET "ACDEFGHIKLMNPQRSTVWY-"
#define DGM_AA_N   20
#define DGM_AA_GAP 20

/* Letter index of an amino-acid character in either case (0..19), DGM_AA_GAP for '-' and
 * '.', -1 for anything else (X, B, Z, U, O, '*', ...). */
DGM_API int dgm_aa_index(int c);

typedef struct dgm_align_cfg {
    double max_seq_gap;  /* drop sequences whose gap fraction over the focus columns is
                            above this (the focus is always kept); 1 keeps all */
    double max_col_gap;  /* then drop focus columns whose gap fraction over the kept
                            sequences is above this; 1 keeps all */
} dgm_align_cfg;

/* Both filters off (1.0). */
DGM_API dgm_align_cfg dgm_align_defaults(void);

/* An alignment reduced to its focus columns. The first sequence is the focus (wild type);
 * its header "NAME/start-end" numbers its residues from start (1 without a range). Focus
 * columns are those where the focus row has an upper-case letter or '-': lower-case
 * letters and '.' are insert states. Kept letters are upper-cased and '.' becomes a gap. */
typedef struct dgm_alignment {
    size_t   n, L;            /* sequences kept (focus is row 0), columns kept */
    uint8_t *seq;             /* n x L letter indices */
    char   **names;           /* n headers (FASTA: the line after '>'; Stockholm: the name) */
    char    *focus_residues;  /* every residue of the focus, upper case, NUL-terminated:
                                 residue number r is focus_residues[r - focus_start] */
    char     focus_name[128]; /* "BLAT_ECOLX" from "BLAT_ECOLX/24-286" */
    long     focus_start;
    long    *pos;             /* L residue numbers of the kept columns (-1: focus gap) */
    size_t   n_read;          /* sequences in the file */
    size_t   n_bad_letter;    /* dropped: a letter outside the alphabet in a focus column */
    size_t   n_gappy;         /* dropped by max_seq_gap */
    size_t   L_focus;         /* focus columns before max_col_gap */
    char     source[512];
} dgm_alignment;

/* Reads A2M / aligned FASTA (rows of equal width, or true A2M whose rows differ only in
 * insert states) or Stockholm, detected from the contents; gzip is read transparently.
 * cfg NULL means dgm_align_defaults(). Errors name file:line:char: a ragged row, an empty
 * alignment, a focus letter outside the alphabet. */
DGM_API dgm_status dgm_alignment_read(dgm_alignment *out, const char *path,
                                      const dgm_align_cfg *cfg, dgm_err *err);
DGM_API void       dgm_alignment_free(dgm_alignment *a);

/* Rule deciding whether sequence j is a neighbour of sequence i (j = i included):
 * DEEPSEQ: identity over i's non-gap positions, #{l: x_il = x_jl != gap} / #{l: x_il !=
 *          gap}, strictly above 1 - theta (DeepSequence's helper.py).
 * PLMC:    plmc's reweighting (Hopf et al. 2017, plmc's inference.c): matching letters
 *          with gap = gap counting as a match, over all L columns, at least (1 - theta) L.
 * w_i = 1 / #neighbours(i); Neff = sum_i w_i. */
typedef enum { DGM_SEQW_DEEPSEQ = 0, DGM_SEQW_PLMC } dgm_seqw_rule;

/* w (n) and *neff from seq (n x L letters). Bit-parallel pair counts with OpenMP; the
 * result does not depend on the thread count. theta in [0, 1]. */
DGM_API dgm_status dgm_seq_weights(double *w, double *neff, const uint8_t *seq, size_t n, size_t L,
                                   double theta, dgm_seqw_rule rule, dgm_err *err);

/* The weights of an alignment's sequences, as the training commands use them: with
 * DGM_SEQW_PLMC identity is counted over the columns where the focus has a residue
 * (plmc drops focus-gap columns), so the weights are plmc's own; DGM_SEQW_DEEPSEQ counts
 * over all of a's columns (dgm_seq_weights gives the two rules). */
DGM_API dgm_status dgm_alignment_weights(double *w, double *neff,
                                         const struct dgm_alignment *a, double theta,
                                         dgm_seqw_rule rule, dgm_err *err);

/* out (n x L*20): one-hot rows, a gap as all zeros. */
DGM_API void dgm_seq_onehot(float *out, const uint8_t *seq, size_t n, size_t L);
/* seq (n x L): the largest entry of each 20-wide block of x, the gap where the block is
 * all <= 0 (the inverse of dgm_seq_onehot). */
DGM_API void dgm_seq_from_onehot(uint8_t *seq, const float *x, size_t n, size_t L);
/* FASTA, 60 letters a line; names NULL gives "seq<i>". Written atomically. */
DGM_API dgm_status dgm_fasta_write(const char *path, const uint8_t *seq, size_t n, size_t L,
                                   const char *const *names, dgm_err *err);

/* ---- rank correlation */
/* rank (n): 1-based ranks of x with ties given the mean of the ranks they span. */
DGM_API dgm_status dgm_rank_average(double *rank, const double *x, size_t n, dgm_err *err);
/* Spearman's rho: Pearson correlation of the average ranks (as scipy.stats.spearmanr).
 * NaN for n < 2 or a constant input. */
DGM_API dgm_status dgm_spearman(double *rho, const double *x, const double *y, size_t n,
                                dgm_err *err);

/* ---- mutations */
/* What a protein-family model knows about its focus sequence (views into the model). */
typedef struct dgm_seqfocus {
    const char    *name;      /* "BLAT_ECOLX" */
    const char    *residues;  /* all focus residues from number `start` */
    long           start;
    size_t         L;         /* model columns */
    const long    *pos;       /* L residue numbers (-1: focus gap) */
    const uint8_t *wt;        /* L letters of the focus row */
} dgm_seqfocus;

/* Fills f for models of type "independent", "seqvae" and "potts"; DGM_ERR_UNSUPPORTED otherwise. */
DGM_API dgm_status dgm_model_seqfocus(dgm_seqfocus *f, const dgm_model *m, dgm_err *err);

#define DGM_MUT_MAX 64
/* A (multi-)mutant such as "H24A" or "H24A:G25C". */
typedef struct dgm_mutant {
    size_t  n;                   /* substitutions */
    long    resnum[DGM_MUT_MAX]; /* residue numbers */
    size_t  col[DGM_MUT_MAX];    /* model column of each (valid when scorable) */
    uint8_t aa[DGM_MUT_MAX];     /* new letters */
    int     scorable;            /* 0 when a residue has no model column */
} dgm_mutant;

/* Parses text against f. file/line/col (1-based character of text within its line) are
 * only for messages: "file:line:char: ..." for an unknown syntax, a residue number
 * outside the focus sequence, or a wild-type letter that does not match. */
DGM_API dgm_status dgm_mutant_parse(dgm_mutant *out, const char *text, const dgm_seqfocus *f,
                                    const char *file, size_t line, size_t col, dgm_err *err);
/* seq (L) = the focus row with the mutant's substitutions. */
DGM_API void       dgm_mutant_apply(uint8_t *seq, const dgm_mutant *mut, const dgm_seqfocus *f);

/* A deep mutational scan table: the "mutant" column (or the first) and, if column is not
 * NULL, that column's values (NaN where empty or not a number). */
typedef struct dgm_dms {
    size_t  n;
    char  **mutant;
    double *value;
    size_t *line;      /* 1-based line of each row */
    size_t *mut_col;   /* 1-based character where the mutant field starts */
} dgm_dms;
DGM_API dgm_status dgm_dms_read(dgm_dms *out, const char *path, const char *column, dgm_err *err);
DGM_API void       dgm_dms_free(dgm_dms *d);

/* delta[i] = E ELBO(seqs_i) - E ELBO(focus row), the mean over `samples` paired draws
 * (the same latent noise and decoder-weight sample for mutant and wild type), se[i] its
 * standard error; for exact models log p(seqs_i) - log p(wt) and se 0; for a Potts model
 * E(seqs_i) - E(wt) (dgm_potts_energy) and se 0. seqs: n x L. */
DGM_API dgm_status dgm_mutation_effects(dgm_model *m, dgm_rng *rng, double *delta, double *se,
                                        const uint8_t *seqs, size_t n, int samples, dgm_err *err);
/* Progress of a long computation: done of total units (samples, chunks), called from the
 * calling thread. */
typedef void (*dgm_progress_fn)(void *ctx, size_t done, size_t total);
/* dgm_mutation_effects with progress (progress may be NULL); the same numbers. */
DGM_API dgm_status dgm_mutation_effects_progress(dgm_model *m, dgm_rng *rng, double *delta,
                                                 double *se, const uint8_t *seqs, size_t n,
                                                 int samples, dgm_progress_fn progress,
                                                 void *ctx, dgm_err *err);

/* ---- site-independent model ("independent"): p(x) = prod over non-gap columns of
 * f_l(x_l), f_l(a) = (sum_i w_i [x_il = a] + pc) / (sum_i w_i [x_il != gap] + 20 pc). */
/* w NULL means all 1; theta is only recorded (the weights' identity threshold). */
DGM_API dgm_status dgm_indep_fit(dgm_model **out, const dgm_alignment *a, const double *w,
                                 double theta, double pseudocount, dgm_err *err);

/* An unfitted site-independent model with this pseudocount, for dgm_fit (which fits it
 * to the weighted alignment of its data, as dgm_indep_fit does). */
DGM_API dgm_status dgm_indep_create(dgm_model **out, double pseudocount, dgm_err *err);

/* ---- A mutational scan's scorable mutants prepared for one model, for scoring while
 * training (dgm_fit_data.scan) or after: the mutants of `column` that apply to the model's
 * focus and have a measurement. */
typedef struct dgm_scan dgm_scan;
DGM_API dgm_status dgm_scan_load(dgm_scan **out, const char *path, const char *column,
                                 const dgm_model *m, dgm_err *err);
DGM_API void       dgm_scan_free(dgm_scan *s);
DGM_API size_t     dgm_scan_count(const dgm_scan *s); /* scorable mutants with a measurement */
/* Spearman's rho between the model's mutation effects (`samples` ELBO samples each,
 * from dgm_rng_init(seed)) and the measurements. */
DGM_API dgm_status dgm_scan_spearman(double *rho, dgm_model *m, const dgm_scan *s,
                                     int samples, uint64_t seed, dgm_err *err);

/* ---- sequence VAE ("seqvae"), DeepSequence's model. Encoder: one-hot x -> an
 * EmbeddingBag-style first layer (a sum of one weight row per non-gap position) -> ReLU
 * MLP -> mu, log-variance of q(z|x). Decoder: ReLU MLP whose last hidden layer is a
 * sigmoid -> L x 20 logits -> softmax per position; gaps contribute nothing to
 * log p(x|z). PLAIN: point-estimate decoder with (l2 / 2 Neff) ||W_dec||^2. BAYES: a
 * factorised Gaussian posterior over every decoder weight with N(0, 1) priors (KL / Neff),
 * the output weights built as W[(l,a),h] = sigmoid(S[h mod H/P, l]) sum_k D[a,k]
 * W_out[(l,k),h] (group sparsity S with a logit-normal prior, dictionary D) times a learned
 * temperature softplus(T); one fresh draw of all of them per pass. */
typedef enum { DGM_SEQVAE_PLAIN = 0, DGM_SEQVAE_BAYES } dgm_seqvae_variant;

typedef struct dgm_seqvae_cfg {
    dgm_seqvae_variant variant;
    size_t enc[4]; int n_enc;   /* encoder hidden sizes (1500, 1500); enc[0] is the bag */
    size_t dec[4]; int n_dec;   /* decoder hidden sizes (100, 500) */
    size_t latent;              /* Z (30) */
    size_t dict;                /* BAYES: dictionary width K (40) */
    size_t n_patterns;          /* BAYES: P, the scale's tiling over hidden units (4) */
    double l2;                  /* PLAIN: lambda (1) */
    double logit_p, logit_sigma;/* BAYES: sparsity prior N(mu_p, sigma^2) with
                                   P(sigmoid(S) > 1/2) = logit_p (0.001, 4) */
    size_t batch;               /* minibatch (100) */
    double lr;                  /* Adam learning rate (1e-3) */
} dgm_seqvae_cfg;

/* DeepSequence's defaults for the variant. */
DGM_API dgm_seqvae_cfg dgm_seqvae_defaults(dgm_seqvae_variant v);
/* A new model for alignment a (its focus becomes the model's wild type) with Neff and the
 * weights' theta recorded; parameters initialised from rng. */
DGM_API dgm_status dgm_seqvae_create(dgm_model **out, dgm_rng *rng, const dgm_seqvae_cfg *cfg,
                                     const dgm_alignment *a, double neff, double theta,
                                     dgm_err *err);
/* `steps` Adam updates on minibatches drawn with probability w_i / sum(w) (with
 * replacement) from seq (n x L). Step t (counted over the model's life) uses
 * dgm_rng_fork(rng, t), so a run split into several calls gives the same bits. *loss: the
 * mean over these steps of the minibatch's negative objective (per sequence). */
DGM_API dgm_status dgm_seqvae_train(dgm_model *m, dgm_rng *rng, const uint8_t *seq,
                                    const double *w, size_t n, long steps, double *loss,
                                    dgm_err *err);
/* Updates taken so far. */
DGM_API long       dgm_seqvae_steps(const dgm_model *m);
/* Precision of the output layer's product (R x Hl times Hl x D, nearly all the work) in
 * mutation effects: DGM_PREC_BF16 rounds its weights and activations to bf16 with float32
 * sums (dgm_gemm_bf16); everything else stays float32. DGM_ERR_UNSUPPORTED without oneDNN. */
DGM_API dgm_status dgm_seqvae_set_precision(dgm_model *m, dgm_precision p, dgm_err *err);

/* Sequences already aligned to a reference's L columns (a generator's samples, held-out
 * natural sequences): aligned FASTA/A2M or Stockholm whose every row has exactly L match
 * states (upper case and '-'; lower case and '.' are inserts, dropped). There is no
 * focus row. Rows with a letter outside DGM_AA_ALPHABET are dropped and counted in
 * *n_bad. Errors name the file: not an alignment, empty, a row of another length
 * ("file:line: sequence 'x' has 250 aligned columns, the reference has 253"), or nothing
 * left. *seq (n x L letter indices) is freed with dgm_free. */
DGM_API dgm_status dgm_alignment_read_columns(uint8_t **seq, size_t *n, size_t *n_bad,
                                              const char *path, size_t L, dgm_err *err);

/* ====================================================================== assess === */
/* Judging a generator's samples against real data: each sample set (or a held-out real
 * set) is scored against a reference prepared once, into one dgm_assess_row. Sequences:
 * Pearson r and least-squares slope of single-site frequencies f_i(a) and pair connected
 * correlations C_ij(a,b) against the reference's (weighted at theta), identity to the
 * nearest reference sequence, diversity, improved precision and recall (k-NN balls in
 * Hamming space) and the leave-one-out 1-NN two-sample accuracy. Vectors (images):
 * precision, recall and 1-NN in Euclidean space, kNN KL both ways with bootstrap
 * intervals, a Gaussian-kernel MMD with a permutation p-value, and, in a feature space,
 * the same plus a Frechet distance. docs/math.md, "Assessing samples", derives each;
 * docs/formats.md lists the JSON keys (dgm_assess_metric_list gives them). Results do not
 * depend on the thread count. A metric that does not apply is NaN. */
typedef struct dgm_assess_cfg {
    double        theta;    /* sequence weights: neighbours within identity 1 - theta (0.2) */
    dgm_seqw_rule rule;     /* the weights' rule, as training's default (DGM_SEQW_DEEPSEQ) */
    size_t        k;        /* neighbours of precision and recall (3) */
    size_t        n_compare;/* size cap of the two equal-sized sets of precision, recall and
                               1-NN: min(n, reference n, n_compare); 0: no cap (0) */
    uint64_t      seed;     /* vectors: permutations, bootstrap (1); sequences need none */
    size_t        n_scatter;/* pair-correlation points kept in a row for figures (20000) */
    size_t        n_perm;   /* vectors: MMD permutations (200) */
    size_t        n_boot;   /* vectors: KL bootstrap replicates (200) */
    size_t        n_mmd;    /* vectors: rows per side in the MMD (1000) */
} dgm_assess_cfg;
DGM_API dgm_assess_cfg dgm_assess_defaults(void);

typedef enum { DGM_ASSESS_SAMPLES = 0, DGM_ASSESS_HELDOUT } dgm_assess_kind;

/* One scored set. The doubles from site_r to frechet_feat are the metrics (NaN where they
 * do not apply); the arrays are owned by the row: free with dgm_assess_row_free. */
typedef struct dgm_assess_row {
    char            name[256];
    dgm_assess_kind kind;
    size_t          n;           /* sequences or rows scored */
    size_t          n_dropped;   /* sequences dropped for letters outside the alphabet */
    size_t          n_compared;  /* size of each of the equal-sized sets (precision, recall, 1-NN) */
    int             weighted;    /* sequence statistics used the set's own weights */
    /* sequences */
    double site_r, site_slope;   /* f_i(a), sample against reference */
    double pair_r, pair_slope;   /* C_ij(a,b), i < j, all 21 x 21 letters */
    double nearest_identity_mean, nearest_identity_q1, nearest_identity_median,
           nearest_identity_q3;
    double copy_fraction;        /* identity 1 to some reference sequence */
    double near_copy_fraction;   /* identity >= 0.95 */
    double identity_mean;        /* mean pairwise identity within the set */
    double neff;                 /* the set's Neff at theta */
    double neff_ratio;           /* Neff / n */
    /* both (pixel space for vectors) */
    double precision, recall, nn1_accuracy;
    double nn1_accuracy_reference, nn1_accuracy_samples; /* its two halves: the share of
                                    each set's points whose nearest is from their own set */
    /* vectors, pixel space: KL(samples || reference) and KL(reference || samples) with
     * bootstrap intervals, MMD^2 (unbiased) with its bandwidth and permutation p-value */
    double kl_sr, kl_sr_lo, kl_sr_hi, kl_rs, kl_rs_lo, kl_rs_hi;
    double mmd2, mmd_bandwidth, mmd_p;
    /* vectors, feature space (--features) */
    double precision_feat, recall_feat, nn1_accuracy_feat;
    double kl_sr_feat, kl_rs_feat, mmd2_feat, mmd_p_feat;
    double frechet_feat;         /* Frechet distance of Gaussians fitted to the features */
    /* for figures */
    size_t  L;                   /* sequences: columns */
    double *nearest_identity;    /* n: identity of each sequence to its nearest reference */
    size_t *nearest;             /* n: that reference row (vectors: the Euclidean nearest
                                    of the first min(n, 64) rows) */
    double *entropy;             /* L: per-column entropy of the set's f_i, nats */
    float  *scatter;             /* n_scatter x 2: (reference, sample) C_ij(a,b) points */
    size_t  n_scatter;
} dgm_assess_row;
DGM_API void dgm_assess_row_free(dgm_assess_row *r);

/* The metrics as (JSON key, table heading, offset of its double in dgm_assess_row, which
 * kinds have it: 1 sequences, 2 vectors, 3 both); *n entries. */
typedef struct dgm_assess_metric {
    const char *key;
    const char *heading;
    size_t      offset;
    int         kinds;
} dgm_assess_metric;
DGM_API const dgm_assess_metric *dgm_assess_metric_list(size_t *n);
DGM_API double dgm_assess_value(const dgm_assess_row *r, const dgm_assess_metric *m);

/* A reference prepared once. Sequences (n x L letters): its weights at cfg's theta and
 * rule (all 1 when weights is 0), f_i, the pair counts, the bit-packed letters.
 * Vectors (n x d floats, features n x z or NULL). cfg NULL means dgm_assess_defaults(). */
typedef struct dgm_assess_ref dgm_assess_ref;
DGM_API dgm_status dgm_assess_ref_seq(dgm_assess_ref **out, const uint8_t *seq, size_t n,
                                      size_t L, int weights, const dgm_assess_cfg *cfg,
                                      dgm_err *err);
DGM_API dgm_status dgm_assess_ref_vec(dgm_assess_ref **out, const float *x, size_t n, size_t d,
                                      const float *feat, size_t z, const dgm_assess_cfg *cfg,
                                      dgm_err *err);
DGM_API void       dgm_assess_ref_free(dgm_assess_ref *r);
/* The reference's per-column entropy (L values, nats) and its Neff; NULL for vectors. */
DGM_API const double *dgm_assess_ref_entropy(const dgm_assess_ref *r, size_t *L, double *neff);

/* Scores seq (n x L letters) against ref into out (name and kind are the caller's; the
 * rest is filled). weighted: use the set's own weights (held-out natural sequences, or
 * --weight-samples), else each sequence counts 1. */
DGM_API dgm_status dgm_assess_seq(dgm_assess_row *out, const dgm_assess_ref *ref,
                                  const uint8_t *seq, size_t n, int weighted, dgm_err *err);
/* Scores x (n x d) and, if the reference has features, feat (n x z) against ref. */
DGM_API dgm_status dgm_assess_vec(dgm_assess_row *out, const dgm_assess_ref *ref, const float *x,
                                  size_t n, const float *feat, dgm_err *err);

/* Held-out split: idx (n) becomes a seeded permutation of 0..n-1 whose first
 * round(fraction n) entries are held out; fraction must lie in (0, 1) and leave at least
 * two rows on each side. *n_held receives that count. */
DGM_API dgm_status dgm_assess_split(size_t *idx, size_t *n_held, size_t n, double fraction,
                                    uint64_t seed, dgm_err *err);

/* Figures as PNG into dir (created if missing): sequences: pair-correlation scatter (one
 * panel per row, with r and slope), nearest-identity histograms, per-column entropy
 * profiles; vectors with images (h x w > 0): each row's first samples above their nearest
 * reference rows. paths receives up to max_paths file paths (each holding 4096 bytes),
 * *n_paths their count. ref_x: the reference rows (vectors) or NULL; sample_x[r]: row r's
 * data (vectors) or NULL. */
DGM_API dgm_status dgm_assess_figures(char (*paths)[4096], size_t max_paths, size_t *n_paths,
                                      const char *dir, const dgm_assess_ref *ref,
                                      const dgm_assess_row *rows, size_t n_rows,
                                      const float *ref_x, const float *const *sample_x,
                                      size_t h, size_t w, dgm_err *err);
/* A self-contained HTML page at path (written atomically): a title, the table of rows
 * (the metrics of their kind), and the PNG figures embedded as data: URIs. */
DGM_API dgm_status dgm_assess_report(const char *path, const char *title,
                                     const dgm_assess_row *rows, size_t n_rows,
                                     char (*figures)[4096], size_t n_figures, dgm_err *err);
/* ---- Potts model ("potts"), the pairwise maximum-entropy model of plmc and EVmutation
 * (Hopf et al., Nat. Biotechnol. 2017; Ekeberg et al. 2013): P(x) proportional to exp E(x),
 * E(x) = sum_i h_i(x_i) + sum_{i<j} J_ij(x_i, x_j) over the L model columns, q = 21 letters
 * (DGM_AA_ALPHABET, the gap last). Fitted as plmc does: L-BFGS (libLBFGS) on the weighted
 * negative pseudo-log-likelihood plus lambda_h |h|^2 + lambda_J |J|^2 (docs/math.md, "Potts
 * model"). The model columns are the alignment's columns where the focus has a residue (plmc's
 * focus mode). With ignore_gaps (plmc's -g) gaps are not a state: a gapped site has no
 * conditional, a gapped neighbour adds nothing, and every parameter touching the gap stays 0,
 * so E(x) sums over the non-gap columns only. The normalised likelihood is intractable (the
 * partition function): log_prob refuses, and scores are energies or pseudo-log-likelihoods. */
#define DGM_POTTS_Q 21

typedef struct dgm_potts_cfg {
    double lambda_h;   /* L2 weight on h (plmc -lh, 0.01) */
    double lambda_j;   /* L2 weight on J (plmc -le, 16) */
    long   max_iter;   /* L-BFGS iterations (plmc -m, 100), >= 1 */
    int    ignore_gaps;/* plmc -g (1) */
    double epsilon;    /* libLBFGS's convergence test |g| / max(1, |x|) < epsilon (1e-3, plmc's) */
    const char *weights; /* recorded only: how the data's weights were made ("plmc") */
    /* Boltzmann-machine refinement after the pseudo-likelihood fit (bmDCA; docs/math.md,
     * "Boltzmann-machine refinement"): bm_iter steps (0: none; needs ignore_gaps = 0) of
     * gradient ascent on the penalised likelihood, the model's moments estimated by
     * bm_chains persistent Gibbs chains advanced bm_sweeps sweeps a step, step size bm_rate
     * on the gradient in frequency units. */
    long   bm_iter;    /* 0 */
    long   bm_chains;  /* 1000 */
    long   bm_sweeps;  /* 10 */
    double bm_rate;    /* 0.05 */
    /* Optional (NULL): a fitted Potts model of the same columns to start from instead of
     * plmc's start (the caller keeps it alive through the fit). */
    const struct dgm_model *init;
} dgm_potts_cfg;

/* The defaults above (plmc's README options for DHFR). */
DGM_API dgm_potts_cfg dgm_potts_defaults(void);
/* An unfitted Potts model for dgm_fit (a whole fit): from the data's alignment, weights
 * (NULL: all 1), Neff and theta, it fits by L-BFGS, reporting each iteration as DGM_FIT_ITER
 * with objective, grad_norm and seconds, and becomes the fitted model. DGM_ERR_ARG for a
 * negative or non-finite lambda or max_iter < 1. A line search that cannot progress ends the
 * fit with DGM_OK: the model keeps the parameters of the last completed iteration and
 * dgm_potts_fit_status says what happened. *cfg.stop ends it the same way. */
DGM_API dgm_status dgm_potts_create(dgm_model **out, const dgm_potts_cfg *cfg, dgm_err *err);

/* How the fit ended: iterations completed, the final objective (negative weighted
 * pseudo-log-likelihood plus the penalties) and its pseudo-likelihood part, and a message
 * ("" when L-BFGS converged or reached max_iter, else libLBFGS's reason). NULL fields are
 * skipped. DGM_ERR_ARG when m is not a fitted Potts model. */
DGM_API dgm_status dgm_potts_fit_status(const dgm_model *m, long *iterations, double *objective,
                                        double *neg_pll, const char **message, dgm_err *err);
/* Model columns L, and views of h (L x 21) and J (L(L-1)/2 x 21 x 21, the pair (i, j), i < j,
 * at row i L - i (i + 1) / 2 + j - i - 1; J[p][a][b] = J_ij(a, b)). */
DGM_API dgm_status dgm_potts_params(const dgm_model *m, size_t *L, const float **h,
                                    const float **J, dgm_err *err);
/* E[k] = E(seq_k) for n sequences of L letters (n x L, model columns). */
DGM_API dgm_status dgm_potts_energy(double *E, const dgm_model *m, const uint8_t *seq, size_t n,
                                    dgm_err *err);
/* pll[k] = sum_i log P(x_i | x_rest) over the model's sites (non-gap ones with ignore_gaps). */
DGM_API dgm_status dgm_potts_pll(double *pll, const dgm_model *m, const uint8_t *seq, size_t n,
                                 dgm_err *err);
/* plmc's coupling scores for the L(L-1)/2 pairs in the order of J: the Frobenius norm of J_ij
 * minus the average product correction, F_ij - F_i. F_.j / F_.. (docs/math.md). */
DGM_API dgm_status dgm_potts_couplings(double *score, const dgm_model *m, dgm_err *err);

/* Gibbs sampling: `chains` chains, chain c from dgm_rng_fork(rng, c) started from the focus
 * sequence; a sweep updates every site once in order from its conditional (20 amino acids
 * with ignore_gaps, else 21 letters); after burn_in sweeps every thin-th sweep is kept.
 * Sample k is draw k / chains of chain k % chains, so the bits do not depend on threads. */
typedef struct dgm_gibbs_cfg {
    long burn_in;   /* 500 */
    long thin;      /* 10 */
    long chains;    /* 16 */
} dgm_gibbs_cfg;
DGM_API dgm_gibbs_cfg dgm_gibbs_defaults(void);

/* Mixing diagnostics over the kept sweeps: per-chain energy traces, the integrated
 * autocorrelation time of the energy in kept samples (Sokal's window, averaged over chains),
 * its mean energy, and the Gelman-Rubin R-hat of the energy across chains (NaN with one
 * chain or fewer than 4 draws per chain). */
typedef struct dgm_gibbs_stats {
    double tau;          /* integrated autocorrelation time, in kept samples */
    double r_hat;
    double mean_energy, energy_sd;
    double accept;       /* fraction of site updates that changed the letter */
    long   sweeps;       /* over all chains */
} dgm_gibbs_stats;

/* out: n x L letters. stats may be NULL. */
DGM_API dgm_status dgm_potts_sample(dgm_rng *rng, uint8_t *out, dgm_gibbs_stats *stats,
                                    const dgm_model *m, size_t n, const dgm_gibbs_cfg *cfg,
                                    dgm_err *err);

/* ======================================================================== made === */
/* MADE (Germain et al. 2015): an MLP whose weights are masked so that the outputs of
 * variable d depend only on the variables before d in an ordering, so that
 * log p(x) = sum_d log p(x_d | x_<d) is exact. BINARY: D Bernoulli variables (binarized
 * images; likelihood "binary"). CATEGORICAL: the L columns of an alignment, each a softmax
 * over the 20 amino acids and the gap (21 states); the data are the one-hot form of
 * dgm_seq_onehot (D = 20 L, a gap an all-zero row; likelihood "sequence"). With n_masks >
 * 1 training cycles through the masks (mask t mod n_masks at step t: connectivity-agnostic
 * training) and log p(x) is the mixture log((1/M) sum_k p_k(x)). Masks come from the
 * orderings and hidden-unit degrees drawn from mask_seed (mask k from fork(mask_seed, k))
 * and are kept in the model file ("order", "degrees_<l>"); weights are named as
 * torch.nn.Sequential(MaskedLinear, ReLU, ...) names them ("net.0.weight", ...). A
 * class-conditional MADE (n_classes > 0) is exact for each log p(x | y), samples given y,
 * and classifies by Bayes' rule (dgm_classify). */
typedef enum { DGM_MADE_BINARY = 0, DGM_MADE_CATEGORICAL } dgm_made_kind;
typedef enum { DGM_MADE_NATURAL = 0, DGM_MADE_RANDOM } dgm_made_order;
typedef struct dgm_made_cfg {
    dgm_made_kind  kind;
    size_t         dim;        /* BINARY: D; CATEGORICAL: L (the data have 20 L values) */
    size_t         hidden[8];  /* (500) */
    int            n_hidden;   /* 1 */
    int            n_masks;    /* 1 */
    dgm_made_order order;      /* natural: variable d is d-th; random: per mask */
    uint64_t       mask_seed;  /* 0 */
    size_t         height, width; /* image geometry (0: none) */
    int            n_classes;  /* 0; C > 0: p(x | y), the one-hot label y feeding every
                                * first-layer hidden unit through "cond.weight" (H1 x C) and
                                * every logit through "cond_out.weight" (Dout x C), both
                                * torch.nn.Linear(C, ., bias=False): y precedes every
                                * variable, so no mask cuts it */
} dgm_made_cfg;
DGM_API dgm_made_cfg dgm_made_defaults(void);
/* A new MADE with torch.nn.Linear's initialisation from rng, for dgm_fit (minibatch runs:
 * BINARY on [0, 1] data, binarized afresh each step; CATEGORICAL on sequence data, with
 * per-example weights if the data set has them). focus: the alignment whose focus the
 * CATEGORICAL model keeps for dgm_mutation_effects (NULL for BINARY). Errors: fewer than 2
 * variables, a mask count outside 1..4096, a hidden layer narrower than 1 or wider than
 * 65536, a focus of another length. */
DGM_API dgm_status dgm_made_create(dgm_model **out, dgm_rng *rng, const dgm_made_cfg *cfg,
                                   const struct dgm_alignment *focus, dgm_err *err);
/* The configuration of a MADE (NULL for any other model). */
DGM_API const dgm_made_cfg *dgm_made_config(const dgm_model *m);
/* Per-mask log-likelihoods: out (n x n_masks), out[i, k] = log p_k(x_i | y_i) under mask
 * k alone; x (n x D) in the model's data form; y (n labels) for a class-conditional MADE,
 * else NULL. */
DGM_API dgm_status dgm_made_log_prob_masks(dgm_model *m, double *out, const float *x,
                                           const int32_t *y, size_t n, dgm_err *err);

/* ======================================================================== flow === */
/* RealNVP (Dinh, Sohl-Dickstein, Bengio 2017) with MLP conditioners on vectors: z = f(x)
 * through K affine coupling layers, y' = b.y + (1-b).(y exp(s(b.y)) + t(b.y)), with
 * alternating masks b (a checkerboard on images, alternate coordinates otherwise),
 * log-scales bounded as s = tanh(.), and a standard normal base, so that
 * log p(x) = log N(f(x); 0, I) + log |det df/dx| exactly. alpha > 0: data in [0, 1) (8-bit
 * images dequantised, likelihood "dequantized", bits/dim of the 8-bit data) first go
 * through the logit transform y = logit(alpha + (1 - 2 alpha) x), its log-determinant
 * counted; alpha = 0: data on R^D (likelihood "continuous"). Weights are named
 * "couplings.<k>.net.<2i>.weight" (torch.nn.Sequential per coupling). */
typedef enum { DGM_FLOW_REALNVP = 0, DGM_FLOW_MAF } dgm_flow_kind;
typedef struct dgm_flow_cfg {
    dgm_flow_kind kind;    /* realnvp, or maf (below) */
    size_t dim;            /* D */
    int    n_couplings;    /* K (8): coupling layers, or MAF's autoregressive layers */
    size_t hidden[4];      /* conditioner widths (1000) */
    int    n_hidden;       /* 1 */
    double alpha;          /* logit transform's alpha (0.05); 0 for data on R^D */
    size_t height, width;  /* image geometry (0: none): the masks are checkerboards */
    int    n_classes;      /* 0; C > 0: p(x | y), the one-hot label feeding each conditioner's
                            * first hidden layer ("<k>.cond.weight", H1 x C) and, in MAF,
                            * each layer's outputs ("<k>.cond_out.weight", 2D x C) */
} dgm_flow_cfg;
/* MAF (Papamakarios, Pavlakou, Murray 2017), kind DGM_FLOW_MAF: K autoregressive affine
 * layers z_d = (u_d - m_d(u_<d)) exp(-a_d(u_<d)), a = tanh(.), each a MADE (masked D-H-2D
 * ReLU network: hidden degrees j mod (D - 1), ordering natural in even layers and reversed
 * in odd ones), after the same logit transform; log |det| = -sum a. Density in one pass per
 * layer; sampling inverts each layer in D sequential passes, batched over samples. Weights
 * "layers.<k>.net.<2i>.weight"; type "maf". */
DGM_API dgm_flow_cfg dgm_flow_defaults(void);
/* A new flow with torch.nn.Linear's initialisation from rng, for dgm_fit (minibatch). */
DGM_API dgm_status dgm_flow_create(dgm_model **out, dgm_rng *rng, const dgm_flow_cfg *cfg,
                                   dgm_err *err);
DGM_API const dgm_flow_cfg *dgm_flow_config(const dgm_model *m);
/* z = f(x) (n x D) and logdet[i] = log |det df/dx| at x_i (logdet may be NULL); y: the n
 * labels of a class-conditional flow (the map f_y), else NULL. */
DGM_API dgm_status dgm_flow_forward(dgm_model *m, float *z, double *logdet, const float *x,
                                    const int32_t *y, size_t n, dgm_err *err);
/* x = f_y^-1(z) (n x D); y as for dgm_flow_forward. */
DGM_API dgm_status dgm_flow_inverse(dgm_model *m, float *x, const float *z, const int32_t *y,
                                    size_t n, dgm_err *err);

#ifdef __cplusplus
}
#endif
#endif /* DGM_H */
